/*
 * chartvault retention list|show|set|evaluate|due, and the patient events
 * that move retention dates (patients event --encounter|--death|--birth).
 *
 * Rules are data: a rule file (data/retention-presets.ini is one) has a
 * section per rule id with the keys of docs/RETENTION.md. Loading a file
 * again records a new version only for the rules whose meaning changed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "cli.h"
#include "common/banned.h"

static int opt_index(int argc, char **argv, const char *name)
{
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return i;
	return 0;
}

static json_t *rule_json(const struct cv_retention_rule *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(r->id));
	json_object_set_new(o, "version", json_integer(r->version));
	json_object_set_new(o, "types",
			    r->doc_types ? json_string(r->doc_types)
					 : json_null());
	json_object_set_new(o, "category", json_string(r->category));
	json_object_set_new(o, "majority_age", json_integer(r->majority_age));
	json_object_set_new(o, "expr",
			    r->expr ? json_string(r->expr) : json_null());
	json_object_set_new(o, "schedule",
			    json_string(r->schedule ? r->schedule : ""));
	json_object_set_new(o, "description",
			    json_string(r->description ? r->description : ""));
	json_object_set_new(o, "citation",
			    json_string(r->citation ? r->citation : ""));
	json_object_set_new(o, "created_by", json_string(r->created_by));
	json_object_set_new(o, "created_at", json_string(r->created_at));
	return o;
}

static void print_rules(const struct cv_retention_rule *r, size_t n, int json)
{
	size_t i;

	if (json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(a, rule_json(&r[i]));
		cli_json_print(a);
		return;
	}
	printf("%-24s %3s %-18s %-6s %3s  %s\n", "rule", "ver", "types", "who",
	       "maj", "expression");
	for (i = 0; i < n; i++)
		printf("%-24.24s %3d %-18.18s %-6.6s %3d  %s\n", r[i].id,
		       r[i].version, r[i].doc_types ? r[i].doc_types : "*",
		       r[i].category, r[i].majority_age,
		       r[i].expr ? r[i].expr : "(retired)");
}

static int list(struct cli *c, int argc, char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_retention_rule *r = NULL;
	size_t n = 0;

	if (cv_index_retention_rules(c->ix, NULL,
				     opt_index(argc, argv, "--all") != 0, &r,
				     &n, &err) < 0)
		return cli_fail(&err);
	print_rules(r, n, c->json);
	cv_retention_rules_free(r, n);
	return CLI_OK;
}

static int show(struct cli *c, const struct cv_cmd *cmd, int argc, char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_retention_rule *r = NULL;
	const char *id = NULL;
	size_t n = 0, i;
	int k;

	for (k = 1; k < argc; k++)
		if (strcmp(argv[k], "--json"))
			id = argv[k];
	if (!id)
		return cli_usage(cmd, "retention show needs a rule id");
	if (cv_index_retention_rules(c->ix, id, 1, &r, &n, &err) < 0)
		return cli_fail(&err);
	if (c->json) {
		print_rules(r, n, 1);
	} else {
		for (i = 0; i < n; i++) {
			printf("%s version %d (%s, %s)\n", r[i].id,
			       r[i].version, r[i].created_by, r[i].created_at);
			printf("  types:       %s\n",
			       r[i].doc_types ? r[i].doc_types : "* (all)");
			printf("  patients:    %s (majority at %d)\n",
			       r[i].category, r[i].majority_age);
			printf("  expression:  %s\n",
			       r[i].expr ? r[i].expr : "(retired)");
			if (r[i].schedule && *r[i].schedule)
				printf("  schedule:    %s\n", r[i].schedule);
			if (r[i].description && *r[i].description)
				printf("  says:        %s\n", r[i].description);
			if (r[i].citation && *r[i].citation)
				printf("  source:      %s\n", r[i].citation);
		}
	}
	cv_retention_rules_free(r, n);
	return CLI_OK;
}

/* ---------------------------------------------------------------------
 * Rule files
 */

struct rule_file {
	struct cv_retention_rule *rules;
	size_t n;
	char bad[256]; /* the first problem, with its line */
};

static struct cv_retention_rule *rule_for(struct rule_file *f,
					  const char *section)
{
	struct cv_retention_rule *r;

	if (f->n && !strcmp(f->rules[f->n - 1].id, section))
		return &f->rules[f->n - 1];
	if (f->n >= 1000)
		return NULL;
	f->rules = cv_realloc(f->rules, (f->n + 1) * sizeof(*f->rules));
	r = &f->rules[f->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", section);
	snprintf(r->category, sizeof(r->category), "any");
	r->majority_age = 18;
	return r;
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = cv_strdup(v);
}

static int on_rule_line(void *user, const char *section, const char *name,
			const char *value)
{
	struct rule_file *f = user;
	struct cv_retention_rule *r;
	long long age;

	if (f->bad[0])
		return 0;
	if (!*section) {
		snprintf(f->bad, sizeof(f->bad),
			 "'%.32s' is outside a [rule-id] section", name);
		return 0;
	}
	r = rule_for(f, section);
	if (!r) {
		snprintf(f->bad, sizeof(f->bad), "more than 1000 rules");
		return 0;
	}
	if (!strcmp(name, "types")) {
		set_str(&r->doc_types, value);
	} else if (!strcmp(name, "category")) {
		snprintf(r->category, sizeof(r->category), "%.7s", value);
	} else if (!strcmp(name, "majority")) {
		if (cv_parse_ll(&age, value, 14, 25) < 0) {
			snprintf(f->bad, sizeof(f->bad),
				 "majority is an age from 14 to 25");
			return 0;
		}
		r->majority_age = (int)age;
	} else if (!strcmp(name, "expr")) {
		set_str(&r->expr, value);
	} else if (!strcmp(name, "schedule")) {
		set_str(&r->schedule, value);
	} else if (!strcmp(name, "description")) {
		set_str(&r->description, value);
	} else if (!strcmp(name, "citation")) {
		set_str(&r->citation, value);
	} else {
		snprintf(
			f->bad, sizeof(f->bad),
			"unknown key '%.32s' (types, category, majority, expr, schedule, description, citation)",
			name);
		return 0;
	}
	return 1;
}

static void rule_file_release(struct rule_file *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->rules[i].doc_types);
		free(f->rules[i].expr);
		free(f->rules[i].schedule);
		free(f->rules[i].description);
		free(f->rules[i].citation);
	}
	free(f->rules);
	memset(f, 0, sizeof(*f));
}

static int load_file(struct cli *c, const char *path, const char *schedule)
{
	struct cv_error err = CV_ERROR_INIT;
	struct rule_file f;
	json_t *out = json_array();
	size_t i, loaded = 0;
	int r, ret = CLI_OK;

	memset(&f, 0, sizeof(f));
	r = ini_parse(path, on_rule_line, &f);
	if (r == -1) {
		cv_error_errno(&err, CV_EINVAL, "could not read rule file '%s'",
			       path);
		ret = cli_fail(&err);
		goto cleanup;
	}
	if (r != 0 || f.bad[0]) {
		/* ini_parse returns the line of the first problem. */
		cv_error_set(
			&err, CV_EINVAL, "rule file '%s', line %d: %s", path, r,
			f.bad[0] ? f.bad : "not a [section] or key = value");
		ret = cli_fail(&err);
		goto cleanup;
	}
	/* Check every rule before recording any: all or none. */
	for (i = 0; i < f.n; i++) {
		struct cv_retention_expr *e = NULL;

		if (!f.rules[i].expr) {
			cv_error_set(&err, CV_EINVAL,
				     "rule file '%s': rule '%s' has no expr",
				     path, f.rules[i].id);
			ret = cli_fail(&err);
			goto cleanup;
		}
		if (cv_retention_parse(&e, f.rules[i].expr, &err) < 0) {
			cv_error_prefix(&err, "rule file '%s', rule '%s'", path,
					f.rules[i].id);
			ret = cli_fail(&err);
			goto cleanup;
		}
		cv_retention_expr_free(e);
	}
	if (cv_index_begin(c->ix, &err) < 0) {
		ret = cli_fail(&err);
		goto cleanup;
	}
	for (i = 0; i < f.n; i++) {
		struct cv_retention_rule *rule = &f.rules[i];
		int version, changed;
		json_t *o;

		if (schedule &&
		    (!rule->schedule || strcmp(rule->schedule, schedule)))
			continue;
		if (cv_index_retention_set(c->ix, rule, c->actor, &version,
					   &changed, &err) < 0) {
			cv_index_rollback(c->ix);
			ret = cli_fail(&err);
			goto cleanup;
		}
		loaded++;
		o = json_object();
		json_object_set_new(o, "id", json_string(rule->id));
		json_object_set_new(o, "version", json_integer(version));
		json_object_set_new(o, "changed", json_boolean(changed));
		json_array_append_new(out, o);
		if (!c->json)
			printf("%-28s version %d%s\n", rule->id, version,
			       changed ? " (new)" : " (unchanged)");
	}
	if (cv_index_commit(c->ix, &err) < 0) {
		ret = cli_fail(&err);
		goto cleanup;
	}
	if (schedule && !loaded) {
		cv_error_set(&err, CV_ENOTFOUND,
			     "rule file '%s' has no rule of schedule '%s'",
			     path, schedule);
		ret = cli_fail(&err);
		goto cleanup;
	}
	if (c->json) {
		cli_json_print(out);
		out = NULL;
	}
cleanup:
	json_decref(out);
	rule_file_release(&f);
	return ret;
}

static int set(struct cli *c, const struct cv_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "schedule", required_argument, NULL, 's' },
		{ "expr", required_argument, NULL, 'e' },
		{ "types", required_argument, NULL, 't' },
		{ "category", required_argument, NULL, 'c' },
		{ "majority", required_argument, NULL, 'm' },
		{ "description", required_argument, NULL, 'd' },
		{ "citation", required_argument, NULL, 'C' },
		{ "retire", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct cv_error err = CV_ERROR_INIT;
	struct cv_retention_rule r;
	const char *file = NULL;
	long long age;
	int o, retire = 0, version, changed;

	memset(&r, 0, sizeof(r));
	snprintf(r.category, sizeof(r.category), "any");
	r.majority_age = 18;
	optind = 1;
	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (o) {
		case 'f':
			file = optarg;
			break;
		case 's':
			r.schedule = optarg;
			break;
		case 'e':
			r.expr = optarg;
			break;
		case 't':
			r.doc_types = optarg;
			break;
		case 'c':
			snprintf(r.category, sizeof(r.category), "%.7s",
				 optarg);
			break;
		case 'm':
			if (cli_int_opt(cmd, "--majority", optarg, 14, 25,
					&age))
				return CLI_USAGE;
			r.majority_age = (int)age;
			break;
		case 'd':
			r.description = optarg;
			break;
		case 'C':
			r.citation = optarg;
			break;
		case 'r':
			retire = 1;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "bad option for retention set");
		}
	}
	if (file)
		return optind < argc
			       ? cli_usage(
					 cmd,
					 "retention set --file takes no rule id")
			       : load_file(c, file, r.schedule);
	if (optind + 1 != argc)
		return cli_usage(cmd, "retention set needs one rule id");
	snprintf(r.id, sizeof(r.id), "%s", argv[optind]);
	if (retire == !!r.expr)
		return cli_usage(cmd,
				 "retention set ID needs --expr, or --retire");
	if (cv_index_retention_set(c->ix, &r, c->actor, &version, &changed,
				   &err) < 0)
		return err.code == CV_EINVAL ? (cv_log_error(&err), CLI_USAGE)
					     : cli_fail(&err);
	if (c->json) {
		json_t *v = json_object();

		json_object_set_new(v, "id", json_string(r.id));
		json_object_set_new(v, "version", json_integer(version));
		json_object_set_new(v, "changed", json_boolean(changed));
		cli_json_print(v);
	} else {
		printf("%s version %d%s\n", r.id, version,
		       changed ? "" : " (unchanged)");
	}
	return CLI_OK;
}

static void print_report(const struct cv_retention_eval_report *rep, int json)
{
	if (json) {
		json_t *v = json_object();

		json_object_set_new(v, "documents",
				    json_integer(rep->documents));
		json_object_set_new(v, "dated", json_integer(rep->dated));
		json_object_set_new(v, "permanent",
				    json_integer(rep->permanent));
		json_object_set_new(v, "waiting", json_integer(rep->waiting));
		json_object_set_new(v, "unknown", json_integer(rep->unknown));
		json_object_set_new(v, "no_rule", json_integer(rep->no_rule));
		json_object_set_new(v, "due", json_integer(rep->due));
		cli_json_print(v);
		return;
	}
	printf("%lld documents evaluated: %lld dated (%lld due now, unheld), "
	       "%lld permanent, %lld waiting for an event, %lld unknown, "
	       "%lld without a rule\n",
	       (long long)rep->documents, (long long)rep->dated,
	       (long long)rep->due, (long long)rep->permanent,
	       (long long)rep->waiting, (long long)rep->unknown,
	       (long long)rep->no_rule);
}

static int evaluate(struct cli *c, const struct cv_cmd *cmd, int argc,
		    char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_retention_eval_report rep;
	const char *mrn = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mrn") && i + 1 < argc)
			mrn = argv[++i];
		else if (strcmp(argv[i], "--json"))
			return cli_usage(cmd, "unknown argument '%s'", argv[i]);
	}
	if (cv_index_retention_evaluate(c->ix, mrn, c->actor, &rep, &err) < 0)
		return cli_fail(&err);
	print_report(&rep, c->json);
	return CLI_OK;
}

static int due(struct cli *c, const struct cv_cmd *cmd, int argc, char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_retention_due *d = NULL;
	const char *before = NULL;
	size_t n = 0, i;
	int k, all = 0;

	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--before") && k + 1 < argc)
			before = argv[++k];
		else if (!strcmp(argv[k], "--all"))
			all = 1;
		else if (strcmp(argv[k], "--json"))
			return cli_usage(cmd, "unknown argument '%s'", argv[k]);
	}
	if (cv_index_retention_due(c->ix, before, all, &d, &n, &err) < 0)
		return err.code == CV_EINVAL ? cli_usage(cmd, "%s", err.msg)
					     : cli_fail(&err);
	if (c->json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++) {
			json_t *o = json_object();

			json_object_set_new(o, "document",
					    json_integer(d[i].document_id));
			json_object_set_new(o, "mrn", json_string(d[i].mrn));
			json_object_set_new(o, "type",
					    json_string(d[i].doc_type));
			json_object_set_new(o, "status",
					    json_string(d[i].status));
			json_object_set_new(
				o, "eligible_on",
				d[i].eligible_on[0]
					? json_string(d[i].eligible_on)
					: json_null());
			json_object_set_new(o, "rule",
					    json_string(d[i].rule_id));
			json_object_set_new(o, "rule_version",
					    json_integer(d[i].rule_version));
			json_object_set_new(o, "reason",
					    json_string(d[i].reason));
			json_object_set_new(o, "rule_expr",
					    json_string(d[i].rule_expr));
			json_object_set_new(o, "anchors",
					    json_string(d[i].anchors));
			json_object_set_new(o, "hold",
					    d[i].hold_id
						    ? json_integer(d[i].hold_id)
						    : json_null());
			json_array_append_new(a, o);
		}
		cli_json_print(a);
	} else {
		printf("%-8s %-12s %-10s %-10s %-11s %-28s %s\n", "document",
		       "mrn", "type", "status", "eligible", "rule", "hold");
		for (i = 0; i < n; i++) {
			char rule[80], hold[24] = "";

			snprintf(rule, sizeof(rule), "%s@%d", d[i].rule_id,
				 d[i].rule_version);
			if (d[i].hold_id)
				snprintf(hold, sizeof(hold), "hold %lld",
					 (long long)d[i].hold_id);
			printf("%-8lld %-12.12s %-10.10s %-10.10s %-11s %-28.28s %s\n",
			       (long long)d[i].document_id, d[i].mrn,
			       d[i].doc_type, d[i].status,
			       d[i].eligible_on[0] ? d[i].eligible_on : "-",
			       d[i].rule_id[0] ? rule : "-",
			       hold[0] ? hold : d[i].reason);
		}
	}
	free(d);
	return CLI_OK;
}

int cmd_retention(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("retention");

	if (argc < 2)
		return cli_usage(cmd, "retention needs a subcommand");
	if (!strcmp(argv[1], "list"))
		return list(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "show"))
		return show(c, cmd, argc - 1, argv + 1);
	if (!strcmp(argv[1], "set"))
		return set(c, cmd, argc - 1, argv + 1);
	if (!strcmp(argv[1], "evaluate"))
		return evaluate(c, cmd, argc - 1, argv + 1);
	if (!strcmp(argv[1], "due"))
		return due(c, cmd, argc - 1, argv + 1);
	return cli_usage(cmd, "unknown retention subcommand '%s'", argv[1]);
}

/* patients event (a verb of cmd_patients): argv[0] is "event". */
int cmd_patients_event(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mrn", required_argument, NULL, 'm' },
		{ "encounter", required_argument, NULL, 'e' },
		{ "discharge", required_argument, NULL, 'd' },
		{ "death", required_argument, NULL, 'D' },
		{ "birth", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cv_cmd *cmd = cli_find("patients");
	struct cv_error err = CV_ERROR_INIT;
	struct cv_retention_eval_report rep;
	const char *mrn = NULL, *enc = NULL, *dis = NULL, *death = NULL,
		   *birth = NULL;
	enum cv_patient_event ev;
	int o, kinds;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (o) {
		case 'm':
			mrn = optarg;
			break;
		case 'e':
			enc = optarg;
			break;
		case 'd':
			dis = optarg;
			break;
		case 'D':
			death = optarg;
			break;
		case 'b':
			birth = optarg;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "bad option for patients event");
		}
	}
	kinds = !!enc + !!death + !!birth;
	if (!mrn || kinds != 1 || optind != argc)
		return cli_usage(
			cmd,
			"patients event needs --mrn and one of --encounter, --death, --birth");
	if (dis && !enc)
		return cli_usage(cmd, "--discharge goes with --encounter");
	ev = enc ? CV_PATIENT_ENCOUNTER
		 : (death ? CV_PATIENT_DEATH : CV_PATIENT_BIRTH);
	if (cv_index_patient_event(c->ix, mrn, ev,
				   enc ? enc : (death ? death : birth), dis,
				   c->actor, &rep, &err) < 0)
		return err.code == CV_EINVAL ? cli_usage(cmd, "%s", err.msg)
					     : cli_fail(&err);
	if (!c->json)
		printf("recorded; the patient's documents were re-evaluated:\n");
	print_report(&rep, c->json);
	return CLI_OK;
}
