// Controls the store and admin clients share: the language switch and the badge of a
// live connection.
import { lang, setLanguage, t } from './i18n.js';

/** Switches between English and Korean; says the other language's name in that language. */
export function LanguageSwitch() {
  const next = lang.value === 'ko' ? 'en' : 'ko';
  // The name is the hidden "Switch language" followed by the visible language name, so
  // what is seen is part of what is heard (WCAG 2.5.3, label in name).
  return (
    <button type="button" class="ghost" onClick={() => setLanguage(next)}>
      <span class="visually-hidden">{t('language.switch')}: </span>
      <span lang={next}>{next === 'ko' ? '한국어' : 'English'}</span>
    </button>
  );
}

/** The state of a live connection (createLive, createSseLive): live, reconnecting, offline. */
export function ConnectionBadge({ state }) {
  return (
    <span class={`badge badge-${state}`} role="status">
      <span class="dot" aria-hidden="true" />
      {t(`live.${state}`)}
    </span>
  );
}
