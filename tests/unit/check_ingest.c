/*
 * Unit tests for ingest/: checking inputs before decoding them (the
 * hostile corpus in tests/hostile/), decoding sample pages, and reading
 * identity, titles and page numbers from page text to cut documents.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <leptonica/allheaders.h>

#include "ingest/ingest_int.h"
#include "ocr/ocr.h"
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

/* The ways headers print the patient, each read to the same identity. */
START_TEST(test_ingest_facts_read_header_styles)
{
	static const char *const headers[] = {
		"Patient: SAMPLEWOOD, ORLA   MRN: 90001234   DOB: 03/14/1957\n",
		"Name: Orla Samplewood\nMRN: 90001234  DOB: 03/14/1957  Sex: F\n",
		"SAMPLEWOOD, Orla  (F)  03/14/1957  90001234\nProgress Note\n",
		"Patient Name: Samplewood, Orla\nMedical Record #: 90001234\n"
		"Date of Birth: 03/14/1957\n",
		"PT: ORLA SAMPLEWOOD   MR# 90001234   D.O.B. 1957-03-14\n",
		"MRN 90001234 | Samplewood, Orla | DOB 03/14/1957\n",
		"Patient: Orla Samplewood        Unit No: 90001234\n"
		"Birth Date: 03/14/1957\n",
		/* OCR of a specked scan: a colon read as '!', a speck as '.' */
		"Patient! SAMPLEWOOD, ORLA MRN: 90001234 DOB:.03/14/1957\n",
		"Name: Orla.Samplewood\nMRN: 90001234\nDate-of Birth: "
		"03/14/1957\n",
		/* R read as B, # as a yen sign, bars as I and l */
		"Patient: SAMPLEWOOD, ORLA MBN: 90001234 DOB: 03/14/1957\n",
		"PT: ORLA SAMPLEWOOD MR\xc2\xa5 90001234 DOB 03/14/1957\n",
		"MRN 90001234 I Samplewood, Orla l DOB 03/14/1957\n",
	};
	struct cv_ingest_page_facts f;
	size_t i;

	for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		cv_ingest_page_facts(headers[i], &f);
		ck_assert_msg(!strcmp(f.mrn, "90001234"), "%zu: mrn '%s'", i,
			      f.mrn);
		ck_assert_msg(!strcasecmp(f.patient_name, "SAMPLEWOOD, ORLA"),
			      "%zu: name '%s'", i, f.patient_name);
		ck_assert_msg(!strcmp(f.dob, "1957-03-14"), "%zu: dob '%s'", i,
			      f.dob);
	}
	/* A clinician's name and an account number are not the patient's. */
	cv_ingest_page_facts("Physician: Imogen Quillfeather, MD\n"
			     "Acct: 4412345  Attending: Bram Holt\n",
			     &f);
	ck_assert_str_eq(f.patient_name, "");
	ck_assert_str_eq(f.mrn, "");
}
END_TEST

static void word(struct cv_ocr_result *r, int x, int y, const char *text)
{
	struct cv_ocr_word *w;

	r->words = cv_realloc(r->words, (r->nwords + 1) * sizeof(*r->words));
	w = &r->words[r->nwords++];
	w->x = x;
	w->y = y;
	w->w = 22 * (int)strlen(text); /* a typewriter cell: 22 px */
	w->h = 36;
	w->conf = 90;
	w->text = cv_strdup(text);
}

/* An empty letter-size page at 300 dpi, r's words released. */
static void blank_page(struct cv_ocr_result *r)
{
	cv_ocr_result_release(r);
	r->width = 2550;
	r->height = 3300;
}

/*
 * The header as OCR's layout analysis may give it: the fields of one
 * line read as columns, in another order, with a speck read as a quote
 * and a narrow digit split off its number. header.c rebuilds the lines
 * from the word boxes.
 */
START_TEST(test_ingest_header_read_off_word_boxes)
{
	struct cv_ocr_result r = CV_OCR_RESULT_INIT;
	struct cv_ingest_opts o = CV_INGEST_OPTS_INIT;
	struct cv_ingest__mrn_rules rules;
	struct cv_ingest_page_facts f;
	struct cv_error err = CV_ERROR_INIT;

	blank_page(&r);
	/* Tesseract's order: the name, then the columns, each column's
	 * words on slightly different heights (deskewed, not perfect). */
	word(&r, 300, 300, "Patient:");
	word(&r, 490, 302, "SAMPLEWOOD,");
	word(&r, 760, 303, "ORLA\xe2\x80\x99");
	word(&r, 1500, 306, "DOB:");
	word(&r, 1600, 307, "03/14/1957");
	word(&r, 1000, 304, "MRN:");
	word(&r, 1100, 304, "9000123");
	word(&r, 1100 + 7 * 22 + 8, 305, "4");
	/* Body text with a clinician's name lower on the page. */
	word(&r, 300, 400, "Seen");
	word(&r, 400, 400, "today.");
	word(&r, 300, 2000, "Name:");
	word(&r, 420, 2000, "Imogen");
	word(&r, 560, 2000, "Quillfeather");
	ck_assert_int_eq(cv_ingest__mrn_rules_init(&rules, &o, &err), 0);
	cv_ingest__read_header(&r, &rules, &f);
	ck_assert_str_eq(f.mrn, "90001234");
	ck_assert_str_eq(f.patient_name, "SAMPLEWOOD, ORLA");
	ck_assert_str_eq(f.dob, "1957-03-14");
	/* Specks read as marks, labels and digits misread by a letter. */
	blank_page(&r);
	word(&r, 300, 300, "Patient");
	word(&r, 480, 300, "Name:'Quenby,");
	word(&r, 800, 300,
	     "\xe2\x80\x98"
	     "Corin*");
	word(&r, 300, 350, "MAN:");
	word(&r, 420, 350, "90002911");
	word(&r, 700, 350, "DQB:");
	word(&r, 820, 350, "O1/29/2007-");
	cv_ingest__read_header(&r, &rules, &f);
	ck_assert_str_eq(f.mrn, "90002911");
	ck_assert_str_eq(f.patient_name, "Quenby, Corin");
	ck_assert_str_eq(f.dob, "2007-01-29");
	/* A bar read as a bracket, a speck as a full stop. */
	blank_page(&r);
	word(&r, 300, 300, "MRN");
	word(&r, 400, 300, "90002911");
	word(&r, 600, 300, "{|");
	word(&r, 650, 300, "Quenby,");
	word(&r, 800, 300, "Corin");
	word(&r, 920, 300, "]");
	word(&r, 960, 300, "DOB");
	word(&r, 1040, 300, "01/29/2007");
	cv_ingest__read_header(&r, &rules, &f);
	ck_assert_str_eq(f.patient_name, "Quenby, Corin");
	blank_page(&r);
	word(&r, 200, 400, ".");
	word(&r, 300, 400, "QUENBY,");
	word(&r, 450, 400, "Corin");
	word(&r, 560, 400, "(F)");
	word(&r, 640, 400, "01/29/2007");
	cv_ingest__read_header(&r, &rules, &f);
	ck_assert_str_eq(f.patient_name, "QUENBY, Corin");
	ck_assert_str_eq(f.dob, "2007-01-29");
	/* A real space between two numbers stays. */
	blank_page(&r);
	word(&r, 300, 300, "MRN:");
	word(&r, 400, 300, "90001234");
	word(&r, 400 + 8 * 22 + 30, 300, "1957");
	cv_ingest__read_header(&r, &rules, &f);
	ck_assert_str_eq(f.mrn, "90001234");
	cv_ingest__mrn_rules_release(&rules);
	cv_ocr_result_release(&r);
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

/*
 * Rows are named by the line they start on, after blank lines and after
 * a quoted field that spans lines.
 */
START_TEST(test_ingest_manifest_line_numbers)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ingest_manifest *m = NULL;
	char *dir = cvt_tmpdir("manifest"), *a, *mf;

	a = write_tmp(dir, "a.tif", "x");
	mf = write_tmp(dir, "manifest.csv",
		       "file,mrn,box\n"
		       "\n"
		       "\n"
		       "a.tif,1,\"two\nlines\"\n"
		       "\n"
		       "a.tif,1'x,\n"
		       "a.tif,1,0042\n");
	ck_assert_int_eq(cv_ingest_manifest_load(&m, mf, &err), 0);
	ck_assert(has_reject(m, "line 4, column box: the value holds control"));
	ck_assert(has_reject(m, "line 7, column mrn"));
	ck_assert_uint_eq(cv_ingest_manifest_nrejects(m), 2);
	ck_assert_uint_eq(cv_ingest_manifest_nrows(m), 1);
	cv_ingest_manifest_free(m);
	free(a);
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
	ck_assert_msg(
		strstr(err.msg, "line 1, column 3: unknown column 'colour'"),
		"%s", err.msg);
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

/* ------------------------------------------------------------------
 * Dark scanner borders
 */

/* The sample page as an 8-bit grey scan: grey paper, near-black ink. */
static struct Pix *grey_page(void)
{
	struct Pix *page = sample_page(), *grey;

	grey = pixConvert1To8(NULL, page, 228, 25);
	ck_assert(grey != NULL);
	pixDestroy(&page);
	return grey;
}

/*
 * Paint a scanner lid's shadow: a dark band down the left edge with a
 * ragged inner edge, and a thinner one along the top, in mottled
 * near-black.
 */
static void add_border(struct Pix *pix)
{
	int w = pixGetWidth(pix), h = pixGetHeight(pix), x, y;

	for (y = 0; y < h; y++) {
		int band = 110 + (y * 7919) % 23;

		for (x = 0; x < band; x++)
			pixSetPixel(pix, x, y, 20 + (x * 31 + y * 17) % 40);
	}
	for (y = 0; y < 70; y++)
		for (x = 0; x < w; x++)
			pixSetPixel(pix, x, y, 25 + (x * 13 + y) % 30);
}

static int dark_in(struct Pix *pix, int x, int y, int w, int h)
{
	BOX *b = boxCreate(x, y, w, h);
	int n = 0;

	ck_assert_int_eq(pixCountPixelsInRect(pix, b, &n, NULL), 0);
	boxDestroy(&b);
	return n;
}

/* Words of a text, lower case, for comparing two readings. */
static size_t count_words_in(const char *text, const char *other)
{
	char word[64];
	size_t n = 0, found = 0, k;
	const char *p = text;

	for (;;) {
		while (*p &&
		       !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			p++;
		if (!*p)
			break;
		for (k = 0;
		     *p && k < sizeof(word) - 1 &&
		     ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'));
		     p++)
			word[k++] = *p;
		word[k] = '\0';
		if (k < 4)
			continue;
		n++;
		if (strstr(other, word))
			found++;
	}
	return n ? found * 1000 / n : 0;
}

/*
 * A scan with a dark lid shadow comes out of cleanup with the border
 * gone, the step recorded, and the same ink elsewhere; OCR reads it as it
 * reads the page without the border.
 */
START_TEST(test_ingest_cleanup_removes_dark_border)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ocr_opts oo = CV_OCR_OPTS_INIT;
	struct cv_ocr_engine *eng = NULL;
	struct cv_ocr_result plain_ocr = CV_OCR_RESULT_INIT;
	struct cv_ocr_result border_ocr = CV_OCR_RESULT_INIT;
	struct cv_ingest_cleanup rec_plain, rec_border;
	struct Pix *plain = grey_page(), *bordered = pixCopy(NULL, plain);
	int w = pixGetWidth(plain), h = pixGetHeight(plain);
	int ink_plain, ink_border;
	size_t permille;
	char steps[160];

	add_border(bordered);
	cv_ingest__clean(&plain, &rec_plain);
	cv_ingest__clean(&bordered, &rec_border);
	ck_assert(rec_plain.border_removed == 0);
	ck_assert_msg(rec_border.border_removed > 0.03 &&
			      rec_border.border_removed < 0.10,
		      "border share %.3f", rec_border.border_removed);
	cv_ingest__cleanup_steps(&rec_border, steps, sizeof(steps));
	ck_assert_msg(!strncmp(steps, "border-removed,", 15), "%s", steps);
	cv_ingest__cleanup_steps(&rec_plain, steps, sizeof(steps));
	ck_assert_msg(!strstr(steps, "border"), "%s", steps);

	/* Where the border was, the cleaned page is white. */
	ck_assert_int_eq(pixGetDepth(bordered), 1);
	ck_assert_int_lt(dark_in(bordered, 0, 0, 100, h), 100);
	ck_assert_int_lt(dark_in(bordered, 0, 0, w, 60), 100);
	/* Inside, the ink is what the page without a border has. */
	ink_plain = dark_in(plain, 200, 200, w - 400, h - 400);
	ink_border = dark_in(bordered, 200, 200, w - 400, h - 400);
	ck_assert_msg(ink_border > ink_plain * 97 / 100 &&
			      ink_border < ink_plain * 103 / 100,
		      "%d dark pixels inside, %d without the border",
		      ink_border, ink_plain);

	ck_assert_int_eq(cv_ocr_engine_new(&eng, &oo, &err), 0);
	ck_assert_int_eq(cv_ocr_recognize(eng, plain, 300, &plain_ocr, &err),
			 0);
	ck_assert_int_eq(
		cv_ocr_recognize(eng, bordered, 300, &border_ocr, &err), 0);
	permille = count_words_in(plain_ocr.text, border_ocr.text);
	ck_assert_msg(
		permille >= 985,
		"only %zu/1000 words of the page read the same with the border",
		permille);
	permille = count_words_in(border_ocr.text, plain_ocr.text);
	ck_assert_msg(permille >= 985, "%zu/1000 words read from the border",
		      permille);
	cv_ocr_result_release(&plain_ocr);
	cv_ocr_result_release(&border_ocr);
	cv_ocr_engine_free(eng);
	pixDestroy(&plain);
	pixDestroy(&bordered);
}
END_TEST

/* A bilevel photocopy with a black edge loses the edge too. */
START_TEST(test_ingest_cleanup_removes_border_of_bilevel_scan)
{
	struct cv_ingest_cleanup rec;
	struct Pix *page = sample_page();
	int w = pixGetWidth(page), h = pixGetHeight(page), before;

	before = dark_in(page, 200, 200, w - 400, h - 400);
	pixRasterop(page, w - 90, 0, 90, h, PIX_SET, NULL, 0, 0);
	pixRasterop(page, 0, h - 50, w, 50, PIX_SET, NULL, 0, 0);
	cv_ingest__clean(&page, &rec);
	ck_assert(rec.border_removed > 0.02);
	ck_assert_int_lt(dark_in(page, w - 80, 0, 80, h), 100);
	ck_assert_int_lt(dark_in(page, 0, h - 40, w, 40), 100);
	ck_assert_int_gt(dark_in(page, 200, 200, w - 400, h - 400),
			 before * 95 / 100);
	pixDestroy(&page);
}
END_TEST

/* A page that is dark all over is not a border: it is left to be
 * flagged too dark, never painted out. */
START_TEST(test_ingest_cleanup_keeps_dark_page)
{
	struct cv_ingest_cleanup rec;
	struct Pix *page = sample_page(), *dark;

	dark = pixConvert1To8(NULL, page, 70, 10);
	cv_ingest__clean(&dark, &rec);
	ck_assert(rec.border_removed == 0);
	pixDestroy(&dark);
	pixDestroy(&page);
}
END_TEST

/* ------------------------------------------------------------------
 * Searchable PDF renditions
 */

static char *pdftotext(const char *pdf)
{
	const char *argv[] = { "pdftotext", "-enc", "UTF-8", pdf, "-", NULL };
	struct cvt_run r;
	char *text;

	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, 0, "pdftotext");
	text = cv_buf_detach(&r.out, NULL);
	cvt_run_release(&r);
	return text;
}

/*
 * A bilevel and a grey page with words over them make a two-page PDF in
 * which pdftotext finds every word, parentheses, backslashes and accents
 * included; malformed word lines are skipped.
 */
START_TEST(test_ingest_pdf_has_searchable_text_layer)
{
	static const char words1[] = "x\ty\tw\th\tconf\ttext\n"
				     "300\t400\t420\t60\t96.5\tGallbladder\n"
				     "760\t400\t330\t60\t95.0\tdistended\n"
				     "garbage line without tabs\n"
				     "300\t500\t-5\t60\t90\tnegative\n"
				     "300\t600\t300\t60\t91\t(impacted)\n"
				     "640\t600\t300\t60\t91\tcaf\xc3\xa9\n"
				     "1000\t600\t300\t60\t91\ta\\b\n";
	static const char words2[] = "x\ty\tw\th\tconf\ttext\n"
				     "100\t100\t400\t50\t90\tCholecystitis\n";
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ingest_pdf_page pages[2];
	struct cv_buf pdf = CV_BUF_INIT;
	struct Pix *page = sample_page(), *grey;
	uint8_t *g4 = NULL, *png = NULL;
	size_t g4_len = 0, png_len = 0;
	char *dir = cvt_tmpdir("pdf"), *path = cv_path_join(dir, "doc.pdf");
	char *text;

	grey = pixConvert1To8(NULL, page, 255, 0);
	ck_assert_int_eq(pixWriteMemTiff(&g4, &g4_len, page, IFF_TIFF_G4), 0);
	ck_assert_int_eq(pixWriteMemPng(&png, &png_len, grey, 0), 0);
	memset(pages, 0, sizeof(pages));
	pages[0].image = g4;
	pages[0].image_len = g4_len;
	pages[0].words = words1;
	pages[0].words_len = strlen(words1);
	pages[0].dpi = 300;
	pages[1].image = png;
	pages[1].image_len = png_len;
	pages[1].words = words2;
	pages[1].words_len = strlen(words2);
	ck_assert_int_eq(cv_ingest_pdf_build(pages, 2, &pdf, &err), 0);
	ck_assert(!memcmp(pdf.buf, "%PDF-1.4", 8));
	ck_assert_int_eq(
		cv_fs_write_atomic(path, pdf.buf, pdf.len, 0600, 0, &err), 0);
	text = pdftotext(path);
	ck_assert_msg(strstr(text, "Gallbladder distended"), "%s", text);
	ck_assert_msg(strstr(text, "(impacted)"), "%s", text);
	ck_assert_msg(strstr(text, "caf\xc3\xa9"), "%s", text);
	ck_assert_msg(strstr(text, "a\\b"), "%s", text);
	ck_assert_msg(strstr(text, "Cholecystitis"), "%s", text);
	ck_assert_msg(!strstr(text, "negative") && !strstr(text, "garbage"),
		      "%s", text);
	/* The page-break form feed: two pages, the grey one second. */
	ck_assert_ptr_nonnull(strchr(text, '\f'));
	ck_assert(strstr(text, "Cholecystitis") > strchr(text, '\f'));
	free(text);

	/* Bytes that are no image are refused, naming the page. */
	cv_buf_reset(&pdf);
	pages[1].image = (const uint8_t *)"not an image";
	pages[1].image_len = 12;
	ck_assert_int_eq(cv_ingest_pdf_build(pages, 2, &pdf, &err), CV_EINVAL);
	ck_assert_msg(strstr(err.msg, "page 2"), "%s", err.msg);
	ck_assert_int_eq(cv_ingest_pdf_build(pages, 0, &pdf, &err), CV_EINVAL);

	cv_buf_release(&pdf);
	lept_free(g4);
	lept_free(png);
	pixDestroy(&grey);
	pixDestroy(&page);
	cvt_rmrf(dir);
	free(path);
	free(dir);
}
END_TEST

Suite *cv_ingest_suite(void)
{
	Suite *s = suite_create("ingest");
	TCase *tc;

	tc = tcase_create("facts");
	tcase_add_test(tc, test_ingest_facts_read_header_title_and_paging);
	tcase_add_test(tc, test_ingest_facts_read_header_styles);
	tcase_add_test(tc, test_ingest_header_read_off_word_boxes);
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
	tcase_add_test(tc, test_ingest_manifest_line_numbers);
	tcase_add_test(tc, test_ingest_manifest_bad_header_is_refused);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("border-and-pdf");
	tcase_set_tags(tc, "ocr");
	tcase_add_test(tc, test_ingest_cleanup_removes_dark_border);
	tcase_add_test(tc, test_ingest_cleanup_removes_border_of_bilevel_scan);
	tcase_add_test(tc, test_ingest_cleanup_keeps_dark_page);
	tcase_add_test(tc, test_ingest_pdf_has_searchable_text_layer);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}
