// The shell: which screen shows for the current path and session, the top bar with the
// live badge, the live toasts, and the tab bar.
import { t } from '../shared/i18n.js';
import { sessionState } from '../shared/session.js';
import { eventSentence } from './activity.js';
import { History } from './screens/History.jsx';
import { Home } from './screens/Home.jsx';
import { LogIn } from './screens/LogIn.jsx';
import { Pay } from './screens/Pay.jsx';
import { Receipt } from './screens/Receipt.jsx';
import { Scan } from './screens/Scan.jsx';
import { Send } from './screens/Send.jsx';
import { Settings } from './screens/Settings.jsx';
import { SignUp } from './screens/SignUp.jsx';
import { TopUp } from './screens/TopUp.jsx';
import { dismissToast, me, router, toasts } from './state.js';
import { LiveBadge, Link } from './ui.jsx';

const TABS = { '': Home, history: History, settings: Settings };
const FLOWS = { pay: Pay, scan: Scan, 'top-up': TopUp, send: Send, receipt: Receipt };

export function App() {
  const state = sessionState.value;
  const path = router.path.value;

  if (state === 'starting') {
    return (
      <div class="splash" role="status">
        <span class="brand-mark" aria-hidden="true">9</span>
        <span class="sr-only">{t('common.loading')}</span>
      </div>
    );
  }

  if (state === 'signed-out') {
    return <div class="shell signed-out">{path === 'sign-up' ? <SignUp /> : <LogIn />}</div>;
  }

  const Tab = TABS[path];
  const Flow = FLOWS[path];
  const Current = Tab ?? Flow ?? Home;
  return (
    <div class={`shell ${Tab || !Flow ? 'with-tabs' : 'in-flow'}`}>
      <header class="topbar">
        <Link to="" class="brand">
          <span class="brand-mark" aria-hidden="true">
            9
          </span>
          <span>{t('app.name')}</span>
        </Link>
        <LiveBadge />
      </header>
      <Toasts />
      <Current key={path} />
      {(Tab || !Flow) && <TabBar path={path} />}
    </div>
  );
}

/** What arrived live and was not the screen's own business; stays until dismissed. */
function Toasts() {
  return (
    <section class="toasts" role="log" aria-live="polite" aria-label={t('live.log')}>
      {toasts.value.map(({ id, event }) => (
        <div class="toast" key={id}>
          <p>{eventSentence(event, me.value?.id)}</p>
          <button type="button" class="icon-btn small" onClick={() => dismissToast(id)}>
            <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
              <path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
            </svg>
            <span class="sr-only">{t('common.dismiss')}</span>
          </button>
        </div>
      ))}
    </section>
  );
}

function TabBar({ path }) {
  const tabs = [
    ['', 'nav.home', 'M4 11l8-7 8 7v9a1 1 0 0 1-1 1h-5v-6h-4v6H5a1 1 0 0 1-1-1z'],
    ['history', 'nav.history', 'M5 6h14M5 12h14M5 18h10'],
    ['settings', 'nav.settings', 'M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM4 12h2M18 12h2M12 4v2M12 18v2M6.3 6.3l1.4 1.4M16.3 16.3l1.4 1.4M6.3 17.7l1.4-1.4M16.3 7.7l1.4-1.4'],
  ];
  return (
    <nav class="tabbar" aria-label={t('nav.label')}>
      {tabs.map(([to, label, icon]) => (
        <Link key={to} to={to} class="tab" aria-current={path === to ? 'page' : undefined}>
          <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
            <path d={icon} fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" />
          </svg>
          <span>{t(label)}</span>
        </Link>
      ))}
    </nav>
  );
}
