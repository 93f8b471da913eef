// A receipt: the headline sentence, then the facts a person may need later, in a list.
import { useEffect } from 'preact/hooks';
import { t } from '../../shared/i18n.js';
import { money } from '../../shared/money.js';
import { dateTime } from '../../shared/time.js';
import { receipt, router } from '../state.js';
import { Screen } from '../ui.jsx';

export function Receipt() {
  const r = receipt.value;
  // A reload forgets the receipt (it lives in memory): go home rather than show nothing.
  useEffect(() => {
    if (!r) router.navigate('', { replace: true });
  }, [r]);
  if (!r) return null;
  return (
    <Screen title={r.headline} class="receipt">
      <div class="receipt-card card">
        <span class="check" aria-hidden="true">
          <svg viewBox="0 0 24 24" width="32" height="32">
            <path d="M5 12.5l4.5 4.5L19 7.5" fill="none" stroke="currentColor" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round" />
          </svg>
        </span>
        <p class="amount-xl">{money(r.amount)}</p>
        <dl class="facts">
          {r.party && (
            <div>
              <dt>{t('send.to')}</dt>
              <dd>{r.party}</dd>
            </div>
          )}
          <div>
            <dt>{t('receipt.kind')}</dt>
            <dd>{t(`kind.${r.kind}`)}</dd>
          </div>
          <div>
            <dt>{t('receipt.when')}</dt>
            <dd>{dateTime(r.when)}</dd>
          </div>
          {r.memo && (
            <div>
              <dt>{t('receipt.memo')}</dt>
              <dd>{r.memo}</dd>
            </div>
          )}
          {r.balanceAfter != null && (
            <div>
              <dt>{t('receipt.balanceAfter')}</dt>
              <dd>{money(r.balanceAfter)}</dd>
            </div>
          )}
          <div>
            <dt>{t('receipt.reference')}</dt>
            <dd class="mono">{r.reference}</dd>
          </div>
        </dl>
      </div>
      <button type="button" class="btn btn-primary btn-block" onClick={() => router.navigate('', { replace: true })}>
        {t('receipt.done')}
      </button>
    </Screen>
  );
}
