// Pay a store's request: scan its QR with the camera (or paste the code), see which store
// asks for how much, confirm, pay once, get the receipt. Paying a request twice is
// refused by the platform, and the preview says so before anyone presses anything.
import { useSignal } from '@preact/signals';
import { useEffect, useMemo, useRef } from 'preact/hooks';
import { createAttempt } from '../../shared/attempt.js';
import { gql } from '../../shared/gql.js';
import { graphql } from '../../shared/graphql.js';
import { t } from '../../shared/i18n.js';
import { money } from '../../shared/money.js';
import { scanCamera } from '../../shared/scan.js';
import { clock } from '../../shared/time.js';
import { receipt, router, wallet, walletMoved } from '../state.js';
import { ErrorMessage, Field, MoneyButton, Screen } from '../ui.jsx';

const PAYMENT_REQUEST = gql`
  query PaymentRequest($token: String!) {
    paymentRequest(token: $token) {
      id
      amount
      expiresAt
      status
      store {
        id
        name
      }
    }
  }
`;

const PAY_REQUEST = gql`
  mutation PayRequest($input: PayRequestInput!) {
    payRequest(input: $input) {
      transferId
      kind
      amount
      createdAt
      balanceAfter
    }
  }
`;

/** What a request's status means for the payer, as an error code (or null: payable). */
const REFUSAL = { PAID: 'PAYMENT_REQUEST_PAID', EXPIRED: 'PAYMENT_REQUEST_EXPIRED' };

export function Scan() {
  const token = useSignal(null);
  const request = useSignal(null);
  const pasted = useSignal('');
  const cameraFailed = useSignal(false);
  const busy = useSignal(false);
  const error = useSignal(null);
  const attempt = useMemo(createAttempt, []);
  const video = useRef(null);

  // The camera runs while there is nothing scanned yet.
  const scanning = token.value === null;
  useEffect(() => {
    if (!scanning) return;
    let stop = null;
    let cancelled = false;
    scanCamera(video.current, (text) => preview(text))
      .then((stopper) => (cancelled ? stopper() : (stop = stopper)))
      .catch(() => (cameraFailed.value = true));
    return () => {
      cancelled = true;
      stop?.();
    };
  }, [scanning]);

  async function preview(text) {
    token.value = text.trim();
    busy.value = true;
    error.value = null;
    try {
      const data = await graphql(PAYMENT_REQUEST, { token: token.value });
      request.value = data.paymentRequest;
      const refusal = REFUSAL[data.paymentRequest.status];
      if (refusal) error.value = { code: refusal };
    } catch (failure) {
      error.value = failure;
    } finally {
      busy.value = false;
    }
  }

  async function pay(e) {
    e.preventDefault();
    busy.value = true;
    error.value = null;
    const input = { token: token.value };
    try {
      const data = await graphql(PAY_REQUEST, { input: { ...input, idempotencyKey: attempt.key(input) } });
      attempt.settle();
      const r = data.payRequest;
      receipt.value = {
        headline: t('receipt.paidAt', { amount: money(r.amount), store: request.value.store.name }),
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

  function again() {
    token.value = null;
    request.value = null;
    error.value = null;
    pasted.value = '';
  }

  if (scanning) {
    return (
      <Screen title={t('scan.title')} back class="scan">
        <div class="camera card">
          {cameraFailed.value ? (
            <p class="notice">{t('scan.noCamera')}</p>
          ) : (
            <>
              <video ref={video} class="viewfinder" muted playsInline autoPlay aria-label={t('scan.video')} />
              <p class="hint">{t('scan.instructions')}</p>
            </>
          )}
        </div>
        <form
          class="card stack"
          onSubmit={(e) => {
            e.preventDefault();
            if (pasted.value.trim()) preview(pasted.value);
          }}
        >
          <Field label={t('scan.paste')} multiline autocomplete="off" spellcheck={false} value={pasted.value} onInput={(e) => (pasted.value = e.currentTarget.value)} />
          <button type="submit" class="btn btn-block" disabled={!pasted.value.trim()}>
            {t('scan.pasteSubmit')}
          </button>
        </form>
      </Screen>
    );
  }

  const r = request.value;
  const payable = r && r.status === 'OPEN';
  return (
    <Screen title={r ? t('scan.preview', { store: r.store.name }) : t('scan.checking')} back class="scan">
      <form class="card stack request" onSubmit={pay}>
        {r && (
          <>
            <p class="amount-xl">{money(r.amount)}</p>
            {payable && <p class="hint">{t('scan.expires', { time: clock(r.expiresAt) })}</p>}
            {payable && wallet.value && <p class="hint">{t('scan.available', { amount: money(wallet.value.available) })}</p>}
          </>
        )}
        <ErrorMessage error={error.value} />
        {payable && (
          <MoneyButton busy={busy.value} busyLabel={t('scan.busy')}>
            {t('scan.pay', { amount: money(r.amount) })}
          </MoneyButton>
        )}
        <button type="button" class="btn btn-quiet btn-block" disabled={busy.value && payable} onClick={again}>
          {payable ? t('scan.cancel') : t('scan.again')}
        </button>
      </form>
    </Screen>
  );
}
