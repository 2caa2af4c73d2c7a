/*
 * ocr: text, word boxes and confidences from a page image, and the only
 * code that includes Tesseract.
 *
 * One struct cv_ocr_engine wraps one Tesseract engine. Engines are
 * expensive to create (a second or so) and are not thread-safe, so each
 * worker thread owns one and reuses it for every page it takes.
 *
 * Tesseract's OpenMP threading is several times slower than a single
 * thread on small machines, and libgomp reads OMP_THREAD_LIMIT only when
 * it is loaded; cv_ocr_threading_ok() lets callers check that the process
 * was started with OMP_THREAD_LIMIT=1 (cli/main.c re-executes itself to
 * see to it).
 */
#ifndef CV_OCR_H
#define CV_OCR_H

#include <stddef.h>

#include "../common/cv.h"

struct Pix;
struct cv_ocr_engine;

struct cv_ocr_opts {
	const char *language; /* "eng", "eng+spa"; NULL: "eng" */
	const char *tessdata; /* NULL or "": Tesseract's default */
};

/* clang-format off */
#define CV_OCR_OPTS_INIT { NULL, NULL }
/* clang-format on */

struct cv_ocr_word {
	int x, y, w, h; /* pixels in the image that was recognised */
	float conf;     /* 0..100 */
	char *text;     /* UTF-8, malloc'd */
};

struct cv_ocr_result {
	char *text; /* UTF-8, malloc'd; "" for a page with no text */
	struct cv_ocr_word *words;
	size_t nwords;
	double mean_conf; /* 0..100; -1 when there were no words */
	int width, height;
};

/* clang-format off */
#define CV_OCR_RESULT_INIT { NULL, NULL, 0, -1, 0, 0 }
/* clang-format on */

/* 1 when OMP_THREAD_LIMIT=1 is in the environment. */
int cv_ocr_threading_ok(void);

/* Tesseract's version string (borrowed). */
const char *cv_ocr_version(void);

/*
 * Create an engine with page segmentation PSM_AUTO (the C API defaults to
 * a single block, unlike the tesseract command). CV_EUNAVAIL when the
 * language data cannot be loaded. Engines are independent of each other,
 * so each thread may create its own.
 */
int cv_ocr_engine_new(struct cv_ocr_engine **out, const struct cv_ocr_opts *o,
		      struct cv_error *err);
void cv_ocr_engine_free(struct cv_ocr_engine *e);

/*
 * Recognise pix (borrowed; not modified). dpi is the scan resolution (0:
 * take it from pix, else assume 300). Fills out, which the caller releases
 * with cv_ocr_result_release. Call from the engine's thread only.
 */
int cv_ocr_recognize(struct cv_ocr_engine *e, struct Pix *pix, int dpi,
		     struct cv_ocr_result *out, struct cv_error *err);
void cv_ocr_result_release(struct cv_ocr_result *r);

/*
 * Tesseract's orientation detection (OSD): *degrees is how far the page
 * was turned clockwise (0, 90, 180 or 270), so turning it back that far
 * counter-clockwise makes it upright; *conf is OSD's confidence (above
 * about 5 is trustworthy). The OSD engine is created on first use, per
 * engine; CV_EUNAVAIL when osd.traineddata is missing. Costs a fraction
 * of a recognition, so callers run it only on pages that read badly.
 */
int cv_ocr_orientation(struct cv_ocr_engine *e, struct Pix *pix, int dpi,
		       int *degrees, float *conf, struct cv_error *err);

/*
 * The word list as tab-separated lines "x\ty\tw\th\tconf\ttext\n", with a
 * header line; words containing tabs or newlines have them replaced by
 * spaces. This is what the archive keeps for highlighting hits.
 */
int cv_ocr_words_tsv(const struct cv_ocr_result *r, struct cv_buf *out);

#endif
