// Issue 10, pay at a till: the payment-code screen renews its code before the code
// expires and never shows an expired one (codes live 20 seconds here, through
// `c9pay up --auth-config`), read from the screenshot's pixels as a till would; the
// countdown is a role="timer" that a screen reader hears at thresholds only; the screen
// asks for a wake lock while shown and lets it go after, and a refused wake lock changes
// nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, logInThroughApp, openPage, readQrFromScreenshot, startPlatform } from './harness.js';

const LIFETIME_S = 20;
let platform;
let browser;
before(async () => {
  platform = await startPlatform({ authConfig: `payment_code_lifetime_s = ${LIFETIME_S}\n` });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await platform?.stop();
});

/** Records every wake-lock request and what became of it; `deny` refuses them all. */
async function watchWakeLock(context, { deny }) {
  await context.addInitScript((denied) => {
    window.__wakeLock = { requested: 0, granted: 0, denied: 0, released: 0 };
    if (!navigator.wakeLock) return;
    const request = navigator.wakeLock.request.bind(navigator.wakeLock);
    navigator.wakeLock.request = async (type) => {
      window.__wakeLock.requested += 1;
      if (denied) {
        window.__wakeLock.denied += 1;
        throw new DOMException('Wake Lock permission request denied', 'NotAllowedError');
      }
      try {
        const sentinel = await request(type);
        window.__wakeLock.granted += 1;
        sentinel.addEventListener('release', () => (window.__wakeLock.released += 1));
        return sentinel;
      } catch (error) {
        window.__wakeLock.denied += 1;
        throw error;
      }
    };
  }, deny);
}

const claims = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());

test('the code is renewed before it expires and an expired code is never on screen', async () => {
  const { page, context, check } = await openPage(browser, platform.origin);
  await watchWakeLock(context, { deny: false });
  await logInThroughApp(page, platform.origin, 'ada@demo.c9pay');
  await page.getByRole('link', { name: 'Pay', exact: true }).click();
  await page.getByRole('img', { name: /Payment code for/ }).waitFor();

  // The countdown: a timer whose spoken part changes at thresholds, not every second.
  const timer = page.getByRole('timer');
  assert.equal(await timer.getAttribute('aria-live'), 'polite');
  assert.equal(await timer.locator('[aria-hidden="true"]').count(), 1, 'the ticking digits are hidden from screen readers');
  const spoken = () => timer.locator('.sr-only').textContent();
  const spokenFirst = await spoken();
  const shownFirst = await timer.textContent();
  await page.waitForTimeout(2100);
  assert.notEqual(await timer.textContent(), shownFirst, 'the countdown ticks on screen');
  assert.equal(await spoken(), spokenFirst, 'but says nothing new between thresholds');

  // Watch the screen for two and a half lifetimes, as a till would see it.
  const seen = new Map(); // token → { exp, firstSeen, lastSeen }
  const started = Date.now();
  while (Date.now() - started < LIFETIME_S * 2500) {
    const png = await page.screenshot();
    const at = Date.now();
    let token = null;
    try {
      token = readQrFromScreenshot(png);
    } catch {
      // no code on screen at this instant (between two codes): allowed
    }
    if (token) {
      const { exp } = claims(token);
      assert.ok(exp * 1000 > at, `an expired code was on screen (exp ${new Date(exp * 1000).toISOString()}, seen ${new Date(at).toISOString()})`);
      const known = seen.get(token) ?? { exp, firstSeen: at, lastSeen: at };
      known.lastSeen = at;
      seen.set(token, known);
    }
    await page.waitForTimeout(300);
  }
  const codes = [...seen.values()].sort((a, b) => a.firstSeen - b.firstSeen);
  assert.ok(codes.length >= 2, `the code was renewed (${codes.length} seen)`);
  for (let i = 1; i < codes.length; i++) {
    assert.ok(codes[i].firstSeen < codes[i - 1].exp * 1000, 'each new code appeared before the previous one expired');
  }
  assert.match(await spoken(), /A new code is shown\./, 'a renewal is announced');

  const wake = await page.evaluate(() => window.__wakeLock);
  assert.ok(wake.requested >= 1, 'a wake lock is requested while the code is shown');
  // Leaving the screen lets a granted lock go.
  await page.getByRole('button', { name: 'Back' }).click();
  await page.getByRole('navigation').waitFor();
  const left = await page.evaluate(() => window.__wakeLock);
  assert.equal(left.released, left.granted, 'every granted lock is released when the code screen closes');
  check();
});

test('a refused wake lock changes nothing: the code shows, nothing is logged', async () => {
  const { page, context, check } = await openPage(browser, platform.origin, { lang: 'ko' });
  await watchWakeLock(context, { deny: true });
  await logInThroughApp(page, platform.origin, 'grace@demo.c9pay', { lang: 'ko' });
  await page.goto(`${platform.origin}/app/pay`);
  await page.getByRole('img', { name: /결제 코드|Grace/ }).waitFor();
  const token = readQrFromScreenshot(await page.screenshot());
  assert.ok(claims(token).exp * 1000 > Date.now());
  const wake = await page.evaluate(() => window.__wakeLock);
  assert.ok(wake.requested >= 1 && wake.denied === wake.requested);
  assert.equal(await page.getByRole('alert').filter({ hasText: /\S/ }).count(), 0, 'no error is shown');
  check();
});
