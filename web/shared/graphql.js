// GraphQL over HTTP to the router's /graphql (same origin). How a request is authorised
// is the client's business: the user app sends the session's bearer token, a kiosk adds
// a DPoP proof; each plugs itself in with configureGraphQL().
import { ApiError } from './errors.js';

let auth = {
  /** Headers to add to a request (may be async). */
  headers: async () => ({}),
  /** Called once when the router answers UNAUTHENTICATED; true to retry the request. */
  renew: async () => false,
};

export function configureGraphQL(options) {
  auth = { ...auth, ...options };
}

/** The first error of a GraphQL response as an ApiError. */
export function toApiError(body, status) {
  const first = body?.errors?.[0];
  const ext = first?.extensions ?? {};
  return new ApiError(ext.code ?? (status >= 500 ? 'SERVICE_UNAVAILABLE' : 'UNKNOWN'), first?.message, {
    requestId: ext.requestId ?? null,
    retryAfterSeconds: ext.retryAfterSeconds ?? null,
    status,
  });
}

// Trusted documents: the router knows every document of these clients by the SHA-256 of
// its text (web/trusted-documents.mjs makes the manifest at build time), so a request
// names the document instead of sending it, and the router refuses any other document
// from these pages.
const documentIds = new Map();

async function documentIdOf(document) {
  let id = documentIds.get(document);
  if (!id) {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(document));
    id = `sha256:${Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
    documentIds.set(document, id);
  }
  return id;
}

async function send(document, variables) {
  // Offline for sure: fail at once, as a network failure, without a doomed request.
  if (!navigator.onLine) throw new ApiError('NETWORK');
  const documentId = await documentIdOf(document);
  const headers = {
    'Content-Type': 'application/json',
    Accept: 'application/graphql-response+json, application/json',
    ...(await auth.headers({ method: 'POST', url: new URL('/graphql', location.href).href })),
  };
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers,
      body: JSON.stringify({ documentId, variables }),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError('NETWORK');
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // A proxy's HTML error page, say: handled as a failure without a GraphQL body below.
  }
  if (body?.errors?.length) {
    const error = toApiError(body, response.status);
    if (!error.retryAfterSeconds && response.headers.get('Retry-After')) {
      error.retryAfterSeconds = Number(response.headers.get('Retry-After'));
    }
    throw error;
  }
  if (!response.ok || !body?.data) {
    throw new ApiError(response.status >= 500 ? 'SERVICE_UNAVAILABLE' : 'UNKNOWN', `HTTP ${response.status}`, {
      status: response.status,
      requestId: response.headers.get('x-request-id'),
    });
  }
  return body.data;
}

/** Sends a document; resolves with `data`, rejects with an ApiError. */
export async function graphql(document, variables = {}) {
  try {
    return await send(document, variables);
  } catch (error) {
    // An access token can expire between two requests: renew it once and try again.
    if (error.code === 'UNAUTHENTICATED' && (await auth.renew())) return send(document, variables);
    throw error;
  }
}

/**
 * graphql() with per-request options: `headers` (an object, or a function of {method,
 * url} that may be async) replaces the configured ones — a kiosk signs a DPoP proof for
 * each request, the admin console sends its own token — and `timeoutMs` gives up on a
 * slow answer. A time-out is a NETWORK failure: the outcome is unknown, so a retry must
 * reuse the idempotency key. With the configured headers, an UNAUTHENTICATED answer
 * renews once as graphql() does.
 */
export async function graphqlWith(document, variables = {}, { headers = null, timeoutMs = 20000 } = {}) {
  const url = new URL('/graphql', location.href).href;
  const once = async () => {
    if (!navigator.onLine) throw new ApiError('NETWORK');
    const extra = headers === null ? await auth.headers({ method: 'POST', url }) : typeof headers === 'function' ? await headers({ method: 'POST', url }) : headers;
    let response;
    try {
      response = await fetch('/graphql', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/graphql-response+json, application/json', ...extra },
        body: JSON.stringify({ query: document, variables }),
        credentials: 'same-origin',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new ApiError('NETWORK', error?.name === 'TimeoutError' ? `no answer in ${timeoutMs} ms` : undefined);
    }
    const body = await response.json().catch(() => null);
    if (body?.errors?.length) {
      const error = toApiError(body, response.status);
      if (!error.retryAfterSeconds && response.headers.get('Retry-After')) error.retryAfterSeconds = Number(response.headers.get('Retry-After'));
      throw error;
    }
    if (!response.ok || !body?.data) {
      const code = response.status === 401 ? 'UNAUTHENTICATED' : response.status >= 500 ? 'SERVICE_UNAVAILABLE' : 'UNKNOWN';
      throw new ApiError(code, `HTTP ${response.status}`, { status: response.status, requestId: response.headers.get('x-request-id') });
    }
    return body.data;
  };
  try {
    return await once();
  } catch (error) {
    if (headers === null && error.code === 'UNAUTHENTICATED' && (await auth.renew())) return once();
    throw error;
  }
}
