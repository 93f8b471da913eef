// The console: log-in, then the views an operator needs, the session's time-outs in
// sight, renewal and log-out.
import { signal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { LogIn } from './LogIn.jsx';
import { Statistics } from './Statistics.jsx';
import { People } from './People.jsx';
import { Stores } from './Stores.jsx';
import { GraphiQL } from './GraphiQL.jsx';
import { admin, extend, logOut, now } from './session.js';
import { duration } from '../store/lib/i18n.js';
import { LanguageSwitch } from '../store/lib/ui.jsx';
import { t } from './strings.js';

const VIEWS = { statistics: Statistics, people: People, stores: Stores, graphiql: GraphiQL };
const fromPath = () => (VIEWS[location.pathname.split('/')[2]] ? location.pathname.split('/')[2] : 'statistics');
const view = signal(fromPath());

export function Console() {
  useEffect(() => {
    const back = () => (view.value = fromPath());
    addEventListener('popstate', back);
    return () => removeEventListener('popstate', back);
  }, []);
  useEffect(() => {
    document.title = admin.value ? `${t(`nav.${view.value}`)} · ${t('title')}` : `${t('login.title')} · ${t('title')}`;
  }, [view.value, Boolean(admin.value)]);
  const held = admin.value;
  if (!held) return <LogIn />;
  const View = VIEWS[view.value];
  const idleLeft = (held.expiresAt - now.value) / 1000;
  const absoluteLeft = (held.sessionExpiresAt - now.value) / 1000;
  return (
    <div class="dashboard">
      <header class="topbar">
        <span class="brand">{t('brand')}</span>
        <span class="spacer" />
        <span class="session-bar">
          <span>{t('session.idle', { time: duration(idleLeft) })}</span>
          <span>{t('session.absolute', { time: duration(absoluteLeft) })}</span>
        </span>
        <button type="button" class="secondary small" onClick={extend}>{t('session.extend')}</button>
        <LanguageSwitch t={t} />
        <button type="button" class="ghost" onClick={logOut}>{t('logOut')}</button>
      </header>
      <nav class="sidenav" aria-label={t('nav.label')}>
        <ul>
          {Object.keys(VIEWS).map((name) => (
            <li>
              <a
                href={`/admin/${name}`}
                aria-current={view.value === name ? 'page' : undefined}
                onClick={(event) => {
                  event.preventDefault();
                  view.value = name;
                  history.pushState(null, '', `/admin/${name}`);
                }}
              >
                {t(`nav.${name}`)}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" class="content">
        {idleLeft < 60 && (
          <div role="alert" class="warning-bar">
            <span>{t('session.warning', { time: duration(idleLeft) })}</span>
            <button type="button" class="primary small" onClick={extend}>{t('session.stay')}</button>
          </div>
        )}
        <View />
      </main>
    </div>
  );
}
