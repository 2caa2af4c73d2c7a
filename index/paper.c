/*
 * Paper originals: a scan batch's QA sign-off, and the record of its
 * paper's destruction. The paper may go only when its images are proven:
 * the batch signed off, its counts reconciled, no exception open, every
 * object of it proven intact by 'chartvault verify' and none failing, no
 * legal hold on any of its documents, and the waiting period passed.
 * The checks are facts counted here; the decision (and the certificate)
 * is the caller's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

static const char FIND_BATCH[] =
	"SELECT id FROM batches WHERE name = $1 OR id::text = $1"
	" ORDER BY (name = $1) DESC LIMIT 1";

static const char SIGNOFF[] =
	"INSERT INTO batch_signoffs (batch_id, signed_by, note)"
	" VALUES ($1, $2, $3)";

/* The objects of a batch: its originals and its pages' derivatives. */
#define BATCH_OBJECTS                                                           \
	"(SELECT f.object_id AS id FROM source_files f WHERE f.batch_id = $1"   \
	" UNION SELECT o FROM pages p JOIN source_files f ON f.id = p.file_id," \
	"  unnest(ARRAY[p.text_object, p.words_object, p.image_object]) o"      \
	"  WHERE f.batch_id = $1 AND o IS NOT NULL)"

static const char COUNTS[] =
	"SELECT b.name, coalesce(s.signed_by, ''),"
	" coalesce(to_char(s.signed_at AT TIME ZONE 'UTC',"
	"  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"
	" coalesce(extract(day FROM now() - s.signed_at)::bigint, -1),"
	" (SELECT count(DISTINCT nullif(box, '')) FROM source_files"
	"  WHERE batch_id = $1),"
	" (SELECT count(DISTINCT (coalesce(box, ''), folder)) FROM source_files"
	"  WHERE batch_id = $1 AND coalesce(folder, '') <> ''),"
	" (SELECT count(*) FROM exceptions e JOIN documents d"
	"  ON d.id = e.document_id WHERE d.batch_id = $1 AND e.state = 'open'),"
	" (SELECT count(*) FROM documents d WHERE d.batch_id = $1"
	"  AND document_hold(d.id) IS NOT NULL),"
	" (SELECT count(*) FROM objects o WHERE o.id IN " BATCH_OBJECTS
	"  AND o.erased_at IS NULL AND o.last_checked_at IS NULL),"
	" (SELECT count(*) FROM objects o WHERE o.id IN " BATCH_OBJECTS
	"  AND EXISTS (SELECT 1 FROM verify_findings v WHERE v.object_id = o.id"
	"  AND v.problem IN ('failed', 'missing')"
	"  AND v.run_id > coalesce(o.last_checked_run, 0))),"
	" coalesce((SELECT to_char(min(service_date), 'YYYY-MM-DD')"
	"  FROM documents WHERE batch_id = $1), ''),"
	" coalesce((SELECT to_char(max(service_date), 'YYYY-MM-DD')"
	"  FROM documents WHERE batch_id = $1), ''),"
	" EXISTS (SELECT 1 FROM paper_destructions WHERE batch_id = $1)"
	" FROM batches b LEFT JOIN batch_signoffs s ON s.batch_id = b.id"
	" WHERE b.id = $1";

static const char RECORD[] =
	"INSERT INTO paper_destructions (batch_id, method, vendor, witness,"
	" boxes, folders, sheets, recorded_by, certificate, signature)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id";

static const char CERTIFICATE[] =
	"SELECT certificate, signature FROM paper_destructions"
	" WHERE batch_id = $1";

static int find_batch(struct cv_index *ix, const char *batch, char id[24],
		      struct cv_error *err)
{
	const char *params[1] = { batch };
	PGresult *res;
	int ret = 0;

	res = PQexecParams(ix->conn, FIND_BATCH, 1, NULL, params, NULL, NULL,
			   0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not look the batch up");
	else if (PQntuples(res) == 0)
		ret = cv_error_set(err, CV_ENOTFOUND, "no batch '%.64s'",
				   batch);
	else
		snprintf(id, 24, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return ret;
}

int cv_index_paper_counts(struct cv_index *ix, const char *batch,
			  struct cv_index_paper_counts *pc,
			  struct cv_error *err)
{
	struct cv_index_batch_stats *st = NULL;
	char id[24];
	const char *params[1] = { id };
	PGresult *res = NULL;
	size_t n = 0;
	int ret;

	memset(pc, 0, sizeof(*pc));
	ret = find_batch(ix, batch, id, err);
	if (ret == 0)
		ret = cv_index_batch_stats(ix, id, &st, &n, err);
	if (ret < 0)
		goto cleanup;
	res = PQexecParams(ix->conn, COUNTS, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not count batch %s", id);
		goto cleanup;
	}
	pc->batch_id = st[0].id;
	snprintf(pc->name, sizeof(pc->name), "%s", PQgetvalue(res, 0, 0));
	snprintf(pc->signed_by, sizeof(pc->signed_by), "%s",
		 PQgetvalue(res, 0, 1));
	snprintf(pc->signed_at, sizeof(pc->signed_at), "%s",
		 PQgetvalue(res, 0, 2));
	cv_index__get_i64(&pc->days_since_signoff, res, 0, 3);
	cv_index__get_i64(&pc->boxes, res, 0, 4);
	cv_index__get_i64(&pc->folders, res, 0, 5);
	cv_index__get_i64(&pc->open_exceptions, res, 0, 6);
	cv_index__get_i64(&pc->held_documents, res, 0, 7);
	cv_index__get_i64(&pc->unverified_objects, res, 0, 8);
	cv_index__get_i64(&pc->failed_objects, res, 0, 9);
	snprintf(pc->dates_from, sizeof(pc->dates_from), "%s",
		 PQgetvalue(res, 0, 10));
	snprintf(pc->dates_to, sizeof(pc->dates_to), "%s",
		 PQgetvalue(res, 0, 11));
	pc->destroyed = !strcmp(PQgetvalue(res, 0, 12), "t");
	pc->files = st[0].files;
	pc->sheets_scanned = st[0].pages;
	pc->failed_pages = st[0].failed;
	pc->documents = st[0].documents;
	pc->reconciled = st[0].reconciled;
cleanup:
	PQclear(res);
	free(st);
	return ret;
}

int cv_index_batch_signoff(struct cv_index *ix, const char *batch,
			   const char *note, const char *actor,
			   struct cv_error *err)
{
	struct cv_index_paper_counts pc;
	const char *params[3];
	char id[24];
	PGresult *res = NULL;
	int owned, ret;

	ret = cv_index_paper_counts(ix, batch, &pc, err);
	if (ret < 0)
		return ret;
	if (!pc.reconciled)
		return cv_error_set(
			err, CV_EHOLD,
			"batch '%s' cannot be signed off: its pages do not reconcile (some wait for OCR or for a document)",
			pc.name);
	if (pc.open_exceptions)
		return cv_error_set(err, CV_EHOLD,
				    "batch '%s' cannot be signed off: %" PRId64
				    " exception(s) are open",
				    pc.name, pc.open_exceptions);
	snprintf(id, sizeof(id), "%" PRId64, pc.batch_id);
	params[0] = id;
	params[1] = actor;
	params[2] = note ? note : "";
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	res = PQexecParams(ix->conn, SIGNOFF, 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not sign batch '%s' off",
					 pc.name);
		if (ret == CV_EEXISTS)
			cv_error_set(err, CV_EEXISTS,
				     "batch '%s' was signed off already",
				     pc.name);
		goto cleanup;
	}
	ret = cv_index_audit(ix, actor, "batch.signoff", "batch", id, NULL,
			     "ok", err);
cleanup:
	PQclear(res);
	return cv_index__tx_leave(ix, owned, ret, err);
}

int cv_index_paper_record(struct cv_index *ix, int64_t batch_id,
			  const char *method, const char *vendor,
			  const char *witness, int64_t boxes, int64_t folders,
			  int64_t sheets, const char *certificate,
			  const uint8_t sig[64], const char *actor,
			  int64_t *paper_id, struct cv_error *err)
{
	char id[24], b[24], f[24], s[24];
	const char *params[10] = {
		id, method, vendor, witness,     b,
		f,  s,      actor,  certificate, (const char *)sig
	};
	const int lengths[10] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 64 };
	const int formats[10] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	PGresult *res;
	int owned, ret;

	*paper_id = 0;
	snprintf(id, sizeof(id), "%" PRId64, batch_id);
	snprintf(b, sizeof(b), "%" PRId64, boxes);
	snprintf(f, sizeof(f), "%" PRId64, folders);
	snprintf(s, sizeof(s), "%" PRId64, sheets);
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	res = PQexecParams(ix->conn, RECORD, 10, NULL, params, lengths, formats,
			   0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    cv_index__get_i64(paper_id, res, 0, 0) < 0) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not record the paper destruction of batch %s",
			id);
		if (ret == CV_EEXISTS)
			cv_error_set(
				err, CV_EEXISTS,
				"the paper of batch %s was recorded destroyed already",
				id);
	} else {
		ret = cv_index_audit(ix, actor, "paper.destroy", "batch", id,
				     method, "ok", err);
	}
	PQclear(res);
	return cv_index__tx_leave(ix, owned, ret, err);
}

int cv_index_paper_certificate(struct cv_index *ix, int64_t batch_id,
			       char **certificate, uint8_t sig[64],
			       struct cv_error *err)
{
	char id[24];
	const char *params[1] = { id };
	PGresult *res;
	int ret = 0;

	*certificate = NULL;
	snprintf(id, sizeof(id), "%" PRId64, batch_id);
	res = PQexecParams(ix->conn, CERTIFICATE, 1, NULL, params, NULL, NULL,
			   0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not read the paper certificate of batch %s", id);
	else if (PQntuples(res) != 1)
		ret = cv_error_set(err, CV_ENOTFOUND,
				   "batch %s has no paper certificate", id);
	else if (cv_index__get_bytea(sig, 64, res, 0, 1) != 0)
		ret = cv_error_set(
			err, CV_ERROR,
			"the paper certificate of batch %s has a malformed signature",
			id);
	else
		*certificate = cv_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return ret;
}
