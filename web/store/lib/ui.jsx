// Small pieces both clients use: the language switch, the connection badge.
import { language, setLanguage } from './i18n.js';

export function LanguageSwitch({ t }) {
  const next = language.value === 'ko' ? 'en' : 'ko';
  return (
    // The name is the hidden "Switch language" followed by the visible language name, so
    // what is seen is part of what is heard (WCAG 2.5.3, label in name).
    <button type="button" class="ghost" onClick={() => setLanguage(next)}>
      <span class="visually-hidden">{t('language.switch')}: </span>
      <span lang={next}>{next === 'ko' ? '한국어' : 'English'}</span>
    </button>
  );
}

/** state: 'connecting' | 'live' | 'reconnecting' | 'offline' */
export function ConnectionBadge({ t, state }) {
  return (
    <span class={`badge badge-${state}`} role="status">
      <span class="dot" aria-hidden="true" />
      {t(`live.${state}`)}
    </span>
  );
}
