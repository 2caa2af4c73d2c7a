/*
 * The search screen: words over the OCR text with the index's syntax,
 * filters (patient, MRN, type, service dates, near spellings), results
 * grouped by document with snippets made from the decrypted text, and the
 * counts of every matching document by type and by year as links that
 * refine the search. Every filter is a query-string argument, so a search
 * is a plain link: the facets and "remove" links are the same URL with
 * one argument changed.
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

#define TEXT_MAX   (4u << 20)
#define LIMIT_STEP 20   /* documents per "show more" */
#define LIMIT_MAX  1000 /* the index's cap */

static int fetch_text(void *ctx, const uint8_t *oid, struct cv_buf *out,
		      struct cv_error *err)
{
	struct vw_req *r = ctx;
	struct vw_thread *t = vw_thread(r, err);

	if (!t)
		return err->code ? err->code : CV_EUNAVAIL;
	return cv_archive_get_mem(t->ar, oid, out, TEXT_MAX, err);
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

/*
 * What a search asks, as its URL carries it. Empty arguments are no
 * filter, so a form submitted with blank fields searches everything.
 */
struct sparams {
	const char *q;
	const char *patient;
	const char *mrn;
	const char *type;
	const char *from;
	const char *to;
	int near;
	int limit;
};

static const char *arg_or_null(struct vw_req *r, const char *name)
{
	const char *v = vw_arg(r, name);

	return v && *v ? v : NULL;
}

static void read_params(struct vw_req *r, struct sparams *p)
{
	long long limit = LIMIT_STEP;

	p->q = arg_or_null(r, "q");
	p->patient = arg_or_null(r, "patient");
	p->mrn = arg_or_null(r, "mrn");
	p->type = arg_or_null(r, "type");
	p->from = arg_or_null(r, "from");
	p->to = arg_or_null(r, "to");
	p->near = arg_or_null(r, "near") != NULL;
	if (!vw_arg(r, "limit") ||
	    cv_parse_ll(&limit, vw_arg(r, "limit"), 1, LIMIT_MAX) < 0)
		limit = LIMIT_STEP;
	p->limit = (int)limit;
}

static void url_arg(struct cv_buf *b, int *first, const char *name,
		    const char *value)
{
	if (!value)
		return;
	cv_buf_adds(b, *first ? "?" : "&amp;");
	*first = 0;
	cv_buf_adds(b, name);
	cv_buf_addch(b, '=');
	vw_urlesc(b, value);
}

/* The search URL of p, escaped for an href attribute. */
static void search_url(struct cv_buf *b, const struct sparams *p)
{
	char limit[16];
	int first = 1;

	cv_buf_adds(b, "/search");
	url_arg(b, &first, "q", p->q);
	url_arg(b, &first, "patient", p->patient);
	url_arg(b, &first, "mrn", p->mrn);
	url_arg(b, &first, "type", p->type);
	url_arg(b, &first, "from", p->from);
	url_arg(b, &first, "to", p->to);
	url_arg(b, &first, "near", p->near ? "1" : NULL);
	snprintf(limit, sizeof(limit), "%d", p->limit);
	url_arg(b, &first, "limit", p->limit != LIMIT_STEP ? limit : NULL);
}

static void text_input(struct cv_buf *b, const char *id, const char *label,
		       const char *type, const char *value, const char *extra)
{
	cv_buf_addf(b,
		    "<div class=\"field\"><label for=\"%s\">%s</label>"
		    "<input id=\"%s\" name=\"%s\" type=\"%s\" value=\"",
		    id, label, id, id, type);
	vw_esc(b, value);
	cv_buf_addf(b, "\"%s></div>", extra);
}

static void type_select(struct cv_buf *b, const char *current)
{
	size_t i, n = cv_ingest_doctype_count();

	cv_buf_adds(b, "<div class=\"field\"><label for=\"type\">Document "
		       "type</label><select id=\"type\" name=\"type\">"
		       "<option value=\"\">Any type</option>");
	for (i = 0; i < n; i++) {
		const struct cv_ingest_doctype *d = cv_ingest_doctype_at(i);

		cv_buf_adds(b, "<option value=\"");
		vw_esc(b, d->code);
		cv_buf_addf(b, "\"%s>",
			    current && !strcmp(current, d->code) ? " selected"
								 : "");
		vw_esc(b, d->name);
		cv_buf_adds(b, "</option>");
	}
	cv_buf_addf(b, "<option value=\"%s\"%s>other</option></select></div>",
		    CV_INGEST_TYPE_OTHER,
		    current && !strcmp(current, CV_INGEST_TYPE_OTHER)
			    ? " selected"
			    : "");
}

static void search_form(struct cv_buf *b, const struct sparams *p)
{
	cv_buf_adds(b, "<form class=\"search\" method=\"get\" "
		       "action=\"/search\" role=\"search\">"
		       "<div class=\"query\"><label for=\"q\">Words in the "
		       "text</label><input id=\"q\" name=\"q\" type=\"search\" "
		       "value=\"");
	vw_esc(b, p->q);
	cv_buf_adds(b, "\" aria-describedby=\"qhelp\">"
		       "<button type=\"submit\">Search</button></div>"
		       "<p id=\"qhelp\" class=\"help\">Use \"quotes\" for a "
		       "phrase, OR for either word, and -word to leave a word "
		       "out. Abbreviations such as MI also find what they "
		       "stand for.</p>"
		       "<fieldset class=\"filters\"><legend>Filters</legend>");
	text_input(b, "patient", "Patient name", "text", p->patient,
		   " autocomplete=\"off\"");
	text_input(b, "mrn", "MRN", "text", p->mrn,
		   " autocomplete=\"off\" maxlength=\"63\"");
	type_select(b, p->type);
	text_input(b, "from", "Service date from", "date", p->from, "");
	text_input(b, "to", "Service date to", "date", p->to, "");
	cv_buf_addf(b,
		    "<div class=\"field check\"><input id=\"near\" "
		    "name=\"near\" type=\"checkbox\" value=\"1\"%s>"
		    "<label for=\"near\">Also match near spellings</label>"
		    "</div></fieldset>",
		    p->near ? " checked" : "");
	if (p->limit != LIMIT_STEP)
		cv_buf_addf(b,
			    "<input type=\"hidden\" name=\"limit\" "
			    "value=\"%d\">",
			    p->limit);
	cv_buf_adds(b, "</form>");
}

/* One active filter, with the link that drops it. */
static void remove_link(struct cv_buf *b, const struct sparams *without,
			const char *what, const char *value)
{
	cv_buf_adds(b, "<li>");
	vw_esc(b, what);
	if (value) {
		cv_buf_adds(b, ": ");
		vw_esc(b, value);
	}
	cv_buf_adds(b, " <a href=\"");
	search_url(b, without);
	cv_buf_adds(b, "\">Remove<span class=\"sr\"> the ");
	vw_esc(b, what);
	cv_buf_adds(b, " filter</span></a></li>");
}

static void active_filters(struct cv_buf *b, const struct sparams *p)
{
	struct sparams w;
	char dates[40];

	if (!p->patient && !p->mrn && !p->type && !p->from && !p->to &&
	    !p->near)
		return;
	cv_buf_adds(b, "<h3 id=\"f-active\">Filters in use</h3>"
		       "<ul class=\"active\" aria-labelledby=\"f-active\">");
	/* Each link drops one filter and starts over at the first page. */
	if (p->patient) {
		w = *p;
		w.patient = NULL;
		w.limit = LIMIT_STEP;
		remove_link(b, &w, "patient", p->patient);
	}
	if (p->mrn) {
		w = *p;
		w.mrn = NULL;
		w.limit = LIMIT_STEP;
		remove_link(b, &w, "MRN", p->mrn);
	}
	if (p->type) {
		w = *p;
		w.type = NULL;
		w.limit = LIMIT_STEP;
		remove_link(b, &w, "type", cv_ingest_doc_type_name(p->type));
	}
	if (p->from || p->to) {
		w = *p;
		w.from = w.to = NULL;
		w.limit = LIMIT_STEP;
		snprintf(dates, sizeof(dates), "%.16s to %.16s",
			 p->from ? p->from : "any", p->to ? p->to : "any");
		remove_link(b, &w, "service date", dates);
	}
	if (p->near) {
		w = *p;
		w.near = 0;
		w.limit = LIMIT_STEP;
		remove_link(b, &w, "near spellings", NULL);
	}
	cv_buf_adds(b, "</ul>");
}

/* A facet's count, said in words to a screen reader. */
static void facet_count(struct cv_buf *b, int64_t n, int estimated)
{
	cv_buf_addf(b,
		    " <span class=\"count\">(%s%" PRId64
		    "<span class=\"sr\"> document%s</span>)</span>",
		    estimated ? "about " : "", n, n == 1 ? "" : "s");
}

static void facets(struct cv_buf *b, const struct sparams *p,
		   const struct cv_index_search_result *res)
{
	struct sparams w;
	char from[16], to[16];
	size_t i;

	cv_buf_adds(b, "<aside class=\"facets\" aria-labelledby=\"f-head\">"
		       "<h2 id=\"f-head\">Refine</h2>");
	active_filters(b, p);
	if (res->ntypes) {
		cv_buf_adds(b, "<h3 id=\"f-type\">By type</h3>"
			       "<ul aria-labelledby=\"f-type\">");
		for (i = 0; i < res->ntypes; i++) {
			const struct cv_index_facet *f = &res->types[i];

			cv_buf_adds(b, "<li>");
			if (p->type && !strcmp(p->type, f->key)) {
				cv_buf_adds(b, "<strong>");
				vw_esc(b, cv_ingest_doc_type_name(f->key));
				cv_buf_adds(b, "</strong>");
			} else {
				w = *p;
				w.type = f->key;
				w.limit = LIMIT_STEP;
				cv_buf_adds(b, "<a href=\"");
				search_url(b, &w);
				cv_buf_adds(b, "\">");
				vw_esc(b, cv_ingest_doc_type_name(f->key));
				cv_buf_adds(b, "</a>");
			}
			facet_count(b, f->documents, res->facets_estimated);
			cv_buf_adds(b, "</li>");
		}
		cv_buf_adds(b, "</ul>");
	}
	if (res->nyears) {
		cv_buf_adds(b, "<h3 id=\"f-year\">By year of service</h3>"
			       "<ul aria-labelledby=\"f-year\">");
		for (i = 0; i < res->nyears; i++) {
			const struct cv_index_facet *f = &res->years[i];

			cv_buf_adds(b, "<li>");
			snprintf(from, sizeof(from), "%.4s-01-01", f->key);
			snprintf(to, sizeof(to), "%.4s-12-31", f->key);
			if (!f->key[0]) {
				/* No date range selects the undated. */
				cv_buf_adds(b, "undated");
			} else if (p->from && p->to && !strcmp(p->from, from) &&
				   !strcmp(p->to, to)) {
				cv_buf_adds(b, "<strong>");
				vw_esc(b, f->key);
				cv_buf_adds(b, "</strong>");
			} else {
				w = *p;
				w.from = from;
				w.to = to;
				w.limit = LIMIT_STEP;
				cv_buf_adds(b, "<a href=\"");
				search_url(b, &w);
				cv_buf_adds(b, "\">");
				vw_esc(b, f->key);
				cv_buf_adds(b, "</a>");
			}
			facet_count(b, f->documents, res->facets_estimated);
			cv_buf_adds(b, "</li>");
		}
		cv_buf_adds(b, "</ul>");
	}
	cv_buf_adds(b, "</aside>");
}

/* What the index says about how it counted and ranked, in words. */
static void result_notes(struct cv_buf *b,
			 const struct cv_index_search_result *res)
{
	if (res->facets_estimated)
		cv_buf_addf(b,
			    "<p class=\"note\">So many pages match that "
			    "the counts are estimated from 1/%d of the "
			    "documents.</p>",
			    res->facets_sample > 0 ? res->facets_sample : 128);
	if (res->ranked_in_sample)
		cv_buf_addf(b,
			    "<p class=\"note\">So many pages match that "
			    "these are the best of a 1/%d sample of the "
			    "documents: add words or a filter to rank every "
			    "match.</p>",
			    res->ranked_sample > 0 ? res->ranked_sample : 128);
	if (res->near_terms) {
		cv_buf_adds(b, "<p class=\"note\">Near spellings also "
			       "searched: ");
		vw_esc(b, res->near_terms);
		cv_buf_adds(b, ".</p>");
	}
}

static void route_search(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index *ix = t ? t->ix : NULL;
	struct cv_index_search_opts so = CV_INDEX_SEARCH_OPTS_INIT;
	struct cv_index_search_result res = CV_INDEX_SEARCH_RESULT_INIT;
	struct cv_buf *b = &r->out, ids = CV_BUF_INIT, detail = CV_BUF_INIT;
	struct sparams p, more;
	const char *q;
	size_t n = 0, i;
	int ret;

	(void)id;
	if (!ix) {
		vw_failed(r, &err);
		return;
	}
	read_params(r, &p);
	q = p.q;
	vw_page_begin(r, "Search");
	cv_buf_adds(b, "<h1>Search the charts</h1>");
	search_form(b, &p);
	if (!q) {
		vw_page_end(r);
		return;
	}
	/* The site's taxonomy decides what is a type, as in the CLI. */
	if (p.type && strcmp(p.type, CV_INGEST_TYPE_OTHER) != 0 &&
	    !strcmp(cv_ingest_doc_type_name(p.type), CV_INGEST_TYPE_OTHER)) {
		cv_buf_adds(b, "<p class=\"error\" role=\"alert\">That is not "
			       "a known document type.</p>");
		goto out;
	}
	so.query = q;
	so.limit = p.limit;
	so.patient = p.patient;
	so.mrn = p.mrn;
	so.doc_type = p.type;
	so.from = p.from;
	so.to = p.to;
	so.near = p.near;
	so.synonyms = r->srv->synonyms;
	/* A restricted chart's text is never decrypted for a snippet. */
	so.access_user = r->sess.user.name;
	ret = cv_index_search(ix, &so, fetch_text, r, &res, &err);
	n = res.n;
	for (i = 0; ret == 0 && i < n; i++)
		cv_buf_addf(&ids, "%s%" PRId64, i ? "," : "",
			    res.hits[i].doc.id);
	/* As the CLI: which filters, never their values (an MRN or a name
	 * is patient data), and the documents shown. */
	cv_buf_addf(&detail, "viewer;documents=%s%s%s%s%s%s%s", ids.buf,
		    so.mrn ? ";mrn" : "", so.patient ? ";patient" : "",
		    so.doc_type ? ";type=" : "", so.doc_type ? so.doc_type : "",
		    so.from || so.to ? ";dates" : "", so.near ? ";near" : "");
	vw_audit_view(r, "search", "documents", ids.buf, detail.buf,
		      ret == 0 ? "ok" : cv_errcode_name(ret));
	if (ret == CV_EINVAL) {
		/* The index names the option ("--from ..."): say it as the
		 * form's field. */
		cv_buf_adds(b, "<p class=\"error\" role=\"alert\">");
		vw_esc(b, err.msg[0] == '-' && err.msg[1] == '-' ? err.msg + 2
								 : err.msg);
		cv_buf_adds(b, "</p>");
		goto out;
	}
	if (ret < 0) {
		cv_buf_release(&ids);
		cv_buf_release(&detail);
		cv_index_search_result_release(&res);
		vw_failed(r, &err);
		return;
	}
	cv_buf_adds(b, "<div class=\"searchout\">");
	if (n > 0)
		facets(b, &p, &res);
	cv_buf_adds(b,
		    "<section class=\"hitlist\" aria-labelledby=\"results\">");
	cv_buf_addf(b,
		    "<h2 id=\"results\">%s%" PRId64
		    " document%s match (%" PRId64 " page%s)</h2>",
		    res.facets_estimated ? "About " : "", res.total_documents,
		    res.total_documents == 1 ? "" : "s", res.total_pages,
		    res.total_pages == 1 ? "" : "s");
	if (n < (size_t)res.total_documents)
		cv_buf_addf(b, "<p class=\"shown\">Showing the best %zu.</p>",
			    n);
	result_notes(b, &res);
	if (n == 0)
		cv_buf_adds(b, "<p>No document matches. Try fewer words, "
			       "near spellings, or fewer filters.</p>");
	cv_buf_adds(b, "<ol class=\"results\" aria-labelledby=\"results\">");
	for (i = 0; i < n; i++) {
		const struct cv_index_hit *h = &res.hits[i];

		/* so.access_user made no snippet of a chart the user may
		 * not open: say that a result is there, and no more. */
		if (!cv_index_access_allowed(h->access)) {
			vw_restricted_hit(r, h);
			continue;
		}
		cv_buf_addf(b, "<li><a href=\"/doc/%" PRId64 "?p=%d&amp;q=",
			    h->doc.id, h->page_no);
		vw_urlesc(b, q);
		cv_buf_adds(b, "\">");
		vw_esc(b, cv_ingest_doc_type_name(h->doc.doc_type));
		cv_buf_adds(b, "</a> <span class=\"who\">");
		vw_patient_link(r, h->patient_id, h->doc.patient_name);
		cv_buf_adds(b, ", MRN ");
		vw_esc(b, h->doc.mrn[0] ? h->doc.mrn : "unknown");
		if (h->doc.service_date[0]) {
			cv_buf_adds(b, ", ");
			vw_esc(b, h->doc.service_date);
		}
		cv_buf_addf(b,
			    "</span> <span class=\"count\">%d matching "
			    "page%s</span>%s<p class=\"snippet\">",
			    h->matching_pages,
			    h->matching_pages == 1 ? "" : "s",
			    h->near ? " <span class=\"tag\">near "
				      "spelling</span>"
				    : "");
		snippet_html(b, h->snippet ? h->snippet : "");
		cv_buf_adds(b, "</p></li>");
	}
	cv_buf_adds(b, "</ol>");
	if (n < (size_t)res.total_documents && p.limit < LIMIT_MAX) {
		more = p;
		more.limit = p.limit + LIMIT_STEP > LIMIT_MAX
				     ? LIMIT_MAX
				     : p.limit + LIMIT_STEP;
		cv_buf_adds(b, "<p><a class=\"more\" id=\"more\" href=\"");
		search_url(b, &more);
		cv_buf_addf(b, "\">Show %d more</a></p>", more.limit - p.limit);
	}
	cv_buf_adds(b, "</section></div>");
out:
	vw_page_end(r);
	cv_buf_release(&ids);
	cv_buf_release(&detail);
	cv_index_search_result_release(&res);
}

const struct vw_route vw_routes_search[] = {
	{ "GET", "/search", NULL, VW_STAFF, route_search, "Search" },
	{ NULL, NULL, NULL, NULL, NULL, NULL },
};
