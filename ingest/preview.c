/*
 * The viewer's page images: an archived page image (the cleaned G4 TIFF
 * or grey PNG that OCR read) scaled to a screen width and written as an
 * 8-bit grey PNG. Staff notice the time to the first byte, so the PNG is
 * made for speed rather than for the last byte of size: rows are not
 * filtered and are deflated at level 1 with run-length matching. A page
 * is mostly runs of paper and runs of ink, which run-length matching
 * finds in the bytes as they are; filtering them first only breaks the
 * runs up. On the sample pages (cleaned 300-dpi G4 pages at 1400 and
 * 120 px) that is 19.5 ms of CPU and 61 KB a page for both widths,
 * against 21 ms and 70 KB filtering every row by "up", and 30 ms and
 * 64 KB with libpng's adaptive filters; level 9 instead of 1 costs 180
 * ms for 13% less (bench/viewer.sh measures the whole request). The same
 * PNG is what ingest stores as a page's preview (pdf.c).
 */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <leptonica/allheaders.h>
#include <png.h>
#include <zlib.h>

#include "ingest_int.h"
#include "../common/banned.h"

struct sink {
	struct cv_buf *out;
};

static void sink_write(png_structp png, png_bytep data, size_t n)
{
	struct sink *s = png_get_io_ptr(png);

	if (cv_buf_add(s->out, data, n) < 0)
		png_error(png, "the image is too large");
}

/* The default flush would fflush() our sink as if it were a FILE. */
static void sink_flush(png_structp png)
{
	(void)png;
}

static void png_fail(png_structp png, png_const_charp msg)
{
	(void)msg;
	png_longjmp(png, 1);
}

static void png_quiet(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

/* pix: 8 bpp, no colormap. Appends the PNG to out. */
static int write_grey_png(struct cv_buf *out, PIX *pix, struct cv_error *err)
{
	png_structp png = NULL;
	png_infop info = NULL;
	struct sink sink = { out };
	PIX *bytes;
	l_uint32 *data;
	int w = pixGetWidth(pix), h = pixGetHeight(pix), wpl, y, ret;

	/* Leptonica keeps pixels in native-endian words; PNG rows are the
	 * bytes in order: swap once, then hand rows over as they are. */
	bytes = pixEndianByteSwapNew(pix);
	if (!bytes)
		return cv_error_set(err, CV_ERROR,
				    "could not prepare the image");
	data = pixGetData(bytes);
	wpl = pixGetWpl(bytes);
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_fail,
				      png_quiet);
	if (png)
		info = png_create_info_struct(png);
	if (!png || !info) {
		ret = cv_error_set(err, CV_ERROR, "could not start a PNG");
		goto cleanup;
	}
	if (setjmp(png_jmpbuf(png))) {
		ret = cv_error_set(err, CV_ERROR, "could not write the PNG");
		goto cleanup;
	}
	png_set_write_fn(png, &sink, sink_write, sink_flush);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
		     PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
	png_set_compression_level(png, 1);
	png_set_compression_strategy(png, Z_RLE);
	png_write_info(png, info);
	for (y = 0; y < h; y++)
		png_write_row(png, (png_const_bytep)(data + (size_t)y * wpl));
	png_write_end(png, NULL);
	ret = 0;
cleanup:
	png_destroy_write_struct(&png, &info);
	pixDestroy(&bytes);
	return ret;
}

int cv_ingest_page_preview(struct cv_buf *out, const uint8_t *image, size_t len,
			   int width, struct cv_error *err)
{
	PIX *pix = pixReadMem(image, len);
	int ret;

	if (!pix)
		return cv_error_set(err, CV_EINVAL,
				    "the page image cannot be decoded");
	ret = cv_ingest_pix_preview(out, pix, width, err);
	pixDestroy(&pix);
	return ret;
}

int cv_ingest_pix_preview(struct cv_buf *out, struct Pix *pix, int width,
			  struct cv_error *err)
{
	PIX *grey = NULL, *scaled = NULL;
	int ret;

	if (width < pixGetWidth(pix)) {
		float f = (float)width / (float)pixGetWidth(pix);

		/* Grey from bilevel keeps small print legible. */
		if (pixGetDepth(pix) == 1) {
			scaled = pixScaleToGray(pix, f);
		} else {
			grey = pixConvertTo8(pix, 0);
			scaled = grey ? pixScale(grey, f, f) : NULL;
		}
	} else {
		/* Never enlarged: the browser does that as well as we can. */
		scaled = pixConvertTo8(pix, 0);
	}
	/* pixScale may return 8 bpp with a colormap from a mapped source. */
	if (scaled && (pixGetDepth(scaled) != 8 || pixGetColormap(scaled))) {
		PIX *t = pixConvertTo8(scaled, 0);

		pixDestroy(&scaled);
		scaled = t;
		if (scaled && pixGetColormap(scaled)) {
			t = pixRemoveColormap(scaled, REMOVE_CMAP_TO_GRAYSCALE);
			pixDestroy(&scaled);
			scaled = t;
		}
	}
	if (!scaled) {
		ret = cv_error_set(err, CV_ERROR, "could not scale the image");
		goto cleanup;
	}
	ret = write_grey_png(out, scaled, err);
cleanup:
	pixDestroy(&scaled);
	pixDestroy(&grey);
	return ret;
}
