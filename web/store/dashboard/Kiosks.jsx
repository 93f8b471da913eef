// The store's kiosks: pair one (scan the QR on its screen, or type its code), see
// each one's state, revoke one (it stops within seconds and says so on its screen).
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { store } from './state.js';
import { gql } from '../lib/gql.js';
import { dateTime, errorWords } from '../lib/i18n.js';
import { isPairingText, parsePairing } from '../lib/pairing.js';
import { Scanner } from '../lib/scan.jsx';
import { authed } from '../lib/session.js';
import { t } from '../strings.js';

const KIOSKS = gql`
  query Kiosks($id: ID!) {
    store(id: $id) { id kiosks { id name status createdAt revokedAt keyThumbprint } }
  }
`;

const REGISTER = gql`
  mutation RegisterKiosk($input: RegisterKioskInput!) {
    registerKiosk(input: $input) { id storeId keyThumbprint }
  }
`;

const REVOKE = gql`
  mutation RevokeKiosk($input: RevokeKioskInput!) {
    revokeKiosk(input: $input)
  }
`;

export function Kiosks() {
  const kiosks = useSignal(null);
  const error = useSignal(null);
  const scanning = useSignal(false);
  const code = useSignal('');
  const confirming = useSignal(null);
  const notice = useSignal(null);
  const load = () =>
    authed(KIOSKS, { id: store.value.id })
      .then((data) => (kiosks.value = data.store.kiosks))
      .catch((failure) => (error.value = failure));
  useEffect(() => {
    load();
  }, []);
  const pair = async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const name = String(new FormData(form).get('name')).trim();
    const jwk = parsePairing(code.value);
    error.value = null;
    if (!jwk) {
      error.value = { code: 'PAIRING_CODE_INVALID' };
      return;
    }
    try {
      await authed(REGISTER, { input: { storeId: store.value.id, name, publicKey: JSON.stringify(jwk) } });
      notice.value = t('kiosks.paired', { name });
      code.value = '';
      form.reset();
      load();
    } catch (failure) {
      error.value = failure;
    }
  };
  const revoke = async (kiosk) => {
    error.value = null;
    try {
      await authed(REVOKE, { input: { storeId: store.value.id, kioskId: kiosk.id } });
      notice.value = t('kiosks.revoked', { name: kiosk.name });
      confirming.value = null;
      load();
    } catch (failure) {
      error.value = failure;
    }
  };
  return (
    <>
      <h1>{t('kiosks.title')}</h1>
      <div class="columns">
        <section class="panel" aria-labelledby="pair-title">
          <h2 id="pair-title">{t('kiosks.pair')}</h2>
          <p class="muted small">{t('kiosks.pairLead')}</p>
          <form onSubmit={pair} class="stack">
            <label>
              {t('kiosks.name')}
              <input name="name" required maxLength={64} placeholder={t('kiosks.namePlaceholder')} />
            </label>
            <label>
              {t('kiosks.code')}
              <input value={code.value} onInput={(event) => (code.value = event.currentTarget.value)} required autoComplete="off" spellcheck={false} class="mono" />
            </label>
            {scanning.value ? (
              <>
                <Scanner
                  label={t('kiosks.camera')}
                  hint={t('kiosks.scanHint')}
                  blockedText={t('kiosks.cameraBlocked')}
                  accept={isPairingText}
                  onCode={(text) => {
                    code.value = text.replace(/^c9pay-kiosk:/, '').match(/.{1,4}/g).join(' ');
                    scanning.value = false;
                    notice.value = t('kiosks.scanned');
                  }}
                />
                <button type="button" class="ghost" onClick={() => (scanning.value = false)}>{t('kiosks.stopScan')}</button>
              </>
            ) : (
              <button type="button" class="secondary" onClick={() => (scanning.value = true)}>{t('kiosks.scan')}</button>
            )}
            <button type="submit" class="primary">{t('kiosks.pairSubmit')}</button>
          </form>
        </section>
        <section class="panel grow" aria-labelledby="list-title">
          <h2 id="list-title">{t('kiosks.list')}</h2>
          <p role="status" class="muted">{notice.value}</p>
          {error.value && <p role="alert" class="notice error">{errorWords(t, error.value)}</p>}
          {kiosks.value?.length === 0 && <p class="muted">{t('kiosks.none')}</p>}
          {kiosks.value?.length > 0 && (
            <table class="table">
              <caption class="visually-hidden">{t('kiosks.list')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('kiosks.name')}</th>
                  <th scope="col">{t('kiosks.state')}</th>
                  <th scope="col">{t('kiosks.since')}</th>
                  <th scope="col"><span class="visually-hidden">{t('sales.actions')}</span></th>
                </tr>
              </thead>
              <tbody>
                {kiosks.value.map((kiosk) => (
                  <tr key={kiosk.id}>
                    <td>
                      {kiosk.name}
                      <span class="muted small block mono" title={t('kiosks.thumbprint')}>{kiosk.keyThumbprint.slice(0, 12)}…</span>
                    </td>
                    <td>
                      <span class={`pill pill-${kiosk.status.toLowerCase()}`}>{t(`kiosk.${kiosk.status}`)}</span>
                    </td>
                    <td>{dateTime(kiosk.revokedAt ?? kiosk.createdAt)}</td>
                    <td class="end">
                      {kiosk.status === 'ACTIVE' &&
                        (confirming.value === kiosk.id ? (
                          <span class="confirm">
                            <button type="button" class="danger small" onClick={() => revoke(kiosk)}>
                              {t('kiosks.confirmRevoke', { name: kiosk.name })}
                            </button>
                            <button type="button" class="ghost small" onClick={() => (confirming.value = null)}>{t('common.cancel')}</button>
                          </span>
                        ) : (
                          <button type="button" class="secondary small" onClick={() => (confirming.value = kiosk.id)} aria-label={t('kiosks.revoke', { name: kiosk.name })}>
                            {t('kiosks.revokeShort')}
                          </button>
                        ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </>
  );
}
