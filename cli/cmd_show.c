/*
 * chartvault show: a document's metadata and the text of its pages,
 * decrypted from the archive. Every view is audited.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ingest/ingest.h"
#include "common/banned.h"

#define PAGE_TEXT_MAX (4u << 20)

int cmd_show(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "no-text", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cv_cmd *cmd = cli_find("show");
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_document doc;
	struct cv_index_doc_page *pages = NULL;
	struct cv_buf text = CV_BUF_INIT;
	json_t *o = NULL, *jp = NULL;
	long long id;
	size_t n = 0, i;
	int opt, ret, with_text = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			break;
		case 'n':
			with_text = 0;
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "show takes one document id");
	if (cli_int_opt(cmd, "DOCUMENT-ID", argv[optind], 1, INT64_MAX, &id))
		return CLI_USAGE;
	ret = cli_document_access(c, id, &err);
	if (ret == 0)
		ret = cv_index_document_get(c->ix, id, &doc, &pages, &n, &err);
	cv_index_audit(c->ix, c->actor, "document.view", "document",
		       argv[optind], with_text ? "with text" : "metadata",
		       ret == 0 ? "ok" : cv_errcode_name(ret), NULL);
	if (ret < 0)
		return cli_fail(&err);
	if (c->json) {
		o = json_object();
		jp = json_array();
		json_object_set_new(o, "id", json_integer(doc.id));
		json_object_set_new(o, "batch_id", json_integer(doc.batch_id));
		json_object_set_new(o, "type", json_string(doc.doc_type));
		json_object_set_new(
			o, "type_name",
			json_string(cv_ingest_doc_type_name(doc.doc_type)));
		json_object_set_new(o, "type_source",
				    json_string(doc.type_source));
		json_object_set_new(o, "mrn",
				    doc.mrn[0] ? json_string(doc.mrn)
					       : json_null());
		json_object_set_new(o, "patient_name",
				    doc.patient_name[0]
					    ? json_string(doc.patient_name)
					    : json_null());
		json_object_set_new(o, "dob",
				    doc.dob[0] ? json_string(doc.dob)
					       : json_null());
		json_object_set_new(o, "service_date",
				    doc.service_date[0]
					    ? json_string(doc.service_date)
					    : json_null());
		json_object_set_new(o, "identity_source",
				    json_string(doc.identity_source));
	} else {
		printf("document %lld (batch %lld)\n", (long long)doc.id,
		       (long long)doc.batch_id);
		printf("  type:         %s (%s, from %s)\n",
		       cv_ingest_doc_type_name(doc.doc_type), doc.doc_type,
		       doc.type_source[0] ? doc.type_source : "nothing");
		printf("  MRN:          %s\n",
		       doc.mrn[0] ? doc.mrn : "unknown");
		printf("  patient:      %s\n", doc.patient_name);
		printf("  DOB:          %s\n", doc.dob);
		printf("  service date: %s\n", doc.service_date);
		printf("  identity:     %s\n", doc.identity_source[0]
						       ? doc.identity_source
						       : "none found");
		printf("  pages:        %zu\n", n);
	}
	for (i = 0; i < n; i++) {
		const struct cv_index_doc_page *p = &pages[i];

		cv_buf_reset(&text);
		if (with_text && p->has_text) {
			ret = cv_archive_get_mem(c->ar, p->text_object, &text,
						 PAGE_TEXT_MAX, &err);
			if (ret < 0) {
				ret = cli_fail(&err);
				goto out;
			}
		}
		if (o) {
			json_t *pj = json_object();

			json_object_set_new(pj, "seq", json_integer(p->seq));
			json_object_set_new(pj, "file",
					    json_string(p->file_name));
			json_object_set_new(pj, "page",
					    json_integer(p->page_no));
			json_object_set_new(
				pj, "ocr_confidence",
				p->ocr_confidence >= 0
					? json_real(p->ocr_confidence)
					: json_null());
			if (with_text) {
				json_t *t = json_stringn(text.buf, text.len);

				json_object_set_new(pj, "text",
						    t ? t : json_string(""));
			}
			json_array_append_new(jp, pj);
		} else {
			printf("\n--- page %d: %s page %d (OCR confidence %.0f) ---\n",
			       p->seq, p->file_name, p->page_no,
			       p->ocr_confidence);
			if (with_text)
				fwrite(text.buf, 1, text.len, stdout);
		}
	}
	if (o) {
		json_object_set_new(o, "pages", jp);
		jp = NULL;
		cli_json_print(o);
		o = NULL;
	}
	ret = CLI_OK;
out:
	json_decref(jp);
	json_decref(o);
	cv_buf_release(&text);
	free(pages);
	return ret;
}
