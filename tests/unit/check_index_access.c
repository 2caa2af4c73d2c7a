/*
 * Unit tests of index/access.c against a throwaway PostgreSQL: who may
 * open a restricted chart (by patient, document, page and a page of
 * search results), standing permissions, emergency grants and their
 * review, and the chart's document listing.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/cv.h"
#include "index/index.h"
#include "index/index_int.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

#define REASON "patient unconscious in the emergency department"

/* Patients: 1 restricted (vip, MRN 1001), 2 open (MRN 1002). Documents:
 * 11 and 14 (older) and 15 (undated) of patient 1, 12 of patient 2, 13 in
 * the queue with patient 1's MRN but no patient, 16 with no patient at
 * all. Page 21 is in document 11. */
static struct cv_index *ix;
static char *dsn;

static void sql(const char *q)
{
	PGresult *res = PQexec(ix->conn, q);

	ck_assert_msg(cv_index__result_ok(res), "%s: %s", q,
		      PQresultErrorMessage(res));
	PQclear(res);
}

static void setup(void)
{
	struct cv_error err = CV_ERROR_INIT;

	dsn = cvt_pg_createdb(&cvt_shared_pg);
	ck_assert_int_eq(cv_index_open(&ix, dsn, &err), 0);
	ck_assert_msg(cv_index_migrate(ix, NULL, NULL, &err) == 0, "%s",
		      err.msg);
	sql("INSERT INTO users (name, role) VALUES ('rita', 'records'),"
	    " ('carl', 'compliance'), ('adam', 'admin'), ('cl', 'clerk')");
	sql("INSERT INTO users (name, role, disabled_at) VALUES"
	    " ('gone', 'records', now())");
	sql("INSERT INTO patients (id, mrn, family_name, given_name, dob)"
	    " VALUES (1, '1001', 'VIPSON', 'ADA', '1960-01-01'),"
	    " (2, '1002', 'OPENSHAW', 'BEN', '1970-02-02')");
	sql("INSERT INTO batches (id, name, operator) VALUES (1, 'b', 'o')");
	sql("INSERT INTO documents (id, batch_id, patient_id, mrn, doc_type,"
	    " service_date) VALUES (11, 1, 1, '1001', '11506-3', '2024-05-01'),"
	    " (12, 1, 2, '1002', '11506-3', '2024-05-02'),"
	    " (14, 1, 1, '1001', '11502-2', '2020-01-01'),"
	    " (15, 1, 1, '1001', '59284-0', NULL)");
	sql("INSERT INTO documents (id, batch_id, mrn, state) VALUES"
	    " (13, 1, '1001', 'exception'), (16, 1, NULL, 'exception')");
	sql("INSERT INTO objects (id, gen, kind, kek_id, wrapped_key, size,"
	    " stored_size, stored_sha256) VALUES (decode(repeat('ab', 32),"
	    " 'hex'), 1, 'original', decode('0102030405060708', 'hex'),"
	    " decode(repeat('00', 40), 'hex'), 1, 1,"
	    " decode(repeat('00', 32), 'hex'))");
	sql("INSERT INTO source_files (id, batch_id, object_id, name, format,"
	    " page_count) VALUES (1, 1, decode(repeat('ab', 32), 'hex'),"
	    " 'f.png', 'png', 2)");
	sql("INSERT INTO pages (id, file_id, page_no, state, document_id, seq)"
	    " VALUES (21, 1, 1, 'done', 11, 1), (22, 1, 2, 'done', 14, 1)");
	ck_assert_int_eq(cv_index_patient_restrict(ix, "1001", "vip", "test",
						   "adam", &err),
			 0);
}

static void teardown(void)
{
	cv_index_free(ix);
	ix = NULL;
	free(dsn);
}

static enum cv_index_access chart(const char *user, int64_t pid)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_access_info a;

	ck_assert_msg(cv_index_chart_access(ix, user, pid, &a, &err) == 0, "%s",
		      err.msg);
	return a.decision;
}

START_TEST(test_index_access_decisions)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_access_info a, many[3];
	const int64_t ids[3] = { 12, 11, 999 };

	ck_assert_int_eq(chart("rita", 1), CV_INDEX_ACCESS_NEEDS_REASON);
	ck_assert_int_eq(chart("carl", 1), CV_INDEX_ACCESS_NEEDS_REASON);
	ck_assert_int_eq(chart("adam", 1), CV_INDEX_ACCESS_NEEDS_REASON);
	ck_assert_int_eq(chart("rita", 2), CV_INDEX_ACCESS_OPEN);
	ck_assert_int_eq(chart("cl", 1), CV_INDEX_ACCESS_DENIED);
	ck_assert_int_eq(chart("gone", 1), CV_INDEX_ACCESS_DENIED);
	ck_assert_int_eq(chart("nobody", 1), CV_INDEX_ACCESS_DENIED);
	ck_assert_int_eq(cv_index_chart_access(ix, "rita", 999, &a, &err),
			 CV_ENOTFOUND);
	ck_assert(!cv_index_access_allowed(a.decision));

	ck_assert_int_eq(cv_index_document_access(ix, "rita", 11, &a, &err), 0);
	ck_assert_int_eq(a.decision, CV_INDEX_ACCESS_NEEDS_REASON);
	ck_assert_int_eq(a.patient_id, 1);
	ck_assert_str_eq(a.restricted, "vip");
	ck_assert_str_eq(a.mrn, "1001");
	/* Waiting in the queue, it is still that patient's record. */
	ck_assert_int_eq(cv_index_document_access(ix, "rita", 13, &a, &err), 0);
	ck_assert_int_eq(a.decision, CV_INDEX_ACCESS_NEEDS_REASON);
	ck_assert_int_eq(cv_index_document_access(ix, "rita", 16, &a, &err), 0);
	ck_assert_int_eq(a.decision, CV_INDEX_ACCESS_OPEN);
	ck_assert_int_eq(a.patient_id, 0);
	ck_assert_int_eq(cv_index_document_access(ix, "rita", 999, &a, &err),
			 CV_ENOTFOUND);

	ck_assert_int_eq(cv_index_page_access(ix, "rita", 21, &a, &err), 0);
	ck_assert_int_eq(a.decision, CV_INDEX_ACCESS_NEEDS_REASON);
	ck_assert_int_eq(cv_index_page_access(ix, "rita", 999, &a, &err),
			 CV_ENOTFOUND);

	ck_assert_int_eq(
		cv_index_documents_access(ix, "rita", ids, 3, many, &err), 0);
	ck_assert_int_eq(many[0].decision, CV_INDEX_ACCESS_OPEN);
	ck_assert_int_eq(many[0].patient_id, 2);
	ck_assert_int_eq(many[1].decision, CV_INDEX_ACCESS_NEEDS_REASON);
	ck_assert_int_eq(many[2].decision, CV_INDEX_ACCESS_OPEN);
	ck_assert_int_eq(many[2].patient_id, 0);

	/* Lifting the restriction opens it. */
	ck_assert_int_eq(
		cv_index_patient_restrict(ix, "1001", NULL, NULL, "adam", &err),
		0);
	ck_assert_int_eq(chart("cl", 1), CV_INDEX_ACCESS_OPEN);
	ck_assert_int_eq(cv_index_patient_restrict(ix, "1001", "royal", NULL,
						   "adam", &err),
			 CV_EINVAL);
	ck_assert_int_eq(cv_index_patient_restrict(ix, "9999", "vip", NULL,
						   "adam", &err),
			 CV_ENOTFOUND);
}
END_TEST

START_TEST(test_index_access_standing_permission)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_chart_acl acl;

	ck_assert_int_eq(
		cv_index_chart_permit(ix, "1001", "rita", 0, "carl", &err), 0);
	ck_assert_int_eq(chart("rita", 1), CV_INDEX_ACCESS_PERMITTED);
	ck_assert_int_eq(chart("adam", 1), CV_INDEX_ACCESS_NEEDS_REASON);
	ck_assert_int_eq(
		cv_index_chart_permit(ix, "1001", "rita", 0, "carl", &err),
		CV_EEXISTS);
	/* A permission does not make a clerk a chart reader. */
	ck_assert_int_eq(
		cv_index_chart_permit(ix, "1001", "cl", 0, "carl", &err), 0);
	ck_assert_int_eq(chart("cl", 1), CV_INDEX_ACCESS_DENIED);
	ck_assert_int_eq(
		cv_index_chart_permit(ix, "1001", "rita", 1, "carl", &err), 0);
	ck_assert_int_eq(chart("rita", 1), CV_INDEX_ACCESS_NEEDS_REASON);
	ck_assert_int_eq(
		cv_index_chart_permit(ix, "1001", "rita", 1, "carl", &err),
		CV_ENOTFOUND);
	ck_assert_int_eq(
		cv_index_chart_permit(ix, "1001", "nobody", 0, "carl", &err),
		CV_ENOTFOUND);
	/* Who may open it now: the clerk's permission is the live one. */
	ck_assert_int_eq(cv_index_chart_acl(ix, "1001", &acl, &err), 0);
	ck_assert_str_eq(acl.restricted, "vip");
	ck_assert_str_eq(acl.restricted_by, "adam");
	ck_assert_str_eq(acl.note, "test");
	ck_assert_uint_eq(acl.npermissions, 1);
	ck_assert_str_eq(acl.permissions[0].user, "cl");
	ck_assert_str_eq(acl.permissions[0].granted_by, "carl");
	cv_index_chart_acl_release(&acl);
	ck_assert_int_eq(cv_index_chart_acl(ix, "9999", &acl, &err),
			 CV_ENOTFOUND);
}
END_TEST

START_TEST(test_index_access_emergency_grant_and_review)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_access_info a;
	struct cv_index_emergency *g = NULL;
	int64_t id = 0, again = 0;
	size_t n = 0;

	ck_assert_int_eq(cv_index_emergency_grant(ix, "rita", 1, "treatment",
						  "too short", 30, &id, &err),
			 CV_EINVAL);
	ck_assert_int_eq(cv_index_emergency_grant(ix, "rita", 1, "boredom",
						  REASON, 30, &id, &err),
			 CV_EINVAL);
	ck_assert_int_eq(cv_index_emergency_grant(ix, "rita", 1, "treatment",
						  REASON "\n<script>", 30, &id,
						  &err),
			 CV_EINVAL);
	ck_assert_int_eq(cv_index_emergency_grant(ix, "rita", 2, "treatment",
						  REASON, 30, &id, &err),
			 CV_EINVAL);
	ck_assert_int_eq(cv_index_emergency_grant(ix, "cl", 1, "treatment",
						  REASON, 30, &id, &err),
			 CV_EINVAL);
	ck_assert_int_eq(cv_index_emergency_grant(ix, "rita", 999, "treatment",
						  REASON, 30, &id, &err),
			 CV_ENOTFOUND);
	ck_assert_int_eq(id, 0);

	ck_assert_int_eq(cv_index_emergency_grant(ix, "rita", 1, "treatment",
						  REASON, 30, &id, &err),
			 0);
	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(cv_index_chart_access(ix, "rita", 1, &a, &err), 0);
	ck_assert_int_eq(a.decision, CV_INDEX_ACCESS_EMERGENCY);
	ck_assert_int_eq(a.grant_id, id);
	ck_assert_int_eq(strlen(a.expires_at), 20);
	/* Only hers. */
	ck_assert_int_eq(chart("carl", 1), CV_INDEX_ACCESS_NEEDS_REASON);
	ck_assert_int_eq(cv_index_emergency_grant(ix, "rita", 1, "treatment",
						  REASON, 30, &again, &err),
			 CV_EINVAL);
	ck_assert_int_eq(again, 0);
	ck_assert_int_eq(cvt_sql_count(dsn,
				       "SELECT count(*) FROM audit_log a"
				       " JOIN emergency_access e"
				       " ON e.audit_seq = a.seq"
				       " WHERE a.action = 'emergency.access'"
				       " AND a.outcome = 'review'"
				       " AND a.patient = '1001'"),
			 1);

	ck_assert_int_eq(cv_index_emergency_list(ix, 0, &g, &n, &err), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(g[0].user, "rita");
	ck_assert_str_eq(g[0].reason, REASON);
	ck_assert_str_eq(g[0].patient_name, "VIPSON, ADA");
	ck_assert(g[0].active);
	free(g);

	ck_assert_int_eq(cv_index_emergency_review(ix, id, "ok", "rita", &err),
			 CV_EINVAL);
	ck_assert_int_eq(cv_index_emergency_review(ix, id, "", "carl", &err),
			 CV_EINVAL);
	ck_assert_int_eq(
		cv_index_emergency_review(ix, id, "checked", "carl", &err), 0);
	ck_assert_int_eq(
		cv_index_emergency_review(ix, id, "again", "adam", &err),
		CV_EEXISTS);
	ck_assert_int_eq(cv_index_emergency_review(ix, 999, "x", "adam", &err),
			 CV_ENOTFOUND);
	ck_assert_int_eq(cv_index_emergency_list(ix, 0, &g, &n, &err), 0);
	ck_assert_int_eq(n, 0);
	free(g);
	ck_assert_int_eq(cv_index_emergency_list(ix, 1, &g, &n, &err), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(g[0].reviewed_by, "carl");
	ck_assert_str_eq(g[0].review_note, "checked");
	free(g);

	/* Run out: closed again, and a new reason may be given. */
	sql("UPDATE emergency_access SET granted_at = now() - interval '2 h',"
	    " expires_at = now() - interval '1 h'");
	ck_assert_int_eq(chart("rita", 1), CV_INDEX_ACCESS_NEEDS_REASON);
	ck_assert_int_eq(cv_index_emergency_grant(ix, "rita", 1, "continuity",
						  REASON, 5, &id, &err),
			 0);
}
END_TEST

START_TEST(test_index_access_chart_documents_newest_first)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_chart_doc *d = NULL;
	struct cv_index_patient p;
	size_t n = 0;

	ck_assert_int_eq(cv_index_chart_documents(ix, 1, &d, &n, &err), 0);
	/* Filed ones only (13 waits in the queue), dated newest first. */
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(d[0].id, 11);
	ck_assert_str_eq(d[0].service_date, "2024-05-01");
	ck_assert_int_eq(d[0].pages, 1);
	ck_assert_int_eq(d[1].id, 14);
	ck_assert_int_eq(d[2].id, 15);
	ck_assert_str_eq(d[2].service_date, "");
	free(d);
	ck_assert_int_eq(cv_index_patient_get(ix, 1, &p, &err), 0);
	ck_assert_str_eq(p.mrn, "1001");
	ck_assert_str_eq(p.dob, "1960-01-01");
	ck_assert_int_eq(cv_index_patient_get(ix, 999, &p, &err), CV_ENOTFOUND);
}
END_TEST

Suite *cv_index_access_suite(void)
{
	Suite *s = suite_create("index_access");
	TCase *tc = tcase_create("restricted-charts");

	tcase_set_tags(tc, "db");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_index_access_decisions);
	tcase_add_test(tc, test_index_access_standing_permission);
	tcase_add_test(tc, test_index_access_emergency_grant_and_review);
	tcase_add_test(tc, test_index_access_chart_documents_newest_first);
	suite_add_tcase(s, tc);
	return s;
}
