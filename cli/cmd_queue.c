/*
 * chartvault queue: the exception queue, where records staff place the
 * documents the pipeline would not file on its own (unknown patient,
 * suspected misfile, uncertain type).
 *
 *   queue list                         documents waiting, with reasons
 *   queue show DOC                     a document, its pages' identities,
 *                                      its exceptions and actions
 *   queue assign DOC --mrn M [--type CODE]
 *   queue split DOC --at SEQ           pages SEQ.. become a new document
 *   queue merge DOC1 DOC2              DOC2's pages go to the end of DOC1
 *   queue move-page PAGE --to DOC
 *   queue file DOC                     into the patient's chart, re-indexed
 *   queue reject DOC --reason TEXT
 *
 * DOC is a document id as "queue list" shows it, PAGE a page id as
 * "queue show" shows it. Each action is recorded with who, when, and the
 * documents before and after (index/queue.c). An action that does not
 * apply (filing with an exception open, splitting at the first page)
 * changes nothing and exits 6.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ingest/ingest.h"
#include "common/banned.h"

struct queue_args {
	const char *pos[2];
	int npos;
	const char *mrn, *type, *reason;
	long long at, to;
};

static int parse(const struct cv_cmd *cmd, int argc, char **argv,
		 struct queue_args *a)
{
	static const struct option longopts[] = {
		{ "mrn", required_argument, NULL, 'm' },
		{ "type", required_argument, NULL, 't' },
		{ "at", required_argument, NULL, 'a' },
		{ "to", required_argument, NULL, 'o' },
		{ "reason", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			a->mrn = optarg;
			break;
		case 't':
			a->type = optarg;
			break;
		case 'a':
			if (cli_int_opt(cmd, "--at", optarg, 1, 1000000,
					&a->at))
				return CLI_USAGE;
			break;
		case 'o':
			if (cli_int_opt(cmd, "--to", optarg, 1, INT64_MAX,
					&a->to))
				return CLI_USAGE;
			break;
		case 'r':
			a->reason = optarg;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	for (; optind < argc; optind++) {
		if (a->npos == 2)
			return cli_usage(cmd, "too many arguments");
		a->pos[a->npos++] = argv[optind];
	}
	return 0;
}

static int id_arg(const struct cv_cmd *cmd, const char *what, const char *s,
		  int64_t *out)
{
	long long v;

	if (cli_int_opt(cmd, what, s, 1, INT64_MAX, &v))
		return CLI_USAGE;
	*out = v;
	return 0;
}

/* The queue's refusals are refusals (6), not rejected input (1). */
static int action_fail(const struct cv_error *err)
{
	cv_log_error(err);
	return err->code == CV_EINVAL ? CLI_REFUSED : cli_exit_code(err->code);
}

/* ---------------------------------------------------------------------
 * list and show
 */

static int list(struct cli *c)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_exception_item *q = NULL;
	size_t n = 0, i;

	if (cv_index_exception_list(c->ix, &q, &n, &err) < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++) {
			json_t *o = json_object();

			json_object_set_new(o, "document",
					    json_integer(q[i].doc_id));
			json_object_set_new(o, "batch_id",
					    json_integer(q[i].batch_id));
			json_object_set_new(o, "type",
					    json_string(q[i].doc_type));
			json_object_set_new(o, "mrn",
					    q[i].mrn[0] ? json_string(q[i].mrn)
							: json_null());
			json_object_set_new(
				o, "patient_id",
				q[i].patient_id ? json_integer(q[i].patient_id)
						: json_null());
			json_object_set_new(o, "pages",
					    json_integer(q[i].npages));
			json_object_set_new(o, "reasons",
					    json_string(q[i].kinds));
			json_object_set_new(o, "created",
					    json_string(q[i].created));
			json_object_set_new(o, "batch",
					    json_string(q[i].batch));
			json_object_set_new(o, "patient",
					    q[i].patient[0]
						    ? json_string(q[i].patient)
						    : json_null());
			json_object_set_new(
				o, "suspected",
				q[i].suspected[0] ? json_string(q[i].suspected)
						  : json_null());
			json_object_set_new(
				o, "type_confidence",
				q[i].type_confidence >= 0
					? json_real(q[i].type_confidence)
					: json_null());
			json_array_append_new(a, o);
		}
		cli_json_print(a);
	} else if (n == 0) {
		printf("the exception queue is empty\n");
	} else {
		printf("%-8s %-6s %-9s %-5s %-12s %s\n", "document", "batch",
		       "type", "pages", "mrn", "reasons");
		for (i = 0; i < n; i++)
			printf("%-8lld %-6lld %-9s %-5d %-12s %s\n",
			       (long long)q[i].doc_id, (long long)q[i].batch_id,
			       q[i].doc_type, q[i].npages,
			       q[i].mrn[0] ? q[i].mrn : "unknown",
			       q[i].kinds[0] ? q[i].kinds : "ready to file");
	}
	free(q);
	return CLI_OK;
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static void print_patient(const char *label, json_t *p)
{
	if (!json_is_object(p)) {
		printf("%s: not in the patient index\n", label);
		return;
	}
	printf("%s: MRN %s, %s, %s, born %s (patient %lld)\n", label,
	       jstr(p, "mrn"), jstr(p, "family"), jstr(p, "given"),
	       jstr(p, "dob"),
	       (long long)json_integer_value(json_object_get(p, "id")));
}

static void print_show(json_t *root)
{
	json_t *d = json_object_get(root, "document");
	json_t *pages = json_object_get(root, "pages");
	json_t *exc = json_object_get(root, "exceptions");
	json_t *acts = json_object_get(root, "actions");
	json_t *v;
	size_t i;

	printf("document %lld: %s (%s), %zu page(s), %s%s\n",
	       (long long)json_integer_value(json_object_get(d, "id")),
	       cv_ingest_doc_type_name(jstr(d, "doc_type")),
	       jstr(d, "doc_type"), json_array_size(pages),
	       json_is_true(json_object_get(d, "closed")) ? "closed: "
	       : strcmp(jstr(d, "state"), "filed") ? "in the exception queue"
						   : "filed",
	       jstr(d, "closed_reason"));
	print_patient("  patient", json_object_get(root, "patient"));
	if (*jstr(d, "identity_source"))
		printf("  decided by: %s\n", jstr(d, "identity_source"));
	printf("  pages:\n");
	json_array_foreach(pages, i, v)
	{
		json_t *pp = json_object_get(v, "patient");

		printf("    seq %lld  page %lld  %s p%lld  shows MRN %s%s%s, %s, born %s",
		       (long long)json_integer_value(json_object_get(v, "seq")),
		       (long long)json_integer_value(
			       json_object_get(v, "page_id")),
		       jstr(v, "file"),
		       (long long)json_integer_value(
			       json_object_get(v, "page_no")),
		       *jstr(v, "mrn") ? jstr(v, "mrn") : "-",
		       *jstr(v, "label_mrn") ? ", label " : "",
		       jstr(v, "label_mrn"),
		       *jstr(v, "name") ? jstr(v, "name") : "no name",
		       *jstr(v, "dob") ? jstr(v, "dob") : "-");
		if (json_is_object(json_object_get(v, "read_as"))) {
			json_t *ra = json_object_get(v, "read_as");

			printf(" (read as MRN %s, %s, born %s)",
			       *jstr(ra, "mrn") ? jstr(ra, "mrn") : "-",
			       *jstr(ra, "name") ? jstr(ra, "name") : "no name",
			       *jstr(ra, "dob") ? jstr(ra, "dob") : "-");
		}
		if (json_is_object(pp))
			printf("  = patient %lld %s, %s\n",
			       (long long)json_integer_value(
				       json_object_get(pp, "id")),
			       jstr(pp, "family"), jstr(pp, "given"));
		else
			printf("\n");
	}
	printf("  exceptions:\n");
	json_array_foreach(exc, i, v)
	{
		json_t *det = json_object_get(v, "detail");

		printf("    #%lld %s %s",
		       (long long)json_integer_value(json_object_get(v, "id")),
		       jstr(v, "state"), jstr(v, "kind"));
		if (json_integer_value(json_object_get(v, "page_id")))
			printf(" (page %lld)",
			       (long long)json_integer_value(
				       json_object_get(v, "page_id")));
		if (!strcmp(jstr(v, "kind"), "misfile")) {
			json_t *pp = json_object_get(v, "page_patient");
			json_t *cp = json_object_get(v, "chart_patient");

			printf(": the page shows MRN %s",
			       *jstr(det, "page_mrn") ? jstr(det, "page_mrn")
						      : "-");
			if (json_is_object(pp))
				printf(" (%s, %s, born %s)", jstr(pp, "family"),
				       jstr(pp, "given"), jstr(pp, "dob"));
			printf(", but it was found in the chart of MRN %s",
			       json_is_object(cp) ? jstr(cp, "mrn") : "-");
			if (json_is_object(cp))
				printf(" (%s, %s, born %s)", jstr(cp, "family"),
				       jstr(cp, "given"), jstr(cp, "dob"));
			printf(" [%s rule]", jstr(det, "rule"));
		} else if (*jstr(det, "reason"))
			printf(": %s", jstr(det, "reason"));
		if (*jstr(v, "resolution"))
			printf(" -> %s by %s", jstr(v, "resolution"),
			       jstr(v, "resolved_by"));
		printf("\n");
	}
	if (json_array_size(acts))
		printf("  actions:\n");
	json_array_foreach(acts, i, v)
	{
		printf("    %s %s by %s", jstr(v, "at"), jstr(v, "action"),
		       jstr(v, "actor"));
		if (json_integer_value(json_object_get(v, "other_id")))
			printf(" (with document %lld)",
			       (long long)json_integer_value(
				       json_object_get(v, "other_id")));
		if (json_integer_value(json_object_get(v, "page_id")))
			printf(" (page %lld)",
			       (long long)json_integer_value(
				       json_object_get(v, "page_id")));
		printf("\n");
	}
}

static int show(struct cli *c, const struct cv_cmd *cmd,
		const struct queue_args *a)
{
	struct cv_error err = CV_ERROR_INIT;
	json_error_t jerr;
	json_t *root;
	char *text = NULL;
	int64_t id;
	int ret;

	if (a->npos != 1)
		return cli_usage(cmd, "queue show takes one document id");
	if (id_arg(cmd, "DOC", a->pos[0], &id))
		return CLI_USAGE;
	ret = cv_index_exception_show(c->ix, id, &text, &err);
	cv_index_audit(c->ix, c->actor, "queue.show", "document", a->pos[0],
		       NULL, ret == 0 ? "ok" : cv_errcode_name(ret), NULL);
	if (ret < 0)
		return cli_fail(&err);
	root = json_loads(text, 0, &jerr);
	free(text);
	if (!root) {
		cv_error_set(&err, CV_ERROR,
			     "document %lld: the index returned malformed JSON",
			     (long long)id);
		return cli_fail(&err);
	}
	if (c->json) {
		cli_json_print(root);
		return CLI_OK;
	}
	print_show(root);
	json_decref(root);
	return CLI_OK;
}

/* ---------------------------------------------------------------------
 * Actions
 */

static int fetch_text(void *ctx, const uint8_t *oid, struct cv_buf *out,
		      struct cv_error *err)
{
	struct cli *c = ctx;

	return cv_archive_get_mem(c->ar, oid, out, 4u << 20, err);
}

static void done(struct cli *c, const char *action, int64_t doc, int64_t other)
{
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "action", json_string(action));
		json_object_set_new(o, "document", json_integer(doc));
		if (other)
			json_object_set_new(
				o,
				!strcmp(action, "move-page") ? "page"
				: !strcmp(action, "split")   ? "new_document"
							     : "other",
				json_integer(other));
		cli_json_print(o);
	} else if (!strcmp(action, "move-page")) {
		printf("move-page: page %lld moved to document %lld\n",
		       (long long)other, (long long)doc);
	} else if (!strcmp(action, "split")) {
		printf("split: document %lld, new document %lld\n",
		       (long long)doc, (long long)other);
	} else if (other) {
		printf("%s: document %lld (and %lld)\n", action, (long long)doc,
		       (long long)other);
	} else {
		printf("%s: document %lld\n", action, (long long)doc);
	}
}

static int act(struct cli *c, const struct cv_cmd *cmd, const char *verb,
	       const struct queue_args *a)
{
	struct cv_error err = CV_ERROR_INIT;
	int64_t id = 0, id2 = 0;
	int ret;

	if (a->npos < 1)
		return cli_usage(cmd, "queue %s needs an id", verb);
	if (id_arg(cmd, "ID", a->pos[0], &id))
		return CLI_USAGE;
	if (!strcmp(verb, "assign")) {
		if (a->npos != 1 || !a->mrn)
			return cli_usage(
				cmd,
				"queue assign DOC --mrn MRN [--type CODE]");
		if (a->type && strcmp(a->type, "other") &&
		    !strcmp(cv_ingest_doc_type_name(a->type), "other"))
			return cli_usage(
				cmd,
				"--type '%.40s' is not a known document type code",
				a->type);
		ret = cv_index_exception_assign(c->ix, c->actor, id, a->mrn,
						a->type, &err);
	} else if (!strcmp(verb, "split")) {
		if (a->npos != 1 || !a->at)
			return cli_usage(cmd, "queue split DOC --at SEQ");
		ret = cv_index_exception_split(c->ix, c->actor, id, (int)a->at,
					       &id2, &err);
	} else if (!strcmp(verb, "merge")) {
		if (a->npos != 2)
			return cli_usage(cmd, "queue merge DOC1 DOC2");
		if (id_arg(cmd, "DOC2", a->pos[1], &id2))
			return CLI_USAGE;
		ret = cv_index_exception_merge(c->ix, c->actor, id, id2, &err);
	} else if (!strcmp(verb, "move-page")) {
		if (a->npos != 1 || !a->to)
			return cli_usage(cmd, "queue move-page PAGE --to DOC");
		id2 = id;
		id = a->to;
		ret = cv_index_exception_move_page(c->ix, c->actor, id2, id,
						   &err);
	} else if (!strcmp(verb, "file")) {
		if (a->npos != 1)
			return cli_usage(cmd, "queue file DOC");
		/* Re-indexing reads the pages' text: the keys are needed. */
		ret = c->ar ? 0 : cli_open_store(c, &err);
		if (ret == 0)
			ret = cv_index_exception_file(c->ix, c->actor, id,
						      fetch_text, c, &err);
	} else {
		if (a->npos != 1 || !a->reason)
			return cli_usage(cmd, "queue reject DOC --reason TEXT");
		ret = cv_index_exception_reject(c->ix, c->actor, id, a->reason,
						&err);
	}
	if (ret < 0) {
		/* Refusals are audited too: someone tried. */
		char object[24];

		snprintf(object, sizeof(object), "%lld", (long long)id);
		cv_index_audit(c->ix, c->actor, "queue.refused", "document",
			       object, verb, cv_errcode_name(ret), NULL);
		return action_fail(&err);
	}
	done(c, verb, id, id2);
	return CLI_OK;
}

int cmd_queue(struct cli *c, int argc, char **argv)
{
	static const char *const actions[] = { "assign",    "split", "merge",
					       "move-page", "file",  "reject" };
	const struct cv_cmd *cmd = cli_find("queue");
	struct queue_args a;
	const char *verb;
	size_t i;
	int ret;

	if (argc < 2)
		return cli_usage(
			cmd,
			"queue needs a verb: list, show, assign, split, merge, move-page, file or reject");
	verb = argv[1];
	ret = parse(cmd, argc - 1, argv + 1, &a);
	if (ret)
		return ret;
	if (!strcmp(verb, "list")) {
		if (a.npos)
			return cli_usage(cmd, "queue list takes no arguments");
		return list(c);
	}
	if (!strcmp(verb, "show"))
		return show(c, cmd, &a);
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(verb, actions[i]))
			return act(c, cmd, verb, &a);
	return cli_usage(cmd, "unknown verb '%.40s'", verb);
}
