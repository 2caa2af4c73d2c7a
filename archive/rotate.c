/*
 * Key rotation and passphrase changes: the key file is rewritten, never
 * edited, and each step leaves a key file on disk that opens every object
 * the index can name.
 *
 *   1. Add a new KEK first in the key file (atomic rewrite): new data keys
 *      are wrapped under it, old rows still unwrap with the KEKs after it.
 *   2. Rewrap the live data keys under old KEKs in small batches, each one
 *      committed transaction; a row changes only if it still holds the
 *      wrapped key we read (an erase or another rotation may have won).
 *   3. Retire the old KEKs in the index under a lock that waits out every
 *      writer in flight; if rows under them appeared meanwhile (a process
 *      that loaded the old key file), go back to 2.
 *   4. Rewrite the key file with the new KEK only and shred the old file.
 *
 * A crash after 1 leaves a key file with several KEKs, which is the state
 * "rotation in progress": running rotate again skips 1 and completes 2-4.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_int.h"
#include "common/banned.h"

#define REWRAP_BATCH 256

static int rewrap_batch(struct cv_index *ix, const struct cv_archive_keys *k,
			int64_t rotation, int64_t *done, size_t *seen,
			struct cv_error *err)
{
	struct cv_index_object *rows = NULL;
	uint8_t *dk = NULL, wrapped[CV_ARCHIVE_WRAPPED_LEN];
	const struct cv_archive__kek *cur = &k->keks[0], *old;
	size_t n = 0, i;
	int64_t count = 0;
	int ret, updated;

	*seen = 0;
	ret = cv_index_object_stale_wraps(ix, cur->id, REWRAP_BATCH, &rows, &n,
					  err);
	if (ret < 0 || n == 0)
		goto cleanup;
	dk = cv_archive__secret_new();
	if (!dk) {
		ret = cv_error_set(err, CV_ERROR,
				   "out of secure memory for a data key");
		goto cleanup;
	}
	ret = cv_index_begin(ix, err);
	if (ret < 0)
		goto cleanup;
	for (i = 0; i < n && ret == 0; i++) {
		char hex[CV_ARCHIVE_OID_HEXLEN + 1];

		cv_archive_oid_format(hex, rows[i].id);
		old = cv_archive__find_kek(k, rows[i].kek_id);
		if (!old) {
			ret = cv_error_set(
				err, CV_EUNAVAIL,
				"object %s is wrapped by a key-encryption key the key file does not hold",
				hex);
			cv_error_hint(
				err,
				"restore the key file that holds it; nothing was retired");
			break;
		}
		ret = cv_archive__unwrap(dk, old->key, rows[i].wrapped_key,
					 err);
		if (ret == 0)
			ret = cv_archive__wrap(wrapped, cur->key, dk, err);
		if (ret == 0)
			ret = cv_index_object_rewrap(
				ix, rows[i].id, rows[i].kek_id,
				rows[i].wrapped_key, cur->id, wrapped, &updated,
				err);
		if (ret < 0)
			cv_error_prefix(err, "object %s", hex);
		else
			count += updated;
	}
	if (ret == 0)
		ret = cv_index_rotation_count(ix, rotation, count, err);
	if (ret == 0)
		ret = cv_index_commit(ix, err);
	else
		cv_index_rollback(ix);
	if (ret == 0) {
		*done += count;
		*seen = n;
	}
cleanup:
	cv_archive__secret_free(dk, CV_ARCHIVE_KEY_LEN);
	cv_wipe(wrapped, sizeof(wrapped));
	if (rows)
		cv_wipe(rows, n * sizeof(*rows));
	free(rows);
	return ret;
}

int cv_archive_keys_rotate(struct cv_index *ix, const char *path,
			   const char *passphrase, const char *actor,
			   struct cv_archive_rotate_report *rep,
			   struct cv_error *err)
{
	struct cv_archive_keys *k = NULL;
	uint8_t old[CV_ARCHIVE_KEK_MAX][CV_ARCHIVE_KEKID_LEN];
	size_t nold, i, seen;
	int64_t remaining;
	int ret;

	memset(rep, 0, sizeof(*rep));
	ret = cv_archive_keys_load(&k, path, passphrase, err);
	if (ret < 0)
		return ret;
	if (k->nkeks > 1) {
		rep->resumed = 1;
	} else {
		/* 1: the new KEK goes first; the old one stays to unwrap. */
		k->keks[1] = k->keks[0];
		gcry_randomize(k->keks[0].key, CV_ARCHIVE_KEY_LEN,
			       GCRY_STRONG_RANDOM);
		gcry_create_nonce(k->keks[0].id, CV_ARCHIVE_KEKID_LEN);
		k->nkeks = 2;
		ret = cv_archive__keys_rewrite(path, k, passphrase, err);
		if (ret < 0)
			goto cleanup;
	}
	cv_hex_encode(rep->new_kek, k->keks[0].id, CV_ARCHIVE_KEKID_LEN);
	nold = k->nkeks - 1;
	for (i = 0; i < nold; i++)
		memcpy(old[i], k->keks[i + 1].id, CV_ARCHIVE_KEKID_LEN);
	ret = cv_index_rotation_open(ix, k->keks[0].id, actor,
				     &rep->rotation_id, err);
	if (ret < 0)
		goto cleanup;
	for (;;) {
		/* 2 */
		do {
			ret = rewrap_batch(ix, k, rep->rotation_id,
					   &rep->rewrapped, &seen, err);
		} while (ret == 0 && seen);
		if (ret < 0)
			goto cleanup;
		/* 3 */
		ret = cv_index_kek_retire(ix, rep->rotation_id,
					  (const uint8_t(*)[8])old, nold,
					  &remaining, err);
		if (ret < 0)
			goto cleanup;
		if (!remaining)
			break;
	}
	/* 4: only now is no row left that needs an old KEK. */
	for (i = 0; i < nold; i++)
		cv_hex_encode(rep->retired[i], old[i], CV_ARCHIVE_KEKID_LEN);
	rep->nretired = nold;
	cv_wipe(&k->keks[1], nold * sizeof(k->keks[0]));
	k->nkeks = 1;
	ret = cv_archive__keys_rewrite(path, k, passphrase, err);
cleanup:
	cv_archive_keys_free(k);
	return ret;
}

int cv_archive_keys_passwd(const char *path, const char *old_pass,
			   const char *new_pass, struct cv_error *err)
{
	struct cv_archive_keys *k = NULL;
	int ret;

	ret = cv_archive_keys_load(&k, path, old_pass, err);
	if (ret < 0)
		return ret;
	/* New costs for a new passphrase: the current defaults. */
	memset(&k->kdf, 0, sizeof(k->kdf));
	ret = cv_archive__keys_rewrite(path, k, new_pass, err);
	cv_archive_keys_free(k);
	return ret;
}
