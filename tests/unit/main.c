/*
 * The unit test runner: one Check suite per module, listed in
 * build/gen/suites.h from the tests/unit/check_<module>.c files present.
 * CK_INCLUDE_TAGS / CK_EXCLUDE_TAGS select cases ("db", "ocr" tags mark
 * those that need PostgreSQL or Tesseract).
 */
#include <check.h>
#include <stdlib.h>

#define SUITE(name) Suite *cv_##name##_suite(void);
#include "suites.h"
#undef SUITE

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

#define SUITE(name) srunner_add_suite(sr, cv_##name##_suite());
#include "suites.h"
#undef SUITE
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
