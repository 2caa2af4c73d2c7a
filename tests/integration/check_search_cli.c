/*
 * chartvault search end to end: the nine single-page scans of samples/
 * ingested with real Tesseract under a manifest that gives them their
 * patients, types and service dates (spread over three years), then
 * searched through the command as records staff would: snippets from the
 * decrypted text, abbreviations both ways, facets over every match,
 * filters and their errors, near spellings, the exception queue, the
 * site's own synonyms, and the audit trail.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/cv.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

static char *archive_dir;
static char *archive_dsn;
static char *batch_dir;

static void shell(const char *cmd, const char *what)
{
	const char *argv[] = { "sh", "-c", cmd, NULL };
	struct cvt_run r;

	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, 0, what);
	cvt_run_release(&r);
}

/*
 * The archive every test searches: made once for the case (OCR is the
 * cost), never changed by a test except where it says so and undoes it.
 */
static void ingest_once(void)
{
	static const char MANIFEST[] =
		"file,mrn,document_type,service_date\n"
		"scan-0001.png,90001234,18748-4,2023-03-02\n"
		"scan-0002.png,90003306,11506-3,2024-08-20\n"
		"scan-0003.png,90004451,11488-4,2025-10-02\n"
		"scan-0004.png,90004451,11488-4,2025-10-02\n"
		"scan-0005.png,90005097,11488-4,2025-11-12\n"
		"scan-0006.png,90005097,11488-4,2025-11-12\n"
		"scan-0007.png,90005097,11506-3,2025-11-13\n"
		"scan-0008.png,90005097,59284-0,2025-11-13\n"
		"scan-0009.png,90005097,10160-0,2025-11-15\n";
	char *base, *src, *cmd, *manifest;
	struct cvt_run r;
	FILE *f;

	cvt_shared_pg_setup();
	base = cvt_tmpdir("search-cli");
	archive_dir = cv_path_join(base, "archive");
	batch_dir = cv_path_join(base, "batch");
	archive_dsn = cvt_pg_createdb(&cvt_shared_pg);
	src = cvt_srcpath("samples/batch");
	cmd = cv_asprintf("mkdir -p %s && cp %s/scan-000?.png %s/", batch_dir,
			  src, batch_dir);
	shell(cmd, "the batch folder");
	free(cmd);
	manifest = cv_path_join(batch_dir, "manifest.csv");
	f = fopen(manifest, "w");
	ck_assert_ptr_nonnull(f);
	fputs(MANIFEST, f);
	fclose(f);
	CV(&r, "init", archive_dir, "--db", archive_dsn);
	cvt_expect_status(&r, 0, "init");
	cvt_run_release(&r);
	cvt_import_patients(archive_dir, NULL);
	CV(&r, "-C", archive_dir, "ingest", "--workers", "2", "--batch",
	   "search", "--manifest", manifest, batch_dir);
	cvt_expect_status(&r, 0, "ingest of the nine scans");
	cvt_run_release(&r);
	free(manifest);
	free(src);
	free(base);
}

static void teardown_once(void)
{
	free(archive_dir);
	free(archive_dsn);
	free(batch_dir);
	archive_dir = archive_dsn = batch_dir = NULL;
	cvt_shared_pg_teardown();
}

/* Run search with args (NULL-terminated), expecting exit status want. */
static json_t *search_json(const char *const *args, int want)
{
	const char *argv[24] = { "chartvault", "-C", archive_dir, "search",
				 "--json" };
	size_t n = 5, i;
	struct cvt_run r;
	json_t *v = NULL;

	for (i = 0; args[i] && n < 23; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, want, args[0]);
	if (want == 0)
		v = cvt_parse_json(&r);
	cvt_run_release(&r);
	return v;
}

/* The MRNs of the results, sorted and joined: "90004451,90004451". */
static char *mrns(json_t *res)
{
	json_t *arr = json_object_get(res, "results");
	size_t i, j, n = json_array_size(arr);
	const char **v = cv_calloc(n + 1, sizeof(*v));
	struct cv_buf b = CV_BUF_INIT;

	for (i = 0; i < n; i++)
		v[i] = json_string_value(
			json_object_get(json_array_get(arr, i), "mrn"));
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (v[i] && v[j] && strcmp(v[i], v[j]) > 0) {
				const char *t = v[i];

				v[i] = v[j];
				v[j] = t;
			}
	for (i = 0; i < n; i++)
		cv_buf_addf(&b, "%s%s", i ? "," : "", v[i] ? v[i] : "null");
	free(v);
	return cv_buf_detach(&b, NULL);
}

static long long facet_count(json_t *res, const char *kind, const char *key)
{
	json_t *arr = json_object_get(json_object_get(res, "facets"), kind);
	size_t i;

	for (i = 0; i < json_array_size(arr); i++) {
		json_t *f = json_array_get(arr, i),
		       *k = json_object_get(f, kind);
		char buf[32];

		if (json_is_integer(k))
			snprintf(buf, sizeof(buf), "%lld",
				 (long long)json_integer_value(k));
		else
			snprintf(buf, sizeof(buf), "%s",
				 json_string_value(k) ? json_string_value(k)
						      : "");
		if (strcmp(buf, key) == 0)
			return (long long)json_integer_value(
				json_object_get(f, "documents"));
	}
	return 0;
}

START_TEST(test_search_cli_snippets_and_facets)
{
	const char *q[] = { "ketoacidosis", NULL };
	json_t *res = search_json(q, 0), *hit;
	char *m = mrns(res);
	const char *snippet;

	/* the two consult pages (one document each under the manifest)
	 * and the progress note of DUMMERTON */
	ck_assert_str_eq(m, "90005097,90005097,90005097");
	ck_assert_int_eq(
		json_integer_value(json_object_get(res, "total_documents")), 3);
	ck_assert_int_eq(facet_count(res, "type", "11488-4"), 2);
	ck_assert_int_eq(facet_count(res, "type", "11506-3"), 1);
	ck_assert_int_eq(facet_count(res, "year", "2025"), 3);
	/* a handful of matches: counted and ranked exactly, and said so */
	ck_assert(json_is_false(json_object_get(res, "estimated")));
	ck_assert_int_eq(
		json_integer_value(json_object_get(res, "facets_sample")), 0);
	ck_assert(json_is_false(json_object_get(res, "ranked_in_sample")));
	ck_assert_int_eq(
		json_integer_value(json_object_get(res, "ranked_sample")), 0);
	ck_assert(json_is_integer(json_object_get(res, "ranked_sample")));
	hit = json_array_get(json_object_get(res, "results"), 0);
	snippet = json_string_value(json_object_get(hit, "snippet"));
	ck_assert_msg(snippet && strcasestr(snippet, "ketoacidosis"), "%s",
		      snippet);
	ck_assert_uint_ge(json_array_size(json_object_get(hit, "highlights")),
			  1);
	free(m);
	json_decref(res);
}
END_TEST

START_TEST(test_search_cli_synonyms)
{
	const char *dka[] = { "DKA", NULL },
		   *dka_off[] = { "--no-synonyms", "DKA", NULL },
		   *copd[] = { "\"chronic obstructive pulmonary disease\"",
			       NULL },
		   *copd_off[] = { "--no-synonyms",
				   "\"chronic obstructive pulmonary disease\"",
				   NULL };
	json_t *res;
	char *m;

	/* "DKA" is on no page: it finds diabetic ketoacidosis */
	res = search_json(dka, 0);
	m = mrns(res);
	ck_assert_str_eq(m, "90005097,90005097,90005097");
	free(m);
	json_decref(res);
	res = search_json(dka_off, 0);
	ck_assert_uint_eq(json_array_size(json_object_get(res, "results")), 0);
	json_decref(res);
	/* and the reverse: the words also find the page that only says
	 * "COPD" */
	res = search_json(copd, 0);
	m = mrns(res);
	ck_assert_str_eq(m, "90004451,90004451");
	free(m);
	json_decref(res);
	res = search_json(copd_off, 0);
	ck_assert_uint_eq(json_array_size(json_object_get(res, "results")), 1);
	json_decref(res);
}
END_TEST

START_TEST(test_search_cli_filters)
{
	const char *by_mrn[] = { "--mrn", "90004451", "pneumothorax", NULL },
		   *by_type[] = { "--type", "18748-4", "gallbladder", NULL },
		   *by_date[] = { "--from", "2024-01-01", "--to", "2024-12-31",
				  "heart",  "rate",       NULL },
		   *all[] = { "heart", "rate", NULL },
		   *by_name[] = { "--patient", "pella dummerton", "insulin",
				  NULL };
	json_t *res;
	char *m;

	res = search_json(by_mrn, 0);
	m = mrns(res);
	ck_assert_str_eq(m, "90004451,90004451");
	free(m);
	json_decref(res);
	res = search_json(by_type, 0);
	m = mrns(res);
	ck_assert_str_eq(m, "90001234");
	free(m);
	json_decref(res);
	res = search_json(by_date, 0);
	m = mrns(res);
	ck_assert_str_eq(m, "90003306");
	free(m);
	json_decref(res);
	/* without the filter, several years, counted per year */
	res = search_json(all, 0);
	ck_assert_int_ge(facet_count(res, "year", "2025"), 2);
	ck_assert_int_eq(facet_count(res, "year", "2024"), 1);
	json_decref(res);
	/* --patient goes through the patient index: her chart only */
	res = search_json(by_name, 0);
	ck_assert_uint_ge(json_array_size(json_object_get(res, "results")), 1);
	m = mrns(res);
	ck_assert_msg(strspn(m, "90005097,") == strlen(m), "%s", m);
	free(m);
	json_decref(res);
}
END_TEST

START_TEST(test_search_cli_refuses_bad_filters)
{
	const char *bad_date[] = { "--from", "2025-02-30", "insulin", NULL },
		   *bad_range[] = { "--from",     "2025-02-01", "--to",
				    "2024-02-01", "insulin",    NULL },
		   *bad_type[] = { "--type", "12345-6", "insulin", NULL },
		   *stop[] = { "the", "with", NULL },
		   *neg[] = { "-insulin", NULL };
	const char *argv[] = { "chartvault", "-C",     archive_dir,
			       "search",     "--from", "2025-02-30",
			       "insulin",    NULL };
	struct cvt_run r;

	search_json(bad_date, 2);
	search_json(bad_range, 2);
	search_json(bad_type, 2);
	search_json(stop, 2);
	search_json(neg, 2);
	cvt_run(&r, argv, NULL, NULL);
	ck_assert_msg(strstr(r.err.buf, "--from '2025-02-30' is not a date"),
		      "%s", r.err.buf);
	cvt_run_release(&r);
}
END_TEST

START_TEST(test_search_cli_near_spellings)
{
	const char *exact[] = { "cholecystitus", NULL },
		   *near[] = { "--near", "cholecystitus", NULL };
	json_t *res, *hit;

	res = search_json(exact, 0);
	ck_assert_uint_eq(json_array_size(json_object_get(res, "results")), 0);
	json_decref(res);
	res = search_json(near, 0);
	ck_assert_uint_eq(json_array_size(json_object_get(res, "results")), 1);
	hit = json_array_get(json_object_get(res, "results"), 0);
	ck_assert(json_is_true(json_object_get(hit, "near")));
	ck_assert_str_eq(json_string_value(json_object_get(hit, "mrn")),
			 "90001234");
	ck_assert_msg(json_string_value(json_object_get(res, "near_terms")),
		      "no near_terms");
	json_decref(res);
}
END_TEST

START_TEST(test_search_cli_exception_queue)
{
	const char *q[] = { "levothyroxine", NULL },
		   *qx[] = { "--include-exceptions", "levothyroxine", NULL };
	char *sql;
	json_t *res;
	long long before;

	res = search_json(q, 0);
	before = (long long)json_integer_value(
		json_object_get(res, "total_documents"));
	json_decref(res);
	ck_assert_int_ge(before, 2);
	/* the medication list waits in the queue for a while */
	sql = cv_asprintf("WITH u AS (UPDATE documents SET state = 'exception'"
			  " WHERE id IN (SELECT p.document_id FROM pages p"
			  " JOIN source_files f ON f.id = p.file_id"
			  " WHERE f.name LIKE '%%scan-0009.png')"
			  " RETURNING 1) SELECT count(*) FROM u");
	ck_assert_int_eq(cvt_sql_count(archive_dsn, sql), 1);
	free(sql);
	res = search_json(q, 0);
	ck_assert_int_eq(
		json_integer_value(json_object_get(res, "total_documents")),
		before - 1);
	json_decref(res);
	res = search_json(qx, 0);
	ck_assert_int_eq(
		json_integer_value(json_object_get(res, "total_documents")),
		before);
	json_decref(res);
	ck_assert_int_eq(cvt_sql_count(archive_dsn,
				       "WITH u AS (UPDATE documents SET state ="
				       " 'filed' WHERE state = 'exception'"
				       " RETURNING 1) SELECT count(*) FROM u"),
			 1);
}
END_TEST

START_TEST(test_search_cli_site_synonyms_and_text_output)
{
	char *site = cv_path_join(archive_dir, "synonyms.txt"), *cmd;
	const char *argv[] = { "chartvault", "-C",  archive_dir,
			       "search",     "ptx", NULL };
	struct cvt_run r;

	cmd = cv_asprintf("printf '# ours\\nPTX, pneumothorax\\n' > %s", site);
	shell(cmd, "site synonyms");
	free(cmd);
	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, 0, "search with a site synonym");
	ck_assert_msg(strstr(r.out.buf, "2 documents (2 pages) match") &&
			      strstr(r.out.buf, "by type:") &&
			      strstr(r.out.buf, "[pneumothorax]"),
		      "%s", r.out.buf);
	cvt_run_release(&r);
	cmd = cv_asprintf("printf 'PTX pneumothorax\\n' > %s", site);
	shell(cmd, "a bad site synonyms file");
	free(cmd);
	cvt_run(&r, argv, NULL, NULL);
	ck_assert_int_ne(r.status, 0);
	ck_assert_msg(strstr(r.err.buf, "synonyms.txt line 1"), "%s",
		      r.err.buf);
	cvt_run_release(&r);
	unlink(site);
	free(site);
}
END_TEST

START_TEST(test_search_cli_audit_keeps_no_query_or_mrn)
{
	const char *q[] = { "--mrn", "90004451", "emphysema", NULL };
	json_t *res = search_json(q, 0);

	json_decref(res);
	ck_assert_int_ge(cvt_sql_count(archive_dsn,
				       "SELECT count(*) FROM audit_log WHERE"
				       " action = 'search' AND detail LIKE"
				       " '%;mrn%'"),
			 1);
	ck_assert_int_eq(cvt_sql_count(archive_dsn,
				       "SELECT count(*) FROM audit_log WHERE"
				       " action = 'search' AND (detail LIKE"
				       " '%emphysema%' OR detail LIKE"
				       " '%90004451%')"),
			 0);
}
END_TEST

Suite *cv_search_cli_suite(void)
{
	Suite *s = suite_create("search_cli");
	TCase *tc = tcase_create("search");

	tcase_set_tags(tc, "db ocr");
	tcase_set_timeout(tc, 600);
	tcase_add_unchecked_fixture(tc, ingest_once, teardown_once);
	tcase_add_test(tc, test_search_cli_snippets_and_facets);
	tcase_add_test(tc, test_search_cli_synonyms);
	tcase_add_test(tc, test_search_cli_filters);
	tcase_add_test(tc, test_search_cli_refuses_bad_filters);
	tcase_add_test(tc, test_search_cli_near_spellings);
	tcase_add_test(tc, test_search_cli_exception_queue);
	tcase_add_test(tc, test_search_cli_site_synonyms_and_text_output);
	tcase_add_test(tc, test_search_cli_audit_keeps_no_query_or_mrn);
	suite_add_tcase(s, tc);
	return s;
}
