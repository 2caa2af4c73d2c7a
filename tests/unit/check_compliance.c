/*
 * Unit tests for compliance/: what certificate verification says about a
 * file that is not a certificate (before any database or key is needed),
 * and printing a recorded certificate as a PDF again.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/cv.h"
#include "compliance/compliance.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

/* No database, store or key: the checks below stop before needing them. */
static const struct cv_compliance_ctx NOBODY = { NULL, NULL, NULL, NULL, NULL };

static int has_problem(const struct cv_compliance_cert_check *chk,
		       const char *needle)
{
	size_t i;

	for (i = 0; i < chk->nproblems; i++)
		if (strstr(chk->problems[i], needle))
			return 1;
	return 0;
}

START_TEST(test_compliance_verify_names_a_file_that_is_not_json)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_compliance_cert_check chk;
	static const char text[] = "certificate of destruction, trust me\n";

	ck_assert_int_eq(cv_compliance_certificate_verify(&NOBODY, "cert.json",
							  text, strlen(text),
							  &chk, &err),
			 0);
	ck_assert_uint_eq(chk.nproblems, 1);
	ck_assert_msg(has_problem(&chk, "'cert.json' is not JSON"), "%s",
		      chk.problems[0]);
	cv_compliance_cert_check_release(&chk);
	ck_assert_ptr_null(chk.problems);
}
END_TEST

START_TEST(test_compliance_verify_refuses_json_without_a_signature)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_compliance_cert_check chk;
	/* Canonical (keys sorted, compact), but no signature. */
	static const char text[] =
		"{\"certificate\":{\"type\":\"certificate-of-destruction\"}}\n";
	/* The same, not in canonical form: a changed byte. */
	static const char spaced[] =
		"{\"certificate\": {\"type\":\"certificate-of-destruction\"}}\n";

	ck_assert_int_eq(cv_compliance_certificate_verify(&NOBODY, "c.json",
							  text, strlen(text),
							  &chk, &err),
			 0);
	ck_assert_uint_eq(chk.nproblems, 1);
	ck_assert(has_problem(&chk, "is not a chartvault certificate"));
	cv_compliance_cert_check_release(&chk);

	ck_assert_int_eq(
		cv_compliance_certificate_verify(&NOBODY, "c.json", spaced,
						 strlen(spaced), &chk, &err),
		0);
	ck_assert_uint_eq(chk.nproblems, 2);
	ck_assert(has_problem(&chk, "first difference at byte 15"));
	cv_compliance_cert_check_release(&chk);
}
END_TEST

START_TEST(test_compliance_pdf_of_a_recorded_certificate)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf pdf = CV_BUF_INIT;
	struct cv_buf text = CV_BUF_INIT;
	int i;

	cv_buf_adds(&text,
		    "{\"certificate\":{\"ahima\":{\"facility\":\"Riverbend\"},"
		    "\"destruction_batch\":{\"id\":7},\"records\":"
		    "[{\"document_id\":12,\"mrn\":\"90077701\","
		    "\"objects\":[]}],\"type\":"
		    "\"certificate-of-destruction\"},\"signature\":"
		    "{\"value\":\"");
	for (i = 0; i < 128; i++)
		cv_buf_addch(&text, "0123456789abcdef"[i % 16]);
	cv_buf_adds(&text, "\"}}\n");
	ck_assert_int_eq(cv_compliance_certificate_pdf(text.buf, &pdf, &err),
			 0);
	ck_assert_uint_gt(pdf.len, 1000);
	ck_assert(!memcmp(pdf.buf, "%PDF-", 5));
	cv_buf_release(&pdf);

	/* A text that is not a recorded certificate is refused. */
	ck_assert_int_eq(cv_compliance_certificate_pdf("{\"certificate\":{}}",
						       &pdf, &err),
			 CV_ERROR);
	ck_assert_uint_eq(pdf.len, 0);
	cv_buf_release(&pdf);
	cv_buf_release(&text);
}
END_TEST

Suite *cv_compliance_suite(void)
{
	Suite *s = suite_create("compliance");
	TCase *tc;

	tc = tcase_create("verify");
	tcase_add_test(tc,
		       test_compliance_verify_names_a_file_that_is_not_json);
	tcase_add_test(tc,
		       test_compliance_verify_refuses_json_without_a_signature);
	suite_add_tcase(s, tc);

	tc = tcase_create("pdf");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_compliance_pdf_of_a_recorded_certificate);
	suite_add_tcase(s, tc);
	return s;
}
