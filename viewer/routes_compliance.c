/*
 * The compliance screens: an overview, the records due for destruction
 * (and proposing a batch of them), legal holds, destruction batches
 * (approval by a second person, execution), certificates of destruction
 * and the audit trail with the "who looked at this chart" report.
 *
 * Every action calls what the command line calls (index/ for retention,
 * holds and batches; compliance/ for executing, certificates and audit
 * verification), as the signed-in user, so the two-person rule, the hold
 * checks and the certificate are the same whichever way a person works.
 * The roles follow the command table (cli/main.c): the screens are for
 * compliance and admin; approving a batch is compliance only, as
 * 'destroy approve' is.
 *
 * A POST that succeeds answers 303 to the screen with a "done" code,
 * whose sentence is this file's own; a refused one shows the screen again
 * with the reason (the index's message, which names ids, never patient
 * data) and a 4xx status.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "viewer_int.h"
#include "archive/archive.h"
#include "index/index.h"
#include "compliance/compliance.h"
#include "common/log.h"
#include "common/banned.h"

/* cli/main.c: ROLES_OVERSIGHT, and destroy approve's CV_ROLE_COMPLIANCE. */
#define OVERSIGHT  "compliance admin"
#define APPROVERS  "compliance"
#define PAGE_ROWS  50     /* audit rows per page */
#define REPORT_MAX 100000 /* audit rows read for one patient's report */
#define PICK_MAX   25     /* records per proposal (form fields are capped) */
#define SHOW_MAX   500    /* rows of a retention list on one page */

/* ---------------------------------------------------------------------
 * Shared pieces
 */

static void ctx_of(struct vw_req *r, struct vw_thread *t,
		   struct cv_compliance_ctx *cx)
{
	memset(cx, 0, sizeof(*cx));
	cx->ix = t->ix;
	cx->ar = t->ar;
	cx->keys = r->srv->o->keys;
	cx->archive_dir = r->srv->o->archive_dir;
	cx->actor = r->sess.user.name;
}

static void viewed(struct vw_req *r, const char *screen, const char *detail)
{
	vw_audit(r, NULL, "compliance.view", "screen", screen, detail, "ok");
}

/* An audit row about a patient (vw_audit has no patient field). */
static void audit_patient(struct vw_req *r, const char *action, const char *mrn,
			  const char *detail, const char *outcome)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_audit_entry e;

	memset(&e, 0, sizeof(e));
	e.actor = r->sess.user.name;
	e.action = action;
	e.object_type = "audit_log";
	e.patient = mrn;
	e.detail = detail;
	e.outcome = outcome;
	if (!t || cv_index_audit_append(t->ix, &e, NULL, &err) < 0)
		vw_audit(r, NULL, action, "audit_log", NULL, "patient report",
			 "failed");
}

static const struct {
	const char *path, *label;
} SECTIONS[] = {
	{ "/compliance", "Overview" },
	{ "/compliance/retention", "Retention due" },
	{ "/compliance/holds", "Legal holds" },
	{ "/compliance/destruction", "Destruction batches" },
	{ "/compliance/certificates", "Certificates" },
	{ "/compliance/audit", "Audit trail" },
};

static void begin(struct vw_req *r, const char *title, const char *current)
{
	struct cv_buf *b = &r->out;
	size_t i;

	vw_page_begin(r, title);
	cv_buf_adds(b, "<nav class=\"subnav\" aria-label=\"Compliance\"><ul>");
	for (i = 0; i < sizeof(SECTIONS) / sizeof(SECTIONS[0]); i++) {
		cv_buf_adds(b, "<li><a href=\"");
		vw_esc(b, SECTIONS[i].path);
		cv_buf_adds(b, "\"");
		if (!strcmp(SECTIONS[i].path, current))
			cv_buf_adds(b, " aria-current=\"page\"");
		cv_buf_adds(b, ">");
		vw_esc(b, SECTIONS[i].label);
		cv_buf_adds(b, "</a></li>");
	}
	cv_buf_adds(b, "</ul></nav>");
}

/* What a successful action says when its screen comes back. */
static void done_notice(struct vw_req *r)
{
	static const struct {
		const char *code, *text;
	} DONE[] = {
		{ "proposed", "Destruction batch proposed. Another compliance "
			      "officer must approve it." },
		{ "approved", "Destruction batch approved." },
		{ "cancelled", "Destruction batch cancelled." },
		{ "executed", "Destruction batch executed; its certificate "
			      "is issued." },
		{ "hold-added", "Legal hold placed." },
		{ "hold-released", "Legal hold released." },
		{ "verified", "The audit trail was verified; the result is "
			      "below." },
		{ "checkpoint", "A checkpoint of the chain's head was signed "
				"and written to the checkpoint file." },
		{ "no-checkpoint", "Nothing was added since the last "
				   "checkpoint: none was signed." },
	};
	const char *code = vw_arg(r, "done");
	size_t i;

	if (!code)
		return;
	for (i = 0; i < sizeof(DONE) / sizeof(DONE[0]); i++)
		if (!strcmp(code, DONE[i].code)) {
			cv_buf_adds(&r->out,
				    "<p class=\"ok\" role=\"status\">");
			vw_esc(&r->out, DONE[i].text);
			cv_buf_adds(&r->out, "</p>");
			return;
		}
}

static void alert(struct vw_req *r, const char *msg)
{
	if (!msg)
		return;
	cv_buf_adds(&r->out, "<p class=\"error\" role=\"alert\">");
	vw_esc(&r->out, msg);
	cv_buf_adds(&r->out, "</p>");
}

/* Column headers: names separated by '|'. */
static void thead(struct cv_buf *b, const char *caption, const char *cols)
{
	const char *p = cols, *bar;

	cv_buf_adds(b, "<table class=\"grid\"><caption>");
	vw_esc(b, caption);
	cv_buf_adds(b, "</caption><thead><tr>");
	for (;;) {
		bar = strchr(p, '|');
		cv_buf_adds(b, "<th scope=\"col\">");
		vw_escn(b, p, bar ? (size_t)(bar - p) : strlen(p));
		cv_buf_adds(b, "</th>");
		if (!bar)
			break;
		p = bar + 1;
	}
	cv_buf_adds(b, "</tr></thead><tbody>");
}

static void td(struct cv_buf *b, const char *s)
{
	cv_buf_adds(b, "<td>");
	vw_esc(b, s && *s ? s : "-");
	cv_buf_adds(b, "</td>");
}

/* A cell that must not wrap: a date, a code, an MRN. */
static void td_nw(struct cv_buf *b, const char *s)
{
	cv_buf_adds(b, "<td class=\"nw\">");
	vw_esc(b, s && *s ? s : "-");
	cv_buf_adds(b, "</td>");
}

static void td_i64(struct cv_buf *b, int64_t v)
{
	cv_buf_addf(b, "<td>%" PRId64 "</td>", v);
}

static void doc_link(struct cv_buf *b, int64_t id)
{
	cv_buf_addf(b, "<td><a href=\"/doc/%" PRId64 "\">%" PRId64 "</a></td>",
		    id, id);
}

static void dl_row(struct cv_buf *b, const char *term, const char *value)
{
	cv_buf_adds(b, "<dt>");
	vw_esc(b, term);
	cv_buf_adds(b, "</dt><dd>");
	vw_esc(b, value && *value ? value : "-");
	cv_buf_adds(b, "</dd>");
}

/* Unix seconds as "YYYY-MM-DD HH:MM:SS UTC"; "never" for 0. */
static void utc_text(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm) ||
	    !strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(out, 32, "never");
}

static void today(char out[11])
{
	time_t now = time(NULL);
	struct tm tm;

	if (!gmtime_r(&now, &tm) || !strftime(out, 11, "%Y-%m-%d", &tm))
		snprintf(out, 11, "1970-01-01");
}

/* A YYYY-MM-DD date given by the user, or NULL when absent or bad. */
static const char *date_arg(const char *s, int *bad)
{
	int32_t day;

	*bad = 0;
	if (!s || !*s)
		return NULL;
	if (strlen(s) != 10 || cv_retention_date_parse(&day, s) < 0) {
		*bad = 1;
		return NULL;
	}
	return s;
}

/* ---------------------------------------------------------------------
 * The audit trail's state: the last verification and checkpoint
 */

struct last_row {
	int found;
	int64_t seq;
	char at[32], actor[65], outcome[32], detail[160];
};

static int keep_row(void *ctx, const struct cv_index_audit_row *row,
		    struct cv_error *err)
{
	struct last_row *l = ctx;

	(void)err;
	l->found = 1;
	l->seq = row->seq;
	snprintf(l->at, sizeof(l->at), "%s", row->at);
	snprintf(l->actor, sizeof(l->actor), "%s",
		 row->actor ? row->actor : "");
	snprintf(l->outcome, sizeof(l->outcome), "%s",
		 row->outcome ? row->outcome : "");
	snprintf(l->detail, sizeof(l->detail), "%s",
		 row->detail ? row->detail : "");
	return 0;
}

/*
 * What this server's last verification found, beyond what its audit row
 * says: the rows named (the trail keeps the counts only).
 */
#define LAST_PROBLEMS 20
static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int64_t seq_after; /* the chain's head when it ran */
	size_t total;
	size_t n;
	char what[LAST_PROBLEMS][400];
} last_verify;

static void audit_state(struct vw_req *r, struct cv_index *ix, int button)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_audit_filter f;
	struct last_row l;
	struct cv_buf *b = &r->out;
	int64_t cp_seq = 0, cp_time = 0, head_seq = 0, head_time = 0;
	char when[32];
	size_t i;

	memset(&f, 0, sizeof(f));
	memset(&l, 0, sizeof(l));
	f.action = "audit.verify";
	f.limit = 1;
	cv_buf_adds(b, "<section aria-labelledby=\"chain\"><h2 id=\"chain\">"
		       "The audit chain</h2>");
	if (cv_index_audit_query(ix, &f, keep_row, &l, &err) < 0 ||
	    cv_index_audit_due(ix, &cp_seq, &cp_time, &head_seq, &head_time,
			       &err) < 0) {
		alert(r, "The audit trail's state could not be read.");
		cv_log_error(&err);
		cv_buf_adds(b, "</section>");
		return;
	}
	cv_buf_adds(b, "<dl class=\"facts\">");
	cv_buf_addf(b, "<dt>Rows in the chain</dt><dd>%" PRId64 "</dd>",
		    head_seq);
	utc_text(when, cp_time);
	cv_buf_addf(b,
		    "<dt>Last signed checkpoint</dt><dd>row %" PRId64
		    ", %s</dd>",
		    cp_seq, when);
	cv_buf_adds(b, "<dt>Last verification</dt><dd>");
	if (!l.found) {
		cv_buf_adds(b, "never run");
	} else {
		cv_buf_adds(b, !strcmp(l.outcome, "ok")
				       ? "<strong class=\"ok\">passed</strong>"
				       : "<strong class=\"error\">FAILED: the "
					 "trail was changed</strong>");
		cv_buf_adds(b, " at ");
		vw_esc(b, l.at);
		cv_buf_adds(b, " by ");
		vw_esc(b, l.actor);
		cv_buf_adds(b, " (");
		vw_esc(b, l.detail);
		cv_buf_adds(b, ")");
	}
	cv_buf_adds(b, "</dd></dl>");
	pthread_mutex_lock(&last_lock);
	if (l.found && strcmp(l.outcome, "ok") && last_verify.total &&
	    last_verify.seq_after <= l.seq) {
		cv_buf_adds(b, "<ul class=\"problems\">");
		for (i = 0; i < last_verify.n; i++) {
			cv_buf_adds(b, "<li>");
			vw_esc(b, last_verify.what[i]);
			cv_buf_adds(b, "</li>");
		}
		if (last_verify.total > last_verify.n)
			cv_buf_addf(b, "<li>and %zu more</li>",
				    last_verify.total - last_verify.n);
		cv_buf_adds(b, "</ul>");
	}
	pthread_mutex_unlock(&last_lock);
	if (button) {
		cv_buf_adds(b, "<form method=\"post\" "
			       "data-busy=\"Verifying...\" "
			       "action=\"/compliance/audit/verify\">");
		vw_csrf_field(r);
		cv_buf_adds(b, "<button type=\"submit\">Verify the audit trail "
			       "now</button> <span class=\"help\">Recomputes "
			       "every row's hash and checks every signed "
			       "checkpoint, as 'chartvault audit verify' does; "
			       "on a long trail this takes a while.</span>"
			       "</form><form method=\"post\" "
			       "action=\"/compliance/audit/checkpoint\">");
		vw_csrf_field(r);
		cv_buf_adds(b,
			    "<button type=\"submit\">Sign a checkpoint "
			    "now</button> <span class=\"help\">Signs the "
			    "chain's head with the archive key and appends it "
			    "to the checkpoint file, as 'chartvault audit "
			    "checkpoint' does.</span></form>");
	}
	cv_buf_adds(b, "</section>");
}

/* ---------------------------------------------------------------------
 * Overview
 */

static void route_overview(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_retention_due *due = NULL;
	struct cv_index_hold *holds = NULL;
	struct cv_index_destroy_batch *bs = NULL;
	struct cv_buf *b = &r->out;
	size_t ndue = 0, nholds = 0, nbs = 0, i;
	int64_t waiting_approval = 0, waiting_exec = 0, executing = 0,
		certs = 0;

	(void)id;
	if (!t ||
	    cv_index_retention_due(t->ix, NULL, 0, &due, &ndue, &err) < 0 ||
	    cv_index_hold_list(t->ix, 0, &holds, &nholds, &err) < 0 ||
	    cv_index_destroy_list(t->ix, &bs, &nbs, &err) < 0) {
		vw_failed(r, &err);
		goto out;
	}
	for (i = 0; i < nbs; i++) {
		if (!strcmp(bs[i].state, "proposed"))
			waiting_approval++;
		else if (!strcmp(bs[i].state, "approved"))
			waiting_exec++;
		else if (!strcmp(bs[i].state, "executing"))
			executing++;
		else if (!strcmp(bs[i].state, "executed"))
			certs++;
	}
	viewed(r, "overview", NULL);
	begin(r, "Compliance", "/compliance");
	cv_buf_adds(b, "<h1>Compliance</h1><ul class=\"tiles\">");
	cv_buf_addf(b,
		    "<li><a href=\"/compliance/retention\"><span "
		    "class=\"n\">%zu</span> record(s) due for destruction, "
		    "not held</a></li>",
		    ndue);
	cv_buf_addf(b,
		    "<li><a href=\"/compliance/holds\"><span class=\"n\">%zu"
		    "</span> active legal hold(s)</a></li>",
		    nholds);
	cv_buf_addf(b,
		    "<li><a href=\"/compliance/destruction\"><span "
		    "class=\"n\">%" PRId64
		    "</span> batch(es) waiting for approval</a></li>",
		    waiting_approval);
	cv_buf_addf(b,
		    "<li><a href=\"/compliance/destruction\"><span "
		    "class=\"n\">%" PRId64
		    "</span> approved batch(es) waiting to be executed"
		    "%s</a></li>",
		    waiting_exec + executing,
		    executing ? " (one or more interrupted: resume them)" : "");
	cv_buf_addf(b,
		    "<li><a href=\"/compliance/certificates\"><span "
		    "class=\"n\">%" PRId64
		    "</span> certificate(s) of destruction issued</a></li>",
		    certs);
	cv_buf_adds(b, "</ul>");
	audit_state(r, t->ix, 0);
	cv_buf_adds(b, "<p><a href=\"/compliance/audit\">Audit trail, "
		       "verification and the &ldquo;who looked at this "
		       "chart&rdquo; report</a></p>");
	vw_page_end(r);
out:
	free(due);
	free(holds);
	free(bs);
}

/* ---------------------------------------------------------------------
 * Retention due, and proposing a batch
 */

static void retention_page(struct vw_req *r, const char *before,
			   const char *msg)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_retention_due *due = NULL, *all = NULL;
	struct cv_buf *b = &r->out;
	size_t ndue = 0, nall = 0, i, nheld = 0;
	char cutoff[11];

	if (before)
		snprintf(cutoff, sizeof(cutoff), "%s", before);
	else
		today(cutoff);
	if (!t ||
	    cv_index_retention_due(t->ix, cutoff, 0, &due, &ndue, &err) < 0 ||
	    cv_index_retention_due(t->ix, cutoff, CV_RETENTION_DUE_HELD, &all,
				   &nall, &err) < 0) {
		vw_failed(r, &err);
		goto out;
	}
	viewed(r, "retention", cutoff);
	begin(r, "Retention due", "/compliance/retention");
	cv_buf_adds(b, "<h1>Records due for destruction</h1>");
	done_notice(r);
	alert(r, msg);
	cv_buf_adds(b, "<form class=\"filters\" method=\"get\" "
		       "action=\"/compliance/retention\"><label "
		       "for=\"before\">Eligible on or before</label><input "
		       "id=\"before\" name=\"before\" type=\"date\" value=\"");
	vw_esc(b, cutoff);
	cv_buf_adds(b, "\"> <button type=\"submit\">Show</button></form>");
	cv_buf_adds(b, "<p class=\"help\">Each record's eligible date comes "
		       "from the retention rule and version named, applied "
		       "to its anchor (encounters, discharge, birth, death, "
		       "service date). Records under a legal hold or in a "
		       "batch under way are not offered.</p>");
	cv_buf_adds(b, "<form method=\"post\" "
		       "action=\"/compliance/retention/propose\">");
	vw_csrf_field(r);
	cv_buf_adds(b, "<input type=\"hidden\" name=\"cutoff\" value=\"");
	vw_esc(b, cutoff);
	cv_buf_adds(b, "\">");
	thead(b, "Eligible and not held",
	      "Select|Document|MRN|Type|Rule|Anchors|Eligible on");
	for (i = 0; i < ndue && i < SHOW_MAX; i++) {
		cv_buf_addf(b,
			    "<tr><td><input type=\"checkbox\" "
			    "id=\"doc-%" PRId64 "\" name=\"doc-%" PRId64
			    "\" value=\"1\" aria-label=\"Select document "
			    "%" PRId64 "\"></td>",
			    due[i].document_id, due[i].document_id,
			    due[i].document_id);
		doc_link(b, due[i].document_id);
		td_nw(b, due[i].mrn);
		td_nw(b, due[i].doc_type);
		cv_buf_adds(b, "<td>");
		vw_esc(b, due[i].rule_id);
		cv_buf_addf(b, " v%d<br><code>", due[i].rule_version);
		vw_esc(b, due[i].rule_expr);
		cv_buf_adds(b, "</code></td>");
		td(b, due[i].anchors);
		td_nw(b, due[i].eligible_on);
		cv_buf_adds(b, "</tr>");
	}
	if (ndue == 0)
		cv_buf_adds(b, "<tr><td colspan=\"7\">No record is due on "
			       "that date.</td></tr>");
	cv_buf_adds(b, "</tbody></table>");
	if (ndue > SHOW_MAX)
		cv_buf_addf(b,
			    "<p class=\"help\">The %d earliest of %zu are "
			    "shown; choose an earlier date to see fewer.</p>",
			    SHOW_MAX, ndue);
	if (ndue)
		cv_buf_addf(b,
			    "<p class=\"help\">Select up to %d records; the "
			    "batch takes only those still eligible and "
			    "unheld when it is made. Another compliance "
			    "officer approves it.</p><button "
			    "type=\"submit\">Propose a destruction batch"
			    "</button>",
			    PICK_MAX);
	cv_buf_adds(b, "</form>");

	thead(b, "Eligible but under a legal hold (never destroyed)",
	      "Document|MRN|Type|Rule|Eligible on|Hold");
	for (i = 0; i < nall && i < SHOW_MAX; i++) {
		nheld++;
		cv_buf_adds(b, "<tr>");
		doc_link(b, all[i].document_id);
		td_nw(b, all[i].mrn);
		td_nw(b, all[i].doc_type);
		cv_buf_adds(b, "<td>");
		vw_esc(b, all[i].rule_id);
		cv_buf_addf(b, " v%d</td>", all[i].rule_version);
		td_nw(b, all[i].eligible_on);
		cv_buf_addf(b,
			    "<td><strong>Held</strong> by hold %" PRId64
			    "</td></tr>",
			    all[i].hold_id);
	}
	if (nheld == 0)
		cv_buf_adds(b, "<tr><td colspan=\"6\">None.</td></tr>");
	cv_buf_adds(b, "</tbody></table>");
	vw_page_end(r);
out:
	free(due);
	free(all);
}

static void route_retention(struct vw_req *r, int64_t id)
{
	int bad;
	const char *before = date_arg(vw_arg(r, "before"), &bad);

	(void)id;
	if (bad) {
		r->status = 400;
		retention_page(r, NULL, "Give the date as YYYY-MM-DD.");
		return;
	}
	retention_page(r, before, NULL);
}

static void route_propose(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	int64_t docs[VW_MAX_FIELDS], batch = 0;
	size_t ndocs = 0, taken = 0, i;
	const char *cutoff;
	char where[64];
	int bad, ret;

	(void)id;
	cutoff = date_arg(vw_field(r, "cutoff"), &bad);
	if (!t) {
		vw_failed(r, &err);
		return;
	}
	for (i = 0; i < r->nfields; i++) {
		int64_t d;

		if (strncmp(r->fields[i].name, "doc-", 4))
			continue;
		d = vw_parse_id(r->fields[i].name + 4);
		if (d > 0 && ndocs < VW_MAX_FIELDS)
			docs[ndocs++] = d;
	}
	if (bad) {
		r->status = 400;
		retention_page(r, NULL, "Give the date as YYYY-MM-DD.");
		return;
	}
	/* No selection must never mean "everything due". */
	if (ndocs == 0 || ndocs > PICK_MAX) {
		char msg[80];

		snprintf(msg, sizeof(msg),
			 "Select at most %d records for one batch.", PICK_MAX);
		r->status = 400;
		retention_page(r, cutoff,
			       ndocs ? msg
				     : "Select the records to destroy first.");
		return;
	}
	ret = cv_index_destroy_propose_docs(t->ix, cutoff, docs, ndocs,
					    r->sess.user.name, &batch, &taken,
					    &err);
	if (ret == CV_EINVAL) {
		r->status = 400;
		retention_page(r, cutoff, err.msg);
		return;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		return;
	}
	if (!batch) {
		r->status = 409;
		retention_page(r, cutoff,
			       "None of the selected records is eligible and "
			       "unheld any more: nothing was proposed.");
		return;
	}
	snprintf(where, sizeof(where),
		 "/compliance/destruction/%" PRId64 "?done=proposed", batch);
	vw_redirect(r, where);
}

/* ---------------------------------------------------------------------
 * Legal holds
 */

static void holds_page(struct vw_req *r, const char *msg)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_hold *h = NULL;
	struct cv_buf *b = &r->out;
	size_t n = 0, i;

	if (!t || cv_index_hold_list(t->ix, 1, &h, &n, &err) < 0) {
		vw_failed(r, &err);
		goto out;
	}
	viewed(r, "holds", NULL);
	begin(r, "Legal holds", "/compliance/holds");
	cv_buf_adds(b, "<h1>Legal holds</h1>");
	done_notice(r);
	alert(r, msg);
	cv_buf_adds(b, "<p class=\"help\">A record under an active hold is "
		       "never destroyed, whatever its date: a hold placed "
		       "after a batch was approved still wins.</p>");
	thead(b, "Holds, newest last",
	      "Hold|Scope|Target|Matter|Reason|Placed|Records|State");
	for (i = 0; i < n; i++) {
		cv_buf_addf(b, "<tr><td>%" PRId64 "</td>", h[i].id);
		td(b, h[i].scope);
		td(b, h[i].target);
		td(b, h[i].matter);
		td(b, h[i].reason);
		cv_buf_adds(b, "<td>");
		vw_esc(b, h[i].placed_by);
		cv_buf_adds(b, ", ");
		vw_esc(b, h[i].placed_at);
		cv_buf_addf(b, "</td><td>%" PRId64 "</td><td>", h[i].documents);
		if (h[i].released_by[0]) {
			cv_buf_adds(b, "Released by ");
			vw_esc(b, h[i].released_by);
			cv_buf_adds(b, ", ");
			vw_esc(b, h[i].released_at);
			cv_buf_adds(b, ": ");
			vw_esc(b, h[i].release_reason);
		} else {
			cv_buf_addf(b,
				    "<strong>Active</strong><form "
				    "class=\"inline\" method=\"post\" "
				    "action=\"/compliance/holds/%" PRId64
				    "/release\">",
				    h[i].id);
			vw_csrf_field(r);
			cv_buf_addf(b,
				    "<label for=\"why-%" PRId64
				    "\">Reason for release</label><input "
				    "id=\"why-%" PRId64
				    "\" name=\"reason\" required "
				    "maxlength=\"2000\"> <button "
				    "type=\"submit\">Release hold %" PRId64
				    "</button></form>",
				    h[i].id, h[i].id, h[i].id);
		}
		cv_buf_adds(b, "</td></tr>");
	}
	if (n == 0)
		cv_buf_adds(b, "<tr><td colspan=\"8\">No hold has been "
			       "placed.</td></tr>");
	cv_buf_adds(b, "</tbody></table>");

	cv_buf_adds(b, "<h2>Place a hold</h2><form class=\"stack\" "
		       "method=\"post\" action=\"/compliance/holds/add\">");
	vw_csrf_field(r);
	cv_buf_adds(b, "<label for=\"scope\">What it covers</label>"
		       "<select id=\"scope\" name=\"scope\">"
		       "<option value=\"patient\">A patient (MRN)</option>"
		       "<option value=\"document\">A document (id)</option>"
		       "<option value=\"batch\">A scan batch (name or id)"
		       "</option><option value=\"query\">The documents a "
		       "search finds</option></select>"
		       "<label for=\"target\">MRN, document id, batch or "
		       "search words</label><input id=\"target\" "
		       "name=\"target\" required maxlength=\"512\">"
		       "<label for=\"matter\">Matter (case or request)</label>"
		       "<input id=\"matter\" name=\"matter\" required "
		       "maxlength=\"500\"><label for=\"reason\">Reason</label>"
		       "<input id=\"reason\" name=\"reason\" required "
		       "maxlength=\"2000\"><button type=\"submit\">Place the "
		       "hold</button></form>");
	vw_page_end(r);
out:
	free(h);
}

static void route_holds(struct vw_req *r, int64_t id)
{
	(void)id;
	holds_page(r, NULL);
}

static unsigned refusal_status(int code)
{
	switch (code) {
	case CV_ENOTFOUND:
		return 404;
	case CV_EEXISTS:
		return 409;
	default:
		return 400;
	}
}

static void route_hold_add(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	const char *scope = vw_field(r, "scope");
	int64_t hid = 0, covered = 0, too_late = 0;
	int ret;

	(void)id;
	if (!t) {
		vw_failed(r, &err);
		return;
	}
	if (!scope || (strcmp(scope, "patient") && strcmp(scope, "document") &&
		       strcmp(scope, "batch") && strcmp(scope, "query"))) {
		r->status = 400;
		holds_page(r, "Choose what the hold covers.");
		return;
	}
	ret = cv_index_hold_add(t->ix, scope, vw_field(r, "target"),
				vw_field(r, "reason"), vw_field(r, "matter"),
				r->sess.user.name, &hid, &covered, &too_late,
				&err);
	if (ret == CV_EINVAL || ret == CV_ELIMIT || ret == CV_ENOTFOUND) {
		r->status = refusal_status(ret);
		holds_page(r, err.msg);
		return;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		return;
	}
	vw_redirect(r, "/compliance/holds?done=hold-added");
}

static void route_hold_release(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	const char *reason = vw_field(r, "reason");
	int ret;

	if (!t) {
		vw_failed(r, &err);
		return;
	}
	if (!reason || !*reason) {
		r->status = 400;
		holds_page(r, "A hold is released only with a reason.");
		return;
	}
	ret = cv_index_hold_release(t->ix, id, reason, r->sess.user.name, &err);
	if (ret == CV_ENOTFOUND || ret == CV_EEXISTS || ret == CV_EINVAL ||
	    ret == CV_ELIMIT) {
		r->status = refusal_status(ret);
		holds_page(r, err.msg);
		return;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		return;
	}
	vw_redirect(r, "/compliance/holds?done=hold-released");
}

/* ---------------------------------------------------------------------
 * Destruction batches
 */

static void route_batches(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_destroy_batch *bs = NULL;
	struct cv_buf *b = &r->out;
	size_t n = 0, i;

	(void)id;
	if (!t || cv_index_destroy_list(t->ix, &bs, &n, &err) < 0) {
		vw_failed(r, &err);
		goto out;
	}
	viewed(r, "destruction", NULL);
	begin(r, "Destruction batches", "/compliance/destruction");
	cv_buf_adds(b, "<h1>Destruction batches</h1><p class=\"help\">One "
		       "person proposes a batch from the records due; "
		       "another compliance officer approves it; then it is "
		       "executed and certified.</p>");
	thead(b, "Destruction batches",
	      "Batch|State|Cutoff|Proposed by|Approved by|Records|"
	      "Destroyed|Held at execution");
	for (i = 0; i < n; i++) {
		cv_buf_addf(b,
			    "<tr><td><a href=\"/compliance/destruction/"
			    "%" PRId64 "\">Batch %" PRId64 "</a></td>",
			    bs[i].id, bs[i].id);
		td(b, bs[i].state);
		td(b, bs[i].cutoff);
		td(b, bs[i].proposed_by);
		td(b, bs[i].approved_by);
		td_i64(b, bs[i].items);
		td_i64(b, bs[i].destroyed);
		td_i64(b, bs[i].held);
		cv_buf_adds(b, "</tr>");
	}
	if (n == 0)
		cv_buf_adds(b, "<tr><td colspan=\"8\">No batch has been "
			       "proposed. Propose one from <a href=\""
			       "/compliance/retention\">Retention due</a>."
			       "</td></tr>");
	cv_buf_adds(b, "</tbody></table>");
	vw_page_end(r);
out:
	free(bs);
}

static const char *state_sentence(const char *state)
{
	if (!strcmp(state, "proposed"))
		return "Waiting for a second compliance officer to "
		       "approve it.";
	if (!strcmp(state, "approved"))
		return "Waiting to be executed.";
	if (!strcmp(state, "executing"))
		return "Under way, or interrupted: records "
		       "already destroyed stay destroyed; resume to finish "
		       "the others.";
	if (!strcmp(state, "executed"))
		return "The certificate of destruction is issued.";
	if (!strcmp(state, "cancelled"))
		return "Nothing was destroyed.";
	return "";
}

static void batch_page(struct vw_req *r, int64_t id, const char *msg)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_destroy_batch bt;
	struct cv_index_destroy_item *it = NULL;
	struct cv_retention_due *held = NULL;
	struct cv_buf *b = &r->out;
	size_t n = 0, nheld = 0, i, k;
	char title[48], idtxt[32];
	int ret;

	ret = t ? cv_index_destroy_get(t->ix, id, &bt, &it, &n, &err)
		: CV_ERROR;
	if (ret == CV_ENOTFOUND) {
		vw_not_found(r);
		goto out;
	}
	/* A hold placed since the proposal wins at execution: say so
	 * before, too. */
	if (ret == 0 &&
	    (!strcmp(bt.state, "proposed") || !strcmp(bt.state, "approved") ||
	     !strcmp(bt.state, "executing")))
		ret = cv_index_retention_due(t->ix, NULL, CV_RETENTION_DUE_HELD,
					     &held, &nheld, &err);
	if (ret < 0) {
		vw_failed(r, &err);
		goto out;
	}
	snprintf(idtxt, sizeof(idtxt), "batch %" PRId64, id);
	viewed(r, "destruction-batch", idtxt);
	snprintf(title, sizeof(title), "Destruction batch %" PRId64, id);
	begin(r, title, "/compliance/destruction");
	cv_buf_adds(b, "<h1>");
	vw_esc(b, title);
	cv_buf_adds(b, "</h1>");
	done_notice(r);
	alert(r, msg);
	cv_buf_adds(b, "<p class=\"state\">State: <strong>");
	vw_esc(b, bt.state);
	cv_buf_adds(b, "</strong>. ");
	vw_esc(b, state_sentence(bt.state));
	cv_buf_adds(b, "</p><dl class=\"facts\">");
	dl_row(b, "Records eligible on or before", bt.cutoff);
	dl_row(b, "Proposed by", bt.proposed_by);
	dl_row(b, "Proposed at", bt.proposed_at);
	dl_row(b, "Approved by", bt.approved_by);
	dl_row(b, "Approved at", bt.approved_at);
	dl_row(b, "Executed by", bt.executed_by);
	dl_row(b, "Execution started", bt.started_at);
	dl_row(b, "Execution finished", bt.executed_at);
	cv_buf_addf(b,
		    "<dt>Progress</dt><dd>%" PRId64 " record(s): %" PRId64
		    " pending, %" PRId64 " unlinked, %" PRId64
		    " destroyed, %" PRId64 " held, %" PRId64
		    " no longer eligible, %" PRId64 " gone</dd></dl>",
		    bt.items, bt.pending, bt.unlinked, bt.destroyed, bt.held,
		    bt.not_eligible, bt.gone);

	thead(b, "Records of the batch",
	      "Document|MRN|Type|Dates|Rule|Eligible on|State");
	for (i = 0; i < n; i++) {
		/* A destroyed record has no document to link to. */
		if (!strcmp(it[i].state, "destroyed") ||
		    !strcmp(it[i].state, "unlinked") ||
		    !strcmp(it[i].state, "gone"))
			td_i64(b, it[i].document_id);
		else
			doc_link(b, it[i].document_id);
		td_nw(b, it[i].mrn);
		td_nw(b, it[i].doc_type);
		cv_buf_adds(b, "<td>");
		vw_esc(b, it[i].first_date);
		cv_buf_adds(b, " to ");
		vw_esc(b, it[i].last_date);
		cv_buf_adds(b, "</td><td>");
		vw_esc(b, it[i].rule_id);
		cv_buf_addf(b, " v%d</td>", it[i].rule_version);
		td_nw(b, it[i].eligible_on);
		cv_buf_adds(b, "<td>");
		vw_esc(b, it[i].state);
		if (it[i].reason[0]) {
			cv_buf_adds(b, ": ");
			vw_esc(b, it[i].reason);
		}
		for (k = 0; k < nheld; k++)
			if (held[k].document_id == it[i].document_id &&
			    !strcmp(it[i].state, "pending"))
				cv_buf_addf(b,
					    "; <strong>under hold %" PRId64
					    " now: it will be kept</strong>",
					    held[k].hold_id);
		cv_buf_adds(b, "</td></tr>");
	}
	cv_buf_adds(b, "</tbody></table>");

	if (!strcmp(bt.state, "proposed")) {
		cv_buf_adds(b, "<h2>Approve</h2>");
		if (!strcmp(bt.proposed_by, r->sess.user.name))
			cv_buf_adds(b, "<p class=\"help\">You proposed this "
				       "batch. The two-person rule applies: "
				       "another compliance officer must "
				       "approve it.</p>");
		if (vw_role_in(r, APPROVERS)) {
			cv_buf_addf(b,
				    "<form method=\"post\" action=\""
				    "/compliance/destruction/%" PRId64
				    "/approve\">",
				    id);
			vw_csrf_field(r);
			cv_buf_adds(b, "<button type=\"submit\">Approve the "
				       "destruction of these records</button>"
				       "</form>");
		} else {
			cv_buf_adds(b, "<p class=\"help\">Only a compliance "
				       "officer approves destruction.</p>");
		}
	}
	if (!strcmp(bt.state, "approved") || !strcmp(bt.state, "executing")) {
		int resume = !strcmp(bt.state, "executing");

		cv_buf_addf(b,
			    "<h2>%s</h2><p class=\"help\">Every record is "
			    "checked again first: one under a hold placed "
			    "since approval, or no longer eligible, is kept "
			    "and listed as retained. The others' index rows "
			    "are deleted and their objects crypto-erased "
			    "(keys, then files), then the certificate is "
			    "signed. This page waits until it is done; if it "
			    "is interrupted, the batch stays "
			    "&ldquo;executing&rdquo; and Resume finishes "
			    "it.</p><form class=\"stack\" method=\"post\" "
			    "data-busy=\"Executing...\" "
			    "action=\"/compliance/destruction/%" PRId64
			    "/execute\">",
			    resume ? "Resume the execution" : "Execute", id);
		vw_csrf_field(r);
		cv_buf_adds(b, "<label for=\"facility\">Facility (for the "
			       "certificate)</label><input id=\"facility\" "
			       "name=\"facility\" required maxlength=\"200\">"
			       "<label for=\"manager\">Department manager"
			       "</label><input id=\"manager\" name=\"manager\" "
			       "required maxlength=\"200\"><label "
			       "for=\"backups\">Do backups hold the index?"
			       "</label><select id=\"backups\" "
			       "name=\"backups\"><option value=\"unknown\">"
			       "Unknown</option><option value=\"yes\">Yes"
			       "</option><option value=\"no\">No</option>"
			       "</select><label for=\"days\">Backups are kept "
			       "for (days)</label><input id=\"days\" "
			       "name=\"days\" type=\"number\" min=\"0\" "
			       "max=\"3650\" value=\"35\" required>");
		cv_buf_addf(b,
			    "<button type=\"submit\">%s destruction batch "
			    "%" PRId64 "</button><p class=\"busy\" "
			    "role=\"status\" hidden>Executing: each record "
			    "is checked, unlinked and crypto-erased, then the "
			    "certificate is signed. This page changes when it "
			    "is done; closing it does not stop the "
			    "execution.</p></form>",
			    resume ? "Resume" : "Execute", id);
	}
	if (!strcmp(bt.state, "proposed") || !strcmp(bt.state, "approved")) {
		cv_buf_addf(b,
			    "<h2>Cancel</h2><form class=\"stack\" "
			    "method=\"post\" action=\"/compliance/"
			    "destruction/%" PRId64 "/cancel\">",
			    id);
		vw_csrf_field(r);
		cv_buf_adds(b, "<label for=\"cancel-reason\">Reason</label>"
			       "<input id=\"cancel-reason\" name=\"reason\" "
			       "required maxlength=\"2000\"><button "
			       "type=\"submit\">Cancel this batch</button>"
			       "</form>");
	}
	if (!strcmp(bt.state, "executed"))
		cv_buf_addf(b,
			    "<p><a href=\"/compliance/certificates/%" PRId64
			    "\">Certificate of destruction for batch "
			    "%" PRId64 "</a></p>",
			    id, id);
	vw_page_end(r);
out:
	free(held);
	free(it);
}

static void route_batch(struct vw_req *r, int64_t id)
{
	batch_page(r, id, NULL);
}

static void redirect_batch(struct vw_req *r, int64_t id, const char *done)
{
	char where[80];

	snprintf(where, sizeof(where),
		 "/compliance/destruction/%" PRId64 "?done=%s", id, done);
	vw_redirect(r, where);
}

static void route_approve(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	int ret;

	if (!t) {
		vw_failed(r, &err);
		return;
	}
	/* The index refuses the proposer (and audits the refusal). */
	ret = cv_index_destroy_approve(t->ix, id, r->sess.user.name, &err);
	if (ret == CV_ENOTFOUND) {
		vw_not_found(r);
		return;
	}
	if (ret == CV_EEXISTS || ret == CV_EINVAL) {
		r->status = ret == CV_EEXISTS ? 403 : 409;
		batch_page(r, id, err.msg);
		return;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		return;
	}
	redirect_batch(r, id, "approved");
}

static void route_cancel(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	const char *reason = vw_field(r, "reason");
	int ret;

	if (!t) {
		vw_failed(r, &err);
		return;
	}
	if (!reason || !*reason) {
		r->status = 400;
		batch_page(r, id, "A batch is cancelled only with a reason.");
		return;
	}
	ret = cv_index_destroy_cancel(t->ix, id, r->sess.user.name, reason,
				      &err);
	if (ret == CV_ENOTFOUND) {
		vw_not_found(r);
		return;
	}
	if (ret == CV_EINVAL || ret == CV_EEXISTS || ret == CV_ELIMIT) {
		r->status = 409;
		batch_page(r, id, err.msg);
		return;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		return;
	}
	redirect_batch(r, id, "cancelled");
}

static void route_execute(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_compliance_ctx cx;
	struct cv_compliance_cert_opts o;
	struct cv_archive_destroy_report rep;
	const char *backups = vw_field(r, "backups");
	char *json_path = NULL, *pdf_path = NULL;
	long long days = 35;
	int ret;

	if (!t) {
		vw_failed(r, &err);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.facility = vw_field(r, "facility");
	o.manager = vw_field(r, "manager");
	o.backups = backups ? backups : "unknown";
	if (strcmp(o.backups, "yes") && strcmp(o.backups, "no") &&
	    strcmp(o.backups, "unknown")) {
		r->status = 400;
		batch_page(r, id, "Say whether backups hold the index.");
		return;
	}
	if (vw_field(r, "days") &&
	    cv_parse_ll(&days, vw_field(r, "days"), 0, 3650) < 0) {
		r->status = 400;
		batch_page(r, id,
			   "Give how long backups are kept in days, 0 to "
			   "3650.");
		return;
	}
	o.backup_days = days;
	if (!o.facility || !*o.facility || !o.manager || !*o.manager) {
		r->status = 400;
		batch_page(r, id,
			   "The certificate needs the facility and the "
			   "department manager.");
		return;
	}
	ctx_of(r, t, &cx);
	ret = cv_compliance_destroy_execute(&cx, id, &o, NULL, NULL, &rep,
					    &json_path, &pdf_path, &err);
	free(json_path);
	free(pdf_path);
	if (ret == CV_ENOTFOUND) {
		vw_not_found(r);
		return;
	}
	if (ret == CV_EINVAL || ret == CV_EHOLD) {
		r->status = 409;
		batch_page(r, id, err.msg);
		return;
	}
	if (ret < 0) {
		/* The batch stays executing: the page says so, and offers
		 * to resume. */
		cv_log_error(&err);
		r->status = 500;
		batch_page(r, id,
			   "The execution stopped before it finished; the "
			   "error has been logged. Records already "
			   "destroyed stay destroyed. Resume it below.");
		return;
	}
	redirect_batch(r, id, "executed");
}

/* ---------------------------------------------------------------------
 * Certificates
 */

static void route_certificates(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_destroy_batch *bs = NULL;
	struct cv_buf *b = &r->out;
	size_t n = 0, i, shown = 0;

	(void)id;
	if (!t || cv_index_destroy_list(t->ix, &bs, &n, &err) < 0) {
		vw_failed(r, &err);
		goto out;
	}
	viewed(r, "certificates", NULL);
	begin(r, "Certificates", "/compliance/certificates");
	cv_buf_adds(b, "<h1>Certificates of destruction</h1>");
	thead(b, "Certificates issued, one per executed batch",
	      "Certificate|Executed|Destroyed by|Approved by|"
	      "Records destroyed|Retained");
	for (i = 0; i < n; i++) {
		if (strcmp(bs[i].state, "executed"))
			continue;
		shown++;
		cv_buf_addf(b,
			    "<tr><td><a href=\"/compliance/certificates/"
			    "%" PRId64 "\">Batch %" PRId64 "</a></td>",
			    bs[i].id, bs[i].id);
		td(b, bs[i].executed_at);
		td(b, bs[i].executed_by);
		td(b, bs[i].approved_by);
		td_i64(b, bs[i].destroyed);
		td_i64(b, bs[i].held + bs[i].not_eligible + bs[i].gone);
		cv_buf_adds(b, "</tr>");
	}
	if (shown == 0)
		cv_buf_adds(b, "<tr><td colspan=\"6\">No batch has been "
			       "executed yet.</td></tr>");
	cv_buf_adds(b, "</tbody></table>");
	vw_page_end(r);
out:
	free(bs);
}

static const char *jstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "";
}

/*
 * The file a person would check: the one written at issue, when it is
 * still there (a changed copy must fail), else the recorded text.
 */
static char *certificate_file(struct vw_req *r, int64_t id, const char *text,
			      size_t *len, int *from_file)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf f = CV_BUF_INIT;
	char name[64], *path;

	snprintf(name, sizeof(name),
		 "certificates/destruction-%" PRId64 ".json", id);
	path = cv_path_join(r->srv->o->archive_dir, name);
	*from_file =
		cv_fs_read_file(&f, path, CV_COMPLIANCE_CERT_MAX, &err) == 0;
	free(path);
	if (!*from_file) {
		cv_buf_release(&f);
		cv_buf_adds(&f, text);
	}
	return cv_buf_detach(&f, len);
}

static void record_rows(struct cv_buf *b, json_t *recs, int destroyed)
{
	size_t i;

	for (i = 0; i < json_array_size(recs); i++) {
		json_t *x = json_array_get(recs, i);

		cv_buf_addf(b, "<tr><td>%lld</td>",
			    (long long)json_integer_value(
				    json_object_get(x, "document_id")));
		td(b, jstr(x, "mrn"));
		td(b, jstr(x, "document_type"));
		cv_buf_adds(b, "<td>");
		vw_esc(b, jstr(x, "dates_from"));
		cv_buf_adds(b, " to ");
		vw_esc(b, jstr(x, "dates_to"));
		cv_buf_adds(b, "</td><td>");
		vw_esc(b, jstr(x, "rule"));
		cv_buf_addf(b, " v%lld</td>",
			    (long long)json_integer_value(
				    json_object_get(x, "rule_version")));
		if (destroyed)
			cv_buf_addf(
				b, "<td>%zu</td>",
				json_array_size(json_object_get(x, "objects")));
		else
			td(b, jstr(x, "reason"));
		cv_buf_adds(b, "</tr>");
	}
}

static void route_certificate(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_compliance_cert_check chk;
	struct cv_compliance_ctx cx;
	struct cv_buf *b = &r->out;
	char *text = NULL, *file = NULL, title[48], idtxt[24], name[48];
	json_t *root = NULL, *cert, *a, *ni, *bt;
	json_error_t jerr;
	uint8_t sig[64];
	size_t len = 0, i;
	int ret, from_file = 0;

	memset(&chk, 0, sizeof(chk));
	ret = t ? cv_index_destroy_certificate(t->ix, id, &text, sig, &err)
		: CV_ERROR;
	if (ret == CV_ENOTFOUND) {
		vw_not_found(r);
		goto out;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		goto out;
	}
	file = certificate_file(r, id, text, &len, &from_file);
	ctx_of(r, t, &cx);
	snprintf(name, sizeof(name), "destruction-%" PRId64 ".json", id);
	if (cv_compliance_certificate_verify(
		    &cx, from_file ? name : "the recorded certificate", file,
		    len, &chk, &err) < 0) {
		vw_failed(r, &err);
		goto out;
	}
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	vw_audit(r, NULL, "certificate.verify", "destruction_batch", idtxt,
		 "viewer", chk.nproblems ? "failed" : "ok");
	root = json_loads(text, 0, &jerr);
	cert = json_object_get(root, "certificate");
	a = json_object_get(cert, "ahima");
	ni = json_object_get(cert, "nist_sp800_88");
	bt = json_object_get(cert, "destruction_batch");

	snprintf(title, sizeof(title), "Certificate, batch %" PRId64, id);
	begin(r, title, "/compliance/certificates");
	cv_buf_addf(b, "<h1>Certificate of destruction, batch %" PRId64 "</h1>",
		    id);
	if (!chk.nproblems) {
		cv_buf_addf(b,
			    "<p class=\"ok\" role=\"status\">Verified: the "
			    "signature is the archive's, it is the "
			    "certificate recorded for the batch, its %zu "
			    "destroyed record(s) are gone with every erased "
			    "object's key and file, and the audit trail holds "
			    "the events. (Checked %s just now, as "
			    "'chartvault certificate verify' does.)</p>",
			    chk.records,
			    from_file ? "the certificate file"
				      : "the recorded "
					"certificate");
	} else {
		cv_buf_adds(b, "<div class=\"error\" role=\"alert\"><p>This "
			       "certificate does NOT verify:</p><ul>");
		for (i = 0; i < chk.nproblems; i++) {
			cv_buf_adds(b, "<li>");
			vw_esc(b, chk.problems[i]);
			cv_buf_adds(b, "</li>");
		}
		cv_buf_adds(b, "</ul></div>");
	}
	cv_buf_addf(b,
		    "<p class=\"downloads\"><a href=\"/compliance/"
		    "certificates/%" PRId64 "/pdf\" download=\"destruction-"
		    "%" PRId64 ".pdf\">Download the signed certificate (PDF)"
		    "</a> <a href=\"/compliance/certificates/%" PRId64
		    "/json\" download=\"destruction-%" PRId64
		    ".json\">Download the signed certificate (JSON, the "
		    "record that verifies)</a></p>",
		    id, id, id, id);
	if (!json_is_object(cert)) {
		alert(r, "The recorded certificate cannot be read.");
		vw_page_end(r);
		goto out;
	}
	cv_buf_adds(b, "<p class=\"help\">The fields below are those of the "
		       "certificate recorded with the batch when it was "
		       "executed.</p>");
	cv_buf_adds(b, "<h2>Certificate of destruction (AHIMA)</h2>"
		       "<dl class=\"facts\">");
	dl_row(b, "Facility", jstr(a, "facility"));
	dl_row(b, "Statement", jstr(a, "statement"));
	dl_row(b, "Date of destruction", jstr(a, "date_of_destruction"));
	dl_row(b, "Inclusive dates from", jstr(a, "inclusive_dates_from"));
	dl_row(b, "Inclusive dates to", jstr(a, "inclusive_dates_to"));
	dl_row(b, "Method of destruction", jstr(a, "method_of_destruction"));
	dl_row(b, "Proposed by", jstr(bt, "proposed_by"));
	dl_row(b, "Witness / approver", jstr(a, "witness_approver"));
	dl_row(b, "Destroyed by", jstr(a, "destroyed_by"));
	dl_row(b, "Department manager", jstr(a, "department_manager"));
	cv_buf_adds(b, "</dl><h2>Sanitization (NIST SP 800-88)</h2>"
		       "<dl class=\"facts\">");
	dl_row(b, "Method type", jstr(ni, "sanitization_method"));
	dl_row(b, "Technique", jstr(ni, "sanitization_technique"));
	dl_row(b, "Tool", jstr(ni, "tool_used"));
	dl_row(b, "Cryptographic library",
	       jstr(ni, "tool_cryptographic_library"));
	dl_row(b, "Verification method", jstr(ni, "verification_method"));
	dl_row(b, "Data backed up", jstr(ni, "data_backed_up"));
	dl_row(b, "No backup holds the keys after",
	       jstr(ni, "no_backup_holds_keys_after"));
	dl_row(b, "Signing key (Ed25519)", jstr(cert, "archive_public_key"));
	cv_buf_adds(b, "</dl>");
	thead(b, "Records destroyed",
	      "Document|MRN|Type|Dates|Rule|Objects erased or kept");
	record_rows(b, json_object_get(cert, "records"), 1);
	cv_buf_adds(b, "</tbody></table>");
	if (json_array_size(json_object_get(cert, "retained"))) {
		thead(b, "Records retained (not destroyed)",
		      "Document|MRN|Type|Dates|Rule|Why");
		record_rows(b, json_object_get(cert, "retained"), 0);
		cv_buf_adds(b, "</tbody></table>");
	}
	vw_page_end(r);
out:
	json_decref(root);
	cv_compliance_cert_check_release(&chk);
	free(text);
	free(file);
}

static void certificate_download(struct vw_req *r, int64_t id, int pdf)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	char *text = NULL, idtxt[24];
	uint8_t sig[64];
	int ret;

	ret = t ? cv_index_destroy_certificate(t->ix, id, &text, sig, &err)
		: CV_ERROR;
	if (ret == CV_ENOTFOUND) {
		vw_not_found(r);
		goto out;
	}
	if (ret == 0 && pdf)
		ret = cv_compliance_certificate_pdf(text, &r->out, &err);
	else if (ret == 0)
		cv_buf_adds(&r->out, text);
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	/* An export of the certificate is on record before it leaves. */
	vw_audit(r, NULL, "certificate.export", "destruction_batch", idtxt,
		 pdf ? "pdf" : "json", ret < 0 ? "failed" : "ok");
	if (ret < 0) {
		vw_failed(r, &err);
		goto out;
	}
	r->ctype = pdf ? "application/pdf" : "application/json";
out:
	free(text);
}

static void route_cert_pdf(struct vw_req *r, int64_t id)
{
	certificate_download(r, id, 1);
}

static void route_cert_json(struct vw_req *r, int64_t id)
{
	certificate_download(r, id, 0);
}

/* ---------------------------------------------------------------------
 * The audit trail
 */

struct row_copy {
	int64_t seq;
	char at[32];
	char *actor, *role, *action, *object_type, *object_id, *patient,
		*document_id, *detail, *outcome;
};

struct rows {
	struct row_copy *v;
	size_t n, cap;
};

static char *dup_or_null(const char *s)
{
	return s ? cv_strdup(s) : NULL;
}

static int copy_row(void *ctx, const struct cv_index_audit_row *row,
		    struct cv_error *err)
{
	struct rows *rs = ctx;
	struct row_copy *c;

	(void)err;
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? 2 * rs->cap : 64;
		rs->v = cv_realloc(rs->v, rs->cap * sizeof(*rs->v));
	}
	c = &rs->v[rs->n++];
	c->seq = row->seq;
	snprintf(c->at, sizeof(c->at), "%s", row->at);
	c->actor = dup_or_null(row->actor);
	c->role = dup_or_null(row->role);
	c->action = dup_or_null(row->action);
	c->object_type = dup_or_null(row->object_type);
	c->object_id = dup_or_null(row->object_id);
	c->patient = dup_or_null(row->patient);
	c->document_id = dup_or_null(row->document_id);
	c->detail = dup_or_null(row->detail);
	c->outcome = dup_or_null(row->outcome);
	return 0;
}

static void rows_release(struct rows *rs)
{
	size_t i;

	for (i = 0; i < rs->n; i++) {
		free(rs->v[i].actor);
		free(rs->v[i].role);
		free(rs->v[i].action);
		free(rs->v[i].object_type);
		free(rs->v[i].object_id);
		free(rs->v[i].patient);
		free(rs->v[i].document_id);
		free(rs->v[i].detail);
		free(rs->v[i].outcome);
	}
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

/* The filter's fields back as a query string, for the next page. */
static void filter_query(struct cv_buf *q, const char *user, const char *mrn,
			 const char *doc, const char *since)
{
	const char *names[4] = { "user", "mrn", "document", "since" };
	const char *vals[4] = { user, mrn, doc, since };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (!vals[i] || !*vals[i])
			continue;
		cv_buf_addf(q, "&%s=", names[i]);
		vw_urlesc(q, vals[i]);
	}
}

static void text_input(struct cv_buf *b, const char *id, const char *name,
		       const char *label, const char *type, const char *value)
{
	cv_buf_addf(b, "<div><label for=\"%s\">", id);
	vw_esc(b, label);
	cv_buf_addf(b,
		    "</label><input id=\"%s\" name=\"%s\" type=\"%s\" "
		    "value=\"",
		    id, name, type);
	vw_esc(b, value ? value : "");
	cv_buf_adds(b, "\"></div>");
}

static void route_audit(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_audit_filter f;
	struct rows rs = { NULL, 0, 0 };
	struct cv_buf *b = &r->out, q = CV_BUF_INIT, detail = CV_BUF_INIT;
	const char *user = vw_arg(r, "user"), *mrn = vw_arg(r, "mrn"),
		   *doc = vw_arg(r, "document"), *since_in = vw_arg(r, "since"),
		   *msg = NULL;
	const char *since;
	size_t i;
	int bad;

	(void)id;
	if (!t) {
		vw_failed(r, &err);
		return;
	}
	memset(&f, 0, sizeof(f));
	since = date_arg(since_in, &bad);
	if (bad)
		msg = "Give the date as YYYY-MM-DD.";
	if (doc && *doc && !vw_parse_id(doc))
		msg = "A document is given by its number.";
	if ((user && strlen(user) > 64) || (mrn && strlen(mrn) > 63))
		msg = "That user name or MRN is too long.";
	if (msg) {
		r->status = 400;
	} else {
		f.actor = user && *user ? user : NULL;
		f.patient = mrn && *mrn ? mrn : NULL;
		f.document_id = doc && *doc ? vw_parse_id(doc) : 0;
		f.since = since;
		f.limit = PAGE_ROWS;
		f.before_seq = vw_parse_id(vw_arg(r, "before"));
		if (cv_index_audit_query(t->ix, &f, copy_row, &rs, &err) < 0) {
			vw_failed(r, &err);
			goto out;
		}
		/* Reading the trail is itself recorded, with what was
		 * asked, as 'audit show' records it. */
		if (f.actor)
			cv_buf_addf(&detail, "user %s; ", f.actor);
		if (f.since)
			cv_buf_addf(&detail, "since %s; ", f.since);
		cv_buf_adds(&detail, "viewer");
		{
			struct cv_index_audit_entry e;
			struct cv_error aerr = CV_ERROR_INIT;

			memset(&e, 0, sizeof(e));
			e.actor = r->sess.user.name;
			e.action = "audit.show";
			e.object_type = "audit_log";
			e.patient = f.patient;
			e.document_id = f.document_id;
			e.detail = detail.buf;
			if (cv_index_audit_append(t->ix, &e, NULL, &aerr) < 0) {
				vw_failed(r, &aerr);
				goto out;
			}
		}
	}
	begin(r, "Audit trail", "/compliance/audit");
	cv_buf_adds(b, "<h1>Audit trail</h1>");
	done_notice(r);
	alert(r, msg);
	audit_state(r, t->ix, 1);
	cv_buf_adds(b, "<h2>Who looked at this chart</h2><form "
		       "class=\"filters\" method=\"get\" "
		       "action=\"/compliance/audit/patient\">");
	text_input(b, "report-mrn", "mrn", "Patient MRN", "text", NULL);
	cv_buf_adds(b, "<div><button type=\"submit\">Show the report"
		       "</button></div></form>");
	cv_buf_adds(b, "<h2>Rows</h2><form class=\"filters\" method=\"get\" "
		       "action=\"/compliance/audit\">");
	text_input(b, "user", "user", "User", "text", user);
	text_input(b, "mrn", "mrn", "Patient MRN", "text", mrn);
	text_input(b, "document", "document", "Document", "text", doc);
	text_input(b, "since", "since", "Since (UTC date)", "date", since_in);
	cv_buf_adds(b, "<div><button type=\"submit\">Filter</button></div>"
		       "</form>");
	thead(b, "Audit rows, newest first",
	      "Row|Time (UTC)|User|Role|Action|Object|Patient|Document|"
	      "Outcome|Detail");
	for (i = rs.n; i-- > 0;) {
		struct row_copy *c = &rs.v[i];

		cv_buf_addf(b, "<tr><td>%" PRId64 "</td>", c->seq);
		td_nw(b, c->at);
		td(b, c->actor);
		td(b, c->role);
		td(b, c->action);
		cv_buf_adds(b, "<td>");
		vw_esc(b, c->object_type ? c->object_type : "-");
		if (c->object_id) {
			cv_buf_adds(b, " ");
			vw_esc(b, c->object_id);
		}
		cv_buf_adds(b, "</td>");
		td(b, c->patient);
		td(b, c->document_id);
		td(b, c->outcome);
		td(b, c->detail);
		cv_buf_adds(b, "</tr>");
	}
	if (rs.n == 0)
		cv_buf_adds(b, "<tr><td colspan=\"10\">No row matches."
			       "</td></tr>");
	cv_buf_adds(b, "</tbody></table>");
	if (rs.n == PAGE_ROWS && rs.v[0].seq > 1) {
		filter_query(&q, user, mrn, doc, since);
		cv_buf_addf(b,
			    "<p><a rel=\"next\" href=\"/compliance/audit?"
			    "before=%" PRId64,
			    rs.v[0].seq);
		vw_esc(b, q.buf);
		cv_buf_adds(b, "\">Older rows</a></p>");
	}
	vw_page_end(r);
out:
	rows_release(&rs);
	cv_buf_release(&q);
	cv_buf_release(&detail);
}

/* audit.checkpoint_file, as 'serve' passed it (malloc'd). */
static char *checkpoint_file(struct vw_req *r)
{
	const char *f = r->srv->o->checkpoint_file;

	return f ? cv_strdup(f)
		 : cv_path_join(r->srv->o->archive_dir,
				"audit/checkpoints.log");
}

static void route_audit_checkpoint(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_archive_audit_cp_opts o;
	struct cv_index_audit_checkpoint cp;
	char *file, detail[48];
	int written = 0, ret;

	(void)id;
	if (!t) {
		vw_failed(r, &err);
		return;
	}
	/* As 'chartvault audit checkpoint': sign the head if it moved. */
	memset(&o, 0, sizeof(o));
	o.force = 1;
	file = checkpoint_file(r);
	ret = cv_archive_audit_checkpoint(t->ix, r->srv->o->keys, file, &o, &cp,
					  &written, &err);
	free(file);
	if (written)
		snprintf(detail, sizeof(detail), "seq %" PRId64, cp.seq);
	vw_audit(r, NULL, "audit.checkpoint", "audit_log", NULL,
		 written ? detail : "nothing new", ret < 0 ? "failed" : "ok");
	if (ret < 0) {
		vw_failed(r, &err);
		return;
	}
	vw_redirect(r, written ? "/compliance/audit?done=checkpoint"
			       : "/compliance/audit?done=no-checkpoint");
}

static void route_audit_verify(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_archive_audit_report rep;
	struct cv_compliance_ctx cx;
	char *file, *fallback;
	size_t i;

	(void)id;
	if (!t) {
		vw_failed(r, &err);
		return;
	}
	file = fallback = checkpoint_file(r);
	ctx_of(r, t, &cx);
	if (cv_compliance_audit_verify(&cx, file, &rep, &err) < 0) {
		free(fallback);
		vw_failed(r, &err);
		return;
	}
	pthread_mutex_lock(&last_lock);
	memset(&last_verify, 0, sizeof(last_verify));
	last_verify.seq_after = rep.head_seq;
	last_verify.total = rep.total_problems;
	for (i = 0; i < rep.nproblems && i < LAST_PROBLEMS; i++)
		snprintf(last_verify.what[i], sizeof(last_verify.what[i]), "%s",
			 rep.problems[i].what);
	last_verify.n = i;
	pthread_mutex_unlock(&last_lock);
	cv_archive_audit_report_release(&rep);
	free(fallback);
	vw_redirect(r, "/compliance/audit?done=verified");
}

/* ---------------------------------------------------------------------
 * Who looked at this chart
 */

struct doc_use {
	char doc[24];
	char actions[160];
	int64_t count;
	char first[32], last[32];
};

struct user_use {
	char actor[65], role[16];
	int64_t count, views, searches, exports, other;
	char first[32], last[32];
	struct doc_use *docs;
	size_t ndocs;
};

struct report {
	struct user_use *users;
	size_t n;
	int64_t rows;
};

static void add_action(char *list, size_t n, const char *action)
{
	size_t len = strlen(action);
	const char *p = list;

	while ((p = strstr(p, action)) != NULL) {
		if ((p == list || p[-1] == ' ') &&
		    (p[len] == ',' || p[len] == '\0'))
			return;
		p += len;
	}
	if (strlen(list) + len + 3 < n)
		snprintf(list + strlen(list), n - strlen(list), "%s%s",
			 *list ? ", " : "", action);
}

static int tally(void *ctx, const struct cv_index_audit_row *row,
		 struct cv_error *err)
{
	struct report *rp = ctx;
	const char *actor = row->actor ? row->actor : "(unknown)";
	const char *action = row->action ? row->action : "";
	const char *doc = row->document_id ? row->document_id : "";
	struct user_use *u = NULL;
	struct doc_use *d = NULL;
	size_t i;

	(void)err;
	rp->rows++;
	for (i = 0; i < rp->n; i++)
		if (!strcmp(rp->users[i].actor, actor))
			u = &rp->users[i];
	if (!u) {
		rp->users =
			cv_realloc(rp->users, (rp->n + 1) * sizeof(*rp->users));
		u = &rp->users[rp->n++];
		memset(u, 0, sizeof(*u));
		snprintf(u->actor, sizeof(u->actor), "%s", actor);
		snprintf(u->first, sizeof(u->first), "%s", row->at);
	}
	if (row->role)
		snprintf(u->role, sizeof(u->role), "%s", row->role);
	snprintf(u->last, sizeof(u->last), "%s", row->at);
	u->count++;
	if (!strcmp(action, "search"))
		u->searches++;
	else if (strstr(action, "view"))
		u->views++;
	else if (strstr(action, "export") || strstr(action, "get"))
		u->exports++;
	else
		u->other++;
	/* A search row lists the documents it returned, not one. */
	if (!strcmp(action, "search") && !*doc)
		doc = "search results";
	else if (!*doc)
		doc = "the chart";
	for (i = 0; i < u->ndocs; i++)
		if (!strcmp(u->docs[i].doc, doc))
			d = &u->docs[i];
	if (!d) {
		u->docs =
			cv_realloc(u->docs, (u->ndocs + 1) * sizeof(*u->docs));
		d = &u->docs[u->ndocs++];
		memset(d, 0, sizeof(*d));
		snprintf(d->doc, sizeof(d->doc), "%s", doc);
		snprintf(d->first, sizeof(d->first), "%s", row->at);
	}
	snprintf(d->last, sizeof(d->last), "%s", row->at);
	d->count++;
	add_action(d->actions, sizeof(d->actions), action);
	return 0;
}

static void route_who_looked(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_audit_filter f;
	struct cv_index_patient pt;
	struct report rp = { NULL, 0, 0 };
	struct cv_buf *b = &r->out;
	const char *mrn = vw_arg(r, "mrn");
	char detail[64];
	size_t i, k;
	int known = 0;

	(void)id;
	if (!t) {
		vw_failed(r, &err);
		return;
	}
	if (!mrn || !*mrn || strlen(mrn) > 63) {
		r->status = 400;
		begin(r, "Who looked at this chart", "/compliance/audit");
		cv_buf_adds(b, "<h1>Who looked at this chart</h1>");
		alert(r, "Give the patient's MRN.");
		cv_buf_adds(b, "<form class=\"filters\" method=\"get\" "
			       "action=\"/compliance/audit/patient\">");
		text_input(b, "mrn", "mrn", "Patient MRN", "text", NULL);
		cv_buf_adds(b, "<div><button type=\"submit\">Show the report"
			       "</button></div></form>");
		vw_page_end(r);
		return;
	}
	memset(&f, 0, sizeof(f));
	f.patient = mrn;
	f.limit = REPORT_MAX;
	if (cv_index_audit_query(t->ix, &f, tally, &rp, &err) < 0) {
		vw_failed(r, &err);
		goto out;
	}
	known = cv_index_patient_by_mrn(t->ix, mrn, &pt, &err) == 0;
	snprintf(detail, sizeof(detail), "who looked: %" PRId64 " rows",
		 rp.rows);
	audit_patient(r, "audit.show", mrn, detail, "ok");

	begin(r, "Who looked at this chart", "/compliance/audit");
	cv_buf_adds(b, "<h1>Who looked at this chart <span class=\"sub\">MRN ");
	vw_esc(b, mrn);
	if (known) {
		cv_buf_adds(b, ", ");
		vw_esc(b, pt.family);
		cv_buf_adds(b, ", ");
		vw_esc(b, pt.given);
	}
	cv_buf_adds(b, "</span></h1>");
	if (!known)
		cv_buf_adds(b, "<p class=\"help\">This MRN is not in the "
			       "patient index (its records may have been "
			       "destroyed); the trail still names it.</p>");
	cv_buf_addf(b,
		    "<p>%" PRId64 " audit row(s) about this patient's chart "
		    "and documents, by %zu user(s): views, searches that "
		    "returned one of the documents, exports and changes."
		    "%s</p>",
		    rp.rows, rp.n,
		    rp.rows >= REPORT_MAX ? " Only the newest 100000 rows "
					    "are counted."
					  : "");
	thead(b, "Users who touched this chart",
	      "User|Role|Events|Views|Searches|Exports|Other|First (UTC)|"
	      "Last (UTC)");
	for (i = 0; i < rp.n; i++) {
		struct user_use *u = &rp.users[i];

		cv_buf_adds(b, "<tr><th scope=\"row\">");
		vw_esc(b, u->actor);
		cv_buf_adds(b, "</th>");
		td(b, u->role);
		td_i64(b, u->count);
		td_i64(b, u->views);
		td_i64(b, u->searches);
		td_i64(b, u->exports);
		td_i64(b, u->other);
		td_nw(b, u->first);
		td_nw(b, u->last);
		cv_buf_adds(b, "</tr>");
	}
	if (rp.n == 0)
		cv_buf_adds(b, "<tr><td colspan=\"9\">Nobody, as far as the "
			       "trail shows.</td></tr>");
	cv_buf_adds(b, "</tbody></table>");
	for (i = 0; i < rp.n; i++) {
		struct user_use *u = &rp.users[i];
		struct cv_buf cap = CV_BUF_INIT;

		cv_buf_addf(&cap, "What %s did", u->actor);
		thead(b, cap.buf,
		      "Document|Actions|Count|First (UTC)|Last (UTC)");
		cv_buf_release(&cap);
		for (k = 0; k < u->ndocs; k++) {
			struct doc_use *d = &u->docs[k];

			if (vw_parse_id(d->doc))
				cv_buf_addf(b,
					    "<tr><td><a href=\"/doc/%s\">"
					    "Document %s</a></td>",
					    d->doc, d->doc);
			else
				td(b, d->doc);
			td(b, d->actions);
			td_i64(b, d->count);
			td_nw(b, d->first);
			td_nw(b, d->last);
			cv_buf_adds(b, "</tr>");
		}
		cv_buf_adds(b, "</tbody></table>");
	}
	cv_buf_adds(b, "<p><a href=\"/compliance/audit?mrn=");
	vw_urlesc(b, mrn);
	cv_buf_adds(b, "\">Every row about this patient</a></p>");
	vw_page_end(r);
out:
	for (i = 0; i < rp.n; i++)
		free(rp.users[i].docs);
	free(rp.users);
}

const struct vw_route vw_routes_compliance[] = {
	{ "GET", "/compliance", NULL, OVERSIGHT, route_overview, "Compliance" },
	{ "GET", "/compliance/retention", NULL, OVERSIGHT, route_retention,
	  NULL },
	{ "POST", "/compliance/retention/propose", NULL, OVERSIGHT,
	  route_propose, NULL },
	{ "GET", "/compliance/holds", NULL, OVERSIGHT, route_holds, NULL },
	{ "POST", "/compliance/holds/add", NULL, OVERSIGHT, route_hold_add,
	  NULL },
	{ "POST", "/compliance/holds/", "/release", OVERSIGHT,
	  route_hold_release, NULL },
	{ "GET", "/compliance/destruction", NULL, OVERSIGHT, route_batches,
	  NULL },
	{ "GET", "/compliance/destruction/", "", OVERSIGHT, route_batch, NULL },
	{ "POST", "/compliance/destruction/", "/approve", APPROVERS,
	  route_approve, NULL },
	{ "POST", "/compliance/destruction/", "/execute", OVERSIGHT,
	  route_execute, NULL },
	{ "POST", "/compliance/destruction/", "/cancel", OVERSIGHT,
	  route_cancel, NULL },
	{ "GET", "/compliance/certificates", NULL, OVERSIGHT,
	  route_certificates, NULL },
	{ "GET", "/compliance/certificates/", "", OVERSIGHT, route_certificate,
	  NULL },
	{ "GET", "/compliance/certificates/", "/pdf", OVERSIGHT, route_cert_pdf,
	  NULL },
	{ "GET", "/compliance/certificates/", "/json", OVERSIGHT,
	  route_cert_json, NULL },
	{ "GET", "/compliance/audit", NULL, OVERSIGHT, route_audit, NULL },
	{ "POST", "/compliance/audit/verify", NULL, OVERSIGHT,
	  route_audit_verify, NULL },
	{ "POST", "/compliance/audit/checkpoint", NULL, OVERSIGHT,
	  route_audit_checkpoint, NULL },
	{ "GET", "/compliance/audit/patient", NULL, OVERSIGHT, route_who_looked,
	  NULL },
	{ NULL, NULL, NULL, NULL, NULL, NULL },
};
