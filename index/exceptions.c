/*
 * Raising exceptions: taking a document out of the charts until records
 * staff have looked at it. The queue's screens and actions build on the
 * rows written here; this file only guarantees the invariant they rely
 * on: a document with an open exception is in state 'exception', in the
 * same transaction.
 */
#include <inttypes.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

/* ON CONFLICT keeps a re-run from raising the same reason twice. */
static const char RAISE[] =
	"INSERT INTO exceptions (document_id, page_id, kind, detail)"
	" VALUES ($1, nullif($2, '0')::bigint, $3, $4::jsonb)"
	" ON CONFLICT (document_id, coalesce(page_id, 0), kind)"
	"  WHERE state = 'open' DO NOTHING";

static const char HOLD_DOC[] =
	"UPDATE documents SET state = 'exception' WHERE id = $1";

int cv_index_exception_raise(struct cv_index *ix, int64_t doc_id,
			     int64_t page_id, const char *kind,
			     const char *detail_json, struct cv_error *err)
{
	char d[24], p[24];
	const char *params[4] = { d, p, kind,
				  detail_json ? detail_json : "{}" };
	PGresult *res = NULL;
	int owned, ret;

	if (!kind || !*kind)
		return cv_error_set(err, CV_EINVAL,
				    "an exception needs a kind");
	snprintf(d, sizeof(d), "%" PRId64, doc_id);
	snprintf(p, sizeof(p), "%" PRId64, page_id > 0 ? page_id : 0);
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	res = PQexecParams(ix->conn, RAISE, 4, NULL, params, NULL, NULL, 0);
	if (!cv_index__result_ok(res)) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not queue document %s (%s)", d,
					 kind);
		goto cleanup;
	}
	PQclear(res);
	res = PQexecParams(ix->conn, HOLD_DOC, 1, NULL, params, NULL, NULL, 0);
	if (!cv_index__result_ok(res)) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not hold document %s", d);
		goto cleanup;
	}
	ret = 0;
cleanup:
	PQclear(res);
	return cv_index__tx_leave(ix, owned, ret, err);
}
