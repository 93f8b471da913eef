// The session in the browser (CONTRACT §2): sign up, a reload keeps the person signed in
// (the cookie, not storage, holds the session), log out, log in, log out everywhere.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, openPage, startPlatform } from './harness.js';

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

test('sign up, reload, log out, log in again, log out everywhere', async () => {
  const { page, context, check } = await openPage(browser, platform.origin);
  const email = `hana-${Date.now()}@example.com`;
  const password = 'a long enough passphrase 42';
  await page.goto(`${platform.origin}/app`);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByLabel('Your name').fill('Hana Park');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Hello, Hana Park' }).waitFor();

  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
  assert.doesNotMatch(storage, /eyJ/, 'no token in web storage');

  await page.reload();
  await page.getByRole('heading', { name: 'Hello, Hana Park' }).waitFor();

  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('button', { name: 'Log out', exact: true }).click();
  await page.getByRole('heading', { name: 'Log in to c9pay' }).waitFor();
  await page.reload();
  await page.getByRole('heading', { name: 'Log in to c9pay' }).waitFor();

  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.getByRole('heading', { name: 'Hello, Hana Park' }).waitFor();
  // A second tab of the same browser shares the session.
  const second = await context.newPage();
  await second.goto(`${platform.origin}/app/settings`);
  await second.getByRole('heading', { name: 'Settings' }).waitFor();
  await second.getByRole('button', { name: 'Log out on every device' }).click();
  await second.getByRole('heading', { name: 'Log in to c9pay' }).waitFor();
  await page.reload();
  await page.getByRole('heading', { name: 'Log in to c9pay' }).waitFor();
  check();
});
