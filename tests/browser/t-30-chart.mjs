// Patient lookup, the chart timeline, and restricted charts: records
// staff find a patient and see their documents by date; a restricted
// chart's records answer exactly as unknown ids; breaking the glass with
// a reason opens it and writes an audit row flagged for review, which a
// compliance officer then reviews. Its own patients and pages
// (fixtures/chart-*, made by fixtures/make-chart-pages.sh), so no other
// module's data changes.
import path from 'node:path';

export default async function (t) {
  const { BASE, browser, check, axeScan, shot, signIn, cv, SRC } = t;
  const fx = f => path.join(SRC, 'tests/browser/fixtures', f);
  cv(['patients', 'import', fx('chart-patients.csv')]);
  const ingest = JSON.parse(cv(['ingest', '--json', '--batch', 'chart-t30', '--manifest',
    fx('chart-manifest.csv'), fx('chart-01.png'), fx('chart-02.png'), fx('chart-03.png'),
    fx('glass-01.png')]));
  const docs = ingest.documents;
  const chartDocs = docs.filter(d => d.mrn === '90008801');
  const glassDoc = docs.find(d => d.mrn === '90008802');
  check(chartDocs.length === 3 && glassDoc, 'the chart pages were filed as four documents',
    JSON.stringify(docs.map(d => [d.id, d.mrn])));

  const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await ctx.newPage();
  await signIn(page, 'rita', t.password('rita'));

  // Lookup by a misspelled name finds the patient; the chart lists exactly
  // the patient's documents, newest first, grouped by year and month.
  await page.goto(`${BASE}/patients`);
  check(await page.isVisible('header nav >> text=Patients'), 'the menu has Patients');
  await page.fill('#name', 'Verity Chartwel');
  await Promise.all([page.waitForNavigation(), page.click('form.lookup button')]);
  const row = page.locator('table.patients tbody tr', { hasText: '90008801' });
  check(await row.count() === 1, 'lookup finds the patient by a misspelled name');
  await axeScan(page, 'patient lookup');
  await shot(page, '30-patients');
  await Promise.all([page.waitForNavigation(), row.locator('a').first().click()]);
  const chartUrl = page.url();
  const listed = await page.$$eval('.timeline ol.docs li a', as => as.map(a => a.getAttribute('href')));
  const want = chartDocs.map(d => `/doc/${d.id}`);
  check(listed.length === want.length && want.every(h => listed.includes(h)),
    'the timeline lists exactly the patient\'s documents', `${listed} vs ${want}`);
  const dates = await page.$$eval('.timeline .when', s => s.map(e => e.textContent));
  check(JSON.stringify(dates) === JSON.stringify([...dates].sort().reverse()) && dates.length === 3,
    'the timeline is newest first', dates.join(', '));
  const years = await page.$$eval('.timeline h3', s => s.map(e => e.textContent));
  check(JSON.stringify(years) === '["2024","2023"]', 'the timeline is grouped by year', years.join(','));
  check(await page.isVisible('text=3 documents, 3 pages'), 'the chart counts documents and pages');
  check(/1961-02-14/.test(await page.textContent('dl.demo')), 'the chart shows the date of birth');
  await axeScan(page, 'patient chart');
  await shot(page, '30-chart');
  await page.selectOption('#type', '11502-2');
  await Promise.all([page.waitForNavigation(), page.click('form.filter button')]);
  check((await page.$$('.timeline ol.docs li')).length === 1, 'the type filter leaves the laboratory report');
  // The document view links the patient's name back to the chart.
  await page.goto(`${BASE}/doc/${chartDocs[0].id}`);
  check(await page.getAttribute('h1 .sub a', 'href') === new URL(chartUrl).pathname,
    'the document view links to the patient\'s chart');

  const views = JSON.parse(cv(['audit', 'show', '--patient', '90008801', '--action', 'chart.view', '--json']));
  check(views.filter(r => r.actor === 'rita' && r.object_type === 'patient').length >= 2,
    'every chart view is audited about the patient', `${views.length} rows`);
  const clerk = await (await browser.newContext()).newPage();
  await signIn(clerk, 'carl', t.password('carl'));
  check((await clerk.request.get(`${BASE}/patients?name=Chartwell`)).status() === 403 &&
    (await clerk.request.get(new URL(chartUrl).href)).status() === 403,
    'a clerk can neither look patients up nor open a chart');
  await clerk.context().close();

  // Before the chart is restricted: its document and page image open.
  await page.goto(`${BASE}/doc/${glassDoc.id}`);
  const img = await page.getAttribute('#page img', 'src');
  const pageId = /\/page\/(\d+)\.png/.exec(img)[1];
  check((await page.request.get(`${BASE}/page/${pageId}.png?w=240`)).status() === 200,
    'an open chart\'s page image is served');

  // Restricted: its document and page answer exactly as unknown ids.
  cv(['patients', 'restrict', '90008802', '--category', 'vip', '--note', 'browser test']);
  const same = async (a, b, what) => {
    const ra = await page.request.get(`${BASE}${a}`);
    const rb = await page.request.get(`${BASE}${b}`);
    const ta = await ra.text(), tb = await rb.text();
    check(ra.status() === rb.status() && ta === tb && ra.status() === 404,
      `${what}: same status and body as an unknown id`, `${ra.status()} vs ${rb.status()}`);
  };
  await same(`/doc/${glassDoc.id}`, '/doc/987654321', 'a restricted document');
  await same(`/doc/${glassDoc.id}?p=1&q=x`, '/doc/987654321?p=1&q=x', 'a restricted document with a query');
  await same(`/page/${pageId}.png?w=240`, '/page/987654321.png?w=240', 'a restricted page image');

  // Search shows that a result exists there, without its text.
  await page.goto(`${BASE}/search?q=quokkaphobia`);
  const hit = page.locator('ol.results li.restricted-hit');
  check(await hit.count() === 1, 'search shows the result in the restricted chart');
  const hitText = await hit.textContent();
  check(/90008802/.test(hitText) && /GLASSLEY/.test(hitText) && !/counselling|quokka/i.test(hitText) &&
    (await page.$$('ol.results mark')).length === 0, 'the restricted result has no snippet', hitText);
  await axeScan(page, 'search with a restricted result');
  await shot(page, '30-search-restricted');
  await Promise.all([page.waitForNavigation(), hit.locator('a').click()]);

  // The chart itself asks for a reason.
  check(await page.isVisible('form.glass'), 'the restricted chart asks for a reason');
  await axeScan(page, 'break-the-glass form');
  await shot(page, '30-glass-form');
  await page.check('#cat-treatment');
  await page.fill('#reason', 'too short');
  await page.evaluate(() => document.querySelector('#reason').removeAttribute('minlength'));
  await Promise.all([page.waitForNavigation(), page.click('form.glass button')]);
  check(await page.isVisible('#glasserror'), 'a reason that is too short is refused');
  await page.check('#cat-treatment');
  await page.fill('#reason', 'Patient in the emergency department, history needed now');
  await Promise.all([page.waitForNavigation(), page.click('form.glass button')]);
  check(await page.isVisible('p.restricted >> text=emergency access'), 'after a reason the chart opens');
  await shot(page, '30-chart-emergency');
  const opened = await page.request.get(`${BASE}/doc/${glassDoc.id}`);
  check(opened.status() === 200, 'the restricted document opens under emergency access', `${opened.status()}`);

  const audit = JSON.parse(cv(['audit', 'show', '--patient', '90008802', '--json']));
  const flagged = audit.filter(r => r.action === 'emergency.access' && r.actor === 'rita');
  check(flagged.length === 1 && flagged[0].outcome === 'review' && /review=required/.test(flagged[0].detail),
    'breaking the glass wrote an audit row flagged for review', JSON.stringify(flagged));
  check(audit.some(r => r.action === 'access.denied' && r.actor === 'rita'),
    'the refused document views are in the audit trail');
  check((await page.request.get(`${BASE}/compliance/emergency`)).status() === 403,
    'records staff cannot open the review list');

  // A compliance officer reviews it.
  const cctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const cleo = await cctx.newPage();
  await signIn(cleo, 'cleo', t.password('cleo'));
  await cleo.goto(`${BASE}/compliance/emergency`);
  const grants = JSON.parse(cv(['access', 'review', '--json']));
  const grant = grants.find(g => g.user === 'rita' && g.mrn === '90008802');
  const grow = cleo.locator(`#grant-${grant && grant.id}`);
  check(grant && await grow.count() === 1 && /emergency department/.test(await grow.textContent()),
    'the review list shows the grant and its reason');
  check(grant && grant.views >= 2, 'the grant counts the chart and document views made under it',
    JSON.stringify(grant));
  await axeScan(cleo, 'emergency review list');
  await shot(cleo, '30-emergency-review');
  await grow.locator('textarea').fill('Checked with the ED roster: rita was on shift.');
  await Promise.all([cleo.waitForNavigation(), grow.locator('button').click()]);
  check(await cleo.isVisible('p.ok'), 'the grant is marked reviewed');
  const after = JSON.parse(cv(['access', 'review', '--all', '--json'])).find(g => g.id === grant.id);
  check(after && after.reviewed_by === 'cleo' && /ED roster/.test(after.review_note),
    'the review is recorded with who and the note', JSON.stringify(after));

  await cctx.close();
  await ctx.close();
}
