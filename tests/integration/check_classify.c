/*
 * chartvault classify end to end: train on generated labelled documents,
 * evaluate on others the model never saw, list the stored versions; and a
 * scanned page whose type only the model can tell, held in the exception
 * queue when the model is not sure enough.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cv.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

static char *archive_in(const char *base, char **dsn_out)
{
	char *dir = cv_path_join(base, "archive");
	char *dsn = cvt_pg_createdb(&cvt_shared_pg);
	struct cvt_run r;

	CV(&r, "init", dir, "--db", dsn);
	cvt_expect_status(&r, 0, "init --db");
	cvt_run_release(&r);
	*dsn_out = dsn;
	return dir;
}

/* Labelled documents from tools/doccorpus/generate.py into dir. */
static void generate(const char *dir, const char *seed, const char *count)
{
	char *gen = cvt_srcpath("tools/doccorpus/generate.py");
	const char *argv[] = { "python3",          gen,   "--seed", seed,
			       "--count-per-type", count, dir,      NULL };
	struct cvt_run r;

	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, 0, "generate.py");
	cvt_run_release(&r);
	free(gen);
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(json_is_number(v), "no number '%s'", key);
	return json_number_value(v);
}

START_TEST(test_cli_classify_train_eval_and_models)
{
	char *base = cvt_tmpdir("classify"), *dsn = NULL;
	char *dir = archive_in(base, &dsn);
	char *train = cv_path_join(base, "train"),
	     *test = cv_path_join(base, "test");
	char *train_labels = cv_path_join(train, "labels.csv"),
	     *test_labels = cv_path_join(test, "labels.csv");
	char *bad = cv_path_join(base, "bad.csv");
	struct cv_error err = CV_ERROR_INIT;
	struct cvt_run r;
	json_t *v, *held;

	generate(train, "11", "12");
	generate(test, "12", "6");

	CV(&r, "-C", dir, "classify", "train", "--json", "--folds", "3",
	   train_labels);
	cvt_expect_status(&r, 0, "classify train");
	v = cvt_parse_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(v, "version")), 1);
	held = json_object_get(v, "heldout");
	ck_assert_int_eq(num(held, "documents"), 14 * 12);
	ck_assert_msg(num(held, "accuracy") >= 0.85, "held-out accuracy %.3f",
		      num(held, "accuracy"));
	ck_assert_int_eq(json_array_size(json_object_get(held, "classes")), 14);
	json_decref(v);
	cvt_run_release(&r);

	/* Another seed: documents the model never saw. */
	CV(&r, "-C", dir, "classify", "eval", "--json", "--model-only",
	   test_labels);
	cvt_expect_status(&r, 0, "classify eval");
	v = cvt_parse_json(&r);
	ck_assert_int_eq(num(v, "documents"), 14 * 6);
	ck_assert_int_eq(json_integer_value(json_object_get(v, "model")), 1);
	ck_assert_msg(num(v, "accuracy") >= 0.85, "accuracy %.3f",
		      num(v, "accuracy"));
	ck_assert_msg(num(v, "macro_f1") >= 0.85, "macro-F1 %.3f",
		      num(v, "macro_f1"));
	json_decref(v);
	cvt_run_release(&r);

	/* The human-readable table names every type and the confusion. */
	CV(&r, "-C", dir, "classify", "eval", test_labels);
	cvt_expect_status(&r, 0, "classify eval, text");
	ck_assert(strstr(r.out.buf, "macro-F1"));
	ck_assert(strstr(r.out.buf, "confusion"));
	ck_assert(strstr(r.out.buf, "pathology report"));
	cvt_run_release(&r);

	CV(&r, "-C", dir, "classify", "models", "--json");
	cvt_expect_status(&r, 0, "classify models");
	v = cvt_parse_json(&r);
	ck_assert_int_eq(json_array_size(v), 1);
	json_decref(v);
	cvt_run_release(&r);

	/* The stored model holds hashes and weights, not words. */
	ck_assert_int_eq(
		cvt_sql_count(
			dsn,
			"SELECT count(*) FROM classifier_models WHERE position(convert_to('anesthesia', 'UTF8') in model) > 0 OR position(convert_to('Patient', 'UTF8') in model) > 0"),
		0);
	ck_assert_int_eq(
		cvt_sql_count(
			dsn,
			"SELECT count(*) FROM audit_log WHERE action = 'classify.train'"),
		1);

	/* Segmentation of the samples' pages (their printed text), with
	 * and without the model's type changes: every boundary, no other. */
	{
		char *pages = cvt_srcpath("tools/doccorpus/samples-pages.csv");
		json_t *k;

		CV(&r, "-C", dir, "classify", "boundaries", "--json", pages);
		cvt_expect_status(&r, 0, "classify boundaries");
		v = cvt_parse_json(&r);
		ck_assert_int_eq(num(v, "pages"), 42);
		ck_assert_int_eq(num(v, "boundaries"), 28);
		k = json_object_get(v, "rules_and_type_changes");
		ck_assert(num(k, "precision") == 1.0 &&
			  num(k, "recall") == 1.0);
		k = json_object_get(v, "rules");
		ck_assert(num(k, "precision") == 1.0 &&
			  num(k, "recall") == 1.0);
		json_decref(v);
		cvt_run_release(&r);
		free(pages);
	}

	/* A typo in a labels file fails the whole file, naming the line. */
	{
		static const char b[] = "source,type\ntext/x.txt,discharge\n";

		ck_assert_int_eq(cv_fs_write_atomic(bad, b, sizeof(b) - 1, 0600,
						    0, &err),
				 0);
	}
	CV(&r, "-C", dir, "classify", "train", bad);
	ck_assert_int_ne(r.status, 0);
	ck_assert_msg(strstr(r.err.buf, "bad.csv:2"), "%s", r.err.buf);
	ck_assert(strstr(r.err.buf, "unknown document type"));
	cvt_run_release(&r);
	ck_assert_int_eq(
		cvt_sql_count(dsn, "SELECT count(*) FROM classifier_models"),
		1);

	free(bad);
	free(train_labels);
	free(test_labels);
	free(train);
	free(test);
	free(dsn);
	free(dir);
	cvt_rmrf(base);
	free(base);
}
END_TEST

/*
 * With the title rules taken away (a hospital taxonomy that gives every
 * type an empty pattern), the model types a scanned imaging report; with
 * the threshold at 100%, it is not filed but queued.
 */
START_TEST(test_cli_classify_unsure_type_goes_to_exception_queue)
{
	char *base = cvt_tmpdir("classify-queue"), *dsn = NULL;
	char *dir = archive_in(base, &dsn);
	char *types = cv_path_join(base, "types.tsv");
	char *scan = cvt_srcpath("samples/batch/scan-0001.png");
	struct cv_error err = CV_ERROR_INIT;
	struct cvt_run r;
	json_t *v;
	size_t i;

	{
		static const char t[] =
			"# no title rules: every type left to the model\n"
			"18842-5\tdischarge summary\t\n"
			"11506-3\tprogress note\t\n"
			"34117-2\thistory and physical\t\n"
			"11488-4\tconsult note\t\n"
			"34111-5\temergency department note\t\n"
			"11504-8\toperative note\t\n"
			"18748-4\tradiology report\t\n"
			"11502-2\tlaboratory report\t\n"
			"11526-1\tpathology report\t\n"
			"59284-0\tconsent\t\n"
			"10160-0\tmedication list\t\n"
			"18776-5\tplan of care\t\n"
			"51852-2\tletter\t\n";

		ck_assert_int_eq(cv_fs_write_atomic(types, t, sizeof(t) - 1,
						    0600, 0, &err),
				 0);
	}
	CV(&r, "-C", dir, "classify", "types", "import", types);
	cvt_expect_status(&r, 0, "classify types import");
	cvt_run_release(&r);
	CV(&r, "-C", dir, "classify", "types", "--json");
	cvt_expect_status(&r, 0, "classify types");
	v = cvt_parse_json(&r);
	for (i = 0; i < json_array_size(v); i++) {
		json_t *t = json_array_get(v, i);

		ck_assert(json_is_false(json_object_get(t, "builtin")));
		if (!strcmp(json_string_value(json_object_get(t, "code")),
			    "18748-4"))
			ck_assert_str_eq(
				json_string_value(json_object_get(t, "name")),
				"radiology report");
	}
	json_decref(v);
	cvt_run_release(&r);

	CV(&r, "-C", dir, "-c", "classify.min_confidence=100", "ingest",
	   "--json", "--batch", "unsure", scan);
	cvt_expect_status(&r, 0, "ingest");
	/* The report says how sure the model was. */
	v = cvt_parse_json(&r);
	{
		json_t *d = json_array_get(json_object_get(v, "documents"), 0);
		double conf = json_number_value(
			json_object_get(d, "type_confidence"));

		ck_assert_msg(conf > 0.5 && conf < 1, "type_confidence %f",
			      conf);
	}
	json_decref(v);
	cvt_run_release(&r);
	ck_assert_int_eq(
		cvt_sql_count(
			dsn,
			"SELECT count(*) FROM documents WHERE type_source = 'model' AND doc_type = '18748-4' AND type_confidence > 0.5 AND type_confidence < 1 AND state = 'exception'"),
		1);
	ck_assert_int_eq(
		cvt_sql_count(
			dsn,
			"SELECT count(*) FROM exceptions WHERE kind = 'low-confidence-type' AND state = 'open' AND detail->>'type' = '18748-4'"),
		1);
	free(types);
	free(scan);
	free(dsn);
	free(dir);
	cvt_rmrf(base);
	free(base);
}
END_TEST

Suite *cv_classify_cli_suite(void);

Suite *cv_classify_cli_suite(void)
{
	Suite *s = suite_create("classify-cli");
	TCase *tc;

	tc = tcase_create("classify");
	tcase_set_tags(tc, "db");
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_cli_classify_train_eval_and_models);
	tcase_set_timeout(tc, 180);
	suite_add_tcase(s, tc);

	tc = tcase_create("classify-ocr");
	tcase_set_tags(tc, "db ocr");
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc,
		       test_cli_classify_unsure_type_goes_to_exception_queue);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return s;
}
