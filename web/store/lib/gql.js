// The GraphQL client of the store and admin clients (until web/shared has one):
// fetch POST /graphql, errors become a GqlError with the server's code.

/** A static document (kept a literal so documents can be extracted later). */
export const gql = (strings) => strings[0];

export class GqlError extends Error {
  constructor(code, message = code, extensions = {}) {
    super(message);
    this.code = code;
    this.extensions = extensions;
  }
}

/** The URL of the GraphQL endpoint (what a kiosk's DPoP proofs name as htu). */
export const graphqlUrl = () => `${location.origin}/graphql`;

/**
 * Sends one operation. `headers` is an object or an async function returning one
 * (a kiosk signs a fresh proof per attempt); `timeoutMs` aborts a slow answer
 * (`TIMEOUT`); a network failure is `NETWORK`.
 */
export async function request(query, variables = {}, { headers = {}, timeoutMs = 20000 } = {}) {
  const extra = typeof headers === 'function' ? await headers() : headers;
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...extra,
      },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new GqlError(error?.name === 'TimeoutError' ? 'TIMEOUT' : 'NETWORK', String(error?.message ?? error));
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new GqlError(response.status === 429 ? 'RATE_LIMITED' : response.status >= 500 ? 'SERVICE_UNAVAILABLE' : 'NETWORK');
  }
  if (body?.errors?.length) {
    const [first] = body.errors;
    const code = first.extensions?.code ?? (response.status === 401 ? 'UNAUTHENTICATED' : 'ERROR');
    throw new GqlError(code, first.message, first.extensions ?? {});
  }
  if (!response.ok || !body?.data) throw new GqlError(response.status === 401 ? 'UNAUTHENTICATED' : 'SERVICE_UNAVAILABLE');
  return body.data;
}

/** POST to one of the router's JSON endpoints (/session/*, /admin/*), CSRF header set. */
export async function postJson(path, body = {}, token) {
  let response;
  try {
    response = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'content-type': 'application/json',
        'x-c9pay-csrf': '1',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(body),
    });
  } catch (error) {
    throw new GqlError('NETWORK', String(error?.message ?? error));
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    // an empty or non-JSON answer
  }
  if (!response.ok) {
    const first = answer?.errors?.[0];
    const code = first?.extensions?.code ?? answer?.code ?? (response.status === 404 ? 'NOT_FOUND' : response.status >= 500 ? 'SERVICE_UNAVAILABLE' : 'ERROR');
    throw new GqlError(code, first?.message ?? code);
  }
  return answer ?? {};
}

/** An idempotency key: made once per attempt, reused on every retry of it. */
export const idempotencyKey = () => crypto.randomUUID();

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Back-off with jitter: 0.5 s, 1 s, 2 s, … up to `maxMs`. */
export const backoff = (attempt, maxMs = 15000) => Math.min(maxMs, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
