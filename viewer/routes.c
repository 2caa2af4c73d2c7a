/*
 * The screens. Each route says who may open it; vw_route checks that,
 * the sign-in and the CSRF token before the route runs, so a route only
 * renders. A document the user may not see and one that does not exist
 * get the same answer, so ids cannot be probed.
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
#include "common/log.h"
#include "common/banned.h"

#define TEXT_MAX  (4u << 20)
#define IMAGE_MAX (64u << 20)
#define WIDTH_MIN 64
#define WIDTH_MAX 2400

/* The roles that may read charts, as a space-separated list. */
#define STAFF "records compliance admin"

static void not_found(struct vw_req *r)
{
	vw_error_page(r, 404, "There is no such page or document.");
}

static void failed(struct vw_req *r, const struct cv_error *err)
{
	cv_log_error(err);
	vw_error_page(r, 500,
		      "Something went wrong; the error has been logged.");
}

/* Parse a positive id; 0 when s is not one. */
static int64_t parse_id(const char *s)
{
	long long v;

	if (!s || cv_parse_ll(&v, s, 1, INT64_MAX) < 0)
		return 0;
	return (int64_t)v;
}

/* ---------------------------------------------------------------------
 * Sign-in
 */

/* Only a path of this site: never "//host" or "https://...". */
static const char *local_next(const char *next)
{
	if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\' ||
	    strpbrk(next, "\r\n"))
		return "/";
	return next;
}

static void login_form(struct vw_req *r, const char *msg, const char *name,
		       const char *next)
{
	struct cv_buf *b = &r->out;

	vw_page_begin(r, "Sign in");
	cv_buf_adds(b, "<h1>Sign in</h1>");
	if (msg) {
		cv_buf_adds(b, "<p class=\"error\" role=\"alert\">");
		vw_esc(b, msg);
		cv_buf_adds(b, "</p>");
	}
	cv_buf_adds(b, "<form class=\"login\" method=\"post\" "
		       "action=\"/login\"><input type=\"hidden\" "
		       "name=\"next\" value=\"");
	vw_esc(b, local_next(next));
	cv_buf_adds(b, "\"><label for=\"user\">User name</label>"
		       "<input id=\"user\" name=\"user\" "
		       "autocomplete=\"username\" required value=\"");
	vw_esc(b, name ? name : "");
	cv_buf_adds(b, "\"><label for=\"password\">Password</label>"
		       "<input id=\"password\" name=\"password\" "
		       "type=\"password\" autocomplete=\"current-password\" "
		       "required><button type=\"submit\">Sign in</button>"
		       "</form>");
	vw_page_end(r);
}

static void route_login(struct vw_req *r)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_viewer_user user;
	const char *name, *pass, *next;
	char msg[128];
	long wait;
	int ret;

	if (strcmp(r->method, "POST")) {
		login_form(r, NULL, NULL, vw_arg(r, "next"));
		return;
	}
	name = vw_field(r, "user");
	pass = vw_field(r, "password");
	next = vw_field(r, "next");
	if (!name || !*name || !pass || strlen(name) >= sizeof(user.name)) {
		r->status = 400;
		login_form(r, "Enter your user name and password.", NULL, next);
		return;
	}
	wait = vw_login_wait(r->srv, name);
	if (wait > 0) {
		vw_audit(r, name, "login", "user", name, "locked out",
			 "denied");
		snprintf(msg, sizeof(msg),
			 "Too many failed attempts. Try again in %ld seconds.",
			 wait);
		r->status = 429;
		login_form(r, msg, name, next);
		return;
	}
	memset(&user, 0, sizeof(user));
	ret = vw_authenticate(r, name, pass, &user, &err);
	if (ret == CV_EMISMATCH) {
		vw_login_failed(r->srv, name);
		vw_audit(r, name, "login", "user", name, "bad credentials",
			 "denied");
		r->status = 401;
		login_form(r, "The user name or password is not right.", name,
			   next);
		return;
	}
	if (ret < 0) {
		failed(r, &err);
		return;
	}
	vw_login_succeeded(r->srv, name);
	vw_session_start(r, &user);
	vw_audit(r, NULL, "login", "user", user.name, NULL, "ok");
	vw_redirect(r, local_next(next));
}

static void route_logout(struct vw_req *r)
{
	vw_audit(r, NULL, "logout", "user", r->sess.user.name, NULL, "ok");
	vw_session_end(r);
	vw_redirect(r, "/login");
}

static void route_home(struct vw_req *r)
{
	vw_redirect(r, vw_role_in(r, STAFF) ? "/search" : "/batches");
}

/* ---------------------------------------------------------------------
 * Search
 */

static int fetch_text(void *ctx, const uint8_t *oid, struct cv_buf *out,
		      struct cv_error *err)
{
	return cv_archive_get_mem(ctx, oid, out, TEXT_MAX, err);
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

static void route_search(struct vw_req *r)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index *ix = t ? t->ix : NULL;
	struct cv_index_search_opts so = CV_INDEX_SEARCH_OPTS_INIT;
	struct cv_index_search_result res = CV_INDEX_SEARCH_RESULT_INIT;
	struct cv_buf *b = &r->out, ids = CV_BUF_INIT;
	const char *q = vw_arg(r, "q");
	size_t n = 0, i;
	int ret;

	if (!ix) {
		failed(r, &err);
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
	ret = cv_index_search(ix, &so, fetch_text, t->ar, &res, &err);
	n = res.n;
	for (i = 0; ret == 0 && i < n; i++)
		cv_buf_addf(&ids, "%s%" PRId64, i ? "," : "",
			    res.hits[i].doc.id);
	vw_audit(r, NULL, "search", "documents", ids.buf, "viewer",
		 ret == 0 ? "ok" : cv_errcode_name(ret));
	if (ret == CV_EINVAL) {
		cv_buf_adds(b, "<p class=\"error\" role=\"alert\">");
		vw_esc(b, err.msg);
		cv_buf_adds(b, "</p>");
		goto out;
	}
	if (ret < 0) {
		cv_buf_release(&ids);
		failed(r, &err);
		return;
	}
	cv_buf_addf(b, "<h2 id=\"results\">%zu document%s</h2>", n,
		    n == 1 ? "" : "s");
	cv_buf_adds(b, "<ol class=\"results\" aria-labelledby=\"results\">");
	for (i = 0; i < n; i++) {
		const struct cv_index_hit *h = &res.hits[i];

		cv_buf_addf(b, "<li><a href=\"/doc/%" PRId64 "?p=%d&amp;q=",
			    h->doc.id, h->page_no);
		vw_urlesc(b, q);
		cv_buf_adds(b, "\">");
		vw_esc(b, cv_ingest_doc_type_name(h->doc.doc_type));
		cv_buf_adds(b, "</a> <span class=\"who\">");
		vw_esc(b, h->doc.patient_name[0] ? h->doc.patient_name
						 : "unknown patient");
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
	cv_index_search_result_release(&res);
}

/* ---------------------------------------------------------------------
 * A document and its pages
 */

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
	int ret;

	if (!ix) {
		failed(r, &err);
		return;
	}
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	ret = cv_index_document_get(ix, id, &doc, &pages, &n, &err);
	vw_audit(r, NULL, "document.view", "document", idtxt, "viewer",
		 ret == 0 ? "ok" : cv_errcode_name(ret));
	if (ret == CV_ENOTFOUND || (ret == 0 && n == 0)) {
		not_found(r);
		goto out;
	}
	if (ret < 0) {
		failed(r, &err);
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
		failed(r, &err);
		goto out;
	}
	snprintf(title, sizeof(title), "%s, page %lld of %zu",
		 cv_ingest_doc_type_name(doc.doc_type), seq, n);
	vw_page_begin(r, title);
	cv_buf_adds(b, "<h1>");
	vw_esc(b, cv_ingest_doc_type_name(doc.doc_type));
	cv_buf_adds(b, " <span class=\"sub\">");
	vw_esc(b, doc.patient_name[0] ? doc.patient_name : "unknown patient");
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
		failed(r, &err);
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
	cv_buf_adds(b, "</dl><h2>Text of this page</h2>"
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

/* A cleaned page image, decrypted and scaled to the width asked for. */
static void route_page_image(struct vw_req *r, int64_t page_id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index *ix = t ? t->ix : NULL;
	struct cv_index_page_view pv;
	struct cv_buf raw = CV_BUF_INIT;
	PIX *pix = NULL, *scaled = NULL;
	l_uint8 *png = NULL;
	size_t pnglen = 0;
	long long want = 1000;
	char idtxt[24];
	int ret;

	if (!ix) {
		failed(r, &err);
		return;
	}
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, page_id);
	ret = cv_index_page_view(ix, page_id, &pv, &err);
	if (ret == 0 && (!pv.has_image || pv.document_id == 0))
		ret = CV_ENOTFOUND;
	vw_audit(r, NULL, "page.view", "page", idtxt, "image",
		 ret == 0 ? "ok" : cv_errcode_name(ret));
	if (ret == CV_ENOTFOUND) {
		not_found(r);
		return;
	}
	if (vw_arg(r, "w") &&
	    cv_parse_ll(&want, vw_arg(r, "w"), WIDTH_MIN, WIDTH_MAX) < 0)
		want = 1000;
	want = width_step(want);
	if (ret == 0 &&
	    vw_cache_get(r->srv->images, page_id, (int)want, &r->out)) {
		r->ctype = "image/png";
		return;
	}
	if (ret == 0)
		ret = cv_archive_get_mem(t->ar, pv.image_object, &raw,
					 IMAGE_MAX, &err);
	if (ret < 0) {
		failed(r, &err);
		goto out;
	}
	pix = pixReadMem((const l_uint8 *)raw.buf, raw.len);
	if (!pix) {
		cv_error_set(&err, CV_ERROR, "page %s: image unreadable",
			     idtxt);
		failed(r, &err);
		goto out;
	}
	if (want < pixGetWidth(pix)) {
		float f = (float)want / (float)pixGetWidth(pix);

		/* Grey from bilevel keeps small print legible. */
		scaled = pixGetDepth(pix) == 1 ? pixScaleToGray(pix, f)
					       : pixScale(pix, f, f);
	} else {
		scaled = pixClone(pix);
	}
	/*
	 * zlib level 1 (Leptonica reads it from "special" 10..19): a grey
	 * page compresses almost as well and several times faster, and the
	 * time to first byte is what staff notice.
	 */
	if (scaled)
		pixSetSpecial(scaled, 10 + 1);
	if (!scaled || pixWriteMemPng(&png, &pnglen, scaled, 0.0) != 0) {
		cv_error_set(&err, CV_ERROR, "page %s: could not render",
			     idtxt);
		failed(r, &err);
		goto out;
	}
	cv_buf_add(&r->out, png, pnglen);
	vw_cache_put(r->srv->images, page_id, (int)want, png, pnglen);
	r->ctype = "image/png";
out:
	lept_free(png);
	pixDestroy(&scaled);
	pixDestroy(&pix);
	cv_buf_release(&raw);
}

static void route_static(struct vw_req *r, const char *name)
{
	size_t i;

	for (i = 0; i < vw_nassets; i++)
		if (!strcmp(vw_assets[i].name, name)) {
			cv_buf_add(&r->out, vw_assets[i].data,
				   vw_assets[i].len);
			r->ctype = vw_assets[i].type;
			r->cacheable = 1;
			return;
		}
	not_found(r);
}

/* ---------------------------------------------------------------------
 * Batches (scanning clerks)
 */

static void count_row(struct cv_buf *b, const char *what, int64_t n)
{
	cv_buf_adds(b, "<tr><th scope=\"row\">");
	vw_esc(b, what);
	cv_buf_addf(b, "</th><td>%" PRId64 "</td></tr>", n);
}

static void route_batches(struct vw_req *r)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_batch_stats *bs = NULL;
	struct cv_buf *b = &r->out;
	size_t n = 0, i;

	if (!t || cv_index_batch_stats(t->ix, NULL, &bs, &n, &err) < 0) {
		failed(r, &err);
		goto out;
	}
	vw_page_begin(r, "Batches");
	cv_buf_adds(b, "<h1>Batches</h1><table class=\"grid\"><caption>Scan "
		       "batches, newest last</caption><thead><tr>"
		       "<th scope=\"col\">Batch</th><th scope=\"col\">"
		       "Operator</th><th scope=\"col\">Started</th>"
		       "<th scope=\"col\">Pages</th><th scope=\"col\">"
		       "Documents</th><th scope=\"col\">Flagged</th>"
		       "<th scope=\"col\">Rejects</th><th scope=\"col\">"
		       "Counts</th></tr></thead><tbody>");
	for (i = 0; i < n; i++) {
		cv_buf_addf(b, "<tr><td><a href=\"/batch/%" PRId64 "\">",
			    bs[i].id);
		vw_esc(b, bs[i].name);
		cv_buf_adds(b, "</a></td><td>");
		vw_esc(b, bs[i].operator_);
		cv_buf_adds(b, "</td><td>");
		vw_esc(b, bs[i].created);
		cv_buf_addf(b,
			    "</td><td>%" PRId64 "</td><td>%" PRId64
			    "</td><td>%" PRId64 "</td><td>%" PRId64
			    "</td><td>%s</td></tr>",
			    bs[i].pages, bs[i].documents, bs[i].flagged,
			    bs[i].rejects,
			    bs[i].reconciled ? "reconciled" : "NOT reconciled");
	}
	cv_buf_adds(b, "</tbody></table>");
	vw_page_end(r);
out:
	free(bs);
}

static void items_table(struct cv_buf *b, const char *caption, const char *what,
			const struct cv_index_batch_item *it, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	cv_buf_adds(b, "<table class=\"grid\"><caption>");
	vw_esc(b, caption);
	cv_buf_adds(b, "</caption><thead><tr><th scope=\"col\">File</th>"
		       "<th scope=\"col\">Page</th><th scope=\"col\">");
	vw_esc(b, what);
	cv_buf_adds(b, "</th></tr></thead><tbody>");
	for (i = 0; i < n; i++) {
		cv_buf_adds(b, "<tr><td>");
		vw_esc(b, it[i].name);
		if (it[i].page)
			cv_buf_addf(b, "</td><td>%d</td><td>", it[i].page);
		else
			cv_buf_adds(b, "</td><td>whole file</td><td>");
		vw_esc(b, it[i].text);
		cv_buf_adds(b, "</td></tr>");
	}
	cv_buf_adds(b, "</tbody></table>");
}

static void route_batch(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_batch_stats *bs = NULL;
	struct cv_index_batch_item *rej = NULL, *flag = NULL;
	struct cv_buf *b = &r->out;
	size_t n = 0, nrej = 0, nflag = 0;
	char idtxt[24];
	int ret;

	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	ret = t ? cv_index_batch_stats(t->ix, idtxt, &bs, &n, &err) : CV_ERROR;
	if (ret == CV_ENOTFOUND || (ret == 0 && (n != 1 || bs[0].id != id))) {
		not_found(r);
		goto out;
	}
	if (ret == 0)
		ret = cv_index_batch_rejects(t->ix, id, &rej, &nrej, &err);
	if (ret == 0)
		ret = cv_index_batch_flagged(t->ix, id, &flag, &nflag, &err);
	if (ret < 0) {
		failed(r, &err);
		goto out;
	}
	vw_page_begin(r, bs[0].name);
	cv_buf_adds(b, "<h1>Batch ");
	vw_esc(b, bs[0].name);
	cv_buf_addf(b, "</h1><p class=\"%s\">%s</p>",
		    bs[0].reconciled ? "ok" : "error",
		    bs[0].reconciled
			    ? "Every page is accounted for exactly once."
			    : "The counts do not reconcile yet.");
	cv_buf_adds(b, "<table class=\"grid counts\"><caption>Counts"
		       "</caption><tbody>");
	count_row(b, "Files received", bs[0].files);
	count_row(b, "Pages captured", bs[0].pages);
	count_row(b, "Pages filed in documents", bs[0].filed);
	count_row(b, "Blank backs dropped", bs[0].blank);
	count_row(b, "Cover and separator sheets", bs[0].sheets);
	count_row(b, "Pages failed", bs[0].failed);
	count_row(b, "Pages waiting for OCR", bs[0].queued);
	count_row(b, "Pages not yet in a document", bs[0].unplaced);
	count_row(b, "Pages flagged for QA", bs[0].flagged);
	count_row(b, "Documents made", bs[0].documents);
	count_row(b, "Files rejected", bs[0].rejects);
	cv_buf_adds(b, "</tbody></table>");
	items_table(b, "Rejected files", "Reason", rej, nrej);
	items_table(b, "Pages flagged for quality", "Flags", flag, nflag);
	vw_page_end(r);
out:
	cv_index_batch_items_free(rej, nrej);
	cv_index_batch_items_free(flag, nflag);
	free(bs);
}

/* ---------------------------------------------------------------------
 * Dispatch
 */

/* "/doc/12" with prefix "/doc/" -> 12; suffix must follow the id. */
static int64_t path_id(const char *path, const char *prefix, const char *suffix)
{
	size_t pl = strlen(prefix), sl = strlen(suffix), len = strlen(path);
	char num[24];

	if (strncmp(path, prefix, pl) || len < pl + sl + 1 ||
	    strcmp(path + len - sl, suffix) || len - pl - sl >= sizeof(num))
		return 0;
	memcpy(num, path + pl, len - pl - sl);
	num[len - pl - sl] = '\0';
	return parse_id(num);
}

void vw_route(struct vw_req *r)
{
	const char *p = r->path;
	int post = !strcmp(r->method, "POST");
	int64_t id;

	if (!strncmp(p, "/static/", 8) && !post) {
		route_static(r, p + 8);
		return;
	}
	if (!strcmp(p, "/login")) {
		route_login(r);
		return;
	}
	if (!r->signed_in) {
		struct cv_buf next = CV_BUF_INIT;

		if (post) {
			vw_error_page(r, 403,
				      "Your session has ended; sign "
				      "in again.");
			return;
		}
		cv_buf_adds(&next, "/login?next=");
		vw_urlesc(&next, p);
		vw_redirect(r, next.buf);
		cv_buf_release(&next);
		return;
	}
	/* Every state-changing request carries the session's token. */
	if (post && !vw_csrf_ok(r)) {
		vw_audit(r, NULL, "csrf", "request", r->path, NULL, "denied");
		vw_error_page(r, 403,
			      "This form has expired; go back, reload "
			      "the page and try again.");
		return;
	}
	if (!strcmp(p, "/logout") && post) {
		route_logout(r);
		return;
	}
	if (post) {
		vw_error_page(r, 405, "That cannot be posted.");
		return;
	}
	if (!strcmp(p, "/")) {
		route_home(r);
		return;
	}
	if (vw_role_in(r, "clerk " STAFF)) {
		if (!strcmp(p, "/batches")) {
			route_batches(r);
			return;
		}
		if ((id = path_id(p, "/batch/", "")) > 0) {
			route_batch(r, id);
			return;
		}
	}
	if (!vw_role_in(r, STAFF)) {
		vw_audit(r, NULL, "access", "screen", p, NULL, "denied");
		vw_error_page(r, 403,
			      "Your role does not give access to "
			      "this screen.");
		return;
	}
	if (!strcmp(p, "/search")) {
		route_search(r);
		return;
	}
	if ((id = path_id(p, "/doc/", "")) > 0) {
		route_doc(r, id);
		return;
	}
	if ((id = path_id(p, "/page/", ".png")) > 0) {
		route_page_image(r, id);
		return;
	}
	not_found(r);
}
