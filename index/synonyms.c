/*
 * Medical abbreviations for search: groups of equivalent terms read from
 * data/synonyms.txt (built in) and the hospital's own file.
 *
 * Search expands the query rather than the index (a PostgreSQL thesaurus
 * dictionary would need its file in the server's share folder, which a
 * hospital's database administrator owns, and every page re-indexed after
 * each edit of the list): a query term that is one of a group's terms is
 * replaced by all of them, so an edited list applies to the next search
 * and to every page already indexed.
 *
 * A term is kept as its words in lower case, a hyphen counting as a space
 * ("x-ray" is "x ray"), so that the query's words compare with plain
 * string equality.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "index_int.h"
#include "search_int.h"
#include "common/banned.h"

/* A site file is a list, not a dictionary dump. */
#define SYN_FILE_MAX  (4u << 20)
#define SYN_LINE_MAX  1024
#define SYN_TERM_MAX  8  /* words in a term */
#define SYN_GROUP_MAX 32 /* terms in a group */

struct syn_term {
	char *text;   /* as written, for the query */
	char **words; /* normalised */
	size_t nwords;
	size_t group;
};

struct cv_index_synonyms {
	struct syn_term *terms;
	size_t nterms, cap;
	size_t ngroups;
};

/* Lower-case ASCII; a hyphen splits words. */
size_t cv_index__syn_words(const char *s, size_t len, char **out, size_t max)
{
	return cv_index__syn_words_at(s, len, out, NULL, max);
}

size_t cv_index__syn_words_at(const char *s, size_t len, char **out,
			      size_t (*span)[2], size_t max)
{
	size_t n = 0, i = 0;

	while (i < len) {
		size_t start, k;
		char *w;

		while (i < len && (isspace((unsigned char)s[i]) || s[i] == '-'))
			i++;
		if (i >= len)
			break;
		start = i;
		while (i < len && !isspace((unsigned char)s[i]) && s[i] != '-')
			i++;
		if (n == max)
			return n + 1; /* too many: the caller refuses */
		if (span) {
			span[n][0] = start;
			span[n][1] = i;
		}
		w = cv_strndup(s + start, i - start);
		for (k = 0; w[k]; k++)
			w[k] = (char)tolower((unsigned char)w[k]);
		out[n++] = w;
	}
	return n;
}

static void free_words(char **w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(w[i]);
}

void cv_index_synonyms_free(struct cv_index_synonyms *syn)
{
	size_t i;

	if (!syn)
		return;
	for (i = 0; i < syn->nterms; i++) {
		free(syn->terms[i].text);
		free_words(syn->terms[i].words, syn->terms[i].nwords);
		free(syn->terms[i].words);
	}
	free(syn->terms);
	free(syn);
}

size_t cv_index_synonyms_count(const struct cv_index_synonyms *syn)
{
	return syn ? syn->ngroups : 0;
}

/* One line: terms separated by commas. */
static int parse_line(struct cv_index_synonyms *syn, const char *name,
		      size_t lineno, const char *line, size_t len,
		      struct cv_error *err)
{
	struct syn_term group[SYN_GROUP_MAX];
	size_t nterms = 0, i = 0, k;
	int ret = 0;

	while (i <= len) {
		size_t start = i, end;
		struct syn_term *t;
		char *words[SYN_TERM_MAX + 1];
		size_t nw;

		while (i < len && line[i] != ',')
			i++;
		end = i++;
		while (start < end && isspace((unsigned char)line[start]))
			start++;
		while (end > start && isspace((unsigned char)line[end - 1]))
			end--;
		if (start == end) {
			ret = cv_error_set(err, CV_EINVAL,
					   "%s line %zu: an empty term", name,
					   lineno);
			cv_error_hint(err, "write a group as 'MI, myocardial "
					   "infarction' on one line");
			goto cleanup;
		}
		nw = cv_index__syn_words(line + start, end - start, words,
					 SYN_TERM_MAX);
		if (nw > SYN_TERM_MAX) {
			free_words(words, SYN_TERM_MAX);
			ret = cv_error_set(
				err, CV_EINVAL,
				"%s line %zu: a term has more than %d words",
				name, lineno, SYN_TERM_MAX);
			goto cleanup;
		}
		if (nterms == SYN_GROUP_MAX) {
			free_words(words, nw);
			ret = cv_error_set(
				err, CV_EINVAL,
				"%s line %zu: more than %d terms in one group",
				name, lineno, SYN_GROUP_MAX);
			goto cleanup;
		}
		t = &group[nterms++];
		t->text = cv_strndup(line + start, end - start);
		t->words = cv_calloc(nw, sizeof(char *));
		memcpy(t->words, words, nw * sizeof(char *));
		t->nwords = nw;
		t->group = syn->ngroups;
	}
	if (nterms < 2) {
		ret = cv_error_set(
			err, CV_EINVAL,
			"%s line %zu: a group needs two terms or more", name,
			lineno);
		cv_error_hint(err, "separate the terms with commas");
		goto cleanup;
	}
	if (syn->nterms + nterms > syn->cap) {
		syn->cap = (syn->nterms + nterms) * 2;
		syn->terms = cv_realloc(syn->terms,
					syn->cap * sizeof(syn->terms[0]));
	}
	memcpy(syn->terms + syn->nterms, group, nterms * sizeof(group[0]));
	syn->nterms += nterms;
	syn->ngroups++;
	return 0;
cleanup:
	for (k = 0; k < nterms; k++) {
		free(group[k].text);
		free_words(group[k].words, group[k].nwords);
		free(group[k].words);
	}
	return ret;
}

int cv_index_synonyms_parse(struct cv_index_synonyms **syn, const char *name,
			    const char *text, size_t len, struct cv_error *err)
{
	struct cv_index_synonyms *s = *syn;
	size_t i = 0, lineno = 0;
	int created = 0, ret = 0;

	if (len > SYN_FILE_MAX)
		return cv_error_set(err, CV_ELIMIT, "%s is larger than %u MiB",
				    name, SYN_FILE_MAX >> 20);
	if (!cv_text_ok(text, len, 1))
		return cv_error_set(err, CV_EINVAL, "%s is not UTF-8 text",
				    name);
	if (!s) {
		s = cv_calloc(1, sizeof(*s));
		created = 1;
	}
	while (i < len) {
		size_t start = i, end;

		lineno++;
		while (i < len && text[i] != '\n')
			i++;
		end = i++;
		if (end > start && text[end - 1] == '\r')
			end--;
		if (end - start > SYN_LINE_MAX) {
			ret = cv_error_set(
				err, CV_EINVAL,
				"%s line %zu is longer than %d bytes", name,
				lineno, SYN_LINE_MAX);
			goto cleanup;
		}
		while (start < end && isspace((unsigned char)text[start]))
			start++;
		if (start == end || text[start] == '#')
			continue;
		ret = parse_line(s, name, lineno, text + start, end - start,
				 err);
		if (ret < 0)
			goto cleanup;
	}
	*syn = s;
	return 0;
cleanup:
	if (created)
		cv_index_synonyms_free(s);
	return ret;
}

int cv_index_synonyms_builtin(struct cv_index_synonyms **syn,
			      struct cv_error *err)
{
	return cv_index_synonyms_parse(syn, "built-in synonyms",
				       cv_index__synonyms_text,
				       strlen(cv_index__synonyms_text), err);
}

/*
 * The longest term that the query words w[0..n) start with: its length
 * in words, 0 when none. groups (up to max) receives the groups that
 * have it, *ngroups how many.
 */
size_t cv_index__syn_match(const struct cv_index_synonyms *syn, char *const *w,
			   size_t n, size_t *groups, size_t max,
			   size_t *ngroups)
{
	size_t best = 0, i, k;

	*ngroups = 0;
	if (!syn)
		return 0;
	for (i = 0; i < syn->nterms; i++) {
		const struct syn_term *t = &syn->terms[i];

		if (t->nwords > n || t->nwords < best)
			continue;
		for (k = 0; k < t->nwords; k++)
			if (strcmp(t->words[k], w[k]) != 0)
				break;
		if (k < t->nwords)
			continue;
		if (t->nwords > best) {
			best = t->nwords;
			*ngroups = 0;
		}
		for (k = 0; k < *ngroups; k++)
			if (groups[k] == t->group)
				break;
		if (k == *ngroups && *ngroups < max)
			groups[(*ngroups)++] = t->group;
	}
	return best;
}

/* The terms of a group, in file order: call with *pos 0 first. */
const char *cv_index__syn_next_term(const struct cv_index_synonyms *syn,
				    size_t group, size_t *pos)
{
	while (*pos < syn->nterms) {
		const struct syn_term *t = &syn->terms[(*pos)++];

		if (t->group == group)
			return t->text;
	}
	return NULL;
}
