// The till: the catalogue, the cart and its total; "Charge" opens the camera on the
// customer's payment code. Payments to the store arrive live (server-sent events,
// each request with a fresh DPoP proof) and are listed once each.
import { computed, signal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { becomeRevoked, checkRevoked, kioskHeaders, kioskRequest, token } from './device.js';
import { Checkout } from './Checkout.jsx';
import { gql } from '../lib/gql.js';
import { errorWords, money, time } from '../lib/i18n.js';
import { follow } from '../lib/live.js';
import { ConnectionBadge, LanguageSwitch } from '../lib/ui.jsx';
import { t } from '../strings.js';

const STORE = gql`
  query KioskStore($id: ID!) {
    store(id: $id) { id name products { id name price } }
  }
`;

const PAYMENTS = gql`
  subscription KioskPayments($storeId: ID!, $after: ID) {
    storePayments(storeId: $storeId, after: $after) { id transferId kind amount occurredAt }
  }
`;

const store = signal(null);
const loadError = signal(null);
/** productId → quantity */
export const cart = signal({});
export const checkingOut = signal(false);
const recent = signal([]);
const connection = signal('connecting');

export const cartLines = computed(() => {
  const products = store.value?.products ?? [];
  return products.filter((product) => cart.value[product.id]).map((product) => ({ product, quantity: cart.value[product.id] }));
});
export const cartTotal = computed(() => cartLines.value.reduce((sum, line) => sum + Number(line.product.price) * line.quantity, 0));
const cartCount = computed(() => cartLines.value.reduce((sum, line) => sum + line.quantity, 0));

const setQuantity = (id, quantity) => {
  const next = { ...cart.value };
  if (quantity <= 0) delete next[id];
  else next[id] = Math.min(99, quantity);
  cart.value = next;
};

export function Till() {
  useEffect(() => {
    const storeId = token.value.storeId;
    checkingOut.value = false;
    kioskRequest(STORE, { id: storeId })
      .then((data) => {
        store.value = data.store;
        document.title = `${data.store?.name ?? ''} · ${t('kiosk.title')}`;
      })
      .catch((error) => {
        if (error.code !== 'KIOSK_REVOKED') loadError.value = error;
      });
    const live = follow({
      field: 'storePayments',
      query: PAYMENTS,
      variables: { storeId },
      transport: { kind: 'sse', headers: kioskHeaders },
      onEvent: (event) => {
        recent.value = [event, ...recent.value].slice(0, 6);
      },
      onError: async (code) => {
        if (code === 'UNAUTHENTICATED' || code === 'TOKEN_EXPIRED' || code === 'FORBIDDEN') {
          if (await checkRevoked()) return 'stop';
        }
        if (code === 'KIOSK_NOT_FOUND') {
          await becomeRevoked();
          return 'stop';
        }
        return undefined;
      },
    });
    const stopBadge = live.state.subscribe((state) => (connection.value = state));
    return () => {
      stopBadge();
      live.stop();
    };
  }, []);

  return (
    <div class="kiosk">
      <header class="bar">
        <span class="brand">{store.value?.name ?? t('kiosk.brand')}</span>
        <ConnectionBadge t={t} state={connection.value} />
        <LanguageSwitch t={t} />
      </header>
      {checkingOut.value ? (
        <Checkout />
      ) : (
        <main id="main" class="till">
          <section class="catalogue" aria-labelledby="catalogue-title">
            <h1 id="catalogue-title" class="visually-hidden">{t('kiosk.catalogue')}</h1>
            {loadError.value && <p role="alert" class="notice error">{errorWords(t, loadError.value)}</p>}
            {!store.value && !loadError.value && <p role="status" class="muted">{t('common.loading')}</p>}
            {store.value?.products.length === 0 && <p class="muted">{t('kiosk.noProducts')}</p>}
            <ul class="tiles">
              {store.value?.products.map((product) => (
                <li>
                  <button type="button" class="tile" onClick={() => setQuantity(product.id, (cart.value[product.id] ?? 0) + 1)}>
                    <span class="tile-name">{product.name}</span>
                    <span class="tile-foot">
                      <span class="tile-price">{money(product.price)}</span>
                      {cart.value[product.id] ? <span class="tile-count">{t('kiosk.inCart', { n: cart.value[product.id] })}</span> : null}
                    </span>
                  </button>
                </li>
              ))}
            </ul>
          </section>
          <aside class="cart" aria-labelledby="cart-title">
            <h2 id="cart-title">{t('kiosk.cart')}</h2>
            {cartLines.value.length === 0 ? (
              <p class="muted">{t('kiosk.cartEmpty')}</p>
            ) : (
              <ul class="cart-lines">
                {cartLines.value.map(({ product, quantity }) => (
                  <li>
                    <span class="line-name">{product.name}</span>
                    <span class="stepper">
                      <button type="button" class="step" aria-label={t('kiosk.less', { name: product.name })} onClick={() => setQuantity(product.id, quantity - 1)}>
                        −
                      </button>
                      <output aria-label={t('kiosk.quantityOf', { name: product.name })}>{quantity}</output>
                      <button type="button" class="step" aria-label={t('kiosk.more', { name: product.name })} onClick={() => setQuantity(product.id, quantity + 1)}>
                        +
                      </button>
                    </span>
                    <span class="line-total">{money(Number(product.price) * quantity)}</span>
                  </li>
                ))}
              </ul>
            )}
            <p class="cart-total">
              <span>{t('kiosk.total', { n: cartCount.value })}</span>
              <strong aria-live="polite">{money(cartTotal.value)}</strong>
            </p>
            <button type="button" class="primary huge" disabled={cartTotal.value === 0} onClick={() => (checkingOut.value = true)}>
              {t('kiosk.charge', { amount: money(cartTotal.value) })}
            </button>
            {cartLines.value.length > 0 && (
              <button type="button" class="ghost" onClick={() => (cart.value = {})}>
                {t('kiosk.clear')}
              </button>
            )}
            <section class="recent" aria-labelledby="recent-title">
              <h2 id="recent-title" class="label">{t('kiosk.recent')}</h2>
              <ul aria-live="polite" aria-relevant="additions">
                {recent.value.map((event) => (
                  <li key={event.id}>
                    <span>{t(event.kind === 'REFUND' ? 'feed.refund' : 'feed.payment', { amount: money(event.amount), name: '' })}</span>
                    <time dateTime={event.occurredAt}>{time(event.occurredAt)}</time>
                  </li>
                ))}
              </ul>
            </section>
          </aside>
        </main>
      )}
    </div>
  );
}
