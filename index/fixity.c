/*
 * The catalogue's side of fixity, crypto-erase and key rotation: listing
 * objects for verify and gc, recording verify runs and when each object
 * was last proven intact, destroying wrapped data keys in one committed
 * transaction, and rewrapping data keys under a new key-encryption key.
 * archive/ drives all of it; this file only knows rows.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

/* Rows of intact objects updated per statement. */
#define PROVEN_BATCH 4096

static const char LIST_OBJECTS[] =
	"WITH c AS ("
	" SELECT id, gen, kind, kek_id, wrapped_key,"
	"  erased_at IS NOT NULL AS erased, size, stored_size, stored_sha256,"
	"  extract(epoch FROM created_at)::bigint AS created,"
	"  erased_at IS NULL AND ($1::timestamp IS NULL"
	"   OR created_at >= ($1::timestamp AT TIME ZONE 'UTC')) AS cand,"
	"  CASE WHEN $2::boolean THEN last_full_at ELSE last_checked_at END"
	"   AS proven"
	" FROM objects),"
	" r AS ("
	" SELECT *, row_number() OVER (PARTITION BY cand"
	"   ORDER BY proven NULLS FIRST, created, id) AS rn,"
	"  count(*) FILTER (WHERE cand) OVER () AS ncand"
	" FROM c)"
	" SELECT id, gen, kind, kek_id, wrapped_key, erased, size, stored_size,"
	"  stored_sha256, created,"
	"  cand AND rn <= ceil(ncand * $3::int / 100.0)"
	" FROM r ORDER BY id, gen";

static const char ADD_RUN[] =
	"INSERT INTO verify_runs (started_at, actor, mode, sample_pct, since,"
	" selected, intact, failed, missing, orphans, temp_files, erased, bytes)"
	" VALUES (to_timestamp($1::bigint), $2, $3, $4,"
	" $5::timestamp AT TIME ZONE 'UTC', $6, $7, $8, $9, $10, $11, $12, $13)"
	" RETURNING id";

static const char ADD_FINDING[] =
	"INSERT INTO verify_findings (run_id, problem, object_id, file, reason)"
	" VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''))";

static const char PROVEN_QUICK[] =
	"UPDATE objects o SET last_checked_at = r.finished_at,"
	" last_checked_run = r.id FROM verify_runs r"
	" WHERE r.id = $1 AND o.id IN"
	" (SELECT decode(h, 'hex') FROM unnest($2::text[]) h)";

static const char PROVEN_FULL[] =
	"UPDATE objects o SET last_checked_at = r.finished_at,"
	" last_checked_run = r.id, last_full_at = r.finished_at,"
	" last_full_run = r.id FROM verify_runs r"
	" WHERE r.id = $1 AND o.id IN"
	" (SELECT decode(h, 'hex') FROM unnest($2::text[]) h)";

static const char LOCK_OBJECT[] =
	"SELECT gen, kek_id, wrapped_key IS NULL,"
	" substring(sha256(coalesce(wrapped_key, ''::bytea)) FROM 1 FOR 16)"
	" FROM objects WHERE id = $1 FOR UPDATE";

static const char FIND_REFERENCE[] =
	"(SELECT 'source_file', s.id FROM source_files s"
	"  WHERE s.object_id = $1 AND NOT (s.id = ANY ($2::bigint[])) LIMIT 1)"
	" UNION ALL"
	" (SELECT 'page', p.id FROM pages p"
	"  WHERE (p.text_object = $1 OR p.words_object = $1"
	"   OR p.image_object = $1)"
	"  AND NOT (p.id = ANY ($3::bigint[]))"
	"  AND NOT (p.file_id = ANY ($2::bigint[])) LIMIT 1)"
	" UNION ALL"
	" (SELECT 'page', v.page_id FROM page_previews v"
	"  JOIN pages p ON p.id = v.page_id WHERE v.object_id = $1"
	"  AND NOT (p.id = ANY ($3::bigint[]))"
	"  AND NOT (p.file_id = ANY ($2::bigint[])) LIMIT 1)"
	" UNION ALL"
	" (SELECT 'batch', b.id FROM batches b WHERE b.manifest_object = $1"
	"  LIMIT 1)"
	" UNION ALL"
	" (SELECT 'document', d.id FROM documents d WHERE d.pdf_object = $1"
	"  LIMIT 1)"
	" UNION ALL"
	" (SELECT 'document', r.document_id FROM page_replacements r"
	"  WHERE r.old_pdf_object = $1 LIMIT 1)"
	" LIMIT 1";

static const char ERASE_OBJECT[] =
	"UPDATE objects SET wrapped_key = NULL, erased_at = now()"
	" WHERE id = $1 AND wrapped_key IS NOT NULL";

static const char NOW_UTC[] = "SELECT to_char(now() AT TIME ZONE 'UTC',"
			      " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

static const char STALE_WRAPS[] =
	"SELECT id, gen, kind, kek_id, wrapped_key, false, size, stored_size,"
	" stored_sha256 FROM objects"
	" WHERE wrapped_key IS NOT NULL AND kek_id <> $1 LIMIT $2";

static const char REWRAP[] =
	"UPDATE objects SET kek_id = $4, wrapped_key = $5"
	" WHERE id = $1 AND kek_id = $2 AND wrapped_key = $3";

static const char FIND_ROTATION[] =
	"SELECT id FROM key_rotations WHERE new_kek_id = $1"
	" ORDER BY id DESC LIMIT 1";

static const char ADD_ROTATION[] =
	"INSERT INTO key_rotations (actor, new_kek_id) VALUES ($1, $2)"
	" RETURNING id";

static const char COUNT_ROTATION[] =
	"UPDATE key_rotations SET rewrapped = rewrapped + $2 WHERE id = $1";

static const char COUNT_UNDER[] =
	"SELECT count(*) FROM objects WHERE wrapped_key IS NOT NULL"
	" AND kek_id IN (SELECT decode(h, 'hex') FROM unnest($1::text[]) h)";

static const char RETIRE[] =
	"INSERT INTO retired_keks (kek_id, rotation)"
	" SELECT decode(h, 'hex'), $2 FROM unnest($1::text[]) h"
	" ON CONFLICT (kek_id) DO NOTHING";

static const char CLOSE_ROTATION[] =
	"UPDATE key_rotations SET finished_at = coalesce(finished_at, now())"
	" WHERE id = $1";

/* "{hex,hex,...}": a text[] literal of n byte strings of len bytes. */
static char *hex_array(const uint8_t *p, size_t len, size_t n)
{
	struct cv_buf b = CV_BUF_INIT;
	char *hex = cv_malloc(2 * len + 1);
	size_t i;

	cv_buf_addch(&b, '{');
	for (i = 0; i < n; i++) {
		cv_hex_encode(hex, p + i * len, len);
		if (i)
			cv_buf_addch(&b, ',');
		cv_buf_adds(&b, hex);
	}
	cv_buf_addch(&b, '}');
	free(hex);
	return cv_buf_detach(&b, NULL);
}

static char *int_array(const int64_t *v, size_t n)
{
	struct cv_buf b = CV_BUF_INIT;
	size_t i;

	cv_buf_addch(&b, '{');
	for (i = 0; i < n; i++)
		cv_buf_addf(&b, "%s%" PRId64, i ? "," : "", v[i]);
	cv_buf_addch(&b, '}');
	return cv_buf_detach(&b, NULL);
}

static int get_u64(uint64_t *out, const PGresult *res, int row, int col)
{
	int64_t v;

	*out = 0;
	if (cv_index__get_i64(&v, res, row, col) < 0 || v < 0)
		return CV_ERROR;
	*out = (uint64_t)v;
	return 0;
}

/*
 * Columns 0..8 of a row shaped id, gen, kind, kek_id, wrapped_key, erased,
 * size, stored_size, stored_sha256 into o. 0 or CV_ERROR.
 */
static int read_object(struct cv_index_object *o, const PGresult *res, int row)
{
	const char *kind = PQgetvalue(res, row, 2);

	memset(o, 0, sizeof(*o));
	o->erased = !strcmp(PQgetvalue(res, row, 5), "t");
	if (cv_index__get_bytea(o->id, sizeof(o->id), res, row, 0) != 0 ||
	    get_u64(&o->gen, res, row, 1) < 0 ||
	    strlen(kind) >= sizeof(o->kind) ||
	    cv_index__get_bytea(o->kek_id, sizeof(o->kek_id), res, row, 3) !=
		    0 ||
	    cv_index__get_bytea(o->wrapped_key, sizeof(o->wrapped_key), res,
				row, 4) < 0 ||
	    (!o->erased && PQgetisnull(res, row, 4)) ||
	    get_u64(&o->size, res, row, 6) < 0 ||
	    get_u64(&o->stored_size, res, row, 7) < 0 ||
	    cv_index__get_bytea(o->stored_sha256, sizeof(o->stored_sha256), res,
				row, 8) != 0)
		return CV_ERROR;
	snprintf(o->kind, sizeof(o->kind), "%s", kind);
	return 0;
}

int cv_index_object_list(struct cv_index *ix,
			 const struct cv_index_object_filter *f,
			 struct cv_index_object_entry **out, size_t *n,
			 struct cv_error *err)
{
	char pct[16];
	const char *params[3] = { f->since, f->full ? "t" : "f", pct };
	struct cv_index_object_entry *v = NULL;
	PGresult *res;
	size_t i, rows;
	int ret;

	*out = NULL;
	*n = 0;
	snprintf(pct, sizeof(pct), "%d", f->sample_pct);
	res = PQexecParams(ix->conn, LIST_OBJECTS, 3, NULL, params, NULL, NULL,
			   0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not list the stored objects");
		goto cleanup;
	}
	rows = (size_t)PQntuples(res);
	v = cv_calloc(rows ? rows : 1, sizeof(*v));
	for (i = 0; i < rows; i++) {
		if (read_object(&v[i].obj, res, (int)i) < 0 ||
		    cv_index__get_i64(&v[i].created_at, res, (int)i, 9) < 0) {
			ret = cv_error_set(
				err, CV_ERROR,
				"could not list the stored objects: row %zu is malformed",
				i + 1);
			goto cleanup;
		}
		v[i].selected = !strcmp(PQgetvalue(res, (int)i, 10), "t");
	}
	*out = v;
	*n = rows;
	v = NULL;
	ret = 0;
cleanup:
	free(v);
	PQclear(res);
	return ret;
}

static const char *const finding_names[] = { "failed", "missing", "orphan",
					     "temp" };

static int add_findings(struct cv_index *ix, const char *run,
			const struct cv_index_verify_finding *fs, size_t n,
			struct cv_error *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct cv_index_verify_finding *f = &fs[i];
		const char *params[5] = { run, finding_names[f->problem],
					  f->has_id ? (const char *)f->id
						    : NULL,
					  f->file, f->reason };
		const int lengths[5] = { 0, 0, CV_INDEX_OID_LEN, 0, 0 };
		const int formats[5] = { 0, 0, 1, 0, 0 };
		PGresult *res;
		int ok;

		res = PQexecParams(ix->conn, ADD_FINDING, 5, NULL, params,
				   lengths, formats, 0);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			cv_index__error_pg(err, res, ix->conn,
					   "could not record a verify finding");
		PQclear(res);
		if (!ok)
			return err->code;
	}
	return 0;
}

static int add_proven(struct cv_index *ix, const char *run, int full,
		      const uint8_t *ids, size_t n, struct cv_error *err)
{
	size_t at, k;

	for (at = 0; at < n; at += k) {
		char *arr;
		const char *params[2];
		PGresult *res;
		int ok;

		k = n - at < PROVEN_BATCH ? n - at : PROVEN_BATCH;
		arr = hex_array(ids + at * CV_INDEX_OID_LEN, CV_INDEX_OID_LEN,
				k);
		params[0] = run;
		params[1] = arr;
		res = PQexecParams(ix->conn, full ? PROVEN_FULL : PROVEN_QUICK,
				   2, NULL, params, NULL, NULL, 0);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			cv_index__error_pg(
				err, res, ix->conn,
				"could not record which objects were proven intact");
		PQclear(res);
		free(arr);
		if (!ok)
			return err->code;
	}
	return 0;
}

int cv_index_verify_record(struct cv_index *ix,
			   const struct cv_index_verify_run *run,
			   const struct cv_index_verify_finding *findings,
			   size_t nfindings, const uint8_t *intact_ids,
			   size_t nintact, int64_t *run_id,
			   struct cv_error *err)
{
	char num[9][24], started[24], pct[16], idtext[24];
	const int64_t vals[8] = { run->selected, run->intact,  run->failed,
				  run->missing,  run->orphans, run->temp_files,
				  run->erased,   run->bytes };
	const char *params[13];
	PGresult *res = NULL;
	int64_t id = 0;
	int owned = 0, ret;
	size_t i;

	if (run_id)
		*run_id = 0;
	snprintf(started, sizeof(started), "%" PRId64, run->started_at);
	snprintf(pct, sizeof(pct), "%d", run->sample_pct);
	params[0] = started;
	params[1] = run->actor;
	params[2] = run->full ? "full" : "quick";
	params[3] = pct;
	params[4] = run->since;
	for (i = 0; i < 8; i++) {
		snprintf(num[i], sizeof(num[i]), "%" PRId64, vals[i]);
		params[5 + i] = num[i];
	}
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	res = PQexecParams(ix->conn, ADD_RUN, 13, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    cv_index__get_i64(&id, res, 0, 0) < 0) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not record the verify run");
		goto cleanup;
	}
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	ret = add_findings(ix, idtext, findings, nfindings, err);
	if (ret == 0)
		ret = add_proven(ix, idtext, run->full, intact_ids, nintact,
				 err);
cleanup:
	PQclear(res);
	ret = cv_index__tx_leave(ix, owned, ret, err);
	if (ret == 0 && run_id)
		*run_id = id;
	return ret;
}

/* Lock one object's row and decide its fate; fills e. */
static int erase_one(struct cv_index *ix, const uint8_t *id, const char *files,
		     const char *pages, const char *actor,
		     struct cv_index_erased *e, struct cv_error *err)
{
	const char *params[3] = { (const char *)id, files, pages };
	const int lengths[3] = { CV_INDEX_OID_LEN, 0, 0 };
	const int formats[3] = { 1, 0, 0 };
	char hex[2 * CV_INDEX_OID_LEN + 1], detail[96];
	PGresult *res;
	int ret;

	memcpy(e->id, id, CV_INDEX_OID_LEN);
	cv_hex_encode(hex, id, CV_INDEX_OID_LEN);
	res = PQexecParams(ix->conn, LOCK_OBJECT, 1, NULL, params, lengths,
			   formats, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not lock object %s", hex);
		goto cleanup;
	}
	if (PQntuples(res) == 0) {
		e->outcome = CV_INDEX_ERASE_UNKNOWN;
		ret = 0;
		goto audit;
	}
	if (get_u64(&e->gen, res, 0, 0) < 0 ||
	    cv_index__get_bytea(e->kek_id, sizeof(e->kek_id), res, 0, 1) != 0 ||
	    cv_index__get_bytea(e->key_fpr, sizeof(e->key_fpr), res, 0, 3) !=
		    0) {
		ret = cv_error_set(err, CV_ERROR,
				   "object %s has a malformed index row", hex);
		goto cleanup;
	}
	if (!strcmp(PQgetvalue(res, 0, 2), "t")) {
		e->outcome = CV_INDEX_ERASE_ALREADY;
		memset(e->key_fpr, 0, sizeof(e->key_fpr));
		ret = 0;
		goto audit;
	}
	PQclear(res);
	res = PQexecParams(ix->conn, FIND_REFERENCE, 3, NULL, params, lengths,
			   formats, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not look up who references object %s", hex);
		goto cleanup;
	}
	if (PQntuples(res) > 0) {
		e->outcome = CV_INDEX_ERASE_REFERENCED;
		snprintf(e->referenced_kind, sizeof(e->referenced_kind), "%s",
			 PQgetvalue(res, 0, 0));
		cv_index__get_i64(&e->referenced_by, res, 0, 1);
		memset(e->key_fpr, 0, sizeof(e->key_fpr));
		ret = 0;
		goto audit;
	}
	PQclear(res);
	res = PQexecParams(ix->conn, ERASE_OBJECT, 1, NULL, params, lengths,
			   formats, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not erase object %s", hex);
		goto cleanup;
	}
	e->outcome = CV_INDEX_ERASE_DONE;
	ret = 0;
audit:
	switch (e->outcome) {
	case CV_INDEX_ERASE_DONE:
		snprintf(detail, sizeof(detail), "data key destroyed");
		break;
	case CV_INDEX_ERASE_ALREADY:
		snprintf(detail, sizeof(detail), "already erased");
		break;
	case CV_INDEX_ERASE_REFERENCED:
		snprintf(detail, sizeof(detail),
			 "kept: referenced by %s %" PRId64, e->referenced_kind,
			 e->referenced_by);
		break;
	default:
		snprintf(detail, sizeof(detail), "no such object");
		break;
	}
	ret = cv_index_audit(
		ix, actor, "object.erase", "object", hex, detail,
		e->outcome == CV_INDEX_ERASE_DONE ? "ok" : "refused", err);
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_object_erase(struct cv_index *ix, const uint8_t (*ids)[32],
			  size_t n, const struct cv_index_erase_set *set,
			  const char *actor, struct cv_index_erased *out,
			  struct cv_error *err)
{
	static const struct cv_index_erase_set none = { NULL, 0, NULL, 0 };
	char *files, *pages;
	PGresult *res = NULL;
	size_t i;
	int ret;

	if (!set)
		set = &none;
	memset(out, 0, n * sizeof(*out));
	ret = cv_index_begin(ix, err);
	if (ret < 0)
		return ret;
	files = int_array(set->source_files, set->nsource_files);
	pages = int_array(set->pages, set->npages);
	for (i = 0; i < n && ret == 0; i++)
		ret = erase_one(ix, ids[i], files, pages, actor, &out[i], err);
	if (ret == 0) {
		res = PQexecParams(ix->conn, NOW_UTC, 0, NULL, NULL, NULL, NULL,
				   0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			ret = cv_index__error_pg(err, res, ix->conn,
						 "could not read the time");
		else
			for (i = 0; i < n; i++)
				snprintf(out[i].erased_at,
					 sizeof(out[i].erased_at), "%s",
					 PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	if (ret == 0)
		ret = cv_index_commit(ix, err);
	else
		cv_index_rollback(ix);
	free(files);
	free(pages);
	return ret;
}

int cv_index_object_stale_wraps(struct cv_index *ix, const uint8_t *current,
				size_t max, struct cv_index_object **rows,
				size_t *n, struct cv_error *err)
{
	char lim[24];
	const char *params[2] = { (const char *)current, lim };
	const int lengths[2] = { CV_INDEX_KEKID_LEN, 0 };
	const int formats[2] = { 1, 0 };
	struct cv_index_object *v = NULL;
	PGresult *res;
	size_t i, k;
	int ret;

	*rows = NULL;
	*n = 0;
	snprintf(lim, sizeof(lim), "%zu", max);
	res = PQexecParams(ix->conn, STALE_WRAPS, 2, NULL, params, lengths,
			   formats, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not list the data keys to rewrap");
		goto cleanup;
	}
	k = (size_t)PQntuples(res);
	v = cv_calloc(k ? k : 1, sizeof(*v));
	for (i = 0; i < k; i++) {
		if (read_object(&v[i], res, (int)i) < 0) {
			ret = cv_error_set(
				err, CV_ERROR,
				"could not list the data keys to rewrap: a row is malformed");
			goto cleanup;
		}
	}
	*rows = v;
	*n = k;
	v = NULL;
	ret = 0;
cleanup:
	if (v)
		cv_wipe(v, k * sizeof(*v));
	free(v);
	PQclear(res);
	return ret;
}

int cv_index_object_rewrap(struct cv_index *ix, const uint8_t *id,
			   const uint8_t *old_kek, const uint8_t *old_wrapped,
			   const uint8_t *new_kek, const uint8_t *new_wrapped,
			   int *updated, struct cv_error *err)
{
	const char *params[5] = { (const char *)id, (const char *)old_kek,
				  (const char *)old_wrapped,
				  (const char *)new_kek,
				  (const char *)new_wrapped };
	const int lengths[5] = { CV_INDEX_OID_LEN, CV_INDEX_KEKID_LEN,
				 CV_INDEX_WRAPKEY_LEN, CV_INDEX_KEKID_LEN,
				 CV_INDEX_WRAPKEY_LEN };
	const int formats[5] = { 1, 1, 1, 1, 1 };
	char hex[2 * CV_INDEX_OID_LEN + 1];
	PGresult *res;
	int ret;

	*updated = 0;
	res = PQexecParams(ix->conn, REWRAP, 5, NULL, params, lengths, formats,
			   0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		cv_hex_encode(hex, id, CV_INDEX_OID_LEN);
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not rewrap the data key of object %s", hex);
		goto cleanup;
	}
	*updated = !strcmp(PQcmdTuples(res), "1");
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_rotation_open(struct cv_index *ix, const uint8_t *new_kek,
			   const char *actor, int64_t *rotation_id,
			   struct cv_error *err)
{
	const char *params[2] = { actor, (const char *)new_kek };
	const int lengths[2] = { 0, CV_INDEX_KEKID_LEN };
	const int formats[2] = { 0, 1 };
	PGresult *res;
	int ret;

	*rotation_id = 0;
	res = PQexecParams(ix->conn, FIND_ROTATION, 1, NULL, params + 1,
			   lengths + 1, formats + 1, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    cv_index__get_i64(rotation_id, res, 0, 0) == 0) {
		ret = 0;
		goto cleanup;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not look up the key rotation");
		goto cleanup;
	}
	PQclear(res);
	res = PQexecParams(ix->conn, ADD_ROTATION, 2, NULL, params, lengths,
			   formats, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    cv_index__get_i64(rotation_id, res, 0, 0) < 0) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not record the key rotation");
		goto cleanup;
	}
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_rotation_count(struct cv_index *ix, int64_t rotation_id,
			    int64_t rewrapped, struct cv_error *err)
{
	char a[24], b[24];
	const char *params[2] = { a, b };
	PGresult *res;
	int ret = 0;

	snprintf(a, sizeof(a), "%" PRId64, rotation_id);
	snprintf(b, sizeof(b), "%" PRId64, rewrapped);
	res = PQexecParams(ix->conn, COUNT_ROTATION, 2, NULL, params, NULL,
			   NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not record the rotation's progress");
	PQclear(res);
	return ret;
}

/* Run sql with params in text format; expect tuples or a command. */
static PGresult *exec_text(struct cv_index *ix, const char *sql, int n,
			   const char *const *params)
{
	return PQexecParams(ix->conn, sql, n, NULL, params, NULL, NULL, 0);
}

int cv_index_kek_retire(struct cv_index *ix, int64_t rotation_id,
			const uint8_t (*old)[CV_INDEX_KEKID_LEN], size_t n,
			int64_t *remaining, struct cv_error *err)
{
	char rot[24], *arr = hex_array(&old[0][0], CV_INDEX_KEKID_LEN, n);
	const char *params[2] = { arr, rot };
	PGresult *res = NULL;
	int ret;

	*remaining = 0;
	snprintf(rot, sizeof(rot), "%" PRId64, rotation_id);
	ret = cv_index_begin(ix, err);
	if (ret < 0)
		goto out;
	/*
	 * SHARE mode waits for every transaction that has inserted or
	 * updated objects to finish and holds off new ones until we commit,
	 * so a row wrapped under an old KEK cannot appear after the count.
	 */
	res = exec_text(ix, "LOCK TABLE objects IN SHARE MODE", 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not lock the object catalogue");
		goto cleanup;
	}
	PQclear(res);
	res = exec_text(ix, COUNT_UNDER, 1, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    cv_index__get_i64(remaining, res, 0, 0) < 0) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not count the data keys left");
		goto cleanup;
	}
	if (*remaining) {
		ret = 0;
		goto cleanup;
	}
	PQclear(res);
	res = exec_text(ix, RETIRE, 2, params);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not retire the old keys");
		goto cleanup;
	}
	PQclear(res);
	res = exec_text(ix, CLOSE_ROTATION, 1, params + 1);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not close the key rotation");
		goto cleanup;
	}
	ret = 0;
cleanup:
	PQclear(res);
	if (ret == 0 && *remaining == 0)
		ret = cv_index_commit(ix, err);
	else
		cv_index_rollback(ix);
out:
	free(arr);
	return ret;
}

/* ---------------------------------------------------------------------
 * Verify history: read-only reports over verify_runs, verify_findings and
 * the per-object proof times that cv_index_verify_record keeps.
 */

#define ISO_UTC(col)                                   \
	"coalesce(to_char(" col " AT TIME ZONE 'UTC'," \
	" 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"

static const char LIST_RUNS[] =
	"SELECT r.id, " ISO_UTC("r.started_at") ", " ISO_UTC("r.finished_at") ", r.actor, r.mode = 'full', r.sample_pct, " ISO_UTC(
		"r.since") ", r.selected, r.intact, r.failed, r.missing, r.orphans,"
			   " r.temp_files, r.erased, r.bytes,"
			   " (SELECT count(*) FROM verify_findings f WHERE f.run_id = r.id),"
			   " (SELECT count(*) FROM verify_runs)"
			   " FROM verify_runs r ORDER BY r.id DESC LIMIT $1";

/*
 * One pass over the live objects for both kinds of proof. $1: the stale
 * age in days; the within[] ages are fixed (cv_index_proof_age_days).
 */
#define PROOF_COUNTS(col)                                                  \
	" count(*) FILTER (WHERE " col " IS NULL),"                        \
	" count(*) FILTER (WHERE " col " < now() - make_interval("         \
	"days => $1::int)),"                                               \
	" count(*) FILTER (WHERE " col " >= now() - interval '1 day'),"    \
	" count(*) FILTER (WHERE " col " >= now() - interval '7 days'),"   \
	" count(*) FILTER (WHERE " col " >= now() - interval '30 days'),"  \
	" count(*) FILTER (WHERE " col " >= now() - interval '90 days'),"  \
	" count(*) FILTER (WHERE " col " >= now() - interval '365 days')," \
	" " ISO_UTC("min(" col ")")

static const char PROOF_SUMMARY[] =
	"SELECT count(*)," PROOF_COUNTS("last_checked_at") "," PROOF_COUNTS(
		"last_full_at") " FROM objects WHERE erased_at IS NULL";

/* The least recently proven live object; never proven ones first. */
static const char LEAST_PROVEN_ANY[] = "SELECT id, " ISO_UTC(
	"last_checked_at") " FROM objects WHERE erased_at IS NULL"
			   " ORDER BY last_checked_at NULLS FIRST, created_at, id LIMIT 1";
static const char LEAST_PROVEN_FULL[] = "SELECT id, " ISO_UTC(
	"last_full_at") " FROM objects WHERE erased_at IS NULL"
			" ORDER BY last_full_at NULLS FIRST, created_at, id LIMIT 1";

static const char OBJECT_PROOF[] =
	"SELECT o.erased_at IS NOT NULL, " ISO_UTC("o.created_at") ", " ISO_UTC(
		"o.last_checked_at") ", coalesce(o.last_checked_run, 0),"
				     " coalesce(rc.mode = 'full', false), " ISO_UTC(
					     "o.last_full_at") ", coalesce(o.last_full_run, 0),"
							       " (SELECT count(*) FROM verify_runs r"
							       "  WHERE r.id > coalesce(o.last_checked_run, 0))"
							       " FROM objects o LEFT JOIN verify_runs rc ON rc.id = o.last_checked_run"
							       " WHERE o.id = $1";

static const char OBJECT_FINDINGS[] = "SELECT f.run_id, " ISO_UTC(
	"r.finished_at") ", f.problem, coalesce(f.reason, '')"
			 " FROM verify_findings f JOIN verify_runs r ON r.id = f.run_id"
			 " WHERE f.object_id = $1 ORDER BY f.run_id DESC LIMIT 50";

const int cv_index_proof_age_days[CV_INDEX_PROOF_AGES] = { 1, 7, 30, 90, 365 };

/* Copy a text column into a fixed field; CV_ERROR when it does not fit. */
static int get_text(char *out, size_t n, const PGresult *res, int row, int col)
{
	const char *v = PQgetvalue(res, row, col);

	if (strlen(v) >= n)
		return CV_ERROR;
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int read_run_row(struct cv_index_verify_run_row *r, const PGresult *res,
			int row)
{
	int64_t pct;
	int64_t *const counts[9] = { &r->selected, &r->intact,  &r->failed,
				     &r->missing,  &r->orphans, &r->temp_files,
				     &r->erased,   &r->bytes,   &r->findings };
	int i;

	memset(r, 0, sizeof(*r));
	if (cv_index__get_i64(&r->id, res, row, 0) < 0 ||
	    get_text(r->started_at, sizeof(r->started_at), res, row, 1) < 0 ||
	    get_text(r->finished_at, sizeof(r->finished_at), res, row, 2) < 0 ||
	    cv_index__get_i64(&pct, res, row, 5) < 0 ||
	    get_text(r->since, sizeof(r->since), res, row, 6) < 0)
		return CV_ERROR;
	/* Actors are login names; a longer one is cut, not refused. */
	snprintf(r->actor, sizeof(r->actor), "%s", PQgetvalue(res, row, 3));
	r->full = !strcmp(PQgetvalue(res, row, 4), "t");
	r->sample_pct = (int)pct;
	for (i = 0; i < 9; i++)
		if (cv_index__get_i64(counts[i], res, row, 7 + i) < 0)
			return CV_ERROR;
	return 0;
}

int cv_index_verify_runs(struct cv_index *ix, size_t limit,
			 struct cv_index_verify_run_row **out, size_t *n,
			 int64_t *total, struct cv_error *err)
{
	struct cv_index_verify_run_row *v = NULL;
	char lim[24];
	const char *params[1] = { lim };
	PGresult *res;
	size_t i, rows;
	int ret;

	*out = NULL;
	*n = 0;
	*total = 0;
	snprintf(lim, sizeof(lim), "%zu", limit);
	res = PQexecParams(ix->conn, LIST_RUNS, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not list the verify runs");
		goto cleanup;
	}
	rows = (size_t)PQntuples(res);
	v = cv_calloc(rows ? rows : 1, sizeof(*v));
	for (i = 0; i < rows; i++) {
		if (read_run_row(&v[i], res, (int)i) < 0 ||
		    cv_index__get_i64(total, res, (int)i, 16) < 0) {
			ret = cv_error_set(
				err, CV_ERROR,
				"could not list the verify runs: row %zu is malformed",
				i + 1);
			goto cleanup;
		}
	}
	*out = v;
	*n = rows;
	v = NULL;
	ret = 0;
cleanup:
	free(v);
	PQclear(res);
	return ret;
}

/* Columns base.. of PROOF_SUMMARY into s. */
static int read_proof_stats(struct cv_index_proof_stats *s, const PGresult *res,
			    int base)
{
	int i;

	if (cv_index__get_i64(&s->never, res, 0, base) < 0 ||
	    cv_index__get_i64(&s->stale, res, 0, base + 1) < 0)
		return CV_ERROR;
	for (i = 0; i < CV_INDEX_PROOF_AGES; i++)
		if (cv_index__get_i64(&s->within[i], res, 0, base + 2 + i) < 0)
			return CV_ERROR;
	return get_text(s->oldest, sizeof(s->oldest), res, 0,
			base + 2 + CV_INDEX_PROOF_AGES);
}

static int least_proven(struct cv_index *ix, const char *sql,
			struct cv_index_proof_stats *s, struct cv_error *err)
{
	PGresult *res = PQexec(ix->conn, sql);
	int ret = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not find the least recently proven object");
	} else if (PQntuples(res) == 1) {
		if (cv_index__get_bytea(s->least_id, sizeof(s->least_id), res,
					0, 0) != 0 ||
		    get_text(s->least_at, sizeof(s->least_at), res, 0, 1) < 0)
			ret = cv_error_set(
				err, CV_ERROR,
				"could not read the least recently proven object");
		else
			s->has_least = 1;
	}
	PQclear(res);
	return ret;
}

int cv_index_proof_summary(struct cv_index *ix, int stale_days,
			   struct cv_index_proof_summary *out,
			   struct cv_error *err)
{
	const int per = 2 + CV_INDEX_PROOF_AGES + 1;
	char days[16];
	const char *params[1] = { days };
	PGresult *res;
	int ret;

	memset(out, 0, sizeof(*out));
	out->stale_days = stale_days;
	snprintf(days, sizeof(days), "%d", stale_days);
	res = PQexecParams(ix->conn, PROOF_SUMMARY, 1, NULL, params, NULL, NULL,
			   0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not summarise the proofs");
		goto cleanup;
	}
	if (cv_index__get_i64(&out->live, res, 0, 0) < 0 ||
	    read_proof_stats(&out->any, res, 1) < 0 ||
	    read_proof_stats(&out->full, res, 1 + per) < 0) {
		ret = cv_error_set(err, CV_ERROR,
				   "could not summarise the proofs: the result "
				   "is malformed");
		goto cleanup;
	}
	ret = least_proven(ix, LEAST_PROVEN_ANY, &out->any, err);
	if (ret == 0)
		ret = least_proven(ix, LEAST_PROVEN_FULL, &out->full, err);
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_object_proof(struct cv_index *ix, const uint8_t *id,
			  struct cv_index_object_proof *out,
			  struct cv_error *err)
{
	const char *params[1] = { (const char *)id };
	const int lengths[1] = { CV_INDEX_OID_LEN };
	const int formats[1] = { 1 };
	char hex[2 * CV_INDEX_OID_LEN + 1];
	PGresult *res;
	size_t i, rows;
	int ret;

	memset(out, 0, sizeof(*out));
	memcpy(out->id, id, CV_INDEX_OID_LEN);
	cv_hex_encode(hex, id, CV_INDEX_OID_LEN);
	res = PQexecParams(ix->conn, OBJECT_PROOF, 1, NULL, params, lengths,
			   formats, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not look up object %s", hex);
		goto cleanup;
	}
	if (PQntuples(res) == 0) {
		ret = cv_error_set(err, CV_ENOTFOUND,
				   "object %s is not in the index", hex);
		goto cleanup;
	}
	out->erased = !strcmp(PQgetvalue(res, 0, 0), "t");
	out->checked_full = !strcmp(PQgetvalue(res, 0, 4), "t");
	if (get_text(out->created_at, sizeof(out->created_at), res, 0, 1) < 0 ||
	    get_text(out->checked_at, sizeof(out->checked_at), res, 0, 2) < 0 ||
	    cv_index__get_i64(&out->checked_run, res, 0, 3) < 0 ||
	    get_text(out->full_at, sizeof(out->full_at), res, 0, 5) < 0 ||
	    cv_index__get_i64(&out->full_run, res, 0, 6) < 0 ||
	    cv_index__get_i64(&out->runs_since, res, 0, 7) < 0) {
		ret = cv_error_set(
			err, CV_ERROR,
			"could not read the proof record of object %s", hex);
		goto cleanup;
	}
	PQclear(res);
	res = PQexecParams(ix->conn, OBJECT_FINDINGS, 1, NULL, params, lengths,
			   formats, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not list the findings of object %s", hex);
		goto cleanup;
	}
	rows = (size_t)PQntuples(res);
	out->findings = cv_calloc(rows ? rows : 1, sizeof(*out->findings));
	for (i = 0; i < rows; i++) {
		struct cv_index_object_finding *f = &out->findings[i];

		if (cv_index__get_i64(&f->run_id, res, (int)i, 0) < 0 ||
		    get_text(f->at, sizeof(f->at), res, (int)i, 1) < 0 ||
		    get_text(f->problem, sizeof(f->problem), res, (int)i, 2) <
			    0) {
			ret = cv_error_set(
				err, CV_ERROR,
				"could not list the findings of object %s: row %zu is malformed",
				hex, i + 1);
			goto cleanup;
		}
		snprintf(f->reason, sizeof(f->reason), "%s",
			 PQgetvalue(res, (int)i, 3));
		out->nfindings++;
	}
	ret = 0;
cleanup:
	PQclear(res);
	if (ret < 0)
		cv_index_object_proof_release(out);
	return ret;
}

void cv_index_object_proof_release(struct cv_index_object_proof *p)
{
	free(p->findings);
	p->findings = NULL;
	p->nfindings = 0;
}

static const char FIND_MANY[] =
	"SELECT id, gen, kind, kek_id, wrapped_key, erased_at IS NOT NULL,"
	" size, stored_size, stored_sha256 FROM objects"
	" WHERE id IN (SELECT decode(h, 'hex') FROM unnest($1::text[]) h)";

int cv_index_object_find_many(struct cv_index *ix, const uint8_t (*ids)[32],
			      size_t n, struct cv_index_object *out, int *found,
			      struct cv_error *err)
{
	const char *params[1];
	struct cv_index_object row;
	PGresult *res;
	size_t i, j, rows;
	char *arr;
	int ret;

	memset(out, 0, n * sizeof(*out));
	memset(found, 0, n * sizeof(*found));
	if (!n)
		return 0;
	arr = hex_array(ids[0], CV_INDEX_OID_LEN, n);
	params[0] = arr;
	res = PQexecParams(ix->conn, FIND_MANY, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not look up %zu objects", n);
		goto cleanup;
	}
	rows = (size_t)PQntuples(res);
	for (j = 0; j < rows; j++) {
		if (read_object(&row, res, (int)j) < 0) {
			ret = cv_error_set(
				err, CV_ERROR,
				"could not look up %zu objects: row %zu is malformed",
				n, j + 1);
			cv_error_hint(
				err,
				"run 'chartvault verify' to reconcile the index with the store");
			goto cleanup;
		}
		for (i = 0; i < n; i++)
			if (!memcmp(ids[i], row.id, CV_INDEX_OID_LEN)) {
				out[i] = row;
				found[i] = 1;
			}
	}
	ret = 0;
cleanup:
	cv_wipe(&row, sizeof(row));
	PQclear(res);
	free(arr);
	return ret;
}
