/*
 * chartvault destroy propose|list|show|approve|cancel|execute: destruction
 * of records in two people's hands. One proposes a batch from the records
 * eligible and unheld; another approves it; execute re-checks every
 * record at that moment (a hold placed after approval wins), destroys it
 * (index rows, then keys, then bytes), resumes after an interruption, and
 * issues the signed certificate (cmd_certificate.c).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/banned.h"

static json_t *batch_json(const struct cv_index_destroy_batch *b)
{
	json_t *o = json_object(), *n = json_object();

	json_object_set_new(o, "id", json_integer(b->id));
	json_object_set_new(o, "state", json_string(b->state));
	json_object_set_new(o, "cutoff", json_string(b->cutoff));
	json_object_set_new(o, "proposed_by", json_string(b->proposed_by));
	json_object_set_new(o, "proposed_at", json_string(b->proposed_at));
	json_object_set_new(o, "approved_by",
			    b->approved_by[0] ? json_string(b->approved_by)
					      : json_null());
	json_object_set_new(o, "approved_at",
			    b->approved_at[0] ? json_string(b->approved_at)
					      : json_null());
	json_object_set_new(o, "executed_by",
			    b->executed_by[0] ? json_string(b->executed_by)
					      : json_null());
	json_object_set_new(o, "executed_at",
			    b->executed_at[0] ? json_string(b->executed_at)
					      : json_null());
	json_object_set_new(n, "records", json_integer(b->items));
	json_object_set_new(n, "pending", json_integer(b->pending));
	json_object_set_new(n, "unlinked", json_integer(b->unlinked));
	json_object_set_new(n, "destroyed", json_integer(b->destroyed));
	json_object_set_new(n, "held", json_integer(b->held));
	json_object_set_new(n, "not_eligible", json_integer(b->not_eligible));
	json_object_set_new(n, "gone", json_integer(b->gone));
	json_object_set_new(o, "counts", n);
	return o;
}

static json_t *item_json(const struct cv_index_destroy_item *it)
{
	json_t *o = json_object();

	json_object_set_new(o, "document", json_integer(it->document_id));
	json_object_set_new(o, "mrn", json_string(it->mrn));
	json_object_set_new(o, "type", json_string(it->doc_type));
	json_object_set_new(o, "dates_from", json_string(it->first_date));
	json_object_set_new(o, "dates_to", json_string(it->last_date));
	json_object_set_new(o, "rule", json_string(it->rule_id));
	json_object_set_new(o, "rule_version", json_integer(it->rule_version));
	json_object_set_new(o, "eligible_on", json_string(it->eligible_on));
	json_object_set_new(o, "state", json_string(it->state));
	json_object_set_new(o, "reason",
			    it->reason[0] ? json_string(it->reason)
					  : json_null());
	return o;
}

static int show_batch(struct cli *c, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_destroy_batch b;
	struct cv_index_destroy_item *items = NULL;
	size_t n = 0, i;

	if (cv_index_destroy_get(c->ix, id, &b, &items, &n, &err) < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *o = batch_json(&b), *a = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(a, item_json(&items[i]));
		json_object_set_new(o, "records", a);
		cli_json_print(o);
	} else {
		printf("destruction batch %" PRId64 ": %s, cutoff %s\n", b.id,
		       b.state, b.cutoff);
		printf("  proposed by %s at %s\n", b.proposed_by,
		       b.proposed_at);
		if (b.approved_by[0])
			printf("  approved by %s at %s\n", b.approved_by,
			       b.approved_at);
		if (b.executed_by[0])
			printf("  executed by %s, started %s%s%s\n",
			       b.executed_by, b.started_at,
			       b.executed_at[0] ? ", done " : "",
			       b.executed_at);
		printf("\n%-8s %-12s %-10s %-23s %-11s %-26s %s\n", "document",
		       "mrn", "type", "dates", "eligible", "rule", "state");
		for (i = 0; i < n; i++) {
			char rule[80], dates[24];

			snprintf(rule, sizeof(rule), "%s@%d", items[i].rule_id,
				 items[i].rule_version);
			snprintf(dates, sizeof(dates), "%s..%.5s",
				 items[i].first_date, items[i].last_date + 5);
			printf("%-8" PRId64
			       " %-12.12s %-10.10s %-23s %-11s %-26.26s %s%s%s\n",
			       items[i].document_id, items[i].mrn,
			       items[i].doc_type, dates, items[i].eligible_on,
			       rule, items[i].state,
			       items[i].reason[0] ? ": " : "", items[i].reason);
		}
	}
	free(items);
	return CLI_OK;
}

static int batch_arg(const struct cv_cmd *cmd, int argc, char **argv,
		     int64_t *id)
{
	long long v;
	int k;

	for (k = 1; k < argc; k++) {
		if (argv[k][0] == '-')
			continue;
		if (cli_int_opt(cmd, "the batch", argv[k], 1, INT64_MAX, &v))
			return CLI_USAGE;
		*id = v;
		return 0;
	}
	return cli_usage(cmd, "'destroy %s' needs a BATCH number", argv[0]);
}

static int propose(struct cli *c, const struct cv_cmd *cmd, int argc,
		   char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	const char *before = NULL;
	int64_t *docs = NULL;
	size_t n = 0, ndocs = 0;
	long long v;
	int64_t id;
	int k, ret;

	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--before") && k + 1 < argc) {
			before = argv[++k];
		} else if (!strcmp(argv[k], "--document") && k + 1 < argc) {
			if (cli_int_opt(cmd, "--document", argv[++k], 1,
					INT64_MAX, &v)) {
				free(docs);
				return CLI_USAGE;
			}
			docs = cv_realloc(docs, (ndocs + 1) * sizeof(*docs));
			docs[ndocs++] = v;
		} else if (strcmp(argv[k], "--json")) {
			free(docs);
			return cli_usage(cmd, "unknown argument '%s'", argv[k]);
		}
	}
	ret = cv_index_destroy_propose_docs(c->ix, before, docs, ndocs,
					    c->actor, &id, &n, &err);
	free(docs);
	if (ret < 0)
		return err.code == CV_EINVAL ? cli_usage(cmd, "%s", err.msg)
					     : cli_fail(&err);
	if (!id) {
		if (c->json) {
			json_t *v = json_object();

			json_object_set_new(v, "id", json_null());
			json_object_set_new(v, "records", json_integer(0));
			cli_json_print(v);
		} else {
			printf("no record is eligible and unheld: nothing proposed\n");
		}
		return CLI_OK;
	}
	if (!c->json)
		printf("proposed destruction batch %" PRId64
		       " with %zu record(s); another person approves it with "
		       "'chartvault destroy approve %" PRId64 "'\n\n",
		       id, n, id);
	return show_batch(c, id);
}

static int list(struct cli *c)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_destroy_batch *b = NULL;
	size_t n = 0, i;

	if (cv_index_destroy_list(c->ix, &b, &n, &err) < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(a, batch_json(&b[i]));
		cli_json_print(a);
	} else {
		printf("%-6s %-10s %-11s %-12s %-12s %7s %9s %5s\n", "batch",
		       "state", "cutoff", "proposed by", "approved by",
		       "records", "destroyed", "held");
		for (i = 0; i < n; i++)
			printf("%-6" PRId64
			       " %-10s %-11s %-12.12s %-12.12s %7" PRId64
			       " %9" PRId64 " %5" PRId64 "\n",
			       b[i].id, b[i].state, b[i].cutoff,
			       b[i].proposed_by,
			       b[i].approved_by[0] ? b[i].approved_by : "-",
			       b[i].items, b[i].destroyed, b[i].held);
	}
	free(b);
	return CLI_OK;
}

static int approve(struct cli *c, const struct cv_cmd *cmd, int argc,
		   char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	int64_t id;
	int ret = batch_arg(cmd, argc, argv, &id);

	if (ret)
		return ret;
	/* NEEDSWORK: the compliance-role check comes with users and roles
	 * (issue 6, part 1); the two-person rule is enforced here now. */
	if (cv_index_destroy_approve(c->ix, id, c->actor, &err) < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *v = json_object();

		json_object_set_new(v, "id", json_integer(id));
		json_object_set_new(v, "approved_by", json_string(c->actor));
		cli_json_print(v);
	} else {
		printf("destruction batch %" PRId64 " approved by %s\n", id,
		       c->actor);
	}
	return CLI_OK;
}

static int cancel(struct cli *c, const struct cv_cmd *cmd, int argc,
		  char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	const char *reason = NULL;
	int64_t id = 0;
	long long v;
	int k;

	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--reason") && k + 1 < argc)
			reason = argv[++k];
		else if (!strcmp(argv[k], "--json"))
			continue;
		else if (cli_int_opt(cmd, "the batch", argv[k], 1, INT64_MAX,
				     &v))
			return CLI_USAGE;
		else
			id = v;
	}
	if (!id || !reason)
		return cli_usage(cmd,
				 "destroy cancel needs BATCH and --reason");
	if (cv_index_destroy_cancel(c->ix, id, c->actor, reason, &err) < 0)
		return cli_fail(&err);
	if (!c->json)
		printf("destruction batch %" PRId64 " cancelled\n", id);
	return CLI_OK;
}

static void progress(void *ctx, int64_t doc_id, const char *state)
{
	struct cli *c = ctx;

	if (!c->json)
		printf("  document %-8" PRId64 " %s\n", doc_id, state);
}

static int execute(struct cli *c, const struct cv_cmd *cmd, int argc,
		   char **argv)
{
	static const struct option longopts[] = {
		{ "facility", required_argument, NULL, 'f' },
		{ "manager", required_argument, NULL, 'm' },
		{ "backups", required_argument, NULL, 'b' },
		{ "backup-retention", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_destroy_report rep;
	struct cv_compliance_cert_opts co = { NULL, NULL, "unknown", 35 };
	char *json_path = NULL, *pdf_path = NULL;
	long long v, days = 35;
	int64_t id;
	int o, ret;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (o) {
		case 'f':
			co.facility = optarg;
			break;
		case 'm':
			co.manager = optarg;
			break;
		case 'b':
			if (strcmp(optarg, "yes") && strcmp(optarg, "no") &&
			    strcmp(optarg, "unknown"))
				return cli_usage(
					cmd, "--backups is yes, no or unknown");
			co.backups = optarg;
			break;
		case 'r':
			if (cli_int_opt(cmd, "--backup-retention", optarg, 0,
					3650, &days))
				return CLI_USAGE;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "bad option for destroy execute");
		}
	}
	co.backup_days = days;
	if (optind + 1 != argc ||
	    cli_int_opt(cmd, "the batch", argv[optind], 1, INT64_MAX, &v))
		return cli_usage(cmd, "destroy execute needs one BATCH number");
	id = v;
	if (!co.facility || !*co.facility || !co.manager || !*co.manager)
		return cli_usage(
			cmd,
			"destroy execute needs --facility and --manager for the certificate");
	/* The key signs the certificate; open it before destroying. */
	ret = cli_open_store(c, &err);
	if (ret == 0) {
		struct cv_compliance_ctx cx;

		if (!c->json)
			printf("executing destruction batch %" PRId64 "\n", id);
		cli_compliance_ctx(c, &cx);
		ret = cv_compliance_destroy_execute(&cx, id, &co, progress, c,
						    &rep, &json_path, &pdf_path,
						    &err);
	}
	if (ret < 0) {
		free(json_path);
		free(pdf_path);
		return err.code == CV_EINVAL ? (cv_log_error(&err), CLI_REFUSED)
					     : cli_fail(&err);
	}
	if (c->json) {
		json_t *r = json_object();

		json_object_set_new(r, "id", json_integer(id));
		json_object_set_new(r, "destroyed",
				    json_integer((json_int_t)rep.destroyed));
		json_object_set_new(r, "held",
				    json_integer((json_int_t)rep.held));
		json_object_set_new(r, "not_eligible",
				    json_integer((json_int_t)rep.not_eligible));
		json_object_set_new(r, "gone",
				    json_integer((json_int_t)rep.gone));
		json_object_set_new(r, "resumed",
				    json_integer((json_int_t)rep.resumed));
		json_object_set_new(
			r, "objects_erased",
			json_integer((json_int_t)rep.objects_erased));
		json_object_set_new(r, "objects_kept",
				    json_integer((json_int_t)rep.objects_kept));
		json_object_set_new(r, "certificate", json_string(json_path));
		json_object_set_new(r, "certificate_pdf",
				    json_string(pdf_path));
		cli_json_print(r);
	} else {
		printf("\n%zu destroyed, %zu held, %zu no longer eligible, "
		       "%zu gone; %zu objects erased, %zu kept (still used by "
		       "another record)\ncertificate: %s\n             %s\n",
		       rep.destroyed, rep.held, rep.not_eligible, rep.gone,
		       rep.objects_erased, rep.objects_kept, json_path,
		       pdf_path);
	}
	free(json_path);
	free(pdf_path);
	return CLI_OK;
}

int cmd_destroy(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("destroy");
	int64_t id;
	int ret;

	if (argc < 2)
		return cli_usage(cmd, "destroy needs a subcommand");
	if (!strcmp(argv[1], "propose"))
		return propose(c, cmd, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return list(c);
	if (!strcmp(argv[1], "show")) {
		ret = batch_arg(cmd, argc - 1, argv + 1, &id);
		return ret ? ret : show_batch(c, id);
	}
	if (!strcmp(argv[1], "approve"))
		return approve(c, cmd, argc - 1, argv + 1);
	if (!strcmp(argv[1], "cancel"))
		return cancel(c, cmd, argc - 1, argv + 1);
	if (!strcmp(argv[1], "execute"))
		return execute(c, cmd, argc - 1, argv + 1);
	return cli_usage(cmd, "unknown destroy subcommand '%s'", argv[1]);
}
