// The viewer in a real browser: Debian's chromium driven by
// playwright-core, with axe-core scanning each screen. Run by `make check`
// (make browser): it builds a throwaway archive with its own private
// PostgreSQL, ingests a few sample pages and a page whose printed text is
// HTML, starts `chartvault serve`, and walks through the screens as
// records staff and a clerk would. Screenshots go to $CV_SHOTS.
//
// Every check prints "ok" or "FAIL"; the exit status is the number of
// failures (capped), so make sees a failure.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { chromium } from 'playwright-core';

const BIN = process.env.CV_BIN;
const SRC = process.env.CV_SRCDIR;
const SHOTS = process.env.CV_SHOTS || path.join(os.tmpdir(), 'chartvault-shots');
const CHROMIUM = process.env.CV_CHROMIUM || '/usr/bin/chromium';
const AXE = fs.readFileSync(
  path.join(path.dirname(new URL(import.meta.url).pathname),
    'node_modules/axe-core/axe.min.js'), 'utf8');

let failures = 0;
function check(ok, what, extra) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${!ok && extra ? ': ' + extra : ''}`);
  if (!ok) failures++;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cv-browser-'));
fs.chmodSync(dir, 0o711); // the private cluster's server user passes through
const archive = path.join(dir, 'archive');
const PORT = 20000 + (process.pid % 20000);
const BASE = `http://127.0.0.1:${PORT}`;
const IDLE = 6; // seconds: the idle sign-out is tested for real

function cv(args, env = {}) {
  const r = spawnSync(BIN, ['-C', archive, ...args], {
    env: { ...process.env, ...env }, encoding: 'utf8',
  });
  if (r.status !== 0)
    throw new Error(`chartvault ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r.stdout;
}

function sleep(ms) { return new Promise(res => setTimeout(res, ms)); }

async function waitForServer() {
  for (let i = 0; i < 100; i++) {
    try { await fetch(`${BASE}/login`); return; } catch { await sleep(100); }
  }
  throw new Error('the viewer did not start');
}

async function axeScan(page, name) {
  await page.evaluate(AXE); // evaluated by the driver: not subject to the page's CSP
  const res = await page.evaluate(async () => await window.axe.run());
  const bad = res.violations.filter(v => v.impact === 'serious' || v.impact === 'critical');
  check(bad.length === 0, `axe: no serious or critical violations on ${name}`,
    bad.map(v => `${v.id} (${v.impact}, ${v.nodes.length})`).join(', '));
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function signIn(page, user, password) {
  await page.goto(`${BASE}/login`);
  await page.fill('#user', user);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation(), page.click('form.login button')]);
}

let server, tls;
try {
  fs.mkdirSync(SHOTS, { recursive: true });
  const init = spawnSync(BIN, ['init', archive], { stdio: 'inherit' });
  if (init.status !== 0) throw new Error(`chartvault init: exit ${init.status}`);
  for (const [name, role] of [['rita', 'records'], ['carl', 'clerk']]) {
    cv(['user', 'add', name, '--role', role]);
    cv(['user', 'passwd', name], { CHARTVAULT_NEW_PASSWORD: `${name}-Secret-1` });
  }
  // The patient index first: a document of an unknown patient waits in
  // the exception queue, out of every chart and of search.
  cv(['patients', 'import', path.join(SRC, 'samples/patients.csv')]);
  cv(['patients', 'import', path.join(SRC, 'tests/browser/fixtures/markup-patient.csv')]);
  cv(['ingest', '--batch', 'browser', path.join(SRC, 'samples/batch/bundle-04.tif'),
    path.join(SRC, 'tests/browser/fixtures/markup-page.png')]);

  server = spawn(BIN, ['-C', archive, '-c', `viewer.idle_timeout=${IDLE}`,
    'serve', '--listen', `127.0.0.1:${PORT}`], { stdio: ['ignore', 'inherit', 'inherit'] });
  await waitForServer();

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
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

  // An idle session ends.
  await sleep((IDLE + 2) * 1000);
  await page.goto(`${BASE}/search`);
  check(/\/login/.test(page.url()), 'an idle session is signed out', page.url());

  await browser.close();

  // HTTPS with a certificate: the same viewer, with Secure cookies and HSTS.
  const key = path.join(dir, 'tls.key'), crt = path.join(dir, 'tls.crt');
  const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes',
    '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=localhost'], { encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`openssl: ${gen.stderr}`);
  const TPORT = PORT + 1;
  tls = spawn(BIN, ['-C', archive, 'serve', '--listen', `127.0.0.1:${TPORT}`,
    '--tls-cert', crt, '--tls-key', key], { stdio: ['ignore', 'inherit', 'inherit'] });
  const request = (method, p, body) => new Promise((res, rej) => {
    const req = https.request({ host: '127.0.0.1', port: TPORT, path: p, method,
      rejectUnauthorized: false,
      headers: body ? { 'Content-Type': 'application/x-www-form-urlencoded',
        'Content-Length': Buffer.byteLength(body) } : {} }, r => {
      r.resume(); r.on('end', () => res(r));
    });
    req.on('error', rej);
    if (body) req.write(body);
    req.end();
  });
  let hello = null;
  for (let i = 0; i < 100 && !hello; i++) {
    try { hello = await request('GET', '/login'); } catch { await sleep(100); }
  }
  check(hello && hello.statusCode === 200 &&
    /max-age=/.test(hello.headers['strict-transport-security'] || ''),
    'HTTPS serves the sign-in page with Strict-Transport-Security');
  const tlsLogin = await request('POST', '/login', 'user=rita&password=rita-Secret-1&next=%2Fsearch');
  const setCookie = (tlsLogin.headers['set-cookie'] || []).join(';');
  check(tlsLogin.statusCode === 303 && /;\s*Secure/.test(setCookie) && /HttpOnly/.test(setCookie),
    'under TLS the session cookie is Secure', `${tlsLogin.statusCode} ${setCookie}`);
} catch (e) {
  console.log(`FAIL ${e.stack || e}`);
  failures++;
} finally {
  for (const p of [server, tls]) {
    if (!p) continue;
    p.kill('SIGTERM');
    await new Promise(res => p.once('exit', res));
  }
  spawnSync(BIN, ['-C', archive, 'db', 'stop'], { stdio: 'ignore' });
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(failures ? `${failures} browser check(s) failed` : 'all browser checks passed');
process.exit(Math.min(failures, 100));
