// The core screens as records staff and a clerk use them: sign-in and
// the headers every answer carries, search with marked snippets, a
// document with the hit drawn over the word, paging, OCR text that is
// HTML, CSRF, unknown ids, and what a clerk may not open.
import path from 'node:path';
import { spawnSync } from 'node:child_process';

export default async function (t) {
  const { BASE, browser, check, sleep, axeScan, shot, signIn, dir } = t;
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  const page = await ctx.newPage();
  const dialogs = [];
  page.on('dialog', d => { dialogs.push(d.message()); d.dismiss(); });

  // Sign-in, with the headers every answer carries.
  const login = await page.goto(`${BASE}/login`);
  const h = login.headers();
  check(/script-src 'self'/.test(h['content-security-policy'] || '') &&
    !/unsafe-inline/.test(h['content-security-policy'] || ''),
    'Content-Security-Policy without inline script', h['content-security-policy']);
  check(h['cache-control'] === 'no-store', 'Cache-Control: no-store', h['cache-control']);
  await axeScan(page, 'sign-in');
  await shot(page, '01-sign-in');
  await page.fill('#user', 'rita');
  await page.fill('#password', 'wrong');
  await Promise.all([page.waitForNavigation(), page.click('form.login button')]);
  check(await page.isVisible('text=The user name or password is not right'), 'a wrong password is refused');
  await signIn(page, 'rita', 'rita-Secret-1');
  const cookie = (await ctx.cookies()).find(c => c.name === 'cv_session');
  check(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', 'session cookie is HttpOnly, SameSite=Strict');

  // Search, and a document with the hit drawn over the word on the image.
  await page.fill('#q', 'pneumothorax');
  await Promise.all([page.waitForNavigation(), page.click('form.search button')]);
  const results = await page.$$('ol.results > li');
  check(results.length >= 2, 'search finds the pneumothorax documents', `${results.length} results`);
  check((await page.$$('ol.results mark')).length > 0, 'snippets mark the hits');
  await axeScan(page, 'search');
  await shot(page, '02-search');
  await Promise.all([page.waitForNavigation(), page.click('ol.results > li >> nth=0 >> a')]);
  await page.waitForFunction(() => document.querySelector('#page img').complete &&
    document.querySelector('#page img').naturalWidth > 0);
  const box = await page.$('#page .hit');
  check(box !== null, 'the document view draws a hit box');
  if (box) {
    // Independent of the word list: read the pixels under the box.
    const r = await box.boundingBox();
    const crop = path.join(dir, 'hit.png');
    await page.screenshot({ path: crop, clip: { x: r.x - 2, y: r.y - 2, width: r.width + 4, height: r.height + 4 } });
    const ocr = spawnSync('tesseract', [crop, '-', '--psm', '7'], {
      encoding: 'utf8', env: { ...process.env, OMP_THREAD_LIMIT: '1' } });
    check(/pneumothora/i.test(ocr.stdout), 'the highlight box lies over the hit word', JSON.stringify(ocr.stdout.trim()));
  }
  check((await page.$$('pre.ocr mark')).length > 0, 'the OCR text beside the image marks the hits');
  await axeScan(page, 'document');
  await shot(page, '03-document');
  const next = await page.$('#next');
  if (next) {
    const before = await page.getAttribute('#page img', 'src');
    await Promise.all([page.waitForNavigation(), next.click()]);
    check((await page.getAttribute('#page img', 'src')) !== before && /p=2/.test(page.url()),
      'paging through shows the next page');
  } else {
    check(false, 'the first result has a next page');
  }

  // OCR text that is HTML stays text.
  await page.goto(`${BASE}/search?q=zebrafish`);
  await Promise.all([page.waitForNavigation(), page.click('ol.results > li >> nth=0 >> a')]);
  const text = await page.textContent('pre.ocr');
  check(/<script>alert/.test(text) && /onerror=alert/.test(text), 'markup in OCR text is shown as text');
  check((await page.$$('main script, main img[src="x"]')).length === 0, 'markup in OCR text creates no elements');
  await sleep(300);
  check(dialogs.length === 0, 'no script from OCR text ran', dialogs.join(' | '));
  await shot(page, '04-markup-page');

  // A state-changing request without the CSRF token is refused.
  const csrf = await page.evaluate(async () => {
    const r = await fetch('/logout', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'x=1' });
    return r.status;
  });
  check(csrf === 403, 'a POST without the CSRF token is refused', `status ${csrf}`);

  // Unknown document ids answer like forbidden ones.
  const unknown = await page.goto(`${BASE}/doc/999999`);
  check(unknown.status() === 404, 'an unknown document is not found');

  // A clerk has the batch screens and not the charts.
  const clerk = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
  await signIn(clerk, 'carl', 'carl-Secret-1');
  check(/\/batches$/.test(clerk.url()), 'a clerk lands on the batches');
  await axeScan(clerk, 'batches');
  await shot(clerk, '05-batches');
  await Promise.all([clerk.waitForNavigation(), clerk.click('table.grid a >> nth=0')]);
  await axeScan(clerk, 'batch');
  await shot(clerk, '06-batch');
  const denied = await clerk.goto(`${BASE}/search?q=pneumothorax`);
  check(denied.status() === 403, 'a clerk cannot search the charts', `status ${denied.status()}`);

  await ctx.close();
}
