/*
 * Page previews: the grey PNGs the viewer shows, made by ingest when it
 * makes a document's searchable PDF (ingest/pdf.c) and stored encrypted
 * in the archive like every other object; this file records which object
 * is which page's preview at which width (migration 0017). Reading them
 * is part of the page view (pageview.c); destruction erases them with
 * their page (destroy.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

/* Only for a page that is there: a page destroyed meanwhile gets none. */
static const char ADD_PREVIEW[] =
	"INSERT INTO page_previews (page_id, width, object_id)"
	" SELECT p.id, $2, $3 FROM pages p WHERE p.id = $1"
	" ON CONFLICT (page_id, width) DO NOTHING"
	" RETURNING 1";

static const char PAGE_EXISTS[] = "SELECT 1 FROM pages WHERE id = $1";

int cv_index_page_preview_add(struct cv_index *ix, int64_t page_id, int width,
			      const uint8_t object[CV_INDEX_OID_LEN],
			      struct cv_error *err)
{
	char pid[24], w[16];
	const char *p[3] = { pid, w, (const char *)object };
	const int len[3] = { 0, 0, CV_INDEX_OID_LEN };
	const int fmt[3] = { 0, 0, 1 };
	PGresult *res;
	int ret = 0;

	snprintf(pid, sizeof(pid), "%" PRId64, page_id);
	snprintf(w, sizeof(w), "%d", width);
	res = PQexecParams(ix->conn, ADD_PREVIEW, 3, NULL, p, len, fmt, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not record the preview of page %s at width %s",
			pid, w);
		goto cleanup;
	}
	if (PQntuples(res) == 1)
		goto cleanup;
	/* Nothing inserted: a preview was there already, or no page. */
	PQclear(res);
	res = PQexecParams(ix->conn, PAGE_EXISTS, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not look up page %s", pid);
	else if (PQntuples(res) != 1)
		ret = cv_error_set(err, CV_ENOTFOUND, "no page %s", pid);
cleanup:
	PQclear(res);
	return ret;
}

/* Filed pages (in a document) with an image and fewer previews than
 * asked for, after a page id, in id order. */
static const char WITHOUT_PREVIEWS[] =
	"SELECT p.id, p.image_object FROM pages p"
	" JOIN source_files f ON f.id = p.file_id"
	" WHERE p.document_id IS NOT NULL AND p.image_object IS NOT NULL"
	" AND ($1::bigint = 0 OR f.batch_id = $1) AND p.id > $2"
	" AND (SELECT count(*) FROM page_previews v WHERE v.page_id = p.id)"
	"  < $3"
	" ORDER BY p.id LIMIT $4";

int cv_index_pages_without_previews(struct cv_index *ix, int64_t batch_id,
				    int64_t after, int nwidths, size_t limit,
				    struct cv_index_rendition_page **out,
				    size_t *n, struct cv_error *err)
{
	char bid[24], aid[24], nw[16], lim[24];
	const char *p[4] = { bid, aid, nw, lim };
	PGresult *res;
	int i, rows, ret = 0;

	*out = NULL;
	*n = 0;
	snprintf(bid, sizeof(bid), "%" PRId64, batch_id);
	snprintf(aid, sizeof(aid), "%" PRId64, after);
	snprintf(nw, sizeof(nw), "%d", nwidths);
	snprintf(lim, sizeof(lim), "%zu", limit);
	res = PQexecParams(ix->conn, WITHOUT_PREVIEWS, 4, NULL, p, NULL, NULL,
			   0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not list pages without previews");
		goto cleanup;
	}
	rows = PQntuples(res);
	*out = cv_calloc((size_t)rows + 1, sizeof(**out));
	for (i = 0; i < rows; i++) {
		struct cv_index_rendition_page *rp = &(*out)[i];

		if (cv_index__get_i64(&rp->page_id, res, i, 0) < 0 ||
		    cv_index__get_bytea(rp->image_object,
					sizeof(rp->image_object), res, i,
					1) != 0) {
			ret = cv_error_set(
				err, CV_ERROR,
				"a page without previews is malformed");
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
