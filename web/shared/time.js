import { lang } from './i18n.js';

const locale = () => (lang.value === 'ko' ? 'ko-KR' : 'en-US');

/** "12 Mar 2026, 14:05" / "2026. 3. 12. 오후 2:05" */
export function dateTime(iso) {
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

/** "Today", "Yesterday" or the date: how history groups its rows. */
export function day(iso, now = new Date()) {
  const date = new Date(iso);
  const startOf = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((startOf(now) - startOf(date)) / 86400000);
  if (days === 0 || days === 1) {
    return new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' }).format(-days, 'day');
  }
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium' }).format(date);
}

/** "14:05" */
export function clock(iso) {
  return new Intl.DateTimeFormat(locale(), { timeStyle: 'short' }).format(new Date(iso));
}

/** Seconds as "2:05", for countdowns. */
export function minutesSeconds(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
