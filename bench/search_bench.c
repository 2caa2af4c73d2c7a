/*
 * The search bench's generator and driver (run by bench/search.sh).
 *
 *   search_bench vocab
 *       the words whose lexemes the loader needs, one a line
 *   search_bench patients|documents|pages STEMS NPAGES [FIRST LAST]
 *       COPY text for that table of a synthetic archive of NPAGES pages
 *       (pages FIRST..LAST only, to load in parallel streams)
 *   search_bench migrate DSN
 *       bring a kept database to this build's schema
 *   search_bench run DSN STEMS NPAGES NQUERIES [SEED]
 *       time NQUERIES searches of 1-3 words through cv_index_search,
 *       snippets included, with and without filters and within one
 *       patient's chart, and print p50/p95
 *
 * No text objects are stored: a page's text_object names the page, and
 * the fetch callback writes the same text its search vector was made
 * from (search_corpus.c), as fast as the archive would hand it over from
 * its cache; the archive's own speed is measured by bench/archive.sh.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "index/index.h"
#include "search_corpus.h"
#include "common/banned.h"

static const uint8_t MAGIC[4] = { 'B', 'N', 'C', 'H' };

static void put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* The text_object of a page: enough to write its text again. */
static void page_oid(uint8_t oid[CV_INDEX_OID_LEN], const struct corpus_doc *d,
		     int64_t page_id)
{
	memset(oid, 0, CV_INDEX_OID_LEN);
	memcpy(oid, MAGIC, 4);
	put64(oid + 4, (uint64_t)page_id);
	put64(oid + 12, (uint64_t)d->first_page);
	put64(oid + 20, (uint64_t)d->patient);
	oid[28] = (uint8_t)d->type;
}

static void copy_escape(struct cv_buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '\t' || *s == '\n')
			cv_buf_addch(out, '\\');
		cv_buf_addch(out, *s == '\t' ? 't' : *s == '\n' ? 'n' : *s);
	}
}

static int gen_patients(const struct corpus *c)
{
	int64_t p;

	for (p = 1; p <= CORPUS_PATIENTS; p++) {
		char mrn[16];
		const char *fam, *giv;
		int y;

		corpus_patient(c, p, mrn, sizeof(mrn), &fam, &giv, &y);
		printf("%lld\t%s\t%s\t%s\t%d-%02d-%02d\n", (long long)p, mrn,
		       fam, giv, y, 1 + (int)(p % 12), 1 + (int)(p % 28));
	}
	return 0;
}

static int gen_documents(const struct corpus *c, int64_t npages)
{
	struct corpus_doc d;
	int64_t state = 0, id = 0;

	while (corpus_next_doc(&state, npages, &d)) {
		char mrn[16];
		const char *fam, *giv;
		int y;

		id++;
		corpus_patient(c, d.patient, mrn, sizeof(mrn), &fam, &giv, &y);
		printf("%lld\t1\t%lld\t%s\t%s, %s\t%s\tbench\t%d-%02d-%02d\t%s\n",
		       (long long)id, (long long)d.patient, mrn, fam, giv,
		       corpus_types[d.type][0], d.year, d.month, d.day,
		       d.exception ? "exception" : "filed");
	}
	return 0;
}

static int gen_pages(const struct corpus *c, int64_t npages, int64_t from,
		     int64_t to)
{
	struct corpus_doc d;
	struct cv_buf tsv = CV_BUF_INIT, line = CV_BUF_INIT;
	int64_t state = 0, id = 0;
	char hex[2 * CV_INDEX_OID_LEN + 1];

	while (corpus_next_doc(&state, npages, &d)) {
		int k;

		id++;
		for (k = 0; k < d.npages; k++) {
			int64_t page = d.first_page + k;
			uint8_t oid[CV_INDEX_OID_LEN];

			if (page < from || page > to)
				continue;

			cv_buf_reset(&tsv);
			cv_buf_reset(&line);
			corpus_page(c, &d, page, NULL, &tsv);
			page_oid(oid, &d, page);
			cv_hex_encode(hex, oid, sizeof(oid));
			cv_buf_addf(&line,
				    "%lld\t%lld\t%d\tdone\t%lld\t%d\t\\\\x%s\t",
				    (long long)page, (long long)id, k + 1,
				    (long long)id, k + 1, hex);
			copy_escape(&line, tsv.buf);
			cv_buf_addch(&line, '\n');
			fwrite(line.buf, 1, line.len, stdout);
		}
	}
	cv_buf_release(&tsv);
	cv_buf_release(&line);
	return 0;
}

/* ------------------------------------------------------------------ */

struct fetch_ctx {
	const struct corpus *c;
	int64_t fetched;
};

static int fetch(void *ctx, const uint8_t *oid, struct cv_buf *out,
		 struct cv_error *err)
{
	struct fetch_ctx *f = ctx;
	struct corpus_doc d;
	int64_t page;

	if (memcmp(oid, MAGIC, 4) != 0)
		return cv_error_set(err, CV_ERROR,
				    "not a page of the search bench");
	memset(&d, 0, sizeof(d));
	page = (int64_t)get64(oid + 4);
	d.first_page = (int64_t)get64(oid + 12);
	d.patient = (int64_t)get64(oid + 20);
	d.type = oid[28];
	f->fetched++;
	return corpus_page(f->c, &d, page, out, NULL);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const double *sorted, int n, double p)
{
	int i = (int)(p * (double)n + 0.999999) - 1;

	return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

enum mode {
	PLAIN,
	BARE,
	FILTERED,
	CHART,
	NEAR,
	NMODES
};
static const char *const MODE_NAME[] = {
	"no filters",
	"no filters, without facets",
	"type or date filter",
	"one patient's chart (--mrn)",
	"--near (OCR-tolerant), no filters",
};

/* A query of 1-3 words, each drawn as the archive's words occur, so
 * common words come up as often as users type them. */
static void make_query(const struct corpus *c, uint64_t *rng, char *q, size_t n)
{
	int words = 1 + (int)(corpus_mix((*rng)++) % 3), i;
	size_t len = 0;

	q[0] = '\0';
	for (i = 0; i < words; i++) {
		size_t w;

		/* half of the words from the clinical list, as users ask
		 * for diagnoses and drugs more than for "patient" */
		if (corpus_mix((*rng)++) % 2)
			w = c->ncommon + corpus_mix((*rng)++) % c->nclinical;
		else
			w = corpus_draw(c, rng);
		len += (size_t)snprintf(q + len, n - len, "%s%s", i ? " " : "",
					c->words[w]);
		if (len >= n)
			break;
	}
}

static int run(const char *dsn, const struct corpus *c, int64_t npages, int nq,
	       uint64_t seed)
{
	struct cv_index *ix = NULL;
	struct cv_error err = CV_ERROR_INIT;
	struct fetch_ctx fc = { c, 0 };
	double *t[NMODES];
	int64_t big[NMODES] = { 0 }, hits_total[NMODES] = { 0 },
		sampled[NMODES] = { 0 }, sampled16[NMODES] = { 0 },
		estimated[NMODES] = { 0 };
	uint64_t rng = seed;
	int m, i, ret = 1;

	if (cv_index_open(&ix, dsn, &err) < 0) {
		fprintf(stderr, "search_bench: %s: %s\n", err.msg, err.detail);
		return 1;
	}
	for (m = 0; m < NMODES; m++)
		t[m] = cv_calloc((size_t)nq, sizeof(double));
	for (i = 0; i < nq; i++) {
		char q[256], mrn[16], from[16], to[16];
		const char *fam, *giv;
		int y;

		make_query(c, &rng, q, sizeof(q));
		for (m = 0; m < NMODES; m++) {
			struct cv_index_search_opts so =
				CV_INDEX_SEARCH_OPTS_INIT;
			struct cv_index_search_result res =
				CV_INDEX_SEARCH_RESULT_INIT;
			uint64_t r = corpus_mix(seed ^ (uint64_t)(i * 31 + m));
			double t0;

			so.query = q;
			so.limit = 20;
			if (m == FILTERED) {
				if (r % 2) {
					so.doc_type =
						corpus_types[(r >> 8) %
							     corpus_ntypes][0];
				} else {
					y = 1995 + (int)((r >> 8) % 30);
					snprintf(from, sizeof(from), "%d-01-01",
						 y);
					snprintf(to, sizeof(to), "%d-12-31",
						 y + (int)((r >> 16) % 3));
					so.from = from;
					so.to = to;
				}
			} else if (m == CHART) {
				/* a chart as records staff open them: the
				 * patient of a random page */
				struct corpus_doc d;
				int64_t st = 0,
					want = 1 + (int64_t)((r >> 8) %
							     (uint64_t)npages);

				while (corpus_next_doc(&st, npages, &d) &&
				       d.first_page + d.npages <= want)
					;
				corpus_patient(c, d.patient, mrn, sizeof(mrn),
					       &fam, &giv, &y);
				so.mrn = mrn;
			} else if (m == NEAR) {
				so.near = 1;
			} else if (m == BARE) {
				so.facets = 0;
			}
			t0 = now_ms();
			if (cv_index_search(ix, &so, fetch, &fc, &res, &err) <
			    0) {
				fprintf(stderr,
					"search_bench: query %d (%s): %s: %s\n",
					i, MODE_NAME[m], err.msg, err.detail);
				goto out;
			}
			t[m][i] = now_ms() - t0;
			if (res.total_pages > 1000)
				big[m]++;
			sampled[m] += res.ranked_in_sample;
			sampled16[m] += res.ranked_sample == 16;
			estimated[m] += res.facets_estimated;
			hits_total[m] += res.total_documents;
			cv_index_search_result_release(&res);
		}
		if (getenv("BENCH_VERBOSE"))
			fprintf(stderr,
				"%3d %-40s %7.1f %7.1f %7.1f %7.1f %7.1f\n", i,
				q, t[0][i], t[1][i], t[2][i], t[3][i], t[4][i]);
	}
	printf("  %-36s %7s %7s %7s  %s\n", "searches (limit 20, snippets)",
	       "p50 ms", "p95 ms", "max ms",
	       ">1000 pages / ranked in sample (1/16) / counts estimated");
	for (m = 0; m < NMODES; m++) {
		qsort(t[m], (size_t)nq, sizeof(double), cmp_double);
		printf("  %-36s %7.1f %7.1f %7.1f  %lld / %lld (%lld) / %lld of "
		       "%d\n",
		       MODE_NAME[m], pct(t[m], nq, 0.5), pct(t[m], nq, 0.95),
		       t[m][nq - 1], (long long)big[m], (long long)sampled[m],
		       (long long)sampled16[m], (long long)estimated[m], nq);
	}
	ret = 0;
out:
	for (m = 0; m < NMODES; m++)
		free(t[m]);
	cv_index_free(ix);
	return ret;
}

int main(int argc, char **argv)
{
	struct corpus c;
	struct cv_error err = CV_ERROR_INIT;
	long long npages = 0;
	int ret;

	if (argc == 2 && strcmp(argv[1], "vocab") == 0) {
		if (corpus_init(&c, NULL, &err) < 0)
			goto fail;
		corpus_print_vocab(&c, stdout);
		corpus_release(&c);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "migrate") == 0) {
		/* a kept database (BENCH_SEARCH_REUSE): this build's schema */
		struct cv_index *ix = NULL;

		ret = cv_index_open(&ix, argv[2], &err) < 0 ||
		      cv_index_migrate(ix, NULL, NULL, &err) < 0;
		cv_index_free(ix);
		if (ret)
			goto fail;
		return 0;
	}
	if (argc < 4)
		goto usage;
	if (corpus_init(&c, strcmp(argv[1], "run") == 0 ? argv[3] : argv[2],
			&err) < 0)
		goto fail;
	if (cv_parse_ll(&npages,
			strcmp(argv[1], "run") == 0 ? (argc > 4 ? argv[4] : "")
						    : argv[3],
			1, 100000000) < 0)
		goto usage;
	if (strcmp(argv[1], "patients") == 0)
		ret = gen_patients(&c);
	else if (strcmp(argv[1], "documents") == 0)
		ret = gen_documents(&c, npages);
	else if (strcmp(argv[1], "pages") == 0) {
		long long from = 1, to = npages;

		if (argc == 6 && (cv_parse_ll(&from, argv[4], 1, npages) < 0 ||
				  cv_parse_ll(&to, argv[5], from, npages) < 0))
			goto usage;
		ret = gen_pages(&c, npages, from, to);
	} else if (strcmp(argv[1], "run") == 0 && argc >= 6) {
		long long nq = 0, seed = 42;

		if (cv_parse_ll(&nq, argv[5], 1, 100000) < 0 ||
		    (argc > 6 && cv_parse_ll(&seed, argv[6], 0, 1LL << 60) < 0))
			goto usage;
		ret = run(argv[2], &c, npages, (int)nq, (uint64_t)seed);
	} else
		goto usage;
	corpus_release(&c);
	return ret;
usage:
	fprintf(stderr, "usage: search_bench vocab | migrate DSN | "
			"patients|documents|pages STEMS NPAGES [FIRST LAST] | "
			"run DSN STEMS NPAGES NQUERIES [SEED]\n");
	return 2;
fail:
	fprintf(stderr, "search_bench: %s\n", err.msg);
	return 1;
}
