/*
 * chartvault certificate verify|show: certificates of destruction, checked
 * and printed again. What a certificate holds, how it is signed and what
 * verification checks are compliance/'s (compliance/certificate.c), which
 * the viewer's compliance screens call too; this file parses arguments
 * and prints.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/banned.h"

void cli_compliance_ctx(struct cli *c, struct cv_compliance_ctx *cx)
{
	memset(cx, 0, sizeof(*cx));
	cx->ix = c->ix;
	cx->ar = c->ar;
	cx->keys = c->keys;
	cx->archive_dir = c->dir;
	cx->actor = c->actor;
}

int cli_paper_certificate_issue(struct cli *c,
				const struct cv_index_paper_counts *pc,
				const struct cli_paper_opts *o,
				char **json_path, char **pdf_path,
				struct cv_error *err)
{
	struct cv_compliance_ctx cx;
	struct cv_compliance_paper_opts po;

	cli_compliance_ctx(c, &cx);
	po.method = o->method;
	po.vendor = o->vendor;
	po.witness = o->witness;
	po.facility = o->facility;
	po.manager = o->manager;
	po.recorded_by = o->recorded_by;
	po.boxes = o->boxes;
	po.folders = o->folders;
	po.sheets = o->sheets;
	po.wait_days = o->wait_days;
	return cv_compliance_paper_certificate_issue(&cx, pc, &po, json_path,
						     pdf_path, err);
}

static int verify(struct cli *c, const struct cv_cmd *cmd, int argc,
		  char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf file = CV_BUF_INIT;
	struct cv_compliance_cert_check chk;
	struct cv_compliance_ctx cx;
	const char *path = NULL;
	size_t i;
	int k, ret;

	for (k = 2; k < argc; k++)
		if (strcmp(argv[k], "--json"))
			path = argv[k];
	if (!path)
		return cli_usage(cmd, "certificate verify needs a FILE");
	if (cv_fs_read_file(&file, path, CV_COMPLIANCE_CERT_MAX, &err) < 0)
		return cli_fail(&err);
	ret = cli_open_store(c, &err);
	if (ret == 0) {
		cli_compliance_ctx(c, &cx);
		ret = cv_compliance_certificate_verify(&cx, path, file.buf,
						       file.len, &chk, &err);
	}
	cv_buf_release(&file);
	if (ret < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *v = json_object(), *a = json_array();

		for (i = 0; i < chk.nproblems; i++)
			json_array_append_new(a, json_string(chk.problems[i]));
		json_object_set_new(v, "file", json_string(path));
		json_object_set_new(v, "ok", json_boolean(!chk.nproblems));
		json_object_set_new(v, "problems", a);
		cli_json_print(v);
	} else if (!chk.nproblems) {
		if (chk.paper)
			printf("certificate OK: signature verifies, it is the "
			       "one recorded, and the audit trail holds the "
			       "sign-off and the paper's destruction\n");
		else
			printf("certificate OK: signature verifies, %zu "
			       "destroyed record(s) are gone with every erased "
			       "object's key and file, and the audit trail "
			       "holds the events\n",
			       chk.records);
	}
	for (i = 0; i < chk.nproblems; i++)
		fprintf(stderr, "chartvault: certificate: %s\n",
			chk.problems[i]);
	ret = chk.nproblems ? CLI_INTEGRITY : CLI_OK;
	cv_compliance_cert_check_release(&chk);
	return ret;
}

/*
 * certificate show [--paper] ID [-o FILE] [--pdf FILE]: the certificate
 * recorded for a destruction batch (or, with --paper, a scan batch's
 * paper), as issued; --pdf prints it again.
 */
static int export(struct cli *c, const struct cv_cmd *cmd, int argc,
		  char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	const char *out = NULL, *pdf = NULL, *idtext = NULL;
	char *text = NULL;
	uint8_t sig[64];
	long long id;
	int k, paper = 0, ret;

	for (k = 2; k < argc; k++) {
		if (!strcmp(argv[k], "-o") && k + 1 < argc)
			out = argv[++k];
		else if (!strcmp(argv[k], "--pdf") && k + 1 < argc)
			pdf = argv[++k];
		else if (!strcmp(argv[k], "--paper"))
			paper = 1;
		else if (!idtext)
			idtext = argv[k];
		else
			return cli_usage(cmd, "unknown argument '%s'", argv[k]);
	}
	if (!idtext)
		return cli_usage(cmd, "certificate show needs a BATCH");
	if (cli_int_opt(cmd, "the batch", idtext, 1, INT64_MAX, &id))
		return CLI_USAGE;
	ret = paper ? cv_index_paper_certificate(c->ix, id, &text, sig, &err)
		    : cv_index_destroy_certificate(c->ix, id, &text, sig, &err);
	if (ret == 0 && out)
		ret = cv_fs_write_atomic(out, text, strlen(text), 0640, 0,
					 &err);
	if (ret == 0 && pdf)
		ret = cv_compliance_certificate_pdf_file(text, pdf, &err);
	if (ret < 0) {
		free(text);
		return cli_fail(&err);
	}
	if (!out && !pdf)
		fputs(text, stdout);
	free(text);
	return CLI_OK;
}

int cmd_certificate(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("certificate");

	if (argc < 2)
		return cli_usage(cmd, "certificate needs a subcommand");
	if (!strcmp(argv[1], "verify"))
		return verify(c, cmd, argc, argv);
	if (!strcmp(argv[1], "show"))
		return export(c, cmd, argc, argv);
	return cli_usage(cmd, "unknown certificate subcommand '%s'", argv[1]);
}
