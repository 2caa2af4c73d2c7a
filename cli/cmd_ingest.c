/*
 * chartvault ingest: run the pipeline over files and folders and report
 * the batch: counts, rejects with their reasons, and the documents made.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ingest/ingest.h"
#include "common/banned.h"

void cli_show_progress(void *ctx, const struct cv_ingest_progress *p)
{
	static uint64_t last_ms;
	double minutes = (double)p->elapsed_ms / 60000.0;
	/* Pages an interrupted run did count towards the total, not the
	 * rate: they took no time in this one. */
	double rate = minutes > 0 ? (double)(p->pages_done - p->pages_earlier) /
					    minutes
				  : 0;
	long eta = -1;

	(void)ctx;
	if (p->elapsed_ms - last_ms < 250 && p->pages_done < p->pages_total)
		return;
	last_ms = p->elapsed_ms;
	if (rate > 0 && p->pages_total >= p->pages_done)
		eta = (long)((double)(p->pages_total - p->pages_done) / rate *
			     60.0);
	fprintf(stderr, "\r\033[K  pages %zu/%zu  %.1f pages/min",
		p->pages_done, p->pages_total, rate);
	if (eta >= 0)
		fprintf(stderr, "  ETA %ldm%02lds", eta / 60, eta % 60);
	fprintf(stderr, "  rejects %zu", p->rejects);
	fflush(stderr);
}

json_t *cli_doc_json(const struct cv_ingest_doc *d)
{
	json_t *o = json_object(), *pages = json_array();
	size_t i;

	json_object_set_new(o, "id", json_integer(d->doc.id));
	json_object_set_new(o, "type", json_string(d->doc.doc_type));
	json_object_set_new(
		o, "type_name",
		json_string(cv_ingest_doc_type_name(d->doc.doc_type)));
	json_object_set_new(o, "type_source",
			    d->doc.type_source[0]
				    ? json_string(d->doc.type_source)
				    : json_null());
	json_object_set_new(o, "type_confidence",
			    d->doc.type_confidence > 0
				    ? json_real(d->doc.type_confidence)
				    : json_null());
	json_object_set_new(o, "mrn",
			    d->doc.mrn[0] ? json_string(d->doc.mrn)
					  : json_null());
	json_object_set_new(o, "patient_name",
			    d->doc.patient_name[0]
				    ? json_string(d->doc.patient_name)
				    : json_null());
	json_object_set_new(o, "dob",
			    d->doc.dob[0] ? json_string(d->doc.dob)
					  : json_null());
	json_object_set_new(o, "service_date",
			    d->doc.service_date[0]
				    ? json_string(d->doc.service_date)
				    : json_null());
	json_object_set_new(o, "identity_source",
			    d->doc.identity_source[0]
				    ? json_string(d->doc.identity_source)
				    : json_null());
	for (i = 0; i < d->npages; i++) {
		json_t *p = json_object();

		json_object_set_new(p, "file", json_string(d->pages[i].file));
		json_object_set_new(p, "page", json_integer(d->pages[i].page));
		json_array_append_new(pages, p);
	}
	json_object_set_new(o, "pages", pages);
	return o;
}

json_t *cli_rejects_json(const struct cv_ingest_report *r)
{
	json_t *rejects = json_array();
	size_t i;

	for (i = 0; i < r->nrejects; i++) {
		json_t *f = json_object();

		json_object_set_new(f, "file", json_string(r->rejects[i].name));
		json_object_set_new(f, "page",
				    r->rejects[i].page
					    ? json_integer(r->rejects[i].page)
					    : json_null());
		json_object_set_new(f, "reason",
				    json_string(r->rejects[i].reason));
		json_array_append_new(rejects, f);
	}
	return rejects;
}

static void print_json(const struct cv_ingest_report *r, int complete)
{
	json_t *o = json_object(), *counts = json_object();
	json_t *files = json_array(), *flagged = json_array(),
	       *docs = json_array();
	size_t i;

	json_object_set_new(o, "batch", json_string(r->batch));
	json_object_set_new(o, "batch_id", json_integer(r->batch_id));
	json_object_set_new(o, "complete", json_boolean(complete));
	json_object_set_new(counts, "files_seen",
			    json_integer((json_int_t)r->files_seen));
	json_object_set_new(counts, "files_new",
			    json_integer((json_int_t)r->files_new));
	json_object_set_new(counts, "files_already_archived",
			    json_integer((json_int_t)r->files_already));
	json_object_set_new(counts, "pages",
			    json_integer((json_int_t)r->pages_total));
	json_object_set_new(counts, "pages_recognised",
			    json_integer((json_int_t)r->pages_ocr));
	json_object_set_new(counts, "pages_blank",
			    json_integer((json_int_t)r->pages_blank));
	json_object_set_new(counts, "pages_failed",
			    json_integer((json_int_t)r->pages_failed));
	json_object_set_new(counts, "pages_flagged",
			    json_integer((json_int_t)r->nflagged));
	json_object_set_new(counts, "documents",
			    json_integer((json_int_t)r->ndocs));
	json_object_set_new(counts, "rejects",
			    json_integer((json_int_t)r->nrejects));
	json_object_set_new(counts, "pdfs_made",
			    json_integer((json_int_t)r->docs_rendered));
	json_object_set_new(counts, "pdfs_not_made",
			    json_integer((json_int_t)r->docs_unrendered));
	json_object_set_new(counts, "documents_queued",
			    json_integer((json_int_t)r->docs_queued));
	json_object_set_new(o, "counts", counts);
	for (i = 0; i < r->nfiles; i++) {
		json_t *f = json_object();

		json_object_set_new(f, "file", json_string(r->files[i].name));
		json_object_set_new(f, "id", json_string(r->files[i].id));
		json_object_set_new(f, "pages",
				    json_integer(r->files[i].pages));
		json_object_set_new(f, "status",
				    json_string(r->files[i].already
							? "already archived"
							: "archived"));
		json_array_append_new(files, f);
	}
	json_object_set_new(o, "files", files);
	json_object_set_new(o, "rejects", cli_rejects_json(r));
	for (i = 0; i < r->nflagged; i++) {
		json_t *f = json_object();

		json_object_set_new(f, "file", json_string(r->flagged[i].name));
		json_object_set_new(f, "page",
				    json_integer(r->flagged[i].page));
		json_object_set_new(f, "flags",
				    json_string(r->flagged[i].flags));
		json_array_append_new(flagged, f);
	}
	json_object_set_new(o, "flagged", flagged);
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

	printf("batch %s (id %lld)\n", r->batch, (long long)r->batch_id);
	printf("  files:     %zu seen, %zu archived, %zu already archived\n",
	       r->files_seen, r->files_new, r->files_already);
	printf("  pages:     %zu queued, %zu recognised (%zu blank), %zu failed",
	       r->pages_total, r->pages_ocr, r->pages_blank, r->pages_failed);
	if (r->pages_ocr && minutes > 0)
		printf(", %.1f pages/min", (double)r->pages_ocr / minutes);
	printf("\n  flagged:   %zu page%s for QA\n", r->nflagged,
	       r->nflagged == 1 ? "" : "s");
	printf("  documents: %zu\n  rejects:   %zu\n", r->ndocs, r->nrejects);
	printf("  PDFs:      %zu made", r->docs_rendered);
	if (r->docs_unrendered)
		printf(", %zu could not be made (export tries again)",
		       r->docs_unrendered);
	putchar('\n');
	if (r->docs_queued)
		printf("  queued:    %zu document%s held for records staff (chartvault queue list)\n",
		       r->docs_queued, r->docs_queued == 1 ? "" : "s");
	for (i = 0; i < r->nflagged; i++)
		printf("  flagged: %s page %d: %s\n", r->flagged[i].name,
		       r->flagged[i].page, r->flagged[i].flags);
	for (i = 0; i < r->nfiles; i++)
		if (r->files[i].already)
			printf("  already archived: %s\n", r->files[i].name);
	for (i = 0; i < r->nrejects; i++) {
		if (r->rejects[i].page)
			printf("  rejected: %s page %d: %s\n",
			       r->rejects[i].name, r->rejects[i].page,
			       r->rejects[i].reason);
		else
			printf("  rejected: %s: %s\n", r->rejects[i].name,
			       r->rejects[i].reason);
	}
	for (i = 0; i < r->ndocs; i++) {
		const struct cv_ingest_doc *d = &r->docs[i];

		printf("  document %lld: %s, MRN %s, %zu page%s from %s p%d\n",
		       (long long)d->doc.id,
		       cv_ingest_doc_type_name(d->doc.doc_type),
		       d->doc.mrn[0] ? d->doc.mrn : "unknown", d->npages,
		       d->npages == 1 ? "" : "s", d->pages[0].file,
		       d->pages[0].page);
	}
}

void cli_ingest_opts(const struct cli *c, struct cv_ingest_opts *o)
{
	o->workers = (int)c->cfg.ocr_workers;
	o->max_file_bytes = (uint64_t)c->cfg.ingest_max_file_mb << 20;
	o->max_pixels = (uint64_t)c->cfg.ingest_max_megapixels * 1000000u;
	o->language = c->cfg.ocr_language;
	o->tessdata = c->cfg.ocr_tessdata[0] ? c->cfg.ocr_tessdata : NULL;
	o->osd_below_confidence = (int)c->cfg.ocr_osd_below_confidence;
	o->min_confidence = (int)c->cfg.ocr_min_confidence;
	o->min_type_confidence = (double)c->cfg.classify_min_confidence / 100;
	o->lease_s = (int)c->cfg.queue_lease_s;
	o->max_attempts = (int)c->cfg.queue_max_attempts;
	o->mrn_pattern = c->cfg.identity_mrn_pattern;
	o->mrn_format = c->cfg.identity_mrn_format;
	o->mrn_check = c->cfg.identity_mrn_check;
}

int cmd_ingest(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "batch", required_argument, NULL, 'b' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "operator", required_argument, NULL, 'o' },
		{ "workers", required_argument, NULL, 'w' },
		{ "queue-only", no_argument, NULL, 'Q' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cv_cmd *cmd = cli_find("ingest");
	struct cv_ingest_opts o = CV_INGEST_OPTS_INIT;
	struct cv_ingest_report rep;
	struct cv_error err = CV_ERROR_INIT;
	long long workers = c->cfg.ocr_workers;
	int opt, ret, tty = isatty(2) && cv_log_level > CV_LOG_QUIET;

	cli_ingest_opts(c, &o);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			o.batch = optarg;
			break;
		case 'm':
			o.manifest = optarg;
			break;
		case 'o':
			o.operator_ = optarg;
			break;
		case 'w':
			if (cli_int_opt(cmd, "--workers", optarg, 1, 256,
					&workers))
				return CLI_USAGE;
			break;
		case 'Q':
			o.queue_only = 1;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage(cmd,
				 "ingest needs at least one file or folder");
	o.workers = (int)workers;
	if (tty) {
		o.progress = cli_show_progress;
		o.progress_ctx = NULL;
	}
	ret = cv_ingest_run(c->ar, c->ix, (const char *const *)argv + optind,
			    (size_t)(argc - optind), &o, &rep, &err);
	if (tty)
		fputs("\r\033[K", stderr);
	cv_index_audit(c->ix, c->actor, "batch.ingest", "batch",
		       rep.batch ? rep.batch : "", NULL,
		       ret == 0 ? "ok" : cv_errcode_name(ret), NULL);
	if (c->json)
		print_json(&rep, ret == 0);
	else if (rep.batch)
		print_text(&rep);
	if (ret < 0) {
		if (!err.hint[0])
			cv_error_hint(
				&err,
				"run the same command again to complete the batch");
		ret = cli_fail(&err);
	} else {
		ret = rep.nrejects ? CLI_REJECTS : CLI_OK;
	}
	cv_ingest_report_release(&rep);
	return ret;
}
