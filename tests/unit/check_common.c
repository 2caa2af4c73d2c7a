/*
 * Unit tests for common/: buffers and their caps, errors, number parsing,
 * durable writes, settings.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cv.h"
#include "common/config.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

START_TEST(test_common_buf_grows_and_stays_terminated)
{
	struct cv_buf b = CV_BUF_INIT;
	int i;

	ck_assert_str_eq(b.buf, "");
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(cv_buf_addf(&b, "%d,", i), 0);
	ck_assert_uint_eq(strlen(b.buf), b.len);
	ck_assert(!strncmp(b.buf, "0,1,2,", 6));
	cv_buf_release(&b);
	ck_assert_str_eq(b.buf, "");
}
END_TEST

START_TEST(test_common_buf_limit_releases)
{
	struct cv_buf b = CV_BUF_INIT;

	cv_buf_limit(&b, 10);
	ck_assert_int_eq(cv_buf_adds(&b, "12345"), 0);
	ck_assert_int_eq(cv_buf_adds(&b, "123456"), CV_ELIMIT);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.buf, "");
}
END_TEST

START_TEST(test_common_buf_escapes_control_characters)
{
	struct cv_buf b = CV_BUF_INIT;

	cv_buf_add_escaped(&b, "a\nb\x1b[31m\\", 9);
	ck_assert_str_eq(b.buf, "a\\x0ab\\x1b[31m\\x5c");
	cv_buf_release(&b);
}
END_TEST

START_TEST(test_common_parse_is_bounded)
{
	long long v;

	ck_assert_int_eq(cv_parse_ll(&v, "42", 0, 100), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(cv_parse_ll(&v, "101", 0, 100), CV_EINVAL);
	ck_assert_int_eq(cv_parse_ll(&v, "4x", 0, 100), CV_EINVAL);
	ck_assert_int_eq(cv_parse_ll(&v, "", 0, 100), CV_EINVAL);
	ck_assert_int_eq(cv_parse_ll(&v, "99999999999999999999", 0, 100),
			 CV_EINVAL);
}
END_TEST

/* Text from outside: strict UTF-8, and control characters only as lines. */
START_TEST(test_common_text_ok_is_strict)
{
	ck_assert(cv_text_ok("caf\xc3\xa9 \xe2\x82\xac", 9, 0));
	ck_assert(cv_text_ok("two\nlines\ttab", 13, 1));
	ck_assert(!cv_text_ok("two\nlines", 10, 0));
	ck_assert(!cv_text_ok("nul\0inside", 11, 1));
	ck_assert(!cv_text_ok("del\x7f", 4, 1));
	ck_assert(!cv_text_ok("\xff\xfe", 2, 1));         /* not UTF-8 */
	ck_assert(!cv_text_ok("\xc0\xaf", 2, 1));         /* overlong '/' */
	ck_assert(!cv_text_ok("\xed\xa0\x80", 3, 1));     /* a surrogate */
	ck_assert(!cv_text_ok("\xf4\x90\x80\x80", 4, 1)); /* past U+10FFFF */
	ck_assert(!cv_text_ok("cut \xe2\x82", 6, 1));     /* truncated */
}
END_TEST

START_TEST(test_common_hex_roundtrip)
{
	uint8_t in[4] = { 0, 0xab, 0x10, 0xff }, back[4];
	char hex[9];

	cv_hex_encode(hex, in, 4);
	ck_assert_str_eq(hex, "00ab10ff");
	ck_assert_int_eq(cv_hex_decode(back, 4, hex), 0);
	ck_assert(!memcmp(in, back, 4));
	ck_assert_int_eq(cv_hex_decode(back, 4, "00ab10f"), CV_EINVAL);
	ck_assert_int_eq(cv_hex_decode(back, 4, "00ab10fg"), CV_EINVAL);
}
END_TEST

START_TEST(test_common_error_keeps_code_when_prefixed)
{
	struct cv_error err = CV_ERROR_INIT;

	cv_error_set(&err, CV_EINVAL, "bad page %d", 3);
	cv_error_prefix(&err, "file '%s'", "a.tif");
	ck_assert_int_eq(err.code, CV_EINVAL);
	ck_assert_str_eq(err.msg, "file 'a.tif': bad page 3");
}
END_TEST

START_TEST(test_common_write_atomic_exclusive_refuses)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf b = CV_BUF_INIT;
	char *dir = cvt_tmpdir("common"), *p = cv_path_join(dir, "f");
	struct stat st;

	ck_assert_int_eq(cv_fs_write_atomic(p, "one", 3, 0600, 1, &err), 0);
	ck_assert_int_eq(cv_fs_write_atomic(p, "two", 3, 0600, 1, &err),
			 CV_EEXISTS);
	ck_assert_int_eq(cv_fs_read_file(&b, p, 100, &err), 0);
	ck_assert_str_eq(b.buf, "one");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(cv_fs_write_atomic(p, "two", 3, 0600, 0, &err), 0);
	cv_buf_reset(&b);
	ck_assert_int_eq(cv_fs_read_file(&b, p, 100, &err), 0);
	ck_assert_str_eq(b.buf, "two");
	cv_buf_reset(&b);
	ck_assert_int_eq(cv_fs_read_file(&b, p, 2, &err), CV_ELIMIT);
	cv_buf_release(&b);
	cvt_rmrf(dir);
	free(p);
	free(dir);
}
END_TEST

START_TEST(test_common_read_file_refuses_fifo_without_hanging)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf b = CV_BUF_INIT;
	char *dir = cvt_tmpdir("fifo"), *p = cv_path_join(dir, "scan.tif");

	ck_assert_int_eq(mkfifo(p, 0600), 0);
	ck_assert_int_eq(cv_fs_read_file(&b, p, 1000, &err), CV_EINVAL);
	ck_assert(strstr(err.msg, "not a regular file") != NULL);
	cv_buf_release(&b);
	cvt_rmrf(dir);
	free(p);
	free(dir);
}
END_TEST

START_TEST(test_common_path_absolute_resolves_dots)
{
	char *p = cv_path_absolute("/a/./b/../c//d");

	ck_assert_str_eq(p, "/a/c/d");
	free(p);
	p = cv_path_absolute("/..");
	ck_assert_str_eq(p, "/");
	free(p);
}
END_TEST

START_TEST(test_common_config_precedence_and_errors)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_config cfg;
	char *dir = cvt_tmpdir("config"), *p = cv_path_join(dir, "c.conf");
	const char *text = "[ocr]\nworkers = 3\n[db]\nserver_user = pgrun\n";

	cv_config_init(&cfg);
	ck_assert_int_eq(cfg.ocr_workers, 0);
	ck_assert_int_eq(
		cv_fs_write_atomic(p, text, strlen(text), 0600, 0, &err), 0);
	ck_assert_int_eq(cv_config_load_file(&cfg, p, 0, &err), 0);
	ck_assert_int_eq(cfg.ocr_workers, 3);
	ck_assert_str_eq(cfg.db_server_user, "pgrun");
	setenv("CHARTVAULT_OCR_WORKERS", "5", 1);
	ck_assert_int_eq(cv_config_load_env(&cfg, &err), 0);
	unsetenv("CHARTVAULT_OCR_WORKERS");
	ck_assert_int_eq(cfg.ocr_workers, 5);
	ck_assert_int_eq(cv_config_set(&cfg, "ocr.workers=2", &err), 0);
	ck_assert_int_eq(cfg.ocr_workers, 2);
	ck_assert_int_eq(cv_config_set(&cfg, "ocr.workers=-1", &err),
			 CV_EINVAL);
	ck_assert_int_eq(cv_config_set(&cfg, "ocr.nope=1", &err), CV_EINVAL);

	text = "[ocr]\nworkers = 3\nbogus = 1\n";
	ck_assert_int_eq(
		cv_fs_write_atomic(p, text, strlen(text), 0600, 0, &err), 0);
	ck_assert_int_eq(cv_config_load_file(&cfg, p, 0, &err), CV_EINVAL);
	ck_assert_msg(strstr(err.msg, "c.conf:3") != NULL, "%s", err.msg);
	cv_config_release(&cfg);
	cvt_rmrf(dir);
	free(p);
	free(dir);
}
END_TEST

/* The commented sample init writes is read back as it is. */
START_TEST(test_common_config_sample_reads_back)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_config cfg;
	char *dir = cvt_tmpdir("config"), *p = cv_path_join(dir, "c.conf");
	char *text = cv_config_sample();

	cv_config_init(&cfg);
	ck_assert_int_eq(
		cv_fs_write_atomic(p, text, strlen(text), 0600, 0, &err), 0);
	ck_assert_msg(cv_config_load_file(&cfg, p, 0, &err) == 0, "%s",
		      err.msg);
	cv_config_release(&cfg);
	free(text);
	cvt_rmrf(dir);
	free(p);
	free(dir);
}
END_TEST

START_TEST(test_common_config_hides_secrets)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_config cfg;
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	cv_config_init(&cfg);
	ck_assert_int_eq(cv_config_set(&cfg, "db.dsn=password=hunter2", &err),
			 0);
	cv_config_list(&cfg, f);
	fclose(f);
	ck_assert(strstr(out, "hunter2") == NULL);
	ck_assert(strstr(out, "db.dsn=(set, hidden)") != NULL);
	free(out);
	cv_config_release(&cfg);
}
END_TEST

Suite *cv_common_suite(void)
{
	Suite *s = suite_create("common");
	TCase *tc;

	tc = tcase_create("buf");
	tcase_add_test(tc, test_common_buf_grows_and_stays_terminated);
	tcase_add_test(tc, test_common_buf_limit_releases);
	tcase_add_test(tc, test_common_buf_escapes_control_characters);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_common_parse_is_bounded);
	tcase_add_test(tc, test_common_text_ok_is_strict);
	tcase_add_test(tc, test_common_hex_roundtrip);
	tcase_add_test(tc, test_common_error_keeps_code_when_prefixed);
	tcase_add_test(tc, test_common_path_absolute_resolves_dots);
	suite_add_tcase(s, tc);

	tc = tcase_create("fs");
	tcase_add_test(tc, test_common_write_atomic_exclusive_refuses);
	tcase_add_test(tc, test_common_read_file_refuses_fifo_without_hanging);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_test(tc, test_common_config_precedence_and_errors);
	tcase_add_test(tc, test_common_config_sample_reads_back);
	tcase_add_test(tc, test_common_config_hides_secrets);
	suite_add_tcase(s, tc);
	return s;
}
