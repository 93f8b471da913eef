// Home: the balance (available, and what is on hold), the four things a person does —
// pay, scan, top up, send — and the latest activity, which reloads when money moves.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { gql } from '../../shared/gql.js';
import { graphql } from '../../shared/graphql.js';
import { t } from '../../shared/i18n.js';
import { money } from '../../shared/money.js';
import { user } from '../../shared/session.js';
import { held, loadWallet, online, wallet, walletVersion } from '../state.js';
import { ErrorMessage, Link, Screen } from '../ui.jsx';
import { EntryRow } from './History.jsx';

const RECENT = gql`
  query RecentActivity {
    me {
      id
      wallet {
        history(first: 5) {
          nodes {
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
      }
    }
  }
`;

export function Home() {
  const recent = useSignal(null);
  const error = useSignal(null);
  const version = walletVersion.value;
  const isOnline = online.value;

  // Loads on arrival, whenever the wallet moves, and again when the network returns.
  useEffect(() => {
    if (!isOnline) return;
    let current = true;
    loadWallet().catch((failure) => (error.value = failure));
    graphql(RECENT)
      .then((data) => current && (recent.value = data.me.wallet.history.nodes))
      .catch((failure) => current && (error.value = failure));
    return () => (current = false);
  }, [version, isOnline]);

  const w = wallet.value;
  return (
    <Screen title={t('home.greeting', { name: user.value?.displayName ?? '' })} class="home">
      <section class="balance card" aria-labelledby="balance-heading">
        <h2 id="balance-heading" class="label">
          {t('home.available')}
        </h2>
        <p class="amount-xl" aria-live="polite">
          {w ? money(w.available) : '—'}
        </p>
        {held.value > 0 && (
          <p class="held">
            <span>{t('home.held')}</span> <strong>{money(held.value)}</strong>
            <span class="hint"> · {t('home.balance')} {money(w.balance)}</span>
          </p>
        )}
        <div class="primary-actions">
          <Link to="pay" class="btn btn-primary big-action">
            {t('home.pay')}
          </Link>
          <Link to="scan" class="btn big-action">
            {t('home.scan')}
          </Link>
        </div>
        <div class="secondary-actions">
          <Link to="top-up" class="btn btn-quiet">
            {t('home.topUp')}
          </Link>
          <Link to="send" class="btn btn-quiet">
            {t('home.send')}
          </Link>
        </div>
      </section>

      <section class="card" aria-labelledby="recent-heading">
        <div class="section-head">
          <h2 id="recent-heading">{t('home.recent')}</h2>
          <Link to="history">{t('home.seeAll')}</Link>
        </div>
        <ErrorMessage error={online.value ? error.value : null} />
        {recent.value === null ? (
          <p class="hint">{t('common.loading')}</p>
        ) : recent.value.length === 0 ? (
          <p class="hint">{t('home.empty')}</p>
        ) : (
          <ul class="entries">
            {recent.value.map((entry) => (
              <EntryRow key={entry.id} entry={entry} />
            ))}
          </ul>
        )}
      </section>
    </Screen>
  );
}
