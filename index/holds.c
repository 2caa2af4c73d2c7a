/*
 * Legal holds: a record under an active hold is never eligible for
 * destruction, whatever its date. A hold names its target as given (a
 * patient's MRN, a document, a scan batch, or a search query) and also
 * remembers the documents it covered when placed, so that correcting a
 * misfiled document's MRN later does not quietly free it.
 *
 * Placing a hold and committing a record to destruction take the same
 * transaction-level advisory lock (CV_INDEX__DESTROY_LOCK), so a hold is
 * either in place before destroy_unlink checks, and wins, or is placed
 * after the record's index rows are gone, and then says so: a hold placed
 * after approval still wins for every record not yet committed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

static const char LOCK[] = "SELECT pg_advisory_xact_lock($1::bigint)";

static const char DOC_EXISTS[] = "SELECT 1 FROM documents WHERE id = $1";

static const char FIND_BATCH[] =
	"SELECT id FROM batches WHERE name = $1 OR id::text = $1"
	" ORDER BY (name = $1) DESC LIMIT 1";

static const char ADD_HOLD[] =
	"INSERT INTO legal_holds (scope, document_id, mrn, batch_id, query,"
	" reason, matter, placed_by)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";

static const char SNAPSHOT[] =
	"INSERT INTO legal_hold_documents (hold_id, document_id)"
	" SELECT h.id, d.id FROM legal_holds h, documents d"
	" WHERE h.id = $1 AND hold_covers(h, d)";

/* Of the target, records already destroyed or committed to it. */
static const char TOO_LATE[] =
	"SELECT count(*) FROM destruction_items i"
	" WHERE i.state IN ('unlinked', 'destroyed')"
	" AND (i.document_id = $1::bigint OR i.mrn = $2::text)";

static const char LIST[] =
	"SELECT h.id, h.scope,"
	" coalesce(h.document_id::text, h.mrn, h.batch_id::text, h.query, ''),"
	" h.reason, h.matter, h.placed_by,"
	" to_char(h.placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	" coalesce(h.released_by, ''),"
	" coalesce(to_char(h.released_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"
	" coalesce(h.release_reason, ''),"
	" (SELECT count(*) FROM documents d WHERE hold_covers(h, d))"
	" FROM legal_holds h WHERE $1::bool OR h.released_at IS NULL"
	" ORDER BY h.id";

static const char RELEASE[] =
	"UPDATE legal_holds SET released_by = $2, released_at = now(),"
	" release_reason = $3 WHERE id = $1 AND released_at IS NULL";

static const char HOLD_EXISTS[] = "SELECT 1 FROM legal_holds WHERE id = $1";

int cv_index__destroy_lock(struct cv_index *ix, struct cv_error *err)
{
	char key[24];
	const char *params[1] = { key };
	PGresult *res;
	int ret = 0;

	snprintf(key, sizeof(key), "%lld", (long long)CV_INDEX__DESTROY_LOCK);
	res = PQexecParams(ix->conn, LOCK, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not serialise with destruction");
	PQclear(res);
	return ret;
}

static int one_row(struct cv_index *ix, const char *sql, const char *param,
		   int *found, char *value, size_t n, struct cv_error *err,
		   const char *what)
{
	const char *params[1] = { param };
	PGresult *res;
	int ret = 0;

	*found = 0;
	res = PQexecParams(ix->conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn, "could not %s",
					 what);
	} else if (PQntuples(res) > 0) {
		*found = 1;
		if (value)
			snprintf(value, n, "%s", PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return ret;
}

/* Fill the hold's target columns from scope and target; checks them. */
static int resolve_target(struct cv_index *ix, const char *scope,
			  const char *target, const char *cols[5],
			  char idbuf[24], struct cv_error *err)
{
	long long v;
	int found, ret;

	memset(cols, 0, 5 * sizeof(*cols));
	if (!target || !*target)
		return cv_error_set(err, CV_EINVAL, "a %s hold needs a target",
				    scope);
	if (strlen(target) > 512)
		return cv_error_set(
			err, CV_ELIMIT,
			"a hold's target is at most 512 characters");
	if (!strcmp(scope, "document")) {
		if (cv_parse_ll(&v, target, 1, INT64_MAX) < 0)
			return cv_error_set(
				err, CV_EINVAL,
				"'%.32s' is not a document id (a number)",
				target);
		snprintf(idbuf, 24, "%lld", v);
		ret = one_row(ix, DOC_EXISTS, idbuf, &found, NULL, 0, err,
			      "look the document up");
		if (ret == 0 && !found)
			ret = cv_error_set(
				err, CV_ENOTFOUND,
				"no document %s (a destroyed record cannot be held)",
				idbuf);
		cols[1] = idbuf;
		return ret;
	}
	if (!strcmp(scope, "patient")) {
		/* Holds may come before the records do: no check. */
		cols[2] = target;
		return 0;
	}
	if (!strcmp(scope, "batch")) {
		ret = one_row(ix, FIND_BATCH, target, &found, idbuf, 24, err,
			      "look the batch up");
		if (ret == 0 && !found)
			ret = cv_error_set(err, CV_ENOTFOUND,
					   "no batch '%.64s'", target);
		cols[3] = idbuf;
		return ret;
	}
	if (!strcmp(scope, "query")) {
		cols[4] = target;
		return 0;
	}
	return cv_error_set(
		err, CV_EINVAL,
		"a hold's scope is patient, document, batch or query");
}

int cv_index_hold_add(struct cv_index *ix, const char *scope,
		      const char *target, const char *reason,
		      const char *matter, const char *actor, int64_t *id,
		      int64_t *covered, int64_t *too_late, struct cv_error *err)
{
	const char *cols[5], *params[8];
	char idbuf[24], hid[24], detail[128];
	PGresult *res = NULL;
	int owned, ret;

	*id = *covered = *too_late = 0;
	if (!reason || !*reason || !matter || !*matter)
		return cv_error_set(err, CV_EINVAL,
				    "a hold needs a reason and a matter");
	if (strlen(reason) > 2000 || strlen(matter) > 500)
		return cv_error_set(
			err, CV_ELIMIT,
			"a hold's reason is at most 2000 characters and its matter 500");
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	ret = cv_index__destroy_lock(ix, err);
	if (ret == 0)
		ret = resolve_target(ix, scope, target, cols, idbuf, err);
	if (ret < 0)
		goto cleanup;
	params[0] = scope;
	params[1] = cols[1];
	params[2] = cols[2];
	params[3] = cols[3];
	params[4] = cols[4];
	params[5] = reason;
	params[6] = matter;
	params[7] = actor;
	res = PQexecParams(ix->conn, ADD_HOLD, 8, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    cv_index__get_i64(id, res, 0, 0) < 0) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not place the hold");
		goto cleanup;
	}
	PQclear(res);
	snprintf(hid, sizeof(hid), "%" PRId64, *id);
	params[0] = hid;
	res = PQexecParams(ix->conn, SNAPSHOT, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not record the documents hold %s covers", hid);
		goto cleanup;
	}
	{
		long long c = 0;

		cv_parse_ll(&c, PQcmdTuples(res), 0, INT64_MAX);
		*covered = c;
	}
	PQclear(res);
	params[0] = cols[1];
	params[1] = cols[2];
	res = PQexecParams(ix->conn, TOO_LATE, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    cv_index__get_i64(too_late, res, 0, 0) < 0) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not check hold %s's records",
					 hid);
		goto cleanup;
	}
	/* The target itself (an MRN, a query) stays out of the audit row. */
	snprintf(detail, sizeof(detail),
		 "scope %s, covers %" PRId64 ", already destroyed %" PRId64,
		 scope, *covered, *too_late);
	ret = cv_index_audit(ix, actor, "hold.add", "hold", hid, detail, "ok",
			     err);
cleanup:
	PQclear(res);
	ret = cv_index__tx_leave(ix, owned, ret, err);
	if (ret < 0)
		*id = *covered = *too_late = 0;
	return ret;
}

int cv_index_hold_list(struct cv_index *ix, int all, struct cv_index_hold **out,
		       size_t *n, struct cv_error *err)
{
	const char *params[1] = { all ? "true" : "false" };
	struct cv_index_hold *v;
	PGresult *res;
	int i, rows, ret;

	*out = NULL;
	*n = 0;
	res = PQexecParams(ix->conn, LIST, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not list the holds");
		goto cleanup;
	}
	rows = PQntuples(res);
	v = cv_calloc((size_t)rows + 1, sizeof(*v));
	for (i = 0; i < rows; i++) {
		struct cv_index_hold *h = &v[i];

		cv_index__get_i64(&h->id, res, i, 0);
		snprintf(h->scope, sizeof(h->scope), "%s",
			 PQgetvalue(res, i, 1));
		snprintf(h->target, sizeof(h->target), "%s",
			 PQgetvalue(res, i, 2));
		snprintf(h->reason, sizeof(h->reason), "%s",
			 PQgetvalue(res, i, 3));
		snprintf(h->matter, sizeof(h->matter), "%s",
			 PQgetvalue(res, i, 4));
		snprintf(h->placed_by, sizeof(h->placed_by), "%s",
			 PQgetvalue(res, i, 5));
		snprintf(h->placed_at, sizeof(h->placed_at), "%s",
			 PQgetvalue(res, i, 6));
		snprintf(h->released_by, sizeof(h->released_by), "%s",
			 PQgetvalue(res, i, 7));
		snprintf(h->released_at, sizeof(h->released_at), "%s",
			 PQgetvalue(res, i, 8));
		snprintf(h->release_reason, sizeof(h->release_reason), "%s",
			 PQgetvalue(res, i, 9));
		cv_index__get_i64(&h->documents, res, i, 10);
	}
	*out = v;
	*n = (size_t)rows;
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_hold_release(struct cv_index *ix, int64_t id, const char *reason,
			  const char *actor, struct cv_error *err)
{
	char hid[24];
	const char *params[3] = { hid, actor, reason };
	PGresult *res = NULL;
	int owned, ret, found;

	if (!reason || !*reason)
		return cv_error_set(err, CV_EINVAL,
				    "releasing a hold needs a reason");
	if (strlen(reason) > 2000)
		return cv_error_set(
			err, CV_ELIMIT,
			"a release reason is at most 2000 characters");
	snprintf(hid, sizeof(hid), "%" PRId64, id);
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	res = PQexecParams(ix->conn, RELEASE, 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not release hold %s", hid);
		goto cleanup;
	}
	if (!strcmp(PQcmdTuples(res), "0")) {
		ret = one_row(ix, HOLD_EXISTS, hid, &found, NULL, 0, err,
			      "look the hold up");
		if (ret == 0)
			ret = found ? cv_error_set(
					      err, CV_EEXISTS,
					      "hold %s was released already",
					      hid)
				    : cv_error_set(err, CV_ENOTFOUND,
						   "no hold %s", hid);
		goto cleanup;
	}
	ret = cv_index_audit(ix, actor, "hold.release", "hold", hid,
			     "released with a reason", "ok", err);
cleanup:
	PQclear(res);
	return cv_index__tx_leave(ix, owned, ret, err);
}
