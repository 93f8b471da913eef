// Issue 10, the user app: send credits to a person. Ada finds Grace by her email,
// reviews, confirms; the first answer is lost on the way back (the request reached the
// platform), so she presses again: the same idempotency key goes with the retry and the
// money moves once. Grace's app shows it arrive live, exactly once; Ada's second device
// sees her balance change live, for the transfer and for a top-up made elsewhere
// (walletActivity carries every movement of the wallet).
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, logInThroughApp, openPage, signInAs, startPlatform, walletOf } from './harness.js';

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

const won = (n) => `₩${n.toLocaleString('en-US')}`;

test('Ada sends Grace credits once despite a lost answer; Grace and Ada’s other device see it live', async () => {
  const ada = await openPage(browser, platform.origin);
  const adaElsewhere = await openPage(browser, platform.origin, { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const grace = await openPage(browser, platform.origin, { lang: 'ko' });
  await logInThroughApp(ada.page, platform.origin, 'ada@demo.c9pay');
  await logInThroughApp(adaElsewhere.page, platform.origin, 'ada@demo.c9pay');
  await logInThroughApp(grace.page, platform.origin, 'grace@demo.c9pay', { lang: 'ko' });
  for (const { page } of [ada, adaElsewhere]) await page.getByRole('status', { name: 'Connection: Live' }).waitFor();
  await grace.page.getByRole('status', { name: /실시간/ }).waitFor();

  const adaBefore = await walletOf(platform.origin, 'ada@demo.c9pay');
  const graceBefore = await walletOf(platform.origin, 'grace@demo.c9pay');
  const shownBalance = adaElsewhere.page.locator('.balance .amount-xl');
  assert.equal(await shownBalance.textContent(), won(adaBefore.available));

  // Someone nobody knows first: said in words.
  const { page } = ada;
  await page.getByRole('link', { name: 'Send' }).click();
  await page.getByLabel('Their email').fill('nobody@example.com');
  await page.getByRole('button', { name: 'Find' }).click();
  await page.getByText('Nobody at c9pay uses that email.').waitFor();

  await page.getByLabel('Their email').fill('grace@demo.c9pay');
  await page.getByRole('button', { name: 'Find' }).click();
  await page.getByText('Grace Hopper', { exact: true }).waitFor();
  await page.getByLabel('Amount').fill('12,000');
  await page.getByLabel('Message (optional)').fill('Thanks for lunch');
  await page.getByRole('button', { name: 'Review' }).click();
  await page.getByRole('heading', { name: 'Send ₩12,000 to Grace Hopper?' }).waitFor();

  // The first sendCredits reaches the platform, but its answer is lost.
  const keys = [];
  let lost = false;
  const manifest = JSON.parse(readFileSync(new URL('../../router/assets/persisted-documents.json', import.meta.url), 'utf8'));
  const sendCreditsId = Object.keys(manifest).find((id) => manifest[id].startsWith('mutation SendCredits'));
  assert.ok(sendCreditsId, 'the manifest holds the app’s SendCredits document');
  await page.route(`${platform.origin}/graphql`, async (route) => {
    const body = route.request().postDataJSON();
    // The app names its documents by id (trusted documents); find SendCredits' id.
    if (body?.documentId !== sendCreditsId) return route.continue();
    keys.push(body.variables.input.idempotencyKey);
    if (lost) return route.continue();
    lost = true;
    await route.fetch();
    await route.abort('failed');
  });
  await page.getByRole('button', { name: 'Send ₩12,000' }).click();
  await page.getByText('We could not reach c9pay.').waitFor();
  await page.getByRole('button', { name: 'Send ₩12,000' }).click();
  await page.getByRole('heading', { name: 'Sent ₩12,000 to Grace Hopper' }).waitFor();
  assert.equal(keys.length, 2);
  assert.equal(keys[0], keys[1], 'the retry carries the attempt’s idempotency key');
  assert.match(keys[0], /^[0-9a-f-]{36}$/);
  // The aborted answer is the one failed load this test made on purpose.
  ada.problems.splice(0, ada.problems.length, ...ada.problems.filter((p) => !/net::ERR_FAILED/.test(p)));

  assert.equal((await walletOf(platform.origin, 'ada@demo.c9pay')).balance, adaBefore.balance - 12000, 'the money moved once');
  assert.equal((await walletOf(platform.origin, 'grace@demo.c9pay')).balance, graceBefore.balance + 12000);

  // Grace's app says so live, once (in Korean), and her balance follows.
  const graceLog = grace.page.getByRole('log');
  const arrived = graceLog.getByText(/Ada Lovelace님이 ₩12,000/);
  await arrived.waitFor();
  await grace.page.locator('.balance .amount-xl').getByText(won(graceBefore.available + 12000)).waitFor();
  // Ada's other device: the balance drops live, and the transfer is told there.
  await shownBalance.getByText(won(adaBefore.available - 12000)).waitFor();
  await adaElsewhere.page.getByRole('log').getByText('Sent ₩12,000 to Grace Hopper').waitFor();

  // A top-up made on yet another device reaches this one too.
  const adaApi = await signInAs(platform.origin, 'ada@demo.c9pay');
  await adaApi('mutation($input: TopUpInput!) { topUp(input: $input) { transferId } }', {
    input: { amount: '30000', idempotencyKey: `test-${Date.now()}` },
  });
  await shownBalance.getByText(won(adaBefore.available - 12000 + 30000)).waitFor();
  await adaElsewhere.page.getByRole('log').getByText('Topped up ₩30,000').waitFor();

  // Nothing was said twice: Grace once, Ada's own phone not at all (its receipt said it).
  await grace.page.waitForTimeout(500);
  assert.equal(await arrived.count(), 1, 'Grace is told once');
  assert.equal(await adaElsewhere.page.getByRole('log').getByText('Sent ₩12,000').count(), 1);
  assert.equal(await page.getByRole('log').getByText('Sent ₩12,000').count(), 0, 'the receipt already said it');
  for (const p of [ada, adaElsewhere, grace]) p.check();
});
