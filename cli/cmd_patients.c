/*
 * chartvault patients import|find: the patient index (master patient
 * index) that documents are matched against, and the lookup records
 * staff use to find a chart by a name as spoken or misspelled.
 *
 * Verbs are rows of a nested table (git builtin/bundle.c); other verbs
 * of the patient index (e.g. "event" for encounters and deaths) are
 * added as rows.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ingest/ingest.h"
#include "common/banned.h"

struct patients_verb {
	const char *name;
	int (*fn)(struct cli *c, const struct cv_cmd *cmd, int argc,
		  char **argv);
};

/* ---------------------------------------------------------------------
 * import
 */

static int import(struct cli *c, const struct cv_cmd *cmd, int argc,
		  char **argv)
{
	struct cv_ingest_patients_csv csv;
	struct cv_error err = CV_ERROR_INIT;
	size_t i, inserted = 0, updated = 0, unchanged = 0;
	const char *path = NULL;
	char detail[128];
	int ret, k;

	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--json"))
			continue;
		if (path || (argv[k][0] == '-' && argv[k][1]))
			return cli_usage(cmd,
					 "patients import takes one CSV file");
		path = argv[k];
	}
	if (!path)
		return cli_usage(cmd, "patients import takes one CSV file");
	ret = cv_ingest_patients_csv_load(&csv, path, &err);
	if (ret < 0)
		return cli_fail(&err);
	/* All rows or none: a failure half-way leaves the index as it was. */
	ret = cv_index_begin(c->ix, &err);
	for (i = 0; ret == 0 && i < csv.nrows; i++) {
		enum cv_index_upsert how;

		ret = cv_index_patient_upsert(c->ix, &csv.rows[i].p, &how,
					      &err);
		if (ret < 0)
			cv_error_prefix(&err, "line %zu", csv.rows[i].line);
		else if (how == CV_INDEX_UPSERT_INSERTED)
			inserted++;
		else if (how == CV_INDEX_UPSERT_UPDATED)
			updated++;
		else
			unchanged++;
	}
	snprintf(detail, sizeof(detail),
		 "inserted=%zu updated=%zu unchanged=%zu rejected=%zu",
		 inserted, updated, unchanged, csv.nrejects);
	if (ret == 0)
		ret = cv_index_audit(c->ix, c->actor, "patients.import",
				     "patients", NULL, detail, NULL, &err);
	if (ret == 0)
		ret = cv_index_commit(c->ix, &err);
	if (ret < 0) {
		cv_index_rollback(c->ix);
		ret = cli_fail(&err);
		goto out;
	}
	for (i = 0; i < csv.nrejects; i++)
		cv_log_warnx("patient file '%s' %s", path,
			     csv.rejects[i].reason);
	if (c->json) {
		json_t *o = json_object(), *rej = json_array();

		json_object_set_new(o, "inserted",
				    json_integer((json_int_t)inserted));
		json_object_set_new(o, "updated",
				    json_integer((json_int_t)updated));
		json_object_set_new(o, "unchanged",
				    json_integer((json_int_t)unchanged));
		for (i = 0; i < csv.nrejects; i++) {
			json_t *r = json_object();

			json_object_set_new(
				r, "line",
				json_integer((json_int_t)csv.rejects[i].line));
			json_object_set_new(r, "reason",
					    json_string(csv.rejects[i].reason));
			json_array_append_new(rej, r);
		}
		json_object_set_new(o, "rejected", rej);
		cli_json_print(o);
	} else {
		printf("patients: %zu inserted, %zu updated, %zu unchanged, %zu rejected\n",
		       inserted, updated, unchanged, csv.nrejects);
	}
	ret = csv.nrejects ? CLI_REJECTS : CLI_OK;
out:
	cv_ingest_patients_csv_release(&csv);
	return ret;
}

/* ---------------------------------------------------------------------
 * find
 */

static void how_text(unsigned how, char *out, size_t n)
{
	snprintf(out, n, "%s%s%s%s", how & CV_INDEX_MATCH_EXACT ? "exact " : "",
		 how & CV_INDEX_MATCH_NICKNAME ? "nickname " : "",
		 how & CV_INDEX_MATCH_TRANSPOSED ? "transposed " : "",
		 how & CV_INDEX_MATCH_FUZZY ? "similar " : "");
	if (out[0] && out[strlen(out) - 1] == ' ')
		out[strlen(out) - 1] = '\0';
}

static json_t *match_json(const struct cv_index_patient_match *m)
{
	json_t *o = json_object(), *how = json_array();

	json_object_set_new(o, "id", json_integer(m->p.id));
	json_object_set_new(o, "mrn", json_string(m->p.mrn));
	json_object_set_new(o, "family_name", json_string(m->p.family));
	json_object_set_new(o, "given_name", json_string(m->p.given));
	json_object_set_new(o, "dob",
			    m->p.dob[0] ? json_string(m->p.dob) : json_null());
	json_object_set_new(o, "sex",
			    m->p.sex[0] ? json_string(m->p.sex) : json_null());
	json_object_set_new(o, "deceased_on",
			    m->p.deceased_on[0] ? json_string(m->p.deceased_on)
						: json_null());
	json_object_set_new(
		o, "score",
		json_real((double)(int)(m->score * 1000 + 0.5) / 1000));
	if (m->how & CV_INDEX_MATCH_EXACT)
		json_array_append_new(how, json_string("exact"));
	if (m->how & CV_INDEX_MATCH_NICKNAME)
		json_array_append_new(how, json_string("nickname"));
	if (m->how & CV_INDEX_MATCH_TRANSPOSED)
		json_array_append_new(how, json_string("transposed"));
	if (m->how & CV_INDEX_MATCH_FUZZY)
		json_array_append_new(how, json_string("similar"));
	json_object_set_new(o, "match", how);
	return o;
}

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

static int find(struct cli *c, const struct cv_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dob", required_argument, NULL, 'd' },
		{ "mrn", required_argument, NULL, 'm' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct cv_index_patient_query q = { NULL, NULL, NULL, 20 };
	struct cv_index_patient_match *m = NULL;
	struct cv_error err = CV_ERROR_INIT;
	long long limit = 20;
	char detail[64];
	size_t n = 0, i;
	int opt, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			if (!looks_like_date(optarg))
				return cli_usage(
					cmd,
					"--dob must be a date, YYYY-MM-DD");
			q.dob = optarg;
			break;
		case 'm':
			q.mrn = optarg;
			break;
		case 'l':
			if (cli_int_opt(cmd, "--limit", optarg, 1, 1000,
					&limit))
				return CLI_USAGE;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (optind < argc - 1)
		return cli_usage(
			cmd,
			"patients find takes one NAME (quote a full name)");
	q.name = optind < argc ? argv[optind] : NULL;
	q.limit = (int)limit;
	if (!q.name && !q.dob && !q.mrn)
		return cli_usage(cmd,
				 "patients find needs a NAME, --dob or --mrn");
	ret = 0;
	if (c->cfg.patients_nicknames_file[0])
		ret = cv_index_nicknames_load(c->cfg.patients_nicknames_file,
					      &err);
	if (ret == 0)
		ret = cv_index_patient_find(c->ix, &q, &m, &n, &err);
	/* Who looked whom up is audited; the name asked for is not kept. */
	snprintf(detail, sizeof(detail), "results=%zu%s%s", n,
		 q.dob ? " by-dob" : "", q.mrn ? " by-mrn" : "");
	cv_index_audit(c->ix, c->actor, "patients.find", "patients", NULL,
		       detail, ret == 0 ? "ok" : cv_errcode_name(ret), NULL);
	if (ret < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(a, match_json(&m[i]));
		cli_json_print(a);
	} else if (n == 0) {
		printf("no patient found\n");
	} else {
		printf("%-6s %-12s %-24s %-20s %-10s %-3s %-10s %s\n", "score",
		       "mrn", "family name", "given name", "dob", "sex",
		       "deceased", "match");
		for (i = 0; i < n; i++) {
			char how[64];

			how_text(m[i].how, how, sizeof(how));
			printf("%-6.3f %-12s %-24.24s %-20.20s %-10s %-3s %-10s %s\n",
			       m[i].score, m[i].p.mrn, m[i].p.family,
			       m[i].p.given, m[i].p.dob, m[i].p.sex,
			       m[i].p.deceased_on[0] ? m[i].p.deceased_on : "-",
			       how);
		}
	}
	free(m);
	return n ? CLI_OK : CLI_NOTFOUND;
}

/* Encounters, deaths and births (cli/cmd_retention.c). */
static int event(struct cli *c, const struct cv_cmd *cmd, int argc, char **argv)
{
	(void)cmd;
	return cmd_patients_event(c, argc, argv);
}

/* Restricted charts (cli/cmd_access.c). */
static int restrict_(struct cli *c, const struct cv_cmd *cmd, int argc,
		     char **argv)
{
	(void)cmd;
	return cmd_patients_restrict(c, argc, argv);
}

static int permit(struct cli *c, const struct cv_cmd *cmd, int argc,
		  char **argv)
{
	(void)cmd;
	return cmd_patients_permit(c, argc, argv);
}

static int access_list(struct cli *c, const struct cv_cmd *cmd, int argc,
		       char **argv)
{
	(void)cmd;
	return cmd_patients_access(c, argc, argv);
}

/* clang-format off */
static const struct patients_verb verbs[] = {
	{ "import", import },
	{ "find", find },
	{ "event", event },
	{ "restrict", restrict_ },
	{ "unrestrict", restrict_ },
	{ "permit", permit },
	{ "access", access_list },
};
/* clang-format on */

int cmd_patients(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("patients");
	size_t i;

	if (argc < 2)
		return cli_usage(
			cmd,
			"patients needs a verb: import, find, event, restrict, unrestrict, permit or access");
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(argv[1], verbs[i].name))
			return verbs[i].fn(c, cmd, argc - 1, argv + 1);
	return cli_usage(cmd, "unknown verb '%.40s'", argv[1]);
}
