/*
 * The work queue: pages waiting for OCR are rows, claimed by workers on
 * any host that shares the database, and the batch-level lock under which
 * exactly one of them cuts a batch's pages into documents.
 *
 * A claim is a lease: claimed_by names the worker, lease_until says until
 * when the claim stands, and claim_pid is the server process of the
 * claimer's connection. A page is claimable when it is waiting and
 * unclaimed, when its lease has run out (the worker stalled, or a host was
 * cut off), or when claim_pid is no longer a live session (the worker
 * died: its connection closed). The session check only ever makes a dead
 * claim look alive (a recycled pid), never a live one dead, so at worst a
 * dead worker's pages wait for the lease.
 *
 * Every result is written under the claim (claimed_by and state checked
 * on the row, locked), so a page is recorded once even when a stalled
 * worker wakes up after its page was retaken.
 *
 * Assembly: a document may span files, so a batch is cut only once its
 * file list is complete. An intake holds a shared advisory lock on the
 * batch for as long as it adds files, and marks the batch row
 * (intake_started_at) so that a killed intake keeps holding it. An
 * assembler takes the same advisory lock exclusively for its transaction
 * (try, never wait: whoever holds it will do the work), finds no intake
 * mark and no waiting page, and locks the open files' rows; two workers
 * that finish the last pages of a batch at the same moment therefore
 * cannot both cut it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

/* The advisory lock space of batch assembly ("cv" 1). */
#define BATCH_LOCK_CLASS "1668677633"
#define BATCH_LOCK_KEY   "(($1::bigint) % 2147483647)::int"

/* Live sessions: a claim made from any other pid was made by the dead. */
#define CLAIM_STALE                                                \
	"(p.lease_until < now() OR NOT (p.claim_pid = ANY (ARRAY(" \
	"SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL))))"

static const char FAIL_POISONED[] =
	"WITH bad AS ("
	" UPDATE pages p SET state = 'failed', lease_until = NULL,"
	"  claim_pid = NULL, done_at = now(),"
	"  error = 'page stopped its OCR worker ' || p.attempts"
	"   || ' times (the worker crashed or stalled on it)'"
	" WHERE p.state = 'queued' AND p.attempts >= $1 AND " CLAIM_STALE
	" RETURNING p.file_id, p.page_no, p.error)"
	" INSERT INTO rejects (batch_id, name, page, reason)"
	" SELECT f.batch_id, f.name, bad.page_no, bad.error"
	" FROM bad JOIN source_files f ON f.id = bad.file_id";

static const char CLAIM[] =
	"WITH c AS ("
	" SELECT p.id FROM pages p"
	" WHERE p.state = 'queued' AND p.attempts < $5"
	"  AND ($2::bigint = 0 OR p.file_id IN"
	"   (SELECT f.id FROM source_files f WHERE f.batch_id = $2))"
	"  AND (p.claimed_by IS NULL OR " CLAIM_STALE ")"
	" ORDER BY p.attempts, p.id LIMIT $4"
	" FOR UPDATE OF p SKIP LOCKED)"
	" UPDATE pages p SET claimed_by = $1, claim_pid = pg_backend_pid(),"
	"  lease_until = now() + make_interval(secs => $3::int),"
	"  attempts = p.attempts + 1"
	" FROM c, source_files f WHERE p.id = c.id AND f.id = p.file_id"
	" RETURNING p.id, p.file_id, f.batch_id, p.page_no, f.page_count,"
	"  f.object_id, f.format, f.name";

static const char RENEW[] =
	"UPDATE pages SET lease_until = now() + make_interval(secs => $2::int)"
	" WHERE claimed_by = $1 AND state = 'queued'"
	" AND claim_pid = pg_backend_pid()";

static const char RELEASE[] =
	"UPDATE pages SET claimed_by = NULL, claim_pid = NULL,"
	" lease_until = NULL, attempts = greatest(attempts - 1, 0)"
	" WHERE claimed_by = $1 AND state = 'queued'"
	" AND claim_pid = pg_backend_pid()"
	" AND ($2::bigint[] IS NULL OR id = ANY ($2::bigint[]))";

/* Locks the row: the claim cannot be taken between check and write. */
static const char HOLDS[] =
	"SELECT id FROM pages WHERE file_id = $1 AND page_no = $2"
	" AND state = 'queued' AND claimed_by = $3"
	" AND claim_pid = pg_backend_pid() FOR UPDATE";

static const char SETTLE[] = "UPDATE pages SET claim_pid = NULL,"
			     " lease_until = NULL WHERE id = $1";

static const char INTAKE_LOCK[] =
	"SELECT pg_advisory_lock_shared(" BATCH_LOCK_CLASS ", " BATCH_LOCK_KEY
	")";
static const char INTAKE_MARK[] =
	"UPDATE batches SET intake_started_at = now() WHERE id = $1";
static const char INTAKE_CLEAR[] =
	"UPDATE batches SET intake_started_at = NULL WHERE id = $1";
static const char INTAKE_UNLOCK[] =
	"SELECT pg_advisory_unlock_shared(" BATCH_LOCK_CLASS ", " BATCH_LOCK_KEY
	")";

static const char QUEUE_FILE[] =
	"UPDATE source_files SET queue_seq = nextval('source_files_queue_seq'),"
	" manifest_line = CASE WHEN $2::int > 0 THEN $2::int"
	"  ELSE manifest_line END,"
	" manifest_mrn = CASE WHEN $2::int > 0 THEN NULLIF($3, '')"
	"  ELSE manifest_mrn END,"
	" manifest_type = CASE WHEN $2::int > 0 THEN NULLIF($4, '')"
	"  ELSE manifest_type END,"
	" manifest_date = CASE WHEN $2::int > 0 THEN NULLIF($5, '')::date"
	"  ELSE manifest_date END"
	" WHERE id = $1 AND state = 'queued' RETURNING id";

static const char ASSEMBLY_LOCK[] =
	"SELECT pg_try_advisory_xact_lock(" BATCH_LOCK_CLASS ", " BATCH_LOCK_KEY
	"), (SELECT intake_started_at IS NOT NULL FROM batches"
	" WHERE id = $1)";
static const char ASSEMBLY_FILES[] =
	"SELECT id, name, page_count, coalesce(manifest_line, 0),"
	" coalesce(manifest_mrn, ''), coalesce(manifest_type, ''),"
	" coalesce(manifest_date::text, '')"
	" FROM source_files WHERE batch_id = $1 AND state = 'queued'"
	" ORDER BY queue_seq NULLS LAST, id FOR UPDATE";
static const char ASSEMBLY_WAITING[] =
	"SELECT count(*) FROM pages p JOIN source_files f ON f.id = p.file_id"
	" WHERE f.batch_id = $1 AND f.state = 'queued'"
	" AND p.state = 'queued'";

static const char ASSEMBLY_PENDING[] =
	"SELECT DISTINCT f.batch_id FROM source_files f"
	" JOIN batches b ON b.id = f.batch_id"
	" WHERE f.state = 'queued' AND b.intake_started_at IS NULL"
	" AND NOT EXISTS (SELECT 1 FROM pages p"
	"  WHERE p.file_id = f.id AND p.state = 'queued')"
	" ORDER BY 1";

static const char STATUS[] =
	"SELECT (SELECT count(*) FROM pages p"
	"   WHERE p.state = 'queued' AND ($1::bigint = 0 OR p.file_id IN"
	"    (SELECT id FROM source_files WHERE batch_id = $1))),"
	" (SELECT count(*) FROM pages p"
	"   WHERE p.state = 'queued' AND p.claimed_by IS NOT NULL"
	"   AND NOT " CLAIM_STALE " AND ($1::bigint = 0 OR p.file_id IN"
	"    (SELECT id FROM source_files WHERE batch_id = $1))),"
	" count(*), coalesce(sum(page_count), 0)"
	" FROM source_files"
	" WHERE state = 'queued' AND ($1::bigint = 0 OR batch_id = $1)";

static const char DOCS_OF_FILES[] =
	"SELECT DISTINCT document_id FROM pages"
	" WHERE file_id = ANY ($1::bigint[]) AND document_id IS NOT NULL"
	" ORDER BY 1";

static int exec(struct cv_index *ix, const char *sql, int n,
		const char *const *values, ExecStatusType want, PGresult **res,
		struct cv_error *err, const char *what)
{
	*res = PQexecParams(ix->conn, sql, n, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(*res) != want)
		return cv_index__error_pg(err, *res, ix->conn, "could not %s",
					  what);
	return 0;
}

static void i64s(char *out, size_t n, int64_t v)
{
	snprintf(out, n, "%" PRId64, v);
}

/* A bigint[] literal of ids: "{1,2,3}". */
static void id_array(struct cv_buf *b, const int64_t *ids, size_t n)
{
	size_t i;

	cv_buf_addch(b, '{');
	for (i = 0; i < n; i++)
		cv_buf_addf(b, "%s%" PRId64, i ? "," : "", ids[i]);
	cv_buf_addch(b, '}');
}

void cv_index_claims_free(struct cv_index_claim *c, size_t n)
{
	size_t i;

	for (i = 0; c && i < n; i++)
		free(c[i].name);
	free(c);
}

static int read_claims(const PGresult *res, struct cv_index_claim **out,
		       size_t *n, struct cv_error *err)
{
	int rows = PQntuples(res), i;
	struct cv_index_claim *c = cv_calloc((size_t)rows + 1, sizeof(*c));

	for (i = 0; i < rows; i++) {
		int64_t pno, pcount;

		if (cv_index__get_i64(&c[i].page_id, res, i, 0) < 0 ||
		    cv_index__get_i64(&c[i].file_id, res, i, 1) < 0 ||
		    cv_index__get_i64(&c[i].batch_id, res, i, 2) < 0 ||
		    cv_index__get_i64(&pno, res, i, 3) < 0 ||
		    cv_index__get_i64(&pcount, res, i, 4) < 0 ||
		    cv_index__get_bytea(c[i].object_id, sizeof(c[i].object_id),
					res, i, 5) != 0) {
			cv_index_claims_free(c, (size_t)i);
			return cv_error_set(err, CV_ERROR,
					    "a claimed page row is malformed");
		}
		c[i].page_no = (int)pno;
		c[i].page_count = (int)pcount;
		snprintf(c[i].format, sizeof(c[i].format), "%s",
			 PQgetvalue(res, i, 6));
		c[i].name = cv_strdup(PQgetvalue(res, i, 7));
	}
	*out = c;
	*n = (size_t)rows;
	return 0;
}

int cv_index_queue_claim(struct cv_index *ix, const char *worker,
			 int64_t batch_id, int lease_s, int max_attempts,
			 size_t max, struct cv_index_claim **out, size_t *n,
			 struct cv_error *err)
{
	char bid[24], lease[16], lim[24], tries[16];
	const char *p[5] = { worker, bid, lease, lim, tries };
	PGresult *res = NULL;
	int ret;

	*out = NULL;
	*n = 0;
	i64s(bid, sizeof(bid), batch_id);
	snprintf(lease, sizeof(lease), "%d", lease_s);
	snprintf(lim, sizeof(lim), "%zu", max);
	snprintf(tries, sizeof(tries), "%d", max_attempts);
	ret = exec(ix, FAIL_POISONED, 1, p + 4, PGRES_COMMAND_OK, &res, err,
		   "fail pages that stopped their workers");
	if (ret < 0)
		goto cleanup;
	PQclear(res);
	ret = exec(ix, CLAIM, 5, p, PGRES_TUPLES_OK, &res, err,
		   "claim pages from the work queue");
	if (ret == 0)
		ret = read_claims(res, out, n, err);
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_queue_renew(struct cv_index *ix, const char *worker, int lease_s,
			 int64_t *held, struct cv_error *err)
{
	char lease[16];
	const char *p[2] = { worker, lease };
	PGresult *res;
	int ret;

	snprintf(lease, sizeof(lease), "%d", lease_s);
	ret = exec(ix, RENEW, 2, p, PGRES_COMMAND_OK, &res, err,
		   "renew the lease on claimed pages");
	if (ret == 0 && held) {
		long long v = 0;

		cv_parse_ll(&v, PQcmdTuples(res), 0, INT64_MAX);
		*held = v;
	}
	PQclear(res);
	return ret;
}

int cv_index_queue_release(struct cv_index *ix, const char *worker,
			   const int64_t *page_ids, size_t n,
			   struct cv_error *err)
{
	struct cv_buf arr = CV_BUF_INIT;
	const char *p[2] = { worker, NULL };
	PGresult *res;
	int ret;

	if (page_ids) {
		if (!n)
			return 0;
		id_array(&arr, page_ids, n);
		p[1] = arr.buf;
	}
	ret = exec(ix, RELEASE, 2, p, PGRES_COMMAND_OK, &res, err,
		   "give back claimed pages");
	PQclear(res);
	cv_buf_release(&arr);
	return ret;
}

/*
 * In a transaction: lock the page's row if worker still holds it. *page_id
 * receives its id; *lost is 1 when the claim is gone.
 */
static int hold(struct cv_index *ix, const char *worker, int64_t file_id,
		int page_no, int64_t *page_id, int *lost, struct cv_error *err)
{
	char fid[24], pno[16];
	const char *p[3] = { fid, pno, worker };
	PGresult *res;
	int ret;

	*lost = 1;
	i64s(fid, sizeof(fid), file_id);
	snprintf(pno, sizeof(pno), "%d", page_no);
	ret = exec(ix, HOLDS, 3, p, PGRES_TUPLES_OK, &res, err,
		   "check the claim on a page");
	if (ret == 0 && PQntuples(res) == 1) {
		if (cv_index__get_i64(page_id, res, 0, 0) < 0)
			ret = cv_error_set(err, CV_ERROR,
					   "page id is not a number");
		else
			*lost = 0;
	}
	PQclear(res);
	return ret;
}

static int settle(struct cv_index *ix, int64_t page_id, struct cv_error *err)
{
	char id[24];
	const char *p[1] = { id };
	PGresult *res;
	int ret;

	i64s(id, sizeof(id), page_id);
	ret = exec(ix, SETTLE, 1, p, PGRES_COMMAND_OK, &res, err,
		   "close the claim on a page");
	PQclear(res);
	return ret;
}

int cv_index_queue_page_done(struct cv_index *ix, const char *worker,
			     const struct cv_index_page_result *r, int *lost,
			     struct cv_error *err)
{
	int64_t page_id = 0;
	int owned = 0, ret;

	*lost = 0;
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	ret = hold(ix, worker, r->file_id, r->page_no, &page_id, lost, err);
	if (ret < 0 || *lost)
		goto out;
	ret = cv_index_page_done(ix, r, err);
	if (ret == 0)
		ret = settle(ix, page_id, err);
out:
	return cv_index__tx_leave(ix, owned, ret, err);
}

int cv_index_queue_page_failed(struct cv_index *ix, const char *worker,
			       int64_t batch_id, int64_t file_id,
			       const char *name, int page_no,
			       const char *reason, int *lost,
			       struct cv_error *err)
{
	int64_t page_id = 0;
	int owned = 0, ret;

	*lost = 0;
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	ret = hold(ix, worker, file_id, page_no, &page_id, lost, err);
	if (ret < 0 || *lost)
		goto out;
	ret = cv_index_page_failed(ix, file_id, page_no, reason, err);
	if (ret == 0)
		ret = cv_index_reject_add(ix, batch_id, name, page_no, reason,
					  err);
	if (ret == 0)
		ret = settle(ix, page_id, err);
out:
	return cv_index__tx_leave(ix, owned, ret, err);
}

static int batch_statement(struct cv_index *ix, const char *sql,
			   int64_t batch_id, ExecStatusType want,
			   const char *what, struct cv_error *err)
{
	char bid[24];
	const char *p[1] = { bid };
	PGresult *res;
	int ret;

	i64s(bid, sizeof(bid), batch_id);
	ret = exec(ix, sql, 1, p, want, &res, err, what);
	PQclear(res);
	return ret;
}

int cv_index_intake_begin(struct cv_index *ix, int64_t batch_id,
			  struct cv_error *err)
{
	int ret;

	ret = batch_statement(ix, INTAKE_LOCK, batch_id, PGRES_TUPLES_OK,
			      "lock the batch for intake", err);
	if (ret == 0)
		ret = batch_statement(ix, INTAKE_MARK, batch_id,
				      PGRES_COMMAND_OK,
				      "mark the batch's intake open", err);
	return ret;
}

int cv_index_intake_end(struct cv_index *ix, int64_t batch_id, int complete,
			struct cv_error *err)
{
	int ret = 0;

	if (complete)
		ret = batch_statement(ix, INTAKE_CLEAR, batch_id,
				      PGRES_COMMAND_OK,
				      "mark the batch's intake finished", err);
	if (ret == 0)
		ret = batch_statement(ix, INTAKE_UNLOCK, batch_id,
				      PGRES_TUPLES_OK,
				      "unlock the batch after intake", err);
	return ret;
}

int cv_index_queue_file(struct cv_index *ix, int64_t file_id,
			size_t manifest_line, const char *mrn,
			const char *doc_type, const char *service_date,
			int *queued, struct cv_error *err)
{
	char fid[24], line[24];
	const char *p[5] = { fid, line, mrn ? mrn : "",
			     doc_type ? doc_type : "",
			     service_date ? service_date : "" };
	PGresult *res;
	int ret;

	*queued = 0;
	i64s(fid, sizeof(fid), file_id);
	snprintf(line, sizeof(line), "%zu",
		 manifest_line > INT32_MAX ? (size_t)0 : manifest_line);
	ret = exec(ix, QUEUE_FILE, 5, p, PGRES_TUPLES_OK, &res, err,
		   "put the file in its batch's queue");
	if (ret == 0)
		*queued = PQntuples(res) == 1;
	PQclear(res);
	return ret;
}

void cv_index_unit_files_free(struct cv_index_unit_file *f, size_t n)
{
	size_t i;

	for (i = 0; f && i < n; i++)
		free(f[i].name);
	free(f);
}

static int read_unit(const PGresult *res, struct cv_index_unit_file **out,
		     size_t *n, struct cv_error *err)
{
	int rows = PQntuples(res), i;
	struct cv_index_unit_file *f = cv_calloc((size_t)rows + 1, sizeof(*f));

	for (i = 0; i < rows; i++) {
		int64_t pages, line;

		if (cv_index__get_i64(&f[i].file_id, res, i, 0) < 0 ||
		    cv_index__get_i64(&pages, res, i, 2) < 0 ||
		    cv_index__get_i64(&line, res, i, 3) < 0) {
			cv_index_unit_files_free(f, (size_t)i);
			return cv_error_set(err, CV_ERROR,
					    "a source file row is malformed");
		}
		f[i].name = cv_strdup(PQgetvalue(res, i, 1));
		f[i].page_count = (int)pages;
		f[i].manifest_line = line > 0 ? (size_t)line : 0;
		snprintf(f[i].mrn, sizeof(f[i].mrn), "%s",
			 PQgetvalue(res, i, 4));
		snprintf(f[i].doc_type, sizeof(f[i].doc_type), "%s",
			 PQgetvalue(res, i, 5));
		snprintf(f[i].service_date, sizeof(f[i].service_date), "%s",
			 PQgetvalue(res, i, 6));
	}
	*out = f;
	*n = (size_t)rows;
	return 0;
}

int cv_index_assembly_begin(struct cv_index *ix, int64_t batch_id, int *ready,
			    struct cv_index_unit_file **files, size_t *n,
			    struct cv_error *err)
{
	char bid[24];
	const char *p[1] = { bid };
	PGresult *res = NULL;
	int64_t waiting = 0;
	int ret;

	*ready = 0;
	*files = NULL;
	*n = 0;
	if (PQtransactionStatus(ix->conn) != PQTRANS_INTRANS)
		return cv_error_set(err, CV_ERROR,
				    "assembly must run in a transaction");
	i64s(bid, sizeof(bid), batch_id);
	ret = exec(ix, ASSEMBLY_LOCK, 1, p, PGRES_TUPLES_OK, &res, err,
		   "lock the batch for assembly");
	if (ret < 0)
		goto cleanup;
	/* Someone else is assembling it or adding files: not ours to do. */
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "t") ||
	    strcmp(PQgetvalue(res, 0, 1), "f"))
		goto cleanup;
	PQclear(res);
	/* Pages are queued only by an intake, which our lock keeps out: a
	 * batch with none waiting now has none waiting at commit. */
	ret = exec(ix, ASSEMBLY_WAITING, 1, p, PGRES_TUPLES_OK, &res, err,
		   "count the batch's waiting pages");
	if (ret < 0)
		goto cleanup;
	if (cv_index__get_i64(&waiting, res, 0, 0) < 0) {
		ret = cv_error_set(err, CV_ERROR, "page count is not a number");
		goto cleanup;
	}
	if (waiting)
		goto cleanup;
	PQclear(res);
	ret = exec(ix, ASSEMBLY_FILES, 1, p, PGRES_TUPLES_OK, &res, err,
		   "lock the batch's open files");
	if (ret < 0 || PQntuples(res) == 0)
		goto cleanup;
	ret = read_unit(res, files, n, err);
	if (ret == 0)
		*ready = 1;
cleanup:
	if (!*ready) {
		cv_index_unit_files_free(*files, *n);
		*files = NULL;
		*n = 0;
	}
	PQclear(res);
	return ret;
}

static int read_ids(const PGresult *res, int64_t **out, size_t *n,
		    struct cv_error *err)
{
	int rows = PQntuples(res), i;
	int64_t *ids = cv_calloc((size_t)rows + 1, sizeof(*ids));

	for (i = 0; i < rows; i++) {
		if (cv_index__get_i64(&ids[i], res, i, 0) < 0) {
			free(ids);
			return cv_error_set(err, CV_ERROR,
					    "an id is not a number");
		}
	}
	*out = ids;
	*n = (size_t)rows;
	return 0;
}

int cv_index_assembly_pending(struct cv_index *ix, int64_t **batch_ids,
			      size_t *n, struct cv_error *err)
{
	PGresult *res;
	int ret;

	*batch_ids = NULL;
	*n = 0;
	ret = exec(ix, ASSEMBLY_PENDING, 0, NULL, PGRES_TUPLES_OK, &res, err,
		   "list batches waiting for their documents");
	if (ret == 0)
		ret = read_ids(res, batch_ids, n, err);
	PQclear(res);
	return ret;
}

int cv_index_queue_status(struct cv_index *ix, int64_t batch_id,
			  struct cv_index_queue_status *st,
			  struct cv_error *err)
{
	char bid[24];
	const char *p[1] = { bid };
	PGresult *res;
	int ret;

	memset(st, 0, sizeof(*st));
	i64s(bid, sizeof(bid), batch_id);
	ret = exec(ix, STATUS, 1, p, PGRES_TUPLES_OK, &res, err,
		   "read the work queue");
	if (ret == 0 && (PQntuples(res) != 1 ||
			 cv_index__get_i64(&st->queued, res, 0, 0) < 0 ||
			 cv_index__get_i64(&st->claimed, res, 0, 1) < 0 ||
			 cv_index__get_i64(&st->open_files, res, 0, 2) < 0 ||
			 cv_index__get_i64(&st->pages_total, res, 0, 3) < 0))
		ret = cv_error_set(err, CV_ERROR,
				   "the work queue's counts are malformed");
	PQclear(res);
	return ret;
}

int cv_index_documents_of_files(struct cv_index *ix, const int64_t *file_ids,
				size_t n, int64_t **doc_ids, size_t *ndocs,
				struct cv_error *err)
{
	struct cv_buf arr = CV_BUF_INIT;
	const char *p[1];
	PGresult *res;
	int ret;

	*doc_ids = NULL;
	*ndocs = 0;
	id_array(&arr, file_ids, n);
	p[0] = arr.buf;
	ret = exec(ix, DOCS_OF_FILES, 1, p, PGRES_TUPLES_OK, &res, err,
		   "list the files' documents");
	if (ret == 0)
		ret = read_ids(res, doc_ids, ndocs, err);
	PQclear(res);
	cv_buf_release(&arr);
	return ret;
}
