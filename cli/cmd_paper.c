/*
 * Paper originals: "batch signoff" (QA accepts a scan batch, which starts
 * the waiting period) and "paper-destroy" (the paper goes, with a signed
 * certificate). The sign-off is a verb of "batch" (cmd_batch).
 *
 * paper-destroy refuses (exit 6, saying why) unless every one of these
 * holds: the batch is signed off and retention.paper_wait_days have
 * passed; its pages reconcile; no exception is open; no document of it is
 * under a legal hold; every object of it was proven intact by 'chartvault
 * verify' and none failed its last check; and the boxes, folders and
 * sheets counted at the shredder match the batch's records.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/banned.h"

int cmd_batch_signoff(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("batch");
	struct cv_error err = CV_ERROR_INIT;
	const char *batch = NULL, *note = NULL;
	int k;

	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--note") && k + 1 < argc)
			note = argv[++k];
		else if (!strcmp(argv[k], "--json"))
			continue;
		else if (!batch)
			batch = argv[k];
		else
			return cli_usage(cmd, "unknown argument '%s'", argv[k]);
	}
	if (!batch)
		return cli_usage(cmd, "batch signoff needs a batch NAME or ID");
	if (cv_index_batch_signoff(c->ix, batch, note, c->actor, &err) < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *v = json_object();

		json_object_set_new(v, "batch", json_string(batch));
		json_object_set_new(v, "signed_off_by", json_string(c->actor));
		cli_json_print(v);
	} else {
		printf("batch '%s' signed off by %s; its paper may be destroyed "
		       "in %lld day(s)\n",
		       batch, c->actor, c->cfg.retention_paper_wait_days);
	}
	return CLI_OK;
}

/* Each reason to keep the paper, or 0 when there is none. */
static int refuse(const struct cli *c, const struct cv_index_paper_counts *pc,
		  const struct cli_paper_opts *o, struct cv_error *err)
{
	if (pc->destroyed)
		return cv_error_set(
			err, CV_EEXISTS,
			"the paper of batch '%s' was recorded destroyed already",
			pc->name);
	if (!pc->signed_by[0])
		return cv_error_set(
			err, CV_EHOLD,
			"batch '%s' is not signed off: its QA comes first ('chartvault batch signoff')",
			pc->name);
	if (pc->days_since_signoff < c->cfg.retention_paper_wait_days)
		return cv_error_set(
			err, CV_EHOLD,
			"batch '%s' was signed off %" PRId64
			" day(s) ago; the waiting period is %lld day(s)",
			pc->name, pc->days_since_signoff,
			c->cfg.retention_paper_wait_days);
	if (!pc->reconciled)
		return cv_error_set(
			err, CV_EHOLD,
			"batch '%s' does not reconcile: pages wait for OCR or a document",
			pc->name);
	if (pc->open_exceptions)
		return cv_error_set(err, CV_EHOLD,
				    "batch '%s' has %" PRId64
				    " open exception(s)",
				    pc->name, pc->open_exceptions);
	if (pc->held_documents)
		return cv_error_set(err, CV_EHOLD,
				    "batch '%s' has %" PRId64
				    " document(s) under a legal hold",
				    pc->name, pc->held_documents);
	if (pc->failed_objects)
		return cv_error_set(err, CV_EHOLD,
				    "batch '%s' has %" PRId64
				    " object(s) that failed verification",
				    pc->name, pc->failed_objects);
	if (pc->unverified_objects) {
		cv_error_set(err, CV_EHOLD,
			     "batch '%s' has %" PRId64
			     " object(s) never proven intact",
			     pc->name, pc->unverified_objects);
		cv_error_hint(err, "run 'chartvault verify' first");
		return CV_EHOLD;
	}
	if (o->boxes != pc->boxes || o->folders != pc->folders ||
	    o->sheets != pc->sheets_scanned)
		return cv_error_set(
			err, CV_EHOLD,
			"the counts do not reconcile with batch '%s': boxes %" PRId64
			" counted, %" PRId64 " recorded; folders %" PRId64
			" counted, %" PRId64 " recorded; sheets %" PRId64
			" counted, %" PRId64 " recorded",
			pc->name, o->boxes, pc->boxes, o->folders, pc->folders,
			o->sheets, pc->sheets_scanned);
	return 0;
}

int cmd_paper_destroy(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "method", required_argument, NULL, 'm' },
		{ "vendor", required_argument, NULL, 'v' },
		{ "witness", required_argument, NULL, 'w' },
		{ "boxes", required_argument, NULL, 'b' },
		{ "folders", required_argument, NULL, 'f' },
		{ "sheets", required_argument, NULL, 's' },
		{ "facility", required_argument, NULL, 'F' },
		{ "manager", required_argument, NULL, 'M' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cv_cmd *cmd = cli_find("paper-destroy");
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_paper_counts pc;
	struct cli_paper_opts o;
	char *json_path = NULL, *pdf_path = NULL;
	long long v;
	int opt, counts = 0, ret;

	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			o.method = optarg;
			break;
		case 'v':
			o.vendor = optarg;
			break;
		case 'w':
			o.witness = optarg;
			break;
		case 'b':
		case 'f':
		case 's':
			if (cli_int_opt(cmd, "a count", optarg, 0, INT64_MAX,
					&v))
				return CLI_USAGE;
			if (opt == 'b')
				o.boxes = v;
			else if (opt == 'f')
				o.folders = v;
			else
				o.sheets = v;
			counts++;
			break;
		case 'F':
			o.facility = optarg;
			break;
		case 'M':
			o.manager = optarg;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "bad option for paper-destroy");
		}
	}
	if (optind + 1 != argc || !o.method || !*o.method || !o.vendor ||
	    !*o.vendor || !o.witness || !*o.witness || counts != 3 ||
	    !o.facility || !o.manager)
		return cli_usage(
			cmd,
			"paper-destroy needs BATCH, --method, --vendor, --witness, --boxes, --folders, --sheets, --facility and --manager");
	o.recorded_by = c->actor;
	o.wait_days = c->cfg.retention_paper_wait_days;
	ret = cv_index_paper_counts(c->ix, argv[optind], &pc, &err);
	if (ret == 0)
		ret = refuse(c, &pc, &o, &err);
	if (ret == 0)
		ret = cli_open_store(c, &err);
	if (ret == 0)
		ret = cli_paper_certificate_issue(c, &pc, &o, &json_path,
						  &pdf_path, &err);
	if (ret < 0) {
		char bid[24];

		snprintf(bid, sizeof(bid), "%" PRId64, pc.batch_id);
		/* A refusal is on the record too (no patient data in it). */
		if (pc.batch_id)
			cv_index_audit(c->ix, c->actor, "paper.destroy",
				       "batch", bid, err.msg, "refused", NULL);
		free(json_path);
		free(pdf_path);
		return cli_fail(&err);
	}
	if (c->json) {
		json_t *r = json_object();

		json_object_set_new(r, "batch", json_integer(pc.batch_id));
		json_object_set_new(r, "certificate", json_string(json_path));
		json_object_set_new(r, "certificate_pdf",
				    json_string(pdf_path));
		cli_json_print(r);
	} else {
		printf("the paper of batch '%s' is recorded destroyed\n"
		       "certificate: %s\n             %s\n",
		       pc.name, json_path, pdf_path);
	}
	free(json_path);
	free(pdf_path);
	return CLI_OK;
}
