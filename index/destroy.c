/*
 * Destruction of records in the index: batches proposed by one person
 * and approved by another, and the per-record state machine that lets an
 * interrupted execution resume without ever leaving a record half
 * destroyed.
 *
 * A record (a document) moves through
 *
 *   pending --unlink--> unlinked --erase--> destroyed
 *      \--> held | not-eligible | gone   (re-checked at execution)
 *
 * "unlink" is one transaction, serialised with hold placement: re-check
 * hold and eligibility, capture the record's objects with their key
 * fingerprints (the evidence must survive the keys), write the ghost and
 * delete the index rows and search vectors. Before it commits the record
 * is untouched; after, it is gone from every index view, and what is left
 * is its objects' keys and bytes, which the archive's crypto-erase
 * destroys (keys first, in one committed transaction, then the files).
 * A run killed between the two finds the record "unlinked" and completes
 * the erase; erasing twice is harmless (the primitive reports "already").
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

#define TS(col)                                        \
	"coalesce(to_char(" col " AT TIME ZONE 'UTC'," \
	" 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"

static const char PROPOSE_BATCH[] =
	"INSERT INTO destruction_batches (cutoff, proposed_by)"
	" VALUES ($1, $2) RETURNING id";

static const char PROPOSE_ITEMS[] =
	"INSERT INTO destruction_items (batch_id, document_id, mrn, doc_type,"
	" first_date, last_date, rule_id, rule_version, eligible_on)"
	" SELECT $1, d.id, d.mrn, d.doc_type,"
	"  coalesce(d.service_date, (d.created_at AT TIME ZONE 'UTC')::date),"
	"  coalesce(d.service_date, (d.created_at AT TIME ZONE 'UTC')::date),"
	"  r.rule_id, r.rule_version, r.eligible_on"
	" FROM retention_eligibility r JOIN documents d ON d.id = r.document_id"
	" WHERE r.status = 'date' AND r.eligible_on <= $2::date"
	" AND document_hold(d.id) IS NULL"
	" AND NOT EXISTS (SELECT 1 FROM destruction_items i"
	"  JOIN destruction_batches b ON b.id = i.batch_id"
	"  WHERE i.document_id = d.id"
	"  AND b.state IN ('proposed', 'approved', 'executing'))"
	" AND ($3::bigint[] IS NULL OR d.id = ANY ($3::bigint[]))"
	" ORDER BY d.id";

static const char DROP_BATCH[] =
	"DELETE FROM destruction_batches WHERE id = $1";

static const char BATCH[] =
	"SELECT b.id, b.state, to_char(b.cutoff, 'YYYY-MM-DD'), b.proposed_by,"
	" " TS("b.proposed_at") ", coalesce(b.approved_by, ''),"
				" " TS("b.approved_at") ", coalesce(b.executed_by, ''),"
							" " TS("b.started_at") ", " TS(
								"b.executed_at") ","
										 " count(i.document_id),"
										 " count(*) FILTER (WHERE i.state = 'pending'),"
										 " count(*) FILTER (WHERE i.state = 'unlinked'),"
										 " count(*) FILTER (WHERE i.state = 'destroyed'),"
										 " count(*) FILTER (WHERE i.state = 'held'),"
										 " count(*) FILTER (WHERE i.state = 'not-eligible'),"
										 " count(*) FILTER (WHERE i.state = 'gone')"
										 " FROM destruction_batches b"
										 " LEFT JOIN destruction_items i ON i.batch_id = b.id"
										 " WHERE $1::bigint IS NULL OR b.id = $1"
										 " GROUP BY b.id ORDER BY b.id";

static const char ITEMS[] =
	"SELECT document_id, coalesce(mrn, ''), doc_type,"
	" coalesce(to_char(first_date, 'YYYY-MM-DD'), ''),"
	" coalesce(to_char(last_date, 'YYYY-MM-DD'), ''), rule_id,"
	" rule_version, to_char(eligible_on, 'YYYY-MM-DD'), state,"
	" coalesce(reason, ''),"
	" coalesce(to_char(done_at AT TIME ZONE 'UTC',"
	"  'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '')"
	" FROM destruction_items WHERE batch_id = $1 ORDER BY document_id";

static const char LOCK_BATCH[] =
	"SELECT state, proposed_by FROM destruction_batches WHERE id = $1"
	" FOR UPDATE";

static const char APPROVE[] =
	"UPDATE destruction_batches SET state = 'approved', approved_by = $2,"
	" approved_at = now() WHERE id = $1";

static const char CANCEL[] =
	"UPDATE destruction_batches SET state = 'cancelled' WHERE id = $1";

/* One executor per batch: a session lock, released if the process dies. */
static const char EXECUTOR_LOCK[] =
	"SELECT pg_try_advisory_lock($1::int, $2::int)";

static const char START[] =
	"UPDATE destruction_batches SET state = 'executing', executed_by = $2,"
	" started_at = now() WHERE id = $1";

static const char LOCK_ITEM[] =
	"SELECT state FROM destruction_items"
	" WHERE batch_id = $1 AND document_id = $2 FOR UPDATE";

static const char LOCK_DOC[] =
	"SELECT 1 FROM documents WHERE id = $1 FOR UPDATE";

static const char HOLD_OF[] = "SELECT document_hold($1)";

static const char SKIP_ITEM[] =
	"UPDATE destruction_items SET state = $3, reason = $4, done_at = now()"
	" WHERE batch_id = $1 AND document_id = $2";

/* Original files that no other document uses go with the record. */
static const char FILES_OF[] =
	"SELECT DISTINCT p.file_id FROM pages p WHERE (p.document_id = $1"
	"  OR p.id IN (SELECT old_page_id FROM page_replacements"
	"   WHERE document_id = $1))"
	" AND NOT EXISTS (SELECT 1 FROM pages q WHERE q.file_id = p.file_id"
	"  AND q.document_id IS NOT NULL AND q.document_id <> $1)"
	" ORDER BY 1";

/* The record's pages, the pages its rescans replaced among them. */
static const char PAGES_OF[] =
	"SELECT id FROM pages WHERE document_id = $1"
	" OR file_id = ANY ($2::bigint[])"
	" OR id IN (SELECT old_page_id FROM page_replacements"
	"  WHERE document_id = $1) ORDER BY id";

static const char CAPTURE[] =
	"INSERT INTO destruction_objects (batch_id, document_id, object_id,"
	" kind, kek_id, key_fpr)"
	" SELECT $1, $2, o.id, o.kind, o.kek_id,"
	"  CASE WHEN o.wrapped_key IS NULL THEN NULL"
	"  ELSE substring(sha256(o.wrapped_key) FROM 1 FOR 16) END"
	" FROM objects o WHERE o.id IN ("
	"  SELECT unnest(ARRAY[p.text_object, p.words_object, p.image_object])"
	"  FROM pages p WHERE p.id = ANY ($3::bigint[])"
	"  UNION SELECT f.object_id FROM source_files f"
	"  WHERE f.id = ANY ($4::bigint[])"
	"  UNION SELECT d.pdf_object FROM documents d WHERE d.id = $2"
	"  UNION SELECT r.old_pdf_object FROM page_replacements r"
	"  WHERE r.document_id = $2"
	"  UNION SELECT v.object_id FROM page_previews v"
	"  WHERE v.page_id = ANY ($3::bigint[]))"
	" ON CONFLICT DO NOTHING";

static const char SET_RULE[] =
	"UPDATE destruction_items SET rule_id = $3, rule_version = $4,"
	" eligible_on = $5 WHERE batch_id = $1 AND document_id = $2";

static const char GHOST[] =
	"INSERT INTO destroyed_records (document_id, mrn, doc_type, first_date,"
	" last_date, rule_id, rule_version, batch_id)"
	" SELECT document_id, mrn, doc_type, first_date, last_date, rule_id,"
	" rule_version, batch_id FROM destruction_items"
	" WHERE batch_id = $1 AND document_id = $2";

/*
 * Every row that names the record, children first. Parameters, by the
 * mask: 1 the document id, 2 its pages (bigint[]), 4 its files.
 */
static const struct {
	const char *sql;
	int params;
} DELETES[] = {
	{ "DELETE FROM exceptions WHERE document_id = $1"
	  " OR page_id = ANY ($2::bigint[])",
	  1 | 2 },
	{ "DELETE FROM retention_eligibility WHERE document_id = $1", 1 },
	{ "DELETE FROM queue_actions WHERE document_id = $1"
	  " OR page_id = ANY ($2::bigint[])",
	  1 | 2 },
	{ "DELETE FROM page_replacements WHERE document_id = $1"
	  " OR old_page_id = ANY ($2::bigint[])"
	  " OR new_page_id = ANY ($2::bigint[])",
	  1 | 2 },
	{ "DELETE FROM page_previews WHERE page_id = ANY ($1::bigint[])", 2 },
	{ "DELETE FROM pages WHERE id = ANY ($1::bigint[])", 2 },
	{ "DELETE FROM documents WHERE id = $1", 1 },
	{ "DELETE FROM source_files WHERE id = ANY ($1::bigint[])", 4 },
};

static const char UNLINKED[] = "UPDATE destruction_items SET state = 'unlinked'"
			       " WHERE batch_id = $1 AND document_id = $2";

static const char OBJECTS[] =
	"SELECT document_id, object_id, kind, kek_id, key_fpr,"
	" coalesce(outcome, ''), coalesce(kept_by, ''),"
	" CASE WHEN file_present IS NULL THEN -1 WHEN file_present THEN 1"
	"  ELSE 0 END,"
	" coalesce(to_char(erased_at AT TIME ZONE 'UTC',"
	"  'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '')"
	" FROM destruction_objects WHERE batch_id = $1"
	" AND ($2::bigint = 0 OR document_id = $2)"
	" ORDER BY document_id, object_id";

static const char RECORD_ERASED[] =
	"UPDATE destruction_objects o SET outcome = x.outcome,"
	" kept_by = nullif(x.kept_by, ''), file_present = x.present,"
	" erased_at = x.at::timestamptz"
	" FROM unnest($3::text[], $4::text[], $5::text[], $6::bool[],"
	"  $7::text[]) AS x(id, outcome, kept_by, present, at)"
	" WHERE o.batch_id = $1 AND o.document_id = $2"
	" AND o.object_id = decode(x.id, 'hex') AND o.outcome IS NULL";

static const char DESTROYED[] =
	"UPDATE destruction_items SET state = 'destroyed', done_at = now()"
	" WHERE batch_id = $1 AND document_id = $2 AND state = 'unlinked'";

static const char VACUUM[] =
	"VACUUM (ANALYZE) pages, documents, source_files, exceptions,"
	" retention_eligibility, queue_actions, page_replacements, page_previews,"
	" objects";

static const char FINISH[] =
	"UPDATE destruction_batches SET state = 'executed', executed_at = now(),"
	" certificate = $2, signature = $3"
	" WHERE id = $1 AND state = 'executing' AND NOT EXISTS"
	" (SELECT 1 FROM destruction_items WHERE batch_id = $1"
	"  AND state IN ('pending', 'unlinked'))";

static const char CERTIFICATE[] =
	"SELECT certificate, signature FROM destruction_batches WHERE id = $1";

static const char AUDIT_COUNT[] =
	"SELECT count(*) FROM audit_log WHERE action = $1"
	" AND object_type = $2 AND object_id = $3"
	" AND ($4::text IS NULL OR outcome = $4)";

static const char GHOST_OF[] =
	"SELECT document_id, coalesce(mrn, ''), doc_type,"
	" coalesce(to_char(first_date, 'YYYY-MM-DD'), ''),"
	" coalesce(to_char(last_date, 'YYYY-MM-DD'), ''), rule_id,"
	" rule_version, batch_id,"
	" to_char(destroyed_at AT TIME ZONE 'UTC',"
	"  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	" FROM destroyed_records WHERE document_id = $1";

static void copy(char *dst, size_t n, const PGresult *res, int row, int col)
{
	snprintf(dst, n, "%s", PQgetvalue(res, row, col));
}

/* Run sql with params; expect tuples or a command. */
static PGresult *run(struct cv_index *ix, const char *sql, int n,
		     const char *const *params)
{
	return PQexecParams(ix->conn, sql, n, NULL, params, NULL, NULL, 0);
}

int cv_index_destroy_propose(struct cv_index *ix, const char *cutoff,
			     const char *actor, int64_t *id, size_t *nitems,
			     struct cv_error *err)
{
	return cv_index_destroy_propose_docs(ix, cutoff, NULL, 0, actor, id,
					     nitems, err);
}

/* "{1,2,3}": a bigint[] literal of the n ids. */
static char *ids_literal(const int64_t *ids, size_t n)
{
	struct cv_buf b = CV_BUF_INIT;
	size_t i;

	cv_buf_addch(&b, '{');
	for (i = 0; i < n; i++)
		cv_buf_addf(&b, "%s%" PRId64, i ? "," : "", ids[i]);
	cv_buf_addch(&b, '}');
	return cv_buf_detach(&b, NULL);
}

int cv_index_destroy_propose_docs(struct cv_index *ix, const char *cutoff,
				  const int64_t *docs, size_t ndocs,
				  const char *actor, int64_t *id,
				  size_t *nitems, struct cv_error *err)
{
	struct cv_retention_eval_report rep;
	char day[11], bid[24], detail[96];
	const char *params[3];
	char *only = NULL;
	size_t i;
	PGresult *res = NULL;
	int32_t today, c;
	int owned, ret;
	long long n = 0;

	*id = 0;
	*nitems = 0;
	ret = cv_index__today(ix, &today, err);
	if (ret < 0)
		return ret;
	if (cutoff) {
		if (cv_retention_date_parse(&c, cutoff) < 0)
			return cv_error_set(
				err, CV_EINVAL,
				"'%.32s' is not a date (YYYY-MM-DD)", cutoff);
		if (c > today)
			return cv_error_set(
				err, CV_EINVAL,
				"a destruction batch cannot take records before they are eligible: %s is after today",
				cutoff);
	} else {
		c = today;
	}
	for (i = 0; i < ndocs; i++)
		if (docs[i] <= 0)
			return cv_error_set(
				err, CV_EINVAL,
				"'%" PRId64 "' is not a document id", docs[i]);
	cv_retention_date_format(day, c);
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	/* Dates are only as good as their last evaluation: redo it. */
	ret = cv_index_retention_evaluate(ix, NULL, actor, &rep, err);
	if (ret < 0)
		goto cleanup;
	params[0] = day;
	params[1] = actor;
	res = run(ix, PROPOSE_BATCH, 2, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    cv_index__get_i64(id, res, 0, 0) < 0) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not make a destruction batch");
		goto cleanup;
	}
	PQclear(res);
	snprintf(bid, sizeof(bid), "%" PRId64, *id);
	params[0] = bid;
	params[1] = day;
	/* Only the records asked for, when some were: a batch must never
	 * take more than the person proposing it looked at. */
	only = ndocs ? ids_literal(docs, ndocs) : NULL;
	params[2] = only;
	res = run(ix, PROPOSE_ITEMS, 3, params);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not fill destruction batch %s",
					 bid);
		goto cleanup;
	}
	cv_parse_ll(&n, PQcmdTuples(res), 0, INT64_MAX);
	if (n == 0) {
		/* Nothing to propose: no empty batch is left behind (the
		 * fresh evaluation is kept). */
		PQclear(res);
		params[0] = bid;
		res = run(ix, DROP_BATCH, 1, params);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			ret = cv_index__error_pg(
				err, res, ix->conn,
				"could not drop empty batch %s", bid);
		*id = 0;
		goto cleanup;
	}
	snprintf(detail, sizeof(detail), "records %lld, cutoff %s%s", n, day,
		 ndocs ? ", chosen records only" : "");
	ret = cv_index_audit(ix, actor, "destroy.propose", "destruction_batch",
			     bid, detail, "ok", err);
	*nitems = (size_t)n;
cleanup:
	PQclear(res);
	free(only);
	ret = cv_index__tx_leave(ix, owned, ret, err);
	if (ret < 0) {
		*id = 0;
		*nitems = 0;
	}
	return ret;
}

static void read_batch(const PGresult *res, int i,
		       struct cv_index_destroy_batch *b)
{
	int64_t *counts[] = { &b->items,     &b->pending, &b->unlinked,
			      &b->destroyed, &b->held,    &b->not_eligible,
			      &b->gone };
	size_t k;

	memset(b, 0, sizeof(*b));
	cv_index__get_i64(&b->id, res, i, 0);
	copy(b->state, sizeof(b->state), res, i, 1);
	copy(b->cutoff, sizeof(b->cutoff), res, i, 2);
	copy(b->proposed_by, sizeof(b->proposed_by), res, i, 3);
	copy(b->proposed_at, sizeof(b->proposed_at), res, i, 4);
	copy(b->approved_by, sizeof(b->approved_by), res, i, 5);
	copy(b->approved_at, sizeof(b->approved_at), res, i, 6);
	copy(b->executed_by, sizeof(b->executed_by), res, i, 7);
	copy(b->started_at, sizeof(b->started_at), res, i, 8);
	copy(b->executed_at, sizeof(b->executed_at), res, i, 9);
	for (k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
		cv_index__get_i64(counts[k], res, i, 10 + (int)k);
}

int cv_index_destroy_list(struct cv_index *ix,
			  struct cv_index_destroy_batch **out, size_t *n,
			  struct cv_error *err)
{
	const char *params[1] = { NULL };
	PGresult *res;
	int i, rows, ret = 0;

	*out = NULL;
	*n = 0;
	res = run(ix, BATCH, 1, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not list destruction batches");
		goto cleanup;
	}
	rows = PQntuples(res);
	*out = cv_calloc((size_t)rows + 1, sizeof(**out));
	for (i = 0; i < rows; i++)
		read_batch(res, i, &(*out)[i]);
	*n = (size_t)rows;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_destroy_get(struct cv_index *ix, int64_t id,
			 struct cv_index_destroy_batch *b,
			 struct cv_index_destroy_item **items, size_t *n,
			 struct cv_error *err)
{
	char bid[24];
	const char *params[1] = { bid };
	struct cv_index_destroy_item *v;
	PGresult *res;
	int i, rows, ret;

	if (items)
		*items = NULL;
	if (n)
		*n = 0;
	snprintf(bid, sizeof(bid), "%" PRId64, id);
	res = run(ix, BATCH, 1, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read destruction batch %s",
					 bid);
		goto cleanup;
	}
	if (PQntuples(res) != 1) {
		ret = cv_error_set(err, CV_ENOTFOUND, "no destruction batch %s",
				   bid);
		goto cleanup;
	}
	read_batch(res, 0, b);
	if (!items) {
		ret = 0;
		goto cleanup;
	}
	PQclear(res);
	res = run(ix, ITEMS, 1, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not read the records of destruction batch %s",
			bid);
		goto cleanup;
	}
	rows = PQntuples(res);
	v = cv_calloc((size_t)rows + 1, sizeof(*v));
	for (i = 0; i < rows; i++) {
		int64_t x = 0;

		cv_index__get_i64(&v[i].document_id, res, i, 0);
		copy(v[i].mrn, sizeof(v[i].mrn), res, i, 1);
		copy(v[i].doc_type, sizeof(v[i].doc_type), res, i, 2);
		copy(v[i].first_date, sizeof(v[i].first_date), res, i, 3);
		copy(v[i].last_date, sizeof(v[i].last_date), res, i, 4);
		copy(v[i].rule_id, sizeof(v[i].rule_id), res, i, 5);
		cv_index__get_i64(&x, res, i, 6);
		v[i].rule_version = (int)x;
		copy(v[i].eligible_on, sizeof(v[i].eligible_on), res, i, 7);
		copy(v[i].state, sizeof(v[i].state), res, i, 8);
		copy(v[i].reason, sizeof(v[i].reason), res, i, 9);
		copy(v[i].done_at, sizeof(v[i].done_at), res, i, 10);
	}
	*items = v;
	*n = (size_t)rows;
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

/* Lock a batch's row; its state and proposer into the buffers. */
static int lock_batch(struct cv_index *ix, const char *bid, char state[16],
		      char proposer[64], struct cv_error *err)
{
	const char *params[1] = { bid };
	PGresult *res = run(ix, LOCK_BATCH, 1, params);
	int ret = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not lock destruction batch %s",
					 bid);
	else if (PQntuples(res) != 1)
		ret = cv_error_set(err, CV_ENOTFOUND, "no destruction batch %s",
				   bid);
	else {
		copy(state, 16, res, 0, 0);
		copy(proposer, 64, res, 0, 1);
	}
	PQclear(res);
	return ret;
}

static int simple_update(struct cv_index *ix, const char *sql, int n,
			 const char *const *params, const char *what,
			 struct cv_error *err)
{
	PGresult *res = run(ix, sql, n, params);
	int ret = 0;

	if (!cv_index__result_ok(res))
		ret = cv_index__error_pg(err, res, ix->conn, "could not %s",
					 what);
	PQclear(res);
	return ret;
}

int cv_index_destroy_approve(struct cv_index *ix, int64_t id, const char *actor,
			     struct cv_error *err)
{
	char bid[24], state[16], proposer[64];
	const char *params[2] = { bid, actor };
	int ret, denied = 0;

	snprintf(bid, sizeof(bid), "%" PRId64, id);
	ret = cv_index_begin(ix, err);
	if (ret < 0)
		return ret;
	ret = lock_batch(ix, bid, state, proposer, err);
	if (ret < 0)
		goto cleanup;
	if (strcmp(state, "proposed")) {
		ret = cv_error_set(err, CV_EINVAL,
				   "destruction batch %s is %s, not proposed",
				   bid, state);
		goto cleanup;
	}
	if (!strcmp(proposer, actor)) {
		denied = 1;
		ret = cv_error_set(
			err, CV_EEXISTS,
			"destruction batch %s was proposed by '%s': another person must approve it",
			bid, actor);
		cv_error_hint(
			err,
			"two-person rule: a compliance officer other than the proposer runs 'chartvault destroy approve %s'",
			bid);
		goto cleanup;
	}
	ret = simple_update(ix, APPROVE, 2, params, "approve the batch", err);
	if (ret == 0)
		ret = cv_index_audit(ix, actor, "destroy.approve",
				     "destruction_batch", bid, NULL, "ok", err);
cleanup:
	if (ret == 0)
		return cv_index_commit(ix, err);
	cv_index_rollback(ix);
	/* A refusal is recorded, in a transaction of its own. */
	if (denied)
		cv_index_audit(ix, actor, "destroy.approve",
			       "destruction_batch", bid,
			       "two-person rule: proposer may not approve",
			       "denied", NULL);
	return ret;
}

int cv_index_destroy_cancel(struct cv_index *ix, int64_t id, const char *actor,
			    const char *reason, struct cv_error *err)
{
	char bid[24], state[16], proposer[64];
	const char *params[1] = { bid };
	int ret;

	if (!reason || !*reason)
		return cv_error_set(err, CV_EINVAL,
				    "cancelling a batch needs a reason");
	snprintf(bid, sizeof(bid), "%" PRId64, id);
	ret = cv_index_begin(ix, err);
	if (ret < 0)
		return ret;
	ret = lock_batch(ix, bid, state, proposer, err);
	if (ret == 0 && strcmp(state, "proposed") && strcmp(state, "approved"))
		ret = cv_error_set(
			err, CV_EINVAL,
			"destruction batch %s is %s: only a proposed or approved batch can be cancelled",
			bid, state);
	if (ret == 0)
		ret = simple_update(ix, CANCEL, 1, params, "cancel the batch",
				    err);
	if (ret == 0)
		ret = cv_index_audit(ix, actor, "destroy.cancel",
				     "destruction_batch", bid, reason, "ok",
				     err);
	if (ret == 0)
		return cv_index_commit(ix, err);
	cv_index_rollback(ix);
	return ret;
}

/*
 * Two runs of the same batch at once would erase the same records twice
 * and blur the evidence; the second is refused. The lock is the
 * session's, so a killed run's lock goes with its connection.
 */
static int executor_lock(struct cv_index *ix, const char *bid,
			 struct cv_error *err)
{
	char key[24];
	const char *params[2] = { key, bid };
	PGresult *res;
	int ret = 0;

	snprintf(key, sizeof(key), "%d", (int)CV_INDEX__DESTROY_LOCK);
	res = run(ix, EXECUTOR_LOCK, 2, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not lock destruction batch %s",
					 bid);
	else if (strcmp(PQgetvalue(res, 0, 0), "t"))
		ret = cv_error_set(
			err, CV_EEXISTS,
			"destruction batch %s is being executed by another process",
			bid);
	PQclear(res);
	return ret;
}

int cv_index_destroy_start(struct cv_index *ix, int64_t id, const char *actor,
			   struct cv_error *err)
{
	char bid[24], state[16], proposer[64];
	const char *params[2] = { bid, actor };
	int ret;

	snprintf(bid, sizeof(bid), "%" PRId64, id);
	ret = executor_lock(ix, bid, err);
	if (ret < 0)
		return ret;
	ret = cv_index_begin(ix, err);
	if (ret < 0)
		return ret;
	ret = lock_batch(ix, bid, state, proposer, err);
	if (ret < 0)
		goto cleanup;
	if (!strcmp(state, "executing")) {
		ret = cv_index_audit(ix, actor, "destroy.resume",
				     "destruction_batch", bid, NULL, "ok", err);
		goto cleanup;
	}
	if (strcmp(state, "approved")) {
		ret = cv_error_set(
			err, CV_EINVAL,
			"destruction batch %s is %s: only an approved batch is executed",
			bid, state);
		if (!strcmp(state, "proposed"))
			cv_error_hint(
				err,
				"a second person approves it first: 'chartvault destroy approve %s'",
				bid);
		goto cleanup;
	}
	ret = simple_update(ix, START, 2, params, "start the batch", err);
	if (ret == 0)
		ret = cv_index_audit(ix, actor, "destroy.start",
				     "destruction_batch", bid, NULL, "ok", err);
cleanup:
	if (ret == 0)
		return cv_index_commit(ix, err);
	cv_index_rollback(ix);
	return ret;
}

/* The ids a query returns, as a bigint[] literal. */
static int id_array(struct cv_index *ix, const char *sql, int n,
		    const char *const *params, struct cv_buf *out,
		    size_t *count, struct cv_error *err)
{
	PGresult *res = run(ix, sql, n, params);
	int i, ret = 0;

	cv_buf_reset(out);
	*count = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not find the record's rows");
		goto cleanup;
	}
	cv_buf_addch(out, '{');
	for (i = 0; i < PQntuples(res); i++)
		cv_buf_addf(out, "%s%s", i ? "," : "", PQgetvalue(res, i, 0));
	cv_buf_addch(out, '}');
	*count = (size_t)PQntuples(res);
cleanup:
	PQclear(res);
	return ret;
}

/* Mark an item skipped (held, not-eligible, gone) with its reason. */
static int skip(struct cv_index *ix, const char *bid, const char *did,
		const char *state, const char *reason, const char *actor,
		struct cv_error *err)
{
	const char *params[4] = { bid, did, state, reason };
	char detail[200];
	int ret;

	ret = simple_update(ix, SKIP_ITEM, 4, params, "mark the record", err);
	snprintf(detail, sizeof(detail), "batch %s: %s (%s)", bid, state,
		 reason);
	if (ret == 0)
		ret = cv_index_audit(ix, actor, "record.destroy", "document",
				     did, detail, "refused", err);
	return ret;
}

/* Re-check, capture, ghost and delete; the caller's transaction. */
static int unlink_record(struct cv_index *ix, const char *bid, const char *did,
			 int64_t doc_id, const char *actor, char state[16],
			 struct cv_error *err)
{
	struct cv_buf files = CV_BUF_INIT, pages = CV_BUF_INIT;
	struct cv_retention_value v;
	const char *params[5];
	char rule[64], ver[16], on[11], reason[160], detail[200];
	PGresult *res = NULL;
	size_t nfiles, npages, i;
	int32_t today;
	int64_t hold = 0;
	int version, ret;

	params[0] = bid;
	params[1] = did;
	res = run(ix, LOCK_ITEM, 2, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		ret = PQresultStatus(res) == PGRES_TUPLES_OK
			      ? cv_error_set(
					err, CV_ENOTFOUND,
					"document %s is not in destruction batch %s",
					did, bid)
			      : cv_index__error_pg(err, res, ix->conn,
						   "could not lock record %s",
						   did);
		goto cleanup;
	}
	copy(state, 16, res, 0, 0);
	ret = 0;
	if (strcmp(state, "pending"))
		goto cleanup; /* decided by an earlier run */
	PQclear(res);
	params[0] = did;
	res = run(ix, LOCK_DOC, 1, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not lock document %s", did);
		goto cleanup;
	}
	if (PQntuples(res) == 0) {
		snprintf(state, 16, "gone");
		ret = skip(ix, bid, did, state, "the document no longer exists",
			   actor, err);
		goto cleanup;
	}
	PQclear(res);
	res = run(ix, HOLD_OF, 1, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not check holds on %s", did);
		goto cleanup;
	}
	if (!PQgetisnull(res, 0, 0)) {
		cv_index__get_i64(&hold, res, 0, 0);
		snprintf(state, 16, "held");
		snprintf(reason, sizeof(reason), "under legal hold %" PRId64,
			 hold);
		ret = skip(ix, bid, did, state, reason, actor, err);
		goto cleanup;
	}
	ret = cv_index__today(ix, &today, err);
	if (ret == 0)
		ret = cv_index__retention_eval_doc(ix, doc_id, &v, rule,
						   &version, err);
	if (ret < 0)
		goto cleanup;
	if (v.kind != CV_RETENTION_DATE || v.day > today) {
		if (v.kind == CV_RETENTION_DATE) {
			cv_retention_date_format(on, v.day);
			snprintf(reason, sizeof(reason),
				 "eligible only from %s under %s version %d",
				 on, rule, version);
		} else {
			snprintf(reason, sizeof(reason), "%s", v.why);
		}
		snprintf(state, 16, "not-eligible");
		ret = skip(ix, bid, did, state, reason, actor, err);
		goto cleanup;
	}
	cv_retention_date_format(on, v.day);
	snprintf(ver, sizeof(ver), "%d", version);
	params[0] = bid;
	params[1] = did;
	params[2] = rule;
	params[3] = ver;
	params[4] = on;
	ret = simple_update(ix, SET_RULE, 5, params, "record the rule", err);
	if (ret < 0)
		goto cleanup;
	params[0] = did;
	ret = id_array(ix, FILES_OF, 1, params, &files, &nfiles, err);
	params[1] = files.buf;
	if (ret == 0)
		ret = id_array(ix, PAGES_OF, 2, params, &pages, &npages, err);
	if (ret < 0)
		goto cleanup;
	params[0] = bid;
	params[1] = did;
	params[2] = pages.buf;
	params[3] = files.buf;
	ret = simple_update(ix, CAPTURE, 4, params,
			    "capture the record's objects", err);
	if (ret == 0)
		ret = simple_update(ix, GHOST, 2, params,
				    "write the record's ghost", err);
	for (i = 0; ret == 0 && i < sizeof(DELETES) / sizeof(DELETES[0]); i++) {
		const char *vals[3] = { did, pages.buf, files.buf };
		int k, np = 0;

		for (k = 0; k < 3; k++)
			if (DELETES[i].params & (1 << k))
				params[np++] = vals[k];
		ret = simple_update(ix, DELETES[i].sql, np, params,
				    "delete the record's index rows", err);
	}
	if (ret < 0) {
		cv_error_prefix(err, "document %s", did);
		goto cleanup;
	}
	params[0] = bid;
	params[1] = did;
	ret = simple_update(ix, UNLINKED, 2, params, "mark the record", err);
	snprintf(detail, sizeof(detail),
		 "batch %s, rule %s version %d, pages %zu, files %zu", bid,
		 rule, version, npages, nfiles);
	if (ret == 0)
		ret = cv_index_audit(ix, actor, "record.destroy", "document",
				     did, detail, "ok", err);
	if (ret == 0)
		snprintf(state, 16, "unlinked");
cleanup:
	PQclear(res);
	cv_buf_release(&files);
	cv_buf_release(&pages);
	return ret;
}

int cv_index_destroy_unlink(struct cv_index *ix, int64_t batch_id,
			    int64_t doc_id, const char *actor, char state[16],
			    struct cv_error *err)
{
	char bid[24], did[24];
	int ret;

	state[0] = '\0';
	snprintf(bid, sizeof(bid), "%" PRId64, batch_id);
	snprintf(did, sizeof(did), "%" PRId64, doc_id);
	ret = cv_index_begin(ix, err);
	if (ret < 0)
		return ret;
	/* After this, a hold placed now waits for our commit, or ran
	 * before and we see it. */
	ret = cv_index__destroy_lock(ix, err);
	if (ret == 0)
		ret = unlink_record(ix, bid, did, doc_id, actor, state, err);
	if (ret == 0)
		return cv_index_commit(ix, err);
	cv_index_rollback(ix);
	state[0] = '\0';
	return ret;
}

int cv_index_destroy_objects(struct cv_index *ix, int64_t batch_id,
			     int64_t doc_id,
			     struct cv_index_destroy_object **out, size_t *n,
			     struct cv_error *err)
{
	char bid[24], did[24];
	const char *params[2] = { bid, did };
	struct cv_index_destroy_object *v;
	PGresult *res;
	int i, rows, ret;

	*out = NULL;
	*n = 0;
	snprintf(bid, sizeof(bid), "%" PRId64, batch_id);
	snprintf(did, sizeof(did), "%" PRId64, doc_id);
	res = run(ix, OBJECTS, 2, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not read the objects of destruction batch %s",
			bid);
		goto cleanup;
	}
	rows = PQntuples(res);
	v = cv_calloc((size_t)rows + 1, sizeof(*v));
	for (i = 0; i < rows; i++) {
		int64_t x = 0;

		cv_index__get_i64(&v[i].document_id, res, i, 0);
		if (cv_index__get_bytea(v[i].id, sizeof(v[i].id), res, i, 1) !=
		    0) {
			free(v);
			ret = cv_error_set(
				err, CV_ERROR,
				"destruction batch %s holds a malformed object id",
				bid);
			goto cleanup;
		}
		copy(v[i].kind, sizeof(v[i].kind), res, i, 2);
		cv_index__get_bytea(v[i].kek_id, sizeof(v[i].kek_id), res, i,
				    3);
		v[i].has_key_fpr =
			cv_index__get_bytea(v[i].key_fpr, sizeof(v[i].key_fpr),
					    res, i, 4) == 0;
		copy(v[i].outcome, sizeof(v[i].outcome), res, i, 5);
		copy(v[i].kept_by, sizeof(v[i].kept_by), res, i, 6);
		cv_index__get_i64(&x, res, i, 7);
		v[i].file_present = (int)x;
		copy(v[i].erased_at, sizeof(v[i].erased_at), res, i, 8);
	}
	*out = v;
	*n = (size_t)rows;
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

static void arr_add(struct cv_buf *b, const char *v)
{
	cv_buf_addch(b, b->len ? ',' : '{');
	if (!v) {
		cv_buf_adds(b, "NULL");
		return;
	}
	/* Only ids, codes and timestamps: no quotes or backslashes. */
	cv_buf_addf(b, "\"%s\"", v);
}

static void arr_close(struct cv_buf *b)
{
	if (!b->len)
		cv_buf_addch(b, '{');
	cv_buf_addch(b, '}');
}

int cv_index_destroy_erased(struct cv_index *ix, int64_t batch_id,
			    int64_t doc_id, const struct cv_index_erased *rows,
			    const int *file_present, size_t n,
			    struct cv_error *err)
{
	struct cv_buf ids = CV_BUF_INIT, outc = CV_BUF_INIT, kept = CV_BUF_INIT,
		      pres = CV_BUF_INIT, at = CV_BUF_INIT;
	char bid[24], did[24];
	const char *params[7] = { bid, did };
	size_t i;
	int ret;

	snprintf(bid, sizeof(bid), "%" PRId64, batch_id);
	snprintf(did, sizeof(did), "%" PRId64, doc_id);
	for (i = 0; i < n; i++) {
		char hex[2 * CV_INDEX_OID_LEN + 1], by[48] = "";
		const char *o;

		switch (rows[i].outcome) {
		case CV_INDEX_ERASE_DONE:
		case CV_INDEX_ERASE_ALREADY:
			o = "erased";
			break;
		case CV_INDEX_ERASE_REFERENCED:
			o = "kept";
			snprintf(by, sizeof(by), "%s %" PRId64,
				 rows[i].referenced_kind,
				 rows[i].referenced_by);
			break;
		default:
			cv_hex_encode(hex, rows[i].id, CV_INDEX_OID_LEN);
			ret = cv_error_set(
				err, CV_ERROR,
				"object %s of document %s is missing from the catalogue",
				hex, did);
			goto cleanup;
		}
		cv_hex_encode(hex, rows[i].id, CV_INDEX_OID_LEN);
		arr_add(&ids, hex);
		arr_add(&outc, o);
		arr_add(&kept, by);
		arr_add(&pres, file_present[i] ? "t" : "f");
		arr_add(&at, rows[i].erased_at[0] ? rows[i].erased_at : NULL);
	}
	arr_close(&ids);
	arr_close(&outc);
	arr_close(&kept);
	arr_close(&pres);
	arr_close(&at);
	params[2] = ids.buf;
	params[3] = outc.buf;
	params[4] = kept.buf;
	params[5] = pres.buf;
	params[6] = at.buf;
	ret = cv_index_begin(ix, err);
	if (ret < 0)
		goto cleanup;
	ret = simple_update(ix, RECORD_ERASED, 7, params,
			    "record the erase evidence", err);
	if (ret == 0)
		ret = simple_update(ix, DESTROYED, 2, params,
				    "mark the record destroyed", err);
	if (ret == 0)
		ret = cv_index_commit(ix, err);
	else
		cv_index_rollback(ix);
cleanup:
	cv_buf_release(&ids);
	cv_buf_release(&outc);
	cv_buf_release(&kept);
	cv_buf_release(&pres);
	cv_buf_release(&at);
	return ret;
}

int cv_index_destroy_vacuum(struct cv_index *ix, struct cv_error *err)
{
	PGresult *res = PQexec(ix->conn, VACUUM);
	int ret = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not vacuum the tables");
	PQclear(res);
	/* A destroyed record's rare words (a name) must not outlive it in
	 * the vocabulary of near-spelling search. */
	if (ret == 0)
		ret = cv_index_search_vocab_prune(ix, NULL, err);
	return ret;
}

int cv_index_destroy_finish(struct cv_index *ix, int64_t batch_id,
			    const char *certificate, const uint8_t sig[64],
			    const char *actor, struct cv_error *err)
{
	char bid[24];
	const char *params[3] = { bid, certificate, (const char *)sig };
	const int lengths[3] = { 0, 0, 64 };
	const int formats[3] = { 0, 0, 1 };
	PGresult *res;
	int ret;

	snprintf(bid, sizeof(bid), "%" PRId64, batch_id);
	ret = cv_index_begin(ix, err);
	if (ret < 0)
		return ret;
	res = PQexecParams(ix->conn, FINISH, 3, NULL, params, lengths, formats,
			   0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not close destruction batch %s",
					 bid);
	else if (strcmp(PQcmdTuples(res), "1"))
		ret = cv_error_set(
			err, CV_ERROR,
			"destruction batch %s is not executing, or has records still to do",
			bid);
	PQclear(res);
	if (ret == 0)
		ret = cv_index_audit(ix, actor, "destroy.execute",
				     "destruction_batch", bid,
				     "certificate signed", "ok", err);
	if (ret == 0)
		return cv_index_commit(ix, err);
	cv_index_rollback(ix);
	return ret;
}

static int read_certificate(struct cv_index *ix, const char *sql,
			    int64_t batch_id, char **certificate,
			    uint8_t sig[64], const char *what,
			    struct cv_error *err)
{
	char bid[24];
	const char *params[1] = { bid };
	PGresult *res;
	int ret = 0;

	*certificate = NULL;
	snprintf(bid, sizeof(bid), "%" PRId64, batch_id);
	res = run(ix, sql, 1, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not read the certificate of %s %s", what, bid);
	else if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		ret = cv_error_set(err, CV_ENOTFOUND,
				   "%s %s has no certificate", what, bid);
	else if (cv_index__get_bytea(sig, 64, res, 0, 1) != 0)
		ret = cv_error_set(err, CV_ERROR,
				   "the signature of %s %s is malformed", what,
				   bid);
	else
		*certificate = cv_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return ret;
}

int cv_index_destroy_certificate(struct cv_index *ix, int64_t batch_id,
				 char **certificate, uint8_t sig[64],
				 struct cv_error *err)
{
	return read_certificate(ix, CERTIFICATE, batch_id, certificate, sig,
				"destruction batch", err);
}

int cv_index_audit_count(struct cv_index *ix, const char *action,
			 const char *object_type, const char *object_id,
			 const char *outcome, int64_t *count,
			 struct cv_error *err)
{
	const char *params[4] = { action, object_type, object_id, outcome };
	PGresult *res = run(ix, AUDIT_COUNT, 4, params);
	int ret = 0;

	*count = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    cv_index__get_i64(count, res, 0, 0) < 0)
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read the audit trail");
	PQclear(res);
	return ret;
}

int cv_index_destroy_ghost(struct cv_index *ix, int64_t doc_id,
			   struct cv_index_destroy_item *g, int64_t *batch_id,
			   struct cv_error *err)
{
	char did[24];
	const char *params[1] = { did };
	PGresult *res;
	int64_t x = 0;
	int ret = 0;

	memset(g, 0, sizeof(*g));
	*batch_id = 0;
	snprintf(did, sizeof(did), "%" PRId64, doc_id);
	res = run(ix, GHOST_OF, 1, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not look for a destroyed record");
	} else if (PQntuples(res) != 1) {
		ret = cv_error_set(err, CV_ENOTFOUND, "no destroyed record %s",
				   did);
	} else {
		g->document_id = doc_id;
		copy(g->mrn, sizeof(g->mrn), res, 0, 1);
		copy(g->doc_type, sizeof(g->doc_type), res, 0, 2);
		copy(g->first_date, sizeof(g->first_date), res, 0, 3);
		copy(g->last_date, sizeof(g->last_date), res, 0, 4);
		copy(g->rule_id, sizeof(g->rule_id), res, 0, 5);
		cv_index__get_i64(&x, res, 0, 6);
		g->rule_version = (int)x;
		cv_index__get_i64(batch_id, res, 0, 7);
		copy(g->done_at, sizeof(g->done_at), res, 0, 8);
		snprintf(g->state, sizeof(g->state), "destroyed");
	}
	PQclear(res);
	return ret;
}
