// What went wrong, in a sentence a person can act on. Every failure the clients see is an
// ApiError with the platform's `extensions.code` (or NETWORK when nothing answered).
import { t } from './i18n.js';

export class ApiError extends Error {
  constructor(code, message, { requestId = null, retryAfterSeconds = null, status = null } = {}) {
    super(message || code);
    this.name = 'ApiError';
    this.code = code;
    this.requestId = requestId;
    this.retryAfterSeconds = retryAfterSeconds;
    this.status = status;
  }

  /** Whether the outcome is unknown, so a retry with the same idempotency key is right. */
  get retryable() {
    return this.code === 'NETWORK' || this.code === 'SERVICE_UNAVAILABLE' || this.code === 'UNAVAILABLE';
  }
}

/** Codes with a sentence of their own in strings/*.js (key `error.<CODE>`). */
const KNOWN = new Set([
  'NETWORK',
  'INVALID_CREDENTIALS',
  'INVALID_EMAIL',
  'WEAK_PASSWORD',
  'INVALID_DISPLAY_NAME',
  'EMAIL_TAKEN',
  'RATE_LIMITED',
  'NO_SESSION',
  'REFRESH_TOKEN_INVALID',
  'REFRESH_TOKEN_REUSED',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CSRF_REFUSED',
  'INSUFFICIENT_CREDIT',
  'INVALID_AMOUNT',
  'INVALID_MEMO',
  'TOP_UP_LIMIT_EXCEEDED',
  'FUNDING_DECLINED',
  'RECIPIENT_NOT_FOUND',
  'PAYMENT_CODE_INVALID',
  'PAYMENT_CODE_EXPIRED',
  'PAYMENT_CODE_USED',
  'PAYMENT_DECLINED',
  'PAYMENT_REQUEST_INVALID',
  'PAYMENT_REQUEST_EXPIRED',
  'PAYMENT_REQUEST_PAID',
  'IDEMPOTENCY_KEY_REUSED',
  'SERVICE_UNAVAILABLE',
  'UNAVAILABLE',
  'RESUME_TOO_FAR_BEHIND',
  'PRODUCT_NOT_IN_STORE',
  'QUANTITY_INVALID',
  'KIOSK_PROOF_INVALID',
  'SALE_NOT_PAID',
  'REFUND_EXCEEDS_SALE',
]);

/** The sentence for an error (an ApiError, or anything thrown). */
export function describeError(error) {
  const code = error?.code;
  if (code === 'RATE_LIMITED') {
    const seconds = Math.max(1, Number(error.retryAfterSeconds) || 60);
    return seconds >= 90
      ? t('error.RATE_LIMITED.minutes', { minutes: Math.ceil(seconds / 60) })
      : t('error.RATE_LIMITED', { seconds });
  }
  if (KNOWN.has(code)) return t(`error.${code}`);
  return error?.requestId ? t('error.unknown.withId', { id: error.requestId }) : t('error.unknown');
}
