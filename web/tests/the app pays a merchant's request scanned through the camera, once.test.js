// Issue 10, "what must be shown" 2: the store creates a payment request, the test writes
// its QR into a y4m video that Chromium's fake camera plays; the app scans it, previews
// the store and the amount, pays; paying the same request again is refused in words.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cafeNine, launchBrowser, logInThroughApp, openPage, scratchDir, startPlatform, walletOf, writeQrVideo } from './harness.js';

let platform;
let browser;
let till;
before(async () => {
  platform = await startPlatform();
  till = await cafeNine(platform.origin);
  const token = await till.createRequest(9000);
  browser = await launchBrowser({ camera: writeQrVideo(join(scratchDir(), 'request.y4m'), token) });
});
after(async () => {
  await browser?.close();
  await platform?.stop();
});

test('the camera reads the request, the app previews and pays it once, and a second payment is refused', async () => {
  const { page, check } = await openPage(browser, platform.origin, { permissions: ['camera'] });
  await logInThroughApp(page, platform.origin, 'grace@demo.c9pay');
  const start = await walletOf(platform.origin, 'grace@demo.c9pay');

  await page.getByRole('link', { name: 'Scan', exact: true }).click();
  await page.getByRole('heading', { name: 'Cafe Nine asks for' }).waitFor();
  await page.getByText('₩9,000', { exact: true }).waitFor();
  await page.getByRole('button', { name: 'Pay ₩9,000' }).click();
  await page.getByRole('heading', { name: 'Paid ₩9,000 at Cafe Nine' }).waitFor();

  const paid = await walletOf(platform.origin, 'grace@demo.c9pay');
  assert.equal(paid.balance, start.balance - 9000);

  // The same request again (the camera still shows it): refused before any button.
  await page.getByRole('button', { name: 'Done' }).click();
  await page.getByRole('link', { name: 'Scan', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: 'This request has already been paid. You were not charged again.' }).waitFor();
  assert.equal(await page.getByRole('button', { name: /^Pay / }).count(), 0);
  assert.equal((await walletOf(platform.origin, 'grace@demo.c9pay')).balance, paid.balance, 'no money moved');
  check();
});
