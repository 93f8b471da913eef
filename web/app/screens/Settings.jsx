// Settings: who is signed in, the language (remembered), log out here or everywhere.
import { useSignal } from '@preact/signals';
import { LANGUAGES, lang, setLanguage, t } from '../../shared/i18n.js';
import { logOut, user } from '../../shared/session.js';
import { router } from '../state.js';
import { ErrorMessage, Screen } from '../ui.jsx';

const NAMES = { en: 'English', ko: '한국어' };

/** Two radio buttons, each named in its own language. */
export function LanguageSwitch() {
  return (
    <fieldset class="language">
      <legend>{t('settings.language')}</legend>
      <div class="segmented">
        {LANGUAGES.map((code) => (
          <label key={code} class={lang.value === code ? 'on' : ''}>
            <input type="radio" name="language" value={code} checked={lang.value === code} onChange={() => setLanguage(code)} />
            <span lang={code}>{NAMES[code]}</span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}

export function Settings() {
  const busy = useSignal(false);
  const error = useSignal(null);

  async function end(everywhere) {
    busy.value = true;
    error.value = null;
    try {
      await logOut({ everywhere });
      router.navigate('', { replace: true });
    } catch (failure) {
      error.value = failure;
      busy.value = false;
    }
  }

  return (
    <Screen title={t('settings.title')}>
      <section class="card stack" aria-labelledby="account-heading">
        <h2 id="account-heading">{t('settings.account')}</h2>
        <p class="person">
          <strong>{user.value?.displayName}</strong>
          <span class="hint">{user.value?.email}</span>
        </p>
      </section>
      <section class="card">
        <LanguageSwitch />
      </section>
      <section class="card stack">
        <ErrorMessage error={error.value} />
        <button type="button" class="btn btn-block" disabled={busy.value} onClick={() => end(false)}>
          {t('settings.logOut')}
        </button>
        <button type="button" class="btn btn-danger btn-block" disabled={busy.value} onClick={() => end(true)} aria-describedby="everywhere-hint">
          {t('settings.logOutEverywhere')}
        </button>
        <p class="hint" id="everywhere-hint">
          {t('settings.logOutEverywhereHint')}
        </p>
      </section>
    </Screen>
  );
}
