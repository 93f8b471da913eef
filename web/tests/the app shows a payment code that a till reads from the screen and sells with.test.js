// Issue 10, "what must be shown" 1: pay at a till. The app shows a code; the test reads
// the QR from the screenshot's pixels (not the DOM) and sells with it as Cafe Nine's
// owner through the router; the confirmation arrives live, exactly once, and the balance
// drops by the catalogue total.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cafeNine, launchBrowser, logInThroughApp, openPage, readQrFromScreenshot, startPlatform, walletOf } from './harness.js';

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

test('a till reads the code from the screen, sells, and the app confirms it live once', async () => {
  const { page, check } = await openPage(browser, platform.origin);
  await logInThroughApp(page, platform.origin, 'ada@demo.c9pay');
  const before = await walletOf(platform.origin, 'ada@demo.c9pay');

  await page.getByRole('link', { name: 'Pay', exact: true }).click();
  await page.getByRole('heading', { name: 'Pay at the till' }).waitFor();
  const code = page.getByRole('img', { name: /Payment code for/ });
  await code.waitFor();
  assert.match(await page.getByText(/Paying as /).textContent(), /Paying as Ada/);
  await page.getByRole('timer').waitFor();

  const token = readQrFromScreenshot(await page.screenshot());
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'the QR holds a compact JWS');

  const till = await cafeNine(platform.origin);
  const items = { Americano: 1, Croissant: 1 }; // ₩8,300 from the catalogue
  const total = till.total(items);
  const { sale, error } = await till.sell(token, items);
  assert.equal(error, undefined);
  assert.equal(sale.status, 'PAID');

  const headline = `Paid ₩${total.toLocaleString('en-US')} at Cafe Nine`;
  await page.getByRole('heading', { name: headline }).waitFor();
  assert.equal(await page.getByText(headline).count(), 1, 'the confirmation is shown once');
  assert.equal(await page.getByRole('img', { name: /Payment code for/ }).count(), 0, 'the code screen closed');

  const afterSale = await walletOf(platform.origin, 'ada@demo.c9pay');
  assert.equal(afterSale.balance, before.balance - total);

  // Home shows the new balance and the payment, once.
  await page.getByRole('button', { name: 'Done' }).click();
  await page.getByText(`₩${afterSale.available.toLocaleString('en-US')}`, { exact: true }).first().waitFor();
  assert.equal(await page.getByText(headline).count(), 0, 'no second confirmation as a toast');
  check();
});
