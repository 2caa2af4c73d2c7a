/*
 * Storing many files at once (cv_archive_put_files): a pipeline that keeps
 * both cores busy with hashing and encryption while one thread does the
 * waiting (fsync, the index).
 *
 * Each file passes through these stages, in a window of WINDOW files:
 *
 *   worker: open, read once into memory, HMAC -> its id        (HASHED)
 *   main:   is the id known, erased, or already in flight?   (SEAL/DONE)
 *   worker: encrypt from memory into a temp file, start its writeback
 *   main:   fsync the temp file                                (SEALED)
 *   main:   per batch: rename, fsync folders, one transaction  (DONE)
 *   main:   report to the caller, in the order given
 *
 * Workers take encryption before hashing, so memory held by read files
 * drains first; a soft budget (MEM_BUDGET) stops new reads while much is
 * held. A file over MEM_FILE_MAX is not held: it is read twice, as
 * cv_archive_put_file does, and its HMAC rechecked while it is encrypted.
 * A file held in memory is encrypted from the very bytes its id was
 * computed from, so it needs no recheck; a file that changes while it is
 * read (its size or times move, or it grows) is refused.
 *
 * Why batching the durability work is as safe as put()'s one file at a
 * time (store.c):
 *
 * 1. Every temp file is fsynced (data and inode) before it is renamed:
 *    the worker only starts its writeback, the main thread waits for it.
 * 2. A fan-out folder made by this run has its entry in objects/ synced
 *    (one fsync of objects/ per batch that made any) before the batch's
 *    transaction commits; folders synced once are remembered per store.
 * 3. The batch's temp files are renamed to their final names, then each
 *    fan-out folder touched is fsynced once. An fsync of a folder makes
 *    every completed change to its entries durable, not only the last one,
 *    so after this every final name is on disk and points at bytes that are
 *    on disk. A folder whose fsync fails has its files of this batch
 *    removed and reported as failed: nothing will name them.
 * 4. Only then are the batch's rows inserted, in one transaction. When it
 *    commits, every row it made names a durable file; a crash before the
 *    commit leaves unreferenced files for gc, never a row without bytes.
 *    Ids reach the caller only after their commit, so an id a caller has
 *    seen is readable after any crash.
 *
 * The writers' lock is taken before the first temp file, so gc cannot
 * remove a file between its rename and its row. The race rule is put()'s:
 * random gens keep concurrent writers of the same bytes in their own
 * files, the primary key picks one winner and a loser removes its own
 * file after the commit. Rows are inserted in id order, so two processes
 * whose batches share ids wait for each other instead of deadlocking.
 * Within one run, a file whose id is already on its way to the store
 * waits for that copy's outcome rather than being written again.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive_int.h"
#include "common/banned.h"

#define WINDOW       128 /* files between the oldest unreported and the next */
#define PUBLISH_MIN  32  /* files per transaction, unless nothing else comes */
#define THREADS_MAX  16
#define MEM_FILE_MAX ((size_t)64 << 20)  /* larger files are read twice */
#define MEM_BUDGET   ((size_t)256 << 20) /* soft cap on plaintext held */
#define READ_PIECE   ((size_t)1 << 20)
#define BUF_ROUND    ((size_t)1 << 20)
#define POOL_MAX     16 /* free buffers kept, at most MEM_BUDGET bytes */
#define PREFETCH     3  /* files read ahead of the one taken */

enum stage {
	ST_FREE,    /* slot unused */
	ST_HASHING, /* a worker reads and hashes it */
	ST_HASHED,  /* the main thread decides */
	ST_SEAL,    /* to encrypt */
	ST_SEALING, /* a worker encrypts it */
	ST_SEALED,  /* in its temp file; the main thread syncs and renames */
	ST_AUDIT,   /* stored before: only its audit row is left */
	ST_DUP,     /* waits for the outcome of the same bytes in flight */
	ST_DONE,    /* final: ready to report */
};

struct item {
	enum stage st;
	size_t idx; /* in the caller's paths */
	const char *path;
	int fd;        /* input, held only when read twice */
	uint8_t *mem;  /* plaintext held, or NULL */
	size_t memcap; /* its allocation */
	uint64_t size; /* plaintext bytes */
	size_t dup_of; /* ST_DUP: idx of the copy in flight */
	int synced;    /* ST_SEALED: temp file fsynced */
	int inserted;  /* our row won */
	uint64_t gen;
	char *tmp, *final;
	int tmp_fd;
	uint8_t *data_key;
	struct cv_archive__sealed sealed;
	struct cv_archive_put_result res;
};

struct pipeline {
	struct cv_archive *ar;
	const char *const *paths;
	size_t n;
	const char *kind, *actor;

	pthread_mutex_t mu;
	pthread_cond_t work; /* workers wait here */
	pthread_cond_t main; /* the main thread waits here */
	struct item ring[WINDOW];
	size_t next;     /* next file to hash */
	size_t reported; /* files reported so far */
	size_t held;     /* plaintext bytes held in memory */
	int stop;        /* workers: take nothing new */
	/*
	 * Files per transaction: small at first, so the first ids reach the
	 * caller soon after the start, then doubling up to PUBLISH_MIN.
	 */
	size_t publish_min;
	/* Fan-out folders made by this run whose entry is not synced yet. */
	uint8_t fanout_pending[256 / 8];

	/* Free plaintext buffers, reused so pages are faulted in once. */
	pthread_mutex_t pool_mu;
	struct {
		uint8_t *p;
		size_t cap;
	} pool[POOL_MAX];
	size_t npool, pool_bytes;
};

#define AT(pl, i) (&(pl)->ring[(i) % WINDOW])

size_t cv_archive__put_mem_max = MEM_FILE_MAX;

/* --- plaintext buffers ----------------------------------------------- */

static uint8_t *buf_get(struct pipeline *pl, size_t want, size_t *cap)
{
	uint8_t *p = NULL;
	size_t i, best = SIZE_MAX;

	pthread_mutex_lock(&pl->pool_mu);
	for (i = 0; i < pl->npool; i++)
		if (pl->pool[i].cap >= want &&
		    (best == SIZE_MAX || pl->pool[i].cap < pl->pool[best].cap))
			best = i;
	if (best != SIZE_MAX) {
		p = pl->pool[best].p;
		*cap = pl->pool[best].cap;
		pl->pool_bytes -= *cap;
		pl->pool[best] = pl->pool[--pl->npool];
	}
	pthread_mutex_unlock(&pl->pool_mu);
	if (p)
		return p;
	*cap = (want + BUF_ROUND - 1) / BUF_ROUND * BUF_ROUND;
	if (!*cap)
		*cap = BUF_ROUND;
	return cv_malloc(*cap);
}

/*
 * Plaintext goes back to the pool, to be overwritten by the next file; it
 * is wiped when the pool is emptied, or now if the pool is full.
 */
static void buf_put(struct pipeline *pl, uint8_t *p, size_t cap)
{
	if (!p)
		return;
	pthread_mutex_lock(&pl->pool_mu);
	if (pl->npool < POOL_MAX && pl->pool_bytes + cap <= MEM_BUDGET) {
		pl->pool[pl->npool].p = p;
		pl->pool[pl->npool].cap = cap;
		pl->npool++;
		pl->pool_bytes += cap;
		p = NULL;
	}
	pthread_mutex_unlock(&pl->pool_mu);
	if (p) {
		cv_wipe(p, cap);
		free(p);
	}
}

static void pool_release(struct pipeline *pl)
{
	size_t i;

	for (i = 0; i < pl->npool; i++) {
		cv_wipe(pl->pool[i].p, pl->pool[i].cap);
		free(pl->pool[i].p);
	}
	pl->npool = 0;
	pl->pool_bytes = 0;
}

/* --- syncing many files at once -------------------------------------- */

/*
 * fsync n descriptors at once, from up to SYNC_THREADS threads, with each
 * one's errno (0: synced) in errs. Each fsync keeps its full meaning; run
 * together, they share journal commits and cache flushes (ext4's jbd2
 * batches concurrent fsyncs), which one after the other cost a flush each:
 * measured here, 32 folders took 65 to 110 ms in turn and 2 to 11 ms at
 * once. The threads wait on the disk and use no CPU to speak of.
 */
#define SYNC_THREADS 8

struct sync_job {
	const int *fds;
	int *errs;
	size_t n, next;
	pthread_mutex_t mu;
};

static void *sync_worker(void *arg)
{
	struct sync_job *j = arg;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&j->mu);
		i = j->next++;
		pthread_mutex_unlock(&j->mu);
		if (i >= j->n)
			return NULL;
		j->errs[i] = fsync(j->fds[i]) < 0 ? errno : 0;
	}
}

static void fsync_all(const int *fds, int *errs, size_t n)
{
	struct sync_job j = { fds, errs, n, 0, PTHREAD_MUTEX_INITIALIZER };
	pthread_t tid[SYNC_THREADS];
	size_t i, started = 0;

	for (i = 1; i < n && i < SYNC_THREADS; i++) {
		if (pthread_create(&tid[started], NULL, sync_worker, &j) != 0)
			break; /* fewer threads is slower, not wrong */
		started++;
	}
	sync_worker(&j);
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&j.mu);
}

/* --- workers --------------------------------------------------------- */

static int item_fail(struct item *it, int code)
{
	it->res.code = code;
	return code;
}

static int changed(struct item *it)
{
	cv_error_set(&it->res.err, CV_EINVAL,
		     "'%s' changed while it was being stored", it->path);
	cv_error_hint(&it->res.err,
		      "store it again once nothing is writing to it");
	return item_fail(it, CV_EINVAL);
}

static int same_file_state(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * Read the whole file into memory, hashing each piece as it arrives (the
 * kernel reads ahead meanwhile), so the file is read from disk once.
 */
static int hash_into_memory(struct pipeline *pl, struct item *it,
			    const struct stat *before)
{
	const uint8_t *id_key = pl->ar->keys->id_key;
	struct cv_error *err = &it->res.err;
	size_t have = 0, idlen = CV_ARCHIVE_OID_LEN, want;
	gcry_mac_hd_t h = NULL;
	gcry_error_t e = 0;
	struct stat after;
	uint8_t extra;
	ssize_t r;
	int ret;

	want = (size_t)before->st_size;
	it->mem = buf_get(pl, want, &it->memcap);
	ret = cv_archive__hmac_open(&h, id_key, err);
	if (ret < 0)
		return item_fail(it, ret);
	while (have < want) {
		size_t k = want - have < READ_PIECE ? want - have : READ_PIECE;

		r = read(it->fd, it->mem + have, k);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = item_fail(it,
					cv_error_errno(err, CV_ERROR,
						       "could not read '%s'",
						       it->path));
			goto cleanup;
		}
		if (r == 0)
			break;
		e = gcry_mac_write(h, it->mem + have, (size_t)r);
		if (e)
			break;
		have += (size_t)r;
	}
	if (!e)
		e = gcry_mac_read(h, it->res.id, &idlen);
	if (e) {
		ret = item_fail(it, cv_archive__error_gcry(
					    err, CV_ERROR, e,
					    "could not compute the id of '%s'",
					    it->path));
		goto cleanup;
	}
	/* Shorter, longer, or touched while we read: not one version. */
	do
		r = read(it->fd, &extra, 1);
	while (r < 0 && errno == EINTR);
	if (have != want || r != 0 || fstat(it->fd, &after) < 0 ||
	    !same_file_state(before, &after)) {
		ret = changed(it);
		goto cleanup;
	}
	it->size = have;
	ret = 0;
cleanup:
	gcry_mac_close(h);
	return ret;
}

/*
 * Ask the kernel to start reading a file a worker will take soon, so the
 * disk works while the workers hash and encrypt (the bench drops the page
 * cache; a scanner's fresh files may not be cached either). Advisory: any
 * failure only loses the head start, and the file is checked again when
 * it is taken.
 */
static void prefetch(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size <= cv_archive__put_mem_max)
		posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
	close(fd);
}

static void hash_item(struct pipeline *pl, struct item *it)
{
	struct cv_archive__src src;
	struct stat st;
	int ret;

	/* As cv_archive_put_file: a planted FIFO must not hang us. */
	it->fd = open(it->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (it->fd < 0) {
		item_fail(it, cv_error_errno(&it->res.err,
					     errno == ENOENT || errno == EACCES
						     ? CV_EINVAL
						     : CV_ERROR,
					     "could not open '%s'", it->path));
		return;
	}
	if (fstat(it->fd, &st) < 0) {
		item_fail(it, cv_error_errno(&it->res.err, CV_ERROR,
					     "could not read '%s'", it->path));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		item_fail(it,
			  cv_error_set(&it->res.err, CV_EINVAL,
				       "'%s' is not a regular file", it->path));
		goto cleanup;
	}
	if (fcntl(it->fd, F_SETFL, 0) < 0) {
		item_fail(it, cv_error_errno(&it->res.err, CV_ERROR,
					     "could not read '%s'", it->path));
		goto cleanup;
	}
	posix_fadvise(it->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if ((uint64_t)st.st_size <= cv_archive__put_mem_max) {
		hash_into_memory(pl, it, &st);
		goto cleanup;
	}
	/* Too large to hold: hash now, read again to encrypt. */
	cv_archive__src_fd(&src, it->fd, it->path);
	ret = cv_archive__compute_id(it->res.id, &it->size,
				     pl->ar->keys->id_key, &src, &it->res.err);
	if (ret < 0)
		item_fail(it, ret);
	return; /* the fd stays open for the second read */
cleanup:
	close(it->fd);
	it->fd = -1;
}

/*
 * Encrypt into the temp file and start its writeback; the main thread
 * waits for it with fsync, so the workers never wait on the disk.
 */
static void seal_item(struct pipeline *pl, struct item *it)
{
	struct cv_archive *ar = pl->ar;
	struct cv_archive__src src;
	struct cv_error *err = &it->res.err;
	const uint8_t *recheck = NULL;
	int ret;

	if (it->mem) {
		cv_archive__src_mem(&src, it->mem, (size_t)it->size);
		src.name = it->path;
	} else {
		if (lseek(it->fd, 0, SEEK_SET) < 0) {
			item_fail(it, cv_error_errno(err, CV_ERROR,
						     "could not rewind '%s'",
						     it->path));
			return;
		}
		cv_archive__src_fd(&src, it->fd, it->path);
		recheck = ar->keys->id_key;
	}
	it->tmp_fd = mkostemp(it->tmp, O_CLOEXEC);
	if (it->tmp_fd < 0) {
		free(it->tmp);
		it->tmp = NULL;
		item_fail(it, cv_error_errno(err, CV_ERROR,
					     "could not create a file in '%s'",
					     ar->objects));
		return;
	}
	/* mkostemp makes 0600; a shared archive's staff read each other's. */
	if (cv_fs_mode(0600) != 0600 &&
	    fchmod(it->tmp_fd, cv_fs_mode(0600)) < 0) {
		cv_error_errno(err, CV_ERROR, "could not share a file in '%s'",
			       ar->objects);
		close(it->tmp_fd);
		it->tmp_fd = -1;
		unlink(it->tmp);
		free(it->tmp);
		it->tmp = NULL;
		item_fail(it, CV_ERROR);
		return;
	}
	ret = cv_archive__seal(it->tmp_fd, &src, it->size, it->data_key,
			       it->res.id, recheck, &it->sealed, err);
	if (ret < 0) {
		/* Give the space back now: a full disk is a likely cause. */
		close(it->tmp_fd);
		it->tmp_fd = -1;
		unlink(it->tmp);
		free(it->tmp);
		it->tmp = NULL;
		item_fail(it, ret);
		return;
	}
	/* Advisory: an error here shows again at the fsync. */
	sync_file_range(it->tmp_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

/* An item in stage st, oldest first, or NULL. Called with mu held. */
static struct item *find_stage(struct pipeline *pl, enum stage st)
{
	size_t i;

	for (i = pl->reported; i < pl->next; i++)
		if (AT(pl, i)->st == st)
			return AT(pl, i);
	return NULL;
}

static void drop_plaintext(struct pipeline *pl, struct item *it)
{
	if (it->mem) {
		pl->held -= it->memcap;
		buf_put(pl, it->mem, it->memcap);
		it->mem = NULL;
		it->memcap = 0;
	}
	if (it->fd >= 0) {
		close(it->fd);
		it->fd = -1;
	}
}

/* it is final; so are the files waiting for it. Called with mu held. */
static void finish(struct pipeline *pl, struct item *it)
{
	size_t i, first = it->idx;

	/*
	 * Whichever copy was hashed first wrote the file, but "new" goes to
	 * the first in the caller's order, as if they were stored in turn.
	 */
	for (i = pl->reported; i < pl->next; i++) {
		struct item *d = AT(pl, i);

		if (d->st == ST_DUP && d->dup_of == it->idx && d->idx < first)
			first = d->idx;
	}
	it->st = ST_DONE;
	it->res.is_new = it->inserted && it->idx == first;
	for (i = pl->reported; i < pl->next; i++) {
		struct item *d = AT(pl, i);

		if (d->st != ST_DUP || d->dup_of != it->idx)
			continue;
		d->res.code = it->res.code;
		d->res.err = it->res.err;
		d->res.is_new = it->inserted && d->idx == first;
		d->st = ST_DONE;
	}
}

static void *worker(void *arg)
{
	struct pipeline *pl = arg;
	const char *ahead;
	struct item *it;

	pthread_mutex_lock(&pl->mu);
	while (!pl->stop) {
		it = find_stage(pl, ST_SEAL);
		if (it) {
			it->st = ST_SEALING;
			pthread_mutex_unlock(&pl->mu);
			seal_item(pl, it);
			pthread_mutex_lock(&pl->mu);
			drop_plaintext(pl, it);
			if (it->res.code < 0)
				finish(pl, it);
			else
				it->st = ST_SEALED;
			pthread_cond_signal(&pl->main);
			/* Memory came back: another worker may read again. */
			pthread_cond_broadcast(&pl->work);
			continue;
		}
		if (pl->next < pl->n && pl->next < pl->reported + WINDOW &&
		    pl->held < MEM_BUDGET) {
			it = AT(pl, pl->next);
			memset(it, 0, sizeof(*it));
			it->idx = pl->next++;
			it->path = pl->paths[it->idx];
			it->fd = -1;
			it->tmp_fd = -1;
			it->st = ST_HASHING;
			ahead = pl->next + PREFETCH < pl->n
					? pl->paths[pl->next + PREFETCH]
					: NULL;
			pthread_mutex_unlock(&pl->mu);
			if (ahead)
				prefetch(ahead);
			hash_item(pl, it);
			pthread_mutex_lock(&pl->mu);
			pl->held += it->memcap;
			if (it->res.code < 0) {
				drop_plaintext(pl, it);
				finish(pl, it);
			} else {
				it->st = ST_HASHED;
			}
			pthread_cond_signal(&pl->main);
			continue;
		}
		pthread_cond_wait(&pl->work, &pl->mu);
	}
	pthread_mutex_unlock(&pl->mu);
	return NULL;
}

/* --- the main thread ------------------------------------------------- */

/* The id's copy already on its way to the store in this run, or NULL. */
static struct item *in_flight(struct pipeline *pl, const uint8_t *id)
{
	size_t i;

	for (i = pl->reported; i < pl->next; i++) {
		struct item *o = AT(pl, i);

		if ((o->st == ST_SEAL || o->st == ST_SEALING ||
		     o->st == ST_SEALED) &&
		    !memcmp(o->res.id, id, CV_ARCHIVE_OID_LEN))
			return o;
	}
	return NULL;
}

/*
 * Prepare it to be written: its data key, gen, names and fan-out folder.
 * The folder's entry is synced with the batch (step 2 of the argument).
 */
static int plan_write(struct pipeline *pl, struct item *it,
		      struct cv_error *err)
{
	struct cv_archive *ar = pl->ar;
	char hex[CV_ARCHIVE_OID_HEXLEN + 1];
	uint8_t d = it->res.id[0];
	uint8_t bit = (uint8_t)(1u << (d & 7));

	cv_archive_oid_format(hex, it->res.id);
	if (!(ar->fanout_synced[d >> 3] & bit) &&
	    !(pl->fanout_pending[d >> 3] & bit)) {
		char *dir = cv_archive__fanout_path(ar, hex);
		int ret = 0;

		if (mkdir(dir, cv_fs_mode(0700)) < 0 && errno != EEXIST)
			ret = cv_error_errno(err, CV_ERROR,
					     "could not create folder '%s'",
					     dir);
		free(dir);
		if (ret < 0)
			return ret;
		/*
		 * Synced even when mkdir found it: another writer may have
		 * made it a moment ago and not synced objects/ yet.
		 */
		pl->fanout_pending[d >> 3] |= bit;
	}
	it->data_key = cv_archive__secret_new();
	if (!it->data_key)
		return cv_error_set(err, CV_ERROR,
				    "out of secure memory for a data key");
	gcry_randomize(it->data_key, CV_ARCHIVE_KEY_LEN, GCRY_STRONG_RANDOM);
	gcry_create_nonce(&it->gen, sizeof(it->gen));
	it->gen &= INT64_MAX; /* the index keeps gen in a signed bigint */
	it->final = cv_archive__object_path(ar, hex, it->gen);
	it->tmp = cv_asprintf("%s/%.2s/" CV_ARCHIVE_TMP_PREFIX "%s.%016" PRIx64
			      "-XXXXXX",
			      ar->objects, hex, hex, it->gen);
	return 0;
}

/*
 * Decide what becomes of hashed files: known to the index (only an audit
 * row left), erased (refused), a copy of one in flight (wait for it), or
 * new (encrypt). Called with mu held; drops it for the index.
 */
static int decide(struct pipeline *pl, struct item **v, size_t k,
		  struct cv_error *err)
{
	char hex[CV_ARCHIVE_OID_HEXLEN + 1];
	uint8_t(*ids)[CV_ARCHIVE_OID_LEN] = cv_calloc(k, sizeof(*ids));
	struct item *o;
	size_t i;
	int ret, *found = cv_calloc(k, sizeof(*found));

	for (i = 0; i < k; i++)
		memcpy(ids[i], v[i]->res.id, CV_ARCHIVE_OID_LEN);
	/* The index first, without the lock: workers go on meanwhile. */
	pthread_mutex_unlock(&pl->mu);
	ret = cv_index_object_state_many(pl->ar->ix, ids, k, found, err);
	pthread_mutex_lock(&pl->mu);
	if (ret < 0)
		goto cleanup;
	for (i = 0; i < k; i++) {
		struct item *it = v[i];

		cv_archive_oid_format(hex, it->res.id);
		if (found[i] == 2) {
			cv_error_set(
				&it->res.err, CV_EERASED,
				"object %s was crypto-erased and cannot be stored again",
				hex);
			cv_error_detail(
				&it->res.err,
				"these bytes belonged to a destroyed record");
			item_fail(it, CV_EERASED);
			drop_plaintext(pl, it);
			finish(pl, it);
		} else if (found[i] == 1) {
			/* Stored before: nothing to write. */
			drop_plaintext(pl, it);
			if (pl->actor)
				it->st = ST_AUDIT;
			else
				finish(pl, it);
		} else if ((o = in_flight(pl, it->res.id))) {
			drop_plaintext(pl, it);
			it->dup_of = o->idx;
			it->st = ST_DUP;
		} else {
			ret = plan_write(pl, it, err);
			if (ret < 0)
				goto cleanup;
			it->st = ST_SEAL;
		}
	}
	pthread_cond_broadcast(&pl->work);
cleanup:
	free(ids);
	free(found);
	return ret;
}

static int cmp_item_id(const void *a, const void *b)
{
	const struct item *x = *(struct item *const *)a;
	const struct item *y = *(struct item *const *)b;

	return memcmp(x->res.id, y->res.id, CV_ARCHIVE_OID_LEN);
}

/* Step 1: wait for the temp files' bytes. Runs without the lock. */
static void sync_temps(struct item **v, size_t k)
{
	int fds[WINDOW], errs[WINDOW];
	size_t i;

	for (i = 0; i < k; i++)
		fds[i] = v[i]->tmp_fd;
	fsync_all(fds, errs, k);
	for (i = 0; i < k; i++) {
		struct item *it = v[i];
		int ret = 0;

		if (errs[i]) {
			errno = errs[i];
			ret = cv_error_errno(&it->res.err, CV_ERROR,
					     "could not sync '%s'", it->tmp);
		}
		if (close(it->tmp_fd) < 0 && ret == 0)
			ret = cv_error_errno(&it->res.err, CV_ERROR,
					     "could not write '%s'", it->tmp);
		it->tmp_fd = -1;
		if (ret < 0)
			item_fail(it, ret);
	}
}

/*
 * Steps 2 to 4: publish the sealed files in v (and the audit rows of
 * files stored before, and of copies waiting for v's files) in one
 * transaction. Runs without the lock: no worker touches these items, and
 * it reads no others.
 */
static int publish(struct pipeline *pl, struct item **v, size_t k,
		   struct item **audits, size_t na, struct item **dups,
		   size_t nd, struct cv_error *err)
{
	struct cv_archive *ar = pl->ar;
	const struct cv_archive__kek *kek = &ar->keys->keks[0];
	uint8_t touched[256 / 8] = { 0 }, pending[256 / 8];
	struct cv_index_object *rows = NULL, *row;
	struct item **aids = NULL;
	const char **adet = NULL;
	char(*hexes)[CV_ARCHIVE_OID_HEXLEN + 1] = NULL;
	int *inserted = NULL;
	size_t nrows = 0, naud = 0;
	int fds[256], errs[256], dirs[256];
	size_t i, j, ndirs = 0;
	int d, any_pending = 0, ret;
	char *path;

	for (i = 0; i < k; i++) {
		struct item *it = v[i];

		if (it->res.code < 0)
			continue;
		if (rename(it->tmp, it->final) < 0) {
			item_fail(it, cv_error_errno(
					      &it->res.err, CV_ERROR,
					      "could not rename '%s' to '%s'",
					      it->tmp, it->final));
			unlink(it->tmp);
			continue;
		}
		free(it->tmp);
		it->tmp = NULL;
		touched[it->res.id[0] >> 3] |=
			(uint8_t)(1u << (it->res.id[0] & 7));
	}
	for (d = 0; d < 256; d++) {
		if (!(touched[d >> 3] & (1u << (d & 7))))
			continue;
		dirs[ndirs] = d;
		path = cv_asprintf("%s/%02x", ar->objects, d);
		fds[ndirs] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		errs[ndirs] = fds[ndirs] < 0 ? errno : 0;
		free(path);
		ndirs++;
	}
	fsync_all(fds, errs, ndirs);
	for (i = 0; i < ndirs; i++) {
		struct cv_error derr = CV_ERROR_INIT;

		if (fds[i] >= 0)
			close(fds[i]);
		if (!errs[i])
			continue;
		errno = errs[i];
		cv_error_errno(&derr, CV_ERROR,
			       "could not sync folder '%s/%02x'", ar->objects,
			       dirs[i]);
		/* Those renames may not last: nothing may name them. */
		for (j = 0; j < k; j++) {
			struct item *it = v[j];

			if (it->res.code == 0 && it->res.id[0] == dirs[i]) {
				unlink(it->final);
				it->res.err = derr;
				item_fail(it, derr.code);
			}
		}
	}
	/* Step 2: the fan-out folders this run made, one sync for all. */
	memcpy(pending, pl->fanout_pending, sizeof(pending));
	for (d = 0; d < (int)sizeof(pending); d++)
		any_pending |= pending[d];
	if (any_pending) {
		ret = cv_fs_fsync_dir(ar->objects, err);
		if (ret < 0)
			return ret;
		for (d = 0; d < (int)sizeof(pending); d++) {
			ar->fanout_synced[d] |= pending[d];
			pl->fanout_pending[d] &= (uint8_t)~pending[d];
		}
	}
	qsort(v, k, sizeof(*v), cmp_item_id);

	rows = cv_calloc(k ? k : 1, sizeof(*rows));
	inserted = cv_calloc(k ? k : 1, sizeof(*inserted));
	for (i = 0; i < k; i++) {
		struct item *it = v[i];

		if (it->res.code < 0)
			continue;
		row = &rows[nrows++];
		memcpy(row->id, it->res.id, CV_ARCHIVE_OID_LEN);
		snprintf(row->kind, sizeof(row->kind), "%s", pl->kind);
		memcpy(row->kek_id, kek->id, CV_ARCHIVE_KEKID_LEN);
		ret = cv_archive__wrap(row->wrapped_key, kek->key, it->data_key,
				       err);
		if (ret < 0)
			goto cleanup;
		row->gen = it->gen;
		row->size = it->size;
		row->stored_size = it->sealed.stored_size;
		memcpy(row->stored_sha256, it->sealed.stored_sha256, 32);
	}
	/* Audit rows: these files, copies that waited for them, and files
	 * stored before. */
	aids = cv_calloc(k + nd + na + 1, sizeof(*aids));
	adet = cv_calloc(k + nd + na + 1, sizeof(*adet));
	for (i = 0; i < k; i++)
		if (v[i]->res.code == 0)
			aids[naud++] = v[i];
	for (i = 0; i < nd; i++)
		if (AT(pl, dups[i]->dup_of)->res.code == 0)
			aids[naud++] = dups[i];
	for (i = 0; i < na; i++)
		aids[naud++] = audits[i];
	hexes = cv_calloc(naud ? naud : 1, CV_ARCHIVE_OID_HEXLEN + 1);

	ret = cv_index_begin(ar->ix, err);
	if (ret < 0)
		goto cleanup;
	ret = cv_index_object_add_many(ar->ix, rows, nrows, inserted, err);
	if (ret < 0)
		goto fail;
	for (i = 0, j = 0; i < k; i++)
		if (v[i]->res.code == 0)
			v[i]->inserted = inserted[j++];
	if (pl->actor && naud) {
		const char **idv = cv_calloc(naud, sizeof(*idv));

		for (i = 0; i < naud; i++) {
			cv_archive_oid_format(hexes[i], aids[i]->res.id);
			idv[i] = hexes[i];
			/* Only a row this run made is new. */
			adet[i] = aids[i]->inserted ? "new" : "duplicate";
		}
		ret = cv_index_audit_many(ar->ix, pl->actor, "object.put",
					  "object", idv, adet, naud, "ok", err);
		free(idv);
		if (ret < 0)
			goto fail;
	}
	/* A failed commit may still have committed: files stay (orphans). */
	ret = cv_index_commit(ar->ix, err);
	if (ret < 0)
		goto cleanup;
	for (i = 0; i < k; i++) {
		struct item *it = v[i];
		struct cv_index_object winner;
		struct cv_error ferr = CV_ERROR_INIT;

		if (it->res.code == 0 && !it->inserted &&
		    cv_index_object_find(ar->ix, it->res.id, &winner, &ferr) ==
			    0 &&
		    winner.gen != it->gen)
			unlink(it->final); /* best effort: else an orphan */
	}
	ret = 0;
	goto cleanup;
fail:
	cv_index_rollback(ar->ix);
cleanup:
	if (rows)
		cv_wipe(rows, (k ? k : 1) * sizeof(*rows));
	free(rows);
	free(inserted);
	free(aids);
	free(adet);
	free(hexes);
	return ret;
}

/* Undo what a stopped run holds: temp files, plaintext, keys. */
static void release_item(struct pipeline *pl, struct item *it)
{
	if (it->tmp_fd >= 0)
		close(it->tmp_fd);
	if (it->tmp) {
		unlink(it->tmp);
		free(it->tmp);
	}
	drop_plaintext(pl, it);
	free(it->final);
	cv_archive__secret_free(it->data_key, CV_ARCHIVE_KEY_LEN);
	memset(it, 0, sizeof(*it));
	it->fd = -1;
	it->tmp_fd = -1;
}

/*
 * One round of the main thread's work, called with mu held. Returns 1
 * when it did something, 0 when there is nothing to do until a worker
 * signals, < 0 when the run must stop (err set, or the callback's code).
 */
static int main_step(struct pipeline *pl, cv_archive_put_cb done, void *ctx,
		     struct cv_error *err)
{
	struct item *v[WINDOW], *audits[WINDOW], *dups[WINDOW];
	size_t i, k = 0, na = 0, nd = 0, busy = 0;
	int ret;

	/* Hashed files first: deciding them feeds the workers. */
	for (i = pl->reported; i < pl->next; i++)
		if (AT(pl, i)->st == ST_HASHED)
			v[k++] = AT(pl, i);
	if (k)
		return (ret = decide(pl, v, k, err)) < 0 ? ret : 1;

	/* Wait for sealed files' bytes, off the workers' backs. */
	for (i = pl->reported; i < pl->next; i++)
		if (AT(pl, i)->st == ST_SEALED && !AT(pl, i)->synced)
			v[k++] = AT(pl, i);
	if (k) {
		pthread_mutex_unlock(&pl->mu);
		sync_temps(v, k);
		pthread_mutex_lock(&pl->mu);
		for (i = 0; i < k; i++) {
			v[i]->synced = 1;
			if (v[i]->res.code < 0) {
				unlink(v[i]->tmp);
				free(v[i]->tmp);
				v[i]->tmp = NULL;
				finish(pl, v[i]);
			}
		}
		return 1;
	}

	/* Publish a batch when it is full or nothing else is coming. */
	for (i = pl->reported; i < pl->next; i++) {
		struct item *it = AT(pl, i);

		if (it->st == ST_SEALED)
			v[k++] = it;
		else if (it->st == ST_AUDIT)
			audits[na++] = it;
		else if (it->st == ST_HASHING || it->st == ST_SEAL ||
			 it->st == ST_SEALING)
			busy++;
	}
	/* Files a worker may still take: more will come, unless the window
	 * is full (then only a publish and its reports make room). */
	if (pl->next < pl->n && pl->next < pl->reported + WINDOW &&
	    pl->held < MEM_BUDGET)
		busy++;
	if ((k || na) && (k + na >= pl->publish_min || !busy)) {
		for (i = pl->reported; i < pl->next; i++) {
			struct item *it = AT(pl, i);

			if (it->st == ST_DUP &&
			    AT(pl, it->dup_of)->st == ST_SEALED)
				dups[nd++] = it;
		}
		pthread_mutex_unlock(&pl->mu);
		ret = publish(pl, v, k, audits, na, dups, nd, err);
		pthread_mutex_lock(&pl->mu);
		if (ret < 0)
			return ret;
		for (i = 0; i < k; i++)
			finish(pl, v[i]);
		for (i = 0; i < na; i++)
			finish(pl, audits[i]);
		if (pl->publish_min < PUBLISH_MIN)
			pl->publish_min *= 2;
		return 1;
	}

	/* Report final outcomes, in the order given. */
	if (pl->reported < pl->next && AT(pl, pl->reported)->st == ST_DONE) {
		while (pl->reported < pl->next &&
		       AT(pl, pl->reported)->st == ST_DONE) {
			struct item *it = AT(pl, pl->reported);

			if (it->res.code < 0)
				memset(it->res.id, 0, CV_ARCHIVE_OID_LEN);
			pthread_mutex_unlock(&pl->mu);
			ret = done ? done(ctx, it->idx, &it->res) : 0;
			pthread_mutex_lock(&pl->mu);
			release_item(pl, it);
			pl->reported++;
			if (ret)
				return ret < 0 ? ret : CV_ERROR;
		}
		pthread_cond_broadcast(&pl->work);
		return 1;
	}
	return 0;
}

int cv_archive_put_files(struct cv_archive *ar, const char *const *paths,
			 size_t n, const char *kind, int threads,
			 const char *actor, cv_archive_put_cb done, void *ctx,
			 struct cv_error *err)
{
	struct pipeline *pl;
	pthread_t tid[THREADS_MAX];
	int i, started = 0, ret;
	size_t j;

	ret = cv_archive__need_keys(ar, err);
	if (ret < 0)
		return ret;
	if (!kind || !*kind ||
	    strlen(kind) >= sizeof(((struct cv_index_object *)0)->kind))
		return cv_error_set(err, CV_EINVAL,
				    "object kind '%s' is not valid",
				    kind ? kind : "(null)");
	if (threads <= 0) {
		long np = sysconf(_SC_NPROCESSORS_ONLN);

		threads = np > 0 ? (int)np : 1;
	}
	if (threads > THREADS_MAX)
		threads = THREADS_MAX;
	ret = cv_archive__lock_shared(ar, err);
	if (ret < 0)
		return ret;
	pl = cv_calloc(1, sizeof(*pl));
	pl->ar = ar;
	pl->paths = paths;
	pl->n = n;
	pl->kind = kind;
	pl->actor = actor;
	pl->publish_min = 4;
	pthread_mutex_init(&pl->mu, NULL);
	pthread_mutex_init(&pl->pool_mu, NULL);
	pthread_cond_init(&pl->work, NULL);
	pthread_cond_init(&pl->main, NULL);
	for (j = 0; j < WINDOW; j++) {
		pl->ring[j].fd = -1;
		pl->ring[j].tmp_fd = -1;
	}
	/*
	 * The workers hash and encrypt; this thread waits on the disk and
	 * the index, which costs little CPU, so it is not counted.
	 */
	for (i = 0; i < threads; i++) {
		if (pthread_create(&tid[started], NULL, worker, pl) != 0)
			break; /* fewer threads is slower, not wrong */
		started++;
	}
	if (!started) {
		ret = cv_error_set(err, CV_ERROR,
				   "could not start a worker thread");
		goto cleanup;
	}
	pthread_mutex_lock(&pl->mu);
	ret = 0;
	while (pl->reported < pl->n) {
		ret = main_step(pl, done, ctx, err);
		if (ret < 0)
			break;
		if (ret == 0)
			pthread_cond_wait(&pl->main, &pl->mu);
		ret = 0;
	}
	pl->stop = 1;
	pthread_cond_broadcast(&pl->work);
	pthread_mutex_unlock(&pl->mu);
cleanup:
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	for (j = 0; j < WINDOW; j++)
		release_item(pl, &pl->ring[j]);
	pool_release(pl);
	pthread_cond_destroy(&pl->work);
	pthread_cond_destroy(&pl->main);
	pthread_mutex_destroy(&pl->mu);
	pthread_mutex_destroy(&pl->pool_mu);
	free(pl);
	return ret;
}
