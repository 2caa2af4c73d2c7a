/*
 * The QA queue: pages with image-quality flags wait for a clerk, who
 * accepts them as they are or marks them for rescan; a rescanned page
 * then takes the old one's place in its document. Nothing is deleted: a
 * replaced page leaves its document (and with it search, which only looks
 * at pages in documents) but keeps its rows and archived objects, and
 * page_replacements says where it was, what replaced it, who did it and
 * when. Each decision is audited in the transaction that makes it.
 *
 * Page states in QA (pages.qa_state; "open" is a flagged page nobody
 * decided on yet):
 *
 *   open ---accept---> accepted
 *   open ---rescan---> rescan ---replace---> replaced (superseded_by set)
 *   accepted <--> rescan    (a clerk may change their mind until replaced)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

#define QA_COLUMNS                                                             \
	"SELECT p.id, f.batch_id, b.name, f.name, p.page_no, p.state, p.kind," \
	" p.blank, coalesce(p.document_id, 0), coalesce(p.seq, 0),"            \
	" coalesce(p.quality_flags, ''),"                                      \
	" CASE WHEN p.qa_state IS NOT NULL THEN p.qa_state"                    \
	"      WHEN p.quality_flags IS NOT NULL THEN 'open' ELSE '' END,"      \
	" coalesce(p.qa_note, ''), coalesce(p.qa_by, ''),"                     \
	" coalesce(to_char(p.qa_at AT TIME ZONE 'UTC',"                        \
	"   'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"                           \
	" coalesce(p.ocr_confidence, -1), coalesce(p.skew_deg, 0),"            \
	" coalesce(p.dpi, 0), coalesce(p.cleanup, ''),"                        \
	" coalesce(p.superseded_by, 0),"                                       \
	" coalesce((SELECT r.old_page_id FROM page_replacements r"             \
	"   WHERE r.new_page_id = p.id), 0)"                                   \
	" FROM pages p JOIN source_files f ON f.id = p.file_id"                \
	" JOIN batches b ON b.id = f.batch_id"

/* The open queue, or (with $2) every page flagged or ever decided on. */
static const char QA_LIST[] = QA_COLUMNS
	" WHERE ($1::text IS NULL OR b.name = $1 OR b.id::text = $1)"
	" AND (($2::boolean AND (p.quality_flags IS NOT NULL"
	"                        OR p.qa_state IS NOT NULL))"
	"      OR (p.quality_flags IS NOT NULL AND p.superseded_by IS NULL"
	"          AND (p.qa_state IS NULL OR p.qa_state = 'rescan')))"
	" ORDER BY b.id, f.name, p.page_no";
static const char QA_GET[] = QA_COLUMNS " WHERE p.id = $1";
static const char BATCH_EXISTS[] =
	"SELECT 1 FROM batches WHERE name = $1 OR id::text = $1";

static const char DECIDE[] =
	"UPDATE pages SET qa_state = $2, qa_note = NULLIF($3, ''),"
	" qa_by = $4, qa_at = now()"
	" WHERE id = $1 AND superseded_by IS NULL AND kind = 'page'"
	" AND state <> 'queued'";

static const char LOCK_OLD[] =
	"SELECT coalesce(document_id, 0), coalesce(seq, 0),"
	" coalesce(qa_state, ''), superseded_by IS NOT NULL"
	" FROM pages WHERE id = $1 FOR UPDATE";
static const char LOCK_NEW[] =
	"SELECT state, kind, blank, document_id IS NOT NULL,"
	" superseded_by IS NOT NULL"
	" FROM pages WHERE id = $1 FOR UPDATE";
static const char RECORD_REPLACEMENT[] =
	"INSERT INTO page_replacements (old_page_id, new_page_id, document_id,"
	" seq, old_pdf_object, actor, note)"
	" SELECT $1, $2, $3, $4, d.pdf_object, $5, NULLIF($6, '')"
	" FROM documents d WHERE d.id = $3";
static const char SUPERSEDE[] =
	"UPDATE pages SET document_id = NULL, seq = NULL, superseded_by = $2,"
	" qa_state = 'replaced', qa_by = $3, qa_at = now() WHERE id = $1";
static const char TAKE_PLACE[] =
	"UPDATE pages SET document_id = $2, seq = $3 WHERE id = $1";
static const char CLEAR_PDF[] =
	"UPDATE documents SET pdf_object = NULL WHERE id = $1";

/* Notes are a clerk's words about the scan, kept short. */
#define NOTE_MAX 500

static int exec(struct cv_index *ix, const char *sql, int n,
		const char *const *p, ExecStatusType want, PGresult **res,
		struct cv_error *err, const char *what, const char *id)
{
	*res = PQexecParams(ix->conn, sql, n, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(*res) != want)
		return cv_index__error_pg(err, *res, ix->conn,
					  "could not %s of page %s", what, id);
	return 0;
}

static void copy(char *dst, size_t n, const PGresult *res, int row, int col)
{
	snprintf(dst, n, "%s", PQgetvalue(res, row, col));
}

static int read_row(const PGresult *res, int i, struct cv_index_qa_page *q)
{
	int64_t v = 0;

	memset(q, 0, sizeof(*q));
	if (cv_index__get_i64(&q->page_id, res, i, 0) < 0 ||
	    cv_index__get_i64(&q->batch_id, res, i, 1) < 0 ||
	    cv_index__get_i64(&v, res, i, 4) < 0 ||
	    cv_index__get_i64(&q->document_id, res, i, 8) < 0 ||
	    cv_index__get_i64(&q->superseded_by, res, i, 19) < 0 ||
	    cv_index__get_i64(&q->replaces, res, i, 20) < 0)
		return CV_ERROR;
	q->page_no = (int)v;
	copy(q->batch, sizeof(q->batch), res, i, 2);
	copy(q->file_name, sizeof(q->file_name), res, i, 3);
	copy(q->page_state, sizeof(q->page_state), res, i, 5);
	copy(q->kind, sizeof(q->kind), res, i, 6);
	q->blank = !strcmp(PQgetvalue(res, i, 7), "t");
	q->seq = (int)strtol(PQgetvalue(res, i, 9), NULL, 10);
	copy(q->flags, sizeof(q->flags), res, i, 10);
	copy(q->qa_state, sizeof(q->qa_state), res, i, 11);
	copy(q->qa_note, sizeof(q->qa_note), res, i, 12);
	copy(q->qa_by, sizeof(q->qa_by), res, i, 13);
	copy(q->qa_at, sizeof(q->qa_at), res, i, 14);
	q->ocr_confidence = strtod(PQgetvalue(res, i, 15), NULL);
	q->skew_deg = strtod(PQgetvalue(res, i, 16), NULL);
	q->dpi = (int)strtol(PQgetvalue(res, i, 17), NULL, 10);
	copy(q->cleanup, sizeof(q->cleanup), res, i, 18);
	return 0;
}

int cv_index_qa_list(struct cv_index *ix, const char *batch, int all,
		     struct cv_index_qa_page **out, size_t *n,
		     struct cv_error *err)
{
	const char *p[2] = { batch, all ? "t" : "f" };
	PGresult *res = NULL;
	int i, rows, ret = 0;

	*out = NULL;
	*n = 0;
	if (batch) {
		res = PQexecParams(ix->conn, BATCH_EXISTS, 1, NULL, p, NULL,
				   NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			ret = cv_index__error_pg(err, res, ix->conn,
						 "could not find batch '%s'",
						 batch);
			goto cleanup;
		}
		if (PQntuples(res) == 0) {
			ret = cv_error_set(err, CV_ENOTFOUND, "no batch '%s'",
					   batch);
			goto cleanup;
		}
		PQclear(res);
	}
	res = PQexecParams(ix->conn, QA_LIST, 2, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read the QA queue");
		goto cleanup;
	}
	rows = PQntuples(res);
	*out = cv_calloc((size_t)rows + 1, sizeof(**out));
	for (i = 0; i < rows; i++) {
		if (read_row(res, i, &(*out)[i]) < 0) {
			ret = cv_error_set(
				err, CV_ERROR,
				"a row of the QA queue is malformed");
			free(*out);
			*out = NULL;
			goto cleanup;
		}
	}
	*n = (size_t)rows;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_qa_get(struct cv_index *ix, int64_t page_id,
		    struct cv_index_qa_page *out, struct cv_error *err)
{
	char id[24];
	const char *p[1] = { id };
	PGresult *res;
	int ret;

	memset(out, 0, sizeof(*out));
	snprintf(id, sizeof(id), "%" PRId64, page_id);
	ret = exec(ix, QA_GET, 1, p, PGRES_TUPLES_OK, &res, err, "read the row",
		   id);
	if (ret < 0)
		goto cleanup;
	if (PQntuples(res) != 1)
		ret = cv_error_set(err, CV_ENOTFOUND, "no page %s", id);
	else if (read_row(res, 0, out) < 0)
		ret = cv_error_set(err, CV_ERROR, "page %s is malformed", id);
cleanup:
	PQclear(res);
	return ret;
}

/* Why a page cannot be decided on or replaced, as the clerk should read
 * it. */
static int refuse(struct cv_index *ix, int64_t page_id, const char *doing,
		  struct cv_error *err)
{
	struct cv_index_qa_page q;
	struct cv_error gerr = CV_ERROR_INIT;
	int ret = cv_index_qa_get(ix, page_id, &q, &gerr);

	if (ret < 0) {
		*err = gerr;
		return ret;
	}
	if (q.superseded_by)
		return cv_error_set(err, CV_EEXISTS,
				    "page %" PRId64
				    " was replaced by page %" PRId64
				    "; %s the current page instead",
				    page_id, q.superseded_by, doing);
	if (strcmp(q.kind, "page"))
		return cv_error_set(err, CV_EEXISTS,
				    "page %" PRId64
				    " is a %s sheet, not a page of a document",
				    page_id, q.kind);
	return cv_error_set(err, CV_EEXISTS,
			    "page %" PRId64 " has not been recognised yet",
			    page_id);
}

int cv_index_qa_decide(struct cv_index *ix, int64_t page_id,
		       const char *decision, const char *note,
		       const char *actor, struct cv_error *err)
{
	char id[24];
	const char *p[4] = { id, decision, note ? note : "", actor };
	PGresult *res = NULL;
	int owned = 0, ret;

	if (strcmp(decision, "accepted") && strcmp(decision, "rescan"))
		return cv_error_set(err, CV_EINVAL, "'%s' is not a QA decision",
				    decision);
	if (note && strlen(note) > NOTE_MAX)
		return cv_error_set(err, CV_EINVAL,
				    "the note is over %d characters", NOTE_MAX);
	snprintf(id, sizeof(id), "%" PRId64, page_id);
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	ret = exec(ix, DECIDE, 4, p, PGRES_COMMAND_OK, &res, err,
		   "record the QA decision", id);
	if (ret < 0)
		goto cleanup;
	if (strcmp(PQcmdTuples(res), "1")) {
		ret = refuse(ix, page_id, "decide on", err);
		goto cleanup;
	}
	ret = cv_index_audit(ix, actor,
			     !strcmp(decision, "accepted") ? "page.qa.accept"
							   : "page.qa.rescan",
			     "page", id, note && *note ? "with a note" : NULL,
			     "ok", err);
cleanup:
	PQclear(res);
	return cv_index__tx_leave(ix, owned, ret, err);
}

/* Lock the page being replaced and check it may be. */
static int lock_old(struct cv_index *ix, const char *id, int64_t *doc, int *seq,
		    struct cv_error *err)
{
	const char *p[1] = { id };
	PGresult *res;
	int ret;

	ret = exec(ix, LOCK_OLD, 1, p, PGRES_TUPLES_OK, &res, err,
		   "lock the row", id);
	if (ret < 0)
		goto cleanup;
	if (PQntuples(res) != 1) {
		ret = cv_error_set(err, CV_ENOTFOUND, "no page %s", id);
		goto cleanup;
	}
	if (!strcmp(PQgetvalue(res, 0, 3), "t")) {
		ret = cv_error_set(err, CV_EEXISTS,
				   "page %s was replaced already", id);
		goto cleanup;
	}
	if (strcmp(PQgetvalue(res, 0, 2), "rescan")) {
		ret = cv_error_set(err, CV_EEXISTS,
				   "page %s is not marked for rescan", id);
		cv_error_hint(err, "run 'chartvault qa rescan %s' first", id);
		goto cleanup;
	}
	if (cv_index__get_i64(doc, res, 0, 0) < 0 || *doc == 0) {
		ret = cv_error_set(err, CV_EEXISTS, "page %s is in no document",
				   id);
		goto cleanup;
	}
	*seq = (int)strtol(PQgetvalue(res, 0, 1), NULL, 10);
cleanup:
	PQclear(res);
	return ret;
}

/* Lock the rescanned page and check it can take the place. */
static int lock_new(struct cv_index *ix, const char *id, struct cv_error *err)
{
	const char *p[1] = { id };
	PGresult *res;
	int ret;

	ret = exec(ix, LOCK_NEW, 1, p, PGRES_TUPLES_OK, &res, err,
		   "lock the row", id);
	if (ret < 0)
		goto cleanup;
	if (PQntuples(res) != 1)
		ret = cv_error_set(err, CV_ENOTFOUND, "no page %s", id);
	else if (strcmp(PQgetvalue(res, 0, 0), "done"))
		ret = cv_error_set(err, CV_EINVAL,
				   "the rescanned page %s could not be read",
				   id);
	else if (strcmp(PQgetvalue(res, 0, 1), "page"))
		ret = cv_error_set(err, CV_EINVAL,
				   "the rescanned page %s is a %s sheet", id,
				   PQgetvalue(res, 0, 1));
	else if (!strcmp(PQgetvalue(res, 0, 2), "t"))
		ret = cv_error_set(err, CV_EINVAL,
				   "the rescanned page %s is blank", id);
	else if (!strcmp(PQgetvalue(res, 0, 3), "t") ||
		 !strcmp(PQgetvalue(res, 0, 4), "t"))
		ret = cv_error_set(err, CV_EEXISTS, "page %s is filed already",
				   id);
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_qa_replace(struct cv_index *ix, int64_t old_page, int64_t new_page,
			const char *note, const char *actor, int64_t *doc_id,
			struct cv_error *err)
{
	char oid[24], nid[24], did[24], seqs[16], detail[128];
	PGresult *res = NULL;
	int owned = 0, seq = 0, ret;

	*doc_id = 0;
	if (note && strlen(note) > NOTE_MAX)
		return cv_error_set(err, CV_EINVAL,
				    "the note is over %d characters", NOTE_MAX);
	snprintf(oid, sizeof(oid), "%" PRId64, old_page);
	snprintf(nid, sizeof(nid), "%" PRId64, new_page);
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	ret = lock_old(ix, oid, doc_id, &seq, err);
	if (ret == 0)
		ret = lock_new(ix, nid, err);
	if (ret < 0)
		goto cleanup;
	snprintf(did, sizeof(did), "%" PRId64, *doc_id);
	snprintf(seqs, sizeof(seqs), "%d", seq);
	{
		const char *rec[6] = { oid,  nid,   did,
				       seqs, actor, note ? note : "" };
		const char *sup[3] = { oid, nid, actor };
		const char *take[3] = { nid, did, seqs };
		const char *clr[1] = { did };

		ret = exec(ix, RECORD_REPLACEMENT, 6, rec, PGRES_COMMAND_OK,
			   &res, err, "record the replacement", oid);
		if (ret < 0)
			goto cleanup;
		PQclear(res);
		ret = exec(ix, SUPERSEDE, 3, sup, PGRES_COMMAND_OK, &res, err,
			   "supersede the row", oid);
		if (ret < 0)
			goto cleanup;
		PQclear(res);
		ret = exec(ix, TAKE_PLACE, 3, take, PGRES_COMMAND_OK, &res, err,
			   "place the rescan", nid);
		if (ret < 0)
			goto cleanup;
		PQclear(res);
		ret = exec(ix, CLEAR_PDF, 1, clr, PGRES_COMMAND_OK, &res, err,
			   "clear the document's rendition", oid);
		if (ret < 0)
			goto cleanup;
	}
	snprintf(detail, sizeof(detail),
		 "replaced by page %s in document %s at %s", nid, did, seqs);
	ret = cv_index_audit(ix, actor, "page.qa.replace", "page", oid, detail,
			     "ok", err);
cleanup:
	PQclear(res);
	ret = cv_index__tx_leave(ix, owned, ret, err);
	if (ret < 0)
		*doc_id = 0;
	return ret;
}
