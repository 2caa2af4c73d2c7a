/*
 * The QA queue for the scanning clerks: pages with image-quality flags
 * still waiting (as "chartvault qa list" shows them), each with a
 * thumbnail, and one page large with its flags and cleanup, where the
 * clerk accepts it as it is or marks it for rescan. The decision goes
 * through cv_index_qa_decide, as "chartvault qa accept|rescan" does, in
 * the signed-in user's name; that function also writes its audit row.
 *
 * The page images have their own route: a flagged page may be in no
 * document (the document view's image route serves only pages of one),
 * and a clerk may open the QA queue but not the charts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>

#include "viewer_int.h"
#include "archive/archive.h"
#include "index/index.h"
#include "ingest/ingest.h"
#include "common/banned.h"

/* As the qa command: every role may work the QA queue. */
#define QA_ROLES "clerk " VW_STAFF

#define NOTE_MAX  500
#define PAGE_ROWS 100 /* rows of the list per screen */
/*
 * An original as the archive holds it: a whole scanned file, perhaps a
 * bundle of many pages. Ingest's default pixel cap guards the decode.
 */
#define SCAN_MAX        (256u << 20)
#define SCAN_MAX_PIXELS 150000000ull

/* The same rule as "qa --note": one line, 500 characters at most. */
static int valid_note(const char *s)
{
	if (strlen(s) > NOTE_MAX)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static const char *state_text(const char *qa_state)
{
	if (!strcmp(qa_state, "open"))
		return "waiting";
	if (!strcmp(qa_state, "rescan"))
		return "marked for rescan";
	if (!strcmp(qa_state, "accepted"))
		return "accepted";
	if (!strcmp(qa_state, "replaced"))
		return "replaced by a rescan";
	return "not flagged";
}

/* Flags as words a clerk reads ("too-dark,cut-off" -> "too dark, cut off"). */
static void flags_text(struct cv_buf *b, const char *flags)
{
	const char *s;

	if (!flags[0]) {
		cv_buf_adds(b, "none");
		return;
	}
	for (s = flags; *s; s++) {
		if (*s == ',')
			cv_buf_adds(b, ", ");
		else if (*s == '-')
			cv_buf_addch(b, ' ');
		else
			vw_escn(b, s, 1);
	}
}

/* A comma-separated list with room after each comma, to wrap. */
static void list_text(struct cv_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == ',')
			cv_buf_adds(b, ", ");
		else
			vw_escn(b, s, 1);
	}
}

/* A page the QA queue covers: flagged, or decided on once. */
static int in_qa(const struct cv_index_qa_page *q)
{
	return q->flags[0] || q->qa_state[0];
}

static void route_qa_list(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_qa_page *q = NULL;
	struct cv_buf *b = &r->out;
	const char *batch = vw_arg(r, "batch");
	const char *done = vw_arg(r, "done");
	int64_t done_page = vw_parse_id(vw_arg(r, "decided"));
	size_t n = 0, i, first, last;
	long long screen = 1;
	int ret;

	(void)id;
	if (vw_arg(r, "page") &&
	    cv_parse_ll(&screen, vw_arg(r, "page"), 1, 1000000) < 0)
		screen = 1;
	if (batch && !*batch)
		batch = NULL;
	ret = t ? cv_index_qa_list(t->ix, batch, 0, &q, &n, &err) : CV_ERROR;
	vw_audit(r, NULL, "qa.list", "batch", batch ? batch : "all", "viewer",
		 ret == 0 ? "ok" : cv_errcode_name(ret));
	if (ret == CV_ENOTFOUND) {
		vw_not_found(r);
		goto out;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		goto out;
	}
	vw_page_begin(r, "QA queue");
	cv_buf_adds(b, "<h1>QA queue</h1>");
	if (done && done_page &&
	    (!strcmp(done, "accepted") || !strcmp(done, "rescan")))
		cv_buf_addf(b,
			    "<p class=\"ok\" role=\"status\">Page %" PRId64
			    " %s.</p>",
			    done_page,
			    !strcmp(done, "accepted") ? "accepted"
						      : "marked for rescan");
	if (batch) {
		cv_buf_adds(b, "<p>Pages of batch ");
		vw_esc(b, n ? q[0].batch : batch);
		cv_buf_adds(b, " only. <a href=\"/qa\">Every batch</a></p>");
	}
	if (n == 0) {
		cv_buf_adds(b, "<p>No pages are waiting for QA.</p>");
		vw_page_end(r);
		goto out;
	}
	cv_buf_addf(b,
		    "<table class=\"grid qa\"><caption>%zu page%s with "
		    "image-quality flags waiting for a decision</caption>"
		    "<thead><tr><th scope=\"col\">Page</th>"
		    "<th scope=\"col\">Image</th><th scope=\"col\">Flags</th>"
		    "<th scope=\"col\">Batch</th><th scope=\"col\">File</th>"
		    "<th scope=\"col\">Page in file</th>"
		    "<th scope=\"col\">State</th></tr></thead><tbody>",
		    n, n == 1 ? "" : "s");
	first = ((size_t)screen - 1) * PAGE_ROWS;
	if (first >= n)
		first = (n - 1) / PAGE_ROWS * PAGE_ROWS;
	last = first + PAGE_ROWS < n ? first + PAGE_ROWS : n;
	for (i = first; i < last; i++) {
		cv_buf_addf(b,
			    "<tr><th scope=\"row\"><a href=\"/qa/%" PRId64
			    "\">Page %" PRId64
			    "</a></th><td><a href=\"/qa/%" PRId64
			    "\" tabindex=\"-1\"><img class=\"qathumb\" "
			    "src=\"/qa/page/%" PRId64
			    ".png?w=240\" width=\"120\" loading=\"lazy\" "
			    "alt=\"Page %" PRId64 "\"></a></td><td>",
			    q[i].page_id, q[i].page_id, q[i].page_id,
			    q[i].page_id, q[i].page_id);
		flags_text(b, q[i].flags);
		cv_buf_addf(b, "</td><td><a href=\"/batch/%" PRId64 "\">",
			    q[i].batch_id);
		vw_esc(b, q[i].batch);
		cv_buf_adds(b, "</a></td><td>");
		vw_esc(b, q[i].file_name);
		cv_buf_addf(b, "</td><td>%d</td><td>%s</td></tr>", q[i].page_no,
			    state_text(q[i].qa_state));
	}
	cv_buf_adds(b, "</tbody></table>");
	if (n > PAGE_ROWS) {
		cv_buf_addf(b,
			    "<nav class=\"pager\" aria-label=\"Pages of the "
			    "list\"><span>Rows %zu to %zu of %zu</span>",
			    first + 1, last, n);
		if (first > 0) {
			cv_buf_addf(b, " <a href=\"/qa?page=%zu",
				    first / PAGE_ROWS);
			if (batch) {
				cv_buf_adds(b, "&amp;batch=");
				vw_urlesc(b, batch);
			}
			cv_buf_adds(b, "\">Previous</a>");
		}
		if (last < n) {
			cv_buf_addf(b, " <a href=\"/qa?page=%zu",
				    first / PAGE_ROWS + 2);
			if (batch) {
				cv_buf_adds(b, "&amp;batch=");
				vw_urlesc(b, batch);
			}
			cv_buf_adds(b, "\">Next</a>");
		}
		cv_buf_adds(b, "</nav>");
	}
	vw_page_end(r);
out:
	free(q);
}

static void detail_row(struct cv_buf *b, const char *k, const char *v)
{
	cv_buf_adds(b, "<dt>");
	vw_esc(b, k);
	cv_buf_adds(b, "</dt><dd>");
	vw_esc(b, v);
	cv_buf_adds(b, "</dd>");
}

/* One page large, its details and the decision form; msg an error. */
static void qa_page(struct vw_req *r, const struct cv_index_qa_page *q,
		    const char *msg, const char *note)
{
	struct cv_buf *b = &r->out;
	char title[64], v[160];
	int open = !strcmp(q->qa_state, "open") ||
		   !strcmp(q->qa_state, "rescan") ||
		   !strcmp(q->qa_state, "accepted");

	snprintf(title, sizeof(title), "QA: page %" PRId64, q->page_id);
	vw_page_begin(r, title);
	cv_buf_addf(b,
		    "<p><a href=\"/qa\">Back to the QA queue</a></p>"
		    "<h1>Page %" PRId64 " <span class=\"sub\">",
		    q->page_id);
	vw_esc(b, q->file_name);
	cv_buf_addf(b, ", page %d</span></h1>", q->page_no);
	if (msg) {
		cv_buf_adds(b, "<p class=\"error\" role=\"alert\">");
		vw_esc(b, msg);
		cv_buf_adds(b, "</p>");
	}
	/* The flags are measured on the scan; the cleaned page is what
	 * the chart will show. A clerk judges both. */
	cv_buf_addf(b,
		    "<div class=\"qaview\"><section class=\"viewer\" "
		    "tabindex=\"0\" aria-label=\"Page images\">"
		    "<div class=\"pair\"><figure><a href=\"/qa/scan/%" PRId64
		    ".png?w=1800\"><img src=\"/qa/scan/%" PRId64
		    ".png?w=800\" alt=\"Page %" PRId64
		    " as scanned\"></a><figcaption>As scanned (open full "
		    "size)</figcaption></figure>",
		    q->page_id, q->page_id, q->page_id);
	cv_buf_addf(b,
		    "<figure><a href=\"/qa/page/%" PRId64
		    ".png?w=1800\"><img src=\"/qa/page/%" PRId64
		    ".png?w=800\" alt=\"Page %" PRId64
		    " as cleaned\"></a><figcaption>As cleaned, as the chart "
		    "shows it (open full size)</figcaption></figure></div>"
		    "</section><section class=\"side\"><h2>Quality</h2><dl>",
		    q->page_id, q->page_id, q->page_id);
	cv_buf_adds(b, "<dt>Flags</dt><dd>");
	flags_text(b, q->flags);
	cv_buf_adds(b, "</dd>");
	detail_row(b, "State", state_text(q->qa_state));
	if (q->qa_by[0]) {
		snprintf(v, sizeof(v), "%s at %s", q->qa_by, q->qa_at);
		detail_row(b, "Decided by", v);
	}
	if (q->qa_note[0])
		detail_row(b, "Note", q->qa_note);
	if (q->ocr_confidence >= 0) {
		snprintf(v, sizeof(v), "%.0f", q->ocr_confidence);
		detail_row(b, "OCR confidence", v);
	}
	if (q->dpi) {
		snprintf(v, sizeof(v), "%d dpi", q->dpi);
		detail_row(b, "Resolution", v);
	}
	snprintf(v, sizeof(v), "%.2f degrees", q->skew_deg);
	detail_row(b, "Skew corrected", v);
	cv_buf_adds(b, "<dt>Cleanup</dt><dd>");
	list_text(b, q->cleanup[0] ? q->cleanup : "none");
	cv_buf_adds(b, "</dd>");
	cv_buf_adds(b, "</dl><h2>Where it is</h2><dl>");
	cv_buf_addf(b, "<dt>Batch</dt><dd><a href=\"/batch/%" PRId64 "\">",
		    q->batch_id);
	vw_esc(b, q->batch);
	cv_buf_adds(b, "</a></dd>");
	detail_row(b, "File", q->file_name);
	snprintf(v, sizeof(v), "%d", q->page_no);
	detail_row(b, "Page in file", v);
	if (q->document_id && vw_role_in(r, VW_STAFF))
		cv_buf_addf(b,
			    "<dt>Document</dt><dd><a href=\"/doc/%" PRId64
			    "?p=%d\">%" PRId64 "</a>, page %d of it</dd>",
			    q->document_id, q->seq, q->document_id, q->seq);
	else if (q->document_id)
		cv_buf_addf(b,
			    "<dt>Document</dt><dd>%" PRId64
			    ", page %d of it</dd>",
			    q->document_id, q->seq);
	else
		detail_row(b, "Document", q->blank ? "none (blank)" : "none");
	if (q->superseded_by) {
		snprintf(v, sizeof(v), "page %" PRId64, q->superseded_by);
		detail_row(b, "Replaced by", v);
	}
	if (q->replaces) {
		snprintf(v, sizeof(v), "page %" PRId64, q->replaces);
		detail_row(b, "Replaces", v);
	}
	cv_buf_adds(b, "</dl>");
	if (open && !q->superseded_by && !strcmp(q->kind, "page")) {
		cv_buf_addf(b,
			    "<h2>Decision</h2><form class=\"decide\" "
			    "method=\"post\" action=\"/qa/%" PRId64 "\">",
			    q->page_id);
		vw_csrf_field(r);
		cv_buf_addf(b,
			    "<label for=\"note\">Note (optional)</label>"
			    "<input id=\"note\" name=\"note\" maxlength=\"%d\" "
			    "aria-describedby=\"note-help\" value=\"",
			    NOTE_MAX);
		vw_esc(b, note ? note : "");
		cv_buf_adds(b,
			    "\"><p id=\"note-help\" class=\"help\">One line; "
			    "it is kept with the decision.</p>"
			    "<div class=\"actions\"><button type=\"submit\" "
			    "name=\"decision\" value=\"accept\">Accept "
			    "page</button> <button type=\"submit\" "
			    "name=\"decision\" value=\"rescan\" "
			    "class=\"secondary\">Mark for rescan</button>"
			    "</div></form>");
		cv_buf_adds(b, "<p class=\"help\">A page marked for rescan "
			       "stays in the queue until the new scan "
			       "replaces it (chartvault qa replace).</p>");
	}
	cv_buf_adds(b, "</section></div>");
	vw_page_end(r);
}

/* The page, or 0 after answering (not found, failure). */
static int load(struct vw_req *r, struct vw_thread **t, int64_t id,
		struct cv_index_qa_page *q, const char *why)
{
	struct cv_error err = CV_ERROR_INIT;
	char idtxt[24];
	int ret;

	*t = vw_thread(r, &err);
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	ret = *t ? cv_index_qa_get((*t)->ix, id, q, &err) : CV_ERROR;
	if (ret == 0 && !in_qa(q))
		ret = CV_ENOTFOUND;
	if (why)
		vw_audit(r, NULL, "page.view", "page", idtxt, why,
			 ret == 0 ? "ok" : cv_errcode_name(ret));
	if (ret == CV_ENOTFOUND) {
		vw_not_found(r);
		return 0;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		return 0;
	}
	return 1;
}

static void route_qa_page(struct vw_req *r, int64_t id)
{
	struct cv_index_qa_page q;
	struct vw_thread *t;

	if (load(r, &t, id, &q, "qa"))
		qa_page(r, &q, NULL, NULL);
}

static void route_qa_decide(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_qa_page q;
	struct vw_thread *t;
	const char *d = vw_field(r, "decision");
	const char *note = vw_field(r, "note");
	const char *decision;
	char loc[96];
	int ret;

	if (!load(r, &t, id, &q, NULL))
		return;
	if (d && !strcmp(d, "accept"))
		decision = "accepted";
	else if (d && !strcmp(d, "rescan"))
		decision = "rescan";
	else {
		r->status = 400;
		qa_page(r, &q, "Choose accept or rescan.", note);
		return;
	}
	if (note && !valid_note(note)) {
		r->status = 400;
		qa_page(r, &q,
			"The note must be one line of at most 500 characters.",
			note);
		return;
	}
	ret = cv_index_qa_decide(t->ix, id, decision,
				 note && *note ? note : NULL, r->sess.user.name,
				 &err);
	if (ret == CV_EEXISTS || ret == CV_ENOTFOUND) {
		r->status = 409;
		qa_page(r, &q,
			"This page cannot be decided on: it was replaced by a "
			"rescan already, or it is a cover or separator sheet.",
			note);
		return;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		return;
	}
	snprintf(loc, sizeof(loc), "/qa?done=%s&decided=%" PRId64, decision,
		 id);
	vw_redirect(r, loc);
}

/* A page of the QA queue: one that is flagged or was decided on. */
static void route_qa_image(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_qa_page q;
	struct cv_index_page_view pv;
	struct vw_thread *t;
	char idtxt[24];
	int ret;

	t = vw_thread(r, &err);
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	ret = t ? cv_index_qa_get(t->ix, id, &q, &err) : CV_ERROR;
	if (ret == 0 && !in_qa(&q))
		ret = CV_ENOTFOUND;
	if (ret == 0)
		ret = cv_index_page_view(t->ix, id, &pv, &err);
	if (ret == 0 && !pv.has_image)
		ret = CV_ENOTFOUND;
	vw_audit(r, NULL, "page.view", "page", idtxt, "qa image",
		 ret == 0 ? "ok" : cv_errcode_name(ret));
	if (ret == CV_ENOTFOUND) {
		vw_not_found(r);
		return;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		return;
	}
	vw_page_png(r, t, &pv);
}

/*
 * The original scan of a page of the QA queue, decoded from the archived
 * file it came in (cv_ingest_load_page_mem, as ingest decoded it). Cached
 * under the negated page id, beside the cleaned image.
 */
static void route_qa_scan(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_qa_page q;
	struct cv_buf raw = CV_BUF_INIT;
	uint8_t oid[CV_INDEX_OID_LEN];
	enum cv_ingest_format fmt;
	struct vw_thread *t;
	PIX *pix = NULL;
	int page_no = 0, npages = 0, dpi = 0, width = vw_image_width(r);
	char idtxt[24];
	int ret;

	t = vw_thread(r, &err);
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	ret = t ? cv_index_qa_get(t->ix, id, &q, &err) : CV_ERROR;
	if (ret == 0 && !in_qa(&q))
		ret = CV_ENOTFOUND;
	vw_audit(r, NULL, "page.view", "page", idtxt, "qa scan",
		 ret == 0 ? "ok" : cv_errcode_name(ret));
	if (ret == CV_ENOTFOUND) {
		vw_not_found(r);
		return;
	}
	if (ret == 0 && vw_cache_get(r->srv->images, -id, width, &r->out)) {
		r->ctype = "image/png";
		return;
	}
	if (ret == 0)
		ret = cv_index_page_source(t->ix, id, oid, &page_no, &err);
	if (ret == 0)
		ret = cv_archive_get_mem(t->ar, oid, &raw, SCAN_MAX, &err);
	if (ret == 0)
		ret = cv_ingest_probe_mem(idtxt, (const uint8_t *)raw.buf,
					  raw.len, SCAN_MAX_PIXELS, &fmt,
					  &npages, &err);
	if (ret == 0 && page_no > npages)
		ret = cv_error_set(&err, CV_ERROR,
				   "page %s: its scan has only %d page(s)",
				   idtxt, npages);
	if (ret == 0)
		ret = cv_ingest_load_page_mem(idtxt, (const uint8_t *)raw.buf,
					      raw.len, fmt, page_no, &pix, &dpi,
					      &err);
	if (ret < 0) {
		vw_failed(r, &err);
		goto out;
	}
	vw_png_send(r, pix, -id, width);
out:
	pixDestroy(&pix);
	cv_buf_release(&raw);
}

const struct vw_route vw_routes_qa[] = {
	{ "GET", "/qa", NULL, QA_ROLES, route_qa_list, "QA" },
	{ "GET", "/qa/page/", ".png", QA_ROLES, route_qa_image, NULL },
	{ "GET", "/qa/scan/", ".png", QA_ROLES, route_qa_scan, NULL },
	{ "GET", "/qa/", "", QA_ROLES, route_qa_page, NULL },
	{ "POST", "/qa/", "", QA_ROLES, route_qa_decide, NULL },
	{ NULL, NULL, NULL, NULL, NULL, NULL },
};
