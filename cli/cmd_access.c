/*
 * Restricted charts on the command line: patients restrict|unrestrict|
 * permit (reached through cmd_patients), chartvault access
 * review|reviewed|emergency, and the check that show, export and search
 * make before they print a record's content.
 *
 * The decisions are index/access.c's (cv_index_chart_access and its
 * document form), the same the viewer asks, so a record the viewer hides
 * is hidden here too. A document of a restricted chart the user may not
 * open is answered exactly like one that does not exist.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/banned.h"

#define RESTRICTED_SNIPPET "[restricted chart: no text shown]"

int cli_document_access(struct cli *c, int64_t doc_id, struct cv_error *err)
{
	struct cv_index_access_info a;
	char id[24], detail[64];
	int ret;

	ret = cv_index_document_access(c->ix, c->actor, doc_id, &a, err);
	if (ret < 0 || cv_index_access_allowed(a.decision))
		return ret;
	snprintf(id, sizeof(id), "%" PRId64, doc_id);
	snprintf(detail, sizeof(detail), "restricted chart, %s",
		 cv_index_access_name(a.decision));
	{
		struct cv_index_audit_entry e;
		struct cv_error aerr = CV_ERROR_INIT;

		memset(&e, 0, sizeof(e));
		e.actor = c->actor;
		e.action = "access.denied";
		e.object_type = "document";
		e.object_id = id;
		e.patient = a.mrn[0] ? a.mrn : NULL;
		e.detail = detail;
		e.outcome = "denied";
		if (cv_index_audit_append(c->ix, &e, NULL, &aerr) < 0)
			cv_log_warnx("could not audit a denied view: %s",
				     aerr.msg);
	}
	/* The words of cv_index_document_get for an unknown id. */
	return cv_error_set(err, CV_ENOTFOUND, "no document %s", id);
}

void cli_search_redact(struct cv_index_search_result *res)
{
	size_t i;

	/* search ran with access_user: the index decided each hit. */
	for (i = 0; i < res->n; i++) {
		struct cv_index_hit *h = &res->hits[i];

		if (cv_index_access_allowed(h->access))
			continue;
		free(h->snippet);
		h->snippet = cv_strdup(RESTRICTED_SNIPPET);
		snprintf(h->state, sizeof(h->state), "restricted");
	}
}

/* ---------------------------------------------------------------------
 * patients restrict | unrestrict | permit
 */

static json_t *str_or_null(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

/* A request that does not apply (a bad reason, one's own grant) changes
 * nothing and is refused, exit 6, as the exception queue's actions. */
static int refuse(const struct cv_error *err)
{
	int ret = cli_fail(err);

	return err->code == CV_EINVAL ? CLI_REFUSED : ret;
}

int cmd_patients_restrict(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "category", required_argument, NULL, 'c' },
		{ "note", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cv_cmd *cmd = cli_find("patients");
	struct cv_error err = CV_ERROR_INIT;
	const char *category = NULL, *note = NULL;
	int opt, lift = !strcmp(argv[0], "unrestrict");

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			category = optarg;
			break;
		case 'n':
			note = optarg;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "patients %s takes one MRN", argv[0]);
	if (lift && (category || note))
		return cli_usage(
			cmd,
			"patients unrestrict takes no --category or --note");
	if (!lift && !cv_index_restriction_ok(category))
		return cli_usage(
			cmd,
			"patients restrict needs --category employee, vip or sensitive");
	if (cv_index_patient_restrict(c->ix, argv[optind],
				      lift ? NULL : category, note, c->actor,
				      &err) < 0)
		return refuse(&err);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "mrn", json_string(argv[optind]));
		json_object_set_new(o, "restricted",
				    lift ? json_null() : json_string(category));
		cli_json_print(o);
	} else if (lift) {
		printf("patient %s: chart no longer restricted\n",
		       argv[optind]);
	} else {
		printf("patient %s: chart restricted (%s)\n", argv[optind],
		       category);
	}
	return CLI_OK;
}

int cmd_patients_permit(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "revoke", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cv_cmd *cmd = cli_find("patients");
	struct cv_error err = CV_ERROR_INIT;
	int opt, revoke = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			revoke = 1;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (optind != argc - 2)
		return cli_usage(cmd,
				 "patients permit takes an MRN and a user");
	if (cv_index_chart_permit(c->ix, argv[optind], argv[optind + 1], revoke,
				  c->actor, &err) < 0)
		return refuse(&err);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "mrn", json_string(argv[optind]));
		json_object_set_new(o, "user", json_string(argv[optind + 1]));
		json_object_set_new(o, "permitted", json_boolean(!revoke));
		cli_json_print(o);
	} else {
		printf("patient %s: user %s %s\n", argv[optind],
		       argv[optind + 1],
		       revoke ? "no longer has a standing permission"
			      : "has a standing permission");
	}
	return CLI_OK;
}

int cmd_patients_access(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cv_cmd *cmd = cli_find("patients");
	struct cv_index_chart_acl acl;
	struct cv_error err = CV_ERROR_INIT;
	char detail[64];
	size_t i;
	int opt, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt != 'j')
			return cli_usage(cmd, "unknown option");
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "patients access takes one MRN");
	ret = cv_index_chart_acl(c->ix, argv[optind], &acl, &err);
	snprintf(detail, sizeof(detail), "permissions=%zu", acl.npermissions);
	{
		struct cv_index_audit_entry e;
		struct cv_error aerr = CV_ERROR_INIT;
		char pid[24];

		snprintf(pid, sizeof(pid), "%" PRId64, acl.patient_id);
		memset(&e, 0, sizeof(e));
		e.actor = c->actor;
		e.action = "chart.access-list";
		e.object_type = "patient";
		e.object_id = ret == 0 ? pid : NULL;
		e.patient = ret == 0 ? argv[optind] : NULL;
		e.detail = detail;
		e.outcome = ret == 0 ? "ok" : cv_errcode_name(ret);
		if (cv_index_audit_append(c->ix, &e, NULL, &aerr) < 0)
			cv_log_warnx("could not audit: %s", aerr.msg);
	}
	if (ret < 0)
		return refuse(&err);
	if (c->json) {
		json_t *o = json_object(), *a = json_array();

		json_object_set_new(o, "mrn", json_string(argv[optind]));
		json_object_set_new(o, "restricted",
				    str_or_null(acl.restricted));
		json_object_set_new(o, "note", str_or_null(acl.note));
		json_object_set_new(o, "restricted_by",
				    str_or_null(acl.restricted_by));
		json_object_set_new(o, "restricted_at",
				    str_or_null(acl.restricted_at));
		for (i = 0; i < acl.npermissions; i++)
			json_array_append_new(
				a, json_pack("{s:I, s:s, s:s, s:s}", "id",
					     (json_int_t)acl.permissions[i].id,
					     "user", acl.permissions[i].user,
					     "granted_by",
					     acl.permissions[i].granted_by,
					     "granted_at",
					     acl.permissions[i].granted_at));
		json_object_set_new(o, "permissions", a);
		json_object_set_new(o, "emergency_grants",
				    json_integer(acl.grants));
		json_object_set_new(o, "emergency_unreviewed",
				    json_integer(acl.grants_unreviewed));
		cli_json_print(o);
	} else {
		if (acl.restricted[0])
			printf("patient %s: restricted (%s) by %s at %s%s%s\n",
			       argv[optind], acl.restricted, acl.restricted_by,
			       acl.restricted_at, acl.note[0] ? ": " : "",
			       acl.note);
		else
			printf("patient %s: not restricted\n", argv[optind]);
		for (i = 0; i < acl.npermissions; i++)
			printf("  standing permission: %s (granted by %s at %s)\n",
			       acl.permissions[i].user,
			       acl.permissions[i].granted_by,
			       acl.permissions[i].granted_at);
		printf("  emergency access: %lld grant%s, %lld waiting for review\n",
		       (long long)acl.grants, acl.grants == 1 ? "" : "s",
		       (long long)acl.grants_unreviewed);
	}
	cv_index_chart_acl_release(&acl);
	return CLI_OK;
}

/* ---------------------------------------------------------------------
 * access review | reviewed | emergency
 */

static json_t *grant_json(const struct cv_index_emergency *g)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(g->id));
	json_object_set_new(o, "patient_id", json_integer(g->patient_id));
	json_object_set_new(o, "mrn", json_string(g->mrn));
	json_object_set_new(o, "patient_name", str_or_null(g->patient_name));
	json_object_set_new(o, "user", json_string(g->user));
	json_object_set_new(o, "category", json_string(g->category));
	json_object_set_new(o, "reason", json_string(g->reason));
	json_object_set_new(o, "granted_at", json_string(g->granted_at));
	json_object_set_new(o, "expires_at", json_string(g->expires_at));
	json_object_set_new(o, "active", json_boolean(g->active));
	json_object_set_new(o, "audit_seq", json_integer(g->audit_seq));
	json_object_set_new(o, "views", json_integer(g->views));
	json_object_set_new(o, "reviewed_by", str_or_null(g->reviewed_by));
	json_object_set_new(o, "reviewed_at", str_or_null(g->reviewed_at));
	json_object_set_new(o, "review_note", str_or_null(g->review_note));
	return o;
}

static int review(struct cli *c, const struct cv_cmd *cmd, int argc,
		  char **argv)
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct cv_index_emergency *g = NULL;
	struct cv_error err = CV_ERROR_INIT;
	char detail[64];
	size_t n = 0, i;
	int opt, all = 0, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			all = 1;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage(cmd, "access review takes no arguments");
	ret = cv_index_emergency_list(c->ix, all, &g, &n, &err);
	snprintf(detail, sizeof(detail), "%s, %zu grants",
		 all ? "all" : "waiting", n);
	cv_index_audit(c->ix, c->actor, "emergency.list", "emergency_access",
		       NULL, detail, ret == 0 ? "ok" : cv_errcode_name(ret),
		       NULL);
	if (ret < 0)
		return refuse(&err);
	if (c->json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(a, grant_json(&g[i]));
		cli_json_print(a);
	} else if (n == 0) {
		printf(all ? "nobody has used emergency access\n"
			   : "no emergency access waits for review\n");
	} else {
		for (i = 0; i < n; i++) {
			printf("grant %" PRId64
			       "  %s  user %s  MRN %s  %s  %s..%s%s\n",
			       g[i].id, g[i].category, g[i].user, g[i].mrn,
			       g[i].patient_name, g[i].granted_at,
			       g[i].expires_at,
			       g[i].active ? "  (in force)" : "");
			printf("    reason: %s\n", g[i].reason);
			printf("    chart and documents viewed during the grant: %lld\n",
			       (long long)g[i].views);
			if (g[i].reviewed_at[0])
				printf("    reviewed by %s at %s: %s\n",
				       g[i].reviewed_by, g[i].reviewed_at,
				       g[i].review_note);
		}
	}
	free(g);
	return CLI_OK;
}

static int reviewed(struct cli *c, const struct cv_cmd *cmd, int argc,
		    char **argv)
{
	static const struct option longopts[] = {
		{ "note", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct cv_error err = CV_ERROR_INIT;
	const char *note = NULL;
	long long id;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			note = optarg;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "access reviewed takes one GRANT-ID");
	if (!note || !*note)
		return cli_usage(cmd, "access reviewed needs --note TEXT");
	if (cli_int_opt(cmd, "GRANT-ID", argv[optind], 1, INT64_MAX, &id))
		return CLI_USAGE;
	if (cv_index_emergency_review(c->ix, id, note, c->actor, &err) < 0)
		return refuse(&err);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "id", json_integer(id));
		json_object_set_new(o, "reviewed_by", json_string(c->actor));
		cli_json_print(o);
	} else {
		printf("emergency access %lld: reviewed\n", id);
	}
	return CLI_OK;
}

static int emergency(struct cli *c, const struct cv_cmd *cmd, int argc,
		     char **argv)
{
	static const struct option longopts[] = {
		{ "category", required_argument, NULL, 'c' },
		{ "reason", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct cv_index_patient p;
	struct cv_index_emergency g;
	struct cv_error err = CV_ERROR_INIT;
	const char *category = NULL, *reason = NULL;
	int64_t grant = 0;
	int opt, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			category = optarg;
			break;
		case 'r':
			reason = optarg;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "access emergency takes one MRN");
	if (!category || !reason)
		return cli_usage(
			cmd, "access emergency needs --category and --reason");
	ret = cv_index_patient_by_mrn(c->ix, argv[optind], &p, &err);
	if (ret == 0)
		ret = cv_index_emergency_grant(
			c->ix, c->actor, p.id, category, reason,
			(int)c->cfg.viewer_glass_minutes, &grant, &err);
	if (ret == 0)
		ret = cv_index_emergency_get(c->ix, grant, &g, &err);
	if (ret < 0)
		return refuse(&err);
	if (c->json) {
		cli_json_print(grant_json(&g));
	} else {
		printf("emergency access %" PRId64
		       " to the chart of MRN %s until %s (UTC); it will be reviewed\n",
		       grant, g.mrn, g.expires_at);
	}
	return CLI_OK;
}

struct access_verb {
	const char *name;
	int (*fn)(struct cli *c, const struct cv_cmd *cmd, int argc,
		  char **argv);
};

static const struct access_verb verbs[] = {
	{ "review", review },
	{ "reviewed", reviewed },
	{ "emergency", emergency },
};

int cmd_access(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("access");
	size_t i;

	if (argc < 2)
		return cli_usage(
			cmd,
			"access needs a verb: review, reviewed or emergency");
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(argv[1], verbs[i].name))
			return verbs[i].fn(c, cmd, argc - 1, argv + 1);
	return cli_usage(cmd, "unknown verb '%.40s'", argv[1]);
}
