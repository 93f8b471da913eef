// Issue 11, "what must be shown" 2: the dashboard shows a payment request as a QR with
// its countdown; the user app scans it through the fake camera and pays; the dashboard
// turns it paid live; neither the dashboard nor the store's kiosk shows it twice.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launchBrowser, logInThroughApp, openPage, readQrFromScreenshot, scratchDir, startPlatform, walletOf, writeQrVideo } from './harness.js';
import { openDashboard, openKiosk, pairKiosk } from './store-flows.js';

let platform;
const browsers = [];
before(async () => {
  platform = await startPlatform();
});
after(async () => {
  for (const browser of browsers) await browser.close();
  await platform?.stop();
});

test('a request shown on the dashboard is paid from the app and shows paid, once', async () => {
  const plain = await launchBrowser();
  browsers.push(plain);
  const dashboard = await openDashboard(plain, platform.origin);
  const kiosk = await openKiosk(plain, platform.origin, { permissions: [] });
  await pairKiosk(dashboard.page, kiosk);

  await dashboard.page.getByRole('link', { name: 'Charge with QR' }).click();
  await dashboard.page.getByLabel('Amount to charge (₩)').fill('7000');
  await dashboard.page.getByRole('button', { name: 'Show QR code' }).click();
  const qr = dashboard.page.getByRole('img', { name: 'Payment request QR code for ₩7,000' });
  await qr.waitFor();
  await dashboard.page.getByRole('timer').filter({ hasText: /Expires in [45]:\d\d/ }).waitFor();
  const token = readQrFromScreenshot(await dashboard.page.screenshot());

  const camera = await launchBrowser({ camera: writeQrVideo(join(scratchDir(), 'request.y4m'), token) });
  browsers.push(camera);
  const app = await openPage(camera, platform.origin, { permissions: ['camera'] });
  await logInThroughApp(app.page, platform.origin, 'grace@demo.c9pay');
  const before = await walletOf(platform.origin, 'grace@demo.c9pay');
  await app.page.getByRole('link', { name: 'Scan', exact: true }).click();
  await app.page.getByRole('button', { name: 'Pay ₩7,000' }).click();
  await app.page.getByRole('heading', { name: 'Paid ₩7,000 at Cafe Nine' }).waitFor();

  await dashboard.page.getByRole('alert').filter({ hasText: 'Paid ₩7,000' }).waitFor();
  assert.equal(await qr.count(), 0, 'the QR is gone once paid');
  await kiosk.page.getByRole('region', { name: 'Recent payments' }).getByText('Payment ₩7,000').waitFor();
  await dashboard.page.getByRole('link', { name: 'Today' }).click();
  const line = dashboard.page.getByRole('list', { name: 'Payments as they arrive' }).getByRole('listitem').filter({ hasText: 'Payment ₩7,000' });
  await line.waitFor();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  assert.equal(await line.count(), 1, 'the dashboard shows it once');
  assert.equal(await kiosk.page.getByRole('region', { name: 'Recent payments' }).getByText('Payment ₩7,000').count(), 1, 'the kiosk shows it once');
  assert.equal((await walletOf(platform.origin, 'grace@demo.c9pay')).balance, before.balance - 7000);
  dashboard.check();
  kiosk.check();
  app.check();
});
