/*
 * Unit tests for the document-type taxonomy and classifier
 * (ingest/doctypes.c, ingest/classify.c): tokens, features, training,
 * probabilities and their calibration, rules before the model, the model
 * file and its checks, and the type-change cue of segmentation.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest_int.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

struct toks {
	char v[64][32];
	int title[64];
	size_t n;
};

static void collect(void *ctx, const char *tok, size_t len, int title)
{
	struct toks *t = ctx;

	ck_assert_uint_lt(len, 32);
	if (t->n < 64) {
		memcpy(t->v[t->n], tok, len + 1);
		t->title[t->n++] = title;
	}
}

START_TEST(test_ingest_classify_tokens_normalise_case_digits_and_noise)
{
	struct toks t = { .n = 0 };
	size_t n;

	n = cv_ingest__tokens(
		"OPERATIVE Rep0rt\n\nThe patient's BP 120/80, "
		"x 9000l234 supercalifragilisticexpialidociousness"
		"\n1\n2\n3\n4\n5\n6\nlate words",
		collect, &t);
	ck_assert_uint_eq(n, t.n);
	ck_assert_str_eq(t.v[0], "operative");
	ck_assert_str_eq(t.v[1], "report"); /* OCR's 0 read as o */
	ck_assert_str_eq(t.v[2], "the");
	ck_assert_str_eq(t.v[3], "patients"); /* the apostrophe joins */
	ck_assert_str_eq(t.v[4], "bp");
	ck_assert_str_eq(t.v[5], "#"); /* numbers are shapes */
	ck_assert_str_eq(t.v[6], "#");
	/* "x" is too short; an MRN misread with a letter is still a number;
	 * a 34-letter run is noise. */
	ck_assert_str_eq(t.v[7], "#");
	ck_assert_str_eq(t.v[t.n - 2], "late");
	ck_assert(t.title[0] && t.title[4]);
	/* Six non-empty lines later, words are no longer title words. */
	ck_assert(!t.title[t.n - 1]);
}
END_TEST

static int has_unigram(const char *text, const char *word)
{
	struct cv_ingest__hcount *hc, *one;
	size_t n = cv_ingest__featurise(text, &hc), m, i;
	int found = 0;

	/* The hash of word alone: the single unigram of a one-word text
	 * (plus its title feature). */
	m = cv_ingest__featurise(word, &one);
	for (i = 0; i < n; i++) {
		size_t j;

		for (j = 0; j < m; j++)
			if (hc[i].h == one[j].h)
				found = 1;
	}
	free(hc);
	free(one);
	return found;
}

START_TEST(test_ingest_classify_patient_name_is_never_a_feature)
{
	const char *text =
		"Patient: QUENBY, ROSALIND MRN: 90001234\n"
		"Quenby was seen for chest pain. Rosalind is well.\n";

	ck_assert(!has_unigram(text, "quenby"));
	ck_assert(!has_unigram(text, "rosalind"));
	ck_assert(has_unigram(text, "chest"));
}
END_TEST

/* A small labelled corpus: three kinds of text with shared words, so the
 * model has to weigh evidence rather than spot one word. */
static const char *const words[3][6] = {
	{ "incision", "sterile", "sutured", "anesthesia", "drain", "cautery" },
	{ "sodium", "potassium", "reference", "range", "specimen", "flag" },
	{ "dear", "sincerely", "referral", "thank", "regards", "letter" },
};
static const char *const shared[] = { "patient", "was",  "the",     "and",
				      "of",      "with", "history", "today" };
static const char *const labels3[3] = { "11504-8", "11502-2", "51852-2" };

static char *make_text(unsigned *seed, int cls, int strength)
{
	struct cv_buf b = CV_BUF_INIT;
	int i;

	cv_buf_addf(&b, "Patient: DOE, JANE MRN: 9000%04u\n", *seed % 10000);
	for (i = 0; i < 40; i++) {
		*seed = *seed * 1103515245u + 12345u;
		if ((int)((*seed >> 16) % 10) < strength)
			cv_buf_adds(&b, words[cls][(*seed >> 8) % 6]);
		else
			cv_buf_adds(&b, shared[(*seed >> 8) % 8]);
		cv_buf_addch(&b, i % 9 == 8 ? '\n' : ' ');
	}
	return cv_buf_detach(&b, NULL);
}

static struct cv_ingest_model *train_small(size_t n, struct cv_ingest_eval *ev)
{
	struct cv_ingest_train_opts o = CV_INGEST_TRAIN_OPTS_INIT;
	struct cv_ingest_train_example *ex = cv_calloc(n, sizeof(*ex));
	struct cv_ingest_model *m = NULL;
	struct cv_error err = CV_ERROR_INIT;
	unsigned seed = 7;
	size_t i;

	o.min_patients = 2;
	for (i = 0; i < n; i++) {
		ex[i].label = labels3[i % 3];
		ex[i].text = make_text(&seed, (int)(i % 3), 3);
		ex[i].group = NULL;
	}
	ck_assert_msg(cv_ingest_model_train(&m, ex, n, &o, ev, &err) == 0, "%s",
		      err.msg);
	for (i = 0; i < n; i++)
		free((char *)ex[i].text);
	free(ex);
	return m;
}

START_TEST(test_ingest_classify_trains_and_probabilities_sum_to_one)
{
	struct cv_ingest_eval ev;
	struct cv_ingest_model *m;
	unsigned seed = 99991;
	size_t i, k, right = 0;

	cv_ingest_eval_init(&ev);
	m = train_small(150, &ev);
	ck_assert_uint_eq(cv_ingest_model_nclasses(m), 3);
	ck_assert_uint_eq(ev.n, 150);
	ck_assert_msg(cv_ingest_eval_accuracy(&ev) >= 0.9,
		      "held-out accuracy %.3f", cv_ingest_eval_accuracy(&ev));
	for (i = 0; i < 60; i++) {
		double p[3], sum = 0;
		char *t = make_text(&seed, (int)(i % 3), 3);
		size_t best = cv_ingest_model_predict(m, t, p);

		for (k = 0; k < 3; k++) {
			ck_assert(p[k] >= 0 && p[k] <= 1);
			sum += p[k];
		}
		ck_assert_msg(fabs(sum - 1) < 1e-9, "sum %.12f", sum);
		ck_assert(p[best] >= p[(best + 1) % 3]);
		if (!strcmp(cv_ingest_model_class(m, best), labels3[i % 3]))
			right++;
		free(t);
	}
	ck_assert_msg(right >= 54, "%zu of 60 right on new texts", right);
	cv_ingest_model_free(m);
	cv_ingest_eval_release(&ev);
}
END_TEST

START_TEST(test_ingest_classify_confidence_is_calibrated)
{
	struct cv_ingest_eval ev;
	struct cv_ingest_model *m;
	struct cv_ingest_type_decision d;
	unsigned seed = 4242;
	double conf_strong = 0, conf_weak = 0;
	int i;

	cv_ingest_eval_init(&ev);
	m = train_small(150, &ev);
	/* Held-out confidence tracks held-out accuracy, bin by bin and on
	 * the whole. */
	ck_assert_msg(cv_ingest_eval_ece(&ev) < 0.1, "ECE %.3f",
		      cv_ingest_eval_ece(&ev));
	{
		double sum = 0;

		for (i = 0; i < CV_INGEST_EVAL_BINS; i++)
			sum += ev.bin_conf[i];
		ck_assert_msg(fabs(sum / (double)ev.scored -
				   cv_ingest_eval_accuracy(&ev)) < 0.05,
			      "mean confidence %.3f, accuracy %.3f",
			      sum / (double)ev.scored,
			      cv_ingest_eval_accuracy(&ev));
	}
	/* Texts with more evidence get more confidence; text without any
	 * known word is close to a guess, under the filing threshold. */
	for (i = 0; i < 30; i++) {
		char *strong = make_text(&seed, i % 3, 6);
		char *weak = make_text(&seed, i % 3, 1);

		cv_ingest_classify_model(m, strong, &d);
		conf_strong += d.confidence;
		cv_ingest_classify_model(m, weak, &d);
		conf_weak += d.confidence;
		free(strong);
		free(weak);
	}
	ck_assert_msg(conf_strong > conf_weak, "strong %.3f, weak %.3f",
		      conf_strong / 30, conf_weak / 30);
	cv_ingest_classify_model(m, "zebra quokka xylophone", &d);
	ck_assert_str_eq(d.source, "model");
	ck_assert_msg(d.confidence < 0.6, "confidence %.3f on no evidence",
		      d.confidence);
	cv_ingest_model_free(m);
	cv_ingest_eval_release(&ev);
}
END_TEST

START_TEST(test_ingest_classify_training_is_deterministic_and_checked)
{
	struct cv_ingest_model *a, *b;
	struct cv_buf ba = CV_BUF_INIT, bb = CV_BUF_INIT;
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ingest_train_opts o = CV_INGEST_TRAIN_OPTS_INIT;
	struct cv_ingest_train_example bad[2] = {
		{ "some text here", "11504-8", NULL },
		{ "other text here", "no-such-type", NULL },
	};
	struct cv_ingest_model *m = NULL;

	a = train_small(60, NULL);
	b = train_small(60, NULL);
	ck_assert_int_eq(cv_ingest_model_write(a, &ba, &err), 0);
	ck_assert_int_eq(cv_ingest_model_write(b, &bb, &err), 0);
	ck_assert_uint_eq(ba.len, bb.len);
	ck_assert(!memcmp(ba.buf, bb.buf, ba.len));
	ck_assert_int_eq(cv_ingest_model_train(&m, bad, 2, &o, NULL, &err),
			 CV_EINVAL);
	ck_assert_ptr_null(m);
	cv_buf_release(&ba);
	cv_buf_release(&bb);
	cv_ingest_model_free(a);
	cv_ingest_model_free(b);
}
END_TEST

START_TEST(test_ingest_classify_model_file_round_trip_and_checks)
{
	struct cv_ingest_model *m = train_small(60, NULL), *back = NULL;
	struct cv_buf b = CV_BUF_INIT;
	struct cv_error err = CV_ERROR_INIT;
	unsigned seed = 5;
	char *copy;
	size_t i;

	ck_assert_int_eq(cv_ingest_model_write(m, &b, &err), 0);
	ck_assert_int_eq(cv_ingest_model_read(&back, b.buf, b.len, &err), 0);
	ck_assert_uint_eq(cv_ingest_model_nfeatures(back),
			  cv_ingest_model_nfeatures(m));
	for (i = 0; i < 10; i++) {
		double p[3], q[3];
		char *t = make_text(&seed, (int)(i % 3), 3);

		cv_ingest_model_predict(m, t, p);
		cv_ingest_model_predict(back, t, q);
		ck_assert(!memcmp(p, q, sizeof(p)));
		free(t);
	}
	cv_ingest_model_free(back);
	back = NULL;

	copy = cv_malloc(b.len);
	/* Truncated, a wrong magic, a weight that is not a number, features
	 * out of order, a class code with a quote: each refused. */
	ck_assert_int_eq(cv_ingest_model_read(&back, b.buf, b.len - 1, &err),
			 CV_EINVAL);
	memcpy(copy, b.buf, b.len);
	copy[0] = 'X';
	ck_assert_int_eq(cv_ingest_model_read(&back, copy, b.len, &err),
			 CV_EINVAL);
	memcpy(copy, b.buf, b.len);
	memset(copy + b.len - 4, 0xff, 4); /* a NaN */
	ck_assert_int_eq(cv_ingest_model_read(&back, copy, b.len, &err),
			 CV_EINVAL);
	memcpy(copy, b.buf, b.len);
	{
		size_t first = 32 + 3 * 32 + 3 * 4, row = 8 + 3 * 4;
		char tmp[8];

		memcpy(tmp, copy + first, 8);
		memcpy(copy + first, copy + first + row, 8);
		memcpy(copy + first + row, tmp, 8);
	}
	ck_assert_int_eq(cv_ingest_model_read(&back, copy, b.len, &err),
			 CV_EINVAL);
	memcpy(copy, b.buf, b.len);
	copy[32] = '"';
	ck_assert_int_eq(cv_ingest_model_read(&back, copy, b.len, &err),
			 CV_EINVAL);
	ck_assert_ptr_null(back);
	free(copy);
	cv_buf_release(&b);
	cv_ingest_model_free(m);
}
END_TEST

START_TEST(test_ingest_classify_rules_come_before_the_model)
{
	struct cv_ingest_model *m = train_small(60, NULL);
	struct cv_ingest_type_decision d;
	struct cv_ingest__seg_page p[2];
	struct cv_index_document doc;
	unsigned seed = 11;
	char *lab = make_text(&seed, 1, 6), *titled;

	/* The model reads a laboratory report... */
	cv_ingest_classify_text(m, lab, &d);
	ck_assert_str_eq(d.code, "11502-2");
	ck_assert_str_eq(d.source, "model");
	/* ...but a title line decides, whatever the body says. */
	titled = cv_asprintf("OPERATIVE REPORT\n%s", lab);
	cv_ingest_classify_text(m, titled, &d);
	ck_assert_str_eq(d.code, "11504-8");
	ck_assert_str_eq(d.source, "title");
	ck_assert(d.confidence == 1.0);

	/* In a run: a cover sheet outranks the title, which outranks the
	 * model; only without any rule does the model decide. */
	memset(p, 0, sizeof(p));
	memset(&doc, 0, sizeof(doc));
	cv_ingest_page_facts(titled, &p[0].facts);
	cv_ingest__type_page(m, titled, &p[0]);
	p[0].has_cover = 1;
	snprintf(p[0].cover.doc_type, sizeof(p[0].cover.doc_type), "59284-0");
	cv_ingest__describe(p, 1, &doc);
	cv_ingest__type_document(m, p, 1, &doc);
	ck_assert_str_eq(doc.doc_type, "59284-0");
	ck_assert_str_eq(doc.type_source, "coversheet");
	ck_assert(doc.type_confidence == 1.0);
	p[0].has_cover = 0;
	memset(&doc, 0, sizeof(doc));
	cv_ingest__describe(p, 1, &doc);
	cv_ingest__type_document(m, p, 1, &doc);
	ck_assert_str_eq(doc.type_source, "title");
	ck_assert_str_eq(doc.doc_type, "11504-8");
	free(p[0].text);

	memset(p, 0, sizeof(p));
	memset(&doc, 0, sizeof(doc));
	cv_ingest_page_facts(lab, &p[0].facts);
	cv_ingest__type_page(m, lab, &p[0]);
	cv_ingest__describe(p, 1, &doc);
	cv_ingest__type_document(m, p, 1, &doc);
	ck_assert_str_eq(doc.type_source, "model");
	ck_assert_str_eq(doc.doc_type, "11502-2");
	ck_assert(doc.type_confidence > 0.5 && doc.type_confidence < 1);
	free(p[0].text);
	free(lab);
	free(titled);
	cv_ingest_model_free(m);
}
END_TEST

START_TEST(test_ingest_classify_type_change_cuts_unnumbered_pages)
{
	struct cv_ingest__seg_page p[3];
	int starts[3];

	memset(p, 0, sizeof(p));
	snprintf(p[0].page_type.code, 32, "11502-2");
	snprintf(p[1].page_type.code, 32, "11502-2");
	snprintf(p[2].page_type.code, 32, "51852-2");
	for (int i = 0; i < 3; i++) {
		snprintf(p[i].page_type.source, 16, "model");
		p[i].page_type.confidence = 0.97;
	}
	cv_ingest__segment(p, 3, starts);
	ck_assert_int_eq(starts[0], 1);
	ck_assert_int_eq(starts[1], 0);
	ck_assert_int_eq(starts[2], 1);
	/* Unsure of either page: no cut. */
	p[2].page_type.confidence = 0.7;
	cv_ingest__segment(p, 3, starts);
	ck_assert_int_eq(starts[2], 0);
	/* Numbering ties pages together whatever the model reads. */
	p[2].page_type.confidence = 0.97;
	p[2].facts.page_of = 2;
	p[2].facts.page_total = 2;
	cv_ingest__segment(p, 3, starts);
	ck_assert_int_eq(starts[2], 0);
	p[2].facts.page_of = 0;
	p[1].facts.page_of = 1;
	p[1].facts.page_total = 2;
	cv_ingest__segment(p, 3, starts);
	ck_assert_int_eq(starts[1], 1); /* "Page 1 of 2" */
	ck_assert_int_eq(starts[2], 0); /* said to continue */
}
END_TEST

START_TEST(test_ingest_classify_builtin_taxonomy_and_hospital_types)
{
	char *dir = cvt_tmpdir("doctypes"), *good, *bad;
	struct cv_error err = CV_ERROR_INIT;
	char code[32];
	size_t n0 = cv_ingest_doctype_count(), n = 0;

	ck_assert_uint_ge(n0, 13);
	ck_assert(cv_ingest_doctype_known("51852-2"));
	ck_assert(cv_ingest_doctype_known("other"));
	ck_assert(!cv_ingest_doctype_known("99999-9"));
	ck_assert_str_eq(cv_ingest_doc_type_name("11526-1"),
			 "pathology report");
	ck_assert(cv_ingest__title_type("DISCHARGE SUMMARY", code, 32));
	ck_assert_str_eq(code, "18842-5");

	good = cv_path_join(dir, "good.tsv");
	bad = cv_path_join(dir, "bad.tsv");
	{
		static const char g[] =
			"# our own\n"
			"28570-0\tprocedure note\tPROCEDURE NOTE\n"
			"11526-1\tsurgical pathology\tPATHOLOGY|HISTOLOGY\n";
		static const char b[] = "28570-0\tprocedure note\tPROC(EDURE\n";

		ck_assert_int_eq(cv_fs_write_atomic(good, g, sizeof(g) - 1,
						    0600, 0, &err),
				 0);
		ck_assert_int_eq(cv_fs_write_atomic(bad, b, sizeof(b) - 1, 0600,
						    0, &err),
				 0);
	}
	ck_assert_int_eq(cv_ingest_doctypes_load(bad, &err), CV_EINVAL);
	ck_assert(strstr(err.msg, "bad.tsv:1"));
	ck_assert_uint_eq(cv_ingest_doctype_count(), n0);
	ck_assert_int_eq(cv_ingest_doctypes_parse_file(good, 1, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(cv_ingest_doctype_count(), n0 + 1);
	ck_assert(cv_ingest_doctype_known("28570-0"));
	ck_assert_str_eq(cv_ingest_doc_type_name("11526-1"),
			 "surgical pathology");
	ck_assert(cv_ingest__title_type("HISTOLOGY", code, 32));
	ck_assert_str_eq(code, "11526-1");
	free(good);
	free(bad);
	cvt_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(test_ingest_classify_default_model_reads_untitled_notes)
{
	struct cv_ingest_model *m = NULL;
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ingest_type_decision d;
	static const char note[] =
		"Preoperative diagnosis: acute appendicitis\n"
		"Postoperative diagnosis: same\n"
		"Anesthesia: general endotracheal\n"
		"Estimated blood loss: minimal\n"
		"The patient was brought to the operating room and placed "
		"supine. The abdomen was prepped and draped in the usual "
		"sterile fashion. A time-out was performed. The appendix was "
		"identified, ligated and removed. Counts were correct.\n";

	ck_assert_msg(cv_ingest_model_default(&m, &err) == 0, "%s", err.msg);
	ck_assert_uint_ge(cv_ingest_model_nclasses(m), 14);
	cv_ingest_classify_text(m, note, &d);
	ck_assert_str_eq(d.source, "model");
	ck_assert_str_eq(d.code, "11504-8");
	ck_assert(d.confidence >= 0.6);
	cv_ingest_model_free(m);
}
END_TEST

Suite *cv_ingest_classify_suite(void)
{
	Suite *s = suite_create("ingest_classify");
	TCase *tc;

	tc = tcase_create("tokens");
	tcase_add_test(
		tc,
		test_ingest_classify_tokens_normalise_case_digits_and_noise);
	tcase_add_test(tc,
		       test_ingest_classify_patient_name_is_never_a_feature);
	suite_add_tcase(s, tc);

	tc = tcase_create("model");
	tcase_add_test(
		tc, test_ingest_classify_trains_and_probabilities_sum_to_one);
	tcase_add_test(tc, test_ingest_classify_confidence_is_calibrated);
	tcase_add_test(
		tc, test_ingest_classify_training_is_deterministic_and_checked);
	tcase_add_test(tc,
		       test_ingest_classify_model_file_round_trip_and_checks);
	tcase_add_test(tc,
		       test_ingest_classify_default_model_reads_untitled_notes);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("rules");
	tcase_add_test(tc, test_ingest_classify_rules_come_before_the_model);
	tcase_add_test(tc,
		       test_ingest_classify_type_change_cuts_unnumbered_pages);
	tcase_add_test(
		tc, test_ingest_classify_builtin_taxonomy_and_hospital_types);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}
