// Bundles src/main.jsx into router/assets/graphiql/graphiql.{js,css}: one minified
// script and one stylesheet, committed so that `cargo build` needs no node.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const outdir = fileURLToPath(new URL('../../router/assets/graphiql/', import.meta.url));

await build({
  entryPoints: { graphiql: fileURLToPath(new URL('src/main.jsx', import.meta.url)) },
  outdir,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020'],
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  // Only for subscriptions over websockets, which the page does not use (no subscriptionUrl).
  external: ['graphql-ws'],
  // The licences' notices stay, at the end of each file.
  legalComments: 'eof',
  sourcemap: false,
  logLevel: 'info',
});
