/*
 * Declarations shared by search.c, search_query.c and synonyms.c only.
 */
#ifndef CV_INDEX_SEARCH_INT_H
#define CV_INDEX_SEARCH_INT_H

#include <stddef.h>

#include "index.h"

/* data/synonyms.txt, embedded at build time (build/gen/synonyms.c). */
extern const char cv_index__synonyms_text[];

/*
 * Split s[0..len) into lower-case words (a hyphen separates words) into
 * out, malloc'd each; returns how many, or max + 1 when there are more
 * than max (the first max are then in out).
 */
size_t cv_index__syn_words(const char *s, size_t len, char **out, size_t max);
/* The same, with each word's start and end offsets in s (span). */
size_t cv_index__syn_words_at(const char *s, size_t len, char **out,
			      size_t (*span)[2], size_t max);

/* The longest synonym term at the start of w[0..n); see synonyms.c. */
size_t cv_index__syn_match(const struct cv_index_synonyms *syn, char *const *w,
			   size_t n, size_t *groups, size_t max,
			   size_t *ngroups);
const char *cv_index__syn_next_term(const struct cv_index_synonyms *syn,
				    size_t group, size_t *pos);

/*
 * The lexemes of a tsquery's text output that are not under a NOT, each
 * once, in order; *out malloc'd, each string too.
 */
int cv_index__tsquery_lexemes(const char *tsq, char ***out, size_t *n);

/*
 * tsq with each lexeme that has near spellings replaced by
 * ( 'lexeme' | 'near1' | ... ); near[i] is a '|'-free list of quoted
 * lexemes for lex[i]. *out malloc'd.
 */
char *cv_index__tsquery_widen(const char *tsq, char *const *lex,
			      char *const *alts, size_t n);

#endif
