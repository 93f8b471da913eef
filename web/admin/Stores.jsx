// Find a store by name; see its takings account, recent transfers and kiosks; revoke
// a kiosk.
import { useSignal } from '@preact/signals';
import { History } from './History.jsx';
import { adminRequest } from './session.js';
import { gql } from '../store/lib/gql.js';
import { dateTime, errorWords, money } from '../store/lib/i18n.js';
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
  const results = useSignal(null);
  const store = useSignal(null);
  const error = useSignal(null);
  const notice = useSignal('');
  const find = async (event) => {
    event.preventDefault();
    const query = String(new FormData(event.currentTarget).get('query')).trim();
    error.value = null;
    store.value = null;
    try {
      results.value = (await adminRequest(FIND, { query })).findStores;
    } catch (failure) {
      error.value = failure;
    }
  };
  const open = async (id) => {
    error.value = null;
    try {
      store.value = (await adminRequest(STORE, { id })).store;
    } catch (failure) {
      error.value = failure;
    }
  };
  const revoke = async (kiosk) => {
    error.value = null;
    try {
      await adminRequest(REVOKE, { kioskId: kiosk.id });
      notice.value = t('stores.revoked', { name: kiosk.name });
      await open(store.value.id);
    } catch (failure) {
      error.value = failure;
    }
  };
  return (
    <>
      <h1>{t('stores.title')}</h1>
      <form onSubmit={find} class="search panel">
        <label>
          {t('stores.search')}
          <input name="query" type="search" required placeholder="Cafe" />
        </label>
        <button type="submit" class="primary">{t('common.find')}</button>
      </form>
      {error.value && <p role="alert" class="notice error">{errorWords(t, error.value)}</p>}
      <p role="status" class="muted">{notice.value || (results.value && !store.value ? t('common.found', { n: results.value.length }) : '')}</p>
      <div class="columns">
        {results.value?.length > 0 && (
          <section class="panel flush" aria-labelledby="store-results">
            <h2 id="store-results" class="visually-hidden">{t('common.results')}</h2>
            <table class="table">
              <thead>
                <tr>
                  <th scope="col">{t('stores.name')}</th>
                  <th scope="col">{t('stores.owner')}</th>
                  <th scope="col">{t('stores.since')}</th>
                </tr>
              </thead>
              <tbody>
                {results.value.map((found) => (
                  <tr key={found.id} class={store.value?.id === found.id ? 'selected' : undefined}>
                    <td>
                      <button type="button" class="link-button" onClick={() => open(found.id)}>{found.name}</button>
                    </td>
                    <td>{found.owner?.displayName}</td>
                    <td>{dateTime(found.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        )}
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
