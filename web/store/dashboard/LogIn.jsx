// The owner's log-in (the router's browser session: cookie + in-memory token).
import { LogInCard } from '../../shared/LogInCard.jsx';
import { errorWords } from '../../shared/errors.js';
import { endedBecause, logIn } from '../../shared/session.js';
import { t } from '../strings.js';

export function LogIn() {
  return (
    <LogInCard
      t={t}
      brand={t('dashboard.brand')}
      lead={t('login.lead')}
      ended={endedBecause.value && errorWords({ code: endedBecause.value })}
      logIn={logIn}
    >
      <p class="muted small">
        {t('login.kioskHint')} <a href="/store/kiosk">{t('login.kioskLink')}</a>
      </p>
    </LogInCard>
  );
}
