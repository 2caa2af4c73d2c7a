/*
 * The pipeline's rows: batches, original files, pages, documents and
 * rejects. ingest/ drives them in an order that makes every step safe to
 * repeat (see ingest/ingest.c); the statements here are written so that a
 * repeated step finds its earlier work rather than duplicating it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

static const char OPEN_BATCH[] =
	"INSERT INTO batches (name, operator, source) VALUES ($1, $2, $3)"
	" ON CONFLICT (name) DO NOTHING RETURNING id";
static const char FIND_BATCH[] = "SELECT id FROM batches WHERE name = $1";
static const char FINISH_BATCH[] =
	"UPDATE batches SET finished_at = now() WHERE id = $1";
static const char SET_MANIFEST[] =
	"UPDATE batches SET manifest_object = $2 WHERE id = $1";
static const char SET_PLACE[] =
	"UPDATE source_files SET box = NULLIF($2, ''), folder = NULLIF($3, '')"
	" WHERE id = $1";
static const char ADD_REJECT[] =
	"INSERT INTO rejects (batch_id, name, page, reason)"
	" VALUES ($1, $2, NULLIF($3::int, 0), $4)";
static const char ADD_FILE[] =
	"INSERT INTO source_files (batch_id, object_id, name, format, page_count)"
	" VALUES ($1, $2, $3, $4, $5)"
	" ON CONFLICT (object_id) DO NOTHING RETURNING id";
static const char QUEUE_PAGES[] = "INSERT INTO pages (file_id, page_no)"
				  " SELECT $1, generate_series(1, $2::int)";
static const char FIND_FILE[] =
	"SELECT id, batch_id, state FROM source_files WHERE object_id = $1";
static const char PENDING_PAGES[] =
	"SELECT page_no FROM pages WHERE file_id = $1 AND state = 'queued'"
	" ORDER BY page_no";
/* The search vector is computed by the server from text sent for this
 * statement only: the prose itself is never stored in the database. */
static const char PAGE_DONE[] =
	"UPDATE pages SET state = 'done', width = $3, height = $4,"
	" dpi = NULLIF($5::int, 0), blank = $6, ocr_confidence = $7,"
	" found_mrn = NULLIF($8, ''), text_object = $9, words_object = $10,"
	" tsv = CASE WHEN $11::text IS NULL THEN NULL"
	"            ELSE to_tsvector('english', $11) END,"
	" skew_deg = NULLIF($12::real, 0),"
	" rotation = $13, cleanup = NULLIF($14, ''), image_object = $15,"
	" quality_flags = NULLIF($16, ''), kind = $17,"
	" barcode = NULLIF($18, ''),"
	" found_name = NULLIF($19, ''), found_dob = NULLIF($20, '')::date,"
	" read_mrn = NULLIF($8, ''), read_name = NULLIF($19, ''),"
	" read_dob = NULLIF($20, '')::date,"
	" error = NULL, done_at = now()"
	" WHERE file_id = $1 AND page_no = $2";
static const char PAGE_FAILED[] =
	"UPDATE pages SET state = 'failed', error = $3, done_at = now()"
	" WHERE file_id = $1 AND page_no = $2";
static const char FILE_PAGES[] =
	"SELECT id, page_no, blank, state = 'failed', text_object,"
	" coalesce(read_mrn, found_mrn, ''), kind, coalesce(barcode, ''),"
	" coalesce(read_name, ''), coalesce(read_dob::text, '')"
	" FROM pages WHERE file_id = $1"
	" ORDER BY page_no";
static const char ADD_DOCUMENT[] =
	"INSERT INTO documents (batch_id, mrn, patient_name, dob, doc_type,"
	" type_source, identity_source, service_date, patient_id,"
	" type_confidence)"
	" VALUES ($1, NULLIF($2, ''), NULLIF($3, ''), NULLIF($4, '')::date,"
	" $5, NULLIF($6, ''), NULLIF($7, ''), NULLIF($8, '')::date,"
	" (SELECT id FROM patients WHERE mrn = NULLIF($2, '')),"
	" NULLIF($9, '')::real)"
	" RETURNING id";
static const char PLACE_PAGES[] =
	"UPDATE pages SET document_id = $1, seq = u.ord"
	" FROM unnest($2::bigint[]) WITH ORDINALITY AS u(pid, ord)"
	" WHERE pages.id = u.pid AND pages.document_id IS NULL";
static const char FILE_DONE[] =
	"UPDATE source_files SET state = 'done', done_at = now() WHERE id = $1";
static const char GET_DOCUMENT[] =
	"SELECT id, batch_id, doc_type, coalesce(type_source, ''),"
	" coalesce(mrn, ''), coalesce(patient_name, ''),"
	" coalesce(dob::text, ''), coalesce(service_date::text, ''),"
	" coalesce(identity_source, ''), coalesce(type_confidence, 0)"
	" FROM documents WHERE id = $1";
static const char DOCUMENT_PAGES[] =
	"SELECT p.id, p.seq, f.name, p.page_no, p.blank,"
	" coalesce(p.ocr_confidence, -1), p.text_object"
	" FROM pages p JOIN source_files f ON f.id = p.file_id"
	" WHERE p.document_id = $1 ORDER BY p.seq";

/*
 * Run one statement with text parameters (a NULL value is SQL NULL;
 * lengths/formats may be NULL for all-text). Fails unless the result
 * status is want. *res is the caller's to PQclear, also on failure.
 */
static int run(struct cv_index *ix, const char *sql, int n,
	       const char *const *values, const int *lengths,
	       const int *formats, ExecStatusType want, PGresult **res,
	       struct cv_error *err, const char *what)
{
	*res = PQexecParams(ix->conn, sql, n, NULL, values, lengths, formats,
			    0);
	if (PQresultStatus(*res) != want)
		return cv_index__error_pg(err, *res, ix->conn, "could not %s",
					  what);
	return 0;
}

static void i64s(char *out, size_t n, int64_t v)
{
	snprintf(out, n, "%" PRId64, v);
}

int cv_index_batch_open(struct cv_index *ix, const char *name,
			const char *operator_, const char *source,
			int64_t *batch_id, int *created, struct cv_error *err)
{
	const char *p[3] = { name, operator_, source };
	PGresult *res = NULL;
	int ret;

	*created = 0;
	ret = run(ix, OPEN_BATCH, 3, p, NULL, NULL, PGRES_TUPLES_OK, &res, err,
		  "open the batch");
	if (ret < 0)
		goto cleanup;
	if (PQntuples(res) == 1) {
		*created = 1;
	} else {
		PQclear(res);
		ret = run(ix, FIND_BATCH, 1, p, NULL, NULL, PGRES_TUPLES_OK,
			  &res, err, "find the batch");
		if (ret < 0)
			goto cleanup;
		if (PQntuples(res) != 1) {
			ret = cv_error_set(
				err, CV_ERROR,
				"batch '%s' vanished while it was opened",
				name);
			goto cleanup;
		}
	}
	ret = cv_index__get_i64(batch_id, res, 0, 0) < 0
		      ? cv_error_set(err, CV_ERROR, "batch id is not a number")
		      : 0;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_batch_finish(struct cv_index *ix, int64_t batch_id,
			  struct cv_error *err)
{
	char id[24];
	const char *p[1] = { id };
	PGresult *res;
	int ret;

	i64s(id, sizeof(id), batch_id);
	ret = run(ix, FINISH_BATCH, 1, p, NULL, NULL, PGRES_COMMAND_OK, &res,
		  err, "finish the batch");
	PQclear(res);
	return ret;
}

int cv_index_batch_set_manifest(struct cv_index *ix, int64_t batch_id,
				const uint8_t *object_id, struct cv_error *err)
{
	char id[24];
	const char *p[2] = { id, (const char *)object_id };
	const int len[2] = { 0, CV_INDEX_OID_LEN };
	const int fmt[2] = { 0, 1 };
	PGresult *res;
	int ret;

	i64s(id, sizeof(id), batch_id);
	ret = run(ix, SET_MANIFEST, 2, p, len, fmt, PGRES_COMMAND_OK, &res, err,
		  "record the batch's manifest");
	PQclear(res);
	return ret;
}

int cv_index_file_set_place(struct cv_index *ix, int64_t file_id,
			    const char *box, const char *folder,
			    struct cv_error *err)
{
	char id[24];
	const char *p[3] = { id, box ? box : "", folder ? folder : "" };
	PGresult *res;
	int ret;

	i64s(id, sizeof(id), file_id);
	ret = run(ix, SET_PLACE, 3, p, NULL, NULL, PGRES_COMMAND_OK, &res, err,
		  "record the file's box and folder");
	PQclear(res);
	return ret;
}

int cv_index_reject_add(struct cv_index *ix, int64_t batch_id, const char *name,
			int page, const char *reason, struct cv_error *err)
{
	char id[24], pg[16];
	const char *p[4] = { id, name, pg, reason };
	PGresult *res;
	int ret;

	i64s(id, sizeof(id), batch_id);
	snprintf(pg, sizeof(pg), "%d", page);
	ret = run(ix, ADD_REJECT, 4, p, NULL, NULL, PGRES_COMMAND_OK, &res, err,
		  "record a reject");
	PQclear(res);
	return ret;
}

static enum cv_index_file_state file_state(const char *s)
{
	return strcmp(s, "done") ? CV_INDEX_FILE_QUEUED : CV_INDEX_FILE_DONE;
}

int cv_index_file_add(struct cv_index *ix, int64_t batch_id,
		      const uint8_t *object_id, const char *name,
		      const char *format, int page_count, int64_t *file_id,
		      int64_t *owner_batch, enum cv_index_file_state *state,
		      struct cv_error *err)
{
	char bid[24], pages[16], fid[24];
	const char *p[5] = { bid, (const char *)object_id, name, format,
			     pages };
	const int len[5] = { 0, CV_INDEX_OID_LEN, 0, 0, 0 };
	const int fmt[5] = { 0, 1, 0, 0, 0 };
	PGresult *res = NULL;
	int owned = 0, ret;

	i64s(bid, sizeof(bid), batch_id);
	snprintf(pages, sizeof(pages), "%d", page_count);
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	ret = run(ix, ADD_FILE, 5, p, len, fmt, PGRES_TUPLES_OK, &res, err,
		  "record the file");
	if (ret < 0)
		goto cleanup;
	if (PQntuples(res) == 1) {
		const char *q[2] = { fid, pages };

		if (cv_index__get_i64(file_id, res, 0, 0) < 0) {
			ret = cv_error_set(err, CV_ERROR,
					   "file id is not a number");
			goto cleanup;
		}
		*owner_batch = batch_id;
		*state = CV_INDEX_FILE_NEW;
		i64s(fid, sizeof(fid), *file_id);
		PQclear(res);
		ret = run(ix, QUEUE_PAGES, 2, q, NULL, NULL, PGRES_COMMAND_OK,
			  &res, err, "queue the file's pages");
		goto cleanup;
	}
	PQclear(res);
	ret = run(ix, FIND_FILE, 1, p + 1, len + 1, fmt + 1, PGRES_TUPLES_OK,
		  &res, err, "find the file");
	if (ret < 0)
		goto cleanup;
	if (PQntuples(res) != 1 || cv_index__get_i64(file_id, res, 0, 0) < 0 ||
	    cv_index__get_i64(owner_batch, res, 0, 1) < 0) {
		ret = cv_error_set(err, CV_ERROR,
				   "file '%s' is recorded inconsistently",
				   name);
		goto cleanup;
	}
	*state = file_state(PQgetvalue(res, 0, 2));
cleanup:
	PQclear(res);
	return cv_index__tx_leave(ix, owned, ret, err);
}

int cv_index_file_pending(struct cv_index *ix, int64_t file_id, int **pages,
			  size_t *n, struct cv_error *err)
{
	char fid[24];
	const char *p[1] = { fid };
	PGresult *res;
	int i, rows, ret;

	*pages = NULL;
	*n = 0;
	i64s(fid, sizeof(fid), file_id);
	ret = run(ix, PENDING_PAGES, 1, p, NULL, NULL, PGRES_TUPLES_OK, &res,
		  err, "list the pages still to do");
	if (ret < 0)
		goto cleanup;
	rows = PQntuples(res);
	*pages = cv_calloc((size_t)rows + 1, sizeof(**pages));
	for (i = 0; i < rows; i++) {
		int64_t v;

		if (cv_index__get_i64(&v, res, i, 0) < 0) {
			ret = cv_error_set(err, CV_ERROR,
					   "page number is not a number");
			free(*pages);
			*pages = NULL;
			goto cleanup;
		}
		(*pages)[i] = (int)v;
	}
	*n = (size_t)rows;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_page_done(struct cv_index *ix,
		       const struct cv_index_page_result *r,
		       struct cv_error *err)
{
	char fid[24], pno[16], w[16], h[16], dpi[16], conf[32], skew[32];
	char rot[16];
	const char *p[20] = { fid,
			      pno,
			      w,
			      h,
			      dpi,
			      r->blank ? "t" : "f",
			      r->ocr_confidence >= 0 ? conf : NULL,
			      r->found_mrn,
			      (const char *)r->text_object,
			      (const char *)r->words_object,
			      r->text_object ? r->text : NULL,
			      skew,
			      rot,
			      r->cleanup ? r->cleanup : "",
			      (const char *)r->image_object,
			      r->quality_flags ? r->quality_flags : "",
			      r->kind ? r->kind : "page",
			      r->barcode ? r->barcode : "",
			      r->found_name ? r->found_name : "",
			      r->found_dob ? r->found_dob : "" };
	/* clang-format off */
	const int len[20] = { 0, 0, 0, 0, 0, 0, 0, 0, CV_INDEX_OID_LEN,
			      CV_INDEX_OID_LEN, 0, 0, 0, 0, CV_INDEX_OID_LEN,
			      0, 0, 0, 0, 0 };
	const int fmt[20] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1,
			      0, 0, 0, 0, 1, 0, 0, 0, 0, 0 };
	/* clang-format on */
	PGresult *res;
	int ret;

	i64s(fid, sizeof(fid), r->file_id);
	snprintf(pno, sizeof(pno), "%d", r->page_no);
	snprintf(w, sizeof(w), "%d", r->width);
	snprintf(h, sizeof(h), "%d", r->height);
	snprintf(dpi, sizeof(dpi), "%d", r->dpi);
	snprintf(conf, sizeof(conf), "%.2f", r->ocr_confidence);
	snprintf(skew, sizeof(skew), "%.2f", r->skew_deg);
	snprintf(rot, sizeof(rot), "%d", r->rotation);
	ret = run(ix, PAGE_DONE, 20, p, len, fmt, PGRES_COMMAND_OK, &res, err,
		  "record the page");
	if (ret == 0 && strcmp(PQcmdTuples(res), "1"))
		ret = cv_error_set(err, CV_ERROR,
				   "page %d of file %" PRId64 " is not queued",
				   r->page_no, r->file_id);
	PQclear(res);
	return ret;
}

int cv_index_page_failed(struct cv_index *ix, int64_t file_id, int page_no,
			 const char *reason, struct cv_error *err)
{
	char fid[24], pno[16];
	const char *p[3] = { fid, pno, reason };
	PGresult *res;
	int ret;

	i64s(fid, sizeof(fid), file_id);
	snprintf(pno, sizeof(pno), "%d", page_no);
	ret = run(ix, PAGE_FAILED, 3, p, NULL, NULL, PGRES_COMMAND_OK, &res,
		  err, "record a failed page");
	PQclear(res);
	return ret;
}

int cv_index_file_pages(struct cv_index *ix, int64_t file_id,
			struct cv_index_page_info **pages, size_t *n,
			struct cv_error *err)
{
	char fid[24];
	const char *p[1] = { fid };
	PGresult *res;
	int i, rows, ret;

	*pages = NULL;
	*n = 0;
	i64s(fid, sizeof(fid), file_id);
	ret = run(ix, FILE_PAGES, 1, p, NULL, NULL, PGRES_TUPLES_OK, &res, err,
		  "list the file's pages");
	if (ret < 0)
		goto cleanup;
	rows = PQntuples(res);
	*pages = cv_calloc((size_t)rows + 1, sizeof(**pages));
	for (i = 0; i < rows; i++) {
		struct cv_index_page_info *pi = &(*pages)[i];
		int64_t v;
		int t;

		if (cv_index__get_i64(&pi->id, res, i, 0) < 0 ||
		    cv_index__get_i64(&v, res, i, 1) < 0 ||
		    (t = cv_index__get_bytea(pi->text_object,
					     sizeof(pi->text_object), res, i,
					     4)) < 0) {
			ret = cv_error_set(err, CV_ERROR,
					   "page row of file %s is malformed",
					   fid);
			free(*pages);
			*pages = NULL;
			goto cleanup;
		}
		pi->page_no = (int)v;
		pi->blank = !strcmp(PQgetvalue(res, i, 2), "t");
		pi->failed = !strcmp(PQgetvalue(res, i, 3), "t");
		pi->has_text = t == 0;
		snprintf(pi->found_mrn, sizeof(pi->found_mrn), "%s",
			 PQgetvalue(res, i, 5));
		snprintf(pi->kind, sizeof(pi->kind), "%s",
			 PQgetvalue(res, i, 6));
		snprintf(pi->barcode, sizeof(pi->barcode), "%s",
			 PQgetvalue(res, i, 7));
		snprintf(pi->found_name, sizeof(pi->found_name), "%s",
			 PQgetvalue(res, i, 8));
		snprintf(pi->found_dob, sizeof(pi->found_dob), "%s",
			 PQgetvalue(res, i, 9));
	}
	*n = (size_t)rows;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_document_create(struct cv_index *ix,
			     const struct cv_index_document *d,
			     const int64_t *page_ids, size_t npages,
			     int64_t *doc_id, struct cv_error *err)
{
	char bid[24], did[24], conf[24] = "";
	const char *p[9] = { bid,
			     d->mrn,
			     d->patient_name,
			     d->dob,
			     d->doc_type[0] ? d->doc_type : "other",
			     d->type_source,
			     d->identity_source,
			     d->service_date,
			     conf };
	struct cv_buf arr = CV_BUF_INIT;
	PGresult *res = NULL;
	size_t i;
	int owned = 0, ret;

	i64s(bid, sizeof(bid), d->batch_id);
	if (d->type_confidence > 0 && d->type_confidence <= 1)
		snprintf(conf, sizeof(conf), "%.4f", d->type_confidence);
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	ret = run(ix, ADD_DOCUMENT, 9, p, NULL, NULL, PGRES_TUPLES_OK, &res,
		  err, "create a document");
	if (ret < 0)
		goto cleanup;
	if (cv_index__get_i64(doc_id, res, 0, 0) < 0) {
		ret = cv_error_set(err, CV_ERROR,
				   "document id is not a number");
		goto cleanup;
	}
	PQclear(res);
	res = NULL;
	cv_buf_addch(&arr, '{');
	for (i = 0; i < npages; i++)
		cv_buf_addf(&arr, "%s%" PRId64, i ? "," : "", page_ids[i]);
	cv_buf_addch(&arr, '}');
	i64s(did, sizeof(did), *doc_id);
	{
		const char *q[2] = { did, arr.buf };
		char want[24];

		ret = run(ix, PLACE_PAGES, 2, q, NULL, NULL, PGRES_COMMAND_OK,
			  &res, err, "place pages in the document");
		snprintf(want, sizeof(want), "%zu", npages);
		if (ret == 0 && strcmp(PQcmdTuples(res), want))
			ret = cv_error_set(
				err, CV_EEXISTS,
				"some pages of document %s already belong to another document",
				did);
	}
cleanup:
	cv_buf_release(&arr);
	PQclear(res);
	return cv_index__tx_leave(ix, owned, ret, err);
}

int cv_index_file_done(struct cv_index *ix, int64_t file_id,
		       struct cv_error *err)
{
	char fid[24];
	const char *p[1] = { fid };
	PGresult *res;
	int ret;

	i64s(fid, sizeof(fid), file_id);
	ret = run(ix, FILE_DONE, 1, p, NULL, NULL, PGRES_COMMAND_OK, &res, err,
		  "mark the file done");
	PQclear(res);
	return ret;
}

/* Fill a document from columns first..first+8 of GET_DOCUMENT's shape. */
int cv_index__read_document(const PGresult *res, int row, int first,
			    struct cv_index_document *d)
{
	memset(d, 0, sizeof(*d));
	if (cv_index__get_i64(&d->id, res, row, first) < 0 ||
	    cv_index__get_i64(&d->batch_id, res, row, first + 1) < 0)
		return CV_ERROR;
	snprintf(d->doc_type, sizeof(d->doc_type), "%s",
		 PQgetvalue(res, row, first + 2));
	snprintf(d->type_source, sizeof(d->type_source), "%s",
		 PQgetvalue(res, row, first + 3));
	snprintf(d->mrn, sizeof(d->mrn), "%s", PQgetvalue(res, row, first + 4));
	snprintf(d->patient_name, sizeof(d->patient_name), "%s",
		 PQgetvalue(res, row, first + 5));
	snprintf(d->dob, sizeof(d->dob), "%s", PQgetvalue(res, row, first + 6));
	snprintf(d->service_date, sizeof(d->service_date), "%s",
		 PQgetvalue(res, row, first + 7));
	snprintf(d->identity_source, sizeof(d->identity_source), "%s",
		 PQgetvalue(res, row, first + 8));
	return 0;
}

int cv_index_document_get(struct cv_index *ix, int64_t doc_id,
			  struct cv_index_document *doc,
			  struct cv_index_doc_page **pages, size_t *npages,
			  struct cv_error *err)
{
	char did[24];
	const char *p[1] = { did };
	PGresult *res = NULL;
	int i, rows, ret;

	*pages = NULL;
	*npages = 0;
	i64s(did, sizeof(did), doc_id);
	ret = run(ix, GET_DOCUMENT, 1, p, NULL, NULL, PGRES_TUPLES_OK, &res,
		  err, "read the document");
	if (ret < 0)
		goto cleanup;
	if (PQntuples(res) != 1) {
		ret = cv_error_set(err, CV_ENOTFOUND, "no document %s", did);
		goto cleanup;
	}
	if (cv_index__read_document(res, 0, 0, doc) < 0) {
		ret = cv_error_set(err, CV_ERROR, "document %s is malformed",
				   did);
		goto cleanup;
	}
	doc->type_confidence = strtod(PQgetvalue(res, 0, 9), NULL);
	PQclear(res);
	ret = run(ix, DOCUMENT_PAGES, 1, p, NULL, NULL, PGRES_TUPLES_OK, &res,
		  err, "read the document's pages");
	if (ret < 0)
		goto cleanup;
	rows = PQntuples(res);
	*pages = cv_calloc((size_t)rows + 1, sizeof(**pages));
	for (i = 0; i < rows; i++) {
		struct cv_index_doc_page *dp = &(*pages)[i];
		int64_t v, pno;
		int t;

		if (cv_index__get_i64(&dp->page_id, res, i, 0) < 0 ||
		    cv_index__get_i64(&v, res, i, 1) < 0 ||
		    cv_index__get_i64(&pno, res, i, 3) < 0 ||
		    (t = cv_index__get_bytea(dp->text_object,
					     sizeof(dp->text_object), res, i,
					     6)) < 0) {
			ret = cv_error_set(err, CV_ERROR,
					   "a page of document %s is malformed",
					   did);
			free(*pages);
			*pages = NULL;
			goto cleanup;
		}
		dp->seq = (int)v;
		dp->page_no = (int)pno;
		snprintf(dp->file_name, sizeof(dp->file_name), "%s",
			 PQgetvalue(res, i, 2));
		dp->blank = !strcmp(PQgetvalue(res, i, 4), "t");
		dp->ocr_confidence = strtod(PQgetvalue(res, i, 5), NULL);
		dp->has_text = t == 0;
	}
	*npages = (size_t)rows;
cleanup:
	PQclear(res);
	return ret;
}
