/*
 * The audit trail: an append-only table whose rows form a hash chain, and
 * the reports read from it. The chain and its canonical row format are
 * described in index.h. An append is one call of the server function
 * audit_append() (migration 0010), which takes the chain's advisory lock,
 * reads the head, builds the canonical bytes and stores the row with
 * sha256(prev_hash || bytes): one round trip, since every audited object
 * of an ingest appends a row. Sealing rows from before the chain, and
 * verification, build the same bytes here in C (cv_index_audit_canonical)
 * and verification hashes them with libgcrypt (archive/auditlog.c), so a
 * server whose sha256() or audit_append() lied would be caught too.
 *
 * The lock is transaction-scoped: two writers never read the same head,
 * so seq stays dense and each row's prev_hash is its predecessor's hash.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

/* "cvaudit1" and "cvauditc" in ASCII: the chain and checkpoint locks. */
#define CHAIN_LOCK_KEY      "7167023013830423601"
#define CHECKPOINT_LOCK_KEY "7167023013830423651"

#define SCAN_PAGE  "2000"
#define SEAL_BATCH "1000"

/* The timestamp text of the canonical bytes, from a timestamptz. */
#define AT_TEXT(col)   \
	"to_char(" col \
	" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

static char *dup_or_null(const char *s)
{
	return s ? cv_strdup(s) : NULL;
}

void cv_index_audit_set_context(struct cv_index *ix,
				const struct cv_index_audit_ctx *ctx)
{
	free(ix->audit_role);
	free(ix->audit_os_user);
	free(ix->audit_host);
	free(ix->audit_session);
	ix->audit_role = ix->audit_os_user = ix->audit_host =
		ix->audit_session = NULL;
	ix->audit_context = ctx != NULL;
	if (!ctx)
		return;
	ix->audit_role = dup_or_null(ctx->role);
	ix->audit_os_user = dup_or_null(ctx->os_user);
	ix->audit_host = dup_or_null(ctx->host);
	ix->audit_session = dup_or_null(ctx->session);
}

static void put_field(struct cv_buf *b, const char *s)
{
	uint8_t len[4];
	size_t n;

	if (!s) {
		cv_buf_addch(b, 0);
		return;
	}
	n = strlen(s);
	len[0] = (uint8_t)(n >> 24);
	len[1] = (uint8_t)(n >> 16);
	len[2] = (uint8_t)(n >> 8);
	len[3] = (uint8_t)n;
	cv_buf_addch(b, 1);
	cv_buf_add(b, len, 4);
	cv_buf_add(b, s, n);
}

void cv_index_audit_canonical(struct cv_buf *out,
			      const struct cv_index_audit_row *r)
{
	char seq[24];

	snprintf(seq, sizeof(seq), "%" PRId64, r->seq);
	cv_buf_adds(out, "cvaudit1");
	put_field(out, seq);
	put_field(out, r->at);
	put_field(out, r->actor);
	put_field(out, r->role);
	put_field(out, r->os_user);
	put_field(out, r->host);
	put_field(out, r->session);
	put_field(out, r->action);
	put_field(out, r->object_type);
	put_field(out, r->object_id);
	put_field(out, r->patient);
	put_field(out, r->document_id);
	put_field(out, r->purpose);
	put_field(out, r->detail);
	put_field(out, r->outcome);
}

static int exec_ok(struct cv_index *ix, const char *sql, const char *what,
		   struct cv_error *err)
{
	PGresult *res =
		PQexecParams(ix->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	int ret = 0;

	if (!cv_index__result_ok(res))
		ret = cv_index__error_pg(err, res, ix->conn, "could not %s",
					 what);
	PQclear(res);
	return ret;
}

static const char HEAD[] = "SELECT s.seq, s.hash, " AT_TEXT(
	"clock_timestamp()") " FROM"
			     " (SELECT NULL) AS one LEFT JOIN LATERAL"
			     " (SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL"
			     "  ORDER BY seq DESC LIMIT 1) AS s ON true";

/*
 * The head of the chain (0 and zero hash when empty) and the server's
 * clock as canonical text. Called under the chain lock.
 */
static int read_head(struct cv_index *ix, int64_t *seq, uint8_t hash[32],
		     char now[32], struct cv_error *err)
{
	PGresult *res;
	int ret;

	*seq = 0;
	memset(hash, 0, 32);
	res = PQexecParams(ix->conn, HEAD, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not read the audit chain's head");
		goto cleanup;
	}
	if (!PQgetisnull(res, 0, 0) &&
	    (cv_index__get_i64(seq, res, 0, 0) < 0 ||
	     cv_index__get_bytea(hash, 32, res, 0, 1) != 0)) {
		ret = cv_error_set(
			err, CV_ERROR,
			"could not read the audit chain's head: its seq or hash is malformed");
		goto cleanup;
	}
	if (now)
		snprintf(now, 32, "%s", PQgetvalue(res, 0, 2));
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

#define ROW_COLUMNS                                                   \
	"id, seq, " AT_TEXT(                                          \
		"at") ", actor, role, os_user, host, session,"        \
		      " action, object_type, object_id, patient,"     \
		      " document_id::text, purpose, detail, outcome," \
		      " prev_hash, hash"

static const char *col(const PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

/* Fill r from a row of a ROW_COLUMNS result (strings borrowed). */
static int read_row(struct cv_index_audit_row *r, const PGresult *res, int i)
{
	memset(r, 0, sizeof(*r));
	if (cv_index__get_i64(&r->id, res, i, 0) < 0)
		return CV_ERROR;
	if (!PQgetisnull(res, i, 1) && cv_index__get_i64(&r->seq, res, i, 1))
		return CV_ERROR;
	snprintf(r->at, sizeof(r->at), "%s", PQgetvalue(res, i, 2));
	r->actor = col(res, i, 3);
	r->role = col(res, i, 4);
	r->os_user = col(res, i, 5);
	r->host = col(res, i, 6);
	r->session = col(res, i, 7);
	r->action = col(res, i, 8);
	r->object_type = col(res, i, 9);
	r->object_id = col(res, i, 10);
	r->patient = col(res, i, 11);
	r->document_id = col(res, i, 12);
	r->purpose = col(res, i, 13);
	r->detail = col(res, i, 14);
	r->outcome = col(res, i, 15);
	/* A malformed hash reads as absent: verification reports it. */
	r->has_prev = cv_index__get_bytea(r->prev_hash, 32, res, i, 16) == 0;
	r->has_hash = cv_index__get_bytea(r->hash, 32, res, i, 17) == 0;
	return 0;
}

static const char UNSEALED[] =
	"SELECT " ROW_COLUMNS " FROM audit_log"
	" WHERE seq IS NULL ORDER BY id LIMIT " SEAL_BATCH;

static const char SEAL_ROW[] =
	"UPDATE audit_log SET seq = $2, prev_hash = $3::bytea,"
	" hash = sha256($3::bytea || $4::bytea) WHERE id = $1 AND seq IS NULL RETURNING hash";

/* Seal unsealed rows at the end of the chain; under the chain lock. */
static int seal_locked(struct cv_index *ix, struct cv_error *err)
{
	struct cv_buf canon = CV_BUF_INIT;
	PGresult *res = NULL, *up = NULL;
	uint8_t prev[32];
	int64_t head;
	int i, n, ret;

	ret = read_head(ix, &head, prev, NULL, err);
	if (ret < 0)
		return ret;
	do {
		PQclear(res);
		res = PQexecParams(ix->conn, UNSEALED, 0, NULL, NULL, NULL,
				   NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			ret = cv_index__error_pg(
				err, res, ix->conn,
				"could not read the unsealed audit rows");
			goto cleanup;
		}
		n = PQntuples(res);
		for (i = 0; i < n; i++) {
			struct cv_index_audit_row r;
			char id[24], seq[24];
			const char *params[4] = { id, seq, (const char *)prev,
						  NULL };
			int lengths[4] = { 0, 0, 32, 0 };
			const int formats[4] = { 0, 0, 1, 1 };

			if (read_row(&r, res, i) < 0) {
				ret = cv_error_set(
					err, CV_ERROR,
					"could not seal audit row %d of this batch: malformed",
					i);
				goto cleanup;
			}
			r.seq = ++head;
			cv_buf_reset(&canon);
			cv_index_audit_canonical(&canon, &r);
			snprintf(id, sizeof(id), "%" PRId64, r.id);
			snprintf(seq, sizeof(seq), "%" PRId64, r.seq);
			params[3] = canon.buf;
			lengths[3] = (int)canon.len;
			PQclear(up);
			up = PQexecParams(ix->conn, SEAL_ROW, 4, NULL, params,
					  lengths, formats, 0);
			if (PQresultStatus(up) != PGRES_TUPLES_OK ||
			    PQntuples(up) != 1 ||
			    cv_index__get_bytea(prev, 32, up, 0, 0) != 0) {
				ret = cv_index__error_pg(
					err, up, ix->conn,
					"could not seal audit row %s", id);
				goto cleanup;
			}
		}
	} while (n > 0);
	ret = 0;
cleanup:
	PQclear(up);
	PQclear(res);
	cv_buf_release(&canon);
	return ret;
}

static int lock_chain(struct cv_index *ix, struct cv_error *err)
{
	return exec_ok(ix, "SELECT pg_advisory_xact_lock(" CHAIN_LOCK_KEY ")",
		       "take the audit chain lock", err);
}

static int any_unsealed(struct cv_index *ix, int *any, struct cv_error *err)
{
	PGresult *res;
	int ret = 0;

	*any = 0;
	res = PQexecParams(
		ix->conn,
		"SELECT EXISTS (SELECT 1 FROM audit_log WHERE seq IS NULL)", 0,
		NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not look for unsealed audit rows");
	else
		*any = !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	return ret;
}

int cv_index_audit_seal(struct cv_index *ix, struct cv_error *err)
{
	int owned, any, ret;

	ret = any_unsealed(ix, &any, err);
	if (ret < 0 || !any)
		return ret;
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	ret = lock_chain(ix, err);
	if (ret == 0)
		ret = seal_locked(ix, err);
	return cv_index__tx_leave(ix, owned, ret, err);
}

static const char APPEND[] =
	"SELECT audit_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
	" $11::bigint, $12, $13, $14)";

/* The document an entry is about: given, or named by its object. */
static int64_t entry_document(const struct cv_index_audit_entry *e)
{
	long long v;

	if (e->document_id > 0)
		return e->document_id;
	if (e->object_type && !strcmp(e->object_type, "document") &&
	    e->object_id && cv_parse_ll(&v, e->object_id, 1, INT64_MAX) == 0)
		return v;
	return 0;
}

int cv_index_audit_append(struct cv_index *ix,
			  const struct cv_index_audit_entry *e, int64_t *seq,
			  struct cv_error *err)
{
	char doctext[24];
	const char *params[14];
	PGresult *res = NULL;
	int64_t doc;
	int ret;

	if (seq)
		*seq = 0;
	if (!e->actor || !*e->actor || !e->action || !*e->action)
		return cv_error_set(
			err, CV_EINVAL,
			"could not record an audit entry: actor and action are required");
	/*
	 * Rows from before the chain come only from an older chartvault, so
	 * one look per connection is enough; new ones are sealed by verify.
	 */
	if (!ix->audit_sealed) {
		ret = cv_index_audit_seal(ix, err);
		if (ret < 0)
			return ret;
		ix->audit_sealed = 1;
	}
	doc = entry_document(e);
	snprintf(doctext, sizeof(doctext), "%" PRId64, doc);
	params[0] = e->actor;
	params[1] = ix->audit_role;
	params[2] = ix->audit_context ? "f" : "t";
	params[3] = ix->audit_os_user;
	params[4] = ix->audit_host;
	params[5] = ix->audit_session;
	params[6] = e->action;
	params[7] = e->object_type;
	params[8] = e->object_id;
	params[9] = e->patient ? e->patient
		    : e->object_type && !strcmp(e->object_type, "patient")
			    ? e->object_id
			    : NULL;
	params[10] = doc > 0 ? doctext : NULL;
	params[11] = e->purpose;
	params[12] = e->detail;
	params[13] = e->outcome;
	/* One statement: its own transaction, or part of the caller's. */
	res = PQexecParams(ix->conn, APPEND, 14, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not record audit entry '%s'",
					 e->action);
		goto cleanup;
	}
	if (seq)
		cv_index__get_i64(seq, res, 0, 0);
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

/*
 * Many rows in one statement, still each through audit_append so that
 * none escapes the chain: the function runs once per row, in the arrays'
 * order (the sort comes before the select list's volatile calls), and the
 * statement is one transaction unless the caller has one open. The
 * connection's context columns are the same for every row.
 */
static const char APPEND_MANY[] =
	"SELECT audit_append(a, $1, $2::boolean, $3, $4, $5, ac, ot, oi, pa,"
	" di, pu, de, ou)"
	" FROM unnest($6::text[], $7::text[], $8::text[], $9::text[],"
	"  $10::text[], $11::bigint[], $12::text[], $13::text[], $14::text[])"
	"  WITH ORDINALITY AS t(a, ac, ot, oi, pa, di, pu, de, ou, n)"
	" ORDER BY n";

/* Columns of APPEND_MANY's arrays, in order ($6..$14). */
enum {
	C_ACTOR,
	C_ACTION,
	C_OTYPE,
	C_OID,
	C_PATIENT,
	C_DOC,
	C_PURPOSE,
	C_DETAIL,
	C_OUTCOME,
	C_N
};

int cv_index_audit_append_many(struct cv_index *ix,
			       const struct cv_index_audit_entry *e, size_t n,
			       int64_t *first_seq, struct cv_error *err)
{
	const char **col[C_N] = { NULL };
	char(*doctext)[24] = NULL;
	char *arr[C_N] = { NULL };
	const char *params[14];
	PGresult *res = NULL;
	size_t i, k;
	int ret;

	if (first_seq)
		*first_seq = 0;
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!e[i].actor || !*e[i].actor || !e[i].action ||
		    !*e[i].action)
			return cv_error_set(
				err, CV_EINVAL,
				"could not record an audit entry: actor and action are required");
	if (n > INT32_MAX)
		return cv_error_set(err, CV_ELIMIT,
				    "too many audit entries at once: %zu", n);
	if (!ix->audit_sealed) {
		ret = cv_index_audit_seal(ix, err);
		if (ret < 0)
			return ret;
		ix->audit_sealed = 1;
	}
	for (k = 0; k < C_N; k++)
		col[k] = cv_calloc(n, sizeof(*col[k]));
	doctext = cv_calloc(n, sizeof(*doctext));
	for (i = 0; i < n; i++) {
		int64_t doc = entry_document(&e[i]);

		snprintf(doctext[i], sizeof(doctext[i]), "%" PRId64, doc);
		col[C_ACTOR][i] = e[i].actor;
		col[C_ACTION][i] = e[i].action;
		col[C_OTYPE][i] = e[i].object_type;
		col[C_OID][i] = e[i].object_id;
		col[C_PATIENT][i] =
			e[i].patient ? e[i].patient
			: e[i].object_type &&
					!strcmp(e[i].object_type, "patient")
				? e[i].object_id
				: NULL;
		col[C_DOC][i] = doc > 0 ? doctext[i] : NULL;
		col[C_PURPOSE][i] = e[i].purpose;
		col[C_DETAIL][i] = e[i].detail;
		col[C_OUTCOME][i] = e[i].outcome;
	}
	for (k = 0; k < C_N; k++)
		arr[k] = cv_index__text_array(col[k], n);
	params[0] = ix->audit_role;
	params[1] = ix->audit_context ? "f" : "t";
	params[2] = ix->audit_os_user;
	params[3] = ix->audit_host;
	params[4] = ix->audit_session;
	for (k = 0; k < C_N; k++)
		params[5 + k] = arr[k];
	res = PQexecParams(ix->conn, APPEND_MANY, 14, NULL, params, NULL, NULL,
			   0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    PQntuples(res) != (int)n) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not record %zu audit entries",
					 n);
		goto cleanup;
	}
	if (first_seq)
		cv_index__get_i64(first_seq, res, 0, 0);
	ret = 0;
cleanup:
	PQclear(res);
	for (k = 0; k < C_N; k++) {
		free(arr[k]);
		free(col[k]);
	}
	free(doctext);
	return ret;
}

int cv_index_audit(struct cv_index *ix, const char *actor, const char *action,
		   const char *object_type, const char *object_id,
		   const char *detail, const char *outcome,
		   struct cv_error *err)
{
	struct cv_index_audit_entry e;

	memset(&e, 0, sizeof(e));
	e.actor = actor;
	e.action = action;
	e.object_type = object_type;
	e.object_id = object_id;
	e.detail = detail;
	e.outcome = outcome;
	return cv_index_audit_append(ix, &e, NULL, err);
}

static const char SCAN[] = "SELECT " ROW_COLUMNS " FROM audit_log"
			   " WHERE seq > $1 ORDER BY seq LIMIT " SCAN_PAGE;

int cv_index_audit_scan(struct cv_index *ix, int64_t after,
			cv_index_audit_row_fn fn, void *ctx,
			struct cv_error *err)
{
	char from[24];
	const char *params[1] = { from };
	PGresult *res = NULL;
	int i, n, ret;

	do {
		snprintf(from, sizeof(from), "%" PRId64, after);
		PQclear(res);
		res = PQexecParams(ix->conn, SCAN, 1, NULL, params, NULL, NULL,
				   0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			ret = cv_index__error_pg(
				err, res, ix->conn,
				"could not read the audit trail");
			goto cleanup;
		}
		n = PQntuples(res);
		for (i = 0; i < n; i++) {
			struct cv_index_audit_row r;

			if (read_row(&r, res, i) < 0) {
				ret = cv_error_set(
					err, CV_ERROR,
					"could not read the audit trail: a row after seq %" PRId64
					" is malformed",
					after);
				goto cleanup;
			}
			ret = fn(ctx, &r, err);
			if (ret < 0)
				goto cleanup;
			after = r.seq;
		}
	} while (n > 0);
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

static int count_query(struct cv_index *ix, const char *sql, int64_t *n,
		       const char *what, struct cv_error *err)
{
	PGresult *res;
	int ret = 0;

	res = PQexecParams(ix->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    cv_index__get_i64(n, res, 0, 0) < 0)
		ret = cv_index__error_pg(err, res, ix->conn, "could not %s",
					 what);
	PQclear(res);
	return ret;
}

int cv_index_audit_unsealed(struct cv_index *ix, int64_t *n,
			    struct cv_error *err)
{
	return count_query(ix,
			   "SELECT count(*) FROM audit_log WHERE seq IS NULL",
			   n, "count the unsealed audit rows", err);
}

int cv_index_audit_head(struct cv_index *ix, int64_t *seq, uint8_t hash[32],
			char at[32], struct cv_error *err)
{
	return read_head(ix, seq, hash, at, err);
}

static const char ADD_CHECKPOINT[] =
	"INSERT INTO audit_checkpoints (seq, hash, at, public_key, signature)"
	" VALUES ($1, $2, $3::timestamptz, $4, $5) RETURNING id";

int cv_index_audit_checkpoint_add(struct cv_index *ix,
				  const struct cv_index_audit_checkpoint *cp,
				  struct cv_error *err)
{
	char seq[24];
	const char *params[5] = { seq, (const char *)cp->hash, cp->at,
				  (const char *)cp->public_key,
				  (const char *)cp->signature };
	const int lengths[5] = { 0, 32, 0, 32, 64 };
	const int formats[5] = { 0, 1, 0, 1, 1 };
	PGresult *res;
	int ret = 0;

	snprintf(seq, sizeof(seq), "%" PRId64, cp->seq);
	res = PQexecParams(ix->conn, ADD_CHECKPOINT, 5, NULL, params, lengths,
			   formats, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not record audit checkpoint %s",
					 seq);
	PQclear(res);
	return ret;
}

static const char LIST_CHECKPOINTS[] = "SELECT id, seq, hash, " AT_TEXT(
	"at") ", public_key, signature"
	      " FROM audit_checkpoints ORDER BY seq, id";

int cv_index_audit_checkpoints(struct cv_index *ix,
			       struct cv_index_audit_checkpoint **out,
			       size_t *n, struct cv_error *err)
{
	struct cv_index_audit_checkpoint *v = NULL;
	PGresult *res;
	int i, rows, ret;

	*out = NULL;
	*n = 0;
	res = PQexecParams(ix->conn, LIST_CHECKPOINTS, 0, NULL, NULL, NULL,
			   NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not list the audit checkpoints");
		goto cleanup;
	}
	rows = PQntuples(res);
	v = cv_calloc((size_t)rows + 1, sizeof(*v));
	for (i = 0; i < rows; i++) {
		if (cv_index__get_i64(&v[i].id, res, i, 0) < 0 ||
		    cv_index__get_i64(&v[i].seq, res, i, 1) < 0 ||
		    cv_index__get_bytea(v[i].hash, 32, res, i, 2) != 0 ||
		    cv_index__get_bytea(v[i].public_key, 32, res, i, 4) != 0 ||
		    cv_index__get_bytea(v[i].signature, 64, res, i, 5) != 0) {
			ret = cv_error_set(
				err, CV_ERROR,
				"could not list the audit checkpoints: row %d is malformed",
				i + 1);
			goto cleanup;
		}
		snprintf(v[i].at, sizeof(v[i].at), "%s", PQgetvalue(res, i, 3));
	}
	*out = v;
	*n = (size_t)rows;
	v = NULL;
	ret = 0;
cleanup:
	free(v);
	PQclear(res);
	return ret;
}

static const char DUE[] =
	"SELECT coalesce((SELECT max(seq) FROM audit_checkpoints), 0),"
	" coalesce((SELECT extract(epoch FROM max(at))::bigint"
	"  FROM audit_checkpoints), 0),"
	" coalesce((SELECT max(seq) FROM audit_log), 0),"
	" coalesce((SELECT extract(epoch FROM at)::bigint FROM audit_log"
	"  WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1), 0)";

int cv_index_audit_due(struct cv_index *ix, int64_t *cp_seq, int64_t *cp_time,
		       int64_t *head_seq, int64_t *head_time,
		       struct cv_error *err)
{
	int64_t *outs[4] = { cp_seq, cp_time, head_seq, head_time };
	PGresult *res;
	int i, ret = 0;

	res = PQexecParams(ix->conn, DUE, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not read the audit checkpoint state");
		goto cleanup;
	}
	for (i = 0; i < 4; i++) {
		if (cv_index__get_i64(outs[i], res, 0, i) < 0) {
			ret = cv_error_set(
				err, CV_ERROR,
				"could not read the audit checkpoint state: column %d",
				i + 1);
			goto cleanup;
		}
	}
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_audit_checkpoint_lock(struct cv_index *ix, struct cv_error *err)
{
	return exec_ok(ix,
		       "SELECT pg_advisory_xact_lock(" CHECKPOINT_LOCK_KEY ")",
		       "take the audit checkpoint lock", err);
}

/*
 * A patient's rows: about them, about one of their documents, or a search
 * that returned one of their documents (search rows list the document ids
 * they returned in object_id).
 */
static const char QUERY[] =
	"SELECT * FROM (SELECT " ROW_COLUMNS " FROM audit_log a WHERE"
	" ($1::text IS NULL OR a.patient = $1"
	"  OR a.document_id IN (SELECT id FROM documents WHERE mrn = $1)"
	"  OR (a.action = 'search' AND a.object_type = 'documents'"
	"      AND coalesce(a.object_id, '') <> ''"
	"      AND string_to_array(a.object_id, ',') &&"
	"          ARRAY(SELECT id::text FROM documents WHERE mrn = $1)))"
	" AND ($2::text IS NULL OR a.actor = $2 OR a.os_user = $2)"
	" AND ($3::bigint IS NULL OR a.document_id = $3"
	"  OR (a.action = 'search' AND a.object_type = 'documents'"
	"      AND $3::text = ANY (string_to_array(a.object_id, ','))))"
	" AND ($4::text IS NULL OR a.action = $4"
	"  OR (right($4, 1) = '.' AND starts_with(a.action, $4)))"
	" AND ($5::timestamp IS NULL OR a.at >= $5::timestamp AT TIME ZONE 'UTC')"
	" AND ($7::bigint IS NULL OR a.seq < $7::bigint)"
	" ORDER BY a.seq DESC NULLS FIRST, a.id DESC LIMIT $6::bigint) AS t"
	" ORDER BY seq NULLS LAST, id";

int cv_index_audit_query(struct cv_index *ix,
			 const struct cv_index_audit_filter *f,
			 cv_index_audit_row_fn fn, void *ctx,
			 struct cv_error *err)
{
	char doc[24], limit[24], before[24];
	const char *params[7] = { f->patient,
				  f->actor,
				  f->document_id > 0 ? doc : NULL,
				  f->action,
				  f->since,
				  f->limit > 0 ? limit : NULL,
				  f->before_seq > 0 ? before : NULL };
	PGresult *res;
	int i, n, ret;

	snprintf(doc, sizeof(doc), "%" PRId64, f->document_id);
	snprintf(limit, sizeof(limit), "%" PRId64, f->limit);
	snprintf(before, sizeof(before), "%" PRId64, f->before_seq);
	res = PQexecParams(ix->conn, QUERY, 7, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read the audit trail");
		goto cleanup;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		struct cv_index_audit_row r;

		if (read_row(&r, res, i) < 0) {
			ret = cv_error_set(
				err, CV_ERROR,
				"could not read the audit trail: row %d is malformed",
				i + 1);
			goto cleanup;
		}
		ret = fn(ctx, &r, err);
		if (ret < 0)
			goto cleanup;
	}
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}
