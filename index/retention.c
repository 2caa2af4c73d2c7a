/*
 * Retention schedules in the index: versioned rules, the eligible date of
 * every document with the rule id and version that produced it, and the
 * clinical events (encounters, births, deaths) that move those dates.
 *
 * Choosing a document's rule. A rule applies when its document types
 * include the document's type (or it names none) and its patient category
 * fits: "minor" when the patient was younger than the rule's age of
 * majority at the last encounter (else at the date of service, else at
 * creation), "adult" otherwise, "any" always. Of the rules that apply,
 * only the most specific count (a rule naming the type beats one that
 * does not; a rule naming a category beats "any"), and of those the
 * latest result wins: when requirements overlap, records management keeps
 * the longest. Without a date of birth a category cannot be told, so the
 * choice is made as for a minor and as for an adult and the later (or
 * unknown) result kept: a missing fact never makes a record eligible
 * earlier.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

static const char RULES[] =
	"SELECT rule_id, version, array_to_string(doc_types, ','), category,"
	" majority_age, expr, coalesce(schedule, ''), description, citation,"
	" created_by,"
	" to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	" FROM retention_rules r"
	" WHERE ($1::text IS NULL OR rule_id = $1)"
	" AND ($2::bool OR version = (SELECT max(version) FROM retention_rules x"
	"  WHERE x.rule_id = r.rule_id))"
	" ORDER BY rule_id, version";

static const char LATEST_RULE[] =
	"SELECT version, array_to_string(doc_types, ','), category,"
	" majority_age, expr, coalesce(schedule, ''), description, citation"
	" FROM retention_rules WHERE rule_id = $1"
	" ORDER BY version DESC LIMIT 1 FOR UPDATE";

static const char ADD_RULE[] =
	"INSERT INTO retention_rules (rule_id, version, doc_types, category,"
	" majority_age, expr, schedule, description, citation, created_by)"
	" VALUES ($1, $2, CASE WHEN $3 = '' THEN NULL"
	"  ELSE string_to_array($3, ',') END, $4, $5, $6, nullif($7, ''),"
	" $8, $9, $10)";

/*
 * The anchors of each document. Dates are text so that C does the
 * arithmetic; last_entry is the patient's latest dated document (the
 * document's own when it carries no MRN).
 */
static const char ANCHORS[] =
	"SELECT d.id, d.doc_type, d.state,"
	" to_char(coalesce(p.dob, d.dob), 'YYYY-MM-DD'),"
	" to_char(p.deceased_on, 'YYYY-MM-DD'),"
	" to_char(e.last_enc, 'YYYY-MM-DD'), to_char(e.last_dis, 'YYYY-MM-DD'),"
	" to_char(coalesce(le.last_entry, d.service_date), 'YYYY-MM-DD'),"
	" to_char(d.service_date, 'YYYY-MM-DD'),"
	" to_char((d.created_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD')"
	" FROM documents d"
	" LEFT JOIN patients p ON p.mrn = d.mrn"
	" LEFT JOIN LATERAL (SELECT max(greatest(started_on,"
	"   coalesce(discharged_on, started_on))) AS last_enc,"
	"   max(coalesce(discharged_on, started_on)) AS last_dis"
	"   FROM encounters WHERE patient_id = p.id) e ON true"
	" LEFT JOIN LATERAL (SELECT max(d2.service_date) AS last_entry"
	"   FROM documents d2 WHERE d2.mrn = d.mrn) le ON true"
	" WHERE ($1::text IS NULL OR d.mrn = $1)"
	" AND ($2::bigint IS NULL OR d.id = $2)"
	" ORDER BY d.id";

static const char STORE[] =
	"INSERT INTO retention_eligibility (document_id, status, eligible_on,"
	" rule_id, rule_version, reason)"
	" SELECT * FROM unnest($1::bigint[], $2::text[], $3::date[],"
	"  $4::text[], $5::int[], $6::text[])"
	" ON CONFLICT (document_id) DO UPDATE SET status = excluded.status,"
	" eligible_on = excluded.eligible_on, rule_id = excluded.rule_id,"
	" rule_version = excluded.rule_version, reason = excluded.reason,"
	" evaluated_at = now()";

static const char COUNT_DUE[] =
	"SELECT count(*) FROM retention_eligibility r"
	" WHERE r.status = 'date'"
	" AND r.eligible_on <= (now() AT TIME ZONE 'UTC')::date"
	" AND ($1::text IS NULL OR r.document_id IN"
	"  (SELECT id FROM documents WHERE mrn = $1))"
	" AND document_hold(r.document_id) IS NULL";

static const char DUE[] =
	"SELECT r.document_id, coalesce(d.mrn, ''), d.doc_type, r.status,"
	" coalesce(to_char(r.eligible_on, 'YYYY-MM-DD'), ''),"
	" coalesce(r.rule_id, ''), coalesce(r.rule_version, 0), r.reason,"
	" coalesce(document_hold(r.document_id), 0),"
	" coalesce(rr.expr, ''),"
	" concat_ws(', ',"
	"  'last encounter ' || to_char(e.last_enc, 'YYYY-MM-DD'),"
	"  'discharge ' || to_char(e.last_dis, 'YYYY-MM-DD'),"
	"  'born ' || to_char(coalesce(p.dob, d.dob), 'YYYY-MM-DD'),"
	"  'died ' || to_char(p.deceased_on, 'YYYY-MM-DD'),"
	"  'service ' || to_char(d.service_date, 'YYYY-MM-DD'))"
	" FROM retention_eligibility r JOIN documents d ON d.id = r.document_id"
	" LEFT JOIN retention_rules rr ON rr.rule_id = r.rule_id"
	"  AND rr.version = r.rule_version"
	" LEFT JOIN patients p ON p.mrn = d.mrn"
	" LEFT JOIN LATERAL (SELECT max(greatest(started_on,"
	"   coalesce(discharged_on, started_on))) AS last_enc,"
	"   max(coalesce(discharged_on, started_on)) AS last_dis"
	"   FROM encounters WHERE patient_id = p.id) e ON true"
	" WHERE $2::int = 1 OR (r.status = 'date'"
	"  AND r.eligible_on <= coalesce($1::date,"
	"   (now() AT TIME ZONE 'UTC')::date)"
	"  AND CASE WHEN $2::int = 2"
	"   THEN document_hold(r.document_id) IS NOT NULL"
	"   ELSE document_hold(r.document_id) IS NULL"
	"    AND NOT EXISTS (SELECT 1 FROM destruction_items i"
	"    JOIN destruction_batches b ON b.id = i.batch_id"
	"    WHERE i.document_id = r.document_id"
	"    AND b.state IN ('proposed', 'approved', 'executing')) END)"
	" ORDER BY r.eligible_on NULLS LAST, r.document_id";

static const char FIND_PATIENT[] =
	"SELECT id FROM patients WHERE mrn = $1 FOR UPDATE";

/* An MRN the documents carry but the patient index lacks gets a row. */
static const char MAKE_PATIENT[] =
	"INSERT INTO patients (mrn, dob)"
	" SELECT $1, (SELECT max(dob) FROM documents WHERE mrn = $1)"
	" WHERE EXISTS (SELECT 1 FROM documents WHERE mrn = $1)"
	" ON CONFLICT (mrn) DO NOTHING RETURNING id";

static const char ADD_ENCOUNTER[] =
	"INSERT INTO encounters (patient_id, started_on, discharged_on,"
	" recorded_by) VALUES ($1, $2, $3, $4) RETURNING id";

static const char SET_DEATH[] =
	"UPDATE patients SET deceased_on = $2 WHERE id = $1";

static const char SET_BIRTH[] = "UPDATE patients SET dob = $2 WHERE id = $1";

static const char TODAY[] =
	"SELECT to_char((now() AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD')";

void cv_retention_rules_free(struct cv_retention_rule *r, size_t n)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < n; i++) {
		free(r[i].doc_types);
		free(r[i].expr);
		free(r[i].schedule);
		free(r[i].description);
		free(r[i].citation);
	}
	free(r);
}

static char *opt_dup(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col)
		       ? NULL
		       : cv_strdup(PQgetvalue(res, row, col));
}

int cv_index_retention_rules(struct cv_index *ix, const char *id, int all,
			     struct cv_retention_rule **out, size_t *n,
			     struct cv_error *err)
{
	const char *params[2] = { id, all ? "true" : "false" };
	struct cv_retention_rule *v = NULL;
	PGresult *res;
	int i, rows, ret;

	*out = NULL;
	*n = 0;
	res = PQexecParams(ix->conn, RULES, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read the retention rules");
		goto cleanup;
	}
	rows = PQntuples(res);
	if (id && rows == 0) {
		ret = cv_error_set(err, CV_ENOTFOUND, "no retention rule '%s'",
				   id);
		goto cleanup;
	}
	v = cv_calloc((size_t)rows + 1, sizeof(*v));
	for (i = 0; i < rows; i++) {
		struct cv_retention_rule *r = &v[i];
		int64_t x = 0;

		snprintf(r->id, sizeof(r->id), "%s", PQgetvalue(res, i, 0));
		cv_index__get_i64(&x, res, i, 1);
		r->version = (int)x;
		r->doc_types = opt_dup(res, i, 2);
		if (r->doc_types && !*r->doc_types) {
			free(r->doc_types);
			r->doc_types = NULL;
		}
		snprintf(r->category, sizeof(r->category), "%s",
			 PQgetvalue(res, i, 3));
		cv_index__get_i64(&x, res, i, 4);
		r->majority_age = (int)x;
		r->expr = opt_dup(res, i, 5);
		r->schedule = opt_dup(res, i, 6);
		r->description = opt_dup(res, i, 7);
		r->citation = opt_dup(res, i, 8);
		snprintf(r->created_by, sizeof(r->created_by), "%s",
			 PQgetvalue(res, i, 9));
		snprintf(r->created_at, sizeof(r->created_at), "%s",
			 PQgetvalue(res, i, 10));
	}
	*out = v;
	*n = (size_t)rows;
	v = NULL;
	ret = 0;
cleanup:
	PQclear(res);
	cv_retention_rules_free(v, 0);
	return ret;
}

static int valid_rule_id(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 64 ||
	    !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return 0;
	for (i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && !strchr("._-", s[i]))
			return 0;
	return 1;
}

/* "A,B" of codes [A-Za-z0-9._-]{1,31}, normalised: no spaces, no "*". */
static int normalise_types(const char *in, char **out, struct cv_error *err,
			   const char *rule)
{
	struct cv_buf b = CV_BUF_INIT;
	const char *p = in;

	*out = NULL;
	if (!in || !*in || !strcmp(in, "*")) {
		*out = cv_strdup("");
		return 0;
	}
	while (*p) {
		size_t n = 0;

		while (*p == ' ' || *p == ',')
			p++;
		while (p[n] && p[n] != ',' && p[n] != ' ')
			n++;
		if (!n)
			break;
		if (n > 31)
			goto bad;
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)p[i]) &&
			    !strchr("._-", p[i]))
				goto bad;
		if (b.len)
			cv_buf_addch(&b, ',');
		cv_buf_add(&b, p, n);
		p += n;
	}
	*out = cv_buf_detach(&b, NULL);
	return 0;
bad:
	cv_buf_release(&b);
	return cv_error_set(
		err, CV_EINVAL,
		"rule '%s': document types are codes of letters, digits, '.', '_' and '-', separated by commas",
		rule);
}

static int same(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

int cv_index_retention_set(struct cv_index *ix,
			   const struct cv_retention_rule *r, const char *actor,
			   int *version, int *changed, struct cv_error *err)
{
	struct cv_retention_expr *e = NULL;
	char *canon = NULL, *types = NULL, ver[16], age[16];
	const char *params[10];
	PGresult *res = NULL;
	int owned = 0, ret, latest = 0;

	*version = 0;
	*changed = 0;
	if (!valid_rule_id(r->id))
		return cv_error_set(
			err, CV_EINVAL,
			"rule id '%.64s' is not 1-64 lower-case letters, digits, '.', '_' or '-'",
			r->id);
	if (strcmp(r->category, "any") && strcmp(r->category, "minor") &&
	    strcmp(r->category, "adult"))
		return cv_error_set(
			err, CV_EINVAL,
			"rule '%s': category is any, minor or adult, not '%.16s'",
			r->id, r->category);
	if (r->majority_age < 14 || r->majority_age > 25)
		return cv_error_set(
			err, CV_EINVAL,
			"rule '%s': the age of majority is from 14 to 25",
			r->id);
	if (r->expr) {
		ret = cv_retention_parse(&e, r->expr, err);
		if (ret < 0) {
			cv_error_prefix(err, "rule '%s'", r->id);
			return ret;
		}
		canon = cv_retention_expr_format(e);
		cv_retention_expr_free(e);
	}
	ret = normalise_types(r->doc_types, &types, err, r->id);
	if (ret < 0)
		goto cleanup;
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		goto cleanup;
	params[0] = r->id;
	res = PQexecParams(ix->conn, LATEST_RULE, 1, NULL, params, NULL, NULL,
			   0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read rule '%s'", r->id);
		goto cleanup;
	}
	if (PQntuples(res) == 1) {
		int64_t v = 0, a = 0;

		cv_index__get_i64(&v, res, 0, 0);
		cv_index__get_i64(&a, res, 0, 3);
		latest = (int)v;
		if (same(types, PQgetvalue(res, 0, 1)) &&
		    !strcmp(r->category, PQgetvalue(res, 0, 2)) &&
		    a == r->majority_age &&
		    (PQgetisnull(res, 0, 4)
			     ? !canon
			     : same(canon, PQgetvalue(res, 0, 4))) &&
		    same(r->schedule, PQgetvalue(res, 0, 5)) &&
		    same(r->description, PQgetvalue(res, 0, 6)) &&
		    same(r->citation, PQgetvalue(res, 0, 7))) {
			*version = latest;
			ret = 0;
			goto cleanup;
		}
	} else if (!canon) {
		ret = cv_error_set(err, CV_ENOTFOUND,
				   "no retention rule '%s' to retire", r->id);
		goto cleanup;
	}
	PQclear(res);
	snprintf(ver, sizeof(ver), "%d", latest + 1);
	snprintf(age, sizeof(age), "%d", r->majority_age);
	params[1] = ver;
	params[2] = types;
	params[3] = r->category;
	params[4] = age;
	params[5] = canon;
	params[6] = r->schedule ? r->schedule : "";
	params[7] = r->description ? r->description : "";
	params[8] = r->citation ? r->citation : "";
	params[9] = actor;
	res = PQexecParams(ix->conn, ADD_RULE, 10, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not record rule '%s'", r->id);
		goto cleanup;
	}
	{
		char detail[96];

		snprintf(detail, sizeof(detail), "version %s%s", ver,
			 canon ? "" : " (retired)");
		ret = cv_index_audit(ix, actor, "retention.set",
				     "retention_rule", r->id, detail, "ok",
				     err);
	}
	if (ret < 0)
		goto cleanup;
	*version = latest + 1;
	*changed = 1;
cleanup:
	PQclear(res);
	ret = cv_index__tx_leave(ix, owned, ret, err);
	free(canon);
	free(types);
	return ret;
}

/* ---------------------------------------------------------------------
 * Evaluation
 */

struct ruleset {
	struct cv_retention_rule *r;
	struct cv_retention_expr **e; /* NULL for a retired rule */
	size_t n;
};

static void ruleset_release(struct ruleset *rs)
{
	size_t i;

	for (i = 0; i < rs->n; i++)
		cv_retention_expr_free(rs->e[i]);
	free(rs->e);
	cv_retention_rules_free(rs->r, rs->n);
	memset(rs, 0, sizeof(*rs));
}

static int ruleset_load(struct cv_index *ix, struct ruleset *rs,
			struct cv_error *err)
{
	size_t i;
	int ret;

	memset(rs, 0, sizeof(*rs));
	ret = cv_index_retention_rules(ix, NULL, 0, &rs->r, &rs->n, err);
	if (ret < 0)
		return ret;
	rs->e = cv_calloc(rs->n + 1, sizeof(*rs->e));
	for (i = 0; i < rs->n; i++) {
		if (!rs->r[i].expr)
			continue;
		/* Stored text was parsed when recorded; a failure now means
		 * someone edited the table by hand. */
		ret = cv_retention_parse(&rs->e[i], rs->r[i].expr, err);
		if (ret < 0) {
			cv_error_prefix(err, "stored rule '%s' version %d",
					rs->r[i].id, rs->r[i].version);
			ruleset_release(rs);
			return CV_ERROR;
		}
	}
	return 0;
}

static int type_matches(const char *types, const char *doc_type)
{
	size_t n = strlen(doc_type);
	const char *p = types;

	if (!types)
		return 1;
	while (p && *p) {
		if (!strncmp(p, doc_type, n) && (p[n] == ',' || !p[n]))
			return 1;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return 0;
}

static int32_t opt_day(const PGresult *res, int row, int col)
{
	int32_t d = CV_RETENTION_NODATE;

	if (!PQgetisnull(res, row, col))
		cv_retention_date_parse(&d, PQgetvalue(res, row, col));
	return d;
}

/* 1 minor, 0 adult, -1 cannot tell (no date of birth). */
static int is_minor(const struct cv_retention_anchors *a, int majority)
{
	int32_t ref = a->last_encounter;

	if (a->birth == CV_RETENTION_NODATE)
		return -1;
	if (ref == CV_RETENTION_NODATE)
		ref = a->service;
	if (ref == CV_RETENTION_NODATE)
		ref = a->creation;
	return ref < cv_retention_date_add(a->birth, majority, 0, 0);
}

struct outcome {
	struct cv_retention_value v;
	const struct cv_retention_rule *rule; /* NULL: no rule applies */
	const char *status;
};

static const char *kind_status(enum cv_retention_kind k)
{
	switch (k) {
	case CV_RETENTION_DATE:
		return "date";
	case CV_RETENTION_WAITING:
		return "waiting";
	case CV_RETENTION_UNKNOWN:
		return "unknown";
	default:
		return "permanent";
	}
}

/*
 * 1 when rule r applies to doc_type and the patient of a, with its score.
 * minor: 1 or 0 to decide the category as if the patient were a minor or
 * an adult, -1 to tell it from a.
 */
static int applies(const struct cv_retention_rule *r, const char *doc_type,
		   const struct cv_retention_anchors *a, int minor, int *score)
{
	if (!type_matches(r->doc_types, doc_type))
		return 0;
	if (minor < 0)
		minor = is_minor(a, r->majority_age);
	if ((!strcmp(r->category, "minor") && minor == 0) ||
	    (!strcmp(r->category, "adult") && minor == 1))
		return 0;
	*score = (r->doc_types ? 2 : 0) + (strcmp(r->category, "any") ? 1 : 0);
	return 1;
}

static const struct cv_retention_rule *
choose_as(const struct cv_retention_rule *rules,
	  struct cv_retention_expr *const *exprs, size_t n,
	  const char *doc_type, const struct cv_retention_anchors *a, int minor,
	  struct cv_retention_value *out)
{
	const struct cv_retention_rule *chosen = NULL;
	struct cv_retention_anchors mine = *a;
	int best = -1, score;
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++)
		if (exprs[i] &&
		    applies(&rules[i], doc_type, a, minor, &score) &&
		    score > best)
			best = score;
	for (i = 0; i < n && best >= 0; i++) {
		struct cv_retention_value v;

		if (!exprs[i] ||
		    !applies(&rules[i], doc_type, a, minor, &score) ||
		    score != best)
			continue;
		mine.majority_age = rules[i].majority_age;
		cv_retention_eval(exprs[i], &mine, &v);
		if (!chosen || cv_retention_value_cmp(&v, out) > 0) {
			*out = v;
			chosen = &rules[i];
		}
	}
	return chosen;
}

const struct cv_retention_rule *
cv_retention_choose(const struct cv_retention_rule *rules,
		    struct cv_retention_expr *const *exprs, size_t n,
		    const char *doc_type, const struct cv_retention_anchors *a,
		    struct cv_retention_value *out)
{
	const struct cv_retention_rule *chosen, *other;
	struct cv_retention_value v;

	if (a->birth != CV_RETENTION_NODATE) {
		chosen = choose_as(rules, exprs, n, doc_type, a, -1, out);
	} else {
		/*
		 * Minor or adult cannot be told: choose as if each, and
		 * keep the later result, so that the doubt never shortens
		 * the record's life.
		 */
		chosen = choose_as(rules, exprs, n, doc_type, a, 0, out);
		other = choose_as(rules, exprs, n, doc_type, a, 1, &v);
		if (other && (!chosen || cv_retention_value_cmp(&v, out) > 0)) {
			*out = v;
			chosen = other;
		}
	}
	if (!chosen) {
		memset(out, 0, sizeof(*out));
		out->kind = CV_RETENTION_UNKNOWN;
		snprintf(out->why, sizeof(out->why),
			 "no retention rule applies to type %.32s", doc_type);
	}
	return chosen;
}

/* The header's choice of rule, for one document's anchors. */
static void choose(const struct ruleset *rs, const char *doc_type,
		   const struct cv_retention_anchors *a, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->rule = cv_retention_choose(rs->r, rs->e, rs->n, doc_type, a, &o->v);
	o->status = o->rule ? kind_status(o->v.kind) : "no-rule";
}

/* One document's outcome from a row of ANCHORS. */
static void evaluate_row(const struct ruleset *rs, const PGresult *res, int row,
			 struct outcome *o)
{
	struct cv_retention_anchors a;

	a.birth = opt_day(res, row, 3);
	a.death = opt_day(res, row, 4);
	a.last_encounter = opt_day(res, row, 5);
	a.discharge = opt_day(res, row, 6);
	a.last_entry = opt_day(res, row, 7);
	a.service = opt_day(res, row, 8);
	a.creation = opt_day(res, row, 9);
	a.majority_age = 18;
	choose(rs, PQgetvalue(res, row, 1), &a, o);
	/* A document whose patient is in doubt is nobody's to destroy. */
	if (!strcmp(PQgetvalue(res, row, 2), "exception") &&
	    o->v.kind == CV_RETENTION_DATE) {
		o->v.kind = CV_RETENTION_UNKNOWN;
		o->status = "unknown";
		snprintf(o->v.why, sizeof(o->v.why),
			 "in the exception queue: its patient is not settled");
	}
}

/* Append one element to a PostgreSQL array literal, quoted. */
static void array_add(struct cv_buf *b, const char *v)
{
	const char *p;

	cv_buf_addch(b, b->len ? ',' : '{');
	if (!v) {
		cv_buf_adds(b, "NULL");
		return;
	}
	cv_buf_addch(b, '"');
	for (p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			cv_buf_addch(b, '\\');
		cv_buf_addch(b, *p);
	}
	cv_buf_addch(b, '"');
}

static void array_close(struct cv_buf *b)
{
	if (!b->len)
		cv_buf_addch(b, '{');
	cv_buf_addch(b, '}');
}

static void count(struct cv_retention_eval_report *rep, const char *status)
{
	rep->documents++;
	if (!strcmp(status, "date"))
		rep->dated++;
	else if (!strcmp(status, "permanent"))
		rep->permanent++;
	else if (!strcmp(status, "waiting"))
		rep->waiting++;
	else if (!strcmp(status, "unknown"))
		rep->unknown++;
	else
		rep->no_rule++;
}

/* The eligible dates of a chunk of documents, as array literals. */
struct chunk {
	struct cv_buf ids, st, on, rid, ver, why;
	size_t n;
};

#define CHUNK_ROWS 5000

static void chunk_release(struct chunk *c)
{
	cv_buf_release(&c->ids);
	cv_buf_release(&c->st);
	cv_buf_release(&c->on);
	cv_buf_release(&c->rid);
	cv_buf_release(&c->ver);
	cv_buf_release(&c->why);
	c->n = 0;
}

static void chunk_add(struct chunk *c, const char *doc_id,
		      const struct outcome *o)
{
	char day[11], v[16];
	int dated = o->v.kind == CV_RETENTION_DATE && o->rule;

	array_add(&c->ids, doc_id);
	array_add(&c->st, o->status);
	if (dated)
		cv_retention_date_format(day, o->v.day);
	array_add(&c->on, dated ? day : NULL);
	array_add(&c->rid, o->rule ? o->rule->id : NULL);
	snprintf(v, sizeof(v), "%d", o->rule ? o->rule->version : 0);
	array_add(&c->ver, o->rule ? v : NULL);
	array_add(&c->why, dated ? "" : o->v.why);
	c->n++;
}

/* Store a chunk (one statement) and empty it. */
static int chunk_store(struct cv_index *ix, struct chunk *c,
		       struct cv_error *err)
{
	const char *params[6];
	PGresult *res;
	int ret = 0;

	if (!c->n)
		return 0;
	array_close(&c->ids);
	array_close(&c->st);
	array_close(&c->on);
	array_close(&c->rid);
	array_close(&c->ver);
	array_close(&c->why);
	params[0] = c->ids.buf;
	params[1] = c->st.buf;
	params[2] = c->on.buf;
	params[3] = c->rid.buf;
	params[4] = c->ver.buf;
	params[5] = c->why.buf;
	res = PQexecParams(ix->conn, STORE, 6, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not store the eligible dates");
	PQclear(res);
	chunk_release(c);
	return ret;
}

/*
 * Evaluate and store, inside the caller's transaction. Stored in chunks
 * so that a statement stays small however many documents there are.
 * NEEDSWORK: the anchors of every document come back in one result (some
 * 200 bytes a document); past a few million documents, read them through
 * a cursor.
 */
static int evaluate(struct cv_index *ix, const char *mrn,
		    struct cv_retention_eval_report *rep, struct cv_error *err)
{
	struct chunk c = { CV_BUF_INIT,
			   CV_BUF_INIT,
			   CV_BUF_INIT,
			   CV_BUF_INIT,
			   CV_BUF_INIT,
			   CV_BUF_INIT,
			   0 };
	const char *params[2];
	struct ruleset rs;
	PGresult *res = NULL;
	int i, rows, ret;

	memset(rep, 0, sizeof(*rep));
	ret = ruleset_load(ix, &rs, err);
	if (ret < 0)
		return ret;
	params[0] = mrn;
	params[1] = NULL;
	res = PQexecParams(ix->conn, ANCHORS, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read the documents' dates");
		goto cleanup;
	}
	rows = PQntuples(res);
	for (i = 0; i < rows && ret == 0; i++) {
		struct outcome o;

		evaluate_row(&rs, res, i, &o);
		count(rep, o.status);
		chunk_add(&c, PQgetvalue(res, i, 0), &o);
		if (c.n == CHUNK_ROWS)
			ret = chunk_store(ix, &c, err);
	}
	if (ret == 0)
		ret = chunk_store(ix, &c, err);
	if (ret < 0)
		goto cleanup;
	PQclear(res);
	params[0] = mrn;
	res = PQexecParams(ix->conn, COUNT_DUE, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    cv_index__get_i64(&rep->due, res, 0, 0) < 0) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not count the records due");
		goto cleanup;
	}
	ret = 0;
cleanup:
	PQclear(res);
	ruleset_release(&rs);
	chunk_release(&c);
	return ret;
}

int cv_index_retention_evaluate(struct cv_index *ix, const char *mrn,
				const char *actor,
				struct cv_retention_eval_report *rep,
				struct cv_error *err)
{
	char detail[160];
	int owned, ret;

	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	ret = evaluate(ix, mrn, rep, err);
	if (ret == 0) {
		snprintf(detail, sizeof(detail),
			 "documents %" PRId64 ", dated %" PRId64
			 ", due %" PRId64 ", unknown %" PRId64,
			 rep->documents, rep->dated, rep->due, rep->unknown);
		ret = cv_index_audit(ix, actor, "retention.evaluate",
				     mrn ? "patient" : "archive", mrn, detail,
				     "ok", err);
	}
	return cv_index__tx_leave(ix, owned, ret, err);
}

int cv_index__retention_eval_doc(struct cv_index *ix, int64_t doc_id,
				 struct cv_retention_value *v, char rule_id[64],
				 int *version, struct cv_error *err)
{
	char id[24];
	const char *params[2] = { NULL, id };
	struct ruleset rs;
	struct outcome o;
	PGresult *res;
	int ret;

	memset(v, 0, sizeof(*v));
	rule_id[0] = '\0';
	*version = 0;
	ret = ruleset_load(ix, &rs, err);
	if (ret < 0)
		return ret;
	snprintf(id, sizeof(id), "%" PRId64, doc_id);
	res = PQexecParams(ix->conn, ANCHORS, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read document %s's dates",
					 id);
		goto cleanup;
	}
	if (PQntuples(res) != 1) {
		ret = cv_error_set(err, CV_ENOTFOUND, "no document %s", id);
		goto cleanup;
	}
	evaluate_row(&rs, res, 0, &o);
	*v = o.v;
	if (!o.rule)
		v->kind = CV_RETENTION_UNKNOWN;
	else {
		snprintf(rule_id, 64, "%s", o.rule->id);
		*version = o.rule->version;
	}
	ret = 0;
cleanup:
	PQclear(res);
	ruleset_release(&rs);
	return ret;
}

int cv_index__today(struct cv_index *ix, int32_t *day, struct cv_error *err)
{
	PGresult *res =
		PQexecParams(ix->conn, TODAY, 0, NULL, NULL, NULL, NULL, 0);
	int ret = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    cv_retention_date_parse(day, PQgetvalue(res, 0, 0)) < 0)
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read today's date");
	PQclear(res);
	return ret;
}

int cv_index_retention_due(struct cv_index *ix, const char *before,
			   int everything, struct cv_retention_due **out,
			   size_t *n, struct cv_error *err)
{
	const char *params[2] = { before, everything == CV_RETENTION_DUE_HELD
						  ? "2"
					  : everything ? "1"
						       : "0" };
	struct cv_retention_due *v;
	PGresult *res;
	int32_t day;
	int i, rows, ret;

	*out = NULL;
	*n = 0;
	if (before && cv_retention_date_parse(&day, before) < 0)
		return cv_error_set(err, CV_EINVAL,
				    "'%.32s' is not a date (YYYY-MM-DD)",
				    before);
	res = PQexecParams(ix->conn, DUE, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not list the records due");
		goto cleanup;
	}
	rows = PQntuples(res);
	v = cv_calloc((size_t)rows + 1, sizeof(*v));
	for (i = 0; i < rows; i++) {
		int64_t x = 0;

		cv_index__get_i64(&v[i].document_id, res, i, 0);
		snprintf(v[i].mrn, sizeof(v[i].mrn), "%s",
			 PQgetvalue(res, i, 1));
		snprintf(v[i].doc_type, sizeof(v[i].doc_type), "%s",
			 PQgetvalue(res, i, 2));
		snprintf(v[i].status, sizeof(v[i].status), "%s",
			 PQgetvalue(res, i, 3));
		snprintf(v[i].eligible_on, sizeof(v[i].eligible_on), "%s",
			 PQgetvalue(res, i, 4));
		snprintf(v[i].rule_id, sizeof(v[i].rule_id), "%s",
			 PQgetvalue(res, i, 5));
		cv_index__get_i64(&x, res, i, 6);
		v[i].rule_version = (int)x;
		snprintf(v[i].reason, sizeof(v[i].reason), "%s",
			 PQgetvalue(res, i, 7));
		cv_index__get_i64(&v[i].hold_id, res, i, 8);
		snprintf(v[i].rule_expr, sizeof(v[i].rule_expr), "%s",
			 PQgetvalue(res, i, 9));
		snprintf(v[i].anchors, sizeof(v[i].anchors), "%s",
			 PQgetvalue(res, i, 10));
	}
	*out = v;
	*n = (size_t)rows;
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

/* ---------------------------------------------------------------------
 * Patient events
 */

static int check_date(const char *s, const char *what, int32_t today,
		      struct cv_error *err)
{
	int32_t d;

	if (!s || cv_retention_date_parse(&d, s) < 0)
		return cv_error_set(
			err, CV_EINVAL,
			"the %s date '%.32s' is not a date (YYYY-MM-DD)", what,
			s ? s : "");
	if (d > today)
		return cv_error_set(err, CV_EINVAL,
				    "the %s date %s is in the future", what, s);
	return 0;
}

static int find_patient(struct cv_index *ix, const char *mrn, char id[24],
			struct cv_error *err)
{
	const char *params[1] = { mrn };
	PGresult *res;
	int ret = 0;

	res = PQexecParams(ix->conn, FIND_PATIENT, 1, NULL, params, NULL, NULL,
			   0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
		PQclear(res);
		res = PQexecParams(ix->conn, MAKE_PATIENT, 1, NULL, params,
				   NULL, NULL, 0);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not look the patient up");
	else if (PQntuples(res) == 0)
		/* The MRN is not repeated: it is patient data. */
		ret = cv_error_set(
			err, CV_ENOTFOUND,
			"no patient with that MRN, in the patient index or on any document");
	else
		snprintf(id, 24, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return ret;
}

int cv_index_patient_event(struct cv_index *ix, const char *mrn,
			   enum cv_patient_event ev, const char *date,
			   const char *date2, const char *actor,
			   struct cv_retention_eval_report *rep,
			   struct cv_error *err)
{
	static const char *const names[] = { "encounter", "death", "birth" };
	char pid[24], detail[64];
	const char *params[4];
	PGresult *res = NULL;
	int32_t today, d1, d2;
	int owned, ret;

	memset(rep, 0, sizeof(*rep));
	if (!mrn || !*mrn)
		return cv_error_set(err, CV_EINVAL, "an event needs an MRN");
	ret = cv_index__today(ix, &today, err);
	if (ret == 0)
		ret = check_date(date,
				 ev == CV_PATIENT_ENCOUNTER ? "encounter"
				 : ev == CV_PATIENT_DEATH   ? "death"
							    : "birth",
				 today, err);
	if (ret == 0 && date2)
		ret = check_date(date2, "discharge", today, err);
	if (ret < 0)
		return ret;
	if (date2) {
		cv_retention_date_parse(&d1, date);
		cv_retention_date_parse(&d2, date2);
		if (d2 < d1)
			return cv_error_set(
				err, CV_EINVAL,
				"the discharge date %s is before the encounter date %s",
				date2, date);
	}
	ret = cv_index__tx_enter(ix, &owned, err);
	if (ret < 0)
		return ret;
	ret = find_patient(ix, mrn, pid, err);
	if (ret < 0)
		goto cleanup;
	params[0] = pid;
	params[1] = date;
	params[2] = date2;
	params[3] = actor;
	if (ev == CV_PATIENT_ENCOUNTER)
		res = PQexecParams(ix->conn, ADD_ENCOUNTER, 4, NULL, params,
				   NULL, NULL, 0);
	else
		res = PQexecParams(ix->conn,
				   ev == CV_PATIENT_DEATH ? SET_DEATH
							  : SET_BIRTH,
				   2, NULL, params, NULL, NULL, 0);
	if (!cv_index__result_ok(res)) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not record the %s", names[ev]);
		goto cleanup;
	}
	snprintf(detail, sizeof(detail), "%s%s", names[ev],
		 date2 ? " with discharge" : "");
	ret = cv_index_audit(ix, actor, "patient.event", "patient", pid, detail,
			     "ok", err);
	if (ret == 0)
		ret = evaluate(ix, mrn, rep, err);
cleanup:
	PQclear(res);
	return cv_index__tx_leave(ix, owned, ret, err);
}
