// DPoP (RFC 9449) for kiosks: an Ed25519 key made by WebCrypto that never leaves the
// device (non-extractable; only its public half is exported, as a JWK), kept in
// IndexedDB, and the proof each request carries: a JWS over the header
// {typ: 'dpop+jwt', alg, jwk} and the claims {htm, htu, iat, jti, ath}.

const encoder = new TextEncoder();

export const base64url = (bytes) => {
  let text = '';
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};

const part = (value) => base64url(encoder.encode(JSON.stringify(value)));

/** Whether this browser can make Ed25519 keys (Chromium 137+, Firefox 129+, Safari 17+). */
export async function ed25519Supported() {
  try {
    await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    return true;
  } catch {
    return false;
  }
}

/** A new key pair whose private half cannot be exported. */
export const generateKeyPair = () => crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);

/** The public JWK, members in RFC 7638 order: {kty, crv, x}. */
export async function publicJwk(publicKey) {
  const { crv, x } = await crypto.subtle.exportKey('jwk', publicKey);
  return { kty: 'OKP', crv, x };
}

/** RFC 7638 thumbprint of an Ed25519 public JWK (what the server binds the token to). */
export async function thumbprint(jwk) {
  const canonical = `{"crv":"Ed25519","kty":"OKP","x":"${jwk.x}"}`;
  return base64url(await crypto.subtle.digest('SHA-256', encoder.encode(canonical)));
}

/** `ath`: base64url of the SHA-256 of the access token. */
export async function accessTokenHash(accessToken) {
  return base64url(await crypto.subtle.digest('SHA-256', encoder.encode(accessToken)));
}

/**
 * A fresh proof for one request: `htm` the HTTP method, `htu` the URL without query
 * or fragment, `ath` only when an access token goes with the request. `alg` is
 * `EdDSA` (RFC 8037); `Ed25519` (RFC 9864) is accepted by the server as well.
 */
export async function makeProof({ keyPair, jwk, htm, htu, accessToken, alg = 'EdDSA', now = Date.now() }) {
  const header = { typ: 'dpop+jwt', alg, jwk: jwk ?? (await publicJwk(keyPair.publicKey)) };
  const claims = { htm, htu: htu.split(/[?#]/)[0], iat: Math.floor(now / 1000), jti: crypto.randomUUID() };
  if (accessToken) claims.ath = await accessTokenHash(accessToken);
  const input = `${part(header)}.${part(claims)}`;
  const signature = await crypto.subtle.sign({ name: 'Ed25519' }, keyPair.privateKey, encoder.encode(input));
  return `${input}.${base64url(signature)}`;
}

// IndexedDB: one database, one store, the device's key pair under one name. A
// CryptoKey is stored by structured clone: the private key stays non-extractable.
const DATABASE = 'c9pay-kiosk';
const STORE = 'keys';

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DATABASE, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function transact(mode, run) {
  const database = await open();
  try {
    return await new Promise((resolve, reject) => {
      const transaction = database.transaction(STORE, mode);
      const request = run(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(request.result);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  } finally {
    database.close();
  }
}

export const loadKey = (name = 'device') => transact('readonly', (store) => store.get(name));
export const saveKey = (value, name = 'device') => transact('readwrite', (store) => store.put(value, name));
export const forgetKey = (name = 'device') => transact('readwrite', (store) => store.delete(name));

/** The device's key ({keyPair, jwk, thumbprint, createdAt}), made and kept on first use. */
export async function deviceKey() {
  const kept = await loadKey();
  if (kept?.keyPair) return kept;
  const keyPair = await generateKeyPair();
  const jwk = await publicJwk(keyPair.publicKey);
  const value = { keyPair, jwk, thumbprint: await thumbprint(jwk), createdAt: Date.now() };
  await saveKey(value);
  return value;
}
