/*
 * Fixity and garbage: reconcile the catalogue with the files under
 * objects/, prove the selected files intact (keyless by size and SHA-256 of
 * the stored bytes, or fully by authenticated decryption), and remove
 * unreferenced files once they are old enough.
 *
 * Checking is spread over threads, one object per thread at a time; the
 * threads share only the read-only keys and the job list, and every index
 * statement is made by the calling thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive_int.h"
#include "common/banned.h"

#define READ_BUF    ((size_t)1 << 20)
#define THREADS_MAX 64

/* A file found under objects/. */
struct store_file {
	uint8_t id[CV_ARCHIVE_OID_LEN];
	uint64_t gen;
	int named;      /* <id>.<gen>; else an unknown name */
	int temp;       /* tmp-... */
	int used;       /* a live row names it */
	char name[160]; /* relative to objects/ */
	time_t mtime;
	off_t size;
};

struct file_list {
	struct store_file *v;
	size_t n, alloc;
};

static int is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static void parse_name(struct store_file *f, const char *fan, const char *d)
{
	size_t len = strlen(d);

	if (!strncmp(d, CV_ARCHIVE_TMP_PREFIX, strlen(CV_ARCHIVE_TMP_PREFIX))) {
		f->temp = 1;
		return;
	}
	if (len != CV_ARCHIVE_OID_HEXLEN + 17 ||
	    d[CV_ARCHIVE_OID_HEXLEN] != '.' ||
	    !is_hex(d, CV_ARCHIVE_OID_HEXLEN) ||
	    !is_hex(d + CV_ARCHIVE_OID_HEXLEN + 1, 16) || strncmp(d, fan, 2))
		return;
	{
		char hex[CV_ARCHIVE_OID_HEXLEN + 1];

		memcpy(hex, d, CV_ARCHIVE_OID_HEXLEN);
		hex[CV_ARCHIVE_OID_HEXLEN] = '\0';
		if (cv_hex_decode(f->id, CV_ARCHIVE_OID_LEN, hex) < 0)
			return;
	}
	f->gen = strtoull(d + CV_ARCHIVE_OID_HEXLEN + 1, NULL, 16);
	f->named = f->gen <= INT64_MAX;
}

static int cmp_file(const void *a, const void *b)
{
	const struct store_file *x = a, *y = b;
	int c = memcmp(x->id, y->id, CV_ARCHIVE_OID_LEN);

	if (c)
		return c;
	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* List every entry of every fan-out folder, sorted by (id, gen). */
static int list_store(const struct cv_archive *ar, struct file_list *fl,
		      struct cv_error *err)
{
	DIR *top, *sub = NULL;
	struct dirent *e, *f;
	char *dir = NULL;
	int ret = 0;

	memset(fl, 0, sizeof(*fl));
	top = opendir(ar->objects);
	if (!top)
		return cv_error_errno(err, CV_EUNAVAIL,
				      "could not list the store '%s'",
				      ar->objects);
	while ((e = readdir(top))) {
		if (e->d_name[0] == '.')
			continue;
		free(dir);
		dir = cv_path_join(ar->objects, e->d_name);
		sub = opendir(dir);
		if (!sub) {
			if (errno == ENOTDIR)
				continue;
			ret = cv_error_errno(err, CV_ERROR,
					     "could not list '%s'", dir);
			break;
		}
		while ((f = readdir(sub))) {
			struct store_file *sf;
			struct stat st;

			if (f->d_name[0] == '.')
				continue;
			if (fl->n == fl->alloc) {
				fl->alloc = fl->alloc ? 2 * fl->alloc : 1024;
				fl->v = cv_realloc(fl->v,
						   fl->alloc * sizeof(*fl->v));
			}
			sf = &fl->v[fl->n];
			memset(sf, 0, sizeof(*sf));
			snprintf(sf->name, sizeof(sf->name), "%.8s/%.150s",
				 e->d_name, f->d_name);
			if (fstatat(dirfd(sub), f->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) < 0)
				continue; /* removed meanwhile */
			sf->mtime = st.st_mtime;
			sf->size = st.st_size;
			parse_name(sf, e->d_name, f->d_name);
			fl->n++;
		}
		closedir(sub);
	}
	closedir(top);
	free(dir);
	if (ret == 0 && fl->n)
		qsort(fl->v, fl->n, sizeof(*fl->v), cmp_file);
	return ret;
}

static struct store_file *find_file(struct file_list *fl, const uint8_t *id,
				    uint64_t gen)
{
	struct store_file key;

	memset(&key, 0, sizeof(key));
	memcpy(key.id, id, CV_ARCHIVE_OID_LEN);
	key.gen = gen;
	if (!fl->n)
		return NULL;
	return bsearch(&key, fl->v, fl->n, sizeof(*fl->v), cmp_file);
}

/* Mark the files that live rows name. */
static void match_rows(struct file_list *fl,
		       const struct cv_index_object_entry *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct store_file *f;

		if (rows[i].obj.erased)
			continue;
		f = find_file(fl, rows[i].obj.id, rows[i].obj.gen);
		if (f && f->named)
			f->used = 1;
	}
}

/* --- checking one object ---------------------------------------------- */

struct job {
	const struct cv_index_object *obj;
	int result; /* 0 intact, 1 failed, 2 missing */
	uint64_t bytes;
	char reason[160];
};

struct pool {
	struct cv_archive *ar;
	int full;
	struct job *jobs;
	size_t njobs;
	size_t next; /* atomic */
};

static int sha256_fd(int fd, uint8_t out[32], uint64_t *n)
{
	gcry_md_hd_t h = NULL;
	uint8_t *buf = cv_malloc(READ_BUF);
	int ret = 0;

	*n = 0;
	if (gcry_md_open(&h, GCRY_MD_SHA256, 0)) {
		free(buf);
		return -1;
	}
	for (;;) {
		ssize_t r = read(fd, buf, READ_BUF);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -1;
			break;
		}
		if (r == 0)
			break;
		gcry_md_write(h, buf, (size_t)r);
		*n += (uint64_t)r;
	}
	if (ret == 0)
		memcpy(out, gcry_md_read(h, GCRY_MD_SHA256), 32);
	gcry_md_close(h);
	free(buf);
	return ret;
}

static void check_quick(int fd, struct job *j)
{
	uint8_t digest[32];

	if (sha256_fd(fd, digest, &j->bytes) < 0) {
		j->result = 1;
		snprintf(j->reason, sizeof(j->reason), "could not read: %s",
			 strerror(errno));
		return;
	}
	if (memcmp(digest, j->obj->stored_sha256, 32)) {
		j->result = 1;
		snprintf(
			j->reason, sizeof(j->reason),
			"SHA-256 of the stored bytes differs from the one recorded at write time");
	}
}

static void check_full(struct cv_archive *ar, int fd, struct job *j)
{
	struct cv_archive__sink sink = { -1, NULL };
	struct cv_error err = CV_ERROR_INIT;
	const struct cv_archive__kek *kek;
	uint8_t *dk;

	kek = cv_archive__find_kek(ar->keys, j->obj->kek_id);
	if (!kek) {
		j->result = 1;
		snprintf(
			j->reason, sizeof(j->reason),
			"its data key is wrapped by a key-encryption key the key file does not hold");
		return;
	}
	dk = cv_archive__secret_new();
	if (!dk) {
		j->result = 1;
		snprintf(j->reason, sizeof(j->reason),
			 "out of secure memory for a data key");
		return;
	}
	if (cv_archive__unwrap(dk, kek->key, j->obj->wrapped_key, &err) < 0 ||
	    cv_archive__open_stream(fd, &sink, j->obj->size, dk, j->obj->id,
				    ar->keys->id_key, &err) < 0) {
		j->result = 1;
		snprintf(j->reason, sizeof(j->reason), "%.159s",
			 err.detail[0] ? err.detail : err.msg);
	}
	j->bytes = j->obj->stored_size;
	cv_archive__secret_free(dk, CV_ARCHIVE_KEY_LEN);
}

static void check_one(struct cv_archive *ar, int full, struct job *j)
{
	char hex[CV_ARCHIVE_OID_HEXLEN + 1];
	char *path;
	struct stat st;
	int fd;

	cv_archive_oid_format(hex, j->obj->id);
	path = cv_archive__object_path(ar, hex, j->obj->gen);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd < 0) {
		j->result = errno == ENOENT ? 2 : 1;
		snprintf(j->reason, sizeof(j->reason), "could not open: %s",
			 strerror(errno));
		return;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != j->obj->stored_size) {
		j->result = 1;
		snprintf(
			j->reason, sizeof(j->reason),
			"the stored file is %lld bytes, the index recorded %" PRIu64,
			(long long)st.st_size, j->obj->stored_size);
	} else if (full) {
		check_full(ar, fd, j);
	} else {
		check_quick(fd, j);
	}
	/* Checked once; no reason to keep it in the page cache. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

static void *worker(void *arg)
{
	struct pool *p = arg;

	for (;;) {
		size_t i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);

		if (i >= p->njobs)
			break;
		check_one(p->ar, p->full, &p->jobs[i]);
	}
	return NULL;
}

static int run_pool(struct pool *p, int threads, struct cv_error *err)
{
	pthread_t tid[THREADS_MAX];
	int i, started = 0;

	if (threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (int)n : 1;
	}
	if (threads > THREADS_MAX)
		threads = THREADS_MAX;
	if ((size_t)threads > p->njobs)
		threads = p->njobs ? (int)p->njobs : 1;
	for (i = 1; i < threads; i++) {
		if (pthread_create(&tid[i], NULL, worker, p) != 0)
			break;
		started++;
	}
	worker(p);
	for (i = 1; i <= started; i++)
		pthread_join(tid[i], NULL);
	(void)err;
	return 0;
}

/* --- verify ------------------------------------------------------------- */

static struct cv_index_verify_finding *
add_finding(struct cv_archive_verify_report *rep, size_t *alloc,
	    enum cv_index_finding problem)
{
	struct cv_index_verify_finding *f;

	if (rep->nfindings == *alloc) {
		*alloc = *alloc ? 2 * *alloc : 32;
		rep->findings = cv_realloc(rep->findings,
					   *alloc * sizeof(*rep->findings));
	}
	f = &rep->findings[rep->nfindings++];
	memset(f, 0, sizeof(*f));
	f->problem = problem;
	return f;
}

int cv_archive_verify(struct cv_archive *ar,
		      const struct cv_archive_verify_opts *o,
		      struct cv_archive_verify_report *rep,
		      struct cv_error *err)
{
	struct cv_index_object_filter filter;
	struct cv_index_object_entry *rows = NULL;
	struct cv_index_verify_run run;
	struct file_list fl = { NULL, 0, 0 };
	struct pool pool;
	struct job *jobs = NULL;
	uint8_t *intact = NULL;
	size_t nrows = 0, i, k, alloc = 0, nintact = 0;
	uint64_t t0;
	int ret;

	memset(rep, 0, sizeof(*rep));
	memset(&pool, 0, sizeof(pool));
	ret = cv_archive__need_init(err);
	if (ret < 0)
		return ret;
	if (o->full && (!ar->keys || !ar->keys->nkeks))
		return cv_error_set(
			err, CV_EUNAVAIL,
			"a full verify needs the archive's key file");
	if (o->sample_pct < 1 || o->sample_pct > 100)
		return cv_error_set(err, CV_EINVAL,
				    "the sample must be 1 to 100 percent");
	filter.full = o->full;
	filter.sample_pct = o->sample_pct;
	filter.since = o->since;
	t0 = cv_now_ms();
	memset(&run, 0, sizeof(run));
	run.started_at = (int64_t)time(NULL);
	/*
	 * Catalogue first, then the store: a put between the two adds a file
	 * that the listing sees but no row names, an orphan for a moment,
	 * never a row whose file seems missing.
	 */
	ret = cv_index_object_list(ar->ix, &filter, &rows, &nrows, err);
	if (ret < 0)
		goto cleanup;
	ret = list_store(ar, &fl, err);
	if (ret < 0)
		goto cleanup;
	match_rows(&fl, rows, nrows);
	rep->objects = (int64_t)nrows;

	jobs = cv_calloc(nrows ? nrows : 1, sizeof(*jobs));
	for (i = 0, k = 0; i < nrows; i++) {
		struct store_file *f;

		if (rows[i].obj.erased) {
			rep->erased++;
			continue;
		}
		f = find_file(&fl, rows[i].obj.id, rows[i].obj.gen);
		if (!f) {
			struct cv_index_verify_finding *m = add_finding(
				rep, &alloc, CV_INDEX_FINDING_MISSING);
			char hex[CV_ARCHIVE_OID_HEXLEN + 1];

			m->has_id = 1;
			memcpy(m->id, rows[i].obj.id, CV_ARCHIVE_OID_LEN);
			cv_archive_oid_format(hex, rows[i].obj.id);
			snprintf(m->file, sizeof(m->file),
				 "%.2s/%s.%016" PRIx64, hex, hex,
				 rows[i].obj.gen);
			snprintf(
				m->reason, sizeof(m->reason),
				"the index names a file the store does not have");
			rep->missing++;
			continue;
		}
		if (rows[i].selected)
			jobs[k++].obj = &rows[i].obj;
	}
	rep->selected = (int64_t)k;
	pool.ar = ar;
	pool.full = o->full;
	pool.jobs = jobs;
	pool.njobs = k;
	run_pool(&pool, o->threads, err);

	intact = cv_malloc((k ? k : 1) * CV_ARCHIVE_OID_LEN);
	for (i = 0; i < k; i++) {
		struct job *j = &jobs[i];
		struct cv_index_verify_finding *f;

		rep->bytes += j->bytes;
		if (j->result == 0) {
			memcpy(intact + nintact++ * CV_ARCHIVE_OID_LEN,
			       j->obj->id, CV_ARCHIVE_OID_LEN);
			continue;
		}
		/* Gone between the listing and the check: missing. */
		f = add_finding(rep, &alloc,
				j->result == 2 ? CV_INDEX_FINDING_MISSING
					       : CV_INDEX_FINDING_FAILED);
		f->has_id = 1;
		memcpy(f->id, j->obj->id, CV_ARCHIVE_OID_LEN);
		snprintf(f->reason, sizeof(f->reason), "%s", j->reason);
		if (j->result == 2)
			rep->missing++;
		else
			rep->failed++;
	}
	rep->intact = (int64_t)nintact;
	for (i = 0; i < fl.n; i++) {
		struct cv_index_verify_finding *f;

		if (fl.v[i].used)
			continue;
		f = add_finding(rep, &alloc,
				fl.v[i].temp ? CV_INDEX_FINDING_TEMP
					     : CV_INDEX_FINDING_ORPHAN);
		snprintf(f->file, sizeof(f->file), "%s", fl.v[i].name);
		if (fl.v[i].named) {
			f->has_id = 1;
			memcpy(f->id, fl.v[i].id, CV_ARCHIVE_OID_LEN);
		}
		snprintf(f->reason, sizeof(f->reason), "%s",
			 fl.v[i].temp
				 ? "a temp file left by an interrupted write"
			 : fl.v[i].named ? "no live index row names this file"
					 : "not a name the store uses");
		if (fl.v[i].temp)
			rep->temp_files++;
		else
			rep->orphans++;
	}
	rep->ms = cv_now_ms() - t0;
	if (o->record) {
		run.full = o->full;
		run.sample_pct = o->sample_pct;
		run.since = o->since;
		run.actor = o->actor ? o->actor : "chartvault";
		run.selected = rep->selected;
		run.intact = rep->intact;
		run.failed = rep->failed;
		run.missing = rep->missing;
		run.orphans = rep->orphans;
		run.temp_files = rep->temp_files;
		run.erased = rep->erased;
		run.bytes = (int64_t)rep->bytes;
		ret = cv_index_verify_record(ar->ix, &run, rep->findings,
					     rep->nfindings, intact, nintact,
					     &rep->run_id, err);
		if (ret < 0)
			goto cleanup;
	}
	ret = 0;
cleanup:
	if (rows)
		cv_wipe(rows, nrows * sizeof(*rows));
	free(rows);
	free(jobs);
	free(intact);
	free(fl.v);
	if (ret < 0)
		cv_archive_verify_report_release(rep);
	return ret;
}

void cv_archive_verify_report_release(struct cv_archive_verify_report *rep)
{
	free(rep->findings);
	memset(rep, 0, sizeof(*rep));
}

/* --- gc ------------------------------------------------------------------ */

/*
 * The exclusive side of the writers' lock. Writers take it shared before
 * their first temp file and keep it until they exit, and they record a
 * file's row right after renaming it; so while we hold it exclusively, no
 * file in the store is waiting for its row on this host.
 */
static int lock_exclusive(struct cv_archive *ar, int *fd_out,
			  struct cv_error *err)
{
	char *path = cv_path_join(ar->objects, CV_ARCHIVE_LOCK_FILE);
	int fd, ret;

	*fd_out = -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, cv_fs_mode(0600));
	if (fd < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not open '%s'",
				     path);
		goto cleanup;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ret = cv_error_set(
			err, CV_EUNAVAIL,
			"the store is being written to; gc removes nothing while an ingest or put runs");
		cv_error_hint(err, "run gc again when no ingest is running");
		close(fd);
		goto cleanup;
	}
	*fd_out = fd;
	ret = 0;
cleanup:
	free(path);
	return ret;
}

int cv_archive_gc(struct cv_archive *ar, const struct cv_archive_gc_opts *o,
		  struct cv_archive_gc_report *rep, struct cv_error *err)
{
	static const struct cv_index_object_filter all = { 0, 100, NULL };
	struct cv_index_object_entry *rows = NULL;
	struct file_list fl = { NULL, 0, 0 };
	size_t nrows = 0, i, alloc = 0;
	time_t now = time(NULL);
	int lock = -1, ret;

	memset(rep, 0, sizeof(*rep));
	if (ar->lock_fd >= 0)
		return cv_error_set(
			err, CV_ERROR,
			"gc cannot run on a store this process writes to");
	ret = lock_exclusive(ar, &lock, err);
	if (ret < 0)
		return ret;
	/* Store first, then catalogue: a row seen names a file seen. */
	ret = list_store(ar, &fl, err);
	if (ret == 0)
		ret = cv_index_object_list(ar->ix, &all, &rows, &nrows, err);
	if (ret < 0)
		goto cleanup;
	match_rows(&fl, rows, nrows);
	for (i = 0; i < fl.n; i++) {
		struct store_file *f = &fl.v[i];
		char *path;
		int present = 0;

		if (f->used)
			continue;
		if ((int64_t)(now - f->mtime) < o->grace_s) {
			rep->young++;
			continue;
		}
		if (!o->dry_run) {
			path = cv_path_join(ar->objects, f->name);
			/* Orphans are ciphertext under a key nobody kept, or
			 * files of erased objects: shred both alike. */
			ret = cv_archive__shred(path, &present, err);
			free(path);
			if (ret < 0)
				goto cleanup;
		}
		if (rep->nfiles == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			rep->files =
				cv_realloc(rep->files, alloc * sizeof(char *));
		}
		rep->files[rep->nfiles++] = cv_strdup(f->name);
		rep->removed++;
		rep->bytes += (uint64_t)f->size;
	}
	ret = 0;
cleanup:
	if (rows)
		cv_wipe(rows, nrows * sizeof(*rows));
	free(rows);
	free(fl.v);
	if (lock >= 0)
		close(lock);
	return ret;
}

void cv_archive_gc_report_release(struct cv_archive_gc_report *rep)
{
	size_t i;

	for (i = 0; i < rep->nfiles; i++)
		free(rep->files[i]);
	free(rep->files);
	memset(rep, 0, sizeof(*rep));
}
