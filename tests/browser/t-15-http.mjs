// Hostile HTTP, on raw sockets: what a scanner or a broken client may send
// the viewer. Each request gets a clean 4xx (never a 500, never a hang),
// nothing leaks past the archive's static assets, and the viewer still
// serves afterwards. The access log keeps paths, never query strings.
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';

// Send raw bytes; resolve with the status line's code (0: closed with no
// answer) and the answer's text.
function raw(port, bytes, { timeout = 10000, closeAfterSend = false } = {}) {
  return new Promise(resolve => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    const done = () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text });
    };
    sock.setTimeout(timeout, () => { sock.destroy(); done(); });
    sock.on('data', d => chunks.push(d));
    sock.on('error', () => {});
    sock.on('close', done);
    sock.on('connect', () => {
      // The server may answer and close before every byte is written.
      sock.write(bytes, () => { if (closeAfterSend) sock.end(); });
    });
  });
}

const clean4xx = s => s >= 400 && s < 500;

export default async function (t) {
  const { PORT, BASE, archive, check, password } = t;

  const cases = [
    ['a request line that is not HTTP', 'GARBAGE\r\n\r\n', s => clean4xx(s) || s === 0],
    ['a header larger than the limit',
      `GET /login HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(100 * 1024)}\r\n\r\n`, clean4xx],
    ['a URL of 100 KB', `GET /search?q=${'b'.repeat(100 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      clean4xx],
    ['a form body over 64 KiB',
      `POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
      `Content-Length: ${200 * 1024}\r\n\r\n${'u'.repeat(1024)}`, clean4xx],
    ['a body that is not a form',
      'POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n' +
      'Connection: close\r\n\r\n{}', clean4xx],
    ['a bad chunk size',
      'POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
      'Transfer-Encoding: chunked\r\n\r\nZZZ\r\nuser=a\r\n0\r\n\r\n', s => clean4xx(s) || s === 0],
    ['a path out of the static folder', 'GET /static/../../chartvault.key HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      s => s === 404 || s === 400],
    ['an encoded path out of the static folder',
      'GET /static/%2e%2e%2f%2e%2e%2fchartvault.key HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      s => s === 404 || s === 400],
    ['a NUL in the path', 'GET /static/style.css%00.png HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      s => s === 404 || s === 400],
    ['TRACE', 'TRACE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', s => s === 405],
    ['HTTP/1.1 with no Host', 'GET /login HTTP/1.1\r\nConnection: close\r\n\r\n', clean4xx],
  ];
  for (const [what, bytes, ok] of cases) {
    const r = await raw(PORT, bytes);
    check(ok(r.status) && !/chartvault key|BEGIN|"keys"/.test(r.text),
      `hostile HTTP: ${what} gets a clean refusal`, `status ${r.status}`);
  }

  // HEAD is a GET without a body.
  const head = await raw(PORT, 'HEAD /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  check(head.status === 200 && !/<form/.test(head.text), 'HEAD answers like GET, without a body',
    `status ${head.status}`);

  // Signed in, the same care: ids and words that are not what they seem.
  const login = await fetch(`${BASE}/login`, {
    method: 'POST', redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: `user=rita&password=${encodeURIComponent(password('rita'))}&next=%2Fsearch`,
  });
  const cookie = (login.headers.get('set-cookie') || '').split(';')[0];
  check(login.status === 303 && /^cv_session=/.test(cookie), 'signed in with a raw request',
    `status ${login.status}`);
  const probes = [
    ['/search?q=%ff%fe%00', s => s === 200 || s === 400],
    ['/search?q=' + encodeURIComponent("'; DROP TABLE pages; --"), s => s === 200],
    ['/search?q=' + encodeURIComponent('"unbalanced OR -'), s => s === 200 || s === 400],
    ['/doc/-1', s => s === 404],
    ['/doc/99999999999999999999999', s => s === 404],
    ['/doc/1e3', s => s === 404],
    ['/page/0.png', s => s === 404],
    ['/page/1.png?w=-5', s => s === 200 || s === 404],
    ['/page/1.png?w=99999999', s => s === 200 || s === 404],
  ];
  for (const [url, ok] of probes) {
    const r = await fetch(`${BASE}${url}`, { headers: { Cookie: cookie }, redirect: 'manual' });
    await r.arrayBuffer();
    check(ok(r.status), `hostile request ${url.slice(0, 40)} answers cleanly`, `status ${r.status}`);
  }

  // Still serving, and the access log never holds a query string.
  const after = await fetch(`${BASE}/login`);
  check(after.status === 200, 'the viewer still serves after the hostile requests');
  const log = fs.readFileSync(path.join(archive, 'logs', 'viewer-access.log'), 'utf8');
  check(log.includes('/search') && !/DROP TABLE|\?q=|%ff/i.test(log),
    'the access log keeps paths and no query strings');
  check(!/ 500 /.test(log), 'no request ended in a server error', log.split('\n').filter(l => / 500 /.test(l)).join(' | '));
}
