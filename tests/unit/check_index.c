/*
 * Unit tests for index/: connections and the libpq error adapter,
 * transactions, migrations, the object catalogue, statistics and audit,
 * and the archive's private cluster. Database cases run against the
 * harness's throwaway server, each test in a database of its own; the
 * cluster cases run real initdb and pg_ctl in a temporary folder.
 */
#include <check.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/cv.h"
#include "common/config.h"
#include "index/index.h"
#include "index/index_int.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

/* ---------------------------------------------------------------------
 * Helpers
 */

static void must_exec(struct cv_index *ix, const char *sql)
{
	PGresult *res = PQexec(ix->conn, sql);

	ck_assert_msg(cv_index__result_ok(res), "%s: %s", sql,
		      PQresultErrorMessage(res));
	PQclear(res);
}

static char *query_value(struct cv_index *ix, const char *sql)
{
	PGresult *res = PQexec(ix->conn, sql);
	char *v;

	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK &&
			      PQntuples(res) == 1,
		      "%s: %s", sql, PQresultErrorMessage(res));
	v = cv_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static struct cv_index *open_or_fail(const char *dsn)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index *ix = NULL;

	ck_assert_msg(cv_index_open(&ix, dsn, &err) == 0, "open: %s: %s",
		      err.msg, err.detail);
	ck_assert_ptr_nonnull(ix);
	return ix;
}

/*
 * A database of this test's own on the shared server, so tests never see
 * each other's rows; *dsn is malloc'd.
 */
static struct cv_index *fresh_db(char **dsn)
{
	*dsn = cvt_pg_createdb(&cvt_shared_pg);
	return open_or_fail(*dsn);
}

static struct cv_index *migrated_db(char **dsn)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index *ix = fresh_db(dsn);

	ck_assert_msg(cv_index_migrate(ix, NULL, NULL, &err) == 0,
		      "migrate: %s: %s", err.msg, err.detail);
	return ix;
}

static void sample_object(struct cv_index_object *o, uint8_t seed)
{
	size_t i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < sizeof(o->id); i++)
		o->id[i] = (uint8_t)(seed + i);
	/* A zero byte inside each binary value: they are not C strings. */
	o->id[5] = 0;
	o->gen = 7;
	snprintf(o->kind, sizeof(o->kind), "original");
	for (i = 0; i < sizeof(o->kek_id); i++)
		o->kek_id[i] = (uint8_t)(0xa0 + i);
	o->kek_id[1] = 0;
	for (i = 0; i < sizeof(o->wrapped_key); i++)
		o->wrapped_key[i] = (uint8_t)(0x10 + i);
	o->wrapped_key[0] = 0;
	o->size = 123456;
	o->stored_size = 123500;
	for (i = 0; i < sizeof(o->stored_sha256); i++)
		o->stored_sha256[i] = (uint8_t)(0xff - i);
}

/* ---------------------------------------------------------------------
 * Connections
 */

START_TEST(test_index_open_fails_unavailable_on_bad_socket)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index *ix = (struct cv_index *)&err;

	ck_assert_int_eq(
		cv_index_open(
			&ix,
			"host=/nonexistent/cvtest port=5432 user=nobody dbname=x password=hunter2-secret",
			&err),
		CV_EUNAVAIL);
	ck_assert_ptr_null(ix);
	ck_assert_int_eq(err.code, CV_EUNAVAIL);
	ck_assert_str_eq(err.msg, "could not connect to the index database");
	ck_assert_msg(strstr(err.detail, "/nonexistent/cvtest") != NULL,
		      "detail: %s", err.detail);
	ck_assert_ptr_null(strstr(err.msg, "hunter2"));
	ck_assert_ptr_null(strstr(err.detail, "hunter2"));
	ck_assert_ptr_null(strstr(err.hint, "hunter2"));
	ck_assert(err.hint[0] != '\0');
}
END_TEST

START_TEST(test_index_open_sets_application_name)
{
	char *dsn, *name;
	struct cv_index *ix = fresh_db(&dsn);

	name = query_value(ix, "SHOW application_name");
	ck_assert_str_eq(name, "chartvault");
	free(name);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

/* ---------------------------------------------------------------------
 * The error adapter
 */

static int failing(struct cv_index *ix, const char *sql, struct cv_error *err)
{
	PGresult *res =
		PQexecParams(ix->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	int ret;

	ck_assert(!cv_index__result_ok(res));
	ret = cv_index__error_pg(err, res, ix->conn, "could not do '%s'",
				 "thing");
	PQclear(res);
	return ret;
}

START_TEST(test_index_error_maps_unique_violation)
{
	struct cv_error err = CV_ERROR_INIT;
	char *dsn;
	struct cv_index *ix = fresh_db(&dsn);

	must_exec(ix, "CREATE TABLE t (mrn text UNIQUE)");
	must_exec(ix, "INSERT INTO t VALUES ('MRN-SECRET-1')");
	ck_assert_int_eq(
		failing(ix, "INSERT INTO t VALUES ('MRN-SECRET-1')", &err),
		CV_EEXISTS);
	ck_assert_str_eq(err.msg, "could not do 'thing'");
	ck_assert_msg(strstr(err.detail, "23505") != NULL, "%s", err.detail);
	ck_assert_msg(strstr(err.detail, "t_mrn_key") != NULL, "%s",
		      err.detail);
	/* The key value is patient data and must not reach a log. */
	ck_assert_msg(strstr(err.detail, "MRN-SECRET") == NULL, "%s",
		      err.detail);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_index_error_maps_serialization_failure)
{
	struct cv_error err = CV_ERROR_INIT;
	char *dsn;
	struct cv_index *ix = fresh_db(&dsn);

	ck_assert_int_eq(
		failing(ix,
			"DO $$BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END$$",
			&err),
		CV_ERETRY);
	ck_assert_msg(strstr(err.detail, "40001") != NULL, "%s", err.detail);
	ck_assert(err.hint[0] != '\0');
	ck_assert_int_eq(
		failing(ix,
			"DO $$BEGIN RAISE EXCEPTION 'dl' USING ERRCODE = 'deadlock_detected'; END$$",
			&err),
		CV_ERETRY);
	ck_assert_int_eq(failing(ix, "SELECT * FROM no_such_table", &err),
			 CV_ERROR);
	ck_assert_msg(strstr(err.detail, "42P01") != NULL, "%s", err.detail);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_index_error_hides_rejected_value)
{
	struct cv_error err = CV_ERROR_INIT;
	char *dsn;
	struct cv_index *ix = fresh_db(&dsn);

	ck_assert_int_eq(failing(ix, "SELECT 'DOB-SECRET'::date", &err),
			 CV_ERROR);
	ck_assert_msg(strstr(err.detail, "22007") != NULL, "%s", err.detail);
	ck_assert_msg(strstr(err.detail, "DOB-SECRET") == NULL, "%s",
		      err.detail);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_index_error_maps_lost_connection)
{
	struct cv_error err = CV_ERROR_INIT;
	char *dsn;
	struct cv_index *ix = fresh_db(&dsn);
	int ret;

	ret = failing(ix, "SELECT pg_terminate_backend(pg_backend_pid())",
		      &err);
	ck_assert_int_eq(ret, CV_EUNAVAIL);
	ck_assert(err.hint[0] != '\0');
	/* And the connection stays unusable, still reported as such. */
	ck_assert_int_eq(failing(ix, "SELECT 1", &err), CV_EUNAVAIL);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

/* ---------------------------------------------------------------------
 * Migrations
 */

START_TEST(test_index_migrate_from_empty_to_latest)
{
	struct cv_error err = CV_ERROR_INIT;
	int from = -1, to = -1, v = -1;
	char *dsn, *n;
	struct cv_index *ix = fresh_db(&dsn);

	ck_assert_int_ge(cv_index_schema_latest(), 1);
	ck_assert_int_eq(cv_index_schema_version(ix, &v, &err), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_msg(cv_index_migrate(ix, &from, &to, &err) == 0, "%s: %s",
		      err.msg, err.detail);
	ck_assert_int_eq(from, 0);
	ck_assert_int_eq(to, cv_index_schema_latest());
	ck_assert_int_eq(cv_index_schema_version(ix, &v, &err), 0);
	ck_assert_int_eq(v, cv_index_schema_latest());
	n = query_value(ix, "SELECT count(*) FROM objects");
	ck_assert_str_eq(n, "0");
	free(n);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_index_migrate_twice_is_a_no_op)
{
	struct cv_error err = CV_ERROR_INIT;
	int from = -1, to = -1;
	char *dsn, *n, *want;
	struct cv_index *ix = migrated_db(&dsn);

	ck_assert_int_eq(cv_index_migrate(ix, &from, &to, &err), 0);
	ck_assert_int_eq(from, cv_index_schema_latest());
	ck_assert_int_eq(to, cv_index_schema_latest());
	n = query_value(ix, "SELECT count(*) FROM schema_version");
	/* One row per script (numbers may have gaps before a merge). */
	want = cv_asprintf("%zu", cv_index__nmigrations);
	ck_assert_str_eq(n, want);
	/* Nothing left open behind the caller's back. */
	ck_assert_int_eq(PQtransactionStatus(ix->conn), PQTRANS_IDLE);
	free(want);
	free(n);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_index_migrate_refuses_newer_schema)
{
	struct cv_error err = CV_ERROR_INIT;
	int from = -1, to = -1, latest = cv_index_schema_latest();
	char *dsn, *sql, *want;
	struct cv_index *ix = migrated_db(&dsn);

	sql = cv_asprintf(
		"INSERT INTO schema_version (version, name) VALUES (%d, 'from_the_future')",
		latest + 1);
	must_exec(ix, sql);
	ck_assert_int_eq(cv_index_migrate(ix, &from, &to, &err), CV_ERROR);
	want = cv_asprintf(
		"the index is at schema version %d, newer than this chartvault (%d)",
		latest + 1, latest);
	ck_assert_str_eq(err.msg, want);
	ck_assert_str_eq(err.hint, "upgrade chartvault");
	ck_assert_int_eq(from, latest + 1);
	ck_assert_int_eq(PQtransactionStatus(ix->conn), PQTRANS_IDLE);
	free(want);
	free(sql);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_index_migrate_concurrent_callers_serialise)
{
	char *dsn;
	struct cv_index *ix = fresh_db(&dsn);
	pid_t kids[3];
	int i, st, v = -1;
	struct cv_error err = CV_ERROR_INIT;

	for (i = 0; i < 3; i++) {
		kids[i] = fork();
		ck_assert_int_ge(kids[i], 0);
		if (kids[i] == 0) {
			struct cv_index *c = NULL;
			int ret = cv_index_open(&c, dsn, &err);

			if (ret == 0)
				ret = cv_index_migrate(c, NULL, NULL, &err);
			cv_index_free(c);
			_exit(ret == 0 ? 0 : 1);
		}
	}
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	ck_assert_int_eq(cv_index_schema_version(ix, &v, &err), 0);
	ck_assert_int_eq(v, cv_index_schema_latest());
	cv_index_free(ix);
	free(dsn);
}
END_TEST

/* ---------------------------------------------------------------------
 * Objects, transactions, statistics, audit
 */

START_TEST(test_index_object_add_then_find_roundtrip)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_object o, got;
	int inserted = -1;
	char *dsn;
	struct cv_index *ix = migrated_db(&dsn);

	sample_object(&o, 1);
	ck_assert_msg(cv_index_object_add(ix, &o, &inserted, &err) == 0,
		      "%s: %s", err.msg, err.detail);
	ck_assert_int_eq(inserted, 1);
	ck_assert_int_eq(cv_index_object_find(ix, o.id, &got, &err), 0);
	ck_assert_mem_eq(got.id, o.id, sizeof(o.id));
	ck_assert_uint_eq(got.gen, 7);
	ck_assert_str_eq(got.kind, "original");
	ck_assert_mem_eq(got.kek_id, o.kek_id, sizeof(o.kek_id));
	ck_assert_mem_eq(got.wrapped_key, o.wrapped_key, sizeof(o.wrapped_key));
	ck_assert_int_eq(got.erased, 0);
	ck_assert_uint_eq(got.size, 123456);
	ck_assert_uint_eq(got.stored_size, 123500);
	ck_assert_mem_eq(got.stored_sha256, o.stored_sha256,
			 sizeof(o.stored_sha256));
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_index_object_duplicate_add_keeps_first)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_object a, b, got;
	int inserted = -1;
	char *dsn, *n;
	struct cv_index *ix = migrated_db(&dsn);

	sample_object(&a, 2);
	b = a;
	b.gen = 99;
	b.wrapped_key[3] ^= 0xff;
	ck_assert_int_eq(cv_index_object_add(ix, &a, &inserted, &err), 0);
	ck_assert_int_eq(inserted, 1);
	ck_assert_int_eq(cv_index_object_add(ix, &b, &inserted, &err), 0);
	ck_assert_int_eq(inserted, 0);
	ck_assert_int_eq(cv_index_object_find(ix, a.id, &got, &err), 0);
	ck_assert_uint_eq(got.gen, 7);
	ck_assert_mem_eq(got.wrapped_key, a.wrapped_key, sizeof(a.wrapped_key));
	n = query_value(ix, "SELECT count(*) FROM objects");
	ck_assert_str_eq(n, "1");
	free(n);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_index_object_find_missing_is_not_found)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_object o, got;
	char *dsn;
	struct cv_index *ix = migrated_db(&dsn);

	sample_object(&o, 3);
	ck_assert_int_eq(cv_index_object_find(ix, o.id, &got, &err),
			 CV_ENOTFOUND);
	ck_assert_msg(strstr(err.msg, "is not in the index") != NULL, "%s",
		      err.msg);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_index_object_erased_has_no_key)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_object o, got;
	uint8_t zero[CV_INDEX_WRAPKEY_LEN] = { 0 };
	int inserted = 0;
	char *dsn;
	struct cv_index *ix = migrated_db(&dsn);

	sample_object(&o, 4);
	o.erased = 1;
	ck_assert_int_eq(cv_index_object_add(ix, &o, &inserted, &err), 0);
	ck_assert_int_eq(cv_index_object_find(ix, o.id, &got, &err), 0);
	ck_assert_int_eq(got.erased, 1);
	ck_assert_mem_eq(got.wrapped_key, zero, sizeof(zero));
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_index_object_add_rejects_bad_input)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_object o;
	int inserted = -1;
	char *dsn;
	struct cv_index *ix = migrated_db(&dsn);

	sample_object(&o, 5);
	o.gen = UINT64_MAX;
	ck_assert_int_eq(cv_index_object_add(ix, &o, &inserted, &err),
			 CV_EINVAL);
	ck_assert_int_eq(inserted, 0);
	sample_object(&o, 5);
	o.kind[0] = '\0';
	ck_assert_int_eq(cv_index_object_add(ix, &o, &inserted, &err),
			 CV_EINVAL);
	/* A constraint violation is an error, not "already there". */
	sample_object(&o, 5);
	o.stored_size = 0;
	ck_assert_int_eq(cv_index_object_add(ix, &o, &inserted, &err),
			 CV_ERROR);
	ck_assert_msg(strstr(err.detail, "23514") != NULL, "%s", err.detail);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_index_transaction_rollback_discards)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_object o, got;
	int inserted;
	char *dsn;
	struct cv_index *ix = migrated_db(&dsn);

	sample_object(&o, 6);
	ck_assert_int_eq(cv_index_begin(ix, &err), 0);
	ck_assert_int_eq(cv_index_begin(ix, &err), CV_ERROR);
	ck_assert_int_eq(cv_index_object_add(ix, &o, &inserted, &err), 0);
	cv_index_rollback(ix);
	cv_index_rollback(ix); /* nothing open: harmless */
	ck_assert_int_eq(cv_index_object_find(ix, o.id, &got, &err),
			 CV_ENOTFOUND);

	ck_assert_int_eq(cv_index_begin(ix, &err), 0);
	ck_assert_int_eq(cv_index_object_add(ix, &o, &inserted, &err), 0);
	ck_assert_int_eq(cv_index_commit(ix, &err), 0);
	ck_assert_int_eq(cv_index_object_find(ix, o.id, &got, &err), 0);
	ck_assert_int_eq(cv_index_commit(ix, &err), CV_ERROR);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_index_transaction_commit_after_failure_fails)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_object o, got;
	int inserted;
	char *dsn;
	struct cv_index *ix = migrated_db(&dsn);
	PGresult *res;

	sample_object(&o, 7);
	ck_assert_int_eq(cv_index_begin(ix, &err), 0);
	ck_assert_int_eq(cv_index_object_add(ix, &o, &inserted, &err), 0);
	res = PQexec(ix->conn, "SELECT * FROM no_such_table");
	PQclear(res);
	ck_assert_int_eq(cv_index_commit(ix, &err), CV_ERROR);
	ck_assert_msg(strstr(err.msg, "rolled back") != NULL, "%s", err.msg);
	ck_assert_int_eq(PQtransactionStatus(ix->conn), PQTRANS_IDLE);
	ck_assert_int_eq(cv_index_object_find(ix, o.id, &got, &err),
			 CV_ENOTFOUND);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_index_stats_count_rows)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_stats st;
	struct cv_index_object o;
	int inserted;
	char *dsn;
	struct cv_index *ix = migrated_db(&dsn);

	sample_object(&o, 8);
	ck_assert_int_eq(cv_index_object_add(ix, &o, &inserted, &err), 0);
	ck_assert_msg(cv_index_stats(ix, &st, &err) == 0, "%s: %s", err.msg,
		      err.detail);
	ck_assert(st.server_version[0] != '\0');
	ck_assert_int_gt(st.database_bytes, 0);
	ck_assert_int_eq(st.objects, 1);
	ck_assert_int_eq(st.batches, 0);
	ck_assert_int_eq(st.documents, 0);
	ck_assert_int_eq(st.pages, 0);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_index_audit_appends_row)
{
	struct cv_error err = CV_ERROR_INIT;
	char *dsn, *row;
	struct cv_index *ix = migrated_db(&dsn);

	ck_assert_int_eq(cv_index_audit(ix, "clerk1", "view", "document", "42",
					NULL, NULL, &err),
			 0);
	ck_assert_int_eq(cv_index_audit(ix, "clerk1", "export", "document",
					"42", "roi request 7", "denied", &err),
			 0);
	row = query_value(
		ix,
		"SELECT string_agg(actor || '/' || action || '/' || object_type || '/' || object_id || '/' || coalesce(detail, '-') || '/' || outcome, ';' ORDER BY id) FROM audit_log");
	ck_assert_str_eq(
		row,
		"clerk1/view/document/42/-/ok;clerk1/export/document/42/roi request 7/denied");
	ck_assert_int_eq(
		cv_index_audit(ix, "", "view", NULL, NULL, NULL, NULL, &err),
		CV_EINVAL);
	free(row);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_index_exception_raise_holds_document_once)
{
	struct cv_error err = CV_ERROR_INIT;
	char *dsn, *v;
	int64_t doc;
	struct cv_index *ix = migrated_db(&dsn);

	free(query_value(ix, "INSERT INTO batches (name, operator)"
			     " VALUES ('b1', 'clerk1') RETURNING id"));
	v = query_value(ix, "INSERT INTO documents (batch_id)"
			    " SELECT id FROM batches RETURNING id");
	doc = strtoll(v, NULL, 10);
	free(v);
	ck_assert_msg(cv_index_exception_raise(ix, doc, 0, "misfile",
					       "{\"page_mrn\": \"90000002\"}",
					       &err) == 0,
		      "%s: %s", err.msg, err.detail);
	/* A re-run raises nothing twice. */
	ck_assert_int_eq(
		cv_index_exception_raise(ix, doc, 0, "misfile", NULL, &err), 0);
	ck_assert_int_eq(cv_index_exception_raise(
				 ix, doc, 0, "low-confidence-type", NULL, &err),
			 0);
	v = query_value(ix, "SELECT d.state || '/' || count(e.id) || '/' ||"
			    " string_agg(e.detail->>'page_mrn', '')"
			    " FROM documents d JOIN exceptions e"
			    " ON e.document_id = d.id GROUP BY d.state");
	ck_assert_str_eq(v, "exception/2/90000002");
	free(v);
	ck_assert_int_eq(cv_index_exception_raise(ix, doc, 0, "", NULL, &err),
			 CV_EINVAL);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

/* ---------------------------------------------------------------------
 * The private cluster
 */

START_TEST(test_index_cluster_dsn_quotes_path)
{
	char *dsn = cv_index_cluster_dsn("/tmp/it's a\\dir/");
	PQconninfoOption *opts, *o;
	char *perr = NULL;
	int seen = 0;

	ck_assert_str_eq(
		dsn,
		"host='/tmp/it\\'s a\\\\dir/pgrun' port=5432 dbname=chartvault user=chartvault");
	/* And libpq reads back exactly the folder. */
	opts = PQconninfoParse(dsn, &perr);
	ck_assert_msg(opts != NULL, "%s", perr ? perr : "?");
	for (o = opts; o->keyword; o++) {
		if (!strcmp(o->keyword, "host")) {
			ck_assert_str_eq(o->val, "/tmp/it's a\\dir/pgrun");
			seen = 1;
		}
	}
	ck_assert(seen);
	PQconninfoFree(opts);
	free(dsn);
}
END_TEST

START_TEST(test_index_cluster_refuses_shell_characters)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_config cfg;

	cv_config_init(&cfg);
	ck_assert_int_eq(
		cv_index_cluster_create("/tmp/cv$(touch x)", &cfg, &err),
		CV_EINVAL);
	ck_assert(err.hint[0] != '\0');
	ck_assert(!cv_fs_exists("/tmp/cv$(touch x)"));
	cv_config_release(&cfg);
}
END_TEST

START_TEST(test_index_cluster_refuses_unreachable_folder)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_config cfg;
	char *top = cvt_tmpdir("locked");
	char *locked = cv_path_join(top, "locked");
	char *archive = cv_path_join(locked, "archive");
	char *pgdata = cv_path_join(archive, "pgdata");
	char *want = cv_asprintf("'%s'", locked);

	/* Only root hands the server to another user who could be blocked. */
	if (geteuid() != 0)
		goto cleanup;
	cv_config_init(&cfg);
	ck_assert_int_eq(mkdir(locked, 0700), 0);
	ck_assert_int_eq(mkdir(archive, 0755), 0);
	ck_assert_int_eq(cv_index_cluster_create(archive, &cfg, &err),
			 CV_EUNAVAIL);
	ck_assert_msg(strstr(err.detail, want) != NULL, "%s", err.detail);
	ck_assert(err.hint[0] != '\0');
	ck_assert(!cv_fs_exists(pgdata));
	cv_config_release(&cfg);
cleanup:
	cvt_rmrf(top);
	free(want);
	free(pgdata);
	free(archive);
	free(locked);
	free(top);
}
END_TEST

/*
 * The lifecycle test's folder, made in the parent by an unchecked fixture
 * so that the teardown stops the server even when the test fails in its
 * child.
 */
static char *cluster_dir;

static void cluster_setup(void)
{
	cluster_dir = cvt_tmpdir("cluster");
}

static void cluster_teardown(void)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_config cfg;

	cv_config_init(&cfg);
	if (cv_index_cluster_stop(cluster_dir, &cfg, &err) < 0 &&
	    err.code != CV_EUNAVAIL)
		fprintf(stderr, "cluster teardown: %s: %s\n", err.msg,
			err.detail);
	cv_config_release(&cfg);
	cvt_rmrf(cluster_dir);
	free(cluster_dir);
	cluster_dir = NULL;
}

static void cluster_query_ok(const char *archive)
{
	char *dsn = cv_index_cluster_dsn(archive);
	struct cv_index *ix = open_or_fail(dsn);
	char *v = query_value(ix, "SELECT current_database()");

	ck_assert_str_eq(v, "chartvault");
	free(v);
	cv_index_free(ix);
	free(dsn);
}

static void start_in_children(const char *archive, int n)
{
	pid_t kids[4];
	int i, st;

	for (i = 0; i < n; i++) {
		kids[i] = fork();
		ck_assert_int_ge(kids[i], 0);
		if (kids[i] == 0) {
			struct cv_error err = CV_ERROR_INIT;
			struct cv_config cfg;
			int ret;

			cv_config_init(&cfg);
			ret = cv_index_cluster_start(archive, &cfg, &err);
			if (ret < 0)
				fprintf(stderr, "start: %s: %s\n", err.msg,
					err.detail);
			cv_config_release(&cfg);
			_exit(ret == 0 ? 0 : 1);
		}
	}
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			      "concurrent start %d failed", i);
	}
}

START_TEST(test_index_cluster_lifecycle)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_cluster_status st;
	struct cv_config cfg;
	struct stat sb;
	char *dsn, *v, *pgrun, *want;
	struct cv_index *ix;
	long old_pid;
	int from, to;

	cv_config_init(&cfg);
	ck_assert_msg(cv_index_cluster_create(cluster_dir, &cfg, &err) == 0,
		      "create: %s: %s (%s)", err.msg, err.detail, err.hint);

	ck_assert_int_eq(cv_index_cluster_status(cluster_dir, &cfg, &st, &err),
			 0);
	ck_assert_int_eq(st.running, 1);
	ck_assert_int_gt(st.pid, 0);
	ck_assert(st.version[0] != '\0');
	pgrun = cv_path_join(cluster_dir, "pgrun");
	ck_assert_str_eq(st.socket_dir, pgrun);

	/* The socket folder admits the server's user and root only. */
	ck_assert_int_eq(lstat(pgrun, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0700);
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("chartvault");

		ck_assert_ptr_nonnull(pw);
		ck_assert_uint_eq(sb.st_uid, pw->pw_uid);
	}

	dsn = cv_index_cluster_dsn(cluster_dir);
	ix = open_or_fail(dsn);
	v = query_value(ix, "SHOW listen_addresses");
	ck_assert_str_eq(v, "");
	free(v);
	v = query_value(ix, "SHOW unix_socket_directories");
	ck_assert_str_eq(v, pgrun);
	free(v);
	v = query_value(ix, "SELECT current_user || '/' || current_database()");
	ck_assert_str_eq(v, "chartvault/chartvault");
	free(v);
	ck_assert_int_eq(cv_index_migrate(ix, &from, &to, &err), 0);
	ck_assert_int_eq(to, cv_index_schema_latest());
	cv_index_free(ix);

	/* A second create refuses and leaves the running cluster alone. */
	old_pid = st.pid;
	ck_assert_int_eq(cv_index_cluster_create(cluster_dir, &cfg, &err),
			 CV_EEXISTS);
	ck_assert_int_eq(cv_index_cluster_status(cluster_dir, &cfg, &st, &err),
			 0);
	ck_assert_int_eq(st.running, 1);
	ck_assert_int_eq(st.pid, old_pid);
	/* Starting a running cluster is a no-op. */
	ck_assert_int_eq(cv_index_cluster_start(cluster_dir, &cfg, &err), 0);
	ck_assert_int_eq(cv_index_cluster_status(cluster_dir, &cfg, &st, &err),
			 0);
	ck_assert_int_eq(st.pid, old_pid);

	/* kill -9 of the postmaster, with a backend connected. */
	ix = open_or_fail(dsn);
	ck_assert_int_eq(kill((pid_t)old_pid, SIGKILL), 0);
	ck_assert_msg(cv_index_cluster_start(cluster_dir, &cfg, &err) == 0,
		      "restart after kill -9: %s: %s", err.msg, err.detail);
	cv_index_free(ix);
	ck_assert_int_eq(cv_index_cluster_status(cluster_dir, &cfg, &st, &err),
			 0);
	ck_assert_int_eq(st.running, 1);
	ck_assert_int_ne(st.pid, old_pid);
	ix = open_or_fail(dsn);
	v = query_value(ix, "SELECT max(version) FROM schema_version");
	want = cv_asprintf("%d", cv_index_schema_latest());
	ck_assert_str_eq(v, want);
	free(want);
	free(v);
	cv_index_free(ix);

	/* Stop, twice; then two processes start it at once. */
	ck_assert_msg(cv_index_cluster_stop(cluster_dir, &cfg, &err) == 0,
		      "stop: %s: %s", err.msg, err.detail);
	ck_assert_int_eq(cv_index_cluster_status(cluster_dir, &cfg, &st, &err),
			 0);
	ck_assert_int_eq(st.running, 0);
	ck_assert_int_eq(st.pid, 0);
	ck_assert_int_eq(cv_index_cluster_stop(cluster_dir, &cfg, &err), 0);
	start_in_children(cluster_dir, 3);
	cluster_query_ok(cluster_dir);
	ck_assert_int_eq(cv_index_cluster_stop(cluster_dir, &cfg, &err), 0);
	ck_assert_int_eq(cv_index_cluster_status(cluster_dir, &cfg, &st, &err),
			 0);
	ck_assert_int_eq(st.running, 0);

	free(dsn);
	free(pgrun);
	cv_config_release(&cfg);
}
END_TEST

START_TEST(test_index_cluster_start_without_cluster_is_unavailable)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_cluster_status st;
	char *dir = cvt_tmpdir("nocluster"), *missing;

	ck_assert_int_eq(cv_index_cluster_start(dir, NULL, &err), CV_EUNAVAIL);
	ck_assert_msg(strstr(err.hint, "chartvault init") != NULL, "%s",
		      err.hint);
	ck_assert_int_eq(cv_index_cluster_status(dir, NULL, &st, &err),
			 CV_EUNAVAIL);
	ck_assert_int_eq(st.running, 0);
	/* create needs the archive folder; it does not make it. */
	missing = cv_path_join(dir, "missing");
	ck_assert_int_eq(cv_index_cluster_create(missing, NULL, &err),
			 CV_ERROR);
	ck_assert_msg(strstr(err.detail, "No such file") != NULL, "%s",
		      err.detail);
	ck_assert(!cv_fs_exists(missing));
	free(missing);
	cvt_rmrf(dir);
	free(dir);
}
END_TEST

/* ---------------------------------------------------------------------
 * The suite
 */

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

Suite *cv_index_suite(void)
{
	Suite *s = suite_create("index");
	TCase *tc;

	tc = tcase_create("open");
	tcase_add_test(tc, test_index_open_fails_unavailable_on_bad_socket);
	suite_add_tcase(s, tc);

	tc = db_case(s, "connection");
	tcase_add_test(tc, test_index_open_sets_application_name);

	tc = db_case(s, "errors");
	tcase_add_test(tc, test_index_error_maps_unique_violation);
	tcase_add_test(tc, test_index_error_maps_serialization_failure);
	tcase_add_test(tc, test_index_error_hides_rejected_value);
	tcase_add_test(tc, test_index_error_maps_lost_connection);

	tc = db_case(s, "migrate");
	tcase_add_test(tc, test_index_migrate_from_empty_to_latest);
	tcase_add_test(tc, test_index_migrate_twice_is_a_no_op);
	tcase_add_test(tc, test_index_migrate_refuses_newer_schema);
	tcase_add_test(tc, test_index_migrate_concurrent_callers_serialise);

	tc = db_case(s, "objects");
	tcase_add_test(tc, test_index_object_add_then_find_roundtrip);
	tcase_add_test(tc, test_index_object_duplicate_add_keeps_first);
	tcase_add_test(tc, test_index_object_find_missing_is_not_found);
	tcase_add_test(tc, test_index_object_erased_has_no_key);
	tcase_add_test(tc, test_index_object_add_rejects_bad_input);

	tc = db_case(s, "transactions");
	tcase_add_test(tc, test_index_transaction_rollback_discards);
	tcase_add_test(tc, test_index_transaction_commit_after_failure_fails);

	tc = db_case(s, "stats-audit");
	tcase_add_test(tc, test_index_stats_count_rows);
	tcase_add_test(tc, test_index_audit_appends_row);
	tcase_add_test(tc, test_index_exception_raise_holds_document_once);

	tc = tcase_create("cluster-paths");
	tcase_add_test(tc, test_index_cluster_dsn_quotes_path);
	tcase_add_test(tc, test_index_cluster_refuses_shell_characters);
	tcase_add_test(tc,
		       test_index_cluster_start_without_cluster_is_unavailable);
	suite_add_tcase(s, tc);

	tc = tcase_create("cluster");
	tcase_set_tags(tc, "db");
	tcase_set_timeout(tc, 240);
	tcase_add_unchecked_fixture(tc, cluster_setup, cluster_teardown);
	tcase_add_test(tc, test_index_cluster_lifecycle);
	tcase_add_test(tc, test_index_cluster_refuses_unreachable_folder);
	suite_add_tcase(s, tc);

	return s;
}
