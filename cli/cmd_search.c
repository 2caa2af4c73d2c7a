/*
 * chartvault search: documents whose pages match, best first, each with a
 * snippet of its best page. Searches are audited with the documents they
 * returned, not the words asked for (those may be a patient's name).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ingest/ingest.h"
#include "common/banned.h"

/* A page's text as the archive holds it: the fetch callback of search. */
static int fetch_text(void *ctx, const uint8_t *oid, struct cv_buf *out,
		      struct cv_error *err)
{
	struct cli *c = ctx;

	return cv_archive_get_mem(c->ar, oid, out,
				  out->limit ? out->limit : (4u << 20), err);
}

/* Snippets mark matches with \x01..\x02: bold on a terminal, [..] else. */
static void print_snippet(const char *s, int tty)
{
	for (; *s; s++) {
		if (*s == '\x01')
			fputs(tty ? "\033[1m" : "[", stdout);
		else if (*s == '\x02')
			fputs(tty ? "\033[0m" : "]", stdout);
		else
			fputc(*s, stdout);
	}
}

static json_t *snippet_json(const char *s, json_t **marks)
{
	struct cv_buf plain = CV_BUF_INIT;
	size_t start = 0;
	json_t *str;

	*marks = json_array();
	for (; *s; s++) {
		if (*s == '\x01') {
			start = plain.len;
		} else if (*s == '\x02') {
			json_t *pair = json_array();

			json_array_append_new(pair,
					      json_integer((json_int_t)start));
			json_array_append_new(
				pair, json_integer((json_int_t)plain.len));
			json_array_append_new(*marks, pair);
		} else {
			cv_buf_addch(&plain, *s);
		}
	}
	str = json_string(plain.buf);
	cv_buf_release(&plain);
	return str ? str : json_string("");
}

int cmd_search(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cv_cmd *cmd = cli_find("search");
	struct cv_index_search_opts so = { NULL, 20 };
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_hit *hits = NULL;
	struct cv_buf query = CV_BUF_INIT, ids = CV_BUF_INIT;
	long long limit = 20;
	size_t n = 0, i;
	int opt, ret, tty = isatty(1);

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
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
	if (optind >= argc)
		return cli_usage(cmd, "search needs words to look for");
	for (i = (size_t)optind; i < (size_t)argc; i++)
		cv_buf_addf(&query, "%s%s", query.len ? " " : "", argv[i]);
	so.query = query.buf;
	so.limit = (int)limit;
	ret = cv_index_search(c->ix, &so, fetch_text, c, &hits, &n, &err);
	for (i = 0; i < n; i++)
		cv_buf_addf(&ids, "%s%lld", i ? "," : "",
			    (long long)hits[i].doc.id);
	cv_index_audit(c->ix, c->actor, "search", "documents", ids.buf, NULL,
		       ret == 0 ? "ok" : cv_errcode_name(ret), NULL);
	if (ret < 0) {
		ret = cli_fail(&err);
		goto out;
	}
	if (c->json) {
		json_t *arr = json_array();

		for (i = 0; i < n; i++) {
			json_t *o = json_object(), *marks;
			const struct cv_index_document *d = &hits[i].doc;

			json_object_set_new(o, "document", json_integer(d->id));
			json_object_set_new(o, "type",
					    json_string(d->doc_type));
			json_object_set_new(o, "type_name",
					    json_string(cv_ingest_doc_type_name(
						    d->doc_type)));
			json_object_set_new(o, "mrn",
					    d->mrn[0] ? json_string(d->mrn)
						      : json_null());
			json_object_set_new(
				o, "patient_name",
				d->patient_name[0]
					? json_string(d->patient_name)
					: json_null());
			json_object_set_new(
				o, "service_date",
				d->service_date[0]
					? json_string(d->service_date)
					: json_null());
			json_object_set_new(o, "rank", json_real(hits[i].rank));
			json_object_set_new(o, "best_page",
					    json_integer(hits[i].page_no));
			json_object_set_new(
				o, "matching_pages",
				json_integer(hits[i].matching_pages));
			json_object_set_new(
				o, "snippet",
				snippet_json(hits[i].snippet, &marks));
			json_object_set_new(o, "highlights", marks);
			json_array_append_new(arr, o);
		}
		cli_json_print(arr);
	} else {
		if (!n)
			printf("no documents match\n");
		for (i = 0; i < n; i++) {
			const struct cv_index_document *d = &hits[i].doc;

			printf("document %lld  %s  MRN %s  %s  %s  (best page %d; %d page%s)\n",
			       (long long)d->id,
			       cv_ingest_doc_type_name(d->doc_type),
			       d->mrn[0] ? d->mrn : "unknown",
			       d->patient_name[0] ? d->patient_name : "",
			       d->service_date, hits[i].page_no,
			       hits[i].matching_pages,
			       hits[i].matching_pages == 1 ? " matches"
							   : "s match");
			fputs("    ", stdout);
			print_snippet(hits[i].snippet, tty);
			fputc('\n', stdout);
		}
	}
	ret = CLI_OK;
out:
	cv_index_hits_free(hits, n);
	cv_buf_release(&query);
	cv_buf_release(&ids);
	return ret;
}
