// What every k6 script here shares: where c9pay is (loopback only: load goes to this
// machine alone) and bounded settings from the environment.

const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

// `C9PAY_URL` (default the router of `c9pay up`), without a trailing slash; refuses any
// host that is not loopback.
export function baseUrl() {
  const url = (__ENV.C9PAY_URL || 'http://127.0.0.1:4000').replace(/\/+$/, '');
  const hostMatch = url.match(/^https?:\/\/(\[[^\]]+\]|[^/:]+)/);
  if (!LOOPBACK_HOSTS.includes(hostMatch ? hostMatch[1] : '')) {
    throw new Error(`C9PAY_URL must be a loopback address (${LOOPBACK_HOSTS.join(', ')}), not ${url}`);
  }
  return url;
}

// The integer in environment variable `name`, or `fallback`; refuses one outside
// [minimum, maximum].
export function boundedInteger(name, fallback, minimum, maximum) {
  const text = __ENV[name];
  const value = text === undefined || text === '' ? fallback : Number(text);
  if (!Number.isInteger(value) || value < minimum || value > maximum) {
    throw new Error(`${name} must be an integer from ${minimum} to ${maximum}, not ${text}`);
  }
  return value;
}
