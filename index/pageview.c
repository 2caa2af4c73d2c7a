/*
 * What the viewer needs of one page: its objects (cleaned image, text,
 * word boxes) and where it sits, and which of its words a query hits.
 * The hits are found by the same ts_headline as the search snippets, so
 * the boxes on the image agree with the words the search matched.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

static const char PAGE_VIEW[] =
	"SELECT p.id, coalesce(p.document_id, 0), coalesce(p.seq, 0),"
	" coalesce(p.width, 0), coalesce(p.height, 0), coalesce(p.dpi, 0),"
	" p.image_object, p.text_object, p.words_object,"
	" (SELECT string_agg(v.width || ':' || encode(v.object_id, 'hex'),"
	"  ',' ORDER BY v.width) FROM page_previews v WHERE v.page_id = p.id)"
	" FROM pages p WHERE p.id = $1";

/*
 * HighlightAll returns the whole text with every match marked, and only
 * inserts the markers: the words stay where they were, so counting
 * whitespace-separated words finds each hit's place in the word list.
 */
static const char HEADLINE_ALL[] =
	"SELECT ts_headline('english', $1, websearch_to_tsquery('english', $2),"
	" 'StartSel=\x01, StopSel=\x02, HighlightAll=true')";

#define QUERY_MAX 1000

static int64_t col(const PGresult *res, int c)
{
	int64_t v = 0;

	cv_index__get_i64(&v, res, 0, c);
	return v;
}

/*
 * "120:hex,1400:hex": the page's previews. A malformed entry is skipped:
 * the viewer then renders that width from the page image, as it does for
 * a page without previews.
 */
static void read_previews(struct cv_index_page_view *out, const char *s)
{
	char hex[2 * CV_INDEX_OID_LEN + 1];
	long long w;
	size_t n;

	while (*s && out->npreviews < CV_INDEX_PREVIEWS_MAX) {
		const char *colon = strchr(s, ':'), *end = strchr(s, ',');
		char num[16];

		if (!end)
			end = s + strlen(s);
		n = colon ? (size_t)(colon - s) : 0;
		if (colon && colon < end && n > 0 && n < sizeof(num) &&
		    (size_t)(end - colon - 1) == sizeof(hex) - 1) {
			memcpy(num, s, n);
			num[n] = '\0';
			memcpy(hex, colon + 1, sizeof(hex) - 1);
			hex[sizeof(hex) - 1] = '\0';
			if (cv_parse_ll(&w, num, 1, 100000) == 0 &&
			    cv_hex_decode(out->preview_object[out->npreviews],
					  CV_INDEX_OID_LEN, hex) == 0)
				out->preview_width[out->npreviews++] = (int)w;
		}
		s = *end ? end + 1 : end;
	}
}

const uint8_t *cv_index_page_view_preview(const struct cv_index_page_view *pv,
					  int width)
{
	const uint8_t *best = NULL;
	int best_width = 0;
	size_t i;

	for (i = 0; i < pv->npreviews; i++)
		if (pv->preview_width[i] >= width &&
		    (!best || pv->preview_width[i] < best_width)) {
			best = pv->preview_object[i];
			best_width = pv->preview_width[i];
		}
	return best;
}

int cv_index_page_view(struct cv_index *ix, int64_t page_id,
		       struct cv_index_page_view *out, struct cv_error *err)
{
	char id[24];
	const char *p[1] = { id };
	PGresult *res;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	snprintf(id, sizeof(id), "%" PRId64, page_id);
	res = PQexecParams(ix->conn, PAGE_VIEW, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read page %s", id);
		goto cleanup;
	}
	if (PQntuples(res) != 1) {
		ret = cv_error_set(err, CV_ENOTFOUND, "no page %s", id);
		goto cleanup;
	}
	cv_index__get_i64(&out->id, res, 0, 0);
	cv_index__get_i64(&out->document_id, res, 0, 1);
	out->seq = (int)col(res, 2);
	out->width = (int)col(res, 3);
	out->height = (int)col(res, 4);
	out->dpi = (int)col(res, 5);
	out->has_image = cv_index__get_bytea(out->image_object,
					     CV_INDEX_OID_LEN, res, 0, 6) == 0;
	out->has_text = cv_index__get_bytea(out->text_object, CV_INDEX_OID_LEN,
					    res, 0, 7) == 0;
	out->has_words = cv_index__get_bytea(out->words_object,
					     CV_INDEX_OID_LEN, res, 0, 8) == 0;
	read_previews(out, PQgetvalue(res, 0, 9));
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_query_hits(struct cv_index *ix, const char *query,
			const char *text, size_t len, uint8_t **hits,
			size_t *nwords, struct cv_error *err)
{
	const char *p[2];
	PGresult *res = NULL;
	char *flat = NULL;
	const char *s;
	size_t i, cap = 64, n = 0;
	int ret, inword = 0, marked = 0, open = 0;

	*hits = NULL;
	*nwords = 0;
	if (!query || !*query || strlen(query) > QUERY_MAX)
		return cv_error_set(err, CV_EINVAL,
				    "the query must be 1 to %d characters",
				    QUERY_MAX);
	/* Markers cannot occur in the text; NULs would cut it short. */
	flat = cv_malloc(len + 1);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];

		flat[i] = ch == 1 || ch == 2 || ch == 0 ? ' ' : (char)ch;
	}
	flat[len] = '\0';
	p[0] = flat;
	p[1] = query;
	res = PQexecParams(ix->conn, HEADLINE_ALL, 2, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not find the hits on a page");
		goto cleanup;
	}
	*hits = cv_calloc(cap, 1);
	/* A word is hit when any part of it lies between the markers. */
	for (s = PQgetvalue(res, 0, 0);; s++) {
		int space = *s == '\0' || *s == ' ' || *s == '\t' ||
			    *s == '\n' || *s == '\r' || *s == '\f' ||
			    *s == '\v';

		if (*s == '\x01') {
			open = 1;
			marked = 1;
			continue;
		}
		if (*s == '\x02') {
			open = 0;
			continue;
		}
		if (!space && !inword) {
			inword = 1;
			marked = open;
		} else if (space && inword) {
			if (n == cap) {
				*hits = cv_realloc(*hits, cap * 2);
				memset(*hits + cap, 0, cap);
				cap *= 2;
			}
			(*hits)[n++] = (uint8_t)marked;
			inword = 0;
		}
		if (*s == '\0')
			break;
	}
	*nwords = n;
	ret = 0;
cleanup:
	if (ret < 0) {
		free(*hits);
		*hits = NULL;
	}
	PQclear(res);
	free(flat);
	return ret;
}
