// Issue 10, the user app: history as an infinite list over the Relay connection. More
// than a page of movements (a payment at Cafe Nine, a transfer from Grace, then many
// top-ups); scrolling to the end loads page after page, and the list shows every
// movement once, newest first, with its kind and the counterparty's name.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cafeNine, launchBrowser, logInThroughApp, openPage, signInAs, startPlatform } from './harness.js';

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

const HISTORY = `query($after: String) { me { wallet { history(first: 20, after: $after) {
  edges { node { id kind direction amount counterpartyUser { displayName } counterpartyStore { name } } }
  pageInfo { hasNextPage endCursor } } } } }`;

test('scrolling the history past the first pages shows every movement once, with kinds and names', async () => {
  const ada = await signInAs(platform.origin, 'ada@demo.c9pay');
  const grace = await signInAs(platform.origin, 'grace@demo.c9pay');
  const till = await cafeNine(platform.origin);
  const code = (await ada('mutation { issuePaymentCode { token } }')).issuePaymentCode.token;
  assert.ok((await till.sell(code, { Americano: 1 })).sale);
  const { me: graceMe } = await grace('{ me { id } }');
  const { me: adaMe } = await ada('{ me { id } }');
  assert.ok(graceMe.id);
  await grace('mutation($input: SendCreditsInput!) { sendCredits(input: $input) { transferId } }', {
    input: { toUserId: adaMe.id, amount: '1234', memo: 'For the coffee', idempotencyKey: crypto.randomUUID() },
  });
  for (let i = 1; i <= 45; i++) {
    await ada('mutation($input: TopUpInput!) { topUp(input: $input) { transferId } }', {
      input: { amount: String(1000 + i), idempotencyKey: crypto.randomUUID() },
    });
  }

  // What the platform holds, newest first.
  const expected = [];
  for (let after = null; ; ) {
    const page = (await ada(HISTORY, { after })).me.wallet.history;
    expected.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) break;
    after = page.pageInfo.endCursor;
  }
  assert.ok(expected.length > 40, 'more than two pages');

  const { page, check } = await openPage(browser, platform.origin);
  await logInThroughApp(page, platform.origin, 'ada@demo.c9pay');
  await page.getByRole('link', { name: 'History' }).click();
  await page.getByRole('heading', { name: 'History' }).waitFor();
  const rows = page.locator('.entries > li');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 20, 'one page at first');

  // Scroll as a person does, until the list says it has everything.
  const end = page.getByText('That is everything.');
  for (let i = 0; i < 40 && !(await end.isVisible()); i++) {
    await page.mouse.wheel(0, 3000);
    await page.waitForTimeout(250);
  }
  await end.waitFor();

  const shown = await rows.evaluateAll((items) =>
    items.map((li) => ({
      party: li.querySelector('.entry-party').textContent,
      meta: li.querySelector('.entry-meta').textContent,
      memo: li.querySelector('.entry-memo')?.textContent ?? null,
      amount: li.querySelector('.entry-amount').textContent,
    })),
  );
  assert.equal(shown.length, expected.length, 'every movement once: no duplicates, none missing');
  const won = (n) => `₩${Number(n).toLocaleString('en-US')}`;
  shown.forEach((row, i) => {
    const entry = expected[i];
    const sign = entry.direction === 'OUTGOING' ? '−' : '+';
    assert.equal(row.amount.replace('-', '−'), `${sign}${won(entry.amount)}`, `row ${i}`);
  });
  const payment = shown.find((row) => row.party === 'Cafe Nine');
  assert.ok(payment, 'the payment names the store');
  assert.match(payment.meta, /^Payment · /);
  assert.equal(payment.amount.replace('-', '−'), '−₩4,500');
  const gift = shown.find((row) => row.party === 'Grace Hopper');
  assert.ok(gift, 'the transfer names the person');
  assert.match(gift.meta, /^Transfer · /);
  assert.equal(gift.memo, '“For the coffee”');
  assert.equal(gift.amount, '+₩1,234');
  assert.equal(shown.filter((row) => row.party === 'Top-up').length, expected.filter((e) => e.kind === 'TOP_UP').length);
  check();
});
