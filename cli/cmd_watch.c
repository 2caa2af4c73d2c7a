/*
 * chartvault watch: the hot-folder daemon. Prints one line per file it
 * settles, so a log or a terminal shows the scanning room's traffic;
 * stops cleanly on SIGTERM or SIGINT after the file in hand.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ingest/ingest.h"
#include "common/banned.h"

static volatile int stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void print_outcome(void *ctx, const char *name, const char *outcome,
			  const char *reason)
{
	struct cli *c = ctx;

	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "file", json_string(name));
		json_object_set_new(o, "outcome", json_string(outcome));
		if (reason)
			json_object_set_new(o, "reason", json_string(reason));
		json_dumpf(o, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
		fputc('\n', stdout);
		json_decref(o);
	} else if (reason) {
		printf("%s: %s: %s\n", outcome, name, reason);
	} else {
		printf("%s: %s\n", outcome, name);
	}
	fflush(stdout);
	/* A daemon runs for days: sign the audit trail as it grows (a batch
	 * is committed when its files are reported). */
	if (strcmp(outcome, "retry") != 0)
		cli_audit_checkpoint_if_due(c);
}

int cmd_watch(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "settle", required_argument, NULL, 's' },
		{ "poll", required_argument, NULL, 'p' },
		{ "poll-only", no_argument, NULL, 'P' },
		{ "once", no_argument, NULL, '1' },
		{ "workers", required_argument, NULL, 'w' },
		{ "operator", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cv_cmd *cmd = cli_find("watch");
	struct cv_ingest_watch_opts wo;
	struct cv_ingest_opts io = CV_INGEST_OPTS_INIT;
	struct cv_error err = CV_ERROR_INIT;
	struct sigaction sa;
	long long settle = 5, poll_s = 2, workers = c->cfg.ocr_workers;
	char *dir;
	int opt, ret;

	memset(&wo, 0, sizeof(wo));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (cli_int_opt(cmd, "--settle", optarg, 0, 3600,
					&settle))
				return CLI_USAGE;
			break;
		case 'p':
			if (cli_int_opt(cmd, "--poll", optarg, 1, 3600,
					&poll_s))
				return CLI_USAGE;
			break;
		case 'P':
			wo.poll_only = 1;
			break;
		case '1':
			wo.once = 1;
			break;
		case 'w':
			if (cli_int_opt(cmd, "--workers", optarg, 1, 256,
					&workers))
				return CLI_USAGE;
			break;
		case 'o':
			io.operator_ = optarg;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "watch takes one folder");
	dir = cv_path_absolute(argv[optind]);
	cli_ingest_opts(c, &io);
	io.workers = (int)workers;
	wo.dir = dir;
	wo.settle_s = (int)settle;
	wo.poll_s = (int)poll_s;
	wo.stop = &stop;
	wo.ingest = io;
	wo.report = print_outcome;
	wo.report_ctx = c;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	cv_log_info("watching %s", dir);
	ret = cv_ingest_watch(c->ar, c->ix, &wo, &err);
	cv_index_audit(c->ix, c->actor, "hotfolder.watch", "folder", dir, NULL,
		       ret == 0 ? "ok" : cv_errcode_name(ret), NULL);
	free(dir);
	return ret < 0 ? cli_fail(&err) : CLI_OK;
}
