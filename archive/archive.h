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

/*
 * The key file's secrets as a printable recovery text (format in
 * archive/paper.c and docs/ARCHIVE-FORMAT.md): lines of hexadecimal with
 * a checksum each. *text is in secure memory; release it with
 * cv_archive_secret_text_free(*text, *len). Every copy of the text is a
 * copy of the keys.
 */
int cv_archive_keys_recovery_text(const struct cv_archive_keys *keys,
				  char **text, size_t *len,
				  struct cv_error *err);
/*
 * The same secrets for printing: each split over two lines ("1/2", "2/2",
 * 16 bytes each), every line with its own checksum, so the sheet prints
 * at a readable size. Memory and release as cv_archive_keys_recovery_text.
 */
int cv_archive_keys_recovery_print(const struct cv_archive_keys *keys,
				   char **text, size_t *len,
				   struct cv_error *err);
/* Wipe and free secret text from cv_archive_keys_recovery_text; NULL ok. */
void cv_archive_secret_text_free(char *text, size_t len);
/* 1 when a recovery line's checksum matches (a typo shows as 0). */
int cv_archive_recovery_line_ok(const char *line);

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

/* How one file of cv_archive_put_files went. */
struct cv_archive_put_result {
	uint8_t id[CV_ARCHIVE_OID_LEN]; /* set when code is 0 */
	int is_new;                     /* as cv_archive_put_file's */
	int code;                       /* 0, or the file's enum cv_errcode */
	struct cv_error err;            /* why, when code < 0 */
};

/*
 * Called on the caller's thread for each file, in the order given, once
 * its outcome is final (its row committed, or its failure known). Return
 * 0 to go on, or a negative code to stop: cv_archive_put_files then
 * returns that code once the current batch is done.
 */
typedef int (*cv_archive_put_cb)(void *ctx, size_t i,
				 const struct cv_archive_put_result *res);

/*
 * Store n files as cv_archive_put_file would, faster (put.c): each file is
 * read once into memory (files over 64 MiB are read twice), hashed and
 * encrypted on threads worker threads (0: one per core) while this thread
 * syncs the files and records them, a batch per transaction, with the
 * syncs of a batch shared (the durability argument is in put.c). A file
 * that fails (a reject, CV_EERASED, a full disk) is reported to done and
 * the others go on; of several copies of the same bytes, the first in
 * paths order is the new one. With actor not NULL each file gets an
 * "object.put" audit row in the same transaction as its object row.
 * Returns 0 when every file was reported, the callback's code when it
 * stopped (files in flight are then dropped, or stay recorded without
 * being reported), or < 0 with err when the store or the index failed;
 * a re-run completes what was not reported.
 */
int cv_archive_put_files(struct cv_archive *ar, const char *const *paths,
			 size_t n, const char *kind, int threads,
			 const char *actor, cv_archive_put_cb done, void *ctx,
			 struct cv_error *err);

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

/* How one object of cv_archive_get_many_mem went. */
struct cv_archive_get_result {
	int code;            /* 0, or the object's enum cv_errcode */
	struct cv_error err; /* why, when code < 0 */
};

/*
 * Read objects into memory as cv_archive_get_mem would, several at once:
 * the index is asked on the caller's thread, and the files are
 * authenticated and decrypted on threads threads (0: one per core). From
 * the front of ids, it takes objects while their plaintext adds up to at
 * most max_bytes (always at least one; an object over max_bytes alone
 * fails with CV_ELIMIT) and sets *taken to how many; outs[i] and res[i]
 * (caller's arrays of n) receive each one's bytes or failure. Returns < 0
 * with err only when the index or the keys fail, and then takes none.
 */
int cv_archive_get_many_mem(struct cv_archive *ar,
			    const uint8_t (*ids)[CV_ARCHIVE_OID_LEN], size_t n,
			    size_t max_bytes, int threads, struct cv_buf *outs,
			    struct cv_archive_get_result *res, size_t *taken,
			    struct cv_error *err);

/* ---------------------------------------------------------------------
 * Fixity (fixity.c): reconcile the index with the store, and prove that
 * stored files are intact.
 */

struct cv_archive_verify_opts {
	/*
	 * 0: keyless; each selected file's size and SHA-256 against what the
	 * index recorded at write time. 1: decrypt and authenticate every
	 * chunk and recompute the keyed id (needs the keys).
	 */
	int full;
	int sample_pct;    /* 1..100, see cv_index_object_filter */
	const char *since; /* see cv_index_object_filter; NULL: all */
	int threads;       /* 0: one per core */
	const char *actor; /* recorded with the run */
	int record;        /* record the run in the index */
};

/* clang-format off */
#define CV_ARCHIVE_VERIFY_OPTS_INIT { 0, 100, NULL, 0, "chartvault", 1 }
/* clang-format on */

struct cv_archive_verify_report {
	int64_t run_id;  /* 0 when not recorded */
	int64_t objects; /* rows in the catalogue */
	int64_t selected, intact, failed, missing, erased, orphans, temp_files;
	uint64_t bytes; /* stored bytes read */
	uint64_t ms;    /* wall time of the checks */
	/* Every problem, by id or file; malloc'd, n of them. */
	struct cv_index_verify_finding *findings;
	size_t nfindings;
};

/*
 * Verify the store. Every live row is looked for in the store (missing),
 * every file in the store is looked for in the index (orphan, or temp for
 * a leftover temp file), and the rows the options select are checked, on
 * o->threads threads. Findings are in rep, not in the return code: 0 means
 * the run completed (rep says whether everything was intact), < 0 that it
 * could not run (CV_EUNAVAIL for --full without keys). With o->record the
 * run, its findings and the proof time of each intact object are recorded
 * in the index. rep is the caller's; release it with
 * cv_archive_verify_report_release.
 */
int cv_archive_verify(struct cv_archive *ar,
		      const struct cv_archive_verify_opts *o,
		      struct cv_archive_verify_report *rep,
		      struct cv_error *err);
void cv_archive_verify_report_release(struct cv_archive_verify_report *rep);

struct cv_archive_gc_opts {
	int64_t grace_s; /* only files older than this many seconds */
	int dry_run;     /* report, remove nothing */
};

struct cv_archive_gc_report {
	size_t removed; /* orphans and temp files removed (or that would be) */
	size_t young;   /* left alone: within the grace period */
	uint64_t bytes; /* their size */
	char **files;   /* names relative to objects/, malloc'd */
	size_t nfiles;
};

/*
 * Remove files that no live index row names (orphans left by a crash or a
 * lost race, files of erased objects) and leftover temp files, once they
 * are older than the grace period. Holds the store's writer lock
 * exclusively while it works, and refuses (CV_EUNAVAIL) while any process
 * on this host is writing; the grace period covers writers on other hosts
 * sharing the store. Needs no keys.
 */
int cv_archive_gc(struct cv_archive *ar, const struct cv_archive_gc_opts *o,
		  struct cv_archive_gc_report *rep, struct cv_error *err);
void cv_archive_gc_report_release(struct cv_archive_gc_report *rep);

/* ---------------------------------------------------------------------
 * Crypto-erase (erase.c): the primitive that destruction of records is
 * built on.
 */

struct cv_archive_erase_item {
	/* The catalogue's outcome: id, kek_id, key fingerprint, time. */
	struct cv_index_erased row;
	/* The stored file was there, and was overwritten and removed. */
	int file_present;
};

struct cv_archive_erase_evidence {
	char at[40]; /* when the keys were destroyed, ISO 8601 UTC */
	size_t erased, kept;
	struct cv_archive_erase_item *items; /* n, in the order given */
	size_t n;
};

/*
 * Crypto-erase n objects, in this order: (1) destroy their wrapped data
 * keys in one committed transaction (with an audit row each, by actor);
 * (2) overwrite and unlink each stored file and sync its folder; (3) fill
 * ev with the evidence. An object that a source_files or pages row outside
 * set references is kept, and ev says which record holds it; set may be
 * NULL (nothing is being destroyed besides the objects). Already erased
 * and unknown ids are reported, not errors. Needs no keys. Afterwards
 * cv_archive_get of an erased id fails with CV_EERASED and verify does not
 * count it as missing.
 *
 * When step 2 fails for a file, the keys stay destroyed, ev is still
 * complete, and CV_ERROR names the file (gc removes it later). ev is the
 * caller's; release it with cv_archive_erase_evidence_release.
 */
int cv_archive_erase(struct cv_archive *ar, const uint8_t (*ids)[32], size_t n,
		     const struct cv_index_erase_set *set, const char *actor,
		     struct cv_archive_erase_evidence *ev,
		     struct cv_error *err);
void cv_archive_erase_evidence_release(struct cv_archive_erase_evidence *ev);

/* ---------------------------------------------------------------------
 * Key management (rotate.c). Every copy of the key file (backups, the
 * paper sheet of cv_archive_keys_paper) is a copy of the keys: an object
 * is only crypto-erased once every copy of the KEK that wrapped its data
 * key, or every copy of the index row holding the wrapped key, is gone.
 */

struct cv_archive_rotate_report {
	int resumed;         /* an interrupted rotation was completed */
	int64_t rotation_id; /* key_rotations row */
	int64_t rewrapped;   /* data keys rewrapped by this call */
	char new_kek[17];    /* hex id of the new KEK */
	size_t nretired;     /* old KEKs destroyed */
	char retired[8][17]; /* their hex ids */
};

/*
 * Rotate the key-encryption key of the key file at path: add a new KEK
 * first in the file (atomically), rewrap every live data key under it in
 * small committed batches, retire the old KEKs in the index (so a process
 * still holding one cannot wrap new keys under it), and rewrite the key
 * file without them, shredding the old file. At every step every object
 * stays readable with the key file on disk. A key file that already holds
 * several KEKs is an interrupted rotation, which this completes. The
 * passphrase (NULL when the file has none) is needed to reseal the file.
 */
int cv_archive_keys_rotate(struct cv_index *ix, const char *path,
			   const char *passphrase, const char *actor,
			   struct cv_archive_rotate_report *rep,
			   struct cv_error *err);

/*
 * Reseal the key file under a new passphrase (NULL or empty: none), and
 * shred the old file. CV_EMISMATCH when old_pass is wrong.
 */
int cv_archive_keys_passwd(const char *path, const char *old_pass,
			   const char *new_pass, struct cv_error *err);

/* Parse 64 hex digits; CV_EINVAL otherwise. */
int cv_archive_oid_parse(uint8_t id[CV_ARCHIVE_OID_LEN], const char *hex);
/* out must hold CV_ARCHIVE_OID_HEXLEN + 1 bytes. */
void cv_archive_oid_format(char *out, const uint8_t id[CV_ARCHIVE_OID_LEN]);

/*
 * Fill buf with n bytes from libgcrypt's strong generator, for tokens that
 * must not be guessed (sessions, CSRF). cv_archive_global_init first.
 */
void cv_archive_random(void *buf, size_t n);
/* ---------------------------------------------------------------------
 * Destruction of records (destroy.c), built on crypto-erase and the
 * index's destruction batches (index.h, cv_index_destroy_*).
 */

struct cv_archive_destroy_report {
	int64_t batch_id;
	size_t records;   /* in the batch */
	size_t destroyed; /* now destroyed (by this run or an earlier one) */
	size_t held, not_eligible, gone; /* skipped at execution */
	size_t resumed; /* found unlinked: an interrupted run completed */
	size_t objects_erased, objects_kept; /* by this run */
};

/* Told each record's final state, in document order. */
typedef void (*cv_archive_destroy_cb)(void *ctx, int64_t doc_id,
				      const char *state);

/*
 * Execute an approved destruction batch, or resume one that is executing:
 * each pending record is re-checked (hold, eligibility) and unlinked from
 * the index, then its objects are crypto-erased (cv_archive_erase: keys
 * first, then bytes; an object another surviving record still references
 * is kept and says so) and the evidence recorded; then the tables are
 * vacuumed. Returns when every record is final; the certificate is the
 * caller's (cv_index_destroy_finish). On failure the batch stays
 * executing and a re-run resumes it. Needs no keys.
 */
int cv_archive_destroy_execute(struct cv_archive *ar, int64_t batch_id,
			       const char *actor, cv_archive_destroy_cb cb,
			       void *ctx, struct cv_archive_destroy_report *rep,
			       struct cv_error *err);

struct cv_archive_object_state {
	int known;         /* the catalogue has a row for it */
	int key_destroyed; /* its wrapped data key is gone */
	int files_present; /* files of the id in the store (any generation) */
};

/* Whether an object is gone: for verifying certificates. Needs no keys. */
int cv_archive_object_state(struct cv_archive *ar,
			    const uint8_t id[CV_ARCHIVE_OID_LEN],
			    struct cv_archive_object_state *st,
			    struct cv_error *err);

/*
 * Sign a document of any size (a certificate): Ed25519 over the label
 * "chartvault-signed-document-v1\n" followed by the SHA-512 of msg. Verify
 * returns 0 or CV_EMISMATCH.
 */
int cv_archive_sign_document(const struct cv_archive_keys *keys,
			     const void *msg, size_t n, uint8_t sig[64],
			     struct cv_error *err);
int cv_archive_verify_document(const uint8_t pub[32], const void *msg, size_t n,
			       const uint8_t sig[64], struct cv_error *err);

/* The libgcrypt version in use, for certificates ("1.10.1"). */
const char *cv_archive_crypto_version(void);
/* ---------------------------------------------------------------------
 * Passwords for signing in (archive/password.c)
 */

/*
 * Hash a password with Argon2id (16-byte random salt, t=3, m=64 MiB,
 * p=1) into a PHC string "$argon2id$v=19$m=..,t=..,p=..$salt$hash";
 * *phc is malloc'd. CV_EINVAL for an empty or over-long password.
 */
int cv_archive_password_hash(char **phc, const char *password,
			     struct cv_error *err);
/*
 * Check a password against a stored PHC string: 0 when it matches,
 * CV_EMISMATCH when not, CV_EINVAL when the string is malformed or asks
 * for more than bounded cost. Constant time in the comparison.
 */
int cv_archive_password_verify(const char *phc, const char *password,
			       struct cv_error *err);

/* ---------------------------------------------------------------------
 * The audit trail's checkpoints and verification (archive/auditlog.c).
 * The chain itself is index/'s (index.h, "The audit trail").
 */

struct cv_archive_audit_cp_opts {
	int force;             /* sign now if there is anything new */
	int64_t every_rows;    /* due when this many rows are unvouched */
	int64_t every_minutes; /* due when the last one is this old */
};

/*
 * Sign a checkpoint of the chain's head if one is due (or forced and the
 * chain grew since the last), record it in the database and append it to
 * file (created, with its folder, when missing; fsynced), under a lock so
 * that concurrent callers sign each head once. Must not be called inside
 * a transaction. *written says whether one was made; *out (may be NULL)
 * receives it.
 */
int cv_archive_audit_checkpoint(struct cv_index *ix,
				const struct cv_archive_keys *keys,
				const char *file,
				const struct cv_archive_audit_cp_opts *o,
				struct cv_index_audit_checkpoint *out,
				int *written, struct cv_error *err);

#define CV_ARCHIVE_AUDIT_PROBLEMS_MAX 100

struct cv_archive_audit_problem {
	int64_t seq; /* the row or checkpoint seq, 0 when none */
	int64_t id;  /* the row's id, 0 when none */
	char what[400];
};

struct cv_archive_audit_report {
	int64_t rows;     /* chained rows read */
	int64_t unsealed; /* rows without seq */
	int64_t head_seq;
	uint8_t head_hash[32];
	size_t checkpoints_file, checkpoints_table, checkpoints_ok;
	int file_missing;
	/* The first CV_ARCHIVE_AUDIT_PROBLEMS_MAX, in chain order. */
	struct cv_archive_audit_problem *problems;
	size_t nproblems;
	size_t total_problems; /* 0: the trail is intact */
};

/*
 * Recompute the whole chain (SHA-256 here, not on the server) and hold it
 * against every checkpoint in file and in the database, each checked
 * against pub (the archive's public key). Returns 0 when the check ran,
 * whatever it found: rep->total_problems is 0 only when every row is
 * intact and in place and every checkpoint is signed and matches.
 */
int cv_archive_audit_verify(struct cv_index *ix, const uint8_t pub[32],
			    const char *file,
			    struct cv_archive_audit_report *rep,
			    struct cv_error *err);
void cv_archive_audit_report_release(struct cv_archive_audit_report *rep);

#endif
