// Amounts are integer credits (1 credit = 1 KRW) that GraphQL sends as decimal strings.
import { lang } from './i18n.js';

const formatters = new Map();

function formatter(language, signDisplay) {
  const key = language + signDisplay;
  if (!formatters.has(key)) {
    formatters.set(
      key,
      new Intl.NumberFormat(language === 'ko' ? 'ko-KR' : 'en-US', { style: 'currency', currency: 'KRW', signDisplay }),
    );
  }
  return formatters.get(key);
}

/** "₩4,500" in the current language. `signed` shows "+₩4,500" / "−₩4,500". */
export function money(amount, { signed = false } = {}) {
  const text = formatter(lang.value, signed ? 'exceptZero' : 'auto').format(Number(amount));
  // A real minus sign reads better than a hyphen next to a currency sign.
  return text.replace('-', '\u2212');
}

/** Parses what a person typed ("10,000", "₩10000") into whole credits, or null. */
export function parseAmount(text) {
  const digits = String(text).replace(/[\s,₩원]/g, '');
  if (!/^\d{1,13}$/.test(digits)) return null;
  const value = Number(digits);
  return value > 0 ? value : null;
}
