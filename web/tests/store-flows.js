// Steps the kiosk, dashboard and admin tests share (on top of harness.js): the owner's
// dashboard log-in, pairing a kiosk from it, the admin log-in, and the bundle budget.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PASSWORD, openPage } from './harness.js';

export const TABLET = { width: 1024, height: 768 };
export const DESKTOP = { width: 1440, height: 900 };

/** A desktop page logged in to the dashboard as Minsu, on Cafe Nine's "Today". */
export async function openDashboard(browser, origin, { lang = 'en', permissions = [] } = {}) {
  const guarded = await openPage(browser, origin, { lang, viewport: DESKTOP, deviceScaleFactor: 1, permissions });
  const { page } = guarded;
  await page.goto(`${origin}/store`);
  await page.getByLabel('Email').fill('minsu@demo.c9pay');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.getByRole('button', { name: /^Cafe Nine/ }).click();
  await page.getByRole('heading', { name: 'Today', level: 1 }).waitFor();
  return guarded;
}

/** A tablet page on /store/kiosk, showing its pairing code; resolves with the code. */
export async function openKiosk(browser, origin, { permissions = ['camera'] } = {}) {
  const guarded = await openPage(browser, origin, { viewport: TABLET, deviceScaleFactor: 1, permissions });
  await guarded.page.goto(`${origin}/store/kiosk`);
  const code = (await guarded.page.getByRole('group', { name: 'Pairing code' }).innerText()).replace(/\s+/g, ' ').trim();
  return { ...guarded, code };
}

/** Pairs the kiosk from the dashboard by typing its code; waits for the kiosk's till. */
export async function pairKiosk(dashboard, kiosk, name = 'Front counter') {
  await dashboard.getByRole('link', { name: 'Kiosks' }).click();
  await dashboard.getByLabel('Kiosk name').fill(name);
  await dashboard.getByLabel('Pairing code').fill(kiosk.code);
  await dashboard.getByRole('button', { name: 'Pair kiosk' }).click();
  await dashboard.getByRole('status').filter({ hasText: `${name} is paired` }).waitFor();
  await kiosk.page.getByRole('button', { name: /^Americano/ }).waitFor({ timeout: 30000 });
}

/** Taps products on the kiosk ({Americano: 2}) and opens the camera to charge. */
export async function ringUp(kioskPage, items) {
  for (const [name, quantity] of Object.entries(items)) {
    for (let i = 0; i < quantity; i++) await kioskPage.getByRole('button', { name: new RegExp(`^${name}`) }).click();
  }
  await kioskPage.getByRole('button', { name: /^Charge / }).click();
}

/** A desktop page logged in to the admin console as `email` (expects success). */
export async function openAdmin(browser, origin, email = 'admin@demo.c9pay') {
  const guarded = await openPage(browser, origin, { viewport: DESKTOP, deviceScaleFactor: 1 });
  await adminLogIn(guarded.page, origin, email);
  return guarded;
}

export async function adminLogIn(page, origin, email) {
  if (!page.url().startsWith(`${origin}/admin`)) await page.goto(`${origin}/admin`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
}

/** Gzipped JavaScript of a built client, in bytes (router/assets/<client>/assets/*.js.gz). */
export function gzippedJs(client) {
  const dir = fileURLToPath(new URL(`../../router/assets/${client}/assets/`, import.meta.url));
  return readdirSync(dir)
    .filter((file) => file.endsWith('.js.gz'))
    .reduce((sum, file) => sum + statSync(join(dir, file)).size, 0);
}
