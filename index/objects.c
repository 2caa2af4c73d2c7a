/*
 * The object catalogue: one row per object in the archive store, with its
 * wrapped data key. archive/ writes the file first and records it here
 * second, so a row always names bytes that exist; two writers storing the
 * same content race harmlessly, because the first row wins and the second
 * writer learns it from *inserted.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

static const char FIND_OBJECT[] =
	"SELECT gen, kind, kek_id, wrapped_key, erased_at IS NOT NULL,"
	" size, stored_size, stored_sha256 FROM objects WHERE id = $1";

static const char ADD_OBJECT[] =
	"INSERT INTO objects (id, gen, kind, kek_id, wrapped_key, size,"
	" stored_size, stored_sha256, erased_at)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
	" CASE WHEN $5::bytea IS NULL THEN now() END)"
	" ON CONFLICT (id) DO NOTHING";

/* Read a bigint column that the struct keeps unsigned. */
static int get_u64(uint64_t *out, const PGresult *res, int col)
{
	int64_t v;

	*out = 0;
	if (cv_index__get_i64(&v, res, 0, col) < 0 || v < 0)
		return CV_ERROR;
	*out = (uint64_t)v;
	return 0;
}

int cv_index_object_find(struct cv_index *ix, const uint8_t *id,
			 struct cv_index_object *out, struct cv_error *err)
{
	const char *params[1] = { (const char *)id };
	const int lengths[1] = { CV_INDEX_OID_LEN };
	const int formats[1] = { 1 };
	char hex[2 * CV_INDEX_OID_LEN + 1];
	const char *kind, *bad = NULL;
	PGresult *res;
	int ret;

	memset(out, 0, sizeof(*out));
	cv_hex_encode(hex, id, CV_INDEX_OID_LEN);
	res = PQexecParams(ix->conn, FIND_OBJECT, 1, NULL, params, lengths,
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
	memcpy(out->id, id, CV_INDEX_OID_LEN);
	kind = PQgetvalue(res, 0, 1);
	out->erased = !strcmp(PQgetvalue(res, 0, 4), "t");
	if (get_u64(&out->gen, res, 0) < 0)
		bad = "gen";
	else if (strlen(kind) >= sizeof(out->kind))
		bad = "kind";
	else if (cv_index__get_bytea(out->kek_id, sizeof(out->kek_id), res, 0,
				     2) != 0)
		bad = "kek_id";
	else if (cv_index__get_bytea(out->wrapped_key, sizeof(out->wrapped_key),
				     res, 0, 3) < 0 ||
		 (!out->erased && PQgetisnull(res, 0, 3)))
		bad = "wrapped_key";
	else if (get_u64(&out->size, res, 5) < 0)
		bad = "size";
	else if (get_u64(&out->stored_size, res, 6) < 0)
		bad = "stored_size";
	else if (cv_index__get_bytea(out->stored_sha256,
				     sizeof(out->stored_sha256), res, 0,
				     7) != 0)
		bad = "stored_sha256";
	if (bad) {
		ret = cv_error_set(err, CV_ERROR,
				   "object %s has an invalid %s in the index",
				   hex, bad);
		cv_error_hint(
			err,
			"run 'chartvault verify' to reconcile the index with the store");
		memset(out, 0, sizeof(*out));
		goto cleanup;
	}
	snprintf(out->kind, sizeof(out->kind), "%s", kind);
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_object_add(struct cv_index *ix, const struct cv_index_object *obj,
			int *inserted, struct cv_error *err)
{
	char hex[2 * CV_INDEX_OID_LEN + 1];
	char gen[24], size[24], stored_size[24];
	const char *params[8] = {
		(const char *)obj->id,
		gen,
		obj->kind,
		(const char *)obj->kek_id,
		obj->erased ? NULL : (const char *)obj->wrapped_key,
		size,
		stored_size,
		(const char *)obj->stored_sha256,
	};
	const int lengths[8] = {
		CV_INDEX_OID_LEN,     0, 0, CV_INDEX_KEKID_LEN,
		CV_INDEX_WRAPKEY_LEN, 0, 0, sizeof(obj->stored_sha256)
	};
	const int formats[8] = { 1, 0, 0, 1, 1, 0, 0, 1 };
	PGresult *res = NULL;
	const char *n;
	int ret;

	*inserted = 0;
	cv_hex_encode(hex, obj->id, CV_INDEX_OID_LEN);
	/* bigint is signed: refuse what it cannot hold rather than wrap. */
	if (obj->gen > INT64_MAX || obj->size > INT64_MAX ||
	    obj->stored_size > INT64_MAX) {
		ret = cv_error_set(
			err, CV_EINVAL,
			"could not record object %s: a size or generation is out of range",
			hex);
		goto cleanup;
	}
	if (!memchr(obj->kind, '\0', sizeof(obj->kind)) || !obj->kind[0]) {
		ret = cv_error_set(
			err, CV_EINVAL,
			"could not record object %s: its kind is empty or not terminated",
			hex);
		goto cleanup;
	}
	snprintf(gen, sizeof(gen), "%" PRIu64, obj->gen);
	snprintf(size, sizeof(size), "%" PRIu64, obj->size);
	snprintf(stored_size, sizeof(stored_size), "%" PRIu64,
		 obj->stored_size);
	res = PQexecParams(ix->conn, ADD_OBJECT, 8, NULL, params, lengths,
			   formats, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not record object %s", hex);
		goto cleanup;
	}
	n = PQcmdTuples(res);
	*inserted = !strcmp(n, "1");
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}
