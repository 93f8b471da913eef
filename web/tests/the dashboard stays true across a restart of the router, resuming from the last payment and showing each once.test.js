// Issue 11, "the merchant's subscriptions must keep the dashboard true across a router
// restart": the platform is stopped and started again on the same data directory and
// port while the dashboard is open. The badge leaves "Live" and comes back by itself;
// the new subscription resumes after the id of the last payment it saw; a payment made
// while it reconnects and one made after it is back each show once, and the payment from
// before the restart is not shown again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cafeNine, launchBrowser, signInAs, startPlatform } from './harness.js';
import { openDashboard } from './store-flows.js';

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

/** Sells `items` to `email`'s freshly issued payment code at Cafe Nine. */
async function pay(email, items) {
  const payer = await signInAs(platform.origin, email);
  const { issuePaymentCode } = await payer('mutation { issuePaymentCode { token } }');
  const { sale, error } = await (await cafeNine(platform.origin)).sell(issuePaymentCode.token, items);
  assert.equal(error, undefined);
  assert.equal(sale.status, 'PAID');
}

test('the dashboard reconnects after a router restart, resumes after the last payment and shows each payment once', async (t) => {
  if (!platform.restart) return t.skip('needs a platform it can restart (not C9PAY_WEB_TEST_ORIGIN)');
  const dashboard = await openDashboard(browser, platform.origin);
  const { page, problems } = dashboard;
  // What the dashboard's WebSocket says: the ids of the payments it receives, and the
  // `after` of every subscription it starts.
  const received = [];
  const resumedAfter = [];
  page.on('websocket', (socket) => {
    socket.on('framereceived', ({ payload }) => {
      const message = JSON.parse(String(payload));
      if (message.type === 'next' && message.payload?.data?.storePayments) received.push(message.payload.data.storePayments.id);
    });
    socket.on('framesent', ({ payload }) => {
      const message = JSON.parse(String(payload));
      if (message.type === 'subscribe') resumedAfter.push(message.payload.variables?.after ?? null);
    });
  });
  // Loaded again so that the listeners above see its first WebSocket too (the session
  // and the chosen store survive a reload).
  await page.reload();
  await page.getByRole('heading', { name: 'Today', level: 1 }).waitFor();
  const badge = page.getByRole('banner').getByRole('status');
  const feed = page.getByRole('list', { name: 'Payments as they arrive' });
  const line = (amount) => feed.getByRole('listitem').filter({ hasText: `Payment ${amount}` });
  await badge.filter({ hasText: 'Live' }).waitFor();

  await pay('ada@demo.c9pay', { Americano: 1 }); // ₩4,500, before the restart
  await line('₩4,500').waitFor();
  const lastBefore = received.at(-1);
  assert.ok(lastBefore, 'the payment came over the WebSocket');

  await platform.restart({ downMs: 1500 });
  await badge.filter({ hasText: 'Reconnecting…' }).waitFor();
  // Paid while the dashboard is still reconnecting: it can only arrive by resuming.
  await pay('grace@demo.c9pay', { 'Cafe latte': 1 }); // ₩5,000
  await badge.filter({ hasText: 'Live' }).waitFor({ timeout: 30000 });
  await line('₩5,000').waitFor({ timeout: 30000 });
  assert.ok(resumedAfter.includes(lastBefore), `a new subscription resumes after ${lastBefore} (subscriptions started after: ${JSON.stringify(resumedAfter)})`);

  await pay('ada@demo.c9pay', { Croissant: 1 }); // ₩3,800, once it is back
  await line('₩3,800').waitFor();
  await new Promise((resolve) => setTimeout(resolve, 2000)); // anything twice would show by now
  for (const amount of ['₩4,500', '₩5,000', '₩3,800']) assert.equal(await line(amount).count(), 1, `${amount} is shown once`);
  assert.equal(await feed.getByRole('listitem').count(), 3, 'three payments, nothing else');
  // The takings of the day count the three (₩13,300), from the server after the restart.
  await page.getByRole('region', { name: 'Sales today' }).getByText('3', { exact: true }).waitFor();
  // While the router was down, Chromium logged each refused connection to it; those are
  // the restart itself, not faults. Anything else still fails the test.
  const host = new URL(platform.origin).host;
  const refused = (problem) =>
    problem.includes(`WebSocket connection to 'ws://${host}/graphql' failed`) ||
    (problem.includes('net::ERR_CONNECTION_REFUSED') && problem.includes(platform.origin));
  problems.splice(0, problems.length, ...problems.filter((problem) => !refused(problem)));
  dashboard.check();
});
