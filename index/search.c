/*
 * Full-text search over the pages' search vectors, grouped by document,
 * with snippets made at query time: the caller's fetch function decrypts
 * a page's text from the archive, and the server's ts_headline marks the
 * matches in it. The text is sent for that one statement and never
 * stored.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

/* Longest query accepted; a search box, not a document. */
#define QUERY_MAX 1000
/* A page's text handed to ts_headline, capped. */
#define SNIPPET_TEXT_MAX (4u << 20)

/*
 * Rank every matching page, keep each document's best page and how many
 * of its pages matched, and order documents by their best page.
 */
static const char SEARCH[] =
	"WITH q AS (SELECT websearch_to_tsquery('english', $1) AS q),"
	" m AS (SELECT p.id, p.document_id, p.seq, p.text_object,"
	"       ts_rank_cd(p.tsv, q.q) AS r"
	"       FROM pages p, q"
	"       WHERE p.tsv @@ q.q AND p.document_id IS NOT NULL),"
	" best AS (SELECT DISTINCT ON (document_id) document_id, id, seq,"
	"          text_object, r,"
	"          count(*) OVER (PARTITION BY document_id) AS n"
	"          FROM m ORDER BY document_id, r DESC, seq)"
	" SELECT d.id, d.batch_id, d.doc_type, coalesce(d.type_source, ''),"
	" coalesce(d.mrn, ''), coalesce(d.patient_name, ''),"
	" coalesce(d.dob::text, ''), coalesce(d.service_date::text, ''),"
	" coalesce(d.identity_source, ''),"
	" b.r, b.seq, b.id, b.n, b.text_object"
	" FROM best b JOIN documents d ON d.id = b.document_id"
	" ORDER BY b.r DESC, d.id LIMIT $2";

/* \x01 and \x02 cannot occur in the text: control characters are
 * replaced by spaces before it is sent. */
static const char HEADLINE[] =
	"SELECT ts_headline('english', $1, websearch_to_tsquery('english', $2),"
	" 'StartSel=\x01, StopSel=\x02, MaxWords=30, MinWords=12,"
	" MaxFragments=2, FragmentDelimiter=\" ... \"')";

static void flatten_controls(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

static int headline(struct cv_index *ix, const char *query, char *text,
		    char **out, struct cv_error *err)
{
	const char *p[2] = { text, query };
	PGresult *res;
	int ret = 0;

	*out = NULL;
	flatten_controls(text);
	res = PQexecParams(ix->conn, HEADLINE, 2, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not make a search snippet");
	else
		*out = cv_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return ret;
}

void cv_index_hits_free(struct cv_index_hit *hits, size_t n)
{
	size_t i;

	if (!hits)
		return;
	for (i = 0; i < n; i++)
		free(hits[i].snippet);
	free(hits);
}

int cv_index_search(struct cv_index *ix, const struct cv_index_search_opts *o,
		    cv_index_fetch_fn fetch, void *fetch_ctx,
		    struct cv_index_hit **out, size_t *nout,
		    struct cv_error *err)
{
	char limit[16];
	const char *p[2] = { o->query, limit };
	struct cv_buf text = CV_BUF_INIT;
	struct cv_index_hit *hits = NULL;
	PGresult *res = NULL;
	int i, rows = 0, ret;

	*out = NULL;
	*nout = 0;
	if (!o->query || !*o->query)
		return cv_error_set(err, CV_EINVAL,
				    "the search query is empty");
	if (strlen(o->query) > QUERY_MAX)
		return cv_error_set(
			err, CV_EINVAL,
			"the search query is longer than %d characters",
			QUERY_MAX);
	snprintf(limit, sizeof(limit), "%d",
		 o->limit > 0 && o->limit <= 1000 ? o->limit : 20);
	res = PQexecParams(ix->conn, SEARCH, 2, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn, "search failed");
		goto cleanup;
	}
	rows = PQntuples(res);
	hits = cv_calloc((size_t)rows + 1, sizeof(*hits));
	for (i = 0; i < rows; i++) {
		struct cv_index_hit *h = &hits[i];
		uint8_t oid[CV_INDEX_OID_LEN];
		int64_t seq, n;

		if (cv_index__read_document(res, i, 0, &h->doc) < 0 ||
		    cv_index__get_i64(&seq, res, i, 10) < 0 ||
		    cv_index__get_i64(&h->page_id, res, i, 11) < 0 ||
		    cv_index__get_i64(&n, res, i, 12) < 0 ||
		    cv_index__get_bytea(oid, sizeof(oid), res, i, 13) != 0) {
			ret = cv_error_set(err, CV_ERROR,
					   "a search result row is malformed");
			goto cleanup;
		}
		h->rank = strtod(PQgetvalue(res, i, 9), NULL);
		h->page_no = (int)seq;
		h->matching_pages = (int)n;
		cv_buf_reset(&text);
		cv_buf_limit(&text, SNIPPET_TEXT_MAX);
		ret = fetch(fetch_ctx, oid, &text, err);
		if (ret < 0)
			goto cleanup;
		ret = headline(ix, o->query, text.buf, &h->snippet, err);
		if (ret < 0)
			goto cleanup;
	}
	*out = hits;
	*nout = (size_t)rows;
	hits = NULL;
	ret = 0;
cleanup:
	cv_index_hits_free(hits, (size_t)rows);
	cv_buf_release(&text);
	PQclear(res);
	return ret;
}
