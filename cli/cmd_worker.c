/*
 * chartvault worker: take pages from the work queue that 'chartvault
 * ingest' fills, on this host or another one sharing the database, the
 * archive store and its key file, until stopped. The first SIGTERM or
 * SIGINT lets the pages in hand finish and be recorded; a second one ends
 * the process at once, and those pages are taken over by other workers
 * (their claims die with the connection).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ingest/ingest.h"
#include "common/banned.h"

static volatile int stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void print_json(const struct cv_ingest_report *r, int complete)
{
	json_t *o = json_object(), *counts = json_object();
	json_t *docs = json_array();
	size_t i;

	json_object_set_new(o, "complete", json_boolean(complete));
	json_object_set_new(counts, "pages_recognised",
			    json_integer((json_int_t)r->pages_ocr));
	json_object_set_new(counts, "pages_blank",
			    json_integer((json_int_t)r->pages_blank));
	json_object_set_new(counts, "pages_failed",
			    json_integer((json_int_t)r->pages_failed));
	json_object_set_new(counts, "pages_lost",
			    json_integer((json_int_t)r->pages_lost));
	json_object_set_new(counts, "pages_flagged",
			    json_integer((json_int_t)r->nflagged));
	json_object_set_new(counts, "documents",
			    json_integer((json_int_t)r->ndocs));
	json_object_set_new(counts, "rejects",
			    json_integer((json_int_t)r->nrejects));
	json_object_set_new(o, "counts", counts);
	json_object_set_new(o, "rejects", cli_rejects_json(r));
	for (i = 0; i < r->ndocs; i++)
		json_array_append_new(docs, cli_doc_json(&r->docs[i]));
	json_object_set_new(o, "documents", docs);
	json_object_set_new(o, "elapsed_ms",
			    json_integer((json_int_t)r->elapsed_ms));
	cli_json_print(o);
}

static void print_text(const struct cv_ingest_report *r)
{
	double minutes = (double)r->elapsed_ms / 60000.0;
	size_t i;

	printf("worker: %zu pages recognised (%zu blank), %zu failed",
	       r->pages_ocr, r->pages_blank, r->pages_failed);
	if (r->pages_ocr && minutes > 0)
		printf(", %.1f pages/min", (double)r->pages_ocr / minutes);
	printf("\n  documents made: %zu\n", r->ndocs);
	if (r->pages_lost)
		printf("  pages taken over by another worker: %zu\n",
		       r->pages_lost);
	for (i = 0; i < r->nrejects; i++)
		printf("  rejected: %s page %d: %s\n", r->rejects[i].name,
		       r->rejects[i].page, r->rejects[i].reason);
}

int cmd_worker(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "workers", required_argument, NULL, 'w' },
		{ "lease", required_argument, NULL, 'l' },
		{ "once", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cv_cmd *cmd = cli_find("worker");
	struct cv_ingest_work_opts wo;
	struct cv_ingest_opts defaults = CV_INGEST_OPTS_INIT;
	struct cv_ingest_report rep;
	struct cv_error err = CV_ERROR_INIT;
	struct sigaction sa;
	long long workers = c->cfg.ocr_workers, lease = c->cfg.queue_lease_s;
	int opt, ret, tty = isatty(2) && cv_log_level > CV_LOG_QUIET;

	memset(&wo, 0, sizeof(wo));
	wo.ingest = defaults;
	cli_ingest_opts(c, &wo.ingest);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'w':
			if (cli_int_opt(cmd, "--workers", optarg, 1, 256,
					&workers))
				return CLI_USAGE;
			break;
		case 'l':
			if (cli_int_opt(cmd, "--lease", optarg, 5, 3600,
					&lease))
				return CLI_USAGE;
			break;
		case 'o':
			wo.once = 1;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage(cmd, "worker takes no arguments");
	wo.ingest.workers = (int)workers;
	wo.ingest.lease_s = (int)lease;
	if (tty) {
		wo.ingest.progress = cli_show_progress;
		wo.ingest.progress_ctx = NULL;
	}
	stop = 0;
	wo.stop = &stop;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	/* The second signal takes the default action: the end, now. */
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	cv_log_info("worker started: %d OCR threads, lease %llds",
		    (int)workers > 0 ? (int)workers : 0, lease);

	ret = cv_ingest_work(c->ar, c->ix, &wo, &rep, &err);
	if (tty)
		fputs("\r\033[K", stderr);
	cv_index_audit(c->ix, c->actor, "queue.work", "worker", "", NULL,
		       ret == 0 ? "ok" : cv_errcode_name(ret), NULL);
	if (c->json)
		print_json(&rep, ret == 0);
	else
		print_text(&rep);
	if (ret < 0) {
		if (!err.hint[0])
			cv_error_hint(
				&err,
				"start the worker again: pages it held are taken over by other workers");
		ret = cli_fail(&err);
	} else {
		ret = rep.nrejects ? CLI_REJECTS : CLI_OK;
	}
	cv_ingest_report_release(&rep);
	return ret;
}
