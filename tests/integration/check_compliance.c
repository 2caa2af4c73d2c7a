/*
 * End-to-end tests of what the compliance screens share with the command
 * line: a destruction batch of chosen records only ('destroy propose
 * --document', cv_index_destroy_propose_docs, which the viewer calls),
 * and 'certificate verify' through compliance/ on files that are not
 * certificates. The full destroy-and-certify path through compliance/ is
 * retention-cli's end-to-end test.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/cv.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

static void write_text(const char *path, const char *text)
{
	struct cv_error err = CV_ERROR_INIT;

	ck_assert_msg(cv_fs_write_atomic(path, text, strlen(text), 0644, 0,
					 &err) == 0,
		      "%s", err.msg);
}

/* Copy the fixture name into folder (a batch's files sit by its manifest). */
static char *copy_in(const char *fx, const char *name, const char *folder)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf b = CV_BUF_INIT;
	char *from = cv_path_join(fx, name), *to = cv_path_join(folder, name);

	ck_assert_msg(cv_fs_read_file(&b, from, 1u << 24, &err) == 0, "%s",
		      err.msg);
	ck_assert_msg(cv_fs_write_atomic(to, b.buf, b.len, 0644, 0, &err) == 0,
		      "%s", err.msg);
	cv_buf_release(&b);
	free(from);
	return to;
}

/* chartvault -C dir ARGS..., expecting want; stdout as JSON when what
 * names --json. */
static json_t *run(const char *dir, int want, const char *what,
		   const char *const *args, struct cv_buf *err_out)
{
	const char *argv[32] = { "chartvault", "-C", dir };
	struct cvt_run r;
	json_t *v = NULL;
	int i;

	for (i = 0; args[i]; i++)
		argv[3 + i] = args[i];
	argv[3 + i] = NULL;
	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, want, what);
	if (want == 0 && strstr(what, "--json"))
		v = cvt_parse_json(&r);
	if (err_out)
		cv_buf_adds(err_out, r.err.buf);
	cvt_run_release(&r);
	return v;
}

#define RUN(dir, want, what, ...)                                  \
	do {                                                       \
		const char *a_[] = { __VA_ARGS__, NULL };          \
		json_decref(run((dir), (want), (what), a_, NULL)); \
	} while (0)

static long long doc_of(json_t *rep, const char *mrn)
{
	json_t *docs = json_object_get(rep, "documents");
	size_t i;

	for (i = 0; i < json_array_size(docs); i++) {
		json_t *d = json_array_get(docs, i);

		if (!strcmp(json_string_value(json_object_get(d, "mrn")), mrn))
			return json_integer_value(json_object_get(d, "id"));
	}
	ck_abort_msg("no document for %s", mrn);
	return 0;
}

START_TEST(test_compliance_propose_chosen_records_only)
{
	char *base = cvt_tmpdir("compliance"), *dir = cv_path_join(base, "a");
	char *dsn = cvt_pg_createdb(&cvt_shared_pg);
	char *fx = cvt_srcpath("tests/browser/fixtures");
	char *csv = cv_path_join(fx, "compliance-patients.csv");
	char *presets = cvt_srcpath("data/retention-presets.ini");
	char *manifest = cv_path_join(base, "manifest.csv");
	char *p1 = copy_in(fx, "compliance-page-1.png", base);
	char *p2 = copy_in(fx, "compliance-page-2.png", base);
	char *junk = cv_path_join(base, "junk.json");
	char *q, a_id[24], b_id[24];
	struct cv_buf err = CV_BUF_INIT;
	long long a, b, batch;
	json_t *v, *recs;
	struct cvt_run r;

	CV(&r, "init", dir, "--db", dsn);
	cvt_expect_status(&r, 0, "init --db");
	cvt_run_release(&r);
	cvt_import_patients(dir, csv);
	write_text(manifest,
		   "file,mrn,document_type,service_date,box,folder\n"
		   "compliance-page-1.png,90077701,11506-3,2009-04-02,1,A\n"
		   "compliance-page-2.png,90077702,11506-3,2010-06-10,1,B\n");
	{
		const char *args[] = { "ingest", "--json", "--manifest",
				       manifest, p1,       p2,
				       NULL };

		v = run(dir, 0, "ingest --json", args, NULL);
	}
	a = doc_of(v, "90077701");
	b = doc_of(v, "90077702");
	json_decref(v);
	snprintf(a_id, sizeof(a_id), "%lld", a);
	snprintf(b_id, sizeof(b_id), "%lld", b);
	RUN(dir, 0, "retention set", "retention", "set", "--file", presets,
	    "--schedule", "ahima");
	RUN(dir, 0, "encounter A", "patients", "event", "--mrn", "90077701",
	    "--encounter", "2009-04-01", "--discharge", "2009-04-05");
	RUN(dir, 0, "encounter B", "patients", "event", "--mrn", "90077702",
	    "--encounter", "2010-06-01", "--discharge", "2010-06-12");
	{
		const char *args[] = { "retention", "due", "--json", NULL };

		v = run(dir, 0, "due --json", args, NULL);
		ck_assert_int_eq(json_array_size(v), 2);
		/* Each with the dates its rule works from. */
		ck_assert_msg(strstr(json_string_value(json_object_get(
					     json_array_get(v, 0), "anchors")),
				     "discharge 2009-04-05"),
			      "%s",
			      json_string_value(json_object_get(
				      json_array_get(v, 0), "anchors")));
		json_decref(v);
	}

	RUN(dir, 2, "a document id that is not one", "destroy", "propose",
	    "--document", "0");
	/* Both are due; only B is asked for, and an unknown id is ignored. */
	{
		const char *args[] = { "destroy", "propose",    "--document",
				       b_id,      "--document", "99999999",
				       "--json",  NULL };

		v = run(dir, 0, "propose --document --json", args, NULL);
	}
	batch = json_integer_value(json_object_get(v, "id"));
	recs = json_object_get(v, "records");
	ck_assert_uint_eq(json_array_size(recs), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(
				 json_array_get(recs, 0), "document")),
			 b);
	json_decref(v);
	q = cv_asprintf("SELECT count(*) FROM destruction_items WHERE "
			"batch_id = %lld AND document_id = %lld",
			batch, a);
	ck_assert_int_eq(cvt_sql_count(dsn, q), 0);
	free(q);
	q = cv_asprintf("SELECT count(*) FROM audit_log WHERE action = "
			"'destroy.propose' AND object_id = '%lld' AND detail "
			"LIKE '%%chosen records only%%'",
			batch);
	ck_assert_int_eq(cvt_sql_count(dsn, q), 1);
	free(q);

	/* B is in a batch under way: asked for again, nothing qualifies. */
	{
		const char *args[] = { "destroy", "propose", "--document",
				       b_id,      "--json",  NULL };

		v = run(dir, 0, "propose B again --json", args, NULL);
		ck_assert(json_is_null(json_object_get(v, "id")));
		json_decref(v);
	}
	/* Without --document, every record due: A alone is left. */
	{
		const char *args[] = { "destroy", "propose", "--json", NULL };

		v = run(dir, 0, "propose --json", args, NULL);
		recs = json_object_get(v, "records");
		ck_assert_uint_eq(json_array_size(recs), 1);
		ck_assert_int_eq(json_integer_value(json_object_get(
					 json_array_get(recs, 0), "document")),
				 a);
		json_decref(v);
	}

	/* certificate verify, through compliance/, on what is not one. */
	write_text(junk, "not a certificate\n");
	{
		const char *args[] = { "certificate", "verify", junk, NULL };

		json_decref(run(dir, 4, "verify junk", args, &err));
		ck_assert_msg(strstr(err.buf, "is not JSON"), "%s", err.buf);
	}
	write_text(junk, "{\"certificate\":{}}\n");
	cv_buf_reset(&err);
	{
		const char *args[] = { "certificate", "verify", junk, NULL };

		json_decref(run(dir, 4, "verify unsigned", args, &err));
		ck_assert_msg(strstr(err.buf, "not a chartvault certificate"),
			      "%s", err.buf);
	}

	cv_buf_release(&err);
	free(junk);
	free(p1);
	free(p2);
	free(manifest);
	free(presets);
	free(csv);
	free(fx);
	free(dsn);
	free(dir);
	cvt_rmrf(base);
	free(base);
}
END_TEST

Suite *cv_compliance_cli_suite(void)
{
	Suite *s = suite_create("compliance-cli");
	TCase *tc;

	tc = tcase_create("propose");
	tcase_set_tags(tc, "db ocr");
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_compliance_propose_chosen_records_only);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return s;
}
