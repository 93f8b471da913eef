// History: every movement of the wallet, newest first, as an infinite list over the Relay
// connection: the next page loads when the end of the list scrolls into view (or when
// the "Load more" button is pressed, for keyboards and screen readers).
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { gql } from '../../shared/gql.js';
import { graphql } from '../../shared/graphql.js';
import { t } from '../../shared/i18n.js';
import { clock, day } from '../../shared/time.js';
import { entryAmount, entryParty } from '../activity.js';
import { walletVersion } from '../state.js';
import { ErrorMessage, Screen } from '../ui.jsx';

const PAGE = 20;

const HISTORY = gql`
  query History($first: Int!, $after: String) {
    me {
      id
      wallet {
        history(first: $first, after: $after) {
          edges {
            cursor
            node {
              id
              kind
              direction
              amount
              memo
              createdAt
              counterpartyUser {
                id
                displayName
              }
              counterpartyStore {
                id
                name
              }
            }
          }
          pageInfo {
            hasNextPage
            endCursor
          }
        }
      }
    }
  }
`;

/** One movement: who, what kind, when, and the signed amount. */
export function EntryRow({ entry }) {
  return (
    <li class="entry">
      <span class={`entry-icon kind-${entry.kind.toLowerCase()}`} aria-hidden="true">
        {entryParty(entry).slice(0, 1)}
      </span>
      <span class="entry-main">
        <span class="entry-party">{entryParty(entry)}</span>
        <span class="entry-meta">
          {/* A top-up's party already says "Top-up". */}
          {entry.kind === 'TOP_UP' ? '' : `${t(`kind.${entry.kind}`)} · `}
          {day(entry.createdAt)} {clock(entry.createdAt)}
          {entry.memo ? ` · ${entry.memo}` : ''}
        </span>
      </span>
      <span class={`entry-amount ${entry.direction === 'INCOMING' ? 'in' : 'out'}`}>{entryAmount(entry)}</span>
    </li>
  );
}

export function History() {
  const entries = useSignal([]);
  const cursor = useSignal(null);
  const hasMore = useSignal(true);
  const loading = useSignal(false);
  const error = useSignal(null);
  const sentinel = useRef(null);
  const version = walletVersion.value;

  async function loadMore(reset = false) {
    if (loading.value || (!hasMore.value && !reset)) return;
    loading.value = true;
    error.value = null;
    try {
      const data = await graphql(HISTORY, { first: PAGE, after: reset ? null : cursor.value });
      const page = data.me.wallet.history;
      const fresh = page.edges.map((edge) => edge.node);
      // De-duplicate by id: money that moved while paging shifts the list under us.
      const known = new Set(reset ? [] : entries.value.map((e) => e.id));
      entries.value = [...(reset ? [] : entries.value), ...fresh.filter((e) => !known.has(e.id))];
      cursor.value = page.pageInfo.endCursor;
      hasMore.value = page.pageInfo.hasNextPage;
    } catch (failure) {
      error.value = failure;
    } finally {
      loading.value = false;
    }
  }

  // The first page, and again from the top whenever the wallet moves.
  useEffect(() => {
    hasMore.value = true;
    loadMore(true);
  }, [version]);

  useEffect(() => {
    const observer = new IntersectionObserver((seen) => seen.some((s) => s.isIntersecting) && loadMore());
    if (sentinel.current) observer.observe(sentinel.current);
    return () => observer.disconnect();
  }, []);

  return (
    <Screen title={t('history.title')}>
      <section class="card">
        {entries.value.length === 0 && !loading.value && !error.value && <p class="hint">{t('history.empty')}</p>}
        <ul class="entries" aria-busy={loading.value ? 'true' : 'false'}>
          {entries.value.map((entry) => (
            <EntryRow key={entry.id} entry={entry} />
          ))}
        </ul>
        <ErrorMessage error={error.value} />
        <div ref={sentinel} class="list-end">
          {loading.value ? (
            <p class="hint" role="status">
              {entries.value.length ? t('history.loadingMore') : t('common.loading')}
            </p>
          ) : hasMore.value ? (
            <button type="button" class="btn btn-quiet" onClick={() => loadMore()}>
              {error.value ? t('common.retry') : t('history.more')}
            </button>
          ) : (
            entries.value.length > 0 && <p class="hint">{t('history.end')}</p>
          )}
        </div>
      </section>
    </Screen>
  );
}
