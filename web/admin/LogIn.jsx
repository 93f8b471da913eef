// Admin log-in. A wrong password and an account that is not an admin get the same
// answer from the router (it does not tell which emails are admins), so the words say
// both plainly.
import { LogInCard } from '../shared/LogInCard.jsx';
import { endedBecause, logIn } from './session.js';
import { t } from './strings.js';

export function LogIn() {
  return (
    <LogInCard
      t={t}
      brand={t('brand')}
      ended={endedBecause.value && t(`ended.${endedBecause.value}`)}
      logIn={({ email, password }) => logIn(email, password)}
    >
      <p class="muted small">{t('login.note')}</p>
    </LogInCard>
  );
}
