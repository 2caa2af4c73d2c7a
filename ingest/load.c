/*
 * Checking and decoding input images with Leptonica. A file's format is
 * decided by its first bytes, never its name, and every page's
 * dimensions are read from its header and checked against the pixel cap
 * before any pixel is decoded: a 100000 x 100000 TIFF costs a few bytes
 * to send and 10 GB to decode.
 *
 * Everything works on a snapshot of the file in memory, so the bytes that
 * are checked, archived and recognised are the same bytes even when a
 * scanner or a share rewrites the file meanwhile.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <leptonica/allheaders.h>
#include <png.h>
#include <tiffio.h>

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

static int sniff(const char *name, const uint8_t *h, size_t n,
		 enum cv_ingest_format *format, struct cv_error *err)
{
	static const uint8_t png[8] = { 0x89, 'P',  'N',  'G',
					'\r', '\n', 0x1a, '\n' };

	*format = CV_INGEST_FMT_UNKNOWN;
	if (n == 0)
		return cv_error_set(err, CV_EINVAL, "'%s' is empty (0 bytes)",
				    name);
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
			name);
	else
		return cv_error_set(
			err, CV_EINVAL,
			"'%s' is not an image chartvault accepts (TIFF, PNG, JPEG or PNM)",
			name);
	return 0;
}

static int check_size(const char *name, int page, int w, int h,
		      uint64_t max_pixels, struct cv_error *err)
{
	uint64_t px;

	if (w <= 0 || h <= 0)
		return cv_error_set(err, CV_EINVAL,
				    "'%s' page %d has invalid dimensions %dx%d",
				    name, page, w, h);
	px = (uint64_t)w * (uint64_t)h;
	if (px > max_pixels) {
		cv_error_set(
			err, CV_ELIMIT,
			"'%s' page %d claims %dx%d pixels, over the limit of %llu megapixels",
			name, page, w, h,
			(unsigned long long)(max_pixels / 1000000));
		cv_error_hint(
			err,
			"raise ingest.max_megapixels if this really is a page scan");
		return CV_ELIMIT;
	}
	return 0;
}

/*
 * libtiff reading from memory: Leptonica's page counter wants a real file
 * descriptor, so count the directories here.
 */
struct membuf {
	const uint8_t *data;
	size_t size;
	size_t pos;
};

static tsize_t mem_read(thandle_t h, tdata_t buf, tsize_t n)
{
	struct membuf *m = h;
	size_t k = m->pos < m->size ? m->size - m->pos : 0;

	if (n < 0)
		return -1;
	if ((size_t)n < k)
		k = (size_t)n;
	memcpy(buf, m->data + m->pos, k);
	m->pos += k;
	return (tsize_t)k;
}

static tsize_t mem_write(thandle_t h, tdata_t buf, tsize_t n)
{
	(void)h;
	(void)buf;
	(void)n;
	return -1;
}

static toff_t mem_seek(thandle_t h, toff_t off, int whence)
{
	struct membuf *m = h;
	uint64_t base = whence == SEEK_CUR   ? m->pos
			: whence == SEEK_END ? m->size
					     : 0;

	if (off > UINT64_MAX - base || base + off > m->size)
		return (toff_t)-1;
	m->pos = (size_t)(base + off);
	return (toff_t)m->pos;
}

static int mem_close(thandle_t h)
{
	(void)h;
	return 0;
}

static toff_t mem_size(thandle_t h)
{
	return (toff_t)((struct membuf *)h)->size;
}

static int mem_map(thandle_t h, tdata_t *base, toff_t *size)
{
	(void)h;
	(void)base;
	(void)size;
	return 0;
}

static void mem_unmap(thandle_t h, tdata_t base, toff_t size)
{
	(void)h;
	(void)base;
	(void)size;
}

/* libtiff prints its complaints on stderr by default; modules never
 * print, and our own message names the file and the page. */
static void quiet_libtiff(void)
{
	TIFFSetErrorHandler(NULL);
	TIFFSetWarningHandler(NULL);
}

static int tiff_pages(const uint8_t *data, size_t size)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct membuf m = { data, size, 0 };
	TIFF *t;
	int n = 0;

	pthread_once(&once, quiet_libtiff);
	t = TIFFClientOpen("memory", "rm", (thandle_t)&m, mem_read, mem_write,
			   mem_seek, mem_close, mem_size, mem_map, mem_unmap);
	if (!t)
		return -1;
	do {
		if (++n > MAX_PAGES_PER_FILE)
			break;
	} while (TIFFReadDirectory(t));
	TIFFClose(t);
	return n;
}

static int probe_tiff(const char *name, const uint8_t *data, size_t size,
		      uint64_t max_pixels, int *pages, struct cv_error *err)
{
	int n = tiff_pages(data, size), i;

	if (n < 1)
		return cv_error_set(
			err, CV_EINVAL,
			"'%s' is a damaged TIFF: its page directory cannot be read (truncated?)",
			name);
	if (n > MAX_PAGES_PER_FILE)
		return cv_error_set(err, CV_ELIMIT,
				    "'%s' has more than %d pages", name,
				    MAX_PAGES_PER_FILE);
	for (i = 0; i < n; i++) {
		int w = 0, h = 0, bps, spp, res, cmap, fmt, ret;

		if (readHeaderMemTiff(data, size, i, &w, &h, &bps, &spp, &res,
				      &cmap, &fmt))
			return cv_error_set(
				err, CV_EINVAL,
				"'%s' page %d: the TIFF header cannot be read",
				name, i + 1);
		ret = check_size(name, i + 1, w, h, max_pixels, err);
		if (ret < 0)
			return ret;
	}
	*pages = n;
	return 0;
}

int cv_ingest_probe_mem(const char *name, const uint8_t *data, size_t size,
			uint64_t max_pixels, enum cv_ingest_format *format,
			int *pages, struct cv_error *err)
{
	int w = 0, h = 0, a, b, c, d, ret;

	*pages = 0;
	ret = sniff(name, data, size, format, err);
	if (ret < 0)
		return ret;
	switch (*format) {
	case CV_INGEST_FMT_TIFF:
		return probe_tiff(name, data, size, max_pixels, pages, err);
	case CV_INGEST_FMT_PNG:
		ret = readHeaderMemPng(data, size, &w, &h, &a, &b, &c);
		break;
	case CV_INGEST_FMT_JPEG:
		ret = readHeaderMemJpeg(data, size, &w, &h, &a, &b, &c);
		break;
	case CV_INGEST_FMT_PNM:
		ret = readHeaderMemPnm(data, size, &w, &h, &a, &b, &c, &d);
		break;
	default:
		CV_BUG("sniff returned no format");
	}
	if (ret)
		return cv_error_set(
			err, CV_EINVAL,
			"'%s' is a damaged %s: its header cannot be read", name,
			cv_ingest_format_name(*format));
	ret = check_size(name, 1, w, h, max_pixels, err);
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

/*
 * Decode a PNG with libpng's simplified API before Leptonica does: that
 * API keeps its errors in image.message, where Leptonica's decoder lets
 * libpng print "libpng error: ..." on stderr, beside our own message
 * naming the file. The pixels decoded here are only a check; Leptonica
 * decodes again to keep the resolution (pHYs) that this API does not
 * report. The cost is one more decode of a PNG page, small beside OCR.
 */
static int check_png(const char *name, const uint8_t *data, size_t size,
		     struct cv_error *err)
{
	png_image image;
	png_bytep pixels = NULL;
	png_color white = { 255, 255, 255 };
	int ok;

	memset(&image, 0, sizeof(image));
	image.version = PNG_IMAGE_VERSION;
	ok = png_image_begin_read_from_memory(&image, data, size);
	if (ok) {
		image.format = PNG_FORMAT_GRAY;
		pixels = malloc(PNG_IMAGE_SIZE(image));
		ok = pixels &&
		     png_image_finish_read(&image, &white, pixels, 0, NULL);
	}
	free(pixels);
	if (!ok) {
		cv_error_set(err, CV_EINVAL,
			     "'%s' cannot be decoded: the png data is damaged",
			     name);
		cv_error_detail(err, "libpng: %s", image.message);
		png_image_free(&image);
		return CV_EINVAL;
	}
	png_image_free(&image);
	return 0;
}

int cv_ingest_load_page_mem(const char *name, const uint8_t *data, size_t size,
			    enum cv_ingest_format format, int page,
			    struct Pix **out, int *dpi, struct cv_error *err)
{
	PIX *pix;

	*out = NULL;
	*dpi = 0;
	if (format == CV_INGEST_FMT_PNG && check_png(name, data, size, err) < 0)
		return CV_EINVAL;
	if (format == CV_INGEST_FMT_TIFF)
		pix = pixReadMemTiff(data, size, page - 1);
	else
		pix = pixReadMem(data, size);
	if (!pix)
		return cv_error_set(
			err, CV_EINVAL,
			"'%s' page %d cannot be decoded: the %s data is damaged",
			name, page, cv_ingest_format_name(format));
	*dpi = pixGetXRes(pix);
	pix = normalise_depth(pix);
	if (!pix)
		return cv_error_set(
			err, CV_EINVAL,
			"'%s' page %d has a pixel format that cannot be converted",
			name, page);
	*out = pix;
	return 0;
}

/* The probe and decoder over a file, for callers without a snapshot. */
static int snapshot(struct cv_buf *b, const char *path, struct cv_error *err)
{
	int ret = cv_fs_read_file(b, path, SIZE_MAX / 2, err);

	if (ret < 0 && ret != CV_ELIMIT)
		ret = CV_EINVAL;
	if (err && ret < 0)
		err->code = ret;
	return ret;
}

int cv_ingest_probe(const char *path, uint64_t max_pixels,
		    enum cv_ingest_format *format, int *pages,
		    struct cv_error *err)
{
	struct cv_buf b = CV_BUF_INIT;
	int ret;

	*format = CV_INGEST_FMT_UNKNOWN;
	*pages = 0;
	ret = snapshot(&b, path, err);
	if (ret == 0)
		ret = cv_ingest_probe_mem(path, (const uint8_t *)b.buf, b.len,
					  max_pixels, format, pages, err);
	cv_buf_release(&b);
	return ret;
}

int cv_ingest_load_page(const char *path, enum cv_ingest_format format,
			int page, struct Pix **pix, int *dpi,
			struct cv_error *err)
{
	struct cv_buf b = CV_BUF_INIT;
	int ret;

	*pix = NULL;
	*dpi = 0;
	ret = snapshot(&b, path, err);
	if (ret == 0)
		ret = cv_ingest_load_page_mem(path, (const uint8_t *)b.buf,
					      b.len, format, page, pix, dpi,
					      err);
	cv_buf_release(&b);
	return ret;
}
