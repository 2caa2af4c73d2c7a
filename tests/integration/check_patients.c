/*
 * End-to-end tests of the patient index, patient identity at ingest, the
 * misfile check and the exception queue: the real binary against a
 * throwaway PostgreSQL, and real Tesseract on samples/ for the seeded
 * misfile (bundle-04.tif page 4, a page of TESTCASE in MOCKRIDGE's
 * bundle).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/cv.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

static char *new_archive(const char *tag, char **dsn_out)
{
	char *base = cvt_tmpdir(tag), *dir = cv_path_join(base, "archive");
	char *dsn = cvt_pg_createdb(&cvt_shared_pg);
	struct cvt_run r;

	CV(&r, "init", dir, "--db", dsn);
	cvt_expect_status(&r, 0, "init --db");
	cvt_run_release(&r);
	*dsn_out = dsn;
	free(base);
	return dir;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "cannot write %s", path);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static json_t *run_json(const char *dir, int want, const char *what,
			const char *a1, const char *a2, const char *a3,
			const char *a4)
{
	const char *argv[] = { "chartvault", "-C", dir, a1, a2, a3, a4, NULL };
	struct cvt_run r;
	json_t *j;

	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, want, what);
	j = cvt_parse_json(&r);
	cvt_run_release(&r);
	return j;
}

START_TEST(test_patients_cli_help)
{
	static const char *const verbs[] = { "patients", "queue" };
	struct cvt_run r;
	size_t i;

	for (i = 0; i < 2; i++) {
		const char *argv[] = { "chartvault", verbs[i], "--help", NULL };

		cvt_run(&r, argv, NULL, NULL);
		cvt_expect_status(&r, 0, "--help");
		ck_assert(strstr(r.out.buf, "usage: chartvault"));
		cvt_run_release(&r);
	}
}
END_TEST

START_TEST(test_patients_cli_import_and_find)
{
	char *dsn, *dir = new_archive("pat", &dsn);
	char *csv = cv_path_join(dir, "mpi.csv");
	json_t *j, *m;
	struct cvt_run r;

	write_file(csv, "mrn,family_name,given_name,dob,sex,deceased_on\n"
			"1001,SMITH,ROBERT,1950-02-03,M,\n"
			"1002,JOHNSON,MARGARET,1962-07-19,F,\n"
			"1003,GARCIA,ELIZABETH,1980-01-01,F,\n"
			"1004,BAD,DATE,1980-02-30,F,\n"
			"1005,WONG,\"LEE\",1975-05-05,Q,\n");
	CV(&r, "-C", dir, "patients", "import", csv);
	cvt_expect_status(&r, 1, "import with two bad rows");
	ck_assert(strstr(r.out.buf,
			 "3 inserted, 0 updated, 0 unchanged, 2 rejected"));
	ck_assert(strstr(r.err.buf, "line 5, column dob"));
	ck_assert(strstr(r.err.buf, "line 6, column sex"));
	/* A rejected value is patient data: never echoed. */
	ck_assert_ptr_null(strstr(r.err.buf, "1980-02-30"));
	cvt_run_release(&r);

	/* Merge by MRN: a date of death for one, the others unchanged. */
	write_file(csv, "mrn,deceased_on\n1001,2024-01-01\n1002,\n");
	j = run_json(dir, 0, "merge", "patients", "import", csv, "--json");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "updated")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "unchanged")),
			 1);
	json_decref(j);
	ck_assert_int_eq(cvt_sql_count(dsn, "SELECT count(*) FROM patients"
					    " WHERE family_name = 'SMITH'"
					    " AND deceased_on = '2024-01-01'"),
			 1);

	j = run_json(dir, 0, "nickname", "patients", "find", "Bob Smith",
		     "--json");
	m = json_array_get(j, 0);
	ck_assert_str_eq(json_string_value(json_object_get(m, "mrn")), "1001");
	ck_assert_str_eq(json_string_value(json_array_get(
				 json_object_get(m, "match"), 0)),
			 "nickname");
	json_decref(j);
	j = run_json(dir, 0, "transposed", "patients", "find", "Johnson Peggy",
		     "--json");
	m = json_array_get(j, 0);
	ck_assert_str_eq(json_string_value(json_object_get(m, "mrn")), "1002");
	json_decref(j);
	CV(&r, "-C", dir, "patients", "find", "Garsia", "--dob=1980-01-01");
	cvt_expect_status(&r, 0, "misspelt, by dob");
	ck_assert(strstr(r.out.buf, "GARCIA"));
	ck_assert(strstr(r.out.buf, "similar"));
	cvt_run_release(&r);
	CV(&r, "-C", dir, "patients", "find", "Smith", "--dob", "1999-01-01");
	cvt_expect_status(&r, 5, "no such patient");
	cvt_run_release(&r);
	CV(&r, "-C", dir, "patients", "find", "--dob", "yesterday");
	cvt_expect_status(&r, 2, "bad --dob");
	cvt_run_release(&r);
	ck_assert_int_eq(cvt_sql_count(dsn, "SELECT count(*) FROM audit_log"
					    " WHERE action = 'patients.find'"),
			 4);
	free(csv);
	cvt_rmrf(dir);
	free(dir);
	free(dsn);
}
END_TEST

/* The id of the document holding file page (e.g. "bundle-02.tif", 1). */
static long long doc_of(json_t *docs, const char *file, int page)
{
	size_t i, k;
	json_t *d, *p;

	json_array_foreach(docs, i, d)
	{
		json_array_foreach(json_object_get(d, "pages"), k, p)
		{
			const char *f =
				json_string_value(json_object_get(p, "file"));

			if (f && strstr(f, file) &&
			    json_integer_value(json_object_get(p, "page")) ==
				    page)
				return json_integer_value(
					json_object_get(d, "id"));
		}
	}
	return 0;
}

START_TEST(test_patients_cli_samples_misfile_queue_session)
{
	char *dsn, *dir = new_archive("misfile", &dsn);
	char *csv = cvt_srcpath("samples/patients.csv");
	char *batch = cvt_srcpath("samples/batch");
	char doc[24], right[24], page[24];
	json_t *rep, *docs, *q, *item, *show, *exc, *pg, *hits, *res;
	long long misfiled_doc, right_doc;
	struct cvt_run r;

	CV(&r, "-C", dir, "patients", "import", csv);
	cvt_expect_status(&r, 0, "import samples/patients.csv");
	cvt_run_release(&r);
	CV(&r, "-C", dir, "ingest", "--json", "--workers", "2", "--batch",
	   "samples", batch);
	cvt_expect_status(&r, 0, "ingest of the samples");
	rep = cvt_parse_json(&r);
	cvt_run_release(&r);
	docs = json_object_get(rep, "documents");
	misfiled_doc = doc_of(docs, "bundle-04.tif", 4);
	right_doc = doc_of(docs, "bundle-02.tif", 1);
	ck_assert(misfiled_doc > 0 && right_doc > 0);
	ck_assert_int_eq(
		json_integer_value(json_object_get(
			json_object_get(rep, "counts"), "documents_queued")),
		1);

	/* The seeded misfile, and nothing else, waits in the queue. */
	q = run_json(dir, 0, "queue list", "queue", "list", "--json", NULL);
	ck_assert_msg(json_array_size(q) == 1, "queue: %s", json_dumps(q, 0));
	item = json_array_get(q, 0);
	ck_assert_int_eq(json_integer_value(json_object_get(item, "document")),
			 misfiled_doc);
	ck_assert_str_eq(json_string_value(json_object_get(item, "reasons")),
			 "misfile");
	/* Who the page says it is, and who the document is assigned to. */
	ck_assert_str_eq(json_string_value(json_object_get(item, "suspected")),
			 "TESTCASE, BRIMLEY (90002718)");
	ck_assert_str_eq(json_string_value(json_object_get(item, "patient")),
			 "TESTCASE, BRIMLEY");
	ck_assert_ptr_nonnull(
		json_string_value(json_object_get(item, "batch")));
	json_decref(q);
	/* Every other document is filed, linked to its patient. */
	ck_assert_int_eq(cvt_sql_count(dsn, "SELECT count(*) FROM documents"
					    " WHERE state = 'filed'"
					    " AND patient_id IS NOT NULL"),
			 (long long)json_array_size(docs) - 1);

	/* Both identities are shown: the page's and the chart's. */
	snprintf(doc, sizeof(doc), "%lld", misfiled_doc);
	snprintf(right, sizeof(right), "%lld", right_doc);
	show = run_json(dir, 0, "queue show", "queue", "show", doc, "--json");
	exc = json_array_get(json_object_get(show, "exceptions"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(exc, "kind")),
			 "misfile");
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(exc, "page_patient"), "mrn")),
			 "90002718");
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(exc, "chart_patient"), "mrn")),
			 "90004451");
	pg = json_array_get(json_object_get(show, "pages"), 0);
	snprintf(page, sizeof(page), "%lld",
		 (long long)json_integer_value(json_object_get(pg, "page_id")));
	json_decref(show);
	CV(&r, "-C", dir, "queue", "show", doc);
	cvt_expect_status(&r, 0, "queue show (text)");
	ck_assert(strstr(r.out.buf, "TESTCASE, BRIMLEY"));
	ck_assert(strstr(r.out.buf, "MOCKRIDGE, TOLLAND"));
	cvt_run_release(&r);

	/* It cannot be filed as it is. */
	CV(&r, "-C", dir, "queue", "file", doc);
	cvt_expect_status(&r, 6, "filing with an open misfile");
	ck_assert(strstr(r.err.buf, "open exceptions: misfile"));
	cvt_run_release(&r);

	/* The session: the page goes to TESTCASE's progress notes, the
	 * emptied document closes, and the chart is filed. */
	CV(&r, "-C", dir, "queue", "move-page", page, "--to", right);
	cvt_expect_status(&r, 0, "move-page");
	cvt_run_release(&r);
	CV(&r, "-C", dir, "queue", "list");
	cvt_expect_status(&r, 0, "queue list");
	ck_assert(strstr(r.out.buf, "ready to file"));
	cvt_run_release(&r);
	CV(&r, "-C", dir, "queue", "file", right);
	cvt_expect_status(&r, 0, "file");
	cvt_run_release(&r);
	q = run_json(dir, 0, "queue list", "queue", "list", "--json", NULL);
	ck_assert_int_eq(json_array_size(q), 0);
	json_decref(q);
	ck_assert_int_eq(cvt_sql_count(dsn, "SELECT count(*) FROM documents"
					    " WHERE closed_at IS NOT NULL"),
			 1);
	ck_assert_int_eq(cvt_sql_count(dsn, "SELECT count(*) FROM queue_actions"
					    " WHERE before IS NOT NULL"
					    " AND after IS NOT NULL"),
			 2);
	ck_assert_int_eq(cvt_sql_count(dsn,
				       "SELECT count(*) FROM audit_log"
				       " WHERE action IN ('queue.move-page',"
				       " 'queue.file')"),
			 2);

	/* Search now finds the page's words in the right chart. */
	res = run_json(dir, 0, "search", "search", "--json", "palpitations",
		       "overnight");
	hits = json_object_get(res, "results");
	ck_assert_int_ge(json_array_size(hits), 1);
	{
		size_t i;
		json_t *h;
		int found = 0;

		json_array_foreach(hits, i, h)
		{
			if (json_integer_value(json_object_get(
				    h, "document")) == right_doc) {
				found = 1;
				ck_assert_str_eq(
					json_string_value(
						json_object_get(h, "mrn")),
					"90002718");
			}
			ck_assert(json_integer_value(json_object_get(
					  h, "document")) != misfiled_doc);
		}
		ck_assert_msg(found,
			      "the moved page is not found in document %s",
			      right);
	}
	json_decref(res);
	json_decref(rep);
	free(csv);
	free(batch);
	cvt_rmrf(dir);
	free(dir);
	free(dsn);
}
END_TEST

START_TEST(test_patients_cli_unknown_patient_waits)
{
	char *dsn, *dir = new_archive("unknown", &dsn);
	char *batch = cv_path_join(dir, "in"), *cmd, doc[24];
	json_t *q;
	struct cvt_run r;

	/* No patient index yet: one page's patient cannot be matched. */
	{
		char *src = cvt_srcpath("samples/batch/scan-0007.png");
		const char *argv[] = { "sh", "-c", NULL, NULL };

		cmd = cv_asprintf("mkdir -p '%s' && cp '%s' '%s/'", batch, src,
				  batch);
		argv[2] = cmd;
		cvt_run(&r, argv, NULL, NULL);
		cvt_expect_status(&r, 0, "copy a sample page");
		cvt_run_release(&r);
		free(src);
	}
	free(cmd);
	CV(&r, "-C", dir, "ingest", "--batch", "b", batch);
	cvt_expect_status(&r, 0, "ingest");
	ck_assert(strstr(r.out.buf, "1 document held"));
	cvt_run_release(&r);
	q = run_json(dir, 0, "queue list", "queue", "list", "--json", NULL);
	ck_assert_int_eq(json_array_size(q), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(q, 0),
							   "reasons")),
			 "unknown-patient");
	snprintf(doc, sizeof(doc), "%lld",
		 (long long)json_integer_value(
			 json_object_get(json_array_get(q, 0), "document")));
	json_decref(q);
	CV(&r, "-C", dir, "queue", "assign", doc, "--mrn", "90005097");
	cvt_expect_status(&r, 5, "assign to a patient not in the index");
	cvt_run_release(&r);
	{
		char *csv = cvt_srcpath("samples/patients.csv");

		CV(&r, "-C", dir, "patients", "import", csv);
		cvt_expect_status(&r, 0, "import");
		cvt_run_release(&r);
		free(csv);
	}
	CV(&r, "-C", dir, "queue", "assign", doc, "--mrn", "90005097", "--type",
	   "11506-3");
	cvt_expect_status(&r, 0, "assign");
	cvt_run_release(&r);
	CV(&r, "-C", dir, "queue", "file", doc);
	cvt_expect_status(&r, 0, "file");
	cvt_run_release(&r);
	ck_assert_int_eq(cvt_sql_count(dsn,
				       "SELECT count(*) FROM documents d"
				       " JOIN patients p ON p.id = d.patient_id"
				       " WHERE d.state = 'filed'"
				       " AND p.mrn = '90005097'"
				       " AND d.identity_source = 'staff'"),
			 1);
	free(batch);
	cvt_rmrf(dir);
	free(dir);
	free(dsn);
}
END_TEST

Suite *cv_patients_cli_suite(void);

Suite *cv_patients_cli_suite(void)
{
	Suite *s = suite_create("patients-cli");
	TCase *tc;

	tc = tcase_create("help");
	tcase_add_test(tc, test_patients_cli_help);
	suite_add_tcase(s, tc);

	tc = tcase_create("patient-index");
	tcase_set_tags(tc, "db");
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_patients_cli_import_and_find);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("queue");
	tcase_set_tags(tc, "db ocr");
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_patients_cli_samples_misfile_queue_session);
	tcase_add_test(tc, test_patients_cli_unknown_patient_waits);
	tcase_set_timeout(tc, 600);
	suite_add_tcase(s, tc);
	return s;
}
