/*
 * The object catalogue, many rows per statement: what archive's batched
 * put (archive/put.c) needs to learn about a batch of ids, record its
 * rows and audit them in one round trip each, instead of one per file.
 * Each function means exactly what its one-row sibling in objects.c or
 * db.c means, row by row.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

static const char STATE_MANY[] =
	"SELECT encode(id, 'hex'), erased_at IS NOT NULL FROM objects"
	" WHERE id IN (SELECT decode(h, 'hex') FROM unnest($1::text[]) h)";

/*
 * One statement for the batch, in id order: two writers whose batches
 * share ids then take the rows' locks in the same order and wait for each
 * other rather than deadlock. RETURNING names the rows this call made.
 */
static const char ADD_MANY[] =
	"INSERT INTO objects (id, gen, kind, kek_id, wrapped_key, size,"
	" stored_size, stored_sha256, erased_at)"
	" SELECT decode(i, 'hex'), g, k, decode(kek, 'hex'), decode(w, 'hex'),"
	"  s, ss, decode(sha, 'hex'), CASE WHEN w IS NULL THEN now() END"
	" FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[],"
	"  $5::text[], $6::bigint[], $7::bigint[], $8::text[])"
	"  AS t(i, g, k, kek, w, s, ss, sha)"
	" ORDER BY i"
	" ON CONFLICT (id) DO NOTHING RETURNING encode(id, 'hex')";

/*
 * Through audit_append (migration 0010), row by row in the arrays'
 * order, so that every row joins the hash chain as it is written.
 */
static const char AUDIT_MANY[] =
	"SELECT audit_append($1, $7, $8::boolean, $9, $10, $11, $2, $3, o,"
	" NULL, NULL, NULL, d, coalesce($6, 'ok'))"
	" FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS t(o, d, n)"
	" ORDER BY n";

char *cv_index__text_array(const char *const *v, size_t n)
{
	struct cv_buf b = CV_BUF_INIT;
	size_t i;
	const char *p;

	cv_buf_addch(&b, '{');
	for (i = 0; i < n; i++) {
		if (i)
			cv_buf_addch(&b, ',');
		if (!v[i]) {
			cv_buf_adds(&b, "NULL");
			continue;
		}
		cv_buf_addch(&b, '"');
		for (p = v[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				cv_buf_addch(&b, '\\');
			cv_buf_addch(&b, *p);
		}
		cv_buf_addch(&b, '"');
	}
	cv_buf_addch(&b, '}');
	return cv_buf_detach(&b, NULL);
}

/* n strings of hex, each of len bytes at p + i * stride; free_strv them. */
static char **hex_strings(const uint8_t *p, size_t len, size_t stride, size_t n)
{
	char **v = cv_calloc(n ? n : 1, sizeof(*v));
	size_t i;

	for (i = 0; i < n; i++) {
		v[i] = cv_malloc(2 * len + 1);
		cv_hex_encode(v[i], p + i * stride, len);
	}
	return v;
}

static void free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

int cv_index_object_state_many(struct cv_index *ix, const uint8_t (*ids)[32],
			       size_t n, int *state, struct cv_error *err)
{
	char **hex, *arr;
	const char *params[1];
	PGresult *res;
	size_t i, j, rows;
	int ret;

	memset(state, 0, n * sizeof(*state));
	if (!n)
		return 0;
	hex = hex_strings(ids[0], CV_INDEX_OID_LEN, CV_INDEX_OID_LEN, n);
	arr = cv_index__text_array((const char *const *)hex, n);
	params[0] = arr;
	res = PQexecParams(ix->conn, STATE_MANY, 1, NULL, params, NULL, NULL,
			   0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not look up %zu objects", n);
		goto cleanup;
	}
	rows = (size_t)PQntuples(res);
	for (j = 0; j < rows; j++) {
		const char *id = PQgetvalue(res, (int)j, 0);
		int erased = !strcmp(PQgetvalue(res, (int)j, 1), "t");

		/* Every copy of an id in the batch gets the answer. */
		for (i = 0; i < n; i++)
			if (!strcmp(hex[i], id))
				state[i] = erased ? 2 : 1;
	}
	ret = 0;
cleanup:
	PQclear(res);
	free(arr);
	free_strv(hex, n);
	return ret;
}

int cv_index_object_add_many(struct cv_index *ix,
			     const struct cv_index_object *objs, size_t n,
			     int *inserted, struct cv_error *err)
{
	char **s[8] = { NULL };
	char *arr[8] = { NULL };
	const char *params[8];
	PGresult *res = NULL;
	size_t i, j, rows;
	int k, ret;

	memset(inserted, 0, n * sizeof(*inserted));
	if (!n)
		return 0;
	for (i = 0; i < n; i++) {
		const struct cv_index_object *o = &objs[i];

		if (o->gen > INT64_MAX || o->size > INT64_MAX ||
		    o->stored_size > INT64_MAX)
			return cv_error_set(
				err, CV_EINVAL,
				"could not record %zu objects: a size or generation is out of range",
				n);
		if (!memchr(o->kind, '\0', sizeof(o->kind)) || !o->kind[0])
			return cv_error_set(
				err, CV_EINVAL,
				"could not record %zu objects: a kind is empty or not terminated",
				n);
	}
	s[0] = hex_strings(objs[0].id, CV_INDEX_OID_LEN, sizeof(*objs), n);
	s[3] = hex_strings(objs[0].kek_id, CV_INDEX_KEKID_LEN, sizeof(*objs),
			   n);
	s[4] = hex_strings(objs[0].wrapped_key, CV_INDEX_WRAPKEY_LEN,
			   sizeof(*objs), n);
	s[7] = hex_strings(objs[0].stored_sha256, 32, sizeof(*objs), n);
	s[1] = cv_calloc(n, sizeof(char *));
	s[2] = cv_calloc(n, sizeof(char *));
	s[5] = cv_calloc(n, sizeof(char *));
	s[6] = cv_calloc(n, sizeof(char *));
	for (i = 0; i < n; i++) {
		s[1][i] = cv_asprintf("%" PRIu64, objs[i].gen);
		s[2][i] = cv_strdup(objs[i].kind);
		s[5][i] = cv_asprintf("%" PRIu64, objs[i].size);
		s[6][i] = cv_asprintf("%" PRIu64, objs[i].stored_size);
		if (objs[i].erased) {
			free(s[4][i]);
			s[4][i] = NULL; /* as cv_index_object_add */
		}
	}
	for (k = 0; k < 8; k++) {
		arr[k] = cv_index__text_array((const char *const *)s[k], n);
		params[k] = arr[k];
	}
	res = PQexecParams(ix->conn, ADD_MANY, 8, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not record %zu objects", n);
		goto cleanup;
	}
	rows = (size_t)PQntuples(res);
	for (j = 0; j < rows; j++) {
		const char *id = PQgetvalue(res, (int)j, 0);

		/* The first copy of an id in the batch made the row. */
		for (i = 0; i < n; i++)
			if (!strcmp(s[0][i], id)) {
				inserted[i] = 1;
				break;
			}
	}
	ret = 0;
cleanup:
	PQclear(res);
	for (k = 0; k < 8; k++) {
		free_strv(s[k], n);
		free(arr[k]);
	}
	return ret;
}

int cv_index_audit_many(struct cv_index *ix, const char *actor,
			const char *action, const char *object_type,
			const char *const *object_ids,
			const char *const *details, size_t n,
			const char *outcome, struct cv_error *err)
{
	char *ids = NULL, *dets = NULL;
	const char *params[11];
	PGresult *res = NULL;
	int ret;

	if (!actor || !*actor || !action || !*action)
		return cv_error_set(
			err, CV_EINVAL,
			"could not record audit entries: actor and action are required");
	if (!n)
		return 0;
	ids = cv_index__text_array(object_ids, n);
	if (details) {
		dets = cv_index__text_array(details, n);
	} else {
		const char **none = cv_calloc(n, sizeof(*none));

		dets = cv_index__text_array(none, n);
		free(none);
	}
	params[0] = actor;
	params[1] = action;
	params[2] = object_type;
	params[3] = ids;
	params[4] = dets;
	params[5] = outcome;
	params[6] = ix->audit_role;
	params[7] = ix->audit_context ? "f" : "t";
	params[8] = ix->audit_os_user;
	params[9] = ix->audit_host;
	params[10] = ix->audit_session;
	if (!ix->audit_sealed) {
		ret = cv_index_audit_seal(ix, err);
		if (ret < 0)
			goto cleanup;
		ix->audit_sealed = 1;
	}
	res = PQexecParams(ix->conn, AUDIT_MANY, 11, NULL, params, NULL, NULL,
			   0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not record %zu audit entries '%s'", n, action);
		goto cleanup;
	}
	ret = 0;
cleanup:
	PQclear(res);
	free(ids);
	free(dets);
	return ret;
}
