/*
 * Schema migrations. The numbered scripts of index/migrations/ are built
 * into the binary (scripts/embed-sql.sh), so a chartvault always knows the
 * exact schema it expects. schema_version records each script applied.
 *
 * All pending scripts run in one transaction: a crash or a failing script
 * leaves the database at its old version, never between two.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

/*
 * The advisory lock key that serialises migrating processes: "cvmigrat"
 * in ASCII, unlikely to meet another application's key in a shared
 * database.
 */
#define MIGRATE_LOCK_KEY "7166956226656397684"

static const char CREATE_VERSION_TABLE[] =
	"CREATE TABLE IF NOT EXISTS schema_version ("
	" version int PRIMARY KEY,"
	" name text NOT NULL,"
	" applied_at timestamptz NOT NULL DEFAULT now())";

int cv_index_schema_latest(void)
{
	if (cv_index__nmigrations == 0)
		return 0;
	return cv_index__migrations[cv_index__nmigrations - 1].version;
}

/* Read the recorded version; the table must exist. */
static int read_version(struct cv_index *ix, int *out, struct cv_error *err)
{
	PGresult *res;
	int64_t v;
	int ret;

	*out = 0;
	res = PQexecParams(
		ix->conn,
		"SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL,
		NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read the schema version");
		goto cleanup;
	}
	if (PQntuples(res) != 1 || cv_index__get_i64(&v, res, 0, 0) < 0 ||
	    v < 0 || v > 1000000) {
		ret = cv_error_set(
			err, CV_ERROR,
			"could not read the schema version: schema_version holds an invalid value");
		goto cleanup;
	}
	*out = (int)v;
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_schema_version(struct cv_index *ix, int *out, struct cv_error *err)
{
	PGresult *res;
	int ret;

	*out = 0;
	/*
	 * A fresh database has no schema_version table, and naming a missing
	 * table is an error even in a branch never taken; ask first.
	 */
	res = PQexecParams(ix->conn,
			   "SELECT to_regclass('schema_version') IS NOT NULL",
			   0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read the schema version");
		goto cleanup;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		ret = 0;
		goto cleanup;
	}
	ret = read_version(ix, out, err);
cleanup:
	PQclear(res);
	return ret;
}

static int apply_one(struct cv_index *ix, const struct cv_index__migration *m,
		     struct cv_error *err)
{
	char version[16];
	const char *params[2] = { version, m->name };
	PGresult *res;
	int ret;

	/*
	 * A script holds many statements, which only the simple protocol
	 * runs; it is constant text compiled into the binary, not input.
	 */
	res = PQexec(ix->conn, m->sql);
	if (!cv_index__result_ok(res)) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not apply migration '%s'",
					 m->name);
		goto cleanup;
	}
	PQclear(res);
	snprintf(version, sizeof(version), "%d", m->version);
	res = PQexecParams(
		ix->conn,
		"INSERT INTO schema_version (version, name) VALUES ($1, $2)", 2,
		NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not record migration '%s'",
					 m->name);
		goto cleanup;
	}
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

static int run_utility(struct cv_index *ix, const char *sql, const char *what,
		       struct cv_error *err)
{
	PGresult *res;
	int ret;

	res = PQexecParams(ix->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	if (!cv_index__result_ok(res)) {
		ret = cv_index__error_pg(err, res, ix->conn, "could not %s",
					 what);
		goto cleanup;
	}
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_migrate(struct cv_index *ix, int *from, int *to,
		     struct cv_error *err)
{
	const int latest = cv_index_schema_latest();
	int owned = 0, current = 0, ret;
	size_t i;

	if (from)
		*from = 0;
	if (to)
		*to = 0;
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		goto cleanup;
	/*
	 * Held to the end of the transaction, so a second chartvault waits
	 * here and then finds the work done, rather than racing to create
	 * the same tables.
	 */
	ret = run_utility(ix,
			  "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")",
			  "take the migration lock", err);
	if (ret < 0)
		goto cleanup;
	ret = run_utility(ix, CREATE_VERSION_TABLE,
			  "create the schema_version table", err);
	if (ret < 0)
		goto cleanup;
	ret = read_version(ix, &current, err);
	if (ret < 0)
		goto cleanup;
	if (from)
		*from = current;
	if (current > latest) {
		ret = cv_error_set(
			err, CV_ERROR,
			"the index is at schema version %d, newer than this chartvault (%d)",
			current, latest);
		cv_error_hint(err, "upgrade chartvault");
		goto cleanup;
	}
	for (i = 0; i < cv_index__nmigrations; i++) {
		if (cv_index__migrations[i].version <= current)
			continue;
		ret = apply_one(ix, &cv_index__migrations[i], err);
		if (ret < 0)
			goto cleanup;
	}
	if (to)
		*to = latest;
	ret = 0;
cleanup:
	ret = cv_index__tx_leave(ix, owned, ret, err);
	if (ret < 0 && to)
		*to = current;
	return ret;
}
