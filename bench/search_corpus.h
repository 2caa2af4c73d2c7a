/*
 * The synthetic archive of the search bench: patients, documents and
 * pages, each a pure function of its number, so that the loader can
 * write the search vectors and the bench's fetch callback can later
 * rewrite the very text they were made from (the bench stores no text
 * objects; see bench/search.sh).
 */
#ifndef CV_BENCH_SEARCH_CORPUS_H
#define CV_BENCH_SEARCH_CORPUS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "common/cv.h"

#define CORPUS_PATIENTS 100000

struct corpus {
	char **words; /* content words, by rank */
	/* Lexemes ("" for a stop word) of words, then family, then given;
	 * NULL until a stems file is read. */
	char **stems, **fstems, **gstems;
	size_t nwords;
	double *cdf;      /* Zipfian, over words by rank */
	size_t ncommon;   /* the first ones: common note words */
	size_t nclinical; /* then clinical terms */
	char **stop;
	size_t nstop;
	char **family, **given;
	size_t nfamily, ngiven;
};

struct corpus_doc {
	int64_t id;
	int64_t first_page; /* pages first_page .. first_page + npages - 1 */
	int npages;
	int64_t patient; /* 1..CORPUS_PATIENTS */
	int type;        /* index into corpus_types */
	int year, month, day;
	int exception; /* in the exception queue */
};

extern const char *const corpus_types[][2]; /* code, title words */
extern const size_t corpus_ntypes;

/* The word lists and the Zipf table; stems_file may be NULL. */
int corpus_init(struct corpus *c, const char *stems_file, struct cv_error *err);
void corpus_release(struct corpus *c);

/* words, family and given names, one a line: what the stems file maps */
void corpus_print_vocab(const struct corpus *c, FILE *out);

/* A small fast generator (splitmix64). */
uint64_t corpus_mix(uint64_t x);

/* Documents in order; iterate with *state 0 first. 0 when done. */
int corpus_next_doc(int64_t *state, int64_t npages_total, struct corpus_doc *d);

/* The patient's MRN and name. */
void corpus_patient(const struct corpus *c, int64_t patient, char *mrn,
		    size_t mrnlen, const char **family, const char **given,
		    int *dob_year);

/*
 * Page page_id of document d: its text (when text is not NULL) and its
 * search vector in tsvector input syntax (when tsv is not NULL).
 */
int corpus_page(const struct corpus *c, const struct corpus_doc *d,
		int64_t page_id, struct cv_buf *text, struct cv_buf *tsv);

/* A content word drawn by frequency, with rng state. */
size_t corpus_draw(const struct corpus *c, uint64_t *rng);

#endif
