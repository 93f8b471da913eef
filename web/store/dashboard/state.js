// The dashboard's state: the store being managed, its live payments (WebSocket,
// resumed by last id, each event once), and a counter that screens watch to refetch
// what the payments changed (takings, sales).
import { signal } from '@preact/signals';
import { gql } from '../lib/gql.js';
import { follow } from '../lib/live.js';
import { accessToken, refresh } from '../lib/session.js';

export const PAYMENTS = gql`
  subscription StorePayments($storeId: ID!, $after: ID) {
    storePayments(storeId: $storeId, after: $after) { id transferId kind amount occurredAt payer { displayName } }
  }
`;

/** {id, name} */
export const store = signal(null);
/** Events seen on this page, newest first (each once). */
export const feed = signal([]);
/** 'connecting' | 'live' | 'reconnecting' | 'offline' */
export const connection = signal('connecting');
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
  live = follow({
    field: 'storePayments',
    query: PAYMENTS,
    variables: { storeId: next.id },
    transport: { kind: 'ws', connectionParams: async () => ({ Authorization: `Bearer ${await accessToken()}` }) },
    onEvent: (event) => {
      feed.value = [event, ...feed.value].slice(0, 50);
      changes.value++;
      for (const listener of listeners) listener(event);
    },
    onError: async (code) => {
      if (code === 'UNAUTHENTICATED' || code === 'TOKEN_EXPIRED') {
        if (!(await refresh().catch(() => true))) return 'stop';
      }
      return undefined;
    },
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
