/*
 * The document-type classifier: multinomial logistic regression over word
 * unigrams and bigrams of a document's OCR text, with probabilities
 * calibrated by a temperature fitted on held-out folds.
 *
 * Why logistic regression: naive Bayes multiplies one likelihood per word,
 * so its posteriors for a two-page note are 0.99999 whether it is right or
 * not; a discriminative model over length-normalised features gives
 * scores whose softmax is close to a probability already, and one
 * temperature, fitted on documents the model did not see, makes it so.
 * The confidence is what sends a document to the exception queue, so it
 * has to mean what it says.
 *
 * Tokens: ASCII letters and digits, lower-cased. Pure numbers become "#"
 * (so MRNs, dates and lab values are shapes, not identities); in a word
 * with a few digits among letters the digits OCR confuses with letters are
 * read as those letters ("rep0rt" -> "report"). Words from the first lines
 * (where titles and headings sit) also count as title words. The
 * patient's name as printed in the header is left out.
 *
 * What the model keeps (see ingest_int.h for the file format): 64-bit
 * FNV-1a hashes of features, never the words, and only features seen in
 * documents of at least min_patients different patients. A word only one
 * patient's charts use (a name, a street) cannot become a feature; a
 * hash cannot be read back as a word, though a dictionary of guesses can
 * be tested against it, which is why the patient floor matters more.
 */
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_int.h"
#include "../common/banned.h"

extern const unsigned char cv_data_default_model[];
extern const size_t cv_data_default_model_len;

#define TOKEN_MAX   24 /* longer runs are OCR noise or base64, not words */
#define TITLE_LINES 6  /* non-empty lines counted as the title zone */
#define MAX_CLASSES 256
#define MAX_FEATS   (1u << 22)

static const char MAGIC[8] = { 'C', 'V', 'D', 'T', 'M', 'O', 'D', '1' };

struct cv_ingest_model {
	size_t nclasses, nfeat;
	char (*codes)[CV_INGEST_TYPE_CODE_MAX];
	float *bias;    /* nclasses */
	uint64_t *hash; /* nfeat, strictly increasing */
	float *w;       /* nfeat x nclasses, row per feature */
	double temperature;
};

/* ---------------------------------------------------------------------
 * Tokens
 */

/* Digits OCR reads in place of letters inside a word. */
static char letter_for_digit(char c)
{
	switch (c) {
	case '0':
		return 'o';
	case '1':
		return 'l';
	case '5':
		return 's';
	default:
		return 0;
	}
}

/* Normalise a raw token in place; its new length, 0 to drop it. */
static size_t normalise(char *t, size_t n)
{
	size_t letters = 0, digits = 0, i, o = 0;

	for (i = 0; i < n; i++) {
		if (isdigit((unsigned char)t[i]))
			digits++;
		else
			letters++;
	}
	if (letters == 0) {
		t[0] = '#';
		return 1;
	}
	if (digits) {
		/* "2mg", "x10" or "9000l234": a number with a unit or an
		 * identifier read badly; only its shape is of use. */
		if (digits * 2 > letters) {
			t[0] = '#';
			return 1;
		}
		for (i = 0; i < n; i++) {
			char c = t[i];

			if (isdigit((unsigned char)c))
				c = letter_for_digit(c);
			if (c)
				t[o++] = c;
		}
		n = o;
	}
	if (n < 2 || n > TOKEN_MAX)
		return 0;
	return n;
}

size_t cv_ingest__tokens(const char *text, cv_ingest__token_fn fn, void *ctx)
{
	char tok[TOKEN_MAX * 4 + 1];
	size_t n = 0, count = 0;
	int line = 0, line_has = 0, skip = 0;
	const char *s;

	for (s = text;; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x80 && isalnum(c)) {
			if (n < sizeof(tok) - 1)
				tok[n++] = (char)tolower(c);
			else
				skip = 1;
			continue;
		}
		/* An apostrophe inside a word joins it ("patient's"). */
		if (c == '\'' && n && isalpha((unsigned char)s[1]))
			continue;
		if (n) {
			size_t len = skip ? 0 : normalise(tok, n);

			if (len) {
				tok[len] = '\0';
				fn(ctx, tok, len, line < TITLE_LINES);
				count++;
			}
			line_has = 1;
			n = 0;
			skip = 0;
		}
		if (c == '\n') {
			line += line_has;
			line_has = 0;
		}
		if (!c)
			break;
	}
	return count;
}

/* ---------------------------------------------------------------------
 * Features: hashed unigrams, bigrams and title words of one text
 */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

#define FNV_BASIS 0xcbf29ce484222325ull

struct hcount {
	uint64_t h;
	uint32_t n;
};

struct featurise {
	struct hcount *v;
	size_t n, alloc;
	char prev[TOKEN_MAX + 1];
	size_t prev_len;
	char name[2][64]; /* the patient's family and given name, lower case */
};

static void push(struct featurise *f, uint64_t h)
{
	if (h == 0) /* 0 never appears, so a table can use it as empty */
		h = 1;
	if (f->n == f->alloc) {
		f->alloc = f->alloc ? 2 * f->alloc : 256;
		f->v = cv_realloc(f->v, f->alloc * sizeof(*f->v));
	}
	f->v[f->n].h = h;
	f->v[f->n++].n = 1;
}

static void on_token(void *ctx, const char *tok, size_t len, int title)
{
	struct featurise *f = ctx;
	uint64_t h;

	if ((f->name[0][0] && !strcmp(tok, f->name[0])) ||
	    (f->name[1][0] && !strcmp(tok, f->name[1])))
		return;
	h = fnv1a(FNV_BASIS, "u:", 2);
	push(f, fnv1a(h, tok, len));
	if (title) {
		h = fnv1a(FNV_BASIS, "t:", 2);
		push(f, fnv1a(h, tok, len));
	}
	if (f->prev_len) {
		h = fnv1a(FNV_BASIS, "b:", 2);
		h = fnv1a(h, f->prev, f->prev_len);
		h = fnv1a(h, " ", 1);
		push(f, fnv1a(h, tok, len));
	}
	memcpy(f->prev, tok, len + 1);
	f->prev_len = len;
}

static int cmp_hcount(const void *a, const void *b)
{
	const struct hcount *x = a, *y = b;

	return x->h < y->h ? -1 : x->h > y->h;
}

static void lower_word(char *out, size_t n, const char *s, size_t len)
{
	size_t i;

	if (len >= n)
		len = n - 1;
	for (i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[len] = '\0';
}

/*
 * The distinct feature hashes of text with their counts, sorted by hash.
 * *out is malloc'd.
 */
size_t cv_ingest__featurise(const char *text, struct cv_ingest__hcount **out)
{
	struct cv_ingest_page_facts facts;
	struct featurise f;
	size_t i, o = 0;

	memset(&f, 0, sizeof(f));
	/* The name the header prints is the patient's, never a feature. */
	cv_ingest_page_facts(text, &facts);
	if (facts.patient_name[0]) {
		const char *comma = strchr(facts.patient_name, ',');

		if (comma) {
			const char *given = comma + 1;

			lower_word(f.name[0], sizeof(f.name[0]),
				   facts.patient_name,
				   (size_t)(comma - facts.patient_name));
			while (*given == ' ')
				given++;
			lower_word(f.name[1], sizeof(f.name[1]), given,
				   strlen(given));
		}
	}
	cv_ingest__tokens(text, on_token, &f);
	if (f.n)
		qsort(f.v, f.n, sizeof(*f.v), cmp_hcount);
	for (i = 0; i < f.n; i++) {
		if (o && f.v[o - 1].h == f.v[i].h)
			f.v[o - 1].n++;
		else
			f.v[o++] = f.v[i];
	}
	*out = (struct cv_ingest__hcount *)f.v;
	return o;
}

/* A sparse, L2-normalised row: (feature index, value). */
struct sparse {
	uint32_t *idx;
	float *val;
	size_t n;
};

static void sparse_release(struct sparse *x)
{
	free(x->idx);
	free(x->val);
	memset(x, 0, sizeof(*x));
}

/* Sublinear counts, so a word said ten times is not ten times the
 * evidence; unit length, so a long note is not more certain than a short
 * one for being long. */
static void normalise_row(struct sparse *x)
{
	double ss = 0;
	size_t i;

	for (i = 0; i < x->n; i++)
		ss += (double)x->val[i] * x->val[i];
	if (ss > 0) {
		float inv = (float)(1.0 / sqrt(ss));

		for (i = 0; i < x->n; i++)
			x->val[i] *= inv;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void model_row(const struct cv_ingest_model *m, const char *text,
		      struct sparse *x)
{
	struct cv_ingest__hcount *hc;
	size_t n = cv_ingest__featurise(text, &hc), i;

	x->idx = cv_calloc(n + 1, sizeof(*x->idx));
	x->val = cv_calloc(n + 1, sizeof(*x->val));
	x->n = 0;
	for (i = 0; i < n; i++) {
		const uint64_t *p = bsearch(&hc[i].h, m->hash, m->nfeat,
					    sizeof(*m->hash), cmp_u64);

		if (!p)
			continue;
		x->idx[x->n] = (uint32_t)(p - m->hash);
		x->val[x->n++] = (float)(1.0 + log((double)hc[i].n));
	}
	normalise_row(x);
	free(hc);
}

/* ---------------------------------------------------------------------
 * Scores and probabilities
 */

static void logits(const float *w, const float *bias, size_t nclasses,
		   const struct sparse *x, double *z)
{
	size_t i, k;

	for (k = 0; k < nclasses; k++)
		z[k] = bias[k];
	for (i = 0; i < x->n; i++) {
		const float *row = w + (size_t)x->idx[i] * nclasses;
		double v = x->val[i];

		for (k = 0; k < nclasses; k++)
			z[k] += v * row[k];
	}
}

/* softmax(z / t) into p; returns the arg max. */
static size_t softmax(const double *z, size_t n, double t, double *p)
{
	double mx = -DBL_MAX, sum = 0;
	size_t k, best = 0;

	for (k = 0; k < n; k++) {
		if (z[k] / t > mx) {
			mx = z[k] / t;
			best = k;
		}
	}
	for (k = 0; k < n; k++) {
		p[k] = exp(z[k] / t - mx);
		sum += p[k];
	}
	for (k = 0; k < n; k++)
		p[k] /= sum;
	return best;
}

size_t cv_ingest_model_predict(const struct cv_ingest_model *m,
			       const char *text, double *probs)
{
	struct sparse x;
	double *z = cv_calloc(m->nclasses, sizeof(*z));
	size_t best;

	model_row(m, text, &x);
	logits(m->w, m->bias, m->nclasses, &x, z);
	best = softmax(z, m->nclasses, m->temperature, probs);
	sparse_release(&x);
	free(z);
	return best;
}

size_t cv_ingest_model_nclasses(const struct cv_ingest_model *m)
{
	return m->nclasses;
}

const char *cv_ingest_model_class(const struct cv_ingest_model *m, size_t i)
{
	return i < m->nclasses ? m->codes[i] : NULL;
}

size_t cv_ingest_model_nfeatures(const struct cv_ingest_model *m)
{
	return m->nfeat;
}

double cv_ingest_model_temperature(const struct cv_ingest_model *m)
{
	return m->temperature;
}

void cv_ingest_model_free(struct cv_ingest_model *m)
{
	if (!m)
		return;
	free(m->codes);
	free(m->bias);
	free(m->hash);
	free(m->w);
	free(m);
}

/* ---------------------------------------------------------------------
 * Rules first, then the model
 */

void cv_ingest_classify_text(const struct cv_ingest_model *m, const char *text,
			     struct cv_ingest_type_decision *d)
{
	struct cv_ingest_page_facts facts;

	memset(d, 0, sizeof(*d));
	cv_ingest_page_facts(text, &facts);
	if (facts.title_type[0]) {
		snprintf(d->code, sizeof(d->code), "%s", facts.title_type);
		snprintf(d->source, sizeof(d->source), "title");
		d->confidence = 1.0;
		return;
	}
	cv_ingest_classify_model(m, text, d);
}

void cv_ingest_classify_model(const struct cv_ingest_model *m, const char *text,
			      struct cv_ingest_type_decision *d)
{
	double *p;
	size_t best;

	memset(d, 0, sizeof(*d));
	snprintf(d->code, sizeof(d->code), CV_INGEST_TYPE_OTHER);
	if (!m || m->nclasses == 0)
		return;
	p = cv_calloc(m->nclasses, sizeof(*p));
	best = cv_ingest_model_predict(m, text, p);
	snprintf(d->code, sizeof(d->code), "%s", m->codes[best]);
	snprintf(d->source, sizeof(d->source), "model");
	d->confidence = p[best];
	free(p);
}

/* ---------------------------------------------------------------------
 * Training
 */

/* splitmix64: small, seedable, the same on every machine. */
static uint64_t rnd_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void shuffle(size_t *a, size_t n, uint64_t *seed)
{
	size_t i;

	for (i = n; i > 1; i--) {
		size_t j = (size_t)(rnd_next(seed) % i), t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

/* Open-addressing table of feature statistics while choosing features. */
struct fstat {
	uint64_t h; /* 0: empty */
	uint32_t df, groups, last_group;
};

struct ftable {
	struct fstat *t;
	size_t cap, used;
};

static struct fstat *ft_get(struct ftable *ft, uint64_t h);

static void ft_grow(struct ftable *ft)
{
	struct ftable bigger = { NULL, ft->cap ? 2 * ft->cap : 1u << 16, 0 };
	size_t i;

	bigger.t = cv_calloc(bigger.cap, sizeof(*bigger.t));
	for (i = 0; i < ft->cap; i++) {
		if (ft->t[i].h) {
			struct fstat *s = ft_get(&bigger, ft->t[i].h);

			*s = ft->t[i];
		}
	}
	free(ft->t);
	*ft = bigger;
}

static struct fstat *ft_get(struct ftable *ft, uint64_t h)
{
	size_t i;

	if ((ft->used + 1) * 2 > ft->cap)
		ft_grow(ft);
	for (i = (size_t)(h * 0x9e3779b97f4a7c15ull) & (ft->cap - 1);;
	     i = (i + 1) & (ft->cap - 1)) {
		if (ft->t[i].h == h)
			return &ft->t[i];
		if (!ft->t[i].h) {
			ft->t[i].h = h;
			ft->t[i].last_group = UINT32_MAX;
			ft->used++;
			return &ft->t[i];
		}
	}
}

static int cmp_by_df(const void *a, const void *b)
{
	const struct fstat *x = a, *y = b;

	if (x->df != y->df)
		return x->df > y->df ? -1 : 1;
	return x->h < y->h ? -1 : x->h > y->h;
}

struct trainset {
	size_t n, nclasses;
	struct sparse *x;
	size_t *y;
	struct cv_ingest_model *m; /* classes and features; weights unused */
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Group ids: one per patient key, so a feature's patient count is the
 * number of distinct groups among the documents that have it. Examples
 * without a key are each their own patient.
 */
static uint32_t *group_ids(const struct cv_ingest_train_example *ex, size_t n)
{
	const char **keys = cv_calloc(n + 1, sizeof(*keys));
	uint32_t *g = cv_calloc(n + 1, sizeof(*g));
	size_t i, nk = 0, next;

	for (i = 0; i < n; i++)
		if (ex[i].group && ex[i].group[0])
			keys[nk++] = ex[i].group;
	qsort(keys, nk, sizeof(*keys), cmp_str);
	next = nk;
	for (i = 0; i < n; i++) {
		if (ex[i].group && ex[i].group[0]) {
			const char **k = bsearch(&ex[i].group, keys, nk,
						 sizeof(*keys), cmp_str);

			/* The first of equal keys names the group. */
			while (k > keys && !strcmp(k[-1], *k))
				k--;
			g[i] = (uint32_t)(k - keys);
		} else {
			g[i] = (uint32_t)next++;
		}
	}
	free(keys);
	return g;
}

/* qsort has no context argument; training runs on one thread. */
static const uint32_t *sort_by_group;

static int cmp_group(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	if (sort_by_group[x] != sort_by_group[y])
		return sort_by_group[x] < sort_by_group[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int build_set(struct trainset *ts,
		     const struct cv_ingest_train_example *ex, size_t n,
		     const struct cv_ingest_train_opts *o, struct cv_error *err)
{
	struct cv_ingest__hcount **rows = cv_calloc(n + 1, sizeof(*rows));
	size_t *nrow = cv_calloc(n + 1, sizeof(*nrow));
	size_t *order = cv_calloc(n + 1, sizeof(*order));
	uint32_t *group = group_ids(ex, n);
	struct ftable ft = { NULL, 0, 0 };
	struct fstat *keep = NULL;
	struct cv_ingest_model *m = cv_calloc(1, sizeof(*m));
	size_t i, j, k, nkeep = 0;
	int ret = 0;

	memset(ts, 0, sizeof(*ts));
	ts->m = m;
	m->codes = cv_calloc(MAX_CLASSES, sizeof(*m->codes));
	ts->y = cv_calloc(n + 1, sizeof(*ts->y));
	ts->x = cv_calloc(n + 1, sizeof(*ts->x));
	ts->n = n;
	/* Classes in order of first appearance would make the model depend
	 * on the order of the labels file; sorted codes do not. */
	for (i = 0; i < n; i++) {
		for (k = 0; k < m->nclasses; k++)
			if (!strcmp(m->codes[k], ex[i].label))
				break;
		if (k == m->nclasses) {
			if (m->nclasses == MAX_CLASSES) {
				ret = cv_error_set(
					err, CV_ELIMIT,
					"more than %d document types",
					MAX_CLASSES);
				goto cleanup;
			}
			snprintf(m->codes[m->nclasses++], sizeof(*m->codes),
				 "%s", ex[i].label);
		}
	}
	qsort(m->codes, m->nclasses, sizeof(*m->codes),
	      (int (*)(const void *, const void *))strcmp);
	for (i = 0; i < n; i++)
		for (k = 0; k < m->nclasses; k++)
			if (!strcmp(m->codes[k], ex[i].label))
				ts->y[i] = k;
	ts->nclasses = m->nclasses;

	/* Document and patient counts of every feature. */
	for (i = 0; i < n; i++) {
		nrow[i] = cv_ingest__featurise(ex[i].text, &rows[i]);
		order[i] = i;
	}
	/* Visited group by group, a feature's patients are counted by
	 * noticing when the group changes. */
	sort_by_group = group;
	qsort(order, n, sizeof(*order), cmp_group);
	for (k = 0; k < n; k++) {
		i = order[k];
		for (j = 0; j < nrow[i]; j++) {
			struct fstat *s = ft_get(&ft, rows[i][j].h);

			s->df++;
			if (s->last_group != group[i]) {
				s->last_group = group[i];
				s->groups++;
			}
		}
	}
	keep = cv_calloc(ft.used + 1, sizeof(*keep));
	for (i = 0; i < ft.cap; i++)
		if (ft.t[i].h && ft.t[i].groups >= (uint32_t)o->min_patients &&
		    ft.t[i].df >= 2)
			keep[nkeep++] = ft.t[i];
	qsort(keep, nkeep, sizeof(*keep), cmp_by_df);
	if (nkeep > o->max_features)
		nkeep = o->max_features;
	if (nkeep == 0) {
		ret = cv_error_set(
			err, CV_EINVAL,
			"no word is shared by documents of %d different patients",
			o->min_patients);
		cv_error_hint(err, "give more labelled documents");
		goto cleanup;
	}
	m->nfeat = nkeep;
	m->hash = cv_calloc(nkeep, sizeof(*m->hash));
	for (i = 0; i < nkeep; i++)
		m->hash[i] = keep[i].h;
	qsort(m->hash, nkeep, sizeof(*m->hash), cmp_u64);
	for (i = 0; i < n; i++) {
		struct sparse *x = &ts->x[i];

		x->idx = cv_calloc(nrow[i] + 1, sizeof(*x->idx));
		x->val = cv_calloc(nrow[i] + 1, sizeof(*x->val));
		for (j = 0; j < nrow[i]; j++) {
			const uint64_t *p =
				bsearch(&rows[i][j].h, m->hash, m->nfeat,
					sizeof(*m->hash), cmp_u64);

			if (!p)
				continue;
			x->idx[x->n] = (uint32_t)(p - m->hash);
			x->val[x->n++] =
				(float)(1.0 + log((double)rows[i][j].n));
		}
		normalise_row(x);
	}
cleanup:
	for (i = 0; i < n; i++)
		free(rows[i]);
	free(rows);
	free(nrow);
	free(order);
	free(group);
	free(ft.t);
	free(keep);
	return ret;
}

static void trainset_release(struct trainset *ts)
{
	size_t i;

	for (i = 0; i < ts->n; i++)
		sparse_release(&ts->x[i]);
	free(ts->x);
	free(ts->y);
	cv_ingest_model_free(ts->m);
	memset(ts, 0, sizeof(*ts));
}

/*
 * Fit weights w (nfeat x C) and bias b on the rows listed in use[0..n):
 * stochastic gradient descent on the class-weighted cross-entropy with an
 * L2 penalty, a decaying step, rows in a seeded random order.
 */
static void fit(const struct trainset *ts, const size_t *use, size_t n,
		const struct cv_ingest_train_opts *o, uint64_t seed, float *w,
		float *b)
{
	size_t C = ts->nclasses, nf = ts->m->nfeat;
	size_t *order = cv_calloc(n + 1, sizeof(*order));
	double *z = cv_calloc(C, sizeof(*z)), *p = cv_calloc(C, sizeof(*p));
	double *cw = cv_calloc(C, sizeof(*cw));
	size_t *count = cv_calloc(C, sizeof(*count));
	size_t i, k, e, step = 0, total = (size_t)o->epochs * n;

	memset(w, 0, nf * C * sizeof(*w));
	memset(b, 0, C * sizeof(*b));
	/* Rare types weigh more, so macro-F1 is not traded for the
	 * majority class; capped so one odd example cannot dominate. */
	for (i = 0; i < n; i++)
		count[ts->y[use[i]]]++;
	for (k = 0; k < C; k++) {
		cw[k] = count[k] ? (double)n / ((double)C * (double)count[k])
				 : 1.0;
		if (cw[k] > 5)
			cw[k] = 5;
		if (cw[k] < 0.2)
			cw[k] = 0.2;
	}
	memcpy(order, use, n * sizeof(*order));
	for (e = 0; e < (size_t)o->epochs; e++) {
		shuffle(order, n, &seed);
		for (i = 0; i < n; i++, step++) {
			const struct sparse *x = &ts->x[order[i]];
			size_t y = ts->y[order[i]], j;
			double lr = o->rate /
				    (1.0 + 4.0 * (double)step / (double)total);
			double g;

			logits(w, b, C, x, z);
			softmax(z, C, 1.0, p);
			for (k = 0; k < C; k++) {
				g = cw[y] * (p[k] - (k == y ? 1.0 : 0.0));
				b[k] -= (float)(lr * g);
				p[k] = g;
			}
			for (j = 0; j < x->n; j++) {
				float *row = w + (size_t)x->idx[j] * C;
				double v = x->val[j];

				for (k = 0; k < C; k++)
					row[k] -=
						(float)(lr * (v * p[k] +
							      o->l2 * row[k]));
			}
		}
	}
	free(order);
	free(z);
	free(p);
	free(cw);
	free(count);
}

/*
 * Target share of the true type when fitting the temperature. Plain
 * log-likelihood on held-out folds that the model gets all right is
 * minimised by t -> 0, a model certain of everything; a clean training
 * set is exactly the case where certainty would not carry over to real
 * scans. Asking for at most 98% keeps the fit finite and the confidence
 * honest about what the folds could not show.
 */
#define CALIBRATION_TARGET 0.98

/* Mean cross-entropy of held-out logits at temperature t against the
 * smoothed targets. */
static double nll_at(const double *z, const size_t *y, size_t n, size_t C,
		     double t)
{
	double *p = cv_calloc(C, sizeof(*p)), sum = 0;
	double other = (1 - CALIBRATION_TARGET) / (double)(C - 1);
	size_t i, k;

	for (i = 0; i < n; i++) {
		softmax(z + i * C, C, t, p);
		for (k = 0; k < C; k++) {
			double q = p[k] > 1e-300 ? p[k] : 1e-300;

			sum -= (k == y[i] ? CALIBRATION_TARGET : other) *
			       log(q);
		}
	}
	free(p);
	return n ? sum / (double)n : 0;
}

/* The temperature that minimises held-out NLL: golden-section search on
 * log t, which is unimodal for a fixed set of logits. */
static double fit_temperature(const double *z, const size_t *y, size_t n,
			      size_t C)
{
	const double g = (sqrt(5.0) - 1) / 2;
	double a = log(0.05), b = log(20.0), c, d;
	int it;

	c = b - g * (b - a);
	d = a + g * (b - a);
	for (it = 0; it < 60; it++) {
		if (nll_at(z, y, n, C, exp(c)) < nll_at(z, y, n, C, exp(d)))
			b = d;
		else
			a = c;
		c = b - g * (b - a);
		d = a + g * (b - a);
	}
	return exp((a + b) / 2);
}

int cv_ingest_model_train(struct cv_ingest_model **out,
			  const struct cv_ingest_train_example *ex, size_t n,
			  const struct cv_ingest_train_opts *o,
			  struct cv_ingest_eval *heldout, struct cv_error *err)
{
	struct trainset ts;
	struct cv_ingest_model *m = NULL;
	size_t C, nf, i, k, f, *fold = NULL, *use = NULL, *perm = NULL;
	double *z = NULL;
	float *w = NULL, *b = NULL;
	uint64_t seed = o->seed;
	int ret;

	*out = NULL;
	if (n < 2 || o->folds < 2 || o->epochs < 1 || o->rate <= 0 ||
	    o->l2 < 0 || o->max_features < 1 || o->min_patients < 1)
		return cv_error_set(
			err, CV_EINVAL,
			"training needs at least 2 documents and sane options");
	for (i = 0; i < n; i++) {
		if (!ex[i].text || !ex[i].label ||
		    !cv_ingest_doctype_known(ex[i].label))
			return cv_error_set(
				err, CV_EINVAL,
				"example %zu: unknown document type", i + 1);
	}
	ret = build_set(&ts, ex, n, o, err);
	if (ret < 0)
		goto cleanup;
	C = ts.nclasses;
	nf = ts.m->nfeat;
	if (C < 2) {
		ret = cv_error_set(
			err, CV_EINVAL,
			"training needs documents of at least 2 types");
		goto cleanup;
	}
	w = cv_calloc(nf * C, sizeof(*w));
	b = cv_calloc(C, sizeof(*b));
	z = cv_calloc(n * C, sizeof(*z));
	fold = cv_calloc(n, sizeof(*fold));
	use = cv_calloc(n, sizeof(*use));
	perm = cv_calloc(n, sizeof(*perm));

	/* Stratified folds: each type spread over all of them. */
	for (i = 0; i < n; i++)
		perm[i] = i;
	shuffle(perm, n, &seed);
	{
		size_t *seen = cv_calloc(C, sizeof(*seen));

		for (i = 0; i < n; i++)
			fold[perm[i]] =
				seen[ts.y[perm[i]]]++ % (size_t)o->folds;
		free(seen);
	}
	/* Held-out scores: each document scored by a model that did not
	 * see it. They fit the temperature and measure the model. */
	for (f = 0; f < (size_t)o->folds; f++) {
		size_t nu = 0;

		for (i = 0; i < n; i++)
			if (fold[i] != f)
				use[nu++] = i;
		fit(&ts, use, nu, o, seed + f + 1, w, b);
		for (i = 0; i < n; i++)
			if (fold[i] == f)
				logits(w, b, C, &ts.x[i], z + i * C);
	}
	m = ts.m; /* borrowed until the final fit is done */
	m->temperature = fit_temperature(z, ts.y, n, C);
	if (heldout) {
		double *p = cv_calloc(C, sizeof(*p));

		for (i = 0; i < n; i++) {
			k = softmax(z + i * C, C, m->temperature, p);
			cv_ingest_eval_add(heldout, m->codes[ts.y[i]],
					   m->codes[k], p[k], p[ts.y[i]]);
		}
		free(p);
	}
	/* The shipped model learns from every document. */
	for (i = 0; i < n; i++)
		use[i] = i;
	fit(&ts, use, n, o, seed, w, b);
	ts.m = NULL;
	m->w = w;
	m->bias = b;
	w = NULL;
	b = NULL;
	*out = m;
	m = NULL;
	ret = 0;
cleanup:
	if (m && m != ts.m)
		cv_ingest_model_free(m);
	if (ts.m || ts.x)
		trainset_release(&ts);
	free(w);
	free(b);
	free(z);
	free(fold);
	free(use);
	free(perm);
	return ret;
}

/* ---------------------------------------------------------------------
 * The model file (format in ingest_int.h)
 */

static int valid_class_code(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n >= CV_INGEST_TYPE_CODE_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return 0;
	return 1;
}

static void put_u32(struct cv_buf *b, uint32_t v)
{
	unsigned char x[4] = { (unsigned char)v, (unsigned char)(v >> 8),
			       (unsigned char)(v >> 16),
			       (unsigned char)(v >> 24) };

	cv_buf_add(b, x, 4);
}

static void put_u64(struct cv_buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

static void put_f32(struct cv_buf *b, float f)
{
	uint32_t v;

	memcpy(&v, &f, 4);
	put_u32(b, v);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static float get_f32(const unsigned char *p)
{
	uint32_t v = get_u32(p);
	float f;

	memcpy(&f, &v, 4);
	return f;
}

int cv_ingest_model_write(const struct cv_ingest_model *m, struct cv_buf *out,
			  struct cv_error *err)
{
	size_t i, k;
	uint64_t t;

	cv_buf_reset(out);
	cv_buf_add(out, MAGIC, sizeof(MAGIC));
	put_u32(out, 1);
	put_u32(out, (uint32_t)m->nclasses);
	put_u32(out, (uint32_t)m->nfeat);
	put_u32(out, 0);
	memcpy(&t, &m->temperature, 8);
	put_u64(out, t);
	for (k = 0; k < m->nclasses; k++) {
		char code[CV_INGEST_TYPE_CODE_MAX] = { 0 };

		snprintf(code, sizeof(code), "%s", m->codes[k]);
		cv_buf_add(out, code, sizeof(code));
	}
	for (k = 0; k < m->nclasses; k++)
		put_f32(out, m->bias[k]);
	for (i = 0; i < m->nfeat; i++) {
		put_u64(out, m->hash[i]);
		for (k = 0; k < m->nclasses; k++)
			put_f32(out, m->w[i * m->nclasses + k]);
	}
	if (out->len == 0)
		return cv_error_set(err, CV_ELIMIT, "model is too large");
	return 0;
}

int cv_ingest_model_read(struct cv_ingest_model **out, const void *data,
			 size_t len, struct cv_error *err)
{
	const unsigned char *p = data;
	struct cv_ingest_model *m = NULL;
	size_t C, nf, i, k, need, rowlen;
	double t;
	uint64_t tb;
	int ret;

	*out = NULL;
	if (len < 32 || memcmp(p, MAGIC, sizeof(MAGIC)))
		return cv_error_set(err, CV_EINVAL,
				    "not a chartvault classifier model");
	if (get_u32(p + 8) != 1)
		return cv_error_set(err, CV_EINVAL,
				    "classifier model format %u is not known",
				    (unsigned)get_u32(p + 8));
	C = get_u32(p + 12);
	nf = get_u32(p + 16);
	tb = get_u64(p + 24);
	memcpy(&t, &tb, 8);
	if (C < 2 || C > MAX_CLASSES || nf < 1 || nf > MAX_FEATS)
		return cv_error_set(
			err, CV_EINVAL,
			"classifier model: %zu classes, %zu features is out of range",
			C, nf);
	if (!isfinite(t) || t < 1e-3 || t > 1e3)
		return cv_error_set(err, CV_EINVAL,
				    "classifier model: bad temperature");
	rowlen = 8 + 4 * C;
	need = 32 + C * CV_INGEST_TYPE_CODE_MAX + 4 * C + nf * rowlen;
	if (len != need)
		return cv_error_set(err, CV_EINVAL,
				    "classifier model: %zu bytes, expected %zu",
				    len, need);
	m = cv_calloc(1, sizeof(*m));
	m->nclasses = C;
	m->nfeat = nf;
	m->temperature = t;
	m->codes = cv_calloc(C, sizeof(*m->codes));
	m->bias = cv_calloc(C, sizeof(*m->bias));
	m->hash = cv_calloc(nf, sizeof(*m->hash));
	m->w = cv_calloc(nf * C, sizeof(*m->w));
	p += 32;
	for (k = 0; k < C; k++, p += CV_INGEST_TYPE_CODE_MAX) {
		if (p[CV_INGEST_TYPE_CODE_MAX - 1] != '\0') {
			ret = cv_error_set(
				err, CV_EINVAL,
				"classifier model: class %zu has a bad code",
				k + 1);
			goto fail;
		}
		memcpy(m->codes[k], p, CV_INGEST_TYPE_CODE_MAX);
		for (i = 0; i < k; i++) {
			if (!strcmp(m->codes[i], m->codes[k])) {
				ret = cv_error_set(
					err, CV_EINVAL,
					"classifier model: class %zu repeats an earlier one",
					k + 1);
				goto fail;
			}
		}
	}
	for (k = 0; k < C; k++, p += 4)
		m->bias[k] = get_f32(p);
	for (i = 0; i < nf; i++) {
		m->hash[i] = get_u64(p);
		p += 8;
		if (i && m->hash[i] <= m->hash[i - 1]) {
			ret = cv_error_set(
				err, CV_EINVAL,
				"classifier model: features out of order");
			goto fail;
		}
		for (k = 0; k < C; k++, p += 4)
			m->w[i * C + k] = get_f32(p);
	}
	for (i = 0; i < nf * C; i++) {
		if (!isfinite(m->w[i]) || fabsf(m->w[i]) > 1e4f) {
			ret = cv_error_set(
				err, CV_EINVAL,
				"classifier model: a weight is not a finite number");
			goto fail;
		}
	}
	for (k = 0; k < C; k++) {
		if (!isfinite(m->bias[k]) || fabsf(m->bias[k]) > 1e4f) {
			ret = cv_error_set(
				err, CV_EINVAL,
				"classifier model: a bias is not a finite number");
			goto fail;
		}
		if (!valid_class_code(m->codes[k])) {
			ret = cv_error_set(
				err, CV_EINVAL,
				"classifier model: class %zu has a bad code",
				k + 1);
			goto fail;
		}
	}
	*out = m;
	return 0;
fail:
	cv_ingest_model_free(m);
	return ret;
}

int cv_ingest_model_default(struct cv_ingest_model **out, struct cv_error *err)
{
	int ret = cv_ingest_model_read(out, cv_data_default_model,
				       cv_data_default_model_len, err);

	if (ret < 0)
		cv_error_prefix(err, "built-in classifier model");
	return ret;
}

/* ---------------------------------------------------------------------
 * Evaluation: accuracy, confusion table, macro-F1, calibration
 */

void cv_ingest_eval_init(struct cv_ingest_eval *e)
{
	memset(e, 0, sizeof(*e));
}

void cv_ingest_eval_release(struct cv_ingest_eval *e)
{
	free(e->codes);
	free(e->confusion);
	memset(e, 0, sizeof(*e));
}

static size_t class_index(struct cv_ingest_eval *e, const char *code)
{
	size_t i, j, n = e->nclasses;
	size_t *grown;

	for (i = 0; i < n; i++)
		if (!strcmp(e->codes[i], code))
			return i;
	e->codes = cv_realloc(e->codes, (n + 1) * sizeof(*e->codes));
	snprintf(e->codes[n], sizeof(*e->codes), "%s", code);
	grown = cv_calloc((n + 1) * (n + 1), sizeof(*grown));
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			grown[i * (n + 1) + j] = e->confusion[i * n + j];
	free(e->confusion);
	e->confusion = grown;
	e->nclasses = n + 1;
	return n;
}

void cv_ingest_eval_add(struct cv_ingest_eval *e, const char *truth,
			const char *predicted, double confidence,
			double p_truth)
{
	size_t t = class_index(e, truth), p = class_index(e, predicted);
	int bin;

	e->confusion[t * e->nclasses + p]++;
	e->n++;
	if (t == p)
		e->correct++;
	if (confidence >= 0) {
		bin = (int)(confidence * CV_INGEST_EVAL_BINS);
		if (bin >= CV_INGEST_EVAL_BINS)
			bin = CV_INGEST_EVAL_BINS - 1;
		if (bin < 0)
			bin = 0;
		e->bin_n[bin]++;
		e->bin_conf[bin] += confidence;
		e->bin_correct[bin] += t == p;
		e->scored++;
	}
	if (p_truth >= 0)
		e->nll -= log(p_truth > 1e-12 ? p_truth : 1e-12);
}

double cv_ingest_eval_accuracy(const struct cv_ingest_eval *e)
{
	return e->n ? (double)e->correct / (double)e->n : 0;
}

void cv_ingest_eval_class(const struct cv_ingest_eval *e, size_t k,
			  size_t *support, double *precision, double *recall,
			  double *f1)
{
	size_t i, tp = e->confusion[k * e->nclasses + k], row = 0, col = 0;

	for (i = 0; i < e->nclasses; i++) {
		row += e->confusion[k * e->nclasses + i];
		col += e->confusion[i * e->nclasses + k];
	}
	*support = row;
	*precision = col ? (double)tp / (double)col : 0;
	*recall = row ? (double)tp / (double)row : 0;
	*f1 = *precision + *recall > 0
		      ? 2 * *precision * *recall / (*precision + *recall)
		      : 0;
}

double cv_ingest_eval_macro_f1(const struct cv_ingest_eval *e)
{
	double sum = 0, pr, rc, f1;
	size_t k, support, m = 0;

	/* Over the types present in the truth. A type predicted but never
	 * true still costs: its wrong predictions are missing from the
	 * recall of the types they belonged to. */
	for (k = 0; k < e->nclasses; k++) {
		cv_ingest_eval_class(e, k, &support, &pr, &rc, &f1);
		if (!support)
			continue;
		sum += f1;
		m++;
	}
	return m ? sum / (double)m : 0;
}

double cv_ingest_eval_ece(const struct cv_ingest_eval *e)
{
	double sum = 0;
	int i;

	if (!e->scored)
		return 0;
	for (i = 0; i < CV_INGEST_EVAL_BINS; i++) {
		if (!e->bin_n[i])
			continue;
		sum += fabs(e->bin_conf[i] - (double)e->bin_correct[i]);
	}
	return sum / (double)e->scored;
}

/* ---------------------------------------------------------------------
 * In the ingest run
 */

int cv_ingest__model_for_run(struct cv_index *ix, struct cv_ingest_model **m,
			     int *version, struct cv_error *err)
{
	struct cv_buf b = CV_BUF_INIT;
	int ret;

	*m = NULL;
	*version = 0;
	ret = cv_index_model_get(ix, 0, version, &b, err);
	if (ret == CV_ENOTFOUND) {
		cv_error_clear(err);
		*version = 0;
		ret = cv_ingest_model_default(m, err);
	} else if (ret == 0) {
		ret = cv_ingest_model_read(m, b.buf, b.len, err);
		if (ret < 0)
			cv_error_prefix(err, "classifier model %d", *version);
	}
	cv_buf_release(&b);
	return ret;
}

void cv_ingest__type_page(const struct cv_ingest_model *m, const char *text,
			  struct cv_ingest__seg_page *p)
{
	memset(&p->page_type, 0, sizeof(p->page_type));
	p->text = NULL;
	if (!m)
		return;
	p->text = cv_strdup(text);
	cv_ingest_classify_model(m, text, &p->page_type);
}

void cv_ingest__type_document(const struct cv_ingest_model *m,
			      const struct cv_ingest__seg_page *pages, size_t n,
			      struct cv_index_document *doc)
{
	struct cv_ingest_type_decision d;
	struct cv_buf all = CV_BUF_INIT;
	size_t i;

	if (doc->type_source[0]) {
		doc->type_confidence = 1.0;
		return;
	}
	if (n == 1 && pages[0].page_type.source[0]) {
		d = pages[0].page_type;
	} else {
		for (i = 0; i < n; i++) {
			if (!pages[i].text)
				continue;
			cv_buf_adds(&all, pages[i].text);
			cv_buf_addch(&all, '\n');
		}
		cv_ingest_classify_model(m, all.buf, &d);
		cv_buf_release(&all);
	}
	snprintf(doc->doc_type, sizeof(doc->doc_type), "%s", d.code);
	snprintf(doc->type_source, sizeof(doc->type_source), "%s", d.source);
	doc->type_confidence = d.confidence;
}

int cv_ingest__queue_unsure_type(struct cv_index *ix,
				 const struct cv_index_document *doc,
				 double min_conf, int model_version,
				 struct cv_error *err)
{
	char detail[256];

	/* A cover sheet, a manifest or a title is the clerk's or the
	 * author's word; only the model's guesses are second-guessed. */
	if (doc->type_source[0] && strcmp(doc->type_source, "model"))
		return 0;
	if (doc->type_source[0] && doc->type_confidence >= min_conf)
		return 0;
	snprintf(
		detail, sizeof(detail),
		"{\"type\": \"%s\", \"confidence\": %.4f, \"threshold\": %.2f, \"model_version\": %d}",
		doc->doc_type, doc->type_confidence, min_conf, model_version);
	return cv_index_exception_raise(ix, doc->id, 0, "low-confidence-type",
					detail, err);
}

void cv_ingest_segment_texts(const struct cv_ingest_model *m,
			     const char *const *texts, size_t n, int type_cue,
			     int *starts)
{
	struct cv_ingest__seg_page *p = cv_calloc(n + 1, sizeof(*p));
	size_t i;

	for (i = 0; i < n; i++) {
		cv_ingest_page_facts(texts[i], &p[i].facts);
		if (type_cue && m)
			cv_ingest_classify_model(m, texts[i], &p[i].page_type);
	}
	cv_ingest__segment(p, n, starts);
	free(p);
}
