// Strings in one file per language per client; the language is remembered.
import { signal } from '@preact/signals';

const KEY = 'c9pay.lang'; // the same key as the user app (web/shared/i18n.js)
const initial = () => {
  try {
    const kept = localStorage.getItem(KEY);
    if (kept === 'en' || kept === 'ko') return kept;
  } catch {
    // storage refused: follow the browser
  }
  return navigator.language?.toLowerCase().startsWith('ko') ? 'ko' : 'en';
};

export const language = signal(initial());

export function setLanguage(next) {
  language.value = next;
  document.documentElement.lang = next;
  try {
    localStorage.setItem(KEY, next);
  } catch {
    // not remembered, still switched
  }
}

/** A translator over {en, ko} dictionaries: t('key', {name}) fills {name}. */
export function translator(dictionaries) {
  return (key, values) => {
    const dictionary = dictionaries[language.value] ?? dictionaries.en;
    let text = dictionary[key] ?? dictionaries.en[key] ?? key;
    if (typeof text === 'function') return text(values ?? {});
    if (values) text = text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
    return text;
  };
}

/** The words for an error code (`error.CODE` in the strings), or the generic one. */
export const errorWords = (t, error) => {
  const code = error?.code ?? 'ERROR';
  const key = `error.${code}`;
  const words = t(key);
  return words === key ? t('error.ERROR') : words;
};

export const locale = () => (language.value === 'ko' ? 'ko-KR' : 'en-US');

export const money = (amount) =>
  new Intl.NumberFormat(locale(), { style: 'currency', currency: 'KRW' }).format(Number(amount ?? 0));

export const time = (value, options = { hour: '2-digit', minute: '2-digit' }) =>
  new Intl.DateTimeFormat(locale(), options).format(new Date(value));

export const dateTime = (value) =>
  new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(value));

/** m:ss (or h:mm:ss) of a number of seconds. */
export const duration = (seconds) => {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
};
