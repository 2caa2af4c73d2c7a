/*
 * Unit tests for ingest/: checking inputs before decoding them (the
 * hostile corpus in tests/hostile/), decoding sample pages, and reading
 * identity, titles and page numbers from page text to cut documents.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>

#include "ingest/ingest_int.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

#define MAX_PIXELS 150000000ull

static const char page_one[] =
	"Riverbend General Hospital - Health Information Management\n"
	"Patient: SAMPLEWOOD, ORLA MRN: 90001234 DOB: 03/14/1957\n"
	"\n"
	"DISCHARGE SUMMARY\n"
	"Date of Admission: 02/01/2024\n"
	"The patient was admitted with community acquired pneumonia. A\n"
	"discharge summary was sent to the primary care physician.\n"
	"Page 1 of 2\n";

START_TEST(test_ingest_facts_read_header_title_and_paging)
{
	struct cv_ingest_page_facts f;

	cv_ingest_page_facts(page_one, &f);
	ck_assert_str_eq(f.title_type, "18842-5");
	ck_assert_str_eq(f.mrn, "90001234");
	ck_assert_str_eq(f.patient_name, "SAMPLEWOOD, ORLA");
	ck_assert_str_eq(f.dob, "1957-03-14");
	ck_assert_str_eq(f.service_date, "2024-02-01");
	ck_assert_int_eq(f.page_of, 1);
	ck_assert_int_eq(f.page_total, 2);
	ck_assert_str_eq(cv_ingest_doc_type_name(f.title_type),
			 "discharge summary");
}
END_TEST

START_TEST(test_ingest_facts_ignore_titles_in_prose_and_bad_dates)
{
	struct cv_ingest_page_facts f;

	cv_ingest_page_facts(
		"Patient: DOE, JO DOB: 02/30/1990\n"
		"see the discharge summary of last year for details\n",
		&f);
	ck_assert_str_eq(f.title_type, "");
	ck_assert_str_eq(f.dob, "");
	ck_assert_str_eq(f.mrn, "");
	ck_assert_int_eq(f.page_of, 0);
}
END_TEST

static struct cv_ingest__seg_page seg(const char *title, const char *mrn,
				      int of, int total)
{
	struct cv_ingest__seg_page p;

	memset(&p, 0, sizeof(p));
	snprintf(p.facts.title_type, sizeof(p.facts.title_type), "%s", title);
	snprintf(p.facts.mrn, sizeof(p.facts.mrn), "%s", mrn);
	p.facts.page_of = of;
	p.facts.page_total = total;
	return p;
}

START_TEST(test_ingest_segment_cuts_at_titles_paging_and_patients)
{
	struct cv_ingest__seg_page p[7];
	int starts[7];

	p[0] = seg("18842-5", "1001", 1, 2);
	p[1] = seg("", "1001", 2, 2);
	p[2] = seg("", "1001", 0, 0); /* after "2 of 2": new document */
	p[3] = seg("", "1001", 0, 0); /* continues */
	p[4] = seg("", "2002", 0, 0); /* another patient: new document */
	p[5] = seg("11506-3", "1001", 0, 0);
	p[6] = seg("", "", 0, 0); /* no identity: continues */
	cv_ingest__segment(p, 7, starts);
	ck_assert_int_eq(starts[0], 1);
	ck_assert_int_eq(starts[1], 0);
	ck_assert_int_eq(starts[2], 1);
	ck_assert_int_eq(starts[3], 0);
	ck_assert_int_eq(starts[4], 1);
	ck_assert_int_eq(starts[5], 1);
	ck_assert_int_eq(starts[6], 0);
}
END_TEST

START_TEST(test_ingest_describe_takes_first_stated_values)
{
	struct cv_ingest__seg_page p[2];
	struct cv_index_document d;

	memset(&d, 0, sizeof(d));
	p[0] = seg("", "", 0, 0);
	p[1] = seg("11504-8", "90001234", 0, 0);
	snprintf(p[1].facts.dob, sizeof(p[1].facts.dob), "1957-03-14");
	cv_ingest__describe(p, 2, &d);
	ck_assert_str_eq(d.doc_type, "11504-8");
	ck_assert_str_eq(d.type_source, "title");
	ck_assert_str_eq(d.mrn, "90001234");
	ck_assert_str_eq(d.dob, "1957-03-14");
}
END_TEST

/* Every file of the hostile corpus is refused with its expected reason. */
START_TEST(test_ingest_probe_rejects_hostile_corpus)
{
	char *expected = cvt_srcpath("tests/hostile/EXPECTED");
	FILE *f = fopen(expected, "r");
	char line[512];
	int checked = 0;

	ck_assert_msg(f != NULL, "cannot open %s", expected);
	while (fgets(line, sizeof(line), f)) {
		struct cv_error err = CV_ERROR_INIT;
		enum cv_ingest_format fmt;
		char *name, *reason, *path, *rel, *save = NULL;
		int pages, ret;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		name = strtok_r(line, "\t", &save);
		reason = strtok_r(NULL, "\t", &save);
		ck_assert_msg(name && reason, "bad EXPECTED line");
		rel = cv_asprintf("tests/hostile/%s", name);
		path = cvt_srcpath(rel);
		ret = cv_ingest_probe(path, MAX_PIXELS, &fmt, &pages, &err);
		if (ret == 0) {
			/* Some damage only shows when the page is decoded. */
			struct Pix *pix = NULL;
			int dpi;

			ret = cv_ingest_load_page(path, fmt, 1, &pix, &dpi,
						  &err);
			pixDestroy(&pix);
		}
		ck_assert_msg(ret < 0, "%s was accepted", name);
		ck_assert_msg(strstr(err.msg, reason) != NULL,
			      "%s: reason '%s' lacks '%s'", name, err.msg,
			      reason);
		ck_assert_msg(strstr(err.msg, name) != NULL,
			      "%s: reason '%s' does not name the file", name,
			      err.msg);
		checked++;
		free(rel);
		free(path);
	}
	fclose(f);
	free(expected);
	ck_assert_int_ge(checked, 6);
}
END_TEST

START_TEST(test_ingest_probe_counts_sample_pages)
{
	char *dir = cvt_srcpath("samples/batch");
	char *cmd = cv_asprintf("ls %s/*.tif | head -1", dir);
	FILE *p = popen(cmd, "r");
	char path[4096] = "";
	struct cv_error err = CV_ERROR_INIT;
	enum cv_ingest_format fmt;
	struct Pix *pix = NULL;
	int pages = 0, dpi = 0;

	ck_assert(p != NULL);
	ck_assert_msg(fgets(path, sizeof(path), p) != NULL,
		      "no TIFF in samples/batch");
	pclose(p);
	path[strcspn(path, "\n")] = '\0';
	ck_assert_int_eq(cv_ingest_probe(path, MAX_PIXELS, &fmt, &pages, &err),
			 0);
	ck_assert_int_eq(fmt, CV_INGEST_FMT_TIFF);
	ck_assert_int_gt(pages, 1);
	ck_assert_int_eq(
		cv_ingest_load_page(path, fmt, pages, &pix, &dpi, &err), 0);
	ck_assert_int_eq(pixGetWidth(pix), 2550);
	ck_assert_int_eq(dpi, 300);
	pixDestroy(&pix);
	/* A page cap below the page's size refuses it before decoding. */
	ck_assert_int_eq(cv_ingest_probe(path, 1000000, &fmt, &pages, &err),
			 CV_ELIMIT);
	free(cmd);
	free(dir);
}
END_TEST

/* A grey, skewed, speckled page comes out binary, straight and clean. */
START_TEST(test_ingest_cleanup_binarises_straightens_and_despeckles)
{
	struct cv_ingest_cleanup rec;
	struct Pix *pix = pixCreate(1275, 1650, 8), *turned;
	char steps[128];
	int y, x, before, after;

	pixSetAll(pix);
	/* Lines of "text": dark bars on a light, uneven background. */
	for (y = 0; y < 1650; y++)
		for (x = 0; x < 1275; x++)
			pixSetPixel(pix, x, y, 200 + (x / 40) % 30);
	for (y = 200; y < 1400; y += 40)
		pixRasterop(pix, 150, y, 900, 14, PIX_CLR, NULL, 0, 0);
	/* Isolated specks. */
	for (x = 100; x < 1200; x += 97)
		pixSetPixel(pix, x, 1500 + x % 50, 0);
	turned = pixRotate(pix, 0.035f, L_ROTATE_AREA_MAP, L_BRING_IN_WHITE, 0,
			   0);
	pixDestroy(&pix);
	pix = turned;
	cv_ingest__clean(&pix, &rec);
	ck_assert_int_eq(pixGetDepth(pix), 1);
	ck_assert(rec.binarised && rec.background_normalised);
	/* Leptonica reports the page's skew, the opposite of the turn. */
	ck_assert_msg(rec.skew_deg < -1.5 && rec.skew_deg > -2.5,
		      "skew %.2f, expected about -2 degrees", rec.skew_deg);
	ck_assert(rec.despeckled);
	/* The bars survive: most of the dark pixels are still there. */
	pixCountPixels(pix, &after, NULL);
	before = 30 * 900 * 14;
	ck_assert_msg(after > before * 8 / 10 && after < before * 12 / 10,
		      "%d dark pixels, expected about %d", after, before);
	cv_ingest__cleanup_steps(&rec, steps, sizeof(steps));
	ck_assert_msg(
		!strncmp(steps, "background-normalised,sauvola,deskew ", 37),
		"%s", steps);
	pixDestroy(&pix);
}
END_TEST

static struct Pix *sample_page(void)
{
	char *path = cvt_srcpath("samples/batch/bundle-01.tif");
	struct Pix *pix = pixReadTiff(path, 0);

	ck_assert_msg(pix != NULL, "cannot read %s", path);
	free(path);
	return pix;
}

/* Each defect raises its own flag, and a good page raises none. */
START_TEST(test_ingest_quality_flags_each_defect)
{
	struct cv_ingest_quality q;
	struct Pix *page = sample_page(), *v;

	cv_ingest__measure_scan(page, 300, &q);
	cv_ingest__measure_clean(page, 1.2, &q);
	ck_assert_uint_eq(q.flags, 0);
	ck_assert(!q.nearly_empty);
	ck_assert(q.dark_fraction > 0.01 && q.dark_fraction < 0.15);

	cv_ingest__measure_scan(page, 150, &q);
	ck_assert_uint_eq(q.flags, CV_INGEST_Q_LOW_RESOLUTION);

	v = pixConvert1To8(NULL, page, 255, 200); /* faded ink */
	cv_ingest__measure_scan(v, 300, &q);
	ck_assert_uint_eq(q.flags, CV_INGEST_Q_TOO_LIGHT);
	pixDestroy(&v);

	v = pixConvert1To8(NULL, page, 100, 0); /* grey paper, dark scan */
	cv_ingest__measure_scan(v, 300, &q);
	ck_assert_uint_eq(q.flags, CV_INGEST_Q_TOO_DARK);
	pixDestroy(&v);

	v = pixTranslate(NULL, page, -400, 0, L_BRING_IN_WHITE);
	memset(&q, 0, sizeof(q));
	cv_ingest__measure_clean(v, 0, &q);
	ck_assert_uint_eq(q.flags, CV_INGEST_Q_CUT_OFF);
	pixDestroy(&v);

	memset(&q, 0, sizeof(q));
	cv_ingest__measure_clean(page, -6.5, &q);
	ck_assert_uint_eq(q.flags, CV_INGEST_Q_HEAVY_SKEW);

	v = pixCreate(2550, 3300, 1); /* a blank back */
	memset(&q, 0, sizeof(q));
	cv_ingest__measure_clean(v, 0, &q);
	ck_assert(q.nearly_empty);
	ck_assert_uint_eq(q.flags, 0);
	pixDestroy(&v);
	pixDestroy(&page);
}
END_TEST

START_TEST(test_ingest_quality_flags_read_as_words)
{
	char out[128];

	cv_ingest__quality_flags(CV_INGEST_Q_TOO_DARK | CV_INGEST_Q_CUT_OFF |
					 CV_INGEST_Q_LOW_CONFIDENCE,
				 out, sizeof(out));
	ck_assert_str_eq(out, "too-dark,cut-off,low-confidence");
	cv_ingest__quality_flags(0, out, sizeof(out));
	ck_assert_str_eq(out, "");
}
END_TEST

/* Print a sheet, "scan" it, read it back. */
START_TEST(test_ingest_cover_sheet_round_trip)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ingest_cover c, back;
	struct cv_ingest_barcodes bc;
	struct Pix *pix = NULL;

	memset(&c, 0, sizeof(c));
	snprintf(c.mrn, sizeof(c.mrn), "90001234");
	snprintf(c.doc_type, sizeof(c.doc_type), "11504-8");
	snprintf(c.service_date, sizeof(c.service_date), "2025-03-03");
	snprintf(c.encounter, sizeof(c.encounter), "E-42");
	ck_assert_int_eq(
		cv_ingest_sheet_render(&c, "SAMPLEWOOD, ORLA", &pix, &err), 0);
	cv_ingest__read_barcodes(pix, &bc);
	ck_assert_int_eq(bc.sheet, CV_INGEST_SHEET_COVER);
	ck_assert(bc.cover_ok);
	ck_assert_str_eq(bc.cover.mrn, "90001234");
	ck_assert_str_eq(bc.cover.doc_type, "11504-8");
	ck_assert_str_eq(bc.cover.service_date, "2025-03-03");
	ck_assert_str_eq(bc.cover.encounter, "E-42");
	/* The name is printed for the clerk, never put in the code. */
	ck_assert(strstr(bc.payload, "SAMPLEWOOD") == NULL);
	ck_assert_int_eq(cv_ingest_cover_parse(bc.payload, &back, &err), 0);
	pixDestroy(&pix);

	ck_assert_int_eq(cv_ingest_sheet_render(NULL, NULL, &pix, &err), 0);
	cv_ingest__read_barcodes(pix, &bc);
	ck_assert_int_eq(bc.sheet, CV_INGEST_SHEET_SEPARATOR);
	pixDestroy(&pix);
}
END_TEST

START_TEST(test_ingest_cover_code_is_checked_strictly)
{
	static const char *const bad[] = {
		"CHARTVAULT COVER 2\nmrn: 1\ntype: 18842-5\n",
		"CHARTVAULT COVER 1\ntype: 18842-5\n",
		"CHARTVAULT COVER 1\nmrn: 90001234\ntype: 99999-9\n",
		"CHARTVAULT COVER 1\nmrn: 90001234\ntype: 18842-5\ndate: 2025-13-01\n",
		"CHARTVAULT COVER 1\nmrn: 1'; DROP TABLE pages; --\ntype: 18842-5\n",
		"CHARTVAULT COVER 1\nmrn: 90001234\ntype: 18842-5\nnote: <script>\n",
		"CHARTVAULT COVER 1\nmrn 90001234\n",
		"",
	};
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ingest_cover c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(cv_ingest_cover_parse(bad[i], &c, &err) ==
				      CV_EINVAL,
			      "accepted: %s", bad[i]);
		ck_assert_str_eq(c.mrn, "");
	}
	ck_assert_int_eq(
		cv_ingest_cover_parse(
			"CHARTVAULT COVER 1\nmrn: 90001234\ntype: 18842-5\n",
			&c, &err),
		0);
}
END_TEST

static char *write_tmp(const char *dir, const char *name, const char *text)
{
	struct cv_error err = CV_ERROR_INIT;
	char *p = cv_path_join(dir, name);

	ck_assert_int_eq(
		cv_fs_write_atomic(p, text, strlen(text), 0600, 0, &err), 0);
	return p;
}

static int has_reject(const struct cv_ingest_manifest *m, const char *what)
{
	size_t i;

	for (i = 0; i < cv_ingest_manifest_nrejects(m); i++)
		if (strstr(cv_ingest_manifest_reject(m, i)->reason, what))
			return 1;
	return 0;
}

/* Good rows are kept; each bad one is named by line and column. */
START_TEST(test_ingest_manifest_rows_and_rejects)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ingest_manifest *m = NULL;
	const struct cv_ingest_manifest_row *row;
	char *dir = cvt_tmpdir("manifest"), *a, *b, *mf, *real;

	a = write_tmp(dir, "a.tif", "x");
	b = write_tmp(dir, "b.tif", "x");
	mf = write_tmp(
		dir, "manifest.csv",
		"\xef\xbb\xbf\"file\",\"MRN\",document_type,service_date,box,folder\n"
		"a.tif,90003306,11488-4,2025-08-20,0042,\"A-17, left\"\n"
		"\"b.tif\",,,,,\n"
		"../etc/passwd,1,,,,\n"
		"/etc/passwd,1,,,,\n"
		"b.tif,2,18842-5,2025-02-30,,\n"
		"b.tif,3,99999-9,,,\n"
		"b.tif,1'; DROP TABLE x,,,,\n"
		"missing.tif,1,,,,\n"
		"a.tif,2,,,,,extra\n"
		"\n");
	ck_assert_int_eq(cv_ingest_manifest_load(&m, mf, &err), 0);
	ck_assert_uint_eq(cv_ingest_manifest_nrows(m), 2);
	real = realpath(a, NULL);
	row = cv_ingest_manifest_find(m, real);
	free(real);
	ck_assert(row != NULL);
	ck_assert_str_eq(row->mrn, "90003306");
	ck_assert_str_eq(row->doc_type, "11488-4");
	ck_assert_str_eq(row->service_date, "2025-08-20");
	ck_assert_str_eq(row->folder, "A-17, left");
	ck_assert_uint_eq(row->line, 2);
	ck_assert(has_reject(
		m,
		"line 4, column file: '../etc/passwd' leaves the batch folder"));
	ck_assert(has_reject(
		m, "line 5, column file: '/etc/passwd' is an absolute path"));
	ck_assert(has_reject(
		m, "line 6, column service_date: '2025-02-30' is not a date"));
	ck_assert(has_reject(m, "line 7, column document_type"));
	ck_assert(has_reject(m, "line 8, column mrn"));
	ck_assert(has_reject(
		m,
		"line 9, column file: 'missing.tif' is not in the batch folder"));
	ck_assert(has_reject(m, "line 10: more fields"));
	ck_assert_uint_eq(cv_ingest_manifest_nrejects(m), 7);
	cv_ingest_manifest_free(m);
	free(a);
	free(b);
	free(mf);
	cvt_rmrf(dir);
	free(dir);
}
END_TEST

/* A header that cannot be used makes the manifest unusable. */
START_TEST(test_ingest_manifest_bad_header_is_refused)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ingest_manifest *m = NULL;
	char *dir = cvt_tmpdir("manifest"), *mf;

	mf = write_tmp(dir, "m1.csv", "file,mrn,colour\na.tif,1,blue\n");
	ck_assert_int_eq(cv_ingest_manifest_load(&m, mf, &err), CV_EINVAL);
	ck_assert_msg(strstr(err.msg, "line 1: unknown column 'colour'"), "%s",
		      err.msg);
	ck_assert(m == NULL);
	free(mf);
	mf = write_tmp(dir, "m2.csv", "mrn,box\n1,2\n");
	ck_assert_int_eq(cv_ingest_manifest_load(&m, mf, &err), CV_EINVAL);
	ck_assert(strstr(err.msg, "no 'file' column"));
	free(mf);
	mf = write_tmp(dir, "m3.csv", "file,mrn\n\"a.tif,1\n");
	ck_assert_int_eq(cv_ingest_manifest_load(&m, mf, &err), CV_EINVAL);
	free(mf);
	mf = write_tmp(dir, "m4.csv", "");
	ck_assert_int_eq(cv_ingest_manifest_load(&m, mf, &err), CV_EINVAL);
	ck_assert(strstr(err.msg, "is empty"));
	free(mf);
	cvt_rmrf(dir);
	free(dir);
}
END_TEST

Suite *cv_ingest_suite(void)
{
	Suite *s = suite_create("ingest");
	TCase *tc;

	tc = tcase_create("facts");
	tcase_add_test(tc, test_ingest_facts_read_header_title_and_paging);
	tcase_add_test(tc,
		       test_ingest_facts_ignore_titles_in_prose_and_bad_dates);
	tcase_add_test(tc,
		       test_ingest_segment_cuts_at_titles_paging_and_patients);
	tcase_add_test(tc, test_ingest_describe_takes_first_stated_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("probe");
	tcase_add_test(tc, test_ingest_probe_rejects_hostile_corpus);
	tcase_add_test(tc, test_ingest_probe_counts_sample_pages);
	tcase_add_test(
		tc, test_ingest_cleanup_binarises_straightens_and_despeckles);
	tcase_add_test(tc, test_ingest_quality_flags_each_defect);
	tcase_add_test(tc, test_ingest_quality_flags_read_as_words);
	tcase_add_test(tc, test_ingest_cover_sheet_round_trip);
	tcase_add_test(tc, test_ingest_cover_code_is_checked_strictly);
	tcase_add_test(tc, test_ingest_manifest_rows_and_rejects);
	tcase_add_test(tc, test_ingest_manifest_bad_header_is_refused);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}
