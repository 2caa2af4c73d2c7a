/*
 * Destruction of records, the archive's half: runs a destruction batch's
 * records through the index's state machine (index/destroy.c) and the
 * crypto-erase primitive (erase.c), and answers, for a certificate's
 * verification, whether an object is really gone.
 *
 * Per record: unlink (one index transaction: re-check hold and
 * eligibility, capture the objects and their key fingerprints, write the
 * ghost, delete the rows), then erase the captured objects (keys in one
 * committed transaction, then the files), then record the evidence. A run
 * stopped anywhere is resumed by running it again: pending records are
 * decided afresh, unlinked ones have their erase (re)done.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_int.h"
#include "common/banned.h"

/* Erase the captured objects of an unlinked record and record it. */
static int erase_record(struct cv_archive *ar, int64_t batch_id, int64_t doc_id,
			const char *actor,
			struct cv_archive_destroy_report *rep,
			struct cv_error *err)
{
	struct cv_index_destroy_object *objs = NULL;
	struct cv_archive_erase_evidence ev;
	struct cv_index_erased *rows = NULL;
	uint8_t(*ids)[32] = NULL;
	int *present = NULL;
	size_t n = 0, i;
	int ret;

	memset(&ev, 0, sizeof(ev));
	ret = cv_index_destroy_objects(ar->ix, batch_id, doc_id, &objs, &n,
				       err);
	if (ret < 0)
		return ret;
	ids = cv_calloc(n ? n : 1, sizeof(*ids));
	for (i = 0; i < n; i++)
		memcpy(ids[i], objs[i].id, 32);
	ret = cv_archive_erase(ar, (const uint8_t(*)[32])ids, n, NULL, actor,
			       &ev, err);
	if (ret < 0) {
		/* Keys may be gone and a file left: the record stays
		 * unlinked, and a re-run shreds what is left. */
		cv_error_prefix(err, "document %" PRId64, doc_id);
		goto cleanup;
	}
	rows = cv_calloc(n ? n : 1, sizeof(*rows));
	present = cv_calloc(n ? n : 1, sizeof(*present));
	for (i = 0; i < n; i++) {
		rows[i] = ev.items[i].row;
		present[i] = ev.items[i].file_present;
		if (rows[i].outcome == CV_INDEX_ERASE_REFERENCED)
			rep->objects_kept++;
		else
			rep->objects_erased++;
	}
	ret = cv_index_destroy_erased(ar->ix, batch_id, doc_id, rows, present,
				      n, err);
cleanup:
	cv_archive_erase_evidence_release(&ev);
	free(objs);
	free(ids);
	free(rows);
	free(present);
	return ret;
}

int cv_archive_destroy_execute(struct cv_archive *ar, int64_t batch_id,
			       const char *actor, cv_archive_destroy_cb cb,
			       void *ctx, struct cv_archive_destroy_report *rep,
			       struct cv_error *err)
{
	struct cv_index_destroy_batch b;
	struct cv_index_destroy_item *items = NULL;
	size_t n = 0, i;
	int ret;

	memset(rep, 0, sizeof(*rep));
	rep->batch_id = batch_id;
	ret = cv_index_destroy_start(ar->ix, batch_id, actor, err);
	if (ret == 0)
		ret = cv_index_destroy_get(ar->ix, batch_id, &b, &items, &n,
					   err);
	if (ret < 0)
		return ret;
	rep->records = n;
	for (i = 0; i < n; i++) {
		struct cv_index_destroy_item *it = &items[i];
		char state[16];

		snprintf(state, sizeof(state), "%s", it->state);
		if (!strcmp(state, "unlinked"))
			rep->resumed++;
		if (!strcmp(state, "pending")) {
			ret = cv_index_destroy_unlink(ar->ix, batch_id,
						      it->document_id, actor,
						      state, err);
			if (ret < 0)
				goto cleanup;
		}
		if (!strcmp(state, "unlinked")) {
			ret = erase_record(ar, batch_id, it->document_id, actor,
					   rep, err);
			if (ret < 0)
				goto cleanup;
			snprintf(state, sizeof(state), "destroyed");
		}
		if (!strcmp(state, "destroyed"))
			rep->destroyed++;
		else if (!strcmp(state, "held"))
			rep->held++;
		else if (!strcmp(state, "not-eligible"))
			rep->not_eligible++;
		else
			rep->gone++;
		if (cb)
			cb(ctx, it->document_id, state);
	}
	ret = cv_index_destroy_vacuum(ar->ix, err);
cleanup:
	free(items);
	return ret;
}

int cv_archive_object_state(struct cv_archive *ar,
			    const uint8_t id[CV_ARCHIVE_OID_LEN],
			    struct cv_archive_object_state *st,
			    struct cv_error *err)
{
	struct cv_index_object obj;
	char hex[CV_ARCHIVE_OID_HEXLEN + 1], sub[3];
	struct dirent *de;
	char *dir;
	DIR *d;
	int ret;

	memset(st, 0, sizeof(*st));
	cv_archive_oid_format(hex, id);
	ret = cv_index_object_find(ar->ix, id, &obj, err);
	if (ret == CV_ENOTFOUND) {
		cv_error_clear(err);
	} else if (ret < 0) {
		return ret;
	} else {
		st->known = 1;
		st->key_destroyed = obj.erased;
	}
	/* Any file of the id, whatever writer generation named it. */
	memcpy(sub, hex, 2);
	sub[2] = '\0';
	dir = cv_path_join(ar->objects, sub);
	d = opendir(dir);
	if (!d) {
		ret = errno == ENOENT
			      ? 0
			      : cv_error_errno(
					err, CV_EUNAVAIL,
					"could not read the store folder '%s'",
					dir);
		free(dir);
		return ret;
	}
	while ((de = readdir(d)) != NULL)
		if (!strncmp(de->d_name, hex, CV_ARCHIVE_OID_HEXLEN) &&
		    de->d_name[CV_ARCHIVE_OID_HEXLEN] == '.')
			st->files_present++;
	closedir(d);
	free(dir);
	return 0;
}

const char *cv_archive_crypto_version(void)
{
	return gcry_check_version(NULL);
}

/*
 * Documents (certificates) are signed through a digest: Ed25519 over a
 * fixed label and the SHA-512 of the document. A certificate of thousands
 * of records runs to megabytes, and libgcrypt's pure EdDSA takes the whole
 * message into an s-expression built in secure memory; the digest keeps
 * that small whatever the document's size. The label keeps a document
 * signature from ever being taken for a signature of anything else.
 */
#define DOC_LABEL "chartvault-signed-document-v1\n"

static void doc_preimage(uint8_t out[sizeof(DOC_LABEL) - 1 + 64],
			 const void *msg, size_t n)
{
	memcpy(out, DOC_LABEL, sizeof(DOC_LABEL) - 1);
	gcry_md_hash_buffer(GCRY_MD_SHA512, out + sizeof(DOC_LABEL) - 1, msg,
			    n);
}

int cv_archive_sign_document(const struct cv_archive_keys *keys,
			     const void *msg, size_t n, uint8_t sig[64],
			     struct cv_error *err)
{
	uint8_t pre[sizeof(DOC_LABEL) - 1 + 64];

	doc_preimage(pre, msg, n);
	return cv_archive_sign(keys, pre, sizeof(pre), sig, err);
}

int cv_archive_verify_document(const uint8_t pub[32], const void *msg, size_t n,
			       const uint8_t sig[64], struct cv_error *err)
{
	uint8_t pre[sizeof(DOC_LABEL) - 1 + 64];

	doc_preimage(pre, msg, n);
	return cv_archive_verify_signature(pub, pre, sizeof(pre), sig, err);
}
