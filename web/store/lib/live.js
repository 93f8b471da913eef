// Live subscriptions that stay true: reconnect forever with back-off, resume after the
// last event id seen, and hand each event on once (ids are remembered). One transport
// for the dashboard (graphql-ws, WebSocket) and one for kiosks (graphql-sse, where each
// request carries a fresh DPoP proof).
import { signal } from '@preact/signals';
import { createClient as createWsClient } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import { backoff, sleep } from './gql.js';

/**
 * Follows `query` (a subscription whose variables get `after`). `transport` is
 * {kind: 'ws', connectionParams} or {kind: 'sse', headers}. Returns {state, stop}:
 * state is 'connecting' | 'live' | 'reconnecting' | 'offline'.
 * `onError(code)` is told refusals (e.g. UNAUTHENTICATED) and may return 'stop'.
 */
export function follow({ query, variables, transport, onEvent, onError, field }) {
  const state = signal('connecting');
  const seen = new Set();
  let after = null;
  let stopped = false;
  let dispose = () => {};
  const online = () => {
    if (state.value === 'offline') state.value = 'reconnecting';
    wake?.();
  };
  const offline = () => {
    state.value = 'offline';
  };
  let wake = null;
  addEventListener('online', online);
  addEventListener('offline', offline);

  const once = () =>
    new Promise((resolve) => {
      let finished = false;
      const finish = (outcome) => {
        if (finished) return;
        finished = true;
        resolve(outcome);
      };
      const sink = {
        next: (result) => {
          if (result.errors?.length) {
            finish({ error: result.errors[0].extensions?.code ?? 'ERROR' });
            return;
          }
          const event = result.data?.[field];
          if (!event) return;
          state.value = 'live';
          after = event.id;
          if (seen.has(event.id)) return;
          seen.add(event.id);
          onEvent(event);
        },
        error: (error) => finish({ error: Array.isArray(error) ? (error[0]?.extensions?.code ?? 'ERROR') : 'CLOSED' }),
        complete: () => finish({ error: 'CLOSED' }),
      };
      const payload = { query, variables: { ...variables, ...(after ? { after } : {}) } };
      if (transport.kind === 'ws') {
        const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
        const client = createWsClient({
          url,
          lazy: false,
          retryAttempts: 0,
          keepAlive: 20000,
          connectionParams: transport.connectionParams,
          on: {
            connected: () => {
              state.value = 'live';
            },
            closed: (event) => finish({ error: event?.code === 4403 || event?.code === 4401 ? 'UNAUTHENTICATED' : 'CLOSED' }),
          },
        });
        const unsubscribe = client.subscribe(payload, sink);
        dispose = () => {
          unsubscribe();
          client.dispose();
        };
      } else {
        const client = createSseClient({
          url: '/graphql',
          retryAttempts: 0,
          headers: transport.headers,
          onMessage: () => {
            state.value = 'live';
          },
        });
        const unsubscribe = client.subscribe(payload, sink);
        dispose = () => {
          unsubscribe();
          client.dispose();
        };
        // graphql-sse says nothing on connect; the stream is live once the request is open
        setTimeout(() => {
          if (!finished && state.value !== 'offline') state.value = 'live';
        }, 1500);
      }
    });

  (async () => {
    let attempt = 0;
    while (!stopped) {
      const started = Date.now();
      const { error } = await once();
      dispose();
      if (stopped) break;
      if (error === 'RESUME_TOO_FAR_BEHIND') after = null;
      if (error && error !== 'CLOSED' && (await onError?.(error)) === 'stop') break;
      if (Date.now() - started > 30000) attempt = 0;
      state.value = navigator.onLine === false ? 'offline' : 'reconnecting';
      await Promise.race([sleep(backoff(attempt++, 10000)), new Promise((resolve) => (wake = resolve))]);
      wake = null;
    }
  })();

  return {
    state,
    stop: () => {
      stopped = true;
      removeEventListener('online', online);
      removeEventListener('offline', offline);
      dispose();
      wake?.();
    },
  };
}
