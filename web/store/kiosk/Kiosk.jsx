// The kiosk (a tablet at the counter): paired once by its owner, then a till.
import { useEffect } from 'preact/hooks';
import { phase, start } from './device.js';
import { Pairing } from './Pairing.jsx';
import { Till } from './Till.jsx';
import { t } from '../strings.js';
import { LanguageSwitch } from '../lib/ui.jsx';

export function Kiosk() {
  useEffect(() => {
    document.title = t('kiosk.title');
    start();
  }, []);
  if (phase.value === 'ready') return <Till />;
  return (
    <div class="kiosk">
      <header class="bar">
        <span class="brand">{t('kiosk.brand')}</span>
        <LanguageSwitch t={t} />
      </header>
      <main id="main" class="kiosk-main">
        {phase.value === 'pairing' ? (
          <Pairing />
        ) : phase.value === 'unsupported' ? (
          <p role="alert" class="notice error">{t('kiosk.unsupported')}</p>
        ) : (
          <p role="status" class="muted">{t('kiosk.starting')}</p>
        )}
      </main>
    </div>
  );
}
