// Issue 11, "what must be shown" 4: from the dashboard's recent sales, a partial refund
// (the amount edited), then the rest (the default), then a third refund is refused in
// words; the payer's history shows both refunds.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cafeNine, launchBrowser, logInThroughApp, openPage, signInAs, startPlatform, walletOf } from './harness.js';
import { openDashboard } from './store-flows.js';

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

test('a sale is refunded in part, then in full, and a third refund is refused in words', async () => {
  const ada = await signInAs(platform.origin, 'ada@demo.c9pay');
  const { issuePaymentCode } = await ada('mutation { issuePaymentCode { token } }');
  const till = await cafeNine(platform.origin);
  const { sale } = await till.sell(issuePaymentCode.token, { Americano: 2 }); // ₩9,000
  assert.equal(sale.status, 'PAID');
  const paid = await walletOf(platform.origin, 'ada@demo.c9pay');

  const dashboard = await openDashboard(browser, platform.origin);
  const { page } = dashboard;
  await page.getByRole('link', { name: 'Sales' }).click();
  const refund = () => page.getByRole('button', { name: /^Refund the sale of ₩9,000/ }).click();
  const dialog = page.getByRole('dialog', { name: 'Refund a sale' });

  await refund();
  assert.equal(await dialog.getByLabel('Amount to refund (₩)').inputValue(), '9000', 'the whole sale by default');
  await dialog.getByLabel('Amount to refund (₩)').fill('4000');
  await dialog.getByRole('button', { name: 'Refund ₩4,000' }).click();
  await dialog.getByRole('alert').filter({ hasText: 'Give a reason' }).waitFor();
  await dialog.getByLabel('Reason').fill('Cold coffee');
  await dialog.getByRole('button', { name: 'Refund ₩4,000' }).click();
  await dialog.getByRole('status').filter({ hasText: '₩4,000 was refunded to the customer.' }).waitFor();
  await dialog.getByRole('button', { name: 'Close' }).click();

  await refund();
  assert.equal(await dialog.getByLabel('Amount to refund (₩)').inputValue(), '5000', 'the rest by default');
  await dialog.getByLabel('Reason').fill('Order cancelled');
  await dialog.getByRole('button', { name: 'Refund ₩5,000' }).click();
  await dialog.getByRole('status').filter({ hasText: '₩5,000 was refunded to the customer.' }).waitFor();
  await dialog.getByRole('button', { name: 'Close' }).click();

  await refund();
  await dialog.getByLabel('Amount to refund (₩)').fill('1000');
  await dialog.getByLabel('Reason').fill('Once more');
  await dialog.getByRole('button', { name: 'Refund ₩1,000' }).click();
  await dialog.getByRole('alert').filter({ hasText: 'Refused: that is more than is left to refund on this sale.' }).waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('row').filter({ hasText: 'Cold coffee' }).filter({ hasText: 'Order cancelled' }).waitFor();

  const refunded = await walletOf(platform.origin, 'ada@demo.c9pay');
  assert.equal(refunded.balance, paid.balance + 9000);
  // The payer's history in the app shows both refunds.
  const app = await openPage(browser, platform.origin);
  await logInThroughApp(app.page, platform.origin, 'ada@demo.c9pay');
  await app.page.getByRole('link', { name: 'History', exact: true }).click();
  await app.page.getByText('Cold coffee').waitFor();
  await app.page.getByText('Order cancelled').waitFor();
  dashboard.check();
  app.check();
});
