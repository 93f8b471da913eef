// Platform statistics: accounts and sessions (auth), money (credit), stores (stores).
// Each group is its own request, so one service down does not hide the others.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { adminRequest } from './session.js';
import { gql } from '../store/lib/gql.js';
import { errorWords, money } from '../store/lib/i18n.js';
import { t } from './strings.js';

const PLATFORM = gql`
  query PlatformStatistics { platformStatistics { accounts openSessions kiosks } }
`;
const LEDGER = gql`
  query LedgerStatistics { ledgerStatistics { transfersToday volumeToday userBalances } }
`;
const STORES = gql`
  query StoreStatistics { storeStatistics { stores salesToday } }
`;

function useQuery(query) {
  const state = useSignal({});
  const load = () =>
    adminRequest(query)
      .then((data) => (state.value = { data: Object.values(data)[0] }))
      .catch((error) => (state.value = { error }));
  useEffect(() => {
    load();
  }, []);
  return [state.value, load];
}

const Stat = ({ label, value }) => (
  <section class="metric">
    <h2>{label}</h2>
    <p class="metric-value">{value ?? '—'}</p>
  </section>
);

export function Statistics() {
  const [platform, reloadPlatform] = useQuery(PLATFORM);
  const [ledger, reloadLedger] = useQuery(LEDGER);
  const [stores, reloadStores] = useQuery(STORES);
  const errors = [platform.error, ledger.error, stores.error].filter(Boolean);
  return (
    <>
      <div class="auth-head">
        <h1>{t('stats.title')}</h1>
        <button
          type="button"
          class="secondary small"
          onClick={() => {
            reloadPlatform();
            reloadLedger();
            reloadStores();
          }}
        >
          {t('stats.refresh')}
        </button>
      </div>
      {errors.map((error) => (
        <p role="alert" class="notice error">{errorWords(t, error)}</p>
      ))}
      <h2>{t('stats.people')}</h2>
      <div class="stats">
        <Stat label={t('stats.accounts')} value={platform.data?.accounts} />
        <Stat label={t('stats.openSessions')} value={platform.data?.openSessions} />
        <Stat label={t('stats.kiosks')} value={platform.data?.kiosks} />
        <Stat label={t('stats.stores')} value={stores.data?.stores} />
      </div>
      <h2>{t('stats.money')}</h2>
      <div class="stats">
        <Stat label={t('stats.transfersToday')} value={ledger.data?.transfersToday} />
        <Stat label={t('stats.volumeToday')} value={ledger.data && money(ledger.data.volumeToday)} />
        <Stat label={t('stats.salesToday')} value={stores.data?.salesToday} />
        <Stat label={t('stats.userBalances')} value={ledger.data && money(ledger.data.userBalances)} />
      </div>
    </>
  );
}
