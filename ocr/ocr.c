/*
 * The Tesseract engine wrapper behind ocr.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>
#include <tesseract/capi.h>

#include "ocr.h"
#include "../common/banned.h"

struct cv_ocr_engine {
	TessBaseAPI *api;
	TessBaseAPI *osd; /* orientation only, created on first use */
	char *tessdata;
};

int cv_ocr_threading_ok(void)
{
	const char *v = getenv("OMP_THREAD_LIMIT");

	return v && !strcmp(v, "1");
}

const char *cv_ocr_version(void)
{
	return TessVersion();
}

int cv_ocr_engine_new(struct cv_ocr_engine **out, const struct cv_ocr_opts *o,
		      struct cv_error *err)
{
	const char *lang =
		o && o->language && *o->language ? o->language : "eng";
	const char *data =
		o && o->tessdata && *o->tessdata ? o->tessdata : NULL;
	struct cv_ocr_engine *e;

	*out = NULL;
	e = cv_calloc(1, sizeof(*e));
	e->api = TessBaseAPICreate();
	/* Tesseract chats on stderr ("Estimating resolution..."); modules
	 * never print, so its debug output goes nowhere. */
	TessBaseAPISetVariable(e->api, "debug_file", "/dev/null");
	if (TessBaseAPIInit3(e->api, data, lang) != 0) {
		cv_error_set(err, CV_EUNAVAIL,
			     "could not load Tesseract language data '%s'",
			     lang);
		cv_error_detail(err, "TessBaseAPIInit3 failed (tessdata %s)",
				data ? data : "default");
		cv_error_hint(err,
			      "install tesseract-ocr-%s or set ocr.tessdata",
			      lang);
		cv_ocr_engine_free(e);
		return CV_EUNAVAIL;
	}
	TessBaseAPISetPageSegMode(e->api, PSM_AUTO);
	e->tessdata = data ? cv_strdup(data) : NULL;
	*out = e;
	return 0;
}

static int dpi_of(struct Pix *pix, int dpi)
{
	if (dpi <= 0)
		dpi = pixGetXRes(pix);
	if (dpi < 50 || dpi > 2400)
		dpi = 300;
	return dpi;
}

int cv_ocr_orientation(struct cv_ocr_engine *e, struct Pix *pix, int dpi,
		       int *degrees, float *conf, struct cv_error *err)
{
	const char *script = NULL;
	float script_conf = 0;
	int deg = 0;

	*degrees = 0;
	*conf = 0;
	if (!e->osd) {
		e->osd = TessBaseAPICreate();
		TessBaseAPISetVariable(e->osd, "debug_file", "/dev/null");
		if (TessBaseAPIInit3(e->osd, e->tessdata, "osd") != 0) {
			TessBaseAPIDelete(e->osd);
			e->osd = NULL;
			cv_error_set(
				err, CV_EUNAVAIL,
				"could not load Tesseract's orientation data");
			cv_error_hint(err, "install tesseract-ocr-osd");
			return CV_EUNAVAIL;
		}
		TessBaseAPISetPageSegMode(e->osd, PSM_OSD_ONLY);
	}
	TessBaseAPISetImage2(e->osd, pix);
	TessBaseAPISetSourceResolution(e->osd, dpi_of(pix, dpi));
	if (!TessBaseAPIDetectOrientationScript(e->osd, &deg, conf, &script,
						&script_conf)) {
		TessBaseAPIClear(e->osd);
		/* Too little text to tell: treat the page as upright. */
		*conf = 0;
		return 0;
	}
	TessBaseAPIClear(e->osd);
	*degrees = deg == 90 || deg == 180 || deg == 270 ? deg : 0;
	return 0;
}

void cv_ocr_engine_free(struct cv_ocr_engine *e)
{
	if (!e)
		return;
	if (e->api) {
		TessBaseAPIEnd(e->api);
		TessBaseAPIDelete(e->api);
	}
	if (e->osd) {
		TessBaseAPIEnd(e->osd);
		TessBaseAPIDelete(e->osd);
	}
	free(e->tessdata);
	free(e);
}

static int collect_words(TessBaseAPI *api, struct cv_ocr_result *out)
{
	TessResultIterator *it = TessBaseAPIGetIterator(api);
	const TessPageIterator *pit;
	size_t alloc = 0;

	if (!it)
		return 0;
	pit = TessResultIteratorGetPageIterator(it);
	do {
		int l, t, r, b;
		char *word;

		if (!TessPageIteratorBoundingBox(pit, RIL_WORD, &l, &t, &r, &b))
			continue;
		word = TessResultIteratorGetUTF8Text(it, RIL_WORD);
		if (!word)
			continue;
		if (out->nwords == alloc) {
			alloc = alloc ? 2 * alloc : 256;
			out->words = cv_realloc(out->words,
						alloc * sizeof(*out->words));
		}
		out->words[out->nwords].x = l;
		out->words[out->nwords].y = t;
		out->words[out->nwords].w = r - l;
		out->words[out->nwords].h = b - t;
		out->words[out->nwords].conf =
			TessResultIteratorConfidence(it, RIL_WORD);
		out->words[out->nwords].text = cv_strdup(word);
		out->nwords++;
		TessDeleteText(word);
	} while (TessResultIteratorNext(it, RIL_WORD));
	TessResultIteratorDelete(it);
	return 0;
}

int cv_ocr_recognize(struct cv_ocr_engine *e, struct Pix *pix, int dpi,
		     struct cv_ocr_result *out, struct cv_error *err)
{
	char *text = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	out->mean_conf = -1;
	out->width = pixGetWidth(pix);
	out->height = pixGetHeight(pix);
	TessBaseAPISetImage2(e->api, pix);
	/* Without this Tesseract guesses the resolution from the text size,
	 * and guesses badly on sparse pages. */
	TessBaseAPISetSourceResolution(e->api, dpi_of(pix, dpi));
	if (TessBaseAPIRecognize(e->api, NULL) != 0) {
		ret = cv_error_set(err, CV_ERROR, "text recognition failed");
		cv_error_detail(err, "TessBaseAPIRecognize returned an error");
		goto cleanup;
	}
	text = TessBaseAPIGetUTF8Text(e->api);
	out->text = cv_strdup(text ? text : "");
	collect_words(e->api, out);
	if (out->nwords)
		out->mean_conf = TessBaseAPIMeanTextConf(e->api);
	ret = 0;
cleanup:
	if (text)
		TessDeleteText(text);
	/* Drop the page's results now: a batch has thousands of pages. */
	TessBaseAPIClear(e->api);
	if (ret < 0)
		cv_ocr_result_release(out);
	return ret;
}

void cv_ocr_result_release(struct cv_ocr_result *r)
{
	size_t i;

	for (i = 0; i < r->nwords; i++)
		free(r->words[i].text);
	free(r->words);
	free(r->text);
	memset(r, 0, sizeof(*r));
	r->mean_conf = -1;
}

int cv_ocr_words_tsv(const struct cv_ocr_result *r, struct cv_buf *out)
{
	size_t i;

	if (cv_buf_addf(out, "x\ty\tw\th\tconf\ttext\n") < 0)
		return CV_ELIMIT;
	for (i = 0; i < r->nwords; i++) {
		const struct cv_ocr_word *w = &r->words[i];
		const char *p;

		if (cv_buf_addf(out, "%d\t%d\t%d\t%d\t%.1f\t", w->x, w->y, w->w,
				w->h, (double)w->conf) < 0)
			return CV_ELIMIT;
		for (p = w->text; *p; p++)
			if (cv_buf_addch(out,
					 *p == '\t' || *p == '\n' || *p == '\r'
						 ? ' '
						 : *p) < 0)
				return CV_ELIMIT;
		if (cv_buf_addch(out, '\n') < 0)
			return CV_ELIMIT;
	}
	return 0;
}
