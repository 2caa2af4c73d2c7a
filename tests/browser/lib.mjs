// What every browser test module shares: the checks' tally, the
// chartvault command, sign-in, axe scans and screenshots. run.mjs builds
// the archive and starts the viewer, then hands each t-*.mjs module a
// `t` object with these and the running session (see run.mjs).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const BIN = process.env.CV_BIN;
export const SRC = process.env.CV_SRCDIR;
export const CHROMIUM = process.env.CV_CHROMIUM || '/usr/bin/chromium';
const AXE = fs.readFileSync(
  path.join(path.dirname(new URL(import.meta.url).pathname),
    'node_modules/axe-core/axe.min.js'), 'utf8');

let failures = 0;
export function failed() { return failures; }

// One check: prints "ok" or "FAIL" with what was seen when it fails.
export function check(ok, what, extra) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${!ok && extra ? ': ' + extra : ''}`);
  if (!ok) failures++;
}

export function sleep(ms) { return new Promise(res => setTimeout(res, ms)); }

// chartvault -C ARCHIVE ARGS as root (the archive's admin); throws on a
// non-zero exit so a set-up step that fails is seen.
export function cvIn(archive, args, env = {}) {
  const r = spawnSync(BIN, ['-C', archive, ...args], {
    env: { ...process.env, ...env }, encoding: 'utf8',
  });
  if (r.status !== 0)
    throw new Error(`chartvault ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r.stdout;
}

export async function waitForServer(base, request = url => fetch(url)) {
  for (let i = 0; i < 100; i++) {
    try { await request(`${base}/login`); return; } catch { await sleep(100); }
  }
  throw new Error(`the viewer at ${base} did not start`);
}

// axe-core over the page as it is: no serious or critical violation.
export async function axeScan(page, name) {
  await page.evaluate(AXE); // evaluated by the driver: not subject to the page's CSP
  const res = await page.evaluate(async () => await window.axe.run());
  const bad = res.violations.filter(v => v.impact === 'serious' || v.impact === 'critical');
  check(bad.length === 0, `axe: no serious or critical violations on ${name}`,
    bad.map(v => `${v.id} (${v.impact}, ${v.nodes.length})`).join(', '));
}

export function shotter(dir) {
  return async (page, name) => {
    await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
  };
}

export function signer(defaultBase) {
  return async (page, user, password, base = defaultBase) => {
    await page.goto(`${base}/login`);
    await page.fill('#user', user);
    await page.fill('#password', password);
    await Promise.all([page.waitForNavigation(), page.click('form.login button')]);
  };
}
