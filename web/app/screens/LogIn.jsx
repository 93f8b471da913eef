// Log in with email and password. If the last session was ended by the platform (a
// reused refresh token ended every session), say why first.
import { useSignal } from '@preact/signals';
import { t } from '../../shared/i18n.js';
import { endedBecause, logIn } from '../../shared/session.js';
import { ErrorMessage, Field, Link, Screen } from '../ui.jsx';
import { LanguageSwitch } from './Settings.jsx';

export function LogIn() {
  const email = useSignal('');
  const password = useSignal('');
  const busy = useSignal(false);
  const error = useSignal(null);

  async function submit(e) {
    e.preventDefault();
    busy.value = true;
    error.value = null;
    try {
      await logIn({ email: email.value.trim(), password: password.value });
    } catch (failure) {
      error.value = failure;
      busy.value = false;
    }
  }

  return (
    <Screen title={t('logIn.title')} class="auth">
      <p class="lead">{t('logIn.lead')}</p>
      {endedBecause.value && <ErrorMessage error={{ code: endedBecause.value }} />}
      <form class="stack" onSubmit={submit} noValidate>
        <Field label={t('logIn.email')} type="email" autocomplete="username" required value={email.value} onInput={(e) => (email.value = e.currentTarget.value)} />
        <Field
          label={t('logIn.password')}
          type="password"
          autocomplete="current-password"
          required
          value={password.value}
          onInput={(e) => (password.value = e.currentTarget.value)}
        />
        <ErrorMessage error={error.value} />
        <button type="submit" class="btn btn-primary btn-block" disabled={busy.value}>
          {busy.value ? t('logIn.busy') : t('logIn.submit')}
        </button>
      </form>
      <p class="switch-auth">
        {t('logIn.noAccount')} <Link to="sign-up">{t('logIn.toSignUp')}</Link>
      </p>
      <p class="hint demo">{t('logIn.demo')}</p>
      <LanguageSwitch />
    </Screen>
  );
}
