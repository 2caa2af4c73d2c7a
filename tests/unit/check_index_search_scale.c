/*
 * Unit tests for search's strategy at scale (index/search.c): which
 * matches are counted and ranked exactly and which among a sample of
 * the documents, over an archive of 3,000 documents and 9,000 pages made
 * in SQL. A rare word's counts are exact; a common word's are estimates
 * from the 1/16 sample and say so; a filter that leaves too few of the
 * sample's documents is counted and ranked over every match instead.
 *
 * The archive: document g (1..3000) has three pages, all with "fever";
 * documents 1..833 also have "cough" (2,499 pages); the first page of
 * documents 5, 18 and 33 has "zebra". Type: 11488-4 when g is a multiple
 * of 97 (30 documents), else 11506-3 when g is a multiple of 3, else
 * 18842-5. Service date: 1 January of 2010 + g % 7. (Neither follows
 * the samples' multiples of 16, as a real archive's do not.)
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/cv.h"
#include "index/index.h"
#include "index/index_int.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

static const char ARCHIVE_SQL[] =
	"INSERT INTO batches (id, name, operator) VALUES (1, 'b', 'clerk');"
	"INSERT INTO source_files (id, batch_id, object_id, name, format,"
	" page_count) VALUES (1, 1, '\\x"
	"ff00000000000000000000000000000000000000000000000000000000000000',"
	" 'f.tif', 'tiff', 9000);"
	"INSERT INTO documents (id, batch_id, mrn, doc_type, service_date,"
	" state) SELECT g, 1, 'M' || g, CASE WHEN g % 97 = 0 THEN '11488-4'"
	" WHEN g % 3 = 0 THEN '11506-3' ELSE '18842-5' END,"
	" make_date(2010 + g % 7, 1, 1), 'filed'"
	" FROM generate_series(1, 3000) g;"
	"INSERT INTO pages (file_id, page_no, state, document_id, seq, tsv)"
	" SELECT 1, (g - 1) * 3 + k, 'done', g, k, to_tsvector('english',"
	" 'fever' || CASE WHEN g <= 833 THEN ' cough' ELSE '' END"
	" || CASE WHEN g IN (5, 18, 33) AND k = 1 THEN ' zebra' ELSE '' END)"
	" FROM generate_series(1, 3000) g, generate_series(1, 3) k;"
	"ANALYZE pages; ANALYZE documents;";

static int no_text(void *ctx, const uint8_t *oid, struct cv_buf *out,
		   struct cv_error *err)
{
	(void)ctx;
	(void)oid;
	(void)out;
	return cv_error_set(err, CV_ENOTFOUND, "no text in this archive");
}

static struct cv_index *archive_db(char **dsn)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index *ix = NULL;
	struct cv_index_object o;
	PGresult *res;
	int inserted;

	*dsn = cvt_pg_createdb(&cvt_shared_pg);
	ck_assert_msg(cv_index_open(&ix, *dsn, &err) == 0, "%s", err.msg);
	ck_assert_msg(cv_index_migrate(ix, NULL, NULL, &err) == 0, "%s: %s",
		      err.msg, err.detail);
	memset(&o, 0, sizeof(o));
	o.id[0] = 0xff;
	o.gen = 1;
	snprintf(o.kind, sizeof(o.kind), "source");
	memset(o.kek_id, 1, sizeof(o.kek_id));
	memset(o.wrapped_key, 2, sizeof(o.wrapped_key));
	o.size = 10;
	o.stored_size = 40;
	ck_assert_msg(cv_index_object_add(ix, &o, &inserted, &err) == 0, "%s",
		      err.msg);
	res = PQexec(ix->conn, ARCHIVE_SQL);
	ck_assert_msg(cv_index__result_ok(res), "%s",
		      PQresultErrorMessage(res));
	PQclear(res);
	return ix;
}

static void must_search(struct cv_index *ix, struct cv_index_search_opts *o,
			struct cv_index_search_result *r)
{
	struct cv_error err = CV_ERROR_INIT;

	ck_assert_msg(cv_index_search(ix, o, no_text, NULL, r, &err) == 0,
		      "'%s': %s: %s", o->query, err.msg, err.detail);
}

static int64_t facet(const struct cv_index_facet *f, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(f[i].key, key) == 0)
			return f[i].documents;
	return 0;
}

START_TEST(test_search_scale_rare_words_counted_exactly)
{
	struct cv_index_search_opts o = CV_INDEX_SEARCH_OPTS_INIT;
	struct cv_index_search_result r = CV_INDEX_SEARCH_RESULT_INIT;
	char *dsn;
	struct cv_index *ix = archive_db(&dsn);
	int64_t sum = 0;
	size_t i;

	o.query = "zebra";
	must_search(ix, &o, &r);
	ck_assert_uint_eq(r.n, 3);
	ck_assert_int_eq(r.total_documents, 3);
	ck_assert_int_eq(r.total_pages, 3);
	ck_assert_int_eq(r.facets_estimated, 0);
	ck_assert_int_eq(r.facets_sample, 0);
	ck_assert_int_eq(r.ranked_in_sample, 0);
	ck_assert_int_eq(r.ranked_sample, 0);
	ck_assert_int_eq(facet(r.types, r.ntypes, "18842-5"), 1);
	ck_assert_int_eq(facet(r.types, r.ntypes, "11506-3"), 2);
	ck_assert_int_eq(facet(r.years, r.nyears, "2015"), 2);
	ck_assert_int_eq(facet(r.years, r.nyears, "2014"), 1);
	cv_index_search_result_release(&r);

	/* 2,499 pages: still under the exact limit, every one counted */
	o.query = "cough";
	must_search(ix, &o, &r);
	ck_assert_uint_eq(r.n, 20);
	ck_assert_int_eq(r.facets_estimated, 0);
	ck_assert_int_eq(r.total_documents, 833);
	ck_assert_int_eq(r.total_pages, 2499);
	ck_assert_int_eq(facet(r.types, r.ntypes, "11488-4"), 8);
	ck_assert_int_eq(facet(r.types, r.ntypes, "11506-3"), 275);
	ck_assert_int_eq(facet(r.types, r.ntypes, "18842-5"), 550);
	for (i = 0; i < r.nyears; i++)
		sum += r.years[i].documents;
	ck_assert_int_eq(sum, 833);
	ck_assert_int_eq(r.ranked_in_sample, 0);
	cv_index_search_result_release(&r);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_search_scale_common_words_estimated_and_flagged)
{
	struct cv_index_search_opts o = CV_INDEX_SEARCH_OPTS_INIT;
	struct cv_index_search_result r = CV_INDEX_SEARCH_RESULT_INIT;
	char *dsn;
	struct cv_index *ix = archive_db(&dsn);
	size_t i;

	/* 9,000 pages: counted among 1/16 of the documents, said so */
	o.query = "fever";
	must_search(ix, &o, &r);
	ck_assert_int_eq(r.facets_estimated, 1);
	ck_assert_int_eq(r.facets_sample, 16);
	/* 187 sampled documents of 3,000, scaled by 16 */
	ck_assert_int_eq(r.total_documents, 187 * 16);
	ck_assert_int_eq(r.total_pages, 187 * 3 * 16);
	/* 62 of the sampled documents are multiples of 3: 992 (990) */
	ck_assert_int_eq(facet(r.types, r.ntypes, "11506-3"), 62 * 16);
	ck_assert_int_eq(facet(r.types, r.ntypes, "11488-4"), 16);
	/* ranked among the same sample: every hit is one of its documents */
	ck_assert_int_eq(r.ranked_in_sample, 1);
	ck_assert_int_eq(r.ranked_sample, 16);
	ck_assert_uint_eq(r.n, 20);
	for (i = 0; i < r.n; i++)
		ck_assert_int_eq(r.hits[i].doc.id % 16, 0);
	cv_index_search_result_release(&r);

	/* a year: fewer documents, still enough of them in the sample */
	o.from = "2012-01-01";
	o.to = "2012-12-31";
	must_search(ix, &o, &r);
	ck_assert_int_eq(r.facets_estimated, 1);
	ck_assert_msg(r.total_documents >= 380 && r.total_documents <= 480,
		      "about 429 documents of 2012, not %lld",
		      (long long)r.total_documents);
	ck_assert_uint_eq(r.nyears, 1);
	ck_assert_str_eq(r.years[0].key, "2012");
	cv_index_search_result_release(&r);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_search_scale_thin_filter_counts_every_match)
{
	struct cv_index_search_opts o = CV_INDEX_SEARCH_OPTS_INIT;
	struct cv_index_search_result r = CV_INDEX_SEARCH_RESULT_INIT;
	char *dsn;
	struct cv_index *ix = archive_db(&dsn);
	size_t i;

	/*
	 * 30 consult notes; one of them (1552) in the 1/16 sample: too few
	 * to estimate from, so they are counted exactly, and ranked over
	 * every match rather than the one the sample holds.
	 */
	o.query = "fever";
	o.doc_type = "11488-4";
	must_search(ix, &o, &r);
	ck_assert_int_eq(r.facets_estimated, 0);
	ck_assert_int_eq(r.total_documents, 30);
	ck_assert_int_eq(r.total_pages, 90);
	ck_assert_int_eq(facet(r.types, r.ntypes, "11488-4"), 30);
	ck_assert_int_eq(r.ranked_in_sample, 0);
	ck_assert_uint_eq(r.n, 20);
	for (i = 0; i < r.n; i++)
		ck_assert_int_eq(r.hits[i].doc.id % 97, 0);
	cv_index_search_result_release(&r);

	/* without facets the ranking finds the same documents */
	o.facets = 0;
	must_search(ix, &o, &r);
	ck_assert_uint_eq(r.n, 20);
	ck_assert_int_eq(r.ranked_in_sample, 0);
	ck_assert_int_eq(r.total_documents, 0);
	cv_index_search_result_release(&r);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

Suite *cv_index_search_scale_suite(void)
{
	Suite *s = suite_create("index_search_scale");
	TCase *tc = tcase_create("strategy");

	tcase_set_tags(tc, "db");
	tcase_set_timeout(tc, 180);
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_search_scale_rare_words_counted_exactly);
	tcase_add_test(tc,
		       test_search_scale_common_words_estimated_and_flagged);
	tcase_add_test(tc, test_search_scale_thin_filter_counts_every_match);
	suite_add_tcase(s, tc);
	return s;
}
