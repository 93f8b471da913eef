// The merchant dashboard: log in, pick a store, then its overview, sales, charge,
// products and kiosks; payments arrive live whichever screen is open.
import { signal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { LogIn } from './LogIn.jsx';
import { StorePicker } from './StorePicker.jsx';
import { Overview } from './Overview.jsx';
import { Sales } from './Sales.jsx';
import { Charge } from './Charge.jsx';
import { Products } from './Products.jsx';
import { Kiosks } from './Kiosks.jsx';
import { connection, openStore, store } from './state.js';
import { logOut, refresh, session } from '../lib/session.js';
import { ConnectionBadge, LanguageSwitch } from '../lib/ui.jsx';
import { t } from '../strings.js';

const SCREENS = { overview: Overview, sales: Sales, charge: Charge, products: Products, kiosks: Kiosks };
const fromPath = () => {
  const name = location.pathname.split('/')[2];
  return SCREENS[name] ? name : 'overview';
};
const screen = signal(fromPath());
const restoring = signal(true);

function go(name) {
  screen.value = name;
  history.pushState(null, '', `/store/${name}`);
}

export function Dashboard() {
  useEffect(() => {
    refresh()
      .catch(() => null)
      .finally(() => (restoring.value = false));
    const back = () => (screen.value = fromPath());
    addEventListener('popstate', back);
    return () => removeEventListener('popstate', back);
  }, []);
  useEffect(() => {
    document.title = `${t(`nav.${screen.value}`)} · ${t('dashboard.title')}`;
  }, [screen.value, store.value]);

  if (restoring.value) return <p role="status" class="muted center">{t('common.loading')}</p>;
  if (!session.value) return <LogIn />;
  if (!store.value) return <StorePicker />;
  const Screen = SCREENS[screen.value];
  return (
    <div class="dashboard">
      <header class="topbar">
        <span class="brand">{t('dashboard.brand')}</span>
        <button type="button" class="store-switch" onClick={() => openStore(null)} aria-label={t('dashboard.switchStore', { name: store.value.name })}>
          {store.value.name}
        </button>
        <ConnectionBadge t={t} state={connection.value} />
        <span class="spacer" />
        <span class="muted">{session.value.user?.displayName}</span>
        <LanguageSwitch t={t} />
        <button
          type="button"
          class="ghost"
          onClick={async () => {
            openStore(null);
            await logOut();
          }}
        >
          {t('dashboard.logOut')}
        </button>
      </header>
      <nav class="sidenav" aria-label={t('nav.label')}>
        <ul>
          {Object.keys(SCREENS).map((name) => (
            <li>
              <a
                href={`/store/${name}`}
                aria-current={screen.value === name ? 'page' : undefined}
                onClick={(event) => {
                  event.preventDefault();
                  go(name);
                }}
              >
                {t(`nav.${name}`)}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" class="content">
        <Screen key={store.value.id} />
      </main>
    </div>
  );
}
