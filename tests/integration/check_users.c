/*
 * Integration tests of users, roles and the audit trail with several
 * people at one server: the test (root) creates the archive shared with
 * the 'chartvault' group, as docs/ROLES.md deploys it, adds OS users for a
 * clerk, a records analyst, a compliance officer and a stranger, and runs
 * the real binary as each of them (runuser), against the real private
 * PostgreSQL cluster and store.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cv.h"
#include "index/index.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

#define GROUP "chartvault"

static char *tmp, *arch, *dsn;

static void add_user(const char *name, const char *role, const char *login)
{
	struct cvt_run r;

	CV(&r, "-C", arch, "user", "add", name, "--role", role, "--os-user",
	   login);
	cvt_expect_status(&r, 0, "user add");
	cvt_run_release(&r);
}

static void shared_archive_setup(void)
{
	struct cvt_run r;
	json_t *j;

	cvt_os_user("cvt-clerk", GROUP);
	cvt_os_user("cvt-records", GROUP);
	cvt_os_user("cvt-comply", GROUP);
	cvt_os_user("cvt-temp", GROUP);
	cvt_os_user("cvt-stranger", GROUP);
	tmp = cvt_tmpdir("users");
	arch = cv_path_join(tmp, "archive");
	CV(&r, "init", arch, "--group", GROUP, "--json");
	cvt_expect_status(&r, 0, "init --group");
	j = cvt_parse_json(&r);
	/* The OS user who ran init is the first administrator. */
	ck_assert_str_eq(json_string_value(json_object_get(j, "admin")),
			 "root");
	ck_assert_str_eq(json_string_value(json_object_get(j, "group")), GROUP);
	json_decref(j);
	cvt_run_release(&r);
	dsn = cv_index_cluster_dsn(arch);
	add_user("clerk", "clerk", "cvt-clerk");
	add_user("rita", "records", "cvt-records");
	add_user("carl", "compliance", "cvt-comply");
	add_user("tom", "clerk", "cvt-temp");
}

static void shared_archive_teardown(void)
{
	struct cvt_run r;

	CV(&r, "-C", arch, "db", "stop");
	cvt_run_release(&r);
	cvt_rmrf(tmp);
	free(tmp);
	free(arch);
	free(dsn);
}

static long long count(const char *sql)
{
	return cvt_sql_count(dsn, sql);
}

START_TEST(test_users_unmapped_os_user_is_refused_and_audited)
{
	struct cvt_run r;

	CV_AS(&r, "cvt-stranger", "-C", arch, "batch", "list");
	cvt_expect_status(&r, 6, "batch list by an unmapped OS user");
	ck_assert_msg(strstr(r.err.buf,
			     "OS user 'cvt-stranger' is not a chartvault user"),
		      "%s", r.err.buf);
	ck_assert_msg(strstr(r.err.buf, "--os-user cvt-stranger"), "%s",
		      r.err.buf);
	cvt_run_release(&r);
	ck_assert_int_eq(count("SELECT count(*) FROM audit_log"
			       " WHERE action = 'access.denied'"
			       " AND os_user = 'cvt-stranger'"
			       " AND outcome = 'denied' AND role IS NULL"
			       " AND object_id = 'batch'"),
			 1);
}
END_TEST

START_TEST(test_users_clerk_is_refused_a_compliance_command)
{
	struct cvt_run r;

	CV_AS(&r, "cvt-clerk", "-C", arch, "audit", "show");
	cvt_expect_status(&r, 6, "audit show by a clerk");
	ck_assert_msg(
		strstr(r.err.buf, "user 'clerk' (role clerk) may not run"),
		"%s", r.err.buf);
	ck_assert_msg(strstr(r.err.buf, "compliance or admin"), "%s",
		      r.err.buf);
	cvt_run_release(&r);
	/* The denial is in the chain, with who, what and why. */
	ck_assert_int_eq(
		count("SELECT count(*) FROM audit_log"
		      " WHERE action = 'access.denied'"
		      " AND actor = 'clerk' AND role = 'clerk'"
		      " AND os_user = 'cvt-clerk'"
		      " AND object_id = 'audit'"
		      " AND detail LIKE 'role clerk; needs compliance%'"
		      " AND seq IS NOT NULL AND hash IS NOT NULL"),
		1);
	/* Other commands above a clerk: search words never reach the log. */
	CV_AS(&r, "cvt-clerk", "-C", arch, "search", "SecretWord");
	cvt_expect_status(&r, 6, "search by a clerk");
	cvt_run_release(&r);
	ck_assert_int_eq(count("SELECT count(*) FROM audit_log"
			       " WHERE detail LIKE '%SecretWord%'"
			       " OR object_id LIKE '%SecretWord%'"),
			 0);
	CV_AS(&r, "cvt-clerk", "-C", arch, "keys", "rotate");
	cvt_expect_status(&r, 6, "keys rotate by a clerk");
	cvt_run_release(&r);
	CV_AS(&r, "cvt-clerk", "-C", arch, "user", "add", "eve", "--role",
	      "admin");
	cvt_expect_status(&r, 6, "user add by a clerk");
	cvt_run_release(&r);
	ck_assert_int_eq(count("SELECT count(*) FROM users WHERE name = 'eve'"),
			 0);
}
END_TEST

START_TEST(test_users_staff_share_the_store_across_os_users)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cvt_run r, g;
	char *file = cv_path_join(tmp, "note.txt"), id[65];

	ck_assert_int_eq(
		cv_fs_write_atomic(file, "scan bytes\n", 11, 0644, 0, &err), 0);
	/* A clerk stores, a records analyst reads it back. */
	CV_AS(&r, "cvt-clerk", "-C", arch, "archive", "put", file);
	cvt_expect_status(&r, 0, "archive put by a clerk");
	ck_assert_int_ge(r.out.len, 64);
	memcpy(id, r.out.buf, 64);
	id[64] = '\0';
	cvt_run_release(&r);
	CV_AS(&g, "cvt-clerk", "-C", arch, "archive", "get", id);
	cvt_expect_status(&g, 6, "archive get by a clerk");
	cvt_run_release(&g);
	CV_AS(&g, "cvt-records", "-C", arch, "archive", "get", id);
	cvt_expect_status(&g, 0, "archive get by records");
	ck_assert_str_eq(g.out.buf, "scan bytes\n");
	cvt_run_release(&g);
	ck_assert_int_eq(count("SELECT count(*) FROM audit_log WHERE"
			       " action = 'object.put' AND actor = 'clerk'"),
			 1);
	free(file);
}
END_TEST

START_TEST(test_users_patient_report_shows_who_looked)
{
	struct cvt_run r;
	json_t *rows, *row;
	size_t i;
	int seen = 0;

	cvt_sql_exec(dsn, "INSERT INTO batches (id, name, operator)"
			  " VALUES (900, 'report-batch', 'test')");
	cvt_sql_exec(dsn, "INSERT INTO documents (id, batch_id, mrn, doc_type)"
			  " VALUES (901, 900, 'MRN-U1', '18842-5'),"
			  " (902, 900, 'MRN-U2', '11506-3')");
	CV_AS(&r, "cvt-records", "-C", arch, "show", "901");
	cvt_expect_status(&r, 0, "show by records");
	cvt_run_release(&r);
	CV_AS(&r, "cvt-records", "-C", arch, "show", "902");
	cvt_expect_status(&r, 0, "show of another chart");
	cvt_run_release(&r);
	/* Records staff do not read the trail; compliance does. */
	CV_AS(&r, "cvt-records", "-C", arch, "audit", "show", "--patient",
	      "MRN-U1");
	cvt_expect_status(&r, 6, "audit show by records");
	cvt_run_release(&r);
	CV_AS(&r, "cvt-comply", "-C", arch, "audit", "show", "--patient",
	      "MRN-U1", "--json");
	cvt_expect_status(&r, 0, "audit show --patient by compliance");
	rows = cvt_parse_json(&r);
	ck_assert(json_is_array(rows));
	json_array_foreach(rows, i, row)
	{
		const char *action =
			json_string_value(json_object_get(row, "action"));

		ck_assert_str_eq(
			json_string_value(json_object_get(row, "patient")),
			"MRN-U1");
		if (!strcmp(action, "document.view")) {
			seen++;
			ck_assert_str_eq(json_string_value(
						 json_object_get(row, "actor")),
					 "rita");
			ck_assert_str_eq(
				json_string_value(json_object_get(row, "role")),
				"records");
			ck_assert_str_eq(json_string_value(json_object_get(
						 row, "os_user")),
					 "cvt-records");
			ck_assert_str_eq(json_string_value(json_object_get(
						 row, "document_id")),
					 "901");
		}
	}
	ck_assert_int_eq(seen, 1);
	json_decref(rows);
	cvt_run_release(&r);
	/* Reading the report is itself audited, for that patient. */
	ck_assert_int_eq(count("SELECT count(*) FROM audit_log"
			       " WHERE action = 'audit.show' AND actor = 'carl'"
			       " AND patient = 'MRN-U1'"),
			 1);
}
END_TEST

START_TEST(test_users_role_change_and_disable_take_effect)
{
	struct cvt_run r;

	CV_AS(&r, "cvt-temp", "-C", arch, "user", "list");
	cvt_expect_status(&r, 6, "user list by a clerk");
	cvt_run_release(&r);
	CV(&r, "-C", arch, "user", "role", "tom", "compliance");
	cvt_expect_status(&r, 0, "user role");
	cvt_run_release(&r);
	CV_AS(&r, "cvt-temp", "-C", arch, "user", "list", "--json");
	cvt_expect_status(&r, 0, "user list by compliance");
	cvt_run_release(&r);
	CV(&r, "-C", arch, "user", "disable", "tom");
	cvt_expect_status(&r, 0, "user disable");
	cvt_run_release(&r);
	CV_AS(&r, "cvt-temp", "-C", arch, "batch", "list");
	cvt_expect_status(&r, 6, "batch list by a disabled user");
	ck_assert_msg(strstr(r.err.buf, "user 'tom' is disabled"), "%s",
		      r.err.buf);
	cvt_run_release(&r);
	ck_assert_int_eq(count("SELECT count(*) FROM audit_log WHERE"
			       " action IN ('user.role', 'user.disable')"
			       " AND object_id = 'tom' AND actor = 'root'"),
			 2);
	/* The archive always keeps an administrator. */
	CV(&r, "-C", arch, "user", "disable", "root");
	cvt_expect_status(&r, 6, "disabling the last administrator");
	cvt_run_release(&r);
	CV(&r, "-C", arch, "user", "role", "root", "clerk");
	cvt_expect_status(&r, 6, "demoting the last administrator");
	cvt_run_release(&r);
}
END_TEST

START_TEST(test_users_passwd_for_oneself_only)
{
	const char *env[] = { "CHARTVAULT_NEW_PASSWORD=a long sign-in phrase",
			      NULL };
	const char *mine[] = { "chartvault", "-C",    arch, "user",
			       "passwd",     "clerk", NULL };
	const char *theirs[] = { "chartvault", "-C",   arch, "user",
				 "passwd",     "rita", NULL };
	const char *shortpw[] = { "CHARTVAULT_NEW_PASSWORD=short", NULL };
	struct cvt_run r;
	char *phc;

	cvt_run_as(&r, "cvt-clerk", mine, env, NULL);
	cvt_expect_status(&r, 0, "user passwd for oneself");
	cvt_run_release(&r);
	phc = cvt_sql_text(dsn, "SELECT password_hash FROM users"
				" WHERE name = 'clerk'");
	ck_assert_msg(!strncmp(phc, "$argon2id$v=19$m=65536,t=3,p=1$", 31),
		      "%s", phc);
	ck_assert_ptr_null(strstr(phc, "sign-in"));
	free(phc);
	cvt_run_as(&r, "cvt-clerk", theirs, env, NULL);
	cvt_expect_status(&r, 6, "user passwd for someone else");
	cvt_run_release(&r);
	ck_assert_int_eq(count("SELECT count(*) FROM users WHERE name = 'rita'"
			       " AND password_hash IS NULL"),
			 1);
	cvt_run_as(&r, "cvt-clerk", mine, shortpw, NULL);
	ck_assert_int_ne(r.status, 0);
	ck_assert_msg(strstr(r.err.buf, "12 to"), "%s", r.err.buf);
	cvt_run_release(&r);
}
END_TEST

START_TEST(test_users_audit_verify_catches_an_sql_edit)
{
	struct cvt_run r;
	char *cpfile = cv_path_join(arch, "audit/checkpoints.log"), *seq, *q;
	struct stat st;

	CV_AS(&r, "cvt-comply", "-C", arch, "audit", "checkpoint");
	cvt_expect_status(&r, 0, "audit checkpoint by compliance");
	cvt_run_release(&r);
	ck_assert_int_eq(stat(cpfile, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0660);
	CV_AS(&r, "cvt-comply", "-C", arch, "audit", "verify");
	cvt_expect_status(&r, 0, "audit verify of an intact trail");
	ck_assert_msg(strstr(r.out.buf, "audit trail intact"), "%s", r.out.buf);
	cvt_run_release(&r);
	/* An administrator of the database rewrites who viewed a chart. */
	seq = cvt_sql_text(dsn, "SELECT min(seq) FROM audit_log"
				" WHERE action = 'object.put'");
	q = cv_asprintf("ALTER TABLE audit_log DISABLE TRIGGER USER;"
			" UPDATE audit_log SET actor = 'nobody'"
			" WHERE seq = %s",
			seq);
	cvt_sql_exec(dsn, q);
	free(q);
	CV_AS(&r, "cvt-comply", "-C", arch, "audit", "verify");
	cvt_expect_status(&r, 4, "audit verify of an edited trail");
	q = cv_asprintf("row seq %s (id", seq);
	ck_assert_msg(strstr(r.out.buf, q) && strstr(r.out.buf, "was edited"),
		      "%s", r.out.buf);
	free(q);
	cvt_run_release(&r);
	q = cv_asprintf("UPDATE audit_log SET actor = 'clerk' WHERE seq = %s;"
			" ALTER TABLE audit_log ENABLE TRIGGER USER",
			seq);
	cvt_sql_exec(dsn, q);
	free(q);
	CV_AS(&r, "cvt-comply", "-C", arch, "audit", "verify", "--json");
	cvt_expect_status(&r, 0, "audit verify after the edit was undone");
	cvt_run_release(&r);
	free(seq);
	free(cpfile);
}
END_TEST

START_TEST(test_users_archive_without_users_has_a_bootstrap)
{
	/* An archive from before users: no row in users. Only the owner
	 * (root here) may make the first administrator. */
	struct cvt_run r;
	char *dir = cvt_tmpdir("nousers"), *a = cv_path_join(dir, "a");
	char *d2 = cvt_pg_createdb(&cvt_shared_pg);

	CV(&r, "init", a, "--db", d2);
	cvt_expect_status(&r, 0, "init --db");
	cvt_run_release(&r);
	cvt_sql_exec(d2, "DELETE FROM users");
	CV(&r, "-C", a, "batch", "list");
	cvt_expect_status(&r, 6, "batch list without users");
	ck_assert_msg(strstr(r.err.buf, "has no users yet"), "%s", r.err.buf);
	cvt_run_release(&r);
	CV(&r, "-C", a, "user", "add", "boss", "--role", "clerk");
	cvt_expect_status(&r, 6, "a first user who is not an admin");
	cvt_run_release(&r);
	CV(&r, "-C", a, "user", "add", "boss", "--role", "admin", "--os-user",
	   "root");
	cvt_expect_status(&r, 0, "the owner makes the first admin");
	cvt_run_release(&r);
	CV(&r, "-C", a, "batch", "list");
	cvt_expect_status(&r, 0, "batch list by the new admin");
	cvt_run_release(&r);
	cvt_rmrf(dir);
	free(dir);
	free(a);
	free(d2);
}
END_TEST

Suite *cv_users_suite(void)
{
	Suite *s = suite_create("users");
	TCase *tc = tcase_create("several-people");

	tcase_set_tags(tc, "db");
	tcase_set_timeout(tc, 180);
	tcase_add_unchecked_fixture(tc, shared_archive_setup,
				    shared_archive_teardown);
	tcase_add_test(tc, test_users_unmapped_os_user_is_refused_and_audited);
	tcase_add_test(tc, test_users_clerk_is_refused_a_compliance_command);
	tcase_add_test(tc, test_users_staff_share_the_store_across_os_users);
	tcase_add_test(tc, test_users_patient_report_shows_who_looked);
	tcase_add_test(tc, test_users_role_change_and_disable_take_effect);
	tcase_add_test(tc, test_users_passwd_for_oneself_only);
	tcase_add_test(tc, test_users_audit_verify_catches_an_sql_edit);
	suite_add_tcase(s, tc);

	tc = tcase_create("bootstrap");
	tcase_set_tags(tc, "db");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_users_archive_without_users_has_a_bootstrap);
	suite_add_tcase(s, tc);
	return s;
}
