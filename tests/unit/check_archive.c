/*
 * Unit tests for archive/: the key file, signatures, object ids, the
 * object format on its own (no database), and the store against a real
 * PostgreSQL (the "db" cases). The crypto core is reached through
 * archive_int.h, so a broken format shows up here rather than only as a
 * failing put/get.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archive/archive_int.h"
#include "tests/lib/harness.h"
#include "common/banned.h"

#define CHUNK      ((size_t)1 << CV_ARCHIVE_CHUNK_SHIFT)
#define PASSPHRASE "correct horse battery staple"

static const struct cv_archive__kdf_params cheap = { 1, 64, 1 };

static void init_crypto(void)
{
	struct cv_error err = CV_ERROR_INIT;

	ck_assert_msg(cv_archive_global_init(&err) == 0, "%s", err.msg);
}

static void fill_random(uint8_t *p, size_t n)
{
	gcry_create_nonce(p, n);
}

static void write_file(const char *path, const void *data, size_t n)
{
	struct cv_error err = CV_ERROR_INIT;

	unlink(path);
	ck_assert_msg(cv_fs_write_atomic(path, data, n, 0600, 0, &err) == 0,
		      "%s", err.msg);
}

static void read_file(struct cv_buf *b, const char *path)
{
	struct cv_error err = CV_ERROR_INIT;

	cv_buf_reset(b);
	ck_assert_msg(cv_fs_read_file(b, path, (size_t)1 << 30, &err) == 0,
		      "%s", err.msg);
}

/* No secret may reach any part of an error record. */
static void assert_not_in_error(const struct cv_error *err, const char *s)
{
	ck_assert(strstr(err->msg, s) == NULL);
	ck_assert(strstr(err->detail, s) == NULL);
	ck_assert(strstr(err->hint, s) == NULL);
}

/* --- key file ---------------------------------------------------------- */

START_TEST(test_archive_keys_create_then_load)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_keys *k = NULL, *k2 = NULL;
	char *dir = cvt_tmpdir("keys"), *path = cv_path_join(dir, "key");
	struct stat st;
	int need = -1;

	init_crypto();
	ck_assert_msg(cv_archive_keys_create(path, NULL, &err) == 0, "%s",
		      err.msg);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(cv_archive_keys_need_passphrase(path, &need, &err), 0);
	ck_assert_int_eq(need, 0);
	ck_assert_msg(cv_archive_keys_load(&k, path, NULL, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(k->nkeks, 1);
	ck_assert_msg(cv_archive_keys_load(&k2, path, NULL, &err) == 0, "%s",
		      err.msg);
	ck_assert(!memcmp(k->id_key, k2->id_key, CV_ARCHIVE_KEY_LEN));
	ck_assert(!memcmp(k->keks[0].key, k2->keks[0].key, CV_ARCHIVE_KEY_LEN));
	ck_assert(!memcmp(k->sign_pub, k2->sign_pub, 32));
	/* Distinct secrets, not one random value reused. */
	ck_assert(memcmp(k->id_key, k->keks[0].key, CV_ARCHIVE_KEY_LEN));
	ck_assert(memcmp(k->id_key, k->sign_seed, CV_ARCHIVE_KEY_LEN));

	ck_assert_int_eq(cv_archive_keys_create(path, NULL, &err), CV_EEXISTS);
	cv_archive_keys_free(k);
	cv_archive_keys_free(k2);
	cv_archive_keys_free(NULL);
	cvt_rmrf(dir);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_archive_keys_passphrase_roundtrip)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_keys *k = NULL;
	char *dir = cvt_tmpdir("keys"), *path = cv_path_join(dir, "key");
	struct cv_buf raw = CV_BUF_INIT;
	int need = 0;

	init_crypto();
	ck_assert_msg(cv_archive__keys_create_params(path, PASSPHRASE, &cheap,
						     &err) == 0,
		      "%s", err.msg);
	ck_assert_int_eq(cv_archive_keys_need_passphrase(path, &need, &err), 0);
	ck_assert_int_eq(need, 1);
	ck_assert_msg(cv_archive_keys_load(&k, path, PASSPHRASE, &err) == 0,
		      "%s", err.msg);
	/* Sealed means none of the secrets is in the file as it is. */
	read_file(&raw, path);
	ck_assert(!memmem(raw.buf, raw.len, k->id_key, CV_ARCHIVE_KEY_LEN));
	ck_assert(
		!memmem(raw.buf, raw.len, k->keks[0].key, CV_ARCHIVE_KEY_LEN));
	ck_assert(!memmem(raw.buf, raw.len, k->sign_seed, CV_ARCHIVE_KEY_LEN));
	ck_assert(!memmem(raw.buf, raw.len, PASSPHRASE, strlen(PASSPHRASE)));
	cv_archive_keys_free(k);
	cv_buf_release(&raw);
	cvt_rmrf(dir);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_archive_keys_default_cost_works)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_keys *k = NULL;
	char *dir = cvt_tmpdir("keys"), *path = cv_path_join(dir, "key");

	init_crypto();
	ck_assert_msg(cv_archive_keys_create(path, PASSPHRASE, &err) == 0, "%s",
		      err.msg);
	ck_assert_msg(cv_archive_keys_load(&k, path, PASSPHRASE, &err) == 0,
		      "%s", err.msg);
	cv_archive_keys_free(k);
	cvt_rmrf(dir);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_archive_keys_wrong_passphrase)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_keys *k = NULL;
	char *dir = cvt_tmpdir("keys"), *path = cv_path_join(dir, "key");

	init_crypto();
	ck_assert_int_eq(
		cv_archive__keys_create_params(path, PASSPHRASE, &cheap, &err),
		0);
	ck_assert_int_eq(cv_archive_keys_load(&k, path, "Tr0ub4dor&3", &err),
			 CV_EMISMATCH);
	ck_assert_ptr_null(k);
	ck_assert_msg(strstr(err.msg, "wrong passphrase for key file") != NULL,
		      "%s", err.msg);
	ck_assert(strstr(err.msg, path) != NULL);
	assert_not_in_error(&err, "Tr0ub4dor&3");
	assert_not_in_error(&err, PASSPHRASE);

	/* A passphrase-protected file and no passphrase: say so. */
	ck_assert_int_eq(cv_archive_keys_load(&k, path, NULL, &err), CV_EINVAL);
	ck_assert(strstr(err.msg, "needs a passphrase") != NULL);
	ck_assert_int_eq(cv_archive_keys_load(&k, path, "", &err), CV_EINVAL);
	cvt_rmrf(dir);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_archive_keys_missing_file)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_keys *k = NULL;
	int need;

	init_crypto();
	ck_assert_int_eq(cv_archive_keys_load(&k, "/nonexistent/cv/key",
					      PASSPHRASE, &err),
			 CV_EUNAVAIL);
	ck_assert(err.hint[0] != '\0');
	assert_not_in_error(&err, PASSPHRASE);
	ck_assert_int_eq(cv_archive_keys_need_passphrase("/nonexistent/cv/key",
							 &need, &err),
			 CV_EUNAVAIL);
}
END_TEST

/* Every prefix of a key file is refused as malformed, never loaded. */
START_TEST(test_archive_keys_truncated)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_keys *k = NULL;
	char *dir = cvt_tmpdir("keys"), *path = cv_path_join(dir, "key"),
	     *cut = cv_path_join(dir, "cut");
	struct cv_buf raw = CV_BUF_INIT;
	int sealed;

	init_crypto();
	for (sealed = 0; sealed < 2; sealed++) {
		size_t n;

		unlink(path);
		ck_assert_int_eq(
			cv_archive__keys_create_params(
				path, sealed ? PASSPHRASE : NULL, &cheap, &err),
			0);
		read_file(&raw, path);
		for (n = 0; n < raw.len; n++) {
			write_file(cut, raw.buf, n);
			ck_assert_int_eq(
				cv_archive_keys_load(&k, cut, PASSPHRASE, &err),
				CV_EINVAL);
			ck_assert_ptr_null(k);
			assert_not_in_error(&err, PASSPHRASE);
		}
		/* Trailing bytes are refused too. */
		cv_buf_addch(&raw, 0);
		write_file(cut, raw.buf, raw.len);
		ck_assert_int_eq(
			cv_archive_keys_load(&k, cut, PASSPHRASE, &err),
			CV_EINVAL);
	}
	cv_buf_release(&raw);
	cvt_rmrf(dir);
	free(cut);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_archive_keys_damage_detected)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_keys *k = NULL;
	char *dir = cvt_tmpdir("keys"), *path = cv_path_join(dir, "key"),
	     *bad = cv_path_join(dir, "bad");
	struct cv_buf raw = CV_BUF_INIT;
	size_t i;

	init_crypto();
	ck_assert_int_eq(cv_archive_keys_create(path, NULL, &err), 0);
	read_file(&raw, path);
	/* Past the magic and the version, any flip must be caught. */
	for (i = 10; i < raw.len; i++) {
		raw.buf[i] ^= 0x01;
		write_file(bad, raw.buf, raw.len);
		ck_assert_int_eq(cv_archive_keys_load(&k, bad, NULL, &err),
				 CV_EINVAL);
		raw.buf[i] ^= 0x01;
	}
	write_file(bad, "not a key file at all, just text", 32);
	ck_assert_int_eq(cv_archive_keys_load(&k, bad, NULL, &err), CV_EINVAL);
	ck_assert(strstr(err.msg, "not a chartvault key file") != NULL);
	cv_buf_release(&raw);
	cvt_rmrf(dir);
	free(bad);
	free(path);
	free(dir);
}
END_TEST

/* --- signatures -------------------------------------------------------- */

static void unhex(uint8_t *out, size_t n, const char *hex)
{
	ck_assert_int_eq(cv_hex_decode(out, n, hex), 0);
}

/* RFC 8032 section 7.1, TEST 1 and TEST 2. */
START_TEST(test_archive_sign_matches_rfc8032)
{
	struct cv_error err = CV_ERROR_INIT;
	uint8_t seed[32], pub[32], want_pub[32], sig[64], want_sig[64],
		msg = 0x72;

	init_crypto();
	unhex(seed, 32,
	      "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
	unhex(want_pub, 32,
	      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
	unhex(want_sig, 64,
	      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
	ck_assert_int_eq(cv_archive__ed25519_public(pub, seed, &err), 0);
	ck_assert(!memcmp(pub, want_pub, 32));
	ck_assert_int_eq(cv_archive__ed25519_sign(seed, pub, "", 0, sig, &err),
			 0);
	ck_assert(!memcmp(sig, want_sig, 64));
	ck_assert_int_eq(cv_archive_verify_signature(pub, "", 0, sig, &err), 0);

	unhex(seed, 32,
	      "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
	unhex(want_pub, 32,
	      "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
	unhex(want_sig, 64,
	      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
	ck_assert_int_eq(cv_archive__ed25519_public(pub, seed, &err), 0);
	ck_assert(!memcmp(pub, want_pub, 32));
	ck_assert_int_eq(
		cv_archive__ed25519_sign(seed, pub, &msg, 1, sig, &err), 0);
	ck_assert(!memcmp(sig, want_sig, 64));
}
END_TEST

START_TEST(test_archive_sign_tampering_fails)
{
	static const char cert[] = "certificate of destruction: batch 17";
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_keys *k = NULL;
	char *dir = cvt_tmpdir("sign"), *path = cv_path_join(dir, "key");
	uint8_t pub[32], other[32], sig[64];
	size_t n = strlen(cert);

	init_crypto();
	ck_assert_int_eq(cv_archive_keys_create(path, NULL, &err), 0);
	ck_assert_int_eq(cv_archive_keys_load(&k, path, NULL, &err), 0);
	cv_archive_public_key(k, pub);
	ck_assert_msg(cv_archive_sign(k, cert, n, sig, &err) == 0, "%s",
		      err.msg);
	ck_assert_msg(cv_archive_verify_signature(pub, cert, n, sig, &err) == 0,
		      "%s", err.msg);

	sig[10] ^= 0x04;
	ck_assert_int_eq(cv_archive_verify_signature(pub, cert, n, sig, &err),
			 CV_EMISMATCH);
	sig[10] ^= 0x04;
	sig[40] ^= 0x80;
	ck_assert_int_eq(cv_archive_verify_signature(pub, cert, n, sig, &err),
			 CV_EMISMATCH);
	sig[40] ^= 0x80;
	ck_assert_int_eq(
		cv_archive_verify_signature(pub, cert, n - 1, sig, &err),
		CV_EMISMATCH);
	memcpy(other, pub, 32);
	other[0] ^= 1;
	ck_assert_int_eq(cv_archive_verify_signature(other, cert, n, sig, &err),
			 CV_EMISMATCH);
	cv_archive_keys_free(k);
	cvt_rmrf(dir);
	free(path);
	free(dir);
}
END_TEST

/* --- object ids ----------------------------------------------------------- */

START_TEST(test_archive_oid_parse_and_format)
{
	static const char hex[] =
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	uint8_t id[CV_ARCHIVE_OID_LEN];
	char back[CV_ARCHIVE_OID_HEXLEN + 1];

	ck_assert_int_eq(cv_archive_oid_parse(id, hex), 0);
	ck_assert_uint_eq(id[0], 0x00);
	ck_assert_uint_eq(id[31], 0xff);
	cv_archive_oid_format(back, id);
	ck_assert_str_eq(back, hex);
	ck_assert_int_eq(cv_archive_oid_parse(id, ""), CV_EINVAL);
	ck_assert_int_eq(cv_archive_oid_parse(id, "0011"), CV_EINVAL);
	ck_assert_int_eq(
		cv_archive_oid_parse(
			id,
			"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0"),
		CV_EINVAL);
	ck_assert_int_eq(
		cv_archive_oid_parse(
			id,
			"g0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"),
		CV_EINVAL);
	ck_assert_int_eq(cv_archive_oid_parse(id, NULL), CV_EINVAL);
}
END_TEST

/* --- the object format, without index ----------------------------------- */

struct sealed_obj {
	uint8_t key[CV_ARCHIVE_KEY_LEN];
	uint8_t id_key[CV_ARCHIVE_KEY_LEN];
	uint8_t id[CV_ARCHIVE_OID_LEN];
	uint64_t size;
	struct cv_buf stored;
};

static void seal_bytes(struct sealed_obj *o, const uint8_t *data, size_t n)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive__src src;
	struct cv_archive__sealed res;
	uint8_t digest[32];
	char *dir = cvt_tmpdir("seal"), *path = cv_path_join(dir, "obj");
	int fd;

	fill_random(o->key, sizeof(o->key));
	fill_random(o->id_key, sizeof(o->id_key));
	cv_archive__src_mem(&src, data, n);
	ck_assert_int_eq(
		cv_archive__compute_id(o->id, &o->size, o->id_key, &src, &err),
		0);
	ck_assert_uint_eq(o->size, n);
	cv_archive__src_mem(&src, data, n);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(cv_archive__seal(fd, &src, n, o->key, o->id, o->id_key,
				       &res, &err) == 0,
		      "%s", err.msg);
	close(fd);
	cv_buf_init(&o->stored);
	read_file(&o->stored, path);
	ck_assert_uint_eq(res.stored_size, o->stored.len);
	gcry_md_hash_buffer(GCRY_MD_SHA256, digest, o->stored.buf,
			    o->stored.len);
	ck_assert(!memcmp(digest, res.stored_sha256, 32));
	cvt_rmrf(dir);
	free(path);
	free(dir);
}

/* Open stored bytes; returns the code, plaintext in out. */
static int open_bytes(const struct sealed_obj *o, const void *stored, size_t n,
		      struct cv_buf *out, struct cv_error *err)
{
	struct cv_archive__sink sink = { -1, out };
	char *dir = cvt_tmpdir("open"), *path = cv_path_join(dir, "obj");
	int fd, ret;

	write_file(path, stored, n);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	cv_buf_reset(out);
	ret = cv_archive__open_stream(fd, &sink, o->size, o->key, o->id,
				      o->id_key, err);
	close(fd);
	cvt_rmrf(dir);
	free(path);
	free(dir);
	return ret;
}

static void assert_auth_failure(const struct sealed_obj *o, int ret,
				const struct cv_error *err)
{
	char hex[CV_ARCHIVE_OID_HEXLEN + 1];

	cv_archive_oid_format(hex, o->id);
	ck_assert_int_eq(ret, CV_EMISMATCH);
	ck_assert_msg(strstr(err->msg, "failed authentication") != NULL, "%s",
		      err->msg);
	ck_assert_msg(strstr(err->msg, hex) != NULL, "%s", err->msg);
}

START_TEST(test_archive_stream_roundtrip_sizes)
{
	const size_t sizes[] = { 0,     1,         15,
				 16,    4096,      CHUNK - 1,
				 CHUNK, CHUNK + 1, 3 * CHUNK + 5 };
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf out = CV_BUF_INIT;
	uint8_t *data = cv_malloc(3 * CHUNK + 5);
	size_t i;

	init_crypto();
	fill_random(data, 3 * CHUNK + 5);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct sealed_obj o;
		size_t n = sizes[i], chunks = n ? (n + CHUNK - 1) / CHUNK : 1;

		seal_bytes(&o, data, n);
		ck_assert_uint_eq(o.stored.len,
				  CV_ARCHIVE_OBJ_HEADER_LEN + n +
					  chunks * CV_ARCHIVE_TAG_LEN);
		ck_assert(!memcmp(o.stored.buf, CV_ARCHIVE_OBJ_MAGIC, 8));
		ck_assert_msg(open_bytes(&o, o.stored.buf, o.stored.len, &out,
					 &err) == 0,
			      "size %zu: %s: %s", n, err.msg, err.detail);
		ck_assert_uint_eq(out.len, n);
		ck_assert(!n || !memcmp(out.buf, data, n));
		cv_buf_release(&o.stored);
	}
	cv_buf_release(&out);
	free(data);
}
END_TEST

/* Any single flipped bit, anywhere in the file, fails authentication. */
START_TEST(test_archive_stream_rejects_flipped_byte)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf out = CV_BUF_INIT;
	size_t n = 2 * CHUNK + 100, offsets[8], i;
	uint8_t *data = cv_malloc(n);
	struct sealed_obj o;

	init_crypto();
	fill_random(data, n);
	seal_bytes(&o, data, n);
	offsets[0] = 0;                                     /* magic */
	offsets[1] = 14;                                    /* size */
	offsets[2] = 22;                                    /* nonce prefix */
	offsets[3] = CV_ARCHIVE_OBJ_HEADER_LEN + 7;         /* chunk 1 body */
	offsets[4] = CV_ARCHIVE_OBJ_HEADER_LEN + CHUNK + 3; /* chunk 1 tag */
	offsets[5] = CV_ARCHIVE_OBJ_HEADER_LEN + CHUNK + 16 + 9; /* chunk 2 */
	offsets[6] = o.stored.len - 120; /* last chunk */
	offsets[7] = o.stored.len - 1;   /* last tag */
	for (i = 0; i < 8; i++) {
		o.stored.buf[offsets[i]] ^= 0x20;
		assert_auth_failure(
			&o,
			open_bytes(&o, o.stored.buf, o.stored.len, &out, &err),
			&err);
		o.stored.buf[offsets[i]] ^= 0x20;
	}
	ck_assert_int_eq(open_bytes(&o, o.stored.buf, o.stored.len, &out, &err),
			 0);
	cv_buf_release(&o.stored);
	cv_buf_release(&out);
	free(data);
}
END_TEST

START_TEST(test_archive_stream_rejects_truncation_and_reordering)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf out = CV_BUF_INIT, edit = CV_BUF_INIT;
	size_t n = 3 * CHUNK, c = CHUNK + CV_ARCHIVE_TAG_LEN,
	       h = CV_ARCHIVE_OBJ_HEADER_LEN;
	uint8_t *data = cv_malloc(n);
	struct sealed_obj o, other;

	init_crypto();
	fill_random(data, n);
	seal_bytes(&o, data, n);

	/* Cut anywhere, including exactly at a chunk boundary. */
	assert_auth_failure(&o, open_bytes(&o, o.stored.buf, h + c, &out, &err),
			    &err);
	assert_auth_failure(
		&o, open_bytes(&o, o.stored.buf, o.stored.len - 1, &out, &err),
		&err);
	assert_auth_failure(&o, open_bytes(&o, o.stored.buf, 10, &out, &err),
			    &err);

	/* The last chunk dropped and the size in the header rewritten. */
	cv_buf_add(&edit, o.stored.buf, h + 2 * c);
	cv_archive__put_be64((uint8_t *)edit.buf + 12, 2 * CHUNK);
	o.size = 2 * CHUNK;
	assert_auth_failure(&o, open_bytes(&o, edit.buf, edit.len, &out, &err),
			    &err);
	o.size = n;

	/* Chunks 1 and 2 swapped. */
	cv_buf_reset(&edit);
	cv_buf_add(&edit, o.stored.buf, o.stored.len);
	memcpy(edit.buf + h, o.stored.buf + h + c, c);
	memcpy(edit.buf + h + c, o.stored.buf + h, c);
	assert_auth_failure(&o, open_bytes(&o, edit.buf, edit.len, &out, &err),
			    &err);
	ck_assert_msg(strstr(err.detail, "chunk 1 of 3") != NULL, "%s",
		      err.detail);
	ck_assert_uint_eq(out.len, 0); /* nothing before its tag held */

	/* A chunk grafted in from another object of the same key. */
	seal_bytes(&other, data, n);
	memcpy(other.key, o.key, sizeof(o.key));
	cv_buf_reset(&edit);
	cv_buf_add(&edit, o.stored.buf, o.stored.len);
	memcpy(edit.buf + h + c, other.stored.buf + h + c, c);
	assert_auth_failure(&o, open_bytes(&o, edit.buf, edit.len, &out, &err),
			    &err);

	/* The right bytes under another id. */
	o.id[0] ^= 1;
	assert_auth_failure(
		&o, open_bytes(&o, o.stored.buf, o.stored.len, &out, &err),
		&err);
	o.id[0] ^= 1;
	cv_buf_release(&other.stored);
	cv_buf_release(&o.stored);
	cv_buf_release(&edit);
	cv_buf_release(&out);
	free(data);
}
END_TEST

/* A source that changes between the two passes is refused. */
START_TEST(test_archive_stream_refuses_changed_source)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive__src src;
	struct cv_archive__sealed res;
	uint8_t key[32], id_key[32], id[32], data[5000];
	uint64_t size;
	int fd;

	init_crypto();
	fill_random(key, 32);
	fill_random(id_key, 32);
	fill_random(data, sizeof(data));
	cv_archive__src_mem(&src, data, sizeof(data));
	ck_assert_int_eq(cv_archive__compute_id(id, &size, id_key, &src, &err),
			 0);
	fd = open("/dev/null", O_WRONLY);
	ck_assert_int_ge(fd, 0);
	data[4000] ^= 1;
	cv_archive__src_mem(&src, data, sizeof(data));
	ck_assert_int_eq(
		cv_archive__seal(fd, &src, size, key, id, id_key, &res, &err),
		CV_EINVAL);
	ck_assert(strstr(err.msg, "changed while it was being stored") != NULL);
	cv_archive__src_mem(&src, data, sizeof(data) - 1);
	ck_assert_int_eq(
		cv_archive__seal(fd, &src, size, key, id, id_key, &res, &err),
		CV_EINVAL);
	close(fd);
}
END_TEST

START_TEST(test_archive_wrap_rejects_wrong_kek)
{
	struct cv_error err = CV_ERROR_INIT;
	uint8_t kek[32], kek2[32], dk[32], back[32], wrapped[40];

	init_crypto();
	fill_random(kek, 32);
	fill_random(kek2, 32);
	fill_random(dk, 32);
	ck_assert_int_eq(cv_archive__wrap(wrapped, kek, dk, &err), 0);
	ck_assert_int_eq(cv_archive__unwrap(back, kek, wrapped, &err), 0);
	ck_assert(!memcmp(back, dk, 32));
	ck_assert_int_eq(cv_archive__unwrap(back, kek2, wrapped, &err),
			 CV_EMISMATCH);
	wrapped[20] ^= 1;
	ck_assert_int_eq(cv_archive__unwrap(back, kek, wrapped, &err),
			 CV_EMISMATCH);
}
END_TEST

/* --- the store, with PostgreSQL ------------------------------------------ */

struct store {
	char *dir;
	char *keyfile;
	struct cv_archive_keys *keys;
	struct cv_index *ix;
	struct cv_archive *ar;
};

static void store_open(struct store *s)
{
	struct cv_error err = CV_ERROR_INIT;

	init_crypto();
	s->dir = cvt_tmpdir("store");
	s->keyfile = cv_path_join(s->dir, "key");
	ck_assert_int_eq(cv_archive_keys_create(s->keyfile, NULL, &err), 0);
	ck_assert_int_eq(cv_archive_keys_load(&s->keys, s->keyfile, NULL, &err),
			 0);
	ck_assert_msg(cv_index_open(&s->ix, cvt_shared_pg.dsn, &err) == 0,
		      "%s: %s", err.msg, err.detail);
	ck_assert_msg(cv_index_migrate(s->ix, NULL, NULL, &err) == 0, "%s",
		      err.msg);
	ck_assert_int_eq(cv_archive_store_init(s->dir, &err), 0);
	ck_assert_int_eq(cv_archive_store_init(s->dir, &err), 0);
	ck_assert_msg(cv_archive_open(&s->ar, s->dir, s->keys, s->ix, &err) ==
			      0,
		      "%s", err.msg);
}

static void store_close(struct store *s)
{
	cv_archive_free(s->ar);
	cv_index_free(s->ix);
	cv_archive_keys_free(s->keys);
	cvt_rmrf(s->dir);
	free(s->keyfile);
	free(s->dir);
}

static char *stored_path(const struct store *s, const uint8_t *id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_object row;
	char hex[CV_ARCHIVE_OID_HEXLEN + 1];

	ck_assert_int_eq(cv_index_object_find(s->ix, id, &row, &err), 0);
	cv_archive_oid_format(hex, id);
	return cv_asprintf("%s/objects/%.2s/%s.%016llx", s->dir, hex, hex,
			   (unsigned long long)row.gen);
}

/* Files in the fan-out folder of id. */
static int count_files(const struct store *s, const uint8_t *id)
{
	char hex[CV_ARCHIVE_OID_HEXLEN + 1];
	char *dir;
	struct dirent *e;
	DIR *d;
	int n = 0;

	cv_archive_oid_format(hex, id);
	dir = cv_asprintf("%s/objects/%.2s", s->dir, hex);
	d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	free(dir);
	return n;
}

static void roundtrip(struct store *s, const uint8_t *data, size_t n)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf out = CV_BUF_INIT, back = CV_BUF_INIT;
	uint8_t id[CV_ARCHIVE_OID_LEN], id2[CV_ARCHIVE_OID_LEN];
	char *in = cv_path_join(s->dir, "in"),
	     *got = cv_path_join(s->dir, "got");
	int is_new = -1, fd;

	write_file(in, data, n);
	ck_assert_msg(cv_archive_put_file(s->ar, in, "original", id, &is_new,
					  &err) == 0,
		      "%s: %s", err.msg, err.detail);
	ck_assert_int_eq(is_new, 1);
	ck_assert_msg(cv_archive_get_mem(s->ar, id, &out, n, &err) == 0,
		      "%s: %s", err.msg, err.detail);
	ck_assert_uint_eq(out.len, n);
	ck_assert(!n || !memcmp(out.buf, data, n));

	fd = open(got, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(cv_archive_get_fd(s->ar, id, fd, &err) == 0, "%s",
		      err.msg);
	close(fd);
	read_file(&back, got);
	ck_assert_uint_eq(back.len, n);
	ck_assert(!n || !memcmp(back.buf, data, n));

	/* The same bytes from memory are the same object. */
	ck_assert_int_eq(cv_archive_put_mem(s->ar, data, n, "original", id2,
					    &is_new, &err),
			 0);
	ck_assert_int_eq(is_new, 0);
	ck_assert(!memcmp(id, id2, sizeof(id)));
	cv_buf_release(&out);
	cv_buf_release(&back);
	free(in);
	free(got);
}

START_TEST(test_archive_put_then_get_returns_same_bytes)
{
	struct store s;
	size_t big = 3 * CHUNK + 12345;
	uint8_t *data = cv_malloc(big);

	store_open(&s);
	fill_random(data, big);
	roundtrip(&s, (const uint8_t *)"discharge summary", 17);
	roundtrip(&s, data, 0);
	roundtrip(&s, data, big);
	roundtrip(&s, data + 1, CHUNK);
	free(data);
	store_close(&s);
}
END_TEST

struct put_seen {
	size_t n;
	size_t order[16];
	struct cv_archive_put_result res[16];
};

static int put_seen_cb(void *ctx, size_t i,
		       const struct cv_archive_put_result *res)
{
	struct put_seen *p = ctx;

	ck_assert_uint_lt(p->n, 16);
	p->order[p->n] = i;
	p->res[p->n++] = *res;
	return 0;
}

static void expect_stored(struct store *s, const uint8_t *id,
			  const uint8_t *data, size_t n)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf out = CV_BUF_INIT;

	ck_assert_msg(cv_archive_get_mem(s->ar, id, &out, n + 1, &err) == 0,
		      "%s: %s", err.msg, err.detail);
	ck_assert_uint_eq(out.len, n);
	ck_assert(!n || !memcmp(out.buf, data, n));
	cv_buf_release(&out);
}

/*
 * put_files on a mixed batch: every file reported once, in order; copies
 * in the batch stored once; a FIFO and a missing file rejected without
 * stopping the others; files over the in-memory size read twice; a second
 * run stores nothing new.
 */
START_TEST(test_archive_put_files_mixed_batch)
{
	struct cv_error err = CV_ERROR_INIT;
	size_t big = 3 * CHUNK + 5, i;
	uint8_t *data = cv_malloc(big);
	struct put_seen seen;
	struct store s;
	char *p[7];

	store_open(&s);
	fill_random(data, big);
	for (i = 0; i < 7; i++)
		p[i] = cv_asprintf("%s/in-%zu", s.dir, i);
	write_file(p[0], data, big);
	write_file(p[1], (const uint8_t *)"referral letter", 15);
	write_file(p[2], data, big); /* a copy of p[0] */
	ck_assert_int_eq(mkfifo(p[3], 0600), 0);
	/* p[4] is never made */
	write_file(p[5], data, 0);
	write_file(p[6], data + 7, 2 * CHUNK + 1);

	memset(&seen, 0, sizeof(seen));
	ck_assert_msg(cv_archive_put_files(s.ar, (const char *const *)p, 6,
					   "original", 2, "tester", put_seen_cb,
					   &seen, &err) == 0,
		      "%s: %s", err.msg, err.detail);
	ck_assert_uint_eq(seen.n, 6);
	for (i = 0; i < 6; i++)
		ck_assert_uint_eq(seen.order[i], i);
	ck_assert_int_eq(seen.res[0].code, 0);
	ck_assert_int_eq(seen.res[0].is_new, 1);
	ck_assert_int_eq(seen.res[2].code, 0);
	ck_assert_int_eq(seen.res[2].is_new, 0);
	ck_assert(!memcmp(seen.res[0].id, seen.res[2].id, 32));
	ck_assert_int_eq(count_files(&s, seen.res[0].id), 1);
	ck_assert_int_eq(seen.res[3].code, CV_EINVAL);
	ck_assert(strstr(seen.res[3].err.msg, "not a regular file"));
	ck_assert_int_eq(seen.res[4].code, CV_EINVAL);
	ck_assert_int_eq(seen.res[5].code, 0);
	expect_stored(&s, seen.res[0].id, data, big);
	expect_stored(&s, seen.res[1].id, (const uint8_t *)"referral letter",
		      15);
	expect_stored(&s, seen.res[5].id, data, 0);

	/* Over the in-memory size: read twice, same format, same ids. */
	cv_archive__put_mem_max = 4096;
	memset(&seen, 0, sizeof(seen));
	ck_assert_msg(cv_archive_put_files(s.ar, (const char *const *)p + 5, 2,
					   "original", 1, NULL, put_seen_cb,
					   &seen, &err) == 0,
		      "%s: %s", err.msg, err.detail);
	ck_assert_uint_eq(seen.n, 2);
	ck_assert_int_eq(seen.res[0].is_new, 0); /* p[5], stored above */
	ck_assert_int_eq(seen.res[1].code, 0);
	ck_assert_int_eq(seen.res[1].is_new, 1);
	expect_stored(&s, seen.res[1].id, data + 7, 2 * CHUNK + 1);
	{
		uint8_t id[32];
		int is_new = -1;

		/* The one-file path agrees on the id. */
		ck_assert_int_eq(cv_archive_put_mem(s.ar, data + 7,
						    2 * CHUNK + 1, "original",
						    id, &is_new, &err),
				 0);
		ck_assert_int_eq(is_new, 0);
		ck_assert(!memcmp(id, seen.res[1].id, 32));
	}
	for (i = 0; i < 7; i++)
		free(p[i]);
	free(data);
	store_close(&s);
}
END_TEST

START_TEST(test_archive_put_same_bytes_stores_once)
{
	struct cv_error err = CV_ERROR_INIT;
	struct store s;
	uint8_t id[32], id2[32], id3[32];
	int is_new = -1;

	store_open(&s);
	ck_assert_int_eq(cv_archive_put_mem(s.ar, "progress note", 13, "text",
					    id, &is_new, &err),
			 0);
	ck_assert_int_eq(is_new, 1);
	ck_assert_int_eq(cv_archive_put_mem(s.ar, "progress note", 13, "text",
					    id2, &is_new, &err),
			 0);
	ck_assert_int_eq(is_new, 0);
	ck_assert(!memcmp(id, id2, 32));
	ck_assert_int_eq(count_files(&s, id), 1);
	ck_assert_int_eq(cv_archive_put_mem(s.ar, "progress notes", 14, "text",
					    id3, NULL, &err),
			 0);
	ck_assert(memcmp(id, id3, 32));
	store_close(&s);
}
END_TEST

/* Several processes store the same bytes at once: one file survives. */
START_TEST(test_archive_concurrent_puts_keep_one_file)
{
	struct cv_error err = CV_ERROR_INIT;
	struct store s;
	struct cv_buf out = CV_BUF_INIT;
	size_t n = 2 * CHUNK + 7;
	uint8_t *data = cv_malloc(n), id[32];
	pid_t pids[4];
	int i, st;

	store_open(&s);
	fill_random(data, n);
	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			struct cv_index *ix = NULL;
			struct cv_archive *ar = NULL;
			uint8_t cid[32];
			int ok;

			ok = cv_index_open(&ix, cvt_shared_pg.dsn, &err) == 0 &&
			     cv_archive_open(&ar, s.dir, s.keys, ix, &err) ==
				     0 &&
			     cv_archive_put_mem(ar, data, n, "original", cid,
						NULL, &err) == 0;
			_exit(ok ? 0 : 1);
		}
	}
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	ck_assert_int_eq(
		cv_archive_put_mem(s.ar, data, n, "original", id, NULL, &err),
		0);
	ck_assert_int_eq(count_files(&s, id), 1);
	ck_assert_int_eq(cv_archive_get_mem(s.ar, id, &out, n, &err), 0);
	ck_assert(!memcmp(out.buf, data, n));
	cv_buf_release(&out);
	free(data);
	store_close(&s);
}
END_TEST

static void flip_byte(const char *path, off_t at)
{
	uint8_t b;
	int fd = open(path, O_RDWR);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, at), 1);
	b ^= 0x10;
	ck_assert_int_eq(pwrite(fd, &b, 1, at), 1);
	close(fd);
}

START_TEST(test_archive_get_rejects_flipped_byte)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf out = CV_BUF_INIT;
	char hex[CV_ARCHIVE_OID_HEXLEN + 1];
	size_t n = CHUNK + 500;
	uint8_t *data = cv_malloc(n), id[32];
	struct store s;
	char *path;

	store_open(&s);
	fill_random(data, n);
	ck_assert_int_eq(
		cv_archive_put_mem(s.ar, data, n, "image", id, NULL, &err), 0);
	cv_archive_oid_format(hex, id);
	path = stored_path(&s, id);
	flip_byte(path, CV_ARCHIVE_OBJ_HEADER_LEN + CHUNK + 16 + 100);
	ck_assert_int_eq(cv_archive_get_mem(s.ar, id, &out, n, &err),
			 CV_EMISMATCH);
	ck_assert_msg(strstr(err.msg, hex) != NULL, "%s", err.msg);
	ck_assert(strstr(err.msg, "failed authentication") != NULL);
	ck_assert_msg(strstr(err.detail, "chunk 2 of 2") != NULL, "%s",
		      err.detail);
	/* get_mem leaves no half object behind. */
	ck_assert_uint_eq(out.len, 0);
	cv_buf_release(&out);
	free(path);
	free(data);
	store_close(&s);
}
END_TEST

START_TEST(test_archive_get_rejects_truncated_file)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf out = CV_BUF_INIT;
	char hex[CV_ARCHIVE_OID_HEXLEN + 1];
	uint8_t id[32];
	struct store s;
	char *path;

	store_open(&s);
	ck_assert_int_eq(cv_archive_put_mem(s.ar, "operative note", 14, "text",
					    id, NULL, &err),
			 0);
	cv_archive_oid_format(hex, id);
	path = stored_path(&s, id);
	ck_assert_int_eq(truncate(path, 40), 0);
	ck_assert_int_eq(cv_archive_get_mem(s.ar, id, &out, 100, &err),
			 CV_EMISMATCH);
	ck_assert(strstr(err.msg, hex) != NULL);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(cv_archive_get_mem(s.ar, id, &out, 100, &err),
			 CV_ERROR);
	ck_assert_msg(strstr(err.msg, "is missing from the store") != NULL,
		      "%s", err.msg);
	free(path);
	cv_buf_release(&out);
	store_close(&s);
}
END_TEST

START_TEST(test_archive_get_unknown_and_capped)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf out = CV_BUF_INIT;
	uint8_t id[32];
	struct store s;
	int fd;

	store_open(&s);
	fill_random(id, 32);
	ck_assert_int_eq(cv_archive_get_mem(s.ar, id, &out, 100, &err),
			 CV_ENOTFOUND);
	fd = open("/dev/null", O_WRONLY);
	ck_assert_int_eq(cv_archive_get_fd(s.ar, id, fd, &err), CV_ENOTFOUND);
	close(fd);
	ck_assert_int_eq(cv_archive_put_mem(s.ar, "consent form", 12, "text",
					    id, NULL, &err),
			 0);
	ck_assert_int_eq(cv_archive_get_mem(s.ar, id, &out, 11, &err),
			 CV_ELIMIT);
	/* Appends to what the buffer holds. */
	cv_buf_adds(&out, ">");
	ck_assert_int_eq(cv_archive_get_mem(s.ar, id, &out, 12, &err), 0);
	ck_assert_str_eq(out.buf, ">consent form");
	ck_assert_int_eq(cv_archive_put_mem(s.ar, "x", 1, "", id, NULL, &err),
			 CV_EINVAL);
	ck_assert_int_eq(cv_archive_put_mem(s.ar, "x", 1, "a kind far too long",
					    id, NULL, &err),
			 CV_EINVAL);
	cv_buf_release(&out);
	store_close(&s);
}
END_TEST

START_TEST(test_archive_without_keys_is_unavailable)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf out = CV_BUF_INIT;
	struct cv_archive *ar = NULL;
	struct store s;
	uint8_t id[32];

	store_open(&s);
	ck_assert_int_eq(cv_archive_open(&ar, s.dir, NULL, s.ix, &err), 0);
	ck_assert_int_eq(cv_archive_put_mem(ar, "x", 1, "text", id, NULL, &err),
			 CV_EUNAVAIL);
	ck_assert_int_eq(cv_archive_get_mem(ar, id, &out, 10, &err),
			 CV_EUNAVAIL);
	cv_archive_free(ar);
	ck_assert_int_eq(
		cv_archive_open(&ar, "/nonexistent/cv", s.keys, s.ix, &err),
		CV_EUNAVAIL);
	ck_assert_ptr_null(ar);
	store_close(&s);
}
END_TEST

START_TEST(test_archive_put_refuses_non_regular_file)
{
	struct cv_error err = CV_ERROR_INIT;
	struct store s;
	uint8_t id[32];
	char *fifo;

	store_open(&s);
	fifo = cv_path_join(s.dir, "fifo");
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(
		cv_archive_put_file(s.ar, fifo, "original", id, NULL, &err),
		CV_EINVAL);
	ck_assert_int_eq(
		cv_archive_put_file(s.ar, s.dir, "original", id, NULL, &err),
		CV_EINVAL);
	ck_assert_int_eq(cv_archive_put_file(s.ar, "/nonexistent/scan.tif",
					     "original", id, NULL, &err),
			 CV_EINVAL);
	ck_assert(strstr(err.msg, "/nonexistent/scan.tif") != NULL);
	free(fifo);
	store_close(&s);
}
END_TEST

static int file_has(const char *path, const char *marker)
{
	struct cv_buf b = CV_BUF_INIT;
	int found;

	read_file(&b, path);
	found = memmem(b.buf, b.len, marker, strlen(marker)) != NULL;
	cv_buf_release(&b);
	return found;
}

/* Count files under dir whose bytes contain marker. */
static int scan_tree(const char *dir, const char *marker, int *files)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int hits = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		char *p;
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		p = cv_path_join(dir, e->d_name);
		ck_assert_int_eq(lstat(p, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			hits += scan_tree(p, marker, files);
		} else {
			(*files)++;
			hits += file_has(p, marker);
		}
		free(p);
	}
	closedir(d);
	return hits;
}

START_TEST(test_archive_store_holds_no_plaintext)
{
	static const char marker[] = "PATIENT-MRN-0042-SMITH-JOHN";
	struct cv_error err = CV_ERROR_INIT;
	struct cv_buf doc = CV_BUF_INIT;
	char *objects, *in;
	uint8_t id[32];
	struct store s;
	int i, files = 0;

	store_open(&s);
	for (i = 0; i < 50000; i++)
		cv_buf_addf(&doc, "%s line %d\n", marker, i);
	in = cv_path_join(s.dir, "chart.txt");
	write_file(in, doc.buf, doc.len);
	ck_assert_int_eq(cv_archive_put_file(s.ar, in, "text", id, NULL, &err),
			 0);
	ck_assert_int_eq(cv_archive_put_mem(s.ar, marker, strlen(marker),
					    "text", id, NULL, &err),
			 0);
	unlink(in);
	objects = cv_path_join(s.dir, "objects");
	ck_assert_int_eq(scan_tree(objects, marker, &files), 0);
	ck_assert_int_eq(files, 3); /* two objects and the writers' .lock */
	ck_assert(!file_has(s.keyfile, marker));
	free(objects);
	free(in);
	cv_buf_release(&doc);
	store_close(&s);
}
END_TEST

/* gc never runs while a writer on this host holds the store. */
START_TEST(test_archive_gc_refuses_while_a_writer_is_active)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_gc_opts o = { 0, 1 };
	struct cv_archive_gc_report rep;
	struct cv_archive *ar2 = NULL;
	uint8_t id[32];
	struct store s;

	store_open(&s);
	ck_assert_int_eq(
		cv_archive_put_mem(s.ar, "x", 1, "text", id, NULL, &err), 0);
	ck_assert_int_eq(cv_archive_open(&ar2, s.dir, NULL, s.ix, &err), 0);
	ck_assert_int_eq(cv_archive_gc(ar2, &o, &rep, &err), CV_EUNAVAIL);
	ck_assert_msg(strstr(err.msg, "being written") != NULL, "%s", err.msg);
	/* The writer is done: gc may run (dry run: the shared catalogue
	 * holds other tests' rows). */
	cv_archive_free(s.ar);
	s.ar = NULL;
	ck_assert_int_eq(cv_archive_gc(ar2, &o, &rep, &err), 0);
	ck_assert_uint_eq(rep.removed, 0);
	cv_archive_gc_report_release(&rep);
	cv_archive_free(ar2);
	store_close(&s);
}
END_TEST

START_TEST(test_archive_keys_rewrite_keeps_secrets_and_shreds_old_file)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_keys *k = NULL, *k2 = NULL;
	char *dir = cvt_tmpdir("rewrite"), *path = cv_path_join(dir, "key");
	char *aside = cv_asprintf("%s.retired", path);

	init_crypto();
	ck_assert_int_eq(
		cv_archive__keys_create_params(path, PASSPHRASE, &cheap, &err),
		0);
	ck_assert_int_eq(cv_archive_keys_load(&k, path, PASSPHRASE, &err), 0);
	ck_assert_uint_eq(k->kdf.t, cheap.t);
	ck_assert_int_eq(cv_archive__keys_rewrite(path, k, "another", &err), 0);
	ck_assert(access(aside, F_OK) != 0);
	ck_assert_int_eq(cv_archive_keys_load(&k2, path, PASSPHRASE, &err),
			 CV_EMISMATCH);
	ck_assert_int_eq(cv_archive_keys_load(&k2, path, "another", &err), 0);
	ck_assert(!memcmp(k->id_key, k2->id_key, sizeof(k->id_key)));
	ck_assert(!memcmp(k->keks, k2->keks, sizeof(k->keks)));
	ck_assert_uint_eq(k2->kdf.m_kib, cheap.m_kib);
	/* A link left by a crash before the rename only loses its name. */
	ck_assert_int_eq(link(path, aside), 0);
	ck_assert_int_eq(cv_archive__keys_rewrite(path, k2, NULL, &err), 0);
	ck_assert(access(aside, F_OK) != 0);
	cv_archive_keys_free(k2);
	ck_assert_int_eq(cv_archive_keys_load(&k2, path, NULL, &err), 0);
	cv_archive_keys_free(k);
	cv_archive_keys_free(k2);
	cvt_rmrf(dir);
	free(aside);
	free(path);
	free(dir);
}
END_TEST

/* The body of a recovery line: without "  <8 hex check>". */
static char *line_body(const char *line)
{
	size_t n = strlen(line);

	ck_assert_uint_gt(n, 10);
	return cv_strndup(line, n - 10);
}

/*
 * The printed sheet: every secret on two checksummed lines short enough
 * to print at full size, which join back into the QR code's one line.
 */
START_TEST(test_archive_recovery_print_splits_each_secret_in_two)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_keys *k = NULL;
	char *dir = cvt_tmpdir("paper"), *path = cv_path_join(dir, "key");
	char *text = NULL, *print = NULL, *save = NULL, *line;
	char *pl[16], *ql[8];
	size_t len = 0, plen = 0, np = 0, nq = 0, i;
	struct cv_buf joined = CV_BUF_INIT;

	init_crypto();
	ck_assert_int_eq(cv_archive_keys_create(path, NULL, &err), 0);
	ck_assert_int_eq(cv_archive_keys_load(&k, path, NULL, &err), 0);
	ck_assert_int_eq(cv_archive_keys_recovery_text(k, &text, &len, &err),
			 0);
	ck_assert_int_eq(cv_archive_keys_recovery_print(k, &print, &plen, &err),
			 0);
	for (line = strtok_r(text, "\n", &save); line && nq < 8;
	     line = strtok_r(NULL, "\n", &save))
		ql[nq++] = line;
	save = NULL;
	for (line = strtok_r(print, "\n", &save); line && np < 16;
	     line = strtok_r(NULL, "\n", &save))
		pl[np++] = line;
	/* Header; ID in two; KEK id and two halves; SIGN in two. */
	ck_assert_uint_eq(nq, 4);
	ck_assert_uint_eq(np, 8);
	ck_assert_str_eq(pl[0], ql[0]);
	for (i = 1; i < np; i++) {
		ck_assert_msg(cv_archive_recovery_line_ok(pl[i]), "%s", pl[i]);
		/* At most 60 characters: fits the page at full size. */
		ck_assert_msg(strlen(pl[i]) <= 60, "too long: %s", pl[i]);
	}
	ck_assert(!strncmp(pl[1], "ID   1/2 ", 9));
	ck_assert(!strncmp(pl[2], "ID   2/2 ", 9));
	ck_assert(!strncmp(pl[3], "KEK1 ", 5));
	ck_assert(!strncmp(pl[4], "KEK1 1/2 ", 9));
	ck_assert(!strncmp(pl[5], "KEK1 2/2 ", 9));
	ck_assert(!strncmp(pl[6], "SIGN 1/2 ", 9));
	ck_assert(!strncmp(pl[7], "SIGN 2/2 ", 9));
	/* Halves joined give the QR code's lines. */
	{
		char *b[8], *q;

		for (i = 1; i < np; i++)
			b[i] = line_body(pl[i]);
		cv_buf_addf(&joined, "ID   %s %s", b[1] + 9, b[2] + 9);
		q = line_body(ql[1]);
		ck_assert_str_eq(joined.buf, q);
		free(q);
		cv_buf_reset(&joined);
		cv_buf_addf(&joined, "KEK  %s %s %s", b[3] + 5, b[4] + 9,
			    b[5] + 9);
		q = line_body(ql[2]);
		ck_assert_str_eq(joined.buf, q);
		free(q);
		cv_buf_reset(&joined);
		cv_buf_addf(&joined, "SIGN %s %s", b[6] + 9, b[7] + 9);
		q = line_body(ql[3]);
		ck_assert_str_eq(joined.buf, q);
		free(q);
		for (i = 1; i < np; i++)
			free(b[i]);
	}
	/* A typo in a half line is caught on that line. */
	pl[4][12] = pl[4][12] == '0' ? '1' : '0';
	ck_assert(!cv_archive_recovery_line_ok(pl[4]));
	cv_buf_release(&joined);
	cv_archive_secret_text_free(text, len);
	cv_archive_secret_text_free(print, plen);
	cv_archive_keys_free(k);
	cvt_rmrf(dir);
	free(path);
	free(dir);
}
END_TEST

Suite *cv_archive_suite(void)
{
	Suite *s = suite_create("archive");
	TCase *tc;

	tc = tcase_create("keys");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_archive_keys_create_then_load);
	tcase_add_test(tc, test_archive_keys_passphrase_roundtrip);
	tcase_add_test(tc, test_archive_keys_default_cost_works);
	tcase_add_test(tc, test_archive_keys_wrong_passphrase);
	tcase_add_test(tc, test_archive_keys_missing_file);
	tcase_add_test(tc, test_archive_keys_truncated);
	tcase_add_test(tc, test_archive_keys_damage_detected);
	tcase_add_test(tc,
		       test_archive_recovery_print_splits_each_secret_in_two);
	suite_add_tcase(s, tc);

	tc = tcase_create("sign");
	tcase_add_test(tc, test_archive_sign_matches_rfc8032);
	tcase_add_test(tc, test_archive_sign_tampering_fails);
	suite_add_tcase(s, tc);

	tc = tcase_create("oid");
	tcase_add_test(tc, test_archive_oid_parse_and_format);
	suite_add_tcase(s, tc);

	tc = tcase_create("stream");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_archive_stream_roundtrip_sizes);
	tcase_add_test(tc, test_archive_stream_rejects_flipped_byte);
	tcase_add_test(tc,
		       test_archive_stream_rejects_truncation_and_reordering);
	tcase_add_test(tc, test_archive_stream_refuses_changed_source);
	tcase_add_test(tc, test_archive_wrap_rejects_wrong_kek);
	suite_add_tcase(s, tc);

	tc = tcase_create("store");
	tcase_set_tags(tc, "db");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_archive_put_then_get_returns_same_bytes);
	tcase_add_test(tc, test_archive_put_same_bytes_stores_once);
	tcase_add_test(tc, test_archive_put_files_mixed_batch);
	tcase_add_test(tc, test_archive_concurrent_puts_keep_one_file);
	tcase_add_test(tc, test_archive_get_rejects_flipped_byte);
	tcase_add_test(tc, test_archive_get_rejects_truncated_file);
	tcase_add_test(tc, test_archive_get_unknown_and_capped);
	tcase_add_test(tc, test_archive_without_keys_is_unavailable);
	tcase_add_test(tc, test_archive_put_refuses_non_regular_file);
	tcase_add_test(tc, test_archive_store_holds_no_plaintext);
	suite_add_tcase(s, tc);

	tc = tcase_create("gc-lock");
	tcase_set_tags(tc, "db");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, cvt_shared_pg_setup,
				    cvt_shared_pg_teardown);
	tcase_add_test(tc, test_archive_gc_refuses_while_a_writer_is_active);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys-rewrite");
	tcase_set_timeout(tc, 30);
	tcase_add_test(
		tc,
		test_archive_keys_rewrite_keeps_secrets_and_shreds_old_file);
	suite_add_tcase(s, tc);
	return s;
}
