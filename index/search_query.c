/*
 * From what records staff type to what PostgreSQL runs.
 *
 * The query is websearch syntax, as websearch_to_tsquery reads it: words
 * (all of them must match), "quoted phrases", OR between alternatives
 * (the words on each side group first, as in PostgreSQL: "a b OR c" is
 * "(a b) OR c"), and -word or -"phrase" to exclude. It is parsed here so
 * that medical abbreviations can be expanded before PostgreSQL sees it,
 * and written out as to_tsquery text in which every term is a quoted
 * string: to_tsquery('english') then stems each one, drops stop words and
 * reads a quoted string of several words as a phrase, with the distance
 * its stop words leave ('shortness of breath' is 'short' <2> 'breath').
 * Nothing the user typed can therefore act as a tsquery operator.
 *
 * Synonyms (synonyms.c):
 *   MI            -> ('MI' | 'myocardial infarction' | 'heart attack')
 *   myocardial infarction (two words, not quoted)
 *                 -> ('myocardial' & 'infarction' | 'MI' | 'heart attack')
 *   "acute MI"    -> ('acute MI' | 'acute myocardial infarction' | ...),
 *                    each variant a whole phrase, so its stop words keep
 *                    their distance
 *   -MI           -> !('MI' | 'myocardial infarction' | 'heart attack'):
 *                    excluding a term excludes what it stands for
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "index_int.h"
#include "search_int.h"
#include "common/banned.h"

#define QUERY_MAX      1000
#define QUERY_TOKENS   64
#define WORDS_MAX      128 /* normalised words of a run of tokens */
#define VARIANTS_MAX   32  /* of one phrase */
#define GROUPS_PER_HIT 8   /* synonym groups one term can be in */

enum tok_kind {
	TOK_WORD,
	TOK_PHRASE,
	TOK_OR
};

struct tok {
	enum tok_kind kind;
	int neg;
	char *text;
};

static void quote(struct cv_buf *out, const char *s)
{
	cv_buf_addch(out, '\'');
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			cv_buf_addch(out, *s);
		cv_buf_addch(out, (unsigned char)*s < 0x20 ? ' ' : *s);
	}
	cv_buf_addch(out, '\'');
}

static int tokenize(const char *q, struct tok *toks, size_t *ntoks,
		    struct cv_error *err)
{
	size_t n = 0;
	const char *p = q;

	while (*p) {
		int neg = 0;
		const char *start;

		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		if (*p == '-' && p[1] && !isspace((unsigned char)p[1])) {
			neg = 1;
			p++;
		}
		if (n == QUERY_TOKENS)
			return cv_error_set(err, CV_ELIMIT,
					    "the search query has more than "
					    "%d terms",
					    QUERY_TOKENS);
		if (*p == '"') {
			start = ++p;
			while (*p && *p != '"')
				p++;
			toks[n].kind = TOK_PHRASE;
			toks[n].text = cv_strndup(start, (size_t)(p - start));
			if (*p)
				p++;
		} else {
			start = p;
			while (*p && !isspace((unsigned char)*p) && *p != '"')
				p++;
			toks[n].text = cv_strndup(start, (size_t)(p - start));
			toks[n].kind =
				!neg && strcasecmp(toks[n].text, "or") == 0
					? TOK_OR
					: TOK_WORD;
		}
		toks[n].neg = neg;
		n++;
	}
	*ntoks = n;
	return 0;
}

/* Does the phrase have a word at all (not only quotes and spaces)? */
static int has_text(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s) && *s != '-')
			return 1;
	return 0;
}

static void free_words(char **w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(w[i]);
}

/*
 * Every variant of a phrase with its synonym terms swapped for the other
 * terms of their groups, as alternatives: "'v1' | 'v2' ...".
 */
static void phrase_variants(struct cv_buf *out, const char *phrase,
			    const struct cv_index_synonyms *syn)
{
	char *w[WORDS_MAX + 1];
	size_t span[WORDS_MAX][2];
	size_t nw = cv_index__syn_words_at(phrase, strlen(phrase), w, span,
					   WORDS_MAX);
	/* the phrase as slots: a plain word, or a choice of terms */
	struct slot {
		size_t first, len; /* words of the phrase */
		size_t groups[GROUPS_PER_HIT], ngroups;
	} slots[WORDS_MAX];
	size_t nslots = 0, i = 0, nvar = 1, v, emitted = 0;
	struct cv_buf one = CV_BUF_INIT, seen = CV_BUF_INIT;

	if (nw > WORDS_MAX) {
		free_words(w, WORDS_MAX);
		nw = 0;
	}
	while (i < nw) {
		struct slot *s = &slots[nslots++];
		size_t len = cv_index__syn_match(syn, w + i, nw - i, s->groups,
						 GROUPS_PER_HIT, &s->ngroups);

		s->first = i;
		s->len = len ? len : 1;
		if (!len)
			s->ngroups = 0;
		i += s->len;
	}
	for (i = 0; i < nslots && nvar <= VARIANTS_MAX; i++) {
		size_t terms = 1, g, pos;

		for (g = 0; g < slots[i].ngroups; g++)
			for (pos = 0; cv_index__syn_next_term(
				     syn, slots[i].groups[g], &pos);)
				terms++;
		nvar *= terms;
	}
	if (nslots == 0 || nvar == 1 || nvar > VARIANTS_MAX) {
		/* no synonym in it, or too many combinations: as typed */
		quote(out, phrase);
		goto out;
	}
	for (v = 0; v < nvar; v++) {
		size_t rest = v;

		size_t run = (size_t)-1; /* first slot of a run as typed */

		cv_buf_reset(&one);
		for (i = 0; i <= nslots; i++) {
			size_t terms = 1, g, pos, pick;
			const char *term = NULL;

			if (i == nslots) {
				if (run != (size_t)-1 && one.len)
					cv_buf_addch(&one, ' ');
				if (run != (size_t)-1)
					cv_buf_add(
						&one,
						phrase + span[slots[run].first]
							     [0],
						span[slots[i - 1].first +
						     slots[i - 1].len - 1][1] -
							span[slots[run].first]
							    [0]);
				break;
			}

			for (g = 0; g < slots[i].ngroups; g++)
				for (pos = 0; cv_index__syn_next_term(
					     syn, slots[i].groups[g], &pos);)
					terms++;
			pick = rest % terms;
			rest /= terms;
			if (pick == 0) {
				/* words as typed, hyphens kept: "x-ray" is
				 * indexed as more than "x ray" */
				if (run == (size_t)-1)
					run = i;
				continue;
			}
			if (run != (size_t)-1) {
				if (one.len)
					cv_buf_addch(&one, ' ');
				cv_buf_add(&one,
					   phrase + span[slots[run].first][0],
					   span[slots[i - 1].first +
						slots[i - 1].len - 1][1] -
						   span[slots[run].first][0]);
				run = (size_t)-1;
			}
			if (one.len)
				cv_buf_addch(&one, ' ');
			pick--;
			for (g = 0; g < slots[i].ngroups && !term; g++)
				for (pos = 0; (term = cv_index__syn_next_term(
						       syn, slots[i].groups[g],
						       &pos));) {
					if (pick-- == 0)
						break;
				}
			cv_buf_adds(&one, term ? term : "");
		}
		/* the same words twice (the typed term is one of its
		 * group's): once is enough */
		{
			char *nw2[WORDS_MAX + 1];
			size_t k2 = cv_index__syn_words(one.buf, one.len, nw2,
							WORDS_MAX),
			       m;
			struct cv_buf key = CV_BUF_INIT;

			for (m = 0; m < k2 && m < WORDS_MAX; m++)
				cv_buf_addf(&key, "%s%s", m ? " " : "", nw2[m]);
			free_words(nw2, k2 > WORDS_MAX ? WORDS_MAX : k2);
			cv_buf_addch(&key, '\n');
			if (strstr(seen.buf, key.buf) &&
			    (strstr(seen.buf, key.buf) == seen.buf ||
			     strstr(seen.buf, key.buf)[-1] == '\n')) {
				cv_buf_release(&key);
				continue;
			}
			cv_buf_adds(&seen, key.buf);
			cv_buf_release(&key);
		}
		if (emitted++)
			cv_buf_adds(out, " | ");
		quote(out, one.buf);
	}
out:
	cv_buf_release(&seen);
	cv_buf_release(&one);
	free_words(w, nw);
}

/* A term of a synonym group found among plain words: its alternatives. */
static void add_group_terms(struct cv_buf *out,
			    const struct cv_index_synonyms *syn,
			    const size_t *groups, size_t ngroups,
			    char *const *w, size_t nw)
{
	size_t g, pos;
	const char *term;

	for (g = 0; g < ngroups; g++)
		for (pos = 0;
		     (term = cv_index__syn_next_term(syn, groups[g], &pos));) {
			char *tw[WORDS_MAX + 1];
			size_t ntw = cv_index__syn_words(term, strlen(term), tw,
							 WORDS_MAX),
			       k;
			int same = ntw == nw;

			/* the term the user typed is already there */
			for (k = 0; same && k < ntw; k++)
				same = strcmp(tw[k], w[k]) == 0;
			free_words(tw, ntw > WORDS_MAX ? WORDS_MAX : ntw);
			if (same)
				continue;
			cv_buf_adds(out, " | ");
			quote(out, term);
		}
}

/*
 * A run of plain words (not quoted, not excluded) of one OR group:
 * words that spell a synonym term are taken together.
 */
static int emit_words(struct cv_buf *out, struct tok *toks, size_t n,
		      const struct cv_index_synonyms *syn, int *items)
{
	char *w[WORDS_MAX + 1];
	size_t tok_of[WORDS_MAX], nw = 0, i, t;

	/* normalised words, remembering which token each came from */
	for (t = 0; t < n; t++) {
		size_t k =
			cv_index__syn_words(toks[t].text, strlen(toks[t].text),
					    w + nw, WORDS_MAX - nw);

		if (k > WORDS_MAX - nw) {
			free_words(w, nw + WORDS_MAX - nw);
			return CV_ELIMIT;
		}
		for (i = 0; i < k; i++)
			tok_of[nw + i] = t;
		nw += k;
	}
	t = 0;
	i = 0;
	while (t < n) {
		size_t groups[GROUPS_PER_HIT], ngroups = 0, len = 0, first = i;

		/* the token's first word starts a match only when the
		 * match ends at a token's end */
		if (i < nw && tok_of[i] == t) {
			len = cv_index__syn_match(syn, w + i, nw - i, groups,
						  GROUPS_PER_HIT, &ngroups);
			if (len && i + len < nw &&
			    tok_of[i + len] == tok_of[i + len - 1])
				len = 0;
		}
		if (!len && !has_text(toks[t].text)) {
			t++; /* punctuation alone: nothing to look for */
			continue;
		}
		if ((*items)++)
			cv_buf_adds(out, " & ");
		if (!len) {
			quote(out, toks[t].text);
			while (i < nw && tok_of[i] == t)
				i++;
			t++;
			continue;
		}
		{
			size_t last = tok_of[i + len - 1], k;

			cv_buf_adds(out, "( ");
			for (k = t; k <= last; k++) {
				if (k > t)
					cv_buf_adds(out, " & ");
				quote(out, toks[k].text);
			}
			add_group_terms(out, syn, groups, ngroups, w + first,
					len);
			cv_buf_adds(out, " )");
			i += len;
			t = last + 1;
		}
	}
	free_words(w, nw);
	return 0;
}

int cv_index_search_query(char **out, const char *query,
			  const struct cv_index_synonyms *syn,
			  struct cv_error *err)
{
	struct tok toks[QUERY_TOKENS];
	struct cv_buf q = CV_BUF_INIT;
	size_t ntoks = 0, i, groups = 0;
	int ret;

	*out = NULL;
	if (!query || !has_text(query))
		return cv_error_set(err, CV_EINVAL,
				    "the search query is empty");
	if (strlen(query) > QUERY_MAX)
		return cv_error_set(
			err, CV_EINVAL,
			"the search query is longer than %d characters",
			QUERY_MAX);
	ret = tokenize(query, toks, &ntoks, err);
	if (ret < 0)
		goto cleanup;
	i = 0;
	while (i < ntoks) {
		size_t end = i, k;
		int items = 0, positive = 0;
		struct cv_buf g = CV_BUF_INIT;

		while (end < ntoks && toks[end].kind != TOK_OR)
			end++;
		k = i;
		while (k < end) {
			struct tok *tk = &toks[k];

			if (tk->kind == TOK_WORD && !tk->neg) {
				size_t run = k;

				while (run < end &&
				       toks[run].kind == TOK_WORD &&
				       !toks[run].neg)
					run++;
				if (emit_words(&g, toks + k, run - k, syn,
					       &items) < 0) {
					cv_buf_release(&g);
					ret = cv_error_set(
						err, CV_ELIMIT,
						"the search query has too "
						"many words");
					goto cleanup;
				}
				positive = items > 0;
				k = run;
				continue;
			}
			if (!has_text(tk->text)) {
				k++;
				continue;
			}
			if (items++)
				cv_buf_adds(&g, " & ");
			cv_buf_adds(&g, tk->neg ? "!( " : "( ");
			phrase_variants(&g, tk->text, syn);
			cv_buf_adds(&g, " )");
			positive |= !tk->neg;
			k++;
		}
		if (items && !positive) {
			cv_buf_release(&g);
			ret = cv_error_set(err, CV_EINVAL,
					   "the search query only excludes");
			cv_error_hint(err, "give at least one word to look "
					   "for besides the -excluded ones");
			goto cleanup;
		}
		if (items) {
			cv_buf_addf(&q, "%s( %s )", groups ? " | " : "", g.buf);
			groups++;
		}
		cv_buf_release(&g);
		i = end + 1;
	}
	if (!groups) {
		ret = cv_error_set(err, CV_EINVAL,
				   "the search query has no words to look for");
		goto cleanup;
	}
	*out = cv_buf_detach(&q, NULL);
	ret = 0;
cleanup:
	for (i = 0; i < ntoks; i++)
		free(toks[i].text);
	cv_buf_release(&q);
	return ret;
}

/* ------------------------------------------------------------------ */

/*
 * Walk a tsquery's text output ('lexeme', operators, parentheses), with
 * each lexeme's span and whether a NOT covers it.
 */
struct tsq_lexeme {
	const char *start; /* the opening quote */
	const char *end;   /* after the closing quote */
	char *text;        /* unquoted, malloc'd */
	int negated;
};

static int next_lexeme(const char **p, int *negstack, int *depth, int *pending,
		       struct tsq_lexeme *lx)
{
	const char *s = *p;

	while (*s) {
		if (*s == '!') {
			*pending = 1;
			s++;
		} else if (*s == '(') {
			if (*depth < 63) {
				negstack[*depth + 1] =
					negstack[*depth] || *pending;
				(*depth)++;
			}
			*pending = 0;
			s++;
		} else if (*s == ')') {
			if (*depth > 0)
				(*depth)--;
			s++;
		} else if (*s == '\'') {
			struct cv_buf t = CV_BUF_INIT;

			lx->start = s++;
			while (*s) {
				if (*s == '\\' && s[1]) {
					cv_buf_addch(&t, s[1]);
					s += 2;
				} else if (*s == '\'' && s[1] == '\'') {
					cv_buf_addch(&t, '\'');
					s += 2;
				} else if (*s == '\'') {
					s++;
					break;
				} else {
					cv_buf_addch(&t, *s++);
				}
			}
			lx->end = s;
			lx->text = cv_buf_detach(&t, NULL);
			lx->negated = negstack[*depth] || *pending;
			*pending = 0;
			*p = s;
			return 1;
		} else {
			s++;
		}
	}
	*p = s;
	return 0;
}

int cv_index__tsquery_lexemes(const char *tsq, char ***out, size_t *n)
{
	int negstack[64] = { 0 }, depth = 0, pending = 0;
	struct tsq_lexeme lx;
	const char *p = tsq;
	char **v = NULL;
	size_t cnt = 0, cap = 0, i;

	while (next_lexeme(&p, negstack, &depth, &pending, &lx)) {
		for (i = 0; i < cnt; i++)
			if (strcmp(v[i], lx.text) == 0)
				break;
		if (lx.negated || i < cnt) {
			free(lx.text);
			continue;
		}
		if (cnt == cap) {
			cap = cap ? cap * 2 : 8;
			v = cv_realloc(v, cap * sizeof(*v));
		}
		v[cnt++] = lx.text;
	}
	*out = v;
	*n = cnt;
	return 0;
}

char *cv_index__tsquery_widen(const char *tsq, char *const *lex,
			      char *const *alts, size_t n)
{
	int negstack[64] = { 0 }, depth = 0, pending = 0;
	struct cv_buf out = CV_BUF_INIT;
	struct tsq_lexeme lx;
	const char *p = tsq, *copied = tsq;
	size_t i;

	while (next_lexeme(&p, negstack, &depth, &pending, &lx)) {
		for (i = 0; i < n; i++)
			if (strcmp(lex[i], lx.text) == 0)
				break;
		if (!lx.negated && i < n && alts[i] && *alts[i]) {
			cv_buf_add(&out, copied, (size_t)(lx.start - copied));
			cv_buf_adds(&out, "( ");
			cv_buf_add(&out, lx.start, (size_t)(lx.end - lx.start));
			cv_buf_addf(&out, " | %s )", alts[i]);
			copied = lx.end;
		}
		free(lx.text);
	}
	cv_buf_adds(&out, copied);
	return cv_buf_detach(&out, NULL);
}
