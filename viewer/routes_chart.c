/*
 * Patient lookup and the patient chart: find a patient by name (fuzzy),
 * MRN or date of birth, then see the chart's demographics, its counts and
 * its documents as a timeline by year and month.
 *
 * A restricted chart (index/access.c decides) opened without a standing
 * permission offers the break-the-glass form instead: a reason and the
 * kind of emergency give the user access for viewer.glass_minutes, and
 * the grant waits for compliance review (routes_access.c). Documents and
 * pages of a chart the user may not open are answered exactly as ones
 * that do not exist (vw_record_access), so ids cannot be probed; only the
 * chart itself, reached by the patient's id from lookup, offers the form.
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

#define LOOKUP_LIMIT 20

static const char *const month_names[] = {
	"January", "February", "March",     "April",   "May",      "June",
	"July",    "August",   "September", "October", "November", "December",
};

/* An audit row about a patient's chart, with the patient's MRN, so that
 * "who looked at this chart" finds it. */
static void audit_patient(struct vw_req *r, struct cv_index *ix,
			  const char *action, int64_t patient_id,
			  const char *mrn, const char *detail,
			  const char *outcome)
{
	struct cv_index_audit_entry e;
	struct cv_error err = CV_ERROR_INIT;
	char pid[24];

	snprintf(pid, sizeof(pid), "%" PRId64, patient_id);
	memset(&e, 0, sizeof(e));
	e.actor = r->sess.user.name;
	e.action = action;
	e.object_type = "patient";
	e.object_id = pid;
	e.patient = mrn && *mrn ? mrn : NULL;
	e.detail = detail;
	e.outcome = outcome;
	if (cv_index_audit_append(ix, &e, NULL, &err) < 0)
		cv_log_warnx("viewer: could not audit %s: %s", action, err.msg);
}

int vw_record_access(struct vw_req *r, struct cv_index *ix, const char *kind,
		     int64_t id, int64_t *patient_id, struct cv_error *err)
{
	struct cv_index_access_info a;
	char detail[64];
	int ret;

	if (patient_id)
		*patient_id = 0;
	ret = !strcmp(kind, "page")
		      ? cv_index_page_access(ix, r->sess.user.name, id, &a, err)
		      : cv_index_document_access(ix, r->sess.user.name, id, &a,
						 err);
	if (ret < 0)
		return ret;
	if (cv_index_access_allowed(a.decision)) {
		if (patient_id)
			*patient_id = a.patient_id;
		return 0;
	}
	snprintf(detail, sizeof(detail), "restricted chart, %s %" PRId64 ", %s",
		 kind, id, cv_index_access_name(a.decision));
	audit_patient(r, ix, "access.denied", a.patient_id, a.mrn, detail,
		      "denied");
	/* The same code and words as a record that does not exist. */
	return cv_error_set(err, CV_ENOTFOUND, "no %s %" PRId64, kind, id);
}

void vw_restricted_hit(struct vw_req *r, const struct cv_index_hit *h)
{
	struct cv_buf *b = &r->out;

	cv_buf_adds(b, "<li class=\"restricted-hit\"><span class=\"doctype\">");
	vw_esc(b, cv_ingest_doc_type_name(h->doc.doc_type));
	cv_buf_adds(b, "</span> <span class=\"who\">");
	vw_esc(b, h->doc.patient_name[0] ? h->doc.patient_name
					 : "unknown patient");
	cv_buf_adds(b, ", MRN ");
	vw_esc(b, h->doc.mrn[0] ? h->doc.mrn : "unknown");
	cv_buf_adds(b, "</span><p class=\"restricted\">A result in a "
		       "restricted chart: no text is shown. ");
	if (h->patient_id && h->access == CV_INDEX_ACCESS_NEEDS_REASON) {
		cv_buf_addf(b, "<a href=\"/patient/%" PRId64 "\">",
			    h->patient_id);
		cv_buf_adds(b, "Give a reason to open the chart</a>");
	}
	cv_buf_adds(b, "</p></li>");
}

void vw_patient_link(struct vw_req *r, int64_t patient_id, const char *name)
{
	if (patient_id > 0)
		cv_buf_addf(&r->out, "<a href=\"/patient/%" PRId64 "\">",
			    patient_id);
	vw_esc(&r->out, name && *name ? name : "unknown patient");
	if (patient_id > 0)
		cv_buf_adds(&r->out, "</a>");
}

/* ---------------------------------------------------------------------
 * Lookup
 */

static void patient_name(struct cv_buf *b, const struct cv_index_patient *p)
{
	vw_esc(b, p->family[0] ? p->family : "(no family name)");
	if (p->given[0]) {
		cv_buf_adds(b, ", ");
		vw_esc(b, p->given);
	}
}

static void lookup_form(struct vw_req *r, const char *name, const char *mrn,
			const char *dob)
{
	struct cv_buf *b = &r->out;

	cv_buf_adds(b, "<form class=\"lookup\" method=\"get\" "
		       "action=\"/patients\" role=\"search\" "
		       "aria-label=\"Find a patient\">"
		       "<div><label for=\"name\">Name</label>"
		       "<input id=\"name\" name=\"name\" autocomplete=\"off\" "
		       "aria-describedby=\"namehelp\" value=\"");
	vw_esc(b, name);
	cv_buf_adds(b, "\"></div><div><label for=\"mrn\">MRN</label>"
		       "<input id=\"mrn\" name=\"mrn\" autocomplete=\"off\" "
		       "inputmode=\"numeric\" value=\"");
	vw_esc(b, mrn);
	cv_buf_adds(b, "\"></div><div><label for=\"dob\">Date of birth</label>"
		       "<input id=\"dob\" name=\"dob\" type=\"date\" value=\"");
	vw_esc(b, dob);
	cv_buf_adds(b, "\"></div><div class=\"go\"><button type=\"submit\">"
		       "Find</button></div></form><p id=\"namehelp\" "
		       "class=\"help\">\"Given Family\" or \"Family, Given\"; "
		       "similar spellings, nicknames and swapped names are "
		       "found too. Any one field is enough.</p>");
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

static void route_patients(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index *ix = t ? t->ix : NULL;
	struct cv_index_patient_query q = { NULL, NULL, NULL, LOOKUP_LIMIT };
	struct cv_index_patient_match *m = NULL;
	struct cv_buf *b = &r->out;
	const char *name = nonempty(vw_arg(r, "name"));
	const char *mrn = nonempty(vw_arg(r, "mrn"));
	const char *dob = nonempty(vw_arg(r, "dob"));
	char detail[64];
	size_t n = 0, i;
	int32_t day;
	int ret;

	(void)id;
	if (!ix) {
		vw_failed(r, &err);
		return;
	}
	vw_page_begin(r, "Patients");
	cv_buf_adds(b, "<h1>Find a patient</h1>");
	lookup_form(r, name, mrn, dob);
	if (!name && !mrn && !dob) {
		vw_page_end(r);
		return;
	}
	if (dob && cv_retention_date_parse(&day, dob) < 0) {
		r->status = 400;
		cv_buf_adds(b, "<p class=\"error\" role=\"alert\">The date of "
			       "birth must be a date, YYYY-MM-DD.</p>");
		vw_page_end(r);
		return;
	}
	q.name = name;
	q.mrn = mrn;
	q.dob = dob;
	ret = cv_index_patient_find(ix, &q, &m, &n, &err);
	/* As the command line audits it: who looked, never whom for. */
	snprintf(detail, sizeof(detail), "results=%zu%s%s viewer", n,
		 dob ? " by-dob" : "", mrn ? " by-mrn" : "");
	vw_audit(r, NULL, "patients.find", "patients", NULL, detail,
		 ret == 0 ? "ok" : cv_errcode_name(ret));
	if (ret == CV_EINVAL) {
		r->status = 400;
		cv_buf_adds(b, "<p class=\"error\" role=\"alert\">");
		vw_esc(b, err.msg);
		cv_buf_adds(b, "</p>");
		goto out;
	}
	if (ret < 0) {
		free(m);
		vw_failed(r, &err);
		return;
	}
	if (n == 0) {
		cv_buf_adds(b, "<h2 id=\"found\">No patient found</h2>");
		goto out;
	}
	cv_buf_addf(b,
		    "<h2 id=\"found\">%zu patient%s found</h2>"
		    "<table class=\"grid patients\"><caption>Patients, best "
		    "match first</caption><thead><tr><th scope=\"col\">Name"
		    "</th><th scope=\"col\">MRN</th><th scope=\"col\">Date of "
		    "birth</th><th scope=\"col\">Sex</th><th scope=\"col\">"
		    "Deceased</th><th scope=\"col\">Chart</th></tr></thead>"
		    "<tbody>",
		    n, n == 1 ? "" : "s");
	for (i = 0; i < n; i++) {
		const struct cv_index_patient *p = &m[i].p;
		struct cv_index_access_info a;

		if (cv_index_chart_access(ix, r->sess.user.name, p->id, &a,
					  &err) < 0)
			a.restricted[0] = '\0';
		cv_buf_addf(b,
			    "<tr><th scope=\"row\"><a href=\"/patient/%" PRId64
			    "\">",
			    p->id);
		patient_name(b, p);
		cv_buf_adds(b, "</a></th><td>");
		vw_esc(b, p->mrn);
		cv_buf_adds(b, "</td><td>");
		vw_esc(b, p->dob[0] ? p->dob : "unknown");
		cv_buf_adds(b, "</td><td>");
		vw_esc(b, p->sex[0] ? p->sex : "unknown");
		cv_buf_adds(b, "</td><td>");
		vw_esc(b, p->deceased_on[0] ? p->deceased_on : "none recorded");
		cv_buf_adds(b, "</td><td>");
		cv_buf_adds(b, a.restricted[0] ? "Restricted" : "Open");
		cv_buf_adds(b, "</td></tr>");
	}
	cv_buf_adds(b, "</tbody></table>");
out:
	vw_page_end(r);
	free(m);
}

/* ---------------------------------------------------------------------
 * Break the glass
 */

static void glass_form(struct vw_req *r, int64_t patient_id,
		       const struct cv_index_patient *p, const char *msg,
		       const char *category, const char *reason)
{
	struct cv_buf *b = &r->out;
	size_t i;

	vw_page_begin(r, "Restricted chart");
	cv_buf_adds(b, "<h1>Restricted chart <span class=\"sub\">");
	patient_name(b, p);
	cv_buf_adds(b, ", MRN ");
	vw_esc(b, p->mrn);
	cv_buf_adds(b, "</span></h1><p class=\"restricted\">This chart is "
		       "restricted. You have no standing permission to open "
		       "it.</p><p>In an emergency you may open it now by "
		       "saying why. ");
	cv_buf_addf(b,
		    "Access lasts %u minutes, is recorded in the audit trail "
		    "and is reviewed by a compliance officer.</p>",
		    r->srv->o->glass_minutes);
	if (msg) {
		cv_buf_adds(b, "<p class=\"error\" role=\"alert\" "
			       "id=\"glasserror\">");
		vw_esc(b, msg);
		cv_buf_adds(b, "</p>");
	}
	cv_buf_addf(b,
		    "<form class=\"glass\" method=\"post\" action=\"/patient/"
		    "%" PRId64 "/glass\">",
		    patient_id);
	vw_csrf_field(r);
	cv_buf_adds(b, "<fieldset><legend>Kind of emergency</legend>");
	for (i = 0; cv_index_glass_categories[i][0]; i++) {
		const char *code = cv_index_glass_categories[i][0];

		cv_buf_adds(b, "<div class=\"choice\"><input type=\"radio\" "
			       "name=\"category\" required id=\"cat-");
		vw_esc(b, code);
		cv_buf_adds(b, "\" value=\"");
		vw_esc(b, code);
		cv_buf_adds(b, "\"");
		if (category && !strcmp(category, code))
			cv_buf_adds(b, " checked");
		cv_buf_adds(b, "><label for=\"cat-");
		vw_esc(b, code);
		cv_buf_adds(b, "\">");
		vw_esc(b, cv_index_glass_categories[i][1]);
		cv_buf_adds(b, "</label></div>");
	}
	cv_buf_addf(b,
		    "</fieldset><label for=\"reason\">Reason</label>"
		    "<textarea id=\"reason\" name=\"reason\" rows=\"3\" "
		    "cols=\"60\" required minlength=\"%d\" maxlength=\"%d\" "
		    "aria-describedby=\"reasonhelp%s\">",
		    CV_INDEX_GLASS_REASON_MIN, CV_INDEX_GLASS_REASON_MAX,
		    msg ? " glasserror" : "");
	vw_esc(b, reason);
	cv_buf_addf(b,
		    "</textarea><p id=\"reasonhelp\" class=\"help\">At least "
		    "%d characters: who needs the chart and why now. Do not "
		    "copy clinical text from elsewhere.</p><button "
		    "type=\"submit\">Open the chart (emergency access)</button>"
		    "</form><p><a href=\"/patients\">Back to patient lookup"
		    "</a></p>",
		    CV_INDEX_GLASS_REASON_MIN);
	vw_page_end(r);
}

static void route_glass(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index *ix = t ? t->ix : NULL;
	struct cv_index_access_info a;
	struct cv_index_patient p;
	const char *category = vw_field(r, "category");
	const char *reason = vw_field(r, "reason");
	char where[48];
	int64_t grant = 0;
	int ret;

	if (!ix) {
		vw_failed(r, &err);
		return;
	}
	snprintf(where, sizeof(where), "/patient/%" PRId64, id);
	ret = cv_index_chart_access(ix, r->sess.user.name, id, &a, &err);
	if (ret == 0)
		ret = cv_index_patient_get(ix, id, &p, &err);
	if (ret == CV_ENOTFOUND) {
		vw_not_found(r);
		return;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		return;
	}
	/* Opened meanwhile (a second tab, a permission): nothing to do. */
	if (cv_index_access_allowed(a.decision)) {
		vw_redirect(r, where);
		return;
	}
	ret = cv_index_emergency_grant(ix, r->sess.user.name, id, category,
				       reason, (int)r->srv->o->glass_minutes,
				       &grant, &err);
	if (ret == CV_EINVAL) {
		r->status = 400;
		glass_form(r, id, &p, err.msg, category, reason);
		return;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		return;
	}
	vw_redirect(r, where);
}

/* ---------------------------------------------------------------------
 * The chart
 */

struct type_count {
	const char *code;
	int64_t docs, pages;
};

/* Counts by type, most documents first. */
static struct type_count *count_types(const struct cv_index_chart_doc *d,
				      size_t n, size_t *ntypes)
{
	struct type_count *tc = cv_calloc(n + 1, sizeof(*tc)), tmp;
	size_t i, j, k = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < k && strcmp(tc[j].code, d[i].doc_type); j++)
			;
		if (j == k)
			tc[k++].code = d[i].doc_type;
		tc[j].docs++;
		tc[j].pages += d[i].pages;
	}
	/* A few types at most: insertion sort keeps equal counts in order. */
	for (i = 1; i < k; i++)
		for (j = i; j > 0 && tc[j].docs > tc[j - 1].docs; j--) {
			tmp = tc[j];
			tc[j] = tc[j - 1];
			tc[j - 1] = tmp;
		}
	*ntypes = k;
	return tc;
}

static void demographics(struct cv_buf *b, const struct cv_index_patient *p)
{
	cv_buf_adds(b, "<section aria-labelledby=\"demo\"><h2 id=\"demo\">"
		       "Patient</h2><dl class=\"demo\"><dt>Name</dt><dd>");
	patient_name(b, p);
	cv_buf_adds(b, "</dd><dt>MRN</dt><dd>");
	vw_esc(b, p->mrn);
	cv_buf_adds(b, "</dd><dt>Date of birth</dt><dd>");
	vw_esc(b, p->dob[0] ? p->dob : "unknown");
	cv_buf_adds(b, "</dd><dt>Sex</dt><dd>");
	vw_esc(b, p->sex[0] ? p->sex : "unknown");
	cv_buf_adds(b, "</dd><dt>Deceased</dt><dd>");
	vw_esc(b, p->deceased_on[0] ? p->deceased_on : "no date recorded");
	cv_buf_adds(b, "</dd></dl></section>");
}

static void access_note(struct cv_buf *b, const struct cv_index_access_info *a)
{
	if (!a->restricted[0])
		return;
	cv_buf_adds(b, "<p class=\"restricted\" role=\"note\">Restricted "
		       "chart. ");
	if (a->decision == CV_INDEX_ACCESS_EMERGENCY) {
		cv_buf_adds(b, "You are viewing it under emergency access "
			       "until ");
		vw_esc(b, a->expires_at);
		cv_buf_adds(b, " (UTC); it is recorded and will be reviewed.");
	} else {
		cv_buf_adds(b, "You have a standing permission to view it.");
	}
	cv_buf_adds(b, "</p>");
}

static void type_table(struct vw_req *r, int64_t id,
		       const struct type_count *tc, size_t ntypes)
{
	struct cv_buf *b = &r->out;
	size_t i;

	cv_buf_adds(b, "<table class=\"grid types\"><caption>Documents by "
		       "type</caption><thead><tr><th scope=\"col\">Type</th>"
		       "<th scope=\"col\">Documents</th><th scope=\"col\">"
		       "Pages</th></tr></thead><tbody>");
	for (i = 0; i < ntypes; i++) {
		cv_buf_addf(b,
			    "<tr><th scope=\"row\"><a href=\"/patient/%" PRId64
			    "?type=",
			    id);
		vw_urlesc(b, tc[i].code);
		cv_buf_adds(b, "\">");
		vw_esc(b, cv_ingest_doc_type_name(tc[i].code));
		cv_buf_addf(b,
			    "</a></th><td>%" PRId64 "</td><td>%" PRId64
			    "</td></tr>",
			    tc[i].docs, tc[i].pages);
	}
	cv_buf_adds(b, "</tbody></table>");
}

static void type_filter(struct vw_req *r, int64_t id,
			const struct type_count *tc, size_t ntypes,
			const char *type)
{
	struct cv_buf *b = &r->out;
	size_t i;

	cv_buf_addf(b,
		    "<form class=\"filter\" method=\"get\" action=\"/patient/"
		    "%" PRId64 "\"><label for=\"type\">Document type</label>"
		    "<select id=\"type\" name=\"type\"><option value=\"\">All "
		    "types</option>",
		    id);
	for (i = 0; i < ntypes; i++) {
		cv_buf_adds(b, "<option value=\"");
		vw_esc(b, tc[i].code);
		cv_buf_adds(b, "\"");
		if (type && !strcmp(type, tc[i].code))
			cv_buf_adds(b, " selected");
		cv_buf_adds(b, ">");
		vw_esc(b, cv_ingest_doc_type_name(tc[i].code));
		cv_buf_adds(b, "</option>");
	}
	cv_buf_adds(b,
		    "</select> <button type=\"submit\">Show</button></form>");
}

/* The documents as a timeline: years, then months, newest first. */
static size_t timeline(struct vw_req *r, const struct cv_index_chart_doc *d,
		       size_t n, const char *type)
{
	struct cv_buf *b = &r->out;
	char year[8] = "", month[4] = "";
	size_t i, shown = 0;
	int open_list = 0;

	cv_buf_adds(b, "<div class=\"timeline\">");
	for (i = 0; i < n; i++) {
		const char *sd = d[i].service_date;
		char y[8], mo[4];

		if (type && strcmp(type, d[i].doc_type))
			continue;
		snprintf(y, sizeof(y), "%.4s", sd[0] ? sd : "");
		snprintf(mo, sizeof(mo), "%.2s", sd[0] ? sd + 5 : "");
		if (!shown || strcmp(y, year)) {
			if (open_list)
				cv_buf_adds(b, "</ol>");
			open_list = 0;
			snprintf(year, sizeof(year), "%s", y);
			/* No month matches: a new year starts a new list. */
			month[0] = '\1';
			cv_buf_adds(b, "<h3 class=\"year\">");
			vw_esc(b, y[0] ? y : "No date of service");
			cv_buf_adds(b, "</h3>");
		}
		if (strcmp(mo, month)) {
			long mi = strtol(mo, NULL, 10);

			if (open_list)
				cv_buf_adds(b, "</ol>");
			snprintf(month, sizeof(month), "%s", mo);
			if (mo[0] && mi >= 1 && mi <= 12) {
				cv_buf_adds(b, "<h4 class=\"month\">");
				vw_esc(b, month_names[mi - 1]);
				cv_buf_adds(b, " ");
				vw_esc(b, y);
				cv_buf_adds(b, "</h4>");
			}
			cv_buf_adds(b, "<ol class=\"docs\">");
			open_list = 1;
		}
		cv_buf_addf(b, "<li><a href=\"/doc/%" PRId64 "\">", d[i].id);
		vw_esc(b, cv_ingest_doc_type_name(d[i].doc_type));
		cv_buf_adds(b, "</a> <span class=\"when\">");
		vw_esc(b, sd[0] ? sd : "undated");
		cv_buf_addf(b,
			    "</span> <span class=\"count\">%d page%s, document "
			    "%" PRId64 "</span></li>",
			    d[i].pages, d[i].pages == 1 ? "" : "s", d[i].id);
		shown++;
	}
	if (open_list)
		cv_buf_adds(b, "</ol>");
	cv_buf_adds(b, "</div>");
	return shown;
}

static void route_chart(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index *ix = t ? t->ix : NULL;
	struct cv_index_access_info a;
	struct cv_index_patient p;
	struct cv_index_chart_doc *d = NULL;
	struct type_count *tc = NULL;
	struct cv_buf *b = &r->out;
	const char *type = nonempty(vw_arg(r, "type"));
	char title[300], detail[128];
	size_t n = 0, ntypes = 0, i, shown;
	int64_t pages = 0;
	int ret;

	if (!ix) {
		vw_failed(r, &err);
		return;
	}
	ret = cv_index_chart_access(ix, r->sess.user.name, id, &a, &err);
	if (ret == 0)
		ret = cv_index_patient_get(ix, id, &p, &err);
	if (ret == CV_ENOTFOUND) {
		audit_patient(r, ix, "chart.view", id, NULL, "viewer",
			      "not-found");
		vw_not_found(r);
		return;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		return;
	}
	if (a.decision == CV_INDEX_ACCESS_NEEDS_REASON) {
		audit_patient(r, ix, "chart.view", id, p.mrn,
			      "restricted, reason asked", "needs-reason");
		r->status = 403;
		glass_form(r, id, &p, NULL, NULL, NULL);
		return;
	}
	if (!cv_index_access_allowed(a.decision)) {
		audit_patient(r, ix, "chart.view", id, p.mrn, "restricted",
			      "denied");
		vw_error_page(r, 403,
			      "You may not open this restricted chart.");
		return;
	}
	ret = cv_index_chart_documents(ix, id, &d, &n, &err);
	if (ret < 0) {
		vw_failed(r, &err);
		return;
	}
	if (a.decision == CV_INDEX_ACCESS_EMERGENCY)
		snprintf(detail, sizeof(detail),
			 "viewer, emergency grant %" PRId64 ", %zu documents",
			 a.grant_id, n);
	else
		snprintf(detail, sizeof(detail), "viewer, %s, %zu documents",
			 cv_index_access_name(a.decision), n);
	audit_patient(r, ix, "chart.view", id, p.mrn, detail, "ok");

	tc = count_types(d, n, &ntypes);
	for (i = 0; i < n; i++)
		pages += d[i].pages;
	snprintf(title, sizeof(title), "Chart of %s%s%s", p.family,
		 p.given[0] ? ", " : "", p.given);
	vw_page_begin(r, title);
	cv_buf_adds(b, "<h1>");
	patient_name(b, &p);
	cv_buf_adds(b, " <span class=\"sub\">MRN ");
	vw_esc(b, p.mrn);
	cv_buf_adds(b, "</span></h1>");
	access_note(b, &a);
	cv_buf_adds(b, "<div class=\"chart\"><div class=\"chart-side\">");
	demographics(b, &p);
	cv_buf_addf(b,
		    "<section aria-labelledby=\"counts\"><h2 id=\"counts\">"
		    "Counts</h2><p class=\"totals\">%zu document%s, %" PRId64
		    " page%s</p>",
		    n, n == 1 ? "" : "s", pages, pages == 1 ? "" : "s");
	if (ntypes)
		type_table(r, id, tc, ntypes);
	cv_buf_adds(b, "</section></div><section class=\"chart-main\" "
		       "aria-labelledby=\"tl\"><h2 id=\"tl\">Documents, newest "
		       "first</h2>");
	type_filter(r, id, tc, ntypes, type);
	shown = timeline(r, d, n, type);
	if (!shown)
		cv_buf_adds(b, "<p>No documents to show.</p>");
	else if (type)
		cv_buf_addf(b,
			    "<p class=\"help\">%zu of %zu documents shown. "
			    "<a href=\"/patient/%" PRId64 "\">Show all</a></p>",
			    shown, n, id);
	cv_buf_adds(b, "</section></div>");
	vw_page_end(r);
	free(tc);
	free(d);
}

const struct vw_route vw_routes_chart[] = {
	{ "GET", "/patients", NULL, VW_STAFF, route_patients, "Patients" },
	{ "GET", "/patient/", "", VW_STAFF, route_chart, NULL },
	{ "POST", "/patient/", "/glass", VW_STAFF, route_glass, NULL },
	{ NULL, NULL, NULL, NULL, NULL, NULL },
};
