// Merchant-presented QR: ask to be paid an amount; the signed request is shown as a QR
// with its countdown; it turns "paid" live (a payment event makes the page re-check
// the request); an expired request can be renewed.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { listeners, store } from './state.js';
import { gql } from '../lib/gql.js';
import { duration, errorWords, money } from '../lib/i18n.js';
import { QrCode } from '../lib/qr.jsx';
import { authed } from '../lib/session.js';
import { t } from '../strings.js';

const CREATE = gql`
  mutation CreatePaymentRequest($input: CreatePaymentRequestInput!) {
    createPaymentRequest(input: $input) { token request { id amount expiresAt status } }
  }
`;

const STATUS = gql`
  query PaymentRequestStatus($token: String!) {
    paymentRequest(token: $token) { id status expiresAt }
  }
`;

export function Charge() {
  const amount = useSignal('');
  const request = useSignal(null);
  const now = useSignal(Date.now());
  const error = useSignal(null);
  const busy = useSignal(false);

  const create = async (value) => {
    busy.value = true;
    error.value = null;
    try {
      const data = await authed(CREATE, { input: { storeId: store.value.id, amount: value, expiresInSeconds: 300 } });
      const created = data.createPaymentRequest;
      request.value = { token: created.token, ...created.request, expiresAt: Date.parse(created.request.expiresAt) };
    } catch (failure) {
      error.value = failure;
    } finally {
      busy.value = false;
    }
  };
  const check = async () => {
    const current = request.value;
    if (!current || current.status === 'PAID') return;
    try {
      const data = await authed(STATUS, { token: current.token });
      if (request.value?.token === current.token) request.value = { ...current, status: data.paymentRequest.status };
    } catch {
      // the next event or tick checks again
    }
  };
  useEffect(() => {
    const onEvent = (event) => event.kind === 'PAYMENT' && check();
    listeners.add(onEvent);
    const timer = setInterval(() => (now.value = Date.now()), 1000);
    return () => {
      listeners.delete(onEvent);
      clearInterval(timer);
    };
  }, []);
  const current = request.value;
  const left = current ? Math.max(0, (current.expiresAt - now.value) / 1000) : 0;
  const expired = current && current.status !== 'PAID' && (current.status === 'EXPIRED' || left <= 0);
  const submit = (event) => {
    event.preventDefault();
    const value = amount.value.replace(/[^\d]/g, '');
    if (value) create(value);
  };
  return (
    <>
      <h1>{t('charge.title')}</h1>
      <p class="muted">{t('charge.lead')}</p>
      <div class="columns">
        <section class="panel" aria-labelledby="charge-form">
          <h2 id="charge-form">{t('charge.amountTitle')}</h2>
          <form onSubmit={submit} class="stack">
            <label>
              {t('charge.amount')}
              <input inputMode="numeric" value={amount.value} onInput={(event) => (amount.value = event.currentTarget.value)} required autoComplete="off" />
            </label>
            <button type="submit" class="primary" disabled={busy.value}>{t('charge.show')}</button>
          </form>
          {error.value && <p role="alert" class="notice error">{errorWords(t, error.value)}</p>}
        </section>
        {current && (
          <section class={`panel request request-${current.status === 'PAID' ? 'paid' : expired ? 'expired' : 'open'}`} aria-labelledby="request-title">
            <h2 id="request-title">{t('charge.requestTitle', { amount: money(current.amount) })}</h2>
            {current.status === 'PAID' ? (
              <p role="alert" class="request-state paid">
                <span class="mark" aria-hidden="true">✓</span> {t('charge.paid', { amount: money(current.amount) })}
              </p>
            ) : expired ? (
              <>
                <p role="alert" class="request-state">{t('charge.expired')}</p>
                <button type="button" class="primary" onClick={() => create(current.amount)} disabled={busy.value}>
                  {t('charge.renew')}
                </button>
              </>
            ) : (
              <>
                <QrCode text={current.token} label={t('charge.qr', { amount: money(current.amount) })} size={260} />
                <p class="countdown">
                  <span role="timer" aria-live="off">{t('charge.expiresIn', { time: duration(left) })}</span>
                </p>
                <p role="status" class="muted">{t('charge.waiting')}</p>
              </>
            )}
            {(current.status === 'PAID' || expired) && (
              <button type="button" class="ghost" onClick={() => (request.value = null)}>{t('charge.new')}</button>
            )}
          </section>
        )}
      </div>
    </>
  );
}
