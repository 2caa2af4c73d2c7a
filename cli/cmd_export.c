/*
 * chartvault export: write a document's searchable PDF for a legitimate
 * request (release of information, a clinician's copy). The PDF was made
 * when the document was, and is kept encrypted in the archive; one that a
 * crash or a QA replacement left out is made now. The copy is written
 * mode 0600, atomically, and never over an existing file unless asked;
 * every export, refused or done, is audited with the request it answers.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ingest/ingest.h"
#include "common/banned.h"

/* A rendition larger than this is refused rather than read into memory. */
#define PDF_READ_MAX (2048u << 20)

/* A request reference is an id from the ROI log, not prose. */
static int valid_request(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z') || strchr("-_./:#", s[i])))
			return 0;
	return 1;
}

int cmd_export(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "request", required_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cv_cmd *cmd = cli_find("export");
	struct cv_error err = CV_ERROR_INIT;
	uint8_t oid[CV_ARCHIVE_OID_LEN];
	char state[16], detail[160], hex[CV_ARCHIVE_OID_HEXLEN + 1];
	const char *out = NULL, *request = NULL;
	struct cv_buf pdf = CV_BUF_INIT;
	long long id;
	int opt, force = 0, has = 0, rendered = 0, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case 'r':
			request = optarg;
			break;
		case 'f':
			force = 1;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "export takes one document id");
	if (!out)
		return cli_usage(cmd, "export needs -o FILE.pdf");
	if (request && !valid_request(request))
		return cli_usage(
			cmd,
			"--request takes a reference of up to 64 letters, digits and -_./:#");
	if (cli_int_opt(cmd, "DOCUMENT-ID", argv[optind], 1, INT64_MAX, &id))
		return CLI_USAGE;

	ret = cli_document_access(c, id, &err);
	if (ret == 0)
		ret = cv_index_document_pdf(c->ix, id, oid, &has, state, &err);
	if (ret == 0 && !strcmp(state, "exception")) {
		/* A document in the exception queue may be filed under the
		 * wrong patient: releasing it could hand one patient's record
		 * to another's requester. */
		ret = cv_error_set(
			&err, CV_EHOLD,
			"document %lld is in the exception queue and cannot be exported",
			id);
		cv_error_hint(&err, "resolve its exceptions first");
	}
	if (ret == 0 && !has) {
		ret = cv_ingest_render_document(c->ar, c->ix, id, oid, &err);
		rendered = ret == 0;
	}
	if (ret == 0)
		ret = cv_archive_get_mem(c->ar, oid, &pdf, PDF_READ_MAX, &err);
	if (ret == 0)
		ret = cv_fs_write_atomic(out, pdf.buf, pdf.len, 0600, !force,
					 &err);
	if (ret == CV_EEXISTS && !err.hint[0])
		cv_error_hint(&err, "choose another name, or add --force");
	snprintf(detail, sizeof(detail), "pdf, %zu bytes%s%s", pdf.len,
		 request ? ", request " : "", request ? request : "");
	cv_index_audit(c->ix, c->actor, "document.export", "document",
		       argv[optind], detail,
		       ret == 0 ? "ok" : cv_errcode_name(ret), NULL);
	if (ret < 0) {
		ret = cli_fail(&err);
		goto out;
	}
	cv_archive_oid_format(hex, oid);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "document", json_integer(id));
		json_object_set_new(o, "file", json_string(out));
		json_object_set_new(o, "bytes",
				    json_integer((json_int_t)pdf.len));
		json_object_set_new(o, "object", json_string(hex));
		json_object_set_new(o, "rendered_now", json_boolean(rendered));
		json_object_set_new(o, "request",
				    request ? json_string(request)
					    : json_null());
		cli_json_print(o);
	} else {
		printf("document %lld: %s (%zu bytes, searchable PDF)\n", id,
		       out, pdf.len);
	}
	ret = CLI_OK;
out:
	cv_buf_release(&pdf);
	return ret;
}
