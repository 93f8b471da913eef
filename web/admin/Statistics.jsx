// Platform statistics: accounts and sessions (auth), money (credit), stores (stores).
// Each group is its own request, so one service down does not hide the others.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { adminRequest } from './session.js';
import { errorWords } from '../shared/errors.js';
import { gql } from '../shared/gql.js';
import { money } from '../shared/money.js';
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

const Stat = ({ id, label, value }) => (
  <section class="metric" aria-labelledby={`stat-${id}`}>
    <h2 id={`stat-${id}`}>{label}</h2>
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
        <p role="alert" class="notice error">{errorWords(error)}</p>
      ))}
      <h2>{t('stats.people')}</h2>
      <div class="stats">
        <Stat id="accounts" label={t('stats.accounts')} value={platform.data?.accounts} />
        <Stat id="openSessions" label={t('stats.openSessions')} value={platform.data?.openSessions} />
        <Stat id="kiosks" label={t('stats.kiosks')} value={platform.data?.kiosks} />
        <Stat id="stores" label={t('stats.stores')} value={stores.data?.stores} />
      </div>
      <h2>{t('stats.money')}</h2>
      <div class="stats">
        <Stat id="transfersToday" label={t('stats.transfersToday')} value={ledger.data?.transfersToday} />
        <Stat id="volumeToday" label={t('stats.volumeToday')} value={ledger.data && money(ledger.data.volumeToday)} />
        <Stat id="salesToday" label={t('stats.salesToday')} value={stores.data?.salesToday} />
        <Stat id="userBalances" label={t('stats.userBalances')} value={ledger.data && money(ledger.data.userBalances)} />
      </div>
    </>
  );
}
