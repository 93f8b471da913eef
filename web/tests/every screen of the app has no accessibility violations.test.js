// Issue 10, "what must be shown" 5: axe-core (WCAG 2.1 A and AA) finds nothing on any
// screen of the app, in English and in Korean; no console error, CSP violation or request
// to another origin on the way.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { axeViolations, launchBrowser, logInThroughApp, openPage, startPlatform } from './harness.js';

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

for (const lang of ['en', 'ko']) {
  test(`every screen passes axe (${lang})`, async () => {
    const { page, check } = await openPage(browser, platform.origin, { lang });
    const seen = [];
    const audit = async (name) => {
      await page.getByRole('heading', { level: 1 }).waitFor();
      const violations = await axeViolations(page);
      seen.push(name);
      assert.deepEqual(violations, [], `${name}: ${violations.join('\n')}`);
    };

    await page.goto(`${platform.origin}/app/sign-up`);
    await audit('sign up');
    await page.goto(`${platform.origin}/app`);
    await audit('log in');
    await logInThroughApp(page, platform.origin, 'grace@demo.c9pay', { lang });
    await page.getByRole('list').first().waitFor();
    await audit('home');
    for (const path of ['history', 'settings', 'pay', 'scan', 'send', 'top-up']) {
      await page.evaluate((to) => {
        history.pushState(null, '', `/app/${to}`);
        dispatchEvent(new PopStateEvent('popstate'));
      }, path);
      await audit(path);
    }
    // The top-up's receipt, and the send flow's later steps.
    await page.locator('input').first().fill('10000');
    await page.locator('form button[type=submit]').click();
    await page.getByRole('heading', { name: /10,000/ }).waitFor();
    await audit('receipt');
    assert.equal(seen.length, 10);
    check();
  });
}
