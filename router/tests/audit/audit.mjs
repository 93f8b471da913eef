// The graphql-http server audit (GraphQL over HTTP conformance) against a running router.
// It starts nothing itself: the router's GraphQL URL comes from C9PAY_ROUTER_URL, e.g.
//   C9PAY_ROUTER_URL=http://127.0.0.1:8080/graphql node audit.mjs
// Prints every result that is not `ok`, then one JSON line of counts; exits 1 on any error.
import { auditServer } from 'graphql-http';

const url = process.env.C9PAY_ROUTER_URL;
if (!url) {
  console.error('C9PAY_ROUTER_URL is not set');
  process.exit(2);
}

const results = await auditServer({ url });
const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const result of results) {
  counts[result.status] += 1;
  if (result.status !== 'ok') {
    let detail = result.reason;
    if (result.response) {
      const body = await result.response.text().catch(() => '');
      detail += ` (HTTP ${result.response.status}: ${body.slice(0, 300)})`;
    }
    console.log(`${result.status.toUpperCase()} ${result.id} ${result.name}: ${detail}`);
  }
}
console.log(JSON.stringify({ audit: 'graphql-http', total: results.length, ...counts }));
process.exit(counts.error > 0 ? 1 : 0);
