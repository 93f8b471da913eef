// What the whole app shares: the router, the wallet, the live feed of wallet activity,
// the toasts it raises and the receipt being shown. Screens read these signals; the live
// feed runs while someone is signed in.
import { computed, effect, signal } from '@preact/signals';
import { gql } from '../shared/gql.js';
import { graphql } from '../shared/graphql.js';
import { createLive } from '../shared/live.js';
import { createRouter } from '../shared/router.js';
import { freshToken, signedIn, user } from '../shared/session.js';

export const router = createRouter('app');

/** { balance, available } as numbers, or null until loaded. */
export const wallet = signal(null);
/** Money on hold: reserved by payments being authorised. */
export const held = computed(() => (wallet.value ? wallet.value.balance - wallet.value.available : 0));
/** Bumped whenever the wallet moved, so lists showing it load again. */
export const walletVersion = signal(0);
/** Live connection state for the badge: live | reconnecting | offline. */
export const liveState = signal(navigator.onLine ? 'reconnecting' : 'offline');
/** Whether the browser can reach the network; money-moving buttons need it. */
export const online = signal(navigator.onLine);
window.addEventListener('online', () => (online.value = true));
window.addEventListener('offline', () => (online.value = false));

/** Events shown as toasts: { id, event }, newest last. */
export const toasts = signal([]);
/** The receipt to show on the receipt screen (see screens/Receipt.jsx). */
export const receipt = signal(null);

const WALLET = gql`
  query Wallet {
    me {
      id
      wallet {
        balance
        available
      }
    }
  }
`;

export async function loadWallet() {
  const data = await graphql(WALLET);
  wallet.value = { balance: Number(data.me.wallet.balance), available: Number(data.me.wallet.available) };
}

/** After a mutation or an event moved money: the balance and the lists load again. */
export function walletMoved(transferId = null) {
  if (transferId) shownAsReceipt(transferId);
  walletVersion.value += 1;
  loadWallet().catch(() => {});
}

const WALLET_ACTIVITY = gql`
  subscription WalletActivity($after: ID) {
    walletActivity(after: $after) {
      id
      transferId
      kind
      amount
      occurredAt
      payer {
        id
        displayName
      }
      store {
        id
        name
      }
      recipient {
        id
        displayName
      }
    }
  }
`;

// A screen waiting for an event (the payment-code screen waits for its payment) claims
// it by returning true; unclaimed events become toasts.
const claimers = new Set();
export function claimActivity(claimer) {
  claimers.add(claimer);
  return () => claimers.delete(claimer);
}

// Transfers this app made itself (a top-up, a transfer, a scanned request): their
// receipt is on screen already, so their live event must not say it a second time.
const ownTransfers = new Set();
export function shownAsReceipt(transferId) {
  ownTransfers.add(transferId);
  // The event may have arrived before the mutation's answer did.
  toasts.value = toasts.value.filter((toast) => toast.event.transferId !== transferId);
}

function arrived(event) {
  const claimed = ownTransfers.has(event.transferId) || [...claimers].some((claim) => claim(event));
  if (!claimed) toasts.value = [...toasts.value, { id: event.id, event }].slice(-3);
  walletMoved();
}

export function dismissToast(id) {
  toasts.value = toasts.value.filter((toast) => toast.id !== id);
}

// The live feed runs exactly while someone is signed in.
let live = null;
let stopMirror = null;
effect(() => {
  if (signedIn.value && !live) {
    live = createLive({
      query: WALLET_ACTIVITY,
      pick: (data) => data.walletActivity,
      onEvent: arrived,
      onResumeLost: () => walletMoved(),
      // Computed at every connection, so a reconnect after the router closed an expired
      // token's connection carries a fresh one.
      connectionParams: async () => ({ Authorization: `Bearer ${await freshToken()}` }),
    });
    stopMirror = effect(() => {
      liveState.value = live.state.value;
    });
  } else if (!signedIn.value && live) {
    stopMirror();
    live.stop();
    live = null;
    wallet.value = null;
    toasts.value = [];
  }
});

/** Who the signed-in person is, for telling incoming from outgoing. */
export const me = computed(() => user.value);
