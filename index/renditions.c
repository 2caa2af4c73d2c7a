/*
 * Documents' searchable PDF renditions: which archived objects make one
 * (each page's cleaned image and word boxes), and the reference from the
 * document to the rendition in the archive. The PDF itself is made by
 * ingest/pdf.c and stored encrypted like every other object.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

static const char RENDITION_PAGES[] =
	"SELECT id, image_object, words_object, coalesce(dpi, 0),"
	" (SELECT count(*) FROM page_previews v WHERE v.page_id = p.id)"
	" FROM pages p WHERE document_id = $1 AND image_object IS NOT NULL"
	" ORDER BY seq";
static const char SET_PDF[] =
	"UPDATE documents SET pdf_object = $2 WHERE id = $1";
static const char GET_PDF[] =
	"SELECT pdf_object, state FROM documents WHERE id = $1";
static const char UNRENDERED[] =
	"SELECT id FROM documents WHERE batch_id = $1 AND pdf_object IS NULL"
	" ORDER BY id";

int cv_index_rendition_pages(struct cv_index *ix, int64_t doc_id,
			     struct cv_index_rendition_page **out, size_t *n,
			     struct cv_error *err)
{
	char did[24];
	const char *p[1] = { did };
	PGresult *res;
	int i, rows, ret = 0;

	*out = NULL;
	*n = 0;
	snprintf(did, sizeof(did), "%" PRId64, doc_id);
	res = PQexecParams(ix->conn, RENDITION_PAGES, 1, NULL, p, NULL, NULL,
			   0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not list the pages of document %s", did);
		goto cleanup;
	}
	rows = PQntuples(res);
	*out = cv_calloc((size_t)rows + 1, sizeof(**out));
	for (i = 0; i < rows; i++) {
		struct cv_index_rendition_page *rp = &(*out)[i];
		int64_t dpi, previews;
		int w;

		if (cv_index__get_i64(&rp->page_id, res, i, 0) < 0 ||
		    cv_index__get_bytea(rp->image_object,
					sizeof(rp->image_object), res, i,
					1) != 0 ||
		    (w = cv_index__get_bytea(rp->words_object,
					     sizeof(rp->words_object), res, i,
					     2)) < 0 ||
		    cv_index__get_i64(&dpi, res, i, 3) < 0 ||
		    cv_index__get_i64(&previews, res, i, 4) < 0) {
			ret = cv_error_set(err, CV_ERROR,
					   "a page of document %s is malformed",
					   did);
			free(*out);
			*out = NULL;
			goto cleanup;
		}
		rp->has_words = w == 0;
		rp->dpi = dpi > 0 && dpi < 100000 ? (int)dpi : 0;
		rp->previews =
			previews > 0 && previews < 1000 ? (int)previews : 0;
	}
	*n = (size_t)rows;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_document_set_pdf(struct cv_index *ix, int64_t doc_id,
			      const uint8_t *pdf_object, struct cv_error *err)
{
	char did[24];
	const char *p[2] = { did, (const char *)pdf_object };
	const int len[2] = { 0, CV_INDEX_OID_LEN };
	const int fmt[2] = { 0, 1 };
	PGresult *res;
	int ret = 0;

	snprintf(did, sizeof(did), "%" PRId64, doc_id);
	res = PQexecParams(ix->conn, SET_PDF, 2, NULL, p, len, fmt, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not record the rendition of document %s", did);
	else if (strcmp(PQcmdTuples(res), "1"))
		ret = cv_error_set(err, CV_ENOTFOUND, "no document %s", did);
	PQclear(res);
	return ret;
}

int cv_index_document_pdf(struct cv_index *ix, int64_t doc_id,
			  uint8_t pdf_object[CV_INDEX_OID_LEN], int *has,
			  char state[16], struct cv_error *err)
{
	char did[24];
	const char *p[1] = { did };
	PGresult *res;
	int t, ret = 0;

	*has = 0;
	state[0] = '\0';
	snprintf(did, sizeof(did), "%" PRId64, doc_id);
	res = PQexecParams(ix->conn, GET_PDF, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read document %s", did);
		goto cleanup;
	}
	if (PQntuples(res) != 1) {
		ret = cv_error_set(err, CV_ENOTFOUND, "no document %s", did);
		goto cleanup;
	}
	t = cv_index__get_bytea(pdf_object, CV_INDEX_OID_LEN, res, 0, 0);
	if (t < 0) {
		ret = cv_error_set(err, CV_ERROR,
				   "the rendition of document %s is malformed",
				   did);
		goto cleanup;
	}
	*has = t == 0;
	snprintf(state, 16, "%s", PQgetvalue(res, 0, 1));
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_batch_unrendered(struct cv_index *ix, int64_t batch_id,
			      int64_t **ids, size_t *n, struct cv_error *err)
{
	char bid[24];
	const char *p[1] = { bid };
	PGresult *res;
	int i, rows, ret = 0;

	*ids = NULL;
	*n = 0;
	snprintf(bid, sizeof(bid), "%" PRId64, batch_id);
	res = PQexecParams(ix->conn, UNRENDERED, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not list the documents of batch %s", bid);
		goto cleanup;
	}
	rows = PQntuples(res);
	*ids = cv_calloc((size_t)rows + 1, sizeof(**ids));
	for (i = 0; i < rows; i++) {
		if (cv_index__get_i64(&(*ids)[i], res, i, 0) < 0) {
			ret = cv_error_set(
				err, CV_ERROR,
				"a document id of batch %s is malformed", bid);
			free(*ids);
			*ids = NULL;
			goto cleanup;
		}
	}
	*n = (size_t)rows;
cleanup:
	PQclear(res);
	return ret;
}
