// Issue 11, "what must be shown" 1: a kiosk paired from the dashboard (its Ed25519 key
// made by WebCrypto and kept in IndexedDB; every request with a DPoP proof) scans the
// payer's freshly issued code through Chromium's fake camera and sells; the dashboard
// and the user app each show the payment live, once; balances move by the catalogue
// total.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cafeNine, launchBrowser, logInThroughApp, openPage, readQrFromScreenshot, scratchDir, startPlatform, walletOf, writeQrVideo } from './harness.js';
import { openDashboard, openKiosk, pairKiosk, ringUp } from './store-flows.js';

let platform;
let browsers = [];
before(async () => {
  platform = await startPlatform();
});
after(async () => {
  for (const browser of browsers) await browser.close();
  await platform?.stop();
});

test('the kiosk sells to the code on the payer’s phone; dashboard and app show it once; money moves by the total', async () => {
  const plain = await launchBrowser();
  browsers.push(plain);
  const till = await cafeNine(platform.origin);
  const items = { Americano: 2, Croissant: 1 };
  const total = till.total(items); // ₩12,800 from the catalogue
  const adaBefore = await walletOf(platform.origin, 'ada@demo.c9pay');
  const storeBefore = Number((await till.gql(`query($id: ID!) { store(id: $id) { account { balance } } }`, { id: till.store.id })).store.account.balance);

  // The payer opens their code in the app; the camera will show exactly that code.
  const app = await openPage(plain, platform.origin);
  await logInThroughApp(app.page, platform.origin, 'ada@demo.c9pay');
  await app.page.getByRole('link', { name: 'Pay', exact: true }).click();
  await app.page.getByRole('img', { name: /Payment code for/ }).waitFor();
  const code = readQrFromScreenshot(await app.page.screenshot());
  const camera = await launchBrowser({ camera: writeQrVideo(join(scratchDir(), 'payer.y4m'), code) });
  browsers.push(camera);

  const dashboard = await openDashboard(plain, platform.origin);
  const kiosk = await openKiosk(camera, platform.origin);
  await pairKiosk(dashboard.page, kiosk);
  // The key is in IndexedDB and cannot be exported.
  const key = await kiosk.page.evaluate(
    () =>
      new Promise((resolve) => {
        const open = indexedDB.open('c9pay-kiosk');
        open.onsuccess = () => {
          const get = open.result.transaction('keys').objectStore('keys').get('device');
          get.onsuccess = () => resolve({ algorithm: get.result.keyPair.privateKey.algorithm.name, extractable: get.result.keyPair.privateKey.extractable });
        };
      }),
  );
  assert.deepEqual(key, { algorithm: 'Ed25519', extractable: false });

  await dashboard.page.getByRole('link', { name: 'Today' }).click();
  await ringUp(kiosk.page, items);
  await kiosk.page.getByRole('heading', { name: 'Paid ₩12,800' }).waitFor({ timeout: 30000 });

  const line = dashboard.page.getByRole('list', { name: 'Payments as they arrive' }).getByRole('listitem').filter({ hasText: 'Payment ₩12,800' });
  await line.waitFor();
  await app.page.getByRole('heading', { name: `Paid ₩12,800 at Cafe Nine` }).waitFor();
  await kiosk.page.getByRole('button', { name: 'New sale' }).click();
  await kiosk.page.getByRole('region', { name: 'Recent payments' }).getByText('Payment ₩12,800').waitFor();
  await new Promise((resolve) => setTimeout(resolve, 2000)); // anything twice would show by now
  assert.equal(await line.count(), 1, 'the dashboard shows the payment once');
  assert.equal(await app.page.getByText('Paid ₩12,800 at Cafe Nine').count(), 1, 'the app confirms it once');
  assert.equal(await kiosk.page.getByRole('region', { name: 'Recent payments' }).getByText('Payment ₩12,800').count(), 1, 'the kiosk lists it once');

  const adaAfter = await walletOf(platform.origin, 'ada@demo.c9pay');
  const storeAfter = Number((await till.gql(`query($id: ID!) { store(id: $id) { account { balance } } }`, { id: till.store.id })).store.account.balance);
  assert.equal(adaAfter.balance, adaBefore.balance - total);
  assert.equal(storeAfter, storeBefore + total);
  // The takings of the day count it.
  await dashboard.page.getByRole('region', { name: 'Sales today' }).getByText('1', { exact: true }).waitFor();
  app.check();
  dashboard.check();
  kiosk.check();
});
