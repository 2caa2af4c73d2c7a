/*
 * Connections, the libpq error adapter, transactions and statistics: the
 * parts of index/ that every other file builds on. The audit trail is in
 * audit.c.
 *
 * A connection string may hold a password, so it never appears in a
 * message; libpq's own error text does not repeat it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

/*
 * Notices (e.g. "relation already exists, skipping") are not errors and
 * modules never print: libpq's default processor would write them to
 * stderr.
 */
static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int cv_index_open(struct cv_index **out, const char *dsn, struct cv_error *err)
{
	/*
	 * Keywords before "dbname" are defaults that the expanded dsn
	 * overrides; those after it win over the dsn. The connect timeout
	 * keeps an unreachable TCP host from hanging a command forever, but
	 * PGCONNECT_TIMEOUT or the dsn may choose another.
	 */
	const char *keys[] = { "connect_timeout", "dbname",
			       "fallback_application_name", "client_encoding",
			       NULL };
	const char *vals[] = { "10", dsn ? dsn : "", "chartvault", "UTF8",
			       NULL };
	struct cv_index *ix = NULL;
	PGconn *conn;
	int ret;

	*out = NULL;
	if (getenv("PGCONNECT_TIMEOUT"))
		vals[0] = getenv("PGCONNECT_TIMEOUT");
	conn = PQconnectdbParams(keys, vals, 1);
	if (!conn) {
		ret = cv_error_set(err, CV_EUNAVAIL,
				   "could not connect to the index database");
		cv_error_detail(err, "libpq could not allocate a connection");
		goto cleanup;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		ret = cv_index__error_pg(
			err, NULL, conn,
			"could not connect to the index database");
		/* A refused login is also "unreachable" to our callers. */
		err->code = ret = CV_EUNAVAIL;
		cv_error_hint(
			err,
			"check that the database server is running and that db.dsn (or the archive's private cluster) is right");
		goto cleanup;
	}
	PQsetNoticeProcessor(conn, ignore_notice, NULL);
	ix = cv_calloc(1, sizeof(*ix));
	ix->conn = conn;
	conn = NULL;
	*out = ix;
	ret = 0;
cleanup:
	/* PQfinish also after a failed connect: the PGconn is allocated. */
	PQfinish(conn);
	return ret;
}

void cv_index_free(struct cv_index *ix)
{
	if (!ix)
		return;
	PQfinish(ix->conn);
	cv_index_audit_set_context(ix, NULL);
	free(ix);
}

/*
 * Copy libpq's message into out as one line: drop the final newline and
 * turn the inner ones (one per host tried) into "; ".
 */
static void copy_oneline(char *out, size_t n, const char *s)
{
	size_t len = strlen(s), i, o = 0;

	while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
		len--;
	for (i = 0; i < len && o + 3 < n; i++) {
		if (s[i] == '\n') {
			out[o++] = ';';
			out[o++] = ' ';
		} else if ((unsigned char)s[i] < 0x20) {
			out[o++] = ' ';
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
}

static int classify(const char *state, const PGconn *conn)
{
	if (conn && PQstatus(conn) == CONNECTION_BAD)
		return CV_EUNAVAIL;
	if (!state)
		return CV_ERROR;
	if (!strncmp(state, "08", 2))
		return CV_EUNAVAIL;
	/* Administrator or crash shutdown, or a server still starting. */
	if (!strcmp(state, "57P01") || !strcmp(state, "57P02") ||
	    !strcmp(state, "57P03"))
		return CV_EUNAVAIL;
	if (!strncmp(state, "40", 2))
		return CV_ERETRY;
	if (!strcmp(state, "23505"))
		return CV_EEXISTS;
	return CV_ERROR;
}

/*
 * Class 22 messages quote the rejected input ("invalid input syntax for
 * type date: ..."), so only names of schema objects are kept.
 */
static void describe_data_error(char *out, size_t n, const PGresult *res,
				const char *state)
{
	const char *table = PQresultErrorField(res, PG_DIAG_TABLE_NAME);
	const char *column = PQresultErrorField(res, PG_DIAG_COLUMN_NAME);
	const char *type = PQresultErrorField(res, PG_DIAG_DATATYPE_NAME);

	snprintf(out, n, "invalid data value (SQLSTATE %s)%s%s%s%s%s%s", state,
		 table ? " in table " : "", table ? table : "",
		 column ? " column " : "", column ? column : "",
		 type ? " of type " : "", type ? type : "");
}

int cv_index__error_pg(struct cv_error *err, const PGresult *res,
		       const PGconn *conn, const char *fmt, ...)
{
	const char *state = NULL, *primary = NULL, *detail = NULL, *hint = NULL;
	char msg[sizeof(err->msg)];
	int code, n;
	va_list ap;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		msg[0] = '\0';
	if (res) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	}
	code = classify(state, conn);
	cv_error_set(err, code, "%s", msg);
	if (!err)
		return code;
	if (state && !strncmp(state, "22", 2)) {
		describe_data_error(err->detail, sizeof(err->detail), res,
				    state);
		hint = NULL;
	} else if (primary) {
		/* Class 23 details repeat the failing row or key values. */
		if (state && !strncmp(state, "23", 2))
			detail = NULL;
		snprintf(err->detail, sizeof(err->detail),
			 "%s%s%s (SQLSTATE %s)", primary, detail ? ": " : "",
			 detail ? detail : "", state ? state : "none");
	} else if (res && *PQresultErrorMessage(res)) {
		copy_oneline(err->detail, sizeof(err->detail),
			     PQresultErrorMessage(res));
	} else if (conn) {
		copy_oneline(err->detail, sizeof(err->detail),
			     PQerrorMessage(conn));
	}
	if (code == CV_EUNAVAIL)
		cv_error_hint(
			err,
			"check that the database server is running and reachable, then run the command again");
	else if (code == CV_ERETRY)
		cv_error_hint(
			err,
			"a concurrent change conflicted with this one; run the command again");
	else if (hint)
		cv_error_hint(err, "%s", hint);
	return code;
}

int cv_index__result_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

int cv_index__get_bytea(uint8_t *out, size_t n, const PGresult *res, int row,
			int col)
{
	unsigned char *raw;
	size_t len = 0;
	int ret;

	memset(out, 0, n);
	if (PQgetisnull(res, row, col))
		return 1;
	raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col),
			      &len);
	if (!raw || len != n) {
		ret = CV_ERROR;
		goto cleanup;
	}
	memcpy(out, raw, n);
	ret = 0;
cleanup:
	PQfreemem(raw);
	return ret;
}

int cv_index__get_i64(int64_t *out, const PGresult *res, int row, int col)
{
	long long v;

	*out = 0;
	if (PQgetisnull(res, row, col))
		return CV_ERROR;
	if (cv_parse_ll(&v, PQgetvalue(res, row, col), INT64_MIN, INT64_MAX) <
	    0)
		return CV_ERROR;
	*out = v;
	return 0;
}

/* Run a parameterless utility statement (BEGIN, COMMIT, ROLLBACK). */
static int simple(struct cv_index *ix, const char *sql, const char *what,
		  struct cv_error *err)
{
	PGresult *res;
	int ret;

	res = PQexecParams(ix->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		ret = cv_index__error_pg(err, res, ix->conn, "could not %s",
					 what);
		goto cleanup;
	}
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_begin(struct cv_index *ix, struct cv_error *err)
{
	if (PQtransactionStatus(ix->conn) != PQTRANS_IDLE)
		return cv_error_set(
			err, CV_ERROR,
			"could not begin a transaction: one is already open on this connection");
	return simple(ix, "BEGIN", "begin a transaction", err);
}

int cv_index_commit(struct cv_index *ix, struct cv_error *err)
{
	PGresult *res = NULL;
	int ret;

	switch (PQtransactionStatus(ix->conn)) {
	case PQTRANS_INTRANS:
		break;
	case PQTRANS_INERROR:
		/*
		 * COMMIT of a failed transaction "succeeds" by rolling back;
		 * callers must not mistake that for a commit.
		 */
		cv_index_rollback(ix);
		ret = cv_error_set(
			err, CV_ERROR,
			"could not commit: a statement of the transaction had failed, so it was rolled back");
		goto cleanup;
	case PQTRANS_UNKNOWN:
		ret = cv_index__error_pg(err, NULL, ix->conn,
					 "could not commit");
		goto cleanup;
	default:
		ret = cv_error_set(err, CV_ERROR,
				   "could not commit: no transaction is open");
		goto cleanup;
	}
	res = PQexecParams(ix->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not commit");
		goto cleanup;
	}
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		ret = cv_error_set(
			err, CV_ERROR,
			"could not commit: the server rolled the transaction back");
		cv_error_detail(err, "server answered '%s'", PQcmdStatus(res));
		goto cleanup;
	}
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

void cv_index_rollback(struct cv_index *ix)
{
	PGresult *res;
	PGTransactionStatusType st;

	if (!ix)
		return;
	st = PQtransactionStatus(ix->conn);
	if (st != PQTRANS_INTRANS && st != PQTRANS_INERROR)
		return;
	/*
	 * Nothing to report if this fails: a lost connection rolls back on
	 * the server by itself.
	 */
	res = PQexecParams(ix->conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);
	PQclear(res);
}

int cv_index__tx_enter(struct cv_index *ix, int *owned, struct cv_error *err)
{
	int ret;

	*owned = 0;
	switch (PQtransactionStatus(ix->conn)) {
	case PQTRANS_IDLE:
		break;
	case PQTRANS_INTRANS:
		return 0;
	case PQTRANS_INERROR:
		return cv_error_set(
			err, CV_ERROR,
			"could not continue the transaction: an earlier statement failed");
	default:
		return cv_index__error_pg(err, NULL, ix->conn,
					  "could not begin a transaction");
	}
	ret = simple(ix, "BEGIN", "begin a transaction", err);
	if (ret == 0)
		*owned = 1;
	return ret;
}

int cv_index__tx_leave(struct cv_index *ix, int owned, int ret,
		       struct cv_error *err)
{
	if (!owned)
		return ret;
	if (ret < 0) {
		cv_index_rollback(ix);
		return ret;
	}
	return cv_index_commit(ix, err);
}

static const char STATS[] = "SELECT current_setting('server_version'),"
			    " pg_database_size(current_database()),"
			    " (SELECT count(*) FROM objects),"
			    " (SELECT count(*) FROM batches),"
			    " (SELECT count(*) FROM documents),"
			    " (SELECT count(*) FROM pages)";

int cv_index_stats(struct cv_index *ix, struct cv_index_stats *st,
		   struct cv_error *err)
{
	int64_t *counts[] = { &st->database_bytes, &st->objects, &st->batches,
			      &st->documents, &st->pages };
	PGresult *res;
	size_t i;
	int ret;

	memset(st, 0, sizeof(*st));
	res = PQexecParams(ix->conn, STATS, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read the index statistics");
		goto cleanup;
	}
	if (PQntuples(res) != 1) {
		ret = cv_error_set(
			err, CV_ERROR,
			"could not read the index statistics: the server returned %d rows",
			PQntuples(res));
		goto cleanup;
	}
	snprintf(st->server_version, sizeof(st->server_version), "%s",
		 PQgetvalue(res, 0, 0));
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		if (cv_index__get_i64(counts[i], res, 0, (int)i + 1) < 0) {
			ret = cv_error_set(
				err, CV_ERROR,
				"could not read the index statistics: column %zu is not a number",
				i + 2);
			goto cleanup;
		}
	}
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}
