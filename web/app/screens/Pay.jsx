// Pay at a till: the payment code as a QR, the payer's name and a countdown. The code is
// renewed before it expires and taken off the screen the moment it would be stale, so
// the cashier never scans an expired one. The screen stays awake while shown. When the
// till sells, the payment arrives over the live feed and the screen closes into the
// receipt: "Paid ₩9,000 at Cafe Nine".
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { gql } from '../../shared/gql.js';
import { graphql } from '../../shared/graphql.js';
import { t } from '../../shared/i18n.js';
import { money } from '../../shared/money.js';
import { QrCode } from '../../shared/qr.jsx';
import { user } from '../../shared/session.js';
import { minutesSeconds } from '../../shared/time.js';
import { claimActivity, online, receipt, router, wallet } from '../state.js';
import { ErrorMessage, Screen } from '../ui.jsx';

const ISSUE = gql`
  mutation IssuePaymentCode {
    issuePaymentCode {
      token
      codeId
      expiresAt
    }
  }
`;

/** Ask for the next code this long before the current one expires. */
const RENEW_BEFORE_S = 30;
/** Take a code off the screen this long before it expires (a scan takes a moment). */
const HIDE_BEFORE_S = 3;

/**
 * When the code expires on this device's clock: its lifetime (exp − iat, from the token
 * itself) counted from when we asked for it — right even if the phone's clock is off.
 */
function localDeadline(token, expiresAt, askedAt) {
  try {
    const claims = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    if (claims.exp && claims.iat) return askedAt + (claims.exp - claims.iat) * 1000;
  } catch {
    // not a JWS we can read: fall back to the server's time
  }
  return Date.parse(expiresAt);
}

/** Keeps the screen on while the code is shown; re-acquired when the tab returns. */
function useWakeLock() {
  useEffect(() => {
    let lock = null;
    let alive = true;
    const acquire = async () => {
      if (!('wakeLock' in navigator) || document.visibilityState !== 'visible') return;
      try {
        lock = await navigator.wakeLock.request('screen');
        if (!alive) lock.release();
      } catch {
        // Not granted (battery saver, unsupported): the code still works.
      }
    };
    acquire();
    document.addEventListener('visibilitychange', acquire);
    return () => {
      alive = false;
      document.removeEventListener('visibilitychange', acquire);
      lock?.release().catch(() => {});
    };
  }, []);
}

export function Pay() {
  const code = useSignal(null); // { token, deadline }
  const now = useSignal(Date.now());
  const renewing = useSignal(false);
  const error = useSignal(null);
  const announcement = useSignal('');
  const name = user.value?.displayName ?? '';

  useWakeLock();

  async function issue() {
    if (renewing.value) return;
    renewing.value = true;
    const askedAt = Date.now();
    try {
      const { issuePaymentCode: c } = await graphql(ISSUE);
      const first = code.value === null;
      code.value = { token: c.token, deadline: localDeadline(c.token, c.expiresAt, askedAt) };
      error.value = null;
      if (!first) announcement.value = t('pay.timer.new');
    } catch (failure) {
      error.value = failure;
    } finally {
      renewing.value = false;
    }
  }

  useEffect(() => {
    issue();
    const tick = setInterval(() => (now.value = Date.now()), 250);
    // The payment for this code arrives live: close into its receipt. The payer is the
    // person signed in; the store and amount come with the event.
    const release = claimActivity((event) => {
      if (event.kind !== 'PAYMENT') return false;
      receipt.value = {
        headline: t('receipt.paidAt', { amount: money(event.amount), store: event.store?.name ?? t('party.unknown') }),
        amount: event.amount,
        kind: event.kind,
        when: event.occurredAt,
        reference: event.transferId,
      };
      router.navigate('receipt', { replace: true });
      return true;
    });
    return () => {
      clearInterval(tick);
      release();
    };
  }, []);

  const left = code.value ? (code.value.deadline - now.value) / 1000 : 0;
  const showable = code.value && left > HIDE_BEFORE_S;

  // Renew ahead of expiry, and again after a failure (back online, say).
  useEffect(() => {
    if (!online.value || renewing.value) return;
    if (!code.value ? error.value : left <= RENEW_BEFORE_S) {
      const wait = code.value ? 0 : 2000;
      const timer = setTimeout(issue, wait);
      return () => clearTimeout(timer);
    }
  }, [code.value && left <= RENEW_BEFORE_S, online.value, error.value, renewing.value]);

  // Screen readers hear the countdown at thresholds only, never every second.
  const threshold = left <= 60 && left > 59 ? 'pay.timer.60' : left <= RENEW_BEFORE_S + 1 && left > RENEW_BEFORE_S ? 'pay.timer.30' : null;
  useEffect(() => {
    if (threshold) announcement.value = t(threshold);
  }, [threshold]);

  return (
    <Screen title={t('pay.title')} back class="pay">
      <div class="code-card card">
        <p class="payer">{t('pay.payer', { name })}</p>
        <div class="qr-frame">
          {showable ? (
            <QrCode class="qr" text={code.value.token} label={t('pay.codeLabel', { name })} />
          ) : (
            <p class="qr-placeholder" role="status">
              {online.value ? t('pay.renewing') : t('pay.offline')}
            </p>
          )}
        </div>
        <div role="timer" aria-live="polite" aria-atomic="true" class="countdown">
          {showable && (
            <span aria-hidden="true">
              {t('pay.expiresIn')} <strong>{minutesSeconds(left)}</strong>
            </span>
          )}
          <span class="sr-only">{announcement.value}</span>
        </div>
        <p class="hint">{t('pay.instructions')}</p>
        {wallet.value && <p class="hint">{t('pay.balance', { amount: money(wallet.value.available) })}</p>}
        <ErrorMessage error={online.value ? error.value : null} />
      </div>
    </Screen>
  );
}
