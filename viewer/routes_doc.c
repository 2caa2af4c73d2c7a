/*
 * A document and its pages: the page image decrypted and scaled on the
 * fly, the search hits drawn over it from the stored word boxes, and the
 * OCR text beside it; and the download of its searchable PDF, which is a
 * release of the record and so audited exactly as chartvault export is.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viewer_int.h"
#include "archive/archive.h"
#include "index/index.h"
#include "ingest/ingest.h"
#include "common/log.h"
#include "common/banned.h"

#define TEXT_MAX  (4u << 20)
#define IMAGE_MAX (64u << 20)
#define WIDTH_MIN 64
#define WIDTH_MAX 2400
/*
 * The whole PDF is held in memory while it is sent: a chart larger than
 * this (thousands of pages) is exported with chartvault export instead.
 */
#define PDF_SEND_MAX (512u << 20)

struct word {
	long x, y, w, h;
	const char *text;
};

/* Parse the word list "x\ty\tw\th\tconf\ttext" (header first) in place. */
static struct word *parse_words(char *tsv, size_t *n)
{
	struct word *w = NULL;
	size_t cap = 0;
	char *line, *save = NULL;
	int first = 1;

	*n = 0;
	for (line = strtok_r(tsv, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[6], *p = line;
		int i;

		if (first) {
			first = 0;
			continue;
		}
		for (i = 0; i < 6; i++) {
			f[i] = p;
			p = i < 5 ? strchr(p, '\t') : NULL;
			if (i < 5 && !p)
				break;
			if (p)
				*p++ = '\0';
		}
		/* A word of white space only has no box worth drawing. */
		if (i < 6 || f[5][strspn(f[5], " \t\r\f\v")] == '\0')
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			w = cv_realloc(w, cap * sizeof(*w));
		}
		w[*n].x = strtol(f[0], NULL, 10);
		w[*n].y = strtol(f[1], NULL, 10);
		w[*n].w = strtol(f[2], NULL, 10);
		w[*n].h = strtol(f[3], NULL, 10);
		w[*n].text = f[5];
		(*n)++;
	}
	return w;
}

/* The boxes of the words q hits, as spans the script places. */
static int hit_boxes(struct vw_req *r, struct vw_thread *t,
		     const struct cv_index_page_view *pv, const char *q,
		     size_t *nhits, struct cv_error *err)
{
	struct cv_buf tsv = CV_BUF_INIT, joined = CV_BUF_INIT;
	struct word *w = NULL;
	uint8_t *hits = NULL;
	size_t n = 0, nw = 0, i;
	int ret;

	*nhits = 0;
	if (!q || !*q || !pv->has_words)
		return 0;
	ret = cv_archive_get_mem(t->ar, pv->words_object, &tsv, TEXT_MAX, err);
	if (ret < 0)
		goto out;
	w = parse_words(tsv.buf, &n);
	/*
	 * Matching the words themselves keeps hit i on box i, as long as each
	 * word stays one whitespace-separated token.
	 */
	for (i = 0; i < n; i++) {
		const char *c;

		for (c = w[i].text; *c; c++)
			cv_buf_addch(&joined,
				     strchr(" \t\r\f\v", *c) ? '_' : *c);
		cv_buf_addch(&joined, ' ');
	}
	ret = cv_index_query_hits(t->ix, q, joined.buf, joined.len, &hits, &nw,
				  err);
	if (ret == CV_EINVAL)
		ret = 0;
	if (ret < 0)
		goto out;
	for (i = 0; i < n && i < nw; i++) {
		if (!hits[i])
			continue;
		cv_buf_addf(&r->out,
			    "<span class=\"hit\" data-box=\"%ld,%ld,%ld,%ld\">"
			    "</span>",
			    w[i].x, w[i].y, w[i].w, w[i].h);
		(*nhits)++;
	}
	ret = 0;
out:
	free(hits);
	free(w);
	cv_buf_release(&joined);
	cv_buf_release(&tsv);
	return ret;
}

static void page_text(struct vw_req *r, struct cv_index *ix, const char *text,
		      size_t len, const char *q)
{
	uint8_t *hits = NULL;
	size_t nw = 0, word = 0, i = 0, start;
	struct cv_error err = CV_ERROR_INIT;

	if (q && *q &&
	    cv_index_query_hits(ix, q, text, len, &hits, &nw, &err) < 0)
		hits = NULL;
	while (i < len) {
		start = i;
		if (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' ||
		    text[i] == '\r') {
			while (i < len && (text[i] == ' ' || text[i] == '\n' ||
					   text[i] == '\t' || text[i] == '\r'))
				i++;
			vw_escn(&r->out, text + start, i - start);
			continue;
		}
		while (i < len && text[i] != ' ' && text[i] != '\n' &&
		       text[i] != '\t' && text[i] != '\r')
			i++;
		if (hits && word < nw && hits[word])
			cv_buf_adds(&r->out, "<mark>");
		vw_escn(&r->out, text + start, i - start);
		if (hits && word < nw && hits[word])
			cv_buf_adds(&r->out, "</mark>");
		word++;
	}
	free(hits);
}

static void doc_link(struct cv_buf *b, int64_t id, int seq, const char *q)
{
	cv_buf_addf(b, "/doc/%" PRId64 "?p=%d", id, seq);
	if (q && *q) {
		cv_buf_adds(b, "&amp;q=");
		vw_urlesc(b, q);
	}
}

static void meta_row(struct cv_buf *b, const char *k, const char *v)
{
	cv_buf_adds(b, "<dt>");
	vw_esc(b, k);
	cv_buf_adds(b, "</dt><dd>");
	vw_esc(b, v && *v ? v : "unknown");
	cv_buf_adds(b, "</dd>");
}

/*
 * The download of the searchable PDF: a form (POST, so it carries the
 * CSRF token and cannot be triggered by a link), with the release-of-
 * information request it answers. A document in the exception queue
 * cannot be released; it says so instead.
 */
static void download_form(struct vw_req *r, struct cv_index *ix, int64_t id)
{
	struct cv_buf *b = &r->out;
	struct cv_error err = CV_ERROR_INIT;
	uint8_t oid[CV_INDEX_OID_LEN];
	char state[16] = "";
	int has = 0;

	cv_buf_adds(b, "<h2>Download</h2>");
	if (cv_index_document_pdf(ix, id, oid, &has, state, &err) == 0 &&
	    !strcmp(state, "exception")) {
		cv_buf_adds(b, "<p class=\"note\">This document is in the "
			       "exception queue: it cannot be released until "
			       "its exceptions are resolved.</p>");
		return;
	}
	cv_buf_addf(b,
		    "<form class=\"download\" method=\"post\" "
		    "action=\"/doc/%" PRId64 "/pdf\">",
		    id);
	vw_csrf_field(r);
	cv_buf_adds(b, "<label for=\"roi\">Release-of-information request "
		       "(optional)</label><input id=\"roi\" name=\"request\" "
		       "maxlength=\"64\" pattern=\"[A-Za-z0-9._/:#\\-]{1,64}\" "
		       "autocomplete=\"off\" aria-describedby=\"roihelp\">"
		       "<p id=\"roihelp\" class=\"help\">The reference of the "
		       "request this copy answers (letters, digits and "
		       "-_./:#). The download is recorded in the audit trail "
		       "as an export.</p><button type=\"submit\">Download "
		       "PDF</button></form>");
}

static void route_doc(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index *ix = t ? t->ix : NULL;
	struct cv_index_document doc;
	struct cv_index_doc_page *pages = NULL;
	struct cv_index_page_view pv;
	struct cv_buf *b = &r->out, text = CV_BUF_INIT;
	const char *q = vw_arg(r, "q");
	char idtxt[24], title[160];
	size_t n = 0, i, nhits = 0;
	long long seq = 1;
	int64_t patient_id = 0;
	int ret;

	if (!ix) {
		vw_failed(r, &err);
		return;
	}
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	/* A restricted chart's document answers as one that does not exist. */
	ret = vw_record_access(r, ix, "document", id, &patient_id, &err);
	if (ret == 0)
		ret = cv_index_document_get(ix, id, &doc, &pages, &n, &err);
	vw_audit_view(r, "document.view", "document", idtxt, "viewer",
		      ret == 0 ? "ok" : cv_errcode_name(ret));
	if (ret == CV_ENOTFOUND || (ret == 0 && n == 0)) {
		vw_not_found(r);
		goto out;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		goto out;
	}
	if (vw_arg(r, "p") &&
	    cv_parse_ll(&seq, vw_arg(r, "p"), 1, (long long)n) < 0)
		seq = 1;
	ret = cv_index_page_view(ix, pages[seq - 1].page_id, &pv, &err);
	if (ret == 0 && pv.has_text)
		ret = cv_archive_get_mem(t->ar, pv.text_object, &text, TEXT_MAX,
					 &err);
	if (ret < 0) {
		vw_failed(r, &err);
		goto out;
	}
	snprintf(title, sizeof(title), "%s, page %lld of %zu",
		 cv_ingest_doc_type_name(doc.doc_type), seq, n);
	vw_page_begin(r, title);
	cv_buf_adds(b, "<h1>");
	vw_esc(b, cv_ingest_doc_type_name(doc.doc_type));
	cv_buf_adds(b, " <span class=\"sub\">");
	vw_patient_link(r, patient_id, doc.patient_name);
	cv_buf_adds(b, "</span></h1><div class=\"docview\">"
		       "<nav class=\"thumbs\" aria-label=\"Pages\"><ol>");
	for (i = 0; i < n; i++) {
		cv_buf_adds(b, "<li><a href=\"");
		doc_link(b, id, (int)i + 1, q);
		cv_buf_addf(b,
			    "\"%s><img src=\"/page/%" PRId64
			    ".png?w=120\" alt=\"Page %zu\" width=\"120\">"
			    "</a></li>",
			    (long long)i + 1 == seq ? " aria-current=\"page\""
						    : "",
			    pages[i].page_id, i + 1);
	}
	cv_buf_adds(b, "</ol></nav><section class=\"viewer\" "
		       "aria-label=\"Page image\"><div class=\"toolbar\">");
	if (seq > 1) {
		cv_buf_adds(b, "<a id=\"prev\" href=\"");
		doc_link(b, id, (int)seq - 1, q);
		cv_buf_adds(b, "\">Previous page</a>");
	}
	cv_buf_addf(b, "<span>Page %lld of %zu</span>", seq, n);
	if ((size_t)seq < n) {
		cv_buf_adds(b, "<a id=\"next\" href=\"");
		doc_link(b, id, (int)seq + 1, q);
		cv_buf_adds(b, "\">Next page</a>");
	}
	cv_buf_adds(b, "<button type=\"button\" id=\"zoomout\" "
		       "aria-label=\"Zoom out\">-</button><button "
		       "type=\"button\" id=\"zoomin\" aria-label=\"Zoom in\">"
		       "+</button>");
	cv_buf_addf(b,
		    "<span id=\"hitcount\" role=\"status\"></span></div>"
		    "<div class=\"page\" id=\"page\" data-w=\"%d\" "
		    "data-h=\"%d\"><img src=\"/page/%" PRId64
		    ".png?w=1400\" alt=\"Page %lld of this document\">",
		    pv.width, pv.height, pv.id, seq);
	ret = hit_boxes(r, t, &pv, q, &nhits, &err);
	if (ret < 0) {
		vw_failed(r, &err);
		goto out;
	}
	cv_buf_addf(b,
		    "</div><p class=\"hits\">%zu hit%s on this page</p>"
		    "</section><section class=\"side\"><h2>Details</h2>"
		    "<dl>",
		    nhits, nhits == 1 ? "" : "s");
	meta_row(b, "Patient", doc.patient_name);
	meta_row(b, "MRN", doc.mrn);
	meta_row(b, "Date of birth", doc.dob);
	meta_row(b, "Type", cv_ingest_doc_type_name(doc.doc_type));
	meta_row(b, "LOINC", doc.doc_type);
	meta_row(b, "Service date", doc.service_date);
	meta_row(b, "Document", idtxt);
	cv_buf_adds(b, "</dl>");
	download_form(r, ix, id);
	cv_buf_adds(b, "<h2>Text of this page</h2>"
		       "<pre class=\"ocr\" tabindex=\"0\">");
	page_text(r, ix, text.buf, text.len, q);
	cv_buf_adds(b, "</pre></section></div>");
	vw_page_end(r);
out:
	cv_buf_release(&text);
	free(pages);
}

/*
 * Widths come in steps, so that screens of slightly different sizes share
 * cached renderings: the smallest step at least as wide as asked.
 */
static long long width_step(long long want)
{
	static const int steps[] = { 120,  240,  480,  800,      1000,
				     1200, 1400, 1800, WIDTH_MAX };
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (want <= steps[i])
			return steps[i];
	return WIDTH_MAX;
}

int vw_image_width(struct vw_req *r)
{
	long long want = 1000;

	if (vw_arg(r, "w") &&
	    cv_parse_ll(&want, vw_arg(r, "w"), WIDTH_MIN, WIDTH_MAX) < 0)
		want = 1000;
	return (int)width_step(want);
}

/* Scaled to grey, as a PNG quick to make (ingest/preview.c). */
void vw_png_send(struct vw_req *r, struct Pix *pix, int64_t key, int width)
{
	struct cv_error err = CV_ERROR_INIT;

	if (cv_ingest_pix_preview(&r->out, pix, width, &err) < 0) {
		cv_error_prefix(&err, "page %" PRId64 ": ",
				key < 0 ? -key : key);
		vw_failed(r, &err);
		return;
	}
	vw_cache_put(r->srv->images, key, width, r->out.buf, r->out.len);
	r->ctype = "image/png";
}

void vw_page_png(struct vw_req *r, struct vw_thread *t,
		 const struct cv_index_page_view *pv)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf raw = CV_BUF_INIT;
	int width = vw_image_width(r), ret;
	const uint8_t *made = cv_index_page_view_preview(pv, width);

	if (!pv->has_image) {
		vw_not_found(r);
		return;
	}
	if (vw_cache_get(r->srv->images, pv->id, width, &r->out)) {
		r->ctype = "image/png";
		return;
	}
	/* Made at ingest (ingest/pdf.c): only decrypted here. One that
	 * fails its check is logged and the page rendered instead. */
	if (made &&
	    cv_archive_get_mem(t->ar, made, &r->out, IMAGE_MAX, &err) == 0)
		goto send;
	if (made)
		cv_log_warnx("viewer: page %" PRId64 ": preview: %s", pv->id,
			     err.msg);
	cv_error_clear(&err);
	while (sem_wait(&r->srv->renders) < 0)
		;
	ret = cv_archive_get_mem(t->ar, pv->image_object, &raw, IMAGE_MAX,
				 &err);
	if (ret == 0)
		ret = cv_ingest_page_preview(&r->out, (const uint8_t *)raw.buf,
					     raw.len, width, &err);
	sem_post(&r->srv->renders);
	if (ret < 0) {
		cv_error_prefix(&err, "page %" PRId64 ": ", pv->id);
		vw_failed(r, &err);
		goto out;
	}
send:
	vw_cache_put(r->srv->images, pv->id, width, r->out.buf, r->out.len);
	r->ctype = "image/png";
out:
	cv_buf_release(&raw);
}

/* A page of a document, as the document view shows it. */
static void route_page_image(struct vw_req *r, int64_t page_id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_page_view pv;
	char idtxt[24];
	int ret;

	if (!t) {
		vw_failed(r, &err);
		return;
	}
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, page_id);
	/* Before the cache: a cached image is no less restricted. */
	ret = vw_record_access(r, t->ix, "page", page_id, NULL, &err);
	if (ret == 0)
		ret = cv_index_page_view(t->ix, page_id, &pv, &err);
	if (ret == 0 && (!pv.has_image || pv.document_id == 0))
		ret = CV_ENOTFOUND;
	vw_audit_view(r, "page.view", "page", idtxt, "image",
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
 * The document's searchable PDF as a download: the rendition chartvault
 * export writes, from the same function (cv_ingest_export_pdf), refused
 * and audited alike ("document.export" with the request reference).
 */
static void route_doc_pdf(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_ingest_export ex = CV_INGEST_EXPORT_INIT;
	const char *request = vw_field(r, "request");
	char idtxt[24], disp[64];
	int ret;

	if (!t) {
		vw_failed(r, &err);
		return;
	}
	if (request && !*request)
		request = NULL;
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	ret = vw_record_access(r, t->ix, "document", id, NULL, &err);
	if (ret == 0)
		ret = cv_ingest_export_pdf(&ex, t->ar, t->ix, id, request,
					   PDF_SEND_MAX, &err);
	vw_audit(r, NULL, "document.export", "document", idtxt, ex.audit_detail,
		 ret == 0 ? "ok" : cv_errcode_name(ret));
	if (ret == CV_ENOTFOUND) {
		vw_not_found(r);
	} else if (ret == CV_EHOLD) {
		vw_error_page(r, 409,
			      "This document is in the exception queue: it "
			      "cannot be released until its exceptions are "
			      "resolved.");
	} else if (ret == CV_EINVAL && request &&
		   !cv_ingest_export_request_valid(request)) {
		vw_error_page(r, 400,
			      "A request reference is up to 64 letters, "
			      "digits and -_./:#.");
	} else if (ret == CV_ELIMIT) {
		vw_error_page(r, 413,
			      "This document is too large to download here; "
			      "export it with chartvault export.");
	} else if (ret < 0) {
		vw_failed(r, &err);
	} else {
		/* The rendition becomes the body without a copy. */
		cv_buf_release(&r->out);
		r->out = ex.pdf;
		cv_buf_init(&ex.pdf);
		r->ctype = "application/pdf";
		snprintf(disp, sizeof(disp),
			 "attachment; filename=\"document-%" PRId64 ".pdf\"",
			 id);
		r->disposition = cv_strdup(disp);
	}
	cv_ingest_export_release(&ex);
}

const struct vw_route vw_routes_doc[] = {
	{ "GET", "/doc/", "", VW_STAFF, route_doc, NULL },
	{ "GET", "/page/", ".png", VW_STAFF, route_page_image, NULL },
	{ "POST", "/doc/", "/pdf", VW_STAFF, route_doc_pdf, NULL },
	{ NULL, NULL, NULL, NULL, NULL, NULL },
};
