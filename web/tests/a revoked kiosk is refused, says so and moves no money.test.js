// Issue 11, "what must be shown" 3: the owner pairs a kiosk by scanning its QR with the
// dashboard's camera, then revokes it; the kiosk's next sale is refused, its screen
// says it was revoked (in words), and no money moves.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cafeNine, launchBrowser, scratchDir, signInAs, startPlatform, walletOf, writeQrVideo } from './harness.js';
import { openDashboard, openKiosk, ringUp } from './store-flows.js';

let platform;
const browsers = [];
before(async () => {
  platform = await startPlatform();
});
after(async () => {
  for (const browser of browsers) await browser.close();
  await platform?.stop();
});

test('a kiosk paired by camera and then revoked cannot sell and says it was revoked', async () => {
  const ada = await signInAs(platform.origin, 'ada@demo.c9pay');
  const { issuePaymentCode } = await ada('mutation { issuePaymentCode { token } }');
  const till = await cafeNine(platform.origin);
  const dir = scratchDir();
  const kioskBrowser = await launchBrowser({ camera: writeQrVideo(join(dir, 'payer.y4m'), issuePaymentCode.token) });
  browsers.push(kioskBrowser);
  const kiosk = await openKiosk(kioskBrowser, platform.origin);

  // The owner's camera sees the kiosk's pairing QR.
  const ownerBrowser = await launchBrowser({ camera: writeQrVideo(join(dir, 'pairing.y4m'), `c9pay-kiosk:${kiosk.code.replace(/\s+/g, '')}`) });
  browsers.push(ownerBrowser);
  const dashboard = await openDashboard(ownerBrowser, platform.origin, { permissions: ['camera'] });
  await dashboard.page.getByRole('link', { name: 'Kiosks' }).click();
  await dashboard.page.getByLabel('Kiosk name').fill('Window');
  await dashboard.page.getByRole('button', { name: 'Scan the kiosk’s QR code' }).click();
  await dashboard.page.getByRole('status').filter({ hasText: 'Pairing code read' }).waitFor();
  assert.equal((await dashboard.page.getByLabel('Pairing code').inputValue()).replace(/\s+/g, ''), kiosk.code.replace(/\s+/g, ''));
  await dashboard.page.getByRole('button', { name: 'Pair kiosk' }).click();
  await kiosk.page.getByRole('button', { name: /^Americano/ }).waitFor({ timeout: 30000 });
  const row = dashboard.page.getByRole('row').filter({ hasText: 'Window' });
  await row.getByText('Active').waitFor();

  const adaBefore = await walletOf(platform.origin, 'ada@demo.c9pay');
  const sales = async () => (await till.gql(`query($id: ID!) { store(id: $id) { sales(first: 50) { nodes { id } } } }`, { id: till.store.id })).store.sales.nodes.length;
  const salesBefore = await sales();

  await row.getByRole('button', { name: 'Revoke Window' }).click();
  await dashboard.page.getByRole('button', { name: 'Yes, revoke Window' }).click();
  await row.getByText('Revoked').waitFor();

  // The kiosk tries its next sale (unless it already noticed the revocation by itself).
  if (await kiosk.page.getByRole('button', { name: /^Americano/ }).isVisible()) {
    await ringUp(kiosk.page, { Americano: 1 }).catch(() => {});
  }
  await kiosk.page.getByRole('alert').filter({ hasText: 'This kiosk was revoked.' }).waitFor({ timeout: 15000 });
  assert.match(await kiosk.page.getByRole('alert').first().innerText(), /No payment was taken/);
  await kiosk.page.getByRole('heading', { name: 'Pair this kiosk' }).waitFor();

  assert.equal((await walletOf(platform.origin, 'ada@demo.c9pay')).balance, adaBefore.balance, 'no money moved');
  assert.equal(await sales(), salesBefore, 'no sale was recorded');
  dashboard.check();
  kiosk.check();
});
