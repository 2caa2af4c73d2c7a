/*
 * The store: content-addressed object files under <archive>/objects,
 * catalogued in the index. This file decides where files go, when they
 * become durable, and what the index learns about them; stream.c does the
 * encryption. The archive never prints: every outcome is a return code
 * and a struct cv_error for the caller to report.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive_int.h"
#include "common/banned.h"

int cv_archive_oid_parse(uint8_t id[CV_ARCHIVE_OID_LEN], const char *hex)
{
	if (!hex || strlen(hex) != CV_ARCHIVE_OID_HEXLEN)
		return CV_EINVAL;
	return cv_hex_decode(id, CV_ARCHIVE_OID_LEN, hex);
}

void cv_archive_oid_format(char *out, const uint8_t id[CV_ARCHIVE_OID_LEN])
{
	cv_hex_encode(out, id, CV_ARCHIVE_OID_LEN);
}

int cv_archive_store_init(const char *archive_dir, struct cv_error *err)
{
	char *objects = cv_path_join(archive_dir, CV_ARCHIVE_OBJECTS_DIR);
	int ret;

	ret = cv_fs_mkdirs(objects, cv_fs_mode(0700), err);
	if (ret < 0)
		goto cleanup;
	/* objects/ must survive a crash before any file in it is recorded. */
	ret = cv_fs_fsync_dir(archive_dir, err);
cleanup:
	free(objects);
	return ret;
}

int cv_archive_open(struct cv_archive **out, const char *archive_dir,
		    const struct cv_archive_keys *keys, struct cv_index *ix,
		    struct cv_error *err)
{
	struct cv_archive *ar;
	struct stat st;
	char *objects;
	int ret;

	*out = NULL;
	objects = cv_path_join(archive_dir, CV_ARCHIVE_OBJECTS_DIR);
	if (stat(objects, &st) < 0) {
		ret = cv_error_errno(err, CV_EUNAVAIL,
				     "the archive store '%s' is not there",
				     objects);
		goto fail;
	}
	if (!S_ISDIR(st.st_mode)) {
		ret = cv_error_set(err, CV_EUNAVAIL,
				   "the archive store '%s' is not a folder",
				   objects);
		goto fail;
	}
	ar = cv_calloc(1, sizeof(*ar));
	ar->dir = cv_strdup(archive_dir);
	ar->objects = objects;
	ar->keys = keys;
	ar->ix = ix;
	ar->lock_fd = -1;
	*out = ar;
	return 0;
fail:
	cv_error_hint(
		err,
		"check the archive folder, or create an archive with 'chartvault init'");
	free(objects);
	return ret;
}

void cv_archive_free(struct cv_archive *ar)
{
	if (!ar)
		return;
	if (ar->lock_fd >= 0)
		close(ar->lock_fd);
	free(ar->dir);
	free(ar->objects);
	free(ar);
}

int cv_archive__need_keys(const struct cv_archive *ar, struct cv_error *err)
{
	int ret = cv_archive__need_init(err);

	if (ret < 0)
		return ret;
	if (!ar->keys || !ar->keys->nkeks) {
		cv_error_set(err, CV_EUNAVAIL,
			     "the archive's key file is not loaded");
		cv_error_hint(
			err,
			"objects can only be stored and read with the key file");
		return CV_EUNAVAIL;
	}
	return 0;
}

char *cv_archive__fanout_path(const struct cv_archive *ar, const char *hex)
{
	return cv_asprintf("%s/%.2s", ar->objects, hex);
}

char *cv_archive__object_path(const struct cv_archive *ar, const char *hex,
			      uint64_t gen)
{
	return cv_asprintf("%s/%.2s/%s.%016" PRIx64, ar->objects, hex, hex,
			   gen);
}

int cv_archive__lock_shared(struct cv_archive *ar, struct cv_error *err)
{
	char *path;
	int fd, ret;

	if (ar->lock_fd >= 0)
		return 0;
	path = cv_path_join(ar->objects, CV_ARCHIVE_LOCK_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, cv_fs_mode(0600));
	if (fd < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not open '%s'",
				     path);
		goto cleanup;
	}
	/* Waits only while a gc runs, which holds it for one sweep. */
	while (flock(fd, LOCK_SH) < 0) {
		if (errno == EINTR)
			continue;
		ret = cv_error_errno(err, CV_ERROR, "could not lock '%s'",
				     path);
		close(fd);
		goto cleanup;
	}
	ar->lock_fd = fd;
	ret = 0;
cleanup:
	free(path);
	return ret;
}

int cv_archive__shred(const char *path, int *present, struct cv_error *err)
{
	static const uint8_t zeros[65536];
	char *dir = NULL, *slash;
	struct stat st;
	off_t at;
	int fd, ret;

	*present = 0;
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return cv_error_errno(err, CV_ERROR, "could not open '%s'",
				      path);
	*present = 1;
	if (fstat(fd, &st) < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not read '%s'",
				     path);
		goto cleanup;
	}
	/*
	 * Best effort on flash and copy-on-write file systems, which may
	 * keep the old blocks: the destroyed key is what makes the bytes
	 * unreadable, this only shortens the time they lie around.
	 */
	for (at = 0; at < st.st_size; at += (off_t)sizeof(zeros)) {
		size_t k = st.st_size - at < (off_t)sizeof(zeros)
				   ? (size_t)(st.st_size - at)
				   : sizeof(zeros);

		if (pwrite(fd, zeros, k, at) != (ssize_t)k) {
			ret = cv_error_errno(err, CV_ERROR,
					     "could not overwrite '%s'", path);
			goto cleanup;
		}
	}
	if (fsync(fd) < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not sync '%s'",
				     path);
		goto cleanup;
	}
	if (unlink(path) < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not remove '%s'",
				     path);
		goto cleanup;
	}
	dir = cv_strdup(path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	ret = cv_fs_fsync_dir(slash ? dir : ".", err);
cleanup:
	close(fd);
	free(dir);
	return ret;
}

/*
 * Make sure the fan-out folder for id exists and that its entry in
 * objects/ is durable. It is synced even when mkdir finds it already
 * there: another writer may have created it a moment ago and not yet
 * synced objects/, and a file inside a folder that a crash forgets is
 * lost with it. The bitmap makes that one fsync per folder per store.
 */
static int ensure_fanout(struct cv_archive *ar, const uint8_t *id,
			 const char *dir, struct cv_error *err)
{
	uint8_t bit = (uint8_t)(1u << (id[0] & 7));
	int ret;

	if (ar->fanout_synced[id[0] >> 3] & bit)
		return 0;
	if (mkdir(dir, cv_fs_mode(0700)) < 0 && errno != EEXIST)
		return cv_error_errno(err, CV_ERROR,
				      "could not create folder '%s'", dir);
	ret = cv_fs_fsync_dir(ar->objects, err);
	if (ret < 0)
		return ret;
	ar->fanout_synced[id[0] >> 3] |= bit;
	return 0;
}

/*
 * Encrypt src into a new file objects/ab/<id>.<gen> and make it durable:
 * temp file in the same folder, fsync, rename, fsync of the folder. On
 * success *path is the file's name (malloc'd).
 */
static int write_object(struct cv_archive *ar, struct cv_archive__src *src,
			uint64_t size, const uint8_t *id, const uint8_t *id_key,
			const uint8_t *data_key, uint64_t *gen, char **path,
			struct cv_archive__sealed *sealed, struct cv_error *err)
{
	char hex[CV_ARCHIVE_OID_HEXLEN + 1];
	char *dir, *tmp = NULL, *final = NULL;
	int fd = -1, ret;

	*path = NULL;
	cv_archive_oid_format(hex, id);
	dir = cv_archive__fanout_path(ar, hex);
	ret = cv_archive__lock_shared(ar, err);
	if (ret == 0)
		ret = ensure_fanout(ar, id, dir, err);
	if (ret < 0)
		goto cleanup;
	gcry_create_nonce(gen, sizeof(*gen));
	/* 63 bits: the index keeps gen in a signed bigint. */
	*gen &= INT64_MAX;
	final = cv_archive__object_path(ar, hex, *gen);
	tmp = cv_asprintf("%s/tmp-%s.%016" PRIx64 "-XXXXXX", dir, hex, *gen);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = cv_error_errno(err, CV_ERROR,
				     "could not create a file in '%s'", dir);
		goto cleanup;
	}
	/* mkostemp makes 0600; a shared archive's staff read each other's. */
	if (cv_fs_mode(0600) != 0600 && fchmod(fd, cv_fs_mode(0600)) < 0) {
		ret = cv_error_errno(err, CV_ERROR,
				     "could not share a file in '%s'", dir);
		goto cleanup;
	}
	ret = cv_archive__seal(fd, src, size, data_key, id, id_key, sealed,
			       err);
	if (ret < 0)
		goto cleanup;
	if (fsync(fd) < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not sync '%s'", tmp);
		goto cleanup;
	}
	ret = close(fd);
	fd = -1;
	if (ret < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not write '%s'",
				     tmp);
		goto cleanup;
	}
	/* gen is random, so this never replaces another writer's file. */
	if (rename(tmp, final) < 0) {
		ret = cv_error_errno(err, CV_ERROR,
				     "could not rename '%s' to '%s'", tmp,
				     final);
		goto cleanup;
	}
	free(tmp);
	tmp = NULL;
	ret = cv_fs_fsync_dir(dir, err);
	if (ret < 0) {
		/* Nothing refers to it yet and it may not last: drop it. */
		unlink(final);
		goto cleanup;
	}
	*path = final;
	final = NULL;
cleanup:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(final);
	free(dir);
	return ret;
}

/*
 * Why this order is safe:
 *
 * The file is durable (fsync of file and folder) before the index row
 * that makes it reachable exists, so a crash at any point leaves either
 * nothing, or an unreferenced file that a later gc removes, never a row
 * whose bytes are gone. Every writer uses its own random gen in the file
 * name, so two writers storing the same bytes at once each write their
 * own file and never clobber or read a half-written one; the index's
 * primary key picks one winner, and the loser deletes its own file. If
 * recording the row fails, our file stays: the failure may have come
 * after the commit (a lost connection), and deleting a file that a row
 * may name would lose data, while an orphan costs only space.
 */
static int put(struct cv_archive *ar, struct cv_archive__src *src, int recheck,
	       const char *kind, uint8_t id[CV_ARCHIVE_OID_LEN], int *is_new,
	       struct cv_error *err)
{
	char hex[CV_ARCHIVE_OID_HEXLEN + 1];
	struct cv_index_object row, winner;
	struct cv_archive__sealed sealed;
	struct cv_error ferr = CV_ERROR_INIT;
	uint8_t oid[CV_ARCHIVE_OID_LEN];
	uint8_t *data_key = NULL;
	const struct cv_archive__kek *kek;
	char *path = NULL;
	uint64_t size, gen = 0;
	int inserted = 0, ret;

	memset(id, 0, CV_ARCHIVE_OID_LEN);
	if (is_new)
		*is_new = 0;
	ret = cv_archive__need_keys(ar, err);
	if (ret < 0)
		return ret;
	if (!kind || !*kind || strlen(kind) >= sizeof(row.kind))
		return cv_error_set(err, CV_EINVAL,
				    "object kind '%s' is not valid",
				    kind ? kind : "(null)");
	ret = cv_archive__compute_id(oid, &size, ar->keys->id_key, src, err);
	if (ret < 0)
		return ret;
	cv_archive_oid_format(hex, oid);

	ret = cv_index_object_find(ar->ix, oid, &row, err);
	if (ret == 0 && row.erased) {
		cv_error_set(
			err, CV_EERASED,
			"object %s was crypto-erased and cannot be stored again",
			hex);
		cv_error_detail(err,
				"these bytes belonged to a destroyed record");
		return CV_EERASED;
	}
	if (ret == 0) {
		/* Stored before: nothing to write. */
		memcpy(id, oid, CV_ARCHIVE_OID_LEN);
		return 0;
	}
	if (ret != CV_ENOTFOUND)
		return ret;
	cv_error_clear(err);

	if (src->fd >= 0 && lseek(src->fd, 0, SEEK_SET) < 0)
		return cv_error_errno(err, CV_ERROR, "could not rewind '%s'",
				      src->name);
	src->pos = 0;
	data_key = cv_archive__secret_new();
	if (!data_key)
		return cv_error_set(err, CV_ERROR,
				    "out of secure memory for a data key");
	gcry_randomize(data_key, CV_ARCHIVE_KEY_LEN, GCRY_STRONG_RANDOM);
	ret = write_object(ar, src, size, oid,
			   recheck ? ar->keys->id_key : NULL, data_key, &gen,
			   &path, &sealed, err);
	if (ret < 0)
		goto cleanup;

	kek = &ar->keys->keks[0];
	memset(&row, 0, sizeof(row));
	memcpy(row.id, oid, CV_ARCHIVE_OID_LEN);
	snprintf(row.kind, sizeof(row.kind), "%s", kind);
	memcpy(row.kek_id, kek->id, CV_ARCHIVE_KEKID_LEN);
	ret = cv_archive__wrap(row.wrapped_key, kek->key, data_key, err);
	if (ret < 0) {
		unlink(path);
		goto cleanup;
	}
	row.gen = gen;
	row.size = size;
	row.stored_size = sealed.stored_size;
	memcpy(row.stored_sha256, sealed.stored_sha256, 32);
	ret = cv_index_object_add(ar->ix, &row, &inserted, err);
	if (ret < 0)
		goto cleanup;
	if (!inserted &&
	    cv_index_object_find(ar->ix, oid, &winner, &ferr) == 0 &&
	    winner.gen != gen)
		unlink(path); /* best effort: a leftover is an orphan */
	memcpy(id, oid, CV_ARCHIVE_OID_LEN);
	if (is_new)
		*is_new = inserted;
	ret = 0;
cleanup:
	cv_archive__secret_free(data_key, CV_ARCHIVE_KEY_LEN);
	free(path);
	return ret;
}

int cv_archive_put_file(struct cv_archive *ar, const char *path,
			const char *kind, uint8_t id[CV_ARCHIVE_OID_LEN],
			int *is_new, struct cv_error *err)
{
	struct cv_archive__src src;
	struct stat st;
	int fd, ret;

	memset(id, 0, CV_ARCHIVE_OID_LEN);
	if (is_new)
		*is_new = 0;
	/* O_NONBLOCK: a FIFO planted in a batch must not hang us in open. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return cv_error_errno(err,
				      errno == ENOENT || errno == EACCES
					      ? CV_EINVAL
					      : CV_ERROR,
				      "could not open '%s'", path);
	if (fstat(fd, &st) < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not read '%s'",
				     path);
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = cv_error_set(err, CV_EINVAL, "'%s' is not a regular file",
				   path);
		goto cleanup;
	}
	if (fcntl(fd, F_SETFL, 0) < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not read '%s'",
				     path);
		goto cleanup;
	}
	/* Read twice, front to back: tell the kernel to read ahead. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	cv_archive__src_fd(&src, fd, path);
	ret = put(ar, &src, 1, kind, id, is_new, err);
cleanup:
	close(fd);
	return ret;
}

int cv_archive_put_mem(struct cv_archive *ar, const void *data, size_t n,
		       const char *kind, uint8_t id[CV_ARCHIVE_OID_LEN],
		       int *is_new, struct cv_error *err)
{
	struct cv_archive__src src;

	cv_archive__src_mem(&src, data, n);
	/* Memory cannot change between the passes the way a file can. */
	return put(ar, &src, 0, kind, id, is_new, err);
}

const struct cv_archive__kek *
cv_archive__find_kek(const struct cv_archive_keys *k, const uint8_t *kek_id)
{
	size_t i;

	for (i = 0; i < k->nkeks; i++)
		if (!memcmp(k->keks[i].id, kek_id, CV_ARCHIVE_KEKID_LEN))
			return &k->keks[i];
	return NULL;
}

/* What a read needs once the index has answered; no index after this. */
struct get_prep {
	uint8_t id[CV_ARCHIVE_OID_LEN];
	uint64_t size;
	char *path;        /* the stored file */
	uint8_t *data_key; /* unwrapped, secure memory */
};

static void prep_release(struct get_prep *p)
{
	free(p->path);
	cv_archive__secret_free(p->data_key, CV_ARCHIVE_KEY_LEN);
	p->path = NULL;
	p->data_key = NULL;
}

/* The index's part of a read (caller's thread): the row, the checks, the
 * data key. */
static int get_prepare_row(struct cv_archive *ar,
			   const uint8_t id[CV_ARCHIVE_OID_LEN],
			   const struct cv_index_object *found, size_t max,
			   struct get_prep *p, struct cv_error *err)
{
	char hex[CV_ARCHIVE_OID_HEXLEN + 1],
		kekhex[2 * CV_ARCHIVE_KEKID_LEN + 1];
	const struct cv_archive__kek *kek;
	const struct cv_index_object row = *found;
	int ret;

	memset(p, 0, sizeof(*p));
	memcpy(p->id, id, CV_ARCHIVE_OID_LEN);
	cv_archive_oid_format(hex, id);
	if (row.erased)
		return cv_error_set(err, CV_EERASED,
				    "object %s was crypto-erased", hex);
	if (row.size > max)
		return cv_error_set(err, CV_ELIMIT,
				    "object %s is %" PRIu64
				    " bytes, over the limit of %zu",
				    hex, row.size, max);
	kek = cv_archive__find_kek(ar->keys, row.kek_id);
	if (!kek) {
		cv_hex_encode(kekhex, row.kek_id, CV_ARCHIVE_KEKID_LEN);
		cv_error_set(
			err, CV_EUNAVAIL,
			"object %s is wrapped by key-encryption key %s, which the key file does not hold",
			hex, kekhex);
		cv_error_hint(
			err, "load the key file this archive was written with");
		return CV_EUNAVAIL;
	}
	p->data_key = cv_archive__secret_new();
	if (!p->data_key)
		return cv_error_set(err, CV_ERROR,
				    "out of secure memory for a data key");
	ret = cv_archive__unwrap(p->data_key, kek->key, row.wrapped_key, err);
	if (ret < 0) {
		cv_error_prefix(err, "object %s", hex);
		prep_release(p);
		return ret;
	}
	p->size = row.size;
	p->path = cv_archive__object_path(ar, hex, row.gen);
	return 0;
}

static int get_prepare(struct cv_archive *ar,
		       const uint8_t id[CV_ARCHIVE_OID_LEN], size_t max,
		       struct get_prep *p, struct cv_error *err)
{
	char hex[CV_ARCHIVE_OID_HEXLEN + 1];
	struct cv_index_object row;
	int ret;

	memset(p, 0, sizeof(*p));
	ret = cv_archive__need_keys(ar, err);
	if (ret < 0)
		return ret;
	ret = cv_index_object_find(ar->ix, id, &row, err);
	if (ret == CV_ENOTFOUND) {
		cv_archive_oid_format(hex, id);
		return cv_error_set(err, CV_ENOTFOUND,
				    "object %s is not in the archive", hex);
	}
	if (ret < 0)
		return ret;
	ret = get_prepare_row(ar, id, &row, max, p, err);
	cv_wipe(&row, sizeof(row));
	return ret;
}

/* The store's part: open, authenticate, decrypt. Thread-safe. */
static int get_decrypt(const struct cv_archive *ar, const struct get_prep *p,
		       struct cv_archive__sink *sink, struct cv_error *err)
{
	char hex[CV_ARCHIVE_OID_HEXLEN + 1];
	int fd, ret;

	cv_archive_oid_format(hex, p->id);
	if (sink->fd < 0 && sink->buf->limit &&
	    (p->size > sink->buf->limit ||
	     sink->buf->len > sink->buf->limit - p->size))
		return cv_error_set(err, CV_ELIMIT,
				    "object %s is %" PRIu64
				    " bytes, more than the buffer may hold",
				    hex, p->size);
	fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		ret = cv_error_errno(err, CV_ERROR,
				     "object %s is missing from the store",
				     hex);
		cv_error_detail(err, "'%s': %s", p->path, strerror(errno));
		cv_error_hint(
			err,
			"run 'chartvault verify' to reconcile the index and the store");
		return ret;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	/* One allocation, rather than copies of plaintext left in realloc's
	 * wake. */
	if (sink->fd < 0 && cv_buf_grow(sink->buf, (size_t)p->size) < 0) {
		ret = cv_error_set(err, CV_ELIMIT,
				   "object %s does not fit in memory", hex);
		goto cleanup;
	}
	ret = cv_archive__open_stream(fd, sink, p->size, p->data_key, p->id,
				      ar->keys->id_key, err);
cleanup:
	close(fd);
	return ret;
}

static int get(struct cv_archive *ar, const uint8_t id[CV_ARCHIVE_OID_LEN],
	       struct cv_archive__sink *sink, size_t max, struct cv_error *err)
{
	struct get_prep p;
	int ret;

	ret = get_prepare(ar, id, max, &p, err);
	if (ret == 0)
		ret = get_decrypt(ar, &p, sink, err);
	prep_release(&p);
	return ret;
}

int cv_archive_get_fd(struct cv_archive *ar,
		      const uint8_t id[CV_ARCHIVE_OID_LEN], int fd,
		      struct cv_error *err)
{
	struct cv_archive__sink sink = { fd, NULL };

	return get(ar, id, &sink, SIZE_MAX, err);
}

int cv_archive_get_mem(struct cv_archive *ar,
		       const uint8_t id[CV_ARCHIVE_OID_LEN], struct cv_buf *out,
		       size_t max, struct cv_error *err)
{
	struct cv_archive__sink sink = { -1, out };
	size_t old = out->len;
	int ret;

	ret = get(ar, id, &sink, max, err);
	if (ret < 0 && out->len > old) {
		/* No half objects: drop what the failed read appended. */
		cv_wipe(out->buf + old, out->len - old);
		out->len = old;
		out->buf[old] = '\0';
	}
	return ret;
}

/* ---------------------------------------------------------------------
 * Many objects into memory at once (cv_archive_get_many_mem).
 */
#define GET_THREADS_MAX 16

struct get_job {
	const struct cv_archive *ar;
	struct get_prep *preps;
	struct cv_buf *outs;
	struct cv_archive_get_result *res;
	size_t n, next;
	pthread_mutex_t mu;
};

static void *get_worker(void *arg)
{
	struct get_job *j = arg;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&j->mu);
		i = j->next++;
		pthread_mutex_unlock(&j->mu);
		if (i >= j->n)
			return NULL;
		if (j->res[i].code < 0)
			continue; /* the index already said no */
		{
			struct cv_archive__sink sink = { -1, &j->outs[i] };
			size_t old = j->outs[i].len;

			j->res[i].code = get_decrypt(j->ar, &j->preps[i], &sink,
						     &j->res[i].err);
			if (j->res[i].code < 0 && j->outs[i].len > old) {
				/* No half objects, as get_mem. */
				cv_wipe(j->outs[i].buf + old,
					j->outs[i].len - old);
				j->outs[i].len = old;
				j->outs[i].buf[old] = '\0';
			}
		}
	}
}

int cv_archive_get_many_mem(struct cv_archive *ar,
			    const uint8_t (*ids)[CV_ARCHIVE_OID_LEN], size_t n,
			    size_t max_bytes, int threads, struct cv_buf *outs,
			    struct cv_archive_get_result *res, size_t *taken,
			    struct cv_error *err)
{
	struct get_job j;
	struct cv_index_object *rows = NULL;
	int *found = NULL;
	pthread_t tid[GET_THREADS_MAX];
	uint64_t sum = 0;
	size_t i, k, started = 0;
	int ret = 0;

	*taken = 0;
	if (!n)
		return 0;
	memset(res, 0, n * sizeof(*res));
	if (threads <= 0) {
		long np = sysconf(_SC_NPROCESSORS_ONLN);

		threads = np > 0 ? (int)np : 1;
	}
	if (threads > GET_THREADS_MAX)
		threads = GET_THREADS_MAX;
	memset(&j, 0, sizeof(j));
	j.ar = ar;
	j.preps = cv_calloc(n, sizeof(*j.preps));
	j.outs = outs;
	j.res = res;
	pthread_mutex_init(&j.mu, NULL);
	ret = cv_archive__need_keys(ar, err);
	if (ret == 0) {
		rows = cv_calloc(n, sizeof(*rows));
		found = cv_calloc(n, sizeof(*found));
		ret = cv_index_object_find_many(ar->ix, ids, n, rows, found,
						err);
	}
	/* The index, here: up to max_bytes of plaintext (one at least). */
	for (k = 0; ret == 0 && k < n; k++) {
		if (!found[k]) {
			char hex[CV_ARCHIVE_OID_HEXLEN + 1];

			cv_archive_oid_format(hex, ids[k]);
			res[k].code = cv_error_set(
				&res[k].err, CV_ENOTFOUND,
				"object %s is not in the archive", hex);
			continue;
		}
		res[k].code = get_prepare_row(ar, ids[k], &rows[k], max_bytes,
					      &j.preps[k], &res[k].err);
		if (res[k].code == CV_EUNAVAIL ||
		    (res[k].code < 0 && res[k].code != CV_ENOTFOUND &&
		     res[k].code != CV_EERASED && res[k].code != CV_ELIMIT &&
		     res[k].code != CV_EMISMATCH)) {
			/* The index or the keys failed: not this object's. */
			*err = res[k].err;
			ret = res[k].code;
			break;
		}
		if (res[k].code == 0 && k > 0 &&
		    sum + j.preps[k].size > max_bytes) {
			prep_release(&j.preps[k]);
			res[k].code = 0;
			break;
		}
		if (res[k].code == 0)
			sum += j.preps[k].size;
	}
	if (ret == 0) {
		j.n = k;
		for (i = 1; i < (size_t)threads && i < k; i++) {
			if (pthread_create(&tid[started], NULL, get_worker,
					   &j) != 0)
				break; /* fewer threads is slower, not wrong */
			started++;
		}
		get_worker(&j);
		for (i = 0; i < started; i++)
			pthread_join(tid[i], NULL);
		*taken = k;
	}
	for (i = 0; i < n; i++)
		prep_release(&j.preps[i]);
	free(j.preps);
	if (rows)
		cv_wipe(rows, n * sizeof(*rows));
	free(rows);
	free(found);
	pthread_mutex_destroy(&j.mu);
	return ret;
}
