/*
 * End-to-end tests of the archive's fixity, garbage collection, key
 * management and crypto-erase, and of its crash safety: the real binary
 * killed with SIGKILL mid-put and mid-rotation, a real full file system (a
 * small tmpfs), and flipped bytes in stored files.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "archive/archive.h"
#include "index/index.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

struct arch {
	char *base; /* temp folder */
	char *dir;  /* base/archive */
	char *dsn;
};

static void arch_new(struct arch *a, const char *tag)
{
	struct cvt_run r;

	a->base = cvt_tmpdir(tag);
	a->dir = cv_path_join(a->base, "archive");
	a->dsn = cvt_pg_createdb(&cvt_shared_pg);
	CV(&r, "init", a->dir, "--db", a->dsn);
	cvt_expect_status(&r, 0, "init --db");
	cvt_run_release(&r);
}

static void arch_free(struct arch *a)
{
	cvt_rmrf(a->base);
	free(a->base);
	free(a->dir);
	free(a->dsn);
}

static unsigned seed_rng(void)
{
	unsigned s = (unsigned)time(NULL) ^ (unsigned)getpid();

	srand(s);
	return s;
}

/* n files of random bytes (small, with a few larger than a chunk). */
static char **make_files(const char *base, size_t n)
{
	char **v = cv_calloc(n + 1, sizeof(*v));
	int in = open("/dev/urandom", O_RDONLY);
	size_t i;

	ck_assert_int_ge(in, 0);
	for (i = 0; i < n; i++) {
		size_t len = i % 50 == 7 ? (1u << 20) + 3000 + i
					 : 1000 + (size_t)(rand() % 30000);
		char *buf = cv_malloc(len);
		int fd;

		v[i] = cv_asprintf("%s/in-%04zu.bin", base, i);
		ck_assert(read(in, buf, len) == (ssize_t)len);
		fd = open(v[i], O_WRONLY | O_CREAT | O_TRUNC, 0600);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(cv_fs_write_all(fd, buf, len), 0);
		close(fd);
		free(buf);
	}
	close(in);
	return v;
}

static void free_strv(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* argv for "chartvault -C dir archive put FILES..." */
static const char **put_argv(const struct arch *a, char **files, size_t n)
{
	const char **argv = cv_calloc(n + 6, sizeof(*argv));
	size_t i;

	argv[0] = "chartvault";
	argv[1] = "-C";
	argv[2] = a->dir;
	argv[3] = "archive";
	argv[4] = "put";
	for (i = 0; i < n; i++)
		argv[5 + i] = files[i];
	return argv;
}

/* Store files, checking success; the ids (64 hex + NUL each) into ids. */
static void put_all(const struct arch *a, char **files, size_t n,
		    char (*ids)[65])
{
	const char **argv = put_argv(a, files, n);
	struct cvt_run r;
	size_t i;

	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, 0, "archive put");
	ck_assert_uint_eq(r.out.len, 65 * n);
	for (i = 0; i < n; i++) {
		memcpy(ids[i], r.out.buf + 65 * i, 64);
		ids[i][64] = '\0';
	}
	cvt_run_release(&r);
	free(argv);
}

/* Start chartvault with stdout to out_path, stderr to /dev/null. */
static pid_t spawn_to(const char *const *argv, const char *out_path)
{
	const char *bin = getenv("CV_BIN");
	pid_t pid;

	ck_assert(bin != NULL);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int out = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(out, 1);
		dup2(null, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static json_t *verify_json(const struct arch *a, int full, int want_status)
{
	struct cvt_run r;
	json_t *v;

	if (full)
		CV(&r, "-C", a->dir, "verify", "--full", "--json");
	else
		CV(&r, "-C", a->dir, "verify", "--json");
	cvt_expect_status(&r, want_status, full ? "verify --full" : "verify");
	v = cvt_parse_json(&r);
	cvt_run_release(&r);
	return v;
}

static long long jint(json_t *v, const char *k)
{
	return (long long)json_integer_value(json_object_get(v, k));
}

/* The stored file of an object: objects/<2 hex>/<id>.<gen>. */
static char *stored_file(const struct arch *a, const char *id)
{
	char *sub = cv_asprintf("%s/objects/%.2s", a->dir, id);
	DIR *d = opendir(sub);
	struct dirent *e;
	char *found = NULL;

	ck_assert_msg(d != NULL, "no folder %s", sub);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, id, 64) && e->d_name[64] == '.')
			found = cv_asprintf("%s/%s", sub, e->d_name);
	closedir(d);
	free(sub);
	ck_assert_msg(found != NULL, "no stored file for %s", id);
	return found;
}

static void exec_sql(const char *dsn, const char *sql)
{
	PGconn *c = PQconnectdb(dsn);
	PGresult *res;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	res = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK ||
			      PQresultStatus(res) == PGRES_TUPLES_OK,
		      "%s: %s", sql, PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
}

/* Does the finding list of a verify report name id with problem? */
static int has_finding(json_t *rep, const char *problem, const char *id)
{
	json_t *arr = json_object_get(rep, "findings"), *f;
	size_t i;

	json_array_foreach(arr, i, f)
	{
		const char *p =
			json_string_value(json_object_get(f, "problem"));
		const char *fid = json_string_value(json_object_get(f, "id"));

		if (p && !strcmp(p, problem) && fid && !strcmp(fid, id))
			return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */

START_TEST(test_archive_verify_names_exactly_the_20_flipped_objects)
{
	struct arch a;
	char **files, (*ids)[65];
	size_t n = 40, i;
	int picked[40] = { 0 };
	unsigned seed = seed_rng();
	json_t *v;

	arch_new(&a, "bitflip");
	files = make_files(a.base, n);
	ids = cv_calloc(n, sizeof(*ids));
	put_all(&a, files, n, ids);
	v = verify_json(&a, 1, 0);
	ck_assert_int_eq(jint(v, "intact"), (long long)n);
	json_decref(v);

	/* Flip one random byte (header, body or tag) in 20 objects. */
	for (i = 0; i < 20; i++) {
		struct stat st;
		char *path;
		size_t k;
		off_t at;
		uint8_t b;
		int fd;

		do
			k = (size_t)rand() % n;
		while (picked[k]);
		picked[k] = 1;
		path = stored_file(&a, ids[k]);
		ck_assert_int_eq(stat(path, &st), 0);
		at = (off_t)((unsigned long)rand() % (unsigned long)st.st_size);
		fd = open(path, O_RDWR);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pread(fd, &b, 1, at), 1);
		b ^= (uint8_t)(1u << (rand() % 8));
		ck_assert_int_eq(pwrite(fd, &b, 1, at), 1);
		close(fd);
		free(path);
	}
	for (int full = 0; full <= 1; full++) {
		v = verify_json(&a, full, 4);
		ck_assert_msg(jint(v, "failed") == 20,
			      "seed %u: %lld failed, wanted 20", seed,
			      jint(v, "failed"));
		ck_assert_int_eq(jint(v, "intact"), (long long)n - 20);
		ck_assert_int_eq(jint(v, "missing"), 0);
		ck_assert_int_eq(jint(v, "orphans"), 0);
		for (i = 0; i < n; i++)
			ck_assert_msg(has_finding(v, "failed", ids[i]) ==
					      picked[i],
				      "seed %u: object %s %s", seed, ids[i],
				      picked[i] ? "not named" : "named");
		json_decref(v);
	}
	/* Recorded: two runs with 20 failures each after the first. */
	ck_assert_int_eq(cvt_sql_count(a.dsn,
				       "SELECT count(*) FROM verify_findings"
				       " WHERE problem = 'failed'"),
			 40);
	ck_assert_int_eq(cvt_sql_count(a.dsn,
				       "SELECT count(*) FROM objects"
				       " WHERE last_full_at IS NOT NULL"),
			 (long long)n);
	free(ids);
	free_strv(files);
	arch_free(&a);
}
END_TEST

START_TEST(test_archive_verify_reports_missing_and_orphans_and_gc_removes_them)
{
	struct arch a;
	char **files, (*ids)[65], *gone, *copy, *tmp, *sub;
	struct cvt_run r;
	size_t n = 6;
	json_t *v;

	seed_rng();
	arch_new(&a, "missing");
	files = make_files(a.base, n);
	ids = cv_calloc(n, sizeof(*ids));
	put_all(&a, files, n, ids);

	/* One file gone; a copy of another under a name no row uses. */
	gone = stored_file(&a, ids[0]);
	ck_assert_int_eq(unlink(gone), 0);
	copy = stored_file(&a, ids[1]);
	{
		const char *argv[] = { "cp", copy, NULL, NULL };
		char *dst = cv_asprintf("%.*s0000000000000001",
					(int)strlen(copy) - 16, copy);

		argv[2] = dst;
		cvt_run(&r, argv, NULL, NULL);
		cvt_expect_status(&r, 0, "cp");
		cvt_run_release(&r);
		free(dst);
	}
	sub = cv_asprintf("%s/objects/%.2s", a.dir, ids[2]);
	tmp = cv_asprintf("%s/tmp-%s.0000000000000002-abcdef", sub, ids[2]);
	{
		struct cv_error err = CV_ERROR_INIT;

		ck_assert_int_eq(
			cv_fs_write_atomic(tmp, "half", 4, 0600, 0, &err), 0);
	}

	v = verify_json(&a, 0, 4);
	ck_assert_int_eq(jint(v, "missing"), 1);
	ck_assert(has_finding(v, "missing", ids[0]));
	ck_assert_int_eq(jint(v, "orphans"), 1);
	ck_assert(has_finding(v, "orphan", ids[1]));
	ck_assert_int_eq(jint(v, "temp_files"), 1);
	ck_assert_int_eq(jint(v, "failed"), 0);
	json_decref(v);

	/* Within the grace period nothing goes. */
	CV(&r, "-C", a.dir, "gc", "--json");
	cvt_expect_status(&r, 0, "gc with the default grace");
	v = cvt_parse_json(&r);
	ck_assert_int_eq(jint(v, "removed"), 0);
	ck_assert_int_eq(jint(v, "within_grace"), 2);
	json_decref(v);
	cvt_run_release(&r);
	CV(&r, "-C", a.dir, "gc", "--grace", "0", "--json");
	cvt_expect_status(&r, 0, "gc --grace 0");
	v = cvt_parse_json(&r);
	ck_assert_int_eq(jint(v, "removed"), 2);
	json_decref(v);
	cvt_run_release(&r);
	ck_assert(access(tmp, F_OK) != 0);

	/* Every live object is untouched by gc. */
	v = verify_json(&a, 1, 4);
	ck_assert_int_eq(jint(v, "orphans"), 0);
	ck_assert_int_eq(jint(v, "temp_files"), 0);
	ck_assert_int_eq(jint(v, "intact"), (long long)n - 1);
	ck_assert_int_eq(jint(v, "missing"), 1);
	json_decref(v);
	CV(&r, "-C", a.dir, "verify", "--sample", "0%");
	cvt_expect_status(&r, 2, "verify --sample 0%");
	cvt_run_release(&r);
	free(gone);
	free(copy);
	free(tmp);
	free(sub);
	free(ids);
	free_strv(files);
	arch_free(&a);
}
END_TEST

START_TEST(test_archive_erase_destroys_keys_then_bytes_and_keeps_referenced)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_erase_evidence ev;
	struct cv_index *ix = NULL;
	struct cv_archive *ar = NULL;
	struct arch a;
	char **files, (*ids)[65], *path0, *sql;
	uint8_t oid[3][32];
	struct cvt_run r;
	int64_t set_file;
	struct cv_index_erase_set set;
	json_t *v;
	size_t i;

	seed_rng();
	arch_new(&a, "erase");
	files = make_files(a.base, 3);
	ids = cv_calloc(3, sizeof(*ids));
	put_all(&a, files, 3, ids);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(cv_archive_oid_parse(oid[i], ids[i]), 0);
	/* Object 1 is an original of a file in the set being destroyed;
	 * object 2 is held by a record outside it. */
	exec_sql(a.dsn,
		 "INSERT INTO batches (name, operator) VALUES ('b', 't')");
	sql = cv_asprintf("INSERT INTO source_files (id, batch_id, object_id,"
			  " name, format, page_count) VALUES"
			  " (41, 1, '\\x%s', 'one.tif', 'tiff', 1),"
			  " (42, 1, '\\x%s', 'two.tif', 'tiff', 1)",
			  ids[1], ids[2]);
	exec_sql(a.dsn, sql);
	free(sql);
	path0 = stored_file(&a, ids[0]);

	ck_assert_int_eq(cv_archive_global_init(&err), 0);
	ck_assert_msg(cv_index_open(&ix, a.dsn, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(cv_archive_open(&ar, a.dir, NULL, ix, &err), 0);
	set_file = 41;
	set.source_files = &set_file;
	set.nsource_files = 1;
	set.pages = NULL;
	set.npages = 0;
	ck_assert_msg(cv_archive_erase(ar, (const uint8_t(*)[32])oid, 3, &set,
				       "tester", &ev, &err) == 0,
		      "%s: %s", err.msg, err.detail);
	ck_assert_uint_eq(ev.n, 3);
	ck_assert_uint_eq(ev.erased, 2);
	ck_assert_uint_eq(ev.kept, 1);
	ck_assert(ev.at[0] != '\0');
	ck_assert_int_eq(ev.items[0].row.outcome, CV_INDEX_ERASE_DONE);
	ck_assert_int_eq(ev.items[0].file_present, 1);
	ck_assert_int_eq(ev.items[1].row.outcome, CV_INDEX_ERASE_DONE);
	ck_assert_int_eq(ev.items[2].row.outcome, CV_INDEX_ERASE_REFERENCED);
	ck_assert_str_eq(ev.items[2].row.referenced_kind, "source_file");
	ck_assert_int_eq(ev.items[2].row.referenced_by, 42);
	ck_assert_int_eq(ev.items[2].file_present, 0);
	cv_archive_erase_evidence_release(&ev);
	ck_assert(access(path0, F_OK) != 0);

	/* Again: already erased, nothing left to remove. */
	ck_assert_int_eq(cv_archive_erase(ar, (const uint8_t(*)[32])oid, 1,
					  NULL, "tester", &ev, &err),
			 0);
	ck_assert_int_eq(ev.items[0].row.outcome, CV_INDEX_ERASE_ALREADY);
	ck_assert_int_eq(ev.items[0].file_present, 0);
	cv_archive_erase_evidence_release(&ev);
	cv_archive_free(ar);
	cv_index_free(ix);

	CV(&r, "-C", a.dir, "archive", "get", ids[0]);
	cvt_expect_status(&r, 5, "get of an erased object");
	ck_assert_msg(strstr(r.err.buf, "erased"), "%s", r.err.buf);
	cvt_run_release(&r);
	CV(&r, "-C", a.dir, "archive", "get", ids[2], "-o", path0);
	cvt_expect_status(&r, 0, "get of the referenced object");
	cvt_run_release(&r);
	unlink(path0);
	v = verify_json(&a, 1, 0);
	ck_assert_int_eq(jint(v, "erased"), 2);
	ck_assert_int_eq(jint(v, "missing"), 0);
	ck_assert_int_eq(jint(v, "intact"), 1);
	json_decref(v);
	ck_assert_int_eq(cvt_sql_count(a.dsn, "SELECT count(*) FROM audit_log"
					      " WHERE action = 'object.erase'"),
			 4);
	ck_assert_int_eq(cvt_sql_count(a.dsn, "SELECT count(*) FROM objects"
					      " WHERE wrapped_key IS NULL"),
			 2);
	free(path0);
	free(ids);
	free_strv(files);
	arch_free(&a);
}
END_TEST

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : 0;
}

/*
 * Wait (at most 60 s) until path grows past before, or pid exits; 1 when
 * it exited (and was reaped, its status in *st).
 */
static int wait_for_output(const char *path, off_t before, pid_t pid, int *st)
{
	int i;

	for (i = 0; i < 12000; i++) {
		if (waitpid(pid, st, WNOHANG) == pid)
			return 1;
		if (file_size(path) > before)
			return 0;
		sleep_ms(5);
	}
	return 0;
}

/* Read the 64-hex lines of path into ids; returns how many. */
static size_t read_ids(const char *path, char (*ids)[65], size_t max)
{
	struct cv_buf b = CV_BUF_INIT;
	struct cv_error err = CV_ERROR_INIT;
	size_t n = 0, at;

	if (cv_fs_read_file(&b, path, 1u << 24, &err) < 0)
		return 0;
	for (at = 0; at + 65 <= b.len && n < max; at += 65) {
		ck_assert_msg(b.buf[at + 64] == '\n', "torn id line in %s",
			      path);
		memcpy(ids[n], b.buf + at, 64);
		ids[n++][64] = '\0';
	}
	cv_buf_release(&b);
	return n;
}

START_TEST(test_archive_put_killed_at_random_moments_loses_nothing)
{
	enum {
		NFILES = 220
	};
	struct arch a;
	char **files, (*printed)[65], (*final)[65], *out;
	size_t nprinted = 0, round, i, j;
	unsigned seed = seed_rng();
	struct cvt_run r;
	json_t *v;

	arch_new(&a, "kill9");
	files = make_files(a.base, NFILES);
	printed = cv_calloc(NFILES * 8, sizeof(*printed));
	final = cv_calloc(NFILES, sizeof(*final));
	out = cv_path_join(a.base, "printed");
	/*
	 * Each round starts a put of every file (those stored before are
	 * found by content) and kills it at a random moment. Every other
	 * round first waits for the put to print its first id, so that on a
	 * slow or busy machine kills still land in the middle of writing,
	 * not only during start-up.
	 */
	for (round = 0; round < 12; round++) {
		const char **argv = put_argv(&a, files, NFILES);
		off_t before = file_size(out);
		pid_t pid = spawn_to(argv, out);
		int st, reaped = 0;

		if (round % 2)
			reaped = wait_for_output(out, before, pid, &st);
		sleep_ms(20 + rand() % 400);
		if (!reaped) {
			kill(pid, SIGKILL);
			ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		}
		free(argv);
	}
	nprinted = read_ids(out, printed, NFILES * 8);
	ck_assert_msg(nprinted > 0, "seed %u: no put got far enough", seed);

	/* Nothing lost or corrupt; crash leftovers are only orphans. */
	v = verify_json(&a, 1, 0);
	ck_assert_int_eq(jint(v, "failed"), 0);
	ck_assert_int_eq(jint(v, "missing"), 0);
	json_decref(v);
	/* Every id printed before a kill is readable. */
	for (i = 0; i < nprinted; i++) {
		CV(&r, "-C", a.dir, "archive", "get", printed[i], "-o", out);
		ck_assert_msg(r.status == 0, "get %s: exit %d: %s", printed[i],
			      r.status, r.err.buf);
		cvt_run_release(&r);
	}
	/* The re-run completes, each file stored once. */
	put_all(&a, files, NFILES, final);
	for (i = 0; i < nprinted; i++) {
		for (j = 0; j < NFILES; j++)
			if (!strcmp(printed[i], final[j]))
				break;
		ck_assert_msg(j < NFILES, "printed id %s is not a file's id",
			      printed[i]);
	}
	ck_assert_int_eq(cvt_sql_count(a.dsn, "SELECT count(*) FROM objects"),
			 NFILES);
	CV(&r, "-C", a.dir, "gc", "--grace", "0");
	cvt_expect_status(&r, 0, "gc after the crashes");
	cvt_run_release(&r);
	v = verify_json(&a, 1, 0);
	ck_assert_int_eq(jint(v, "intact"), NFILES);
	ck_assert_int_eq(jint(v, "orphans"), 0);
	ck_assert_int_eq(jint(v, "temp_files"), 0);
	json_decref(v);
	free(out);
	free(printed);
	free(final);
	free_strv(files);
	arch_free(&a);
}
END_TEST

START_TEST(test_archive_rotation_killed_midway_completes_and_stays_readable)
{
	enum {
		NFILES = 300
	};
	struct arch a;
	char **files, (*ids)[65], *key, *out;
	struct cvt_run r;
	struct stat st;
	size_t round, i;
	unsigned seed = seed_rng();
	json_t *v;

	arch_new(&a, "rotate");
	files = make_files(a.base, NFILES);
	ids = cv_calloc(NFILES, sizeof(*ids));
	put_all(&a, files, NFILES, ids);
	key = cv_path_join(a.dir, "chartvault.key");
	out = cv_path_join(a.base, "rot.out");
	for (round = 0; round < 8; round++) {
		const char *argv[] = { "chartvault", "-C",     a.dir,
				       "keys",       "rotate", NULL };
		pid_t pid = spawn_to(argv, out);
		int status;

		sleep_ms(rand() % 250);
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		/* Whatever the moment, every object opens with the key file
		 * on disk. */
		if (round % 4 == 3) {
			v = verify_json(&a, 1, 0);
			ck_assert_msg(jint(v, "intact") == NFILES,
				      "seed %u round %zu: %lld intact", seed,
				      round, jint(v, "intact"));
			json_decref(v);
		}
	}
	CV(&r, "-C", a.dir, "keys", "rotate", "--json");
	cvt_expect_status(&r, 0, "keys rotate after the kills");
	cvt_run_release(&r);
	/* One KEK left: 72 + 3 entries of 35, 35 and 43 bytes. */
	ck_assert_int_eq(stat(key, &st), 0);
	ck_assert_int_eq(st.st_size, 72 + 35 + 35 + 43);
	ck_assert_int_eq(cvt_sql_count(a.dsn, "SELECT count(DISTINCT kek_id)"
					      " FROM objects"),
			 1);
	ck_assert_int_ge(
		cvt_sql_count(a.dsn, "SELECT count(*) FROM retired_keks"), 1);
	v = verify_json(&a, 1, 0);
	ck_assert_int_eq(jint(v, "intact"), NFILES);
	json_decref(v);
	for (i = 0; i < NFILES; i += 37) {
		CV(&r, "-C", a.dir, "archive", "get", ids[i], "-o", out);
		cvt_expect_status(&r, 0, "get after rotation");
		cvt_run_release(&r);
	}
	free(key);
	free(out);
	free(ids);
	free_strv(files);
	arch_free(&a);
}
END_TEST

START_TEST(test_archive_retired_kek_refuses_new_objects)
{
	struct arch a;
	char **files, (*ids)[65], *key, *old;
	struct cvt_run r;

	seed_rng();
	arch_new(&a, "retired");
	files = make_files(a.base, 3);
	ids = cv_calloc(3, sizeof(*ids));
	put_all(&a, files, 1, ids);
	key = cv_path_join(a.dir, "chartvault.key");
	old = cv_path_join(a.base, "old.key");
	{
		const char *argv[] = { "cp", "-p", key, old, NULL };

		cvt_run(&r, argv, NULL, NULL);
		cvt_expect_status(&r, 0, "cp");
		cvt_run_release(&r);
	}
	CV(&r, "-C", a.dir, "keys", "rotate");
	cvt_expect_status(&r, 0, "keys rotate");
	cvt_run_release(&r);
	/* A process still holding the old key file cannot write under it. */
	{
		char *setting = cv_asprintf("keys.file=%s", old);
		const char *argv[] = { "chartvault", "-C",     a.dir,
				       "-c",         setting,  "archive",
				       "put",        files[1], NULL };

		cvt_run(&r, argv, NULL, NULL);
		ck_assert_msg(r.status != 0 && strstr(r.err.buf, "retired"),
			      "put under a retired KEK: exit %d: %s", r.status,
			      r.err.buf);
		cvt_run_release(&r);
		free(setting);
	}
	CV(&r, "-C", a.dir, "archive", "put", files[1]);
	cvt_expect_status(&r, 0, "put with the current key file");
	cvt_run_release(&r);
	free(key);
	free(old);
	free(ids);
	free_strv(files);
	arch_free(&a);
}
END_TEST

START_TEST(test_archive_keys_passwd_changes_the_passphrase)
{
	struct cvt_run r;
	struct arch a;
	char **files;
	const char *old_env[] = { "CHARTVAULT_PASSPHRASE=first secret", NULL };
	const char *both_env[] = { "CHARTVAULT_PASSPHRASE=first secret",
				   "CHARTVAULT_NEW_PASSPHRASE=second secret",
				   NULL };
	const char *new_env[] = { "CHARTVAULT_PASSPHRASE=second secret", NULL };

	seed_rng();
	a.base = cvt_tmpdir("passwd");
	a.dir = cv_path_join(a.base, "archive");
	a.dsn = cvt_pg_createdb(&cvt_shared_pg);
	{
		const char *argv[] = { "chartvault", "init", a.dir,
				       "--db",       a.dsn,  "--passphrase",
				       NULL };

		cvt_run(&r, argv, old_env, NULL);
		cvt_expect_status(&r, 0, "init --passphrase");
		cvt_run_release(&r);
	}
	files = make_files(a.base, 1);
	{
		const char *argv[] = { "chartvault", "-C",     a.dir, "archive",
				       "put",        files[0], NULL };

		cvt_run(&r, argv, old_env, NULL);
		cvt_expect_status(&r, 0, "put");
		cvt_run_release(&r);
	}
	{
		const char *argv[] = { "chartvault", "-C",     a.dir,
				       "keys",       "passwd", NULL };

		cvt_run(&r, argv, both_env, NULL);
		cvt_expect_status(&r, 0, "keys passwd");
		ck_assert(!strstr(r.out.buf, "secret") &&
			  !strstr(r.err.buf, "secret"));
		cvt_run_release(&r);
	}
	{
		const char *argv[] = { "chartvault", "-C",     a.dir,
				       "verify",     "--full", NULL };

		cvt_run(&r, argv, old_env, NULL);
		cvt_expect_status(&r, 4,
				  "verify --full with the old passphrase");
		cvt_run_release(&r);
		cvt_run(&r, argv, new_env, NULL);
		cvt_expect_status(&r, 0,
				  "verify --full with the new passphrase");
		cvt_run_release(&r);
	}
	{
		const char *argv[] = { "chartvault", "-C",     a.dir,
				       "keys",       "rotate", NULL };

		cvt_run(&r, argv, new_env, NULL);
		cvt_expect_status(&r, 0, "keys rotate keeps the passphrase");
		cvt_run_release(&r);
	}
	{
		const char *argv[] = { "chartvault", "-C",     a.dir,
				       "verify",     "--full", NULL };

		cvt_run(&r, argv, new_env, NULL);
		cvt_expect_status(&r, 0, "verify --full after rotation");
		cvt_run_release(&r);
	}
	free_strv(files);
	arch_free(&a);
}
END_TEST

/* Fill the file system under path, leaving about keep bytes free. */
static char *fill_up(const char *dir, size_t keep)
{
	char *path = cv_path_join(dir, "filler");
	static char buf[65536];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	struct stat st;
	off_t total = 0;

	ck_assert_int_ge(fd, 0);
	memset(buf, 0x5a, sizeof(buf));
	while (write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf))
		total += (off_t)sizeof(buf);
	ck_assert_int_eq(fstat(fd, &st), 0);
	/* Give back a little: room for a small object, not a large one. */
	ck_assert_int_eq(ftruncate(fd, st.st_size > (off_t)keep
					       ? st.st_size - (off_t)keep
					       : 0),
			 0);
	close(fd);
	(void)total;
	return path;
}

START_TEST(test_archive_put_on_a_full_disk_fails_cleanly_and_reruns)
{
	struct arch a;
	char **files, (*ids)[65], *fs, *objects, *moved, *filler, *big;
	struct cvt_run r;
	json_t *v;
	int fd;

	seed_rng();
	/*
	 * A private mount namespace: the tmpfs is seen by this test and the
	 * commands it starts, and goes away with them even if it fails.
	 */
	ck_assert_msg(unshare(CLONE_NEWNS) == 0,
		      "unshare(CLONE_NEWNS) failed (are we root?)");
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	arch_new(&a, "enospc");
	fs = cv_path_join(a.base, "fs");
	ck_assert_int_eq(mkdir(fs, 0700), 0);
	ck_assert_msg(mount("tmpfs", fs, "tmpfs", 0, "size=4m,mode=0700") == 0,
		      "mount tmpfs: %s", strerror(errno));
	/* The store on the small file system; the database elsewhere. */
	objects = cv_path_join(a.dir, "objects");
	moved = cv_path_join(fs, "objects");
	ck_assert_int_eq(mkdir(moved, 0700), 0);
	ck_assert_int_eq(rmdir(objects), 0);
	ck_assert_int_eq(symlink(moved, objects), 0);

	files = make_files(a.base, 3);
	ids = cv_calloc(3, sizeof(*ids));
	put_all(&a, files, 1, ids);
	big = cv_path_join(a.base, "big.bin");
	{
		int in = open("/dev/urandom", O_RDONLY);
		char *buf = cv_malloc(3u << 20);

		ck_assert(read(in, buf, 3u << 20) == (ssize_t)(3u << 20));
		fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		ck_assert_int_eq(cv_fs_write_all(fd, buf, 3u << 20), 0);
		close(fd);
		close(in);
		free(buf);
	}
	filler = fill_up(fs, 256 * 1024);
	{
		const char *argv[] = { "chartvault", "-C", a.dir, "archive",
				       "put",        big,  NULL };

		cvt_run(&r, argv, NULL, NULL);
		ck_assert_msg(r.status == 7, "put on a full disk: exit %d: %s",
			      r.status, r.err.buf);
		ck_assert_msg(strstr(r.err.buf, "No space left on device") &&
				      strstr(r.err.buf, "error"),
			      "unclear error: %s", r.err.buf);
		cvt_run_release(&r);
	}
	/* Nothing half-written is visible: no row, no file, no temp. */
	v = verify_json(&a, 1, 0);
	ck_assert_int_eq(jint(v, "objects"), 1);
	ck_assert_int_eq(jint(v, "orphans"), 0);
	ck_assert_int_eq(jint(v, "temp_files"), 0);
	json_decref(v);
	/* Space freed: the same put completes. */
	ck_assert_int_eq(unlink(filler), 0);
	{
		const char *argv[] = { "chartvault", "-C", a.dir,    "archive",
				       "put",        big,  files[1], NULL };

		cvt_run(&r, argv, NULL, NULL);
		cvt_expect_status(&r, 0, "put after space was freed");
		cvt_run_release(&r);
	}
	v = verify_json(&a, 1, 0);
	ck_assert_int_eq(jint(v, "intact"), 3);
	json_decref(v);
	umount2(fs, MNT_DETACH);
	free(filler);
	free(big);
	free(fs);
	free(objects);
	free(moved);
	free(ids);
	free_strv(files);
	arch_free(&a);
}
END_TEST

/*
 * One put of many files, some of them copies of others under other names
 * (in the same batch and across batches): each distinct content is stored
 * once, every file gets a line with its content's id, in order, and every
 * printed id reads back as that file's bytes.
 */
START_TEST(test_archive_put_many_files_with_duplicates_stores_each_once)
{
	enum {
		NDISTINCT = 150,
		NDUPS = 40,
		NALL = NDISTINCT + NDUPS
	};
	struct arch a;
	char **files, **all, (*ids)[65], *got;
	struct cv_buf want = CV_BUF_INIT, have = CV_BUF_INIT;
	struct cv_error err = CV_ERROR_INIT;
	struct cvt_run r;
	size_t i, j, src[NALL];
	json_t *v;

	seed_rng();
	arch_new(&a, "putmany");
	files = make_files(a.base, NDISTINCT);
	all = cv_calloc(NALL + 1, sizeof(*all));
	for (i = 0; i < NDISTINCT; i++) {
		all[i] = cv_strdup(files[i]);
		src[i] = i;
	}
	for (i = NDISTINCT; i < NALL; i++) {
		/* Some copies of files near them, some of files far away. */
		size_t from =
			i % 2 ? (size_t)rand() % NDISTINCT : i - NDISTINCT;
		const char *argv[] = { "cp", files[from], NULL, NULL };

		all[i] = cv_asprintf("%s/copy-%04zu.bin", a.base, i);
		argv[2] = all[i];
		cvt_run(&r, argv, NULL, NULL);
		cvt_expect_status(&r, 0, "cp");
		cvt_run_release(&r);
		src[i] = from;
	}
	ids = cv_calloc(NALL, sizeof(*ids));
	put_all(&a, all, NALL, ids);
	for (i = 0; i < NALL; i++)
		for (j = 0; j < i; j++)
			ck_assert_msg((src[i] == src[j]) ==
					      !strcmp(ids[i], ids[j]),
				      "files %zu and %zu: ids %s and %s", i, j,
				      ids[i], ids[j]);
	ck_assert_int_eq(cvt_sql_count(a.dsn, "SELECT count(*) FROM objects"),
			 NDISTINCT);
	ck_assert_int_eq(cvt_sql_count(a.dsn, "SELECT count(*) FROM audit_log"
					      " WHERE action = 'object.put'"),
			 NALL);
	v = verify_json(&a, 1, 0);
	ck_assert_int_eq(jint(v, "intact"), NDISTINCT);
	ck_assert_int_eq(jint(v, "orphans"), 0);
	ck_assert_int_eq(jint(v, "temp_files"), 0);
	json_decref(v);
	got = cv_path_join(a.base, "got");
	for (i = 0; i < NALL; i++) {
		CV(&r, "-C", a.dir, "archive", "get", ids[i], "-o", got);
		cvt_expect_status(&r, 0, "archive get");
		cvt_run_release(&r);
		ck_assert_int_eq(cv_fs_read_file(&want, all[i], 1u << 24, &err),
				 0);
		ck_assert_int_eq(cv_fs_read_file(&have, got, 1u << 24, &err),
				 0);
		ck_assert_msg(want.len == have.len &&
				      !memcmp(want.buf, have.buf, want.len),
			      "file %zu does not read back as stored", i);
		cv_buf_release(&want);
		cv_buf_release(&have);
	}
	/* A second put of the same files stores nothing new. */
	put_all(&a, all, NALL, ids);
	ck_assert_int_eq(cvt_sql_count(a.dsn, "SELECT count(*) FROM objects"),
			 NDISTINCT);
	free(got);
	free(ids);
	free_strv(all);
	free_strv(files);
	arch_free(&a);
}
END_TEST

/* "verify history" as JSON (--object ID when id is not NULL). */
static json_t *history_json(const struct arch *a, const char *id,
			    const char *stale)
{
	struct cvt_run r;
	json_t *v;

	if (id)
		CV(&r, "-C", a->dir, "verify", "history", "--object", id,
		   "--json");
	else
		CV(&r, "-C", a->dir, "verify", "history", "--stale", stale,
		   "--json");
	cvt_expect_status(&r, 0, "verify history");
	v = cvt_parse_json(&r);
	cvt_run_release(&r);
	return v;
}

static long long jpath(json_t *v, const char *a, const char *b)
{
	return jint(json_object_get(v, a), b);
}

static const char *jstr(json_t *v, const char *k)
{
	const char *s = json_string_value(json_object_get(v, k));

	return s ? s : "";
}

/*
 * verify history: every run with its counts, newest first; per object
 * when it was last proven by any check and by a full one; objects never
 * proven and proven too long ago are counted; one object's findings.
 */
START_TEST(test_archive_verify_history_shows_runs_and_proof_ages)
{
	enum {
		N = 6
	};
	struct arch a;
	char **files, (*ids)[65], *path, *sql;
	json_t *v, *runs, *w;
	struct stat st;
	uint8_t b;
	int fd;

	seed_rng();
	arch_new(&a, "history");
	files = make_files(a.base, N + 1);
	ids = cv_calloc(N + 1, sizeof(*ids));
	put_all(&a, files, N, ids);

	/* Nothing verified yet: every live object is "never". */
	v = history_json(&a, NULL, "30");
	ck_assert_int_eq(jint(v, "runs_total"), 0);
	ck_assert_int_eq(jint(v, "live_objects"), N);
	ck_assert_int_eq(jpath(v, "proven", "never"), N);
	ck_assert_int_eq(jpath(v, "proven_full", "never"), N);
	json_decref(v);

	json_decref(verify_json(&a, 0, 0)); /* run 1: quick */
	json_decref(verify_json(&a, 1, 0)); /* run 2: full */
	/* Damage one object; run 3 (full) names it. */
	path = stored_file(&a, ids[2]);
	ck_assert_int_eq(stat(path, &st), 0);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, st.st_size / 2), 1);
	b ^= 0x10;
	ck_assert_int_eq(pwrite(fd, &b, 1, st.st_size / 2), 1);
	close(fd);
	json_decref(verify_json(&a, 1, 4));
	/* One more object, stored after every run: never proven. */
	put_all(&a, files + N, 1, ids + N);
	/* One object's proofs pushed 40 days back. */
	sql = cv_asprintf("UPDATE objects SET last_checked_at = now() -"
			  " interval '40 days', last_full_at = now() -"
			  " interval '40 days' WHERE id = '\\x%s'",
			  ids[4]);
	exec_sql(a.dsn, sql);
	free(sql);

	v = history_json(&a, NULL, "30");
	ck_assert_int_eq(jint(v, "runs_total"), 3);
	runs = json_object_get(v, "runs");
	ck_assert_int_eq(json_array_size(runs), 3);
	/* Newest first, each with its counts. */
	w = json_array_get(runs, 0);
	ck_assert_int_eq(jint(w, "run"), 3);
	ck_assert_str_eq(jstr(w, "mode"), "full");
	ck_assert_int_eq(jint(w, "checked"), N);
	ck_assert_int_eq(jint(w, "intact"), N - 1);
	ck_assert_int_eq(jint(w, "failed"), 1);
	ck_assert_int_eq(jint(w, "findings"), 1);
	ck_assert(!json_is_true(json_object_get(w, "all_intact")));
	w = json_array_get(runs, 2);
	ck_assert_int_eq(jint(w, "run"), 1);
	ck_assert_str_eq(jstr(w, "mode"), "quick");
	ck_assert_int_eq(jint(w, "intact"), N);
	ck_assert(json_is_true(json_object_get(w, "all_intact")));
	/* Proof ages over the N + 1 live objects. */
	ck_assert_int_eq(jint(v, "live_objects"), N + 1);
	w = json_object_get(v, "proven");
	ck_assert_int_eq(jint(w, "never"), 1);
	ck_assert_int_eq(jint(w, "stale"), 1);
	ck_assert_int_eq(jpath(w, "within", "1d"), N - 1);
	ck_assert_int_eq(jpath(w, "within", "90d"), N);
	ck_assert_str_eq(jstr(w, "least_recent_id"), ids[N]);
	ck_assert(json_is_null(json_object_get(w, "least_recent_proof")));
	ck_assert(json_is_string(json_object_get(w, "oldest_proof")));
	/* The damaged one was last proven by run 2, before it broke. */
	w = json_object_get(v, "proven_full");
	ck_assert_int_eq(jint(w, "never"), 1);
	ck_assert_int_eq(jint(w, "stale"), 1);
	ck_assert_int_eq(jpath(w, "within", "1d"), N - 1);
	json_decref(v);
	/* With --stale 41 the 40-day-old proof is not stale yet. */
	v = history_json(&a, NULL, "41");
	ck_assert_int_eq(jpath(v, "proven", "stale"), 0);
	json_decref(v);

	/* One object: the damaged one's last proof and its finding. */
	v = history_json(&a, ids[2], NULL);
	ck_assert_int_eq(jint(v, "last_proven_run"), 2);
	ck_assert_str_eq(jstr(v, "last_proven_mode"), "full");
	ck_assert_int_eq(jint(v, "last_full_run"), 2);
	ck_assert_int_eq(jint(v, "runs_since_proof"), 1);
	w = json_object_get(v, "findings");
	ck_assert_int_eq(json_array_size(w), 1);
	ck_assert_int_eq(jint(json_array_get(w, 0), "run"), 3);
	ck_assert_str_eq(jstr(json_array_get(w, 0), "problem"), "failed");
	json_decref(v);
	/* An intact one: proven by run 3, no findings. */
	v = history_json(&a, ids[0], NULL);
	ck_assert_int_eq(jint(v, "last_proven_run"), 3);
	ck_assert_int_eq(json_array_size(json_object_get(v, "findings")), 0);
	json_decref(v);
	/* The newest: never proven. */
	v = history_json(&a, ids[N], NULL);
	ck_assert(json_is_null(json_object_get(v, "last_proven")));
	ck_assert_int_eq(jint(v, "last_proven_run"), 0);
	json_decref(v);
	{
		struct cvt_run r;

		/* Unknown id: not found (5); not an id: usage (2). */
		CV(&r, "-C", a.dir, "verify", "history", "--object",
		   "00000000000000000000000000000000"
		   "00000000000000000000000000000000");
		cvt_expect_status(&r, 5, "history of an unknown object");
		cvt_run_release(&r);
		CV(&r, "-C", a.dir, "verify", "history", "--object", "xyz");
		cvt_expect_status(&r, 2, "history of a non-id");
		cvt_run_release(&r);
		CV(&r, "-C", a.dir, "verify", "history");
		cvt_expect_status(&r, 0, "verify history (text)");
		ck_assert(strstr(r.out.buf, "NOT INTACT") != NULL);
		ck_assert(strstr(r.out.buf, "never proven") != NULL);
		cvt_run_release(&r);
	}
	free(path);
	free(ids);
	free_strv(files);
	arch_free(&a);
}
END_TEST

/*
 * archive get of many ids in one process: into a folder (each object in
 * its own file, going on past a bad id), to stdout in order, and --all.
 */
START_TEST(test_archive_get_many_ids_in_one_process)
{
	enum {
		N = 5
	};
	struct arch a;
	char **files, (*ids)[65], *dir, *path, *unknown;
	struct cv_buf want = CV_BUF_INIT, have = CV_BUF_INIT, all = CV_BUF_INIT;
	struct cv_error err = CV_ERROR_INIT;
	struct cvt_run r;
	size_t i;

	seed_rng();
	arch_new(&a, "getmany");
	files = make_files(a.base, N);
	ids = cv_calloc(N, sizeof(*ids));
	put_all(&a, files, N, ids);
	dir = cv_path_join(a.base, "out");
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	unknown = cv_strdup("00000000000000000000000000000000"
			    "00000000000000000000000000000000");
	{
		const char *argv[] = { "chartvault", "-C",   a.dir,  "archive",
				       "get",        "-o",   dir,    ids[0],
				       unknown,      ids[1], ids[2], NULL };

		cvt_run(&r, argv, NULL, NULL);
		/* The unknown id is reported, the others are written. */
		cvt_expect_status(&r, 5, "get many into a folder");
		ck_assert(strstr(r.err.buf, unknown) != NULL);
		cvt_run_release(&r);
	}
	for (i = 0; i < 3; i++) {
		path = cv_asprintf("%s/%s", dir, ids[i]);
		ck_assert_int_eq(
			cv_fs_read_file(&want, files[i], 1u << 24, &err), 0);
		ck_assert_int_eq(cv_fs_read_file(&have, path, 1u << 24, &err),
				 0);
		ck_assert_msg(want.len == have.len &&
				      !memcmp(want.buf, have.buf, want.len),
			      "object %zu does not read back", i);
		cv_buf_release(&want);
		cv_buf_release(&have);
		free(path);
	}
	path = cv_asprintf("%s/%s", dir, unknown);
	ck_assert(access(path, F_OK) != 0);
	free(path);
	/* Every read is audited: three ok, one not found. */
	ck_assert_int_eq(cvt_sql_count(a.dsn, "SELECT count(*) FROM audit_log"
					      " WHERE action = 'object.get'"),
			 4);

	/* On stdout, in the order given; ids from stdin. */
	{
		const char *argv[] = { "chartvault", "-C",  a.dir,
				       "archive",    "get", "--stdin",
				       NULL };
		struct cv_buf in = CV_BUF_INIT;

		for (i = N; i-- > 0;) {
			cv_buf_adds(&in, ids[i]);
			cv_buf_adds(&in, "\n");
		}
		cvt_run(&r, argv, NULL, in.buf);
		cvt_expect_status(&r, 0, "get --stdin");
		for (i = N; i-- > 0;) {
			ck_assert_int_eq(cv_fs_read_file(&want, files[i],
							 1u << 24, &err),
					 0);
			cv_buf_add(&all, want.buf, want.len);
			cv_buf_release(&want);
		}
		ck_assert_msg(r.out.len == all.len &&
				      !memcmp(r.out.buf, all.buf, all.len),
			      "stdout is not the objects in order");
		cvt_run_release(&r);
		cv_buf_release(&in);
		cv_buf_release(&all);
	}
	/* --all into a folder: every live object. */
	{
		const char *argv[] = { "chartvault", "-C",    a.dir,
				       "archive",    "get",   "-o",
				       dir,          "--all", NULL };

		cvt_rmrf(dir);
		ck_assert_int_eq(mkdir(dir, 0700), 0);
		cvt_run(&r, argv, NULL, NULL);
		cvt_expect_status(&r, 0, "get --all");
		cvt_run_release(&r);
		for (i = 0; i < N; i++) {
			path = cv_asprintf("%s/%s", dir, ids[i]);
			ck_assert_msg(access(path, F_OK) == 0, "%s missing",
				      ids[i]);
			free(path);
		}
	}
	free(unknown);
	free(dir);
	free(ids);
	free_strv(files);
	arch_free(&a);
}
END_TEST

/* ------------------------------------------------------------------ */

Suite *cv_archive_cli_suite(void);

Suite *cv_archive_cli_suite(void)
{
	Suite *s = suite_create("archive-cli");
	TCase *tc;

	tc = tcase_create("fixity");
	tcase_set_tags(tc, "db");
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(
		tc, test_archive_verify_names_exactly_the_20_flipped_objects);
	tcase_add_test(
		tc,
		test_archive_verify_reports_missing_and_orphans_and_gc_removes_them);
	tcase_add_test(tc,
		       test_archive_verify_history_shows_runs_and_proof_ages);
	tcase_add_test(tc, test_archive_get_many_ids_in_one_process);
	tcase_set_timeout(tc, 180);
	suite_add_tcase(s, tc);

	tc = tcase_create("erase");
	tcase_set_tags(tc, "db");
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(
		tc,
		test_archive_erase_destroys_keys_then_bytes_and_keeps_referenced);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("crash");
	tcase_set_tags(tc, "db");
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc,
		       test_archive_put_killed_at_random_moments_loses_nothing);
	tcase_add_test(
		tc,
		test_archive_rotation_killed_midway_completes_and_stays_readable);
	tcase_add_test(
		tc, test_archive_put_on_a_full_disk_fails_cleanly_and_reruns);
	tcase_set_timeout(tc, 600);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_set_tags(tc, "db");
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_archive_retired_kek_refuses_new_objects);
	tcase_add_test(
		tc,
		test_archive_put_many_files_with_duplicates_stores_each_once);
	tcase_add_test(tc, test_archive_keys_passwd_changes_the_passphrase);
	tcase_set_timeout(tc, 180);
	suite_add_tcase(s, tc);
	return s;
}
