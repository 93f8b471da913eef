// The kiosk device: its key (WebCrypto Ed25519, non-extractable, in IndexedDB), its
// DPoP-bound token, and every request signed with a fresh proof. A kiosk whose token is
// refused and that gets no new one (NOT_FOUND) was revoked: its key is forgotten and
// the kiosk goes back to pairing with a new one.
import { signal } from '@preact/signals';
import { deviceKey, forgetKey, makeProof } from '../../shared/dpop.js';
import { GqlError, backoff, gql, graphqlUrl, request, sleep } from '../lib/gql.js';

/** 'starting' | 'unsupported' | 'pairing' | 'ready' */
export const phase = signal('starting');
/** Set when this kiosk learnt it was revoked (shown on the pairing screen). */
export const revoked = signal(false);
/** {keyPair, jwk, thumbprint} */
export const device = signal(null);
/** {accessToken, expiresAt, storeId} */
export const token = signal(null);

const ISSUE = gql`
  mutation KioskToken($input: IssueKioskTokenInput!) {
    issueKioskToken(input: $input) { accessToken expiresAt storeId }
  }
`;

async function issue() {
  const key = device.value;
  const proof = await makeProof({ keyPair: key.keyPair, jwk: key.jwk, htm: 'POST', htu: graphqlUrl() });
  const data = await request(ISSUE, { input: { proof } });
  const { accessToken, expiresAt, storeId } = data.issueKioskToken;
  token.value = { accessToken, expiresAt: Date.parse(expiresAt), storeId };
  return token.value;
}

export async function start() {
  try {
    device.value = await deviceKey();
  } catch {
    phase.value = 'unsupported';
    return;
  }
  phase.value = 'pairing';
  pair();
}

let pairing = false;

/** Asks for a token until the owner has registered this key (NOT_FOUND until then). */
async function pair() {
  if (pairing) return;
  pairing = true;
  let attempt = 0;
  try {
    while (phase.value === 'pairing') {
      try {
        await issue();
        revoked.value = false;
        phase.value = 'ready';
        return;
      } catch (error) {
        // NOT_FOUND: not registered yet; anything else (offline, rate limited): later
        await sleep(Math.max(2000, backoff(attempt++, 8000)));
      }
    }
  } finally {
    pairing = false;
  }
}

/** Forgets the revoked key, makes a new one and waits to be paired again. */
export async function becomeRevoked() {
  if (phase.value !== 'ready') return;
  token.value = null;
  revoked.value = true;
  phase.value = 'starting';
  try {
    await forgetKey();
  } catch {
    // a new key replaces it anyway
  }
  await start();
}

let renewing = null;
async function currentToken() {
  const held = token.value;
  if (held && held.expiresAt - Date.now() > 60000) return held;
  renewing ??= issue()
    .catch((error) => {
      throw error.code === 'NOT_FOUND' ? new GqlError('KIOSK_NOT_FOUND') : error;
    })
    .finally(() => {
      renewing = null;
    });
  return renewing;
}

/** The headers of one kiosk request: the token and a fresh proof for it. */
export async function kioskHeaders() {
  const held = await currentToken();
  const key = device.value;
  const proof = await makeProof({ keyPair: key.keyPair, jwk: key.jwk, htm: 'POST', htu: graphqlUrl(), accessToken: held.accessToken });
  return { authorization: `DPoP ${held.accessToken}`, dpop: proof };
}

/** Whether a refused request means the kiosk is no longer allowed (checked by asking). */
export async function checkRevoked() {
  try {
    await issue();
    return false;
  } catch (error) {
    if (error.code === 'NOT_FOUND') {
      await becomeRevoked();
      return true;
    }
    return false;
  }
}

/** A GraphQL request as the kiosk. UNAUTHENTICATED: a new token, or revoked. */
export async function kioskRequest(query, variables, options = {}) {
  try {
    return await request(query, variables, { ...options, headers: kioskHeaders });
  } catch (error) {
    if (error.code === 'KIOSK_NOT_FOUND') {
      await becomeRevoked();
      throw new GqlError('KIOSK_REVOKED');
    }
    if (error.code !== 'UNAUTHENTICATED' && error.code !== 'TOKEN_EXPIRED') throw error;
    if (await checkRevoked()) throw new GqlError('KIOSK_REVOKED');
    return request(query, variables, { ...options, headers: kioskHeaders });
  }
}
