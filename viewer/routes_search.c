/*
 * The search screen: words over the OCR text with the index's syntax,
 * results grouped by document with snippets made from the decrypted text.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viewer_int.h"
#include "archive/archive.h"
#include "index/index.h"
#include "ingest/ingest.h"
#include "common/banned.h"

#define TEXT_MAX (4u << 20)

static int fetch_text(void *ctx, const uint8_t *oid, struct cv_buf *out,
		      struct cv_error *err)
{
	/* ctx is the request: restricted text is never fetched. */
	return vw_fetch_allowed_text(ctx, oid, out, TEXT_MAX, err);
}

/* A snippet's \x01..\x02 marks become <mark>; the rest is escaped. */
static void snippet_html(struct cv_buf *b, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		if (*s != '\x01' && *s != '\x02')
			continue;
		vw_escn(b, run, (size_t)(s - run));
		cv_buf_adds(b, *s == '\x01' ? "<mark>" : "</mark>");
		run = s + 1;
	}
	vw_escn(b, run, (size_t)(s - run));
}

static void route_search(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index *ix = t ? t->ix : NULL;
	struct cv_index_search_opts so = CV_INDEX_SEARCH_OPTS_INIT;
	struct cv_index_search_result res = CV_INDEX_SEARCH_RESULT_INIT;
	struct cv_index_access_info *acc = NULL;
	struct cv_buf *b = &r->out, ids = CV_BUF_INIT;
	const char *q = vw_arg(r, "q");
	size_t n = 0, i;
	int ret;

	(void)id;
	if (!ix) {
		vw_failed(r, &err);
		return;
	}
	vw_page_begin(r, "Search");
	cv_buf_adds(b, "<h1>Search the charts</h1>"
		       "<form class=\"search\" method=\"get\" "
		       "action=\"/search\" role=\"search\">"
		       "<label for=\"q\">Words in the text</label>"
		       "<input id=\"q\" name=\"q\" type=\"search\" value=\"");
	vw_esc(b, q);
	cv_buf_adds(b, "\" aria-describedby=\"qhelp\">"
		       "<button type=\"submit\">Search</button>"
		       "<p id=\"qhelp\" class=\"help\">Use \"quotes\" for a "
		       "phrase, OR for either word, and -word to leave a word "
		       "out.</p></form>");
	if (!q || !*q) {
		vw_page_end(r);
		return;
	}
	so.query = q;
	so.synonyms = r->srv->synonyms;
	ret = cv_index_search(ix, &so, fetch_text, r, &res, &err);
	n = res.n;
	for (i = 0; ret == 0 && i < n; i++)
		cv_buf_addf(&ids, "%s%" PRId64, i ? "," : "",
			    res.hits[i].doc.id);
	vw_audit(r, NULL, "search", "documents", ids.buf, "viewer",
		 ret == 0 ? "ok" : cv_errcode_name(ret));
	/* Hits in charts the user may not open get no snippet. */
	if (ret == 0)
		ret = vw_search_access(r, ix, res.hits, n, &acc, &err);
	if (ret == CV_EINVAL) {
		cv_buf_adds(b, "<p class=\"error\" role=\"alert\">");
		vw_esc(b, err.msg);
		cv_buf_adds(b, "</p>");
		goto out;
	}
	if (ret < 0) {
		cv_buf_release(&ids);
		free(acc);
		vw_failed(r, &err);
		return;
	}
	cv_buf_addf(b, "<h2 id=\"results\">%zu document%s</h2>", n,
		    n == 1 ? "" : "s");
	cv_buf_adds(b, "<ol class=\"results\" aria-labelledby=\"results\">");
	for (i = 0; i < n; i++) {
		const struct cv_index_hit *h = &res.hits[i];

		if (!cv_index_access_allowed(acc[i].decision)) {
			vw_restricted_hit(r, h, &acc[i]);
			continue;
		}
		cv_buf_addf(b, "<li><a href=\"/doc/%" PRId64 "?p=%d&amp;q=",
			    h->doc.id, h->page_no);
		vw_urlesc(b, q);
		cv_buf_adds(b, "\">");
		vw_esc(b, cv_ingest_doc_type_name(h->doc.doc_type));
		cv_buf_adds(b, "</a> <span class=\"who\">");
		vw_patient_link(r, acc[i].patient_id, h->doc.patient_name);
		cv_buf_adds(b, ", MRN ");
		vw_esc(b, h->doc.mrn[0] ? h->doc.mrn : "unknown");
		if (h->doc.service_date[0]) {
			cv_buf_adds(b, ", ");
			vw_esc(b, h->doc.service_date);
		}
		cv_buf_addf(b,
			    "</span> <span class=\"count\">%d matching "
			    "page%s</span><p class=\"snippet\">",
			    h->matching_pages,
			    h->matching_pages == 1 ? "" : "s");
		snippet_html(b, h->snippet ? h->snippet : "");
		cv_buf_adds(b, "</p></li>");
	}
	cv_buf_adds(b, "</ol>");
out:
	vw_page_end(r);
	cv_buf_release(&ids);
	free(acc);
	cv_index_search_result_release(&res);
}

const struct vw_route vw_routes_search[] = {
	{ "GET", "/search", NULL, VW_STAFF, route_search, "Search" },
	{ NULL, NULL, NULL, NULL, NULL, NULL },
};
