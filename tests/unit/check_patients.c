/*
 * Unit tests for the patient index, the identity rules and the exception
 * queue (index/patients.c, index/identity.c, index/queue.c) and for the
 * MRN rules and patient CSV of ingest/. Database cases run against the
 * harness's throwaway server, each test in a database of its own.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/cv.h"
#include "index/index.h"
#include "index/index_int.h"
#include "ingest/ingest.h"
#include "ingest/ingest_int.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

/* ---------------------------------------------------------------------
 * Helpers
 */

static void must_exec(struct cv_index *ix, const char *sql)
{
	PGresult *res = PQexec(ix->conn, sql);

	ck_assert_msg(cv_index__result_ok(res), "%s: %s", sql,
		      PQresultErrorMessage(res));
	PQclear(res);
}

static char *query_value(struct cv_index *ix, const char *sql)
{
	PGresult *res = PQexec(ix->conn, sql);
	char *v;

	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK &&
			      PQntuples(res) == 1,
		      "%s: %s", sql, PQresultErrorMessage(res));
	v = cv_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static void expect_value(struct cv_index *ix, const char *sql, const char *want)
{
	char *v = query_value(ix, sql);

	ck_assert_msg(!strcmp(v, want), "%s: got '%s', want '%s'", sql, v,
		      want);
	free(v);
}

static struct cv_index *migrated_db(char **dsn)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index *ix = NULL;

	*dsn = cvt_pg_createdb(&cvt_shared_pg);
	ck_assert_msg(cv_index_open(&ix, *dsn, &err) == 0, "open: %s: %s",
		      err.msg, err.detail);
	ck_assert_msg(cv_index_migrate(ix, NULL, NULL, &err) == 0,
		      "migrate: %s: %s", err.msg, err.detail);
	return ix;
}

static void add_patient(struct cv_index *ix, const char *mrn,
			const char *family, const char *given, const char *dob)
{
	struct cv_index_patient p;
	struct cv_error err = CV_ERROR_INIT;
	enum cv_index_upsert how;

	memset(&p, 0, sizeof(p));
	snprintf(p.mrn, sizeof(p.mrn), "%s", mrn);
	snprintf(p.family, sizeof(p.family), "%s", family);
	snprintf(p.given, sizeof(p.given), "%s", given);
	snprintf(p.dob, sizeof(p.dob), "%s", dob);
	ck_assert_msg(cv_index_patient_upsert(ix, &p, &how, &err) == 0,
		      "upsert: %s: %s", err.msg, err.detail);
}

/*
 * A batch with one file of npages done pages (ids returned in page
 * order) and the two patients every rule test uses: ADAMS, ALICE and
 * BAKER, ROBERT.
 */
static void setup_pages(struct cv_index *ix, int64_t *ids, int npages)
{
	char sql[512];
	int i;

	must_exec(ix, "INSERT INTO batches (name, operator) VALUES ('b', 't')");
	must_exec(
		ix,
		"INSERT INTO objects (id, gen, kind, kek_id, wrapped_key,"
		" size, stored_size, stored_sha256) VALUES"
		" (decode(repeat('ab', 32), 'hex'), 1, 'original',"
		" decode(repeat('01', 8), 'hex'), decode(repeat('00', 40), 'hex'),"
		" 1, 1, decode(repeat('00', 32), 'hex'))");
	snprintf(sql, sizeof(sql),
		 "INSERT INTO source_files (batch_id, object_id, name, format,"
		 " page_count) SELECT id, decode(repeat('ab', 32), 'hex'),"
		 " 'f.tif', 'tiff', %d FROM batches",
		 npages);
	must_exec(ix, sql);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO pages (file_id, page_no, state)"
		 " SELECT id, generate_series(1, %d), 'done' FROM source_files",
		 npages);
	must_exec(ix, sql);
	for (i = 0; i < npages; i++) {
		char *v;

		snprintf(sql, sizeof(sql),
			 "SELECT id FROM pages WHERE page_no = %d", i + 1);
		v = query_value(ix, sql);
		ids[i] = strtoll(v, NULL, 10);
		free(v);
	}
	add_patient(ix, "90000001", "ADAMS", "ALICE", "1950-01-01");
	add_patient(ix, "90000002", "BAKER", "ROBERT", "1960-02-02");
}

static int64_t patient_id(struct cv_index *ix, const char *mrn)
{
	struct cv_index_patient p;
	struct cv_error err = CV_ERROR_INIT;

	ck_assert_int_eq(cv_index_patient_by_mrn(ix, mrn, &p, &err), 0);
	return p.id;
}

/* A document of the given pages, linked to the patient with mrn. */
static int64_t make_doc(struct cv_index *ix, const int64_t *pages, size_t n,
			const char *mrn)
{
	struct cv_index_document d;
	struct cv_error err = CV_ERROR_INIT;
	char *batch = query_value(ix, "SELECT min(id) FROM batches");
	int64_t id;

	memset(&d, 0, sizeof(d));
	d.batch_id = strtoll(batch, NULL, 10);
	free(batch);
	snprintf(d.doc_type, sizeof(d.doc_type), "11506-3");
	snprintf(d.mrn, sizeof(d.mrn), "%s", mrn);
	ck_assert_msg(cv_index_document_create(ix, &d, pages, n, &id, &err) ==
			      0,
		      "create: %s: %s", err.msg, err.detail);
	ck_assert_int_eq(cv_index_document_set_patient(ix, id,
						       patient_id(ix, mrn), mrn,
						       "page text", &err),
			 0);
	return id;
}

static void page_says(struct cv_index *ix, int64_t page, const char *mrn,
		      const char *name, const char *dob)
{
	struct cv_error err = CV_ERROR_INIT;

	ck_assert_msg(
		cv_index_page_set_identity(ix, page, mrn, name, dob, &err) == 0,
		"%s: %s", err.msg, err.detail);
}

static size_t check_doc(struct cv_index *ix, int64_t doc)
{
	struct cv_error err = CV_ERROR_INIT;
	size_t n = 99;

	ck_assert_msg(cv_index_document_check_pages(ix, doc, &n, &err) == 0,
		      "check: %s: %s", err.msg, err.detail);
	return n;
}

static int no_text(void *ctx, const uint8_t *oid, struct cv_buf *out,
		   struct cv_error *err)
{
	(void)ctx;
	(void)oid;
	(void)out;
	return cv_error_set(err, CV_ERROR, "no page here has text");
}

/* ---------------------------------------------------------------------
 * Names (no database)
 */

START_TEST(test_patients_names_agree_by_nickname_and_ocr_distance)
{
	ck_assert(cv_index_names_agree("BAKER", "ROBERT", "Baker", "Bob"));
	ck_assert(
		cv_index_names_agree("O'Brien", "Peggy", "OBRIEN", "MARGARET"));
	/* One misread letter in a printed header. */
	ck_assert(cv_index_names_agree("MOCKR1DGE", "TOLLAND", "MOCKRIDGE",
				       "TOLLAND"));
	ck_assert(!cv_index_names_agree("TESTCASE", "BRIMLEY", "MOCKRIDGE",
					"TOLLAND"));
	ck_assert(!cv_index_names_agree("BAKER", "ROBERT", "BAKER", "ALICE"));
	ck_assert(!cv_index_names_agree("", "", "", ""));
	/* Close is OCR's reach only: a nickname is another spelling. */
	ck_assert(
		cv_index_names_close("Nettlefoid", "Ada", "NETTLEFOLD", "ADA"));
	ck_assert(!cv_index_names_close("BAKER", "BOB", "BAKER", "ROBERT"));
	ck_assert(!cv_index_names_close("BAKER", "ROBERT", "BAKER", "ALICE"));
}
END_TEST

START_TEST(test_patients_name_split)
{
	char f[32], g[32];

	cv_index_name_split("SAMPLEWOOD, ORLA", f, sizeof(f), g, sizeof(g));
	ck_assert_str_eq(f, "SAMPLEWOOD");
	ck_assert_str_eq(g, "ORLA");
	cv_index_name_split("CHER", f, sizeof(f), g, sizeof(g));
	ck_assert_str_eq(f, "CHER");
	ck_assert_str_eq(g, "");
}
END_TEST

/* ---------------------------------------------------------------------
 * MRN rules and the patient CSV (no database)
 */

START_TEST(test_patients_mrn_check_digits)
{
	struct cv_ingest_opts o = CV_INGEST_OPTS_INIT;
	struct cv_error err = CV_ERROR_INIT;
	int ok;

	o.mrn_check = "luhn";
	ck_assert_int_eq(cv_ingest_mrn_valid(&o, "79927398713", &ok, &err), 0);
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(cv_ingest_mrn_valid(&o, "79927398714", &ok, &err), 0);
	ck_assert_int_eq(ok, 0);
	o.mrn_check = "mod11";
	/* 0306406152: ISBN-10 0-306-40615-2. */
	ck_assert_int_eq(cv_ingest_mrn_valid(&o, "0306406152", &ok, &err), 0);
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(cv_ingest_mrn_valid(&o, "0306406153", &ok, &err), 0);
	ck_assert_int_eq(ok, 0);
	o.mrn_check = "none";
	o.mrn_format = "9[0-9]{7}";
	ck_assert_int_eq(cv_ingest_mrn_valid(&o, "90001234", &ok, &err), 0);
	ck_assert_int_eq(ok, 1);
	/* Anchored: a longer number containing a match is not one. */
	ck_assert_int_eq(cv_ingest_mrn_valid(&o, "900012345", &ok, &err), 0);
	ck_assert_int_eq(ok, 0);
	o.mrn_check = "crc";
	ck_assert_int_eq(cv_ingest_mrn_valid(&o, "1", &ok, &err), CV_EINVAL);
	o.mrn_check = NULL;
	o.mrn_format = "([0-9";
	ck_assert_int_eq(cv_ingest_mrn_valid(&o, "1", &ok, &err), CV_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "identity.mrn_format"));
}
END_TEST

START_TEST(test_patients_mrn_pattern_skips_failing_candidates)
{
	struct cv_ingest_opts o = CV_INGEST_OPTS_INIT;
	struct cv_ingest__mrn_rules r;
	struct cv_ingest_page_facts f;
	struct cv_error err = CV_ERROR_INIT;

	/* The hospital prints "Med Rec #" and uses Luhn. */
	o.mrn_pattern = "Med Rec #[ ]*([0-9]{6,12})|MRN:[ ]*([0-9]{6,12})";
	o.mrn_check = "luhn";
	ck_assert_int_eq(cv_ingest__mrn_rules_init(&r, &o, &err), 0);
	memset(&f, 0, sizeof(f));
	/* The first candidate is a misread (check fails), the second good. */
	cv_ingest__find_mrn(
		&r, "Med Rec # 79927398714 visit\nMRN: 79927398713\n", &f);
	ck_assert_str_eq(f.mrn, "79927398713");
	cv_ingest__find_mrn(&r, "Med Rec # 79927398714\n", &f);
	ck_assert_str_eq(f.mrn, "");
	cv_ingest__mrn_rules_release(&r);
}
END_TEST

START_TEST(test_patients_csv_rejects_by_line_and_column)
{
	struct cv_ingest_patients_csv csv;
	struct cv_error err = CV_ERROR_INIT;
	char *dir = cvt_tmpdir("pcsv"), *path = cv_path_join(dir, "p.csv");
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs("\xef\xbb\xbfMRN,Last_Name,first_name,dob,sex,date_of_death\n"
	      "90000001,ADAMS,ALICE,1950-01-01,F,\n"
	      "\"90000002\",\"BAKER, JR\",ROBERT,1960-02-02,m,2020-01-01\n"
	      "90000003,CLARK,CARL,1970-13-01,M,\n"
	      "90000004,DAVIS,DEB,1970-01-01,Z,\n"
	      "9000 0005,EVANS,EVE,1970-01-01,F,\n"
	      "90000006,FOX\n"
	      "\n"
	      "90000007,GRAY,GUS,1970-01-01,M,1969-01-01\n",
	      f);
	fclose(f);
	ck_assert_msg(cv_ingest_patients_csv_load(&csv, path, &err) == 0, "%s",
		      err.msg);
	ck_assert_int_eq(csv.nrows, 2);
	ck_assert_str_eq(csv.rows[1].p.family, "BAKER, JR");
	ck_assert_str_eq(csv.rows[1].p.sex, "M");
	ck_assert_str_eq(csv.rows[1].p.deceased_on, "2020-01-01");
	ck_assert_int_eq(csv.nrejects, 5);
	ck_assert_str_eq(csv.rejects[0].reason,
			 "line 4, column dob: not a date (YYYY-MM-DD)");
	ck_assert_int_eq(csv.rejects[1].line, 5);
	ck_assert_ptr_nonnull(strstr(csv.rejects[2].reason, "column mrn"));
	ck_assert_ptr_nonnull(strstr(csv.rejects[3].reason, "fewer fields"));
	ck_assert_str_eq(
		csv.rejects[4].reason,
		"line 9, column deceased_on: before the date of birth");
	/* No value of a rejected row is repeated in its reason. */
	ck_assert_ptr_null(strstr(csv.rejects[0].reason, "1970-13-01"));
	cv_ingest_patients_csv_release(&csv);

	f = fopen(path, "w");
	fputs("mrn,nickname\n1,x\n", f);
	fclose(f);
	ck_assert_int_eq(cv_ingest_patients_csv_load(&csv, path, &err),
			 CV_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "line 1, column 2"));
	f = fopen(path, "w");
	fputs("family_name\nX\n", f);
	fclose(f);
	ck_assert_int_eq(cv_ingest_patients_csv_load(&csv, path, &err),
			 CV_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "no 'mrn' column"));
	free(path);
	cvt_rmrf(dir);
	free(dir);
}
END_TEST

/* ---------------------------------------------------------------------
 * The patient index
 */

START_TEST(test_patients_import_merges_by_mrn)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_patient p, got;
	enum cv_index_upsert how;
	char *dsn;
	struct cv_index *ix = migrated_db(&dsn);

	memset(&p, 0, sizeof(p));
	snprintf(p.mrn, sizeof(p.mrn), "90000001");
	snprintf(p.family, sizeof(p.family), "ADAMS");
	snprintf(p.given, sizeof(p.given), "ALICE");
	snprintf(p.dob, sizeof(p.dob), "1950-01-01");
	snprintf(p.sex, sizeof(p.sex), "F");
	ck_assert_int_eq(cv_index_patient_upsert(ix, &p, &how, &err), 0);
	ck_assert_int_eq(how, CV_INDEX_UPSERT_INSERTED);
	ck_assert_int_eq(cv_index_patient_upsert(ix, &p, &how, &err), 0);
	ck_assert_int_eq(how, CV_INDEX_UPSERT_UNCHANGED);
	/* A later export with only the MRN and a date of death merges: the
	 * names and DOB stay. */
	memset(&p, 0, sizeof(p));
	snprintf(p.mrn, sizeof(p.mrn), "90000001");
	snprintf(p.deceased_on, sizeof(p.deceased_on), "2024-05-06");
	ck_assert_int_eq(cv_index_patient_upsert(ix, &p, &how, &err), 0);
	ck_assert_int_eq(how, CV_INDEX_UPSERT_UPDATED);
	ck_assert_int_eq(cv_index_patient_by_mrn(ix, "90000001", &got, &err),
			 0);
	ck_assert_str_eq(got.family, "ADAMS");
	ck_assert_str_eq(got.dob, "1950-01-01");
	ck_assert_str_eq(got.deceased_on, "2024-05-06");
	expect_value(ix, "SELECT count(*) FROM patients", "1");
	ck_assert_int_eq(cv_index_patient_by_mrn(ix, "90000009", &got, &err),
			 CV_ENOTFOUND);
	ck_assert_ptr_null(strstr(err.msg, "90000009"));
	memset(&p, 0, sizeof(p));
	ck_assert_int_eq(cv_index_patient_upsert(ix, &p, &how, &err),
			 CV_EINVAL);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

static const struct cv_index_patient_match *
find_one(struct cv_index *ix, const char *name, const char *dob,
	 struct cv_index_patient_match **m, size_t *n)
{
	struct cv_index_patient_query q = { name, dob, NULL, 10 };
	struct cv_error err = CV_ERROR_INIT;

	ck_assert_msg(cv_index_patient_find(ix, &q, m, n, &err) == 0,
		      "find: %s: %s", err.msg, err.detail);
	return *n ? &(*m)[0] : NULL;
}

START_TEST(test_patients_find_fuzzy_nickname_transposed_dob)
{
	struct cv_index_patient_query q = { NULL, NULL, NULL, 10 };
	struct cv_error err = CV_ERROR_INIT;
	const struct cv_index_patient_match *top;
	struct cv_index_patient_match *m = NULL;
	size_t n = 0;
	char *dsn;
	struct cv_index *ix = migrated_db(&dsn);

	add_patient(ix, "1", "SMITH", "ROBERT", "1950-02-03");
	add_patient(ix, "2", "SMITH", "ROBERTA", "1950-02-03");
	add_patient(ix, "3", "SMITH", "ROBERT", "1971-09-09");
	add_patient(ix, "4", "JOHNSON", "MARGARET", "1962-07-19");
	add_patient(ix, "5", "JONES", "MARY", "1962-07-19");
	add_patient(ix, "6", "GARCIA", "ELIZABETH", "1980-01-01");

	/* Nickname: Bob is Robert, and ranks above Roberta. */
	top = find_one(ix, "Bob Smith", NULL, &m, &n);
	ck_assert_ptr_nonnull(top);
	ck_assert(!strcmp(top->p.mrn, "1") || !strcmp(top->p.mrn, "3"));
	ck_assert(top->how & CV_INDEX_MATCH_NICKNAME);
	ck_assert(n >= 3);
	ck_assert(m[0].score >= m[1].score && m[1].score > m[2].score);
	ck_assert_str_eq(m[2].p.mrn, "2");
	free(m);
	/* DOB narrows to the one Robert Smith. */
	top = find_one(ix, "Bob Smith", "1971-09-09", &m, &n);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(top->p.mrn, "3");
	free(m);
	/* "FAMILY, GIVEN" and a nickname. */
	top = find_one(ix, "Johnson, Peggy", NULL, &m, &n);
	ck_assert_str_eq(top->p.mrn, "4");
	ck_assert(top->how & CV_INDEX_MATCH_NICKNAME);
	free(m);
	/* Transposed: family name typed first without a comma. */
	top = find_one(ix, "Garcia Liz", NULL, &m, &n);
	ck_assert_ptr_nonnull(top);
	ck_assert_str_eq(top->p.mrn, "6");
	ck_assert(top->how & CV_INDEX_MATCH_TRANSPOSED);
	ck_assert(top->how & CV_INDEX_MATCH_NICKNAME);
	free(m);
	/* A misspelling still finds, below the exact spelling. */
	top = find_one(ix, "Margaret Jonson", NULL, &m, &n);
	ck_assert_str_eq(top->p.mrn, "4");
	ck_assert(top->how & CV_INDEX_MATCH_FUZZY);
	ck_assert(top->score < 1);
	free(m);
	/* Exact scores 1. */
	top = find_one(ix, "Mary Jones", NULL, &m, &n);
	ck_assert_str_eq(top->p.mrn, "5");
	ck_assert(top->score > 0.99);
	ck_assert(top->how & CV_INDEX_MATCH_EXACT);
	free(m);
	/* Nothing like it. */
	top = find_one(ix, "Zebulon Quixote", NULL, &m, &n);
	ck_assert_int_eq(n, 0);
	free(m);
	/* By MRN alone; and an empty query is refused. */
	q.mrn = "4";
	ck_assert_int_eq(cv_index_patient_find(ix, &q, &m, &n, &err), 0);
	ck_assert_int_eq(n, 1);
	free(m);
	q.mrn = NULL;
	q.name = "  ";
	ck_assert_int_eq(cv_index_patient_find(ix, &q, &m, &n, &err),
			 CV_EINVAL);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

/* ---------------------------------------------------------------------
 * The misfile rule
 */

START_TEST(test_patients_misfile_rule)
{
	int64_t pg[6], doc;
	char *dsn;
	struct cv_index *ix = migrated_db(&dsn);

	setup_pages(ix, pg, 6);
	doc = make_doc(ix, pg, 6, "90000001");
	/* 1: the patient's own page. */
	page_says(ix, pg[0], "90000001", "ADAMS, ALICE", "1950-01-01");
	/* 2: an MRN misread by OCR (in no chart), name and DOB hers. */
	page_says(ix, pg[1], "90000007", "ADAMS, ALICE", "1950-01-01");
	/* 3: no MRN, name with one misread letter, her DOB. */
	page_says(ix, pg[2], "", "ADAMS, AL1CE", "1950-01-01");
	/* 4: another patient's MRN: a misfile. */
	page_says(ix, pg[3], "90000002", "BAKER, ROBERT", "1960-02-02");
	/* 5: no MRN, another patient's name (by nickname) and DOB. */
	page_says(ix, pg[4], "", "BAKER, BOB", "1960-02-02");
	/* 6: an unknown MRN and nothing else: not filed on a guess. */
	page_says(ix, pg[5], "90000008", "", "");
	ck_assert_int_eq(check_doc(ix, doc), 3);
	expect_value(
		ix,
		"SELECT string_agg(p.page_no || ':' || (e.detail->>'rule'),"
		" ',' ORDER BY p.page_no) FROM exceptions e"
		" JOIN pages p ON p.id = e.page_id WHERE e.kind = 'misfile'",
		"4:mrn,5:name+dob,6:unknown-mrn");
	/* Both identities, as ids and MRNs, never names. */
	expect_value(ix,
		     "SELECT (detail->>'page_mrn') || '/' ||"
		     " (detail->>'document_mrn') || '/' ||"
		     " ((detail->>'page_patient_id')::bigint ="
		     "  (SELECT id FROM patients WHERE mrn = '90000002'))"
		     " || '/' || (detail::text LIKE '%BAKER%')"
		     " FROM exceptions e JOIN pages p ON p.id = e.page_id"
		     " WHERE p.page_no = 4",
		     "90000002/90000001/true/false");
	expect_value(ix, "SELECT state FROM documents", "exception");
	/* A second check raises nothing twice. */
	check_doc(ix, doc);
	expect_value(ix, "SELECT count(*) FROM exceptions", "3");
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_patients_misfile_rule_skips_unmatched_document)
{
	struct cv_index_document d;
	struct cv_error err = CV_ERROR_INIT;
	int64_t pg[1], doc;
	char *dsn;
	struct cv_index *ix = migrated_db(&dsn);

	setup_pages(ix, pg, 1);
	memset(&d, 0, sizeof(d));
	d.batch_id = 1;
	ck_assert_int_eq(cv_index_document_create(ix, &d, pg, 1, &doc, &err),
			 0);
	page_says(ix, pg[0], "90000002", "", "");
	ck_assert_int_eq(check_doc(ix, doc), 0);
	expect_value(ix, "SELECT state FROM documents", "filed");
	cv_index_free(ix);
	free(dsn);
}
END_TEST

/* ---------------------------------------------------------------------
 * The queue
 */

START_TEST(test_patients_queue_move_page_then_file)
{
	struct cv_error err = CV_ERROR_INIT;
	int64_t pg[3], a, b, p1[2];
	char *dsn, *json = NULL;
	struct cv_index *ix = migrated_db(&dsn);

	setup_pages(ix, pg, 3);
	/* Alice's document holds Robert's page 2; Robert's document is
	 * page 3. */
	p1[0] = pg[0];
	p1[1] = pg[1];
	a = make_doc(ix, p1, 2, "90000001");
	b = make_doc(ix, &pg[2], 1, "90000002");
	page_says(ix, pg[0], "90000001", "ADAMS, ALICE", "1950-01-01");
	page_says(ix, pg[1], "90000002", "BAKER, ROBERT", "1960-02-02");
	page_says(ix, pg[2], "90000002", "BAKER, ROBERT", "1960-02-02");
	ck_assert_int_eq(check_doc(ix, a), 1);
	ck_assert_int_eq(check_doc(ix, b), 0);

	/* Filing is refused while the misfile is open, and changes nothing. */
	ck_assert_int_eq(
		cv_index_exception_file(ix, "him1", a, no_text, NULL, &err),
		CV_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "misfile"));
	expect_value(ix, "SELECT state FROM documents WHERE id = 1",
		     "exception");

	ck_assert_msg(
		cv_index_exception_move_page(ix, "him1", pg[1], b, &err) == 0,
		"%s: %s", err.msg, err.detail);
	/* The page is now Robert's page 2; its misfile is resolved; Alice's
	 * document kept page 1, renumbered. */
	expect_value(ix,
		     "SELECT string_agg(document_id || ':' || seq, ','"
		     " ORDER BY id) FROM pages",
		     "1:1,2:2,2:1");
	expect_value(ix,
		     "SELECT state || '/' || resolved_by || '/' || resolution"
		     " FROM exceptions",
		     "resolved/him1/page moved to document 2");
	expect_value(ix,
		     "SELECT string_agg(state, ',' ORDER BY id) FROM documents",
		     "exception,exception");

	ck_assert_msg(cv_index_exception_file(ix, "him1", a, no_text, NULL,
					      &err) == 0,
		      "%s: %s", err.msg, err.detail);
	ck_assert_msg(cv_index_exception_file(ix, "him2", b, no_text, NULL,
					      &err) == 0,
		      "%s: %s", err.msg, err.detail);
	expect_value(
		ix,
		"SELECT string_agg(state || '/' || filed_by, ',' ORDER BY id)"
		" FROM documents",
		"filed/him1,filed/him2");
	/* Every action: who, before and after; and audited. */
	expect_value(
		ix,
		"SELECT string_agg(actor || ':' || action, ',' ORDER BY id)"
		" FROM queue_actions",
		"him1:move-page,him1:file,him2:file");
	expect_value(ix,
		     "SELECT (before->0->'pages')::text || ' -> ' ||"
		     " (after->0->'pages')::text FROM queue_actions"
		     " WHERE action = 'move-page'",
		     "[3] -> [3, 2]");
	expect_value(
		ix,
		"SELECT count(*) FROM audit_log WHERE action LIKE 'queue.%'",
		"3");
	/* Page 3 was read "BAKFR, ROBERT" and confirmed: shown as read. */
	must_exec(ix, "UPDATE pages SET read_mrn = found_mrn,"
		      " read_name = 'BAKFR, ROBERT', read_dob = found_dob");
	ck_assert_int_eq(cv_index_exception_show(ix, b, &json, &err), 0);
	ck_assert_ptr_nonnull(strstr(json, "\"move-page\""));
	ck_assert_ptr_nonnull(strstr(json, "\"read_as\": {"));
	ck_assert_ptr_nonnull(strstr(json, "BAKFR"));
	free(json);
	ck_assert_int_eq(cv_index_exception_show(ix, 99, &json, &err),
			 CV_ENOTFOUND);
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_patients_queue_split_merge_assign_reject)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_exception_item *q = NULL;
	struct cv_index_document d;
	int64_t pg[4], a, b, c;
	size_t n = 0;
	char *dsn;
	struct cv_index *ix = migrated_db(&dsn);

	setup_pages(ix, pg, 4);
	a = make_doc(ix, pg, 3, "90000001");
	page_says(ix, pg[0], "90000001", "ADAMS, ALICE", "1950-01-01");
	page_says(ix, pg[1], "90000001", "ADAMS, ALICE", "1950-01-01");
	page_says(ix, pg[2], "90000002", "BAKER, ROBERT", "1960-02-02");
	check_doc(ix, a);

	/* Split at 1 or past the end changes nothing. */
	ck_assert_int_eq(cv_index_exception_split(ix, "him1", a, 1, &b, &err),
			 CV_EINVAL);
	ck_assert_int_eq(cv_index_exception_split(ix, "him1", a, 4, &b, &err),
			 CV_EINVAL);
	ck_assert_msg(cv_index_exception_split(ix, "him1", a, 3, &b, &err) == 0,
		      "%s: %s", err.msg, err.detail);
	/* The misfiled page went with its exception to the new document. */
	expect_value(ix,
		     "SELECT string_agg(document_id || ':' || seq, ','"
		     " ORDER BY id) FROM pages WHERE document_id IS NOT NULL",
		     "1:1,1:2,2:1");
	expect_value(ix,
		     "SELECT document_id || '/' || state FROM exceptions"
		     " WHERE kind = 'misfile'",
		     "2/open");
	/* Records staff give the new document to Robert. */
	ck_assert_int_eq(cv_index_exception_assign(ix, "him1", b, "90000009",
						   NULL, &err),
			 CV_ENOTFOUND);
	ck_assert_msg(cv_index_exception_assign(ix, "him1", b, "90000002",
						"11488-4", &err) == 0,
		      "%s: %s", err.msg, err.detail);
	expect_value(ix,
		     "SELECT mrn || '/' || identity_source || '/' || doc_type"
		     " || '/' || type_source FROM documents WHERE id = 2",
		     "90000002/staff/11488-4/staff");
	expect_value(ix, "SELECT state FROM exceptions WHERE kind = 'misfile'",
		     "resolved");

	/* A document with no patient: merged into Alice's. */
	memset(&d, 0, sizeof(d));
	d.batch_id = 1;
	ck_assert_int_eq(cv_index_document_create(ix, &d, &pg[3], 1, &c, &err),
			 0);
	ck_assert_int_eq(cv_index_exception_raise(ix, c, 0, "unknown-patient",
						  NULL, &err),
			 0);
	page_says(ix, pg[3], "", "ADAMS, ALICE", "1950-01-01");
	ck_assert_int_eq(cv_index_exception_merge(ix, "him2", a, a, &err),
			 CV_EINVAL);
	ck_assert_msg(cv_index_exception_merge(ix, "him2", a, c, &err) == 0,
		      "%s: %s", err.msg, err.detail);
	expect_value(ix,
		     "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM pages"
		     " WHERE document_id = 1",
		     "1,2,3");
	expect_value(ix,
		     "SELECT (closed_at IS NOT NULL) || '/' || closed_reason"
		     " FROM documents WHERE id = 3",
		     "true/merged into document 1");
	/* A closed document takes no more actions. */
	ck_assert_int_eq(
		cv_index_exception_file(ix, "him2", c, no_text, NULL, &err),
		CV_EINVAL);

	/* Reject needs a reason. */
	ck_assert_int_eq(cv_index_exception_reject(ix, "him2", b, "", &err),
			 CV_EINVAL);
	ck_assert_int_eq(cv_index_exception_reject(ix, "him2", b,
						   "duplicate scan", &err),
			 0);
	ck_assert_int_eq(cv_index_exception_list(ix, &q, &n, &err), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(q[0].doc_id, a);
	ck_assert_str_eq(q[0].kinds, "");
	free(q);
	expect_value(
		ix,
		"SELECT string_agg(action, ',' ORDER BY id) FROM queue_actions",
		"split,assign,merge,reject");
	cv_index_free(ix);
	free(dsn);
}
END_TEST

/* ---------------------------------------------------------------------
 * Identity at ingest (ingest/identity.c)
 */

static void seg(struct cv_ingest__seg_page *sp, int64_t id, const char *mrn,
		const char *name, const char *dob)
{
	memset(sp, 0, sizeof(*sp));
	sp->page_id = id;
	sp->file = "chart.tif";
	snprintf(sp->facts.mrn, sizeof(sp->facts.mrn), "%s", mrn);
	snprintf(sp->facts.patient_name, sizeof(sp->facts.patient_name), "%s",
		 name);
	snprintf(sp->facts.dob, sizeof(sp->facts.dob), "%s", dob);
}

START_TEST(test_patients_identify_bundle_rule_and_misread_mrn)
{
	struct cv_ingest_opts o = CV_INGEST_OPTS_INIT;
	struct cv_ingest__mrn_rules rules;
	struct cv_ingest__seg_page sp[6];
	struct cv_index_document docs[6];
	struct cv_error err = CV_ERROR_INIT;
	size_t first[7], queued = 0, k;
	int64_t pg[6];
	char *dsn;
	struct cv_index *ix = migrated_db(&dsn);

	setup_pages(ix, pg, 6);
	/* Alice's chart: her page, Robert's page inside it, hers again, one
	 * of hers with a misread MRN, a page of nobody known, and Robert's
	 * at the end (the next chart of a stack, not a misfile). */
	seg(&sp[0], pg[0], "90000001", "ADAMS, ALICE", "1950-01-01");
	seg(&sp[1], pg[1], "90000002", "BAKER, ROBERT", "1960-02-02");
	seg(&sp[2], pg[2], "90000001", "ADAMS, ALICE", "1950-01-01");
	seg(&sp[3], pg[3], "90000071", "ADAMS, ALICE", "1950-01-01");
	seg(&sp[4], pg[4], "", "", "");
	seg(&sp[5], pg[5], "90000002", "BAKER, ROBERT", "1960-02-02");
	ck_assert_int_eq(cv_ingest__mrn_rules_init(&rules, &o, &err), 0);
	ck_assert_int_eq(cv_index_begin(ix, &err), 0);
	for (k = 0; k < 6; k++) {
		memset(&docs[k], 0, sizeof(docs[k]));
		docs[k].batch_id = 1;
		first[k] = k;
		ck_assert_int_eq(cv_index_document_create(ix, &docs[k], &pg[k],
							  1, &docs[k].id, &err),
				 0);
	}
	first[6] = 6;
	ck_assert_msg(cv_ingest__identify(ix, &rules, sp, 6, docs, first, 6,
					  &queued, &err) == 0,
		      "%s: %s", err.msg, err.detail);
	ck_assert_int_eq(cv_index_commit(ix, &err), 0);
	cv_ingest__mrn_rules_release(&rules);
	ck_assert_int_eq(queued, 2);
	expect_value(
		ix,
		"SELECT string_agg(d.id || ':' || coalesce(d.identity_source, '-')"
		" || ':' || d.state, ',' ORDER BY d.id) FROM documents d",
		"1:page text:filed,2:page text:exception,3:page text:filed,"
		"4:name+dob:filed,5:-:exception,6:page text:filed");
	expect_value(ix,
		     "SELECT string_agg(document_id || ':' || kind || ':' ||"
		     " coalesce(detail->>'rule', detail->>'reason'), ','"
		     " ORDER BY document_id) FROM exceptions",
		     "2:misfile:bundle,5:unknown-patient:no identity found");
	expect_value(
		ix,
		"SELECT (detail->>'chart_mrn') || '/' || (detail->>'page_mrn')"
		" FROM exceptions WHERE kind = 'misfile'",
		"90000001/90000002");
	/* The misread MRN's document is Alice's, by name and DOB. */
	expect_value(ix, "SELECT mrn FROM documents WHERE id = 4", "90000001");
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_patients_identify_two_misfiles_around_chart_page)
{
	struct cv_ingest_opts o = CV_INGEST_OPTS_INIT;
	struct cv_ingest__mrn_rules rules;
	struct cv_ingest__seg_page sp[7];
	struct cv_index_document docs[7];
	struct cv_error err = CV_ERROR_INIT;
	static const int who[7] = { 1, 1, 2, 1, 2, 1, 1 };
	size_t first[8], queued = 0, k;
	int64_t pg[7];
	char *dsn;
	struct cv_index *ix = migrated_db(&dsn);

	/* Alice's chart with two of Robert's pages misfiled either side of
	 * one of hers: his two are caught, her page between them is not. */
	setup_pages(ix, pg, 7);
	for (k = 0; k < 7; k++) {
		if (who[k] == 1)
			seg(&sp[k], pg[k], "90000001", "ADAMS, ALICE",
			    "1950-01-01");
		else
			seg(&sp[k], pg[k], "90000002", "BAKER, ROBERT",
			    "1960-02-02");
	}
	ck_assert_int_eq(cv_ingest__mrn_rules_init(&rules, &o, &err), 0);
	for (k = 0; k < 7; k++) {
		memset(&docs[k], 0, sizeof(docs[k]));
		docs[k].batch_id = 1;
		first[k] = k;
		ck_assert_int_eq(cv_index_document_create(ix, &docs[k], &pg[k],
							  1, &docs[k].id, &err),
				 0);
	}
	first[7] = 7;
	ck_assert_msg(cv_ingest__identify(ix, &rules, sp, 7, docs, first, 7,
					  &queued, &err) == 0,
		      "%s: %s", err.msg, err.detail);
	cv_ingest__mrn_rules_release(&rules);
	ck_assert_int_eq(queued, 2);
	expect_value(
		ix,
		"SELECT string_agg(document_id::text, ',' ORDER BY document_id)"
		" FROM exceptions",
		"3,5");
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_patients_identify_two_patients_misfiled_in_a_row)
{
	struct cv_ingest_opts o = CV_INGEST_OPTS_INIT;
	struct cv_ingest__mrn_rules rules;
	struct cv_ingest__seg_page sp[6];
	struct cv_index_document docs[6];
	struct cv_error err = CV_ERROR_INIT;
	size_t first[7], queued = 0, k;
	int64_t pg[6];
	char *dsn;
	struct cv_index *ix = migrated_db(&dsn);

	/* Robert's and Carol's pages next to each other in Alice's chart:
	 * neither has the same patient on both sides, both were found
	 * inside her chart. */
	setup_pages(ix, pg, 6);
	add_patient(ix, "90000003", "CLARK", "CAROL", "1970-03-03");
	seg(&sp[0], pg[0], "90000001", "ADAMS, ALICE", "1950-01-01");
	seg(&sp[1], pg[1], "90000001", "ADAMS, ALICE", "1950-01-01");
	seg(&sp[2], pg[2], "90000002", "BAKER, ROBERT", "1960-02-02");
	seg(&sp[3], pg[3], "90000003", "CLARK, CAROL", "1970-03-03");
	seg(&sp[4], pg[4], "90000001", "ADAMS, ALICE", "1950-01-01");
	seg(&sp[5], pg[5], "90000001", "ADAMS, ALICE", "1950-01-01");
	ck_assert_int_eq(cv_ingest__mrn_rules_init(&rules, &o, &err), 0);
	for (k = 0; k < 6; k++) {
		memset(&docs[k], 0, sizeof(docs[k]));
		docs[k].batch_id = 1;
		first[k] = k;
		ck_assert_int_eq(cv_index_document_create(ix, &docs[k], &pg[k],
							  1, &docs[k].id, &err),
				 0);
	}
	first[6] = 6;
	ck_assert_msg(cv_ingest__identify(ix, &rules, sp, 6, docs, first, 6,
					  &queued, &err) == 0,
		      "%s: %s", err.msg, err.detail);
	cv_ingest__mrn_rules_release(&rules);
	ck_assert_int_eq(queued, 2);
	expect_value(
		ix,
		"SELECT string_agg(document_id || ':' || (detail->>'chart_mrn'),"
		" ',' ORDER BY document_id) FROM exceptions",
		"3:90000001,4:90000001");
	cv_index_free(ix);
	free(dsn);
}
END_TEST

START_TEST(test_patients_confirm_corrects_misreads_not_other_patients)
{
	struct cv_ingest_opts o = CV_INGEST_OPTS_INIT;
	struct cv_ingest__mrn_rules rules;
	struct cv_ingest__seg_page sp[7];
	struct cv_error err = CV_ERROR_INIT;
	int64_t pg[7];
	char *dsn;
	struct cv_index *ix = migrated_db(&dsn);

	setup_pages(ix, pg, 7);
	/* Alice's MRN, her name and DOB each a letter or digit off. */
	seg(&sp[0], pg[0], "90000001", "Adams, Alige", "1950-01-07");
	/* Alice's MRN with Robert's name: a misfile's evidence, kept. */
	seg(&sp[1], pg[1], "90000001", "BAKER, ROBERT", "1960-02-02");
	/* Her name, a DOB two digits off: kept as read. */
	seg(&sp[2], pg[2], "90000001", "ADAMS, ALICE", "1951-11-01");
	/* A digit of her MRN dropped; her name and DOB. */
	seg(&sp[3], pg[3], "9000001", "ADAMS, ALICE", "1950-01-01");
	/* Robert's MRN on a page that shows Alice's name and DOB. */
	seg(&sp[4], pg[4], "90000002", "ADAMS, ALICE", "1950-01-01");
	/* An unknown MRN near hers, with a DOB nobody has. */
	seg(&sp[5], pg[5], "90000009", "ADAMS, ALICE", "1950-01-02");
	/* A misread name far from anyone's, and no MRN. */
	seg(&sp[6], pg[6], "", "ADRIANSEN, ALAN", "1950-01-01");
	ck_assert_int_eq(cv_ingest__mrn_rules_init(&rules, &o, &err), 0);
	ck_assert_msg(cv_ingest__confirm_identity(ix, &rules, sp, 7, &err) == 0,
		      "%s: %s", err.msg, err.detail);
	cv_ingest__mrn_rules_release(&rules);
	ck_assert_str_eq(sp[0].facts.patient_name, "ADAMS, ALICE");
	ck_assert_str_eq(sp[0].facts.dob, "1950-01-01");
	ck_assert_str_eq(sp[1].facts.patient_name, "BAKER, ROBERT");
	ck_assert_str_eq(sp[1].facts.dob, "1960-02-02");
	ck_assert_str_eq(sp[2].facts.dob, "1951-11-01");
	ck_assert_str_eq(sp[3].facts.mrn, "90000001");
	ck_assert_str_eq(sp[4].facts.mrn, "90000002");
	ck_assert_str_eq(sp[4].facts.patient_name, "ADAMS, ALICE");
	ck_assert_str_eq(sp[5].facts.mrn, "90000009");
	ck_assert_str_eq(sp[5].facts.dob, "1950-01-02");
	ck_assert_str_eq(sp[6].facts.patient_name, "ADRIANSEN, ALAN");
	cv_index_free(ix);
	free(dsn);
}
END_TEST

/* ---------------------------------------------------------------------
 * The suite
 */

static TCase *db_case(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_set_tags(tc, "db");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	suite_add_tcase(s, tc);
	return tc;
}

Suite *cv_patients_suite(void)
{
	Suite *s = suite_create("patients");
	TCase *tc;

	tc = tcase_create("names");
	tcase_add_test(tc,
		       test_patients_names_agree_by_nickname_and_ocr_distance);
	tcase_add_test(tc, test_patients_name_split);
	tcase_add_test(tc, test_patients_mrn_check_digits);
	tcase_add_test(tc, test_patients_mrn_pattern_skips_failing_candidates);
	tcase_add_test(tc, test_patients_csv_rejects_by_line_and_column);
	suite_add_tcase(s, tc);

	tc = db_case(s, "index");
	tcase_add_test(tc, test_patients_import_merges_by_mrn);
	tcase_add_test(tc, test_patients_find_fuzzy_nickname_transposed_dob);

	tc = db_case(s, "misfile");
	tcase_add_test(tc, test_patients_misfile_rule);
	tcase_add_test(tc, test_patients_misfile_rule_skips_unmatched_document);
	tcase_add_test(tc, test_patients_identify_bundle_rule_and_misread_mrn);
	tcase_add_test(tc,
		       test_patients_identify_two_misfiles_around_chart_page);
	tcase_add_test(tc,
		       test_patients_identify_two_patients_misfiled_in_a_row);
	tcase_add_test(
		tc, test_patients_confirm_corrects_misreads_not_other_patients);

	tc = db_case(s, "queue");
	tcase_add_test(tc, test_patients_queue_move_page_then_file);
	tcase_add_test(tc, test_patients_queue_split_merge_assign_reject);
	return s;
}
