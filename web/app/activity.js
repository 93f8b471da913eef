// How a movement of the wallet reads to a person: the live event and the history entry.
import { money } from '../shared/money.js';
import { t } from '../shared/i18n.js';

/** The sentence for a live event (a toast, the payment confirmation). */
export function eventSentence(event, myId) {
  const amount = money(event.amount);
  switch (event.kind) {
    case 'PAYMENT':
      return t('live.paid', { amount, store: event.store?.name ?? t('party.unknown') });
    case 'REFUND':
      return t('live.refunded', { amount, store: event.store?.name ?? t('party.unknown') });
    case 'GIFT':
      return event.payer?.id === myId
        ? t('live.sent', { amount, name: event.recipient?.displayName ?? t('party.unknown') })
        : t('live.received', { amount, name: event.payer?.displayName ?? t('party.unknown') });
    case 'TOP_UP':
      return t('live.toppedUp', { amount });
    default:
      return amount;
  }
}

/** Who is on the other side of a history entry. */
export function entryParty(entry) {
  if (entry.counterpartyStore) return entry.counterpartyStore.name;
  if (entry.counterpartyUser) return entry.counterpartyUser.displayName;
  return entry.kind === 'TOP_UP' ? t('party.topUp') : t('party.unknown');
}

/** "+₩10,000" or "−₩4,500". */
export function entryAmount(entry) {
  const value = Number(entry.amount) * (entry.direction === 'OUTGOING' ? -1 : 1);
  return money(value, { signed: true });
}
