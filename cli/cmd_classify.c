/*
 * chartvault classify types|train|eval|models: the document-type
 * taxonomy, and the classifier that types a document when no cover
 * sheet, manifest or title line does.
 *
 * Labels files are CSV, one labelled document a row: a text file (path
 * relative to the labels file) or a document id in the archive, then a
 * type code from the taxonomy or "other". A header row is allowed.
 * Reading a document's text is a view of patient data, so each one is
 * audited.
 */
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ingest/ingest.h"
#include "common/banned.h"

#define LABELS_MAX   (64u << 20)
#define TEXT_MAX     (4u << 20)
#define DOC_TEXT_MAX (16u << 20)
#define ROWS_MAX     200000

struct labelled {
	char *source; /* as written in the labels file */
	char *text;
	char label[CV_INGEST_TYPE_CODE_MAX];
	char group[64]; /* patient: the document's MRN, or one on the page */
	size_t line;
};

struct labels {
	struct labelled *v;
	size_t n;
};

static void labels_release(struct labels *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].source);
		free(l->v[i].text);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	if (e - s >= 2 && s[0] == '"' && e[-1] == '"') {
		e[-1] = '\0';
		s++;
	}
	return s;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* The text of every page of a document, in order; audited as a view. */
static int document_text(struct cli *c, const char *id_s, struct labelled *l,
			 const char *why, struct cv_error *err)
{
	struct cv_index_document doc;
	struct cv_index_doc_page *pages = NULL;
	struct cv_buf text = CV_BUF_INIT;
	long long id;
	size_t n = 0, i;
	int ret;

	if (cv_parse_ll(&id, id_s, 1, INT64_MAX) < 0)
		return cv_error_set(err, CV_EINVAL, "bad document id");
	cv_buf_limit(&text, DOC_TEXT_MAX);
	ret = cv_index_document_get(c->ix, id, &doc, &pages, &n, err);
	cv_index_audit(c->ix, c->actor, "document.read", "document", id_s, why,
		       ret == 0 ? "ok" : cv_errcode_name(ret), NULL);
	if (ret < 0)
		goto cleanup;
	for (i = 0; i < n && ret == 0; i++) {
		if (!pages[i].has_text)
			continue;
		ret = cv_archive_get_mem(c->ar, pages[i].text_object, &text,
					 TEXT_MAX, err);
		if (ret == 0)
			ret = cv_buf_addch(&text, '\n');
	}
	if (ret < 0)
		goto cleanup;
	l->text = cv_buf_detach(&text, NULL);
	snprintf(l->group, sizeof(l->group), "%s", doc.mrn);
cleanup:
	cv_buf_release(&text);
	free(pages);
	return ret;
}

static int file_text(const char *dir, const char *path, struct labelled *l,
		     struct cv_error *err)
{
	struct cv_buf b = CV_BUF_INIT;
	struct cv_ingest_page_facts facts;
	char *full = path[0] == '/' ? cv_strdup(path) : cv_path_join(dir, path);
	int ret;

	ret = cv_fs_read_file(&b, full, TEXT_MAX, err);
	free(full);
	if (ret < 0)
		goto cleanup;
	if (memchr(b.buf, '\0', b.len)) {
		ret = cv_error_set(err, CV_EINVAL, "not a text file");
		goto cleanup;
	}
	/* The patient is who the page says, so the PHI floor (features of
	 * several patients only) also holds for text files. */
	cv_ingest_page_facts(b.buf, &facts);
	snprintf(l->group, sizeof(l->group), "%s", facts.mrn);
	l->text = cv_buf_detach(&b, NULL);
cleanup:
	cv_buf_release(&b);
	return ret;
}

/*
 * Read a labels file and each labelled text. Any bad row fails the whole
 * file, naming file:line: a model trained around a typo is worse than
 * none.
 */
static int load_labels(struct cli *c, const char *path, const char *why,
		       struct labels *out, struct cv_error *err)
{
	struct cv_buf b = CV_BUF_INIT;
	char *copy = cv_strdup(path), *dir = dirname(copy);
	size_t pos = 0, lineno = 0, alloc = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = cv_fs_read_file(&b, path, LABELS_MAX, err);
	if (ret < 0)
		goto cleanup;
	while (pos < b.len) {
		char *line = b.buf + pos, *nl = memchr(line, '\n', b.len - pos);
		char *comma, *src, *type;
		struct labelled *l;

		if (nl)
			*nl = '\0';
		pos += strlen(line) + 1;
		lineno++;
		if (!*trim(line) || line[0] == '#')
			continue;
		comma = strrchr(line, ',');
		if (!comma) {
			ret = cv_error_set(err, CV_EINVAL,
					   "%s:%zu: expected SOURCE,TYPE", path,
					   lineno);
			goto cleanup;
		}
		*comma = '\0';
		src = trim(line);
		type = trim(comma + 1);
		if (out->n == 0 && !cv_ingest_doctype_known(type) &&
		    (!strcmp(type, "type") || !strcmp(type, "label")))
			continue; /* a header */
		if (!cv_ingest_doctype_known(type)) {
			ret = cv_error_set(err, CV_EINVAL,
					   "%s:%zu: unknown document type",
					   path, lineno);
			cv_error_hint(err,
				      "'chartvault classify types' lists them");
			goto cleanup;
		}
		if (!*src) {
			ret = cv_error_set(err, CV_EINVAL,
					   "%s:%zu: empty source", path,
					   lineno);
			goto cleanup;
		}
		if (out->n == ROWS_MAX) {
			ret = cv_error_set(err, CV_ELIMIT,
					   "%s: more than %d rows", path,
					   ROWS_MAX);
			goto cleanup;
		}
		if (out->n == alloc) {
			alloc = alloc ? 2 * alloc : 256;
			out->v = cv_realloc(out->v, alloc * sizeof(*out->v));
		}
		l = &out->v[out->n];
		memset(l, 0, sizeof(*l));
		l->source = cv_strdup(src);
		l->line = lineno;
		snprintf(l->label, sizeof(l->label), "%s", type);
		out->n++;
		ret = all_digits(src) ? document_text(c, src, l, why, err)
				      : file_text(dir, src, l, err);
		if (ret < 0) {
			cv_error_prefix(err, "%s:%zu", path, lineno);
			goto cleanup;
		}
	}
	if (out->n == 0) {
		ret = cv_error_set(err, CV_EINVAL, "%s: no labelled documents",
				   path);
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (ret < 0)
		labels_release(out);
	cv_buf_release(&b);
	free(copy);
	return ret;
}

/*
 * A page stream: rows of a page's text file (relative to the CSV) and its
 * document's key, kept in group. The same checks as a labels file.
 */
static int load_pages(const char *path, struct labels *out,
		      struct cv_error *err)
{
	struct cv_buf b = CV_BUF_INIT;
	char *copy = cv_strdup(path), *dir = dirname(copy);
	size_t pos = 0, lineno = 0, alloc = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = cv_fs_read_file(&b, path, LABELS_MAX, err);
	while (ret == 0 && pos < b.len) {
		char *line = b.buf + pos, *nl = memchr(line, '\n', b.len - pos);
		char *comma, *src, *key;
		struct labelled *l;

		if (nl)
			*nl = '\0';
		pos += strlen(line) + 1;
		lineno++;
		if (!*trim(line) || line[0] == '#')
			continue;
		comma = strrchr(line, ',');
		if (!comma) {
			ret = cv_error_set(
				err, CV_EINVAL,
				"%s:%zu: expected PAGE-TEXT,DOCUMENT", path,
				lineno);
			break;
		}
		*comma = '\0';
		src = trim(line);
		key = trim(comma + 1);
		if (out->n == 0 && !strcmp(key, "document"))
			continue;
		if (out->n == ROWS_MAX) {
			ret = cv_error_set(err, CV_ELIMIT,
					   "%s: more than %d rows", path,
					   ROWS_MAX);
			break;
		}
		if (out->n == alloc) {
			alloc = alloc ? 2 * alloc : 256;
			out->v = cv_realloc(out->v, alloc * sizeof(*out->v));
		}
		l = &out->v[out->n++];
		memset(l, 0, sizeof(*l));
		l->source = cv_strdup(src);
		l->line = lineno;
		ret = file_text(dir, src, l, err);
		snprintf(l->group, sizeof(l->group), "%s", key);
		if (ret < 0)
			cv_error_prefix(err, "%s:%zu", path, lineno);
	}
	if (ret < 0)
		labels_release(out);
	cv_buf_release(&b);
	free(copy);
	return ret;
}

/* ---------------------------------------------------------------------
 * Reporting an evaluation
 */

static json_t *eval_json(const struct cv_ingest_eval *e)
{
	json_t *o = json_object(), *classes = json_array(), *conf;
	size_t k, j;

	json_object_set_new(o, "documents", json_integer((json_int_t)e->n));
	json_object_set_new(o, "accuracy",
			    json_real(cv_ingest_eval_accuracy(e)));
	json_object_set_new(o, "macro_f1",
			    json_real(cv_ingest_eval_macro_f1(e)));
	json_object_set_new(o, "ece", json_real(cv_ingest_eval_ece(e)));
	if (e->nll > 0)
		json_object_set_new(o, "nll", json_real(e->nll / (double)e->n));
	for (k = 0; k < e->nclasses; k++) {
		json_t *c = json_object(), *row = json_array();
		double p, r, f1;
		size_t support;

		cv_ingest_eval_class(e, k, &support, &p, &r, &f1);
		json_object_set_new(c, "type", json_string(e->codes[k]));
		json_object_set_new(
			c, "name",
			json_string(cv_ingest_doc_type_name(e->codes[k])));
		json_object_set_new(c, "support",
				    json_integer((json_int_t)support));
		json_object_set_new(c, "precision", json_real(p));
		json_object_set_new(c, "recall", json_real(r));
		json_object_set_new(c, "f1", json_real(f1));
		for (j = 0; j < e->nclasses; j++)
			json_array_append_new(
				row,
				json_integer(
					(json_int_t)
						e->confusion[k * e->nclasses +
							     j]));
		json_object_set_new(c, "predicted", row);
		json_array_append_new(classes, c);
	}
	json_object_set_new(o, "classes", classes);
	conf = json_array();
	for (k = 0; k < e->nclasses; k++)
		json_array_append_new(conf, json_string(e->codes[k]));
	json_object_set_new(o, "confusion_order", conf);
	return o;
}

static void eval_print(const struct cv_ingest_eval *e, const char *what)
{
	size_t k, j;

	printf("%s: %zu documents, accuracy %.4f (%zu/%zu), macro-F1 %.4f, "
	       "calibration error %.4f\n",
	       what, e->n, cv_ingest_eval_accuracy(e), e->correct, e->n,
	       cv_ingest_eval_macro_f1(e), cv_ingest_eval_ece(e));
	printf("\n%-8s %-26s %7s %9s %7s %7s\n", "type", "name", "support",
	       "precision", "recall", "F1");
	for (k = 0; k < e->nclasses; k++) {
		double p, r, f1;
		size_t support;

		cv_ingest_eval_class(e, k, &support, &p, &r, &f1);
		printf("%-8s %-26.26s %7zu %9.3f %7.3f %7.3f\n", e->codes[k],
		       cv_ingest_doc_type_name(e->codes[k]), support, p, r, f1);
	}
	printf("\nconfusion (rows: true type, columns: predicted, in the order above)\n");
	printf("%-8s", "");
	for (j = 0; j < e->nclasses; j++)
		printf(" %4zu", j + 1);
	printf("\n");
	for (k = 0; k < e->nclasses; k++) {
		printf("%2zu %-5.5s", k + 1, e->codes[k]);
		for (j = 0; j < e->nclasses; j++) {
			size_t v = e->confusion[k * e->nclasses + j];

			if (v)
				printf(" %4zu", v);
			else
				printf(" %4s", ".");
		}
		printf("\n");
	}
}

/* ---------------------------------------------------------------------
 * Verbs
 */

static int types_list(void)
{
	size_t i, n = cv_ingest_doctype_count();

	for (i = 0; i < n; i++) {
		const struct cv_ingest_doctype *t = cv_ingest_doctype_at(i);

		printf("%-10s %-28s %-8s %s\n", t->code, t->name,
		       t->builtin ? "built-in" : "hospital", t->title);
	}
	printf("%-10s %-28s %-8s %s\n", CV_INGEST_TYPE_OTHER, "other",
	       "built-in", "(no rule or confident model decided)");
	return CLI_OK;
}

static int types_json(void)
{
	json_t *a = json_array();
	size_t i, n = cv_ingest_doctype_count();

	for (i = 0; i < n; i++) {
		const struct cv_ingest_doctype *t = cv_ingest_doctype_at(i);
		json_t *o = json_object();

		json_object_set_new(o, "code", json_string(t->code));
		json_object_set_new(o, "name", json_string(t->name));
		json_object_set_new(o, "title_pattern", json_string(t->title));
		json_object_set_new(o, "builtin", json_boolean(t->builtin));
		json_array_append_new(a, o);
	}
	cli_json_print(a);
	return CLI_OK;
}

static char *types_path(const struct cli *c)
{
	const char *f = c->cfg.classify_types_file;

	return f[0] == '/' ? cv_strdup(f) : cv_path_join(c->dir, f);
}

/* Check a hospital's file, then put it where the setting points: every
 * later command loads it at start-up. */
static int types_import(struct cli *c, const char *file)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf b = CV_BUF_INIT;
	char *dest = NULL;
	size_t n = 0;
	int ret;

	ret = cv_ingest_doctypes_parse_file(file, 0, &n, &err);
	if (ret == 0)
		ret = cv_fs_read_file(&b, file, 1u << 20, &err);
	if (ret == 0) {
		dest = types_path(c);
		ret = cv_fs_write_atomic(dest, b.buf, b.len, 0644, 0, &err);
	}
	if (ret == 0)
		cv_index_audit(c->ix, c->actor, "classify.types_import",
			       "taxonomy", c->cfg.classify_types_file, NULL,
			       "ok", NULL);
	cv_buf_release(&b);
	if (ret < 0) {
		free(dest);
		return cli_fail(&err);
	}
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "types", json_integer((json_int_t)n));
		json_object_set_new(o, "file", json_string(dest));
		cli_json_print(o);
	} else {
		printf("imported %zu document type%s into %s\n", n,
		       n == 1 ? "" : "s", dest);
	}
	free(dest);
	return CLI_OK;
}

static int load_model(struct cli *c, int version, int builtin,
		      struct cv_ingest_model **m, int *got,
		      struct cv_error *err)
{
	struct cv_buf b = CV_BUF_INIT;
	int ret;

	*got = 0;
	if (builtin)
		return cv_ingest_model_default(m, err);
	ret = cv_index_model_get(c->ix, version, got, &b, err);
	if (ret == CV_ENOTFOUND && version == 0) {
		cv_error_clear(err);
		ret = cv_ingest_model_default(m, err);
	} else if (ret == 0) {
		ret = cv_ingest_model_read(m, b.buf, b.len, err);
	}
	cv_buf_release(&b);
	return ret;
}

static int train(struct cli *c, const struct cv_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "folds", required_argument, NULL, 'f' },
		{ "epochs", required_argument, NULL, 'e' },
		{ "seed", required_argument, NULL, 's' },
		{ "min-patients", required_argument, NULL, 'p' },
		{ "max-features", required_argument, NULL, 'F' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct cv_ingest_train_opts o = CV_INGEST_TRAIN_OPTS_INIT;
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ingest_train_example *ex = NULL;
	struct cv_ingest_model *m = NULL;
	struct cv_ingest_eval ev;
	struct labels lab;
	struct cv_buf bytes = CV_BUF_INIT;
	const char *output = NULL;
	char *params = NULL, *metrics = NULL;
	json_t *jm = NULL;
	long long v;
	size_t i;
	int opt, ret, version = 0;

	cv_ingest_eval_init(&ev);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			break;
		case 'f':
			if (cli_int_opt(cmd, "--folds", optarg, 2, 20, &v))
				return CLI_USAGE;
			o.folds = (int)v;
			break;
		case 'e':
			if (cli_int_opt(cmd, "--epochs", optarg, 1, 200, &v))
				return CLI_USAGE;
			o.epochs = (int)v;
			break;
		case 's':
			if (cli_int_opt(cmd, "--seed", optarg, 0, INT64_MAX,
					&v))
				return CLI_USAGE;
			o.seed = (uint64_t)v;
			break;
		case 'p':
			if (cli_int_opt(cmd, "--min-patients", optarg, 1, 1000,
					&v))
				return CLI_USAGE;
			o.min_patients = (int)v;
			break;
		case 'F':
			if (cli_int_opt(cmd, "--max-features", optarg, 100,
					1000000, &v))
				return CLI_USAGE;
			o.max_features = (size_t)v;
			break;
		case 'o':
			output = optarg;
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "classify train takes one LABELS.csv");
	ret = load_labels(c, argv[optind], "classify train", &lab, &err);
	if (ret < 0)
		return cli_fail(&err);
	ex = cv_calloc(lab.n, sizeof(*ex));
	for (i = 0; i < lab.n; i++) {
		ex[i].text = lab.v[i].text;
		ex[i].label = lab.v[i].label;
		ex[i].group = lab.v[i].group;
	}
	ret = cv_ingest_model_train(&m, ex, lab.n, &o, &ev, &err);
	if (ret == 0)
		ret = cv_ingest_model_write(m, &bytes, &err);
	if (ret < 0)
		goto fail;
	params = cv_asprintf(
		"{\"algorithm\": \"multinomial logistic regression, word unigrams+bigrams+title words, hashed\", \"folds\": %d, \"epochs\": %d, \"rate\": %g, \"l2\": %g, \"min_patients\": %d, \"max_features\": %zu, \"seed\": %llu, \"documents\": %zu, \"features\": %zu, \"classes\": %zu, \"temperature\": %.4f}",
		o.folds, o.epochs, o.rate, o.l2, o.min_patients, o.max_features,
		(unsigned long long)o.seed, lab.n, cv_ingest_model_nfeatures(m),
		cv_ingest_model_nclasses(m), cv_ingest_model_temperature(m));
	jm = eval_json(&ev);
	metrics = json_dumps(jm, JSON_COMPACT);
	ret = cv_index_model_store(c->ix, c->actor, params, metrics, bytes.buf,
				   bytes.len, &version, &err);
	if (ret == 0 && output)
		ret = cv_fs_write_atomic(output, bytes.buf, bytes.len, 0644, 0,
					 &err);
	if (ret < 0)
		goto fail;
	{
		char vs[16];

		snprintf(vs, sizeof(vs), "%d", version);
		cv_index_audit(c->ix, c->actor, "classify.train", "model", vs,
			       NULL, "ok", NULL);
	}
	if (c->json) {
		json_t *o2 = json_object();

		json_object_set_new(o2, "version", json_integer(version));
		json_object_set_new(o2, "params", json_loads(params, 0, NULL));
		json_object_set_new(o2, "heldout", jm);
		jm = NULL;
		cli_json_print(o2);
	} else {
		printf("trained classifier model version %d: %zu documents, %zu types, %zu features, temperature %.3f\n",
		       version, lab.n, cv_ingest_model_nclasses(m),
		       cv_ingest_model_nfeatures(m),
		       cv_ingest_model_temperature(m));
		eval_print(&ev, "held-out folds");
	}
	ret = CLI_OK;
	goto cleanup;
fail:
	ret = cli_fail(&err);
cleanup:
	json_decref(jm);
	free(params);
	free(metrics);
	cv_buf_release(&bytes);
	cv_ingest_model_free(m);
	cv_ingest_eval_release(&ev);
	free(ex);
	labels_release(&lab);
	return ret;
}

static int eval(struct cli *c, const struct cv_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "model-only", no_argument, NULL, 'm' },
		{ "version", required_argument, NULL, 'v' },
		{ "builtin", no_argument, NULL, 'b' },
		{ "show-errors", no_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ingest_model *m = NULL;
	struct cv_ingest_eval ev;
	struct labels lab;
	json_t *errors = NULL;
	long long v;
	size_t i;
	int opt, ret, model_only = 0, version = 0, builtin = 0, got = 0;
	int show_errors = 0;

	cv_ingest_eval_init(&ev);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			break;
		case 'm':
			model_only = 1;
			break;
		case 'b':
			builtin = 1;
			break;
		case 'e':
			show_errors = 1;
			break;
		case 'v':
			if (cli_int_opt(cmd, "--version", optarg, 1, INT32_MAX,
					&v))
				return CLI_USAGE;
			version = (int)v;
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "classify eval takes one LABELS.csv");
	ret = load_model(c, version, builtin, &m, &got, &err);
	if (ret < 0)
		return cli_fail(&err);
	ret = load_labels(c, argv[optind], "classify eval", &lab, &err);
	if (ret < 0) {
		cv_ingest_model_free(m);
		return cli_fail(&err);
	}
	errors = json_array();
	for (i = 0; i < lab.n; i++) {
		struct cv_ingest_type_decision d;
		double *p = cv_calloc(cv_ingest_model_nclasses(m), sizeof(*p));
		double pt = -1;
		size_t k;

		if (model_only)
			cv_ingest_classify_model(m, lab.v[i].text, &d);
		else
			cv_ingest_classify_text(m, lab.v[i].text, &d);
		if (!strcmp(d.source, "model")) {
			cv_ingest_model_predict(m, lab.v[i].text, p);
			pt = 0;
			for (k = 0; k < cv_ingest_model_nclasses(m); k++)
				if (!strcmp(cv_ingest_model_class(m, k),
					    lab.v[i].label))
					pt = p[k];
		}
		cv_ingest_eval_add(&ev, lab.v[i].label, d.code, d.confidence,
				   pt);
		/* Sources and line numbers only: the labels file is the
		 * user's own, and no text is shown. */
		if (strcmp(d.code, lab.v[i].label)) {
			json_t *e = json_object();

			json_object_set_new(
				e, "line",
				json_integer((json_int_t)lab.v[i].line));
			json_object_set_new(e, "source",
					    json_string(lab.v[i].source));
			json_object_set_new(e, "type",
					    json_string(lab.v[i].label));
			json_object_set_new(e, "predicted",
					    json_string(d.code));
			json_object_set_new(e, "by", json_string(d.source));
			json_object_set_new(e, "confidence",
					    json_real(d.confidence));
			json_array_append_new(errors, e);
		}
		free(p);
	}
	if (c->json) {
		json_t *o = eval_json(&ev);

		json_object_set_new(o, "model",
				    got ? json_integer(got)
					: json_string("built-in"));
		json_object_set_new(o, "rules", json_boolean(!model_only));
		json_object_set_new(o, "errors", errors);
		errors = NULL;
		cli_json_print(o);
	} else {
		char what[96];

		if (got)
			snprintf(what, sizeof(what), "model version %d%s", got,
				 model_only ? ", without title rules" : "");
		else
			snprintf(what, sizeof(what), "built-in model%s",
				 model_only ? ", without title rules" : "");
		eval_print(&ev, what);
		if (show_errors) {
			printf("\nmisclassified:\n");
			for (i = 0; i < json_array_size(errors); i++) {
				json_t *e = json_array_get(errors, i);

				printf("  line %lld %s: %s read as %s (%s, %.2f)\n",
				       (long long)json_integer_value(
					       json_object_get(e, "line")),
				       json_string_value(
					       json_object_get(e, "source")),
				       json_string_value(
					       json_object_get(e, "type")),
				       json_string_value(
					       json_object_get(e, "predicted")),
				       json_string_value(
					       json_object_get(e, "by")),
				       json_real_value(json_object_get(
					       e, "confidence")));
			}
		}
	}
	json_decref(errors);
	cv_ingest_eval_release(&ev);
	labels_release(&lab);
	cv_ingest_model_free(m);
	return CLI_OK;
}

struct seg_score {
	size_t predicted, hit;
};

static void seg_score(const int *truth, const int *got, size_t n,
		      struct seg_score *s)
{
	size_t i;

	/* Boundaries between pages: the first page starts a document by
	 * definition and is not counted. */
	memset(s, 0, sizeof(*s));
	for (i = 1; i < n; i++) {
		s->predicted += got[i] != 0;
		s->hit += got[i] && truth[i];
	}
}

static json_t *seg_json(const struct seg_score *s, size_t truth)
{
	json_t *o = json_object();
	double p = s->predicted ? (double)s->hit / (double)s->predicted : 1;
	double r = truth ? (double)s->hit / (double)truth : 1;

	json_object_set_new(o, "predicted",
			    json_integer((json_int_t)s->predicted));
	json_object_set_new(o, "correct", json_integer((json_int_t)s->hit));
	json_object_set_new(o, "precision", json_real(p));
	json_object_set_new(o, "recall", json_real(r));
	json_object_set_new(o, "f1",
			    json_real(p + r > 0 ? 2 * p * r / (p + r) : 0));
	return o;
}

/*
 * Boundary precision and recall of segmentation on a page stream whose
 * documents are known: PAGES.csv rows are a page's text file and a
 * document key, in stream order. Measured with the rules alone and with
 * the model's type changes added.
 */
static int boundaries(struct cli *c, const struct cv_cmd *cmd, int argc,
		      char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ingest_model *m = NULL;
	struct labels lab;
	const char **texts = NULL;
	int *truth = NULL, *rules = NULL, *typed = NULL;
	struct seg_score sr, st;
	size_t i, ntrue = 0;
	int got = 0, ret, builtin = 0;

	for (i = 1; i < (size_t)argc - 1; i++) {
		if (!strcmp(argv[i], "--builtin"))
			builtin = 1;
		else if (strcmp(argv[i], "--json"))
			return cli_usage(cmd, "unknown option '%s'", argv[i]);
	}
	if (argc < 2 || argv[argc - 1][0] == '-')
		return cli_usage(cmd,
				 "classify boundaries takes one PAGES.csv");
	ret = load_model(c, 0, builtin, &m, &got, &err);
	if (ret == 0)
		ret = load_pages(argv[argc - 1], &lab, &err);
	if (ret < 0) {
		cv_ingest_model_free(m);
		return cli_fail(&err);
	}
	texts = cv_calloc(lab.n, sizeof(*texts));
	truth = cv_calloc(lab.n, sizeof(*truth));
	rules = cv_calloc(lab.n, sizeof(*rules));
	typed = cv_calloc(lab.n, sizeof(*typed));
	for (i = 0; i < lab.n; i++) {
		texts[i] = lab.v[i].text;
		truth[i] = i == 0 || strcmp(lab.v[i].group, lab.v[i - 1].group);
		ntrue += i > 0 && truth[i];
	}
	cv_ingest_segment_texts(m, texts, lab.n, 0, rules);
	cv_ingest_segment_texts(m, texts, lab.n, 1, typed);
	seg_score(truth, rules, lab.n, &sr);
	seg_score(truth, typed, lab.n, &st);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "pages",
				    json_integer((json_int_t)lab.n));
		json_object_set_new(o, "boundaries",
				    json_integer((json_int_t)ntrue));
		json_object_set_new(o, "rules", seg_json(&sr, ntrue));
		json_object_set_new(o, "rules_and_type_changes",
				    seg_json(&st, ntrue));
		cli_json_print(o);
	} else {
		const struct seg_score *s[2] = { &sr, &st };
		const char *what[2] = { "rules (titles, patient, paging)",
					"rules + model type changes" };
		int k;

		printf("%zu pages, %zu boundaries between documents\n", lab.n,
		       ntrue);
		for (k = 0; k < 2; k++)
			printf("%-34s found %4zu, right %4zu: precision %.3f, recall %.3f\n",
			       what[k], s[k]->predicted, s[k]->hit,
			       s[k]->predicted ? (double)s[k]->hit /
							 (double)s[k]->predicted
					       : 1.0,
			       ntrue ? (double)s[k]->hit / (double)ntrue : 1.0);
	}
	free(texts);
	free(truth);
	free(rules);
	free(typed);
	labels_release(&lab);
	cv_ingest_model_free(m);
	return CLI_OK;
}

static int models(struct cli *c)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_model_info *m = NULL;
	size_t n = 0, i;

	if (cv_index_model_list(c->ix, &m, &n, &err) < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++) {
			json_t *o = json_object();

			json_object_set_new(o, "version",
					    json_integer(m[i].version));
			json_object_set_new(o, "created",
					    json_string(m[i].created));
			json_object_set_new(o, "created_by",
					    json_string(m[i].created_by));
			json_object_set_new(
				o, "bytes",
				json_integer((json_int_t)m[i].size));
			json_object_set_new(o, "params",
					    json_loads(m[i].params, 0, NULL));
			json_object_set_new(o, "metrics",
					    json_loads(m[i].metrics, 0, NULL));
			json_array_append_new(a, o);
		}
		cli_json_print(a);
	} else if (n == 0) {
		printf("no trained models; ingest uses the built-in model\n");
	} else {
		printf("%-7s %-20s %-12s %9s  %s\n", "version", "created", "by",
		       "bytes", "held-out accuracy / macro-F1");
		for (i = 0; i < n; i++) {
			json_t *mt = json_loads(m[i].metrics, 0, NULL);

			printf("%-7d %-20s %-12.12s %9zu  %.4f / %.4f%s\n",
			       m[i].version, m[i].created, m[i].created_by,
			       m[i].size,
			       json_real_value(json_object_get(mt, "accuracy")),
			       json_real_value(json_object_get(mt, "macro_f1")),
			       i == n - 1 ? "  (in use)" : "");
			json_decref(mt);
		}
	}
	cv_index_model_list_free(m, n);
	return CLI_OK;
}

int cmd_classify(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("classify");
	const char *verb = argc > 1 ? argv[1] : NULL;

	if (!verb)
		return cli_usage(cmd,
				 "classify takes types, train, eval or models");
	if (!strcmp(verb, "types")) {
		int i, json = 0;
		const char *sub = NULL, *file = NULL;

		for (i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--json"))
				json = 1;
			else if (!sub)
				sub = argv[i];
			else if (!file)
				file = argv[i];
			else
				return cli_usage(cmd, "too many arguments");
		}
		if (!sub)
			return json || c->json ? types_json() : types_list();
		if (!strcmp(sub, "import") && file) {
			/* The taxonomy decides where documents are filed. */
			int ret = cli_authorize(c, ROLES_ADMIN,
						"classify types import");

			return ret ? ret : types_import(c, file);
		}
		return cli_usage(
			cmd, "classify types takes nothing, or import FILE");
	}
	if (!strcmp(verb, "train"))
		return train(c, cmd, argc - 1, argv + 1);
	if (!strcmp(verb, "eval"))
		return eval(c, cmd, argc - 1, argv + 1);
	if (!strcmp(verb, "models"))
		return models(c);
	if (!strcmp(verb, "boundaries"))
		return boundaries(c, cmd, argc - 1, argv + 1);
	return cli_usage(cmd, "unknown verb '%s'", verb);
}
