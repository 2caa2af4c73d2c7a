/*
 * End-to-end tests of the chartvault command: a real PostgreSQL started
 * by the harness in a temporary folder (and the archive's own private
 * cluster), real Tesseract on samples/, the real binary run as a user
 * would run it.
 */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
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
#include <leptonica/allheaders.h>
#include <zbar.h>
#include <libpq-fe.h>

#include "common/cv.h"
#include "archive/archive.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

/* A JSON object's string field has the value expected. */
static void expect_field(json_t *o, const char *key, const char *want)
{
	const char *got = json_string_value(json_object_get(o, key));

	ck_assert_msg(got && !strcmp(got, want), "%s is '%s', expected '%s'",
		      key, got ? got : "(none)", want);
}

/* Set the stage with a shell command; it must succeed. */
static void shell(const char *cmd, const char *what)
{
	const char *argv[] = { "sh", "-c", cmd, NULL };
	struct cvt_run r;

	cvt_run(&r, argv, NULL, NULL);
	cvt_expect_status(&r, 0, what);
	cvt_run_release(&r);
}

/*
 * A new archive on its own database of the shared test server; *dsn (if
 * not NULL) receives that database's connection string.
 */
static char *new_archive_dsn(const char *tag, char **dsn_out)
{
	char *base = cvt_tmpdir(tag), *dir = cv_path_join(base, "archive");
	char *dsn = cvt_pg_createdb(&cvt_shared_pg);
	struct cvt_run r;

	CV(&r, "init", dir, "--db", dsn);
	cvt_expect_status(&r, 0, "init --db");
	cvt_run_release(&r);
	cvt_import_patients(dir, NULL);
	if (dsn_out)
		*dsn_out = dsn;
	else
		free(dsn);
	free(base);
	return dir;
}

static char *new_archive(const char *tag)
{
	return new_archive_dsn(tag, NULL);
}

static void remove_archive(char *dir)
{
	char *base = cv_strndup(dir, strlen(dir) - strlen("/archive"));

	cvt_rmrf(base);
	free(base);
	free(dir);
}

static void write_random_file(const char *path, size_t n)
{
	int in = open("/dev/urandom", O_RDONLY), out;
	char buf[65536];

	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert(in >= 0 && out >= 0);
	while (n) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);

		ck_assert(read(in, buf, k) == (ssize_t)k);
		ck_assert(cv_fs_write_all(out, buf, k) == 0);
		n -= k;
	}
	close(in);
	close(out);
}

static int files_equal(const char *a, const char *b)
{
	struct cv_buf x = CV_BUF_INIT, y = CV_BUF_INIT;
	struct cv_error err = CV_ERROR_INIT;
	int eq;

	ck_assert(cv_fs_read_file(&x, a, 1u << 30, &err) == 0);
	ck_assert(cv_fs_read_file(&y, b, 1u << 30, &err) == 0);
	eq = x.len == y.len && !memcmp(x.buf, y.buf, x.len);
	cv_buf_release(&x);
	cv_buf_release(&y);
	return eq;
}

/* The stored file of an object: objects/<2 hex>/<id>.<gen>. */
static char *stored_file(const char *archive, const char *id)
{
	char *sub = cv_asprintf("%s/objects/%.2s", archive, id);
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

/* ------------------------------------------------------------------ */

START_TEST(test_cli_help_works_everywhere)
{
	static const char *const cmds[] = { "init",   "db",         "archive",
					    "ingest", "search",     "show",
					    "verify", "gc",         "keys",
					    "config", "coversheet", "batch",
					    "watch",  "worker",     "help" };
	struct cvt_run r;
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *argv[] = { "chartvault", "-C",     "/nonexistent",
				       cmds[i],      "--help", NULL };

		cvt_run(&r, argv, NULL, NULL);
		cvt_expect_status(&r, 0, cmds[i]);
		ck_assert_msg(strstr(r.out.buf, "usage: chartvault") != NULL,
			      "%s --help: %s", cmds[i], r.out.buf);
		cvt_run_release(&r);
	}
	CV(&r, "frobnicate");
	cvt_expect_status(&r, 2, "unknown command");
	ck_assert(
		strstr(r.err.buf, "'frobnicate' is not a chartvault command"));
	cvt_run_release(&r);
	CV(&r, "--version");
	cvt_expect_status(&r, 0, "--version");
	ck_assert(strstr(r.out.buf, "chartvault ") == r.out.buf);
	cvt_run_release(&r);
}
END_TEST

START_TEST(test_cli_non_archive_is_reported_in_one_line)
{
	char *dir = cvt_tmpdir("notarchive");
	struct cvt_run r;
	const char *nl;

	CV(&r, "-C", dir, "search", "anything");
	cvt_expect_status(&r, 3, "search outside an archive");
	ck_assert(strstr(r.err.buf, "is not a chartvault archive"));
	nl = strchr(r.err.buf, '\n');
	ck_assert_msg(nl && nl[1] == '\0', "more than one line: %s", r.err.buf);
	cvt_run_release(&r);
	cvt_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(test_cli_init_twice_refuses_and_changes_nothing)
{
	char *dir = new_archive("init2"),
	     *key = cv_path_join(dir, "chartvault.key");
	char *copy = cv_asprintf("%s.before", dir);
	char *dsn = cvt_pg_createdb(&cvt_shared_pg);
	struct cvt_run r;
	struct stat a, b;

	{
		const char *argv[] = { "cp", "-p", key, copy, NULL };

		cvt_run(&r, argv, NULL, NULL);
		cvt_expect_status(&r, 0, "cp");
		cvt_run_release(&r);
	}
	ck_assert_int_eq(stat(key, &a), 0);
	CV(&r, "init", dir, "--db", dsn);
	cvt_expect_status(&r, 6, "second init");
	ck_assert(strstr(r.err.buf, "already a chartvault archive"));
	cvt_run_release(&r);
	ck_assert_int_eq(stat(key, &b), 0);
	ck_assert(a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
		  a.st_mtim.tv_nsec == b.st_mtim.tv_nsec);
	ck_assert(files_equal(key, copy));
	/* The first archive still works. */
	CV(&r, "-C", dir, "db", "status");
	cvt_expect_status(&r, 0, "db status after refused init");
	cvt_run_release(&r);
	unlink(copy);
	free(copy);
	free(key);
	free(dsn);
	remove_archive(dir);
}
END_TEST

START_TEST(test_cli_put_get_roundtrip_and_tamper_detection)
{
	char *dir = new_archive("putget");
	char *src = cv_asprintf("%s.src", dir),
	     *back = cv_asprintf("%s.back", dir);
	char id[65], *stored;
	struct cvt_run r;
	FILE *f;
	int c;

	write_random_file(src, 50u << 20);
	CV(&r, "-C", dir, "archive", "put", src);
	cvt_expect_status(&r, 0, "put 50 MB");
	ck_assert_uint_eq(r.out.len, 65);
	memcpy(id, r.out.buf, 64);
	id[64] = '\0';
	cvt_run_release(&r);

	/* The same bytes again: the same id, stored once. */
	CV(&r, "-C", dir, "archive", "put", "--json", src);
	cvt_expect_status(&r, 0, "put again");
	ck_assert(strstr(r.out.buf, id));
	ck_assert(strstr(r.out.buf, "\"new\": false"));
	cvt_run_release(&r);

	CV(&r, "-C", dir, "archive", "get", id, "-o", back);
	cvt_expect_status(&r, 0, "get");
	cvt_run_release(&r);
	ck_assert_msg(files_equal(src, back), "round trip changed the bytes");

	/* One flipped byte in the middle of the stored file. */
	stored = stored_file(dir, id);
	f = fopen(stored, "r+b");
	ck_assert(f != NULL);
	ck_assert_int_eq(fseek(f, 25l << 20, SEEK_SET), 0);
	c = fgetc(f);
	ck_assert_int_eq(fseek(f, 25l << 20, SEEK_SET), 0);
	fputc(c ^ 0x01, f);
	fclose(f);
	unlink(back);
	CV(&r, "-C", dir, "archive", "get", id, "-o", back);
	cvt_expect_status(&r, 4, "get of a tampered object");
	ck_assert_msg(strstr(r.err.buf, "authentication") &&
			      strstr(r.err.buf, id),
		      "stderr: %s", r.err.buf);
	cvt_run_release(&r);
	ck_assert_msg(access(back, F_OK) != 0,
		      "a failed get left a file behind");

	CV(&r, "-C", dir, "archive", "get", "00");
	cvt_expect_status(&r, 2, "get of a malformed id");
	cvt_run_release(&r);
	free(stored);
	unlink(src);
	free(src);
	free(back);
	remove_archive(dir);
}
END_TEST

/* ------------------------------------------------------------------ */

static long db_pid(const char *dir)
{
	struct cvt_run r;
	json_t *v;
	long pid;

	CV(&r, "-C", dir, "db", "status", "--json");
	cvt_expect_status(&r, 0, "db status");
	v = cvt_parse_json(&r);
	pid = (long)json_integer_value(json_object_get(v, "pid"));
	json_decref(v);
	cvt_run_release(&r);
	return pid;
}

START_TEST(test_cli_private_cluster_comes_back_after_kill9)
{
	char *base = cvt_tmpdir("private"), *dir = cv_path_join(base, "a");
	char *file = cv_path_join(base, "note.txt");
	struct cv_error err = CV_ERROR_INIT;
	struct cvt_run r;
	long pid;

	CV(&r, "init", dir);
	cvt_expect_status(&r, 0, "init with a private cluster");
	cvt_run_release(&r);
	pid = db_pid(dir);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill((pid_t)pid, SIGKILL), 0);
	ck_assert_int_eq(cv_fs_write_atomic(file, "hello", 5, 0600, 0, &err),
			 0);
	CV(&r, "-C", dir, "archive", "put", file);
	cvt_expect_status(&r, 0, "put after kill -9 of the server");
	cvt_run_release(&r);
	ck_assert_int_gt(db_pid(dir), 0);
	ck_assert_int_ne(db_pid(dir), pid);
	CV(&r, "-C", dir, "db", "stop");
	cvt_expect_status(&r, 0, "db stop");
	cvt_run_release(&r);
	CV(&r, "-C", dir, "db", "status");
	cvt_expect_status(&r, 0, "db status when stopped");
	ck_assert(strstr(r.out.buf, "stopped"));
	cvt_run_release(&r);
	free(file);
	free(dir);
	cvt_rmrf(base);
	free(base);
}
END_TEST

/* ------------------------------------------------------------------ */

/* The batch's counts reconcile, with the figures expected. */
static void expect_batch(const char *dir, const char *batch, long long pages,
			 long long filed, long long blank, long long docs)
{
	struct cvt_run r;
	json_t *b, *c;

	CV(&r, "-C", dir, "batch", "show", batch, "--json");
	cvt_expect_status(&r, 0, "batch show");
	b = cvt_parse_json(&r);
	c = json_object_get(b, "counts");
	ck_assert_msg(json_is_true(json_object_get(b, "reconciled")), "%s",
		      r.out.buf);
	ck_assert_int_eq(
		json_integer_value(json_object_get(c, "pages_received")),
		pages);
	ck_assert_int_eq(json_integer_value(json_object_get(c, "pages_filed")),
			 filed);
	ck_assert_int_eq(
		json_integer_value(json_object_get(c, "blank_dropped")), blank);
	ck_assert_int_eq(json_integer_value(json_object_get(c, "documents")),
			 docs);
	json_decref(b);
	cvt_run_release(&r);
}

/* Lower-case alphanumeric words of s, each once per occurrence. */
static size_t words_of(const char *s, char ***out)
{
	size_t n = 0, alloc = 0;
	struct cv_buf w = CV_BUF_INIT;

	*out = NULL;
	for (;; s++) {
		if (*s && isalnum((unsigned char)*s)) {
			cv_buf_addch(&w, tolower((unsigned char)*s));
			continue;
		}
		if (w.len >= 2) {
			if (n == alloc) {
				alloc = alloc ? 2 * alloc : 64;
				*out = cv_realloc(*out, alloc * sizeof(**out));
			}
			(*out)[n++] = cv_strdup(w.buf);
		}
		cv_buf_reset(&w);
		if (!*s)
			break;
	}
	cv_buf_release(&w);
	return n;
}

/* Share of truth's words found in ocr (as a multiset). */
static double word_recall(const char *truth, const char *ocr)
{
	char **t, **o;
	size_t nt = words_of(truth, &t), no = words_of(ocr, &o), i, j, hit = 0;

	for (i = 0; i < nt; i++) {
		for (j = 0; j < no; j++) {
			if (o[j] && !strcmp(t[i], o[j])) {
				free(o[j]);
				o[j] = NULL;
				hit++;
				break;
			}
		}
	}
	for (i = 0; i < nt; i++)
		free(t[i]);
	for (j = 0; j < no; j++)
		free(o[j]);
	free(t);
	free(o);
	return nt ? (double)hit / (double)nt : 1.0;
}

static json_t *load_truth(void)
{
	char *path = cvt_srcpath("samples/truth.json");
	json_error_t jerr;
	json_t *v = json_load_file(path, 0, &jerr);

	ck_assert_msg(v != NULL, "%s: %s", path, jerr.text);
	free(path);
	return v;
}

/* The OCR text of (file, page) from the documents ingest reported. */
static char *ocr_text_of(const char *dir, json_t *docs, const char *file,
			 int page)
{
	size_t i, j;

	for (i = 0; i < json_array_size(docs); i++) {
		json_t *d = json_array_get(docs, i);
		json_t *pages = json_object_get(d, "pages");

		for (j = 0; j < json_array_size(pages); j++) {
			json_t *p = json_array_get(pages, j);
			const char *f =
				json_string_value(json_object_get(p, "file"));
			char idbuf[32];
			struct cvt_run r;
			json_t *v, *text;
			char *out;

			if (json_integer_value(json_object_get(p, "page")) !=
				    page ||
			    !f || strcmp(strrchr(f, '/') + 1, file))
				continue;
			snprintf(idbuf, sizeof(idbuf), "%lld",
				 (long long)json_integer_value(
					 json_object_get(d, "id")));
			CV(&r, "-C", dir, "show", "--json", idbuf);
			cvt_expect_status(&r, 0, "show");
			v = cvt_parse_json(&r);
			text = json_object_get(
				json_array_get(json_object_get(v, "pages"), j),
				"text");
			out = cv_strdup(json_string_value(text));
			json_decref(v);
			cvt_run_release(&r);
			return out;
		}
	}
	return NULL;
}

/* No file in the archive folder holds word in plaintext. */
static void assert_not_at_rest(const char *dir, const char *word)
{
	const char *argv[] = {
		"grep", "-r", "-l", "-i", "-a", word, dir, NULL
	};
	struct cvt_run r;

	cvt_run(&r, argv, NULL, NULL);
	ck_assert_msg(r.status == 1, "'%s' found at rest in: %s", word,
		      r.out.buf);
	cvt_run_release(&r);
}

START_TEST(test_cli_ingest_samples_search_and_show)
{
	char *dir = new_archive("ingest"),
	     *batch = cvt_srcpath("samples/batch");
	json_t *truth = load_truth(), *rep, *docs, *pages, *counts;
	double recall_sum = 0;
	size_t i, checked = 0, nonblank = 0;
	struct cvt_run r;

	CV(&r, "-C", dir, "ingest", "--json", "--workers", "2", "--batch",
	   "samples", batch);
	cvt_expect_status(&r, 0, "ingest of the samples");
	rep = cvt_parse_json(&r);
	cvt_run_release(&r);
	counts = json_object_get(rep, "counts");
	docs = json_object_get(rep, "documents");
	pages = json_object_get(truth, "pages");
	ck_assert_int_eq(json_integer_value(json_object_get(counts, "pages")),
			 json_array_size(pages));
	ck_assert_int_eq(json_integer_value(json_object_get(counts, "rejects")),
			 0);
	ck_assert_int_eq(
		json_integer_value(json_object_get(counts, "pages_failed")), 0);
	/* Every document of the ground truth, and each page accounted for. */
	ck_assert_int_eq(json_array_size(docs),
			 json_array_size(json_object_get(truth, "documents")));
	expect_batch(dir, "samples", (long long)json_array_size(pages),
		     (long long)json_array_size(pages) - 1, 1,
		     (long long)json_array_size(docs));

	/* Word-level recall of every non-blank page. */
	for (i = 0; i < json_array_size(pages); i++) {
		json_t *p = json_array_get(pages, i);
		const char *file =
			json_string_value(json_object_get(p, "file"));
		int page = (int)json_integer_value(json_object_get(p, "page"));
		char *ocr;
		double rc;

		if (json_is_true(json_object_get(p, "blank")))
			continue;
		/* The upside-down page included: it is read turned upright. */
		nonblank++;
		ocr = ocr_text_of(dir, docs, file, page);
		ck_assert_msg(ocr != NULL, "%s page %d is in no document", file,
			      page);
		rc = word_recall(json_string_value(json_object_get(p, "text")),
				 ocr);
		ck_assert_msg(rc >= 0.80, "%s page %d: word recall %.2f", file,
			      page, rc);
		recall_sum += rc;
		checked++;
		free(ocr);
	}
	ck_assert_uint_eq(checked, nonblank);
	ck_assert_msg(recall_sum / (double)checked >= 0.95,
		      "mean word recall %.3f", recall_sum / (double)checked);

	/* Search finds a word that is on the pages, with a highlight. */
	CV(&r, "-C", dir, "search", "--json", "appendectomy");
	cvt_expect_status(&r, 0, "search");
	{
		json_t *res = cvt_parse_json(&r);
		json_t *hits = json_object_get(res, "results");
		json_t *h = json_array_get(hits, 0);

		ck_assert_msg(json_array_size(hits) >= 1, "no hits: %s",
			      r.out.buf);
		ck_assert(json_array_size(json_object_get(h, "highlights")) >=
			  1);
		ck_assert(strcasestr(
			json_string_value(json_object_get(h, "snippet")),
			"appendectomy"));
		json_decref(res);
	}
	cvt_run_release(&r);
	CV(&r, "-C", dir, "search", "xylophonic", "zebrafish");
	cvt_expect_status(&r, 0, "search without hits");
	ck_assert(strstr(r.out.buf, "no documents match"));
	cvt_run_release(&r);

	/* Nothing readable at rest outside PostgreSQL. */
	assert_not_at_rest(dir, "appendectomy");
	assert_not_at_rest(dir, "Samplewood");

	/* Again: every file already archived, nothing recognised twice. */
	CV(&r, "-C", dir, "ingest", "--json", "--batch", "samples-again",
	   batch);
	cvt_expect_status(&r, 0, "second ingest");
	{
		json_t *again = cvt_parse_json(&r),
		       *c2 = json_object_get(again, "counts");

		ck_assert_int_eq(
			json_integer_value(json_object_get(c2, "files_new")),
			0);
		ck_assert_int_eq(json_integer_value(json_object_get(
					 c2, "pages_recognised")),
				 0);
		ck_assert_int_eq(json_integer_value(json_object_get(
					 c2, "files_already_archived")),
				 json_integer_value(json_object_get(
					 counts, "files_seen")));
		json_decref(again);
	}
	cvt_run_release(&r);
	json_decref(rep);
	json_decref(truth);
	free(batch);
	remove_archive(dir);
}
END_TEST

START_TEST(test_cli_ingest_rejects_hostile_files_and_keeps_going)
{
	char *dir = new_archive("hostile"),
	     *corpus = cvt_srcpath("tests/hostile");
	char *base = cvt_tmpdir("hostile-batch"), *cmd, *link, *locked, *good;
	char *dump;
	char *sample = cvt_srcpath("samples/batch");
	json_t *rep, *rejects, *counts;
	struct cvt_run r;
	size_t i;

	/* The corpus, plus what git cannot hold: a link out of the batch,
	 * and one good page so the batch has something to keep. */
	cmd = cv_asprintf(
		"cp %s/*.tif %s/*.png %s/ && cp \"$(ls %s/*.png | head -1)\" %s/good.png",
		corpus, corpus, base, sample, base);
	shell(cmd, "copy corpus");
	link = cv_path_join(base, "outside.tif");
	ck_assert_int_eq(symlink("/etc/passwd", link), 0);
	locked = cv_path_join(base, "locked.tif");
	good = cv_path_join(base, "good.png");
	{
		struct cv_error err = CV_ERROR_INIT;

		ck_assert_int_eq(
			cv_fs_write_atomic(locked, "II*\0", 4, 0000, 0, &err),
			0);
	}
	CV(&r, "-C", dir, "ingest", "--json", base);
	cvt_expect_status(&r, 1, "ingest of a hostile batch");
	rep = cvt_parse_json(&r);
	cvt_run_release(&r);
	rejects = json_object_get(rep, "rejects");
	/* good.png, and bad-crc.png: its header passed, so the original
	 * is kept as received, and its page failed to decode. */
	counts = json_object_get(rep, "counts");
	ck_assert_int_eq(
		json_integer_value(json_object_get(counts, "files_new")), 2);
	ck_assert_int_eq(
		json_integer_value(json_object_get(counts, "pages_failed")), 1);
	ck_assert_int_eq(
		json_integer_value(json_object_get(counts, "pages_recognised")),
		1);
	for (i = 0; i < json_array_size(rejects); i++) {
		json_t *x = json_array_get(rejects, i);

		ck_assert(json_string_length(json_object_get(x, "reason")) > 5);
	}
	dump = json_dumps(rejects, 0);
	ck_assert_msg(strstr(dump, "outside the batch folder"), "%s", dump);
	/* As root the file is readable anyway; then it is rejected as a
	 * damaged TIFF instead. Either way it is rejected. */
	ck_assert_msg(strstr(dump, "locked.tif"), "%s", dump);
	free(dump);
	ck_assert_uint_ge(json_array_size(rejects), 8);
	json_decref(rep);
	free(cmd);
	free(link);
	free(locked);
	free(good);
	free(sample);
	free(corpus);
	cvt_rmrf(base);
	free(base);
	remove_archive(dir);
}
END_TEST

/* One number from a query on the archive's database. */

/* The kill -9 crash test (twenty kills) is in check_queue.c. */

/* A printed sheet as it comes back from the scanner: turned a little. */
static void scan_sheet(const char *png, const char *tif)
{
	struct Pix *pix = pixRead(png), *turned;

	ck_assert_msg(pix != NULL, "cannot read %s", png);
	turned = pixRotate(pix, 0.026f, L_ROTATE_SHEAR, L_BRING_IN_WHITE, 0, 0);
	ck_assert(turned != NULL);
	pixSetResolution(turned, 300, 300);
	ck_assert_int_eq(pixWrite(tif, turned, IFF_TIFF_G4), 0);
	pixDestroy(&turned);
	pixDestroy(&pix);
}

/*
 * Print a cover sheet and a separator sheet, "scan" them in front of two
 * pages, ingest: the cover's facts make the first document, the separator
 * starts the second, and neither sheet is filed as a page.
 */
START_TEST(test_cli_cover_sheet_round_trip)
{
	char *dir = new_archive("cover"), *base = cvt_tmpdir("cover-batch");
	char *png = cv_path_join(base, "cover.png");
	char *sep = cv_path_join(base, "sep.png");
	char *t1 = cv_path_join(base, "batch/01-cover.tif");
	char *t3 = cv_path_join(base, "batch/03-separator.tif");
	char *src = cvt_srcpath("samples/batch");
	char *cmd = cv_asprintf(
		"mkdir -p %s/batch && cp %s/scan-0002.png %s/batch/02-page.png && cp %s/scan-0001.png %s/batch/04-page.png",
		base, src, base, src, base);
	char *batch = cv_path_join(base, "batch");
	struct cvt_run r;
	json_t *rep, *docs, *d, *p0;

	CV(&r, "coversheet", "--mrn", "90003306", "--type", "11488-4", "--date",
	   "2025-08-20", "--name", "FAKELEY, MARIVANE", "-o", png);
	cvt_expect_status(&r, 0, "coversheet");
	cvt_run_release(&r);
	CV(&r, "coversheet", "--separator", "-o", sep);
	cvt_expect_status(&r, 0, "separator sheet");
	cvt_run_release(&r);
	CV(&r, "coversheet", "--mrn", "9000'; DROP TABLE x", "--type",
	   "11488-4", "-o", png);
	cvt_expect_status(&r, 2, "coversheet with a malformed MRN");
	cvt_run_release(&r);
	shell(cmd, "batch folder");
	scan_sheet(png, t1);
	scan_sheet(sep, t3);
	CV(&r, "-C", dir, "ingest", "--json", batch);
	cvt_expect_status(&r, 0, "ingest with cover sheets");
	rep = cvt_parse_json(&r);
	cvt_run_release(&r);
	docs = json_object_get(rep, "documents");
	ck_assert_int_eq(json_array_size(docs), 2);
	d = json_array_get(docs, 0);
	/* The cover is the clerk's word: a consult, whatever the page says. */
	expect_field(d, "type", "11488-4");
	expect_field(d, "type_source", "coversheet");
	expect_field(d, "mrn", "90003306");
	expect_field(d, "service_date", "2025-08-20");
	ck_assert_int_eq(json_array_size(json_object_get(d, "pages")), 1);
	p0 = json_array_get(json_object_get(d, "pages"), 0);
	ck_assert(strstr(json_string_value(json_object_get(p0, "file")),
			 "02-page.png"));
	d = json_array_get(docs, 1);
	expect_field(d, "type", "18748-4");
	ck_assert_int_eq(json_array_size(json_object_get(d, "pages")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(
				 json_object_get(rep, "counts"), "pages")),
			 4);
	json_decref(rep);
	free(src);
	free(batch);
	free(cmd);
	free(t1);
	free(t3);
	free(png);
	free(sep);
	cvt_rmrf(base);
	free(base);
	remove_archive(dir);
}
END_TEST

/*
 * A manifest gives two files their patient, type, date and box; a line
 * with a path out of the batch and one with a malformed date are
 * rejected by line and column, and the batch still completes.
 */
START_TEST(test_cli_ingest_with_manifest)
{
	char *dir = new_archive("manifest"),
	     *base = cvt_tmpdir("manifest-batch");
	char *src = cvt_srcpath("samples/batch");
	char *cmd = cv_asprintf(
		"mkdir -p %s/box && cp %s/scan-0002.png %s/box/a.png && cp %s/scan-0004.png %s/box/b.png && "
		"printf 'file,mrn,document_type,service_date,box,folder\\nbox/a.png,90003306,11488-4,2025-08-20,0042,A-17\\n"
		"box/b.png,90004451,,,0042,A-18\\n../../etc/passwd,1,,,,\\nbox/b.png,1,,2025-13-01,,\\n' > %s/manifest.csv",
		base, src, base, src, base, base);
	char *manifest = cv_path_join(base, "manifest.csv");
	struct cvt_run r;
	json_t *rep, *docs, *d;
	char *dump;

	shell(cmd, "batch folder");
	CV(&r, "-C", dir, "ingest", "--json", "--manifest", manifest, base);
	cvt_expect_status(&r, 1, "ingest with a manifest holding bad lines");
	rep = cvt_parse_json(&r);
	cvt_run_release(&r);
	docs = json_object_get(rep, "documents");
	ck_assert_int_eq(json_array_size(docs), 2);
	d = json_array_get(docs, 0);
	expect_field(d, "type", "11488-4");
	expect_field(d, "type_source", "manifest");
	expect_field(d, "service_date", "2025-08-20");
	d = json_array_get(docs, 1);
	expect_field(d, "mrn", "90004451");
	dump = json_dumps(json_object_get(rep, "rejects"), 0);
	ck_assert_msg(strstr(dump, "line 4, column file") &&
			      strstr(dump, "leaves the batch folder") &&
			      strstr(dump, "line 5, column service_date"),
		      "%s", dump);
	/* The manifest itself is not taken for a scan. */
	ck_assert_msg(!strstr(dump, "not an image"), "%s", dump);
	free(dump);
	json_decref(rep);
	free(manifest);
	free(cmd);
	free(src);
	cvt_rmrf(base);
	free(base);
	remove_archive(dir);
}
END_TEST

static int wait_for(const char *path, int seconds)
{
	int i;

	for (i = 0; i < seconds * 10; i++) {
		if (access(path, F_OK) == 0)
			return 1;
		usleep(100000);
	}
	return 0;
}

/*
 * The hot folder: complete files are claimed, ingested and moved to done/
 * or rejected/ with a reason; a file still being copied is left alone;
 * the daemon picks up a file dropped while it runs and stops on SIGTERM.
 */
START_TEST(test_cli_watch_hot_folder)
{
	char *dir = new_archive("watch"), *hot = cvt_tmpdir("hot");
	char *src = cvt_srcpath("samples/batch"),
	     *corpus = cvt_srcpath("tests/hostile");
	char *cmd = cv_asprintf(
		"cp %s/scan-0001.png %s/zero-bytes.tif %s/ && echo partial > %s/incoming.part",
		src, corpus, hot, hot);
	char *done = cv_path_join(hot, "done/scan-0001.png");
	char *rej = cv_path_join(hot, "rejected/zero-bytes.tif.reason");
	char *later = cv_path_join(hot, "done/scan-0003.png");
	char *drop = cv_asprintf(
		"cp %s/scan-0003.png %s/.copying && mv %s/.copying %s/scan-0003.png",
		src, hot, hot, hot);
	const char *daemon[] = { "chartvault", "-C", dir, "watch",
				 "--settle",   "0",  hot, NULL };
	struct cv_buf reason = CV_BUF_INIT;
	struct cv_error err = CV_ERROR_INIT;
	struct cvt_run r;
	pid_t pid;
	int st;

	shell(cmd, "hot folder");
	CV(&r, "-C", dir, "watch", "--once", "--settle", "0", hot);
	cvt_expect_status(&r, 0, "watch --once");
	ck_assert(strstr(r.out.buf, "done: scan-0001.png"));
	ck_assert(strstr(r.out.buf, "rejected: zero-bytes.tif"));
	cvt_run_release(&r);
	ck_assert_msg(access(done, F_OK) == 0, "not in done/");
	ck_assert_int_eq(cv_fs_read_file(&reason, rej, 4096, &err), 0);
	ck_assert_msg(strstr(reason.buf, "is empty (0 bytes)"), "%s",
		      reason.buf);
	{
		char *part = cv_path_join(hot, "incoming.part");

		ck_assert_msg(access(part, F_OK) == 0,
			      "a file being copied was taken");
		free(part);
	}

	/* The daemon: a file moved in while it runs is taken. */
	pid = cvt_spawn(daemon);
	usleep(500000);
	shell(drop, "drop a file");
	ck_assert_msg(wait_for(later, 120),
		      "the dropped file was not ingested");
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "watch did not stop cleanly on SIGTERM");
	cv_buf_release(&reason);
	free(drop);
	free(later);
	free(done);
	free(rej);
	free(cmd);
	free(src);
	free(corpus);
	cvt_rmrf(hot);
	free(hot);
	remove_archive(dir);
}
END_TEST

/* The first QR code in an image file, decoded; malloc'd, or NULL. */
static char *read_qr(const char *png)
{
	struct Pix *pix = pixRead(png), *gray;
	zbar_image_scanner_t *sc = zbar_image_scanner_create();
	zbar_image_t *im = zbar_image_create();
	const zbar_symbol_t *sym;
	char *found = NULL;
	uint8_t *buf;
	int w, h, x, y;

	ck_assert(pix && sc && im);
	gray = pixConvertTo8(pix, 0);
	w = pixGetWidth(gray);
	h = pixGetHeight(gray);
	buf = cv_malloc((size_t)w * (size_t)h);
	for (y = 0; y < h; y++)
		for (x = 0; x < w; x++) {
			l_uint32 v;

			pixGetPixel(gray, x, y, &v);
			buf[(size_t)y * (size_t)w + (size_t)x] = (uint8_t)v;
		}
	zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
	zbar_image_set_format(im, zbar_fourcc('Y', '8', '0', '0'));
	zbar_image_set_size(im, (unsigned)w, (unsigned)h);
	zbar_image_set_data(im, buf, (unsigned long)w * (unsigned long)h, NULL);
	if (zbar_scan_image(sc, im) > 0)
		for (sym = zbar_image_first_symbol(im); sym && !found;
		     sym = zbar_symbol_next(sym))
			if (zbar_symbol_get_type(sym) == ZBAR_QRCODE)
				found = cv_strdup(zbar_symbol_get_data(sym));
	zbar_image_destroy(im);
	zbar_image_scanner_destroy(sc);
	free(buf);
	pixDestroy(&gray);
	pixDestroy(&pix);
	return found;
}

/*
 * The paper recovery sheet: written 0600; its QR code holds exactly the
 * archive's keys as checksummed lines; a typo in a line is caught.
 */
START_TEST(test_cli_keys_export_paper)
{
	char *dir = new_archive("paper"), *sheet = cv_asprintf("%s.png", dir);
	char *keyfile = cv_path_join(dir, "chartvault.key");
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_keys *keys = NULL;
	char *qr, *text = NULL, *line, *save = NULL;
	size_t len = 0;
	struct stat st;
	struct cvt_run r;
	int lines = 0;

	CV(&r, "-C", dir, "keys", "export", "--paper", "-o", sheet);
	cvt_expect_status(&r, 0, "keys export --paper");
	ck_assert(strstr(r.err.buf, "copy of the keys"));
	cvt_run_release(&r);
	ck_assert_int_eq(stat(sheet, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	qr = read_qr(sheet);
	ck_assert_msg(qr != NULL, "no QR code on the sheet");

	ck_assert_int_eq(cv_archive_global_init(&err), 0);
	ck_assert_int_eq(cv_archive_keys_load(&keys, keyfile, NULL, &err), 0);
	ck_assert_int_eq(cv_archive_keys_recovery_text(keys, &text, &len, &err),
			 0);
	ck_assert_str_eq(qr, text);
	for (line = strtok_r(qr, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "CHARTVAULT", 10))
			continue;
		ck_assert_msg(cv_archive_recovery_line_ok(line), "%s", line);
		/* One wrong digit is caught on its line. */
		line[6] = line[6] == '0' ? '1' : '0';
		ck_assert(!cv_archive_recovery_line_ok(line));
		lines++;
	}
	ck_assert_int_eq(lines, 3); /* id key, one KEK, signing key */
	cv_archive_secret_text_free(text, len);
	cv_archive_keys_free(keys);
	free(qr);
	unlink(sheet);
	free(sheet);
	free(keyfile);
	remove_archive(dir);
}
END_TEST

Suite *cv_cli_suite(void);

Suite *cv_cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc;

	tc = tcase_create("commands");
	tcase_add_test(tc, test_cli_help_works_everywhere);
	tcase_add_test(tc, test_cli_non_archive_is_reported_in_one_line);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("archive");
	tcase_set_tags(tc, "db");
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_cli_init_twice_refuses_and_changes_nothing);
	tcase_add_test(tc, test_cli_put_get_roundtrip_and_tamper_detection);
	tcase_add_test(tc, test_cli_keys_export_paper);
	tcase_set_timeout(tc, 180);
	suite_add_tcase(s, tc);

	tc = tcase_create("private-cluster");
	tcase_set_tags(tc, "db");
	tcase_add_test(tc, test_cli_private_cluster_comes_back_after_kill9);
	tcase_set_timeout(tc, 180);
	suite_add_tcase(s, tc);

	tc = tcase_create("ingest");
	tcase_set_tags(tc, "db ocr");
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_cli_ingest_samples_search_and_show);
	tcase_add_test(tc, test_cli_cover_sheet_round_trip);
	tcase_add_test(tc, test_cli_ingest_with_manifest);
	tcase_add_test(tc, test_cli_watch_hot_folder);
	tcase_add_test(tc,
		       test_cli_ingest_rejects_hostile_files_and_keeps_going);
	tcase_set_timeout(tc, 900);
	suite_add_tcase(s, tc);
	return s;
}
