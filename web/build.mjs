// Builds every web client into router/assets/<client>/ (CONTRACT §1): index.html plus
// hashed, minified assets, each with a .gz and a .br sibling. The router embeds those
// directories at compile time, so `cargo build` and `c9pay up` need no node.
//
//   node build.mjs            build every client whose folder exists
//   node build.mjs --check    build into a temporary directory and fail if the committed
//                             bundle differs from its sources (stale bundle)
//   node build.mjs app        only the clients named (with or without --check)
//
// A client is a folder web/<client>/ with an entry file main.jsx; a folder that does not
// exist yet is skipped with a notice. The output is deterministic: the same sources and
// package versions give the same bytes, so the check can compare them.
import { build } from 'esbuild';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gunzipSync, gzipSync, brotliDecompressSync } from 'node:zlib';

const WEB = fileURLToPath(new URL('.', import.meta.url));
const ASSETS = join(WEB, '..', 'router', 'assets');

/** Each client: its page title and the colour the browser paints around it. */
const CLIENTS = {
  app: { title: 'c9pay' },
  store: { title: 'c9pay Store' },
  admin: { title: 'c9pay Admin' },
};

/** Gzipped JavaScript per client must stay within this (issue 10's budget). */
const JS_BUDGET_GZIP = 80 * 1024;

// A one-colour "9" mark as a data: URL (img-src allows data:), so the browser does not
// ask for /favicon.ico, which does not exist.
const ICON =
  'data:image/svg+xml,' +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#1b64da"/>' +
      '<text x="16" y="23" font-family="system-ui,sans-serif" font-size="20" font-weight="700" fill="#fff" text-anchor="middle">9</text></svg>',
  );

const gzip = (bytes) => gzipSync(bytes, { level: zlib.Z_BEST_COMPRESSION });
const brotli = (bytes) =>
  brotliCompressSync(bytes, {
    params: {
      [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY,
      [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  });

/** Bundles one client into `outDir` (emptied first); returns its JS and CSS sizes. */
async function buildClient(client, outDir) {
  const result = await build({
    entryPoints: { [client]: join(WEB, client, 'main.jsx') },
    outdir: join(outDir, 'assets'),
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2020'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    define: { 'process.env.NODE_ENV': '"production"' },
    legalComments: 'eof',
    sourcemap: false,
    metafile: true,
    write: false,
    logLevel: 'warning',
  });

  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, 'assets'), { recursive: true });
  const urls = {};
  let jsGzip = 0;
  for (const file of result.outputFiles) {
    const name = basename(file.path);
    const bytes = Buffer.from(file.contents);
    const gz = gzip(bytes);
    writeFileSync(join(outDir, 'assets', name), bytes);
    writeFileSync(join(outDir, 'assets', name + '.gz'), gz);
    writeFileSync(join(outDir, 'assets', name + '.br'), brotli(bytes));
    const ext = name.split('.').pop();
    urls[ext] = `/${client}/assets/${name}`;
    if (ext === 'js') jsGzip += gz.length;
  }
  writeFileSync(join(outDir, 'index.html'), page(client, urls));
  return { jsGzip };
}

/** The page: no inline script or style (the CSP forbids them), assets by absolute URL. */
function page(client, urls) {
  const css = urls.css ? `\n<link rel="stylesheet" href="${urls.css}">` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="color-scheme" content="light">
<meta name="theme-color" content="#ffffff">
<title>${CLIENTS[client].title}</title>
<link rel="icon" href="${ICON}">${css}
<script type="module" src="${urls.js}"></script>
</head>
<body>
<div id="root"></div>
</body>
</html>
`;
}

/** Every file under `dir`, as paths relative to it, sorted. */
function listFiles(dir, prefix = '') {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory() ? listFiles(join(dir, entry.name), prefix + entry.name + '/') : [prefix + entry.name],
    )
    .sort();
}

/**
 * Compares a fresh build with the committed one. Compressed files are compared by what
 * they decompress to: their bytes depend on the zlib inside node, which may differ from
 * the node that made the committed bundle.
 */
function differences(fresh, committed) {
  const a = listFiles(fresh);
  const b = listFiles(committed);
  const problems = [];
  for (const f of a) if (!b.includes(f)) problems.push(`missing: ${f}`);
  for (const f of b) if (!a.includes(f)) problems.push(`not produced by the sources: ${f}`);
  for (const f of a.filter((f) => b.includes(f))) {
    const x = readFileSync(join(fresh, f));
    const y = readFileSync(join(committed, f));
    const unpack = f.endsWith('.gz') ? gunzipSync : f.endsWith('.br') ? brotliDecompressSync : (v) => v;
    let same;
    try {
      same = unpack(x).equals(unpack(y));
    } catch {
      same = false;
    }
    if (!same) problems.push(`differs: ${f}`);
  }
  return problems;
}

const check = process.argv.includes('--check');
const named = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
for (const name of named) {
  if (!(name in CLIENTS)) {
    console.error(`unknown client ${name}; the clients are ${Object.keys(CLIENTS).join(', ')}`);
    process.exit(2);
  }
}
const scratch = check ? mkdtempSync(join(tmpdir(), 'c9pay-web-')) : null;
let failed = false;
try {
  for (const client of named.length ? named : Object.keys(CLIENTS)) {
    if (!existsSync(join(WEB, client, 'main.jsx'))) {
      console.log(`${client}: no web/${client}/main.jsx yet, skipped`);
      continue;
    }
    const committed = join(ASSETS, client);
    const out = check ? join(scratch, client) : committed;
    const { jsGzip } = await buildClient(client, out);
    const kb = (jsGzip / 1024).toFixed(1);
    if (jsGzip > JS_BUDGET_GZIP) {
      console.error(`${client}: ${kb} KB of JavaScript gzipped, over the budget of ${JS_BUDGET_GZIP / 1024} KB`);
      failed = true;
    } else {
      console.log(`${client}: ${kb} KB of JavaScript gzipped (budget ${JS_BUDGET_GZIP / 1024} KB)`);
    }
    if (check) {
      const problems = differences(out, committed);
      if (problems.length > 0) {
        console.error(
          `router/assets/${client} is stale against web/${client} and web/shared:\n  ` +
            problems.join('\n  ') +
            `\nRebuild with \`cd web && npm ci && node build.mjs\` and commit router/assets/${client}.`,
        );
        failed = true;
      }
    }
  }
} finally {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
