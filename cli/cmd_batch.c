/*
 * chartvault batch list|show: the batch records a scanning room and a
 * back-file conversion project reconcile against: what came in, what was
 * filed, dropped as blank, failed or is still waiting, and whether every
 * page is accounted for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ingest/ingest.h"
#include "common/banned.h"

static json_t *stats_json(const struct cv_index_batch_stats *b)
{
	json_t *o = json_object(), *c = json_object();

	json_object_set_new(o, "id", json_integer(b->id));
	json_object_set_new(o, "name", json_string(b->name));
	json_object_set_new(o, "operator", json_string(b->operator_));
	json_object_set_new(o, "source", json_string(b->source));
	json_object_set_new(o, "created", json_string(b->created));
	json_object_set_new(o, "finished",
			    b->finished[0] ? json_string(b->finished)
					   : json_null());
	json_object_set_new(c, "files", json_integer(b->files));
	json_object_set_new(c, "pages_received", json_integer(b->pages));
	json_object_set_new(c, "pages_filed", json_integer(b->filed));
	json_object_set_new(c, "blank_dropped", json_integer(b->blank));
	json_object_set_new(c, "cover_and_separator_sheets",
			    json_integer(b->sheets));
	json_object_set_new(c, "pages_failed", json_integer(b->failed));
	json_object_set_new(c, "pages_waiting", json_integer(b->queued));
	json_object_set_new(c, "pages_unplaced", json_integer(b->unplaced));
	json_object_set_new(c, "pages_superseded", json_integer(b->superseded));
	json_object_set_new(c, "pages_flagged", json_integer(b->flagged));
	json_object_set_new(c, "documents", json_integer(b->documents));
	json_object_set_new(c, "rejects", json_integer(b->rejects));
	json_object_set_new(o, "counts", c);
	json_object_set_new(o, "reconciled", json_boolean(b->reconciled));
	return o;
}

static json_t *items_json(const struct cv_index_batch_item *it, size_t n,
			  const char *what)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "file", json_string(it[i].name));
		json_object_set_new(o, "page",
				    it[i].page ? json_integer(it[i].page)
					       : json_null());
		json_object_set_new(o, what, json_string(it[i].text));
		json_array_append_new(a, o);
	}
	return a;
}

static int list(struct cli *c)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_batch_stats *b = NULL;
	size_t n = 0, i;

	if (cv_index_batch_stats(c->ix, NULL, &b, &n, &err) < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(a, stats_json(&b[i]));
		cli_json_print(a);
	} else {
		printf("%-5s %-28s %-12s %6s %6s %5s %7s %7s  %s\n", "id",
		       "batch", "operator", "files", "pages", "docs", "rejects",
		       "flagged", "reconciled");
		for (i = 0; i < n; i++)
			printf("%-5lld %-28.28s %-12.12s %6lld %6lld %5lld %7lld %7lld  %s\n",
			       (long long)b[i].id, b[i].name, b[i].operator_,
			       (long long)b[i].files, (long long)b[i].pages,
			       (long long)b[i].documents,
			       (long long)b[i].rejects, (long long)b[i].flagged,
			       b[i].reconciled ? "yes" : "NO");
	}
	free(b);
	return CLI_OK;
}

static int show(struct cli *c, const char *which)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_batch_stats *b = NULL;
	struct cv_index_batch_item *rej = NULL, *flag = NULL;
	size_t n = 0, nrej = 0, nflag = 0, i;
	int ret;

	ret = cv_index_batch_stats(c->ix, which, &b, &n, &err);
	if (ret == 0)
		ret = cv_index_batch_rejects(c->ix, b[0].id, &rej, &nrej, &err);
	if (ret == 0)
		ret = cv_index_batch_flagged(c->ix, b[0].id, &flag, &nflag,
					     &err);
	if (ret < 0) {
		ret = cli_fail(&err);
		goto out;
	}
	if (c->json) {
		json_t *o = stats_json(&b[0]);

		json_object_set_new(o, "rejects",
				    items_json(rej, nrej, "reason"));
		json_object_set_new(o, "flagged",
				    items_json(flag, nflag, "flags"));
		cli_json_print(o);
	} else {
		const struct cv_index_batch_stats *s = &b[0];

		printf("batch %s (id %lld), by %s, from %s\n", s->name,
		       (long long)s->id, s->operator_, s->source);
		printf("  started %s, %s\n", s->created,
		       s->finished[0] ? s->finished : "not finished");
		printf("  files:             %lld\n", (long long)s->files);
		printf("  pages received:    %lld\n", (long long)s->pages);
		printf("    filed:           %lld in %lld documents\n",
		       (long long)s->filed, (long long)s->documents);
		printf("    blank, dropped:  %lld\n", (long long)s->blank);
		printf("    cover/separator: %lld\n", (long long)s->sheets);
		printf("    failed:          %lld\n", (long long)s->failed);
		printf("    waiting:         %lld\n", (long long)s->queued);
		printf("    not yet placed:  %lld\n", (long long)s->unplaced);
		printf("    replaced (QA):   %lld\n", (long long)s->superseded);
		printf("  flagged for QA:    %lld\n", (long long)s->flagged);
		printf("  rejects:           %lld\n", (long long)s->rejects);
		printf("  reconciled:        %s\n",
		       s->reconciled
			       ? "yes, every page is accounted for"
			       : "NO: pages are waiting or unaccounted for; run the ingest again");
		for (i = 0; i < nrej; i++)
			printf("  rejected: %s%s%.0d: %s\n", rej[i].name,
			       rej[i].page ? " page " : "", rej[i].page,
			       rej[i].text);
		for (i = 0; i < nflag; i++)
			printf("  flagged: %s page %d: %s\n", flag[i].name,
			       flag[i].page, flag[i].text);
	}
	ret = CLI_OK;
out:
	cv_index_batch_items_free(rej, nrej);
	cv_index_batch_items_free(flag, nflag);
	free(b);
	return ret;
}

/*
 * The page previews the viewer shows, for pages filed before ingest made
 * them (an archive from an older chartvault) or that a stopped run left
 * without: of one batch, or of every batch. Audited, as it writes the
 * archive.
 */
static int previews(struct cli *c, const char *which)
{
	struct cv_error err = CV_ERROR_INIT, aerr = CV_ERROR_INIT;
	struct cv_index_batch_stats *b = NULL;
	size_t n = 0, made = 0, failed = 0;
	char idtxt[24] = "all", detail[96];
	int64_t id = 0;
	int ret = 0;

	if (which) {
		ret = cv_index_batch_stats(c->ix, which, &b, &n, &err);
		if (ret == 0) {
			id = b[0].id;
			snprintf(idtxt, sizeof(idtxt), "%lld", (long long)id);
		}
	}
	if (ret == 0)
		ret = cli_open_store(c, &err);
	if (ret == 0)
		ret = cv_ingest_make_previews(c->ar, c->ix, id, &made, &failed,
					      &err);
	if (ret == 0 || made) {
		snprintf(detail, sizeof(detail),
			 "previews of %zu pages, %zu unreadable", made, failed);
		if (cv_index_audit(c->ix, c->actor, "batch.previews", "batch",
				   idtxt, detail,
				   ret == 0 ? "ok" : cv_errcode_name(ret),
				   &aerr) < 0 &&
		    ret == 0) {
			err = aerr;
			ret = aerr.code;
		}
	}
	free(b);
	if (ret < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "batch",
				    id ? json_integer(id) : json_null());
		json_object_set_new(o, "pages", json_integer((json_int_t)made));
		json_object_set_new(o, "unreadable",
				    json_integer((json_int_t)failed));
		cli_json_print(o);
	} else {
		printf("previews made for %zu page(s)%s\n", made,
		       which ? "" : " of every batch");
		if (failed)
			printf("  %zu page(s) could not be read: run 'chartvault verify'\n",
			       failed);
	}
	return CLI_OK;
}

int cmd_batch(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("batch");
	const char *verb = NULL, *which = NULL;
	int i;

	if (argc >= 2 && !strcmp(argv[1], "signoff"))
		return cmd_batch_signoff(c, argc - 1, argv + 1);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			continue;
		if (!verb)
			verb = argv[i];
		else if (!which)
			which = argv[i];
		else
			return cli_usage(cmd, "too many arguments");
	}
	if (verb && !strcmp(verb, "list") && !which)
		return list(c);
	if (verb && !strcmp(verb, "show") && which)
		return show(c, which);
	if (verb && !strcmp(verb, "previews"))
		return previews(c, which);
	return cli_usage(cmd, "batch takes 'list', or 'show' or 'signoff' "
			      "and a batch, or 'previews'");
}
