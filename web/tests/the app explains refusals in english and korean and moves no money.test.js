// Issue 10, "what must be shown" 4: refusals read well — an expired code, insufficient
// credit, a wrong password, a rate-limited log-in — each a human sentence in English and
// in Korean, and no money moves.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PASSWORD, cafeNine, launchBrowser, logInThroughApp, openPage, startPlatform, walletOf } from './harness.js';

const WORDS = {
  en: {
    email: 'Email',
    password: 'Password',
    logIn: 'Log in',
    scan: 'Scan',
    paste: 'Or paste the request code',
    next: 'Continue',
    wrongPassword: 'That email and password do not match. Check them and try again.',
    expired: 'This payment request has expired. Ask the store for a new one — nothing was charged.',
    insufficient: 'Not enough credit. Top up and try again — nothing was charged.',
    pay: /^Pay ₩/,
    rateLimited: /^Too many tries\. Wait \d+ (seconds|minutes) and try again\.$/,
  },
  ko: {
    email: '이메일',
    password: '비밀번호',
    logIn: '로그인',
    scan: '스캔',
    paste: '또는 결제 요청 코드 붙여 넣기',
    next: '계속',
    wrongPassword: '이메일 또는 비밀번호가 맞지 않아요. 확인하고 다시 시도해 주세요.',
    expired: '결제 요청의 시간이 지났어요. 매장에 새 요청을 받아 주세요. 결제된 금액은 없어요.',
    insufficient: '잔액이 부족해요. 충전하고 다시 시도해 주세요. 결제된 금액은 없어요.',
    pay: /결제하기$/,
    rateLimited: /^시도가 너무 많았어요\. \d+(초|분) 후에 다시 시도해 주세요\.$/,
  },
};

let platform;
let limited;
let browser;
before(async () => {
  platform = await startPlatform();
  // A platform whose log-in allows two tries per address and hour.
  limited = await startPlatform({
    routerConfig: '[rate_limits.fields."Mutation.logIn"]\nper_ip = { requests = 2, period_s = 3600 }\n',
  });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await platform?.stop();
  await limited?.stop();
});

async function wrongPassword(page, origin, w) {
  await page.goto(`${origin}/app`);
  await page.getByLabel(w.email).fill('ada@demo.c9pay');
  await page.getByLabel(w.password, { exact: true }).fill('not-the-password');
  await page.getByRole('button', { name: w.logIn, exact: true }).click();
}

for (const lang of ['en', 'ko']) {
  const w = WORDS[lang];

  test(`a wrong password is explained (${lang})`, async () => {
    const { page, check } = await openPage(browser, platform.origin, { lang });
    await wrongPassword(page, platform.origin, w);
    await page.getByRole('alert').filter({ hasText: w.wrongPassword }).waitFor();
    check();
  });

  test(`an expired request and insufficient credit are explained, and no money moves (${lang})`, async () => {
    const till = await cafeNine(platform.origin);
    const expired = (
      await till.gql('mutation($input: CreatePaymentRequestInput!) { createPaymentRequest(input: $input) { token } }', {
        input: { storeId: till.store.id, amount: '1000', expiresInSeconds: 1 },
      })
    ).createPaymentRequest.token;
    const tooMuch = await till.createRequest(90_000_000);
    await sleep(1500); // let the one-second request expire (waiting, not measuring)

    const { page, check } = await openPage(browser, platform.origin, { lang });
    await logInThroughApp(page, platform.origin, 'ada@demo.c9pay', { lang });
    const start = await walletOf(platform.origin, 'ada@demo.c9pay');

    await page.getByRole('link', { name: w.scan, exact: true }).click();
    await page.getByLabel(w.paste).fill(expired);
    await page.getByRole('button', { name: w.next }).click();
    await page.getByRole('alert').filter({ hasText: w.expired }).waitFor();
    assert.equal(await page.getByRole('button', { name: w.pay }).count(), 0);

    await page.goto(`${platform.origin}/app/scan`);
    await page.getByLabel(w.paste).fill(tooMuch);
    await page.getByRole('button', { name: w.next }).click();
    await page.getByRole('button', { name: w.pay }).click();
    await page.getByRole('alert').filter({ hasText: w.insufficient }).waitFor();

    assert.deepEqual(await walletOf(platform.origin, 'ada@demo.c9pay'), start, 'no money moved');
    check();
  });

  test(`a rate-limited log-in says when to try again (${lang})`, async () => {
    const { page, check } = await openPage(browser, limited.origin, { lang });
    // Wrong passwords until the platform stops counting them and refuses outright.
    for (let i = 0; i < 4; i++) {
      await wrongPassword(page, limited.origin, w);
      const alert = page.getByRole('alert').filter({ hasText: /./ });
      await alert.waitFor();
      if (w.rateLimited.test((await alert.textContent()).trim())) break;
    }
    assert.match((await page.getByRole('alert').filter({ hasText: /./ }).textContent()).trim(), w.rateLimited);
    // Even the right password waits now.
    await page.getByLabel(w.password, { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: w.logIn, exact: true }).click();
    await page.getByRole('alert').filter({ hasText: w.rateLimited }).waitFor();
    check();
  });
}
