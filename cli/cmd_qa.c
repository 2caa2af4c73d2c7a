/*
 * chartvault qa list|show|accept|rescan|replace: the QA queue of pages
 * with image-quality flags. A clerk looks at each flagged page, accepts
 * it as it is or marks it for rescan, and feeds the rescanned sheet in
 * with 'replace', which puts it in the old page's place and keeps the old
 * page as history. Every decision names who made it and is audited.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ingest/ingest.h"
#include "common/banned.h"

static json_t *page_json(const struct cv_index_qa_page *q)
{
	json_t *o = json_object();

	json_object_set_new(o, "page", json_integer(q->page_id));
	json_object_set_new(o, "batch", json_string(q->batch));
	json_object_set_new(o, "batch_id", json_integer(q->batch_id));
	json_object_set_new(o, "file", json_string(q->file_name));
	json_object_set_new(o, "page_no", json_integer(q->page_no));
	json_object_set_new(o, "kind", json_string(q->kind));
	json_object_set_new(o, "page_state", json_string(q->page_state));
	json_object_set_new(o, "blank", json_boolean(q->blank));
	json_object_set_new(o, "document",
			    q->document_id ? json_integer(q->document_id)
					   : json_null());
	json_object_set_new(
		o, "seq", q->document_id ? json_integer(q->seq) : json_null());
	json_object_set_new(o, "flags", json_string(q->flags));
	json_object_set_new(o, "qa_state", json_string(q->qa_state));
	json_object_set_new(o, "qa_note",
			    q->qa_note[0] ? json_string(q->qa_note)
					  : json_null());
	json_object_set_new(o, "qa_by",
			    q->qa_by[0] ? json_string(q->qa_by) : json_null());
	json_object_set_new(o, "qa_at",
			    q->qa_at[0] ? json_string(q->qa_at) : json_null());
	json_object_set_new(o, "ocr_confidence",
			    q->ocr_confidence >= 0
				    ? json_real(q->ocr_confidence)
				    : json_null());
	json_object_set_new(o, "skew_deg", json_real(q->skew_deg));
	json_object_set_new(o, "dpi",
			    q->dpi ? json_integer(q->dpi) : json_null());
	json_object_set_new(o, "cleanup", json_string(q->cleanup));
	json_object_set_new(o, "superseded_by",
			    q->superseded_by ? json_integer(q->superseded_by)
					     : json_null());
	json_object_set_new(o, "replaces",
			    q->replaces ? json_integer(q->replaces)
					: json_null());
	return o;
}

/* Control characters in a note would garble every listing that shows it. */
static int valid_note(const char *s)
{
	if (strlen(s) > 500)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int list(struct cli *c, const char *batch, int all)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_qa_page *q = NULL;
	size_t n = 0, i;

	if (cv_index_qa_list(c->ix, batch, all, &q, &n, &err) < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(a, page_json(&q[i]));
		cli_json_print(a);
	} else if (n == 0) {
		printf("no pages waiting for QA\n");
	} else {
		printf("%-7s %-20s %-28s %4s %7s %-9s %s\n", "page", "batch",
		       "file", "no", "doc", "state", "flags");
		for (i = 0; i < n; i++) {
			char doc[32] = "-";

			if (q[i].document_id)
				snprintf(doc, sizeof(doc), "%" PRId64 ".%d",
					 q[i].document_id, q[i].seq);
			printf("%-7" PRId64
			       " %-20.20s %-28.28s %4d %7s %-9s %s\n",
			       q[i].page_id, q[i].batch, q[i].file_name,
			       q[i].page_no, doc, q[i].qa_state, q[i].flags);
		}
	}
	free(q);
	return CLI_OK;
}

static int show(struct cli *c, int64_t page_id, const char *arg)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_qa_page q;
	int ret = cv_index_qa_get(c->ix, page_id, &q, &err);

	cv_index_audit(c->ix, c->actor, "page.view", "page", arg, "qa",
		       ret == 0 ? "ok" : cv_errcode_name(ret), NULL);
	if (ret < 0)
		return cli_fail(&err);
	if (c->json) {
		cli_json_print(page_json(&q));
		return CLI_OK;
	}
	printf("page %" PRId64 ": %s page %d, batch %s (id %" PRId64 ")\n",
	       q.page_id, q.file_name, q.page_no, q.batch, q.batch_id);
	if (q.document_id)
		printf("  document:       %" PRId64 ", page %d of it\n",
		       q.document_id, q.seq);
	else
		printf("  document:       none\n");
	printf("  kind:           %s%s (%s)\n", q.kind,
	       q.blank ? ", blank" : "", q.page_state);
	printf("  flags:          %s\n", q.flags[0] ? q.flags : "none");
	printf("  QA:             %s\n", q.qa_state[0] ? q.qa_state : "-");
	if (q.qa_by[0])
		printf("  decided by:     %s at %s\n", q.qa_by, q.qa_at);
	if (q.qa_note[0])
		printf("  note:           %s\n", q.qa_note);
	if (q.ocr_confidence >= 0)
		printf("  OCR confidence: %.0f\n", q.ocr_confidence);
	if (q.dpi)
		printf("  resolution:     %d dpi\n", q.dpi);
	printf("  skew corrected: %.2f degrees\n", q.skew_deg);
	printf("  cleanup:        %s\n", q.cleanup[0] ? q.cleanup : "none");
	if (q.superseded_by)
		printf("  replaced by:    page %" PRId64 "\n", q.superseded_by);
	if (q.replaces)
		printf("  replaces:       page %" PRId64 "\n", q.replaces);
	return CLI_OK;
}

static int decide(struct cli *c, int64_t page_id, const char *decision,
		  const char *note)
{
	struct cv_error err = CV_ERROR_INIT;
	int ret;

	ret = cv_index_qa_decide(c->ix, page_id, decision, note, c->actor,
				 &err);
	if (ret < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "page", json_integer(page_id));
		json_object_set_new(o, "qa_state", json_string(decision));
		json_object_set_new(o, "qa_by", json_string(c->actor));
		cli_json_print(o);
	} else {
		printf("page %" PRId64 ": %s\n", page_id,
		       !strcmp(decision, "accepted") ? "accepted"
						     : "marked for rescan");
	}
	return CLI_OK;
}

static int replace(struct cli *c, int64_t page_id, const char *file,
		   const char *note)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ingest_opts o = CV_INGEST_OPTS_INIT;
	struct cv_ingest_report rep;
	struct cv_index_qa_page q;
	int64_t new_page = 0, doc = 0;
	char id[24];
	int ret;

	snprintf(id, sizeof(id), "%" PRId64, page_id);
	ret = cli_open_store(c, &err);
	if (ret < 0)
		return cli_fail(&err);
	cli_ingest_opts(c, &o);
	o.operator_ = c->actor;
	ret = cv_ingest_replace_page(c->ar, c->ix, file, &o, page_id, note,
				     c->actor, &new_page, &doc, &rep, &err);
	if (ret < 0) {
		cv_index_audit(c->ix, c->actor, "page.qa.replace", "page", id,
			       NULL, cv_errcode_name(ret), NULL);
		cv_ingest_report_release(&rep);
		return cli_fail(&err);
	}
	ret = cv_index_qa_get(c->ix, new_page, &q, &err);
	cv_ingest_report_release(&rep);
	if (ret < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *j = page_json(&q);

		json_object_set_new(j, "replaced", json_integer(page_id));
		cli_json_print(j);
	} else {
		printf("page %" PRId64 " replaced by page %" PRId64
		       " (document %" PRId64 ", page %d of it)\n",
		       page_id, new_page, doc, q.seq);
		if (q.flags[0])
			printf("  the rescan is flagged too: %s\n", q.flags);
	}
	return CLI_OK;
}

int cmd_qa(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "batch", required_argument, NULL, 'b' },
		{ "all", no_argument, NULL, 'a' },
		{ "note", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cv_cmd *cmd = cli_find("qa");
	const char *batch = NULL, *note = NULL, *verb;
	long long page = 0;
	int opt, all = 0, nargs;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			batch = optarg;
			break;
		case 'a':
			all = 1;
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
	nargs = argc - optind;
	if (nargs < 1)
		return cli_usage(
			cmd, "qa takes list, show, accept, rescan or replace");
	verb = argv[optind];
	if (note && !valid_note(note))
		return cli_usage(
			cmd, "--note takes one line of at most 500 characters");
	if (!strcmp(verb, "list")) {
		if (nargs != 1 || note)
			return cli_usage(
				cmd, "qa list takes only --batch and --all");
		return list(c, batch, all);
	}
	if (batch || all)
		return cli_usage(cmd, "--batch and --all go with qa list");
	if (nargs < 2 ||
	    cli_int_opt(cmd, "PAGE", argv[optind + 1], 1, INT64_MAX, &page))
		return nargs < 2 ? cli_usage(cmd, "qa %s needs a page id", verb)
				 : CLI_USAGE;
	if (!strcmp(verb, "replace")) {
		if (nargs != 3)
			return cli_usage(
				cmd, "qa replace takes a page id and a file");
		return replace(c, page, argv[optind + 2], note);
	}
	if (nargs != 2)
		return cli_usage(cmd, "too many arguments");
	if (!strcmp(verb, "show")) {
		if (note)
			return cli_usage(
				cmd,
				"--note goes with accept, rescan and replace");
		return show(c, page, argv[optind + 1]);
	}
	if (!strcmp(verb, "accept"))
		return decide(c, page, "accepted", note);
	if (!strcmp(verb, "rescan"))
		return decide(c, page, "rescan", note);
	return cli_usage(cmd, "'%s' is not a qa verb", verb);
}
