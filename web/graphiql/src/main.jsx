// GraphiQL for the router's `GET /graphql` page. Built by `npm run build` into
// router/assets/graphiql/, which the router embeds: nothing is loaded from elsewhere.
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

// Inside the admin console (an iframe of a same-origin parent), the console hands this
// page its admin token by postMessage; it is kept in memory and sent as
// `Authorization: Bearer` with every request. Messages from any other origin or window
// are ignored.
let adminToken = null;
const embedded = window.parent !== window;
if (embedded) {
  window.addEventListener('message', (event) => {
    if (event.origin !== window.location.origin || event.source !== window.parent) return;
    if (event.data?.type === 'c9pay-admin-token') adminToken = typeof event.data.token === 'string' ? event.data.token : null;
  });
  window.parent.postMessage({ type: 'c9pay-graphiql-ready' }, window.location.origin);
}

const fetcher = createGraphiQLFetcher({
  url: '/graphql',
  fetch: (url, init = {}) => {
    if (!embedded) return fetch(url, init);
    // Running a query counts as activity for the console's idle time-out.
    window.parent.postMessage({ type: 'c9pay-graphiql-activity' }, window.location.origin);
    const headers = new Headers(init.headers);
    if (adminToken && !headers.has('authorization')) headers.set('authorization', `Bearer ${adminToken}`);
    return fetch(url, { ...init, headers, credentials: 'same-origin' });
  },
});

const defaultQuery = `# c9pay GraphQL
#
# Signed-in queries need an access token: paste
#   { "Authorization": "Bearer <access token>" }
# into Headers below (not saved: kept only while this page is open).

query Ping {
  __typename
}
`;

const defaultAdminQuery = `# c9pay GraphQL, as this admin session (the token is applied for you)

query Platform {
  platformStatistics { accounts openSessions kiosks }
}
`;

createRoot(document.getElementById('graphiql')).render(
  <StrictMode>
    <GraphiQL
      fetcher={fetcher}
      defaultQuery={embedded ? defaultAdminQuery : defaultQuery}
      defaultEditorToolsVisibility="headers"
      isHeadersEditorEnabled
      shouldPersistHeaders={false}
    />
  </StrictMode>,
);
