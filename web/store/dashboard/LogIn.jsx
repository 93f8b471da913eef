// The owner's log-in (the router's browser session: cookie + in-memory token).
import { useSignal } from '@preact/signals';
import { errorWords } from '../lib/i18n.js';
import { ended, logIn } from '../lib/session.js';
import { LanguageSwitch } from '../lib/ui.jsx';
import { t } from '../strings.js';

export function LogIn() {
  const error = useSignal(null);
  const busy = useSignal(false);
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    busy.value = true;
    error.value = null;
    try {
      await logIn(String(form.get('email')).trim(), String(form.get('password')));
    } catch (failure) {
      error.value = failure;
    } finally {
      busy.value = false;
    }
  };
  return (
    <main id="main" class="auth">
      <div class="auth-card">
        <div class="auth-head">
          <span class="brand">{t('dashboard.brand')}</span>
          <LanguageSwitch t={t} />
        </div>
        <h1>{t('login.title')}</h1>
        <p class="muted">{t('login.lead')}</p>
        {ended.value && <p role="alert" class="notice">{errorWords(t, { code: ended.value })}</p>}
        <form onSubmit={submit}>
          <label>
            {t('login.email')}
            <input name="email" type="email" autoComplete="username" required />
          </label>
          <label>
            {t('login.password')}
            <input name="password" type="password" autoComplete="current-password" required />
          </label>
          {error.value && <p role="alert" class="notice error">{errorWords(t, error.value)}</p>}
          <button type="submit" class="primary" disabled={busy.value}>
            {busy.value ? t('login.busy') : t('login.submit')}
          </button>
        </form>
        <p class="muted small">
          {t('login.kioskHint')} <a href="/store/kiosk">{t('login.kioskLink')}</a>
        </p>
      </div>
    </main>
  );
}
