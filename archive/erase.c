/*
 * Crypto-erase: destroy an object by destroying its data key, then its
 * bytes. The order matters. Once the wrapped key is gone from the index
 * (one committed transaction), no copy of the key file can open the
 * object any more, so a crash while the files are being shredded leaves
 * unreadable ciphertext that gc removes, never a readable object that the
 * evidence calls erased.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_int.h"
#include "common/banned.h"

int cv_archive_erase(struct cv_archive *ar, const uint8_t (*ids)[32], size_t n,
		     const struct cv_index_erase_set *set, const char *actor,
		     struct cv_archive_erase_evidence *ev, struct cv_error *err)
{
	struct cv_index_erased *rows;
	struct cv_error ferr = CV_ERROR_INIT;
	size_t i;
	int ret, failed = 0;

	memset(ev, 0, sizeof(*ev));
	if (!actor || !*actor)
		return cv_error_set(err, CV_EINVAL,
				    "an erase must name who asked for it");
	rows = cv_calloc(n ? n : 1, sizeof(*rows));
	/* 1: the keys, all or none, committed before any file is touched. */
	ret = cv_index_object_erase(ar->ix, ids, n, set, actor, rows, err);
	if (ret < 0)
		goto cleanup;
	ev->items = cv_calloc(n ? n : 1, sizeof(*ev->items));
	ev->n = n;
	if (n)
		snprintf(ev->at, sizeof(ev->at), "%s", rows[0].erased_at);
	/* 2: the bytes. An already erased object may still have its file
	 * when an earlier erase was interrupted here. */
	for (i = 0; i < n; i++) {
		struct cv_archive_erase_item *it = &ev->items[i];
		char hex[CV_ARCHIVE_OID_HEXLEN + 1];
		char *path;

		it->row = rows[i];
		if (rows[i].outcome == CV_INDEX_ERASE_DONE)
			ev->erased++;
		else if (rows[i].outcome == CV_INDEX_ERASE_REFERENCED)
			ev->kept++;
		if (rows[i].outcome != CV_INDEX_ERASE_DONE &&
		    rows[i].outcome != CV_INDEX_ERASE_ALREADY)
			continue;
		cv_archive_oid_format(hex, rows[i].id);
		path = cv_archive__object_path(ar, hex, rows[i].gen);
		if (cv_archive__shred(path, &it->file_present, &ferr) < 0 &&
		    !failed++)
			cv_error_set(
				err, CV_ERROR,
				"object %s was crypto-erased but its file could not be removed",
				hex);
		if (failed == 1 && ferr.code) {
			cv_error_detail(err, "%s: %s", ferr.msg, ferr.detail);
			cv_error_hint(
				err,
				"'chartvault gc' removes it once the cause is fixed");
			cv_error_clear(&ferr);
		}
		free(path);
	}
	ret = failed ? CV_ERROR : 0;
cleanup:
	free(rows);
	return ret;
}

void cv_archive_erase_evidence_release(struct cv_archive_erase_evidence *ev)
{
	free(ev->items);
	memset(ev, 0, sizeof(*ev));
}
