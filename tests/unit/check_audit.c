/*
 * Unit tests for users and the tamper-evident audit trail: index/users.c,
 * index/audit.c (the chain), archive/auditlog.c (checkpoints and
 * verification) and archive/password.c. Each test has a database of its
 * own on the harness's server; tampering is done the way an attacker with
 * the database superuser would: switch the append-only trigger off and
 * edit, delete or renumber rows in SQL.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gcrypt.h>
#include <libpq-fe.h>

#include "common/cv.h"
#include "archive/archive.h"
#include "index/index.h"
#include "index/index_int.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

struct fixture {
	char *dsn;
	char *dir;
	char *cpfile;
	struct cv_index *ix;
	struct cv_archive_keys *keys;
	uint8_t pub[32];
};

static void sql(struct cv_index *ix, const char *q)
{
	PGresult *res = PQexec(ix->conn, q);

	ck_assert_msg(cv_index__result_ok(res), "%s: %s", q,
		      PQresultErrorMessage(res));
	PQclear(res);
}

static void setup(struct fixture *f)
{
	struct cv_error err = CV_ERROR_INIT;
	char *keyfile;

	memset(f, 0, sizeof(*f));
	ck_assert_msg(cv_archive_global_init(&err) == 0, "%s", err.msg);
	f->dsn = cvt_pg_createdb(&cvt_shared_pg);
	ck_assert_msg(cv_index_open(&f->ix, f->dsn, &err) == 0, "%s: %s",
		      err.msg, err.detail);
	ck_assert_msg(cv_index_migrate(f->ix, NULL, NULL, &err) == 0, "%s: %s",
		      err.msg, err.detail);
	f->dir = cvt_tmpdir("audit");
	keyfile = cv_path_join(f->dir, "test.key");
	ck_assert_msg(cv_archive_keys_create(keyfile, NULL, &err) == 0, "%s",
		      err.msg);
	ck_assert_msg(cv_archive_keys_load(&f->keys, keyfile, NULL, &err) == 0,
		      "%s", err.msg);
	cv_archive_public_key(f->keys, f->pub);
	f->cpfile = cv_path_join(f->dir, "audit/checkpoints.log");
	free(keyfile);
}

static void teardown(struct fixture *f)
{
	cv_index_free(f->ix);
	cv_archive_keys_free(f->keys);
	cvt_rmrf(f->dir);
	free(f->dir);
	free(f->dsn);
	free(f->cpfile);
}

static void append(struct fixture *f, const char *actor, const char *action,
		   const char *type, const char *id)
{
	struct cv_error err = CV_ERROR_INIT;

	ck_assert_msg(cv_index_audit(f->ix, actor, action, type, id, NULL, NULL,
				     &err) == 0,
		      "audit: %s: %s", err.msg, err.detail);
}

static void append_n(struct fixture *f, int n)
{
	char id[16];
	int i;

	for (i = 1; i <= n; i++) {
		snprintf(id, sizeof(id), "%d", i);
		append(f, "alice", "document.view", "document", id);
	}
}

static void verify(struct fixture *f, struct cv_archive_audit_report *rep)
{
	struct cv_error err = CV_ERROR_INIT;

	ck_assert_msg(cv_archive_audit_verify(f->ix, f->pub, f->cpfile, rep,
					      &err) == 0,
		      "verify: %s: %s", err.msg, err.detail);
}

static int checkpoint(struct fixture *f, int force, int64_t rows)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_audit_cp_opts o = { force, rows, 60 };
	int written = 0;

	ck_assert_msg(cv_archive_audit_checkpoint(f->ix, f->keys, f->cpfile, &o,
						  NULL, &written, &err) == 0,
		      "checkpoint: %s: %s", err.msg, err.detail);
	return written;
}

/* 1 when some problem of rep names this seq and contains text. */
static int reports(const struct cv_archive_audit_report *rep, int64_t seq,
		   const char *text)
{
	size_t i;

	for (i = 0; i < rep->nproblems; i++)
		if ((seq == 0 || rep->problems[i].seq == seq) &&
		    strstr(rep->problems[i].what, text))
			return 1;
	return 0;
}

static void dump(const struct cv_archive_audit_report *rep)
{
	size_t i;

	for (i = 0; i < rep->nproblems; i++)
		fprintf(stderr, "  problem seq %lld: %s\n",
			(long long)rep->problems[i].seq, rep->problems[i].what);
}

#define UNLOCK "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"

/* ---------------------------------------------------------------------
 * The chain
 */

START_TEST(test_audit_chain_is_dense_and_verifies)
{
	struct fixture f;
	struct cv_archive_audit_report rep;

	struct cv_index_audit_entry e;
	struct cv_error err = CV_ERROR_INIT;
	int64_t seq = 0;

	setup(&f);
	append_n(&f, 4);
	/* Every field, multi-byte text and NULLs: the server's canonical
	 * bytes (audit_append) and the C ones must agree byte for byte. */
	memset(&e, 0, sizeof(e));
	e.actor = "zoë";
	e.action = "document.export";
	e.object_type = "document";
	e.object_id = "77";
	e.patient = "MRN-Ü1";
	e.purpose = "ROI request 2026-114 – patient copy";
	e.detail = "pages 1-3; 中文";
	e.outcome = "ok";
	ck_assert_int_eq(cv_index_audit_append(f.ix, &e, &seq, &err), 0);
	ck_assert_int_eq(seq, 5);
	memset(&e, 0, sizeof(e));
	e.actor = "x";
	e.action = "y";
	ck_assert_int_eq(cv_index_audit_append(f.ix, &e, &seq, &err), 0);
	ck_assert_int_eq(seq, 6);
	ck_assert_int_eq(cvt_sql_count(f.dsn,
				       "SELECT document_id FROM audit_log"
				       " WHERE seq = 5"),
			 77);
	ck_assert_int_eq(cvt_sql_count(f.dsn, "SELECT count(DISTINCT seq)"
					      " FROM audit_log"
					      " WHERE seq BETWEEN 1 AND 6"),
			 6);
	ck_assert_int_eq(cvt_sql_count(f.dsn, "SELECT count(*) FROM audit_log"
					      " a JOIN audit_log b"
					      " ON b.seq = a.seq + 1"
					      " WHERE b.prev_hash = a.hash"),
			 5);
	verify(&f, &rep);
	dump(&rep);
	ck_assert_int_eq(rep.total_problems, 0);
	ck_assert_int_eq(rep.rows, 6);
	ck_assert_int_eq(rep.head_seq, 6);
	cv_archive_audit_report_release(&rep);
	teardown(&f);
}
END_TEST

START_TEST(test_audit_rows_are_append_only)
{
	struct fixture f;
	PGresult *res;

	setup(&f);
	append_n(&f, 2);
	res = PQexec(f.ix->conn, "UPDATE audit_log SET actor = 'x'");
	ck_assert_int_eq(PQresultStatus(res), PGRES_FATAL_ERROR);
	PQclear(res);
	res = PQexec(f.ix->conn, "DELETE FROM audit_log");
	ck_assert_int_eq(PQresultStatus(res), PGRES_FATAL_ERROR);
	PQclear(res);
	res = PQexec(f.ix->conn, "TRUNCATE audit_log");
	ck_assert_int_eq(PQresultStatus(res), PGRES_FATAL_ERROR);
	PQclear(res);
	ck_assert_int_eq(cvt_sql_count(f.dsn, "SELECT count(*) FROM audit_log"),
			 2);
	teardown(&f);
}
END_TEST

START_TEST(test_audit_verify_names_an_edited_row)
{
	struct fixture f;
	struct cv_archive_audit_report rep;

	setup(&f);
	append_n(&f, 5);
	sql(f.ix, UNLOCK);
	sql(f.ix, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3");
	verify(&f, &rep);
	dump(&rep);
	ck_assert_int_eq(rep.total_problems, 1);
	ck_assert(reports(&rep, 3, "row seq 3"));
	ck_assert(reports(&rep, 3, "edited"));
	cv_archive_audit_report_release(&rep);
	teardown(&f);
}
END_TEST

START_TEST(test_audit_verify_names_an_edited_time_and_outcome)
{
	struct fixture f;
	struct cv_archive_audit_report rep;

	setup(&f);
	append_n(&f, 4);
	sql(f.ix, UNLOCK);
	sql(f.ix, "UPDATE audit_log SET at = at - interval '1 day'"
		  " WHERE seq = 2");
	sql(f.ix, "UPDATE audit_log SET outcome = 'denied' WHERE seq = 4");
	verify(&f, &rep);
	dump(&rep);
	ck_assert(reports(&rep, 2, "edited"));
	ck_assert(reports(&rep, 4, "edited"));
	ck_assert_int_eq(rep.total_problems, 2);
	cv_archive_audit_report_release(&rep);
	teardown(&f);
}
END_TEST

START_TEST(test_audit_verify_names_a_deleted_row)
{
	struct fixture f;
	struct cv_archive_audit_report rep;

	setup(&f);
	append_n(&f, 5);
	sql(f.ix, UNLOCK);
	sql(f.ix, "DELETE FROM audit_log WHERE seq = 3");
	verify(&f, &rep);
	dump(&rep);
	ck_assert(reports(&rep, 4, "row seq 3 is missing"));
	ck_assert(reports(&rep, 4, "does not follow"));
	cv_archive_audit_report_release(&rep);
	teardown(&f);
}
END_TEST

START_TEST(test_audit_verify_names_reordered_rows)
{
	struct fixture f;
	struct cv_archive_audit_report rep;

	setup(&f);
	append_n(&f, 5);
	sql(f.ix, UNLOCK);
	/* Swap rows 2 and 3 by renumbering them. */
	sql(f.ix, "UPDATE audit_log SET seq = -seq WHERE seq IN (2, 3)");
	sql(f.ix, "UPDATE audit_log SET seq = CASE seq WHEN -2 THEN 3"
		  " ELSE 2 END WHERE seq IN (-2, -3)");
	verify(&f, &rep);
	dump(&rep);
	ck_assert(reports(&rep, 2, "row seq 2"));
	ck_assert(reports(&rep, 3, "row seq 3"));
	ck_assert(rep.total_problems >= 2);
	cv_archive_audit_report_release(&rep);
	teardown(&f);
}
END_TEST

/* Recompute every hash from seq after..., as one who knows the format. */
static void rehash_from(struct fixture *f, int64_t from)
{
	PGresult *res;
	struct cv_buf canon = CV_BUF_INIT;
	uint8_t prev[32] = { 0 }, h[32];
	char q[128];
	int i, n;

	snprintf(q, sizeof(q), "SELECT hash FROM audit_log WHERE seq = %lld",
		 (long long)from - 1);
	res = PQexec(f->ix->conn, q);
	if (PQntuples(res) == 1)
		cv_index__get_bytea(prev, 32, res, 0, 0);
	PQclear(res);
	res = PQexec(
		f->ix->conn,
		"SELECT id, seq, to_char(at AT TIME ZONE 'UTC',"
		" 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), actor, role, os_user,"
		" host, session, action, object_type, object_id, patient,"
		" document_id::text, purpose, detail, outcome FROM audit_log"
		" ORDER BY seq");
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		struct cv_index_audit_row r;
		char *hex_prev, *hex_h, up[400];
		char ph[65], hh[65];
		int c;

		memset(&r, 0, sizeof(r));
		cv_index__get_i64(&r.id, res, i, 0);
		cv_index__get_i64(&r.seq, res, i, 1);
		if (r.seq < from)
			continue;
		snprintf(r.at, sizeof(r.at), "%s", PQgetvalue(res, i, 2));
		{
			const char **fields[] = {
				&r.actor,       &r.role,      &r.os_user,
				&r.host,        &r.session,   &r.action,
				&r.object_type, &r.object_id, &r.patient,
				&r.document_id, &r.purpose,   &r.detail,
				&r.outcome
			};
			for (c = 0; c < 13; c++)
				*fields[c] =
					PQgetisnull(res, i, c + 3)
						? NULL
						: PQgetvalue(res, i, c + 3);
		}
		cv_buf_reset(&canon);
		cv_buf_add(&canon, prev, 32);
		cv_index_audit_canonical(&canon, &r);
		gcry_md_hash_buffer(GCRY_MD_SHA256, h, canon.buf, canon.len);
		cv_hex_encode(ph, prev, 32);
		cv_hex_encode(hh, h, 32);
		hex_prev = ph;
		hex_h = hh;
		snprintf(up, sizeof(up),
			 "UPDATE audit_log SET prev_hash = '\\x%s',"
			 " hash = '\\x%s' WHERE id = %lld",
			 hex_prev, hex_h, (long long)r.id);
		sql(f->ix, up);
		memcpy(prev, h, 32);
	}
	PQclear(res);
	cv_buf_release(&canon);
}

START_TEST(test_audit_rehashed_chain_fails_against_the_checkpoint)
{
	struct fixture f;
	struct cv_archive_audit_report rep;

	setup(&f);
	append_n(&f, 5);
	ck_assert_int_eq(checkpoint(&f, 1, 1000), 1);
	append_n(&f, 2);
	sql(f.ix, UNLOCK);
	sql(f.ix, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2");
	rehash_from(&f, 2);
	verify(&f, &rep);
	dump(&rep);
	/* The chain itself is consistent again; only the signature tells. */
	ck_assert(!reports(&rep, 0, "edited"));
	ck_assert(reports(&rep, 5, "does not match the signed checkpoint"));
	cv_archive_audit_report_release(&rep);
	teardown(&f);
}
END_TEST

START_TEST(test_audit_cut_tail_fails_against_the_checkpoint)
{
	struct fixture f;
	struct cv_archive_audit_report rep;

	setup(&f);
	append_n(&f, 5);
	ck_assert_int_eq(checkpoint(&f, 1, 1000), 1);
	sql(f.ix, UNLOCK);
	sql(f.ix, "DELETE FROM audit_log WHERE seq >= 4");
	verify(&f, &rep);
	dump(&rep);
	ck_assert(reports(&rep, 5, "rows were deleted from the end"));
	cv_archive_audit_report_release(&rep);
	teardown(&f);
}
END_TEST

/* ---------------------------------------------------------------------
 * Checkpoints
 */

START_TEST(test_audit_checkpoint_is_signed_and_exported)
{
	struct fixture f;
	struct cv_archive_audit_report rep;
	struct cv_buf file = CV_BUF_INIT;
	struct cv_error err = CV_ERROR_INIT;

	setup(&f);
	ck_assert_int_eq(checkpoint(&f, 1, 1000), 0); /* empty chain */
	append_n(&f, 3);
	ck_assert_int_eq(checkpoint(&f, 1, 1000), 1);
	ck_assert_int_eq(checkpoint(&f, 1, 1000), 0); /* nothing new */
	ck_assert_int_eq(cvt_sql_count(f.dsn,
				       "SELECT count(*) FROM"
				       " audit_checkpoints WHERE seq = 3"),
			 1);
	ck_assert_int_eq(cv_fs_read_file(&file, f.cpfile, 1 << 20, &err), 0);
	ck_assert_msg(!strncmp(file.buf, "cvaudit-checkpoint 1 3 ", 23), "%s",
		      file.buf);
	ck_assert_int_eq((int)file.len,
			 (int)(strchr(file.buf, '\n') - file.buf + 1));
	verify(&f, &rep);
	dump(&rep);
	ck_assert_int_eq(rep.total_problems, 0);
	ck_assert_int_eq(rep.checkpoints_ok, 1);
	cv_archive_audit_report_release(&rep);
	cv_buf_release(&file);
	teardown(&f);
}
END_TEST

START_TEST(test_audit_checkpoint_due_by_rows)
{
	struct fixture f;

	setup(&f);
	append_n(&f, 1);
	ck_assert_int_eq(checkpoint(&f, 0, 3), 1); /* the first is due */
	append_n(&f, 2);
	ck_assert_int_eq(checkpoint(&f, 0, 3), 0);
	append_n(&f, 1);
	ck_assert_int_eq(checkpoint(&f, 0, 3), 1);
	teardown(&f);
}
END_TEST

START_TEST(test_audit_forged_or_missing_checkpoint_is_reported)
{
	struct fixture f;
	struct cv_archive_audit_report rep;
	struct cv_buf file = CV_BUF_INIT;
	struct cv_error err = CV_ERROR_INIT;
	char *p;

	setup(&f);
	append_n(&f, 3);
	ck_assert_int_eq(checkpoint(&f, 1, 1000), 1);
	ck_assert_int_eq(cv_fs_read_file(&file, f.cpfile, 1 << 20, &err), 0);
	/* Flip one hex digit of the signature (the line's last field). */
	p = strrchr(file.buf, ' ') + 5;
	*p = *p == '0' ? '1' : '0';
	ck_assert_int_eq(
		cv_fs_write_atomic(f.cpfile, file.buf, file.len, 0600, 0, &err),
		0);
	verify(&f, &rep);
	dump(&rep);
	ck_assert(reports(&rep, 3, "not signed by this archive's key"));
	ck_assert(reports(&rep, 3, "not in the checkpoint file"));
	cv_archive_audit_report_release(&rep);
	/* A file cut to nothing, with the database still listing it. */
	ck_assert_int_eq(cv_fs_write_atomic(f.cpfile, "", 0, 0600, 0, &err), 0);
	verify(&f, &rep);
	dump(&rep);
	ck_assert(reports(&rep, 3, "not in the checkpoint file"));
	cv_archive_audit_report_release(&rep);
	cv_buf_release(&file);
	teardown(&f);
}
END_TEST

START_TEST(test_audit_other_key_does_not_verify)
{
	struct fixture f;
	struct cv_archive_audit_report rep;

	setup(&f);
	append_n(&f, 2);
	ck_assert_int_eq(checkpoint(&f, 1, 1000), 1);
	f.pub[0] ^= 1;
	verify(&f, &rep);
	ck_assert(reports(&rep, 2, "not signed by this archive's key"));
	cv_archive_audit_report_release(&rep);
	teardown(&f);
}
END_TEST

/* ---------------------------------------------------------------------
 * Appends: old rows, context, concurrency, reports
 */

START_TEST(test_audit_rows_from_before_the_chain_are_sealed)
{
	struct fixture f;
	struct cv_archive_audit_report rep;
	struct cv_error err = CV_ERROR_INIT;

	setup(&f);
	append_n(&f, 2);
	/* As a chartvault from before 0010 wrote them. */
	sql(f.ix, "INSERT INTO audit_log (actor, action, object_type,"
		  " object_id) VALUES ('old', 'search', 'documents', '1,2')");
	ck_assert_int_eq(cv_index_audit_seal(f.ix, &err), 0);
	ck_assert_int_eq(cvt_sql_count(f.dsn, "SELECT seq FROM audit_log"
					      " WHERE actor = 'old'"),
			 3);
	append_n(&f, 1);
	verify(&f, &rep);
	dump(&rep);
	ck_assert_int_eq(rep.total_problems, 0);
	ck_assert_int_eq(rep.rows, 4);
	cv_archive_audit_report_release(&rep);
	teardown(&f);
}
END_TEST

START_TEST(test_audit_context_and_derived_patient)
{
	struct fixture f;
	struct cv_index_audit_ctx ctx = { "records", "rita", "host1", "cli:1" };

	setup(&f);
	sql(f.ix,
	    "INSERT INTO batches (id, name, operator) VALUES (1, 'b', 'o')");
	sql(f.ix, "INSERT INTO documents (id, batch_id, mrn) VALUES"
		  " (7, 1, 'MRN-7'), (8, 1, 'MRN-8')");
	cv_index_audit_set_context(f.ix, &ctx);
	append(&f, "rita", "document.view", "document", "7");
	append(&f, "rita", "search", "documents", "8,7");
	append(&f, "rita", "search", "documents", "8");
	ck_assert_int_eq(
		cvt_sql_count(f.dsn,
			      "SELECT count(*) FROM audit_log"
			      " WHERE patient = 'MRN-7'"
			      " AND document_id = 7 AND role = 'records'"
			      " AND os_user = 'rita' AND host = 'host1'"),
		1);
	cv_index_audit_set_context(f.ix, NULL);
	teardown(&f);
}
END_TEST

static int count_row(void *ctx, const struct cv_index_audit_row *r,
		     struct cv_error *err)
{
	(void)r;
	(void)err;
	(*(int *)ctx)++;
	return 0;
}

START_TEST(test_audit_query_by_patient_finds_views_and_searches)
{
	struct fixture f;
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_audit_filter flt;
	int n = 0;

	setup(&f);
	sql(f.ix,
	    "INSERT INTO batches (id, name, operator) VALUES (1, 'b', 'o')");
	sql(f.ix, "INSERT INTO documents (id, batch_id, mrn) VALUES"
		  " (7, 1, 'MRN-7'), (8, 1, 'MRN-8')");
	append(&f, "rita", "document.view", "document", "7");
	append(&f, "rita", "search", "documents", "8,7");
	append(&f, "rita", "search", "documents", "8");
	append(&f, "sam", "document.view", "document", "8");
	memset(&flt, 0, sizeof(flt));
	flt.patient = "MRN-7";
	ck_assert_int_eq(cv_index_audit_query(f.ix, &flt, count_row, &n, &err),
			 0);
	ck_assert_int_eq(n, 2);
	memset(&flt, 0, sizeof(flt));
	flt.actor = "sam";
	n = 0;
	ck_assert_int_eq(cv_index_audit_query(f.ix, &flt, count_row, &n, &err),
			 0);
	ck_assert_int_eq(n, 1);
	memset(&flt, 0, sizeof(flt));
	flt.document_id = 8;
	n = 0;
	ck_assert_int_eq(cv_index_audit_query(f.ix, &flt, count_row, &n, &err),
			 0);
	ck_assert_int_eq(n, 3);
	teardown(&f);
}
END_TEST

START_TEST(test_audit_concurrent_writers_keep_one_chain)
{
	struct fixture f;
	struct cv_archive_audit_report rep;
	pid_t pids[4];
	int i, st;

	setup(&f);
	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		ck_assert(pids[i] >= 0);
		if (pids[i] == 0) {
			struct cv_error err = CV_ERROR_INIT;
			struct cv_index *ix = NULL;
			int k, bad = 0;

			if (cv_index_open(&ix, f.dsn, &err) < 0)
				_exit(2);
			for (k = 0; k < 25; k++)
				bad |= cv_index_audit(ix, "w", "document.view",
						      "document", "1", NULL,
						      NULL, &err) < 0;
			cv_index_free(ix);
			_exit(bad);
		}
	}
	for (i = 0; i < 4; i++) {
		ck_assert(waitpid(pids[i], &st, 0) == pids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			      "writer %d failed", i);
	}
	ck_assert_int_eq(cvt_sql_count(f.dsn, "SELECT count(*) FROM audit_log"
					      " WHERE seq BETWEEN 1 AND 100"),
			 100);
	verify(&f, &rep);
	dump(&rep);
	ck_assert_int_eq(rep.total_problems, 0);
	ck_assert_int_eq(rep.rows, 100);
	cv_archive_audit_report_release(&rep);
	teardown(&f);
}
END_TEST

/*
 * A group appended at once (the viewer's view writer does this): each row
 * chained by audit_append, in the order given, the fields of each kept
 * apart however hostile their text, and the chain verifies around it.
 */
START_TEST(test_audit_append_many_in_order_and_verifies)
{
	enum {
		N = 200
	};
	static const char *const details[] = {
		NULL,   "a,b",      "{x}", "quote \" here", "back\\s",
		"NULL", "中文 – ü", "",    "\"{,}\"",       "tab\there",
	};
	struct fixture f;
	struct cv_archive_audit_report rep;
	struct cv_index_audit_entry e[N];
	struct cv_error err = CV_ERROR_INIT;
	char ids[N][16];
	int64_t first = 0;
	int i;

	setup(&f);
	sql(f.ix,
	    "INSERT INTO batches (id, name, operator) VALUES (1, 'b', 'o')");
	sql(f.ix, "INSERT INTO documents (id, batch_id, mrn) VALUES"
		  " (7, 1, 'MRN-7')");
	append_n(&f, 2);
	memset(e, 0, sizeof(e));
	for (i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%d", 1000 + i);
		e[i].actor = i % 3 ? "rita" : "sam";
		e[i].action = i % 2 ? "page.view" : "document.view";
		e[i].object_type = i % 2 ? "page" : "document";
		e[i].object_id = i % 2 ? ids[i] : "7";
		e[i].detail = details[i % 10];
		e[i].outcome = i % 7 ? NULL : "not-found";
	}
	ck_assert_msg(cv_index_audit_append_many(f.ix, e, N, &first, &err) == 0,
		      "%s: %s", err.msg, err.detail);
	ck_assert_int_eq(first, 3);
	append(&f, "x", "y", NULL, NULL);
	/* In the order given, every field where it was put. */
	for (i = 0; i < N; i++) {
		char *q = cv_asprintf(
			"SELECT count(*) FROM audit_log WHERE seq = %d"
			" AND actor = '%s' AND action = '%s'"
			" AND object_id = '%s' AND outcome = '%s'"
			" AND (detail IS NULL) = %s"
			" AND (coalesce(patient, '') = 'MRN-7'"
			" AND coalesce(document_id, 0) = 7) = %s",
			3 + i, e[i].actor, e[i].action, e[i].object_id,
			e[i].outcome ? e[i].outcome : "ok",
			e[i].detail ? "false" : "true",
			i % 2 ? "false" : "true");

		ck_assert_msg(cvt_sql_count(f.dsn, q) == 1, "row %d", i);
		free(q);
	}
	ck_assert_int_eq(cvt_sql_count(f.dsn, "SELECT count(*) FROM audit_log"
					      " WHERE detail = '\"{,}\"'"),
			 N / 10);
	ck_assert_int_eq(cvt_sql_count(f.dsn, "SELECT count(*) FROM audit_log"
					      " WHERE detail = 'back\\s'"),
			 N / 10);
	ck_assert_int_eq(cvt_sql_count(f.dsn, "SELECT max(seq) FROM audit_log"),
			 N + 3);
	verify(&f, &rep);
	dump(&rep);
	ck_assert_int_eq(rep.total_problems, 0);
	ck_assert_int_eq(rep.rows, N + 3);
	cv_archive_audit_report_release(&rep);

	/* An entry without its action: nothing of the group is written. */
	e[5].action = NULL;
	ck_assert_int_eq(cv_index_audit_append_many(f.ix, e, N, NULL, &err),
			 CV_EINVAL);
	ck_assert_int_eq(cvt_sql_count(f.dsn, "SELECT count(*) FROM audit_log"),
			 N + 3);
	ck_assert_int_eq(cv_index_audit_append_many(f.ix, e, 0, NULL, &err), 0);
	teardown(&f);
}
END_TEST

/* Groups from writers at once: each group's rows stay together. */
START_TEST(test_audit_append_many_groups_stay_whole)
{
	struct fixture f;
	struct cv_archive_audit_report rep;
	pid_t pids[4];
	int i, st;

	setup(&f);
	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		ck_assert(pids[i] >= 0);
		if (pids[i] == 0) {
			struct cv_error err = CV_ERROR_INIT;
			struct cv_index_audit_entry e[10];
			struct cv_index *ix = NULL;
			char tag[10][32];
			int g, k, bad = 0;

			if (cv_index_open(&ix, f.dsn, &err) < 0)
				_exit(2);
			for (g = 0; g < 5; g++) {
				memset(e, 0, sizeof(e));
				for (k = 0; k < 10; k++) {
					snprintf(tag[k], sizeof(tag[k]),
						 "%d.%d", i, g);
					e[k].actor = "w";
					e[k].action = "page.view";
					e[k].object_type = "group";
					e[k].object_id = tag[k];
				}
				bad |= cv_index_audit_append_many(
					       ix, e, 10, NULL, &err) < 0;
			}
			cv_index_free(ix);
			_exit(bad);
		}
	}
	for (i = 0; i < 4; i++) {
		ck_assert(waitpid(pids[i], &st, 0) == pids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			      "writer %d failed", i);
	}
	ck_assert_int_eq(cvt_sql_count(f.dsn, "SELECT count(*) FROM audit_log"
					      " WHERE seq BETWEEN 1 AND 200"),
			 200);
	ck_assert_int_eq(cvt_sql_count(f.dsn,
				       "SELECT count(*) FROM (SELECT object_id"
				       " FROM audit_log GROUP BY object_id"
				       " HAVING count(*) = 10"
				       " AND max(seq) - min(seq) = 9) g"),
			 20);
	verify(&f, &rep);
	dump(&rep);
	ck_assert_int_eq(rep.total_problems, 0);
	ck_assert_int_eq(rep.rows, 200);
	cv_archive_audit_report_release(&rep);
	teardown(&f);
}
END_TEST

/* ---------------------------------------------------------------------
 * Users and passwords
 */

START_TEST(test_users_add_lookup_role_disable)
{
	struct fixture f;
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_user u, got;
	int64_t n = 0;

	setup(&f);
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "carla");
	snprintf(u.os_user, sizeof(u.os_user), "carla1");
	u.role = CV_ROLE_CLERK;
	ck_assert_int_eq(cv_index_user_add(f.ix, &u, "root", &err), 0);
	ck_assert_int_eq(cv_index_user_add(f.ix, &u, "root", &err), CV_EEXISTS);
	snprintf(u.name, sizeof(u.name), "Bad Name");
	ck_assert_int_eq(cv_index_user_add(f.ix, &u, "root", &err), CV_EINVAL);
	ck_assert_int_eq(cv_index_user_get(f.ix, "carla1", 1, &got, &err), 0);
	ck_assert_str_eq(got.name, "carla");
	ck_assert_int_eq(got.role, CV_ROLE_CLERK);
	ck_assert_int_eq(cv_index_user_get(f.ix, "nobody", 1, &got, &err),
			 CV_ENOTFOUND);
	ck_assert_int_eq(
		cv_index_user_set_role(f.ix, "carla", CV_ROLE_COMPLIANCE, &err),
		0);
	ck_assert_int_eq(cv_index_user_disable(f.ix, "carla", &err), 0);
	ck_assert_int_eq(cv_index_user_get(f.ix, "carla", 0, &got, &err), 0);
	ck_assert_int_eq(got.role, CV_ROLE_COMPLIANCE);
	ck_assert(got.disabled);
	ck_assert_int_eq(cv_index_user_disable(f.ix, "ghost", &err),
			 CV_ENOTFOUND);
	ck_assert_int_eq(cv_index_user_count(f.ix, &n, &err), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(cv_role_parse("records"), CV_ROLE_RECORDS);
	ck_assert_int_eq(cv_role_parse("superuser"), 0);
	teardown(&f);
}
END_TEST

START_TEST(test_password_hash_roundtrip)
{
	struct cv_error err = CV_ERROR_INIT;
	char *a = NULL, *b = NULL;

	ck_assert_msg(cv_archive_global_init(&err) == 0, "%s", err.msg);
	ck_assert_int_eq(cv_archive_password_hash(&a, "long enough pass", &err),
			 0);
	ck_assert_int_eq(cv_archive_password_hash(&b, "long enough pass", &err),
			 0);
	ck_assert_msg(!strncmp(a, "$argon2id$v=19$m=65536,t=3,p=1$", 31), "%s",
		      a);
	ck_assert_str_ne(a, b); /* salted */
	ck_assert_int_eq(
		cv_archive_password_verify(a, "long enough pass", &err), 0);
	ck_assert_int_eq(
		cv_archive_password_verify(a, "long enough pasS", &err),
		CV_EMISMATCH);
	ck_assert_int_eq(cv_archive_password_verify("$argon2id$v=19$m=9999999,"
						    "t=3,p=1$AAAAAAAAAAA$AAAA",
						    "x", &err),
			 CV_EINVAL);
	ck_assert_int_eq(cv_archive_password_verify("plain", "x", &err),
			 CV_EINVAL);
	free(b);
	ck_assert_int_eq(cv_archive_password_hash(&b, "", &err), CV_EINVAL);
	ck_assert_ptr_null(b);
	free(a);
}
END_TEST

START_TEST(test_password_matches_reference_vectors)
{
	/* Made by the reference implementation (libargon2's
	 * argon2id_hash_encoded): another program's hashes verify here. */
	static const char small[] =
		"$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHQ$"
		"FqGkmHNGCd0BRW2kBt6fPZ2pPmyGwwChL8FGUhTOSSI";
	static const char ours[] =
		"$argon2id$v=19$m=65536,t=3,p=1$MDEyMzQ1Njc4OWFiY2RlZg$"
		"ALrFYrQHh1KWaC4LgENojgm+lPzqMm6ZqmLQ7bREBPw";
	struct cv_error err = CV_ERROR_INIT;

	ck_assert_msg(cv_archive_global_init(&err) == 0, "%s", err.msg);
	ck_assert_int_eq(cv_archive_password_verify(small, "password", &err),
			 0);
	ck_assert_int_eq(cv_archive_password_verify(small, "passwore", &err),
			 CV_EMISMATCH);
	ck_assert_int_eq(
		cv_archive_password_verify(ours, "correct horse battery", &err),
		0);
}
END_TEST

static TCase *db_case(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_set_tags(tc, "db");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	suite_add_tcase(s, tc);
	return tc;
}

Suite *cv_audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc;

	tc = db_case(s, "chain");
	tcase_add_test(tc, test_audit_chain_is_dense_and_verifies);
	tcase_add_test(tc, test_audit_rows_are_append_only);
	tcase_add_test(tc, test_audit_verify_names_an_edited_row);
	tcase_add_test(tc, test_audit_verify_names_an_edited_time_and_outcome);
	tcase_add_test(tc, test_audit_verify_names_a_deleted_row);
	tcase_add_test(tc, test_audit_verify_names_reordered_rows);
	tcase_add_test(tc,
		       test_audit_rehashed_chain_fails_against_the_checkpoint);
	tcase_add_test(tc, test_audit_cut_tail_fails_against_the_checkpoint);

	tc = db_case(s, "checkpoints");
	tcase_add_test(tc, test_audit_checkpoint_is_signed_and_exported);
	tcase_add_test(tc, test_audit_checkpoint_due_by_rows);
	tcase_add_test(tc, test_audit_forged_or_missing_checkpoint_is_reported);
	tcase_add_test(tc, test_audit_other_key_does_not_verify);

	tc = db_case(s, "appends");
	tcase_add_test(tc, test_audit_rows_from_before_the_chain_are_sealed);
	tcase_add_test(tc, test_audit_context_and_derived_patient);
	tcase_add_test(tc,
		       test_audit_query_by_patient_finds_views_and_searches);
	tcase_add_test(tc, test_audit_concurrent_writers_keep_one_chain);
	tcase_add_test(tc, test_audit_append_many_in_order_and_verifies);
	tcase_add_test(tc, test_audit_append_many_groups_stay_whole);

	tc = db_case(s, "users");
	tcase_add_test(tc, test_users_add_lookup_role_disable);

	tc = tcase_create("passwords");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_password_hash_roundtrip);
	tcase_add_test(tc, test_password_matches_reference_vectors);
	suite_add_tcase(s, tc);
	return s;
}
