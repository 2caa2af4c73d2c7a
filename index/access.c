/*
 * Who may open a patient's chart: restricted charts, standing permissions
 * and emergency access ("break the glass"), and the chart's own listing.
 *
 * Every decision is made by decide() from one row that the ACCESS
 * statement builds for a patient: the chart's restriction, the user's
 * role and whether they are enabled, a live standing permission and an
 * emergency grant in force. The document, page and many-document forms
 * only differ in how they find the patient, so the viewer's screens and
 * the commands that show a record's content all get the same answer.
 * Times are the server's (now()), so that hosts with skewed clocks agree
 * on when a grant runs out.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

#define NOTE_MAX 500
#define ISO_UTC(col)                                   \
	"coalesce(to_char(" col " AT TIME ZONE 'UTC'," \
	" 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"

const char *const cv_index_glass_categories[][2] = {
	{ "treatment", "Emergency treatment of the patient" },
	{ "continuity", "Urgent continuity of care" },
	{ "safety", "Patient or public safety" },
	{ "legal", "Legal or regulatory duty" },
	{ NULL, NULL },
};

static const char *const restrictions[] = { "employee", "vip", "sensitive" };

int cv_index_restriction_ok(const char *name)
{
	size_t i;

	for (i = 0; name && i < sizeof(restrictions) / sizeof(restrictions[0]);
	     i++)
		if (!strcmp(name, restrictions[i]))
			return 1;
	return 0;
}

int cv_index_glass_category_ok(const char *code)
{
	size_t i;

	for (i = 0; code && cv_index_glass_categories[i][0]; i++)
		if (!strcmp(code, cv_index_glass_categories[i][0]))
			return 1;
	return 0;
}

int cv_index_access_allowed(enum cv_index_access a)
{
	return a == CV_INDEX_ACCESS_OPEN || a == CV_INDEX_ACCESS_PERMITTED ||
	       a == CV_INDEX_ACCESS_EMERGENCY;
}

const char *cv_index_access_name(enum cv_index_access a)
{
	switch (a) {
	case CV_INDEX_ACCESS_OPEN:
		return "open";
	case CV_INDEX_ACCESS_PERMITTED:
		return "permitted";
	case CV_INDEX_ACCESS_EMERGENCY:
		return "emergency";
	case CV_INDEX_ACCESS_NEEDS_REASON:
		return "needs-reason";
	case CV_INDEX_ACCESS_DENIED:
		return "denied";
	}
	return "denied";
}

/* ---------------------------------------------------------------------
 * The decision
 */

/*
 * The columns decide() reads, for the patient p and user $1: restriction,
 * MRN, a live permission, the grant in force (id and end) and the user's
 * role when enabled.
 */
/* clang-format off */
#define ACCESS_COLS                                                        \
	" coalesce(p.id, 0), coalesce(p.restricted, ''),"                  \
	" coalesce(p.mrn, ''),"                                            \
	" EXISTS (SELECT 1 FROM chart_permissions cp"                      \
	"  WHERE cp.patient_id = p.id AND cp.user_name = $1"               \
	"  AND cp.revoked_at IS NULL),"                                    \
	" coalesce(g.id, 0), " ISO_UTC("g.expires_at") ","                 \
	" coalesce((SELECT u.role FROM users u WHERE u.name = $1"          \
	"  AND u.disabled_at IS NULL), '')"
/* clang-format on */

/* The grant in force for the patient p and user $1, if any. */
#define ACCESS_GRANT                                                     \
	" LEFT JOIN LATERAL (SELECT e.id, e.expires_at"                  \
	"  FROM emergency_access e WHERE e.patient_id = p.id"            \
	"  AND e.user_name = $1 AND e.granted_at <= now()"               \
	"  AND e.expires_at > now() ORDER BY e.expires_at DESC LIMIT 1)" \
	" g ON true"

/*
 * A document's patient: the one it is filed under, else (still in the
 * queue) the one its MRN names, so that a restricted patient's record is
 * not open while it waits to be placed.
 */
#define DOC_PATIENT                                              \
	" LEFT JOIN patients p ON p.id = coalesce(d.patient_id," \
	"  (SELECT p2.id FROM patients p2 WHERE p2.mrn = d.mrn))"

static const char CHART_ACCESS[] =
	"SELECT" ACCESS_COLS " FROM patients p" ACCESS_GRANT " WHERE p.id = $2";

static const char DOCUMENT_ACCESS[] =
	"SELECT" ACCESS_COLS " FROM documents d" DOC_PATIENT ACCESS_GRANT
	" WHERE d.id = $2";

static const char PAGE_ACCESS[] =
	"SELECT" ACCESS_COLS " FROM pages pg"
	" LEFT JOIN documents d ON d.id = pg.document_id" DOC_PATIENT
		ACCESS_GRANT " WHERE pg.id = $2";

static const char DOCUMENTS_ACCESS[] =
	"SELECT x.id," ACCESS_COLS " FROM unnest($2::bigint[]) AS x(id)"
	" LEFT JOIN documents d ON d.id = x.id" DOC_PATIENT ACCESS_GRANT;

/* The one rule. */
static enum cv_index_access decide(const char *restricted, int permitted,
				   int64_t grant, const char *role)
{
	if (!restricted[0])
		return CV_INDEX_ACCESS_OPEN;
	/* A disabled or unknown user, or a clerk, never reads a chart. */
	if (strcmp(role, "records") && strcmp(role, "compliance") &&
	    strcmp(role, "admin"))
		return CV_INDEX_ACCESS_DENIED;
	if (permitted)
		return CV_INDEX_ACCESS_PERMITTED;
	if (grant)
		return CV_INDEX_ACCESS_EMERGENCY;
	return CV_INDEX_ACCESS_NEEDS_REASON;
}

/* Read ACCESS_COLS from column first of row into out. */
static int read_access(const PGresult *res, int row, int first,
		       struct cv_index_access_info *out)
{
	memset(out, 0, sizeof(*out));
	if (cv_index__get_i64(&out->patient_id, res, row, first) < 0 ||
	    cv_index__get_i64(&out->grant_id, res, row, first + 4) < 0)
		return CV_ERROR;
	snprintf(out->restricted, sizeof(out->restricted), "%s",
		 PQgetvalue(res, row, first + 1));
	snprintf(out->mrn, sizeof(out->mrn), "%s",
		 PQgetvalue(res, row, first + 2));
	snprintf(out->expires_at, sizeof(out->expires_at), "%s",
		 PQgetvalue(res, row, first + 5));
	out->decision = decide(out->restricted,
			       !strcmp(PQgetvalue(res, row, first + 3), "t"),
			       out->grant_id, PQgetvalue(res, row, first + 6));
	if (out->decision != CV_INDEX_ACCESS_EMERGENCY) {
		out->grant_id = 0;
		out->expires_at[0] = '\0';
	}
	return 0;
}

static int access_one(struct cv_index *ix, const char *sql, const char *what,
		      const char *user, int64_t id,
		      struct cv_index_access_info *out, struct cv_error *err)
{
	char idtxt[24];
	const char *params[2] = { user ? user : "", idtxt };
	PGresult *res;
	int ret;

	memset(out, 0, sizeof(*out));
	out->decision = CV_INDEX_ACCESS_DENIED;
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	res = PQexecParams(ix->conn, sql, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not check access to %s %s",
					 what, idtxt);
		goto cleanup;
	}
	if (PQntuples(res) != 1) {
		ret = cv_error_set(err, CV_ENOTFOUND, "no %s %s", what, idtxt);
		goto cleanup;
	}
	ret = read_access(res, 0, 0, out);
	if (ret < 0)
		cv_error_set(err, ret, "access row of %s %s is malformed", what,
			     idtxt);
cleanup:
	PQclear(res);
	if (ret < 0) {
		memset(out, 0, sizeof(*out));
		out->decision = CV_INDEX_ACCESS_DENIED;
	}
	return ret;
}

int cv_index_chart_access(struct cv_index *ix, const char *user,
			  int64_t patient_id, struct cv_index_access_info *out,
			  struct cv_error *err)
{
	return access_one(ix, CHART_ACCESS, "patient", user, patient_id, out,
			  err);
}

int cv_index_document_access(struct cv_index *ix, const char *user,
			     int64_t doc_id, struct cv_index_access_info *out,
			     struct cv_error *err)
{
	return access_one(ix, DOCUMENT_ACCESS, "document", user, doc_id, out,
			  err);
}

int cv_index_page_access(struct cv_index *ix, const char *user, int64_t page_id,
			 struct cv_index_access_info *out, struct cv_error *err)
{
	return access_one(ix, PAGE_ACCESS, "page", user, page_id, out, err);
}

int cv_index_documents_access(struct cv_index *ix, const char *user,
			      const int64_t *doc_ids, size_t n,
			      struct cv_index_access_info *out,
			      struct cv_error *err)
{
	struct cv_buf arr = CV_BUF_INIT;
	const char *params[2];
	PGresult *res = NULL;
	size_t i;
	int row, ret = 0;

	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].decision = CV_INDEX_ACCESS_DENIED;
	}
	if (n == 0)
		return 0;
	cv_buf_addch(&arr, '{');
	for (i = 0; i < n; i++)
		cv_buf_addf(&arr, "%s%" PRId64, i ? "," : "", doc_ids[i]);
	cv_buf_addch(&arr, '}');
	params[0] = user ? user : "";
	params[1] = arr.buf;
	res = PQexecParams(ix->conn, DOCUMENTS_ACCESS, 2, NULL, params, NULL,
			   NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not check access to %zu documents", n);
		goto cleanup;
	}
	/* unnest keeps the order, but match by id all the same. */
	for (row = 0; row < PQntuples(res); row++) {
		struct cv_index_access_info a;
		int64_t id;

		if (cv_index__get_i64(&id, res, row, 0) < 0 ||
		    read_access(res, row, 1, &a) < 0) {
			ret = cv_error_set(err, CV_ERROR,
					   "access row %d is malformed", row);
			goto cleanup;
		}
		for (i = 0; i < n; i++)
			if (doc_ids[i] == id)
				out[i] = a;
	}
cleanup:
	PQclear(res);
	cv_buf_release(&arr);
	return ret;
}

/* ---------------------------------------------------------------------
 * Restriction and standing permissions
 */

/* 1 when s has a control character (a note or reason is one line). */
static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static const char RESTRICT[] =
	"UPDATE patients SET restricted = NULLIF($2, ''),"
	" restricted_note = NULLIF($3, ''),"
	" restricted_by = CASE WHEN $2 = '' THEN NULL ELSE $4 END,"
	" restricted_at = CASE WHEN $2 = '' THEN NULL ELSE now() END"
	" WHERE mrn = $1 RETURNING id, coalesce(restricted, '')";

static const char RESTRICTED_BEFORE[] =
	"SELECT coalesce(restricted, '') FROM patients WHERE mrn = $1"
	" FOR UPDATE";

int cv_index_patient_restrict(struct cv_index *ix, const char *mrn,
			      const char *category, const char *note,
			      const char *actor, struct cv_error *err)
{
	const char *params[4];
	char detail[96], pid[24] = "";
	struct cv_index_audit_entry e;
	PGresult *res = NULL;
	int owned, ret;

	if (category && !cv_index_restriction_ok(category))
		return cv_error_set(
			err, CV_EINVAL,
			"restriction category '%.32s' is not one of employee, vip, sensitive",
			category);
	if (note && (strlen(note) > NOTE_MAX || has_control(note)))
		return cv_error_set(
			err, CV_EINVAL,
			"a restriction note is one line of at most %d characters",
			NOTE_MAX);
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	params[0] = mrn;
	res = PQexecParams(ix->conn, RESTRICTED_BEFORE, 1, NULL, params, NULL,
			   NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read the patient");
		goto cleanup;
	}
	if (PQntuples(res) != 1) {
		ret = cv_error_set(
			err, CV_ENOTFOUND,
			"no patient with that MRN in the patient index");
		goto cleanup;
	}
	snprintf(detail, sizeof(detail), "was %s, now %s",
		 PQgetvalue(res, 0, 0)[0] ? PQgetvalue(res, 0, 0) : "open",
		 category ? category : "open");
	PQclear(res);
	params[1] = category ? category : "";
	params[2] = category && note ? note : "";
	params[3] = actor;
	res = PQexecParams(ix->conn, RESTRICT, 4, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not change the restriction");
		goto cleanup;
	}
	snprintf(pid, sizeof(pid), "%s", PQgetvalue(res, 0, 0));
	memset(&e, 0, sizeof(e));
	e.actor = actor;
	e.action = category ? "patient.restrict" : "patient.unrestrict";
	e.object_type = "patient";
	e.object_id = pid;
	e.patient = mrn;
	e.detail = detail;
	ret = cv_index_audit_append(ix, &e, NULL, err);
cleanup:
	PQclear(res);
	return cv_index__tx_leave(ix, owned, ret, err);
}

static const char PERMIT[] =
	"INSERT INTO chart_permissions (patient_id, user_name, granted_by)"
	" SELECT p.id, $2, $3 FROM patients p WHERE p.mrn = $1"
	" ON CONFLICT (patient_id, user_name) WHERE revoked_at IS NULL"
	" DO NOTHING RETURNING id, patient_id";

static const char REVOKE[] =
	"UPDATE chart_permissions cp SET revoked_by = $3, revoked_at = now()"
	" FROM patients p WHERE p.mrn = $1 AND cp.patient_id = p.id"
	" AND cp.user_name = $2 AND cp.revoked_at IS NULL"
	" RETURNING cp.id, cp.patient_id";

static const char PATIENT_ID_BY_MRN[] =
	"SELECT id FROM patients WHERE mrn = $1";

int cv_index_chart_permit(struct cv_index *ix, const char *mrn,
			  const char *user, int revoke, const char *actor,
			  struct cv_error *err)
{
	struct cv_index_user u;
	struct cv_index_audit_entry e;
	const char *params[3] = { mrn, user, actor };
	char pid[24], detail[128];
	PGresult *res = NULL;
	int owned, ret;

	ret = cv_index_user_get(ix, user, 0, &u, err);
	if (ret < 0)
		return ret;
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	res = PQexecParams(ix->conn, PATIENT_ID_BY_MRN, 1, NULL, params, NULL,
			   NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read the patient");
		goto cleanup;
	}
	if (PQntuples(res) != 1) {
		ret = cv_error_set(
			err, CV_ENOTFOUND,
			"no patient with that MRN in the patient index");
		goto cleanup;
	}
	snprintf(pid, sizeof(pid), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	res = PQexecParams(ix->conn, revoke ? REVOKE : PERMIT, 3, NULL, params,
			   NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not change the permission");
		goto cleanup;
	}
	if (PQntuples(res) == 0) {
		ret = revoke ? cv_error_set(
				       err, CV_ENOTFOUND,
				       "user '%s' has no standing permission for that chart",
				       user)
			     : cv_error_set(
				       err, CV_EEXISTS,
				       "user '%s' already has a standing permission for that chart",
				       user);
		goto cleanup;
	}
	snprintf(detail, sizeof(detail), "user %s, permission %s", user,
		 PQgetvalue(res, 0, 0));
	memset(&e, 0, sizeof(e));
	e.actor = actor;
	e.action = revoke ? "chart.revoke" : "chart.permit";
	e.object_type = "patient";
	e.object_id = pid;
	e.patient = mrn;
	e.detail = detail;
	ret = cv_index_audit_append(ix, &e, NULL, err);
cleanup:
	PQclear(res);
	return cv_index__tx_leave(ix, owned, ret, err);
}

/* clang-format off */
static const char ACL_PATIENT[] =
	"SELECT p.id, coalesce(p.restricted, ''), coalesce(p.restricted_note, ''),"
	" coalesce(p.restricted_by, ''), " ISO_UTC("p.restricted_at") ","
	" (SELECT count(*) FROM emergency_access e WHERE e.patient_id = p.id),"
	" (SELECT count(*) FROM emergency_access e WHERE e.patient_id = p.id"
	"  AND e.reviewed_at IS NULL)"
	" FROM patients p WHERE p.mrn = $1";

static const char ACL_PERMISSIONS[] =
	"SELECT id, user_name, granted_by, " ISO_UTC("granted_at")
	" FROM chart_permissions WHERE patient_id = $1 AND revoked_at IS NULL"
	" ORDER BY user_name";
/* clang-format on */

int cv_index_chart_acl(struct cv_index *ix, const char *mrn,
		       struct cv_index_chart_acl *out, struct cv_error *err)
{
	const char *params[1] = { mrn };
	char pid[24];
	PGresult *res;
	int i, rows, ret = 0;

	memset(out, 0, sizeof(*out));
	res = PQexecParams(ix->conn, ACL_PATIENT, 1, NULL, params, NULL, NULL,
			   0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read the chart's access");
		goto cleanup;
	}
	if (PQntuples(res) != 1) {
		ret = cv_error_set(
			err, CV_ENOTFOUND,
			"no patient with that MRN in the patient index");
		goto cleanup;
	}
	if (cv_index__get_i64(&out->patient_id, res, 0, 0) < 0 ||
	    cv_index__get_i64(&out->grants, res, 0, 5) < 0 ||
	    cv_index__get_i64(&out->grants_unreviewed, res, 0, 6) < 0) {
		ret = cv_error_set(err, CV_ERROR,
				   "chart access row is malformed");
		goto cleanup;
	}
	snprintf(out->restricted, sizeof(out->restricted), "%s",
		 PQgetvalue(res, 0, 1));
	snprintf(out->note, sizeof(out->note), "%s", PQgetvalue(res, 0, 2));
	snprintf(out->restricted_by, sizeof(out->restricted_by), "%s",
		 PQgetvalue(res, 0, 3));
	snprintf(out->restricted_at, sizeof(out->restricted_at), "%s",
		 PQgetvalue(res, 0, 4));
	PQclear(res);
	snprintf(pid, sizeof(pid), "%" PRId64, out->patient_id);
	params[0] = pid;
	res = PQexecParams(ix->conn, ACL_PERMISSIONS, 1, NULL, params, NULL,
			   NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not read the chart's permissions");
		goto cleanup;
	}
	rows = PQntuples(res);
	out->permissions =
		cv_calloc((size_t)rows + 1, sizeof(*out->permissions));
	for (i = 0; i < rows; i++) {
		struct cv_index_chart_permission *cp = &out->permissions[i];

		if (cv_index__get_i64(&cp->id, res, i, 0) < 0) {
			ret = cv_error_set(err, CV_ERROR,
					   "permission row %d is malformed", i);
			goto cleanup;
		}
		snprintf(cp->user, sizeof(cp->user), "%s",
			 PQgetvalue(res, i, 1));
		snprintf(cp->granted_by, sizeof(cp->granted_by), "%s",
			 PQgetvalue(res, i, 2));
		snprintf(cp->granted_at, sizeof(cp->granted_at), "%s",
			 PQgetvalue(res, i, 3));
	}
	out->npermissions = (size_t)rows;
cleanup:
	PQclear(res);
	if (ret < 0)
		cv_index_chart_acl_release(out);
	return ret;
}

void cv_index_chart_acl_release(struct cv_index_chart_acl *acl)
{
	if (!acl)
		return;
	free(acl->permissions);
	acl->permissions = NULL;
	acl->npermissions = 0;
}

/* ---------------------------------------------------------------------
 * Emergency access
 */

static const char GRANT[] =
	"INSERT INTO emergency_access (patient_id, mrn, user_name, category,"
	" reason, expires_at)"
	" SELECT p.id, p.mrn, $2, $3, $4, now() + make_interval(mins => $5::int)"
	" FROM patients p WHERE p.id = $1 RETURNING id";

static const char GRANT_SEQ[] =
	"UPDATE emergency_access SET audit_seq = $2 WHERE id = $1";

int cv_index_emergency_grant(struct cv_index *ix, const char *user,
			     int64_t patient_id, const char *category,
			     const char *reason, int minutes, int64_t *grant_id,
			     struct cv_error *err)
{
	struct cv_index_access_info a;
	struct cv_index_audit_entry e;
	const char *params[5];
	char pid[24], mins[16], gid[24] = "", seqtxt[24], detail[160];
	size_t rlen = reason ? strlen(reason) : 0;
	PGresult *res = NULL;
	int64_t seq = 0;
	int owned, ret;

	*grant_id = 0;
	if (!cv_index_glass_category_ok(category))
		return cv_error_set(err, CV_EINVAL,
				    "choose the kind of emergency");
	if (rlen < CV_INDEX_GLASS_REASON_MIN)
		return cv_error_set(
			err, CV_EINVAL,
			"the reason must say why, in at least %d characters",
			CV_INDEX_GLASS_REASON_MIN);
	if (rlen > CV_INDEX_GLASS_REASON_MAX || has_control(reason))
		return cv_error_set(
			err, CV_EINVAL,
			"the reason is one line of at most %d characters",
			CV_INDEX_GLASS_REASON_MAX);
	if (minutes < 1 || minutes > 1440)
		return cv_error_set(err, CV_EINVAL,
				    "emergency access lasts 1 to 1440 minutes");
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	ret = cv_index_chart_access(ix, user, patient_id, &a, err);
	if (ret < 0)
		goto cleanup;
	if (a.decision != CV_INDEX_ACCESS_NEEDS_REASON) {
		ret = cv_error_set(
			err, CV_EINVAL, "%s",
			a.decision == CV_INDEX_ACCESS_OPEN
				? "that chart is not restricted"
			: a.decision == CV_INDEX_ACCESS_DENIED
				? "this user may not open restricted charts"
				: "this user may already open that chart");
		goto cleanup;
	}
	snprintf(pid, sizeof(pid), "%" PRId64, patient_id);
	snprintf(mins, sizeof(mins), "%d", minutes);
	params[0] = pid;
	params[1] = user;
	params[2] = category;
	params[3] = reason;
	params[4] = mins;
	res = PQexecParams(ix->conn, GRANT, 5, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    cv_index__get_i64(grant_id, res, 0, 0) < 0) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not record the emergency access");
		goto cleanup;
	}
	snprintf(gid, sizeof(gid), "%" PRId64, *grant_id);
	/* The reason stays in the grant: it is the user's prose. */
	snprintf(detail, sizeof(detail),
		 "grant %s, category %s, %d minutes, review=required", gid,
		 category, minutes);
	memset(&e, 0, sizeof(e));
	e.actor = user;
	e.action = "emergency.access";
	e.object_type = "patient";
	e.object_id = pid;
	e.patient = a.mrn;
	e.purpose = category;
	e.detail = detail;
	e.outcome = "review";
	ret = cv_index_audit_append(ix, &e, &seq, err);
	if (ret < 0)
		goto cleanup;
	PQclear(res);
	snprintf(seqtxt, sizeof(seqtxt), "%" PRId64, seq);
	params[0] = gid;
	params[1] = seqtxt;
	res = PQexecParams(ix->conn, GRANT_SEQ, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not link grant %s to its audit row", gid);
cleanup:
	PQclear(res);
	ret = cv_index__tx_leave(ix, owned, ret, err);
	if (ret < 0)
		*grant_id = 0;
	return ret;
}

/* clang-format off */
#define EMERGENCY_COLS                                                     \
	" e.id, e.patient_id, e.mrn,"                                      \
	" coalesce(p.family_name, '') || CASE WHEN p.given_name IS NULL"   \
	"  THEN '' ELSE ', ' || p.given_name END,"                         \
	" e.user_name, e.category, e.reason,"                              \
	" " ISO_UTC("e.granted_at") ", " ISO_UTC("e.expires_at") ","       \
	" e.expires_at > now(), coalesce(e.audit_seq, 0),"                 \
	" coalesce(e.reviewed_by, ''), " ISO_UTC("e.reviewed_at") ","      \
	" coalesce(e.review_note, ''),"                                    \
	" (SELECT count(*) FROM audit_log a WHERE a.patient = e.mrn"       \
	"  AND a.actor = e.user_name AND a.outcome = 'ok'"                 \
	"  AND a.action IN ('chart.view', 'document.view',"                \
	"  'document.export') AND a.at >= e.granted_at"                    \
	"  AND a.at < e.expires_at)"
/* clang-format on */

static const char EMERGENCY_WAITING[] =
	"SELECT" EMERGENCY_COLS " FROM emergency_access e"
	" LEFT JOIN patients p ON p.id = e.patient_id"
	" WHERE e.reviewed_at IS NULL ORDER BY e.id";

static const char EMERGENCY_ALL[] =
	"SELECT" EMERGENCY_COLS " FROM emergency_access e"
	" LEFT JOIN patients p ON p.id = e.patient_id ORDER BY e.id DESC";

static const char EMERGENCY_ONE[] =
	"SELECT" EMERGENCY_COLS " FROM emergency_access e"
	" LEFT JOIN patients p ON p.id = e.patient_id WHERE e.id = $1";

static int read_emergency(const PGresult *res, int row,
			  struct cv_index_emergency *g)
{
	memset(g, 0, sizeof(*g));
	if (cv_index__get_i64(&g->id, res, row, 0) < 0 ||
	    cv_index__get_i64(&g->patient_id, res, row, 1) < 0 ||
	    cv_index__get_i64(&g->audit_seq, res, row, 10) < 0 ||
	    cv_index__get_i64(&g->views, res, row, 14) < 0)
		return CV_ERROR;
	snprintf(g->mrn, sizeof(g->mrn), "%s", PQgetvalue(res, row, 2));
	snprintf(g->patient_name, sizeof(g->patient_name), "%s",
		 PQgetvalue(res, row, 3));
	snprintf(g->user, sizeof(g->user), "%s", PQgetvalue(res, row, 4));
	snprintf(g->category, sizeof(g->category), "%s",
		 PQgetvalue(res, row, 5));
	snprintf(g->reason, sizeof(g->reason), "%s", PQgetvalue(res, row, 6));
	snprintf(g->granted_at, sizeof(g->granted_at), "%s",
		 PQgetvalue(res, row, 7));
	snprintf(g->expires_at, sizeof(g->expires_at), "%s",
		 PQgetvalue(res, row, 8));
	g->active = !strcmp(PQgetvalue(res, row, 9), "t");
	snprintf(g->reviewed_by, sizeof(g->reviewed_by), "%s",
		 PQgetvalue(res, row, 11));
	snprintf(g->reviewed_at, sizeof(g->reviewed_at), "%s",
		 PQgetvalue(res, row, 12));
	snprintf(g->review_note, sizeof(g->review_note), "%s",
		 PQgetvalue(res, row, 13));
	return 0;
}

int cv_index_emergency_list(struct cv_index *ix, int all,
			    struct cv_index_emergency **out, size_t *n,
			    struct cv_error *err)
{
	PGresult *res;
	int i, rows, ret = 0;

	*out = NULL;
	*n = 0;
	res = PQexecParams(ix->conn, all ? EMERGENCY_ALL : EMERGENCY_WAITING, 0,
			   NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not list emergency access");
		goto cleanup;
	}
	rows = PQntuples(res);
	*out = cv_calloc((size_t)rows + 1, sizeof(**out));
	for (i = 0; i < rows; i++)
		if (read_emergency(res, i, &(*out)[i]) < 0) {
			ret = cv_error_set(
				err, CV_ERROR,
				"emergency access row %d is malformed", i);
			free(*out);
			*out = NULL;
			goto cleanup;
		}
	*n = (size_t)rows;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_emergency_get(struct cv_index *ix, int64_t id,
			   struct cv_index_emergency *out, struct cv_error *err)
{
	char idtxt[24];
	const char *params[1] = { idtxt };
	PGresult *res;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	res = PQexecParams(ix->conn, EMERGENCY_ONE, 1, NULL, params, NULL, NULL,
			   0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read emergency access %s",
					 idtxt);
		goto cleanup;
	}
	if (PQntuples(res) != 1) {
		ret = cv_error_set(err, CV_ENOTFOUND, "no emergency access %s",
				   idtxt);
		goto cleanup;
	}
	if (read_emergency(res, 0, out) < 0)
		ret = cv_error_set(err, CV_ERROR,
				   "emergency access %s is malformed", idtxt);
cleanup:
	PQclear(res);
	return ret;
}

static const char REVIEW[] =
	"UPDATE emergency_access SET reviewed_by = $2, reviewed_at = now(),"
	" review_note = $3 WHERE id = $1 AND reviewed_at IS NULL"
	" RETURNING mrn";

int cv_index_emergency_review(struct cv_index *ix, int64_t id, const char *note,
			      const char *actor, struct cv_error *err)
{
	struct cv_index_emergency g;
	struct cv_index_audit_entry e;
	char idtxt[24], pid[24], detail[128];
	const char *params[3] = { idtxt, actor, note };
	PGresult *res = NULL;
	int owned, ret;

	if (!note || !*note || strlen(note) > NOTE_MAX || has_control(note))
		return cv_error_set(
			err, CV_EINVAL,
			"a review needs a note: one line of at most %d characters",
			NOTE_MAX);
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	ret = cv_index_emergency_get(ix, id, &g, err);
	if (ret < 0)
		goto cleanup;
	if (!strcmp(g.user, actor)) {
		ret = cv_error_set(err, CV_EINVAL,
				   "nobody reviews their own emergency access");
		cv_error_hint(err, "ask another compliance officer");
		goto cleanup;
	}
	res = PQexecParams(ix->conn, REVIEW, 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not record the review of %s",
					 idtxt);
		goto cleanup;
	}
	if (PQntuples(res) != 1) {
		ret = cv_error_set(err, CV_EEXISTS,
				   "emergency access %s was reviewed already",
				   idtxt);
		goto cleanup;
	}
	snprintf(detail, sizeof(detail), "grant %s of user %s", idtxt, g.user);
	memset(&e, 0, sizeof(e));
	e.actor = actor;
	e.action = "emergency.review";
	snprintf(pid, sizeof(pid), "%" PRId64, g.patient_id);
	e.object_type = "patient";
	e.object_id = pid;
	e.patient = g.mrn;
	e.detail = detail;
	ret = cv_index_audit_append(ix, &e, NULL, err);
cleanup:
	PQclear(res);
	return cv_index__tx_leave(ix, owned, ret, err);
}

/* ---------------------------------------------------------------------
 * The chart
 */

static const char PATIENT_GET[] =
	"SELECT id, mrn, coalesce(family_name, ''), coalesce(given_name, ''),"
	" coalesce(dob::text, ''), coalesce(sex, ''),"
	" coalesce(deceased_on::text, '') FROM patients WHERE id = $1";

int cv_index_patient_get(struct cv_index *ix, int64_t id,
			 struct cv_index_patient *out, struct cv_error *err)
{
	char idtxt[24];
	const char *params[1] = { idtxt };
	PGresult *res;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	res = PQexecParams(ix->conn, PATIENT_GET, 1, NULL, params, NULL, NULL,
			   0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read patient %s", idtxt);
		goto cleanup;
	}
	if (PQntuples(res) != 1) {
		ret = cv_error_set(err, CV_ENOTFOUND, "no patient %s", idtxt);
		goto cleanup;
	}
	if (cv_index__get_i64(&out->id, res, 0, 0) < 0) {
		ret = cv_error_set(err, CV_ERROR, "patient %s is malformed",
				   idtxt);
		goto cleanup;
	}
	snprintf(out->mrn, sizeof(out->mrn), "%s", PQgetvalue(res, 0, 1));
	snprintf(out->family, sizeof(out->family), "%s", PQgetvalue(res, 0, 2));
	snprintf(out->given, sizeof(out->given), "%s", PQgetvalue(res, 0, 3));
	snprintf(out->dob, sizeof(out->dob), "%s", PQgetvalue(res, 0, 4));
	snprintf(out->sex, sizeof(out->sex), "%s", PQgetvalue(res, 0, 5));
	snprintf(out->deceased_on, sizeof(out->deceased_on), "%s",
		 PQgetvalue(res, 0, 6));
cleanup:
	PQclear(res);
	return ret;
}

/*
 * Filed and open documents only: one in the exception queue or closed is
 * not part of the chart (as in search).
 */
/* clang-format off */
static const char CHART_DOCS[] =
	"SELECT d.id, d.doc_type, coalesce(d.service_date::text, ''),"
	" " ISO_UTC("coalesce(d.filed_at, d.created_at)") ","
	" (SELECT count(*) FROM pages pg WHERE pg.document_id = d.id"
	"  AND NOT pg.blank)"
	" FROM documents d WHERE d.patient_id = $1 AND d.state = 'filed'"
	" AND d.closed_at IS NULL"
	" ORDER BY d.service_date DESC NULLS LAST, d.id DESC";
/* clang-format on */

int cv_index_chart_documents(struct cv_index *ix, int64_t patient_id,
			     struct cv_index_chart_doc **out, size_t *n,
			     struct cv_error *err)
{
	char idtxt[24];
	const char *params[1] = { idtxt };
	PGresult *res;
	int i, rows, ret = 0;

	*out = NULL;
	*n = 0;
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, patient_id);
	res = PQexecParams(ix->conn, CHART_DOCS, 1, NULL, params, NULL, NULL,
			   0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not list the chart of patient %s", idtxt);
		goto cleanup;
	}
	rows = PQntuples(res);
	*out = cv_calloc((size_t)rows + 1, sizeof(**out));
	for (i = 0; i < rows; i++) {
		struct cv_index_chart_doc *d = &(*out)[i];
		int64_t pages = 0;

		if (cv_index__get_i64(&d->id, res, i, 0) < 0 ||
		    cv_index__get_i64(&pages, res, i, 4) < 0) {
			ret = cv_error_set(err, CV_ERROR,
					   "chart row %d is malformed", i);
			free(*out);
			*out = NULL;
			goto cleanup;
		}
		snprintf(d->doc_type, sizeof(d->doc_type), "%s",
			 PQgetvalue(res, i, 1));
		snprintf(d->service_date, sizeof(d->service_date), "%s",
			 PQgetvalue(res, i, 2));
		snprintf(d->filed_at, sizeof(d->filed_at), "%s",
			 PQgetvalue(res, i, 3));
		d->pages = (int)pages;
	}
	*n = (size_t)rows;
cleanup:
	PQclear(res);
	return ret;
}
