// The screens of the kiosk (tablet, 1024×768), the merchant dashboard and the admin
// console (desktop, 1440×900), for web/screenshots.mjs to import:
//   await storeAndAdminScreens({ origin, outDir, launchBrowser, writeQrVideo, scratchDir, signInAs })
// writes store-*.png, kiosk-*.png and admin-*.png into outDir.
import { join } from 'node:path';

const PASSWORD = 'c9pay-demo-password';
const TABLET = { width: 1024, height: 768 };
const DESKTOP = { width: 1440, height: 900 };

export async function storeAndAdminScreens({ origin, outDir, launchBrowser, writeQrVideo, scratchDir, signInAs }) {
  const ada = await signInAs(origin, 'ada@demo.c9pay');
  const { issuePaymentCode } = await ada('mutation { issuePaymentCode { token } }');
  const browser = await launchBrowser({ camera: writeQrVideo(join(scratchDir(), 'payer.y4m'), issuePaymentCode.token) });
  const shot = (page, name) => page.screenshot({ path: join(outDir, `${name}.png`) });
  try {
    const desk = await browser.newContext({ viewport: DESKTOP, permissions: ['camera'] });
    const tablet = await browser.newContext({ viewport: TABLET, permissions: ['camera'] });
    const page = await desk.newPage();
    await page.goto(`${origin}/store`);
    await page.getByLabel('Email').waitFor();
    await shot(page, 'store-log-in');
    await page.getByLabel('Email').fill('minsu@demo.c9pay');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.getByRole('button', { name: /^Cafe Nine/ }).waitFor();
    await shot(page, 'store-stores');
    await page.getByRole('button', { name: /^Cafe Nine/ }).click();

    const kiosk = await tablet.newPage();
    await kiosk.goto(`${origin}/store/kiosk`);
    const code = (await kiosk.getByRole('group', { name: 'Pairing code' }).innerText()).replace(/\s+/g, ' ');
    await shot(kiosk, 'kiosk-pairing');
    await page.getByRole('link', { name: 'Kiosks' }).click();
    await page.getByLabel('Kiosk name').fill('Front counter');
    await page.getByLabel('Pairing code').fill(code);
    await page.getByRole('button', { name: 'Pair kiosk' }).click();
    await kiosk.getByRole('button', { name: /^Americano/ }).waitFor({ timeout: 30000 });
    await page.waitForTimeout(500);
    await shot(page, 'store-kiosks');
    await shot(kiosk, 'kiosk-till');
    for (const name of ['Americano', 'Americano', 'Croissant']) await kiosk.getByRole('button', { name: new RegExp(`^${name}`) }).click();
    await shot(kiosk, 'kiosk-cart');
    await kiosk.getByRole('button', { name: /^Charge / }).click();
    await kiosk.getByRole('heading', { name: /^Paid/ }).waitFor({ timeout: 30000 });
    await shot(kiosk, 'kiosk-paid');

    await page.getByRole('link', { name: 'Today' }).click();
    await page.getByRole('list', { name: 'Payments as they arrive' }).getByRole('listitem').first().waitFor();
    await page.waitForTimeout(800);
    await shot(page, 'store-today');
    await page.getByRole('link', { name: 'Sales' }).click();
    await page.waitForTimeout(800);
    await shot(page, 'store-sales');
    await page.getByRole('button', { name: /^Refund the sale/ }).first().click();
    await shot(page, 'store-refund');
    await page.keyboard.press('Escape');
    await page.getByRole('link', { name: 'Charge with QR' }).click();
    await page.getByLabel('Amount to charge (₩)').fill('7000');
    await page.getByRole('button', { name: 'Show QR code' }).click();
    await page.getByRole('timer').waitFor();
    await shot(page, 'store-charge');
    await page.getByRole('link', { name: 'Products' }).click();
    await page.waitForTimeout(500);
    await shot(page, 'store-products');

    const admin = await (await browser.newContext({ viewport: DESKTOP })).newPage();
    await admin.goto(`${origin}/admin`);
    await admin.getByLabel('Email').fill('admin@demo.c9pay');
    await admin.getByLabel('Password').fill(PASSWORD);
    await shot(admin, 'admin-log-in');
    await admin.getByRole('button', { name: 'Log in', exact: true }).click();
    await admin.getByRole('heading', { name: 'Platform statistics' }).waitFor();
    await admin.waitForTimeout(800);
    await shot(admin, 'admin-statistics');
    await admin.getByRole('link', { name: 'People' }).click();
    await admin.getByLabel('Email contains').fill('ada@');
    await admin.getByRole('button', { name: 'Find' }).click();
    await admin.getByRole('button', { name: 'Ada Lovelace' }).click();
    await admin.getByRole('heading', { name: 'Ada Lovelace' }).waitFor().catch(() => {});
    await shot(admin, 'admin-people');
    await admin.getByRole('link', { name: 'Stores' }).click();
    await admin.getByLabel('Name contains').fill('Cafe');
    await admin.getByRole('button', { name: 'Find' }).click();
    await admin.getByRole('button', { name: 'Cafe Nine' }).click().catch(() => {});
    await admin.waitForTimeout(800);
    await shot(admin, 'admin-stores');
    await admin.getByRole('link', { name: 'GraphiQL' }).click();
    await admin.waitForTimeout(3000);
    await shot(admin, 'admin-graphiql');
  } finally {
    await browser.close();
  }
}
