/*
 * The work queue end to end: 'chartvault worker' processes sharing a
 * batch through one database, workers that die or stall mid-page and
 * have their pages taken over, and 'chartvault ingest' killed with -9
 * twenty times over a batch and then run to the end. Real PostgreSQL (the
 * harness's throwaway server), real Tesseract on a few of samples/.
 *
 * What every case checks at the end is the pipeline's promise: each page
 * recorded once, by one worker, every non-blank page in exactly one
 * document, the batch's counts reconciled, and the store verified.
 */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/cv.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

struct fixture {
	char *base; /* temp folder: archive/, in/, worker outputs */
	char *dir;  /* the archive */
	char *in;   /* the batch's files */
	char *dsn;  /* its database on the shared test server */
	long long pages, blank, docs; /* expected, from samples/truth.json */
};

static void shell(const char *cmd, const char *what)
{
	const char *argv[] = { "sh", "-c", cmd, NULL };
	struct cvt_run r;

	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, 0, what);
	cvt_run_release(&r);
}

/* Pages, blank backs and documents of truth.json among the given files. */
static void expect_from_truth(struct fixture *fx, const char *const *files)
{
	char *path = cvt_srcpath("samples/truth.json");
	json_error_t jerr;
	json_t *truth = json_load_file(path, 0, &jerr), *v;
	size_t i, j;

	ck_assert_msg(truth != NULL, "%s: %s", path, jerr.text);
	json_array_foreach(json_object_get(truth, "pages"), i, v)
	{
		const char *f = json_string_value(json_object_get(v, "file"));

		for (j = 0; files[j]; j++) {
			if (f && !strcmp(f, files[j])) {
				fx->pages++;
				if (json_is_true(json_object_get(v, "blank")))
					fx->blank++;
			}
		}
	}
	json_array_foreach(json_object_get(truth, "documents"), i, v)
	{
		json_t *first = json_array_get(json_object_get(v, "pages"), 0);
		const char *f =
			json_string_value(json_object_get(first, "file"));

		for (j = 0; files[j]; j++)
			if (f && !strcmp(f, files[j]))
				fx->docs++;
	}
	json_decref(truth);
	free(path);
}

/* A new archive on its own database, and a folder holding the files. */
static void setup(struct fixture *fx, const char *tag, const char *const *files)
{
	char *src = cvt_srcpath("samples/batch");
	struct cvt_run r;
	size_t i;

	memset(fx, 0, sizeof(*fx));
	fx->base = cvt_tmpdir(tag);
	fx->dir = cv_path_join(fx->base, "archive");
	fx->in = cv_path_join(fx->base, "in");
	fx->dsn = cvt_pg_createdb(&cvt_shared_pg);
	CV(&r, "init", fx->dir, "--db", fx->dsn);
	cvt_expect_status(&r, 0, "init --db");
	cvt_run_release(&r);
	ck_assert_int_eq(mkdir(fx->in, 0755), 0);
	for (i = 0; files[i]; i++) {
		char *cmd =
			cv_asprintf("cp '%s/%s' '%s/'", src, files[i], fx->in);

		shell(cmd, "copy a sample");
		free(cmd);
	}
	expect_from_truth(fx, files);
	ck_assert(fx->pages > 0 && fx->docs > 0);
	free(src);
}

static void teardown(struct fixture *fx)
{
	cvt_rmrf(fx->base);
	free(fx->base);
	free(fx->dir);
	free(fx->in);
	free(fx->dsn);
}

static long long count(const struct fixture *fx, const char *sql)
{
	return cvt_sql_count(fx->dsn, sql);
}

/* Archive and queue the batch; no page is recognised yet. */
static void queue_batch(const struct fixture *fx, const char *batch)
{
	struct cvt_run r;
	json_t *v;

	CV(&r, "-C", fx->dir, "ingest", "--queue-only", "--batch", batch,
	   "--json", fx->in);
	cvt_expect_status(&r, 0, "ingest --queue-only");
	v = cvt_parse_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(
				 json_object_get(v, "counts"), "pages")),
			 fx->pages);
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(v, "counts"),
						   "pages_recognised")),
		0);
	json_decref(v);
	cvt_run_release(&r);
	ck_assert_int_eq(
		count(fx, "SELECT count(*) FROM pages WHERE state = 'queued'"),
		fx->pages);
}

/* Start chartvault with stdout into out (a file), stderr dropped. */
static pid_t spawn_to(const char *const *argv, const char *out)
{
	const char *bin = getenv("CV_BIN");
	pid_t pid;

	ck_assert_msg(bin && *bin, "CV_BIN is not set: run through make");
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int n = open("/dev/null", O_RDWR);

		dup2(n, 0);
		dup2(o, 1);
		dup2(n, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Wait for pid; its exit status (128+signal when killed). */
static int reap(pid_t pid)
{
	int st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A worker's JSON summary, from its output file. */
static json_t *summary(const char *out)
{
	json_error_t jerr;
	json_t *v = json_load_file(out, 0, &jerr);

	ck_assert_msg(v != NULL, "%s: %s", out, jerr.text);
	return v;
}

static long long counted(json_t *v, const char *key)
{
	return json_integer_value(
		json_object_get(json_object_get(v, "counts"), key));
}

/* The page a worker (by pid) holds mid-page, waiting up to secs. */
static long long wait_for_claim(const struct fixture *fx, pid_t pid, int secs)
{
	char *sql = cv_asprintf(
		"SELECT coalesce(min(id), 0) FROM pages WHERE state = 'queued'"
		" AND claimed_by LIKE '%%:%ld:%%'",
		(long)pid);
	long long id = 0;
	int i;

	for (i = 0; i < secs * 20 && !id; i++) {
		id = count(fx, sql);
		if (!id)
			usleep(50000);
	}
	free(sql);
	ck_assert_msg(id > 0, "worker %ld claimed no page in %d s", (long)pid,
		      secs);
	return id;
}

/*
 * The promise: every page recorded once and settled, every non-blank page
 * in exactly one document, the counts reconciled, the store verified.
 */
static void expect_complete(const struct fixture *fx, const char *batch)
{
	struct cvt_run r;
	json_t *b, *c;

	ck_assert_int_eq(count(fx, "SELECT count(*) FROM pages"), fx->pages);
	ck_assert_int_eq(
		count(fx, "SELECT count(*) FROM pages WHERE state = 'done'"),
		fx->pages);
	ck_assert_int_eq(
		count(fx,
		      "SELECT count(*) FROM pages WHERE claim_pid IS NOT NULL OR lease_until IS NOT NULL OR claimed_by IS NULL"),
		0);
	ck_assert_int_eq(
		count(fx,
		      "SELECT count(*) FROM (SELECT file_id, page_no FROM pages GROUP BY 1, 2 HAVING count(*) > 1) d"),
		0);
	ck_assert_int_eq(
		count(fx,
		      "SELECT count(*) FROM pages WHERE NOT blank AND kind = 'page' AND document_id IS NULL"),
		0);
	ck_assert_int_eq(
		count(fx,
		      "SELECT count(*) FROM pages WHERE blank AND document_id IS NOT NULL"),
		0);
	ck_assert_int_eq(count(fx, "SELECT count(*) FROM documents"), fx->docs);
	ck_assert_int_eq(
		count(fx,
		      "SELECT count(*) FROM source_files WHERE state <> 'done'"),
		0);
	/* Each page's text and words are objects the catalogue knows. */
	ck_assert_int_eq(
		count(fx,
		      "SELECT count(*) FROM pages p WHERE NOT blank AND kind = 'page' AND (text_object IS NULL OR NOT EXISTS (SELECT 1 FROM objects o WHERE o.id = p.text_object) OR NOT EXISTS (SELECT 1 FROM objects o WHERE o.id = p.words_object))"),
		0);

	CV(&r, "-C", fx->dir, "batch", "show", batch, "--json");
	cvt_expect_status(&r, 0, "batch show");
	b = cvt_parse_json(&r);
	c = json_object_get(b, "counts");
	ck_assert_msg(json_is_true(json_object_get(b, "reconciled")), "%s",
		      r.out.buf);
	ck_assert_int_eq(
		json_integer_value(json_object_get(c, "pages_received")),
		fx->pages);
	ck_assert_int_eq(json_integer_value(json_object_get(c, "pages_filed")),
			 fx->pages - fx->blank);
	ck_assert_int_eq(
		json_integer_value(json_object_get(c, "blank_dropped")),
		fx->blank);
	ck_assert_int_eq(json_integer_value(json_object_get(c, "documents")),
			 fx->docs);
	json_decref(b);
	cvt_run_release(&r);

	CV(&r, "-C", fx->dir, "verify", "--full");
	cvt_expect_status(&r, 0, "verify --full");
	cvt_run_release(&r);
}

/* ------------------------------------------------------------------ */

/*
 * Two worker processes share a queued batch: both do pages, together
 * they do each page once, and the batch is cut into documents once.
 */
START_TEST(test_queue_two_workers_share_a_batch)
{
	static const char *const files[] = { "bundle-02.tif", "scan-0005.png",
					     "scan-0006.png", "scan-0007.png",
					     NULL };
	struct fixture fx;
	char *out1, *out2;
	json_t *w1, *w2;
	pid_t p1, p2;

	setup(&fx, "queue-share", files);
	queue_batch(&fx, "share");
	out1 = cv_path_join(fx.base, "worker1.json");
	out2 = cv_path_join(fx.base, "worker2.json");
	{
		const char *argv[] = { "chartvault", "-C",        fx.dir,
				       "worker",     "--workers", "1",
				       "--once",     "--json",    NULL };

		p1 = spawn_to(argv, out1);
		p2 = spawn_to(argv, out2);
	}
	ck_assert_int_eq(reap(p1), 0);
	ck_assert_int_eq(reap(p2), 0);
	w1 = summary(out1);
	w2 = summary(out2);
	ck_assert_msg(counted(w1, "pages_recognised") > 0 &&
			      counted(w2, "pages_recognised") > 0,
		      "both workers must do pages: %lld and %lld",
		      counted(w1, "pages_recognised"),
		      counted(w2, "pages_recognised"));
	ck_assert_int_eq(counted(w1, "pages_recognised") +
				 counted(w2, "pages_recognised"),
			 fx.pages);
	ck_assert_int_eq(counted(w1, "pages_lost") + counted(w2, "pages_lost"),
			 0);
	/* Exactly one of them cut the batch, all of it. */
	ck_assert_int_eq(counted(w1, "documents") + counted(w2, "documents"),
			 fx.docs);
	ck_assert_msg(counted(w1, "documents") == 0 ||
			      counted(w2, "documents") == 0,
		      "the batch was cut twice");
	ck_assert_int_eq(
		count(&fx,
		      "SELECT count(DISTINCT claimed_by) FROM pages WHERE state = 'done'"),
		2);
	expect_complete(&fx, "share");
	json_decref(w1);
	json_decref(w2);
	free(out1);
	free(out2);
	teardown(&fx);
}
END_TEST

/*
 * A worker that stalls mid-page (SIGSTOP) loses the page when its lease
 * runs out: another worker takes it and records it, and when the first
 * wakes up its result is dropped, not recorded twice. A worker killed
 * with -9 mid-page has the page taken over too.
 */
START_TEST(test_queue_dead_or_stalled_worker_pages_are_retaken)
{
	static const char *const files[] = { "bundle-05.tif", "scan-0009.png",
					     NULL };
	const char *stalled[] = { "chartvault", "-C", NULL,      "worker",
				  "--workers",  "1",  "--lease", "5",
				  "--json",     NULL };
	struct fixture fx;
	struct cvt_run r;
	char *out_a = NULL, *sql;
	long long page;
	json_t *v;
	pid_t a;

	setup(&fx, "queue-retake", files);
	queue_batch(&fx, "retake");
	out_a = cv_path_join(fx.base, "stalled.json");
	stalled[2] = fx.dir;

	/* A takes a page and stops dead in the middle of it. */
	a = spawn_to(stalled, out_a);
	page = wait_for_claim(&fx, a, 120);
	ck_assert_int_eq(kill(a, SIGSTOP), 0);

	/* B, alone, must finish the batch: A's page once its lease is out. */
	CV(&r, "-C", fx.dir, "worker", "--workers", "1", "--lease", "5",
	   "--once", "--json");
	cvt_expect_status(&r, 0, "worker --once beside a stalled worker");
	v = cvt_parse_json(&r);
	ck_assert_int_eq(counted(v, "pages_recognised"), fx.pages);
	ck_assert_int_eq(counted(v, "documents"), fx.docs);
	json_decref(v);
	cvt_run_release(&r);
	sql = cv_asprintf(
		"SELECT count(*) FROM pages WHERE id = %lld AND attempts = 2"
		" AND claimed_by NOT LIKE '%%:%ld:%%'",
		page, (long)a);
	ck_assert_int_eq(count(&fx, sql), 1);
	free(sql);

	/* A wakes up, finishes its page, finds it taken and drops it. */
	ck_assert_int_eq(kill(a, SIGCONT), 0);
	usleep(500000);
	ck_assert_int_eq(kill(a, SIGTERM), 0);
	ck_assert_int_eq(reap(a), 0);
	v = summary(out_a);
	ck_assert_int_eq(counted(v, "pages_recognised"), 0);
	ck_assert_int_eq(counted(v, "pages_lost"), 1);
	json_decref(v);
	expect_complete(&fx, "retake");
	free(out_a);
	teardown(&fx);
}
END_TEST

START_TEST(test_queue_killed_worker_pages_are_retaken)
{
	static const char *const files[] = { "scan-0001.png", "scan-0002.png",
					     NULL };
	const char *argv[] = { "chartvault", "-C",        NULL,
			       "worker",     "--workers", "1",
			       "--lease",    "5",         NULL };
	struct fixture fx;
	struct cvt_run r;
	long long page;
	char *sql;
	json_t *v;
	pid_t c;

	setup(&fx, "queue-kill", files);
	queue_batch(&fx, "killed");
	argv[2] = fx.dir;
	c = cvt_spawn(argv);
	page = wait_for_claim(&fx, c, 120);
	ck_assert_int_eq(kill(c, SIGKILL), 0);
	ck_assert_int_eq(reap(c), 128 + SIGKILL);

	CV(&r, "-C", fx.dir, "worker", "--workers", "1", "--lease", "5",
	   "--once", "--json");
	cvt_expect_status(&r, 0, "worker --once after a kill -9");
	v = cvt_parse_json(&r);
	ck_assert_int_eq(counted(v, "pages_recognised"), fx.pages);
	json_decref(v);
	cvt_run_release(&r);
	sql = cv_asprintf(
		"SELECT count(*) FROM pages WHERE id = %lld AND attempts = 2"
		" AND claimed_by NOT LIKE '%%:%ld:%%'",
		page, (long)c);
	ck_assert_int_eq(count(&fx, sql), 1);
	free(sql);
	expect_complete(&fx, "killed");
	teardown(&fx);
}
END_TEST

/*
 * kill -9 of 'chartvault ingest' twenty times, at random moments from
 * start-up to the middle of OCR and assembly, then a run to the end. The
 * poison-page limit is lifted: these kills, not the pages, stop the
 * workers, and a page in hand at several kills would otherwise be failed
 * as one that crashes its worker.
 */
#define DONE "SELECT count(*) FROM pages WHERE state = 'done'"

START_TEST(test_queue_ingest_completes_after_20_kills)
{
	static const char *const files[] = { "bundle-01.tif", "bundle-05.tif",
					     "scan-0005.png", "scan-0006.png",
					     NULL };
	const char *argv[] = { "chartvault",
			       "-C",
			       NULL,
			       "-c",
			       "queue.max_attempts=1000",
			       "ingest",
			       "--workers",
			       "2",
			       "--batch",
			       "crash",
			       NULL,
			       NULL };
	struct fixture fx;
	struct cvt_run r;
	struct cv_buf seen = CV_BUF_INIT;
	int kills, midway = 0;

	setup(&fx, "queue-crash", files);
	argv[2] = fx.dir;
	argv[10] = fx.in;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (kills = 0; kills < 20; kills++) {
		pid_t pid = cvt_spawn(argv);
		long long done, before = count(&fx, DONE);
		int waited;

		/*
		 * Half early (start-up, intake, the first claims), half
		 * into the OCR: once this run has recorded a page, or has
		 * had 15 s, and up to 1.5 s more, so the kills spread
		 * over the batch whatever the machine's speed.
		 */
		if (kills % 2 == 0) {
			usleep((useconds_t)(50000 + rand() % 1000000));
		} else {
			for (waited = 0; waited < 150 && before < fx.pages &&
					 count(&fx, DONE) == before;
			     waited++)
				usleep(100000);
			usleep((useconds_t)(rand() % 1500000));
		}
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		reap(pid);
		done = count(&fx, DONE);
		if (done > 0 && done < fx.pages)
			midway++;
		cv_buf_addf(&seen, " %lld", done);
	}
	fprintf(stderr,
		"crash test: %d of 20 kills left the batch part-done; pages done after each:%s\n",
		midway, seen.buf);
	cv_buf_release(&seen);
	/* Kills that all landed before the first page or after the last
	 * would prove little. */
	ck_assert_msg(midway >= 5, "only %d kills landed mid-batch", midway);
	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, 0, "ingest after twenty kills");
	cvt_run_release(&r);
	ck_assert_int_eq(
		count(&fx,
		      "SELECT count(*) FROM batches WHERE intake_started_at IS NOT NULL"),
		0);
	expect_complete(&fx, "crash");

	/* And once more: nothing left to do, nothing done twice. */
	CV(&r, "-C", fx.dir, "ingest", "--batch", "crash", "--json", fx.in);
	cvt_expect_status(&r, 0, "ingest of a complete batch");
	cvt_run_release(&r);
	expect_complete(&fx, "crash");
	teardown(&fx);
}
END_TEST

Suite *cv_queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc;

	tc = tcase_create("queue");
	tcase_set_tags(tc, "db ocr");
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_queue_two_workers_share_a_batch);
	tcase_add_test(tc, test_queue_dead_or_stalled_worker_pages_are_retaken);
	tcase_add_test(tc, test_queue_killed_worker_pages_are_retaken);
	tcase_add_test(tc, test_queue_ingest_completes_after_20_kills);
	tcase_set_timeout(tc, 900);
	suite_add_tcase(s, tc);
	return s;
}
