/*
 * Unit tests for ocr/: a real Tesseract engine on a sample page.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>

#include "ocr/ocr.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

static struct Pix *first_sample_page(void)
{
	char *dir = cvt_srcpath("samples/batch");
	char *cmd = cv_asprintf("ls %s/*.tif | head -1", dir);
	FILE *p = popen(cmd, "r");
	char path[4096] = "";
	struct Pix *pix;

	ck_assert(p != NULL);
	ck_assert_msg(fgets(path, sizeof(path), p) != NULL,
		      "no TIFF in samples/batch");
	pclose(p);
	path[strcspn(path, "\n")] = '\0';
	pix = pixReadTiff(path, 0);
	ck_assert_msg(pix != NULL, "cannot read %s", path);
	free(cmd);
	free(dir);
	return pix;
}

START_TEST(test_ocr_runs_single_threaded)
{
	/* make sets it for the tests as cli/main.c does for the program. */
	ck_assert(cv_ocr_threading_ok());
}
END_TEST

START_TEST(test_ocr_reads_a_sample_page_with_word_boxes)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ocr_opts o = CV_OCR_OPTS_INIT;
	struct cv_ocr_engine *e = NULL;
	struct cv_ocr_result r = CV_OCR_RESULT_INIT;
	struct cv_buf tsv = CV_BUF_INIT;
	struct Pix *pix = first_sample_page();
	size_t i, inside = 0;

	ck_assert_int_eq(cv_ocr_engine_new(&e, &o, &err), 0);
	ck_assert_int_eq(cv_ocr_recognize(e, pix, 0, &r, &err), 0);
	ck_assert_msg(strstr(r.text, "MRN") != NULL, "no MRN in: %.200s",
		      r.text);
	ck_assert_msg(strstr(r.text, "Patient") != NULL, "no header");
	ck_assert_uint_gt(r.nwords, 50);
	ck_assert(r.mean_conf > 50);
	for (i = 0; i < r.nwords; i++)
		if (r.words[i].x >= 0 && r.words[i].y >= 0 &&
		    r.words[i].x + r.words[i].w <= r.width &&
		    r.words[i].y + r.words[i].h <= r.height)
			inside++;
	ck_assert_uint_eq(inside, r.nwords);
	ck_assert_int_eq(cv_ocr_words_tsv(&r, &tsv), 0);
	ck_assert(!strncmp(tsv.buf, "x\ty\tw\th\tconf\ttext\n", 18));

	/* The same engine serves the next page. */
	cv_ocr_result_release(&r);
	ck_assert_int_eq(cv_ocr_recognize(e, pix, 300, &r, &err), 0);
	ck_assert(strstr(r.text, "MRN") != NULL);
	cv_ocr_result_release(&r);
	cv_buf_release(&tsv);
	cv_ocr_engine_free(e);
	pixDestroy(&pix);
}
END_TEST

/* OSD reports how far a page was turned, so that it can be turned back. */
START_TEST(test_ocr_orientation_finds_turned_pages)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ocr_opts o = CV_OCR_OPTS_INIT;
	struct cv_ocr_engine *e = NULL;
	struct Pix *pix = first_sample_page(), *turned;
	float conf = 0;
	int deg = -1;

	ck_assert_int_eq(cv_ocr_engine_new(&e, &o, &err), 0);
	ck_assert_int_eq(cv_ocr_orientation(e, pix, 300, &deg, &conf, &err), 0);
	ck_assert_int_eq(deg, 0);
	turned = pixRotateOrth(pix, 2);
	ck_assert_int_eq(cv_ocr_orientation(e, turned, 300, &deg, &conf, &err),
			 0);
	ck_assert_int_eq(deg, 180);
	ck_assert(conf > 5);
	pixDestroy(&turned);
	turned = pixRotateOrth(pix, 1); /* 90 degrees clockwise */
	ck_assert_int_eq(cv_ocr_orientation(e, turned, 300, &deg, &conf, &err),
			 0);
	ck_assert_int_eq(deg, 90);
	pixDestroy(&turned);
	cv_ocr_engine_free(e);
	pixDestroy(&pix);
}
END_TEST

START_TEST(test_ocr_missing_language_is_unavailable)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ocr_opts o = { "xx_nonexistent", NULL };
	struct cv_ocr_engine *e = NULL;

	ck_assert_int_eq(cv_ocr_engine_new(&e, &o, &err), CV_EUNAVAIL);
	ck_assert(e == NULL);
	ck_assert(strstr(err.msg, "xx_nonexistent") != NULL);
}
END_TEST

Suite *cv_ocr_suite(void)
{
	Suite *s = suite_create("ocr");
	TCase *tc = tcase_create("tesseract");

	tcase_set_tags(tc, "ocr");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ocr_runs_single_threaded);
	tcase_add_test(tc, test_ocr_reads_a_sample_page_with_word_boxes);
	tcase_add_test(tc, test_ocr_orientation_finds_turned_pages);
	tcase_add_test(tc, test_ocr_missing_language_is_unavailable);
	suite_add_tcase(s, tc);
	return s;
}
