/*
 * Unit tests for index/queue.c, the work queue, on the harness's
 * throwaway server with several connections standing in for workers:
 * claims are exclusive, leases run out, a dead session's claims are taken
 * at once, a lost claim records nothing, a page that keeps killing its
 * workers is failed, and a batch is cut by one worker only, never while
 * an intake is adding files to it.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/cv.h"
#include "index/index.h"
#include "index/index_int.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

struct q {
	char *dsn;
	struct cv_index *a, *b; /* two workers' connections */
	int64_t batch, file;
};

static void must_exec(struct cv_index *ix, const char *sql)
{
	PGresult *res = PQexec(ix->conn, sql);

	ck_assert_msg(cv_index__result_ok(res), "%s: %s", sql,
		      PQresultErrorMessage(res));
	PQclear(res);
}

static struct cv_index *connect_or_fail(const char *dsn)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index *ix = NULL;

	ck_assert_msg(cv_index_open(&ix, dsn, &err) == 0, "open: %s", err.msg);
	return ix;
}

/* A migrated database with a batch of one file of n queued pages. */
static void q_setup(struct q *q, int n)
{
	struct cv_error err = CV_ERROR_INIT;
	enum cv_index_file_state state;
	uint8_t oid[CV_INDEX_OID_LEN];
	int64_t owner;
	int created, queued;

	memset(q, 0, sizeof(*q));
	q->dsn = cvt_pg_createdb(&cvt_shared_pg);
	q->a = connect_or_fail(q->dsn);
	ck_assert_int_eq(cv_index_migrate(q->a, NULL, NULL, &err), 0);
	q->b = connect_or_fail(q->dsn);
	must_exec(q->a,
		  "INSERT INTO objects (id, gen, kind, kek_id, wrapped_key,"
		  " size, stored_size, stored_sha256) VALUES"
		  " (decode(repeat('ab', 32), 'hex'), 1, 'original',"
		  " decode('0102030405060708', 'hex'),"
		  " decode(repeat('00', 40), 'hex'), 1, 1,"
		  " decode(repeat('00', 32), 'hex'))");
	memset(oid, 0xab, sizeof(oid));
	ck_assert_int_eq(cv_index_batch_open(q->a, "b", "op", "src", &q->batch,
					     &created, &err),
			 0);
	ck_assert_int_eq(cv_index_file_add(q->a, q->batch, oid, "f.tif", "tiff",
					   n, &q->file, &owner, &state, &err),
			 0);
	ck_assert_int_eq(cv_index_queue_file(q->a, q->file, 0, NULL, NULL, NULL,
					     &queued, &err),
			 0);
	ck_assert_int_eq(queued, 1);
}

static void q_teardown(struct q *q)
{
	cv_index_free(q->a);
	cv_index_free(q->b);
	free(q->dsn);
}

static size_t claim(struct cv_index *ix, const char *who, size_t max,
		    int64_t *first_page)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_claim *c = NULL;
	size_t n = 0;

	ck_assert_msg(
		cv_index_queue_claim(ix, who, 0, 60, 5, max, &c, &n, &err) == 0,
		"claim: %s: %s", err.msg, err.detail);
	if (first_page && n)
		*first_page = c[0].page_id;
	if (n) {
		ck_assert_str_eq(c[0].format, "tiff");
		ck_assert_str_eq(c[0].name, "f.tif");
		ck_assert_int_eq(c[0].page_count, 3);
	}
	cv_index_claims_free(c, n);
	return n;
}

static long long value(struct cv_index *ix, const char *sql)
{
	PGresult *res = PQexec(ix->conn, sql);
	long long v = -1;

	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK &&
			      PQntuples(res) == 1,
		      "%s: %s", sql, PQresultErrorMessage(res));
	cv_parse_ll(&v, PQgetvalue(res, 0, 0), -1, 1ll << 50);
	PQclear(res);
	return v;
}

static int page_done(struct cv_index *ix, const char *who, int64_t file,
		     int page_no, int *lost)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_page_result pr;

	memset(&pr, 0, sizeof(pr));
	pr.file_id = file;
	pr.page_no = page_no;
	pr.ocr_confidence = -1;
	pr.kind = "page";
	pr.blank = 1;
	return cv_index_queue_page_done(ix, who, &pr, lost, &err);
}

START_TEST(test_index_queue_claims_are_exclusive_and_leased)
{
	struct q q;
	int lost = -1;

	q_setup(&q, 3);
	ck_assert_int_eq(claim(q.a, "A", 2, NULL), 2);
	ck_assert_int_eq(claim(q.b, "B", 5, NULL), 1);
	/* Every page is held under a live lease. */
	ck_assert_int_eq(claim(q.b, "B", 5, NULL), 0);

	/* A stalls past its lease: B takes its pages over. */
	must_exec(q.a, "UPDATE pages SET lease_until = now() - interval '1 s'"
		       " WHERE claimed_by = 'A'");
	ck_assert_int_eq(claim(q.b, "B", 5, NULL), 2);
	ck_assert_int_eq(
		value(q.a, "SELECT count(*) FROM pages WHERE attempts = 2"), 2);

	/* A wakes up: what it records under the lost claim is dropped. */
	ck_assert_int_eq(page_done(q.a, "A", q.file, 1, &lost), 0);
	ck_assert_int_eq(lost, 1);
	ck_assert_int_eq(
		value(q.a, "SELECT count(*) FROM pages WHERE state = 'done'"),
		0);
	ck_assert_int_eq(page_done(q.b, "B", q.file, 1, &lost), 0);
	ck_assert_int_eq(lost, 0);
	ck_assert_int_eq(
		value(q.a,
		      "SELECT count(*) FROM pages WHERE state = 'done' AND claimed_by = 'B' AND lease_until IS NULL"),
		1);
	/* Done is done: a second record under the same claim is refused. */
	ck_assert_int_eq(page_done(q.b, "B", q.file, 1, &lost), 0);
	ck_assert_int_eq(lost, 1);
	q_teardown(&q);
}
END_TEST

START_TEST(test_index_queue_dead_session_claims_are_taken_at_once)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index *c;
	char *pid;
	int i;

	struct q q;

	q_setup(&q, 3);
	c = connect_or_fail(q.dsn);
	ck_assert_int_eq(claim(c, "C", 3, NULL), 3);
	pid = cv_asprintf(
		"SELECT count(*) FROM pg_stat_activity WHERE pid = %lld",
		value(c, "SELECT pg_backend_pid()"));
	cv_index_free(c);
	for (i = 0; i < 100 && value(q.a, pid) > 0; i++)
		usleep(50000);
	/* The leases still run, but their session is gone. */
	ck_assert_int_eq(claim(q.b, "B", 5, NULL), 3);
	/* Renewing and giving back touch only one's own claims. */
	ck_assert_int_eq(cv_index_queue_release(q.a, "B", NULL, 0, &err), 0);
	ck_assert_int_eq(
		value(q.a, "SELECT count(*) FROM pages WHERE claimed_by = 'B'"),
		3);
	ck_assert_int_eq(cv_index_queue_release(q.b, "B", NULL, 0, &err), 0);
	ck_assert_int_eq(
		value(q.a,
		      "SELECT count(*) FROM pages WHERE claimed_by IS NULL AND attempts = 1"),
		3);
	ck_assert_int_eq(claim(q.a, "A", 5, NULL), 3);
	free(pid);
	q_teardown(&q);
}
END_TEST

START_TEST(test_index_queue_page_that_kills_workers_is_failed)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_claim *c = NULL;
	size_t n = 0;
	int i;

	struct q q;

	q_setup(&q, 3);
	must_exec(q.a, "UPDATE pages SET state = 'done' WHERE page_no > 1");
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(cv_index_queue_claim(q.a, "A", 0, 60, 2, 5, &c,
						      &n, &err),
				 0);
		ck_assert_int_eq(n, 1);
		cv_index_claims_free(c, n);
		must_exec(
			q.a,
			"UPDATE pages SET lease_until = now() - interval '1 s'"
			" WHERE claimed_by = 'A'");
	}
	ck_assert_int_eq(
		cv_index_queue_claim(q.b, "B", 0, 60, 2, 5, &c, &n, &err), 0);
	ck_assert_int_eq(n, 0);
	cv_index_claims_free(c, n);
	ck_assert_int_eq(
		value(q.a,
		      "SELECT count(*) FROM pages WHERE page_no = 1 AND state = 'failed' AND error LIKE 'page stopped its OCR worker 2 times%'"),
		1);
	ck_assert_int_eq(
		value(q.a,
		      "SELECT count(*) FROM rejects WHERE page = 1 AND name = 'f.tif' AND reason LIKE 'page stopped%'"),
		1);
	q_teardown(&q);
}
END_TEST

START_TEST(test_index_queue_batch_is_cut_once_after_intake)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_unit_file *fa = NULL, *fb = NULL;
	int64_t *pending = NULL;
	size_t na = 0, nb = 0, np = 0;
	int ready = -1;

	struct q q;

	q_setup(&q, 3);
	must_exec(q.a, "UPDATE pages SET state = 'done'");

	/* An intake is adding files: nobody cuts the batch. */
	ck_assert_int_eq(cv_index_intake_begin(q.a, q.batch, &err), 0);
	ck_assert_int_eq(cv_index_begin(q.b, &err), 0);
	ck_assert_int_eq(
		cv_index_assembly_begin(q.b, q.batch, &ready, &fb, &nb, &err),
		0);
	ck_assert_int_eq(ready, 0);
	cv_index_rollback(q.b);
	ck_assert_int_eq(cv_index_assembly_pending(q.b, &pending, &np, &err),
			 0);
	ck_assert_int_eq(np, 0);
	free(pending);

	/* An intake that failed unlocks, but keeps the batch back. */
	ck_assert_int_eq(cv_index_intake_end(q.a, q.batch, 0, &err), 0);
	ck_assert_int_eq(cv_index_begin(q.b, &err), 0);
	ck_assert_int_eq(
		cv_index_assembly_begin(q.b, q.batch, &ready, &fb, &nb, &err),
		0);
	ck_assert_int_eq(ready, 0);
	cv_index_rollback(q.b);

	/* One that finished lets exactly one worker cut it. */
	ck_assert_int_eq(cv_index_intake_begin(q.a, q.batch, &err), 0);
	ck_assert_int_eq(cv_index_intake_end(q.a, q.batch, 1, &err), 0);
	ck_assert_int_eq(cv_index_assembly_pending(q.b, &pending, &np, &err),
			 0);
	ck_assert_int_eq(np, 1);
	ck_assert_int_eq(pending[0], q.batch);
	free(pending);
	ck_assert_int_eq(cv_index_begin(q.a, &err), 0);
	ck_assert_int_eq(
		cv_index_assembly_begin(q.a, q.batch, &ready, &fa, &na, &err),
		0);
	ck_assert_int_eq(ready, 1);
	ck_assert_int_eq(na, 1);
	ck_assert_int_eq(fa[0].file_id, q.file);
	ck_assert_int_eq(cv_index_begin(q.b, &err), 0);
	ck_assert_int_eq(
		cv_index_assembly_begin(q.b, q.batch, &ready, &fb, &nb, &err),
		0);
	ck_assert_int_eq(ready, 0);
	cv_index_rollback(q.b);
	ck_assert_int_eq(cv_index_file_done(q.a, q.file, &err), 0);
	ck_assert_int_eq(cv_index_commit(q.a, &err), 0);
	/* Afterwards there is nothing left to cut. */
	ck_assert_int_eq(cv_index_begin(q.b, &err), 0);
	ck_assert_int_eq(
		cv_index_assembly_begin(q.b, q.batch, &ready, &fb, &nb, &err),
		0);
	ck_assert_int_eq(ready, 0);
	cv_index_rollback(q.b);
	cv_index_unit_files_free(fa, na);
	q_teardown(&q);
}
END_TEST

START_TEST(test_index_queue_batch_with_waiting_page_is_not_cut)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_unit_file *f = NULL;
	struct cv_index_queue_status st;
	size_t n = 0;
	int ready = -1;

	struct q q;

	q_setup(&q, 3);
	must_exec(q.a, "UPDATE pages SET state = 'done' WHERE page_no < 3");
	ck_assert_int_eq(cv_index_queue_status(q.a, q.batch, &st, &err), 0);
	ck_assert_int_eq(st.queued, 1);
	ck_assert_int_eq(st.claimed, 0);
	ck_assert_int_eq(st.open_files, 1);
	ck_assert_int_eq(st.pages_total, 3);
	ck_assert_int_eq(cv_index_begin(q.a, &err), 0);
	ck_assert_int_eq(
		cv_index_assembly_begin(q.a, q.batch, &ready, &f, &n, &err), 0);
	ck_assert_int_eq(ready, 0);
	ck_assert_ptr_null(f);
	cv_index_rollback(q.a);
	q_teardown(&q);
}
END_TEST

Suite *cv_index_queue_suite(void)
{
	Suite *s = suite_create("index_queue");
	TCase *tc = tcase_create("queue");

	tcase_set_tags(tc, "db");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_index_queue_claims_are_exclusive_and_leased);
	tcase_add_test(tc,
		       test_index_queue_dead_session_claims_are_taken_at_once);
	tcase_add_test(tc, test_index_queue_page_that_kills_workers_is_failed);
	tcase_add_test(tc, test_index_queue_batch_is_cut_once_after_intake);
	tcase_add_test(tc, test_index_queue_batch_with_waiting_page_is_not_cut);
	suite_add_tcase(s, tc);
	return s;
}
