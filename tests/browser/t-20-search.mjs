// The search screen's filters and facets, and the document's PDF
// download: filters narrow the results (a type filter returns only that
// type), a facet link refines and removing it widens again, near
// spellings find a misspelled word, and the downloaded PDF is the
// document's searchable rendition, recorded in the audit trail as an
// export. Uses the pages run.mjs ingests (bundle-04: MOCKRIDGE 90004451,
// all of 2025) and changes no one's data: the only writes are audit rows.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

// The results list as the page shows it: type name and "who" line.
async function results(page) {
  return page.$$eval('ol.results > li', lis => lis.map(li => ({
    type: li.querySelector('a').textContent.trim(),
    who: li.querySelector('.who').textContent,
    href: li.querySelector('a').getAttribute('href'),
  })));
}

// "3 documents match (5 pages)" -> 3
async function total(page) {
  const h = await page.textContent('#results');
  const m = /(\d+) documents? match/.exec(h || '');
  return m ? Number(m[1]) : -1;
}

async function go(page, url) {
  const resp = await page.goto(url);
  return resp.status();
}

export default async function (t) {
  const { BASE, browser, check, axeScan, shot, signIn, dir, cv } = t;
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  const page = await ctx.newPage();
  await signIn(page, 'rita', t.password('rita'));

  // A word on every page of the bundle: several documents and types.
  await go(page, `${BASE}/search?q=riverbend`);
  const all = await results(page);
  const nall = await total(page);
  check(nall >= 3 && all.length === Math.min(nall, 20),
    'an unfiltered search lists its documents and says how many', `${nall} total, ${all.length} listed`);
  const typeLinks = await page.$$eval('#f-type + ul a', as => as.map(a => ({
    name: a.textContent.trim(), href: a.getAttribute('href'),
    count: Number(/(\d+)/.exec(a.parentElement.querySelector('.count').textContent)[1]),
  })));
  check(typeLinks.length >= 2, 'the type facets list the matching types', JSON.stringify(typeLinks));
  const facetSum = typeLinks.reduce((s, f) => s + f.count, 0);
  check(facetSum === nall, 'the type facet counts add up to the result count', `${facetSum} vs ${nall}`);
  check(await page.$eval('#f-type + ul li', li => /documents?\)/.test(li.textContent)),
    'a facet count is read as "N documents"');
  check((await page.$$('#f-year + ul li')).length >= 1 &&
    /2025/.test(await page.textContent('#f-year + ul')), 'the year facets list 2025');
  await axeScan(page, 'search with facets');
  await shot(page, '20-search-facets');

  // A facet link refines: only that type, as many as its count said.
  const facet = typeLinks.find(f => f.count < nall) || typeLinks[0];
  await Promise.all([page.waitForNavigation(), page.click(`#f-type + ul a:text-is("${facet.name}")`)]);
  const refined = await results(page);
  check(refined.length === facet.count && refined.every(r => r.type === facet.name),
    `the "${facet.name}" facet lists only that type, ${facet.count} of them`,
    JSON.stringify(refined.map(r => r.type)));
  check(await page.$eval('#type', s => s.value) !== '', 'the type select shows the refinement');
  check(await page.isVisible('ul.active li:has-text("type")'), 'the refinement is listed as a filter in use');
  await axeScan(page, 'search refined by a facet');
  await shot(page, '21-search-refined');
  // Removing it widens back to every document.
  await Promise.all([page.waitForNavigation(), page.click('ul.active li:has-text("type") a')]);
  check(await total(page) === nall && !/type=/.test(page.url()),
    'removing the type refinement widens the results again', `${await total(page)} vs ${nall}`);

  // The year facet sets the service-date range; every result is that year.
  await Promise.all([page.waitForNavigation(), page.click('#f-year + ul a:text-is("2025")')]);
  const u = new URL(page.url());
  const inYear = await results(page);
  check(u.searchParams.get('from') === '2025-01-01' && u.searchParams.get('to') === '2025-12-31' &&
    inYear.length > 0 && inYear.every(r => /2025-/.test(r.who)),
  'the year facet refines to that year\'s service dates', page.url());
  await Promise.all([page.waitForNavigation(), page.click('ul.active li:has-text("service date") a')]);
  check(!new URL(page.url()).searchParams.get('from'), 'removing the date refinement drops the dates');

  // The form's filters: the type select returns only that type.
  await go(page, `${BASE}/search`);
  await page.fill('#q', 'riverbend');
  const code = new URL(facet.href, BASE).searchParams.get('type');
  await page.selectOption('#type', code);
  await Promise.all([page.waitForNavigation(), page.click('form.search button[type=submit]')]);
  const byType = await results(page);
  check(byType.length === facet.count && byType.every(r => r.type === facet.name),
    'the type filter returns only documents of that type', JSON.stringify(byType.map(r => r.type)));

  // MRN and patient name: the right chart, or nothing for another's.
  await go(page, `${BASE}/search?q=riverbend&mrn=90004451`);
  const byMrn = await results(page);
  check(byMrn.length > 0 && byMrn.every(r => /MRN 90004451/.test(r.who)),
    'the MRN filter returns only that chart', JSON.stringify(byMrn.map(r => r.who)));
  await go(page, `${BASE}/search?q=riverbend&patient=mockridge`);
  const byName = await results(page);
  check(byName.length === byMrn.length && byName.every(r => /MOCKRIDGE/i.test(r.who)),
    'the patient name filter returns that patient\'s documents', `${byName.length} vs ${byMrn.length}`);
  await go(page, `${BASE}/search?q=riverbend&mrn=90001234`);
  check(await total(page) === 0 && (await results(page)).length === 0,
    'the MRN of a patient without matching documents returns none');
  // Dates: a range before the bundle's service dates returns none.
  await go(page, `${BASE}/search?q=riverbend&from=2020-01-01&to=2020-12-31`);
  check(await total(page) === 0, 'a service-date range with no documents returns none');
  // A bad date is said plainly, as an alert, not a failure.
  const bad = await go(page, `${BASE}/search?q=riverbend&from=2025-13-45`);
  check(bad === 200 && /not a date/.test(await page.textContent('.error') || ''),
    'a bad date is reported in words', `status ${bad}`);

  // Near spellings: a misspelled word finds nothing, then the word.
  await go(page, `${BASE}/search?q=pneumothorox`);
  const exact = await total(page);
  await page.check('#near');
  await Promise.all([page.waitForNavigation(), page.click('form.search button[type=submit]')]);
  const near = await total(page);
  check(exact === 0 && near > 0, 'near spellings find a misspelled word', `exact ${exact}, near ${near}`);
  check(/pneumothorax/i.test(await page.textContent('.note') || ''), 'the near spellings searched are named');
  check((await page.$$('ol.results mark')).length > 0, 'near-spelling hits are marked in the snippets');
  await axeScan(page, 'search with filters');
  await shot(page, '22-search-near');

  // "Show more" beyond the limit.
  await go(page, `${BASE}/search?q=riverbend&limit=1`);
  const more = await page.$('#more');
  check(more !== null && (await results(page)).length === 1, 'a limited search offers more');
  if (more) {
    await Promise.all([page.waitForNavigation(), more.click()]);
    check((await results(page)).length === Math.min(nall, 21), 'show more lists more documents');
  }

  // The PDF download of a pneumothorax document.
  await go(page, `${BASE}/search?q=pneumothorax&mrn=90004451`);
  await Promise.all([page.waitForNavigation(), page.click('ol.results > li >> nth=0 >> a')]);
  const docId = /\/doc\/(\d+)/.exec(page.url())[1];
  // Views are audited before they are answered (the rows of views are
  // group-committed: audit.c): the search that listed it, the document.
  const rowsOf = out => { const j = JSON.parse(out); return Array.isArray(j) ? j : (j.rows || j.audit || []); };
  const viewed = rowsOf(cv(['audit', 'show', '--document', docId, '--action', 'document.view', '--json']));
  check(viewed.some(r => r.actor === 'rita' && r.outcome === 'ok'), 'opening the document is in the audit trail');
  const searched = rowsOf(cv(['audit', 'show', '--user', 'rita', '--action', 'search', '--json']));
  check(searched.some(r => /;mrn/.test(r.detail || '') && new RegExp(`(^|,)${docId}(,|$)`).test(r.object_id || '')) &&
    !searched.some(r => /90004451|MOCKRIDGE/i.test(JSON.stringify(r))),
  'the search is audited with its documents and filter kinds, not the MRN asked for');
  check(await page.isVisible('form.download button'), 'the document view offers the PDF download');
  await axeScan(page, 'document with download');
  await shot(page, '23-document-download');
  await page.fill('#roi', 'ROI-2026-0142');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('form.download button')]);
  check(download.suggestedFilename() === `document-${docId}.pdf`, 'the download is named document-ID.pdf',
    download.suggestedFilename());
  const pdf = path.join(dir, `t20-document-${docId}.pdf`);
  await download.saveAs(pdf);
  const bytes = fs.readFileSync(pdf);
  check(bytes.subarray(0, 5).toString('latin1') === '%PDF-', 'the download is a PDF');
  const txt = spawnSync('pdftotext', [pdf, '-'], { encoding: 'utf8' });
  check(/pneumothorax/i.test(txt.stdout), 'the PDF is searchable: pdftotext finds the word',
    (txt.stdout || txt.stderr || '').slice(0, 120));
  // The same bytes as chartvault export writes.
  const cliPdf = path.join(dir, `t20-cli-${docId}.pdf`);
  cv(['export', docId, '-o', cliPdf]);
  check(Buffer.compare(fs.readFileSync(cliPdf), bytes) === 0, 'the download is the rendition chartvault export writes');

  // Audited as an export, by the signed-in user, with the request.
  const audit = JSON.parse(cv(['audit', 'show', '--document', docId, '--action', 'document.export', '--json']));
  const rows = Array.isArray(audit) ? audit : (audit.rows || audit.audit || []);
  const mine = rows.filter(r => r.actor === 'rita' && /request ROI-2026-0142/.test(r.detail || ''));
  check(mine.length === 1 && mine[0].outcome === 'ok', 'the download is in the audit trail as rita\'s export with the request',
    JSON.stringify(rows).slice(0, 400));

  // The headers of a download that carries patient data.
  const hdr = await page.evaluate(async (id) => {
    const csrf = document.querySelector('form.download input[name=csrf]').value;
    const r = await fetch(`/doc/${id}/pdf`, { method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}` });
    return { status: r.status, type: r.headers.get('content-type'), cache: r.headers.get('cache-control'),
      disp: r.headers.get('content-disposition') };
  }, docId);
  check(hdr.status === 200 && hdr.type === 'application/pdf' && hdr.cache === 'no-store' &&
    hdr.disp === `attachment; filename="document-${docId}.pdf"`,
  'the PDF comes as an attachment, application/pdf, no-store', JSON.stringify(hdr));

  // Refusals: no CSRF token, an unknown id, a bad request reference, GET.
  const refused = await page.evaluate(async (id) => {
    const post = async (url, body) => (await fetch(url, { method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body })).status;
    const csrf = document.querySelector('form.download input[name=csrf]').value;
    return {
      nocsrf: await post(`/doc/${id}/pdf`, 'request=x'),
      unknown: await post('/doc/999999/pdf', `csrf=${csrf}`),
      badref: await post(`/doc/${id}/pdf`, `csrf=${csrf}&request=${encodeURIComponent('<b>x</b>')}`),
      get: (await fetch(`/doc/${id}/pdf`)).status,
    };
  }, docId);
  check(refused.nocsrf === 403, 'a PDF POST without the CSRF token is refused', `status ${refused.nocsrf}`);
  check(refused.unknown === 404, 'the PDF of an unknown document is not found', `status ${refused.unknown}`);
  check(refused.badref === 400, 'a request reference that is not one is refused', `status ${refused.badref}`);
  check(refused.get === 405, 'the PDF is not served to a GET (a link cannot export)', `status ${refused.get}`);
  const denied = JSON.parse(cv(['audit', 'show', '--document', docId, '--action', 'document.export', '--json']));
  const drows = Array.isArray(denied) ? denied : (denied.rows || denied.audit || []);
  check(drows.filter(r => r.actor === 'rita').length === 3,
    'the refused export is audited too, the one without a token is not (it never ran)',
    `${drows.filter(r => r.actor === 'rita').length} rows`);

  // A document in the exception queue (the misfiled page of bundle-04)
  // cannot be released, as with chartvault export.
  const queue = JSON.parse(cv(['queue', 'list', '--json']));
  const qrows = Array.isArray(queue) ? queue : (queue.documents || queue.exceptions || []);
  const exc = qrows.map(q => q.document || q.document_id || q.id).find(Boolean);
  if (exc) {
    const held = await page.evaluate(async (id) => {
      const csrf = document.querySelector('form.download input[name=csrf]').value;
      return (await fetch(`/doc/${id}/pdf`, { method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}` })).status;
    }, exc);
    check(held === 409, 'a document in the exception queue is not released', `status ${held}`);
  } else {
    check(false, 'run.mjs\'s data has a document in the exception queue', JSON.stringify(queue).slice(0, 200));
  }
  await ctx.close();
}
