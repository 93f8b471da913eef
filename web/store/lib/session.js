// The owner's browser session (CONTRACT §2, token-handler pattern): the refresh token
// lives in the router's HttpOnly cookie; the access token only in memory. Refreshes are
// serialised across tabs with a Web Lock (two tabs spending one refresh token would
// look like a theft and end the log-in).
import { signal } from '@preact/signals';
import { GqlError, postJson, request } from './gql.js';

/** {accessToken, expiresAt, user} or null. */
export const session = signal(null);
/** Why the last session ended (an error code), for the log-in screen. */
export const ended = signal(null);

const accept = (answer) => {
  session.value = { accessToken: answer.accessToken, expiresAt: Date.parse(answer.expiresAt), user: answer.user };
  ended.value = null;
  return session.value;
};

export async function logIn(email, password) {
  return accept(await postJson('/session/log-in', { email, password }));
}

let refreshing = null;

/** Refreshes from the cookie; resolves null when there is no session. */
export function refresh() {
  refreshing ??= (async () => {
    const run = async () => {
      try {
        return accept(await postJson('/session/refresh', {}));
      } catch (error) {
        if (['NO_SESSION', 'REFRESH_TOKEN_INVALID', 'REFRESH_TOKEN_REUSED', 'UNAUTHENTICATED', 'NOT_FOUND'].includes(error.code)) {
          if (session.value) ended.value = error.code;
          session.value = null;
          return null;
        }
        throw error;
      }
    };
    try {
      return navigator.locks ? await navigator.locks.request('c9pay-session-refresh', run) : await run();
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** An access token valid for at least 30 more seconds (refreshing if needed). */
export async function accessToken() {
  const current = session.value;
  if (current && current.expiresAt - Date.now() > 30000) return current.accessToken;
  const renewed = await refresh();
  if (!renewed) throw new GqlError('UNAUTHENTICATED');
  return renewed.accessToken;
}

export async function logOut(everywhere = false) {
  const current = session.value;
  session.value = null;
  if (current) {
    try {
      await postJson('/session/log-out', { everywhere }, current.accessToken);
    } catch {
      // the cookie is cleared by the router when it answers; nothing else to do
    }
  }
}

/** A GraphQL request as the signed-in owner; one retry after a refresh on 401. */
export async function authed(query, variables, options = {}) {
  const send = async () => request(query, variables, { ...options, headers: { authorization: `Bearer ${await accessToken()}` } });
  try {
    return await send();
  } catch (error) {
    if (error.code !== 'UNAUTHENTICATED') throw error;
    if (!(await refresh())) throw error;
    return send();
  }
}
