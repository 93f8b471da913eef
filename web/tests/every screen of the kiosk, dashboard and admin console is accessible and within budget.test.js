// Issue 11, "what must be shown" 6: axe-core (WCAG 2.1 A and AA) finds no violation on
// any screen of the store client (kiosk and dashboard) or the admin console, in English
// and Korean; no console error, CSP violation or foreign request on the way; each
// bundle is at most 80 KB of JavaScript gzipped.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { axeViolations, cafeNine, launchBrowser, scratchDir, signInAs, startPlatform, writeQrVideo } from './harness.js';
import { gzippedJs, openAdmin, openDashboard, openKiosk, pairKiosk } from './store-flows.js';

let platform;
let browser;
before(async () => {
  platform = await startPlatform();
  const ada = await signInAs(platform.origin, 'ada@demo.c9pay');
  const { issuePaymentCode } = await ada('mutation { issuePaymentCode { token } }');
  const till = await cafeNine(platform.origin);
  await till.sell(issuePaymentCode.token, { Americano: 1, 'Cafe latte': 1 });
  browser = await launchBrowser({ camera: writeQrVideo(join(scratchDir(), 'nothing.y4m'), 'not a payment code') });
});
after(async () => {
  await browser?.close();
  await platform?.stop();
});

const clean = async (page, screen) => assert.deepEqual(await axeViolations(page), [], `${screen}: axe violations`);

test('each bundle is at most 80 KB of JavaScript gzipped', () => {
  for (const client of ['store', 'admin']) assert.ok(gzippedJs(client) <= 80 * 1024, `${client}: ${gzippedJs(client)} bytes`);
});

for (const lang of ['en', 'ko']) {
  test(`the kiosk and the dashboard have no violations (${lang})`, async () => {
    const dashboard = await openDashboard(browser, platform.origin);
    const { page } = dashboard;
    await clean(page, 'today');
    const kiosk = await openKiosk(browser, platform.origin);
    await clean(kiosk.page, 'kiosk pairing');
    await pairKiosk(page, kiosk);
    if (lang === 'ko') {
      for (const p of [page, kiosk.page]) await p.getByRole('button', { name: 'Switch language' }).click();
    }
    await clean(page, 'kiosks');
    await clean(kiosk.page, 'kiosk till (empty)');
    await kiosk.page.getByRole('button', { name: /^Americano|^아메리카노/ }).first().click();
    await clean(kiosk.page, 'kiosk till (cart)');
    await kiosk.page.locator('button.primary.huge').click();
    await clean(kiosk.page, 'kiosk scanning');
    for (const link of lang === 'en' ? ['Sales', 'Charge with QR', 'Products'] : ['판매', 'QR로 결제 받기', '상품']) {
      await page.getByRole('link', { name: link }).click();
      await page.waitForLoadState('networkidle');
      await clean(page, link);
    }
    await page.getByRole('link', { name: lang === 'en' ? 'Sales' : '판매' }).click();
    await page.getByRole('button', { name: lang === 'en' ? /^Refund the sale/ : /판매 환불$/ }).first().click();
    await clean(page, 'refund dialog');
    dashboard.check();
    kiosk.check();
  });
}

test('the admin console has no violations', async () => {
  const admin = await openAdmin(browser, platform.origin);
  const { page } = admin;
  await page.getByRole('heading', { name: 'Platform statistics' }).waitFor();
  await clean(page, 'statistics');
  await page.getByRole('link', { name: 'People' }).click();
  await page.getByLabel('Email contains').fill('demo');
  await page.getByRole('button', { name: 'Find' }).click();
  await page.getByRole('button', { name: 'Ada Lovelace' }).click();
  await page.getByRole('heading', { name: 'Ada Lovelace' }).waitFor();
  await clean(page, 'people');
  await page.getByRole('link', { name: 'Stores' }).click();
  await page.getByLabel('Name contains').fill('Cafe');
  await page.getByRole('button', { name: 'Find' }).click();
  await page.getByRole('button', { name: 'Cafe Nine' }).click();
  await page.getByRole('heading', { name: 'Cafe Nine' }).waitFor();
  await clean(page, 'stores');
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'Admin log-in' }).waitFor();
  await clean(page, 'log-in');
  admin.check();
});
