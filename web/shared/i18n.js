// Strings: every sentence a person reads lives in one file per language (strings/en.js,
// strings/ko.js here for what the clients share, and each client's own en.js / ko.js).
// The chosen language is remembered in localStorage; the first visit follows the browser.
import { effect, signal } from '@preact/signals';
import sharedEn from './strings/en.js';
import sharedKo from './strings/ko.js';

export const LANGUAGES = ['en', 'ko'];
const STORAGE_KEY = 'c9pay.lang';

function initialLanguage() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (LANGUAGES.includes(saved)) return saved;
  } catch {
    // Storage can be unavailable (private mode): fall back to the browser's language.
  }
  return (navigator.language || 'en').toLowerCase().startsWith('ko') ? 'ko' : 'en';
}

export const lang = signal(initialLanguage());

const tables = { en: { ...sharedEn }, ko: { ...sharedKo } };

/** Adds a client's strings to the shared ones. */
export function addStrings(byLanguage) {
  for (const language of LANGUAGES) Object.assign(tables[language], byLanguage[language]);
}

export function setLanguage(language) {
  if (!LANGUAGES.includes(language)) return;
  lang.value = language;
  try {
    localStorage.setItem(STORAGE_KEY, language);
  } catch {
    // Not remembered, but the switch still works for this visit.
  }
}

// Screen readers pick their voice from <html lang>.
effect(() => {
  document.documentElement.lang = lang.value;
});

/**
 * The string `key` in the current language, with `{name}` placeholders filled from
 * `params`. Reading `lang` here makes every component that calls t() re-render when the
 * language changes.
 */
export function t(key, params = {}) {
  const value = tables[lang.value][key] ?? tables.en[key];
  if (value === undefined) {
    console.warn(`missing string: ${key}`);
    return key;
  }
  const text = typeof value === 'function' ? value(params) : value;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}
