// The session in the browser (CONTRACT §2): sign up, a reload keeps the person signed in
// (the cookie, not storage, holds the session), log out, log in, log out everywhere; and
// a refresh token spent twice (a copied cookie) signs out everywhere, and the app says why.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, logInThroughApp, openPage, startPlatform } from './harness.js';

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

const REUSED = {
  en: 'You were signed out on every device because your sign-in was used twice',
  ko: '로그인 정보가 두 번 사용되어 모든 기기에서 로그아웃했어요',
};

for (const [lang, email] of [
  ['en', 'ada@demo.c9pay'],
  ['ko', 'grace@demo.c9pay'],
]) {
  test(`a refresh token used twice signs out everywhere and the app says why (${lang})`, async () => {
    const { page, context, check } = await openPage(browser, platform.origin, { lang });
    await logInThroughApp(page, platform.origin, email, { lang });
    const session = async () => (await context.cookies()).find((c) => c.name === '__Host-c9pay-session');
    const copied = await session();
    assert.ok(copied, 'the session cookie is set');
    assert.equal(copied.httpOnly, true);
    assert.equal(copied.secure, true);
    assert.equal(copied.sameSite, 'Strict');
    assert.equal(copied.path, '/');

    // The page spends the refresh token (the cookie rotates)…
    const status = await page.evaluate(() =>
      fetch('/session/refresh', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-C9pay-CSRF': '1' }, body: '{}' }).then((r) => r.status),
    );
    assert.equal(status, 200);
    assert.notEqual((await session()).value, copied.value, 'the refresh token rotated');

    // …and the copy, spent already, comes back: the platform ends every session of this
    // log-in, and the app says why.
    await context.addCookies([copied]);
    await page.reload();
    await page.getByRole('alert').filter({ hasText: REUSED[lang] }).waitFor();
    await page.getByRole('button', { name: lang === 'ko' ? '로그인' : 'Log in', exact: true }).waitFor();
    assert.equal(await session(), undefined, 'the cookie is cleared');
    check();
  });
}
