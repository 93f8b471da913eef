// What every browser test stands on: the real platform (`c9pay up` on a temporary data
// directory and a free port, built first with cargo), headless Chromium driven by
// playwright-core, guards that fail a test on any console error, page error, CSP
// violation or request to another origin, axe-core, GraphQL as another person (the
// till, the store's owner), and the pictures tests need: QR codes read from screenshot
// pixels, and y4m videos for Chromium's fake camera.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import encodeQR from 'qr';
import decodeQR from 'qr/decode.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TARGET = process.env.CARGO_TARGET_DIR || join(REPO, 'target');
const CHROMIUM = process.env.C9PAY_CHROMIUM || '/usr/bin/chromium';
export const PASSWORD = 'c9pay-demo-password';

// ---- The platform -------------------------------------------------------------------

let built = false;

/** Builds the c9pay binary once per test process (a no-op when it is up to date). */
function buildPlatform() {
  if (built) return;
  const result = spawnSync('cargo', ['build', '--quiet', '-p', 'c9pay'], { cwd: REPO, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('cargo build -p c9pay failed');
  built = true;
}

/**
 * Starts `c9pay up` with demo data on 127.0.0.1:0; `routerConfig` is TOML for
 * `--router-config`. Resolves with { origin, stop }.
 */
export async function startPlatform({ routerConfig } = {}) {
  // A platform started by hand (C9PAY_WEB_TEST_ORIGIN=http://127.0.0.1:4000), for quick
  // runs while developing; tests that need their own router settings start their own.
  if (process.env.C9PAY_WEB_TEST_ORIGIN && !routerConfig) {
    return { origin: process.env.C9PAY_WEB_TEST_ORIGIN, async stop() {} };
  }
  buildPlatform();
  const dir = mkdtempSync(join(tmpdir(), 'c9pay-web-test-'));
  const args = ['up', '--data-dir', join(dir, 'data'), '--listen', '127.0.0.1:0'];
  if (routerConfig) {
    writeFileSync(join(dir, 'router.toml'), routerConfig);
    args.push('--router-config', join(dir, 'router.toml'));
  }
  const child = spawn(join(TARGET, 'debug', 'c9pay'), args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
  let log = '';
  const origin = await new Promise((resolve, reject) => {
    const onData = (chunk) => {
      log += chunk;
      const match = /c9pay is up at (http:\/\/[\d.]+:\d+)\/graphql/.exec(log);
      if (match) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`c9pay up exited (${code}) before it was up:\n${log.slice(-3000)}`)));
  });
  return {
    origin,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.on('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- GraphQL as another person --------------------------------------------------------

/** POSTs a document to the router; returns the whole response body. */
export async function graphqlRaw(origin, query, variables = {}, token = null) {
  const response = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/graphql-response+json',
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

const signedIn = new Map();

/**
 * Logs `email` in through GraphQL; returns gql(query, variables) → data (throws on
 * errors). One log-in per person and platform: the router rate-limits log-ins per address.
 */
export function signInAs(origin, email) {
  const key = `${origin} ${email}`;
  if (!signedIn.has(key)) signedIn.set(key, logInWithGraphQL(origin, email));
  return signedIn.get(key);
}

async function logInWithGraphQL(origin, email) {
  const body = await graphqlRaw(origin, 'mutation($input: LogInInput!) { logIn(input: $input) { accessToken } }', {
    input: { email, password: PASSWORD },
  });
  if (body.errors) throw new Error(`logIn ${email}: ${JSON.stringify(body.errors)}`);
  const token = body.data.logIn.accessToken;
  const gql = async (query, variables) => {
    const answer = await graphqlRaw(origin, query, variables, token);
    if (answer.errors) {
      const error = new Error(`${answer.errors[0].extensions?.code}: ${answer.errors[0].message}`);
      error.code = answer.errors[0].extensions?.code;
      throw error;
    }
    return answer.data;
  };
  gql.raw = (query, variables) => graphqlRaw(origin, query, variables, token);
  return gql;
}

/** Minsu, the owner of Cafe Nine, as a till: his store and its catalogue by name. */
export async function cafeNine(origin) {
  const gql = await signInAs(origin, 'minsu@demo.c9pay');
  const data = await gql('{ me { stores { id name products { id name price } } } }');
  const store = data.me.stores.find((s) => s.name === 'Cafe Nine');
  const products = Object.fromEntries(store.products.map((p) => [p.name, p]));
  return {
    gql,
    store,
    products,
    /** Sells `items` ({ 'Americano': 2 }) to the holder of `paymentCode`; returns { sale } or { error }. */
    async sell(paymentCode, items) {
      const body = await gql.raw(
        'mutation($input: SellInput!) { sell(input: $input) { id status total failureCode } }',
        {
          input: {
            storeId: store.id,
            paymentCode,
            idempotencyKey: `test-${Math.random().toString(36).slice(2)}`,
            items: Object.entries(items).map(([name, quantity]) => ({ productId: products[name].id, quantity })),
          },
        },
      );
      return body.errors ? { error: body.errors[0].extensions?.code } : { sale: body.data.sell };
    },
    /** Total of `items` from the catalogue. */
    total(items) {
      return Object.entries(items).reduce((sum, [name, quantity]) => sum + Number(products[name].price) * quantity, 0);
    },
    async createRequest(amount) {
      const data = await gql(
        'mutation($input: CreatePaymentRequestInput!) { createPaymentRequest(input: $input) { token request { id } } }',
        { input: { storeId: store.id, amount: String(amount) } },
      );
      return data.createPaymentRequest.token;
    },
  };
}

/** A person's wallet as numbers. */
export async function walletOf(origin, email) {
  const gql = await signInAs(origin, email);
  const data = await gql('{ me { wallet { balance available } } }');
  return { balance: Number(data.me.wallet.balance), available: Number(data.me.wallet.available) };
}

// ---- The browser --------------------------------------------------------------------

/** Headless Chromium; `camera` is a y4m file for the fake camera. A missing browser fails. */
export async function launchBrowser({ camera } = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: scripts/test installs it (apt-get install chromium)`);
  }
  const args = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
  ];
  if (camera) {
    args.push('--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${camera}`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

/**
 * A phone-sized page (390×844 unless `viewport`) in `lang`, guarded: every console error,
 * page error, CSP violation and request to another origin is recorded, and `check()`
 * throws if there was any. Call `check()` at the end of every test.
 */
export async function openPage(browser, origin, { lang = 'en', viewport = { width: 390, height: 844 }, deviceScaleFactor = 2, permissions = [] } = {}) {
  const context = await browser.newContext({
    viewport,
    deviceScaleFactor,
    isMobile: viewport.width < 600,
    hasTouch: viewport.width < 600,
    locale: lang === 'ko' ? 'ko-KR' : 'en-US',
    permissions,
  });
  const problems = [];
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  await context.addInitScript((language) => {
    if (!localStorage.getItem('c9pay.lang')) localStorage.setItem('c9pay.lang', language);
  }, lang);
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    // Chromium logs every 4xx answer as "Failed to load resource". A refusal from the
    // platform's API (a wrong password, RATE_LIMITED, NO_SESSION) is an answer the app
    // handles and shows in words, so those are allowed; any other failed load (an asset,
    // a 5xx) still fails the test.
    const url = message.location()?.url ?? '';
    const api = url.startsWith(`${origin}/graphql`) || url.startsWith(`${origin}/session/`);
    if (api && /^Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) return;
    problems.push(`console error: ${message.text()} ${url}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  context.on('request', (request) => {
    const url = request.url();
    if (url.startsWith('data:')) return;
    if (new URL(url).origin !== origin) problems.push(`request to another origin: ${url}`);
  });
  return {
    page,
    context,
    problems,
    check() {
      if (problems.length) throw new Error(`the page misbehaved:\n  ${problems.join('\n  ')}`);
    },
  };
}

/** Logs in through the app's own log-in screen, and waits for home. */
export async function logInThroughApp(page, origin, email, { lang = 'en' } = {}) {
  const s = lang === 'ko' ? { email: '이메일', password: '비밀번호', submit: '로그인' } : { email: 'Email', password: 'Password', submit: 'Log in' };
  await page.goto(`${origin}/app`);
  await page.getByLabel(s.email).fill(email);
  await page.getByLabel(s.password, { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: s.submit, exact: true }).click();
  await page.getByRole('navigation').waitFor();
}

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's WCAG 2.1 A and AA violations on the page as it is now, as readable lines. */
export async function axeViolations(page) {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations.map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  return violations;
}

// ---- Pictures -----------------------------------------------------------------------

/** Decodes a PNG (8-bit, non-interlaced, as Chromium writes them) into RGBA pixels. */
export function decodePng(buffer) {
  let offset = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  const idat = [];
  while (offset < buffer.length) {
    const length = buffer.readUInt32BE(offset);
    const type = buffer.toString('latin1', offset + 4, offset + 8);
    const data = buffer.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8 || data[12] !== 0) throw new Error('only 8-bit non-interlaced PNGs');
      colorType = data[9];
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    offset += 12 + length;
  }
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[colorType];
  if (!channels) throw new Error(`unsupported PNG colour type ${colorType}`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  // Undo each row's filter (PNG spec §9): None, Sub, Up, Average, Paeth.
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const row = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
      let predictor = 0;
      if (filter === 1) predictor = a;
      else if (filter === 2) predictor = b;
      else if (filter === 3) predictor = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      pixels[y * stride + x] = (row[x] + predictor) & 0xff;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const gray = channels <= 2;
    rgba[i * 4] = pixels[i * channels];
    rgba[i * 4 + 1] = pixels[i * channels + (gray ? 0 : 1)];
    rgba[i * 4 + 2] = pixels[i * channels + (gray ? 0 : 2)];
    rgba[i * 4 + 3] = channels === 4 ? pixels[i * channels + 3] : channels === 2 ? pixels[i * channels + 1] : 255;
  }
  return { width, height, data: rgba };
}

/** The text of the QR code in a PNG screenshot, read from its pixels. */
export function readQrFromScreenshot(png) {
  return decodeQR(decodePng(png));
}

/**
 * Writes a one-frame y4m video (YUV4MPEG2, C420) of `text` as a QR code, drawn large with
 * a white quiet zone, for Chromium's fake camera (it loops the frame).
 */
export function writeQrVideo(path, text, { width = 640, height = 480 } = {}) {
  const grid = encodeQR(text, 'raw', { ecc: 'medium', border: 4 });
  const scale = Math.floor(Math.min(width, height) / grid.length);
  const side = grid.length * scale;
  const left = Math.floor((width - side) / 2);
  const top = Math.floor((height - side) / 2);
  const luma = Buffer.alloc(width * height, 255);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      if (grid[Math.floor(y / scale)][Math.floor(x / scale)]) luma[(top + y) * width + left + x] = 0;
    }
  }
  const chroma = Buffer.alloc((width / 2) * (height / 2), 128);
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F30:1 Ip A1:1 C420\n`);
  writeFileSync(path, Buffer.concat([header, Buffer.from('FRAME\n'), luma, chroma, chroma]));
  return path;
}

/** A temporary directory removed when the test process ends. */
export function scratchDir() {
  const dir = mkdtempSync(join(tmpdir(), 'c9pay-web-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
