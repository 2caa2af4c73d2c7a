// The viewer in a real browser: Debian's chromium driven by
// playwright-core, with axe-core scanning each screen. Run by `make check`
// (make browser): it builds a throwaway archive with its own private
// PostgreSQL, ingests a few sample pages and a page whose printed text is
// HTML, starts `chartvault serve`, and runs every t-*.mjs module here in
// name order against it. Screenshots go to $CV_SHOTS.
//
// A module exports one async function taking `t` (below). It makes the
// data it needs itself (its own batch, patients, users) and changes no
// one else's, so the modules can run alone: CV_BROWSER_ONLY=REGEX runs
// the modules whose file names match.
//
// Every check prints "ok" or "FAIL"; the exit status is the number of
// failures (capped), so make sees a failure.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  BIN, SRC, CHROMIUM, check, failed, sleep, cvIn, waitForServer, axeScan, shotter, signer,
} from './lib.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const SHOTS = process.env.CV_SHOTS || path.join(os.tmpdir(), 'chartvault-shots');
const ONLY = process.env.CV_BROWSER_ONLY ? new RegExp(process.env.CV_BROWSER_ONLY) : null;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cv-browser-'));
fs.chmodSync(dir, 0o711); // the private cluster's server user passes through
const archive = path.join(dir, 'archive');
const PORT = 20000 + (process.pid % 20000);
const BASE = `http://127.0.0.1:${PORT}`;

// Every user's password is NAME-Secret-1.
const USERS = [['rita', 'records'], ['carl', 'clerk'], ['cleo', 'compliance'],
  ['cora', 'compliance'], ['adam', 'admin']];

const t = {
  BIN, SRC, BASE, PORT, dir, archive, SHOTS,
  check, sleep, axeScan,
  cv: (args, env) => cvIn(archive, args, env),
  shot: shotter(SHOTS),
  signIn: signer(BASE),
  password: name => `${name}-Secret-1`,
  servers: [], // other servers a module starts, stopped at the end
  browser: null,
};

let server;
try {
  fs.mkdirSync(SHOTS, { recursive: true });
  const init = spawnSync(BIN, ['init', archive], { stdio: 'inherit' });
  if (init.status !== 0) throw new Error(`chartvault init: exit ${init.status}`);
  for (const [name, role] of USERS) {
    t.cv(['user', 'add', name, '--role', role]);
    t.cv(['user', 'passwd', name], { CHARTVAULT_NEW_PASSWORD: t.password(name) });
  }
  // The patient index first: a document of an unknown patient waits in
  // the exception queue, out of every chart and of search.
  t.cv(['patients', 'import', path.join(SRC, 'samples/patients.csv')]);
  t.cv(['patients', 'import', path.join(SRC, 'tests/browser/fixtures/markup-patient.csv')]);
  t.cv(['ingest', '--batch', 'browser', path.join(SRC, 'samples/batch/bundle-04.tif'),
    path.join(SRC, 'tests/browser/fixtures/markup-page.png')]);

  server = spawn(BIN, ['-C', archive, 'serve', '--listen', `127.0.0.1:${PORT}`],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  await waitForServer(BASE);
  t.browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });

  const modules = fs.readdirSync(HERE).filter(f => /^t-.*\.mjs$/.test(f)).sort()
    .filter(f => !ONLY || ONLY.test(f));
  for (const m of modules) {
    console.log(`# ${m}`);
    try {
      await (await import(path.join(HERE, m))).default(t);
    } catch (e) {
      check(false, `${m} ran to its end`, e.stack || String(e));
    }
  }
  await t.browser.close();
} catch (e) {
  check(false, 'the browser tests were set up', e.stack || String(e));
} finally {
  for (const p of [server, ...t.servers]) {
    if (!p || p.exitCode !== null) continue;
    p.kill('SIGTERM');
    await new Promise(res => p.once('exit', res));
  }
  spawnSync(BIN, ['-C', archive, 'db', 'stop'], { stdio: 'ignore' });
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(failed() ? `${failed()} browser check(s) failed` : 'all browser checks passed');
process.exit(Math.min(failed(), 100));
