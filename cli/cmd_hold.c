/*
 * chartvault hold add|list|release: legal holds. A record under an active
 * hold is never eligible for destruction; a hold placed after a batch's
 * approval still wins for every record not yet destroyed.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/banned.h"

static json_t *hold_json(const struct cv_index_hold *h)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(h->id));
	json_object_set_new(o, "scope", json_string(h->scope));
	json_object_set_new(o, "target", json_string(h->target));
	json_object_set_new(o, "reason", json_string(h->reason));
	json_object_set_new(o, "matter", json_string(h->matter));
	json_object_set_new(o, "placed_by", json_string(h->placed_by));
	json_object_set_new(o, "placed_at", json_string(h->placed_at));
	json_object_set_new(o, "active", json_boolean(!h->released_at[0]));
	json_object_set_new(o, "released_by",
			    h->released_by[0] ? json_string(h->released_by)
					      : json_null());
	json_object_set_new(o, "released_at",
			    h->released_at[0] ? json_string(h->released_at)
					      : json_null());
	json_object_set_new(o, "release_reason",
			    h->release_reason[0]
				    ? json_string(h->release_reason)
				    : json_null());
	json_object_set_new(o, "documents", json_integer(h->documents));
	return o;
}

static int add(struct cli *c, const struct cv_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "patient", required_argument, NULL, 'p' },
		{ "document", required_argument, NULL, 'd' },
		{ "batch", required_argument, NULL, 'b' },
		{ "query", required_argument, NULL, 'q' },
		{ "reason", required_argument, NULL, 'r' },
		{ "matter", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct cv_error err = CV_ERROR_INIT;
	const char *scope = NULL, *target = NULL, *reason = NULL,
		   *matter = NULL;
	int64_t id, covered, too_late;
	int o, targets = 0;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (o) {
		case 'p':
		case 'd':
		case 'b':
		case 'q':
			scope = o == 'p'   ? "patient"
				: o == 'd' ? "document"
				: o == 'b' ? "batch"
					   : "query";
			target = optarg;
			targets++;
			break;
		case 'r':
			reason = optarg;
			break;
		case 'm':
			matter = optarg;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "bad option for hold add");
		}
	}
	if (targets != 1 || !reason || !matter || optind != argc)
		return cli_usage(
			cmd,
			"hold add needs one of --patient, --document, --batch, --query, and --reason and --matter");
	if (cv_index_hold_add(c->ix, scope, target, reason, matter, c->actor,
			      &id, &covered, &too_late, &err) < 0)
		return err.code == CV_EINVAL ? cli_usage(cmd, "%s", err.msg)
					     : cli_fail(&err);
	if (too_late)
		fprintf(stderr,
			"chartvault: warning: %" PRId64
			" record(s) of this target were destroyed, or committed to destruction, before the hold\n",
			too_late);
	if (c->json) {
		json_t *v = json_object();

		json_object_set_new(v, "id", json_integer(id));
		json_object_set_new(v, "scope", json_string(scope));
		json_object_set_new(v, "documents", json_integer(covered));
		json_object_set_new(v, "already_destroyed",
				    json_integer(too_late));
		cli_json_print(v);
	} else {
		printf("hold %" PRId64 " placed on %s; it covers %" PRId64
		       " document(s) now, and any the target matches later\n",
		       id, scope, covered);
	}
	return CLI_OK;
}

static int list(struct cli *c, int argc, char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_hold *h = NULL;
	size_t n = 0, i;
	int all = 0, k;

	for (k = 1; k < argc; k++)
		if (!strcmp(argv[k], "--all"))
			all = 1;
	if (cv_index_hold_list(c->ix, all, &h, &n, &err) < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(a, hold_json(&h[i]));
		cli_json_print(a);
	} else {
		printf("%-5s %-9s %-20s %-22s %5s %-10s %s\n", "hold", "scope",
		       "target", "matter", "docs", "placed by", "status");
		for (i = 0; i < n; i++)
			printf("%-5" PRId64 " %-9s %-20.20s %-22.22s %5" PRId64
			       " %-10.10s %s\n",
			       h[i].id, h[i].scope, h[i].target, h[i].matter,
			       h[i].documents, h[i].placed_by,
			       h[i].released_at[0] ? "released" : "active");
	}
	free(h);
	return CLI_OK;
}

static int release(struct cli *c, const struct cv_cmd *cmd, int argc,
		   char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	const char *reason = NULL, *idtext = NULL;
	long long id;
	int k;

	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--reason") && k + 1 < argc)
			reason = argv[++k];
		else if (!strcmp(argv[k], "--json"))
			continue;
		else if (!idtext)
			idtext = argv[k];
		else
			return cli_usage(cmd, "unknown argument '%s'", argv[k]);
	}
	if (!idtext || !reason)
		return cli_usage(cmd, "hold release needs ID and --reason");
	if (cli_int_opt(cmd, "the hold id", idtext, 1, INT64_MAX, &id))
		return CLI_USAGE;
	if (cv_index_hold_release(c->ix, id, reason, c->actor, &err) < 0)
		return err.code == CV_EINVAL ? cli_usage(cmd, "%s", err.msg)
					     : cli_fail(&err);
	if (c->json) {
		json_t *v = json_object();

		json_object_set_new(v, "id", json_integer(id));
		json_object_set_new(v, "released", json_true());
		cli_json_print(v);
	} else {
		printf("hold %lld released\n", id);
	}
	return CLI_OK;
}

int cmd_hold(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("hold");

	if (argc < 2)
		return cli_usage(cmd, "hold needs a subcommand");
	if (!strcmp(argv[1], "add"))
		return add(c, cmd, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return list(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "release"))
		return release(c, cmd, argc - 1, argv + 1);
	return cli_usage(cmd, "unknown hold subcommand '%s'", argv[1]);
}
