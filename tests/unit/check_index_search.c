/*
 * Unit tests for search (index/search.c, search_query.c, synonyms.c):
 * the websearch parser and its synonym expansion (no database), then
 * searches over a small archive made in SQL, each test in a database of
 * its own: filters, facets over every match, grouping by document,
 * snippets, the exception queue, near spellings ranked below exact hits,
 * the ranking without the RUM index, and the vocabulary's upkeep.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/cv.h"
#include "index/index.h"
#include "index/index_int.h"
#include "index/search_int.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

/* ---------------------------------------------------------------------
 * The query language, without a database
 */

static char *expand(const char *q, const struct cv_index_synonyms *syn)
{
	struct cv_error err = CV_ERROR_INIT;
	char *out = NULL;

	ck_assert_msg(cv_index_search_query(&out, q, syn, &err) == 0,
		      "'%s': %s", q, err.msg);
	return out;
}

static struct cv_index_synonyms *builtin(void)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_synonyms *syn = NULL;

	ck_assert_msg(cv_index_synonyms_builtin(&syn, &err) == 0, "%s",
		      err.msg);
	return syn;
}

START_TEST(test_search_query_plain_websearch)
{
	char *q;

	q = expand("heart failure", NULL);
	ck_assert_str_eq(q, "( 'heart' & 'failure' )");
	free(q);
	/* OR separates groups of words, as in websearch_to_tsquery */
	q = expand("a b or c -d", NULL);
	ck_assert_str_eq(q, "( 'a' & 'b' ) | ( 'c' & !( 'd' ) )");
	free(q);
	q = expand("\"chest pain\" -\"no fever\"", NULL);
	ck_assert_str_eq(q, "( ( 'chest pain' ) & !( 'no fever' ) )");
	free(q);
	/* tsquery operators and quotes typed by the user stay words */
	q = expand("o'brien a&b|!c:* back\\slash", NULL);
	ck_assert_str_eq(q, "( 'o''brien' & 'a&b|!c:*' & 'back\\\\slash' )");
	free(q);
	/* an unterminated phrase runs to the end */
	q = expand("\"left knee", NULL);
	ck_assert_str_eq(q, "( ( 'left knee' ) )");
	free(q);
}
END_TEST

START_TEST(test_search_query_refuses_empty_and_only_negative)
{
	struct cv_error err = CV_ERROR_INIT;
	char *out = (char *)"x", big[1100];

	ck_assert_int_eq(cv_index_search_query(&out, "", NULL, &err),
			 CV_EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(cv_index_search_query(&out, "  \"\" - ", NULL, &err),
			 CV_EINVAL);
	ck_assert_int_eq(cv_index_search_query(&out, "-fever", NULL, &err),
			 CV_EINVAL);
	ck_assert(strstr(err.msg, "only excludes"));
	/* each OR group needs a word to look for */
	ck_assert_int_eq(
		cv_index_search_query(&out, "pain OR -fever", NULL, &err),
		CV_EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(cv_index_search_query(&out, big, NULL, &err),
			 CV_EINVAL);
}
END_TEST

START_TEST(test_search_query_synonyms_both_ways)
{
	struct cv_index_synonyms *syn = builtin();
	char *q;

	ck_assert_uint_ge(cv_index_synonyms_count(syn), 100);
	/* abbreviation to expansion, any case */
	q = expand("mi", syn);
	ck_assert_msg(strstr(q, "'myocardial infarction'") &&
			      strstr(q, "'heart attack'"),
		      "%s", q);
	free(q);
	q = expand("CHF", syn);
	ck_assert_msg(strstr(q, "'congestive heart failure'"), "%s", q);
	free(q);
	/* expansion, typed as words, to abbreviation: the words keep
	 * their AND, the abbreviation is an alternative */
	q = expand("congestive heart failure edema", syn);
	ck_assert_str_eq(q, "( ( 'congestive' & 'heart' & 'failure' | 'CHF' )"
			    " & 'edema' )");
	free(q);
	/* and as a phrase */
	q = expand("\"myocardial infarction\"", syn);
	ck_assert_msg(strstr(q, "'MI'") && strstr(q, "'heart attack'"), "%s",
		      q);
	free(q);
	/* "heart" alone is no term: unchanged */
	q = expand("heart", syn);
	ck_assert_str_eq(q, "( 'heart' )");
	free(q);
	cv_index_synonyms_free(syn);
}
END_TEST

START_TEST(test_search_query_synonyms_in_phrase_and_negation)
{
	struct cv_index_synonyms *syn = builtin();
	char *q;

	/* inside a phrase: whole-phrase variants, so stop words keep
	 * their distance; hyphens as typed */
	q = expand("\"history of MI\"", syn);
	ck_assert_str_eq(q, "( ( 'history of MI' |"
			    " 'history of myocardial infarction' |"
			    " 'history of heart attack' ) )");
	free(q);
	q = expand("\"old chest x-ray\"", syn);
	ck_assert_str_eq(q, "( ( 'old chest x-ray' | 'old CXR' |"
			    " 'old chest radiograph' ) )");
	free(q);
	/* excluding an abbreviation excludes what it stands for */
	q = expand("pain -MI", syn);
	ck_assert_str_eq(q, "( 'pain' & !( 'MI' | 'myocardial infarction' |"
			    " 'heart attack' ) )");
	free(q);
	q = expand("pain -\"heart attack\"", syn);
	ck_assert_str_eq(q, "( 'pain' & !( 'heart attack' | 'MI' |"
			    " 'myocardial infarction' ) )");
	free(q);
	/* a term in two groups: both meanings */
	q = expand("MS", syn);
	ck_assert_msg(strstr(q, "'multiple sclerosis'") &&
			      strstr(q, "'mitral stenosis'"),
		      "%s", q);
	free(q);
	/* OR between expanded terms */
	q = expand("CHF OR COPD", syn);
	ck_assert_str_eq(q, "( ( 'CHF' | 'congestive heart failure' ) ) |"
			    " ( ( 'COPD' | 'chronic obstructive pulmonary"
			    " disease' ) )");
	free(q);
	cv_index_synonyms_free(syn);
}
END_TEST

START_TEST(test_search_synonyms_site_file)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_synonyms *syn = builtin();
	size_t n = cv_index_synonyms_count(syn);
	const char site[] = "# our own\n\nRLL, right lower lobe\r\n"
			    "  NAFLD , fatty liver ,non alcoholic fatty liver "
			    "disease\n";
	char *q;

	ck_assert_int_eq(cv_index_synonyms_parse(&syn, "site.txt", site,
						 strlen(site), &err),
			 0);
	ck_assert_uint_eq(cv_index_synonyms_count(syn), n + 2);
	q = expand("nafld", syn);
	ck_assert_str_eq(q, "( ( 'nafld' | 'fatty liver' |"
			    " 'non alcoholic fatty liver disease' ) )");
	free(q);
	cv_index_synonyms_free(syn);

	/* bad lines are named */
	syn = NULL;
	ck_assert_int_eq(cv_index_synonyms_parse(&syn, "site.txt",
						 "A, b\nlonely\n", 12, &err),
			 CV_EINVAL);
	ck_assert_str_eq(err.msg,
			 "site.txt line 2: a group needs two terms or more");
	ck_assert_ptr_null(syn);
	ck_assert_int_eq(
		cv_index_synonyms_parse(&syn, "site.txt", "A,,b\n", 5, &err),
		CV_EINVAL);
	ck_assert_str_eq(err.msg, "site.txt line 1: an empty term");
	ck_assert_int_eq(cv_index_synonyms_parse(&syn, "site.txt", "A, b\xff\n",
						 6, &err),
			 CV_EINVAL);
	ck_assert_str_eq(err.msg, "site.txt is not UTF-8 text");
	ck_assert_int_eq(
		cv_index_synonyms_parse(&syn, "site.txt", "A, b\0c\n", 7, &err),
		CV_EINVAL);
}
END_TEST

START_TEST(test_search_tsquery_lexemes_and_widen)
{
	const char tsq[] = "'acut' <-> ( 'mi' | 'myocardi' <-> 'infarct' ) &"
			   " !'fever' & !( 'chest' <-> 'pain' ) & 'o''brien'";
	char **lex = NULL, *w;
	char *l2[2] = { (char *)"myocardi", (char *)"chest" };
	char *alts[2] = { (char *)"'rnyocardi' | 'myocardl'",
			  (char *)"'chcst'" };
	size_t n = 0, i;

	cv_index__tsquery_lexemes(tsq, &lex, &n);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(lex[0], "acut");
	ck_assert_str_eq(lex[3], "infarct");
	ck_assert_str_eq(lex[4], "o'brien"); /* not fever, not chest */
	for (i = 0; i < n; i++)
		free(lex[i]);
	free(lex);
	w = cv_index__tsquery_widen(tsq, l2, alts, 2);
	/* the excluded 'chest' stays exact */
	ck_assert_str_eq(w, "'acut' <-> ( 'mi' | ( 'myocardi' | 'rnyocardi' |"
			    " 'myocardl' ) <-> 'infarct' ) & !'fever' &"
			    " !( 'chest' <-> 'pain' ) & 'o''brien'");
	free(w);
}
END_TEST

/* ---------------------------------------------------------------------
 * Searches over a small archive
 */

static void must_exec(struct cv_index *ix, const char *sql)
{
	PGresult *res = PQexec(ix->conn, sql);

	ck_assert_msg(cv_index__result_ok(res), "%s: %s", sql,
		      PQresultErrorMessage(res));
	PQclear(res);
}

static int64_t query_int(struct cv_index *ix, const char *sql)
{
	PGresult *res = PQexec(ix->conn, sql);
	int64_t v;

	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK &&
			      PQntuples(res) == 1,
		      "%s: %s", sql, PQresultErrorMessage(res));
	v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

/*
 * The pages: document, seq, text. Object ids are 32 bytes whose first
 * byte is the page's index here, so the fetch callback finds its text.
 */
struct fixture_page {
	int doc, seq;
	const char *text;
};

static const struct fixture_page PAGES[] = {
	/* 1: discharge summary, 2019, MRN 1001 */
	{ 1, 1,
	  "DISCHARGE SUMMARY. Admitted with acute myocardial infarction. "
	  "Troponin elevated, chest pain resolved." },
	{ 1, 2,
	  "Follow up for the myocardial infarction in cardiology clinic. "
	  "Continue aspirin and metoprolol." },
	{ 1, 3,
	  "Discharge medications reviewed. Myocardial infarction "
	  "education given." },
	/* 2: progress note, 2021, MRN 1001 */
	{ 2, 1,
	  "Progress note. History of MI. Stable angina, no chest pain "
	  "today." },
	/* 3: progress note, 2021, MRN 1002 */
	{ 3, 1,
	  "Progress note. CHF exacerbation with bilateral edema. "
	  "Furosemide increased." },
	/* 4: consult, 2018, MRN 1002: an OCR error in pneumonia */
	{ 4, 1,
	  "Pulmonary consult. Right lower lobe pneurnonia on the chest "
	  "radiograph." },
	/* 5: imaging, 2018, MRN 1003: pneumonia spelled right */
	{ 5, 1, "Chest radiograph: consolidation consistent with pneumonia." },
	/* 6: in the exception queue, MRN 1003 */
	{ 6, 1,
	  "Operative note. Appendectomy for acute appendicitis. "
	  "Congestive heart failure noted." },
	/* 7: undated letter, MRN 1003 */
	{ 7, 1,
	  "Dear colleague, thank you for seeing this patient with "
	  "congestive heart failure." },
};
#define NPAGES (sizeof(PAGES) / sizeof(PAGES[0]))

static const char FIXTURE_SQL[] =
	"INSERT INTO batches (id, name, operator) VALUES (1, 'b', 'clerk');"
	"INSERT INTO patients (id, mrn, family_name, given_name) VALUES"
	" (1, '1001', 'Smith', 'John'), (2, '1002', 'Garcia', 'Maria'),"
	" (3, '1003', 'Smith', 'Anna');"
	"INSERT INTO documents (id, batch_id, patient_id, mrn, doc_type,"
	" service_date, state) VALUES"
	" (1, 1, 1, '1001', '18842-5', '2019-03-02', 'filed'),"
	" (2, 1, 1, '1001', '11506-3', '2021-06-01', 'filed'),"
	" (3, 1, 2, '1002', '11506-3', '2021-11-30', 'filed'),"
	" (4, 1, 2, '1002', '11488-4', '2018-01-15', 'filed'),"
	" (5, 1, 3, '1003', '18748-4', '2018-12-31', 'filed'),"
	" (6, 1, 3, '1003', '11504-8', '2020-05-05', 'exception'),"
	" (7, 1, NULL, '1003', 'letter', NULL, 'filed');"
	"INSERT INTO source_files (id, batch_id, object_id, name, format,"
	" page_count) VALUES (1, 1, '\\x"
	"ff00000000000000000000000000000000000000000000000000000000000000',"
	" 'f.tif', 'tiff', 9);";

static void object_id(uint8_t id[CV_INDEX_OID_LEN], size_t page)
{
	memset(id, 0, CV_INDEX_OID_LEN);
	id[0] = (uint8_t)page;
	id[1] = 0xaa;
}

static int fetch_fixture(void *ctx, const uint8_t *oid, struct cv_buf *out,
			 struct cv_error *err)
{
	int *calls = ctx;

	(*calls)++;
	if (oid[1] != 0xaa || oid[0] >= NPAGES)
		return cv_error_set(err, CV_ENOTFOUND, "no such text");
	return cv_buf_adds(out, PAGES[oid[0]].text);
}

static void add_object(struct cv_index *ix, const uint8_t *id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_object o;
	int inserted;

	memset(&o, 0, sizeof(o));
	memcpy(o.id, id, CV_INDEX_OID_LEN);
	o.gen = 1;
	snprintf(o.kind, sizeof(o.kind), "text");
	memset(o.kek_id, 1, sizeof(o.kek_id));
	memset(o.wrapped_key, 2, sizeof(o.wrapped_key));
	o.size = 10;
	o.stored_size = 40;
	ck_assert_msg(cv_index_object_add(ix, &o, &inserted, &err) == 0, "%s",
		      err.msg);
}

static struct cv_index *fixture_db(char **dsn)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index *ix = NULL;
	uint8_t file_oid[CV_INDEX_OID_LEN];
	size_t i;

	*dsn = cvt_pg_createdb(&cvt_shared_pg);
	ck_assert_msg(cv_index_open(&ix, *dsn, &err) == 0, "%s", err.msg);
	ck_assert_msg(cv_index_migrate(ix, NULL, NULL, &err) == 0, "%s: %s",
		      err.msg, err.detail);
	memset(file_oid, 0, sizeof(file_oid));
	file_oid[0] = 0xff;
	add_object(ix, file_oid);
	must_exec(ix, FIXTURE_SQL);
	for (i = 0; i < NPAGES; i++) {
		uint8_t oid[CV_INDEX_OID_LEN];
		char hex[2 * CV_INDEX_OID_LEN + 1], no[16], doc[16], seq[16];
		const char *p[5] = { no, doc, seq, hex, PAGES[i].text };
		PGresult *res;

		object_id(oid, i);
		add_object(ix, oid);
		cv_hex_encode(hex, oid, sizeof(oid));
		snprintf(no, sizeof(no), "%zu", i + 1);
		snprintf(doc, sizeof(doc), "%d", PAGES[i].doc);
		snprintf(seq, sizeof(seq), "%d", PAGES[i].seq);
		/* as cv_index_page_done computes it */
		res = PQexecParams(
			ix->conn,
			"INSERT INTO pages (file_id, page_no, state,"
			" document_id, seq, text_object, tsv)"
			" VALUES (1, $1, 'done', $2, $3, decode($4, 'hex'),"
			" to_tsvector('english', $5))",
			5, NULL, p, NULL, NULL, 0);
		ck_assert_msg(cv_index__result_ok(res), "%s",
			      PQresultErrorMessage(res));
		PQclear(res);
	}
	return ix;
}

struct ran {
	struct cv_index_search_result r;
	int fetches;
};

static int run_search(struct cv_index *ix, struct cv_index_search_opts *o,
		      struct ran *out, struct cv_error *err)
{
	memset(out, 0, sizeof(*out));
	return cv_index_search(ix, o, fetch_fixture, &out->fetches, &out->r,
			       err);
}

static void must_search(struct cv_index *ix, struct cv_index_search_opts *o,
			struct ran *out)
{
	struct cv_error err = CV_ERROR_INIT;

	ck_assert_msg(run_search(ix, o, out, &err) == 0, "'%s': %s: %s",
		      o->query, err.msg, err.detail);
}

/* The documents found, as "1,2,3" in rank order. */
static const char *docs_of(const struct ran *s, char *buf, size_t n)
{
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < s->r.n && len < n; i++)
		len += (size_t)snprintf(buf + len, n - len, "%s%lld",
					i ? "," : "",
					(long long)s->r.hits[i].doc.id);
	return buf;
}

static int64_t facet(const struct cv_index_facet *f, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(f[i].key, key) == 0)
			return f[i].documents;
	return 0;
}

START_TEST(test_search_groups_by_document_with_snippets)
{
	struct cv_index_search_opts o = CV_INDEX_SEARCH_OPTS_INIT;
	char *dsn, buf[128];
	struct cv_index *ix = fixture_db(&dsn);
	struct ran s;

	o.query = "myocardial infarction";
	o.synonyms = NULL;
	must_search(ix, &o, &s);
	/* three matching pages, one document */
	ck_assert_str_eq(docs_of(&s, buf, sizeof(buf)), "1");
	ck_assert_int_eq(s.r.hits[0].matching_pages, 3);
	ck_assert_int_eq(s.r.hits[0].near, 0);
	ck_assert_str_eq(s.r.hits[0].state, "filed");
	ck_assert_int_eq(s.fetches, 1); /* the best page's text only */
	ck_assert_msg(strstr(s.r.hits[0].snippet, "\x01myocardial\x02") &&
			      strstr(s.r.hits[0].snippet, "\x01infarction\x02"),
		      "%s", s.r.hits[0].snippet);
	ck_assert_int_eq(s.r.total_documents, 1);
	ck_assert_int_eq(s.r.total_pages, 3);
	cv_index_search_result_release(&s.r);
	/* a word on no page */
	o.query = "xylophone";
	must_search(ix, &o, &s);
	ck_assert_uint_eq(s.r.n, 0);
	ck_assert_int_eq(s.r.total_documents, 0);
	cv_index_search_result_release(&s.r);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_search_filters_and_facets_over_all_matches)
{
	struct cv_index_search_opts o = CV_INDEX_SEARCH_OPTS_INIT;
	char *dsn, buf[128];
	struct cv_index *ix = fixture_db(&dsn);
	struct ran s;

	/* "chest" is on documents 1, 2, 4, 5; facets count all four even
	 * when one is shown */
	o.query = "chest";
	o.limit = 1;
	must_search(ix, &o, &s);
	ck_assert_uint_eq(s.r.n, 1);
	ck_assert_int_eq(s.r.total_documents, 4);
	ck_assert_int_eq(s.r.facets_estimated, 0);
	ck_assert_int_eq(facet(s.r.types, s.r.ntypes, "18842-5"), 1);
	ck_assert_int_eq(facet(s.r.types, s.r.ntypes, "11506-3"), 1);
	ck_assert_int_eq(facet(s.r.types, s.r.ntypes, "11488-4"), 1);
	ck_assert_int_eq(facet(s.r.types, s.r.ntypes, "18748-4"), 1);
	ck_assert_int_eq(facet(s.r.years, s.r.nyears, "2018"), 2);
	ck_assert_int_eq(facet(s.r.years, s.r.nyears, "2019"), 1);
	ck_assert_int_eq(facet(s.r.years, s.r.nyears, "2021"), 1);
	ck_assert_str_eq(s.r.years[0].key, "2021"); /* newest first */
	cv_index_search_result_release(&s.r);
	o.limit = 20;

	o.doc_type = "11506-3";
	must_search(ix, &o, &s);
	ck_assert_str_eq(docs_of(&s, buf, sizeof(buf)), "2");
	cv_index_search_result_release(&s.r);
	o.doc_type = NULL;

	o.from = "2018-06-01";
	o.to = "2019-12-31";
	must_search(ix, &o, &s);
	ck_assert_uint_eq(s.r.n, 2);
	ck_assert(strstr(docs_of(&s, buf, sizeof(buf)), "5") &&
		  strstr(buf, "1"));
	cv_index_search_result_release(&s.r);
	o.from = o.to = NULL;

	o.mrn = "1002";
	must_search(ix, &o, &s);
	ck_assert_str_eq(docs_of(&s, buf, sizeof(buf)), "4");
	ck_assert_int_eq(s.r.total_documents, 1);
	cv_index_search_result_release(&s.r);
	o.mrn = NULL;

	/* every word of the name, any order and case: John Smith, not
	 * Anna Smith */
	o.patient = "smith JOHN";
	must_search(ix, &o, &s);
	ck_assert_str_eq(docs_of(&s, buf, sizeof(buf)), "1,2");
	cv_index_search_result_release(&s.r);
	o.patient = "Nobody";
	must_search(ix, &o, &s);
	ck_assert_uint_eq(s.r.n, 0);
	cv_index_search_result_release(&s.r);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_search_exception_queue_only_when_asked)
{
	struct cv_index_search_opts o = CV_INDEX_SEARCH_OPTS_INIT;
	char *dsn, buf[128];
	struct cv_index *ix = fixture_db(&dsn);
	struct ran s;

	o.query = "appendectomy";
	must_search(ix, &o, &s);
	ck_assert_uint_eq(s.r.n, 0);
	ck_assert_int_eq(s.r.total_documents, 0);
	cv_index_search_result_release(&s.r);
	o.include_exceptions = 1;
	must_search(ix, &o, &s);
	ck_assert_str_eq(docs_of(&s, buf, sizeof(buf)), "6");
	ck_assert_str_eq(s.r.hits[0].state, "exception");
	cv_index_search_result_release(&s.r);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_search_synonyms_find_both_forms)
{
	struct cv_index_search_opts o = CV_INDEX_SEARCH_OPTS_INIT;
	struct cv_index_synonyms *syn = builtin();
	char *dsn, buf[128];
	struct cv_index *ix = fixture_db(&dsn);
	struct ran s;

	o.synonyms = syn;
	/* MI finds the spelled-out form (1) and itself (2) */
	o.query = "MI";
	must_search(ix, &o, &s);
	ck_assert_uint_eq(s.r.n, 2);
	ck_assert(strstr(docs_of(&s, buf, sizeof(buf)), "1") &&
		  strstr(buf, "2"));
	cv_index_search_result_release(&s.r);
	/* congestive heart failure finds CHF (3) and the words (7; 6 is
	 * in the exception queue) */
	o.query = "\"congestive heart failure\"";
	must_search(ix, &o, &s);
	ck_assert_uint_eq(s.r.n, 2);
	ck_assert(strstr(docs_of(&s, buf, sizeof(buf)), "3") &&
		  strstr(buf, "7"));
	/* the snippet marks the abbreviation on page 3 */
	{
		size_t i;

		for (i = 0; i < s.r.n; i++)
			if (s.r.hits[i].doc.id == 3)
				ck_assert_msg(strstr(s.r.hits[i].snippet,
						     "\x01"
						     "CHF\x02"),
					      "%s", s.r.hits[i].snippet);
	}
	cv_index_search_result_release(&s.r);
	/* excluded with what it stands for */
	o.query = "chest -MI";
	must_search(ix, &o, &s);
	ck_assert_str_eq(docs_of(&s, buf, sizeof(buf)), "4,5");
	cv_index_search_result_release(&s.r);
	/* without synonyms, MI is just the letters */
	o.synonyms = NULL;
	o.query = "MI";
	must_search(ix, &o, &s);
	ck_assert_str_eq(docs_of(&s, buf, sizeof(buf)), "2");
	cv_index_search_result_release(&s.r);
	cv_index_synonyms_free(syn);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_search_near_spellings_rank_below_exact)
{
	struct cv_index_search_opts o = CV_INDEX_SEARCH_OPTS_INIT;
	char *dsn, buf[128];
	struct cv_index *ix = fixture_db(&dsn);
	struct ran s;

	o.query = "pneumonia";
	must_search(ix, &o, &s);
	ck_assert_str_eq(docs_of(&s, buf, sizeof(buf)), "5");
	cv_index_search_result_release(&s.r);
	o.near = 1;
	must_search(ix, &o, &s);
	/* the OCR error's page comes after the exact hit, marked */
	ck_assert_str_eq(docs_of(&s, buf, sizeof(buf)), "5,4");
	ck_assert_int_eq(s.r.hits[0].near, 0);
	ck_assert_int_eq(s.r.hits[1].near, 1);
	ck_assert_ptr_nonnull(s.r.near_terms);
	ck_assert_msg(strstr(s.r.near_terms, "pneurnonia"), "%s",
		      s.r.near_terms);
	ck_assert_msg(strstr(s.r.hits[1].snippet, "\x01pneurnonia\x02"), "%s",
		      s.r.hits[1].snippet);
	ck_assert_int_eq(s.r.total_documents, 2);
	cv_index_search_result_release(&s.r);
	/* a short word is not widened (too many look-alikes) */
	o.query = "lobe";
	must_search(ix, &o, &s);
	ck_assert_str_eq(docs_of(&s, buf, sizeof(buf)), "4");
	cv_index_search_result_release(&s.r);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_search_ranks_the_same_without_rum)
{
	struct cv_index_search_opts o = CV_INDEX_SEARCH_OPTS_INIT;
	char *dsn, with[128], without[128];
	struct cv_index *ix = fixture_db(&dsn);
	struct ran s;

	/* the migration made the RUM index here (rum is installed) */
	ck_assert_int_eq(query_int(ix, "SELECT count(*) FROM pg_indexes"
				       " WHERE indexname = 'pages_tsv_rum'"),
			 1);
	o.query = "chest OR edema";
	must_search(ix, &o, &s);
	docs_of(&s, with, sizeof(with));
	cv_index_search_result_release(&s.r);
	must_exec(ix, "DROP INDEX pages_tsv_rum;"
		      " CREATE INDEX pages_tsv_idx ON pages USING gin (tsv)");
	must_search(ix, &o, &s);
	docs_of(&s, without, sizeof(without));
	ck_assert_uint_eq(s.r.n, 5);
	ck_assert_str_eq(with, without);
	cv_index_search_result_release(&s.r);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_search_refuses_bad_filters)
{
	struct cv_index_search_opts o = CV_INDEX_SEARCH_OPTS_INIT;
	struct cv_error err = CV_ERROR_INIT;
	char *dsn;
	struct cv_index *ix = fixture_db(&dsn);
	struct ran s;

	o.query = "chest";
	o.from = "2024-02-30";
	ck_assert_int_eq(run_search(ix, &o, &s, &err), CV_EINVAL);
	ck_assert_str_eq(err.msg,
			 "--from '2024-02-30' is not a date (YYYY-MM-DD)");
	o.from = "2024-02-29"; /* a leap day */
	o.to = "2023-01-01";
	ck_assert_int_eq(run_search(ix, &o, &s, &err), CV_EINVAL);
	ck_assert_str_eq(err.msg, "--from 2024-02-29 is after --to 2023-01-01");
	o.from = o.to = NULL;
	o.doc_type = "18842-4"; /* wrong LOINC check digit */
	ck_assert_int_eq(run_search(ix, &o, &s, &err), CV_EINVAL);
	o.doc_type = "x'; DROP TABLE pages; --";
	ck_assert_int_eq(run_search(ix, &o, &s, &err), CV_EINVAL);
	o.doc_type = NULL;
	/* stop words only */
	o.query = "the and with";
	ck_assert_int_eq(run_search(ix, &o, &s, &err), CV_EINVAL);
	ck_assert(strstr(err.msg, "only common words"));
	ck_assert_int_eq(query_int(ix, "SELECT count(*) FROM pages"), NPAGES);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_search_vocabulary_follows_pages)
{
	struct cv_error err = CV_ERROR_INIT;
	char *dsn;
	struct cv_index *ix = fixture_db(&dsn);
	int64_t removed = -1;

	/* the trigger recorded the pages' lexemes */
	ck_assert_int_eq(query_int(ix, "SELECT count(*) FROM search_vocab"
				       " WHERE lexeme IN ('pneurnonia',"
				       " 'appendectomi')"),
			 2);
	/* a destroyed page's words leave with it after a prune */
	must_exec(ix, "DELETE FROM pages WHERE document_id = 6");
	ck_assert_int_eq(cv_index_search_vocab_prune(ix, &removed, &err), 0);
	ck_assert_int_ge(removed, 2);
	ck_assert_int_eq(query_int(ix, "SELECT count(*) FROM search_vocab"
				       " WHERE lexeme IN ('appendectomi',"
				       " 'appendic')"),
			 0);
	ck_assert_int_eq(query_int(ix, "SELECT count(*) FROM search_vocab"
				       " WHERE lexeme = 'pneurnonia'"),
			 1);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

Suite *cv_index_search_suite(void)
{
	Suite *s = suite_create("index_search");
	TCase *tc = tcase_create("query");

	tcase_add_test(tc, test_search_query_plain_websearch);
	tcase_add_test(tc, test_search_query_refuses_empty_and_only_negative);
	tcase_add_test(tc, test_search_query_synonyms_both_ways);
	tcase_add_test(tc, test_search_query_synonyms_in_phrase_and_negation);
	tcase_add_test(tc, test_search_synonyms_site_file);
	tcase_add_test(tc, test_search_tsquery_lexemes_and_widen);
	suite_add_tcase(s, tc);

	tc = tcase_create("search");
	tcase_set_tags(tc, "db");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_search_groups_by_document_with_snippets);
	tcase_add_test(tc, test_search_filters_and_facets_over_all_matches);
	tcase_add_test(tc, test_search_exception_queue_only_when_asked);
	tcase_add_test(tc, test_search_synonyms_find_both_forms);
	tcase_add_test(tc, test_search_near_spellings_rank_below_exact);
	tcase_add_test(tc, test_search_ranks_the_same_without_rum);
	tcase_add_test(tc, test_search_refuses_bad_filters);
	tcase_add_test(tc, test_search_vocabulary_follows_pages);
	suite_add_tcase(s, tc);
	return s;
}
