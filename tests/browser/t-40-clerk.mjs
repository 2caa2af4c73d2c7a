// The clerk screens: the batches as the clerk's home, a batch's report
// linking to its QA pages and queue documents, the QA queue (accept and
// rescan), and the exception queue worked by records staff (the CLI's
// roles: `qa` is anyone's, `queue` records staff's): both identities of
// the samples' seeded misfile, merge, split, move a page, reject, assign
// a patient found with the picker and a type, and file. Every effect is
// checked with the chartvault command, not only on the screen.
//
// Its own batch: a copy of the seeded-misfile bundle (bytes appended, so
// the archive does not take it for the file the set-up ingested), two
// sample pages made too dark and too light for the quality check, and a page
// of a patient the patient index does not know, rendered by Chromium.
import fs from 'node:fs';
import path from 'node:path';

const BATCH = 't40-clerk';
const TESTCASE = '90002718'; // the misfiled page's own patient (samples)

// A sample page scanned too dark (paper at mid grey) or too light (ink
// at light grey), as the quality check flags them.
async function degrade(page, src, dst, dark) {
  const b64 = fs.readFileSync(src).toString('base64');
  const out = await page.evaluate(async ([b64, dark]) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + b64;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height);
    for (let i = 0; i < d.data.length; i += 4) {
      const v = dark ? Math.round(d.data[i] * 0.5) : 162 + Math.round(d.data[i] * 93 / 255);
      d.data[i] = d.data[i + 1] = d.data[i + 2] = v;
    }
    g.putImageData(d, 0, 0);
    return c.toDataURL('image/png').split(',')[1];
  }, [b64, dark]);
  fs.writeFileSync(dst, Buffer.from(out, 'base64'));
}

// A page of someone the hospital's patient index does not know.
async function unknownPatientPage(browser, dst) {
  const ctx = await browser.newContext({ viewport: { width: 1275, height: 1650 }, deviceScaleFactor: 2 });
  const p = await ctx.newPage();
  await p.setContent(`<!doctype html><html><body style="margin:90px;font:22px 'Liberation Serif',serif;color:#000;background:#fff">
    <p>Riverbend General Hospital — Health Information Management</p>
    <p>Patient: QUILLFEATHER, ZEPHYRINE &nbsp;&nbsp; MRN: 90009917 &nbsp;&nbsp; DOB: 03/14/1961</p>
    <h1 style="font-size:30px">PROGRESS NOTE</h1>
    <p>Date of service: 04/02/2025</p><p>Author: Ilse Marrow, MD</p>
    <p>Subjective: Seen for follow-up of hypertension. No chest pain, no shortness of breath.</p>
    <p>Objective: blood pressure 138/84, heart rate 72, weight stable. Lungs clear.</p>
    <p>Assessment and Plan: Essential hypertension, improving on lisinopril 10 mg daily.
    Continue the current dose, recheck the basic metabolic panel in three months.</p>
    <p>Electronically signed by Ilse Marrow, MD on 04/02/2025.</p>
    <p style="margin-top:400px">Page 1 of 1</p></body></html>`);
  await p.screenshot({ path: dst });
  await ctx.close();
}

function json(t, args) { return JSON.parse(t.cv([...args, '--json'])); }

export default async function (t) {
  const { BASE, SRC, browser, check, axeScan, shot, signIn, password, dir } = t;

  // --- the batch ------------------------------------------------------
  const data = path.join(dir, 't40');
  fs.mkdirSync(data);
  const bundle = path.join(data, 'a-bundle-04-copy.tif');
  fs.copyFileSync(path.join(SRC, 'samples/batch/bundle-04.tif'), bundle);
  fs.appendFileSync(bundle, 't-40-clerk: a copy with bytes of its own');
  const work = await (await browser.newContext()).newPage();
  await degrade(work, path.join(SRC, 'samples/batch/scan-0007.png'), path.join(data, 'b-dark-0007.png'), true);
  await degrade(work, path.join(SRC, 'samples/batch/scan-0009.png'), path.join(data, 'c-light-0009.png'), false);
  await work.context().close();
  await unknownPatientPage(browser, path.join(data, 'd-unknown-patient.png'));
  const rep = JSON.parse(t.cv(['ingest', '--batch', BATCH, '--json', data], { OMP_THREAD_LIMIT: '1' }));
  const batchId = rep.batch_id;

  const mine = () => json(t, ['queue', 'list']).filter(q => q.batch_id === batchId);
  const queued = mine();
  const mis = queued.find(q => /misfile/.test(q.reasons) && q.mrn === TESTCASE);
  const unk = queued.find(q => /unknown-patient/.test(q.reasons) &&
    json(t, ['queue', 'show', String(q.document)]).pages.some(p => /d-unknown-patient\.png$/.test(p.file)));
  check(mis, 'the seeded misfile of the copied bundle waits in the queue', JSON.stringify(queued));
  check(unk, 'the page of a patient not in the index waits in the queue', JSON.stringify(queued));
  check(mis && mis.batch === BATCH && /TESTCASE, BRIMLEY \(90002718\)/.test(mis.suspected || '') &&
    mis.patient === 'TESTCASE, BRIMLEY', 'queue list names the batch, who the pages say and who is assigned',
  JSON.stringify(mis));
  const qa = json(t, ['qa', 'list', '--batch', String(batchId)]);
  check(qa.length >= 2 && qa.every(p => /too-(dark|light)/.test(p.flags)), 'the too dark and too light pages wait for QA',
    JSON.stringify(qa.map(p => [p.page, p.flags])));
  if (!mis || !unk || qa.length < 2) return;

  // --- the clerk: batches, a batch, the QA queue ------------------------
  const cctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const clerk = await cctx.newPage();
  await signIn(clerk, 'carl', password('carl'));
  check(/\/batches$/.test(clerk.url()), 'the batches are the clerk\'s home');
  const row = clerk.locator('table.batches tr', { hasText: BATCH });
  const cells = await row.locator('td').allTextContents();
  check(cells.some(c => new RegExp(`^${qa.length} waiting$`).test(c)), 'the batch row counts the pages waiting for QA',
    cells.join(' | '));
  check(cells.some(c => new RegExp(`^${queued.length} waiting$`).test(c)),
    'the batch row counts the documents waiting in the queue', cells.join(' | '));
  check((await row.locator('a[href^="/queue"]').count()) === 0, 'a clerk gets counts of the queue, not links into it');
  await axeScan(clerk, 'batches (clerk home)');
  await shot(clerk, '40-batches');

  await Promise.all([clerk.waitForNavigation(), row.locator('th a').click()]);
  check(await clerk.locator(`a[href="/qa?batch=${batchId}"]`).count() === 1, 'the batch report links to its QA queue');
  for (const p of qa)
    check(await clerk.locator(`a[href="/qa/${p.page}"]`).count() === 1, `the batch report links to QA page ${p.page}`);
  check(await clerk.isVisible(`text=Document ${mis.document}`), 'the batch report lists its queue documents');
  await axeScan(clerk, 'batch report');
  await shot(clerk, '40-batch');

  await Promise.all([clerk.waitForNavigation(), clerk.click('header nav >> text=QA')]);
  check(/\/qa$/.test(clerk.url()), 'the menu has the QA queue');
  await clerk.waitForFunction(() => [...document.querySelectorAll('img.qathumb')].every(i => i.complete));
  const thumbs = await clerk.$$eval('img.qathumb', imgs => imgs.map(i => [i.getAttribute('src'), i.naturalWidth]));
  for (const p of qa) {
    const th = thumbs.find(([src]) => src === `/qa/page/${p.page}.png?w=240`);
    check(th && th[1] > 0, `the QA list shows page ${p.page} as a thumbnail`, JSON.stringify(thumbs));
  }
  await axeScan(clerk, 'QA queue');
  await shot(clerk, '40-qa-list');

  const [good, bad] = qa;
  await clerk.goto(`${BASE}/qa/${good.page}`);
  await clerk.waitForFunction(() => [...document.querySelectorAll('.qaview img')].every(i => i.complete));
  const imgs = await clerk.$$eval('.qaview img', l => l.map(i => [i.getAttribute('src'), i.naturalWidth]));
  check(imgs.length === 2 && imgs.every(([, w]) => w > 0) && imgs.some(([src]) => src.startsWith('/qa/scan/')),
    'the QA page shows the page as scanned and as cleaned', JSON.stringify(imgs));
  check(/too (dark|light)/.test(await clerk.textContent('.side dl')), 'the QA page shows its flags');
  await axeScan(clerk, 'QA page');
  await shot(clerk, '40-qa-page');
  const note = 'faint but legible <img src=x onerror=alert(1)>';
  await clerk.fill('#note', note);
  await Promise.all([clerk.waitForNavigation(), clerk.click('button[value=accept]')]);
  check(/\/qa\?done=accepted/.test(clerk.url()) && await clerk.isVisible(`text=Page ${good.page} accepted`),
    'accepting goes back to the queue and says so', clerk.url());
  await clerk.goto(`${BASE}/qa/${bad.page}`);
  await clerk.fill('#note', 'too faint: scan again darker');
  await Promise.all([clerk.waitForNavigation(), clerk.click('button[value=rescan]')]);
  const after = json(t, ['qa', 'list', '--batch', String(batchId)]);
  check(!after.some(p => p.page === good.page), 'the accepted page has left the QA queue', JSON.stringify(after));
  const r = after.find(p => p.page === bad.page);
  check(r && r.qa_state === 'rescan' && r.qa_by === 'carl' && r.qa_note === 'too faint: scan again darker',
    'the page marked for rescan waits for its rescan, decided by carl with the note', JSON.stringify(r));
  const g = json(t, ['qa', 'show', String(good.page)]);
  check(g.qa_state === 'accepted' && g.qa_by === 'carl' && g.qa_note === note,
    'the accepted page was accepted by carl, with the note', JSON.stringify(g));
  await clerk.goto(`${BASE}/qa/${good.page}`);
  check((await clerk.textContent('.side dl')).includes(note) && (await clerk.$$('main img[src="x"]')).length === 0,
    'a note that is markup is shown as text');

  const forged = await clerk.evaluate(async id => (await fetch(`/qa/${id}`, {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'decision=accept' })).status,
  bad.page);
  check(forged === 403, 'a QA decision without the CSRF token is refused', `status ${forged}`);
  check(json(t, ['qa', 'show', String(bad.page)]).qa_state === 'rescan', 'the refused POST changed nothing');
  const show = json(t, ['queue', 'show', String(mis.document)]);
  const plain = show.pages[0].page_id;
  check((await clerk.goto(`${BASE}/qa/page/${plain}.png`)).status() === 404 &&
    (await clerk.goto(`${BASE}/qa/scan/${plain}.png`)).status() === 404,
  'the QA image routes serve only pages of the QA queue');
  check((await clerk.goto(`${BASE}/queue`)).status() === 403, 'a clerk cannot open the exception queue (CLI roles)');
  await cctx.close();

  // --- records staff: the exception queue -------------------------------
  const rctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const rita = await rctx.newPage();
  await signIn(rita, 'rita', password('rita'));
  await Promise.all([rita.waitForNavigation(), rita.click('header nav >> text=Exceptions')]);
  const qrow = rita.locator('table.queue tr', { hasText: `Document ${mis.document}` });
  const qcells = (await qrow.locator('td').allTextContents()).join(' | ');
  check(/suspected misfile/.test(qcells) && /TESTCASE, BRIMLEY/.test(qcells) && /progress note/.test(qcells) &&
    new RegExp(BATCH).test(qcells), 'the queue lists the misfile with reason, batch, patient and type', qcells);
  await axeScan(rita, 'exception queue');
  await shot(rita, '40-queue-list');

  const item = `${BASE}/queue/${mis.document}`;
  await Promise.all([rita.waitForNavigation(), qrow.locator('th a').click()]);
  const ident = await rita.textContent('table.identities');
  const cols = await rita.$$eval('table.identities tbody td', tds => tds.map(td => td.textContent));
  check(/TESTCASE, BRIMLEY/.test(cols[0] || '') && /90002718/.test(cols[0] || '') &&
    /MOCKRIDGE/.test(cols[1] || ''), 'the misfile shows both identities: the page\'s and the chart\'s', ident);
  await rita.waitForFunction(() => [...document.querySelectorAll('.queuedoc img')].every(i => i.complete));
  check(await rita.$$eval('.queuedoc img', imgs => imgs.length > 1 && imgs.every(i => i.naturalWidth > 0)),
    'the queue item shows its page images');
  await axeScan(rita, 'queue item');
  await shot(rita, '40-queue-item');

  // The loose page: who it says it is, though nobody of that name is known.
  await rita.goto(`${BASE}/queue/${unk.document}`);
  check(/Unknown patient\..*QUILLFEATHER/s.test(await rita.textContent('main section')),
    'an unknown patient\'s item shows the name its page prints');
  await rita.fill('#find', 'Zephyrine Quillfeather');
  await Promise.all([rita.waitForNavigation(), rita.click('form.find button')]);
  check(/0 patients found/.test(await rita.textContent('#h-assign ~ p[role=status]')) &&
    await rita.isDisabled('#h-assign ~ form[method=post] button'),
  'the picker finds nobody, and assign waits for a patient');
  await axeScan(rita, 'queue item of an unknown patient');
  await shot(rita, '40-queue-unknown');

  // Filing with the misfile open is refused, with the reason on the page.
  await rita.goto(item);
  let resp = (await Promise.all([rita.waitForNavigation(), rita.click('#h-file ~ form button')]))[0];
  check(resp.status() === 409 && /still has open exceptions/.test(await rita.textContent('p.error')),
    'filing with an open exception is refused with a clear message', `${resp.status()}`);
  await shot(rita, '40-queue-refused');

  // Merge the loose page in, cut it off again, move it back and forth.
  await rita.goto(item);
  await rita.fill('#other', String(unk.document));
  await Promise.all([rita.waitForNavigation(), rita.click('#h-merge ~ form button')]);
  check(json(t, ['queue', 'show', String(mis.document)]).pages.length === 2, 'merge appended the other document\'s page');
  await rita.selectOption('#after', '1');
  await Promise.all([rita.waitForNavigation(), rita.click('#h-split ~ form button')]);
  const split1 = Number(new URL(rita.url()).searchParams.get('other'));
  check(split1 > 0 && json(t, ['queue', 'show', String(split1)]).pages.length === 1, 'split made a new document', rita.url());
  await rita.goto(`${BASE}/queue/${split1}`);
  await rita.fill('#to', String(split1));
  resp = (await Promise.all([rita.waitForNavigation(), rita.click('#h-move ~ form button')]))[0];
  check(resp.status() === 409 && /already in document/.test(await rita.textContent('p.error')),
    'moving a page into its own document is refused with a clear message');
  await rita.fill('#to', String(mis.document));
  await Promise.all([rita.waitForNavigation(), rita.click('#h-move ~ form button')]);
  check(/Closed: emptied/.test(await rita.textContent('main')), 'the emptied document is closed');
  await rita.goto(item);
  await rita.selectOption('#after', '1');
  await Promise.all([rita.waitForNavigation(), rita.click('#h-split ~ form button')]);
  const split2 = Number(new URL(rita.url()).searchParams.get('other'));
  await rita.goto(`${BASE}/queue/${split2}`);
  const reason = 'patient not registered at this hospital <b>x</b>';
  await rita.fill('#reason', reason);
  await Promise.all([rita.waitForNavigation(), rita.click('#h-reject ~ form button')]);
  check(/\/queue\?done=reject/.test(rita.url()), 'reject goes back to the queue');
  await rita.goto(`${BASE}/queue/${split2}`);
  check((await rita.textContent('p.state')).includes(`rejected: ${reason}`) &&
    (await rita.$$('p.state b')).length === 0, 'the rejected document shows its reason, as text');

  // The patient picker, the type, and filing.
  await rita.goto(item);
  await rita.fill('#find', 'Brimley Testcase');
  await Promise.all([rita.waitForNavigation(), rita.click('form.find button')]);
  const pick = rita.locator(`input[name=mrn][value="${TESTCASE}"]`);
  check(await pick.count() === 1 && /[1-9]\d* patients? found/.test(await rita.textContent('#h-assign ~ p[role=status]')),
    'the picker finds the patient by name');
  await pick.check();
  await rita.selectOption('#type', '11506-3');
  await Promise.all([rita.waitForNavigation(), rita.click('#h-assign ~ form[method=post] button')]);
  check(/done=assign/.test(rita.url()) && /Nothing is open/.test(await rita.textContent('main')),
    'assigning the patient and type resolves the misfile', rita.url());
  const forgedQ = await rita.evaluate(async id => (await fetch(`/queue/${id}/reject`, {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'reason=x' })).status,
  mis.document);
  check(forgedQ === 403, 'a queue action without the CSRF token is refused', `status ${forgedQ}`);
  await Promise.all([rita.waitForNavigation(), rita.click('#h-file ~ form button')]);
  check(/\/queue\?done=file/.test(rita.url()) && await rita.isVisible(`text=Document ${mis.document} was filed`),
    'filing goes back to the queue and says so', rita.url());

  const left = mine().map(q => q.document);
  for (const d of [mis.document, unk.document, split1, split2])
    check(!left.includes(d), `document ${d} has left the queue`, JSON.stringify(left));
  const found = json(t, ['search', 'apixaban', '--mrn', TESTCASE]);
  check(found.results.some(x => x.document === mis.document && x.type === '11506-3'),
    'the filed document is found by search in the patient\'s chart', JSON.stringify(found.results.map(x => x.document)));
  const done = json(t, ['queue', 'show', String(mis.document)]);
  const acts = done.actions.map(a => `${a.action}:${a.actor}`);
  for (const a of ['merge', 'split', 'move-page', 'assign', 'file'])
    check(acts.includes(`${a}:rita`), `the ${a} is recorded with who did it`, acts.join(' '));
  check(done.document.state === 'filed' && done.document.filed_by === 'rita', 'filed by rita', JSON.stringify(done.document));
  const audit = json(t, ['audit', 'show', '--document', String(mis.document), '--action', 'queue.file']);
  const rows = Array.isArray(audit) ? audit : audit.rows || [];
  check(rows.some(x => x.actor === 'rita' && x.action === 'queue.file'), 'the filing is in the audit trail', JSON.stringify(rows));
  await rita.goto(item);
  check(await rita.locator('table.history tbody tr').count() >= 6, 'the item shows its action history');
  await shot(rita, '40-queue-filed');
  await rctx.close();
}
