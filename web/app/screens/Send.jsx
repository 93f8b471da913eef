// Send credits to a person: find them by their exact email, choose the amount (and a
// message), review, confirm. One idempotency key per attempt, reused on retry.
import { useSignal } from '@preact/signals';
import { useMemo } from 'preact/hooks';
import { createAttempt } from '../../shared/attempt.js';
import { gql } from '../../shared/gql.js';
import { graphql } from '../../shared/graphql.js';
import { t } from '../../shared/i18n.js';
import { money, parseAmount } from '../../shared/money.js';
import { receipt, router, wallet, walletMoved } from '../state.js';
import { ErrorMessage, Field, MoneyButton, Screen } from '../ui.jsx';

const FIND_PERSON = gql`
  query FindPerson($email: String!) {
    findPerson(email: $email) {
      id
      displayName
    }
  }
`;

const SEND_CREDITS = gql`
  mutation SendCredits($input: SendCreditsInput!) {
    sendCredits(input: $input) {
      transferId
      kind
      amount
      memo
      createdAt
      balanceAfter
      recipient {
        id
        displayName
      }
    }
  }
`;

export function Send() {
  const email = useSignal('');
  const person = useSignal(null);
  const amountText = useSignal('');
  const memo = useSignal('');
  const reviewing = useSignal(false);
  const busy = useSignal(false);
  const error = useSignal(null);
  const attempt = useMemo(createAttempt, []);
  const amount = parseAmount(amountText.value);

  async function find(e) {
    e.preventDefault();
    busy.value = true;
    error.value = null;
    try {
      const data = await graphql(FIND_PERSON, { email: email.value.trim() });
      if (data.findPerson) person.value = data.findPerson;
      else error.value = t('send.notFound');
    } catch (failure) {
      error.value = failure;
    } finally {
      busy.value = false;
    }
  }

  function review(e) {
    e.preventDefault();
    if (!amount) {
      error.value = t('topUp.invalid');
      return;
    }
    error.value = null;
    reviewing.value = true;
  }

  async function send(e) {
    e.preventDefault();
    busy.value = true;
    error.value = null;
    const input = { toUserId: person.value.id, amount: String(amount), memo: memo.value.trim() || null };
    try {
      const data = await graphql(SEND_CREDITS, { input: { ...input, idempotencyKey: attempt.key(input) } });
      attempt.settle();
      const r = data.sendCredits;
      receipt.value = {
        headline: t('receipt.sent', { amount: money(r.amount), name: r.recipient?.displayName ?? person.value.displayName }),
        amount: r.amount,
        kind: r.kind,
        when: r.createdAt,
        reference: r.transferId,
        balanceAfter: r.balanceAfter,
        memo: r.memo,
      };
      walletMoved(r.transferId);
      router.navigate('receipt', { replace: true });
    } catch (failure) {
      if (!failure.retryable) attempt.settle();
      error.value = failure;
      busy.value = false;
    }
  }

  if (!person.value) {
    return (
      <Screen title={t('send.title')} back>
        <form class="card stack" onSubmit={find} noValidate>
          <Field label={t('send.email')} type="email" autocomplete="off" value={email.value} onInput={(e) => (email.value = e.currentTarget.value)} />
          <ErrorMessage error={error.value} />
          <button type="submit" class="btn btn-primary btn-block" disabled={busy.value || !email.value.trim()}>
            {busy.value ? t('send.finding') : t('send.find')}
          </button>
        </form>
      </Screen>
    );
  }

  if (!reviewing.value) {
    return (
      <Screen title={t('send.title')} back>
        <form class="card stack" onSubmit={review} noValidate>
          <p class="recipient">
            <span class="hint">{t('send.to')}</span> <strong>{person.value.displayName}</strong>
            <span class="hint"> · {email.value.trim()}</span>
          </p>
          <Field
            label={t('send.amount')}
            hint={wallet.value ? t('scan.available', { amount: money(wallet.value.available) }) : undefined}
            inputMode="numeric"
            autocomplete="off"
            value={amountText.value}
            onInput={(e) => (amountText.value = e.currentTarget.value)}
          />
          <Field label={t('send.memo')} hint={t('send.memoHint')} maxLength={140} value={memo.value} onInput={(e) => (memo.value = e.currentTarget.value)} />
          <ErrorMessage error={error.value} />
          <button type="submit" class="btn btn-primary btn-block">
            {t('send.review')}
          </button>
        </form>
      </Screen>
    );
  }

  return (
    <Screen title={t('send.confirmTitle', { amount: money(amount), name: person.value.displayName })} back>
      <form class="card stack" onSubmit={send}>
        {memo.value.trim() && <p class="memo">“{memo.value.trim()}”</p>}
        <ErrorMessage error={error.value} />
        <MoneyButton busy={busy.value} busyLabel={t('send.busy')}>
          {t('send.confirm', { amount: money(amount) })}
        </MoneyButton>
        <button type="button" class="btn btn-quiet btn-block" disabled={busy.value} onClick={() => (reviewing.value = false)}>
          {t('send.change')}
        </button>
      </form>
    </Screen>
  );
}
