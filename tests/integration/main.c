/*
 * The integration test runner: the chartvault command end to end against
 * a real PostgreSQL and real Tesseract. Cases are tagged "db" and "ocr"
 * for CK_INCLUDE_TAGS / CK_EXCLUDE_TAGS.
 */
#include <check.h>
#include <stdlib.h>

Suite *cv_cli_suite(void);
Suite *cv_archive_cli_suite(void);
Suite *cv_classify_cli_suite(void);
Suite *cv_queue_suite(void);
Suite *cv_retention_cli_suite(void);
Suite *cv_users_suite(void);
Suite *cv_qa_suite(void);
Suite *cv_search_cli_suite(void);
Suite *cv_patients_cli_suite(void);
Suite *cv_compliance_cli_suite(void);
Suite *cv_access_cli_suite(void);

int main(void)
{
	SRunner *sr = srunner_create(cv_cli_suite());
	int failed;

	srunner_add_suite(sr, cv_archive_cli_suite());
	srunner_add_suite(sr, cv_classify_cli_suite());
	srunner_add_suite(sr, cv_queue_suite());
	srunner_add_suite(sr, cv_retention_cli_suite());
	srunner_add_suite(sr, cv_users_suite());
	srunner_add_suite(sr, cv_qa_suite());
	srunner_add_suite(sr, cv_search_cli_suite());
	srunner_add_suite(sr, cv_patients_cli_suite());
	srunner_add_suite(sr, cv_compliance_cli_suite());
	srunner_add_suite(sr, cv_access_cli_suite());

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
