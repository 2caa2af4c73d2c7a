/*
 * chartvault search: documents whose pages match, best first, each with a
 * snippet of its best page, and the counts of all matching documents by
 * type and by year. Searches are audited with their filters' kinds and
 * the documents they returned, not the words asked for or the MRN and
 * name filtered on (those are patient data).
 *
 * Synonyms: the list built in from data/synonyms.txt, then the site's
 * own groups from <archive>/synonyms.txt when that file exists.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ingest/ingest.h"
#include "common/banned.h"

#define SITE_SYNONYMS "synonyms.txt"
#define SYNONYMS_MAX  (4u << 20)

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

/* The built-in synonyms, then the site's file when there is one. */
static int load_synonyms(struct cli *c, struct cv_index_synonyms **syn,
			 struct cv_error *err)
{
	char *path = cv_path_join(c->dir, SITE_SYNONYMS);
	struct cv_buf text = CV_BUF_INIT;
	int ret;

	*syn = NULL;
	ret = cv_index_synonyms_builtin(syn, err);
	if (ret < 0 || !cv_fs_exists(path))
		goto out;
	ret = cv_fs_read_file(&text, path, SYNONYMS_MAX, err);
	if (ret == 0)
		ret = cv_index_synonyms_parse(syn, path, text.buf, text.len,
					      err);
out:
	if (ret < 0) {
		cv_index_synonyms_free(*syn);
		*syn = NULL;
	}
	cv_buf_release(&text);
	free(path);
	return ret;
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *facets_json(const struct cv_index_facet *f, size_t n, int types)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *o = json_object();

		if (types) {
			json_object_set_new(o, "type", json_string(f[i].key));
			json_object_set_new(
				o, "type_name",
				json_string(cv_ingest_doc_type_name(f[i].key)));
		} else {
			json_object_set_new(
				o, "year",
				f[i].key[0] ? json_integer(strtol(f[i].key,
								  NULL, 10))
					    : json_null());
		}
		json_object_set_new(o, "documents",
				    json_integer((json_int_t)f[i].documents));
		json_array_append_new(arr, o);
	}
	return arr;
}

static void print_json(const struct cv_index_search_result *res)
{
	json_t *top = json_object(), *arr = json_array();
	size_t i;

	for (i = 0; i < res->n; i++) {
		const struct cv_index_hit *h = &res->hits[i];
		const struct cv_index_document *d = &h->doc;
		json_t *o = json_object(), *marks;

		json_object_set_new(o, "document", json_integer(d->id));
		json_object_set_new(o, "type", json_string(d->doc_type));
		json_object_set_new(
			o, "type_name",
			json_string(cv_ingest_doc_type_name(d->doc_type)));
		json_object_set_new(o, "mrn", str_or_null(d->mrn));
		json_object_set_new(o, "patient_name",
				    str_or_null(d->patient_name));
		json_object_set_new(o, "service_date",
				    str_or_null(d->service_date));
		json_object_set_new(o, "state", json_string(h->state));
		json_object_set_new(o, "rank", json_real(h->rank));
		json_object_set_new(o, "near", json_boolean(h->near));
		json_object_set_new(o, "best_page", json_integer(h->page_no));
		json_object_set_new(o, "matching_pages",
				    json_integer(h->matching_pages));
		json_object_set_new(o, "snippet",
				    snippet_json(h->snippet, &marks));
		json_object_set_new(o, "highlights", marks);
		json_array_append_new(arr, o);
	}
	json_object_set_new(top, "results", arr);
	json_object_set_new(top, "total_documents",
			    json_integer((json_int_t)res->total_documents));
	json_object_set_new(top, "total_pages",
			    json_integer((json_int_t)res->total_pages));
	json_object_set_new(top, "estimated",
			    json_boolean(res->facets_estimated));
	json_object_set_new(top, "ranked_in_sample",
			    json_boolean(res->ranked_in_sample));
	/* 1/N of the documents, or 0: every match (added with 0016) */
	json_object_set_new(top, "facets_sample",
			    json_integer(res->facets_sample));
	json_object_set_new(top, "ranked_sample",
			    json_integer(res->ranked_sample));
	json_object_set_new(top, "facets",
			    json_pack("{s:o, s:o}", "type",
				      facets_json(res->types, res->ntypes, 1),
				      "year",
				      facets_json(res->years, res->nyears, 0)));
	if (res->near_terms)
		json_object_set_new(top, "near_terms",
				    json_string(res->near_terms));
	cli_json_print(top);
}

static void print_text(const struct cv_index_search_result *res, int tty)
{
	size_t i;

	if (!res->n) {
		printf("no documents match\n");
		return;
	}
	printf("%s%lld document%s (%lld page%s) match\n",
	       res->facets_estimated ? "about " : "",
	       (long long)res->total_documents,
	       res->total_documents == 1 ? "" : "s",
	       (long long)res->total_pages, res->total_pages == 1 ? "" : "s");
	printf("  by type:");
	for (i = 0; i < res->ntypes; i++)
		printf("%s %s %lld", i ? "," : "",
		       cv_ingest_doc_type_name(res->types[i].key),
		       (long long)res->types[i].documents);
	printf("\n  by year:");
	for (i = 0; i < res->nyears; i++)
		printf("%s %s %lld", i ? "," : "",
		       res->years[i].key[0] ? res->years[i].key : "undated",
		       (long long)res->years[i].documents);
	printf("\n");
	if (res->facets_estimated)
		printf("  counts are estimates, from 1/%d of the documents\n",
		       res->facets_sample ? res->facets_sample : 128);
	if (res->near_terms)
		printf("  near spellings also searched: %s\n", res->near_terms);
	if (res->ranked_in_sample)
		printf("  so many pages match that these are the best of a "
		       "1/%d sample of the documents; add words to rank them "
		       "all\n",
		       res->ranked_sample ? res->ranked_sample : 128);
	printf("\n");
	for (i = 0; i < res->n; i++) {
		const struct cv_index_hit *h = &res->hits[i];
		const struct cv_index_document *d = &h->doc;

		printf("document %lld  %s  MRN %s  %s  %s  (best page %d; %d page%s)%s%s\n",
		       (long long)d->id, cv_ingest_doc_type_name(d->doc_type),
		       d->mrn[0] ? d->mrn : "unknown",
		       d->patient_name[0] ? d->patient_name : "",
		       d->service_date[0] ? d->service_date : "undated",
		       h->page_no, h->matching_pages,
		       h->matching_pages == 1 ? " matches" : "s match",
		       h->near ? "  [near spelling]" : "",
		       !strcmp(h->state, "exception") ? "  [exception queue]"
						      : "");
		fputs("    ", stdout);
		print_snippet(h->snippet, tty);
		fputc('\n', stdout);
	}
}

int cmd_search(struct cli *c, int argc, char **argv)
{
	enum {
		OPT_MRN = 256,
		OPT_PATIENT,
		OPT_TYPE,
		OPT_FROM,
		OPT_TO,
		OPT_NEAR,
		OPT_EXCEPTIONS,
		OPT_NO_SYNONYMS,
	};
	static const struct option longopts[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "mrn", required_argument, NULL, OPT_MRN },
		{ "patient", required_argument, NULL, OPT_PATIENT },
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "to", required_argument, NULL, OPT_TO },
		{ "near", no_argument, NULL, OPT_NEAR },
		{ "include-exceptions", no_argument, NULL, OPT_EXCEPTIONS },
		{ "no-synonyms", no_argument, NULL, OPT_NO_SYNONYMS },
		{ NULL, 0, NULL, 0 },
	};
	const struct cv_cmd *cmd = cli_find("search");
	struct cv_index_search_opts so = CV_INDEX_SEARCH_OPTS_INIT;
	struct cv_index_search_result res = CV_INDEX_SEARCH_RESULT_INIT;
	struct cv_index_synonyms *syn = NULL;
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf query = CV_BUF_INIT, ids = CV_BUF_INIT,
		      detail = CV_BUF_INIT;
	long long limit = 20;
	int opt, ret, tty = isatty(1), synonyms = 1;
	size_t i;

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
		case OPT_MRN:
			so.mrn = optarg;
			break;
		case OPT_PATIENT:
			so.patient = optarg;
			break;
		case OPT_TYPE:
			/* the site's taxonomy decides what is a type */
			if (strcmp(optarg, "other") != 0 &&
			    strcmp(cv_ingest_doc_type_name(optarg), "other") ==
				    0)
				return cli_usage(
					cmd,
					"--type '%.32s' is not a known "
					"document type code",
					optarg);
			so.doc_type = optarg;
			break;
		case OPT_FROM:
			so.from = optarg;
			break;
		case OPT_TO:
			so.to = optarg;
			break;
		case OPT_NEAR:
			so.near = 1;
			break;
		case OPT_EXCEPTIONS:
			so.include_exceptions = 1;
			break;
		case OPT_NO_SYNONYMS:
			synonyms = 0;
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
	/* A restricted chart's text is never decrypted for a snippet. */
	so.access_user = c->actor;
	so.limit = (int)limit;
	if (synonyms) {
		ret = load_synonyms(c, &syn, &err);
		if (ret < 0) {
			ret = cli_fail(&err);
			goto out;
		}
		so.synonyms = syn;
	}
	ret = cv_index_search(c->ix, &so, fetch_text, c, &res, &err);
	if (ret == 0)
		cli_search_redact(&res);
	if (ret == CV_EINVAL) {
		/* a bad filter or query is a usage error, said plainly */
		ret = cli_usage(cmd, "%s", err.msg);
		goto out;
	}
	for (i = 0; i < res.n; i++)
		cv_buf_addf(&ids, "%s%lld", i ? "," : "",
			    (long long)res.hits[i].doc.id);
	/* which filters, never their values: an MRN or a name is PHI */
	cv_buf_addf(&detail, "documents=%s%s%s%s%s%s%s%s", ids.buf,
		    so.mrn ? ";mrn" : "", so.patient ? ";patient" : "",
		    so.doc_type ? ";type=" : "", so.doc_type ? so.doc_type : "",
		    so.from || so.to ? ";dates" : "", so.near ? ";near" : "",
		    so.include_exceptions ? ";exceptions" : "");
	cv_index_audit(c->ix, c->actor, "search", "documents", ids.buf,
		       detail.buf, ret == 0 ? "ok" : cv_errcode_name(ret),
		       NULL);
	if (ret < 0) {
		ret = cli_fail(&err);
		goto out;
	}
	if (c->json)
		print_json(&res);
	else
		print_text(&res, tty);
	ret = CLI_OK;
out:
	cv_index_search_result_release(&res);
	cv_index_synonyms_free(syn);
	cv_buf_release(&query);
	cv_buf_release(&ids);
	cv_buf_release(&detail);
	return ret;
}
