// The person's browser session (token-handler pattern, CONTRACT §2). The access token
// lives in memory only; the refresh token is an HttpOnly cookie the router sets on
// /session/*, which JavaScript never sees. Every call carries X-C9pay-CSRF, which a
// cross-site form cannot send.
import { computed, signal } from '@preact/signals';
import { ApiError } from './errors.js';
import { toApiError } from './graphql.js';

/** 'starting' until the first refresh answers, then 'signed-in' or 'signed-out'. */
export const sessionState = signal('starting');
/** { id, displayName, email } of the signed-in person. */
export const user = signal(null);
/** Why the last session ended when the person did not end it (an error code), or null. */
export const endedBecause = signal(null);

// Whether this browser has a session cookie, as far as we know (the cookie itself is
// HttpOnly). Only a hint: it spares a signed-out visitor a refresh that must fail.
const HINT = 'c9pay.session';
const hint = (on) => {
  try {
    if (on) localStorage.setItem(HINT, '1');
    else localStorage.removeItem(HINT);
  } catch {
    // no storage: we simply always ask
  }
};
const hinted = () => {
  try {
    return localStorage.getItem(HINT) !== null;
  } catch {
    return true;
  }
};

let accessToken = null;
let expiresAtMs = 0;
let refreshTimer = null;
let inflight = null;

export const signedIn = computed(() => sessionState.value === 'signed-in');

async function post(path, body, headers = {}) {
  if (!navigator.onLine) throw new ApiError('NETWORK');
  let response;
  try {
    response = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-C9pay-CSRF': '1', ...headers },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError('NETWORK');
  }
  let json = null;
  try {
    json = await response.json();
  } catch {
    // handled below
  }
  if (!response.ok || json?.errors) {
    const error = json?.errors ? toApiError(json, response.status) : new ApiError('UNKNOWN', `HTTP ${response.status}`);
    if (!error.retryAfterSeconds && response.headers.get('Retry-After')) {
      error.retryAfterSeconds = Number(response.headers.get('Retry-After'));
    }
    throw error;
  }
  return json;
}

function accept({ accessToken: token, expiresAt, user: who }) {
  accessToken = token;
  expiresAtMs = Date.parse(expiresAt);
  user.value = who;
  endedBecause.value = null;
  sessionState.value = 'signed-in';
  hint(true);
  // Renew a minute before expiry (or at two thirds of a short lifetime), so requests and
  // the live connection rarely meet an expired token.
  clearTimeout(refreshTimer);
  const lifetime = expiresAtMs - Date.now();
  const wait = Math.max(5000, Math.min(lifetime - 60000, (lifetime * 2) / 3));
  refreshTimer = setTimeout(() => refresh().catch(() => {}), wait);
}

function end(reason) {
  clearTimeout(refreshTimer);
  accessToken = null;
  expiresAtMs = 0;
  user.value = null;
  endedBecause.value = reason;
  sessionState.value = 'signed-out';
  hint(false);
}

export async function signUp({ email, password, displayName }) {
  accept(await post('/session/sign-up', { email, password, displayName }));
}

export async function logIn({ email, password }) {
  accept(await post('/session/log-in', { email, password }));
}

/**
 * Exchanges the cookie for a new access token. Tabs take turns through a Web Lock: two
 * tabs spending one refresh token at once would look like a stolen token to the router,
 * which would end the log-in everywhere. Concurrent callers in this tab share one call.
 */
export function refresh() {
  if (!inflight) {
    const run = async () => {
      try {
        accept(await post('/session/refresh', {}));
        return true;
      } catch (error) {
        if (error.code === 'NETWORK' || error.code === 'RATE_LIMITED' || error.retryable) throw error;
        // NO_SESSION is the quiet case (never logged in, or logged out elsewhere).
        end(error.code === 'NO_SESSION' ? null : error.code);
        return false;
      }
    };
    const locked = navigator.locks ? navigator.locks.request('c9pay-session-refresh', run) : run();
    inflight = locked.finally(() => {
      inflight = null;
    });
  }
  return inflight;
}

/** On page load: a session survives reloads through its cookie. */
export async function startSession() {
  if (!hinted()) {
    end(null);
    return;
  }
  try {
    await refresh();
  } catch {
    // Offline at start: show the log-in screen; the person can try again.
    if (sessionState.value === 'starting') end(null);
  }
}

/** A token valid for at least the next 30 seconds (renewed if needed), or null. */
export async function freshToken() {
  if (accessToken && expiresAtMs - Date.now() > 30000) return accessToken;
  if (sessionState.value === 'signed-out') return null;
  await refresh();
  return accessToken;
}

/** For graphql.js: the bearer header, and renewal when the router says UNAUTHENTICATED. */
export const bearerAuth = {
  headers: async () => {
    const token = await freshToken();
    return token ? { Authorization: `Bearer ${token}` } : {};
  },
  renew: async () => {
    expiresAtMs = 0;
    try {
      return await refresh();
    } catch {
      return false;
    }
  },
};

/** Ends this session, or every session of this person (`everywhere`). */
export async function logOut({ everywhere = false } = {}) {
  const token = await freshToken().catch(() => accessToken);
  try {
    await post('/session/log-out', { everywhere }, token ? { Authorization: `Bearer ${token}` } : {});
  } finally {
    end(null);
  }
}
