// The dashboard's state: the store being managed, its live payments (WebSocket,
// resumed by last id, each event once), and a counter that screens watch to refetch
// what the payments changed (takings, sales).
import { effect, signal } from '@preact/signals';
import { gql } from '../../shared/gql.js';
import { createLive } from '../../shared/live.js';
import { freshToken, sessionState } from '../../shared/session.js';

export const PAYMENTS = gql`
  subscription StorePayments($storeId: ID!, $after: ID) {
    storePayments(storeId: $storeId, after: $after) { id transferId kind amount occurredAt payer { displayName } }
  }
`;

/** {id, name} */
export const store = signal(null);
/** Events seen on this page, newest first (each once). */
export const feed = signal([]);
/** 'live' | 'reconnecting' | 'offline' */
export const connection = signal('reconnecting');
/** Bumped by every event: screens refetch what it changed. */
export const changes = signal(0);
/** Listeners for each event (the charge screen re-checks its request). */
export const listeners = new Set();

let live = null;
let stopBadge = () => {};

export function openStore(next) {
  stopFollowing();
  store.value = next;
  feed.value = [];
  if (!next) return;
  try {
    localStorage.setItem('c9pay-store', next.id);
  } catch {
    // not remembered
  }
  live = createLive({
    query: PAYMENTS,
    variables: { storeId: next.id },
    // A fresh token at every (re)connection: after a restart of the router, too.
    connectionParams: async () => ({ Authorization: `Bearer ${await freshToken()}` }),
    pick: (data) => data.storePayments,
    onEvent: (event) => {
      feed.value = [event, ...feed.value].slice(0, 50);
      changes.value++;
      for (const listener of listeners) listener(event);
    },
    // Missed more than can be resumed: what the screens show is reloaded.
    onResumeLost: () => changes.value++,
  });
  stopBadge = live.state.subscribe((state) => (connection.value = state));
}

export function stopFollowing() {
  stopBadge();
  live?.stop();
  live = null;
}

export const rememberedStoreId = () => {
  try {
    return localStorage.getItem('c9pay-store');
  } catch {
    return null;
  }
};

// A session that ended (logged out here or elsewhere, refresh refused) stops following.
effect(() => {
  if (sessionState.value === 'signed-out' && store.peek()) openStore(null);
});
