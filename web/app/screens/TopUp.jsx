// Top up: choose an amount, press once. The idempotency key belongs to the attempt: a
// retry after a lost answer sends the same key, so it cannot top up twice.
import { useSignal } from '@preact/signals';
import { useMemo } from 'preact/hooks';
import { createAttempt } from '../../shared/attempt.js';
import { gql } from '../../shared/gql.js';
import { graphql } from '../../shared/graphql.js';
import { t } from '../../shared/i18n.js';
import { money, parseAmount } from '../../shared/money.js';
import { receipt, router, walletMoved } from '../state.js';
import { ErrorMessage, Field, MoneyButton, Screen } from '../ui.jsx';

const TOP_UP = gql`
  mutation TopUp($input: TopUpInput!) {
    topUp(input: $input) {
      transferId
      kind
      amount
      createdAt
      balanceAfter
    }
  }
`;

const QUICK = [10000, 30000, 50000, 100000];

export function TopUp() {
  const text = useSignal('');
  const busy = useSignal(false);
  const error = useSignal(null);
  const attempt = useMemo(createAttempt, []);
  const amount = parseAmount(text.value);

  async function submit(e) {
    e.preventDefault();
    if (!amount) {
      error.value = t('topUp.invalid');
      return;
    }
    busy.value = true;
    error.value = null;
    const input = { amount: String(amount) };
    try {
      const data = await graphql(TOP_UP, { input: { ...input, idempotencyKey: attempt.key(input) } });
      attempt.settle();
      const r = data.topUp;
      receipt.value = {
        headline: t('receipt.toppedUp', { amount: money(r.amount) }),
        amount: r.amount,
        kind: r.kind,
        when: r.createdAt,
        reference: r.transferId,
        balanceAfter: r.balanceAfter,
      };
      walletMoved(r.transferId);
      router.navigate('receipt', { replace: true });
    } catch (failure) {
      if (!failure.retryable) attempt.settle();
      error.value = failure;
      busy.value = false;
    }
  }

  return (
    <Screen title={t('topUp.title')} back>
      <form class="card stack" onSubmit={submit} noValidate>
        <Field
          label={t('topUp.amount')}
          hint={t('topUp.hint')}
          inputMode="numeric"
          autocomplete="off"
          class="amount-input"
          value={text.value}
          onInput={(e) => (text.value = e.currentTarget.value)}
        />
        <fieldset class="chips">
          <legend class="sr-only">{t('topUp.quick')}</legend>
          {QUICK.map((value) => (
            <button type="button" key={value} class="chip" aria-pressed={amount === value ? 'true' : 'false'} onClick={() => (text.value = String(value))}>
              {money(value)}
            </button>
          ))}
        </fieldset>
        <ErrorMessage error={error.value} />
        <MoneyButton busy={busy.value} busyLabel={t('topUp.busy')}>
          {amount ? t('topUp.submit', { amount: money(amount) }) : t('topUp.submitEmpty')}
        </MoneyButton>
      </form>
    </Screen>
  );
}
