/*
 * End-to-end tests of retention, legal holds, two-person destruction and
 * certificates: the real binary against a real PostgreSQL and real OCR.
 *
 * Two people: the end-to-end archive is shared with the chartvault group
 * (init --group), and two compliance officers are OS users mapped to
 * chartvault users. One proposes and is refused when approving his own
 * batch; the other approves, both through the command as they would.
 */
#include <check.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "common/cv.h"
#include "index/index.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

static void shell(const char *cmd, const char *what)
{
	const char *argv[] = { "sh", "-c", cmd, NULL };
	struct cvt_run r;

	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, 0, what);
	cvt_run_release(&r);
}

#define GROUP "chartvault"

static char *new_archive(const char *tag, char **dsn_out)
{
	char *base = cvt_tmpdir(tag), *dir = cv_path_join(base, "archive");
	char *dsn = cvt_pg_createdb(&cvt_shared_pg);
	struct cvt_run r;

	CV(&r, "init", dir, "--db", dsn, "--group", GROUP);
	cvt_expect_status(&r, 0, "init --db --group");
	cvt_run_release(&r);
	/* Each file is its patient's, as printed on it: the identity check
	 * would hold a page showing another patient back as a misfile. */
	cvt_import_patients(dir, NULL);
	{
		char *extra = cvt_srcpath(
			"tests/browser/fixtures/markup-patient.csv");

		cvt_import_patients(dir, extra);
		free(extra);
	}
	*dsn_out = dsn;
	free(base);
	return dir;
}

static void remove_archive(char *dir)
{
	char *base = cv_strndup(dir, strlen(dir) - strlen("/archive"));

	cvt_rmrf(base);
	free(base);
	free(dir);
}

static long long sql(const char *dsn, const char *fmt, long long a)
{
	char *q = cv_asprintf(fmt, a);
	long long v = cvt_sql_count(dsn, q);

	free(q);
	return v;
}

/* Run chartvault -C dir ARGS..., expecting status; returns JSON or NULL. */
static json_t *cvj(const char *dir, int want, const char *what,
		   const char *const *args)
{
	const char *argv[24] = { "chartvault", "-C", dir };
	struct cvt_run r;
	json_t *v = NULL;
	int i;

	for (i = 0; args[i]; i++)
		argv[3 + i] = args[i];
	argv[3 + i] = NULL;
	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, want, what);
	if (want == 0 && strstr(what, "json"))
		v = cvt_parse_json(&r);
	cvt_run_release(&r);
	return v;
}

#define RUN(dir, want, what, ...)                            \
	do {                                                 \
		const char *a_[] = { __VA_ARGS__, NULL };    \
		json_decref(cvj((dir), (want), (what), a_)); \
	} while (0)

/* The document id of the ingest report's document for mrn. */
static long long doc_of(json_t *rep, const char *mrn)
{
	json_t *docs = json_object_get(rep, "documents");
	size_t i;

	for (i = 0; i < json_array_size(docs); i++) {
		json_t *d = json_array_get(docs, i);

		if (!strcmp(json_string_value(json_object_get(d, "mrn")), mrn))
			return json_integer_value(json_object_get(d, "id"));
	}
	ck_abort_msg("no document for %s", mrn);
	return 0;
}

/* A long word of the document's text, to search for. */
static char *distinctive_word(const char *dir, long long doc)
{
	char id[24];
	const char *args[] = { "show", "--json", id, NULL };
	json_t *v, *pages;
	char best[64] = "";
	size_t i;

	snprintf(id, sizeof(id), "%lld", doc);
	v = cvj(dir, 0, "show --json", args);
	pages = json_object_get(v, "pages");
	for (i = 0; i < json_array_size(pages); i++) {
		const char *t = json_string_value(
			json_object_get(json_array_get(pages, i), "text"));
		const char *p = t;

		while (p && *p) {
			size_t n = 0;

			while (isalpha((unsigned char)p[n]))
				n++;
			if (n > strlen(best) && n < sizeof(best))
				snprintf(best, sizeof(best), "%.*s", (int)n, p);
			p += n ? n : 1;
		}
	}
	json_decref(v);
	ck_assert_msg(strlen(best) >= 6, "no long word in document %lld", doc);
	return cv_strdup(best);
}

static int search_finds(const char *dir, const char *word, long long doc)
{
	const char *args[] = { "search", "--json", word, NULL };
	json_t *res = cvj(dir, 0, "search --json", args);
	json_t *hits = json_object_get(res, "results");
	size_t i;
	int found = 0;

	for (i = 0; i < json_array_size(hits); i++)
		if (json_integer_value(json_object_get(json_array_get(hits, i),
						       "document")) == doc)
			found = 1;
	json_decref(res);
	return found;
}

/*
 * The object ids (hex) of a document's pages, from the index: their
 * derivatives, their previews (the viewer's page images, made at
 * ingest) and their original files.
 */
static json_t *objects_of(const char *dsn, long long doc)
{
	PGconn *conn = PQconnectdb(dsn);
	char *q = cv_asprintf(
		"SELECT encode(o, 'hex') FROM pages p, unnest(ARRAY[p.text_object,"
		" p.words_object, p.image_object]) o WHERE p.document_id = %lld"
		" AND o IS NOT NULL UNION SELECT encode(v.object_id, 'hex')"
		" FROM page_previews v JOIN pages p ON p.id = v.page_id"
		" WHERE p.document_id = %lld"
		" UNION SELECT encode(f.object_id, 'hex')"
		" FROM source_files f JOIN pages p ON p.file_id = f.id"
		" WHERE p.document_id = %lld",
		doc, doc, doc);
	PGresult *res = PQexec(conn, q);
	json_t *a = json_array();
	int i;

	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	for (i = 0; i < PQntuples(res); i++)
		json_array_append_new(a, json_string(PQgetvalue(res, i, 0)));
	PQclear(res);
	PQfinish(conn);
	free(q);
	ck_assert_int_gt(json_array_size(a), 0);
	return a;
}

static int store_has(const char *dir, const char *hex)
{
	char *cmd = cv_asprintf(
		"ls %s/objects/%.2s/ 2>/dev/null | grep -q '^%s\\.'", dir, hex,
		hex);
	const char *argv[] = { "sh", "-c", cmd, NULL };
	struct cvt_run r;
	int found;

	cvt_run(&r, argv, NULL, NULL);
	found = r.status == 0;
	cvt_run_release(&r);
	free(cmd);
	return found;
}

static void flip_byte(const char *src, const char *dst, size_t at)
{
	struct cv_buf b = CV_BUF_INIT;
	struct cv_error err = CV_ERROR_INIT;

	ck_assert(cv_fs_read_file(&b, src, 1u << 26, &err) == 0);
	ck_assert(at < b.len);
	b.buf[at] ^= 0x01;
	ck_assert(cv_fs_write_atomic(dst, b.buf, b.len, 0600, 0, &err) == 0);
	cv_buf_release(&b);
}

static void write_text(const char *path, const char *text)
{
	struct cv_error err = CV_ERROR_INIT;

	ck_assert_msg(cv_fs_write_atomic(path, text, strlen(text), 0600, 0,
					 &err) == 0,
		      "%s", err.msg);
}

/* Run certificate verify on file; expect want; stderr must hold needle. */
static void expect_verify(const char *dir, const char *file, int want,
			  const char *needle)
{
	const char *argv[] = { "chartvault", "-C", dir, "certificate",
			       "verify",     file, NULL };
	struct cvt_run r;

	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, want, "certificate verify");
	if (needle)
		ck_assert_msg(strstr(r.err.buf, needle),
			      "verify of %s did not say '%s':\n%s", file,
			      needle, r.err.buf);
	cvt_run_release(&r);
}

static void paper_cmd(const char *dir, int wait0, int want, const char *what,
		      const char *needle, const char *boxes, const char *sheets)
{
	const char *argv[] = { "chartvault",
			       "-C",
			       dir,
			       "-c",
			       wait0 ? "retention.paper_wait_days=0"
				     : "retention.paper_wait_days=30",
			       "paper-destroy",
			       "paper-batch",
			       "--method",
			       "cross-cut shredding (DIN 66399 P-4)",
			       "--vendor",
			       "ShredCo, Inc.",
			       "--witness",
			       "W. Ness",
			       "--boxes",
			       boxes,
			       "--folders",
			       "1",
			       "--sheets",
			       sheets,
			       "--facility",
			       "Test General Hospital",
			       "--manager",
			       "M. Manager",
			       NULL };
	struct cvt_run r;

	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, want, what);
	if (needle)
		ck_assert_msg(strstr(r.err.buf, needle), "%s: '%s' not in:\n%s",
			      what, needle, r.err.buf);
	cvt_run_release(&r);
}

/*
 * Paper: a batch signed off, verified, its counts reconciled, gets a
 * signed certificate; each missing condition is refused and says which.
 */
static void paper_destruction(const char *dir, const char *dsn,
			      const char *base)
{
	char *src = cvt_srcpath("samples/batch");
	char *folder = cv_path_join(base, "paper");
	char *cmd = cv_asprintf(
		"mkdir -p %s && cp %s/scan-0005.png %s/ && "
		"printf 'file,mrn,document_type,service_date,box,folder\\n"
		"scan-0005.png,90005097,11502-2,2019-05-01,0099,F-1\\n' > %s/manifest.csv",
		folder, src, folder, folder);
	char *manifest = cv_path_join(folder, "manifest.csv");
	char *cert = cv_path_join(dir, "certificates/paper-2.json");
	char *bad = cv_asprintf("%s.bad", cert);
	PGconn *conn;
	long long sheets;
	char sh[24];

	shell(cmd, "paper batch folder");
	RUN(dir, 0, "ingest the paper batch", "ingest", "--batch",
	    "paper-batch", "--manifest", manifest, folder);
	sheets = cvt_sql_count(dsn, "SELECT count(*) FROM pages p JOIN"
				    " source_files f ON f.id = p.file_id"
				    " JOIN batches b ON b.id = f.batch_id"
				    " WHERE b.name = 'paper-batch'");
	snprintf(sh, sizeof(sh), "%lld", sheets);
	paper_cmd(dir, 1, 6, "before sign-off", "is not signed off", "1", sh);
	/* An open exception blocks the sign-off. */
	conn = PQconnectdb(dsn);
	PQclear(PQexec(conn,
		       "INSERT INTO exceptions (document_id, kind) SELECT d.id,"
		       " 'misfile' FROM documents d JOIN batches b"
		       " ON b.id = d.batch_id WHERE b.name = 'paper-batch'"));
	RUN(dir, 6, "sign-off with an open exception", "batch", "signoff",
	    "paper-batch");
	PQclear(PQexec(conn, "UPDATE exceptions SET state = 'resolved'"));
	RUN(dir, 0, "sign-off", "batch", "signoff", "paper-batch", "--note",
	    "QA passed");
	RUN(dir, 6, "sign-off twice", "batch", "signoff", "paper-batch");
	paper_cmd(dir, 0, 6, "inside the waiting period", "waiting period", "1",
		  sh);
	paper_cmd(dir, 1, 6, "before verify", "never proven intact", "1", sh);
	RUN(dir, 0, "verify", "verify");
	PQclear(PQexec(conn,
		       "INSERT INTO exceptions (document_id, kind) SELECT d.id,"
		       " 'misfile' FROM documents d JOIN batches b"
		       " ON b.id = d.batch_id WHERE b.name = 'paper-batch'"));
	paper_cmd(dir, 1, 6, "with an open exception", "open exception", "1",
		  sh);
	PQclear(PQexec(conn, "UPDATE exceptions SET state = 'resolved'"));
	PQfinish(conn);
	paper_cmd(dir, 1, 6, "counts that do not reconcile", "do not reconcile",
		  "2", sh);
	paper_cmd(dir, 1, 0, "paper destruction", NULL, "1", sh);
	paper_cmd(dir, 1, 6, "paper destroyed twice", "already", "1", sh);
	expect_verify(dir, cert, 0, NULL);
	flip_byte(cert, bad, 200);
	expect_verify(dir, bad, 4, "certificate: ");
	free(bad);
	free(cert);
	free(manifest);
	free(cmd);
	free(folder);
	free(src);
}

/*
 * The "must show", as far as retention, holds, destruction and
 * certificates go.
 */
START_TEST(test_retention_end_to_end)
{
	char *dsn = NULL, *dir = new_archive("retention", &dsn);
	char *base = cvt_tmpdir("retention-batch");
	char *src = cvt_srcpath("samples/batch");
	char *presets = cvt_srcpath("data/retention-presets.ini");
	char *cmd = cv_asprintf(
		"cp %s/scan-0001.png %s/../../tests/browser/fixtures/markup-page.png %s/scan-0002.png %s/scan-0003.png %s/scan-0006.png %s/ && "
		"printf 'file,mrn,document_type,service_date,box,folder\\n"
		"scan-0001.png,90001234,11506-3,2009-04-02,0042,A-1\\n"
		"markup-page.png,90009999,18842-5,2010-06-10,0042,A-2\\n"
		"scan-0002.png,90003306,34117-2,2011-01-05,0042,A-3\\n"
		"scan-0003.png,90004451,11488-4,2016-01-05,0042,A-4\\n"
		"scan-0006.png,90005097,11506-3,2008-01-02,0042,A-5\\n' > %s/manifest.csv",
		src, src, src, src, src, base, base);
	char *manifest = cv_path_join(base, "manifest.csv");
	char *art = cvt_srcpath("build/test-artifacts");
	long long a, b, c, d, e, batch;
	char *word, *cert, *pdf, *bad, *png, *page;
	json_t *rep, *v, *objs_a, *objs_c;
	PGconn *lock;
	PGresult *res;
	pid_t pid;
	int st, i;
	size_t k;

	shell(cmd, "batch folder");
	{
		const char *args[] = {
			"ingest",     "--json", "--workers", "2",
			"--manifest", manifest, base,        NULL
		};

		rep = cvj(dir, 0, "ingest --json", args);
	}
	a = doc_of(rep, "90001234");
	b = doc_of(rep, "90009999");
	c = doc_of(rep, "90003306");
	d = doc_of(rep, "90004451");
	e = doc_of(rep, "90005097");
	json_decref(rep);

	RUN(dir, 0, "retention set", "retention", "set", "--file", presets,
	    "--schedule", "ahima");
	/* Dates of birth from the patient index, not from OCR. */
	RUN(dir, 0, "birth A", "patients", "event", "--mrn", "90001234",
	    "--birth", "1957-03-14");
	RUN(dir, 0, "birth B", "patients", "event", "--mrn", "90009999",
	    "--birth", "1971-08-02");
	RUN(dir, 0, "birth C", "patients", "event", "--mrn", "90003306",
	    "--birth", "1989-11-23");
	/* Back-dated encounters; D is a child, seen at one. */
	RUN(dir, 0, "encounter A", "patients", "event", "--mrn", "90001234",
	    "--encounter", "2009-04-01", "--discharge", "2009-04-05");
	RUN(dir, 0, "encounter B", "patients", "event", "--mrn", "90009999",
	    "--encounter", "2010-06-01", "--discharge", "2010-06-12");
	RUN(dir, 0, "birth E", "patients", "event", "--mrn", "90005097",
	    "--birth", "1960-01-01");
	RUN(dir, 0, "encounter E", "patients", "event", "--mrn", "90005097",
	    "--encounter", "2008-01-02");
	RUN(dir, 0, "encounter C", "patients", "event", "--mrn", "90003306",
	    "--encounter", "2011-01-01");
	RUN(dir, 0, "birth D", "patients", "event", "--mrn", "90004451",
	    "--birth", "2015-02-01");
	RUN(dir, 0, "encounter D", "patients", "event", "--mrn", "90004451",
	    "--encounter", "2016-01-05");
	RUN(dir, 2, "a discharge before admission", "patients", "event",
	    "--mrn", "90004451", "--encounter", "2016-01-05", "--discharge",
	    "2015-01-05");
	RUN(dir, 2, "a death in the future", "patients", "event", "--mrn",
	    "90004451", "--death", "2999-01-01");
	RUN(dir, 5, "an unknown patient", "patients", "event", "--mrn",
	    "11111111", "--death", "2020-01-01");
	{
		const char *args[] = { "retention", "evaluate", "--json",
				       NULL };

		v = cvj(dir, 0, "evaluate --json", args);
		ck_assert_int_eq(
			json_integer_value(json_object_get(v, "dated")), 5);
		ck_assert_int_eq(json_integer_value(json_object_get(v, "due")),
				 4);
		json_decref(v);
	}
	/* Each eligible date with the rule and version that made it. */
	ck_assert_int_eq(
		sql(dsn,
		    "SELECT count(*) FROM retention_eligibility WHERE document_id = %lld"
		    " AND eligible_on = '2019-04-05' AND rule_id = 'ahima-adult'"
		    " AND rule_version = 1",
		    a),
		1);
	ck_assert_int_eq(
		sql(dsn,
		    "SELECT count(*) FROM retention_eligibility WHERE document_id = %lld"
		    " AND eligible_on = '2036-02-01' AND rule_id = 'ahima-minor'",
		    d),
		1);
	{
		const char *args[] = { "retention", "due", "--json", NULL };

		v = cvj(dir, 0, "due --json", args);
		ck_assert_int_eq(json_array_size(v), 4);
		json_decref(v);
	}

	word = distinctive_word(dir, a);
	ck_assert_msg(search_finds(dir, word, a), "search misses '%s'", word);
	objs_a = objects_of(dsn, a);
	/* A's pages have their previews (two widths each): patient images
	 * that destruction must take too. */
	ck_assert_int_eq(
		sql(dsn,
		    "SELECT count(*) FROM page_previews v JOIN pages p"
		    " ON p.id = v.page_id WHERE p.document_id = %lld",
		    a),
		2 * sql(dsn,
			"SELECT count(*) FROM pages WHERE document_id = %lld"
			" AND image_object IS NOT NULL",
			a));
	ck_assert_int_gt(sql(dsn,
			     "SELECT count(*) FROM page_previews v JOIN pages p"
			     " ON p.id = v.page_id WHERE p.document_id = %lld",
			     a),
			 0);

	/* A hold by search query takes A out of what is due; its release
	 * (with a reason) puts it back. */
	{
		const char *due[] = { "retention", "due", "--json", NULL };
		const char *add[] = { "hold",     "add",      "--query",
				      word,       "--reason", "audit request",
				      "--matter", "AR-7",     "--json",
				      NULL };
		json_t *h;
		char hid[24];

		h = cvj(dir, 0, "hold add --json", add);
		ck_assert_int_ge(
			json_integer_value(json_object_get(h, "documents")), 1);
		snprintf(hid, sizeof(hid), "%lld",
			 (long long)json_integer_value(
				 json_object_get(h, "id")));
		json_decref(h);
		ck_assert_int_eq(
			sql(dsn,
			    "SELECT count(*) FROM documents WHERE id = %lld"
			    " AND document_hold(id) IS NOT NULL",
			    a),
			1);
		v = cvj(dir, 0, "due --json", due);
		for (k = 0; k < json_array_size(v); k++)
			ck_assert_int_ne(
				json_integer_value(json_object_get(
					json_array_get(v, k), "document")),
				a);
		json_decref(v);
		RUN(dir, 0, "release", "hold", "release", hid, "--reason",
		    "request answered");
		v = cvj(dir, 0, "due --json", due);
		ck_assert_int_eq(json_array_size(v), 4);
		json_decref(v);
	}
	objs_c = objects_of(dsn, c);

	/* Two compliance officers, each an OS user of the archive's group. */
	cvt_os_user("cvt-comply", GROUP);
	cvt_os_user("cvt-comply2", GROUP);
	RUN(dir, 0, "user add carl", "user", "add", "carl", "--role",
	    "compliance", "--os-user", "cvt-comply");
	RUN(dir, 0, "user add cleo", "user", "add", "cleo", "--role",
	    "compliance", "--os-user", "cvt-comply2");

	/* Carl proposes; the proposer may not approve. */
	{
		struct cvt_run r;

		CV_AS(&r, "cvt-comply", "-C", dir, "destroy", "propose",
		      "--json");
		cvt_expect_status(&r, 0, "propose as carl");
		v = cvt_parse_json(&r);
		batch = json_integer_value(json_object_get(v, "id"));
		ck_assert_int_eq(json_array_size(json_object_get(v, "records")),
				 4);
		json_decref(v);
		cvt_run_release(&r);
	}
	{
		char id[24];
		struct cvt_run r;

		snprintf(id, sizeof(id), "%lld", batch);
		CV_AS(&r, "cvt-comply", "-C", dir, "destroy", "approve", id);
		cvt_expect_status(&r, 6, "approval by the proposer");
		ck_assert(strstr(r.err.buf, "another person must approve"));
		cvt_run_release(&r);
		RUN(dir, 6, "execute before approval", "destroy", "execute", id,
		    "--facility", "Test General", "--manager", "M. Manager");
		/* Someone without the compliance role may not approve. */
		RUN(dir, 6, "approval by an administrator", "destroy",
		    "approve", id);
		/* Cleo, a second compliance officer, approves. */
		CV_AS(&r, "cvt-comply2", "-C", dir, "destroy", "approve", id);
		cvt_expect_status(&r, 0, "approval by a second person");
		cvt_run_release(&r);
	}
	ck_assert_int_eq(
		sql(dsn,
		    "SELECT count(*) FROM audit_log WHERE action = 'destroy.approve'"
		    " AND outcome = 'denied' AND object_id = '%lld'",
		    batch),
		1);

	/* A hold placed after approval wins. */
	RUN(dir, 0, "hold add", "hold", "add", "--patient", "90009999",
	    "--reason", "litigation: records requested by counsel", "--matter",
	    "Doe v. Hospital 2026-0042");
	/* An encounter recorded after approval moves E's date: execution
	 * re-checks and keeps it. */
	RUN(dir, 0, "a late encounter", "patients", "event", "--mrn",
	    "90005097", "--encounter", "2026-01-02");

	/*
	 * kill -9 in the middle: a test connection holds a row lock on one
	 * of C's objects, so execute stops inside C's crypto-erase, after C's
	 * index rows are gone. The kill then comes at the worst moment.
	 */
	lock = PQconnectdb(dsn);
	ck_assert_int_eq(PQstatus(lock), CONNECTION_OK);
	res = PQexec(lock, "BEGIN");
	PQclear(res);
	{
		char *q = cv_asprintf(
			"SELECT 1 FROM objects WHERE id = decode('%s', 'hex') FOR UPDATE",
			json_string_value(json_array_get(objs_c, 0)));

		res = PQexec(lock, q);
		ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
		PQclear(res);
		free(q);
	}
	{
		char id[24];
		const char *argv[] = { "chartvault", "-C",
				       dir,          "destroy",
				       "execute",    id,
				       "--facility", "Test General Hospital",
				       "--manager",  "M. Manager",
				       NULL };

		snprintf(id, sizeof(id), "%lld", batch);
		pid = cvt_spawn(argv);
	}
	for (i = 0; i < 600; i++) {
		if (sql(dsn,
			"SELECT count(*) FROM destruction_items WHERE document_id = %lld"
			" AND state = 'unlinked'",
			c) == 1)
			break;
		usleep(100000);
	}
	ck_assert_msg(i < 600, "execute never reached document C");
	usleep(300000);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	PQclear(PQexec(lock, "ROLLBACK"));
	PQfinish(lock);
	/* Each record destroyed or untouched: C's rows are gone with its
	 * ghost written; its keys wait for the resumed run. */
	ck_assert_int_eq(
		sql(dsn, "SELECT count(*) FROM documents WHERE id = %lld", c),
		0);
	ck_assert_int_eq(
		sql(dsn,
		    "SELECT count(*) FROM destroyed_records WHERE document_id = %lld",
		    c),
		1);
	ck_assert_int_eq(
		sql(dsn, "SELECT count(*) FROM documents WHERE id = %lld", b),
		1);

	{
		char id[24];
		const char *args[] = { "destroy",
				       "execute",
				       id,
				       "--facility",
				       "Test General Hospital",
				       "--manager",
				       "M. Manager",
				       "--backups",
				       "yes",
				       "--backup-retention",
				       "35",
				       "--json",
				       NULL };

		snprintf(id, sizeof(id), "%lld", batch);
		v = cvj(dir, 0, "resumed execute --json", args);
		ck_assert_int_eq(
			json_integer_value(json_object_get(v, "destroyed")), 2);
		ck_assert_int_eq(json_integer_value(json_object_get(v, "held")),
				 1);
		ck_assert_int_eq(
			json_integer_value(json_object_get(v, "not_eligible")),
			1);
		ck_assert_int_eq(
			json_integer_value(json_object_get(v, "resumed")), 1);
		cert = cv_strdup(
			json_string_value(json_object_get(v, "certificate")));
		pdf = cv_strdup(json_string_value(
			json_object_get(v, "certificate_pdf")));
		json_decref(v);
	}

	/* The held record survives, readable. */
	{
		char id[24];

		snprintf(id, sizeof(id), "%lld", b);
		RUN(dir, 0, "show the held record", "show", id);
		snprintf(id, sizeof(id), "%lld", d);
		RUN(dir, 0, "show the minor's record", "show", id);
		snprintf(id, sizeof(id), "%lld", a);
		RUN(dir, 5, "show a destroyed record", "show", id);
	}
	/* The others' objects are unreadable and gone. */
	for (k = 0; k < json_array_size(objs_a); k++) {
		const char *h = json_string_value(json_array_get(objs_a, k));

		RUN(dir, 5, "archive get of an erased object", "archive", "get",
		    h);
		ck_assert_msg(!store_has(dir, h), "file of %s is still there",
			      h);
	}
	for (k = 0; k < json_array_size(objs_c); k++)
		ck_assert(!store_has(
			dir, json_string_value(json_array_get(objs_c, k))));
	ck_assert_int_eq(
		cvt_sql_count(
			dsn,
			"SELECT count(*) FROM objects WHERE wrapped_key IS NOT NULL"
			" AND id IN (SELECT object_id FROM destruction_objects"
			" WHERE outcome = 'erased')"),
		0);
	/* No preview of a destroyed record remains: every one was
	 * captured and erased with its record, and no preview row is left
	 * of pages that are gone. */
	ck_assert_int_eq(
		sql(dsn,
		    "SELECT count(*) FROM destruction_objects WHERE document_id = %lld"
		    " AND kind = 'preview' AND outcome = 'erased'",
		    a),
		sql(dsn,
		    "SELECT count(*) FROM destruction_objects WHERE document_id = %lld"
		    " AND kind = 'preview'",
		    a));
	ck_assert_int_gt(
		sql(dsn,
		    "SELECT count(*) FROM destruction_objects WHERE document_id = %lld"
		    " AND kind = 'preview'",
		    a),
		0);
	ck_assert_int_eq(
		cvt_sql_count(
			dsn,
			"SELECT count(*) FROM objects o WHERE o.kind = 'preview'"
			" AND o.wrapped_key IS NOT NULL AND o.id IN (SELECT"
			" object_id FROM destruction_objects WHERE outcome = 'erased')"),
		0);
	ck_assert_int_eq(
		cvt_sql_count(dsn,
			      "SELECT count(*) FROM page_previews v"
			      " WHERE v.object_id IN (SELECT object_id FROM"
			      " destruction_objects WHERE outcome = 'erased')"),
		0);
	/* Search no longer finds them; ghosts remain. */
	ck_assert_msg(!search_finds(dir, word, a), "search still finds %lld",
		      a);
	ck_assert_int_eq(
		sql(dsn, "SELECT count(*) FROM pages WHERE document_id = %lld",
		    a),
		0);
	ck_assert_int_eq(cvt_sql_count(dsn, "SELECT count(*) FROM "
					    "destroyed_records"),
			 2);
	ck_assert_int_eq(
		sql(dsn,
		    "SELECT count(*) FROM destroyed_records WHERE document_id = %lld"
		    " AND mrn = '90001234' AND doc_type = '11506-3'"
		    " AND rule_id = 'ahima-adult'",
		    a),
		1);

	/* The certificate lists each record with its rule and key ids, and
	 * the records kept with the reason. */
	{
		json_error_t jerr;
		json_t *root = json_load_file(cert, 0, &jerr);
		json_t *ct = json_object_get(root, "certificate"), *recs, *ret_;
		size_t i2, k2;

		ck_assert_ptr_nonnull(root);
		recs = json_object_get(ct, "records");
		ret_ = json_object_get(ct, "retained");
		ck_assert_int_eq(json_array_size(recs), 2);
		ck_assert_int_eq(json_array_size(ret_), 2);
		for (i2 = 0; i2 < json_array_size(recs); i2++) {
			json_t *r = json_array_get(recs, i2),
			       *os = json_object_get(r, "objects");

			ck_assert_str_eq(
				json_string_value(json_object_get(r, "rule")),
				"ahima-adult");
			ck_assert_int_ge(json_array_size(os), 4);
			for (k2 = 0; k2 < json_array_size(os); k2++) {
				json_t *o = json_array_get(os, k2);

				ck_assert_int_eq(
					json_string_length(
						json_object_get(o, "kek_id")),
					16);
				ck_assert_int_eq(
					json_string_length(json_object_get(
						o, "data_key_fingerprint")),
					32);
			}
		}
		ck_assert_str_eq(json_string_value(json_object_get(
					 json_object_get(ct, "nist_sp800_88"),
					 "sanitization_technique")),
				 "Crypto Erase");
		ck_assert(strstr(json_string_value(json_object_get(
					 json_object_get(ct, "nist_sp800_88"),
					 "tool_cryptographic_library")),
				 "libgcrypt "));
		json_decref(root);
	}
	ck_assert_int_eq(
		sql(dsn,
		    "SELECT count(*) FROM destruction_items WHERE document_id = %lld"
		    " AND state = 'not-eligible'",
		    e),
		1);

	/* The certificate verifies; a flipped byte anywhere fails. */
	expect_verify(dir, cert, 0, NULL);
	bad = cv_asprintf("%s.bad", cert);
	{
		struct stat sb;

		ck_assert_int_eq(stat(cert, &sb), 0);
		for (i = 0; i < 5; i++) {
			flip_byte(cert, bad,
				  (size_t)(sb.st_size / 7) * (size_t)(i + 1));
			expect_verify(dir, bad, 4, "certificate: ");
		}
	}
	/* A content change re-canonicalised still fails, on the signature. */
	{
		char *sed = cv_asprintf(
			"sed 's/Test General Hospital/Test General Hospitax/' %s > %s",
			cert, bad);

		shell(sed, "edit the certificate");
		free(sed);
		expect_verify(dir, bad, 4, "signature does not verify");
	}
	/*
	 * Deleting the audit row of a destruction, as a database superuser
	 * who switches the append-only trigger off first, makes both the
	 * certificate and the audit chain fail their checks.
	 */
	{
		char *q = cv_asprintf(
			"ALTER TABLE audit_log DISABLE TRIGGER USER;"
			" DELETE FROM audit_log WHERE action = 'record.destroy'"
			" AND object_id = '%lld';"
			" ALTER TABLE audit_log ENABLE TRIGGER USER",
			a);

		cvt_sql_exec(dsn, q);
		free(q);
		expect_verify(dir, cert, 4, "no 'record.destroy' event");
		RUN(dir, 4, "audit verify after a deleted row", "audit",
		    "verify");
	}

	/* A rendered page, kept for inspection and read back by OCR. */
	{
		char *mk = cv_asprintf("mkdir -p %s", art);

		shell(mk, "artifact folder");
		free(mk);
	}
	png = cv_path_join(art, "certificate");
	page = cv_asprintf(
		"pdftoppm -r 150 -f 1 -l 1 -png -singlefile %s %s && tesseract %s.png - 2>/dev/null | grep -q 'CERTIFICATE OF DESTRUCTION'",
		pdf, png, png);
	shell(page, "render and read the certificate's first page");

	paper_destruction(dir, dsn, base);

	free(page);
	free(png);
	free(art);
	free(bad);
	free(cert);
	free(pdf);
	free(word);
	json_decref(objs_a);
	json_decref(objs_c);
	free(cmd);
	free(manifest);
	free(src);
	free(presets);
	cvt_rmrf(base);
	free(base);
	remove_archive(dir);
	free(dsn);
}
END_TEST

/* Rules as data: versions, errors naming file, line and column. */
START_TEST(test_retention_rules_and_holds)
{
	char *dsn = NULL, *dir = new_archive("rules", &dsn);
	char *base = cvt_tmpdir("rules");
	char *file = cv_path_join(base, "rules.ini");
	const char *argv[] = { "chartvault", "-C",     dir,  "retention",
			       "set",        "--file", file, NULL };
	struct cvt_run r;
	json_t *v;

	write_text(file, "[adult]\nexpr = discharge + 10y\n"
			 "[kid]\ncategory = minor\nexpr = majority + 3y\n");
	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, 0, "rule file");
	cvt_run_release(&r);
	RUN(dir, 0, "same again", "retention", "set", "adult", "--expr",
	    "discharge+10 years");
	RUN(dir, 0, "a new meaning", "retention", "set", "adult", "--expr",
	    "max(discharge + 10y, last_entry + 10y)");
	{
		const char *args[] = { "retention", "show", "adult", "--json",
				       NULL };

		v = cvj(dir, 0, "show --json", args);
		ck_assert_int_eq(json_array_size(v), 2);
		json_decref(v);
	}
	RUN(dir, 2, "a bad expression", "retention", "set", "x", "--expr",
	    "max(discharge)");
	write_text(file, "[a]\nexpr = discharge + 10y\nfoo = 1\n");
	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, 1, "a bad rule file");
	ck_assert_msg(strstr(r.err.buf, "line 3") &&
			      strstr(r.err.buf, "unknown key 'foo'"),
		      "%s", r.err.buf);
	cvt_run_release(&r);
	write_text(file, "[a]\nexpr = discharge + 10\n");
	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, 1, "a bad expression in a file");
	ck_assert_msg(strstr(r.err.buf, "rule 'a'") &&
			      strstr(r.err.buf, "column 15"),
		      "%s", r.err.buf);
	cvt_run_release(&r);

	/* Holds: targets checked, release explicit, once. */
	RUN(dir, 5, "hold on a missing document", "hold", "add", "--document",
	    "999", "--reason", "r", "--matter", "m");
	RUN(dir, 2, "hold without a matter", "hold", "add", "--patient", "1",
	    "--reason", "r");
	RUN(dir, 0, "hold", "hold", "add", "--query", "appendectomy",
	    "--reason", "audit", "--matter", "m-1");
	RUN(dir, 2, "release without a reason", "hold", "release", "1");
	RUN(dir, 0, "release", "hold", "release", "1", "--reason", "settled");
	RUN(dir, 6, "release twice", "hold", "release", "1", "--reason", "x");
	RUN(dir, 5, "release a missing hold", "hold", "release", "7",
	    "--reason", "x");
	ck_assert_int_eq(cvt_sql_count(dsn, "SELECT count(*) FROM audit_log"
					    " WHERE action LIKE 'hold.%'"),
			 2);
	/* Nothing eligible: nothing proposed, no empty batch. */
	RUN(dir, 0, "propose nothing", "destroy", "propose");
	ck_assert_int_eq(cvt_sql_count(dsn, "SELECT count(*) FROM"
					    " destruction_batches"),
			 0);
	RUN(dir, 2, "a future cutoff", "destroy", "propose", "--before",
	    "2999-01-01");
	free(file);
	cvt_rmrf(base);
	free(base);
	remove_archive(dir);
	free(dsn);
}
END_TEST

Suite *cv_retention_cli_suite(void)
{
	Suite *s = suite_create("retention-cli");
	TCase *tc;

	tc = tcase_create("rules");
	tcase_set_tags(tc, "db");
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_retention_rules_and_holds);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("destruction");
	tcase_set_tags(tc, "db ocr");
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_retention_end_to_end);
	tcase_set_timeout(tc, 600);
	suite_add_tcase(s, tc);
	return s;
}
