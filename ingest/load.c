/*
 * Checking and decoding input images with Leptonica. A file's format is
 * decided by its first bytes, never its name, and every page's
 * dimensions are read from its header and checked against the pixel cap
 * before any pixel is decoded: a 100000 x 100000 TIFF costs a few bytes
 * to send and 10 GB to decode.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <leptonica/allheaders.h>

#include "ingest_int.h"
#include "../common/banned.h"

/* More pages than any paper chart bundle; a guard against crafted files. */
#define MAX_PAGES_PER_FILE 10000

const char *cv_ingest_format_name(enum cv_ingest_format f)
{
	switch (f) {
	case CV_INGEST_FMT_TIFF:
		return "tiff";
	case CV_INGEST_FMT_PNG:
		return "png";
	case CV_INGEST_FMT_JPEG:
		return "jpeg";
	case CV_INGEST_FMT_PNM:
		return "pnm";
	default:
		return "unknown";
	}
}

static int sniff(const char *path, enum cv_ingest_format *format,
		 struct cv_error *err)
{
	static const uint8_t png[8] = { 0x89, 'P',  'N',  'G',
					'\r', '\n', 0x1a, '\n' };
	uint8_t h[16] = { 0 };
	ssize_t n;
	int fd;

	*format = CV_INGEST_FMT_UNKNOWN;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cv_error_errno(err, CV_EINVAL, "'%s' cannot be read",
				      path);
	n = read(fd, h, sizeof(h));
	close(fd);
	if (n < 0)
		return cv_error_errno(err, CV_EINVAL, "'%s' cannot be read",
				      path);
	if (n == 0)
		return cv_error_set(err, CV_EINVAL, "'%s' is empty (0 bytes)",
				    path);
	if (n >= 4 &&
	    ((h[0] == 'I' && h[1] == 'I' && h[2] == 42 && h[3] == 0) ||
	     (h[0] == 'M' && h[1] == 'M' && h[2] == 0 && h[3] == 42)))
		*format = CV_INGEST_FMT_TIFF;
	else if (n >= 8 && !memcmp(h, png, 8))
		*format = CV_INGEST_FMT_PNG;
	else if (n >= 3 && h[0] == 0xff && h[1] == 0xd8 && h[2] == 0xff)
		*format = CV_INGEST_FMT_JPEG;
	else if (n >= 3 && h[0] == 'P' && h[1] >= '1' && h[1] <= '6' &&
		 (h[2] == ' ' || h[2] == '\n' || h[2] == '\r' || h[2] == '\t'))
		*format = CV_INGEST_FMT_PNM;
	else if (n >= 5 && !memcmp(h, "%PDF-", 5))
		return cv_error_set(
			err, CV_EINVAL,
			"'%s' is a PDF document, not a scanned image (whatever its name says)",
			path);
	else
		return cv_error_set(
			err, CV_EINVAL,
			"'%s' is not an image chartvault accepts (TIFF, PNG, JPEG or PNM)",
			path);
	return 0;
}

static int check_size(const char *path, int page, int w, int h,
		      uint64_t max_pixels, struct cv_error *err)
{
	uint64_t px;

	if (w <= 0 || h <= 0)
		return cv_error_set(err, CV_EINVAL,
				    "'%s' page %d has invalid dimensions %dx%d",
				    path, page, w, h);
	px = (uint64_t)w * (uint64_t)h;
	if (px > max_pixels) {
		cv_error_set(
			err, CV_ELIMIT,
			"'%s' page %d claims %dx%d pixels, over the limit of %llu megapixels",
			path, page, w, h,
			(unsigned long long)(max_pixels / 1000000));
		cv_error_hint(
			err,
			"raise ingest.max_megapixels if this really is a page scan");
		return CV_ELIMIT;
	}
	return 0;
}

static int probe_tiff(const char *path, uint64_t max_pixels, int *pages,
		      struct cv_error *err)
{
	FILE *f;
	int n = 0, i, ok;

	f = fopen(path, "rb");
	if (!f)
		return cv_error_errno(err, CV_EINVAL, "'%s' cannot be read",
				      path);
	ok = tiffGetCount(f, &n) == 0;
	fclose(f);
	if (!ok || n < 1)
		return cv_error_set(
			err, CV_EINVAL,
			"'%s' is a damaged TIFF: its page directory cannot be read (truncated?)",
			path);
	if (n > MAX_PAGES_PER_FILE)
		return cv_error_set(
			err, CV_ELIMIT,
			"'%s' claims %d pages, over the limit of %d", path, n,
			MAX_PAGES_PER_FILE);
	for (i = 0; i < n; i++) {
		int w = 0, h = 0, bps, spp, res, cmap, fmt, ret;

		if (readHeaderTiff(path, i, &w, &h, &bps, &spp, &res, &cmap,
				   &fmt))
			return cv_error_set(
				err, CV_EINVAL,
				"'%s' page %d: the TIFF header cannot be read",
				path, i + 1);
		ret = check_size(path, i + 1, w, h, max_pixels, err);
		if (ret < 0)
			return ret;
	}
	*pages = n;
	return 0;
}

int cv_ingest_probe(const char *path, uint64_t max_pixels,
		    enum cv_ingest_format *format, int *pages,
		    struct cv_error *err)
{
	int w = 0, h = 0, a, b, c, d, ret;

	*pages = 0;
	ret = sniff(path, format, err);
	if (ret < 0)
		return ret;
	switch (*format) {
	case CV_INGEST_FMT_TIFF:
		return probe_tiff(path, max_pixels, pages, err);
	case CV_INGEST_FMT_PNG:
		ret = readHeaderPng(path, &w, &h, &a, &b, &c);
		break;
	case CV_INGEST_FMT_JPEG:
		ret = readHeaderJpeg(path, &w, &h, &a, &b, &c);
		break;
	case CV_INGEST_FMT_PNM:
		ret = readHeaderPnm(path, &w, &h, &a, &b, &c, &d);
		break;
	default:
		CV_BUG("sniff returned no format");
	}
	if (ret)
		return cv_error_set(
			err, CV_EINVAL,
			"'%s' is a damaged %s: its header cannot be read", path,
			cv_ingest_format_name(*format));
	ret = check_size(path, 1, w, h, max_pixels, err);
	if (ret < 0)
		return ret;
	*pages = 1;
	return 0;
}

/* Bring any decoded page to a depth Tesseract and Leptonica's cleanup
 * both take: 1, 8 or 32 bits, no colormap. */
static PIX *normalise_depth(PIX *pix)
{
	PIX *out;
	int d;

	if (pixGetColormap(pix)) {
		out = pixRemoveColormap(pix, REMOVE_CMAP_BASED_ON_SRC);
		pixDestroy(&pix);
		if (!out)
			return NULL;
		pix = out;
	}
	d = pixGetDepth(pix);
	if (d == 1 || d == 8 || d == 32)
		return pix;
	if (d == 16)
		out = pixConvert16To8(pix, L_MS_BYTE);
	else
		out = pixConvertTo8(pix, 0);
	pixDestroy(&pix);
	return out;
}

int cv_ingest_load_page(const char *path, enum cv_ingest_format format,
			int page, struct Pix **out, int *dpi,
			struct cv_error *err)
{
	PIX *pix;

	*out = NULL;
	*dpi = 0;
	if (format == CV_INGEST_FMT_TIFF)
		pix = pixReadTiff(path, page - 1);
	else
		pix = pixRead(path);
	if (!pix)
		return cv_error_set(
			err, CV_EINVAL,
			"'%s' page %d cannot be decoded: the %s data is damaged",
			path, page, cv_ingest_format_name(format));
	*dpi = pixGetXRes(pix);
	pix = normalise_depth(pix);
	if (!pix)
		return cv_error_set(
			err, CV_EINVAL,
			"'%s' page %d has a pixel format that cannot be converted",
			path, page);
	*out = pix;
	return 0;
}

void cv_ingest__deskew(struct Pix **pix, double *angle)
{
	l_float32 a = 0, conf = 0;
	PIX *straight;

	*angle = 0;
	/* Leptonica measures on a binarised reduction and rotates the
	 * original; it returns a clone when the page is straight enough. */
	straight = pixFindSkewAndDeskew(*pix, 2, &a, &conf);
	if (!straight)
		return;
	pixDestroy(pix);
	*pix = straight;
	/* Below Leptonica's confidence floor nothing was rotated. */
	if (conf >= 3.0 && (a > 0.1 || a < -0.1))
		*angle = a;
}
