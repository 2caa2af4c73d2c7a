// A second viewer over HTTPS (an openssl-made certificate) with a short
// idle time-out: HSTS, a Secure session cookie, and an idle session that
// is signed out for real.
import { spawn, spawnSync } from 'node:child_process';
import https from 'node:https';
import path from 'node:path';

export default async function (t) {
  const { BIN, archive, dir, PORT, browser, check, sleep, signIn } = t;
  const IDLE = 6; // seconds
  // HTTPS with a certificate: the same viewer, with Secure cookies and HSTS.
  const key = path.join(dir, 'tls.key'), crt = path.join(dir, 'tls.crt');
  const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes',
    '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=localhost'], { encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`openssl: ${gen.stderr}`);
  const TPORT = PORT + 1;
  const tls = spawn(BIN, ['-C', archive, '-c', `viewer.idle_timeout=${IDLE}`, 'serve',
    '--listen', `127.0.0.1:${TPORT}`, '--tls-cert', crt, '--tls-key', key],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  t.servers.push(tls);
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

  // An idle session ends.
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await ctx.newPage();
  await signIn(page, 'rita', 'rita-Secret-1', `https://127.0.0.1:${TPORT}`);
  check(/\/search/.test(page.url()), 'signed in over HTTPS', page.url());
  await sleep((IDLE + 2) * 1000);
  await page.goto(`https://127.0.0.1:${TPORT}/search`);
  check(/\/login/.test(page.url()), 'an idle session is signed out', page.url());
  await ctx.close();
}
