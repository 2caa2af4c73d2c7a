/*
 * Integration tests of restricted charts on the command line, with
 * several people at one archive (as check_users.c sets it up): an
 * administrator restricts a chart; a records analyst's show, export and
 * search then treat its documents as unknown or without text; breaking
 * the glass opens it for a while and waits for review; a compliance
 * officer (never the one who took the access) reviews it; standing
 * permissions open it without a reason.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cv.h"
#include "index/index.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

#define GROUP       "chartvault"
#define MRN_A       "90003306" /* FAKELEY: scan-0002.png, restricted */
#define MRN_B       "90001234" /* SAMPLEWOOD: scan-0001.png */
#define GOOD_REASON "patient arrived in the emergency department unconscious"

static char *tmp, *arch, *dsn;
static char doc_a[24], doc_b[24];

static void run_ok(struct cvt_run *r, const char *what)
{
	cvt_expect_status(r, 0, what);
	cvt_run_release(r);
}

static void restricted_setup(void)
{
	struct cvt_run r;
	char *batch_a, *batch_b, *v;

	cvt_os_user("cvt-records", GROUP);
	cvt_os_user("cvt-comply", GROUP);
	cvt_os_user("cvt-clerk", GROUP);
	tmp = cvt_tmpdir("access");
	arch = cv_path_join(tmp, "archive");
	CV(&r, "init", arch, "--group", GROUP);
	run_ok(&r, "init --group");
	dsn = cv_index_cluster_dsn(arch);
	CV(&r, "-C", arch, "user", "add", "rita", "--role", "records",
	   "--os-user", "cvt-records");
	run_ok(&r, "user add rita");
	CV(&r, "-C", arch, "user", "add", "carl", "--role", "compliance",
	   "--os-user", "cvt-comply");
	run_ok(&r, "user add carl");
	CV(&r, "-C", arch, "user", "add", "clerk", "--role", "clerk",
	   "--os-user", "cvt-clerk");
	run_ok(&r, "user add clerk");
	cvt_import_patients(arch, NULL);
	batch_a = cvt_srcpath("samples/batch/scan-0002.png");
	batch_b = cvt_srcpath("samples/batch/scan-0001.png");
	CV(&r, "-C", arch, "ingest", "--batch", "access", batch_a, batch_b);
	run_ok(&r, "ingest");
	v = cvt_sql_text(dsn,
			 "SELECT id FROM documents WHERE mrn = '" MRN_A "'");
	snprintf(doc_a, sizeof(doc_a), "%s", v);
	free(v);
	v = cvt_sql_text(dsn,
			 "SELECT id FROM documents WHERE mrn = '" MRN_B "'");
	snprintf(doc_b, sizeof(doc_b), "%s", v);
	free(v);
	free(batch_a);
	free(batch_b);
}

static void restricted_teardown(void)
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

/* stderr of r with every run of digits replaced by "#". */
static void digits_out(char *out, size_t n, const char *s)
{
	size_t o = 0;

	for (; *s && o + 1 < n; s++) {
		if (*s >= '0' && *s <= '9') {
			out[o++] = '#';
			while (s[1] >= '0' && s[1] <= '9')
				s++;
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

START_TEST(test_access_restrict_needs_oversight)
{
	struct cvt_run r;

	CV_AS(&r, "cvt-records", "-C", arch, "patients", "restrict", MRN_A,
	      "--category", "vip");
	cvt_expect_status(&r, 6, "restrict by records staff");
	cvt_run_release(&r);
	CV(&r, "-C", arch, "patients", "restrict", MRN_A, "--category",
	   "royalty");
	cvt_expect_status(&r, 2, "restrict with an unknown category");
	cvt_run_release(&r);
	CV(&r, "-C", arch, "patients", "restrict", "99999999", "--category",
	   "vip");
	cvt_expect_status(&r, 5, "restrict of an unknown MRN");
	cvt_run_release(&r);
	CV(&r, "-C", arch, "patients", "restrict", MRN_A, "--category", "vip",
	   "--note", "board member");
	run_ok(&r, "restrict by the administrator");
	ck_assert_int_eq(
		count("SELECT count(*) FROM patients WHERE mrn = '" MRN_A
		      "' AND restricted = 'vip'"
		      " AND restricted_by = 'root'"),
		1);
	ck_assert_int_eq(count("SELECT count(*) FROM audit_log"
			       " WHERE action = 'patient.restrict'"
			       " AND patient = '" MRN_A "'"),
			 1);
}
END_TEST

START_TEST(test_access_restricted_document_looks_unknown)
{
	struct cvt_run r, u;
	char a[256], b[256];
	json_t *j, *hit;

	CV_AS(&r, "cvt-records", "-C", arch, "show", doc_a);
	CV_AS(&u, "cvt-records", "-C", arch, "show", "987654");
	ck_assert_int_eq(r.status, 5);
	ck_assert_int_eq(u.status, 5);
	ck_assert_int_eq(r.out.len, 0);
	digits_out(a, sizeof(a), r.err.buf);
	digits_out(b, sizeof(b), u.err.buf);
	ck_assert_str_eq(a, b);
	cvt_run_release(&r);
	cvt_run_release(&u);
	/* Another patient's document is not affected. */
	CV_AS(&r, "cvt-records", "-C", arch, "show", "--no-text", doc_b);
	run_ok(&r, "show of an open chart");
	CV_AS(&r, "cvt-records", "-C", arch, "export", doc_a, "-o",
	      "/nonexistent/x.pdf");
	cvt_expect_status(&r, 5, "export of a restricted document");
	ck_assert_msg(strstr(r.err.buf, "no document"), "%s", r.err.buf);
	cvt_run_release(&r);
	/* Search: the result is there, its text is not. */
	CV_AS(&r, "cvt-records", "-C", arch, "search", "--json",
	      "appendectomy");
	cvt_expect_status(&r, 0, "search");
	j = cvt_parse_json(&r);
	hit = json_array_get(json_object_get(j, "results"), 0);
	ck_assert_ptr_nonnull(hit);
	ck_assert_str_eq(json_string_value(json_object_get(hit, "mrn")), MRN_A);
	ck_assert_str_eq(json_string_value(json_object_get(hit, "state")),
			 "restricted");
	ck_assert_ptr_null(strstr(r.out.buf, "laparoscopic"));
	ck_assert_ptr_null(strstr(r.out.buf, "ppendectomy"));
	json_decref(j);
	cvt_run_release(&r);
	ck_assert_int_ge(count("SELECT count(*) FROM audit_log"
			       " WHERE action = 'access.denied'"
			       " AND actor = 'rita' AND patient = '" MRN_A "'"),
			 2);
}
END_TEST

START_TEST(test_access_emergency_opens_and_waits_for_review)
{
	struct cvt_run r;
	json_t *j, *g;
	char id[24];

	CV_AS(&r, "cvt-records", "-C", arch, "access", "emergency", MRN_A,
	      "--category", "treatment", "--reason", "need it");
	cvt_expect_status(&r, 6, "a reason too short");
	ck_assert_msg(strstr(r.err.buf, "at least 20"), "%s", r.err.buf);
	cvt_run_release(&r);
	CV_AS(&r, "cvt-records", "-C", arch, "access", "emergency", MRN_A,
	      "--category", "curiosity", "--reason", GOOD_REASON);
	cvt_expect_status(&r, 6, "an unknown kind of emergency");
	cvt_run_release(&r);
	CV_AS(&r, "cvt-clerk", "-C", arch, "access", "emergency", MRN_A,
	      "--category", "treatment", "--reason", GOOD_REASON);
	cvt_expect_status(&r, 6, "a clerk breaking the glass");
	cvt_run_release(&r);
	CV_AS(&r, "cvt-records", "-C", arch, "access", "emergency", MRN_B,
	      "--category", "treatment", "--reason", GOOD_REASON);
	cvt_expect_status(&r, 6, "glass on a chart that is not restricted");
	cvt_run_release(&r);
	ck_assert_int_eq(count("SELECT count(*) FROM emergency_access"), 0);

	CV_AS(&r, "cvt-records", "-C", arch, "access", "emergency", MRN_A,
	      "--category", "treatment", "--reason", GOOD_REASON);
	run_ok(&r, "break the glass");
	CV_AS(&r, "cvt-records", "-C", arch, "show", "--no-text", doc_a);
	run_ok(&r, "show under emergency access");
	/* One audit row, flagged, naming the grant; the reason stays out. */
	ck_assert_int_eq(count("SELECT count(*) FROM audit_log a"
			       " JOIN emergency_access e ON e.audit_seq = a.seq"
			       " WHERE a.action = 'emergency.access'"
			       " AND a.actor = 'rita' AND a.outcome = 'review'"
			       " AND a.patient = '" MRN_A "'"
			       " AND a.detail LIKE '%review=required%'"
			       " AND a.detail NOT LIKE '%unconscious%'"),
			 1);

	CV_AS(&r, "cvt-records", "-C", arch, "access", "review");
	cvt_expect_status(&r, 6, "review list by records staff");
	cvt_run_release(&r);
	CV_AS(&r, "cvt-comply", "-C", arch, "access", "review", "--json");
	cvt_expect_status(&r, 0, "review list");
	j = cvt_parse_json(&r);
	ck_assert_int_eq(json_array_size(j), 1);
	g = json_array_get(j, 0);
	ck_assert_str_eq(json_string_value(json_object_get(g, "user")), "rita");
	ck_assert_str_eq(json_string_value(json_object_get(g, "reason")),
			 GOOD_REASON);
	ck_assert(json_is_true(json_object_get(g, "active")));
	/* What she looked at meanwhile, from the audit trail. */
	ck_assert_int_ge(json_integer_value(json_object_get(g, "views")), 1);
	snprintf(id, sizeof(id), "%lld",
		 (long long)json_integer_value(json_object_get(g, "id")));
	json_decref(j);
	cvt_run_release(&r);

	CV_AS(&r, "cvt-comply", "-C", arch, "access", "reviewed", id);
	cvt_expect_status(&r, 2, "reviewed without a note");
	cvt_run_release(&r);
	CV_AS(&r, "cvt-comply", "-C", arch, "access", "reviewed", id, "--note",
	      "rita was on shift in the ED");
	run_ok(&r, "reviewed");
	CV_AS(&r, "cvt-comply", "-C", arch, "access", "reviewed", id, "--note",
	      "again");
	cvt_expect_status(&r, 6, "reviewed twice");
	cvt_run_release(&r);
	CV_AS(&r, "cvt-comply", "-C", arch, "access", "review");
	cvt_expect_status(&r, 0, "review list after");
	ck_assert_msg(strstr(r.out.buf, "no emergency access waits"), "%s",
		      r.out.buf);
	cvt_run_release(&r);
	ck_assert_int_eq(count("SELECT count(*) FROM audit_log"
			       " WHERE action = 'emergency.review'"
			       " AND actor = 'carl' AND patient = '" MRN_A "'"),
			 1);

	/* The grant runs out: the chart is closed again. */
	cvt_sql_exec(dsn, "UPDATE emergency_access SET granted_at ="
			  " now() - interval '2 hours', expires_at ="
			  " now() - interval '1 hour'");
	CV_AS(&r, "cvt-records", "-C", arch, "show", "--no-text", doc_a);
	cvt_expect_status(&r, 5, "show after the grant ran out");
	cvt_run_release(&r);
}
END_TEST

START_TEST(test_access_nobody_reviews_their_own_glass)
{
	struct cvt_run r;
	char *id;

	CV_AS(&r, "cvt-comply", "-C", arch, "access", "emergency", MRN_A,
	      "--category", "legal", "--reason",
	      "subpoena deadline today, counsel needs the record");
	run_ok(&r, "compliance breaks the glass");
	id = cvt_sql_text(dsn, "SELECT max(id) FROM emergency_access"
			       " WHERE user_name = 'carl'");
	CV_AS(&r, "cvt-comply", "-C", arch, "access", "reviewed", id, "--note",
	      "fine");
	cvt_expect_status(&r, 6, "reviewing one's own access");
	ck_assert_msg(strstr(r.err.buf, "own"), "%s", r.err.buf);
	cvt_run_release(&r);
	CV(&r, "-C", arch, "access", "reviewed", id, "--note",
	   "checked with counsel");
	run_ok(&r, "the administrator reviews it");
	free(id);
}
END_TEST

START_TEST(test_access_standing_permission)
{
	struct cvt_run r;

	CV(&r, "-C", arch, "patients", "permit", MRN_A, "nobody");
	cvt_expect_status(&r, 5, "permit for an unknown user");
	cvt_run_release(&r);
	CV_AS(&r, "cvt-comply", "-C", arch, "patients", "permit", MRN_A,
	      "rita");
	run_ok(&r, "permit");
	CV_AS(&r, "cvt-comply", "-C", arch, "patients", "permit", MRN_A,
	      "rita");
	cvt_expect_status(&r, 6, "permit twice");
	cvt_run_release(&r);
	CV_AS(&r, "cvt-records", "-C", arch, "show", "--no-text", doc_a);
	run_ok(&r, "show with a standing permission");
	CV_AS(&r, "cvt-records", "-C", arch, "patients", "access", MRN_A);
	cvt_expect_status(&r, 6, "access list by records staff");
	cvt_run_release(&r);
	CV(&r, "-C", arch, "patients", "access", MRN_A, "--json");
	cvt_expect_status(&r, 0, "access list");
	{
		json_t *j = cvt_parse_json(&r), *p;

		ck_assert_str_eq(
			json_string_value(json_object_get(j, "restricted")),
			"vip");
		p = json_array_get(json_object_get(j, "permissions"), 0);
		ck_assert_str_eq(json_string_value(json_object_get(p, "user")),
				 "rita");
		ck_assert_str_eq(
			json_string_value(json_object_get(p, "granted_by")),
			"carl");
		ck_assert_int_eq(json_integer_value(json_object_get(
					 j, "emergency_grants")),
				 2);
		json_decref(j);
	}
	cvt_run_release(&r);
	CV_AS(&r, "cvt-records", "-C", arch, "access", "emergency", MRN_A,
	      "--category", "treatment", "--reason", GOOD_REASON);
	cvt_expect_status(&r, 6, "glass when already permitted");
	cvt_run_release(&r);
	CV_AS(&r, "cvt-comply", "-C", arch, "patients", "permit", MRN_A, "rita",
	      "--revoke");
	run_ok(&r, "revoke");
	CV_AS(&r, "cvt-records", "-C", arch, "show", "--no-text", doc_a);
	cvt_expect_status(&r, 5, "show after the permission was revoked");
	cvt_run_release(&r);
	ck_assert_int_eq(
		count("SELECT count(*) FROM chart_permissions"
		      " WHERE user_name = 'rita'"
		      " AND granted_by = 'carl' AND revoked_by = 'carl'"),
		1);
	/* Lifting the restriction opens the chart to everyone. */
	CV(&r, "-C", arch, "patients", "unrestrict", MRN_A);
	run_ok(&r, "unrestrict");
	CV_AS(&r, "cvt-records", "-C", arch, "show", "--no-text", doc_a);
	run_ok(&r, "show after unrestrict");
}
END_TEST

Suite *cv_access_cli_suite(void)
{
	Suite *s = suite_create("access");
	TCase *tc = tcase_create("restricted-charts");

	tcase_set_tags(tc, "db ocr");
	tcase_set_timeout(tc, 240);
	tcase_add_unchecked_fixture(tc, restricted_setup, restricted_teardown);
	tcase_add_test(tc, test_access_restrict_needs_oversight);
	tcase_add_test(tc, test_access_restricted_document_looks_unknown);
	tcase_add_test(tc, test_access_emergency_opens_and_waits_for_review);
	tcase_add_test(tc, test_access_nobody_reviews_their_own_glass);
	tcase_add_test(tc, test_access_standing_permission);
	suite_add_tcase(s, tc);
	return s;
}
