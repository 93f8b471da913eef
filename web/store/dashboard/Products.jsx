// The catalogue: add a product, rename it, change its price (updateProduct).
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { store } from './state.js';
import { gql } from '../lib/gql.js';
import { errorWords, money } from '../lib/i18n.js';
import { authed } from '../lib/session.js';
import { t } from '../strings.js';

const PRODUCTS = gql`
  query Products($id: ID!) {
    store(id: $id) { id products { id name price } }
  }
`;

const ADD = gql`
  mutation AddProduct($input: AddProductInput!) {
    addProduct(input: $input) { id name price }
  }
`;

const UPDATE = gql`
  mutation UpdateProduct($input: UpdateProductInput!) {
    updateProduct(input: $input) { id name price }
  }
`;

const digits = (value) => String(value).replace(/[^\d]/g, '');

export function Products() {
  const products = useSignal(null);
  const error = useSignal(null);
  const editing = useSignal(null);
  const notice = useSignal(null);
  const load = () =>
    authed(PRODUCTS, { id: store.value.id })
      .then((data) => (products.value = data.store.products))
      .catch((failure) => (error.value = failure));
  useEffect(() => {
    load();
  }, []);
  const add = async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    error.value = null;
    try {
      const { addProduct } = await authed(ADD, { input: { storeId: store.value.id, name: String(data.get('name')).trim(), price: digits(data.get('price')) } });
      products.value = [...products.value, addProduct];
      notice.value = t('products.added', { name: addProduct.name });
      form.reset();
    } catch (failure) {
      error.value = failure;
    }
  };
  const save = async (event, product) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    error.value = null;
    const name = String(data.get('name')).trim();
    const price = digits(data.get('price'));
    try {
      const { updateProduct } = await authed(UPDATE, {
        input: { productId: product.id, ...(name !== product.name ? { name } : {}), ...(price !== String(product.price) ? { price } : {}) },
      });
      products.value = products.value.map((candidate) => (candidate.id === product.id ? updateProduct : candidate));
      editing.value = null;
      notice.value = t('products.saved', { name: updateProduct.name });
    } catch (failure) {
      error.value = failure;
    }
  };
  return (
    <>
      <h1>{t('products.title')}</h1>
      <section class="panel" aria-labelledby="add-title">
        <h2 id="add-title">{t('products.add')}</h2>
        <form onSubmit={add} class="inline-form">
          <label>
            {t('products.name')}
            <input name="name" required maxLength={64} />
          </label>
          <label>
            {t('products.price')}
            <input name="price" inputMode="numeric" required pattern="[0-9,₩ ]+" />
          </label>
          <button type="submit" class="primary">{t('products.addSubmit')}</button>
        </form>
      </section>
      <p role="status" class="muted">{notice.value}</p>
      {error.value && <p role="alert" class="notice error">{errorWords(t, error.value)}</p>}
      {products.value && (
        <div class="panel flush">
          <table class="table">
            <caption class="visually-hidden">{t('products.title')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('products.name')}</th>
                <th scope="col" class="num">{t('products.price')}</th>
                <th scope="col"><span class="visually-hidden">{t('sales.actions')}</span></th>
              </tr>
            </thead>
            <tbody>
              {products.value.length === 0 && (
                <tr>
                  <td colSpan={3} class="muted">{t('products.none')}</td>
                </tr>
              )}
              {products.value.map((product) =>
                editing.value === product.id ? (
                  <tr key={product.id}>
                    <td colSpan={3}>
                      <form onSubmit={(event) => save(event, product)} class="inline-form">
                        <label>
                          {t('products.name')}
                          <input name="name" defaultValue={product.name} required maxLength={64} />
                        </label>
                        <label>
                          {t('products.price')}
                          <input name="price" defaultValue={product.price} inputMode="numeric" required />
                        </label>
                        <button type="submit" class="primary small">{t('common.save')}</button>
                        <button type="button" class="ghost small" onClick={() => (editing.value = null)}>{t('common.cancel')}</button>
                      </form>
                    </td>
                  </tr>
                ) : (
                  <tr key={product.id}>
                    <td>{product.name}</td>
                    <td class="num">{money(product.price)}</td>
                    <td class="end">
                      <button type="button" class="secondary small" onClick={() => (editing.value = product.id)} aria-label={t('products.edit', { name: product.name })}>
                        {t('common.edit')}
                      </button>
                    </td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
