// An account's recent transfers (a wallet's or a store's history), newest first.
import { dateTime, money } from '../store/lib/i18n.js';
import { t } from './strings.js';

export function History({ entries, caption }) {
  if (!entries.length) return <p class="muted">{t('history.none')}</p>;
  return (
    <table class="table">
      <caption class="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{t('history.when')}</th>
          <th scope="col">{t('history.kind')}</th>
          <th scope="col">{t('history.other')}</th>
          <th scope="col">{t('history.memo')}</th>
          <th scope="col" class="num">{t('history.amount')}</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((entry) => (
          <tr key={entry.id}>
            <td>{dateTime(entry.createdAt)}</td>
            <td>{t(`kind.${entry.kind}`)}</td>
            <td>{entry.counterpartyUser?.displayName ?? entry.counterpartyStore?.name ?? '—'}</td>
            <td>{entry.memo ?? ''}</td>
            <td class="num">{`${entry.direction === 'OUTGOING' ? '−' : '+'}${money(entry.amount)}`}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
