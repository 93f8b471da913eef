// Bundles src/main.jsx into router/assets/graphiql/graphiql.{js,css}: one minified
// script and one stylesheet, committed so that `cargo build` needs no node, each with a
// gzip and a brotli copy that the router serves to browsers that accept them.
import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

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

for (const name of ['graphiql.js', 'graphiql.css']) {
  const path = `${outdir}${name}`;
  const body = readFileSync(path);
  writeFileSync(`${path}.gz`, gzipSync(body, { level: 9 }));
  writeFileSync(
    `${path}.br`,
    brotliCompressSync(body, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length },
    }),
  );
}
