/*
 * Trained document-type classifiers, versioned in the index. A model is
 * opaque bytes to this module (ingest/ makes and reads them); what is kept
 * beside it are numbers and type codes: the training parameters and the
 * held-out metrics, as JSON. The server computes the SHA-256 on insert
 * and checks it on every read, so a damaged row is refused rather than
 * classifying with garbage weights.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

static const char STORE[] =
	"INSERT INTO classifier_models (created_by, params, metrics, model,"
	" sha256) VALUES ($1, $2::jsonb, $3::jsonb, $4, sha256($4))"
	" RETURNING version";

static const char LATEST[] =
	"SELECT version, model, sha256(model) = sha256"
	" FROM classifier_models WHERE $1::int = 0 OR version = $1::int"
	" ORDER BY version DESC LIMIT 1";

static const char LIST[] =
	"SELECT version,"
	" to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	" created_by, params::text, metrics::text, length(model)"
	" FROM classifier_models ORDER BY version";

int cv_index_model_store(struct cv_index *ix, const char *created_by,
			 const char *params_json, const char *metrics_json,
			 const void *model, size_t len, int *version,
			 struct cv_error *err)
{
	const char *p[4] = { created_by, params_json ? params_json : "{}",
			     metrics_json ? metrics_json : "{}", model };
	const int lens[4] = { 0, 0, 0, (int)len };
	const int fmts[4] = { 0, 0, 0, 1 };
	PGresult *res;
	int64_t v = 0;
	int ret;

	*version = 0;
	if (len == 0 || len > (size_t)INT32_MAX / 2)
		return cv_error_set(
			err, CV_EINVAL,
			"a classifier model of %zu bytes cannot be stored",
			len);
	res = PQexecParams(ix->conn, STORE, 4, NULL, p, lens, fmts, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not store the classifier model");
		goto cleanup;
	}
	ret = cv_index__get_i64(&v, res, 0, 0);
	if (ret < 0) {
		ret = cv_error_set(err, CV_ERROR,
				   "classifier model version is not a number");
		goto cleanup;
	}
	*version = (int)v;
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_model_get(struct cv_index *ix, int want, int *version,
		       struct cv_buf *out, struct cv_error *err)
{
	char w[16];
	const char *p[1] = { w };
	PGresult *res;
	unsigned char *raw = NULL;
	size_t n = 0;
	int64_t v = 0;
	int ret;

	*version = 0;
	cv_buf_reset(out);
	snprintf(w, sizeof(w), "%d", want > 0 ? want : 0);
	res = PQexecParams(ix->conn, LATEST, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read the classifier model");
		goto cleanup;
	}
	if (PQntuples(res) == 0) {
		ret = want > 0 ? cv_error_set(err, CV_ENOTFOUND,
					      "no classifier model version %d",
					      want)
			       : cv_error_set(err, CV_ENOTFOUND,
					      "no trained classifier model");
		goto cleanup;
	}
	cv_index__get_i64(&v, res, 0, 0);
	if (strcmp(PQgetvalue(res, 0, 2), "t")) {
		ret = cv_error_set(err, CV_EMISMATCH,
				   "classifier model %" PRId64
				   " does not match its checksum",
				   v);
		goto cleanup;
	}
	raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 1), &n);
	if (!raw) {
		ret = cv_error_set(err, CV_ERROR,
				   "could not decode classifier model %" PRId64,
				   v);
		goto cleanup;
	}
	ret = cv_buf_add(out, raw, n);
	if (ret < 0) {
		ret = cv_error_set(err, CV_ELIMIT,
				   "classifier model %" PRId64 " is too large",
				   v);
		goto cleanup;
	}
	*version = (int)v;
	ret = 0;
cleanup:
	if (raw)
		PQfreemem(raw);
	PQclear(res);
	return ret;
}

int cv_index_model_list(struct cv_index *ix, struct cv_index_model_info **out,
			size_t *n, struct cv_error *err)
{
	PGresult *res;
	size_t i, rows;
	int ret;

	*out = NULL;
	*n = 0;
	res = PQexecParams(ix->conn, LIST, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not list classifier models");
		goto cleanup;
	}
	rows = (size_t)PQntuples(res);
	*out = cv_calloc(rows + 1, sizeof(**out));
	for (i = 0; i < rows; i++) {
		struct cv_index_model_info *m = &(*out)[i];
		int64_t v = 0;

		cv_index__get_i64(&v, res, (int)i, 0);
		m->version = (int)v;
		snprintf(m->created, sizeof(m->created), "%s",
			 PQgetvalue(res, (int)i, 1));
		snprintf(m->created_by, sizeof(m->created_by), "%s",
			 PQgetvalue(res, (int)i, 2));
		m->params = cv_strdup(PQgetvalue(res, (int)i, 3));
		m->metrics = cv_strdup(PQgetvalue(res, (int)i, 4));
		cv_index__get_i64(&v, res, (int)i, 5);
		m->size = (size_t)v;
	}
	*n = rows;
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

void cv_index_model_list_free(struct cv_index_model_info *m, size_t n)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < n; i++) {
		free(m[i].params);
		free(m[i].metrics);
	}
	free(m);
}
