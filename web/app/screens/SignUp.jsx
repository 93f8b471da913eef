// Create an account: name, email, password; signed in at once.
import { useSignal } from '@preact/signals';
import { t } from '../../shared/i18n.js';
import { signUp } from '../../shared/session.js';
import { ErrorMessage, Field, Link, Screen } from '../ui.jsx';
import { router } from '../state.js';
import { LanguageSwitch } from './Settings.jsx';

export function SignUp() {
  const name = useSignal('');
  const email = useSignal('');
  const password = useSignal('');
  const busy = useSignal(false);
  const error = useSignal(null);

  async function submit(e) {
    e.preventDefault();
    busy.value = true;
    error.value = null;
    try {
      await signUp({ displayName: name.value.trim(), email: email.value.trim(), password: password.value });
      router.navigate('', { replace: true });
    } catch (failure) {
      error.value = failure;
      busy.value = false;
    }
  }

  return (
    <Screen title={t('signUp.title')} class="auth">
      <form class="stack" onSubmit={submit} noValidate>
        <Field label={t('signUp.name')} hint={t('signUp.nameHint')} autocomplete="name" required value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} />
        <Field label={t('signUp.email')} type="email" autocomplete="email" required value={email.value} onInput={(e) => (email.value = e.currentTarget.value)} />
        <Field
          label={t('signUp.password')}
          hint={t('signUp.passwordHint')}
          type="password"
          autocomplete="new-password"
          required
          minLength={10}
          value={password.value}
          onInput={(e) => (password.value = e.currentTarget.value)}
        />
        <ErrorMessage error={error.value} />
        <button type="submit" class="btn btn-primary btn-block" disabled={busy.value}>
          {busy.value ? t('signUp.busy') : t('signUp.submit')}
        </button>
      </form>
      <p class="switch-auth">
        {t('signUp.haveAccount')} <Link to="">{t('signUp.toLogIn')}</Link>
      </p>
      <LanguageSwitch />
    </Screen>
  );
}
