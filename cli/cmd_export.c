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
	struct cv_ingest_export ex = CV_INGEST_EXPORT_INIT;
	char hex[CV_ARCHIVE_OID_HEXLEN + 1];
	const char *out = NULL, *request = NULL;
	long long id;
	int opt, force = 0, ret;

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
	if (request && !cv_ingest_export_request_valid(request))
		return cli_usage(
			cmd,
			"--request takes a reference of up to 64 letters, digits and -_./:#");
	if (cli_int_opt(cmd, "DOCUMENT-ID", argv[optind], 1, INT64_MAX, &id))
		return CLI_USAGE;

	/* A restricted chart's document answers as one that does not
	 * exist; then the same refusals, rendering and audit detail as the
	 * viewer's download (ingest/pdf.c). */
	ret = cli_document_access(c, id, &err);
	if (ret == 0)
		ret = cv_ingest_export_pdf(&ex, c->ar, c->ix, id, request,
					   PDF_READ_MAX, &err);
	if (ret == 0)
		ret = cv_fs_write_atomic(out, ex.pdf.buf, ex.pdf.len, 0600,
					 !force, &err);
	if (ret == CV_EEXISTS && !err.hint[0])
		cv_error_hint(&err, "choose another name, or add --force");
	cv_index_audit(c->ix, c->actor, "document.export", "document",
		       argv[optind], ex.audit_detail,
		       ret == 0 ? "ok" : cv_errcode_name(ret), NULL);
	if (ret < 0) {
		ret = cli_fail(&err);
		goto out;
	}
	cv_archive_oid_format(hex, ex.object);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "document", json_integer(id));
		json_object_set_new(o, "file", json_string(out));
		json_object_set_new(o, "bytes",
				    json_integer((json_int_t)ex.pdf.len));
		json_object_set_new(o, "object", json_string(hex));
		json_object_set_new(o, "rendered_now",
				    json_boolean(ex.rendered_now));
		json_object_set_new(o, "request",
				    request ? json_string(request)
					    : json_null());
		cli_json_print(o);
	} else {
		printf("document %lld: %s (%zu bytes, searchable PDF)\n", id,
		       out, ex.pdf.len);
	}
	ret = CLI_OK;
out:
	cv_ingest_export_release(&ex);
	return ret;
}
