/*
 * End-to-end tests of documents' searchable PDFs (chartvault export) and
 * of the QA queue (chartvault qa list|show|accept|rescan|replace): the
 * real binary, a real PostgreSQL, real Tesseract on samples/, and
 * pdftotext reading the PDF back.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <leptonica/allheaders.h>
#include <libpq-fe.h>

#include "common/cv.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

static char *new_archive(const char *tag, char **dsn_out)
{
	char *base = cvt_tmpdir(tag), *dir = cv_path_join(base, "archive");
	struct cvt_run r;

	*dsn_out = cvt_pg_createdb(&cvt_shared_pg);
	CV(&r, "init", dir, "--db", *dsn_out);
	cvt_expect_status(&r, 0, "init --db");
	cvt_run_release(&r);
	cvt_import_patients(dir, NULL);
	free(base);
	return dir;
}

static void remove_archive(char *dir)
{
	char *base = cv_strndup(dir, strlen(dir) - strlen("/archive"));

	cvt_rmrf(base);
	free(base);
	free(dir);
}

static char *pdftotext(const char *pdf)
{
	const char *argv[] = { "pdftotext", "-enc", "UTF-8", pdf, "-", NULL };
	struct cvt_run r;
	char *text;

	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, 0, "pdftotext");
	text = cv_buf_detach(&r.out, NULL);
	cvt_run_release(&r);
	return text;
}

static long long count(const char *dsn, const char *fmt, long long a)
{
	char *sql = cv_asprintf(fmt, a);
	long long v = cvt_sql_count(dsn, sql);

	free(sql);
	return v;
}

static json_int_t int_field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

/*
 * The previews ingest made of page (page_previews): how many of the two
 * widths (1400 and 120) are recorded, stored as "preview" objects whose
 * keys are there. With dir, the 1400 one is read back through the
 * archive and must be a 1400-pixel-wide PNG of the page.
 */
static long long previews_of(const char *dsn, const char *dir, long long page)
{
	long long n =
		count(dsn,
		      "SELECT count(*) FROM page_previews v"
		      " JOIN objects o ON o.id = v.object_id"
		      " WHERE v.page_id = %lld AND v.width IN (120, 1400)"
		      " AND o.kind = 'preview' AND o.wrapped_key IS NOT NULL",
		      page);

	if (dir) {
		char *q = cv_asprintf("SELECT encode(object_id, 'hex')"
				      " FROM page_previews WHERE page_id = %lld"
				      " AND width = 1400",
				      page);
		char *hex = cvt_sql_text(dsn, q);
		char *out = cv_path_join(dir, "preview.png");
		struct cvt_run r;
		struct Pix *pix;

		CV(&r, "-C", dir, "archive", "get", hex, "-o", out);
		cvt_expect_status(&r, 0, "archive get of a preview");
		cvt_run_release(&r);
		pix = pixRead(out);
		ck_assert_msg(pix != NULL, "preview of page %lld is no image",
			      page);
		ck_assert_int_eq(pixGetWidth(pix), 1400);
		ck_assert_int_eq(pixGetDepth(pix), 8);
		pixDestroy(&pix);
		unlink(out);
		free(out);
		free(hex);
		free(q);
	}
	return n;
}

/* Ingest one folder; its report as JSON. */
static json_t *ingest(const char *dir, const char *batch, const char *path)
{
	struct cvt_run r;
	json_t *rep;

	CV(&r, "-C", dir, "ingest", "--json", "--batch", batch, path);
	cvt_expect_status(&r, 0, "ingest");
	rep = cvt_parse_json(&r);
	cvt_run_release(&r);
	return rep;
}

/*
 * A document made by ingest has a PDF in the archive; export writes it
 * mode 0600, pdftotext finds the page's words in it, an existing file is
 * not overwritten, and every export is audited with its request.
 */
START_TEST(test_qa_export_writes_searchable_pdf)
{
	char *dsn, *dir = new_archive("export", &dsn);
	char *base = cvt_tmpdir("export-out");
	char *batch = cv_path_join(base, "batch");
	char *pdf = cv_path_join(base, "doc.pdf");
	char *src = cvt_srcpath("samples/batch/scan-0001.png");
	char *cmd = cv_asprintf("%s/scan-0001.png", batch);
	struct cvt_run r;
	struct stat st;
	json_t *rep, *docs;
	char *text;
	long long doc;

	ck_assert_int_eq(mkdir(batch, 0700), 0);
	{
		const char *argv[] = { "cp", src, cmd, NULL };

		cvt_run(&r, argv, NULL, NULL);
		cvt_expect_status(&r, 0, "cp");
		cvt_run_release(&r);
	}
	rep = ingest(dir, "export", batch);
	docs = json_object_get(rep, "documents");
	ck_assert_int_eq(json_array_size(docs), 1);
	doc = int_field(json_array_get(docs, 0), "id");
	ck_assert_int_eq(int_field(json_object_get(rep, "counts"), "pdfs_made"),
			 1);
	json_decref(rep);
	/* Made with the document, stored encrypted, referenced from it. */
	ck_assert_int_eq(count(dsn,
			       "SELECT count(*) FROM documents d JOIN objects o"
			       " ON o.id = d.pdf_object WHERE d.id = %lld"
			       " AND o.kind = 'pdf'",
			       doc),
			 1);
	/* And each page's previews, made with it (ingest/pdf.c). */
	ck_assert_int_eq(previews_of(dsn, dir,
				     count(dsn,
					   "SELECT min(id) FROM pages"
					   " WHERE document_id = %lld",
					   doc)),
			 2);

	{
		char *id = cv_asprintf("%lld", doc);

		CV(&r, "-C", dir, "export", id, "-o", pdf, "--request",
		   "ROI-2025-0042", "--json");
		cvt_expect_status(&r, 0, "export");
		cvt_run_release(&r);
		ck_assert_int_eq(stat(pdf, &st), 0);
		ck_assert_int_eq(st.st_mode & 0777, 0600);
		text = pdftotext(pdf);
		ck_assert_msg(strstr(text, "gallbladder") &&
				      strstr(text, "RADIOLOGY REPORT") &&
				      strstr(text, "Murphy"),
			      "pdftotext found: %.2000s", text);
		free(text);

		/* Never over an existing file, unless asked. */
		CV(&r, "-C", dir, "export", id, "-o", pdf);
		cvt_expect_status(&r, 6, "export over an existing file");
		ck_assert(strstr(r.err.buf, "--force"));
		cvt_run_release(&r);
		CV(&r, "-C", dir, "export", id, "-o", pdf, "--force");
		cvt_expect_status(&r, 0, "export --force");
		cvt_run_release(&r);

		free(id);
	}
	CV(&r, "-C", dir, "export", "999", "-o", pdf, "--force");
	cvt_expect_status(&r, 5, "export of a document that does not exist");
	cvt_run_release(&r);
	CV(&r, "-C", dir, "export", "1", "-o", pdf, "--request", "a b");
	cvt_expect_status(&r, 2, "export with a malformed request");
	cvt_run_release(&r);
	ck_assert_int_eq(
		count(dsn,
		      "SELECT count(*) FROM audit_log WHERE action ="
		      " 'document.export' AND object_id = '%lld' AND outcome = 'ok'"
		      " AND detail LIKE '%%request ROI-2025-0042'",
		      doc),
		1);
	ck_assert_int_eq(cvt_sql_count(dsn,
				       "SELECT count(*) FROM audit_log WHERE"
				       " action = 'document.export'"),
			 4);

	free(cmd);
	free(src);
	free(pdf);
	free(batch);
	cvt_rmrf(base);
	free(base);
	free(dsn);
	remove_archive(dir);
}
END_TEST

/* A document whose rendition is missing gets one at export. */
START_TEST(test_qa_export_renders_a_missing_pdf)
{
	char *dsn, *dir = new_archive("export-missing", &dsn);
	char *base = cvt_tmpdir("export-missing-out");
	char *pdf = cv_path_join(base, "doc.pdf");
	char *src = cvt_srcpath("samples/batch/scan-0002.png");
	struct cvt_run r;
	json_t *rep, *j;
	char *text, *id;
	long long doc;

	rep = ingest(dir, "missing", src);
	doc = int_field(json_array_get(json_object_get(rep, "documents"), 0),
			"id");
	json_decref(rep);
	{
		PGconn *conn = PQconnectdb(dsn);
		PGresult *res;

		ck_assert(PQstatus(conn) == CONNECTION_OK);
		res = PQexec(conn, "UPDATE documents SET pdf_object = NULL");
		ck_assert(PQresultStatus(res) == PGRES_COMMAND_OK);
		PQclear(res);
		PQfinish(conn);
	}
	id = cv_asprintf("%lld", doc);
	CV(&r, "-C", dir, "export", id, "-o", pdf, "--json");
	cvt_expect_status(&r, 0, "export without a rendition");
	j = cvt_parse_json(&r);
	ck_assert(json_is_true(json_object_get(j, "rendered_now")));
	json_decref(j);
	cvt_run_release(&r);
	ck_assert_int_eq(count(dsn,
			       "SELECT count(*) FROM documents WHERE id = %lld"
			       " AND pdf_object IS NOT NULL",
			       doc),
			 1);
	/* The previews made at ingest are kept, not made twice. */
	ck_assert_int_eq(count(dsn,
			       "SELECT count(*) FROM page_previews v"
			       " JOIN pages p ON p.id = v.page_id"
			       " WHERE p.document_id = %lld",
			       doc),
			 2);

	/* Pages filed without previews (an archive from before them) get
	 * them from 'batch previews'; a second run finds nothing to do. */
	{
		PGconn *conn = PQconnectdb(dsn);
		PGresult *res;

		ck_assert(PQstatus(conn) == CONNECTION_OK);
		res = PQexec(conn, "DELETE FROM page_previews");
		ck_assert(PQresultStatus(res) == PGRES_COMMAND_OK);
		PQclear(res);
		PQfinish(conn);
	}
	CV(&r, "-C", dir, "batch", "previews", "missing", "--json");
	cvt_expect_status(&r, 0, "batch previews");
	j = cvt_parse_json(&r);
	ck_assert_int_eq(int_field(j, "pages"), 1);
	ck_assert_int_eq(int_field(j, "unreadable"), 0);
	json_decref(j);
	cvt_run_release(&r);
	ck_assert_int_eq(previews_of(dsn, dir,
				     count(dsn,
					   "SELECT min(id) FROM pages"
					   " WHERE document_id = %lld",
					   doc)),
			 2);
	CV(&r, "-C", dir, "batch", "previews", "--json");
	cvt_expect_status(&r, 0, "batch previews of every batch");
	j = cvt_parse_json(&r);
	ck_assert_int_eq(int_field(j, "pages"), 0);
	json_decref(j);
	cvt_run_release(&r);
	CV(&r, "-C", dir, "batch", "previews", "no-such-batch");
	cvt_expect_status(&r, 5, "batch previews of an unknown batch");
	cvt_run_release(&r);
	ck_assert_int_eq(cvt_sql_count(dsn,
				       "SELECT count(*) FROM audit_log WHERE"
				       " action = 'batch.previews'"
				       " AND outcome = 'ok'"),
			 2);
	text = pdftotext(pdf);
	ck_assert_msg(strstr(text, "Riverbend"), "%.2000s", text);
	free(text);
	free(id);
	free(src);
	free(pdf);
	cvt_rmrf(base);
	free(base);
	free(dsn);
	remove_archive(dir);
}
END_TEST

/* The sample page scanned at half the resolution: flagged low-resolution.
 */
static void write_low_res(const char *src, const char *dst)
{
	struct Pix *pix = pixRead(src), *half;

	ck_assert_msg(pix != NULL, "cannot read %s", src);
	half = pixScale(pix, 0.5f, 0.5f);
	ck_assert(half != NULL);
	pixSetResolution(half, 150, 150);
	ck_assert_int_eq(pixWrite(dst, half, IFF_PNG), 0);
	pixDestroy(&half);
	pixDestroy(&pix);
}

static json_t *qa_json(const char *dir, const char *verb, const char *arg)
{
	struct cvt_run r;
	json_t *j;

	if (arg)
		CV(&r, "-C", dir, "qa", verb, arg, "--json");
	else
		CV(&r, "-C", dir, "qa", verb, "--json");
	cvt_expect_status(&r, 0, verb);
	j = cvt_parse_json(&r);
	cvt_run_release(&r);
	return j;
}

/*
 * A flagged page waits in the QA queue; it is marked for rescan, and the
 * rescanned sheet takes its place in its document (same place), while
 * the old page keeps its rows and objects as history, out of the
 * document and of search. The batch still reconciles, the document's PDF
 * is made again from the rescan, and every step names who did it.
 */
START_TEST(test_qa_rescan_replaces_page_and_keeps_history)
{
	char *dsn, *dir = new_archive("qa", &dsn);
	char *base = cvt_tmpdir("qa-batch");
	char *batch = cv_path_join(base, "batch");
	char *low = cv_path_join(batch, "scan-0003-150dpi.png");
	char *rescan = cvt_srcpath("samples/batch/scan-0003.png");
	char *two_pages = cvt_srcpath("samples/batch/bundle-02.tif");
	char *pdf = cv_path_join(base, "after.pdf");
	char *page_id = NULL, *new_id = NULL, *doc_id = NULL, *text;
	struct cvt_run r;
	json_t *rep, *q, *p, *b;
	long long page, new_page, doc, old_text_objects;

	ck_assert_int_eq(mkdir(batch, 0700), 0);
	write_low_res(rescan, low);
	rep = ingest(dir, "qa-box-7", batch);
	ck_assert_int_eq(json_array_size(json_object_get(rep, "flagged")), 1);
	json_decref(rep);

	/* The queue: one page, flagged low-resolution, still open. */
	q = qa_json(dir, "list", NULL);
	ck_assert_int_eq(json_array_size(q), 1);
	p = json_array_get(q, 0);
	ck_assert(strstr(json_string_value(json_object_get(p, "flags")),
			 "low-resolution"));
	ck_assert_str_eq(json_string_value(json_object_get(p, "qa_state")),
			 "open");
	page = int_field(p, "page");
	doc = int_field(p, "document");
	ck_assert_int_eq(int_field(p, "seq"), 1);
	json_decref(q);
	page_id = cv_asprintf("%lld", page);
	doc_id = cv_asprintf("%lld", doc);
	CV(&r, "-C", dir, "qa", "list", "--batch", "no-such-batch");
	cvt_expect_status(&r, 5, "qa list of an unknown batch");
	cvt_run_release(&r);
	q = qa_json(dir, "list", NULL);
	json_decref(q);

	/* Not marked for rescan yet: refused, nothing ingested. */
	CV(&r, "-C", dir, "qa", "replace", page_id, rescan);
	cvt_expect_status(&r, 6, "replace before rescan");
	ck_assert(strstr(r.err.buf, "not marked for rescan"));
	cvt_run_release(&r);

	/* Accepted, then the clerk changes their mind: rescan. */
	CV(&r, "-C", dir, "qa", "accept", page_id);
	cvt_expect_status(&r, 0, "qa accept");
	cvt_run_release(&r);
	q = qa_json(dir, "list", NULL);
	ck_assert_int_eq(json_array_size(q), 0);
	json_decref(q);
	CV(&r, "-C", dir, "qa", "rescan", page_id, "--note",
	   "150 dpi; rescan at 300");
	cvt_expect_status(&r, 0, "qa rescan");
	cvt_run_release(&r);
	CV(&r, "-C", dir, "qa", "rescan", page_id, "--note", "two\nlines");
	cvt_expect_status(&r, 2, "a note with a line break");
	cvt_run_release(&r);
	p = qa_json(dir, "show", page_id);
	ck_assert_str_eq(json_string_value(json_object_get(p, "qa_state")),
			 "rescan");
	ck_assert_str_eq(json_string_value(json_object_get(p, "qa_note")),
			 "150 dpi; rescan at 300");
	ck_assert_ptr_nonnull(json_string_value(json_object_get(p, "qa_by")));
	json_decref(p);

	/* A rescan is one page. */
	CV(&r, "-C", dir, "qa", "replace", page_id, two_pages);
	cvt_expect_status(&r, 1, "replace with a two-page file");
	ck_assert(strstr(r.err.buf, "one page"));
	cvt_run_release(&r);

	old_text_objects = count(dsn,
				 "SELECT count(*) FROM pages p JOIN objects o"
				 " ON o.id IN (p.text_object, p.words_object,"
				 " p.image_object) WHERE p.id = %lld"
				 " AND o.wrapped_key IS NOT NULL",
				 page);
	ck_assert_int_eq(old_text_objects, 3);
	ck_assert_int_eq(previews_of(dsn, NULL, page), 2);

	CV(&r, "-C", dir, "qa", "replace", page_id, rescan, "--note",
	   "rescanned at 300 dpi", "--json");
	cvt_expect_status(&r, 0, "qa replace");
	p = cvt_parse_json(&r);
	cvt_run_release(&r);
	new_page = int_field(p, "page");
	ck_assert_int_ne(new_page, page);
	ck_assert_int_eq(int_field(p, "document"), doc);
	ck_assert_int_eq(int_field(p, "seq"), 1);
	ck_assert_int_eq(int_field(p, "replaces"), page);
	ck_assert_int_eq(int_field(p, "dpi"), 300);
	json_decref(p);
	new_id = cv_asprintf("%lld", new_page);

	/* The old page: out of its document, kept, marked replaced. */
	p = qa_json(dir, "show", page_id);
	ck_assert(json_is_null(json_object_get(p, "document")));
	ck_assert_int_eq(int_field(p, "superseded_by"), new_page);
	ck_assert_str_eq(json_string_value(json_object_get(p, "qa_state")),
			 "replaced");
	json_decref(p);
	ck_assert_int_eq(count(dsn,
			       "SELECT count(*) FROM pages p JOIN objects o"
			       " ON o.id IN (p.text_object, p.words_object,"
			       " p.image_object) WHERE p.id = %lld"
			       " AND o.wrapped_key IS NOT NULL",
			       page),
			 old_text_objects);
	ck_assert_int_eq(count(dsn,
			       "SELECT count(*) FROM page_replacements WHERE"
			       " old_page_id = %lld AND seq = 1"
			       " AND old_pdf_object IS NOT NULL",
			       page),
			 1);
	/* Its previews stay with it, like its other objects; the rescan
	 * has its own, made with the document's new PDF. */
	ck_assert_int_eq(previews_of(dsn, NULL, page), 2);
	ck_assert_int_eq(previews_of(dsn, dir, new_page), 2);
	ck_assert_int_eq(
		count(dsn,
		      "SELECT count(*) FROM page_previews a"
		      " JOIN page_previews b ON b.object_id = a.object_id"
		      " WHERE a.page_id = %lld AND b.page_id <> a.page_id",
		      new_page),
		0);
	q = qa_json(dir, "list", NULL);
	ck_assert_int_eq(json_array_size(q), 0);
	json_decref(q);
	q = qa_json(dir, "list", NULL);
	json_decref(q);
	CV(&r, "-C", dir, "qa", "list", "--all", "--json");
	cvt_expect_status(&r, 0, "qa list --all");
	q = cvt_parse_json(&r);
	cvt_run_release(&r);
	ck_assert_int_eq(json_array_size(q), 1);
	json_decref(q);

	/* The document holds the rescan, in the same place. */
	CV(&r, "-C", dir, "show", "--json", "--no-text", doc_id);
	cvt_expect_status(&r, 0, "show");
	p = cvt_parse_json(&r);
	cvt_run_release(&r);
	ck_assert_int_eq(json_array_size(json_object_get(p, "pages")), 1);
	ck_assert(strstr(json_string_value(json_object_get(
				 json_array_get(json_object_get(p, "pages"), 0),
				 "file")),
			 "samples/batch/scan-0003.png"));
	json_decref(p);

	/* Search finds the document by one page: the current one. */
	CV(&r, "-C", dir, "search", "--json", "pneumothorax");
	cvt_expect_status(&r, 0, "search");
	q = cvt_parse_json(&r);
	cvt_run_release(&r);
	ck_assert_int_eq(json_array_size(json_object_get(q, "results")), 1);
	ck_assert_int_eq(
		int_field(json_array_get(json_object_get(q, "results"), 0),
			  "matching_pages"),
		1);
	json_decref(q);
	ck_assert_int_eq(count(dsn,
			       "SELECT count(*) FROM pages WHERE document_id ="
			       " %lld",
			       doc),
			 1);

	/* The batch counts the rescan and the page it replaced. */
	CV(&r, "-C", dir, "batch", "show", "qa-box-7", "--json");
	cvt_expect_status(&r, 0, "batch show");
	b = cvt_parse_json(&r);
	cvt_run_release(&r);
	ck_assert(json_is_true(json_object_get(b, "reconciled")));
	ck_assert_int_eq(
		int_field(json_object_get(b, "counts"), "pages_received"), 2);
	ck_assert_int_eq(
		int_field(json_object_get(b, "counts"), "pages_superseded"), 1);
	ck_assert_int_eq(int_field(json_object_get(b, "counts"), "pages_filed"),
			 1);
	json_decref(b);

	/* The document's PDF was made again, from the rescan. */
	ck_assert_int_eq(
		count(dsn,
		      "SELECT count(*) FROM documents d"
		      " JOIN page_replacements r ON r.document_id = d.id"
		      " WHERE d.id = %lld AND d.pdf_object IS NOT NULL"
		      " AND d.pdf_object <> r.old_pdf_object",
		      doc),
		1);
	CV(&r, "-C", dir, "export", doc_id, "-o", pdf);
	cvt_expect_status(&r, 0, "export after the rescan");
	cvt_run_release(&r);
	text = pdftotext(pdf);
	ck_assert_msg(strstr(text, "pneumothorax"), "%.2000s", text);
	free(text);

	/* Previews are ordinary objects to verify: all authenticate, and
	 * nothing is left unaccounted for. */
	CV(&r, "-C", dir, "verify", "--full");
	cvt_expect_status(&r, 0, "verify --full after the rescan");
	cvt_run_release(&r);

	/* Once replaced, a page cannot be decided on or replaced again. */
	CV(&r, "-C", dir, "qa", "accept", page_id);
	cvt_expect_status(&r, 6, "accept a replaced page");
	ck_assert(strstr(r.err.buf, "was replaced by page"));
	cvt_run_release(&r);
	CV(&r, "-C", dir, "qa", "show", "999999");
	cvt_expect_status(&r, 5, "show a page that does not exist");
	cvt_run_release(&r);

	/* Who did what, and when: one audit row per decision. */
	ck_assert_int_eq(count(dsn,
			       "SELECT count(*) FROM audit_log WHERE"
			       " object_type = 'page' AND object_id = '%lld'"
			       " AND outcome = 'ok' AND actor <> '' AND action"
			       " IN ('page.qa.accept', 'page.qa.rescan',"
			       " 'page.qa.replace')",
			       page),
			 3);

	free(page_id);
	free(new_id);
	free(doc_id);
	free(pdf);
	free(two_pages);
	free(rescan);
	free(low);
	free(batch);
	cvt_rmrf(base);
	free(base);
	free(dsn);
	remove_archive(dir);
}
END_TEST

Suite *cv_qa_suite(void)
{
	Suite *s = suite_create("qa");
	TCase *tc = tcase_create("qa");

	tcase_set_tags(tc, "db ocr");
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_qa_export_writes_searchable_pdf);
	tcase_add_test(tc, test_qa_export_renders_a_missing_pdf);
	tcase_add_test(tc, test_qa_rescan_replaces_page_and_keeps_history);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return s;
}
