// Recent sales with their refunds. A refund is the rest of the sale by default,
// partial by editing the amount, always with a reason (the payer reads it); each
// attempt carries one idempotency key, reused when it is retried.
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { changes, store } from './state.js';
import { backoff, gql, idempotencyKey, sleep } from '../lib/gql.js';
import { dateTime, errorWords, money } from '../lib/i18n.js';
import { authed } from '../lib/session.js';
import { t } from '../strings.js';

const SALES = gql`
  query Sales($id: ID!) {
    store(id: $id) {
      id
      sales(first: 25) {
        nodes {
          id status total refunded failureCode createdAt
          payer { id displayName }
          lines { name quantity }
          refunds { id amount reason status createdAt }
        }
      }
    }
  }
`;

const REFUND = gql`
  mutation Refund($input: RefundSaleInput!) {
    refundSale(input: $input) { id amount reason status failureCode sale { id refunded } }
  }
`;

export function Sales() {
  const sales = useSignal(null);
  const error = useSignal(null);
  const refunding = useSignal(null);
  const load = () =>
    authed(SALES, { id: store.value.id })
      .then((data) => {
        sales.value = data.store.sales.nodes;
        error.value = null;
      })
      .catch((failure) => (error.value = failure));
  useEffect(() => {
    const timer = setTimeout(load, changes.value ? 300 : 0);
    return () => clearTimeout(timer);
  }, [changes.value]);
  return (
    <>
      <h1>{t('sales.title')}</h1>
      {error.value && <p role="alert" class="notice error">{errorWords(t, error.value)}</p>}
      {!sales.value && !error.value && <p role="status" class="muted">{t('common.loading')}</p>}
      {sales.value?.length === 0 && <p class="muted">{t('sales.none')}</p>}
      {sales.value?.length > 0 && (
        <div class="panel flush">
          <table class="table">
            <caption class="visually-hidden">{t('sales.title')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('sales.when')}</th>
                <th scope="col">{t('sales.items')}</th>
                <th scope="col">{t('sales.payer')}</th>
                <th scope="col">{t('sales.status')}</th>
                <th scope="col" class="num">{t('sales.total')}</th>
                <th scope="col" class="num">{t('sales.refunded')}</th>
                <th scope="col"><span class="visually-hidden">{t('sales.actions')}</span></th>
              </tr>
            </thead>
            <tbody>
              {sales.value.map((sale) => (
                <tr key={sale.id}>
                  <td>{dateTime(sale.createdAt)}</td>
                  <td>{sale.lines.map((line) => `${line.name} × ${line.quantity}`).join(', ')}</td>
                  <td>{sale.payer?.displayName ?? '—'}</td>
                  <td>
                    <span class={`pill pill-${sale.status.toLowerCase()}`}>{t(`sale.${sale.status}`)}</span>
                    {sale.failureCode && <span class="muted small block">{errorWords(t, { code: sale.failureCode })}</span>}
                  </td>
                  <td class="num">{money(sale.total)}</td>
                  <td class="num">
                    {Number(sale.refunded) > 0 ? money(sale.refunded) : '—'}
                    {sale.refunds.map((refund) => (
                      <span class="muted small block">
                        {money(refund.amount)} · {refund.reason}
                        {refund.status !== 'COMPLETED' && ` · ${t(`refund.${refund.status}`)}`}
                      </span>
                    ))}
                  </td>
                  <td>
                    {sale.status === 'PAID' && (
                      <button type="button" class="secondary small" onClick={() => (refunding.value = sale)} aria-label={t('sales.refundSale', { amount: money(sale.total), when: dateTime(sale.createdAt) })}>
                        {t('sales.refund')}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {refunding.value && (
        <RefundDialog
          sale={refunding.value}
          onClose={(done) => {
            refunding.value = null;
            if (done) load();
          }}
        />
      )}
    </>
  );
}

function RefundDialog({ sale, onClose }) {
  const dialog = useRef(null);
  const remaining = Number(sale.total) - Number(sale.refunded);
  const amount = useSignal(remaining > 0 ? String(remaining) : '');
  const reason = useSignal('');
  const error = useSignal(null);
  const done = useSignal(null);
  const busy = useSignal(false);
  // the attempt: its input and its key, reused while the input is the same
  const attempt = useRef(null);
  useEffect(() => {
    dialog.current.showModal();
  }, []);
  const submit = async (event) => {
    event.preventDefault();
    const input = { saleId: sale.id, amount: amount.value.replace(/[^\d]/g, ''), reason: reason.value.trim() };
    if (!input.reason) {
      error.value = { code: 'REASON_REQUIRED' };
      return;
    }
    const same = attempt.current && attempt.current.amount === input.amount && attempt.current.reason === input.reason;
    if (!same) attempt.current = { ...input, idempotencyKey: idempotencyKey() };
    busy.value = true;
    error.value = null;
    for (let tries = 0; ; tries++) {
      try {
        const { refundSale } = await authed(REFUND, { input: { ...input, idempotencyKey: attempt.current.idempotencyKey } }, { timeoutMs: 12000 });
        if (refundSale.status === 'FAILED') error.value = { code: refundSale.failureCode };
        else done.value = refundSale;
        break;
      } catch (failure) {
        if (['TIMEOUT', 'NETWORK', 'SERVICE_UNAVAILABLE'].includes(failure.code) && tries < 4) {
          await sleep(backoff(tries, 4000));
          continue;
        }
        error.value = failure;
        break;
      }
    }
    busy.value = false;
  };
  return (
    <dialog ref={dialog} class="dialog" aria-labelledby="refund-title" onClose={() => onClose(Boolean(done.value))}>
      <form onSubmit={submit}>
        <h2 id="refund-title">{t('refund.title')}</h2>
        <p class="muted">
          {t('refund.of', { total: money(sale.total), remaining: money(remaining) })}
        </p>
        {done.value ? (
          <>
            <p role="status" class="notice success">{t('refund.done', { amount: money(done.value.amount) })}</p>
            <div class="actions">
              <button type="button" class="primary" onClick={() => dialog.current.close()}>{t('common.close')}</button>
            </div>
          </>
        ) : (
          <>
            <label>
              {t('refund.amount')}
              <input inputMode="numeric" value={amount.value} onInput={(event) => (amount.value = event.currentTarget.value)} required />
            </label>
            <label>
              {t('refund.reason')}
              <input value={reason.value} maxLength={200} onInput={(event) => (reason.value = event.currentTarget.value)} required aria-describedby="refund-reason-hint" />
              <span id="refund-reason-hint" class="muted small">{t('refund.reasonHint')}</span>
            </label>
            {error.value && <p role="alert" class="notice error">{errorWords(t, error.value)}</p>}
            <div class="actions">
              <button type="button" class="ghost" onClick={() => dialog.current.close()}>{t('common.cancel')}</button>
              <button type="submit" class="danger" disabled={busy.value}>
                {busy.value ? t('refund.busy') : t('refund.submit', { amount: money(amount.value.replace(/[^\d]/g, '') || 0) })}
              </button>
            </div>
          </>
        )}
      </form>
    </dialog>
  );
}
