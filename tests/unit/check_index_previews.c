/*
 * Unit tests for page previews in the index (index/previews.c, the page
 * view in pageview.c, the rendition list in renditions.c; migration
 * 0017): a preview is recorded once per page and width, the page view
 * carries them, the viewer's width steps find the narrowest preview that
 * covers them, and a page that is not there gets none.
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

struct fx {
	char *dsn;
	struct cv_index *ix;
	int64_t page, doc;
};

static void must_exec(struct cv_index *ix, const char *sql)
{
	PGresult *res = PQexec(ix->conn, sql);

	ck_assert_msg(cv_index__result_ok(res), "%s: %s", sql,
		      PQresultErrorMessage(res));
	PQclear(res);
}

/* An object row whose id is 32 bytes of b (hex "bb"). */
static void add_object(struct cv_index *ix, const char *b, const char *kind)
{
	char *sql = cv_asprintf(
		"INSERT INTO objects (id, gen, kind, kek_id, wrapped_key,"
		" size, stored_size, stored_sha256) VALUES"
		" (decode(repeat('%s', 32), 'hex'), 1, '%s',"
		" decode(repeat('01', 8), 'hex'), decode(repeat('00', 40), 'hex'),"
		" 1, 1, decode(repeat('00', 32), 'hex'))",
		b, kind);

	must_exec(ix, sql);
	free(sql);
}

/* A batch, one file, one document of one page with an image. */
static void setup(struct fx *f)
{
	struct cv_error err = CV_ERROR_INIT;
	PGresult *res;

	memset(f, 0, sizeof(*f));
	f->dsn = cvt_pg_createdb(&cvt_shared_pg);
	ck_assert_msg(cv_index_open(&f->ix, f->dsn, &err) == 0, "%s", err.msg);
	ck_assert_msg(cv_index_migrate(f->ix, NULL, NULL, &err) == 0, "%s: %s",
		      err.msg, err.detail);
	add_object(f->ix, "ab", "original");
	add_object(f->ix, "cd", "image");
	add_object(f->ix, "01", "preview");
	add_object(f->ix, "02", "preview");
	add_object(f->ix, "03", "preview");
	must_exec(f->ix,
		  "INSERT INTO batches (name, operator) VALUES ('b', 't')");
	must_exec(f->ix,
		  "INSERT INTO source_files (batch_id, object_id, name, format,"
		  " page_count) SELECT id, decode(repeat('ab', 32), 'hex'),"
		  " 'f.tif', 'tiff', 1 FROM batches");
	must_exec(f->ix, "INSERT INTO documents (batch_id) SELECT id"
			 " FROM batches");
	must_exec(
		f->ix,
		"INSERT INTO pages (file_id, page_no, state, document_id, seq,"
		" image_object) SELECT f.id, 1, 'done', d.id, 1,"
		" decode(repeat('cd', 32), 'hex') FROM source_files f,"
		" documents d");
	res = PQexec(f->ix->conn, "SELECT p.id, p.document_id FROM pages p");
	ck_assert_int_eq(PQntuples(res), 1);
	ck_assert_int_eq(cv_index__get_i64(&f->page, res, 0, 0), 0);
	ck_assert_int_eq(cv_index__get_i64(&f->doc, res, 0, 1), 0);
	PQclear(res);
}

static void teardown(struct fx *f)
{
	cv_index_free(f->ix);
	free(f->dsn);
}

static void oid_of(uint8_t oid[CV_INDEX_OID_LEN], uint8_t b)
{
	memset(oid, b, CV_INDEX_OID_LEN);
}

START_TEST(test_index_previews_recorded_once_and_found_by_width_step)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_rendition_page *rp = NULL;
	struct cv_index_page_view pv;
	uint8_t oid[CV_INDEX_OID_LEN];
	const uint8_t *got;
	size_t n = 0;
	struct fx f;

	setup(&f);
	/* None yet: the viewer renders every width. */
	ck_assert_int_eq(cv_index_page_view(f.ix, f.page, &pv, &err), 0);
	ck_assert_uint_eq(pv.npreviews, 0);
	ck_assert_ptr_null(cv_index_page_view_preview(&pv, 1400));
	ck_assert_int_eq(cv_index_rendition_pages(f.ix, f.doc, &rp, &n, &err),
			 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(rp[0].previews, 0);
	free(rp);
	/* What 'batch previews' would make: this page, of its batch or of
	 * all, and nothing after it. */
	ck_assert_int_eq(cv_index_pages_without_previews(f.ix, 0, 0, 2, 10, &rp,
							 &n, &err),
			 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(rp[0].page_id, f.page);
	ck_assert_uint_eq(rp[0].image_object[0], 0xcd);
	free(rp);
	ck_assert_int_eq(cv_index_pages_without_previews(f.ix, 0, f.page, 2, 10,
							 &rp, &n, &err),
			 0);
	ck_assert_uint_eq(n, 0);
	free(rp);

	oid_of(oid, 0x01);
	ck_assert_int_eq(
		cv_index_page_preview_add(f.ix, f.page, 1400, oid, &err), 0);
	oid_of(oid, 0x02);
	ck_assert_int_eq(
		cv_index_page_preview_add(f.ix, f.page, 120, oid, &err), 0);
	/* Made again (a re-run): the first stays. */
	oid_of(oid, 0x03);
	ck_assert_int_eq(
		cv_index_page_preview_add(f.ix, f.page, 1400, oid, &err), 0);
	ck_assert_int_eq(
		cvt_sql_count(f.dsn,
			      "SELECT count(*) FROM page_previews"
			      " WHERE object_id = decode(repeat('01', 32),"
			      " 'hex') AND width = 1400"),
		1);
	ck_assert_int_eq(
		cvt_sql_count(f.dsn, "SELECT count(*) FROM page_previews"), 2);

	ck_assert_int_eq(cv_index_page_view(f.ix, f.page, &pv, &err), 0);
	ck_assert_uint_eq(pv.npreviews, 2);
	/* Exact steps, and steps a wider preview covers. */
	got = cv_index_page_view_preview(&pv, 1400);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(got[0], 0x01);
	got = cv_index_page_view_preview(&pv, 120);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(got[0], 0x02);
	got = cv_index_page_view_preview(&pv, 800);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(got[0], 0x01);
	got = cv_index_page_view_preview(&pv, 240);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(got[0], 0x01);
	/* Wider than any: rendered, never a blurred smaller one. */
	ck_assert_ptr_null(cv_index_page_view_preview(&pv, 1800));

	ck_assert_int_eq(cv_index_rendition_pages(f.ix, f.doc, &rp, &n, &err),
			 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(rp[0].previews, 2);
	free(rp);
	ck_assert_int_eq(cv_index_pages_without_previews(f.ix, 0, 0, 2, 10, &rp,
							 &n, &err),
			 0);
	ck_assert_uint_eq(n, 0);
	free(rp);

	/* No such page: refused, nothing recorded. */
	ck_assert_int_eq(
		cv_index_page_preview_add(f.ix, f.page + 100, 120, oid, &err),
		CV_ENOTFOUND);
	ck_assert_int_eq(
		cvt_sql_count(f.dsn, "SELECT count(*) FROM page_previews"), 2);
	teardown(&f);
}
END_TEST

Suite *cv_index_previews_suite(void)
{
	Suite *s = suite_create("index_previews");
	TCase *tc = tcase_create("previews");

	tcase_set_tags(tc, "db");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(
		tc, test_index_previews_recorded_once_and_found_by_width_step);
	suite_add_tcase(s, tc);
	return s;
}
