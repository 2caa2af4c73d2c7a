/*
 * Full-text search over the pages' search vectors, grouped by document,
 * with facets and snippets.
 *
 * The query (websearch syntax, synonyms expanded by search_query.c) is
 * normalised once by to_tsquery('english'); the statements below take the
 * normalised tsquery as a parameter.
 *
 * Ranking: with the RUM index of migration 0012 (pages_tsv_rum) the pages
 * come out of the index already ordered by rank (tsv <=> q), so a search
 * reads the best few hundred pages, not every match. RUM still scores
 * every match before the first row, so a query with more matches than
 * RANK_EXACT_MAX is ranked within a fixed sample of the documents (see
 * TIER_FACTOR) and says so. Without RUM (a server that lacks the rum
 * extension) every match is ranked with ts_rank_cd, which is exact but
 * grows with the number of matches. The best page of each document
 * ranks the document.
 *
 * A search inside one chart (--mrn, --patient) starts from the chart's
 * documents instead: a chart has tens or hundreds of pages, which are
 * ranked directly whatever the words.
 *
 * Near spellings (--near): the distinct lexemes of every page are kept in
 * search_vocab with a trigram index; each query lexeme is widened by the
 * vocabulary entries that look like it (pg_trgm similarity), and pages
 * that match only through a near spelling are listed after every exact
 * hit.
 *
 * Snippets are made at query time: the caller's fetch function decrypts
 * a page's text from the archive, and the server's ts_headline marks the
 * matches in it. The text is sent for that one statement and never
 * stored.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "search_int.h"
#include "common/banned.h"

/* A page's text handed to ts_headline, capped. */
#define SNIPPET_TEXT_MAX (4u << 20)
/* Pages read in rank order per round, per document wanted. */
#define CANDIDATES_PER_DOC 4
#define CANDIDATES_MAX     40000
/* Near spellings per query lexeme, and how alike they must be. */
#define NEAR_PER_LEXEME 6
#define NEAR_MIN_LEN    4
/*
 * Samples. Ranking or counting every page of a common word costs
 * hundreds of milliseconds (a word on half the archive: seconds), so a
 * search with many matches ranks and counts the pages of the documents
 * whose id is a multiple of a sample's factor: 1/16 (0016's
 * pages_tsv_dense), 1/128 (0012's pages_tsv_sample) or, for counts only,
 * 1/1024 (pages_tsv_sparse). A whole document is in a sample or not,
 * so documents and pages both scale by the factor. Tier 0 is the whole
 * index. How many pages match is first estimated from the samples'
 * small indexes (estimate()), which chooses the tier.
 */
#define TIERS      4
#define RANK_TIERS 3 /* 1/1024 has GIN only: no rank order */
#define IN_TIER1   " AND p.document_id % 16 = 0"
#define IN_TIER2   " AND p.document_id % 128 = 0"
#define IN_TIER3   " AND p.document_id % 1024 = 0"
static const int64_t TIER_FACTOR[TIERS] = { 1, 16, 128, 1024 };
/*
 * Facets count every matching document exactly up to FACET_EXACT_MAX
 * matching pages (estimated); past that, from the densest sample that
 * holds at most FACET_SAMPLE_MAX of them, and flagged as estimates.
 * When a filter leaves fewer than FACET_MIN sampled pages, a denser
 * sample is counted if it holds at most FACET_DENSE_MAX matches.
 */
#define FACET_EXACT_MAX  3000
#define FACET_SAMPLE_MAX 3000
#define FACET_MIN        60
#define FACET_DENSE_MAX  12000
/*
 * Reading the matches costs what the index's lists of the query's words
 * hold, not what the query matches: "pneumonia & attending" matches a
 * few hundred pages but reads two lists of 50,000. The lists' lengths
 * come from the server's statistics of the search vectors (ANALYZE's
 * most common lexemes, so a rare word counts as 0), and a tier is
 * counted only when its share of them is at most FACET_POSTINGS_MAX.
 */
#define FACET_POSTINGS_MAX 40000
/*
 * Ranking: every match while at most RANK_EXACT_MAX pages match; past
 * that, the densest sample that holds at most that many. A sample that
 * yields too few documents for the page (a filter) gives way to a
 * denser one if that holds at most RANK_SHORT_MAX matches, or whatever
 * it costs when it found no document at all.
 */
#define RANK_EXACT_MAX 8000
#define RANK_SHORT_MAX 16000

#define STR_(x) #x
#define STR(x)  STR_(x)

enum {
	P_Q,
	P_TYPE,
	P_FROM,
	P_TO,
	P_DOCS,
	P_EXC,
	P_LIMIT,
	NPARAM
};

/*
 * The filters, shared by every statement as $2..$6 ($1 the tsquery, $7
 * a limit): a chart (--mrn, --patient) is resolved to its documents' ids
 * first ($5), so no statement has to OR its way through the documents.
 */
#define FILTERS                                                 \
	" AND ($6::bool OR d.state = 'filed')"                  \
	" AND ($2::text IS NULL OR d.doc_type = $2)"            \
	" AND ($3::date IS NULL OR d.service_date >= $3::date)" \
	" AND ($4::date IS NULL OR d.service_date <= $4::date)" \
	" AND ($5::bigint[] IS NULL OR d.id = ANY($5::bigint[]))"

/* The documents of a chart: by their MRN or their linked patient's. */
static const char CHART_BY_MRN[] =
	"SELECT coalesce(array_agg(id ORDER BY id), '{}')::text FROM"
	" (SELECT id FROM documents WHERE mrn = $1"
	"  UNION SELECT d.id FROM documents d JOIN patients pt"
	"  ON pt.id = d.patient_id WHERE pt.mrn = $1) x";
static const char CHART_BY_PATIENTS[] =
	"SELECT coalesce(array_agg(id ORDER BY id), '{}')::text FROM"
	" (SELECT id FROM documents WHERE patient_id = ANY($1::bigint[])"
	"  UNION SELECT d.id FROM documents d JOIN patients pt"
	"  ON pt.mrn = d.mrn WHERE pt.id = ANY($1::bigint[])) x";

static const char NORMALISE[] =
	"SELECT q::text, numnode(q), to_regclass('pages_tsv_rum') IS NOT NULL"
	" FROM to_tsquery('english', $1) q";

/* Patients with every word of a name (in any order, any case). */
static const char PATIENTS_NAMED[] =
	"SELECT coalesce(array_agg(pt.id), '{}')::text FROM patients pt"
	" WHERE NOT EXISTS (SELECT 1 FROM regexp_split_to_table(lower($1),"
	"   '[^[:alnum:]'']+') w WHERE w <> '' AND w <> ALL("
	"   regexp_split_to_array(lower(coalesce(pt.family_name, '') || ' ' ||"
	"   coalesce(pt.given_name, '')), '[^[:alnum:]'']+')))";

/* Vocabulary entries like a lexeme, most alike first. */
static const char NEAR_WORDS[] =
	"SELECT l, coalesce(string_agg(quote_literal(v.lexeme), ' | '"
	"                   ORDER BY v.sim DESC, v.lexeme), '')"
	" FROM unnest($1::text[]) l LEFT JOIN LATERAL"
	"  (SELECT lexeme, similarity(lexeme, l) AS sim FROM search_vocab"
	"   WHERE length(l) >= " STR(
		NEAR_MIN_LEN) " AND lexeme % l"
			      "   AND lexeme <> l"
			      "   AND abs(length(lexeme) - length(l)) <= 2"
			      "   ORDER BY similarity(lexeme, l) DESC, lexeme"
			      "   LIMIT " STR(NEAR_PER_LEXEME) ") v ON true"
							       " GROUP BY l";

/* The best pages in rank order, from the RUM index. */
/*
 * The best pages in rank order, from the RUM index, that pass the
 * documents' filters: the index hands out pages best first (up to
 * CANDIDATES_MAX of them) and the join stops at the limit. With a
 * sample's condition, only the pages of its documents (its partial
 * index, which the condition names to the planner). The distance is
 * the ORDER BY's own column, computed once a page: each computation
 * reads the page's search vector from TOAST, which is most of what a
 * candidate costs, so the filters are checked on the scan (by key, per
 * page) before it: a filtered search computes it for the pages that
 * pass only (76 ms instead of 166 for "toler" in two years' documents
 * of the 1/16 sample). Pages of equal rank come in the index's order: a
 * tie-break (ORDER BY dist, id) would make the statement read every
 * page of the tie, and a common word's single mentions tie by the
 * thousand (185 ms instead of 5 for a word at 1M pages).
 */
#define RANKED_RUM_FROM(sample)                                                     \
	"SELECT c.document_id, c.id, c.seq, c.text_object,"                         \
	" 1.0 / nullif(c.dist, 0), true, d.doc_type,"                               \
	" coalesce(extract(year FROM d.service_date)::text, '')"                    \
	" FROM (SELECT p.document_id, p.id, p.seq, p.text_object,"                  \
	"       p.tsv <=> $1::tsquery AS dist"                                      \
	"       FROM pages p WHERE p.tsv @@ $1::tsquery"                            \
	"       AND p.document_id IS NOT NULL" sample                               \
	"       AND (SELECT true FROM documents d"                                  \
	"            WHERE d.id = p.document_id" FILTERS ")"                        \
	"       ORDER BY p.tsv <=> $1::tsquery"                                     \
	"       LIMIT " STR(                                                        \
		CANDIDATES_MAX) ") c"                                               \
				" JOIN documents d ON d.id = c.document_id" FILTERS \
				" ORDER BY c.dist LIMIT $7"

/* by tier: the whole index, then the 1/16 and 1/128 samples */
static const char *const RANKED_RUM[RANK_TIERS] = {
	RANKED_RUM_FROM(""),
	RANKED_RUM_FROM(IN_TIER1),
	RANKED_RUM_FROM(IN_TIER2),
};

/* How many pages of a sample's documents match: scaled by the sample's
 * factor, an estimate of all matches, read from its small index. */
#define COUNT_IN(sample) \
	"SELECT count(*) FROM pages p WHERE p.tsv @@ $1::tsquery" sample
static const char *const SAMPLE_COUNT[TIERS] = {
	NULL,
	COUNT_IN(IN_TIER1),
	COUNT_IN(IN_TIER2),
	COUNT_IN(IN_TIER3),
};

/*
 * Without RUM, or inside one chart: every match ranked, and each
 * document's best page kept.
 */
#define BEST_PER_DOCUMENT(matches)                            \
	"WITH m AS (" matches "),"                            \
	" b AS (SELECT DISTINCT ON (document_id) * FROM m"    \
	"       ORDER BY document_id, r DESC, seq)"           \
	" SELECT document_id, id, seq, text_object, r FROM b" \
	" ORDER BY r DESC, document_id LIMIT $7"

static const char RANKED_GIN[] = BEST_PER_DOCUMENT(
	"SELECT p.document_id, p.id, p.seq, p.text_object,"
	" ts_rank_cd(p.tsv, $1::tsquery) AS r"
	" FROM pages p JOIN documents d ON d.id = p.document_id"
	" WHERE p.tsv @@ $1::tsquery" FILTERS);

/*
 * One chart: its documents first, then their pages, every matching
 * document's best page with its count of matching pages, type and year:
 * a chart's facets come from these rows.
 */
static const char RANKED_CHART[] =
	"WITH m AS (SELECT p.document_id, p.id, p.seq, p.text_object,"
	"  ts_rank_cd(p.tsv, $1::tsquery) AS r, c.doc_type, c.yr"
	"  FROM (SELECT d.id, d.doc_type,"
	"        coalesce(extract(year FROM d.service_date)::text, '') AS yr"
	"        FROM unnest($5::bigint[]) c(id)"
	"        JOIN documents d ON d.id = c.id WHERE true" FILTERS
	"        OFFSET 0) c"
	"  CROSS JOIN LATERAL (SELECT * FROM pages p"
	"   WHERE p.document_id = c.id AND p.tsv @@ $1::tsquery OFFSET 0) p),"
	" b AS (SELECT DISTINCT ON (document_id) *,"
	"       count(*) OVER (PARTITION BY document_id) AS n FROM m"
	"       ORDER BY document_id, r DESC, seq)"
	" SELECT document_id, id, seq, text_object, r, 't', n, doc_type, yr"
	" FROM b ORDER BY r DESC, document_id LIMIT $7";

/*
 * Facets: documents by type and by year, and pages, over every match
 * (tier 0) or over a sample's (see TIER_FACTOR). The matching pages are
 * grouped by document first and each document is then looked up by its
 * key (OFFSET 0 keeps the planner from joining otherwise): a few
 * thousand documents at most (FACET_*_MAX), where a hash join would
 * read the whole documents table.
 */
#define FACETS_IN(sample)                                                      \
	"SELECT d.doc_type, d.yr, count(*), sum(m.n)"                          \
	" FROM (SELECT p.document_id, count(*) AS n FROM pages p"              \
	"       WHERE p.tsv @@ $1::tsquery" sample                             \
	"       GROUP BY p.document_id OFFSET 0) m"                            \
	" CROSS JOIN LATERAL (SELECT d.doc_type,"                              \
	"  coalesce(extract(year FROM d.service_date)::text, '') AS yr"        \
	"  FROM documents d WHERE d.id = m.document_id" FILTERS " OFFSET 0) d" \
	" GROUP BY 1, 2"
static const char *const FACETS[TIERS] = {
	FACETS_IN(""),
	FACETS_IN(IN_TIER1),
	FACETS_IN(IN_TIER2),
	FACETS_IN(IN_TIER3),
};

/* The shown documents: how many of their pages match, and their rows. */
static const char SHOWN[] =
	"SELECT d.id, d.batch_id, d.doc_type, coalesce(d.type_source, ''),"
	" coalesce(d.mrn, ''), coalesce(d.patient_name, ''),"
	" coalesce(d.dob::text, ''), coalesce(d.service_date::text, ''),"
	" coalesce(d.identity_source, ''), d.state,"
	" (SELECT count(*) FROM pages p WHERE p.document_id = d.id"
	"  AND p.tsv @@ $2::tsquery)"
	" FROM documents d WHERE d.id = ANY($1::bigint[])";

/*
 * Every snippet in one statement: the texts travel as one text[]. \x01
 * and \x02 cannot occur in them: control characters are replaced by
 * spaces before they are sent.
 */
static const char HEADLINES[] =
	"SELECT ts_headline('english', t, $2::tsquery,"
	" 'StartSel=\x01, StopSel=\x02, MaxWords=30, MinWords=12,"
	" MaxFragments=2, FragmentDelimiter=\" ... \"')"
	" FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n";

static void flatten_controls(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

static int exec(struct cv_index *ix, const char *sql, int n,
		const char *const *p, PGresult **res, const char *what,
		struct cv_error *err)
{
	*res = PQexecParams(ix->conn, sql, n, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(*res) != PGRES_TUPLES_OK)
		return cv_index__error_pg(err, *res, ix->conn, "%s", what);
	return 0;
}

/* Append s as an element of a text[] literal. */
static void array_element(struct cv_buf *arr, const char *s)
{
	cv_buf_adds(arr, arr->len > 1 ? ",\"" : "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			cv_buf_addch(arr, '\\');
		cv_buf_addch(arr, *s);
	}
	cv_buf_addch(arr, '"');
}

void cv_index_search_result_release(struct cv_index_search_result *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; r->hits && i < r->n; i++)
		free(r->hits[i].snippet);
	free(r->hits);
	free(r->types);
	free(r->years);
	free(r->near_terms);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------------ */
/* Filters */

static int valid_date(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30,
				     31, 31, 30, 31, 30, 31 };
	int y, m, d, i;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return 0;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1800 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	if (m == 2 && d == 29 &&
	    !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 0;
	return 1;
}

/* A document type code: a LOINC code with a right check digit, or a
 * site code of letters, digits, '-' and '_'. */
int cv_index__valid_type_code(const char *s)
{
	size_t n = strlen(s), i, digits = 0;
	int dash = -1;

	if (n == 0 || n > 31)
		return 0;
	for (i = 0; i < n; i++) {
		if (isdigit((unsigned char)s[i]))
			digits++;
		else if (s[i] == '-' && dash < 0)
			dash = (int)i;
		else if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
			 s[i] != '_')
			return 0;
	}
	if (digits == n - 1 && dash > 0 && (size_t)dash == n - 2) {
		/* LOINC: the digit after the dash is the mod 10 check
		 * digit of the part before it */
		int sum = 0, dbl = 1, k;

		for (k = dash - 1; k >= 0; k--, dbl = !dbl) {
			int v = (s[k] - '0') * (dbl ? 2 : 1);

			sum += v / 10 + v % 10;
		}
		return (10 - sum % 10) % 10 == s[n - 1] - '0';
	}
	return 1;
}

static int check_filters(const struct cv_index_search_opts *o,
			 struct cv_error *err)
{
	size_t i;

	if (o->from && !valid_date(o->from))
		return cv_error_set(err, CV_EINVAL,
				    "--from '%.20s' is not a date (YYYY-MM-DD)",
				    o->from);
	if (o->to && !valid_date(o->to))
		return cv_error_set(err, CV_EINVAL,
				    "--to '%.20s' is not a date (YYYY-MM-DD)",
				    o->to);
	if (o->from && o->to && strcmp(o->from, o->to) > 0)
		return cv_error_set(err, CV_EINVAL,
				    "--from %s is after --to %s", o->from,
				    o->to);
	if (o->doc_type && !cv_index__valid_type_code(o->doc_type)) {
		cv_error_set(err, CV_EINVAL,
			     "--type '%.32s' is not a document type code",
			     o->doc_type);
		cv_error_hint(err, "a LOINC document code such as 18842-5, "
				   "or a code of the site's taxonomy");
		return CV_EINVAL;
	}
	/* MRNs and names are patient data: never quoted back. */
	if (o->mrn) {
		if (!*o->mrn || strlen(o->mrn) > 63)
			return cv_error_set(err, CV_EINVAL,
					    "--mrn is empty or too long");
		for (i = 0; o->mrn[i]; i++)
			if ((unsigned char)o->mrn[i] < 0x20)
				return cv_error_set(
					err, CV_EINVAL,
					"--mrn has a control character");
	}
	if (o->patient && (!*o->patient || strlen(o->patient) > 200))
		return cv_error_set(err, CV_EINVAL,
				    "--patient is empty or too long");
	if (o->limit < 0 || o->limit > 1000)
		return cv_error_set(err, CV_EINVAL,
				    "the search limit must be 1..1000");
	return 0;
}

/* ------------------------------------------------------------------ */

struct page_row {
	int64_t doc, page;
	int seq;
	uint8_t oid[CV_INDEX_OID_LEN];
	int has_text;
	double rank;
	int near;
};

struct search {
	struct cv_index *ix;
	const struct cv_index_search_opts *o;
	const char *p[NPARAM];
	char *tsq;      /* the normalised exact query */
	char *tsq_near; /* widened by near spellings, or NULL */
	char *patients; /* ids of --patient, "{..}" */
	char *docs;     /* ids of the chart's documents, "{..}", or NULL */
	int rum;
	int chart;
	struct cv_index_search_result *out;
	int sampled;         /* the factor of the sample ranked, or 0 */
	const char *est_for; /* the tsquery est was counted for */
	int64_t est;
	const char *post_for; /* the tsquery post was looked up for */
	int64_t post;
	struct page_row *best; /* each shown document's best page */
	/* Every matching page that passes the filters, when a ranking
	 * over the whole index read them all (columns 6, 7: type, year):
	 * the facets of all_for are counted from it. */
	PGresult *all;
	const char *all_for;
	size_t nbest;
};

/* Add the documents of rows not seen yet, in order, up to limit. */
static int take_best(struct search *s, PGresult *res, int near, size_t limit,
		     struct cv_error *err)
{
	int i, rows = PQntuples(res);

	for (i = 0; i < rows && s->nbest < limit; i++) {
		struct page_row r;
		int64_t seq;
		size_t k;

		memset(&r, 0, sizeof(r));
		if (PQnfields(res) > 5 && PQgetvalue(res, i, 5)[0] != 't')
			continue; /* read, but the filters leave it out */
		if (cv_index__get_i64(&r.doc, res, i, 0) < 0 ||
		    cv_index__get_i64(&r.page, res, i, 1) < 0 ||
		    cv_index__get_i64(&seq, res, i, 2) < 0)
			return cv_error_set(err, CV_ERROR,
					    "a search result row is malformed");
		for (k = 0; k < s->nbest; k++)
			if (s->best[k].doc == r.doc)
				break;
		if (k < s->nbest)
			continue;
		r.seq = (int)seq;
		r.has_text = cv_index__get_bytea(r.oid, sizeof(r.oid), res, i,
						 3) == 0;
		r.rank = strtod(PQgetvalue(res, i, 4), NULL);
		r.near = near;
		s->best[s->nbest++] = r;
	}
	return 0;
}

/*
 * The best page of up to limit documents for tsq, in rank order, leaving
 * out documents already found. Reads pages in rank order, more each round
 * until enough documents are found or the matches run out.
 */
static int add_facet(struct cv_index_facet **v, size_t *n, const char *key,
		     int64_t docs);
static int cmp_type_facet(const void *a, const void *b);
static int cmp_year_facet(const void *a, const void *b);

/*
 * A chart's facets and totals from its ranked rows (every matching
 * document, columns 6-8: pages, type, year). Each call counts afresh:
 * the near pass's query holds the exact one's matches too.
 */
static void chart_facets(struct search *s, PGresult *res)
{
	struct cv_index_search_result *out = s->out;
	int i;

	free(out->types);
	free(out->years);
	out->types = out->years = NULL;
	out->ntypes = out->nyears = 0;
	out->total_documents = out->total_pages = 0;
	for (i = 0; i < PQntuples(res); i++) {
		add_facet(&out->types, &out->ntypes, PQgetvalue(res, i, 7), 1);
		add_facet(&out->years, &out->nyears, PQgetvalue(res, i, 8), 1);
		out->total_documents++;
		out->total_pages += strtoll(PQgetvalue(res, i, 6), NULL, 10);
	}
	if (out->types)
		qsort(out->types, out->ntypes, sizeof(out->types[0]),
		      cmp_type_facet);
	if (out->years)
		qsort(out->years, out->nyears, sizeof(out->years[0]),
		      cmp_year_facet);
}

/*
 * About how many pages match tsq (without the filters), from the
 * samples' small indexes, sparsest first: a common word is counted among
 * a few hundred pages of the 1/1024 sample, a rare one among the 1/16
 * sample's (a few milliseconds either way). Remembered for the query at
 * hand.
 */
#define ESTIMATE_MIN 32 /* sampled pages enough to stop at a sample */
static int estimate(struct search *s, const char *tsq, int64_t *est,
		    struct cv_error *err)
{
	const char *p[1] = { tsq };
	PGresult *res = NULL;
	int t, ret = 0;

	if (s->est_for == tsq) {
		*est = s->est;
		return 0;
	}
	for (t = TIERS - 1; t >= 1; t--) {
		int64_t n;

		ret = exec(s->ix, SAMPLE_COUNT[t], 1, p, &res,
			   "could not count the matches", err);
		if (ret < 0)
			break;
		n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		res = NULL;
		if (n >= ESTIMATE_MIN || t == 1) {
			s->est = n * TIER_FACTOR[t];
			s->est_for = tsq;
			*est = s->est;
			break;
		}
	}
	PQclear(res);
	return ret;
}

/* About how many pages the index lists for tsq's words, in all. */
static const char POSTINGS[] =
	"SELECT coalesce(sum(s.f), 0) * (SELECT greatest(reltuples, 0)"
	"  FROM pg_class WHERE oid = 'pages'::regclass)"
	" FROM (SELECT unnest(most_common_elems::text::text[]) AS e,"
	"       unnest(most_common_elem_freqs) AS f FROM pg_stats"
	"       WHERE schemaname = current_schema() AND tablename = 'pages'"
	"       AND attname = 'tsv') s WHERE s.e = ANY($1::text[])";

static int postings(struct search *s, const char *tsq, int64_t *post,
		    struct cv_error *err)
{
	struct cv_buf arr = CV_BUF_INIT;
	char **lex = NULL;
	size_t n = 0, i;
	const char *p[1];
	PGresult *res = NULL;
	int ret;

	if (s->post_for == tsq) {
		*post = s->post;
		return 0;
	}
	cv_index__tsquery_lexemes(tsq, &lex, &n);
	cv_buf_addch(&arr, '{');
	for (i = 0; i < n; i++)
		array_element(&arr, lex[i]);
	cv_buf_addch(&arr, '}');
	p[0] = arr.buf;
	ret = exec(s->ix, POSTINGS, 1, p, &res,
		   "could not read the search statistics", err);
	if (ret == 0) {
		s->post = (int64_t)strtod(PQgetvalue(res, 0, 0), NULL);
		s->post_for = tsq;
		*post = s->post;
	}
	for (i = 0; i < n; i++)
		free(lex[i]);
	free(lex);
	cv_buf_release(&arr);
	PQclear(res);
	return ret;
}

/* The densest sample of the first tiers whose share of est matches is
 * at most max (0, every match, when est is); the sparsest if none. */
static int tier_for(int64_t est, int64_t max, int tiers)
{
	int t;

	for (t = 0; t < tiers - 1; t++)
		if (est / TIER_FACTOR[t] <= max)
			break;
	return t;
}

static int rank_pages(struct search *s, const char *tsq, int near, size_t limit,
		      struct cv_error *err)
{
	size_t before = s->nbest, cand;
	char lim[24];
	PGresult *res = NULL;
	int64_t est;
	int ret = 0, tier;

	s->p[P_Q] = tsq;
	s->p[P_LIMIT] = lim;
	if (s->chart) {
		/* every matching document of the chart, best first */
		snprintf(lim, sizeof(lim), "%d", CANDIDATES_MAX);
		ret = exec(s->ix, RANKED_CHART, NPARAM, s->p, &res,
			   "search failed", err);
		if (ret == 0)
			ret = take_best(s, res, near, limit, err);
		if (ret == 0)
			chart_facets(s, res);
		PQclear(res);
		return ret;
	}
	if (!s->rum) {
		/* one row per document already; skip the ones known */
		snprintf(lim, sizeof(lim), "%zu", limit + before);
		ret = exec(s->ix, RANKED_GIN, NPARAM, s->p, &res,
			   "search failed", err);
		if (ret == 0)
			ret = take_best(s, res, near, limit, err);
		PQclear(res);
		return ret;
	}
	/*
	 * RUM reads every match to rank them: fine for thousands, seconds
	 * for half the archive. Past RANK_EXACT_MAX matches, rank the
	 * densest sample that holds no more than that (and say so).
	 */
	ret = estimate(s, tsq, &est, err);
	if (ret < 0)
		goto cleanup;
	tier = tier_for(est, RANK_EXACT_MAX, RANK_TIERS);
	/* Pages in rank order that pass the filters: a document has a few
	 * matching pages, so several per document wanted, and more if they
	 * run short (the join reads on until it has that many). */
	cand = limit * CANDIDATES_PER_DOC;
	for (;;) {
		int rows;

		snprintf(lim, sizeof(lim), "%zu", cand);
		PQclear(res);
		ret = exec(s->ix, RANKED_RUM[tier], NPARAM, s->p, &res,
			   "search failed", err);
		if (ret < 0)
			break;
		rows = PQntuples(res);
		if (tier == 0 && (size_t)rows < cand) {
			/* every match that passes the filters: keep them
			 * for the facets */
			PQclear(s->all);
			s->all = res;
			s->all_for = tsq;
			res = NULL;
		}
		/* each round reads the earlier rounds' pages again */
		s->nbest = before;
		ret = take_best(s, res ? res : s->all, near, limit, err);
		if (ret < 0 || s->nbest >= limit)
			break;
		if ((size_t)rows == cand && cand < CANDIDATES_MAX) {
			/* every round ranks all matches again: few rounds */
			cand = cand * 8 > CANDIDATES_MAX ? CANDIDATES_MAX
							 : cand * 8;
			continue;
		}
		/*
		 * The tier ran out of matches before the page was full (a
		 * filter). A denser sample, if it costs no more than
		 * RANK_SHORT_MAX; every match, whatever it costs, when the
		 * sample found no document at all.
		 */
		if (tier == 0)
			break;
		if (s->nbest > before &&
		    est / TIER_FACTOR[tier - 1] > RANK_SHORT_MAX)
			break;
		tier--;
		cand = limit * CANDIDATES_PER_DOC;
	}
	if (ret == 0 && tier > 0 && !s->sampled)
		s->sampled = (int)TIER_FACTOR[tier];
cleanup:
	PQclear(res);
	return ret;
}

static int add_facet(struct cv_index_facet **v, size_t *n, const char *key,
		     int64_t docs)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i].key, key) == 0) {
			(*v)[i].documents += docs;
			return 0;
		}
	*v = cv_realloc(*v, (*n + 1) * sizeof(**v));
	snprintf((*v)[*n].key, sizeof((*v)[*n].key), "%s", key);
	(*v)[*n].documents = docs;
	(*n)++;
	return 0;
}

static int cmp_type_facet(const void *a, const void *b)
{
	const struct cv_index_facet *x = a, *y = b;

	if (x->documents != y->documents)
		return x->documents > y->documents ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int cmp_year_facet(const void *a, const void *b)
{
	const struct cv_index_facet *x = a, *y = b;

	/* newest first; no date last */
	if (!x->key[0] || !y->key[0])
		return !x->key[0] - !y->key[0];
	return strcmp(y->key, x->key);
}

/*
 * Exact facets and totals from s->all: every matching page that passes
 * the filters (a few dozen: the ranking read them all), so no statement
 * reads the matches again, which for two common words costs both their
 * posting lists.
 */
static void all_facets(struct search *s, struct cv_index_search_result *out)
{
	int i, k, rows = PQntuples(s->all);

	for (i = 0; i < rows; i++) {
		const char *doc = PQgetvalue(s->all, i, 0);

		out->total_pages++;
		for (k = 0; k < i; k++)
			if (strcmp(PQgetvalue(s->all, k, 0), doc) == 0)
				break;
		if (k < i)
			continue; /* a document counts once */
		add_facet(&out->types, &out->ntypes, PQgetvalue(s->all, i, 6),
			  1);
		add_facet(&out->years, &out->nyears, PQgetvalue(s->all, i, 7),
			  1);
		out->total_documents++;
	}
	if (out->ntypes)
		qsort(out->types, out->ntypes, sizeof(out->types[0]),
		      cmp_type_facet);
	if (out->nyears)
		qsort(out->years, out->nyears, sizeof(out->years[0]),
		      cmp_year_facet);
}

/*
 * Facets and totals over every match of tsq (the widened query under
 * --near). A document is counted under its type once and under its
 * year once; a year facet is the documents whose service date falls in
 * it. Exact up to FACET_EXACT_MAX matching pages; past that, counted
 * over the densest sample that holds no more than FACET_SAMPLE_MAX of
 * them, scaled by its factor and flagged: a filter that leaves fewer
 * than FACET_MIN of the sample's pages moves the count to a denser
 * sample while that one holds no more than FACET_DENSE_MAX matches.
 */
static int facets(struct search *s, const char *tsq,
		  struct cv_index_search_result *out, struct cv_error *err)
{
	PGresult *res = NULL;
	int64_t est, post = 0, sampled;
	int i, ret, tier;

	if (s->chart)
		return 0; /* counted with the ranking: chart_facets */
	if (s->all_for == tsq) {
		all_facets(s, out);
		return 0;
	}
	s->p[P_Q] = tsq;
	ret = estimate(s, tsq, &est, err);
	if (ret == 0)
		ret = postings(s, tsq, &post, err);
	if (ret < 0)
		goto cleanup;
	tier = est <= FACET_EXACT_MAX ? 0
				      : tier_for(est, FACET_SAMPLE_MAX, TIERS);
	while (tier < TIERS - 1 &&
	       post / TIER_FACTOR[tier] > FACET_POSTINGS_MAX)
		tier++;
	for (;;) {
		/* all parameters but the limit */
		ret = exec(s->ix, FACETS[tier], NPARAM - 1, s->p, &res,
			   "could not count facets", err);
		if (ret < 0)
			goto cleanup;
		for (sampled = 0, i = 0; i < PQntuples(res); i++)
			sampled += strtoll(PQgetvalue(res, i, 3), NULL, 10);
		if (tier == 0 || sampled >= FACET_MIN ||
		    est / TIER_FACTOR[tier - 1] > FACET_DENSE_MAX ||
		    post / TIER_FACTOR[tier - 1] > FACET_POSTINGS_MAX)
			break;
		PQclear(res);
		res = NULL;
		tier--;
	}
	out->facets_estimated = tier > 0;
	out->facets_sample = tier > 0 ? (int)TIER_FACTOR[tier] : 0;
	for (i = 0; i < PQntuples(res); i++) {
		int64_t docs = strtoll(PQgetvalue(res, i, 2), NULL, 10) *
			       TIER_FACTOR[tier],
			pages = strtoll(PQgetvalue(res, i, 3), NULL, 10) *
				TIER_FACTOR[tier];

		add_facet(&out->types, &out->ntypes, PQgetvalue(res, i, 0),
			  docs);
		add_facet(&out->years, &out->nyears, PQgetvalue(res, i, 1),
			  docs);
		out->total_documents += docs;
		out->total_pages += pages;
	}
	/* no match: no arrays (qsort must not see NULL) */
	if (out->ntypes)
		qsort(out->types, out->ntypes, sizeof(out->types[0]),
		      cmp_type_facet);
	if (out->nyears)
		qsort(out->years, out->nyears, sizeof(out->years[0]),
		      cmp_year_facet);
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

/* The near spellings of the query's lexemes: s->tsq_near. */
static int widen(struct search *s, struct cv_index_search_result *out,
		 struct cv_error *err)
{
	char **lex = NULL, **alts = NULL;
	size_t n = 0, i;
	struct cv_buf arr = CV_BUF_INIT, terms = CV_BUF_INIT;
	const char *p[1];
	PGresult *res = NULL;
	int ret, changed = 0;

	cv_index__tsquery_lexemes(s->tsq, &lex, &n);
	if (!n)
		return 0;
	/* a text[] literal: every element double-quoted */
	cv_buf_addch(&arr, '{');
	for (i = 0; i < n; i++) {
		const char *c;

		cv_buf_adds(&arr, i ? ",\"" : "\"");
		for (c = lex[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				cv_buf_addch(&arr, '\\');
			cv_buf_addch(&arr, *c);
		}
		cv_buf_addch(&arr, '"');
	}
	cv_buf_addch(&arr, '}');
	p[0] = arr.buf;
	ret = exec(s->ix, NEAR_WORDS, 1, p, &res,
		   "could not look up near spellings", err);
	if (ret < 0)
		goto cleanup;
	alts = cv_calloc(n, sizeof(*alts));
	for (i = 0; i < (size_t)PQntuples(res); i++) {
		const char *l = PQgetvalue(res, (int)i, 0),
			   *a = PQgetvalue(res, (int)i, 1);
		size_t k;

		for (k = 0; k < n; k++)
			if (strcmp(lex[k], l) == 0 && *a) {
				free(alts[k]);
				alts[k] = cv_strdup(a);
				changed = 1;
				cv_buf_addf(&terms, "%s%s",
					    terms.len ? " " : "", a);
			}
	}
	if (changed) {
		s->tsq_near = cv_index__tsquery_widen(s->tsq, lex, alts, n);
		out->near_terms = cv_buf_detach(&terms, NULL);
	}
	ret = 0;
cleanup:
	for (i = 0; i < n; i++) {
		free(lex[i]);
		if (alts)
			free(alts[i]);
	}
	free(lex);
	free(alts);
	cv_buf_release(&arr);
	cv_buf_release(&terms);
	PQclear(res);
	return ret;
}

/* The shown documents' rows, the count of their matching pages, and a
 * snippet of each one's best page. */
static int fill_hits(struct search *s, cv_index_fetch_fn fetch, void *fetch_ctx,
		     struct cv_index_search_result *out, struct cv_error *err)
{
	struct cv_buf ids = CV_BUF_INIT, text = CV_BUF_INIT, arr = CV_BUF_INIT;
	struct cv_index_access_info *access = NULL; /* by s->best index */
	const char *tsq = s->tsq_near ? s->tsq_near : s->tsq;
	const char *p[2];
	PGresult *res = NULL;
	size_t i;
	int ret, r;

	out->hits = cv_calloc(s->nbest + 1, sizeof(*out->hits));
	cv_buf_addch(&ids, '{');
	for (i = 0; i < s->nbest; i++)
		cv_buf_addf(&ids, "%s%" PRId64, i ? "," : "", s->best[i].doc);
	cv_buf_addch(&ids, '}');
	p[0] = ids.buf;
	p[1] = tsq;
	ret = exec(s->ix, SHOWN, 2, p, &res, "could not read the documents",
		   err);
	if (ret < 0)
		goto cleanup;
	if (s->o->access_user && s->nbest) {
		int64_t *dids = cv_calloc(s->nbest, sizeof(*dids));

		access = cv_calloc(s->nbest, sizeof(*access));
		for (i = 0; i < s->nbest; i++)
			dids[i] = s->best[i].doc;
		ret = cv_index_documents_access(s->ix, s->o->access_user, dids,
						s->nbest, access, err);
		free(dids);
		if (ret < 0)
			goto cleanup;
	}
	cv_buf_addch(&arr, '{');
	for (i = 0; i < s->nbest; i++) {
		struct cv_index_hit *h = &out->hits[out->n];
		int64_t cnt;

		for (r = 0; r < PQntuples(res); r++)
			if (strtoll(PQgetvalue(res, r, 0), NULL, 10) ==
			    s->best[i].doc)
				break;
		if (r == PQntuples(res))
			continue; /* gone meanwhile */
		if (cv_index__read_document(res, r, 0, &h->doc) < 0 ||
		    cv_index__get_i64(&cnt, res, r, 10) < 0) {
			ret = cv_error_set(err, CV_ERROR,
					   "a search result row is malformed");
			goto cleanup;
		}
		snprintf(h->state, sizeof(h->state), "%s",
			 PQgetvalue(res, r, 9));
		h->rank = s->best[i].rank;
		h->near = s->best[i].near;
		h->page_no = s->best[i].seq;
		h->page_id = s->best[i].page;
		h->matching_pages = (int)cnt;
		h->access = access ? (int)access[i].decision : -1;
		h->patient_id = access ? access[i].patient_id : 0;
		out->n++;
		cv_buf_reset(&text);
		cv_buf_limit(&text, SNIPPET_TEXT_MAX);
		if (s->best[i].has_text &&
		    (!access || cv_index_access_allowed(h->access))) {
			ret = fetch(fetch_ctx, s->best[i].oid, &text, err);
			if (ret < 0)
				goto cleanup;
			flatten_controls(text.buf);
		}
		array_element(&arr, text.buf);
	}
	cv_buf_addch(&arr, '}');
	PQclear(res);
	res = NULL;
	if (!out->n)
		goto cleanup;
	p[0] = arr.buf;
	ret = exec(s->ix, HEADLINES, 2, p, &res,
		   "could not make the search snippets", err);
	if (ret < 0)
		goto cleanup;
	if ((size_t)PQntuples(res) != out->n) {
		ret = cv_error_set(err, CV_ERROR,
				   "could not make the search snippets");
		goto cleanup;
	}
	for (i = 0; i < out->n; i++)
		out->hits[i].snippet = cv_strdup(PQgetvalue(res, (int)i, 0));
	ret = 0;
cleanup:
	free(access);
	cv_buf_release(&ids);
	cv_buf_release(&text);
	cv_buf_release(&arr);
	PQclear(res);
	return ret;
}

/* One id array from a statement's single text[] value. */
static int ids_of(struct cv_index *ix, const char *sql, const char *param,
		  char **out, struct cv_error *err)
{
	const char *p[1] = { param };
	PGresult *res;
	int ret;

	*out = NULL;
	ret = exec(ix, sql, 1, p, &res, "could not find the chart", err);
	if (ret == 0)
		*out = cv_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return ret;
}

/* The ids both "{1,2,3}" lists hold, as such a list. */
static char *intersect_ids(const char *a, const char *b)
{
	struct cv_buf out = CV_BUF_INIT;
	const char *p = a + 1;

	cv_buf_addch(&out, '{');
	while (*p >= '0' && *p <= '9') {
		char *end;
		long long v = strtoll(p, &end, 10);
		const char *q = b + 1;

		while (*q >= '0' && *q <= '9') {
			char *qe;

			if (strtoll(q, &qe, 10) == v) {
				cv_buf_addf(&out, "%s%lld",
					    out.len > 1 ? "," : "", v);
				break;
			}
			q = *qe == ',' ? qe + 1 : qe;
		}
		p = *end == ',' ? end + 1 : end;
	}
	cv_buf_addch(&out, '}');
	return cv_buf_detach(&out, NULL);
}

/* s->docs: the documents of the chart that --mrn and --patient name. */
static int chart_documents(struct search *s, struct cv_error *err)
{
	char *by_mrn = NULL, *by_name = NULL;
	int ret = 0;

	if (s->o->mrn)
		ret = ids_of(s->ix, CHART_BY_MRN, s->o->mrn, &by_mrn, err);
	if (ret == 0 && s->patients)
		ret = ids_of(s->ix, CHART_BY_PATIENTS, s->patients, &by_name,
			     err);
	if (ret == 0) {
		if (by_mrn && by_name)
			s->docs = intersect_ids(by_mrn, by_name);
		else
			s->docs = cv_strdup(by_mrn ? by_mrn : by_name);
	}
	free(by_mrn);
	free(by_name);
	return ret;
}

int cv_index_search(struct cv_index *ix, const struct cv_index_search_opts *o,
		    cv_index_fetch_fn fetch, void *fetch_ctx,
		    struct cv_index_search_result *out, struct cv_error *err)
{
	struct search s;
	char *qtext = NULL;
	size_t limit = o->limit > 0 ? (size_t)o->limit : 20;
	PGresult *res = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	s.ix = ix;
	s.o = o;
	s.out = out;
	ret = check_filters(o, err);
	if (ret < 0)
		return ret;
	ret = cv_index_search_query(&qtext, o->query, o->synonyms, err);
	if (ret < 0)
		return ret;
	{
		const char *p[1] = { qtext };

		ret = exec(ix, NORMALISE, 1, p, &res,
			   "could not read the search query", err);
		if (ret < 0)
			goto cleanup;
		if (strtol(PQgetvalue(res, 0, 1), NULL, 10) == 0) {
			ret = cv_error_set(err, CV_EINVAL,
					   "the search query has only common "
					   "words that are not indexed");
			cv_error_hint(err, "words like 'the' or 'with' are "
					   "left out of the index; add a "
					   "more specific word");
			goto cleanup;
		}
		s.tsq = cv_strdup(PQgetvalue(res, 0, 0));
		s.rum = PQgetvalue(res, 0, 2)[0] == 't';
		PQclear(res);
		res = NULL;
	}
	if (o->patient) {
		const char *p[1] = { o->patient };

		ret = exec(ix, PATIENTS_NAMED, 1, p, &res,
			   "could not look up the patient", err);
		if (ret < 0)
			goto cleanup;
		s.patients = cv_strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
		res = NULL;
	}
	s.chart = o->mrn || o->patient;
	if (s.chart) {
		ret = chart_documents(&s, err);
		if (ret < 0)
			goto cleanup;
	}
	s.p[P_TYPE] = o->doc_type;
	s.p[P_FROM] = o->from;
	s.p[P_TO] = o->to;
	s.p[P_DOCS] = s.docs;
	s.p[P_EXC] = o->include_exceptions ? "true" : "false";
	s.best = cv_calloc(limit, sizeof(*s.best));
	ret = rank_pages(&s, s.tsq, 0, limit, err);
	if (ret < 0)
		goto cleanup;
	if (o->near) {
		ret = widen(&s, out, err);
		if (ret < 0)
			goto cleanup;
		/* near-only documents after every exact one */
		if (s.tsq_near && s.nbest < limit)
			ret = rank_pages(&s, s.tsq_near, 1, limit, err);
		if (ret < 0)
			goto cleanup;
	}
	if (o->facets) {
		ret = facets(&s, s.tsq_near ? s.tsq_near : s.tsq, out, err);
		if (ret < 0)
			goto cleanup;
	}
	ret = fill_hits(&s, fetch, fetch_ctx, out, err);
	out->ranked_in_sample = s.sampled > 0;
	out->ranked_sample = s.sampled;
	/* an estimate below what is shown would read wrong */
	if (out->facets_estimated && out->total_documents < (int64_t)out->n)
		out->total_documents = (int64_t)out->n;
cleanup:
	if (ret < 0)
		cv_index_search_result_release(out);
	free(qtext);
	free(s.tsq);
	free(s.tsq_near);
	free(s.patients);
	free(s.docs);
	free(s.best);
	PQclear(s.all);
	PQclear(res);
	return ret;
}

static const char VOCAB_PRUNE[] =
	"WITH gone AS (DELETE FROM search_vocab v WHERE NOT EXISTS"
	" (SELECT 1 FROM ts_stat('SELECT tsv FROM pages WHERE tsv IS NOT NULL')"
	"  s WHERE s.word = v.lexeme) RETURNING 1)"
	" SELECT count(*) FROM gone";

int cv_index_search_vocab_prune(struct cv_index *ix, int64_t *removed,
				struct cv_error *err)
{
	PGresult *res;
	int ret;

	ret = exec(ix, VOCAB_PRUNE, 0, NULL, &res,
		   "could not prune the search vocabulary", err);
	if (ret == 0 && removed)
		ret = cv_index__get_i64(removed, res, 0, 0) < 0
			      ? cv_error_set(err, CV_ERROR,
					     "could not prune the search "
					     "vocabulary")
			      : 0;
	PQclear(res);
	return ret;
}
