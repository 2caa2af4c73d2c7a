// The compliance screens as compliance officers use them, on records of
// this module's own: three patients (fixtures/compliance-patients.csv,
// MRNs 9007770x) with one back-dated progress note each. Cleo proposes
// destroying two of them (chosen by hand, so no other module's record
// can be taken), her own approval is refused, Cora approves, a hold
// placed through the screen after approval keeps one, execution destroys
// the other and the certificate verifies. Before that, Rita (records)
// reads the third, and the "who looked at this chart" report names her.
// Clerks and records staff get 403 on every compliance screen.
import fs from 'node:fs';
import path from 'node:path';

const MRN_A = '90077701'; // proposed, approved, destroyed
const MRN_B = '90077702'; // proposed, approved, then held: survives
const MRN_C = '90077703'; // never proposed; Rita reads it

const SCREENS = ['/compliance', '/compliance/retention', '/compliance/holds',
  '/compliance/destruction', '/compliance/destruction/1', '/compliance/certificates',
  '/compliance/certificates/1', '/compliance/certificates/1/pdf', '/compliance/audit',
  `/compliance/audit/patient?mrn=${MRN_C}`];

export default async function (t) {
  const { BASE, browser, check, axeScan, shot, signIn, password, SRC, dir, archive } = t;
  const fx = path.join(SRC, 'tests/browser/fixtures');

  // Our own patients and batch, with encounters long ago.
  const batchDir = path.join(dir, 'compliance-batch');
  fs.mkdirSync(batchDir, { recursive: true });
  const rows = [['compliance-page-1.png', MRN_A, '2009-04-02'],
    ['compliance-page-2.png', MRN_B, '2010-06-10'],
    ['compliance-page-3.png', MRN_C, '2011-01-05']];
  for (const [f] of rows) fs.copyFileSync(path.join(fx, f), path.join(batchDir, f));
  fs.writeFileSync(path.join(batchDir, 'manifest.csv'),
    'file,mrn,document_type,service_date,box,folder\n' +
    rows.map(([f, m, d], i) => `${f},${m},11506-3,${d},0770,C-${i + 1}\n`).join(''));
  t.cv(['patients', 'import', path.join(fx, 'compliance-patients.csv')]);
  const rep = JSON.parse(t.cv(['ingest', '--json', '--batch', 'compliance-browser',
    '--manifest', path.join(batchDir, 'manifest.csv'), ...rows.map(([f]) => path.join(batchDir, f))]));
  const docOf = mrn => {
    const d = (rep.documents || []).find(x => x.mrn === mrn);
    if (!d) throw new Error(`ingest made no document for ${mrn}`);
    return d.id;
  };
  const A = docOf(MRN_A), B = docOf(MRN_B), C = docOf(MRN_C);
  t.cv(['retention', 'set', '--file', path.join(SRC, 'data/retention-presets.ini'), '--schedule', 'ahima']);
  t.cv(['patients', 'event', '--mrn', MRN_A, '--encounter', '2009-04-01', '--discharge', '2009-04-05']);
  t.cv(['patients', 'event', '--mrn', MRN_B, '--encounter', '2010-06-01', '--discharge', '2010-06-12']);
  t.cv(['patients', 'event', '--mrn', MRN_C, '--encounter', '2011-01-01']);

  // Clerks and records staff may open none of the compliance screens.
  for (const user of ['carl', 'rita']) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await signIn(page, user, password(user));
    const bad = [];
    for (const s of SCREENS) {
      const res = await page.goto(`${BASE}${s}`);
      if (res.status() !== 403) bad.push(`${s}: ${res.status()}`);
    }
    check(bad.length === 0, `${user} gets 403 on every compliance screen`, bad.join(', '));
    check(!(await page.isVisible('header nav >> text=Compliance')), `${user}'s menu has no Compliance item`);
    if (user === 'rita') {
      // Rita reads C's record: the report below must name her.
      const res = await page.goto(`${BASE}/doc/${C}`);
      check(res.status() === 200, 'rita opens the third patient\'s document', String(res.status()));
    }
    await ctx.close();
  }

  const cleoCtx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  const cleo = await cleoCtx.newPage();
  await signIn(cleo, 'cleo', password('cleo'));
  check(await cleo.isVisible('header nav >> text=Compliance'), 'the menu offers Compliance to a compliance officer');

  await cleo.goto(`${BASE}/compliance`);
  check(/record\(s\) due for destruction/.test(await cleo.textContent('main')), 'the overview counts the records due');
  await axeScan(cleo, 'compliance overview');
  await shot(cleo, '50-compliance-overview');

  // The records due: all three of ours, with rule and anchor.
  await cleo.goto(`${BASE}/compliance/retention`);
  const dueIds = await cleo.$$eval('main table >> nth=0 >> tbody tr td:nth-child(2)',
    tds => tds.map(td => td.textContent.trim()));
  check([A, B, C].every(id => dueIds.includes(String(id))), 'the due list has our three records',
    `${A},${B},${C} in ${dueIds.join(',')}`);
  const rowA = await cleo.textContent(`tr:has(#doc-${A})`);
  check(/ahima-adult/.test(rowA) && /2019-04-05/.test(rowA) && /discharge 2009-04-05/.test(rowA),
    'a due record shows its rule, its anchors and its date', rowA);
  await axeScan(cleo, 'retention due');
  await shot(cleo, '50-compliance-retention');

  // Propose: an empty selection proposes nothing (never "everything").
  await Promise.all([cleo.waitForNavigation(), cleo.click('text=Propose a destruction batch')]);
  check(/Select the records to destroy first/.test(await cleo.textContent('main')),
    'proposing with nothing selected is refused');
  await cleo.check(`#doc-${A}`);
  await cleo.check(`#doc-${B}`);
  await Promise.all([cleo.waitForNavigation(), cleo.click('text=Propose a destruction batch')]);
  const m = /\/compliance\/destruction\/(\d+)/.exec(cleo.url());
  check(m !== null, 'the proposal opens its batch', cleo.url());
  const batch = m ? m[1] : '0';
  const inBatch = await cleo.$$eval('main table tbody tr td:first-child', tds => tds.map(td => td.textContent.trim()));
  check(inBatch.length === 2 && inBatch.includes(String(A)) && inBatch.includes(String(B)),
    'the batch holds exactly the two records chosen', inBatch.join(','));

  // Cleo may not approve her own proposal: the index refuses it.
  await Promise.all([cleo.waitForNavigation(), cleo.click('text=Approve the destruction of these records')]);
  const refusal = await cleo.textContent('[role=alert]').catch(() => '');
  check(/another person must approve/.test(refusal), 'the proposer\'s approval is refused with the two-person rule', refusal);
  await axeScan(cleo, 'destruction batch (refused approval)');
  await shot(cleo, '50-compliance-batch-refused');

  // A POST without the session's CSRF token is refused.
  const noToken = await cleo.evaluate(async b => (await fetch(`/compliance/destruction/${b}/approve`,
    { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'x=1' })).status, batch);
  check(noToken === 403, 'an approval without the CSRF token is refused', String(noToken));

  // An administrator may execute but never approve, as on the command line.
  const adamCtx = await browser.newContext();
  const adam = await adamCtx.newPage();
  await signIn(adam, 'adam', password('adam'));
  await adam.goto(`${BASE}/compliance/destruction/${batch}`);
  check(!(await adam.isVisible('text=Approve the destruction of these records')) &&
    await adam.isVisible('text=Only a compliance officer approves destruction'),
    'an administrator is offered no approval');
  const adamPost = await adam.evaluate(async b => {
    const csrf = document.querySelector('input[name=csrf]').value;
    return (await fetch(`/compliance/destruction/${b}/approve`, { method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `csrf=${encodeURIComponent(csrf)}` })).status;
  }, batch);
  check(adamPost === 403, 'an administrator\'s approval is refused by role', String(adamPost));
  await adamCtx.close();

  // Cora approves.
  const coraCtx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const cora = await coraCtx.newPage();
  await signIn(cora, 'cora', password('cora'));
  await cora.goto(`${BASE}/compliance/destruction/${batch}`);
  await Promise.all([cora.waitForNavigation(), cora.click('text=Approve the destruction of these records')]);
  check(/approved/.test(await cora.textContent('p.state')) && /cora/.test(await cora.textContent('dl.facts')),
    'a second compliance officer approves', await cora.textContent('p.state'));
  await coraCtx.close();

  // A hold placed through the screen after approval keeps B.
  await cleo.goto(`${BASE}/compliance/holds`);
  await cleo.selectOption('#scope', 'document');
  await cleo.fill('#target', String(B));
  await cleo.fill('#matter', 'Browser v. Test, case 50');
  await cleo.fill('#reason', 'litigation hold placed after approval');
  await Promise.all([cleo.waitForNavigation(), cleo.click('text=Place the hold')]);
  const holdRow = await cleo.textContent(`main table tbody tr:has-text("Browser v. Test, case 50")`).catch(() => '');
  check(/Active/.test(holdRow), 'the hold is listed as active', holdRow);
  await axeScan(cleo, 'holds');
  await shot(cleo, '50-compliance-holds');
  await cleo.goto(`${BASE}/compliance/retention`);
  check(await cleo.isVisible(`main table >> nth=1 >> text=${MRN_B}`), 'the held record is marked held on the due list');

  // Execute.
  await cleo.goto(`${BASE}/compliance/destruction/${batch}`);
  check(/under hold \d+ now: it will be kept/.test(await cleo.textContent(`main table tbody tr:has-text("${MRN_B}")`)),
    'the batch shows the record held since approval will be kept');
  await cleo.fill('#facility', 'Riverbend General Hospital');
  await cleo.fill('#manager', 'Dana Manager');
  await axeScan(cleo, 'destruction batch (approved)');
  await shot(cleo, '50-compliance-batch-approved');
  await Promise.all([cleo.waitForNavigation({ timeout: 120000 }), cleo.click(`text=Execute destruction batch ${batch}`)]);
  const state = await cleo.textContent('p.state');
  check(/executed/.test(state), 'the batch is executed', state);
  const rowsAfter = await cleo.$$eval('main table tbody tr', trs => trs.map(tr => tr.textContent));
  check(rowsAfter.some(r => r.includes(String(A)) && /destroyed/.test(r)), 'record A is destroyed', rowsAfter.join(' | '));
  check(rowsAfter.some(r => r.includes(String(B)) && /held/.test(r)), 'record B, held after approval, is kept', rowsAfter.join(' | '));
  await shot(cleo, '50-compliance-batch-executed');
  check((await cleo.goto(`${BASE}/doc/${A}`)).status() === 404, 'the destroyed record no longer opens');
  check((await cleo.goto(`${BASE}/doc/${B}`)).status() === 200, 'the held record still opens');
  check((await cleo.goto(`${BASE}/doc/${C}`)).status() === 200, 'the record never proposed is untouched');

  // The hold has done its work; releasing it takes a reason.
  await cleo.goto(`${BASE}/compliance/holds`);
  const holdForm = cleo.locator('main table tbody tr:has-text("Browser v. Test, case 50") form');
  await holdForm.locator('input[name=reason]').fill('matter closed');
  await Promise.all([cleo.waitForNavigation(), holdForm.locator('button').click()]);
  const released = await cleo.textContent(`main table tbody tr:has-text("Browser v. Test, case 50")`);
  check(/Released by cleo/.test(released) && /matter closed/.test(released), 'a hold is released with its reason', released);

  await cleo.goto(`${BASE}/compliance/destruction`);
  await axeScan(cleo, 'destruction batches');
  await shot(cleo, '50-compliance-destruction');

  // The certificate appears and verifies; both files download.
  await cleo.goto(`${BASE}/compliance/certificates`);
  check(await cleo.isVisible(`a[href="/compliance/certificates/${batch}"]`), 'the certificate is listed');
  await axeScan(cleo, 'certificates');
  await shot(cleo, '50-compliance-certificates');
  await cleo.goto(`${BASE}/compliance/certificates/${batch}`);
  const verdict = await cleo.textContent('main');
  check(/Verified: the signature is the archive's/.test(verdict), 'the certificate verifies on its screen',
    verdict.slice(0, 300));
  check(/Riverbend General Hospital/.test(verdict) && /Crypto Erase/.test(verdict), 'the certificate shows its AHIMA and NIST fields');
  await axeScan(cleo, 'certificate');
  await shot(cleo, '50-compliance-certificate');
  for (const kind of ['pdf', 'json']) {
    const [dl] = await Promise.all([cleo.waitForEvent('download'),
      cleo.click(`a[href="/compliance/certificates/${batch}/${kind}"]`)]);
    const file = path.join(dir, `cert-${batch}.${kind}`);
    await dl.saveAs(file);
    const bytes = fs.readFileSync(file);
    if (kind === 'pdf') {
      check(bytes.subarray(0, 5).toString() === '%PDF-', 'the certificate downloads as a PDF');
    } else {
      let ok = false;
      try { ok = JSON.parse(bytes).certificate.type === 'certificate-of-destruction'; } catch { ok = false; }
      check(ok, 'the certificate downloads as its signed JSON');
      // The command line agrees (it exits non-zero, and t.cv throws, if not).
      t.cv(['certificate', 'verify', file]);
      check(true, 'certificate verify passes on the downloaded JSON');
    }
  }
  // A changed byte in the certificate file makes its screen say so.
  const certFile = path.join(archive, 'certificates', `destruction-${batch}.json`);
  const original = fs.readFileSync(certFile);
  const changed = Buffer.from(original);
  const at = changed.indexOf('Dana Manager');
  changed[at] = 'X'.charCodeAt(0);
  fs.writeFileSync(certFile, changed);
  await cleo.goto(`${BASE}/compliance/certificates/${batch}`);
  const tampered = await cleo.textContent('main');
  check(/does NOT verify/.test(tampered) && /signature does not verify/.test(tampered),
    'a changed certificate file fails verification on its screen', tampered.slice(0, 300));
  await shot(cleo, '50-compliance-certificate-tampered');
  fs.writeFileSync(certFile, original);

  const exports = JSON.parse(t.cv(['audit', 'show', '--user', 'cleo', '--action', 'certificate.export', '--json']));
  check(exports.length >= 2, 'both downloads are audited', `${exports.length} rows`);
  check(fs.existsSync(path.join(archive, 'certificates', `destruction-${batch}.json`)),
    'the certificate file is written into the archive');

  // The audit trail: verify, filter, page.
  await cleo.goto(`${BASE}/compliance/audit`);
  await Promise.all([cleo.waitForNavigation(), cleo.click('text=Verify the audit trail now')]);
  check(/passed/.test(await cleo.textContent('dl.facts')), 'audit verify passes from the screen',
    await cleo.textContent('dl.facts'));
  const cpBefore = await cleo.textContent('dl.facts dd >> nth=1');
  await Promise.all([cleo.waitForNavigation(), cleo.click('text=Sign a checkpoint now')]);
  const cpAfter = await cleo.textContent('dl.facts dd >> nth=1');
  check(/checkpoint of the chain's head was signed/.test(await cleo.textContent('main')) && cpAfter !== cpBefore,
    'a checkpoint is signed from the screen', `${cpBefore} -> ${cpAfter}`);
  await cleo.fill('#user', 'cora');
  await Promise.all([cleo.waitForNavigation(), cleo.click('text=Filter')]);
  const actions = await cleo.$$eval('main table tbody tr td:nth-child(5)', tds => tds.map(td => td.textContent));
  check(actions.includes('destroy.approve'), 'the trail filtered by user shows cora\'s approval', actions.join(','));
  await axeScan(cleo, 'audit trail');
  await shot(cleo, '50-compliance-audit');

  // Who looked at C's chart: Rita, with the document she opened.
  await cleo.goto(`${BASE}/compliance/audit`);
  await cleo.fill('#report-mrn', MRN_C);
  await Promise.all([cleo.waitForNavigation(), cleo.click('text=Show the report')]);
  const ritaRow = await cleo.textContent('main table >> nth=0 >> tr:has(th:text-is("rita"))').catch(() => '');
  check(/records/.test(ritaRow), 'the who-looked report lists rita', ritaRow);
  const ritaDocs = await cleo.textContent('table:has(caption:text-is("What rita did"))').catch(() => '');
  check(ritaDocs.includes(`Document ${C}`) && /document\.view/.test(ritaDocs),
    'the report shows which document rita viewed', ritaDocs);
  await axeScan(cleo, 'who looked at this chart');
  await shot(cleo, '50-compliance-who-looked');

  // Leave nothing of ours due and unheld for a later module that
  // proposes everything due: hold our scan batch.
  await cleo.goto(`${BASE}/compliance/holds`);
  await cleo.selectOption('#scope', 'batch');
  await cleo.fill('#target', 'compliance-browser');
  await cleo.fill('#matter', 'browser tests: keep');
  await cleo.fill('#reason', 'the rest of this module\'s records stay');
  await Promise.all([cleo.waitForNavigation(), cleo.click('text=Place the hold')]);
  await cleo.goto(`${BASE}/compliance/retention`);
  check(!(await cleo.isVisible(`#doc-${B}`)) && !(await cleo.isVisible(`#doc-${C}`)),
    'a hold on the scan batch takes its records off the due list');
  await cleoCtx.close();
}
