/*
 * Batch reports: what a batch received and what became of it, counted
 * from the rows themselves (nothing is stored twice, so nothing drifts),
 * and whether the counts reconcile: every page the scanner produced is in
 * a document, a blank back, a cover or separator sheet, failed, replaced
 * by a rescan after QA, or still waiting.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

static const char BATCH_STATS[] =
	"SELECT b.id, b.name, b.operator, coalesce(b.source, ''),"
	" to_char(b.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	" coalesce(to_char(b.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"
	" (SELECT count(*) FROM source_files f WHERE f.batch_id = b.id),"
	" count(p.id),"
	" count(p.id) FILTER (WHERE p.kind = 'page' AND p.document_id IS NOT NULL),"
	" count(p.id) FILTER (WHERE p.kind = 'page' AND p.blank),"
	" count(p.id) FILTER (WHERE p.kind <> 'page'),"
	" count(p.id) FILTER (WHERE p.state = 'failed'),"
	" count(p.id) FILTER (WHERE p.state = 'queued'),"
	" count(p.id) FILTER (WHERE p.quality_flags IS NOT NULL),"
	" (SELECT count(*) FROM documents d WHERE d.batch_id = b.id),"
	" (SELECT count(*) FROM rejects r WHERE r.batch_id = b.id),"
	" count(p.id) FILTER (WHERE p.state = 'done' AND p.kind = 'page'"
	"   AND NOT p.blank AND p.document_id IS NULL"
	"   AND p.superseded_by IS NULL),"
	" count(p.id) FILTER (WHERE p.superseded_by IS NOT NULL)"
	" FROM batches b"
	" LEFT JOIN source_files f ON f.batch_id = b.id"
	" LEFT JOIN pages p ON p.file_id = f.id"
	" WHERE $1::text IS NULL OR b.name = $1 OR b.id::text = $1"
	" GROUP BY b.id ORDER BY b.id";

static const char BATCH_REJECTS[] =
	"SELECT name, coalesce(page, 0), reason FROM rejects"
	" WHERE batch_id = $1 ORDER BY id";

static const char BATCH_FLAGGED[] =
	"SELECT f.name, p.page_no, p.quality_flags FROM pages p"
	" JOIN source_files f ON f.id = p.file_id"
	" WHERE f.batch_id = $1 AND p.quality_flags IS NOT NULL"
	" ORDER BY f.name, p.page_no";

static int64_t col(const PGresult *res, int row, int c)
{
	int64_t v = 0;

	cv_index__get_i64(&v, res, row, c);
	return v;
}

int cv_index_batch_stats(struct cv_index *ix, const char *which,
			 struct cv_index_batch_stats **out, size_t *n,
			 struct cv_error *err)
{
	const char *p[1] = { which };
	PGresult *res;
	int i, rows, ret = 0;

	*out = NULL;
	*n = 0;
	res = PQexecParams(ix->conn, BATCH_STATS, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not count the batches");
		goto cleanup;
	}
	rows = PQntuples(res);
	if (which && rows == 0) {
		ret = cv_error_set(err, CV_ENOTFOUND, "no batch '%s'", which);
		goto cleanup;
	}
	*out = cv_calloc((size_t)rows + 1, sizeof(**out));
	for (i = 0; i < rows; i++) {
		struct cv_index_batch_stats *b = &(*out)[i];

		b->id = col(res, i, 0);
		snprintf(b->name, sizeof(b->name), "%s", PQgetvalue(res, i, 1));
		snprintf(b->operator_, sizeof(b->operator_), "%s",
			 PQgetvalue(res, i, 2));
		snprintf(b->source, sizeof(b->source), "%s",
			 PQgetvalue(res, i, 3));
		snprintf(b->created, sizeof(b->created), "%s",
			 PQgetvalue(res, i, 4));
		snprintf(b->finished, sizeof(b->finished), "%s",
			 PQgetvalue(res, i, 5));
		b->files = col(res, i, 6);
		b->pages = col(res, i, 7);
		b->filed = col(res, i, 8);
		b->blank = col(res, i, 9);
		b->sheets = col(res, i, 10);
		b->failed = col(res, i, 11);
		b->queued = col(res, i, 12);
		b->flagged = col(res, i, 13);
		b->documents = col(res, i, 14);
		b->rejects = col(res, i, 15);
		b->unplaced = col(res, i, 16);
		b->superseded = col(res, i, 17);
		/* Each page is in exactly one of these; the sum is the proof.
		 */
		b->reconciled = b->pages == b->filed + b->blank + b->sheets +
						    b->failed + b->queued +
						    b->unplaced +
						    b->superseded &&
				b->queued == 0 && b->unplaced == 0;
	}
	*n = (size_t)rows;
cleanup:
	PQclear(res);
	return ret;
}

static int list_of(struct cv_index *ix, const char *sql, int64_t batch_id,
		   struct cv_index_batch_item **out, size_t *n,
		   struct cv_error *err)
{
	char id[24];
	const char *p[1] = { id };
	PGresult *res;
	int i, rows, ret = 0;

	*out = NULL;
	*n = 0;
	snprintf(id, sizeof(id), "%" PRId64, batch_id);
	res = PQexecParams(ix->conn, sql, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read batch %s", id);
		goto cleanup;
	}
	rows = PQntuples(res);
	*out = cv_calloc((size_t)rows + 1, sizeof(**out));
	for (i = 0; i < rows; i++) {
		(*out)[i].name = cv_strdup(PQgetvalue(res, i, 0));
		(*out)[i].page = (int)col(res, i, 1);
		(*out)[i].text = cv_strdup(PQgetvalue(res, i, 2));
	}
	*n = (size_t)rows;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_batch_rejects(struct cv_index *ix, int64_t batch_id,
			   struct cv_index_batch_item **out, size_t *n,
			   struct cv_error *err)
{
	return list_of(ix, BATCH_REJECTS, batch_id, out, n, err);
}

int cv_index_batch_flagged(struct cv_index *ix, int64_t batch_id,
			   struct cv_index_batch_item **out, size_t *n,
			   struct cv_error *err)
{
	return list_of(ix, BATCH_FLAGGED, batch_id, out, n, err);
}

void cv_index_batch_items_free(struct cv_index_batch_item *items, size_t n)
{
	size_t i;

	if (!items)
		return;
	for (i = 0; i < n; i++) {
		free(items[i].name);
		free(items[i].text);
	}
	free(items);
}
