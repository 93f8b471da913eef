// What a kiosk shows to be paired and what the dashboard reads back: the public key's
// `x` (43 base64url characters), in the QR prefixed `c9pay-kiosk:`, typed in groups.

const PREFIX = 'c9pay-kiosk:';

export const pairingText = (jwk) => `${PREFIX}${jwk.x}`;

export const pairingCode = (jwk) => jwk.x.match(/.{1,4}/g).join(' ');

/** The public JWK from a scanned QR or a typed code, or null if it cannot be one. */
export function parsePairing(input) {
  const x = input.trim().replace(/^c9pay-kiosk:/i, '').replace(/\s+/g, '');
  return /^[A-Za-z0-9_-]{43}$/.test(x) ? { kty: 'OKP', crv: 'Ed25519', x } : null;
}

export const isPairingText = (text) => text.startsWith(PREFIX);
