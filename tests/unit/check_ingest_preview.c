/*
 * Unit tests for the viewer's page images (ingest/preview.c): a bilevel
 * G4 page and a grey PNG page scaled to a width as 8-bit grey PNGs that
 * keep the print where it was, never enlarged, and a file that is not an
 * image refused.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>

#include "ingest/ingest.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

/* A letter page at 300 dpi: white, one black bar across the top third. */
static PIX *page(int depth)
{
	PIX *pix = pixCreate(2550, 3300, depth);

	if (depth == 8)
		pixSetAll(pix); /* white */
	pixRasterop(pix, 300, 1000, 1950, 120, depth == 1 ? PIX_SET : PIX_CLR,
		    NULL, 0, 0);
	return pix;
}

/* Decode png; check its size and that the bar is dark and paper white. */
static void check_png(const struct cv_buf *png, int width)
{
	PIX *pix;
	l_uint32 bar, paper;
	float f = (float)width / 2550.0f;

	ck_assert_uint_gt(png->len, 8);
	ck_assert_int_eq(memcmp(png->buf, "\x89PNG\r\n\x1a\n", 8), 0);
	pix = pixReadMem((const l_uint8 *)png->buf, png->len);
	ck_assert_ptr_nonnull(pix);
	ck_assert_int_eq(pixGetWidth(pix), width);
	ck_assert_int_eq(pixGetDepth(pix), 8);
	pixGetPixel(pix, (l_int32)(1000 * f), (l_int32)(1060 * f), &bar);
	pixGetPixel(pix, (l_int32)(1000 * f), (l_int32)(2500 * f), &paper);
	ck_assert_uint_lt(bar, 64);
	ck_assert_uint_gt(paper, 200);
	pixDestroy(&pix);
}

START_TEST(test_ingest_preview_scales_bilevel_and_grey_pages)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf png = CV_BUF_INIT;
	PIX *g4 = page(1), *grey = page(8);
	l_uint8 *tif = NULL, *gpng = NULL;
	size_t tlen = 0, glen = 0;

	ck_assert_int_eq(pixWriteMemTiff(&tif, &tlen, g4, IFF_TIFF_G4), 0);
	ck_assert_int_eq(pixWriteMemPng(&gpng, &glen, grey, 0.0), 0);
	ck_assert_int_eq(cv_ingest_page_preview(&png, tif, tlen, 1400, &err),
			 0);
	check_png(&png, 1400);
	cv_buf_reset(&png);
	ck_assert_int_eq(cv_ingest_page_preview(&png, tif, tlen, 120, &err), 0);
	check_png(&png, 120);
	cv_buf_reset(&png);
	ck_assert_int_eq(cv_ingest_page_preview(&png, gpng, glen, 800, &err),
			 0);
	check_png(&png, 800);
	cv_buf_reset(&png);
	/* Wider than the page: the page as it is, in grey. */
	ck_assert_int_eq(cv_ingest_page_preview(&png, tif, tlen, 4000, &err),
			 0);
	check_png(&png, 2550);
	cv_buf_release(&png);
	lept_free(tif);
	lept_free(gpng);
	pixDestroy(&g4);
	pixDestroy(&grey);
}
END_TEST

START_TEST(test_ingest_preview_refuses_what_is_not_an_image)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf png = CV_BUF_INIT;
	static const char junk[] = "\x89PNG\r\n\x1a\nthis is not an image";

	ck_assert_int_eq(cv_ingest_page_preview(&png, (const uint8_t *)junk,
						sizeof(junk) - 1, 800, &err),
			 CV_EINVAL);
	ck_assert_uint_eq(png.len, 0);
	cv_buf_release(&png);
}
END_TEST

Suite *cv_ingest_preview_suite(void)
{
	Suite *s = suite_create("ingest_preview");
	TCase *tc = tcase_create("preview");

	tcase_add_test(tc, test_ingest_preview_scales_bilevel_and_grey_pages);
	tcase_add_test(tc, test_ingest_preview_refuses_what_is_not_an_image);
	suite_add_tcase(s, tc);
	return s;
}
