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

async function send(document, variables) {
  // Offline for sure: fail at once, as a network failure, without a doomed request.
  if (!navigator.onLine) throw new ApiError('NETWORK');
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
      body: JSON.stringify({ query: document, variables }),
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
