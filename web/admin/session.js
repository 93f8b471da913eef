// The admin session: POST /admin/log-in sets the __Host-c9pay-admin cookie (HttpOnly;
// the fingerprint whose hash is in the token) and returns the admin token, kept in
// memory only. The token lives until the idle time-out unless renewed
// (extendAdminSession, done while the admin is active), never past the session's
// absolute end. When either passes, the session ends here too: back to log-in.
import { signal } from '@preact/signals';
import { GqlError, gql, postJson, request } from '../store/lib/gql.js';

/** {token, expiresAt, sessionExpiresAt, idleMs} or null */
export const admin = signal(null);
/** Why the last session ended: 'IDLE' | 'ABSOLUTE' | 'ENDED' | null */
export const endedBecause = signal(null);
/** Now, every second (the time-outs shown count down with it). */
export const now = signal(Date.now());

const EXTEND = gql`
  mutation ExtendAdminSession {
    extendAdminSession { accessToken expiresAt sessionExpiresAt }
  }
`;

const tokenListeners = new Set();
export const onToken = (listener) => {
  tokenListeners.add(listener);
  return () => tokenListeners.delete(listener);
};

let lastActivity = Date.now();
let lastRenewal = Date.now();
let extending = null;

function accept({ accessToken, expiresAt, sessionExpiresAt }) {
  const expires = Date.parse(expiresAt);
  admin.value = { token: accessToken, expiresAt: expires, sessionExpiresAt: Date.parse(sessionExpiresAt), idleMs: Math.max(1000, expires - Date.now()) };
  lastRenewal = Date.now();
  endedBecause.value = null;
  for (const listener of tokenListeners) listener(accessToken);
}

export async function logIn(email, password) {
  accept(await postJson('/admin/log-in', { email, password }));
  lastActivity = Date.now();
}

/** Ends the session here and asks the router to clear the cookie. */
export async function end(reason) {
  const held = admin.value;
  admin.value = null;
  endedBecause.value = reason;
  for (const listener of tokenListeners) listener(null);
  try {
    await postJson('/admin/log-out', {}, held?.token);
  } catch {
    // the session ends at its time-out anyway
  }
}

export const logOut = () => end(null);

/** Renews the token (the admin asked, or was active). */
export function extend() {
  extending ??= (async () => {
    try {
      const data = await request(EXTEND, {}, { headers: { authorization: `Bearer ${admin.value.token}` } });
      accept(data.extendAdminSession);
    } catch (error) {
      if (error.code === 'UNAUTHENTICATED' || error.code === 'FORBIDDEN') await end('ENDED');
    } finally {
      extending = null;
    }
  })();
  return extending;
}

/** Something the admin did (a key, a click, a query in GraphiQL). */
export const activity = () => {
  lastActivity = Date.now();
};

setInterval(() => {
  now.value = Date.now();
  const held = admin.value;
  if (!held) return;
  if (now.value >= held.sessionExpiresAt) end('ABSOLUTE');
  else if (now.value >= held.expiresAt) end('IDLE');
  // Active since the last renewal and past half the idle window: renew quietly.
  else if (lastActivity > lastRenewal && held.expiresAt - now.value < held.idleMs / 2) extend();
}, 1000);

/** A GraphQL request with the admin token (the cookie goes along by itself). */
export async function adminRequest(query, variables) {
  const held = admin.value;
  if (!held) throw new GqlError('UNAUTHENTICATED');
  activity();
  try {
    return await request(query, variables, { headers: { authorization: `Bearer ${held.token}` } });
  } catch (error) {
    if (error.code === 'UNAUTHENTICATED') await end('ENDED');
    throw error;
  }
}
