// Issue 10, "what must be shown" 3: the app is open, the browser goes offline, two
// payments post, it comes back: both confirmations appear exactly once (resumed from the
// last event id) and the badge returns to live. Money-moving buttons are disabled while
// offline.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cafeNine, launchBrowser, logInThroughApp, openPage, signInAs, startPlatform } from './harness.js';

let platform;
let browser;
before(async () => {
  platform = await startPlatform();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await platform?.stop();
});

test('two payments made while offline each appear once after reconnecting, and the badge is live again', async () => {
  const { page, context, check } = await openPage(browser, platform.origin);
  await logInThroughApp(page, platform.origin, 'ada@demo.c9pay');
  const badge = page.getByRole('status', { name: /^Connection:/ });
  await page.getByRole('status', { name: 'Connection: Live' }).waitFor();

  // One payment while online first, so the app has an event id to resume after.
  const ada = await signInAs(platform.origin, 'ada@demo.c9pay');
  const till = await cafeNine(platform.origin);
  const code = async () => (await ada('mutation { issuePaymentCode { token } }')).issuePaymentCode.token;
  assert.ok((await till.sell(await code(), { 'Cafe latte': 1 })).sale);
  const log = page.getByRole('log');
  await log.getByText('Paid ₩5,000 at Cafe Nine').waitFor();

  await context.setOffline(true);
  await page.getByRole('status', { name: 'Connection: Offline' }).waitFor();
  await page.getByRole('link', { name: 'Top up' }).click();
  await page.getByLabel('Amount').fill('10000');
  assert.equal(await page.getByRole('button', { name: 'Top up ₩10,000' }).isDisabled(), true, 'no top-up while offline');
  await page.getByRole('button', { name: 'Back' }).click();

  assert.ok((await till.sell(await code(), { Americano: 1 })).sale);
  assert.ok((await till.sell(await code(), { 'Green tea': 1 })).sale);

  await context.setOffline(false);
  await log.getByText('Paid ₩4,500 at Cafe Nine').waitFor();
  await log.getByText('Paid ₩4,000 at Cafe Nine').waitFor();
  await page.getByRole('status', { name: 'Connection: Live' }).waitFor();
  assert.equal(await log.getByText('Paid ₩4,500 at Cafe Nine').count(), 1);
  assert.equal(await log.getByText('Paid ₩4,000 at Cafe Nine').count(), 1);
  assert.equal(await log.getByText('Paid ₩5,000 at Cafe Nine').count(), 1, 'the earlier one is not replayed');
  assert.match(await badge.textContent(), /Live/);
  check();
});
