/*
 * archive: the content-addressed, encrypted object store, and the only
 * code that calls libgcrypt.
 *
 * An object's id is HMAC-SHA256(id key, plaintext), so identical bytes are
 * stored once and someone holding only the index cannot confirm known
 * content. Each object is encrypted with AES-256-GCM under its own random
 * data key, in authenticated chunks with the id and the header bound in
 * as associated data. The data key is wrapped (AES key wrap, RFC 3394) by
 * the key-encryption key from the key file and recorded in the index
 * (index.h, cv_index_object_*), never beside the file. The on-disk format
 * is in docs/ARCHIVE-FORMAT.md and archive_int.h.
 *
 * Files are written atomically and durably: temp file, fsync, rename,
 * fsync of the folder, and only then recorded in the index. A crash leaves
 * at worst an unreferenced file, never an index row without its bytes.
 *
 * Thread safety: a struct cv_archive_keys may be shared by threads once
 * loaded. A struct cv_archive borrows one cv_index connection and must be
 * used from one thread at a time.
 */
#ifndef CV_ARCHIVE_H
#define CV_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cv.h"
#include "../index/index.h"

#define CV_ARCHIVE_OID_LEN    32
#define CV_ARCHIVE_OID_HEXLEN 64

struct cv_archive_keys;
struct cv_archive;

/* Initialise libgcrypt (secure memory, self-tests); call once at start. */
int cv_archive_global_init(struct cv_error *err);

/* ---------------------------------------------------------------------
 * The key file: the id key, the key-encryption key (with its id) and the
 * Ed25519 signing key, held in gcry_malloc_secure memory.
 */

/*
 * Create a key file at path with fresh random secrets, mode 0600,
 * refusing (CV_EEXISTS) to replace one. With a passphrase (not NULL, not
 * empty) the secrets are sealed under a key derived with Argon2id.
 */
int cv_archive_keys_create(const char *path, const char *passphrase,
			   struct cv_error *err);

/* 1 if the key file at path is passphrase-protected, 0 if not. */
int cv_archive_keys_need_passphrase(const char *path, int *need,
				    struct cv_error *err);

/*
 * Load a key file. CV_EUNAVAIL when it is missing or unreadable,
 * CV_EMISMATCH when the passphrase is wrong, CV_EINVAL when a passphrase
 * is needed but none was given or the file is malformed. The passphrase
 * is never copied into an error message.
 */
int cv_archive_keys_load(struct cv_archive_keys **out, const char *path,
			 const char *passphrase, struct cv_error *err);
/* Wipe and free; NULL is fine. */
void cv_archive_keys_free(struct cv_archive_keys *keys);

/* Ed25519 signature of msg with the archive's signing key. */
int cv_archive_sign(const struct cv_archive_keys *keys, const void *msg,
		    size_t n, uint8_t sig[64], struct cv_error *err);
/* The archive's Ed25519 public key. */
void cv_archive_public_key(const struct cv_archive_keys *keys, uint8_t pub[32]);
/* Verify a signature against a public key: 0, or CV_EMISMATCH. */
int cv_archive_verify_signature(const uint8_t pub[32], const void *msg,
				size_t n, const uint8_t sig[64],
				struct cv_error *err);

/* ---------------------------------------------------------------------
 * The store: <archive>/objects/<first two hex digits>/<id hex>.<gen hex>
 */

/* Create the store's folders under archive_dir (idempotent). */
int cv_archive_store_init(const char *archive_dir, struct cv_error *err);

/*
 * Open the store under archive_dir. keys and ix are borrowed and must
 * outlive the store; keys may be NULL for work that needs no key (none
 * yet), in which case put and get fail with CV_EUNAVAIL.
 */
int cv_archive_open(struct cv_archive **out, const char *archive_dir,
		    const struct cv_archive_keys *keys, struct cv_index *ix,
		    struct cv_error *err);
void cv_archive_free(struct cv_archive *ar);

/*
 * Store the bytes of the file at path (read twice: once for the id, once
 * to encrypt; never more than a chunk in memory). kind is recorded in the
 * index ("original", "text", "words", ...). *is_new (may be NULL) is 1 when
 * these bytes were not stored before. Identical bytes are stored once.
 * Bytes whose object was crypto-erased are refused with CV_EERASED: an
 * erased record is not brought back by feeding its scan in again.
 */
int cv_archive_put_file(struct cv_archive *ar, const char *path,
			const char *kind, uint8_t id[CV_ARCHIVE_OID_LEN],
			int *is_new, struct cv_error *err);
/* Store n bytes from memory; as cv_archive_put_file. */
int cv_archive_put_mem(struct cv_archive *ar, const void *data, size_t n,
		       const char *kind, uint8_t id[CV_ARCHIVE_OID_LEN],
		       int *is_new, struct cv_error *err);

/*
 * Write an object's plaintext to fd. Each chunk is authenticated before
 * any of its bytes are written; a failure (CV_EMISMATCH, naming the id)
 * may therefore come after earlier chunks were written, so callers that
 * must not see partial output write to a temp file first. CV_ENOTFOUND
 * for an unknown id, CV_EERASED for an erased one.
 */
int cv_archive_get_fd(struct cv_archive *ar,
		      const uint8_t id[CV_ARCHIVE_OID_LEN], int fd,
		      struct cv_error *err);
/* Append a whole object to out, capped at max bytes (CV_ELIMIT). */
int cv_archive_get_mem(struct cv_archive *ar,
		       const uint8_t id[CV_ARCHIVE_OID_LEN], struct cv_buf *out,
		       size_t max, struct cv_error *err);

/* Parse 64 hex digits; CV_EINVAL otherwise. */
int cv_archive_oid_parse(uint8_t id[CV_ARCHIVE_OID_LEN], const char *hex);
/* out must hold CV_ARCHIVE_OID_HEXLEN + 1 bytes. */
void cv_archive_oid_format(char *out, const uint8_t id[CV_ARCHIVE_OID_LEN]);

#endif
