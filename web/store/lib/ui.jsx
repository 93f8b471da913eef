// Small pieces both clients use: the language switch, the connection badge.
import { language, setLanguage } from './i18n.js';

export function LanguageSwitch({ t }) {
  const next = language.value === 'ko' ? 'en' : 'ko';
  return (
    <button type="button" class="ghost" lang={next} onClick={() => setLanguage(next)} aria-label={t('language.switch')}>
      {next === 'ko' ? '한국어' : 'English'}
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
