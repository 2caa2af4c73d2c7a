/*
 * The compliance review of emergency access: every time someone broke
 * the glass on a restricted chart, with who, whose chart, the kind of
 * emergency and the reason they gave, until a compliance officer (never
 * the one who took the access) marks it reviewed with a note. The same
 * index functions serve 'chartvault access review|reviewed'.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viewer_int.h"
#include "index/index.h"
#include "common/banned.h"

#define REVIEWERS "compliance admin"

static const char *category_label(const char *code)
{
	size_t i;

	for (i = 0; cv_index_glass_categories[i][0]; i++)
		if (!strcmp(code, cv_index_glass_categories[i][0]))
			return cv_index_glass_categories[i][1];
	return code;
}

static void grant_row(struct vw_req *r, const struct cv_index_emergency *g,
		      int64_t failed_id, const char *note)
{
	struct cv_buf *b = &r->out;

	cv_buf_addf(b,
		    "<tr id=\"grant-%" PRId64 "\"><th scope=\"row\">%" PRId64
		    "</th><td>",
		    g->id, g->id);
	vw_esc(b, g->user);
	cv_buf_addf(b, "</td><td><a href=\"/patient/%" PRId64 "\">",
		    g->patient_id);
	vw_esc(b, g->patient_name[0] ? g->patient_name : "unknown patient");
	cv_buf_adds(b, "</a><br>MRN ");
	vw_esc(b, g->mrn);
	cv_buf_adds(b, "</td><td>");
	vw_esc(b, category_label(g->category));
	cv_buf_adds(b, "</td><td class=\"reason\">");
	vw_esc(b, g->reason);
	cv_buf_adds(b, "</td><td>");
	vw_esc(b, g->granted_at);
	cv_buf_adds(b, "<br>until ");
	vw_esc(b, g->expires_at);
	cv_buf_adds(b, g->active ? " (in force)" : " (ended)");
	cv_buf_addf(b, "<br>audit row %" PRId64 "</td><td>%" PRId64 "</td><td>",
		    g->audit_seq, g->views);
	if (g->reviewed_at[0]) {
		cv_buf_adds(b, "Reviewed by ");
		vw_esc(b, g->reviewed_by);
		cv_buf_adds(b, " at ");
		vw_esc(b, g->reviewed_at);
		cv_buf_adds(b, ": ");
		vw_esc(b, g->review_note);
	} else if (!strcmp(g->user, r->sess.user.name)) {
		cv_buf_adds(b, "Your own access: another officer reviews it.");
	} else {
		cv_buf_addf(b,
			    "<form class=\"review\" method=\"post\" "
			    "action=\"/compliance/emergency/%" PRId64
			    "/review\">",
			    g->id);
		vw_csrf_field(r);
		cv_buf_addf(b,
			    "<label for=\"note-%" PRId64 "\">Review note for "
			    "grant %" PRId64
			    "</label><textarea id=\"note-%" PRId64
			    "\" name=\"note\" rows=\"2\" cols=\"30\" required "
			    "maxlength=\"500\">",
			    g->id, g->id, g->id);
		if (failed_id == g->id)
			vw_esc(b, note);
		cv_buf_adds(b, "</textarea><button type=\"submit\">Mark "
			       "reviewed</button></form>");
	}
	cv_buf_adds(b, "</td></tr>");
}

/* The list, with msg (an error of a review just tried) when not NULL. */
static void review_list(struct vw_req *r, const char *msg, int64_t failed_id,
			const char *note)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_emergency *g = NULL;
	struct cv_buf *b = &r->out;
	const char *all_arg = vw_arg(r, "all");
	int all = all_arg && !strcmp(all_arg, "1");
	long long done = 0;
	char detail[64];
	size_t n = 0, i;

	if (!t || cv_index_emergency_list(t->ix, all, &g, &n, &err) < 0) {
		vw_failed(r, &err);
		return;
	}
	snprintf(detail, sizeof(detail), "%s, %zu grants",
		 all ? "all" : "waiting", n);
	vw_audit(r, NULL, "emergency.list", "emergency_access", NULL, detail,
		 "ok");
	vw_page_begin(r, "Emergency access review");
	cv_buf_adds(b, "<h1>Emergency access review</h1><p>Each time a "
		       "restricted chart was opened with a reason (\"break the "
		       "glass\"). Check the reason against the patient's "
		       "care, then mark it reviewed with a note.</p>");
	if (msg) {
		cv_buf_adds(b, "<p class=\"error\" role=\"alert\">");
		vw_esc(b, msg);
		cv_buf_adds(b, "</p>");
	} else if (vw_arg(r, "done") &&
		   cv_parse_ll(&done, vw_arg(r, "done"), 1, INT64_MAX) == 0) {
		cv_buf_addf(b,
			    "<p class=\"ok\" role=\"status\">Grant %lld marked "
			    "reviewed.</p>",
			    done);
	}
	cv_buf_adds(b, all ? "<p><a href=\"/compliance/emergency\">Show only "
			     "those waiting for review</a></p>"
			   : "<p><a href=\"/compliance/emergency?all=1\">Show "
			     "reviewed ones too</a></p>");
	if (n == 0) {
		cv_buf_adds(b, all ? "<p>Nobody has used emergency access.</p>"
				   : "<p>Nothing waits for review.</p>");
		goto out;
	}
	cv_buf_addf(
		b,
		"<table class=\"grid emergency\"><caption>%s (%zu)"
		"</caption><thead><tr><th scope=\"col\">Grant</th>"
		"<th scope=\"col\">User</th><th scope=\"col\">Patient</th>"
		"<th scope=\"col\">Emergency</th><th scope=\"col\">Reason"
		"</th><th scope=\"col\">When (UTC)</th><th scope=\"col\">"
		"Views during the grant</th><th scope=\"col\">Review</th></tr></thead><tbody>",
		all ? "Every emergency access, newest first"
		    : "Emergency access waiting for review, oldest first",
		n);
	for (i = 0; i < n; i++)
		grant_row(r, &g[i], failed_id, note);
	cv_buf_adds(b, "</tbody></table>");
out:
	vw_page_end(r);
	free(g);
}

static void route_emergency(struct vw_req *r, int64_t id)
{
	(void)id;
	review_list(r, NULL, 0, NULL);
}

static void route_review(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	const char *note = vw_field(r, "note");
	char where[64];
	int ret;

	if (!t) {
		vw_failed(r, &err);
		return;
	}
	ret = cv_index_emergency_review(t->ix, id, note ? note : "",
					r->sess.user.name, &err);
	if (ret == CV_ENOTFOUND) {
		vw_not_found(r);
		return;
	}
	if (ret == CV_EINVAL || ret == CV_EEXISTS) {
		r->status = ret == CV_EEXISTS ? 409 : 400;
		review_list(r, err.msg, id, note);
		return;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		return;
	}
	snprintf(where, sizeof(where), "/compliance/emergency?done=%" PRId64,
		 id);
	vw_redirect(r, where);
}

const struct vw_route vw_routes_access[] = {
	{ "GET", "/compliance/emergency", NULL, REVIEWERS, route_emergency,
	  "Emergency access" },
	{ "POST", "/compliance/emergency/", "/review", REVIEWERS, route_review,
	  NULL },
	{ NULL, NULL, NULL, NULL, NULL, NULL },
};
