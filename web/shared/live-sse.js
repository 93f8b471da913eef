// Live data over graphql-sse (server-sent events) for clients that must sign every
// request, as a kiosk does with DPoP: a WebSocket carries headers only on its first
// request, an SSE subscription is an ordinary POST with whatever headers it needs.
// The same promises as live.js: reconnect forever with back-off and fresh headers,
// resume with `after` the last event id seen, hand on each event once, and a state
// signal for the badge (live / reconnecting / offline).
import { signal } from '@preact/signals';
import { createClient } from 'graphql-sse';
import { backoffMs } from './attempt.js';

/** The code of whatever ended a subscription: a GraphQL error's, an ApiError's, an HTTP status's. */
function codeOf(error) {
  if (Array.isArray(error)) return error[0]?.extensions?.code ?? 'UNKNOWN';
  if (typeof error?.code === 'string') return error.code;
  const status = error?.response?.status;
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'FORBIDDEN';
  return 'CLOSED';
}

/**
 * @param {object} options
 * @param {string} options.query the subscription document; takes `$after: ID`
 * @param {object} [options.variables]
 * @param {() => Promise<object>} options.headers the headers of each request (a fresh proof each time)
 * @param {(data: object) => object} options.pick the event inside `data`
 * @param {(event: object) => void} options.onEvent each new event, once
 * @param {(code: string) => Promise<'stop'|void>} [options.onError] a refusal (not a lost
 *   connection); answer 'stop' to give up (a revoked kiosk)
 * @param {() => void} [options.onResumeLost] events were missed beyond resuming: reload
 */
export function createSseLive({ query, variables = {}, headers, pick, onEvent, onError, onResumeLost }) {
  const state = signal(navigator.onLine ? 'reconnecting' : 'offline');
  const seen = new Set();
  let lastId = null;
  let failures = 0;
  let timer = null;
  let stopped = false;
  let dispose = () => {};

  async function ended(current, error) {
    if (current !== generation || stopped) return;
    dispose();
    const code = codeOf(error);
    if (code === 'RESUME_TOO_FAR_BEHIND') {
      lastId = null;
      onResumeLost?.();
    } else if (code !== 'CLOSED' && (await onError?.(code)) === 'stop') {
      stop();
      return;
    }
    if (stopped) return;
    if (!navigator.onLine) {
      state.value = 'offline';
      return; // the 'online' event reconnects
    }
    state.value = 'reconnecting';
    clearTimeout(timer);
    timer = setTimeout(connect, backoffMs(failures++, 15000));
  }

  let generation = 0;
  function connect() {
    dispose();
    if (stopped) return;
    const current = ++generation;
    const client = createClient({
      url: new URL('/graphql', location.href).href,
      retryAttempts: 0,
      headers,
      // graphql-sse says nothing when a stream opens: an answered request is live.
      fetchFn: async (...args) => {
        const response = await fetch(...args);
        if (response.ok && current === generation) {
          failures = 0;
          state.value = 'live';
        }
        return response;
      },
    });
    const unsubscribe = client.subscribe(
      { query, variables: { ...variables, after: lastId } },
      {
        next: (result) => {
          if (result.errors?.length) {
            ended(current, result.errors);
            return;
          }
          const event = result.data && pick(result.data);
          if (!event) return;
          lastId = event.id;
          if (seen.has(event.id)) return;
          seen.add(event.id);
          onEvent(event);
        },
        error: (error) => ended(current, error),
        complete: () => ended(current, null),
      },
    );
    dispose = () => {
      dispose = () => {};
      unsubscribe();
      client.dispose();
    };
  }

  const goneOffline = () => {
    generation++;
    dispose();
    clearTimeout(timer);
    state.value = 'offline';
  };
  const backOnline = () => {
    failures = 0;
    clearTimeout(timer);
    state.value = 'reconnecting';
    connect();
  };
  window.addEventListener('offline', goneOffline);
  window.addEventListener('online', backOnline);

  function stop() {
    stopped = true;
    generation++;
    clearTimeout(timer);
    window.removeEventListener('offline', goneOffline);
    window.removeEventListener('online', backOnline);
    dispose();
  }

  if (navigator.onLine) connect();
  return { state, stop };
}
