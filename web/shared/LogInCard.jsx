// The email-and-password card both the merchant dashboard and the admin console open
// with: what to say (their strings), how to log in (their session) and what to say after
// the form (their note) are theirs; the form, its busy state and its refusal in words are
// this one's.
import { useSignal } from '@preact/signals';
import { LanguageSwitch } from './controls.jsx';
import { errorWords } from './errors.js';

/**
 * `t`: the client's strings (login.title, login.email, login.password, login.busy,
 * login.submit); `logIn({ email, password })` rejects with an ApiError; `ended`: why the
 * last session ended, already in words, or null.
 */
export function LogInCard({ t, brand, lead, ended, logIn, children }) {
  const error = useSignal(null);
  const busy = useSignal(false);
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    busy.value = true;
    error.value = null;
    try {
      await logIn({ email: String(form.get('email')).trim(), password: String(form.get('password')) });
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
          <span class="brand">{brand}</span>
          <LanguageSwitch />
        </div>
        <h1>{t('login.title')}</h1>
        {lead && <p class="muted">{lead}</p>}
        {ended && <p role="alert" class="notice">{ended}</p>}
        <form onSubmit={submit}>
          <label>
            {t('login.email')}
            <input name="email" type="email" autoComplete="username" required />
          </label>
          <label>
            {t('login.password')}
            <input name="password" type="password" autoComplete="current-password" required />
          </label>
          {error.value && <p role="alert" class="notice error">{errorWords(error.value)}</p>}
          <button type="submit" class="primary" disabled={busy.value}>
            {busy.value ? t('login.busy') : t('login.submit')}
          </button>
        </form>
        {children}
      </div>
    </main>
  );
}
