/*
 * chartvault audit show|verify|checkpoint: the audit trail for the people
 * who answer for it. show is the report (a patient's "who looked at my
 * chart", one user's activity, one document's history); verify proves
 * the trail untouched or says which row is not; checkpoint signs the
 * chain's head now.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/banned.h"

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

struct show {
	json_t *rows; /* with --json */
	int64_t n;
};

static int show_row(void *ctx, const struct cv_index_audit_row *r,
		    struct cv_error *err)
{
	struct show *s = ctx;

	(void)err;
	s->n++;
	if (s->rows) {
		json_t *o = json_object();

		json_object_set_new(
			o, "seq", r->seq ? json_integer(r->seq) : json_null());
		json_object_set_new(o, "at", json_string(r->at));
		json_object_set_new(o, "actor", str_or_null(r->actor));
		json_object_set_new(o, "role", str_or_null(r->role));
		json_object_set_new(o, "os_user", str_or_null(r->os_user));
		json_object_set_new(o, "host", str_or_null(r->host));
		json_object_set_new(o, "session", str_or_null(r->session));
		json_object_set_new(o, "action", str_or_null(r->action));
		json_object_set_new(o, "object_type",
				    str_or_null(r->object_type));
		json_object_set_new(o, "object_id", str_or_null(r->object_id));
		json_object_set_new(o, "patient", str_or_null(r->patient));
		json_object_set_new(o, "document_id",
				    str_or_null(r->document_id));
		json_object_set_new(o, "purpose", str_or_null(r->purpose));
		json_object_set_new(o, "detail", str_or_null(r->detail));
		json_object_set_new(o, "outcome", str_or_null(r->outcome));
		json_array_append_new(s->rows, o);
		return 0;
	}
	/* Search rows can list many ids; the JSON has them all. */
	printf("%-27s %-16s %-10s %-16s %s %.40s%s%s%s%s%s %s%s%.80s%s\n",
	       r->at, r->actor ? r->actor : "-", r->role ? r->role : "-",
	       r->action ? r->action : "-",
	       r->object_type ? r->object_type : "-",
	       r->object_id ? r->object_id : "",
	       r->object_id && strlen(r->object_id) > 40 ? "..." : "",
	       r->patient ? " patient " : "", r->patient ? r->patient : "",
	       r->purpose ? " purpose " : "", r->purpose ? r->purpose : "",
	       r->outcome ? r->outcome : "ok", r->detail ? " (" : "",
	       r->detail ? r->detail : "", r->detail ? ")" : "");
	return 0;
}

/* "YYYY-MM-DD" or "YYYY-MM-DD[T ]HH:MM:SS" into out as the server reads it. */
static int parse_since(char *out, size_t n, const char *s)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
	size_t len = strlen(s);

	if (len == 10 && sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) == 3 &&
	    used == 10)
		;
	else if (len == 19 && (s[10] == 'T' || s[10] == ' ') &&
		 sscanf(s, "%4d-%2d-%2d%*c%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi,
			&sec, &used) == 6 &&
		 used == 19)
		;
	else
		return -1;
	if (y < 1900 || y > 9999 || h < 0 || mi < 0 || sec < 0 || mo < 1 ||
	    mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	snprintf(out, n, "%04d-%02d-%02d %02d:%02d:%02d", y, mo, d, h, mi, sec);
	return 0;
}

static int audit_show(struct cli *c, const struct cv_cmd *cmd, int argc,
		      char **argv)
{
	static const struct option longopts[] = {
		{ "patient", required_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'u' },
		{ "document", required_argument, NULL, 'd' },
		{ "action", required_argument, NULL, 'a' },
		{ "since", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_audit_filter f;
	struct cv_index_audit_entry e;
	struct show s;
	struct cv_buf detail = CV_BUF_INIT;
	char since[64];
	long long v;
	int opt, ret;

	memset(&f, 0, sizeof(f));
	memset(&s, 0, sizeof(s));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (!*optarg || strlen(optarg) > 64)
				return cli_usage(cmd, "--patient takes an MRN");
			f.patient = optarg;
			break;
		case 'u':
			if (!*optarg || strlen(optarg) > CV_USER_NAME_MAX)
				return cli_usage(
					cmd,
					"--user takes a user name or OS login");
			f.actor = optarg;
			break;
		case 'd':
			if (cli_int_opt(cmd, "--document", optarg, 1, INT64_MAX,
					&v))
				return CLI_USAGE;
			f.document_id = v;
			break;
		case 'a':
			if (!*optarg || strlen(optarg) > 64)
				return cli_usage(
					cmd, "--action takes an action name");
			f.action = optarg;
			break;
		case 's':
			if (parse_since(since, sizeof(since), optarg) < 0)
				return cli_usage(
					cmd,
					"--since takes YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC)");
			f.since = since;
			break;
		case 'l':
			if (cli_int_opt(cmd, "--limit", optarg, 1, 1000000, &v))
				return CLI_USAGE;
			f.limit = v;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage(cmd, "audit show takes options only");
	if (c->json)
		s.rows = json_array();
	else
		printf("%-27s %-16s %-10s %-16s %s\n", "TIME (UTC)", "USER",
		       "ROLE", "ACTION", "OBJECT / PATIENT / OUTCOME");
	ret = cv_index_audit_query(c->ix, &f, show_row, &s, &err);
	/* Reading the trail is itself recorded, with what was asked. */
	if (f.actor)
		cv_buf_addf(&detail, "user %s", f.actor);
	if (f.action)
		cv_buf_addf(&detail, "%saction %s", detail.len ? "; " : "",
			    f.action);
	if (f.since)
		cv_buf_addf(&detail, "%ssince %s", detail.len ? "; " : "",
			    f.since);
	memset(&e, 0, sizeof(e));
	e.actor = c->actor;
	e.action = "audit.show";
	e.object_type = "audit_log";
	e.patient = f.patient;
	e.document_id = f.document_id;
	e.detail = detail.len ? detail.buf : NULL;
	e.outcome = ret == 0 ? "ok" : cv_errcode_name(ret);
	{
		struct cv_error aerr = CV_ERROR_INIT;

		if (cv_index_audit_append(c->ix, &e, NULL, &aerr) < 0)
			cv_log_error(&aerr);
	}
	cv_buf_release(&detail);
	if (ret < 0) {
		json_decref(s.rows);
		return cli_fail(&err);
	}
	if (s.rows)
		cli_json_print(s.rows);
	else
		printf("(%" PRId64 " rows)\n", s.n);
	return CLI_OK;
}

static int audit_verify(struct cli *c)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_audit_report rep;
	char *file = cli_checkpoint_file(c), hex[65];
	size_t i;
	int ret;

	memset(&rep, 0, sizeof(rep));
	ret = cli_open_store(c, &err);
	if (ret == 0) {
		struct cv_compliance_ctx cx;

		cli_compliance_ctx(c, &cx);
		ret = cv_compliance_audit_verify(&cx, file, &rep, &err);
	}
	if (ret < 0)
		goto out;
	cv_hex_encode(hex, rep.head_hash, 32);
	if (c->json) {
		json_t *o = json_object(), *a = json_array();

		json_object_set_new(o, "intact",
				    json_boolean(rep.total_problems == 0));
		json_object_set_new(o, "rows", json_integer(rep.rows));
		json_object_set_new(o, "head_seq", json_integer(rep.head_seq));
		json_object_set_new(o, "head_hash", json_string(hex));
		json_object_set_new(o, "checkpoint_file", json_string(file));
		json_object_set_new(
			o, "checkpoints_in_file",
			json_integer((json_int_t)rep.checkpoints_file));
		json_object_set_new(
			o, "checkpoints_in_database",
			json_integer((json_int_t)rep.checkpoints_table));
		json_object_set_new(
			o, "checkpoints_verified",
			json_integer((json_int_t)rep.checkpoints_ok));
		json_object_set_new(
			o, "problem_count",
			json_integer((json_int_t)rep.total_problems));
		for (i = 0; i < rep.nproblems; i++) {
			json_t *p = json_object();

			json_object_set_new(
				p, "seq",
				rep.problems[i].seq
					? json_integer(rep.problems[i].seq)
					: json_null());
			json_object_set_new(
				p, "id",
				rep.problems[i].id
					? json_integer(rep.problems[i].id)
					: json_null());
			json_object_set_new(p, "problem",
					    json_string(rep.problems[i].what));
			json_array_append_new(a, p);
		}
		json_object_set_new(o, "problems", a);
		cli_json_print(o);
	} else if (rep.total_problems == 0) {
		printf("audit trail intact: %" PRId64
		       " rows chained, head seq %" PRId64
		       "; %zu signed checkpoints verified against %s\n",
		       rep.rows, rep.head_seq, rep.checkpoints_ok, file);
	} else {
		for (i = 0; i < rep.nproblems; i++)
			printf("TAMPERED: %s\n", rep.problems[i].what);
		if (rep.total_problems > rep.nproblems)
			printf("... and %zu more problems\n",
			       rep.total_problems - rep.nproblems);
	}
	if (rep.total_problems)
		fprintf(stderr,
			"chartvault: error: the audit trail fails verification: %zu problems (%" PRId64
			" rows checked)\n",
			rep.total_problems, rep.rows);
	ret = 0;
out:
	free(file);
	if (ret < 0) {
		cv_archive_audit_report_release(&rep);
		return cli_fail(&err);
	}
	ret = rep.total_problems ? CLI_INTEGRITY : CLI_OK;
	cv_archive_audit_report_release(&rep);
	return ret;
}

static int audit_checkpoint(struct cli *c)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_audit_cp_opts o;
	struct cv_index_audit_checkpoint cp;
	char *file = cli_checkpoint_file(c), hex[65];
	int written = 0, ret;

	memset(&o, 0, sizeof(o));
	o.force = 1;
	o.every_rows = c->cfg.audit_checkpoint_rows;
	o.every_minutes = c->cfg.audit_checkpoint_minutes;
	ret = cli_open_store(c, &err);
	if (ret == 0)
		ret = cv_archive_audit_checkpoint(c->ix, c->keys, file, &o, &cp,
						  &written, &err);
	if (ret < 0) {
		free(file);
		return cli_fail(&err);
	}
	if (written)
		cv_hex_encode(hex, cp.hash, 32);
	if (c->json) {
		json_t *j = json_object();

		json_object_set_new(j, "written", json_boolean(written));
		json_object_set_new(j, "file", json_string(file));
		if (written) {
			json_object_set_new(j, "seq", json_integer(cp.seq));
			json_object_set_new(j, "hash", json_string(hex));
			json_object_set_new(j, "at", json_string(cp.at));
		}
		cli_json_print(j);
	} else if (written) {
		printf("signed checkpoint at seq %" PRId64
		       " (%s), appended to %s\n",
		       cp.seq, hex, file);
	} else {
		printf("nothing new since the last checkpoint\n");
	}
	free(file);
	return CLI_OK;
}

int cmd_audit(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("audit");

	if (argc < 2)
		return cli_usage(cmd, "audit needs a verb");
	if (!strcmp(argv[1], "show"))
		return audit_show(c, cmd, argc - 1, argv + 1);
	if (!strcmp(argv[1], "verify"))
		return audit_verify(c);
	if (!strcmp(argv[1], "checkpoint"))
		return audit_checkpoint(c);
	return cli_usage(cmd, "unknown verb '%s'", argv[1]);
}
