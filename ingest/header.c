/*
 * Who the page header says the patient is, read with more care than the
 * page's running text allows.
 *
 * Tesseract's layout analysis may take a line of widely spaced fields,
 * "Patient: DIMMOCK, ULRIC   MRN: 90008505   DOB: 12/04/1971", for
 * columns when the page below it has aligned columns; the text then
 * carries the date far from its label, or not at all. So the header is
 * rebuilt from the word boxes, line by line as printed.
 *
 * Where a field the header labels is still missing, or its value was
 * read with low confidence, the strip of the page that holds those lines
 * is read a second time, enlarged, as one block of lines. Each field
 * keeps the reading OCR was surer of: a misread letter in a name is a
 * page filed under a name that is not the patient's.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>

#include "ingest_int.h"
#include "../ocr/ocr.h"
#include "../common/banned.h"

/* Headers sit at the top of a page: words below this share of the page
 * height are body text. */
#define HEADER_SHARE 0.4

/* A field read with less confidence than this (0..100) is read again. */
#define SURE_CONF 93.0f

/* How much larger the second reading sees the strip. */
#define ENLARGE 2.0f

/* A strip taller than this share of the page is no header. */
#define MAX_STRIP_SHARE 0.25

struct hword {
	int x, y, w, h;
	float conf;
	char *text; /* without stray marks around it; malloc'd */
	size_t len;
	int so, eo;       /* where it is in the rebuilt text */
	int line;
};

struct hlines {
	struct cv_buf text;
	struct hword *w;
	size_t n;
	int nlines;
	int *top, *bottom; /* of each line, in image pixels */
};

/* Marks OCR reads off specks next to a word: quotes, a degree sign. */
static const char *const stray[] = { "\xe2\x80\x98", "\xe2\x80\x99",
				     "\xe2\x80\x9c", "\xe2\x80\x9d",
				     "\xc2\xb0",	 "'",
				     "\"",		 "`" };

static size_t stray_at(const char *s, size_t len, int at_end)
{
	size_t i, k;

	for (i = 0; i < sizeof(stray) / sizeof(stray[0]); i++) {
		k = strlen(stray[i]);
		if (k <= len &&
		    !memcmp(at_end ? s + len - k : s, stray[i], k))
			return k;
	}
	return 0;
}

static int by_middle(const void *a, const void *b)
{
	const struct hword *x = a, *y = b;
	int mx = x->y + x->h / 2, my = y->y + y->h / 2;

	return mx < my ? -1 : mx > my ? 1 : x->x - y->x;
}

static int by_line_then_x(const void *a, const void *b)
{
	const struct hword *x = a, *y = b;

	if (x->line != y->line)
		return x->line - y->line;
	return x->x - y->x;
}

static int numeric(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '/' && s[i] != '-')
			return 0;
	return len > 0;
}

/*
 * In a typewriter face a narrow digit stands alone in a wide cell, and
 * OCR reads "90002911" as "9000291 1", "01/11/1983" as "01/1 1/1983".
 * Two runs of digits closer than 0.4 of their height are one number: a
 * real space is a whole cell wide, about 0.6 of the height or more.
 */
static void join_split_numbers(struct hlines *L)
{
	size_t i, k = 0;

	for (i = 0; i < L->n; i++) {
		struct hword *w = &L->w[i];

		if (k > 0) {
			struct hword *prev = &L->w[k - 1];
			int h = prev->h > w->h ? prev->h : w->h;
			int gap = w->x - (prev->x + prev->w);

			if (getenv("CV_DEBUG_HEADER") && numeric(prev->text, prev->len) && numeric(w->text, w->len) && prev->line == w->line)
				fprintf(stderr, "GAP %.*s|%.*s gap %d h %d\n", (int)prev->len, prev->text, (int)w->len, w->text, gap, h);
			if (prev->line == w->line && 5 * gap < 2 * h &&
			    numeric(prev->text, prev->len) &&
			    numeric(w->text, w->len)) {
				prev->text = cv_realloc(prev->text,
							prev->len + w->len + 1);
				memcpy(prev->text + prev->len, w->text,
				       w->len + 1);
				prev->len += w->len;
				prev->w = w->x + w->w - prev->x;
				if (w->conf < prev->conf)
					prev->conf = w->conf;
				free(w->text);
				continue;
			}
		}
		L->w[k++] = *w;
	}
	L->n = k;
}

/*
 * The words of r whose middle is above max_y, grouped into lines by
 * height on the page and ordered left to right, as text: one line of
 * text per printed line.
 */
static void build_lines(const struct cv_ocr_result *r, int max_y,
			struct hlines *L)
{
	size_t i;
	int line_mid = 0, line_h = 0;

	memset(L, 0, sizeof(*L));
	cv_buf_init(&L->text);
	L->w = cv_calloc(r->nwords ? r->nwords : 1, sizeof(*L->w));
	for (i = 0; i < r->nwords; i++) {
		const struct cv_ocr_word *o = &r->words[i];
		struct hword *w = &L->w[L->n];
		const char *s = o->text;
		size_t len = strlen(s), k;

		if (o->y + o->h / 2 >= max_y || o->h <= 0)
			continue;
		while (len && (k = stray_at(s, len, 0)) > 0) {
			s += k;
			len -= k;
		}
		while (len && (k = stray_at(s, len, 1)) > 0)
			len -= k;
		if (!len)
			continue;
		w->x = o->x;
		w->y = o->y;
		w->w = o->w;
		w->h = o->h;
		w->conf = o->conf;
		w->text = cv_strndup(s, len);
		w->len = len;
		L->n++;
	}
	qsort(L->w, L->n, sizeof(*L->w), by_middle);
	/* A word whose middle is within half a line of the line's first
	 * word is on that line: pages are deskewed before OCR. */
	for (i = 0; i < L->n; i++) {
		int mid = L->w[i].y + L->w[i].h / 2;

		if (i == 0 || abs(mid - line_mid) > line_h / 2) {
			L->nlines++;
			line_mid = mid;
			line_h = L->w[i].h;
		}
		L->w[i].line = L->nlines - 1;
	}
	qsort(L->w, L->n, sizeof(*L->w), by_line_then_x);
	join_split_numbers(L);
	L->top = cv_calloc((size_t)L->nlines + 1, sizeof(int));
	L->bottom = cv_calloc((size_t)L->nlines + 1, sizeof(int));
	for (i = 0; i < L->n; i++) {
		struct hword *w = &L->w[i];

		if (i > 0)
			cv_buf_addch(&L->text,
				     w->line == L->w[i - 1].line ? ' ' : '\n');
		if (i == 0 || w->line != L->w[i - 1].line) {
			L->top[w->line] = w->y;
			L->bottom[w->line] = w->y + w->h;
		}
		if (w->y < L->top[w->line])
			L->top[w->line] = w->y;
		if (w->y + w->h > L->bottom[w->line])
			L->bottom[w->line] = w->y + w->h;
		w->so = (int)L->text.len;
		cv_buf_add(&L->text, w->text, w->len);
		w->eo = (int)L->text.len;
	}
}

static void release_lines(struct hlines *L)
{
	size_t i;

	for (i = 0; i < L->n; i++)
		free(L->w[i].text);
	cv_buf_release(&L->text);
	free(L->w);
	free(L->top);
	free(L->bottom);
	memset(L, 0, sizeof(*L));
}

struct field {
	char value[128];
	float conf;      /* the least sure word of the value; 0 when none */
	int first, last; /* lines the value or its label is on; -1 */
};

/* The least confidence of the words that overlap [so, eo), and the lines
 * they are on. */
static float words_over(const struct hlines *L, const int span[2],
			struct field *f)
{
	float least = 100.0f;
	size_t i;

	for (i = 0; i < L->n; i++) {
		const struct hword *w = &L->w[i];

		if (w->eo <= span[0] || w->so >= span[1])
			continue;
		if (w->conf < least)
			least = w->conf;
		if (f->first < 0 || w->line < f->first)
			f->first = w->line;
		if (w->line > f->last)
			f->last = w->line;
	}
	return least;
}

enum { F_MRN, F_NAME, F_DOB, NFIELDS };

/*
 * The identity fields the rebuilt lines show; *labels says which fields
 * are labelled, read or not.
 */
static void read_fields(const struct hlines *L,
			const struct cv_ingest__mrn_rules *rules,
			struct field f[NFIELDS], unsigned *labels)
{
	struct cv_ingest_page_facts facts;
	struct cv_ingest__spans sp, lab;
	const char *text = L->text.buf;
	const int *lspan[NFIELDS] = { lab.mrn, lab.name, lab.dob };
	const int *vspan[NFIELDS] = { sp.mrn, sp.name, sp.dob };
	const char *value[NFIELDS];
	int k;

	memset(f, 0, NFIELDS * sizeof(*f));
	cv_ingest__facts_spans(text, &facts, &sp);
	cv_ingest__find_mrn(rules, text, &facts);
	if (facts.mrn[0]) {
		const char *at = strstr(text, facts.mrn);

		sp.mrn[0] = (int)(at - text);
		sp.mrn[1] = sp.mrn[0] + (int)strlen(facts.mrn);
	}
	*labels = cv_ingest__identity_labels(text, &lab);
	value[F_MRN] = facts.mrn;
	value[F_NAME] = facts.patient_name;
	value[F_DOB] = facts.dob;
	for (k = 0; k < NFIELDS; k++) {
		f[k].first = f[k].last = -1;
		if (lspan[k][0] >= 0)
			words_over(L, lspan[k], &f[k]);
		if (!value[k][0] || vspan[k][0] < 0)
			continue;
		snprintf(f[k].value, sizeof(f[k].value), "%s", value[k]);
		f[k].conf = words_over(L, vspan[k], &f[k]);
	}
}

/* Whether a second reading could add to f: a labelled field missing, or
 * a value read unsure. */
static int unsure(const struct field f[NFIELDS], unsigned labels)
{
	int k;

	for (k = 0; k < NFIELDS; k++) {
		if (!f[k].value[0] && (labels & (1u << k)))
			return 1;
		if (f[k].value[0] && f[k].conf < (getenv("CV_SURE") ? atof(getenv("CV_SURE")) : SURE_CONF))
			return 1;
	}
	return 0;
}

/* The strip of the page holding the header lines that f names, enlarged
 * and grey; NULL when there is none worth reading. */
static struct Pix *strip_of(struct Pix *pix, const struct hlines *L,
			    const struct field f[NFIELDS])
{
	int first = INT_MAX, last = -1, top, bottom, pad, k;
	int height = pixGetHeight(pix);
	struct Pix *cut, *grey, *big;
	BOX *box;

	for (k = 0; k < NFIELDS; k++) {
		if (f[k].first >= 0 && f[k].first < first)
			first = f[k].first;
		if (f[k].last > last)
			last = f[k].last;
	}
	if (last < 0)
		return NULL;
	/* Room above and below for ascenders and descenders that OCR left
	 * outside the word boxes. */
	pad = (L->bottom[first] - L->top[first]) / 2 + 4;
	top = L->top[first] - pad;
	bottom = L->bottom[last] + pad;
	if (top < 0)
		top = 0;
	if (bottom > height)
		bottom = height;
	if (bottom - top > (int)(height * MAX_STRIP_SHARE))
		return NULL;
	box = boxCreate(0, top, pixGetWidth(pix), bottom - top);
	cut = box ? pixClipRectangle(pix, box, NULL) : NULL;
	boxDestroy(&box);
	if (!cut)
		return NULL;
	/* Scaled as grey, so that letters grow smooth edges rather than
	 * square steps. */
	grey = pixConvertTo8(cut, 0);
	pixDestroy(&cut);
	if (!grey)
		return NULL;
	big = pixScaleGrayLI(grey, ENLARGE, ENLARGE);
	pixDestroy(&grey);
	return big;
}

void cv_ingest__read_header(struct cv_ocr_engine *eng, struct Pix *pix,
			    int dpi, const struct cv_ocr_result *ocr,
			    const struct cv_ingest__mrn_rules *rules,
			    struct cv_ingest__header_id *out)
{
	struct cv_error ignore = CV_ERROR_INIT;
	struct cv_ocr_result again = CV_OCR_RESULT_INIT;
	struct field first[NFIELDS], second[NFIELDS];
	struct hlines L, L2;
	struct Pix *strip;
	unsigned labels, labels2;
	int k;

	memset(out, 0, sizeof(*out));
	build_lines(ocr, (int)(ocr->height * HEADER_SHARE), &L);
	read_fields(&L, rules, first, &labels);
	strip = unsure(first, labels) && !getenv("CV_NO_AGAIN") ? strip_of(pix, &L, first) : NULL;
	if (strip && cv_ocr_recognize_lines(eng, strip, dpi > 0 ? (int)(dpi * ENLARGE) : 0,
					    &again, &ignore) == 0) {
		out->looked_again = 1;
		build_lines(&again, INT_MAX, &L2);
		read_fields(&L2, rules, second, &labels2);
		if (getenv("CV_DEBUG_HEADER")) {
			fprintf(stderr, "HDR1");
			for (k = 0; k < NFIELDS; k++)
				fprintf(stderr, " [%s %.0f]", first[k].value, (double)first[k].conf);
			fprintf(stderr, "\nHDR2");
			for (k = 0; k < NFIELDS; k++)
				fprintf(stderr, " [%s %.0f]", second[k].value, (double)second[k].conf);
			fprintf(stderr, "\n");
		}
		for (k = 0; k < NFIELDS; k++) {
			if (!second[k].value[0])
				continue;
			if (!first[k].value[0] ||
			    second[k].conf > first[k].conf)
				first[k] = second[k];
		}
		release_lines(&L2);
		cv_ocr_result_release(&again);
	}
	pixDestroy(&strip);
	if (getenv("CV_DEBUG_HEADER")) {
		fprintf(stderr, "HDR again=%d", out->looked_again);
		for (k = 0; k < NFIELDS; k++)
			fprintf(stderr, " [%s %.0f]", first[k].value, (double)first[k].conf);
		fprintf(stderr, "\n");
	}
	snprintf(out->mrn, sizeof(out->mrn), "%.63s", first[F_MRN].value);
	snprintf(out->name, sizeof(out->name), "%s", first[F_NAME].value);
	snprintf(out->dob, sizeof(out->dob), "%.10s", first[F_DOB].value);
	release_lines(&L);
}
