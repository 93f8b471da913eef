// Find a store by name; see its takings account, recent transfers and kiosks; revoke
// a kiosk.
import { History } from './History.jsx';
import { LookupResults, LookupSearch, useLookup } from './Lookup.jsx';
import { adminRequest } from './session.js';
import { gql } from '../shared/gql.js';
import { money } from '../shared/money.js';
import { dateTime } from '../shared/time.js';
import { t } from './strings.js';

const FIND = gql`
  query FindStores($query: String!) {
    findStores(query: $query, first: 20) { id name createdAt owner { id displayName } }
  }
`;

const STORE = gql`
  query AdminStore($id: ID!) {
    store(id: $id) {
      id name
      account {
        balance
        history(first: 20) {
          nodes { id kind direction amount memo createdAt counterpartyUser { displayName } counterpartyStore { name } }
        }
      }
      kiosks { id name status createdAt revokedAt }
    }
  }
`;

const REVOKE = gql`
  mutation AdminRevokeKiosk($kioskId: ID!) { adminRevokeKiosk(kioskId: $kioskId) }
`;

export function Stores() {
  const lookup = useLookup(
    async (query) => (await adminRequest(FIND, { query })).findStores,
    async (found) => (await adminRequest(STORE, { id: found.id })).store,
  );
  const store = lookup.selected;
  const revoke = (kiosk) =>
    lookup.attempt(async () => {
      await adminRequest(REVOKE, { kioskId: kiosk.id });
      store.value = (await adminRequest(STORE, { id: store.value.id })).store;
      lookup.notice.value = t('stores.revoked', { name: kiosk.name });
    });
  const columns = [
    { header: t('stores.name'), cell: (found) => found.name },
    { header: t('stores.owner'), cell: (found) => found.owner?.displayName },
    { header: t('stores.since'), cell: (found) => dateTime(found.createdAt) },
  ];
  return (
    <>
      <h1>{t('stores.title')}</h1>
      <LookupSearch lookup={lookup} label={t('stores.search')} placeholder="Cafe" />
      <div class="columns">
        <LookupResults lookup={lookup} id="store-results" columns={columns} />
        {store.value && (
          <section class="panel grow" aria-labelledby="store-title">
            <h2 id="store-title">{store.value.name}</h2>
            <dl class="definition">
              <dt>{t('stores.id')}</dt>
              <dd class="mono">{store.value.id}</dd>
              <dt>{t('stores.balance')}</dt>
              <dd>{money(store.value.account?.balance)}</dd>
            </dl>
            <h3>{t('stores.kiosks')}</h3>
            {store.value.kiosks.length === 0 ? (
              <p class="muted">{t('stores.noKiosks')}</p>
            ) : (
              <table class="table">
                <thead>
                  <tr>
                    <th scope="col">{t('stores.kiosk')}</th>
                    <th scope="col">{t('stores.state')}</th>
                    <th scope="col"><span class="visually-hidden">{t('common.actions')}</span></th>
                  </tr>
                </thead>
                <tbody>
                  {store.value.kiosks.map((kiosk) => (
                    <tr key={kiosk.id}>
                      <td>{kiosk.name}</td>
                      <td>
                        <span class={`pill pill-${kiosk.status.toLowerCase()}`}>{t(`kiosk.${kiosk.status}`)}</span>
                      </td>
                      <td class="end">
                        {kiosk.status === 'ACTIVE' && (
                          <button type="button" class="danger small" onClick={() => revoke(kiosk)} aria-label={t('stores.revoke', { name: kiosk.name })}>
                            {t('stores.revokeShort')}
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <h3>{t('stores.history')}</h3>
            <History entries={store.value.account?.history.nodes ?? []} caption={t('stores.history')} />
          </section>
        )}
      </div>
    </>
  );
}
