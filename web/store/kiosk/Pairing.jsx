// Pairing: the kiosk shows its public key as a QR and as a typed code; its owner
// registers it from the dashboard; the kiosk notices by itself (it keeps asking).
import { device, revoked } from './device.js';
import { QrCode } from '../lib/qr.jsx';
import { pairingCode, pairingText } from '../lib/pairing.js';
import { t } from '../strings.js';

export function Pairing() {
  const key = device.value;
  return (
    <section class="pairing" aria-labelledby="pairing-title">
      {revoked.value && (
        <p role="alert" class="notice error">
          <strong>{t('kiosk.revokedTitle')}</strong> {t('kiosk.revokedBody')}
        </p>
      )}
      <h1 id="pairing-title">{t('kiosk.pairTitle')}</h1>
      <p class="lead">{t('kiosk.pairLead')}</p>
      <div class="pairing-body">
        <QrCode text={pairingText(key.jwk)} label={t('kiosk.pairQr')} size={300} />
        <div>
          <h2 class="label" id="pairing-code-title">{t('kiosk.pairCode')}</h2>
          <p class="pairing-code" role="group" aria-labelledby="pairing-code-title">
            {pairingCode(key.jwk).split(' ').map((group) => (
              <span>{group}</span>
            ))}
          </p>
          <p role="status" class="waiting">
            <span class="pulse" aria-hidden="true" /> {t('kiosk.pairWaiting')}
          </p>
        </div>
      </div>
    </section>
  );
}
