// The trusted-documents manifest: every GraphQL document the web clients can send,
// extracted from the `gql` literals beside their screens, as `sha256:<hex>` → document.
// The router embeds it (router/assets/persisted-documents.json) and, for pages of its own
// origin, runs only these documents (router/src/pipeline/trusted_documents.rs).
//
// A document's text is what `gql` (web/shared/gql.js) makes of the literal: the raw
// template text with every run of white space made one space, trimmed. The client sends
// the SHA-256 of that text as `documentId`; the router looks the text up.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The folders whose sources hold documents. */
const SOURCE_FOLDERS = ['app', 'store', 'admin', 'shared'];

/** Exactly what `gql` does to a literal's raw text. */
export const normalise = (raw) => raw.replace(/\s+/g, ' ').trim();

export const documentId = (text) => `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.(m?js|jsx)$/.test(entry.name) ? [path] : [];
  });
}

/** The manifest of the sources under `web`, as a JSON text with sorted keys. */
export function manifest(web) {
  const documents = {};
  for (const folder of SOURCE_FOLDERS) {
    for (const file of sourceFiles(join(web, folder))) {
      const source = readFileSync(file, 'utf8');
      for (const match of source.matchAll(/\bgql`([^`]*)`/g)) {
        if (match[1].includes('${')) throw new Error(`${file}: a gql document must be static (no \${…})`);
        const text = normalise(match[1]);
        documents[documentId(text)] = text;
      }
    }
  }
  const sorted = Object.fromEntries(Object.keys(documents).sort().map((id) => [id, documents[id]]));
  return JSON.stringify(sorted, null, 2) + '\n';
}
