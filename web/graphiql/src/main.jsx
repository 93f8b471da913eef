// GraphiQL for the router's `GET /graphql` page. Built by `npm run build` into
// router/assets/graphiql/, which the router embeds: nothing is loaded from elsewhere.
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

const fetcher = createGraphiQLFetcher({ url: '/graphql' });

const defaultQuery = `# c9pay GraphQL
#
# Signed-in queries need an access token: paste
#   { "Authorization": "Bearer <access token>" }
# into Headers below (not saved: kept only while this page is open).

query Ping {
  __typename
}
`;

createRoot(document.getElementById('graphiql')).render(
  <StrictMode>
    <GraphiQL
      fetcher={fetcher}
      defaultQuery={defaultQuery}
      defaultEditorToolsVisibility="headers"
      isHeadersEditorEnabled
      shouldPersistHeaders={false}
    />
  </StrictMode>,
);
