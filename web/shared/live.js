// Live data over graphql-ws (`graphql-transport-ws`) to the router's /graphql.
//
// One subscription, kept alive forever: after any end — network loss, the router closing
// the connection when the access token expires (4403), a server restart — it connects
// again with back-off and a fresh token, and resumes with `after` set to the last event
// id it saw, so nothing is missed; events are also de-duplicated by id, so nothing is
// shown twice. The connection state is a signal for the badge: live / reconnecting /
// offline. While the browser says it is offline we do not even try.
import { signal } from '@preact/signals';
import { createClient } from 'graphql-ws';

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];

/**
 * @param {object} options
 * @param {string} options.query the subscription document; takes `$after: ID`
 * @param {(event: object) => void} options.onEvent each new event, once
 * @param {() => Promise<object>} options.connectionParams computed at every connect
 * @param {(data: object) => object} options.pick the event inside `data`
 * @param {() => void} [options.onResumeLost] events were missed beyond resuming: reload
 */
export function createLive({ query, onEvent, onResumeLost, connectionParams, pick, variables = {} }) {
  const state = signal(navigator.onLine ? 'reconnecting' : 'offline');
  const seen = new Set();
  let lastId = null;
  let client = null;
  let unsubscribe = null;
  let failures = 0;
  let timer = null;
  let stopped = false;

  const url = new URL('/graphql', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';

  function teardown() {
    unsubscribe?.();
    unsubscribe = null;
    client?.dispose();
    client = null;
  }

  function scheduleReconnect() {
    teardown();
    clearTimeout(timer);
    if (stopped) return;
    if (!navigator.onLine) {
      state.value = 'offline';
      return; // the 'online' event reconnects
    }
    state.value = 'reconnecting';
    const wait = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)];
    failures += 1;
    timer = setTimeout(connect, wait * (0.75 + Math.random() * 0.5));
  }

  function connect() {
    teardown();
    if (stopped) return;
    // Each connection gets its own client: its retries are ours (above), so the
    // resubscription always carries the newest `after` and a fresh token.
    const current = createClient({
      url: url.href,
      lazy: false,
      retryAttempts: 0,
      connectionParams,
      on: {
        connected: () => {
          if (client === current) {
            failures = 0;
            state.value = 'live';
          }
        },
      },
    });
    client = current;
    unsubscribe = current.subscribe(
      { query, variables: { ...variables, after: lastId } },
      {
        next: (result) => {
          const event = result.data && pick(result.data);
          if (!event) return;
          lastId = event.id;
          if (seen.has(event.id)) return;
          seen.add(event.id);
          onEvent(event);
        },
        // Any end of a subscription we did not ask for is a reason to come back. Too far
        // behind to resume: start from now (the caller reloads what it shows).
        error: (error) => {
          if (client !== current) return;
          if (Array.isArray(error) && error.some((e) => e?.extensions?.code === 'RESUME_TOO_FAR_BEHIND')) {
            lastId = null;
            onResumeLost?.();
          }
          scheduleReconnect();
        },
        complete: () => client === current && scheduleReconnect(),
      },
    );
  }

  const goneOffline = () => {
    // Drop the socket now: on return we resubscribe from the last event id, rather than
    // trust a connection that may have silently died.
    teardown();
    clearTimeout(timer);
    state.value = 'offline';
  };
  const backOnline = () => {
    failures = 0;
    clearTimeout(timer);
    connect();
    state.value = 'reconnecting';
  };
  window.addEventListener('offline', goneOffline);
  window.addEventListener('online', backOnline);

  if (navigator.onLine) connect();

  return {
    state,
    stop() {
      stopped = true;
      clearTimeout(timer);
      window.removeEventListener('offline', goneOffline);
      window.removeEventListener('online', backOnline);
      teardown();
    },
  };
}
