/*
 * archive's internal header: the on-disk formats, the layout of the key
 * holder, and the functions the module's files share. No other module
 * includes it; the unit tests do, to reach the crypto core without a
 * database. docs/ARCHIVE-FORMAT.md describes the same formats for someone
 * writing an independent reader; change both together.
 *
 * All integers on disk are unsigned and big-endian.
 *
 * The key file (keys.c)
 * ---------------------
 *
 *   offset size  field
 *   ------ ----  -----------------------------------------------------
 *        0    8  magic "CVKEY\0\r\n" (43 56 4b 45 59 00 0d 0a)
 *        8    1  format version, 1
 *        9    1  kdf: 0 none, 1 Argon2id
 *       10    2  reserved, 0
 *       12    4  Argon2id passes t          (0 when kdf is none)
 *       16    4  Argon2id memory m, in KiB  (0 when kdf is none)
 *       20    4  Argon2id parallelism p     (0 when kdf is none)
 *       24   16  Argon2id salt              (zeros when kdf is none)
 *       40   12  AES-256-GCM nonce          (zeros when kdf is none)
 *       52    4  payload length L, 1..CV_ARCHIVE_KEYS_PAYLOAD_MAX
 *       56    L  payload: entries, sealed when kdf is Argon2id
 *     56+L   16  check: the GCM tag when sealed, else the first 16 bytes
 *                of SHA-256(bytes 0 .. 56+L-1)
 *
 * Sealing: key = Argon2id(passphrase, salt, t, m, p, 32 bytes); payload
 * encrypted with AES-256-GCM under key and the header's nonce, the 56
 * header bytes as associated data. The file is exactly 72+L bytes.
 *
 * A payload entry:
 *
 *   offset size  field
 *   ------ ----  -----------------------------------------------------
 *        0    1  type (enum cv_archive__key_entry)
 *        1    2  value length V
 *        3    V  value
 *
 *   type  V   value
 *   ----  --  ---------------------------------------------------------
 *      1  32  the HMAC-SHA256 id key                      exactly once
 *      2  40  a KEK: 8-byte KEK id, then the 32-byte key  1..KEK_MAX
 *      3  32  the Ed25519 secret seed (RFC 8032)          exactly once
 *
 * The first KEK entry is the current one, which wraps new data keys; the
 * others (during a key rotation) only unwrap. KEK ids are distinct.
 * Unknown entry types are refused: a reader must not drop a secret it
 * does not understand when it rewrites the file.
 *
 * An object file (stream.c)
 * -------------------------
 *
 * objects/<first two hex digits of id>/<64 hex id>.<16 hex gen>, where
 * gen is a random 63-bit number (top bit 0, as the index keeps it in a
 * signed bigint) chosen per writer, so two writers of the same bytes
 * never share a file name. Temp files are tmp-<64 hex id>.<16 hex gen>-XXXXXX
 * in the same folder, so the rename that publishes a file never crosses file
 * systems.
 *
 *   offset size  field
 *   ------ ----  -----------------------------------------------------
 *        0    8  magic "CVOBJ\0\r\n" (43 56 4f 42 4a 00 0d 0a)
 *        8    1  format version, 1
 *        9    1  suite: 1 = AES-256-GCM STREAM, 16-byte tags
 *       10    1  chunk shift s: plaintext chunk size C = 2^s, 12..24
 *       11    1  reserved, 0
 *       12    8  plaintext size P
 *       20    7  nonce prefix, random per object
 *       27    5  reserved, 0
 *       32       chunks
 *
 * P bytes of plaintext are cut into N = max(1, ceil(P / C)) chunks of C
 * bytes, the last one holding the rest (0 bytes only when P is 0). Chunk
 * i (from 0) is stored as its ciphertext followed by its 16-byte tag, so
 * the file is exactly 32 + P + 16 * N bytes. Chunk i is encrypted under
 * the object's data key with
 *
 *   nonce = prefix (7) || i (4, big-endian) || last (1: 1 on chunk N-1,
 *           else 0)
 *   associated data = the 32 header bytes || the 32-byte object id
 *
 * so a chunk cannot be moved, dropped, repeated, cut short or grafted
 * into another object without failing its tag.
 *
 * Index row (index.h, struct cv_index_object): id, gen, kind, the KEK id
 * and the data key wrapped under that KEK with AES key wrap (RFC 3394,
 * default IV, 40 bytes), P as size, the file's length as stored_size and
 * the SHA-256 of the file's bytes as stored_sha256.
 */
#ifndef CV_ARCHIVE_INT_H
#define CV_ARCHIVE_INT_H

#include <gcrypt.h>

#include "archive.h"

#define CV_ARCHIVE_KEY_LEN     32 /* AES-256, HMAC and Ed25519 secrets */
#define CV_ARCHIVE_KEKID_LEN   CV_INDEX_KEKID_LEN
#define CV_ARCHIVE_WRAPPED_LEN CV_INDEX_WRAPKEY_LEN
#define CV_ARCHIVE_TAG_LEN     16
#define CV_ARCHIVE_NONCE_LEN   12

/* Key file */
#define CV_ARCHIVE_KEYS_MAGIC       "CVKEY\0\r\n"
#define CV_ARCHIVE_KEYS_VERSION     1
#define CV_ARCHIVE_KEYS_HEADER_LEN  56
#define CV_ARCHIVE_KEYS_SALT_LEN    16
#define CV_ARCHIVE_KEYS_PAYLOAD_MAX 4096
#define CV_ARCHIVE_KEYS_FILE_MAX                                    \
	(CV_ARCHIVE_KEYS_HEADER_LEN + CV_ARCHIVE_KEYS_PAYLOAD_MAX + \
	 CV_ARCHIVE_TAG_LEN)
#define CV_ARCHIVE_KEK_MAX 8

enum cv_archive__kdf {
	CV_ARCHIVE_KDF_NONE = 0,
	CV_ARCHIVE_KDF_ARGON2ID = 1,
};

enum cv_archive__key_entry {
	CV_ARCHIVE_ENTRY_ID_KEY = 1,
	CV_ARCHIVE_ENTRY_KEK = 2,
	CV_ARCHIVE_ENTRY_SIGN_SEED = 3,
};

/*
 * Argon2id cost. The defaults take about 0.2 s on one core of the 2-core
 * machines we run on: slow enough to make guessing a passphrase costly,
 * fast enough for a command that asks for it. Loading refuses parameters
 * past the maxima, so a forged key file cannot make us allocate gigabytes.
 */
struct cv_archive__kdf_params {
	uint32_t t;     /* passes */
	uint32_t m_kib; /* memory */
	uint32_t p;     /* lanes */
};

#define CV_ARCHIVE_ARGON2_T     3
#define CV_ARCHIVE_ARGON2_M_KIB (64 * 1024)
#define CV_ARCHIVE_ARGON2_P     1
#define CV_ARCHIVE_ARGON2_T_MAX 64
#define CV_ARCHIVE_ARGON2_M_MAX (4 * 1024 * 1024)
#define CV_ARCHIVE_ARGON2_P_MAX 16

/* Object file */
#define CV_ARCHIVE_OBJ_MAGIC       "CVOBJ\0\r\n"
#define CV_ARCHIVE_OBJ_VERSION     1
#define CV_ARCHIVE_OBJ_SUITE       1
#define CV_ARCHIVE_OBJ_HEADER_LEN  32
#define CV_ARCHIVE_OBJ_PREFIX_LEN  7
#define CV_ARCHIVE_CHUNK_SHIFT     20 /* 1 MiB: one read, one write */
#define CV_ARCHIVE_CHUNK_SHIFT_MIN 12
#define CV_ARCHIVE_CHUNK_SHIFT_MAX 24
#define CV_ARCHIVE_OBJECTS_DIR     "objects"

struct cv_archive__kek {
	uint8_t id[CV_ARCHIVE_KEKID_LEN];
	uint8_t key[CV_ARCHIVE_KEY_LEN];
};

/*
 * The loaded secrets. The whole struct lives in gcry_malloc_secure memory
 * (locked when the system allows it, wiped when freed), so every field is
 * a secret except sign_pub.
 */
struct cv_archive_keys {
	uint8_t id_key[CV_ARCHIVE_KEY_LEN];
	uint8_t sign_seed[CV_ARCHIVE_KEY_LEN];
	uint8_t sign_pub[32];
	size_t nkeks;
	struct cv_archive__kek keks[CV_ARCHIVE_KEK_MAX]; /* [0] is current */
	/* How the file was sealed (t 0: not sealed); kept when rewritten. */
	struct cv_archive__kdf_params kdf;
};

struct cv_archive {
	char *dir;
	char *objects; /* <dir>/objects */
	const struct cv_archive_keys *keys;
	struct cv_index *ix;
	/*
	 * Fan-out folders whose entry in objects/ this process has made
	 * durable. One bit per folder, so each is synced at most once.
	 */
	uint8_t fanout_synced[256 / 8];
	/*
	 * A shared flock on objects/.lock, taken before the first write and
	 * held until the store is freed: gc takes it exclusively, so it never
	 * removes a file that a live writer has not recorded yet. -1: none.
	 */
	int lock_fd;
};

#define CV_ARCHIVE_LOCK_FILE  ".lock"
#define CV_ARCHIVE_TMP_PREFIX "tmp-"

/* --- store.c ---------------------------------------------------------- */

/* objects/<2 hex>/<id hex>.<gen hex>, malloc'd. */
char *cv_archive__object_path(const struct cv_archive *ar, const char *hex,
			      uint64_t gen);
/* CV_EUNAVAIL unless the store was opened with keys holding a KEK. */
int cv_archive__need_keys(const struct cv_archive *ar, struct cv_error *err);
/* objects/<2 hex>, malloc'd. */
char *cv_archive__fanout_path(const struct cv_archive *ar, const char *hex);
/* The KEK whose id is kek_id, or NULL. */
const struct cv_archive__kek *
cv_archive__find_kek(const struct cv_archive_keys *k, const uint8_t *kek_id);
/* Take the writers' shared lock (once per store). */
int cv_archive__lock_shared(struct cv_archive *ar, struct cv_error *err);
/*
 * Overwrite a file's bytes with zeros, sync, unlink it and sync its
 * folder. *present says whether it was there. Used for the files of
 * erased objects and for the retired key file.
 */
int cv_archive__shred(const char *path, int *present, struct cv_error *err);

/* --- put.c ------------------------------------------------------------ */

/*
 * Files up to this size are read once into memory by
 * cv_archive_put_files; larger ones are read twice (hash, then encrypt
 * with the id rechecked). 64 MiB; the unit tests lower it to reach the
 * second path with small files.
 */
extern size_t cv_archive__put_mem_max;

/* --- keys.c: rewriting the key file (rotate.c) ------------------------- */

/*
 * Replace the key file at path with k, sealed under passphrase (NULL or
 * empty: not sealed) with k->kdf's costs (defaults when k->kdf.t is 0),
 * and destroy the old file's bytes: it is linked aside first, the new file
 * renamed into place, then the old one shredded. A crash leaves the old or
 * the new file at path, and at worst path.retired beside it, which the
 * next rewrite removes.
 */
int cv_archive__keys_rewrite(const char *path, const struct cv_archive_keys *k,
			     const char *passphrase, struct cv_error *err);

/* --- crypto.c ------------------------------------------------------- */

/*
 * Set err from a libgcrypt error: the message from fmt, gcry_strsource
 * and gcry_strerror in detail. Returns code.
 */
int cv_archive__error_gcry(struct cv_error *err, int code, gcry_error_t e,
			   const char *fmt, ...) CV_PRINTF(4, 5);

/* CV_ERROR unless cv_archive_global_init has run. */
int cv_archive__need_init(struct cv_error *err);

/* A 32-byte secret in secure memory; NULL only when it is exhausted. */
uint8_t *cv_archive__secret_new(void);
/* Wipe and free a secret of len bytes; NULL is fine. */
void cv_archive__secret_free(void *p, size_t len);

/* Open HMAC-SHA256 under key, with its state in secure memory. */
int cv_archive__hmac_open(gcry_mac_hd_t *out, const uint8_t *key,
			  struct cv_error *err);

/*
 * Wrap a 32-byte data key under kek (RFC 3394), or unwrap it. Unwrapping
 * fails with CV_EMISMATCH when the integrity check fails (wrong KEK or a
 * damaged wrapped key).
 */
int cv_archive__wrap(uint8_t out[CV_ARCHIVE_WRAPPED_LEN], const uint8_t *kek,
		     const uint8_t *data_key, struct cv_error *err);
int cv_archive__unwrap(uint8_t *data_key, const uint8_t *kek,
		       const uint8_t in[CV_ARCHIVE_WRAPPED_LEN],
		       struct cv_error *err);

/* Big-endian helpers for the on-disk formats. */
void cv_archive__put_be32(uint8_t *p, uint32_t v);
void cv_archive__put_be64(uint8_t *p, uint64_t v);
uint32_t cv_archive__get_be32(const uint8_t *p);
uint64_t cv_archive__get_be64(const uint8_t *p);

/* --- keys.c ----------------------------------------------------------- */

/*
 * cv_archive_keys_create with chosen Argon2id costs (the tests use cheap
 * ones). params is ignored without a passphrase.
 */
int cv_archive__keys_create_params(const char *path, const char *passphrase,
				   const struct cv_archive__kdf_params *params,
				   struct cv_error *err);

/* --- sign.c ----------------------------------------------------------- */

/* The Ed25519 public key of a 32-byte secret seed (RFC 8032). */
int cv_archive__ed25519_public(uint8_t pub[32], const uint8_t *seed,
			       struct cv_error *err);
/* Sign with a seed and its public key. */
int cv_archive__ed25519_sign(const uint8_t *seed, const uint8_t pub[32],
			     const void *msg, size_t n, uint8_t sig[64],
			     struct cv_error *err);

/* --- stream.c: the object format, without index or folders ----------- */

/*
 * Where plaintext comes from: a file descriptor (read to its end) or
 * memory. name is used in messages only.
 */
struct cv_archive__src {
	int fd; /* -1: read from mem */
	const uint8_t *mem;
	size_t len, pos;
	const char *name;
};

void cv_archive__src_fd(struct cv_archive__src *s, int fd, const char *name);
void cv_archive__src_mem(struct cv_archive__src *s, const void *data, size_t n);

/*
 * Where plaintext goes: a file descriptor, appended to a cv_buf, or
 * nowhere (fd -1 and buf NULL: verify only authenticates).
 */
struct cv_archive__sink {
	int fd; /* -1: append to buf, or discard when buf is NULL */
	struct cv_buf *buf;
};

/*
 * The object id of everything src yields: HMAC-SHA256(id_key, bytes),
 * read in chunks. *size receives the byte count.
 */
int cv_archive__compute_id(uint8_t id[CV_ARCHIVE_OID_LEN], uint64_t *size,
			   const uint8_t *id_key, struct cv_archive__src *src,
			   struct cv_error *err);

struct cv_archive__sealed {
	uint64_t stored_size;
	uint8_t stored_sha256[32];
};

/*
 * Encrypt exactly size bytes from src into out_fd in the object format,
 * under data_key, bound to id. When id_key is not NULL the plaintext's
 * HMAC is recomputed on the way and must equal id: a file that changed
 * since its id was computed is refused (CV_EINVAL) rather than stored
 * under a name that no longer matches its bytes. Also CV_EINVAL when src
 * yields more or fewer than size bytes. Writes only to out_fd, which the
 * caller syncs and closes.
 */
int cv_archive__seal(int out_fd, struct cv_archive__src *src, uint64_t size,
		     const uint8_t *data_key,
		     const uint8_t id[CV_ARCHIVE_OID_LEN],
		     const uint8_t *id_key, struct cv_archive__sealed *res,
		     struct cv_error *err);

/*
 * Decrypt the object file open at in_fd (positioned at its start) into
 * sink. Each chunk's tag is checked before any of its plaintext reaches
 * the sink. expect_size is the plaintext size the index recorded. When
 * id_key is not NULL the plaintext's HMAC must equal id. Every integrity
 * failure is CV_EMISMATCH "object <id> failed authentication", with the
 * reason (which chunk, or the length) in detail.
 */
int cv_archive__open_stream(int in_fd, struct cv_archive__sink *sink,
			    uint64_t expect_size, const uint8_t *data_key,
			    const uint8_t id[CV_ARCHIVE_OID_LEN],
			    const uint8_t *id_key, struct cv_error *err);

#endif
