// Pick one of your stores, or open one.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { openStore, rememberedStoreId } from './state.js';
import { gql } from '../lib/gql.js';
import { dateTime, errorWords } from '../lib/i18n.js';
import { authed } from '../lib/session.js';
import { LanguageSwitch } from '../lib/ui.jsx';
import { t } from '../strings.js';

const MY_STORES = gql`
  query MyStores {
    me { id displayName stores { id name createdAt } }
  }
`;

const OPEN_STORE = gql`
  mutation OpenStore($input: OpenStoreInput!) {
    openStore(input: $input) { id name createdAt }
  }
`;

let autoOpened = false;

export function StorePicker() {
  const stores = useSignal(null);
  const error = useSignal(null);
  const busy = useSignal(false);
  useEffect(() => {
    authed(MY_STORES)
      .then((data) => {
        stores.value = data.me.stores;
        const remembered = data.me.stores.find((candidate) => candidate.id === rememberedStoreId());
        if (remembered && !autoOpened) {
          autoOpened = true;
          openStore(remembered);
        }
      })
      .catch((failure) => (error.value = failure));
  }, []);
  const open = async (event) => {
    event.preventDefault();
    const name = String(new FormData(event.currentTarget).get('name')).trim();
    busy.value = true;
    error.value = null;
    try {
      const data = await authed(OPEN_STORE, { input: { name } });
      openStore(data.openStore);
    } catch (failure) {
      error.value = failure;
    } finally {
      busy.value = false;
    }
  };
  return (
    <main id="main" class="auth">
      <div class="auth-card wide">
        <div class="auth-head">
          <span class="brand">{t('dashboard.brand')}</span>
          <LanguageSwitch t={t} />
        </div>
        <h1>{t('stores.title')}</h1>
        {!stores.value && !error.value && <p role="status" class="muted">{t('common.loading')}</p>}
        {stores.value?.length === 0 && <p class="muted">{t('stores.none')}</p>}
        <ul class="store-list">
          {stores.value?.map((candidate) => (
            <li>
              <button type="button" class="store-choice" onClick={() => openStore(candidate)}>
                <strong>{candidate.name}</strong>
                <span class="muted">{t('stores.since', { date: dateTime(candidate.createdAt) })}</span>
              </button>
            </li>
          ))}
        </ul>
        <form onSubmit={open} class="inline-form">
          <label>
            {t('stores.newName')}
            <input name="name" required maxLength={64} />
          </label>
          <button type="submit" class="secondary" disabled={busy.value}>{t('stores.open')}</button>
        </form>
        {error.value && <p role="alert" class="notice error">{errorWords(t, error.value)}</p>}
      </div>
    </main>
  );
}
