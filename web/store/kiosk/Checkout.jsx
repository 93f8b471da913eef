// Checkout: scan the customer's payment code, sell once (one idempotency key per
// attempt, reused by every retry after a time-out, so nothing is charged twice), then
// paid, or failed with the reason in words.
import { signal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { kioskRequest, token } from './device.js';
import { cart, cartLines, cartTotal, checkingOut } from './Till.jsx';
import { backoff, gql, idempotencyKey, sleep } from '../lib/gql.js';
import { errorWords, money } from '../lib/i18n.js';
import { Scanner } from '../lib/scan.jsx';
import { isPairingText } from '../lib/pairing.js';
import { t } from '../strings.js';

const SELL = gql`
  mutation KioskSell($input: SellInput!) {
    sell(input: $input) { id status total failureCode }
  }
`;

/** 'scanning' | 'charging' | 'paid' | 'failed' */
const step = signal('scanning');
const slow = signal(false);
const outcome = signal(null);

const RETRYABLE = new Set(['TIMEOUT', 'NETWORK', 'SERVICE_UNAVAILABLE', 'SUBGRAPH_TIMEOUT', 'RATE_LIMITED']);

async function charge(paymentCode) {
  step.value = 'charging';
  slow.value = false;
  const input = {
    storeId: token.value.storeId,
    items: cartLines.value.map(({ product, quantity }) => ({ productId: product.id, quantity })),
    paymentCode,
    idempotencyKey: idempotencyKey(),
  };
  const total = cartTotal.value;
  for (let attempt = 0; ; attempt++) {
    try {
      const { sell } = await kioskRequest(SELL, { input }, { timeoutMs: 12000 });
      if (sell.status === 'PAID') {
        outcome.value = { total: sell.total };
        step.value = 'paid';
        cart.value = {};
        return;
      }
      if (sell.status === 'FAILED') {
        outcome.value = { error: { code: sell.failureCode }, total };
        step.value = 'failed';
        return;
      }
      // PENDING: the ledger has not answered yet; the same key settles it
      slow.value = true;
    } catch (error) {
      if (error.code === 'KIOSK_REVOKED') return;
      if (!RETRYABLE.has(error.code) || attempt >= 8) {
        outcome.value = { error, total };
        step.value = 'failed';
        return;
      }
      slow.value = true;
    }
    await sleep(backoff(attempt, 5000));
  }
}

function close() {
  checkingOut.value = false;
  step.value = 'scanning';
  outcome.value = null;
}

export function Checkout() {
  const heading = useRef(null);
  useEffect(() => heading.current?.focus(), [step.value]);
  useEffect(() => {
    if (step.value !== 'paid') return undefined;
    const timer = setTimeout(close, 15000);
    return () => clearTimeout(timer);
  }, [step.value]);
  const total = money(outcome.value?.total ?? cartTotal.value);
  return (
    <main id="main" class={`checkout checkout-${step.value}`}>
      {step.value === 'scanning' && (
        <>
          <h1 ref={heading} tabIndex={-1}>{t('kiosk.scanTitle', { amount: total })}</h1>
          <Scanner
            label={t('kiosk.camera')}
            hint={t('kiosk.scanHint')}
            blockedText={t('kiosk.cameraBlocked')}
            accept={(text) => !isPairingText(text)}
            onCode={charge}
          />
          <button type="button" class="secondary huge" onClick={close}>{t('kiosk.backToCart')}</button>
        </>
      )}
      {step.value === 'charging' && (
        <div role="status" class="outcome">
          <span class="spinner" aria-hidden="true" />
          <h1 ref={heading} tabIndex={-1}>{t('kiosk.charging', { amount: total })}</h1>
          {slow.value && <p>{t('kiosk.stillTrying')}</p>}
        </div>
      )}
      {step.value === 'paid' && (
        <div role="alert" class="outcome paid">
          <span class="mark" aria-hidden="true">✓</span>
          <h1 ref={heading} tabIndex={-1}>{t('kiosk.paid', { amount: total })}</h1>
          <button type="button" class="primary huge" onClick={close}>{t('kiosk.newSale')}</button>
        </div>
      )}
      {step.value === 'failed' && (
        <div role="alert" class="outcome failed">
          <span class="mark" aria-hidden="true">!</span>
          <h1 ref={heading} tabIndex={-1}>{t('kiosk.failed')}</h1>
          <p class="reason">{errorWords(t, outcome.value.error)}</p>
          <div class="actions">
            <button type="button" class="primary huge" onClick={() => (step.value = 'scanning')}>{t('kiosk.scanAgain')}</button>
            <button type="button" class="secondary huge" onClick={close}>{t('kiosk.backToCart')}</button>
          </div>
        </div>
      )}
    </main>
  );
}
