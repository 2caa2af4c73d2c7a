/*
 * Certificates of destruction: issuing one when a destruction batch is
 * executed, printing it, and verifying it years later; and the audit
 * trail's verification. The command line and the viewer both come here
 * (compliance.h), so there is one implementation of each.
 *
 * The certificate is canonical JSON (jansson, keys sorted, no whitespace,
 * ASCII only) so that the same content is always the same bytes. The file
 * is {"certificate":{...},"signature":{...}} in that canonical form plus a
 * newline; the Ed25519 signature (the archive's key) covers the canonical
 * bytes of "certificate". Verification refuses a file that is not exactly
 * canonical, so a changed byte anywhere, even in whitespace, fails and
 * says where. The PDF is a rendering of the same content for people
 * (Leptonica's bitmap font, G4 pages); the JSON is what is verified.
 *
 * The content follows the AHIMA sample destruction form (facility, the
 * statement, date, records and inclusive dates, method, destroyed by,
 * witness/approver, department manager) and the NIST SP 800-88 Rev. 1
 * Appendix G certificate of sanitization fields that apply to a
 * crypto-erase (method type Purge, technique Crypto Erase, tool and
 * version, verification method, data backed up, and the date after which
 * no backup holds the destroyed keys).
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <leptonica/allheaders.h>

#include "compliance.h"
#include "archive/archive.h"
#include "index/index.h"
#include "common/banned.h"

#define CERT_FORMAT   1
#define CANON_FLAGS   (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)
#define PAGE_W        2550
#define PAGE_H        3300
#define MARGIN        225
#define LINES_PER_PDF 62

static const char STATEMENT[] =
	"The records listed in this certificate were destroyed in the normal "
	"course of business, under the retention schedule in force (each record "
	"names the rule and the version that made it eligible), after approval "
	"by a person other than the one who proposed their destruction. No "
	"record under an active legal hold was destroyed; records found on hold "
	"or no longer eligible at execution are listed as retained.";

static const char METHOD_DETAIL[] =
	"Each object was encrypted with AES-256-GCM under its own data key, "
	"held only wrapped (AES key wrap, RFC 3394) in the index. The wrapped "
	"keys were deleted in one committed transaction, then each ciphertext "
	"file was overwritten with zeros, synced, unlinked and its folder "
	"synced; the index rows and search vectors were deleted and the tables "
	"vacuumed.";

static const char VERIFICATION[] =
	"chartvault certificate verify: the signature, each erased object's "
	"wrapped key absent from the index and no file of it in the store, each "
	"record's index rows absent and its ghost present, and the audit trail "
	"holding the record.destroy and object.erase events.";

static void hex(char *out, const uint8_t *b, size_t n)
{
	cv_hex_encode(out, b, n);
}

static json_t *object_json(const struct cv_index_destroy_object *o)
{
	char id[65], kek[17], fpr[33];
	json_t *v = json_object();

	hex(id, o->id, 32);
	hex(kek, o->kek_id, 8);
	json_object_set_new(v, "object_id", json_string(id));
	json_object_set_new(v, "kind", json_string(o->kind));
	json_object_set_new(v, "kek_id", json_string(kek));
	if (o->has_key_fpr) {
		hex(fpr, o->key_fpr, 16);
		json_object_set_new(v, "data_key_fingerprint",
				    json_string(fpr));
	} else {
		json_object_set_new(v, "data_key_fingerprint", json_null());
	}
	json_object_set_new(v, "outcome", json_string(o->outcome));
	json_object_set_new(v, "kept_because_referenced_by",
			    o->kept_by[0] ? json_string(o->kept_by)
					  : json_null());
	json_object_set_new(v, "file_present_at_erase",
			    json_boolean(o->file_present == 1));
	json_object_set_new(v, "key_destroyed_at",
			    o->erased_at[0] ? json_string(o->erased_at)
					    : json_null());
	return v;
}

static json_t *record_json(const struct cv_index_destroy_item *it,
			   const struct cv_index_destroy_object *objs,
			   size_t nobjs)
{
	json_t *r = json_object(), *a = json_array();
	size_t i;

	json_object_set_new(r, "document_id", json_integer(it->document_id));
	json_object_set_new(r, "mrn", json_string(it->mrn));
	json_object_set_new(r, "document_type", json_string(it->doc_type));
	json_object_set_new(r, "dates_from", json_string(it->first_date));
	json_object_set_new(r, "dates_to", json_string(it->last_date));
	json_object_set_new(r, "rule", json_string(it->rule_id));
	json_object_set_new(r, "rule_version", json_integer(it->rule_version));
	json_object_set_new(r, "eligible_on", json_string(it->eligible_on));
	json_object_set_new(r, "state", json_string(it->state));
	if (!strcmp(it->state, "destroyed")) {
		json_object_set_new(r, "destroyed_at",
				    json_string(it->done_at));
		for (i = 0; i < nobjs; i++)
			if (objs[i].document_id == it->document_id)
				json_array_append_new(a, object_json(&objs[i]));
		json_object_set_new(r, "objects", a);
	} else {
		json_decref(a);
		json_object_set_new(r, "reason", json_string(it->reason));
	}
	return r;
}

/* The date n days after an ISO timestamp's date, as YYYY-MM-DD. */
static void date_plus(char out[11], const char *iso, long long days)
{
	char d[11];
	int32_t day;

	snprintf(d, sizeof(d), "%.10s", iso);
	if (cv_retention_date_parse(&day, d) < 0) {
		snprintf(out, 11, "unknown");
		return;
	}
	cv_retention_date_format(out,
				 cv_retention_date_add(day, 0, 0, (int)days));
}

static json_t *build(const struct cv_compliance_ctx *c,
		     const struct cv_index_destroy_batch *b,
		     const struct cv_index_destroy_item *items, size_t n,
		     const struct cv_index_destroy_object *objs, size_t nobjs,
		     const struct cv_compliance_cert_opts *o,
		     const uint8_t pub[32])
{
	json_t *cert = json_object(), *recs = json_array(),
	       *kept = json_array(), *nist = json_object(),
	       *batch = json_object(), *ahima = json_object();
	char now[40], first[11] = "", last[11] = "", pubhex[65], until[11],
		      tool[64], crypto[64];
	int64_t destroyed = 0, erased = 0, kept_objs = 0;
	size_t i;

	cv_utc_now(now, sizeof(now));
	for (i = 0; i < n; i++) {
		const struct cv_index_destroy_item *it = &items[i];

		if (strcmp(it->state, "destroyed")) {
			json_array_append_new(kept,
					      record_json(it, objs, nobjs));
			continue;
		}
		destroyed++;
		json_array_append_new(recs, record_json(it, objs, nobjs));
		if (it->first_date[0] &&
		    (!first[0] || strcmp(it->first_date, first) < 0))
			snprintf(first, sizeof(first), "%s", it->first_date);
		if (it->last_date[0] &&
		    (!last[0] || strcmp(it->last_date, last) > 0))
			snprintf(last, sizeof(last), "%s", it->last_date);
	}
	for (i = 0; i < nobjs; i++) {
		if (!strcmp(objs[i].outcome, "erased"))
			erased++;
		else if (!strcmp(objs[i].outcome, "kept"))
			kept_objs++;
	}
	hex(pubhex, pub, 32);
	snprintf(tool, sizeof(tool), "chartvault %s", CV_VERSION);
	snprintf(crypto, sizeof(crypto), "libgcrypt %s",
		 cv_archive_crypto_version());
	date_plus(until, b->executed_at[0] ? b->executed_at : now,
		  o->backup_days);

	json_object_set_new(cert, "type",
			    json_string("certificate-of-destruction"));
	json_object_set_new(cert, "format", json_integer(CERT_FORMAT));
	json_object_set_new(cert, "issued_at", json_string(now));
	json_object_set_new(cert, "archive_public_key", json_string(pubhex));

	json_object_set_new(batch, "id", json_integer(b->id));
	json_object_set_new(batch, "cutoff", json_string(b->cutoff));
	json_object_set_new(batch, "proposed_by", json_string(b->proposed_by));
	json_object_set_new(batch, "proposed_at", json_string(b->proposed_at));
	json_object_set_new(batch, "approved_by", json_string(b->approved_by));
	json_object_set_new(batch, "approved_at", json_string(b->approved_at));
	json_object_set_new(batch, "executed_by", json_string(b->executed_by));
	json_object_set_new(batch, "started_at", json_string(b->started_at));
	json_object_set_new(cert, "destruction_batch", batch);

	json_object_set_new(ahima, "facility", json_string(o->facility));
	json_object_set_new(ahima, "statement", json_string(STATEMENT));
	json_object_set_new(ahima, "date_of_destruction", json_string(now));
	json_object_set_new(ahima, "inclusive_dates_from", json_string(first));
	json_object_set_new(ahima, "inclusive_dates_to", json_string(last));
	json_object_set_new(ahima, "method_of_destruction",
			    json_string("crypto-erase of the encrypted "
					"electronic record (NIST SP 800-88 "
					"Purge)"));
	json_object_set_new(ahima, "destroyed_by", json_string(b->executed_by));
	json_object_set_new(ahima, "witness_approver",
			    json_string(b->approved_by));
	json_object_set_new(ahima, "department_manager",
			    json_string(o->manager));
	json_object_set_new(cert, "ahima", ahima);

	json_object_set_new(nist, "media_type",
			    json_string("encrypted objects in the chartvault "
					"archive store (flash or magnetic, "
					"any)"));
	json_object_set_new(nist, "sanitization_method", json_string("Purge"));
	json_object_set_new(nist, "sanitization_technique",
			    json_string("Crypto Erase"));
	json_object_set_new(nist, "technique_detail",
			    json_string(METHOD_DETAIL));
	json_object_set_new(nist, "tool_used", json_string(tool));
	json_object_set_new(nist, "tool_cryptographic_library",
			    json_string(crypto));
	json_object_set_new(nist, "verification_method",
			    json_string(VERIFICATION));
	json_object_set_new(nist, "post_sanitization_destination",
			    json_string("retained in service (the archive)"));
	json_object_set_new(nist, "data_backed_up", json_string(o->backups));
	json_object_set_new(nist, "backup_retention_days",
			    json_integer(o->backup_days));
	json_object_set_new(nist, "no_backup_holds_keys_after",
			    json_string(until));
	json_object_set_new(
		nist, "key_copies_note",
		json_string("every copy of the key file and every "
			    "backup of the index holding the wrapped "
			    "keys is a copy of the keys"));
	json_object_set_new(cert, "nist_sp800_88", nist);

	json_object_set_new(cert, "records", recs);
	json_object_set_new(cert, "retained", kept);
	{
		json_t *counts = json_object();

		json_object_set_new(counts, "records_destroyed",
				    json_integer(destroyed));
		json_object_set_new(counts, "records_retained",
				    json_integer((int64_t)n - destroyed));
		json_object_set_new(counts, "objects_erased",
				    json_integer(erased));
		json_object_set_new(counts, "objects_kept",
				    json_integer(kept_objs));
		json_object_set_new(cert, "counts", counts);
	}
	(void)c;
	return cert;
}

/* The file: canonical {"certificate":...,"signature":...} and "\n". */
static char *file_text(const char *canon, const uint8_t sig[64],
		       const uint8_t pub[32])
{
	json_t *root = json_object(), *s = json_object(), *cert;
	char sighex[129], pubhex[65], *text, *out;
	json_error_t jerr;

	cert = json_loads(canon, 0, &jerr);
	hex(sighex, sig, 64);
	hex(pubhex, pub, 32);
	json_object_set_new(s, "algorithm", json_string("Ed25519"));
	json_object_set_new(
		s, "signed",
		json_string("the label 'chartvault-signed-document-"
			    "v1' and a newline, then the SHA-512 of "
			    "the canonical JSON of certificate"));
	json_object_set_new(s, "public_key", json_string(pubhex));
	json_object_set_new(s, "value", json_string(sighex));
	json_object_set_new(root, "certificate", cert);
	json_object_set_new(root, "signature", s);
	text = json_dumps(root, CANON_FLAGS);
	json_decref(root);
	out = cv_asprintf("%s\n", text ? text : "");
	free(text);
	return out;
}

/* ---------------------------------------------------------------------
 * PDF: the same content, printed.
 */

struct pages {
	PIXA *pixa;
	PIX *page;
	L_BMF *font, *big;
	int y;
};

static void new_page(struct pages *p)
{
	if (p->page)
		pixaAddPix(p->pixa, p->page, L_INSERT);
	p->page = pixCreate(PAGE_W, PAGE_H, 1);
	pixSetResolution(p->page, 300, 300);
	p->y = MARGIN;
}

/* One line, cut to the page width; the font's characters are ASCII. */
static void put_line(struct pages *p, const char *text, int big, int indent)
{
	L_BMF *f = big ? p->big : p->font;
	char line[200];
	size_t i;
	l_int32 w = 0, ov = 0;

	if (!p->page || p->y + f->lineheight > PAGE_H - MARGIN)
		new_page(p);
	snprintf(line, sizeof(line), "%s", text);
	for (i = 0; line[i]; i++)
		if ((unsigned char)line[i] < 0x20 ||
		    (unsigned char)line[i] > 0x7e)
			line[i] = '?';
	pixSetTextline(p->page, f, line, 1, MARGIN + indent,
		       p->y + f->baselinetab[(int)'A'], &w, &ov);
	p->y += f->lineheight + 6;
}

/* A paragraph, wrapped at about width characters. */
static void put_para(struct pages *p, const char *text, int width, int indent)
{
	const char *s = text;

	while (*s) {
		int n = (int)strlen(s), cut = n;
		char buf[200];

		if (n > width) {
			cut = width;
			while (cut > 0 && s[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = width;
		}
		snprintf(buf, sizeof(buf), "%.*s", cut, s);
		put_line(p, buf, 0, indent);
		s += cut;
		while (*s == ' ')
			s++;
	}
}

static const char *str(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "";
}

static int pages_begin(struct pages *p, struct cv_error *err)
{
	memset(p, 0, sizeof(*p));
	p->pixa = pixaCreate(0);
	p->font = bmfCreate(NULL, 10);
	p->big = bmfCreate(NULL, 20);
	if (!p->pixa || !p->font || !p->big)
		return cv_error_set(err, CV_ERROR,
				    "could not set up the certificate's pages");
	return 0;
}

/* The signing key and the signature, in full, at the end of a page. */
static void put_signature(struct pages *p, json_t *cert, const char *sighex)
{
	char line[200];

	p->y += 20;
	put_line(p, "Signature (Ed25519, archive key)", 1, 0);
	snprintf(line, sizeof(line), "public key %s",
		 str(cert, "archive_public_key"));
	put_line(p, line, 0, 0);
	snprintf(line, sizeof(line), "%.64s", sighex);
	put_line(p, line, 0, 0);
	snprintf(line, sizeof(line), "%s", sighex + 64);
	put_line(p, line, 0, 0);
}

/* Close the last page and append them all, as one PDF, to out. */
static int pages_write(struct pages *p, const char *title, struct cv_buf *out,
		       struct cv_error *err)
{
	l_uint8 *data = NULL;
	size_t nbytes = 0;
	int ret;

	new_page(p);
	if (pixaConvertToPdfData(p->pixa, 300, 1.0f, L_G4_ENCODE, 0, title,
				 &data, &nbytes) ||
	    !data)
		ret = cv_error_set(err, CV_ERROR,
				   "could not encode the certificate's PDF");
	else if (cv_buf_add(out, data, nbytes) < 0)
		ret = cv_error_set(err, CV_ELIMIT,
				   "the certificate's PDF is too large");
	else
		ret = 0;
	if (data)
		lept_free(data);
	return ret;
}

static void pages_release(struct pages *p)
{
	pixDestroy(&p->page);
	pixaDestroy(&p->pixa);
	bmfDestroy(&p->font);
	bmfDestroy(&p->big);
}

static int render_pdf(json_t *cert, const char *sighex, struct cv_buf *out,
		      struct cv_error *err)
{
	struct pages p;
	json_t *a = json_object_get(cert, "ahima"),
	       *ni = json_object_get(cert, "nist_sp800_88"),
	       *b = json_object_get(cert, "destruction_batch"), *recs, *r;
	char line[400];
	size_t i, k;
	int ret;

	ret = pages_begin(&p, err);
	if (ret < 0)
		goto cleanup;
	put_line(&p, "CERTIFICATE OF DESTRUCTION", 1, 0);
	snprintf(line, sizeof(line), "Facility: %s", str(a, "facility"));
	put_line(&p, line, 0, 0);
	snprintf(line, sizeof(line),
		 "Destruction batch %lld    Date of destruction: %s",
		 (long long)json_integer_value(json_object_get(b, "id")),
		 str(a, "date_of_destruction"));
	put_line(&p, line, 0, 0);
	p.y += 20;
	put_para(&p, str(a, "statement"), 100, 0);
	p.y += 20;
	snprintf(line, sizeof(line),
		 "Records: %lld destroyed, %lld retained; "
		 "inclusive dates %s to %s",
		 (long long)json_integer_value(json_object_get(
			 json_object_get(cert, "counts"), "records_destroyed")),
		 (long long)json_integer_value(json_object_get(
			 json_object_get(cert, "counts"), "records_retained")),
		 str(a, "inclusive_dates_from"), str(a, "inclusive_dates_to"));
	put_line(&p, line, 0, 0);
	snprintf(line, sizeof(line), "Method of destruction: %s",
		 str(a, "method_of_destruction"));
	put_line(&p, line, 0, 0);
	snprintf(line, sizeof(line), "Proposed by: %s (%s)",
		 str(b, "proposed_by"), str(b, "proposed_at"));
	put_line(&p, line, 0, 0);
	snprintf(line, sizeof(line), "Witness / approver: %s (%s)",
		 str(a, "witness_approver"), str(b, "approved_at"));
	put_line(&p, line, 0, 0);
	snprintf(line, sizeof(line), "Destroyed by: %s (started %s)",
		 str(a, "destroyed_by"), str(b, "started_at"));
	put_line(&p, line, 0, 0);
	snprintf(line, sizeof(line), "Department manager: %s",
		 str(a, "department_manager"));
	put_line(&p, line, 0, 0);
	p.y += 20;
	put_line(&p, "NIST SP 800-88 sanitization", 1, 0);
	snprintf(line, sizeof(line), "Method type: %s    Technique: %s",
		 str(ni, "sanitization_method"),
		 str(ni, "sanitization_technique"));
	put_line(&p, line, 0, 0);
	snprintf(line, sizeof(line), "Tool: %s, %s", str(ni, "tool_used"),
		 str(ni, "tool_cryptographic_library"));
	put_line(&p, line, 0, 0);
	snprintf(line, sizeof(line),
		 "Data backed up: %s    No backup holds the keys after: %s",
		 str(ni, "data_backed_up"),
		 str(ni, "no_backup_holds_keys_after"));
	put_line(&p, line, 0, 0);
	put_para(&p, str(ni, "technique_detail"), 100, 0);
	snprintf(line, sizeof(line), "Verification: %s",
		 str(ni, "verification_method"));
	put_para(&p, line, 100, 0);
	p.y += 20;
	put_line(&p, "Records destroyed", 1, 0);
	put_line(
		&p,
		"document  MRN           type         dates                    rule@version",
		0, 0);
	recs = json_object_get(cert, "records");
	for (i = 0; i < json_array_size(recs); i++) {
		json_t *objs;

		r = json_array_get(recs, i);
		snprintf(line, sizeof(line),
			 "%-9lld %-13.13s %-12.12s %s..%s  %s@%lld",
			 (long long)json_integer_value(
				 json_object_get(r, "document_id")),
			 str(r, "mrn"), str(r, "document_type"),
			 str(r, "dates_from"), str(r, "dates_to"),
			 str(r, "rule"),
			 (long long)json_integer_value(
				 json_object_get(r, "rule_version")));
		put_line(&p, line, 0, 0);
		objs = json_object_get(r, "objects");
		for (k = 0; k < json_array_size(objs); k++) {
			json_t *o = json_array_get(objs, k);

			snprintf(line, sizeof(line),
				 "%-8s %.16s...  KEK %s  key %s  %s",
				 str(o, "kind"), str(o, "object_id"),
				 str(o, "kek_id"),
				 str(o, "data_key_fingerprint"),
				 str(o, "outcome"));
			put_line(&p, line, 0, 60);
		}
	}
	recs = json_object_get(cert, "retained");
	if (json_array_size(recs)) {
		p.y += 20;
		put_line(&p, "Records retained (not destroyed)", 1, 0);
		for (i = 0; i < json_array_size(recs); i++) {
			r = json_array_get(recs, i);
			snprintf(line, sizeof(line),
				 "%-9lld %-13.13s %-12.12s %s: %s",
				 (long long)json_integer_value(
					 json_object_get(r, "document_id")),
				 str(r, "mrn"), str(r, "document_type"),
				 str(r, "state"), str(r, "reason"));
			put_line(&p, line, 0, 0);
		}
	}
	put_signature(&p, cert, sighex);
	put_para(
		&p,
		"This page renders the signed JSON certificate; the JSON file is the record. Check it with: chartvault certificate verify FILE.json",
		100, 0);
	p.y += 40;
	put_line(
		&p,
		"Signed (department manager): ______________________   Date: __________",
		0, 0);
	ret = pages_write(&p, "Certificate of destruction", out, err);
cleanup:
	pages_release(&p);
	return ret;
}

static int render_paper_pdf(json_t *cert, const char *sighex,
			    struct cv_buf *out, struct cv_error *err);

/* Render the certificate cert (signed sighex) and write it at path. */
static int write_pdf(json_t *cert, const char *sighex, int paper,
		     const char *path, struct cv_error *err)
{
	struct cv_buf pdf = CV_BUF_INIT;
	int ret;

	ret = paper ? render_paper_pdf(cert, sighex, &pdf, err)
		    : render_pdf(cert, sighex, &pdf, err);
	if (ret == 0)
		ret = cv_fs_write_atomic(path, pdf.buf, pdf.len, 0640, 0, err);
	cv_buf_release(&pdf);
	return ret;
}

/* Write the JSON and the PDF under <archive>/certificates/. */
static int write_files(const struct cv_compliance_ctx *c, const char *stem,
		       const char *text, json_t *cert, const uint8_t sig[64],
		       char **json_path, char **pdf_path, struct cv_error *err)
{
	char *dir = cv_path_join(c->archive_dir, "certificates"), *name;
	char sighex[129];
	int ret;

	*json_path = *pdf_path = NULL;
	ret = cv_fs_mkdirs(dir, 0750, err);
	if (ret < 0)
		goto cleanup;
	name = cv_asprintf("%s.json", stem);
	*json_path = cv_path_join(dir, name);
	free(name);
	name = cv_asprintf("%s.pdf", stem);
	*pdf_path = cv_path_join(dir, name);
	free(name);
	ret = cv_fs_write_atomic(*json_path, text, strlen(text), 0640, 0, err);
	hex(sighex, sig, 64);
	if (ret == 0)
		ret = write_pdf(cert, sighex, 0, *pdf_path, err);
cleanup:
	free(dir);
	return ret;
}

int cv_compliance_certificate_issue(const struct cv_compliance_ctx *c,
				    int64_t batch_id,
				    const struct cv_compliance_cert_opts *o,
				    char **json_path, char **pdf_path,
				    struct cv_error *err)
{
	struct cv_index_destroy_batch b;
	struct cv_index_destroy_item *items = NULL;
	struct cv_index_destroy_object *objs = NULL;
	size_t n = 0, nobjs = 0;
	uint8_t pub[32], sig[64];
	char *canon = NULL, *text = NULL, stem[64];
	json_t *cert = NULL;
	int ret;

	*json_path = *pdf_path = NULL;
	ret = cv_index_destroy_get(c->ix, batch_id, &b, &items, &n, err);
	if (ret == 0)
		ret = cv_index_destroy_objects(c->ix, batch_id, 0, &objs,
					       &nobjs, err);
	if (ret < 0)
		goto cleanup;
	cv_archive_public_key(c->keys, pub);
	cert = build(c, &b, items, n, objs, nobjs, o, pub);
	canon = json_dumps(cert, CANON_FLAGS);
	if (!canon) {
		ret = cv_error_set(err, CV_ERROR,
				   "could not serialise the certificate");
		goto cleanup;
	}
	ret = cv_archive_sign_document(c->keys, canon, strlen(canon), sig, err);
	if (ret < 0)
		goto cleanup;
	text = file_text(canon, sig, pub);
	ret = cv_index_destroy_finish(c->ix, batch_id, text, sig, c->actor,
				      err);
	if (ret < 0)
		goto cleanup;
	snprintf(stem, sizeof(stem), "destruction-%" PRId64, batch_id);
	ret = write_files(c, stem, text, cert, sig, json_path, pdf_path, err);
	if (ret < 0)
		cv_error_hint(
			err,
			"the certificate is recorded with the batch: 'chartvault certificate show %" PRId64
			" -o FILE.json --pdf FILE.pdf' writes it again",
			batch_id);
cleanup:
	json_decref(cert);
	free(canon);
	free(text);
	free(items);
	free(objs);
	return ret;
}

/* ---------------------------------------------------------------------
 * Paper originals
 */

static const char PAPER_STATEMENT[] =
	"The paper originals of the scan batch below were destroyed in the "
	"normal course of business after their images were archived, passed "
	"quality assurance (signed off), were proven intact by a fixity check, "
	"and the waiting period had passed. No document of the batch was under "
	"a legal hold or an open exception. The boxes, folders and sheets "
	"destroyed were counted and reconciled against the batch's records.";

static json_t *paper_json(const struct cv_index_paper_counts *pc,
			  const struct cv_compliance_paper_opts *o,
			  const uint8_t pub[32])
{
	json_t *cert = json_object(), *a = json_object(), *n = json_object(),
	       *bt = json_object(), *cnt = json_object();
	char now[40], pubhex[65], series[320];

	cv_utc_now(now, sizeof(now));
	hex(pubhex, pub, 32);
	snprintf(series, sizeof(series),
		 "scan batch '%.200s': %" PRId64 " file(s), %" PRId64
		 " document(s)",
		 pc->name, pc->files, pc->documents);
	json_object_set_new(cert, "type",
			    json_string("certificate-of-paper-destruction"));
	json_object_set_new(cert, "format", json_integer(CERT_FORMAT));
	json_object_set_new(cert, "issued_at", json_string(now));
	json_object_set_new(cert, "archive_public_key", json_string(pubhex));

	json_object_set_new(bt, "id", json_integer(pc->batch_id));
	json_object_set_new(bt, "name", json_string(pc->name));
	json_object_set_new(bt, "signed_off_by", json_string(pc->signed_by));
	json_object_set_new(bt, "signed_off_at", json_string(pc->signed_at));
	json_object_set_new(bt, "waiting_period_days",
			    json_integer(o->wait_days));
	json_object_set_new(bt, "days_since_signoff",
			    json_integer(pc->days_since_signoff));
	json_object_set_new(cert, "scan_batch", bt);

	json_object_set_new(a, "facility", json_string(o->facility));
	json_object_set_new(a, "statement", json_string(PAPER_STATEMENT));
	json_object_set_new(a, "date_of_destruction", json_string(now));
	json_object_set_new(a, "records_series", json_string(series));
	json_object_set_new(a, "inclusive_dates_from",
			    json_string(pc->dates_from));
	json_object_set_new(a, "inclusive_dates_to", json_string(pc->dates_to));
	json_object_set_new(a, "method_of_destruction", json_string(o->method));
	json_object_set_new(a, "destroyed_by", json_string(o->vendor));
	json_object_set_new(a, "witness_approver", json_string(o->witness));
	json_object_set_new(a, "department_manager", json_string(o->manager));
	json_object_set_new(a, "recorded_by", json_string(o->recorded_by));
	json_object_set_new(cert, "ahima", a);

	json_object_set_new(n, "media_type", json_string("paper (hard copy)"));
	json_object_set_new(n, "sanitization_method", json_string("Destroy"));
	json_object_set_new(n, "sanitization_technique",
			    json_string(o->method));
	json_object_set_new(n, "tool_used", json_string(o->vendor));
	json_object_set_new(n, "verification_method",
			    json_string("counts of boxes, folders and sheets "
					"reconciled against the index; "
					"destruction witnessed"));
	json_object_set_new(n, "witness", json_string(o->witness));
	json_object_set_new(cert, "nist_sp800_88", n);

	json_object_set_new(cnt, "boxes", json_integer(o->boxes));
	json_object_set_new(cnt, "folders", json_integer(o->folders));
	json_object_set_new(cnt, "sheets", json_integer(o->sheets));
	json_object_set_new(cnt, "boxes_in_index", json_integer(pc->boxes));
	json_object_set_new(cnt, "folders_in_index", json_integer(pc->folders));
	json_object_set_new(cnt, "sheets_in_index",
			    json_integer(pc->sheets_scanned));
	json_object_set_new(cnt, "files", json_integer(pc->files));
	json_object_set_new(cnt, "documents", json_integer(pc->documents));
	json_object_set_new(cnt, "reconciled", json_true());
	json_object_set_new(cert, "counts", cnt);
	return cert;
}

static int render_paper_pdf(json_t *cert, const char *sighex,
			    struct cv_buf *out, struct cv_error *err)
{
	json_t *a = json_object_get(cert, "ahima"),
	       *bt = json_object_get(cert, "scan_batch"),
	       *cnt = json_object_get(cert, "counts");
	struct pages p;
	char line[400];
	int ret;

	ret = pages_begin(&p, err);
	if (ret < 0)
		goto cleanup;
	put_line(&p, "CERTIFICATE OF DESTRUCTION - PAPER ORIGINALS", 1, 0);
	snprintf(line, sizeof(line), "Facility: %s", str(a, "facility"));
	put_line(&p, line, 0, 0);
	snprintf(line, sizeof(line), "Date of destruction: %s",
		 str(a, "date_of_destruction"));
	put_line(&p, line, 0, 0);
	p.y += 20;
	put_para(&p, str(a, "statement"), 100, 0);
	p.y += 20;
	snprintf(line, sizeof(line), "Records series: %s",
		 str(a, "records_series"));
	put_line(&p, line, 0, 0);
	snprintf(line, sizeof(line), "Inclusive dates: %s to %s",
		 str(a, "inclusive_dates_from"), str(a, "inclusive_dates_to"));
	put_line(&p, line, 0, 0);
	snprintf(
		line, sizeof(line),
		"Boxes %lld, folders %lld, sheets %lld (index: %lld, %lld, %lld)",
		(long long)json_integer_value(json_object_get(cnt, "boxes")),
		(long long)json_integer_value(json_object_get(cnt, "folders")),
		(long long)json_integer_value(json_object_get(cnt, "sheets")),
		(long long)json_integer_value(
			json_object_get(cnt, "boxes_in_index")),
		(long long)json_integer_value(
			json_object_get(cnt, "folders_in_index")),
		(long long)json_integer_value(
			json_object_get(cnt, "sheets_in_index")));
	put_line(&p, line, 0, 0);
	snprintf(line, sizeof(line),
		 "QA signed off by %s at %s; waited %lld day(s)",
		 str(bt, "signed_off_by"), str(bt, "signed_off_at"),
		 (long long)json_integer_value(
			 json_object_get(bt, "days_since_signoff")));
	put_line(&p, line, 0, 0);
	snprintf(line, sizeof(line), "Method of destruction: %s",
		 str(a, "method_of_destruction"));
	put_line(&p, line, 0, 0);
	snprintf(line, sizeof(line), "Destroyed by (vendor): %s",
		 str(a, "destroyed_by"));
	put_line(&p, line, 0, 0);
	snprintf(line, sizeof(line), "Witness: %s", str(a, "witness_approver"));
	put_line(&p, line, 0, 0);
	snprintf(line, sizeof(line), "Department manager: %s",
		 str(a, "department_manager"));
	put_line(&p, line, 0, 0);
	put_signature(&p, cert, sighex);
	p.y += 40;
	put_line(&p,
		 "Signed (witness): ______________________   Date: __________",
		 0, 0);
	ret = pages_write(&p, "Certificate of paper destruction", out, err);
cleanup:
	pages_release(&p);
	return ret;
}

int cv_compliance_paper_certificate_issue(
	const struct cv_compliance_ctx *c,
	const struct cv_index_paper_counts *pc,
	const struct cv_compliance_paper_opts *o, char **json_path,
	char **pdf_path, struct cv_error *err)
{
	char *canon = NULL, *text = NULL, *dir = NULL, *name, sighex[129];
	uint8_t pub[32], sig[64];
	json_t *cert;
	int64_t paper_id;
	int ret;

	*json_path = *pdf_path = NULL;
	cv_archive_public_key(c->keys, pub);
	cert = paper_json(pc, o, pub);
	canon = json_dumps(cert, CANON_FLAGS);
	if (!canon) {
		ret = cv_error_set(err, CV_ERROR,
				   "could not serialise the certificate");
		goto cleanup;
	}
	ret = cv_archive_sign_document(c->keys, canon, strlen(canon), sig, err);
	if (ret < 0)
		goto cleanup;
	text = file_text(canon, sig, pub);
	ret = cv_index_paper_record(c->ix, pc->batch_id, o->method, o->vendor,
				    o->witness, o->boxes, o->folders, o->sheets,
				    text, sig, c->actor, &paper_id, err);
	if (ret < 0)
		goto cleanup;
	dir = cv_path_join(c->archive_dir, "certificates");
	ret = cv_fs_mkdirs(dir, 0750, err);
	if (ret < 0)
		goto cleanup;
	name = cv_asprintf("paper-%" PRId64 ".json", pc->batch_id);
	*json_path = cv_path_join(dir, name);
	free(name);
	name = cv_asprintf("paper-%" PRId64 ".pdf", pc->batch_id);
	*pdf_path = cv_path_join(dir, name);
	free(name);
	ret = cv_fs_write_atomic(*json_path, text, strlen(text), 0640, 0, err);
	hex(sighex, sig, 64);
	if (ret == 0)
		ret = write_pdf(cert, sighex, 1, *pdf_path, err);
cleanup:
	json_decref(cert);
	free(canon);
	free(text);
	free(dir);
	return ret;
}

/* ---------------------------------------------------------------------
 * Executing a batch: the archive destroys, this module certifies.
 */

int cv_compliance_destroy_execute(const struct cv_compliance_ctx *cx,
				  int64_t batch_id,
				  const struct cv_compliance_cert_opts *o,
				  cv_compliance_progress_fn fn, void *fn_ctx,
				  struct cv_archive_destroy_report *rep,
				  char **json_path, char **pdf_path,
				  struct cv_error *err)
{
	int ret;

	*json_path = *pdf_path = NULL;
	if (!o->facility || !*o->facility || !o->manager || !*o->manager)
		return cv_error_set(
			err, CV_EINVAL,
			"the certificate needs the facility and the department manager");
	ret = cv_archive_destroy_execute(cx->ar, batch_id, cx->actor, fn,
					 fn_ctx, rep, err);
	if (ret == 0)
		ret = cv_compliance_certificate_issue(cx, batch_id, o,
						      json_path, pdf_path, err);
	return ret;
}

/* ---------------------------------------------------------------------
 * Verification
 */

struct problems {
	char **list;
	size_t n, cap;
};

static void problem(struct problems *p, const char *fmt, ...) CV_PRINTF(2, 3);

static void problem(struct problems *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 8;
		p->list = cv_realloc(p->list, p->cap * sizeof(*p->list));
	}
	p->list[p->n++] = cv_strdup(msg);
}

static int hex_field(uint8_t *out, size_t n, json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && strlen(s) == 2 * n && cv_hex_decode(out, n, s) == 0 ? 0
									: -1;
}

static void check_audit(const struct cv_compliance_ctx *c, struct problems *p,
			const char *action, const char *type, const char *id,
			const char *what)
{
	struct cv_error err = CV_ERROR_INIT;
	int64_t n = 0;

	if (cv_index_audit_count(c->ix, action, type, id, "ok", &n, &err) < 0)
		problem(p, "%s: could not read the audit trail: %s", what,
			err.msg);
	else if (n == 0)
		problem(p, "%s: the audit trail has no '%s' event for it", what,
			action);
}

static void check_record(const struct cv_compliance_ctx *c, struct problems *p,
			 json_t *r, int64_t batch_id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_destroy_item ghost;
	struct cv_index_document doc;
	struct cv_index_doc_page *pages = NULL;
	json_t *objs = json_object_get(r, "objects");
	int64_t doc_id = json_integer_value(json_object_get(r, "document_id")),
		gb = 0;
	char did[24], what[64];
	size_t np = 0, i;
	int ret;

	snprintf(did, sizeof(did), "%" PRId64, doc_id);
	snprintf(what, sizeof(what), "record %s", did);
	ret = cv_index_document_get(c->ix, doc_id, &doc, &pages, &np, &err);
	free(pages);
	if (ret == 0)
		problem(p, "%s: the document is still in the index", what);
	ret = cv_index_destroy_ghost(c->ix, doc_id, &ghost, &gb, &err);
	if (ret < 0 || gb != batch_id)
		problem(p,
			"%s: no ghost row names it destroyed by batch %" PRId64,
			what, batch_id);
	else if (strcmp(ghost.mrn, str(r, "mrn")) ||
		 strcmp(ghost.doc_type, str(r, "document_type")) ||
		 strcmp(ghost.rule_id, str(r, "rule")))
		problem(p, "%s: its ghost row differs from the certificate",
			what);
	check_audit(c, p, "record.destroy", "document", did, what);
	for (i = 0; i < json_array_size(objs); i++) {
		json_t *o = json_array_get(objs, i);
		struct cv_archive_object_state st;
		uint8_t id[32];
		char idhex[65], ow[96];

		if (hex_field(id, 32, o, "object_id") < 0) {
			problem(p, "%s: object %zu has a malformed id", what,
				i);
			continue;
		}
		cv_hex_encode(idhex, id, 32);
		snprintf(ow, sizeof(ow), "object %s", idhex);
		if (strcmp(str(o, "outcome"), "erased"))
			continue; /* kept: another record still uses it */
		if (cv_archive_object_state(c->ar, id, &st, &err) < 0) {
			problem(p, "%s: could not check it: %s", ow, err.msg);
			continue;
		}
		if (!st.known)
			problem(p, "%s: the catalogue has no row for it", ow);
		else if (!st.key_destroyed)
			problem(p,
				"%s: its wrapped data key is still in the index: it can be unwrapped",
				ow);
		if (st.files_present)
			problem(p,
				"%s: %d file(s) of it are still in the store",
				ow, st.files_present);
		check_audit(c, p, "object.erase", "object", idhex, ow);
	}
}

/* A paper certificate: as issued, recorded, and its events audited. */
static void verify_paper(const struct cv_compliance_ctx *c, struct problems *p,
			 json_t *cert, const char *data, size_t len)
{
	struct cv_error err = CV_ERROR_INIT;
	int64_t batch_id = json_integer_value(
		json_object_get(json_object_get(cert, "scan_batch"), "id"));
	char *stored = NULL, bid[24];
	uint8_t sig[64];

	snprintf(bid, sizeof(bid), "%" PRId64, batch_id);
	if (cv_index_paper_certificate(c->ix, batch_id, &stored, sig, &err) < 0)
		problem(p, "batch %s: %s", bid, err.msg);
	else if (strlen(stored) != len || memcmp(stored, data, len))
		problem(p,
			"the certificate differs from the one recorded for batch %s",
			bid);
	free(stored);
	check_audit(c, p, "batch.signoff", "batch", bid,
		    "the batch's QA sign-off");
	check_audit(c, p, "paper.destroy", "batch", bid,
		    "the paper's destruction");
}

/* A destruction certificate: as recorded, its events, its records gone. */
static void verify_destruction(const struct cv_compliance_ctx *c,
			       struct problems *p, json_t *cert,
			       const char *data, size_t len, int64_t batch_id)
{
	struct cv_error err = CV_ERROR_INIT;
	json_t *recs = json_object_get(cert, "records");
	char *stored = NULL, bid[24];
	uint8_t dbsig[64];
	size_t i;

	if (cv_index_destroy_certificate(c->ix, batch_id, &stored, dbsig,
					 &err) < 0)
		problem(p, "destruction batch %" PRId64 ": %s", batch_id,
			err.msg);
	else if (strlen(stored) != len || memcmp(stored, data, len))
		problem(p,
			"the certificate differs from the one recorded for destruction batch %" PRId64,
			batch_id);
	free(stored);
	snprintf(bid, sizeof(bid), "%" PRId64, batch_id);
	check_audit(c, p, "destroy.approve", "destruction_batch", bid,
		    "the batch's approval");
	check_audit(c, p, "destroy.execute", "destruction_batch", bid,
		    "the batch's execution");
	for (i = 0; i < json_array_size(recs); i++)
		check_record(c, p, json_array_get(recs, i), batch_id);
}

int cv_compliance_certificate_verify(const struct cv_compliance_ctx *cx,
				     const char *name, const char *data,
				     size_t len,
				     struct cv_compliance_cert_check *chk,
				     struct cv_error *err)
{
	struct cv_error verr = CV_ERROR_INIT;
	struct problems p = { NULL, 0, 0 };
	json_t *root = NULL, *cert = NULL, *sigo;
	json_error_t jerr;
	char *canon = NULL, *again = NULL;
	uint8_t pub[32], mine[32], sig[64];

	(void)err; /* every finding is a problem; reading cannot fail here */
	memset(chk, 0, sizeof(*chk));
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		problem(&p, "'%s' is not JSON: line %d, column %d: %s", name,
			jerr.line, jerr.column, jerr.text);
		goto report;
	}
	again = json_dumps(root, CANON_FLAGS);
	if (!again || len == 0 || strlen(again) + 1 != len ||
	    memcmp(again, data, len - 1) || data[len - 1] != '\n') {
		size_t at = 0;

		while (again && at < len && again[at] && again[at] == data[at])
			at++;
		problem(&p,
			"'%s' was changed: it is not in the canonical form it was issued in (first difference at byte %zu)",
			name, at);
	}
	cert = json_object_get(root, "certificate");
	sigo = json_object_get(root, "signature");
	if (!json_is_object(cert) || !json_is_object(sigo) ||
	    hex_field(pub, 32, sigo, "public_key") < 0 ||
	    hex_field(sig, 64, sigo, "value") < 0 ||
	    strcmp(str(sigo, "algorithm"), "Ed25519")) {
		problem(&p,
			"'%s' is not a chartvault certificate (no certificate and Ed25519 signature)",
			name);
		goto report;
	}
	canon = json_dumps(cert, CANON_FLAGS);
	if (!canon || cv_archive_verify_document(pub, canon, strlen(canon), sig,
						 &verr) < 0)
		problem(&p,
			"the signature does not verify: the certificate's content was changed after it was signed");
	cv_archive_public_key(cx->keys, mine);
	if (memcmp(mine, pub, 32) ||
	    strcmp(str(cert, "archive_public_key"), str(sigo, "public_key")))
		problem(&p,
			"the certificate was not signed with this archive's key");
	if (!strcmp(str(cert, "type"), "certificate-of-paper-destruction")) {
		chk->paper = 1;
		chk->batch_id = json_integer_value(json_object_get(
			json_object_get(cert, "scan_batch"), "id"));
		verify_paper(cx, &p, cert, data, len);
		goto report;
	}
	if (strcmp(str(cert, "type"), "certificate-of-destruction")) {
		problem(&p, "'%s' is a certificate of an unknown type", name);
		goto report;
	}
	chk->batch_id = json_integer_value(json_object_get(
		json_object_get(cert, "destruction_batch"), "id"));
	chk->records = json_array_size(json_object_get(cert, "records"));
	verify_destruction(cx, &p, cert, data, len, chk->batch_id);
report:
	chk->problems = p.list;
	chk->nproblems = p.n;
	json_decref(root);
	free(canon);
	free(again);
	return 0;
}

void cv_compliance_cert_check_release(struct cv_compliance_cert_check *chk)
{
	size_t i;

	if (!chk)
		return;
	for (i = 0; i < chk->nproblems; i++)
		free(chk->problems[i]);
	free(chk->problems);
	chk->problems = NULL;
	chk->nproblems = 0;
}

/* ---------------------------------------------------------------------
 * Printing a recorded certificate again
 */

int cv_compliance_certificate_pdf(const char *text, struct cv_buf *out,
				  struct cv_error *err)
{
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr), *cert;
	const char *sighex;
	int ret;

	cert = json_object_get(root, "certificate");
	sighex = json_string_value(
		json_object_get(json_object_get(root, "signature"), "value"));
	if (!json_is_object(cert) || !sighex || strlen(sighex) != 128)
		ret = cv_error_set(err, CV_ERROR,
				   "the recorded certificate is malformed");
	else if (json_object_get(cert, "scan_batch"))
		ret = render_paper_pdf(cert, sighex, out, err);
	else
		ret = render_pdf(cert, sighex, out, err);
	json_decref(root);
	return ret;
}

int cv_compliance_certificate_pdf_file(const char *text, const char *path,
				       struct cv_error *err)
{
	struct cv_buf pdf = CV_BUF_INIT;
	int ret;

	ret = cv_compliance_certificate_pdf(text, &pdf, err);
	if (ret == 0)
		ret = cv_fs_write_atomic(path, pdf.buf, pdf.len, 0640, 0, err);
	cv_buf_release(&pdf);
	return ret;
}

/* ---------------------------------------------------------------------
 * The audit trail
 */

int cv_compliance_audit_verify(const struct cv_compliance_ctx *cx,
			       const char *checkpoint_file,
			       struct cv_archive_audit_report *rep,
			       struct cv_error *err)
{
	uint8_t pub[32];
	char detail[96];
	int ret;

	memset(rep, 0, sizeof(*rep));
	/* Rows from before the chain join it first (the append protocol). */
	ret = cv_index_audit_seal(cx->ix, err);
	if (ret < 0)
		return ret;
	cv_archive_public_key(cx->keys, pub);
	ret = cv_archive_audit_verify(cx->ix, pub, checkpoint_file, rep, err);
	if (ret < 0)
		return ret;
	snprintf(detail, sizeof(detail),
		 "rows %" PRId64 "; checkpoints %zu; problems %zu", rep->rows,
		 rep->checkpoints_ok, rep->total_problems);
	/* A check that cannot be put on record did not happen. */
	ret = cv_index_audit(cx->ix, cx->actor, "audit.verify", "audit_log",
			     NULL, detail,
			     rep->total_problems ? "tampered" : "ok", err);
	if (ret < 0)
		cv_archive_audit_report_release(rep);
	return ret;
}
