/*
 * The exception queue for records staff: the documents the pipeline would
 * not file on its own (unknown patient, suspected misfile, uncertain
 * type), and one document with its page images, both identities of a
 * suspected misfile, and the actions that place it: assign patient and
 * type, split, merge, move a page, file, reject.
 *
 * Every action calls the same cv_index_exception_* function as
 * "chartvault queue", in the signed-in user's name; those functions lock
 * the documents, record who, when and the documents before and after
 * (queue_actions) and write the audit row in the action's transaction.
 * A refused action changes nothing and is audited here as the command
 * audits it ("queue.refused"). The roles are the queue command's.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "viewer_int.h"
#include "archive/archive.h"
#include "index/index.h"
#include "ingest/ingest.h"
#include "common/log.h"
#include "common/banned.h"

#define TEXT_MAX   (4u << 20)
#define REASON_MAX 200
#define FIND_MAX   20
#define PAGE_ROWS  100 /* rows of the list per screen */

/* ---------------------------------------------------------------------
 * Reading the document's JSON (cv_index_exception_show)
 */

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static int64_t jint(json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

/* "FAMILY, GIVEN" of a patient object, or "". */
static void person_name(struct cv_buf *b, json_t *p)
{
	vw_esc(b, jstr(p, "family"));
	if (*jstr(p, "given")) {
		cv_buf_adds(b, ", ");
		vw_esc(b, jstr(p, "given"));
	}
}

static void type_text(struct cv_buf *b, const char *code)
{
	vw_esc(b, cv_ingest_doc_type_name(code));
	cv_buf_adds(b, " (");
	vw_esc(b, code);
	cv_buf_adds(b, ")");
}

static const char *kind_text(const char *kind)
{
	if (!strcmp(kind, "misfile"))
		return "suspected misfile";
	if (!strcmp(kind, "unknown-patient"))
		return "unknown patient";
	if (!strcmp(kind, "low-confidence-type"))
		return "uncertain type";
	return kind;
}

/* "misfile,unknown-patient" as words. */
static void kinds_text(struct cv_buf *b, const char *kinds)
{
	char one[64];
	const char *s = kinds, *e;

	if (!*kinds) {
		cv_buf_adds(b, "ready to file");
		return;
	}
	while (*s) {
		e = strchr(s, ',');
		if (!e)
			e = s + strlen(s);
		snprintf(one, sizeof(one), "%.*s", (int)(e - s), s);
		if (s != kinds)
			cv_buf_adds(b, ", ");
		vw_esc(b, kind_text(one));
		s = *e ? e + 1 : e;
	}
}

/* ---------------------------------------------------------------------
 * The list
 */

static const char *done_text(const char *done)
{
	static const char *const msgs[][2] = {
		{ "file", "was filed into its patient's chart and is "
			  "searchable." },
		{ "reject", "was rejected and closed out of every chart." },
	};
	size_t i;

	for (i = 0; done && i < sizeof(msgs) / sizeof(msgs[0]); i++)
		if (!strcmp(done, msgs[i][0]))
			return msgs[i][1];
	return NULL;
}

/* Previous and next screens of a long list. */
static void pager(struct cv_buf *b, int64_t batch, size_t screen, size_t total)
{
	size_t screens = (total + PAGE_ROWS - 1) / PAGE_ROWS;

	if (screen > screens)
		screen = screens;
	cv_buf_addf(b,
		    "<nav class=\"pager\" aria-label=\"Pages of the list\">"
		    "<span>Screen %zu of %zu (%zu documents)</span>",
		    screen, screens, total);
	if (screen > 1) {
		cv_buf_addf(b, " <a href=\"/queue?page=%zu", screen - 1);
		if (batch)
			cv_buf_addf(b, "&amp;batch=%" PRId64, batch);
		cv_buf_adds(b, "\">Previous</a>");
	}
	if (screen < screens) {
		cv_buf_addf(b, " <a href=\"/queue?page=%zu", screen + 1);
		if (batch)
			cv_buf_addf(b, "&amp;batch=%" PRId64, batch);
		cv_buf_adds(b, "\">Next</a>");
	}
	cv_buf_adds(b, "</nav>");
}

static void route_queue_list(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_exception_item *q = NULL;
	struct cv_buf *b = &r->out;
	int64_t batch = vw_parse_id(vw_arg(r, "batch"));
	int64_t done_doc = vw_parse_id(vw_arg(r, "doc"));
	const char *done = done_text(vw_arg(r, "done"));
	size_t n = 0, shown = 0, total = 0, first, i;
	long long screen = 1;
	int ret;

	(void)id;
	if (vw_arg(r, "page") &&
	    cv_parse_ll(&screen, vw_arg(r, "page"), 1, 1000000) < 0)
		screen = 1;
	ret = t ? cv_index_exception_list(t->ix, &q, &n, &err) : CV_ERROR;
	vw_audit(r, NULL, "queue.list", "documents", NULL, "viewer",
		 ret == 0 ? "ok" : cv_errcode_name(ret));
	if (ret < 0) {
		vw_failed(r, &err);
		goto out;
	}
	vw_page_begin(r, "Exception queue");
	cv_buf_adds(b, "<h1>Exception queue</h1>");
	if (done && done_doc) {
		cv_buf_addf(b,
			    "<p class=\"ok\" role=\"status\">Document %" PRId64
			    " %s",
			    done_doc, done);
		if (!strcmp(vw_arg(r, "done"), "file"))
			cv_buf_addf(b,
				    " <a href=\"/doc/%" PRId64
				    "\">Open document %" PRId64 "</a>",
				    done_doc, done_doc);
		cv_buf_adds(b, "</p>");
	}
	if (batch)
		cv_buf_addf(b,
			    "<p>Documents of batch %" PRId64 " only. <a "
			    "href=\"/queue\">Every batch</a></p>",
			    batch);
	for (i = 0; i < n; i++)
		total += !batch || q[i].batch_id == batch;
	first = ((size_t)screen - 1) * PAGE_ROWS;
	if (total && first >= total)
		first = (total - 1) / PAGE_ROWS * PAGE_ROWS;
	for (i = 0; i < n; i++) {
		const struct cv_index_exception_item *e = &q[i];

		if (batch && e->batch_id != batch)
			continue;
		if (first > 0) {
			first--;
			continue;
		}
		if (shown == PAGE_ROWS)
			break;
		if (shown++ == 0)
			cv_buf_adds(b, "<table class=\"grid queue\"><caption>"
				       "Documents waiting to be placed, oldest "
				       "first</caption><thead><tr>"
				       "<th scope=\"col\">Document</th>"
				       "<th scope=\"col\">Reason</th>"
				       "<th scope=\"col\">Batch</th>"
				       "<th scope=\"col\">Pages</th>"
				       "<th scope=\"col\">The pages say</th>"
				       "<th scope=\"col\">Assigned to</th>"
				       "<th scope=\"col\">Type</th>"
				       "<th scope=\"col\">Confidence</th>"
				       "</tr></thead><tbody>");
		cv_buf_addf(b,
			    "<tr><th scope=\"row\"><a href=\"/queue/%" PRId64
			    "\">Document %" PRId64 "</a></th><td>",
			    e->doc_id, e->doc_id);
		kinds_text(b, e->kinds);
		cv_buf_addf(b, "</td><td><a href=\"/batch/%" PRId64 "\">",
			    e->batch_id);
		vw_esc(b, e->batch);
		cv_buf_addf(b, "</a></td><td>%d</td><td>", e->npages);
		vw_esc(b, e->suspected[0] ? e->suspected : "no name found");
		cv_buf_adds(b, "</td><td>");
		if (e->patient[0]) {
			vw_esc(b, e->patient);
			cv_buf_adds(b, " (");
			vw_esc(b, e->mrn);
			cv_buf_adds(b, ")");
		} else {
			cv_buf_adds(b, "no patient");
		}
		cv_buf_adds(b, "</td><td>");
		type_text(b, e->doc_type);
		if (e->type_confidence >= 0)
			cv_buf_addf(b, "</td><td>%.0f%%</td></tr>",
				    100.0 * e->type_confidence);
		else
			cv_buf_adds(b, "</td><td>not classified</td></tr>");
	}
	if (shown)
		cv_buf_adds(b, "</tbody></table>");
	else
		cv_buf_adds(b, "<p>No documents are waiting.</p>");
	if (total > PAGE_ROWS)
		pager(b, batch, (size_t)screen, total);
	vw_page_end(r);
out:
	free(q);
}

/* ---------------------------------------------------------------------
 * One document
 */

struct docview {
	json_t *root;
	json_t *doc, *patient, *pages, *exc, *acts;
	int64_t id;
	int open; /* in the queue and not closed: actions apply */
	int filed;
};

static void docview_release(struct docview *v)
{
	json_decref(v->root);
	memset(v, 0, sizeof(*v));
}

/* Read document id; answers 404 or 500 itself and returns <0 then. */
static int docview_load(struct vw_req *r, struct vw_thread *t, int64_t id,
			struct docview *v, int audit)
{
	struct cv_error err = CV_ERROR_INIT;
	json_error_t jerr;
	char *text = NULL, idtxt[24];
	int ret;

	memset(v, 0, sizeof(*v));
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	ret = cv_index_exception_show(t->ix, id, &text, &err);
	if (audit)
		vw_audit(r, NULL, "queue.show", "document", idtxt, "viewer",
			 ret == 0 ? "ok" : cv_errcode_name(ret));
	if (ret == CV_ENOTFOUND) {
		vw_not_found(r);
		return ret;
	}
	if (ret == 0) {
		v->root = json_loads(text, 0, &jerr);
		if (!v->root)
			ret = cv_error_set(&err, CV_ERROR,
					   "document %s: the index returned "
					   "malformed JSON",
					   idtxt);
	}
	free(text);
	if (ret < 0) {
		vw_failed(r, &err);
		return ret;
	}
	v->id = id;
	v->doc = json_object_get(v->root, "document");
	v->patient = json_object_get(v->root, "patient");
	v->pages = json_object_get(v->root, "pages");
	v->exc = json_object_get(v->root, "exceptions");
	v->acts = json_object_get(v->root, "actions");
	v->filed = !strcmp(jstr(v->doc, "state"), "filed");
	v->open = !v->filed && !json_is_true(json_object_get(v->doc, "closed"));
	return 0;
}

/* One identity as rows of a two-column comparison. */
static void identity_cell(struct cv_buf *b, json_t *p, const char *mrn)
{
	cv_buf_adds(b, "<td>");
	if (json_is_object(p)) {
		person_name(b, p);
		cv_buf_adds(b, "<br>MRN ");
		vw_esc(b, jstr(p, "mrn"));
		cv_buf_adds(b, "<br>born ");
		vw_esc(b, *jstr(p, "dob") ? jstr(p, "dob") : "unknown");
	} else if (mrn && *mrn) {
		cv_buf_adds(b, "MRN ");
		vw_esc(b, mrn);
		cv_buf_adds(b, ", not in the patient index");
	} else {
		cv_buf_adds(b, "not known");
	}
	cv_buf_adds(b, "</td>");
}

/* The reasons identity matching gives (ingest/identity.c) in words. */
static const char *unknown_text(const char *reason)
{
	static const char *const words[][2] = {
		{ "mrn not in patient index",
		  "The MRN is not in the patient index" },
		{ "mrn fails format or check digit",
		  "The MRN read does not pass the MRN format or check digit" },
		{ "no identity found",
		  "No MRN, or name and date of birth, was found" },
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(reason, words[i][0]))
			return words[i][1];
	return reason;
}

static void exceptions_section(struct cv_buf *b, const struct docview *v)
{
	json_t *e;
	size_t i, open = 0;

	cv_buf_adds(b, "<section aria-labelledby=\"why\"><h2 id=\"why\">Why "
		       "it waits</h2>");
	json_array_foreach(v->exc, i, e)
	{
		json_t *det = json_object_get(e, "detail");
		const char *kind = jstr(e, "kind");

		if (strcmp(jstr(e, "state"), "open"))
			continue;
		open++;
		if (!strcmp(kind, "misfile")) {
			cv_buf_addf(b,
				    "<table class=\"grid identities\">"
				    "<caption>Suspected misfile: page %" PRId64
				    " (",
				    jint(e, "page_id"));
			vw_esc(b, jstr(det, "rule"));
			cv_buf_adds(b, " rule)</caption><thead><tr>"
				       "<th scope=\"col\">Identity</th>"
				       "<th scope=\"col\">What the page "
				       "says</th><th scope=\"col\">The chart "
				       "it was found in</th></tr></thead>"
				       "<tbody><tr><th scope=\"row\">"
				       "Patient</th>");
			identity_cell(b, json_object_get(e, "page_patient"),
				      jstr(det, "page_mrn"));
			identity_cell(b, json_object_get(e, "chart_patient"),
				      *jstr(det, "chart_mrn")
					      ? jstr(det, "chart_mrn")
					      : jstr(det, "document_mrn"));
			cv_buf_adds(b, "</tr></tbody></table>");
		} else if (!strcmp(kind, "unknown-patient")) {
			cv_buf_adds(b, "<p class=\"exc\"><strong>Unknown "
				       "patient.</strong> ");
			if (*jstr(det, "reason")) {
				vw_esc(b, unknown_text(jstr(det, "reason")));
				cv_buf_adds(b, ". ");
			}
			cv_buf_adds(b, "The pages print: ");
			vw_esc(b, *jstr(v->doc, "found_name")
					  ? jstr(v->doc, "found_name")
					  : "no name");
			if (*jstr(v->doc, "found_dob")) {
				cv_buf_adds(b, ", born ");
				vw_esc(b, jstr(v->doc, "found_dob"));
			}
			if (*jstr(det, "mrn")) {
				cv_buf_adds(b, ", MRN ");
				vw_esc(b, jstr(det, "mrn"));
			}
			cv_buf_adds(b, ".</p>");
		} else if (!strcmp(kind, "low-confidence-type")) {
			cv_buf_adds(b, "<p class=\"exc\"><strong>Uncertain "
				       "type.</strong> The classifier chose ");
			vw_esc(b, cv_ingest_doc_type_name(jstr(det, "type")));
			cv_buf_addf(b,
				    " with %.0f%% confidence; below %.0f%% "
				    "a person decides.</p>",
				    100.0 * json_number_value(json_object_get(
						    det, "confidence")),
				    100.0 * json_number_value(json_object_get(
						    det, "threshold")));
		} else {
			cv_buf_adds(b, "<p class=\"exc\"><strong>");
			vw_esc(b, kind_text(kind));
			cv_buf_adds(b, ".</strong> ");
			vw_esc(b, jstr(det, "reason"));
			cv_buf_adds(b, "</p>");
		}
	}
	if (!open)
		cv_buf_adds(b, v->open ? "<p>Nothing is open: the document "
					 "can be filed.</p>"
				       : "<p>Nothing is open.</p>");
	cv_buf_adds(b, "</section>");
}

static void dl_row(struct cv_buf *b, const char *k, const char *v)
{
	cv_buf_adds(b, "<dt>");
	vw_esc(b, k);
	cv_buf_adds(b, "</dt><dd>");
	vw_esc(b, v && *v ? v : "unknown");
	cv_buf_adds(b, "</dd>");
}

static void details_section(struct cv_buf *b, const struct docview *v)
{
	json_t *conf = json_object_get(v->doc, "type_confidence");
	char num[64];

	cv_buf_adds(b, "<h2>Document</h2><dl><dt>Assigned to</dt><dd>");
	if (json_is_object(v->patient)) {
		person_name(b, v->patient);
		cv_buf_adds(b, ", MRN ");
		vw_esc(b, jstr(v->patient, "mrn"));
		cv_buf_adds(b, ", born ");
		vw_esc(b, jstr(v->patient, "dob"));
	} else {
		cv_buf_adds(b, "no patient");
	}
	cv_buf_adds(b, "</dd>");
	dl_row(b, "Identity from", jstr(v->doc, "identity_source"));
	dl_row(b, "Type", cv_ingest_doc_type_name(jstr(v->doc, "doc_type")));
	dl_row(b, "LOINC", jstr(v->doc, "doc_type"));
	if (json_is_number(conf))
		snprintf(num, sizeof(num), "%.0f%% (%s)",
			 100.0 * json_number_value(conf),
			 jstr(v->doc, "type_source"));
	else
		snprintf(num, sizeof(num), "set by %s",
			 jstr(v->doc, "type_source"));
	dl_row(b, "Type confidence", num);
	dl_row(b, "Service date", jstr(v->doc, "service_date"));
	cv_buf_addf(b, "<dt>Batch</dt><dd><a href=\"/batch/%" PRId64 "\">",
		    jint(v->doc, "batch_id"));
	vw_esc(b, jstr(v->doc, "batch"));
	cv_buf_adds(b, "</a></dd>");
	cv_buf_adds(b, "</dl>");
}

static void pages_table(struct cv_buf *b, const struct docview *v)
{
	json_t *p;
	size_t i;

	cv_buf_adds(b, "<table class=\"grid\"><caption>What each page "
		       "shows</caption><thead><tr><th scope=\"col\">Page"
		       "</th><th scope=\"col\">Id</th><th scope=\"col\">"
		       "Prints</th><th scope=\"col\">That is</th></tr>"
		       "</thead><tbody>");
	json_array_foreach(v->pages, i, p)
	{
		json_t *pp = json_object_get(p, "patient");

		cv_buf_addf(b,
			    "<tr><th scope=\"row\">%" PRId64 "</th><td>%" PRId64
			    "</td><td>",
			    jint(p, "seq"), jint(p, "page_id"));
		vw_esc(b, *jstr(p, "name") ? jstr(p, "name") : "no name");
		cv_buf_adds(b, ", MRN ");
		vw_esc(b, *jstr(p, "mrn") ? jstr(p, "mrn") : "none");
		if (*jstr(p, "label_mrn")) {
			cv_buf_adds(b, " (label ");
			vw_esc(b, jstr(p, "label_mrn"));
			cv_buf_adds(b, ")");
		}
		cv_buf_adds(b, ", born ");
		vw_esc(b, *jstr(p, "dob") ? jstr(p, "dob") : "unknown");
		if (json_is_object(json_object_get(p, "read_as"))) {
			json_t *ra = json_object_get(p, "read_as");

			cv_buf_adds(b, " <small>(read as ");
			vw_esc(b, *jstr(ra, "name") ? jstr(ra, "name")
						    : "no name");
			cv_buf_adds(b, ", MRN ");
			vw_esc(b, *jstr(ra, "mrn") ? jstr(ra, "mrn") : "none");
			cv_buf_adds(b, ", born ");
			vw_esc(b,
			       *jstr(ra, "dob") ? jstr(ra, "dob") : "unknown");
			cv_buf_adds(b, ")</small>");
		}
		cv_buf_adds(b, "</td><td>");
		if (json_is_object(pp))
			person_name(b, pp);
		else
			cv_buf_adds(b, "not in the patient index");
		cv_buf_adds(b, "</td></tr>");
	}
	cv_buf_adds(b, "</tbody></table>");
}

/* The thumbnails and one page large (seq sel). */
static void images(struct cv_buf *b, const struct docview *v, size_t sel)
{
	size_t n = json_array_size(v->pages), i;
	json_t *p;

	if (n == 0) {
		cv_buf_adds(b, "<p>The document has no pages.</p>");
		return;
	}
	cv_buf_adds(b, "<div class=\"docview queuedoc\"><nav class=\"thumbs\" "
		       "aria-label=\"Pages\"><ol>");
	json_array_foreach(v->pages, i, p)
	{
		cv_buf_addf(b,
			    "<li><a href=\"/queue/%" PRId64
			    "?p=%zu\"%s><img src=\"/page/%" PRId64
			    ".png?w=120\" alt=\"Page %zu\" width=\"120\" "
			    "loading=\"lazy\">"
			    "</a></li>",
			    v->id, i + 1,
			    i + 1 == sel ? " aria-current=\"page\"" : "",
			    jint(p, "page_id"), i + 1);
	}
	p = json_array_get(v->pages, sel - 1);
	cv_buf_adds(b, "</ol></nav><section class=\"viewer\" tabindex=\"0\" "
		       "aria-label=\"Page image\"><div class=\"toolbar\">");
	if (sel > 1)
		cv_buf_addf(b,
			    "<a id=\"prev\" href=\"/queue/%" PRId64
			    "?p=%zu\">Previous page</a>",
			    v->id, sel - 1);
	cv_buf_addf(b, "<span>Page %zu of %zu (page id %" PRId64 ")</span>",
		    sel, n, jint(p, "page_id"));
	if (sel < n)
		cv_buf_addf(b,
			    "<a id=\"next\" href=\"/queue/%" PRId64
			    "?p=%zu\">Next page</a>",
			    v->id, sel + 1);
	cv_buf_addf(b,
		    "</div><div class=\"page\"><img src=\"/page/%" PRId64
		    ".png?w=1000\" alt=\"Page %zu of document %" PRId64
		    "\"></div></section>",
		    jint(p, "page_id"), sel, v->id);
}

/* A patient to choose, once; candidates are unique by MRN. */
struct pick {
	char mrn[64];
	struct cv_buf label;
};

static void pick_add(struct pick *picks, size_t *n, size_t cap, const char *mrn,
		     const char *family, const char *given, const char *dob,
		     const char *why)
{
	size_t i;

	if (!mrn || !*mrn || *n == cap)
		return;
	for (i = 0; i < *n; i++)
		if (!strcmp(picks[i].mrn, mrn))
			return;
	snprintf(picks[*n].mrn, sizeof(picks[*n].mrn), "%s", mrn);
	cv_buf_init(&picks[*n].label);
	vw_esc(&picks[*n].label, family);
	cv_buf_adds(&picks[*n].label, ", ");
	vw_esc(&picks[*n].label, given);
	cv_buf_adds(&picks[*n].label, " — MRN ");
	vw_esc(&picks[*n].label, mrn);
	cv_buf_adds(&picks[*n].label, ", born ");
	vw_esc(&picks[*n].label, dob && *dob ? dob : "unknown");
	cv_buf_adds(&picks[*n].label, " (");
	vw_esc(&picks[*n].label, why);
	cv_buf_adds(&picks[*n].label, ")");
	(*n)++;
}

static void pick_json(struct pick *picks, size_t *n, size_t cap, json_t *p,
		      const char *why)
{
	if (json_is_object(p))
		pick_add(picks, n, cap, jstr(p, "mrn"), jstr(p, "family"),
			 jstr(p, "given"), jstr(p, "dob"), why);
}

/* YYYY-MM-DD, as "patients find --dob" takes it. */
static int looks_like_date(const char *s)
{
	int i;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	return s[5] <= '1' && s[8] <= '3';
}

/*
 * The patient picker: the patients the document and its pages name, and
 * those a search by name, DOB or MRN finds (cv_index_patient_find, as
 * "chartvault patients find"), each a radio button; then the type.
 */
static void assign_form(struct vw_req *r, struct vw_thread *t,
			const struct docview *v)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf *b = &r->out;
	struct cv_index_patient_query pq = { 0 };
	struct cv_index_patient_match *m = NULL;
	struct pick picks[FIND_MAX + 16];
	const char *find = vw_arg(r, "find"), *fdob = vw_arg(r, "fdob");
	const char *fmrn = vw_arg(r, "fmrn");
	const char *code = jstr(v->doc, "doc_type");
	size_t npick = 0, nm = 0, i, cap = sizeof(picks) / sizeof(picks[0]);
	/* What a search finds always has room. */
	size_t named = cap - FIND_MAX;
	int searched = 0, ret = 0;
	json_t *x;

	pick_json(picks, &npick, named, v->patient, "assigned now");
	json_array_foreach(v->exc, i, x)
	{
		if (strcmp(jstr(x, "state"), "open"))
			continue;
		pick_json(picks, &npick, named,
			  json_object_get(x, "page_patient"),
			  "what a page says");
		pick_json(picks, &npick, named,
			  json_object_get(x, "chart_patient"),
			  "the chart it was found in");
	}
	json_array_foreach(v->pages, i, x)
		pick_json(picks, &npick, named, json_object_get(x, "patient"),
			  "printed on a page");
	pq.name = find && *find ? find : NULL;
	pq.dob = fdob && *fdob ? fdob : NULL;
	pq.mrn = fmrn && *fmrn ? fmrn : NULL;
	pq.limit = FIND_MAX;
	if (pq.name || pq.dob || pq.mrn) {
		char detail[64];

		searched = 1;
		/* Checked here: the database's own complaint would quote a
		 * date of birth into the log. */
		if ((pq.name && strlen(pq.name) > 200) ||
		    (pq.mrn && strlen(pq.mrn) > 60) ||
		    (pq.dob && !looks_like_date(pq.dob)))
			ret = cv_error_set(&err, CV_EINVAL,
					   "the patient search is malformed");
		else
			ret = cv_index_patient_find(t->ix, &pq, &m, &nm, &err);
		/* Who looked whom up is audited; the name asked is not. */
		snprintf(detail, sizeof(detail), "results=%zu%s%s viewer", nm,
			 pq.dob ? " by-dob" : "", pq.mrn ? " by-mrn" : "");
		vw_audit(r, NULL, "patients.find", "patients", NULL, detail,
			 ret == 0 ? "ok" : cv_errcode_name(ret));
		for (i = 0; i < nm; i++)
			pick_add(picks, &npick, cap, m[i].p.mrn, m[i].p.family,
				 m[i].p.given, m[i].p.dob, "found");
	}

	cv_buf_addf(
		b,
		"<section class=\"action\" aria-labelledby=\"h-assign\">"
		"<h3 id=\"h-assign\">Assign patient and type</h3>"
		"<form class=\"find\" method=\"get\" action=\"/queue/%" PRId64
		"#h-assign\" role=\"search\" aria-label=\"Find a patient\">"
		"<label for=\"find\">Find a patient by name</label>"
		"<input id=\"find\" name=\"find\" maxlength=\"200\" "
		"value=\"",
		v->id);
	vw_esc(b, find ? find : "");
	cv_buf_adds(b, "\"><label for=\"fdob\">Date of birth</label>"
		       "<input id=\"fdob\" name=\"fdob\" type=\"date\" "
		       "value=\"");
	vw_esc(b, fdob ? fdob : "");
	cv_buf_adds(b, "\"><label for=\"fmrn\">MRN</label><input id=\"fmrn\" "
		       "name=\"fmrn\" maxlength=\"60\" value=\"");
	vw_esc(b, fmrn ? fmrn : "");
	cv_buf_adds(b, "\"> <button type=\"submit\">Find</button></form>");
	if (searched && ret == CV_EINVAL)
		cv_buf_adds(b, "<p class=\"error\" role=\"alert\">Give a name "
			       "(at most 200 characters), a date of birth "
			       "as YYYY-MM-DD or an MRN.</p>");
	else if (searched && ret < 0) {
		cv_log_error(&err);
		cv_buf_adds(b, "<p class=\"error\" role=\"alert\">The "
			       "patient search failed; the error has been "
			       "logged.</p>");
	} else if (searched)
		cv_buf_addf(b, "<p role=\"status\">%zu patient%s found.</p>",
			    nm, nm == 1 ? "" : "s");

	cv_buf_addf(b,
		    "<form method=\"post\" action=\"/queue/%" PRId64
		    "/assign\">",
		    v->id);
	vw_csrf_field(r);
	if (npick == 0) {
		cv_buf_adds(b, "<p>No patient to choose yet: find one "
			       "above.</p>");
	} else {
		cv_buf_adds(b, "<fieldset><legend>Patient</legend>");
		for (i = 0; i < npick; i++) {
			cv_buf_addf(b,
				    "<div class=\"pick\"><input type=\"radio\" "
				    "name=\"mrn\" id=\"mrn-%zu\" value=\"",
				    i);
			vw_esc(b, picks[i].mrn);
			cv_buf_addf(b,
				    "\"%s><label for=\"mrn-%zu\">%s</label>"
				    "</div>",
				    i == 0 && !searched ? " checked" : "", i,
				    picks[i].label.buf);
		}
		cv_buf_adds(b, "</fieldset>");
	}
	cv_buf_adds(b, "<label for=\"type\">Type</label><select id=\"type\" "
		       "name=\"type\"><option value=\"\">keep: ");
	vw_esc(b, cv_ingest_doc_type_name(code));
	cv_buf_adds(b, "</option>");
	for (i = 0; i < cv_ingest_doctype_count(); i++) {
		const struct cv_ingest_doctype *d = cv_ingest_doctype_at(i);

		cv_buf_adds(b, "<option value=\"");
		vw_esc(b, d->code);
		cv_buf_adds(b, "\">");
		vw_esc(b, d->name);
		cv_buf_adds(b, " (");
		vw_esc(b, d->code);
		cv_buf_adds(b, ")</option>");
	}
	cv_buf_addf(b,
		    "<option value=\"%s\">other</option></select> "
		    "<button type=\"submit\"%s>Assign</button></form>"
		    "</section>",
		    CV_INGEST_TYPE_OTHER, npick ? "" : " disabled");
	for (i = 0; i < npick; i++)
		cv_buf_release(&picks[i].label);
	free(m);
}

/* The other documents of the queue, as <option>s (merge, move-to). */
static void other_docs(struct cv_buf *b,
		       const struct cv_index_exception_item *q, size_t n,
		       int64_t self)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (q[i].doc_id == self)
			continue;
		cv_buf_addf(b,
			    "<option value=\"%" PRId64 "\">Document %" PRId64,
			    q[i].doc_id, q[i].doc_id);
		cv_buf_adds(b, ": ");
		vw_esc(b, cv_ingest_doc_type_name(q[i].doc_type));
		cv_buf_addf(b, ", %d page%s, ", q[i].npages,
			    q[i].npages == 1 ? "" : "s");
		vw_esc(b, q[i].patient[0] ? q[i].patient : "no patient");
		cv_buf_adds(b, "</option>");
	}
}

static void action_forms(struct vw_req *r, struct vw_thread *t,
			 const struct docview *v)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_exception_item *q = NULL;
	struct cv_buf *b = &r->out;
	size_t n = 0, npages = json_array_size(v->pages), i;
	json_t *p;

	cv_buf_adds(b, "<h2>Actions</h2>");
	assign_form(r, t, v);
	/* Without the list, merge and move still take a number. */
	if (cv_index_exception_list(t->ix, &q, &n, &err) < 0) {
		cv_log_error(&err);
		n = 0;
	}
	if (npages >= 2) {
		cv_buf_addf(b,
			    "<section class=\"action\" aria-labelledby="
			    "\"h-split\"><h3 id=\"h-split\">Split</h3>"
			    "<form method=\"post\" action=\"/queue/%" PRId64
			    "/split\">",
			    v->id);
		vw_csrf_field(r);
		cv_buf_adds(b, "<label for=\"after\">Split after page</label>"
			       "<select id=\"after\" name=\"after\">");
		for (i = 1; i < npages; i++)
			cv_buf_addf(b,
				    "<option value=\"%zu\">after page %zu of "
				    "%zu</option>",
				    i, i, npages);
		cv_buf_adds(b, "</select> <button type=\"submit\">Split"
			       "</button><p class=\"help\">The later pages "
			       "become a new document in the queue.</p>"
			       "</form></section>");
	}
	cv_buf_addf(b,
		    "<section class=\"action\" aria-labelledby=\"h-merge\">"
		    "<h3 id=\"h-merge\">Merge</h3><form method=\"post\" "
		    "action=\"/queue/%" PRId64 "/merge\">",
		    v->id);
	vw_csrf_field(r);
	cv_buf_adds(b, "<label for=\"other\">Document to append to this "
		       "one</label><input id=\"other\" name=\"other\" "
		       "type=\"number\" min=\"1\" required list=\"queue-docs\" "
		       "aria-describedby=\"merge-help\"> <button "
		       "type=\"submit\">Merge</button><p id=\"merge-help\" "
		       "class=\"help\">Its pages go to the end of this "
		       "document, and it is closed.</p></form></section>");
	if (npages >= 1) {
		cv_buf_addf(b,
			    "<section class=\"action\" aria-labelledby="
			    "\"h-move\"><h3 id=\"h-move\">Move a page</h3>"
			    "<form method=\"post\" action=\"/queue/%" PRId64
			    "/move\">",
			    v->id);
		vw_csrf_field(r);
		cv_buf_adds(b, "<label for=\"page\">Page</label><select "
			       "id=\"page\" name=\"page\">");
		json_array_foreach(v->pages, i, p)
		{
			cv_buf_addf(b,
				    "<option value=\"%" PRId64
				    "\">page %zu (id %" PRId64 "): ",
				    jint(p, "page_id"), i + 1,
				    jint(p, "page_id"));
			vw_esc(b,
			       *jstr(p, "name") ? jstr(p, "name") : "no name");
			cv_buf_adds(b, "</option>");
		}
		cv_buf_adds(b, "</select><label for=\"to\">To document"
			       "</label><input id=\"to\" name=\"to\" "
			       "type=\"number\" min=\"1\" required "
			       "list=\"queue-docs\" aria-describedby="
			       "\"move-help\"> <button type=\"submit\">Move"
			       "</button><p id=\"move-help\" class=\"help\">"
			       "The page goes to the end of that document, "
			       "which waits in the queue again.</p></form>"
			       "</section>");
	}
	cv_buf_adds(b, "<datalist id=\"queue-docs\">");
	other_docs(b, q, n, v->id);
	cv_buf_adds(b, "</datalist>");
	cv_buf_addf(b,
		    "<section class=\"action\" aria-labelledby=\"h-file\">"
		    "<h3 id=\"h-file\">File</h3><form method=\"post\" "
		    "action=\"/queue/%" PRId64 "/file\">",
		    v->id);
	vw_csrf_field(r);
	cv_buf_adds(b, "<p class=\"help\">Into its patient's chart, "
		       "re-indexed for search. Refused while an exception "
		       "is open.</p><button type=\"submit\">File document"
		       "</button></form></section>");
	cv_buf_addf(b,
		    "<section class=\"action\" aria-labelledby=\"h-reject\">"
		    "<h3 id=\"h-reject\">Reject</h3><form method=\"post\" "
		    "action=\"/queue/%" PRId64 "/reject\">",
		    v->id);
	vw_csrf_field(r);
	cv_buf_addf(b,
		    "<label for=\"reason\">Reason</label><input id=\"reason\" "
		    "name=\"reason\" required maxlength=\"%d\"> <button "
		    "type=\"submit\" class=\"secondary\">Reject document"
		    "</button></form></section>",
		    REASON_MAX);
	free(q);
}

/* A snapshot ("before"/"after" entry) in a few words. */
static void snapshot_text(struct cv_buf *b, json_t *s)
{
	cv_buf_addf(b, "document %" PRId64 ": %zu page%s, ", jint(s, "id"),
		    json_array_size(json_object_get(s, "pages")),
		    json_array_size(json_object_get(s, "pages")) == 1 ? ""
								      : "s");
	if (*jstr(s, "mrn")) {
		cv_buf_adds(b, "MRN ");
		vw_esc(b, jstr(s, "mrn"));
	} else {
		cv_buf_adds(b, "no patient");
	}
	cv_buf_adds(b, ", ");
	vw_esc(b, cv_ingest_doc_type_name(jstr(s, "doc_type")));
	cv_buf_adds(b, ", ");
	if (json_is_true(json_object_get(s, "closed")))
		cv_buf_adds(b, "closed");
	else
		vw_esc(b, jstr(s, "state"));
	if (json_array_size(json_object_get(s, "open_exceptions")))
		cv_buf_addf(
			b, ", %zu open exception%s",
			json_array_size(json_object_get(s, "open_exceptions")),
			json_array_size(
				json_object_get(s, "open_exceptions")) == 1
				? ""
				: "s");
}

static void snapshots_text(struct cv_buf *b, json_t *arr)
{
	json_t *s;
	size_t i;

	if (json_is_object(arr)) {
		snapshot_text(b, arr);
		return;
	}
	json_array_foreach(arr, i, s)
	{
		if (i)
			cv_buf_adds(b, "; ");
		snapshot_text(b, s);
	}
}

/* "2026-11-25T12:59:07.418125+00:00" as "2026-11-25 12:59:07 +00:00". */
static void time_text(struct cv_buf *b, const char *at)
{
	size_t n = strlen(at), frac;

	if (n < 19 || at[10] != 'T') {
		vw_esc(b, at);
		return;
	}
	vw_escn(b, at, 10);
	cv_buf_addch(b, ' ');
	vw_escn(b, at + 11, 8);
	frac = 19;
	if (at[frac] == '.')
		frac += strspn(at + frac + 1, "0123456789") + 1;
	if (at[frac]) {
		cv_buf_addch(b, ' ');
		vw_esc(b, at + frac);
	}
}

static void history(struct cv_buf *b, const struct docview *v)
{
	json_t *a;
	size_t i;

	cv_buf_adds(b, "<section aria-labelledby=\"h-history\"><h2 "
		       "id=\"h-history\">History</h2>");
	if (json_array_size(v->acts) == 0) {
		cv_buf_adds(b, "<p>No action has been taken on this document "
			       "yet.</p></section>");
		return;
	}
	cv_buf_adds(b, "<table class=\"grid history\"><caption>Queue actions "
		       "on this document, oldest first</caption><thead><tr>"
		       "<th scope=\"col\">When</th><th scope=\"col\">Action"
		       "</th><th scope=\"col\">By</th><th scope=\"col\">"
		       "Before</th><th scope=\"col\">After</th></tr></thead>"
		       "<tbody>");
	json_array_foreach(v->acts, i, a)
	{
		cv_buf_adds(b, "<tr><td>");
		time_text(b, jstr(a, "at"));
		cv_buf_adds(b, "</td><th scope=\"row\">");
		vw_esc(b, jstr(a, "action"));
		if (jint(a, "page_id"))
			cv_buf_addf(b, " (page %" PRId64 ")",
				    jint(a, "page_id"));
		cv_buf_adds(b, "</th><td>");
		vw_esc(b, jstr(a, "actor"));
		cv_buf_adds(b, "</td><td>");
		snapshots_text(b, json_object_get(a, "before"));
		cv_buf_adds(b, "</td><td>");
		snapshots_text(b, json_object_get(a, "after"));
		cv_buf_adds(b, "</td></tr>");
	}
	cv_buf_adds(b, "</tbody></table></section>");
}

static const char *action_done_text(const char *done)
{
	static const char *const msgs[][2] = {
		{ "assign", "Patient and type assigned." },
		{ "split", "Split: the later pages are a new document." },
		{ "merge",
		  "Merged: the other document's pages were appended." },
		{ "move", "Page moved." },
	};
	size_t i;

	for (i = 0; done && i < sizeof(msgs) / sizeof(msgs[0]); i++)
		if (!strcmp(done, msgs[i][0]))
			return msgs[i][1];
	return NULL;
}

/* The document's page; msg a refusal to show, with r->status set. */
static void render_doc(struct vw_req *r, struct vw_thread *t, int64_t id,
		       const char *msg, int audit)
{
	struct cv_buf *b = &r->out;
	struct docview v;
	const char *done = action_done_text(vw_arg(r, "done"));
	int64_t other = vw_parse_id(vw_arg(r, "other"));
	long long sel = 1;
	size_t npages;
	char title[64];

	if (docview_load(r, t, id, &v, audit) < 0)
		return;
	npages = json_array_size(v.pages);
	if (vw_arg(r, "p") &&
	    (npages == 0 ||
	     cv_parse_ll(&sel, vw_arg(r, "p"), 1, (long long)npages) < 0))
		sel = 1;
	snprintf(title, sizeof(title), "Queue: document %" PRId64, id);
	vw_page_begin(r, title);
	cv_buf_addf(b,
		    "<p><a href=\"/queue\">Back to the exception queue</a></p>"
		    "<h1>Document %" PRId64 " <span class=\"sub\">",
		    id);
	type_text(b, jstr(v.doc, "doc_type"));
	cv_buf_adds(b, "</span></h1>");
	if (msg) {
		/* The index's messages start in lower case, for logs. */
		char first[2] = { (char)toupper((unsigned char)msg[0]), '\0' };

		cv_buf_adds(b, "<p class=\"error\" role=\"alert\"><strong>Not "
			       "done.</strong> ");
		vw_esc(b, first);
		if (msg[0])
			vw_esc(b, msg + 1);
		cv_buf_adds(b, ".</p>");
	} else if (done) {
		cv_buf_adds(b, "<p class=\"ok\" role=\"status\">");
		vw_esc(b, done);
		if (other)
			cv_buf_addf(b,
				    " <a href=\"/queue/%" PRId64
				    "\">Open document %" PRId64 "</a>",
				    other, other);
		cv_buf_adds(b, "</p>");
	}
	if (v.filed) {
		cv_buf_adds(b, "<p class=\"ok\">Filed in its patient's "
			       "chart by ");
		vw_esc(b, jstr(v.doc, "filed_by"));
		cv_buf_addf(b,
			    ". <a href=\"/doc/%" PRId64 "\">Open the "
			    "document</a></p>",
			    id);
	} else if (!v.open) {
		cv_buf_adds(b, "<p class=\"state\">Closed: ");
		vw_esc(b, jstr(v.doc, "closed_reason"));
		cv_buf_adds(b, "</p>");
	} else {
		cv_buf_adds(b, "<p class=\"state\">Waiting in the exception "
			       "queue.</p>");
	}
	if (!v.filed) {
		exceptions_section(b, &v);
		images(b, &v, (size_t)sel);
		cv_buf_adds(b, "<section class=\"side\" aria-label=\"Details "
			       "and actions\">");
		details_section(b, &v);
		pages_table(b, &v);
		if (v.open)
			action_forms(r, t, &v);
		cv_buf_adds(b, "</section>");
		if (json_array_size(v.pages))
			cv_buf_adds(b, "</div>");
	}
	history(b, &v);
	vw_page_end(r);
	docview_release(&v);
}

static void route_queue_doc(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);

	if (!t) {
		vw_failed(r, &err);
		return;
	}
	render_doc(r, t, id, NULL, 1);
}

/* ---------------------------------------------------------------------
 * Actions
 */

static int fetch_text(void *ctx, const uint8_t *oid, struct cv_buf *out,
		      struct cv_error *err)
{
	struct vw_thread *t = ctx;

	return cv_archive_get_mem(t->ar, oid, out, TEXT_MAX, err);
}

/* A refusal shown on the document's page (and audited as the CLI does). */
static void refused(struct vw_req *r, struct vw_thread *t, int64_t id,
		    const char *verb, int code, const char *msg)
{
	char object[24];

	snprintf(object, sizeof(object), "%" PRId64, id);
	vw_audit(r, NULL, "queue.refused", "document", object, verb,
		 cv_errcode_name(code));
	r->status = 409;
	render_doc(r, t, id, msg, 0);
}

static void act(struct vw_req *r, int64_t id, const char *verb)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	const char *user = r->sess.user.name;
	int64_t other = 0, page;
	long long after;
	char loc[128];
	const char *s;
	int ret;

	if (!t) {
		vw_failed(r, &err);
		return;
	}
	if (!strcmp(verb, "assign")) {
		const char *mrn = vw_field(r, "mrn");
		const char *type = vw_field(r, "type");

		if (!mrn || !*mrn) {
			refused(r, t, id, verb, CV_EINVAL,
				"Choose a patient first (find one by name, "
				"date of birth or MRN)");
			return;
		}
		if (type && *type && !cv_ingest_doctype_known(type)) {
			refused(r, t, id, verb, CV_EINVAL,
				"That is not a known document type");
			return;
		}
		ret = cv_index_exception_assign(t->ix, user, id, mrn,
						type && *type ? type : NULL,
						&err);
	} else if (!strcmp(verb, "split")) {
		s = vw_field(r, "after");
		if (!s || cv_parse_ll(&after, s, 1, 999999) < 0) {
			refused(r, t, id, verb, CV_EINVAL,
				"Choose the page to split after");
			return;
		}
		ret = cv_index_exception_split(t->ix, user, id, (int)after + 1,
					       &other, &err);
	} else if (!strcmp(verb, "merge")) {
		other = vw_parse_id(vw_field(r, "other"));
		if (!other) {
			refused(r, t, id, verb, CV_EINVAL,
				"Give the number of the document to merge");
			return;
		}
		ret = cv_index_exception_merge(t->ix, user, id, other, &err);
	} else if (!strcmp(verb, "move")) {
		page = vw_parse_id(vw_field(r, "page"));
		other = vw_parse_id(vw_field(r, "to"));
		if (!page || !other) {
			refused(r, t, id, verb, CV_EINVAL,
				"Choose a page and give the number of the "
				"document to move it to");
			return;
		}
		ret = cv_index_exception_move_page(t->ix, user, page, other,
						   &err);
	} else if (!strcmp(verb, "file")) {
		ret = cv_index_exception_file(t->ix, user, id, fetch_text, t,
					      &err);
	} else {
		s = vw_field(r, "reason");
		ret = cv_index_exception_reject(t->ix, user, id, s ? s : "",
						&err);
	}
	if (ret == CV_EINVAL || ret == CV_ENOTFOUND) {
		/* The index's messages name ids and kinds, never a patient. */
		refused(r, t, id, verb, ret, err.msg);
		return;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		return;
	}
	if (!strcmp(verb, "file") || !strcmp(verb, "reject"))
		snprintf(loc, sizeof(loc), "/queue?done=%s&doc=%" PRId64, verb,
			 id);
	else if (other)
		snprintf(loc, sizeof(loc),
			 "/queue/%" PRId64 "?done=%s&other=%" PRId64, id, verb,
			 other);
	else
		snprintf(loc, sizeof(loc), "/queue/%" PRId64 "?done=%s", id,
			 verb);
	vw_redirect(r, loc);
}

static void route_assign(struct vw_req *r, int64_t id)
{
	act(r, id, "assign");
}

static void route_split(struct vw_req *r, int64_t id)
{
	act(r, id, "split");
}

static void route_merge(struct vw_req *r, int64_t id)
{
	act(r, id, "merge");
}

static void route_move(struct vw_req *r, int64_t id)
{
	act(r, id, "move");
}

static void route_file(struct vw_req *r, int64_t id)
{
	act(r, id, "file");
}

static void route_reject(struct vw_req *r, int64_t id)
{
	act(r, id, "reject");
}

/* As the queue command: records staff, compliance, admin. */
const struct vw_route vw_routes_queue[] = {
	{ "GET", "/queue", NULL, VW_STAFF, route_queue_list, "Exceptions" },
	{ "GET", "/queue/", "", VW_STAFF, route_queue_doc, NULL },
	{ "POST", "/queue/", "/assign", VW_STAFF, route_assign, NULL },
	{ "POST", "/queue/", "/split", VW_STAFF, route_split, NULL },
	{ "POST", "/queue/", "/merge", VW_STAFF, route_merge, NULL },
	{ "POST", "/queue/", "/move", VW_STAFF, route_move, NULL },
	{ "POST", "/queue/", "/file", VW_STAFF, route_file, NULL },
	{ "POST", "/queue/", "/reject", VW_STAFF, route_reject, NULL },
	{ NULL, NULL, NULL, NULL, NULL, NULL },
};
