/*
 * The synthetic archive of the search bench (see search_corpus.h).
 *
 * Vocabulary: the common note words and clinical terms of
 * search_words.h, then a long tail of made-up drug-like and Latin-ish
 * words, about 60,000 in all, drawn with Zipf-Mandelbrot weights
 * 1/(rank + 2.7)^1.07 (the shape of word frequencies in clinical notes);
 * one word in 200 carries an OCR error ("rn" for "m", "1" for "l"...),
 * which grows the vocabulary the way real OCR does. A third of the tokens
 * are stop words, which take positions but no lexeme, as in to_tsvector.
 *
 * Charts: 100,000 patients; 30% of the documents belong to 2,000
 * patients with long charts (150 pages and more), the rest spread evenly.
 * A document has 1 to 20 pages (about 4 on average), one of 14 LOINC
 * types, a service date between 1995 and 2026, and one in 100 waits in
 * the exception queue.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search_corpus.h"
#include "search_words.h"
#include "common/banned.h"

#define TAIL_WORDS   60000
#define LONG_CHARTS  2000
#define OCR_ERROR_IN 200

const char *const corpus_types[][2] = {
	{ "18842-5", "discharge summary" },
	{ "11506-3", "progress note" },
	{ "34117-2", "history and physical" },
	{ "11488-4", "consultation note" },
	{ "34111-5", "emergency department note" },
	{ "11504-8", "operative report" },
	{ "18748-4", "imaging report" },
	{ "11502-2", "laboratory report" },
	{ "11526-1", "pathology report" },
	{ "59284-0", "consent form" },
	{ "10160-0", "medication list" },
	{ "18776-5", "plan of care" },
	{ "letter", "correspondence letter" },
	{ "other", "clinical document" },
};
const size_t corpus_ntypes = sizeof(corpus_types) / sizeof(corpus_types[0]);
/* How often each type occurs, per mille, in the order above. */
static const int TYPE_PERMILLE[] = { 90,  300, 70, 80, 70, 40, 90,
				     110, 20,  30, 40, 30, 20, 10 };

uint64_t corpus_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return corpus_mix(*s);
}

static double unit(uint64_t *s)
{
	return (double)(next(s) >> 11) / 9007199254740992.0;
}

static char **split_words(const char *list, size_t *n)
{
	char *copy = cv_strdup(list), *p = copy, **out = NULL;
	size_t cap = 0;

	*n = 0;
	while (*p) {
		char *w;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		w = p;
		while (*p && *p != ' ')
			p++;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			out = cv_realloc(out, cap * sizeof(*out));
		}
		out[(*n)++] = cv_strndup(w, (size_t)(p - w));
	}
	free(copy);
	return out;
}

static const char *const SYLLABLES[] = {
	"ba",  "cor",  "dex", "fen", "gal", "hy",  "lo",  "mab", "nol", "pra",
	"qui", "ros",  "sul", "tan", "vir", "xil", "zo",  "tri", "am",  "ep",
	"ol",  "ceph", "ma",  "ni",  "ter", "po",  "ka",  "lin", "ven", "dro",
	"sta", "pel",  "mer", "ox",  "ri",  "ta",  "gen", "phy", "cre", "do",
};
static const char *const ENDINGS[] = {
	"ine",   "ide",    "ate",    "ium",    "pril",  "sartan", "olol",
	"azole", "ycin",   "illin",  "statin", "itis",  "osis",   "emia",
	"oma",   "ectomy", "plasty", "scopy",  "algia", "uria",
};

static char *tail_word(size_t i)
{
	uint64_t s = 0x5eed0000ull + i;
	char w[64];
	size_t len = 0;
	int k, nsyl = 2 + (int)(next(&s) % 3);

	for (k = 0; k < nsyl; k++) {
		const char *y = SYLLABLES[next(&s) % (sizeof(SYLLABLES) /
						      sizeof(SYLLABLES[0]))];

		memcpy(w + len, y, strlen(y));
		len += strlen(y);
	}
	{
		const char *e = ENDINGS[next(&s) %
					(sizeof(ENDINGS) / sizeof(ENDINGS[0]))];

		memcpy(w + len, e, strlen(e));
		len += strlen(e);
	}
	w[len] = '\0';
	return cv_strdup(w);
}

struct ranked {
	const char *w;
	size_t rank;
};

static int cmp_ranked(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	int c = strcmp(x->w, y->w);

	return c ? c : (x->rank < y->rank ? -1 : x->rank > y->rank);
}

static void free_words(char **w, size_t n)
{
	size_t i;

	if (!w)
		return;
	for (i = 0; i < n; i++)
		free(w[i]);
	free(w);
}

int corpus_init(struct corpus *c, const char *stems_file, struct cv_error *err)
{
	size_t ncommon, nclin, i, j;
	char **common = split_words(BENCH_COMMON, &ncommon);
	char **clin = split_words(BENCH_CLINICAL, &nclin);
	struct ranked *sorted;
	char *dup;
	double sum = 0;

	memset(c, 0, sizeof(*c));
	c->nwords = 0;
	c->words = cv_calloc(ncommon + nclin + TAIL_WORDS, sizeof(char *));
	for (i = 0; i < ncommon; i++)
		c->words[c->nwords++] = common[i];
	for (i = 0; i < nclin; i++)
		c->words[c->nwords++] = clin[i];
	free(common);
	free(clin);
	c->ncommon = ncommon;
	c->nclinical = nclin;
	for (i = 0; i < TAIL_WORDS; i++)
		c->words[c->nwords++] = tail_word(i);
	/* Drop repeats (a few words are in both lists, some tail words come
	 * out twice), keeping the first rank. */
	sorted = cv_malloc(c->nwords * sizeof(*sorted));
	dup = cv_calloc(c->nwords, 1);
	for (i = 0; i < c->nwords; i++)
		sorted[i] = (struct ranked){ c->words[i], i };
	qsort(sorted, c->nwords, sizeof(*sorted), cmp_ranked);
	for (i = 1; i < c->nwords; i++)
		if (strcmp(sorted[i].w, sorted[i - 1].w) == 0)
			dup[sorted[i].rank] = 1;
	free(sorted);
	for (i = 0, j = 0; i < c->nwords; i++) {
		if (!dup[i])
			c->words[j++] = c->words[i];
		else
			free(c->words[i]);
	}
	c->nwords = j;
	free(dup);
	c->cdf = cv_malloc(c->nwords * sizeof(double));
	for (i = 0; i < c->nwords; i++) {
		sum += 1.0 / pow((double)i + 2.7, 1.07);
		c->cdf[i] = sum;
	}
	for (i = 0; i < c->nwords; i++)
		c->cdf[i] /= sum;
	c->stop = split_words(BENCH_STOP, &c->nstop);
	c->family = split_words(BENCH_FAMILY, &c->nfamily);
	c->given = split_words(BENCH_GIVEN, &c->ngiven);
	if (stems_file) {
		FILE *f = fopen(stems_file, "r");
		size_t total = c->nwords + c->nfamily + c->ngiven, n = 0;
		char line[256], **all;

		if (!f)
			return cv_error_errno(err, CV_ERROR,
					      "could not open '%s'",
					      stems_file);
		all = cv_calloc(total, sizeof(char *));
		while (n < total && fgets(line, sizeof(line), f)) {
			char *tab = strchr(line, '\t'), *nl;

			if (!tab)
				break;
			nl = strchr(tab, '\n');
			if (nl)
				*nl = '\0';
			all[n++] = cv_strdup(tab + 1);
		}
		fclose(f);
		if (n != total) {
			free_words(all, n);
			return cv_error_set(err, CV_EINVAL,
					    "'%s' has %zu stems for %zu words",
					    stems_file, n, total);
		}
		c->stems = all;
		c->fstems = all + c->nwords;
		c->gstems = all + c->nwords + c->nfamily;
	}
	return 0;
}

/* Every word whose lexeme the loader needs, in the stems file's order. */
void corpus_print_vocab(const struct corpus *c, FILE *out)
{
	size_t i;

	for (i = 0; i < c->nwords; i++)
		fprintf(out, "%s\n", c->words[i]);
	for (i = 0; i < c->nfamily; i++)
		fprintf(out, "%s\n", c->family[i]);
	for (i = 0; i < c->ngiven; i++)
		fprintf(out, "%s\n", c->given[i]);
}

void corpus_release(struct corpus *c)
{
	free_words(c->words, c->nwords);
	free_words(c->stems, c->nwords + c->nfamily + c->ngiven);
	free_words(c->stop, c->nstop);
	free_words(c->family, c->nfamily);
	free_words(c->given, c->ngiven);
	free(c->cdf);
	memset(c, 0, sizeof(*c));
}

size_t corpus_draw(const struct corpus *c, uint64_t *rng)
{
	double u = unit(rng);
	size_t lo = 0, hi = c->nwords - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (c->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int corpus_next_doc(int64_t *state, int64_t npages_total, struct corpus_doc *d)
{
	uint64_t s;
	int64_t first = *state ? *state : 1;
	int t, acc, r;
	size_t k;

	if (first > npages_total)
		return 0;
	memset(d, 0, sizeof(*d));
	/* the document number follows from a counter kept in the high
	 * bits of the state would be neater; a second counter is simpler */
	d->first_page = first;
	s = corpus_mix((uint64_t)first * 7919u);
	d->npages = 1 + (int)floor(-log(1.0 - unit(&s)) * 3.0);
	if (d->npages > 20)
		d->npages = 20;
	if (first + d->npages - 1 > npages_total)
		d->npages = (int)(npages_total - first + 1);
	if (next(&s) % 100 < 30)
		d->patient = 1 + (int64_t)(next(&s) % LONG_CHARTS);
	else
		d->patient = 1 + (int64_t)(next(&s) % CORPUS_PATIENTS);
	r = (int)(next(&s) % 1000);
	for (k = 0, acc = 0, t = 0; k < corpus_ntypes; k++) {
		acc += TYPE_PERMILLE[k];
		if (r < acc) {
			t = (int)k;
			break;
		}
	}
	d->type = t;
	d->year = 1995 + (int)(next(&s) % 32);
	d->month = 1 + (int)(next(&s) % 12);
	d->day = 1 + (int)(next(&s) % 28);
	d->exception = next(&s) % 100 == 0;
	*state = first + d->npages;
	return 1;
}

void corpus_patient(const struct corpus *c, int64_t patient, char *mrn,
		    size_t mrnlen, const char **family, const char **given,
		    int *dob_year)
{
	uint64_t s = corpus_mix((uint64_t)patient * 104729u);

	snprintf(mrn, mrnlen, "M%08lld", (long long)patient);
	*family = c->family[next(&s) % c->nfamily];
	*given = c->given[next(&s) % c->ngiven];
	*dob_year = 1925 + (int)(next(&s) % 95);
}

/* One word of an OCR error: a letter swapped for its usual lookalike. */
static void ocr_error(char *w, uint64_t *s)
{
	size_t n = strlen(w), i;
	static const char FROM[] = "lomeichrn", TO[] = "10mcl1bmm";

	if (n < 4)
		return;
	for (i = 0; i < 8; i++) {
		size_t at = 1 + next(s) % (n - 2);
		const char *f = strchr(FROM, w[at]);

		if (f) {
			w[at] = TO[f - FROM];
			return;
		}
	}
}

struct token {
	const char *lexeme;
	int pos;
};

static int cmp_token(const void *a, const void *b)
{
	const struct token *x = a, *y = b;
	int c = strcmp(x->lexeme, y->lexeme);

	return c ? c : x->pos - y->pos;
}

#define PAGE_TOKENS_MAX 512

struct page_out {
	struct cv_buf *text;
	struct token tok[PAGE_TOKENS_MAX];
	int ntok, pos;
};

/* One word of the page: in the text, and its lexeme (NULL for none) at
 * the next position, as to_tsvector would number it. */
static void emit(struct page_out *po, const char *word, const char *lexeme)
{
	po->pos++;
	if (po->text)
		cv_buf_addf(po->text, "%s%s", po->pos > 1 ? " " : "", word);
	if (lexeme && *lexeme && po->ntok < PAGE_TOKENS_MAX)
		po->tok[po->ntok++] = (struct token){ lexeme, po->pos };
}

int corpus_page(const struct corpus *c, const struct corpus_doc *d,
		int64_t page_id, struct cv_buf *text, struct cv_buf *tsv)
{
	uint64_t s = corpus_mix((uint64_t)page_id * 2654435761u);
	struct page_out *po = cv_calloc(1, sizeof(*po));
	char errs[64][48], mrn[16];
	const char *family, *given;
	size_t fi, gi;
	int nerr = 0, dob, body, i, since_stop = 0;

	po->text = text;
	corpus_patient(c, d->patient, mrn, sizeof(mrn), &family, &given, &dob);
	for (fi = 0; fi < c->nfamily && strcmp(c->family[fi], family); fi++)
		;
	for (gi = 0; gi < c->ngiven && strcmp(c->given[gi], given); gi++)
		;
	/* Header: the title, the patient, the MRN. */
	emit(po, corpus_types[d->type][1], NULL);
	emit(po, "patient:", c->stems ? c->stems[0] : "patient");
	emit(po, family, c->stems ? c->fstems[fi] : family);
	emit(po, given, c->stems ? c->gstems[gi] : given);
	emit(po, "mrn", "mrn");
	emit(po, mrn, NULL);
	if (text)
		cv_buf_adds(text, "\n");
	body = 120 + (int)(next(&s) % 180);
	for (i = 0; i < body; i++) {
		uint64_t r = next(&s);
		size_t w;
		const char *word, *lex;

		if (r % 100 < 33 && since_stop > 0) {
			emit(po, c->stop[(r >> 8) % c->nstop], NULL);
			since_stop = 0;
			continue;
		}
		since_stop++;
		w = corpus_draw(c, &s);
		word = c->words[w];
		lex = c->stems ? c->stems[w] : word;
		if ((r >> 20) % OCR_ERROR_IN == 0 && nerr < 64 &&
		    strlen(word) < sizeof(errs[0]) && *lex) {
			/* The error falls on the stem, so the page's text
			 * stems to the damaged lexeme again. */
			snprintf(errs[nerr], sizeof(errs[0]), "%s", word);
			ocr_error(errs[nerr], &s);
			if (strncmp(word, lex, strlen(lex)) == 0 &&
			    strncmp(errs[nerr], lex, strlen(lex)) != 0) {
				size_t l = strlen(lex);
				char *e;

				/* the damaged stem as lexeme, the damaged
				 * word as text */
				emit(po, errs[nerr], NULL);
				e = cv_strndup(errs[nerr], l);
				snprintf(errs[nerr], sizeof(errs[0]), "%s", e);
				free(e);
				if (po->ntok < PAGE_TOKENS_MAX)
					po->tok[po->ntok++] =
						(struct token){ errs[nerr],
								po->pos };
				nerr++;
			} else {
				emit(po, word, lex);
			}
		} else {
			emit(po, word, lex);
		}
		if ((r >> 40) % 14 == 0 && text)
			cv_buf_adds(text, (r >> 50) % 3 ? "." : ".\n");
	}
	if (text)
		cv_buf_addch(text, '\n');
	if (tsv) {
		qsort(po->tok, (size_t)po->ntok, sizeof(po->tok[0]), cmp_token);
		for (i = 0; i < po->ntok; i++) {
			const char *p;

			if (i && strcmp(po->tok[i].lexeme,
					po->tok[i - 1].lexeme) == 0) {
				cv_buf_addf(tsv, ",%d", po->tok[i].pos);
				continue;
			}
			if (i)
				cv_buf_addch(tsv, ' ');
			cv_buf_addch(tsv, '\'');
			for (p = po->tok[i].lexeme; *p; p++) {
				if (*p == '\'' || *p == '\\')
					cv_buf_addch(tsv, *p);
				cv_buf_addch(tsv, *p);
			}
			cv_buf_addf(tsv, "':%d", po->tok[i].pos);
		}
	}
	free(po);
	return 0;
}
