// What the People and Stores screens share: the state of a lookup (what a search found,
// the one opened, the last refusal and notice), the search form, and the table of what
// was found, whose first column opens one.
import { useSignal } from '@preact/signals';
import { errorWords } from '../shared/errors.js';
import { t } from './strings.js';

// `search(query)` resolves to a list, `load(item)` to the item's details.
export function useLookup(search, load) {
  const results = useSignal(null);
  const selected = useSignal(null);
  const error = useSignal(null);
  const notice = useSignal('');
  // Runs `action`, showing its refusal in words instead of throwing.
  const attempt = async (action) => {
    error.value = null;
    try {
      await action();
    } catch (failure) {
      error.value = failure;
    }
  };
  const find = (event) => {
    event.preventDefault();
    const query = String(new FormData(event.currentTarget).get('query')).trim();
    selected.value = null;
    notice.value = '';
    return attempt(async () => {
      results.value = await search(query);
    });
  };
  const open = (item) => {
    notice.value = '';
    return attempt(async () => {
      selected.value = (await load(item)) ?? null;
    });
  };
  return { results, selected, error, notice, attempt, find, open };
}

export function LookupSearch({ lookup, label, placeholder }) {
  const { results, selected, error, notice } = lookup;
  const found = results.value && !selected.value ? t('common.found', { n: results.value.length }) : '';
  return (
    <>
      <form onSubmit={lookup.find} class="search panel">
        <label>
          {label}
          <input name="query" type="search" required placeholder={placeholder} />
        </label>
        <button type="submit" class="primary">{t('common.find')}</button>
      </form>
      {error.value && <p role="alert" class="notice error">{errorWords(error.value)}</p>}
      <p role="status" class="muted">{notice.value || found}</p>
    </>
  );
}

// `columns`: [{ header, cell(item), class? }]; the first column's cell is the button that
// opens the item.
export function LookupResults({ lookup, id, columns }) {
  const { results, selected } = lookup;
  if (!results.value?.length) return null;
  const [first, ...rest] = columns;
  return (
    <section class="panel flush results" aria-labelledby={id}>
      <h2 id={id} class="visually-hidden">{t('common.results')}</h2>
      <table class="table">
        <thead>
          <tr>
            {columns.map((column) => (
              <th key={column.header} scope="col">{column.header}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {results.value.map((item) => (
            <tr key={item.id} class={selected.value?.id === item.id ? 'selected' : undefined}>
              <td>
                <button type="button" class="link-button" onClick={() => lookup.open(item)}>{first.cell(item)}</button>
              </td>
              {rest.map((column) => (
                <td key={column.header} class={column.class}>{column.cell(item)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
