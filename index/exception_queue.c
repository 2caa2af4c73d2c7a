/*
 * The exception queue: what records staff see of the documents the
 * pipeline could not file, and what they do to them (set the patient and
 * type, split, merge, move a page, file, reject).
 *
 * Every action is one transaction that locks the documents it touches,
 * changes them, re-runs the misfile rule on what they hold now, and
 * writes a queue_actions row with the documents before and after
 * (cv_document_snapshot, migration 0013) and an audit row. A document
 * that an action changes goes back into the queue (state 'exception'):
 * it reaches a chart again only through "file", which refuses while an
 * exception is open and re-indexes the pages.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

#define REASON_MAX 200

static const char QUEUE_LIST[] =
	"SELECT d.id, d.batch_id, d.doc_type, coalesce(d.mrn, ''),"
	" coalesce(d.patient_id, 0),"
	" (SELECT count(*) FROM pages p WHERE p.document_id = d.id),"
	" coalesce((SELECT string_agg(DISTINCT e.kind, ',') FROM exceptions e"
	"  WHERE e.document_id = d.id AND e.state = 'open'), ''),"
	" to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	" coalesce(b.name, ''),"
	" coalesce((SELECT t.family_name || ', ' || t.given_name FROM patients t"
	"  WHERE t.id = d.patient_id), ''),"
	/* Who the pages say they are: the misfiled pages' own patients,
	 * else the name the pages print (an unknown patient's). */
	" coalesce((SELECT string_agg(DISTINCT t.family_name || ', ' ||"
	"  t.given_name || ' (' || t.mrn || ')', '; ') FROM exceptions e"
	"  JOIN patients t ON t.id = (e.detail->>'page_patient_id')::bigint"
	"  WHERE e.document_id = d.id AND e.state = 'open'"
	"  AND e.kind = 'misfile'), coalesce(d.patient_name, '')),"
	" coalesce(d.type_confidence, -1)"
	" FROM documents d LEFT JOIN batches b ON b.id = d.batch_id"
	" WHERE d.state = 'exception' AND d.closed_at IS NULL"
	" ORDER BY d.id";

static const char QUEUE_SHOW[] =
	"SELECT jsonb_build_object("
	" 'document', cv_document_snapshot(d.id) || jsonb_build_object("
	"  'batch_id', d.batch_id,"
	"  'batch', (SELECT b.name FROM batches b WHERE b.id = d.batch_id),"
	"  'type_source', d.type_source,"
	"  'type_confidence', d.type_confidence,"
	"  'service_date', d.service_date, 'found_name', d.patient_name,"
	"  'found_dob', d.dob, 'filed_at', d.filed_at, 'filed_by', d.filed_by,"
	"  'closed_at', d.closed_at, 'closed_by', d.closed_by,"
	"  'closed_reason', d.closed_reason),"
	" 'patient', (SELECT jsonb_build_object('id', t.id, 'mrn', t.mrn,"
	"  'family', t.family_name, 'given', t.given_name, 'dob', t.dob,"
	"  'sex', t.sex) FROM patients t WHERE t.id = d.patient_id),"
	" 'pages', coalesce((SELECT jsonb_agg(jsonb_build_object("
	"  'page_id', p.id, 'seq', p.seq, 'file', f.name, 'page_no', p.page_no,"
	"  'mrn', p.found_mrn,"
	"  'label_mrn', CASE WHEN p.kind = 'page' THEN p.barcode END,"
	"  'name', p.found_name, 'dob', p.found_dob,"
	/* What OCR read, where the patient index corrected it. */
	"  'read_as', CASE WHEN coalesce(p.read_mrn, p.read_name,"
	"   p.read_dob::text) IS NOT NULL AND"
	"   (p.read_mrn, p.read_name, p.read_dob) IS DISTINCT FROM"
	"   (p.found_mrn, p.found_name, p.found_dob) THEN"
	"   jsonb_build_object('mrn', p.read_mrn, 'name', p.read_name,"
	"   'dob', p.read_dob) END,"
	"  'patient', (SELECT jsonb_build_object('id', t.id, 'mrn', t.mrn,"
	"   'family', t.family_name, 'given', t.given_name, 'dob', t.dob)"
	"   FROM patients t WHERE t.mrn = coalesce(p.found_mrn,"
	"    CASE WHEN p.kind = 'page' THEN p.barcode END)))"
	"  ORDER BY p.seq)"
	"  FROM pages p JOIN source_files f ON f.id = p.file_id"
	"  WHERE p.document_id = d.id), '[]'::jsonb),"
	" 'exceptions', coalesce((SELECT jsonb_agg(jsonb_build_object("
	"  'id', e.id, 'kind', e.kind, 'page_id', e.page_id, 'state', e.state,"
	"  'detail', e.detail, 'created_at', e.created_at,"
	"  'resolved_at', e.resolved_at, 'resolved_by', e.resolved_by,"
	"  'resolution', e.resolution,"
	"  'chart_patient', (SELECT jsonb_build_object('id', t.id,"
	"   'mrn', t.mrn, 'family', t.family_name, 'given', t.given_name,"
	"   'dob', t.dob) FROM patients t WHERE t.id = coalesce("
	"   (e.detail->>'chart_patient_id')::bigint,"
	"   (e.detail->>'document_patient_id')::bigint)),"
	"  'page_patient', (SELECT jsonb_build_object('id', t.id,"
	"   'mrn', t.mrn, 'family', t.family_name, 'given', t.given_name,"
	"   'dob', t.dob) FROM patients t"
	"   WHERE t.id = (e.detail->>'page_patient_id')::bigint))"
	"  ORDER BY e.id)"
	"  FROM exceptions e WHERE e.document_id = d.id), '[]'::jsonb),"
	" 'actions', coalesce((SELECT jsonb_agg(jsonb_build_object("
	"  'id', a.id, 'at', a.at, 'actor', a.actor, 'action', a.action,"
	"  'document_id', a.document_id, 'other_id', a.other_id,"
	"  'page_id', a.page_id, 'before', a.before, 'after', a.after)"
	"  ORDER BY a.id)"
	"  FROM queue_actions a WHERE a.document_id = d.id OR a.other_id = d.id),"
	"  '[]'::jsonb))::text"
	" FROM documents d WHERE d.id = $1";

/* Locks the document for the rest of the transaction. */
static const char LOCK_DOC[] =
	"SELECT state, closed_at IS NOT NULL, coalesce(patient_id, 0),"
	" (SELECT count(*) FROM pages p WHERE p.document_id = d.id)"
	" FROM documents d WHERE id = $1 FOR UPDATE";

static const char SNAPSHOTS[] =
	"SELECT jsonb_agg(cv_document_snapshot(x) ORDER BY o)::text"
	" FROM unnest($1::bigint[]) WITH ORDINALITY AS u(x, o)";

static const char ADD_ACTION[] =
	"INSERT INTO queue_actions (actor, action, document_id, other_id,"
	" page_id, before, after)"
	" VALUES ($1, $2, $3, NULLIF($4, '0')::bigint, NULLIF($5, '0')::bigint,"
	" $6::jsonb, $7::jsonb) RETURNING id";

/* $2 a comma-separated list of kinds, "" for all; $3 a page, 0 for any. */
static const char RESOLVE[] =
	"UPDATE exceptions SET state = 'resolved', resolved_at = now(),"
	" resolved_by = $4, resolution = $5"
	" WHERE document_id = $1 AND state = 'open'"
	" AND ($2 = '' OR kind = ANY(string_to_array($2, ',')))"
	" AND ($3 = '0' OR page_id = $3::bigint)";

static const char OPEN_KINDS[] =
	"SELECT coalesce(string_agg(DISTINCT kind, ','), '') FROM exceptions"
	" WHERE document_id = $1 AND state = 'open'";

static const char HOLD[] =
	"UPDATE documents SET state = 'exception' WHERE id = $1";

static const char ASSIGN[] =
	"UPDATE documents SET patient_id = $2, mrn = $3,"
	" identity_source = 'staff', state = 'exception',"
	" doc_type = coalesce(NULLIF($4, ''), doc_type),"
	" type_source = CASE WHEN $4 = '' THEN type_source ELSE 'staff' END,"
	" type_confidence = CASE WHEN $4 = '' THEN type_confidence ELSE NULL END"
	" WHERE id = $1";

static const char SPLIT_NEW[] =
	"INSERT INTO documents (batch_id, patient_id, mrn, patient_name, dob,"
	" doc_type, type_source, identity_source, service_date,"
	" type_confidence, state)"
	" SELECT batch_id, patient_id, mrn, patient_name, dob, doc_type,"
	" type_source, identity_source, service_date, type_confidence,"
	" 'exception' FROM documents WHERE id = $1 RETURNING id";

static const char SPLIT_PAGES[] =
	"UPDATE pages SET document_id = $2, seq = seq - $3::int + 1"
	" WHERE document_id = $1 AND seq >= $3::int";

/* Exceptions about pages follow the pages; those about the whole
 * document hold for both halves. */
static const char SPLIT_EXCEPTIONS[] =
	"UPDATE exceptions e SET document_id = $2 FROM pages p"
	" WHERE e.document_id = $1 AND e.state = 'open'"
	" AND p.id = e.page_id AND p.document_id = $2";
static const char COPY_DOC_EXCEPTIONS[] =
	"INSERT INTO exceptions (document_id, kind, detail)"
	" SELECT $2, kind, detail FROM exceptions"
	" WHERE document_id = $1 AND state = 'open' AND page_id IS NULL";

static const char APPEND_PAGES[] =
	"UPDATE pages SET document_id = $1, seq = seq + coalesce("
	" (SELECT max(seq) FROM pages WHERE document_id = $1), 0)"
	" WHERE document_id = $2";

static const char MOVE_PAGE_EXCEPTIONS[] =
	"UPDATE exceptions SET document_id = $1"
	" WHERE document_id = $2 AND state = 'open' AND page_id IS NOT NULL";

static const char CLOSE_DOC[] =
	"UPDATE documents SET state = 'exception', closed_at = now(),"
	" closed_by = $2, closed_reason = $3 WHERE id = $1";

static const char PAGE_DOC[] =
	"SELECT coalesce(document_id, 0), coalesce(seq, 0) FROM pages"
	" WHERE id = $1";

static const char MOVE_PAGE[] =
	"UPDATE pages SET document_id = $2, seq = coalesce("
	" (SELECT max(seq) FROM pages WHERE document_id = $2), 0) + 1"
	" WHERE id = $1";

static const char RESEQ[] =
	"UPDATE pages SET seq = seq - 1 WHERE document_id = $1 AND seq > $2::int";

static const char LINK_PATIENT[] =
	"UPDATE documents d SET patient_id = t.id FROM patients t"
	" WHERE d.id = $1 AND d.patient_id IS NULL AND t.mrn = d.mrn";

static const char TEXT_PAGES[] =
	"SELECT id, text_object FROM pages WHERE document_id = $1"
	" AND text_object IS NOT NULL ORDER BY seq";

/* The same vector as ingest computes (index/pipeline.c, PAGE_DONE). */
static const char REINDEX_PAGE[] =
	"UPDATE pages SET tsv = to_tsvector('english', $2) WHERE id = $1";

static const char FILE_DOC[] =
	"UPDATE documents SET state = 'filed', filed_at = now(), filed_by = $2"
	" WHERE id = $1";

/* ---------------------------------------------------------------------
 * Helpers
 */

static int exec(struct cv_index *ix, const char *sql, int n,
		const char *const *params, PGresult **res, const char *what,
		struct cv_error *err)
{
	*res = PQexecParams(ix->conn, sql, n, NULL, params, NULL, NULL, 0);
	if (!cv_index__result_ok(*res))
		return cv_index__error_pg(err, *res, ix->conn, "could not %s",
					  what);
	return 0;
}

/* Run a statement whose result is not needed. */
static int exec1(struct cv_index *ix, const char *sql, int n,
		 const char *const *params, const char *what,
		 struct cv_error *err)
{
	PGresult *res;
	int ret = exec(ix, sql, n, params, &res, what, err);

	PQclear(res);
	return ret;
}

struct locked {
	int exists;
	int filed;
	int closed;
	int64_t patient_id;
	int64_t npages;
};

static int lock_doc(struct cv_index *ix, int64_t id, struct locked *l,
		    int must_be_open, struct cv_error *err)
{
	char d[24];
	const char *p[1] = { d };
	PGresult *res;
	int ret;

	memset(l, 0, sizeof(*l));
	snprintf(d, sizeof(d), "%" PRId64, id);
	ret = exec(ix, LOCK_DOC, 1, p, &res, "lock the document", err);
	if (ret < 0)
		goto cleanup;
	if (PQntuples(res) != 1) {
		ret = cv_error_set(err, CV_ENOTFOUND, "no document %s", d);
		goto cleanup;
	}
	l->exists = 1;
	l->filed = !strcmp(PQgetvalue(res, 0, 0), "filed");
	l->closed = !strcmp(PQgetvalue(res, 0, 1), "t");
	cv_index__get_i64(&l->patient_id, res, 0, 2);
	cv_index__get_i64(&l->npages, res, 0, 3);
	if (must_be_open && l->closed) {
		ret = cv_error_set(
			err, CV_EINVAL,
			"document %s is closed (merged, emptied or rejected)",
			d);
		goto cleanup;
	}
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

/* The documents' snapshots as one JSON array; malloc'd in *out. */
static int snapshots(struct cv_index *ix, const int64_t *ids, size_t n,
		     char **out, struct cv_error *err)
{
	struct cv_buf arr = CV_BUF_INIT;
	const char *p[1];
	PGresult *res;
	size_t i;
	int ret;

	*out = NULL;
	cv_buf_addch(&arr, '{');
	for (i = 0; i < n; i++)
		cv_buf_addf(&arr, "%s%" PRId64, i ? "," : "", ids[i]);
	cv_buf_addch(&arr, '}');
	p[0] = arr.buf;
	ret = exec(ix, SNAPSHOTS, 1, p, &res, "record the documents' state",
		   err);
	if (ret == 0)
		*out = cv_strdup(
			PQgetisnull(res, 0, 0) ? "[]" : PQgetvalue(res, 0, 0));
	PQclear(res);
	cv_buf_release(&arr);
	return ret;
}

static int resolve(struct cv_index *ix, int64_t doc, const char *kinds,
		   int64_t page, const char *actor, const char *resolution,
		   struct cv_error *err)
{
	char d[24], pg[24];
	const char *p[5] = { d, kinds, pg, actor, resolution };

	snprintf(d, sizeof(d), "%" PRId64, doc);
	snprintf(pg, sizeof(pg), "%" PRId64, page);
	return exec1(ix, RESOLVE, 5, p, "resolve the exceptions", err);
}

static int doc_stmt(struct cv_index *ix, const char *sql, int64_t a, int64_t b,
		    const char *what, struct cv_error *err)
{
	char x[24], y[24];
	const char *p[2] = { x, y };

	snprintf(x, sizeof(x), "%" PRId64, a);
	snprintf(y, sizeof(y), "%" PRId64, b);
	return exec1(ix, sql, b ? 2 : 1, p, what, err);
}

static int close_doc(struct cv_index *ix, int64_t doc, const char *actor,
		     const char *reason, struct cv_error *err)
{
	char d[24];
	const char *p[3] = { d, actor, reason };
	int ret;

	snprintf(d, sizeof(d), "%" PRId64, doc);
	ret = exec1(ix, CLOSE_DOC, 3, p, "close the document", err);
	if (ret == 0)
		ret = resolve(ix, doc, "", 0, actor, reason, err);
	return ret;
}

/*
 * The end of every action: the action row with before and after, and
 * the audit row, in the action's transaction.
 */
static int record(struct cv_index *ix, const char *actor, const char *action,
		  int64_t doc, int64_t other, int64_t page, const char *before,
		  const int64_t *ids, size_t nids, struct cv_error *err)
{
	char d[24], o[24], pg[24], audit_action[48], detail[96];
	char *after = NULL;
	const char *p[7] = { actor, action, d, o, pg, before, NULL };
	PGresult *res = NULL;
	int ret;

	snprintf(d, sizeof(d), "%" PRId64, doc);
	snprintf(o, sizeof(o), "%" PRId64, other);
	snprintf(pg, sizeof(pg), "%" PRId64, page);
	ret = snapshots(ix, ids, nids, &after, err);
	if (ret < 0)
		goto cleanup;
	p[6] = after;
	ret = exec(ix, ADD_ACTION, 7, p, &res, "record the queue action", err);
	if (ret < 0)
		goto cleanup;
	snprintf(audit_action, sizeof(audit_action), "queue.%s", action);
	snprintf(detail, sizeof(detail),
		 "queue_action=%s other=%" PRId64 " page=%" PRId64,
		 PQgetvalue(res, 0, 0), other, page);
	ret = cv_index_audit(ix, actor, audit_action, "document", d, detail,
			     NULL, err);
cleanup:
	PQclear(res);
	free(after);
	return ret;
}

/* ---------------------------------------------------------------------
 * Screens
 */

int cv_index_exception_list(struct cv_index *ix,
			    struct cv_index_exception_item **out, size_t *n,
			    struct cv_error *err)
{
	PGresult *res;
	int i, rows, ret;

	*out = NULL;
	*n = 0;
	ret = exec(ix, QUEUE_LIST, 0, NULL, &res, "list the exception queue",
		   err);
	if (ret < 0)
		goto cleanup;
	rows = PQntuples(res);
	*out = cv_calloc((size_t)rows + 1, sizeof(**out));
	for (i = 0; i < rows; i++) {
		struct cv_index_exception_item *q = &(*out)[i];
		int64_t np;

		cv_index__get_i64(&q->doc_id, res, i, 0);
		cv_index__get_i64(&q->batch_id, res, i, 1);
		snprintf(q->doc_type, sizeof(q->doc_type), "%s",
			 PQgetvalue(res, i, 2));
		snprintf(q->mrn, sizeof(q->mrn), "%s", PQgetvalue(res, i, 3));
		cv_index__get_i64(&q->patient_id, res, i, 4);
		cv_index__get_i64(&np, res, i, 5);
		q->npages = (int)np;
		snprintf(q->kinds, sizeof(q->kinds), "%s",
			 PQgetvalue(res, i, 6));
		snprintf(q->created, sizeof(q->created), "%s",
			 PQgetvalue(res, i, 7));
		snprintf(q->batch, sizeof(q->batch), "%s",
			 PQgetvalue(res, i, 8));
		snprintf(q->patient, sizeof(q->patient), "%s",
			 PQgetvalue(res, i, 9));
		snprintf(q->suspected, sizeof(q->suspected), "%s",
			 PQgetvalue(res, i, 10));
		q->type_confidence = strtod(PQgetvalue(res, i, 11), NULL);
	}
	*n = (size_t)rows;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_exception_show(struct cv_index *ix, int64_t doc_id, char **json,
			    struct cv_error *err)
{
	char d[24];
	const char *p[1] = { d };
	PGresult *res;
	int ret;

	*json = NULL;
	snprintf(d, sizeof(d), "%" PRId64, doc_id);
	ret = exec(ix, QUEUE_SHOW, 1, p, &res, "read the document", err);
	if (ret < 0)
		goto cleanup;
	if (PQntuples(res) != 1) {
		ret = cv_error_set(err, CV_ENOTFOUND, "no document %s", d);
		goto cleanup;
	}
	*json = cv_strdup(PQgetvalue(res, 0, 0));
cleanup:
	PQclear(res);
	return ret;
}

/* ---------------------------------------------------------------------
 * Actions
 */

int cv_index_exception_assign(struct cv_index *ix, const char *actor,
			      int64_t doc_id, const char *mrn,
			      const char *doc_type, struct cv_error *err)
{
	struct cv_index_patient pat;
	struct locked l;
	char d[24], pid[24], *before = NULL;
	const char *p[4] = { d, pid, NULL, doc_type ? doc_type : "" };
	int owned, ret;

	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	ret = lock_doc(ix, doc_id, &l, 1, err);
	if (ret == 0)
		ret = cv_index_patient_by_mrn(ix, mrn, &pat, err);
	if (ret == 0)
		ret = snapshots(ix, &doc_id, 1, &before, err);
	if (ret < 0)
		goto cleanup;
	snprintf(d, sizeof(d), "%" PRId64, doc_id);
	snprintf(pid, sizeof(pid), "%" PRId64, pat.id);
	p[2] = pat.mrn;
	ret = exec1(ix, ASSIGN, 4, p, "assign the document", err);
	/* Records staff looked at the pages and decided whose they are. */
	if (ret == 0)
		ret = resolve(ix, doc_id, "unknown-patient,misfile", 0, actor,
			      "patient assigned by records staff", err);
	if (ret == 0 && doc_type && *doc_type)
		ret = resolve(ix, doc_id, "low-confidence-type", 0, actor,
			      "type assigned by records staff", err);
	if (ret == 0)
		ret = record(ix, actor, "assign", doc_id, 0, 0, before, &doc_id,
			     1, err);
cleanup:
	free(before);
	return cv_index__tx_leave(ix, owned, ret, err);
}

int cv_index_exception_split(struct cv_index *ix, const char *actor,
			     int64_t doc_id, int seq, int64_t *new_id,
			     struct cv_error *err)
{
	struct locked l;
	char d[24], nd[24], s[16], *before = NULL;
	const char *p[3] = { d, nd, s };
	PGresult *res = NULL;
	int64_t ids[2];
	int owned, ret;

	*new_id = 0;
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	ret = lock_doc(ix, doc_id, &l, 1, err);
	if (ret < 0)
		goto cleanup;
	if (seq < 2 || seq > l.npages) {
		ret = cv_error_set(
			err, CV_EINVAL,
			"document %" PRId64 " has %" PRId64
			" page(s): split needs a page number from 2 to %" PRId64,
			doc_id, l.npages, l.npages);
		goto cleanup;
	}
	ret = snapshots(ix, &doc_id, 1, &before, err);
	if (ret < 0)
		goto cleanup;
	snprintf(d, sizeof(d), "%" PRId64, doc_id);
	snprintf(s, sizeof(s), "%d", seq);
	ret = exec(ix, SPLIT_NEW, 1, p, &res, "create the new document", err);
	if (ret < 0 || cv_index__get_i64(new_id, res, 0, 0) < 0) {
		if (ret == 0)
			ret = cv_error_set(err, CV_ERROR,
					   "new document id is not a number");
		goto cleanup;
	}
	snprintf(nd, sizeof(nd), "%" PRId64, *new_id);
	ret = exec1(ix, SPLIT_PAGES, 3, p, "move the pages", err);
	if (ret == 0)
		ret = exec1(ix, SPLIT_EXCEPTIONS, 2, p,
			    "move the pages' exceptions", err);
	if (ret == 0)
		ret = exec1(ix, COPY_DOC_EXCEPTIONS, 2, p,
			    "copy the document's exceptions", err);
	if (ret == 0)
		ret = doc_stmt(ix, HOLD, doc_id, 0, "hold the document", err);
	if (ret == 0)
		ret = cv_index_document_check_pages(ix, doc_id, NULL, err);
	if (ret == 0)
		ret = cv_index_document_check_pages(ix, *new_id, NULL, err);
	ids[0] = doc_id;
	ids[1] = *new_id;
	if (ret == 0)
		ret = record(ix, actor, "split", doc_id, *new_id, 0, before,
			     ids, 2, err);
cleanup:
	PQclear(res);
	free(before);
	ret = cv_index__tx_leave(ix, owned, ret, err);
	if (ret < 0)
		*new_id = 0;
	return ret;
}

int cv_index_exception_merge(struct cv_index *ix, const char *actor,
			     int64_t doc1, int64_t doc2, struct cv_error *err)
{
	struct locked l1, l2;
	int64_t ids[2] = { doc1, doc2 };
	char *before = NULL, reason[64];
	int owned, ret;

	if (doc1 == doc2)
		return cv_error_set(err, CV_EINVAL,
				    "a document cannot be merged into itself");
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	/* In id order, so two staff merging the same pair cannot deadlock. */
	ret = lock_doc(ix, doc1 < doc2 ? doc1 : doc2, doc1 < doc2 ? &l1 : &l2,
		       1, err);
	if (ret == 0)
		ret = lock_doc(ix, doc1 < doc2 ? doc2 : doc1,
			       doc1 < doc2 ? &l2 : &l1, 1, err);
	if (ret == 0)
		ret = snapshots(ix, ids, 2, &before, err);
	if (ret == 0)
		ret = doc_stmt(ix, APPEND_PAGES, doc1, doc2, "merge the pages",
			       err);
	if (ret == 0)
		ret = doc_stmt(ix, MOVE_PAGE_EXCEPTIONS, doc1, doc2,
			       "move the pages' exceptions", err);
	snprintf(reason, sizeof(reason), "merged into document %" PRId64, doc1);
	if (ret == 0)
		ret = close_doc(ix, doc2, actor, reason, err);
	if (ret == 0)
		ret = doc_stmt(ix, HOLD, doc1, 0, "hold the document", err);
	if (ret == 0)
		ret = cv_index_document_check_pages(ix, doc1, NULL, err);
	if (ret == 0)
		ret = record(ix, actor, "merge", doc1, doc2, 0, before, ids, 2,
			     err);
	free(before);
	return cv_index__tx_leave(ix, owned, ret, err);
}

int cv_index_exception_move_page(struct cv_index *ix, const char *actor,
				 int64_t page_id, int64_t doc_id,
				 struct cv_error *err)
{
	struct locked ls, lt;
	char pg[24], d[24], seq[24], reason[64], *before = NULL;
	const char *p[2] = { pg, d };
	PGresult *res = NULL;
	int64_t src = 0, oldseq = 0, ids[2];
	int owned, ret;

	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	snprintf(pg, sizeof(pg), "%" PRId64, page_id);
	snprintf(d, sizeof(d), "%" PRId64, doc_id);
	ret = exec(ix, PAGE_DOC, 1, p, &res, "find the page", err);
	if (ret < 0)
		goto cleanup;
	if (PQntuples(res) != 1) {
		ret = cv_error_set(err, CV_ENOTFOUND, "no page %s", pg);
		goto cleanup;
	}
	cv_index__get_i64(&src, res, 0, 0);
	cv_index__get_i64(&oldseq, res, 0, 1);
	if (!src) {
		ret = cv_error_set(
			err, CV_EINVAL,
			"page %s is in no document (a blank back or a cover sheet)",
			pg);
		goto cleanup;
	}
	if (src == doc_id) {
		ret = cv_error_set(err, CV_EINVAL,
				   "page %s is already in document %s", pg, d);
		goto cleanup;
	}
	ret = lock_doc(ix, src < doc_id ? src : doc_id,
		       src < doc_id ? &ls : &lt, 1, err);
	if (ret == 0)
		ret = lock_doc(ix, src < doc_id ? doc_id : src,
			       src < doc_id ? &lt : &ls, 1, err);
	ids[0] = doc_id;
	ids[1] = src;
	if (ret == 0)
		ret = snapshots(ix, ids, 2, &before, err);
	if (ret == 0)
		ret = exec1(ix, MOVE_PAGE, 2, p, "move the page", err);
	snprintf(seq, sizeof(seq), "%" PRId64, oldseq);
	if (ret == 0) {
		const char *q[2] = { NULL, seq };
		char s[24];

		snprintf(s, sizeof(s), "%" PRId64, src);
		q[0] = s;
		ret = exec1(ix, RESEQ, 2, q, "renumber the pages", err);
	}
	snprintf(reason, sizeof(reason), "page moved to document %" PRId64,
		 doc_id);
	if (ret == 0)
		ret = resolve(ix, src, "", page_id, actor, reason, err);
	if (ret == 0 && ls.npages == 1) {
		snprintf(reason, sizeof(reason),
			 "emptied: its page moved to document %" PRId64,
			 doc_id);
		ret = close_doc(ix, src, actor, reason, err);
	} else if (ret == 0) {
		ret = doc_stmt(ix, HOLD, src, 0, "hold the document", err);
		if (ret == 0)
			ret = cv_index_document_check_pages(ix, src, NULL, err);
	}
	if (ret == 0)
		ret = doc_stmt(ix, HOLD, doc_id, 0, "hold the document", err);
	if (ret == 0)
		ret = cv_index_document_check_pages(ix, doc_id, NULL, err);
	if (ret == 0)
		ret = record(ix, actor, "move-page", doc_id, src, page_id,
			     before, ids, 2, err);
cleanup:
	PQclear(res);
	free(before);
	return cv_index__tx_leave(ix, owned, ret, err);
}

/* Recompute the search vector of every page of the document from the
 * text in the archive. */
static int reindex(struct cv_index *ix, int64_t doc_id, cv_index_fetch_fn fetch,
		   void *ctx, struct cv_error *err)
{
	char d[24], pid[24];
	const char *p[1] = { d };
	struct cv_buf text = CV_BUF_INIT;
	PGresult *res = NULL;
	int i, ret;

	snprintf(d, sizeof(d), "%" PRId64, doc_id);
	ret = exec(ix, TEXT_PAGES, 1, p, &res, "list the pages to re-index",
		   err);
	for (i = 0; ret == 0 && i < PQntuples(res); i++) {
		uint8_t oid[CV_INDEX_OID_LEN];
		const char *q[2] = { pid, NULL };

		snprintf(pid, sizeof(pid), "%s", PQgetvalue(res, i, 0));
		if (cv_index__get_bytea(oid, sizeof(oid), res, i, 1) != 0) {
			ret = cv_error_set(
				err, CV_ERROR,
				"page %s has a malformed text object id", pid);
			break;
		}
		cv_buf_reset(&text);
		ret = fetch(ctx, oid, &text, err);
		if (ret < 0)
			break;
		q[1] = text.buf;
		ret = exec1(ix, REINDEX_PAGE, 2, q, "re-index a page", err);
	}
	cv_buf_release(&text);
	PQclear(res);
	return ret;
}

static int open_kinds(struct cv_index *ix, int64_t doc_id, char *out, size_t n,
		      struct cv_error *err)
{
	char d[24];
	const char *p[1] = { d };
	PGresult *res;
	int ret;

	snprintf(d, sizeof(d), "%" PRId64, doc_id);
	ret = exec(ix, OPEN_KINDS, 1, p, &res, "read the open exceptions", err);
	if (ret == 0)
		snprintf(out, n, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return ret;
}

int cv_index_exception_file(struct cv_index *ix, const char *actor,
			    int64_t doc_id, cv_index_fetch_fn fetch,
			    void *fetch_ctx, struct cv_error *err)
{
	struct locked l;
	char d[24], kinds[256] = "", *before = NULL;
	const char *p[2] = { d, actor };
	int owned, ret;

	snprintf(d, sizeof(d), "%" PRId64, doc_id);
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	ret = lock_doc(ix, doc_id, &l, 1, err);
	if (ret == 0)
		ret = snapshots(ix, &doc_id, 1, &before, err);
	if (ret == 0)
		ret = exec1(ix, LINK_PATIENT, 1, p, "link the patient", err);
	if (ret == 0)
		ret = lock_doc(ix, doc_id, &l, 1, err);
	if (ret < 0)
		goto cleanup;
	if (!l.npages) {
		ret = cv_error_set(err, CV_EINVAL,
				   "document %s has no pages to file", d);
		goto cleanup;
	}
	if (!l.patient_id) {
		ret = cv_error_set(
			err, CV_EINVAL,
			"document %s has no patient from the patient index", d);
		cv_error_hint(
			err,
			"set it with: chartvault queue assign %s --mrn MRN", d);
		goto cleanup;
	}
	/* Pages may have changed since the last check; a refusal keeps the
	 * exceptions it finds, so the check runs on its own first. */
	ret = open_kinds(ix, doc_id, kinds, sizeof(kinds), err);
	if (ret < 0)
		goto cleanup;
	if (kinds[0]) {
		ret = cv_error_set(err, CV_EINVAL,
				   "document %s still has open exceptions: %s",
				   d, kinds);
		cv_error_hint(
			err,
			"resolve them with queue assign, split, merge or move-page, or reject the document");
		goto cleanup;
	}
	ret = cv_index_document_check_pages(ix, doc_id, NULL, err);
	if (ret == 0)
		ret = open_kinds(ix, doc_id, kinds, sizeof(kinds), err);
	if (ret == 0 && kinds[0]) {
		ret = cv_error_set(
			err, CV_EINVAL,
			"document %s cannot be filed: a page shows another patient (%s)",
			d, kinds);
		cv_error_hint(err, "see: chartvault queue show %s", d);
		goto cleanup;
	}
	if (ret == 0)
		ret = reindex(ix, doc_id, fetch, fetch_ctx, err);
	if (ret == 0)
		ret = exec1(ix, FILE_DOC, 2, p, "file the document", err);
	if (ret == 0)
		ret = record(ix, actor, "file", doc_id, 0, 0, before, &doc_id,
			     1, err);
cleanup:
	free(before);
	/* A page found disagreeing stays in the queue: keep what was raised. */
	if (ret == CV_EINVAL && kinds[0] && owned) {
		struct cv_error ignore = CV_ERROR_INIT;

		if (cv_index_commit(ix, &ignore) < 0)
			cv_index_rollback(ix);
		return ret;
	}
	return cv_index__tx_leave(ix, owned, ret, err);
}

int cv_index_exception_reject(struct cv_index *ix, const char *actor,
			      int64_t doc_id, const char *reason,
			      struct cv_error *err)
{
	struct locked l;
	char *before = NULL, *why = NULL;
	const char *s;
	int owned, ret;

	if (!reason || !*reason || strlen(reason) > REASON_MAX)
		return cv_error_set(
			err, CV_EINVAL,
			"a rejection needs a reason of 1 to %d characters",
			REASON_MAX);
	for (s = reason; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return cv_error_set(
				err, CV_EINVAL,
				"the reason holds control characters");
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	ret = lock_doc(ix, doc_id, &l, 1, err);
	if (ret == 0)
		ret = snapshots(ix, &doc_id, 1, &before, err);
	why = cv_asprintf("rejected: %s", reason);
	if (ret == 0)
		ret = close_doc(ix, doc_id, actor, why, err);
	if (ret == 0)
		ret = record(ix, actor, "reject", doc_id, 0, 0, before, &doc_id,
			     1, err);
	free(why);
	free(before);
	return cv_index__tx_leave(ix, owned, ret, err);
}
