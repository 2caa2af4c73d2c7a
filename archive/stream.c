/*
 * The object format: a 32-byte header, then the plaintext in chunks, each
 * sealed with AES-256-GCM under the object's data key (the STREAM
 * construction of Hoang, Reyhanitabar, Rogaway and Vizar, as in age and
 * Tink). The layout is in archive_int.h. This file knows nothing of the
 * index or of folders, so the unit tests can drive it directly.
 *
 * Only one chunk of plaintext is in memory at a time, so objects of any
 * size stream through, and the buffer is wiped when done.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive_int.h"
#include "common/banned.h"

#define CHUNK  ((size_t)1 << CV_ARCHIVE_CHUNK_SHIFT)
#define AD_LEN (CV_ARCHIVE_OBJ_HEADER_LEN + CV_ARCHIVE_OID_LEN)
/* The chunk counter is 32 bits wide in the nonce. */
#define CHUNKS_MAX ((uint64_t)1 << 32)

void cv_archive__src_fd(struct cv_archive__src *s, int fd, const char *name)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->name = name;
}

void cv_archive__src_mem(struct cv_archive__src *s, const void *data, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->mem = data;
	s->len = n;
	s->name = "(memory)";
}

/* Read n bytes, fewer only at the end of the source. */
static int src_read(struct cv_archive__src *s, uint8_t *buf, size_t n,
		    size_t *got, struct cv_error *err)
{
	size_t have = 0;

	if (s->fd < 0) {
		have = s->len - s->pos < n ? s->len - s->pos : n;
		if (have)
			memcpy(buf, s->mem + s->pos, have);
		s->pos += have;
		*got = have;
		return 0;
	}
	while (have < n) {
		ssize_t r = read(s->fd, buf + have, n - have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cv_error_errno(err, CV_ERROR,
					      "could not read '%s'", s->name);
		if (r == 0)
			break;
		have += (size_t)r;
	}
	*got = have;
	return 0;
}

static size_t chunk_buf_len(uint64_t size, size_t chunk)
{
	return (size < chunk ? (size_t)size : chunk) + CV_ARCHIVE_TAG_LEN;
}

int cv_archive__compute_id(uint8_t id[CV_ARCHIVE_OID_LEN], uint64_t *size,
			   const uint8_t *id_key, struct cv_archive__src *src,
			   struct cv_error *err)
{
	gcry_mac_hd_t h = NULL;
	uint8_t *buf = NULL;
	size_t got, idlen = CV_ARCHIVE_OID_LEN;
	uint64_t total = 0;
	gcry_error_t e = 0;
	int ret;

	memset(id, 0, CV_ARCHIVE_OID_LEN);
	*size = 0;
	ret = cv_archive__hmac_open(&h, id_key, err);
	if (ret < 0)
		return ret;
	if (src->fd < 0) {
		/* Already in memory: no copy. */
		e = gcry_mac_write(h, src->mem, src->len);
		total = src->len;
		src->pos = src->len;
	} else {
		buf = cv_malloc(CHUNK);
		for (;;) {
			ret = src_read(src, buf, CHUNK, &got, err);
			if (ret < 0)
				goto cleanup;
			if (!got)
				break;
			e = gcry_mac_write(h, buf, got);
			if (e)
				break;
			total += got;
		}
	}
	if (!e)
		e = gcry_mac_read(h, id, &idlen);
	if (e) {
		ret = cv_archive__error_gcry(err, CV_ERROR, e,
					     "could not compute the id of '%s'",
					     src->name);
		goto cleanup;
	}
	*size = total;
	ret = 0;
cleanup:
	if (buf) {
		cv_wipe(buf, CHUNK);
		free(buf);
	}
	gcry_mac_close(h);
	return ret;
}

static void make_nonce(uint8_t nonce[CV_ARCHIVE_NONCE_LEN],
		       const uint8_t *header, uint64_t i, int last)
{
	memcpy(nonce, header + 20, CV_ARCHIVE_OBJ_PREFIX_LEN);
	cv_archive__put_be32(nonce + CV_ARCHIVE_OBJ_PREFIX_LEN, (uint32_t)i);
	nonce[CV_ARCHIVE_NONCE_LEN - 1] = (uint8_t)last;
}

/* Start chunk i: a fresh nonce, and the header and id as AD. */
static gcry_error_t chunk_start(gcry_cipher_hd_t c, const uint8_t *ad,
				uint64_t i, int last)
{
	uint8_t nonce[CV_ARCHIVE_NONCE_LEN];
	gcry_error_t e;

	make_nonce(nonce, ad, i, last);
	e = gcry_cipher_reset(c);
	if (!e)
		e = gcry_cipher_setiv(c, nonce, sizeof(nonce));
	if (!e)
		e = gcry_cipher_authenticate(c, ad, AD_LEN);
	return e;
}

static int open_gcm(gcry_cipher_hd_t *out, const uint8_t *data_key,
		    struct cv_error *err)
{
	gcry_cipher_hd_t c = NULL;
	gcry_error_t e;

	*out = NULL;
	e = gcry_cipher_open(&c, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM,
			     GCRY_CIPHER_SECURE);
	if (!e)
		e = gcry_cipher_setkey(c, data_key, CV_ARCHIVE_KEY_LEN);
	if (e) {
		if (c)
			gcry_cipher_close(c);
		return cv_archive__error_gcry(err, CV_ERROR, e,
					      "could not start AES-256-GCM");
	}
	*out = c;
	return 0;
}

static uint64_t chunk_count(uint64_t size, size_t chunk)
{
	return size ? (size + chunk - 1) / chunk : 1;
}

int cv_archive__seal(int out_fd, struct cv_archive__src *src, uint64_t size,
		     const uint8_t *data_key,
		     const uint8_t id[CV_ARCHIVE_OID_LEN],
		     const uint8_t *id_key, struct cv_archive__sealed *res,
		     struct cv_error *err)
{
	uint8_t ad[AD_LEN], extra;
	gcry_cipher_hd_t c = NULL;
	gcry_md_hd_t sha = NULL;
	gcry_mac_hd_t h = NULL;
	uint64_t i, nchunks = chunk_count(size, CHUNK);
	size_t cap = chunk_buf_len(size, CHUNK), got;
	uint8_t *buf = NULL;
	gcry_error_t e;
	int ret;

	memset(res, 0, sizeof(*res));
	if (nchunks > CHUNKS_MAX)
		return cv_error_set(err, CV_ELIMIT,
				    "'%s' is too large for the archive",
				    src->name);
	memset(ad, 0, sizeof(ad));
	memcpy(ad, CV_ARCHIVE_OBJ_MAGIC, 8);
	ad[8] = CV_ARCHIVE_OBJ_VERSION;
	ad[9] = CV_ARCHIVE_OBJ_SUITE;
	ad[10] = CV_ARCHIVE_CHUNK_SHIFT;
	cv_archive__put_be64(ad + 12, size);
	gcry_create_nonce(ad + 20, CV_ARCHIVE_OBJ_PREFIX_LEN);
	memcpy(ad + CV_ARCHIVE_OBJ_HEADER_LEN, id, CV_ARCHIVE_OID_LEN);

	ret = open_gcm(&c, data_key, err);
	if (ret < 0)
		goto cleanup;
	if (id_key) {
		ret = cv_archive__hmac_open(&h, id_key, err);
		if (ret < 0)
			goto cleanup;
	}
	e = gcry_md_open(&sha, GCRY_MD_SHA256, 0);
	if (e) {
		ret = cv_archive__error_gcry(err, CV_ERROR, e,
					     "could not start SHA-256");
		goto cleanup;
	}
	gcry_md_write(sha, ad, CV_ARCHIVE_OBJ_HEADER_LEN);
	if (cv_fs_write_all(out_fd, ad, CV_ARCHIVE_OBJ_HEADER_LEN) < 0) {
		ret = cv_error_errno(err, CV_ERROR,
				     "could not write the object of '%s'",
				     src->name);
		goto cleanup;
	}
	buf = cv_malloc(cap);
	for (i = 0; i < nchunks; i++) {
		int last = i == nchunks - 1;
		size_t want = last ? (size_t)(size - i * CHUNK) : CHUNK;

		const uint8_t *in = buf;

		if (src->fd < 0 && src->len - src->pos >= want) {
			/* Encrypt straight from memory: no copy. */
			in = src->mem + src->pos;
			src->pos += want;
		} else {
			ret = src_read(src, buf, want, &got, err);
			if (ret < 0)
				goto cleanup;
			if (got != want)
				goto changed;
		}
		if (h && (e = gcry_mac_write(h, in, want)))
			goto crypto_failed;
		e = chunk_start(c, ad, i, last);
		if (!e && in == buf)
			e = gcry_cipher_encrypt(c, buf, want, NULL, 0);
		else if (!e)
			e = gcry_cipher_encrypt(c, buf, want, in, want);
		if (!e)
			e = gcry_cipher_gettag(c, buf + want,
					       CV_ARCHIVE_TAG_LEN);
		if (e)
			goto crypto_failed;
		gcry_md_write(sha, buf, want + CV_ARCHIVE_TAG_LEN);
		if (cv_fs_write_all(out_fd, buf, want + CV_ARCHIVE_TAG_LEN) <
		    0) {
			ret = cv_error_errno(
				err, CV_ERROR,
				"could not write the object of '%s'",
				src->name);
			goto cleanup;
		}
	}
	/* A source that grew since its id was computed is refused too. */
	ret = src_read(src, &extra, 1, &got, err);
	if (ret < 0)
		goto cleanup;
	if (got)
		goto changed;
	if (h && gcry_mac_verify(h, id, CV_ARCHIVE_OID_LEN))
		goto changed;
	res->stored_size =
		CV_ARCHIVE_OBJ_HEADER_LEN + size + nchunks * CV_ARCHIVE_TAG_LEN;
	memcpy(res->stored_sha256, gcry_md_read(sha, GCRY_MD_SHA256), 32);
	ret = 0;
	goto cleanup;
changed:
	ret = cv_error_set(err, CV_EINVAL,
			   "'%s' changed while it was being stored", src->name);
	cv_error_hint(err, "store it again once nothing is writing to it");
	goto cleanup;
crypto_failed:
	ret = cv_archive__error_gcry(err, CV_ERROR, e, "could not encrypt '%s'",
				     src->name);
cleanup:
	if (buf) {
		cv_wipe(buf, cap);
		free(buf);
	}
	gcry_md_close(sha);
	gcry_mac_close(h);
	if (c)
		gcry_cipher_close(c);
	return ret;
}

static int auth_failed(struct cv_error *err, const char *hex, const char *fmt,
		       ...) CV_PRINTF(3, 4);

static int auth_failed(struct cv_error *err, const char *hex, const char *fmt,
		       ...)
{
	char detail[sizeof(err->detail)];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(detail, sizeof(detail), fmt, ap) < 0)
		detail[0] = '\0';
	va_end(ap);
	cv_error_set(err, CV_EMISMATCH, "object %s failed authentication", hex);
	cv_error_detail(err, "%s", detail);
	cv_error_hint(
		err,
		"the stored file was damaged or altered; restore it from a backup of the store");
	return CV_EMISMATCH;
}

static int read_exact(int fd, uint8_t *buf, size_t n, size_t *got)
{
	struct cv_archive__src s;

	cv_archive__src_fd(&s, fd, "");
	return src_read(&s, buf, n, got, NULL);
}

/* Check a stored header; *chunk receives C. Returns 0 or -1 with why. */
static int check_obj_header(const uint8_t *h, uint64_t expect_size,
			    size_t *chunk, const char **why)
{
	static const uint8_t zeros[5];

	if (memcmp(h, CV_ARCHIVE_OBJ_MAGIC, 8)) {
		*why = "it is not a chartvault object file";
		return -1;
	}
	if (h[8] != CV_ARCHIVE_OBJ_VERSION || h[9] != CV_ARCHIVE_OBJ_SUITE ||
	    h[10] < CV_ARCHIVE_CHUNK_SHIFT_MIN ||
	    h[10] > CV_ARCHIVE_CHUNK_SHIFT_MAX || h[11] ||
	    memcmp(h + 27, zeros, sizeof(zeros))) {
		*why = "its header names an unknown format";
		return -1;
	}
	if (cv_archive__get_be64(h + 12) != expect_size) {
		*why = "its header and the index disagree on its size";
		return -1;
	}
	*chunk = (size_t)1 << h[10];
	return 0;
}

static int sink_write(struct cv_archive__sink *sink, const uint8_t *p, size_t n,
		      const char *hex, struct cv_error *err)
{
	if (sink->fd < 0 && !sink->buf)
		return 0; /* verify: authenticate, keep nothing */
	if (sink->fd >= 0) {
		if (cv_fs_write_all(sink->fd, p, n) < 0)
			return cv_error_errno(
				err, CV_ERROR,
				"could not write the plaintext of object %s",
				hex);
		return 0;
	}
	if (cv_buf_add(sink->buf, p, n) < 0)
		return cv_error_set(
			err, CV_ELIMIT,
			"object %s is larger than the buffer allows", hex);
	return 0;
}

int cv_archive__open_stream(int in_fd, struct cv_archive__sink *sink,
			    uint64_t expect_size, const uint8_t *data_key,
			    const uint8_t id[CV_ARCHIVE_OID_LEN],
			    const uint8_t *id_key, struct cv_error *err)
{
	char hex[CV_ARCHIVE_OID_HEXLEN + 1];
	uint8_t ad[AD_LEN];
	gcry_cipher_hd_t c = NULL;
	gcry_mac_hd_t h = NULL;
	uint64_t i, nchunks, expect_len;
	size_t chunk = 0, cap = 0, got;
	const char *why = NULL;
	uint8_t *buf = NULL;
	struct stat st;
	gcry_error_t e;
	int ret;

	cv_archive_oid_format(hex, id);
	if (fstat(in_fd, &st) < 0)
		return cv_error_errno(err, CV_ERROR, "could not read object %s",
				      hex);
	if (read_exact(in_fd, ad, CV_ARCHIVE_OBJ_HEADER_LEN, &got) < 0)
		return cv_error_errno(err, CV_ERROR, "could not read object %s",
				      hex);
	if (got != CV_ARCHIVE_OBJ_HEADER_LEN)
		return auth_failed(
			err, hex,
			"the stored file is %zu bytes, shorter than a header",
			got);
	if (check_obj_header(ad, expect_size, &chunk, &why) < 0)
		return auth_failed(err, hex, "%s", why);
	memcpy(ad + CV_ARCHIVE_OBJ_HEADER_LEN, id, CV_ARCHIVE_OID_LEN);
	nchunks = chunk_count(expect_size, chunk);
	if (nchunks > CHUNKS_MAX)
		return auth_failed(err, hex, "its header claims %llu bytes",
				   (unsigned long long)expect_size);
	/* Cut short or extended: refuse before decrypting anything. */
	expect_len = CV_ARCHIVE_OBJ_HEADER_LEN + expect_size +
		     nchunks * CV_ARCHIVE_TAG_LEN;
	if ((uint64_t)st.st_size != expect_len)
		return auth_failed(err, hex,
				   "the stored file is %llu bytes, not %llu",
				   (unsigned long long)st.st_size,
				   (unsigned long long)expect_len);

	ret = open_gcm(&c, data_key, err);
	if (ret < 0)
		goto cleanup;
	if (id_key) {
		ret = cv_archive__hmac_open(&h, id_key, err);
		if (ret < 0)
			goto cleanup;
	}
	cap = chunk_buf_len(expect_size, chunk);
	buf = cv_malloc(cap);
	for (i = 0; i < nchunks; i++) {
		int last = i == nchunks - 1;
		size_t want = last ? (size_t)(expect_size - i * chunk) : chunk;

		if (read_exact(in_fd, buf, want + CV_ARCHIVE_TAG_LEN, &got) <
		    0) {
			ret = cv_error_errno(err, CV_ERROR,
					     "could not read object %s", hex);
			goto cleanup;
		}
		if (got != want + CV_ARCHIVE_TAG_LEN) {
			ret = auth_failed(err, hex,
					  "chunk %llu of %llu is cut short",
					  (unsigned long long)i + 1,
					  (unsigned long long)nchunks);
			goto cleanup;
		}
		e = chunk_start(c, ad, i, last);
		if (!e)
			e = gcry_cipher_decrypt(c, buf, want, NULL, 0);
		if (e) {
			ret = cv_archive__error_gcry(
				err, CV_ERROR, e, "could not decrypt object %s",
				hex);
			goto cleanup;
		}
		/* Nothing of a chunk leaves this function before its tag. */
		e = gcry_cipher_checktag(c, buf + want, CV_ARCHIVE_TAG_LEN);
		if (e) {
			ret = gcry_err_code(e) == GPG_ERR_CHECKSUM
				      ? auth_failed(
						err, hex,
						"chunk %llu of %llu does not authenticate",
						(unsigned long long)i + 1,
						(unsigned long long)nchunks)
				      : cv_archive__error_gcry(
						err, CV_ERROR, e,
						"could not decrypt object %s",
						hex);
			goto cleanup;
		}
		if (h && (e = gcry_mac_write(h, buf, want))) {
			ret = cv_archive__error_gcry(err, CV_ERROR, e,
						     "could not hash object %s",
						     hex);
			goto cleanup;
		}
		ret = sink_write(sink, buf, want, hex, err);
		if (ret < 0)
			goto cleanup;
	}
	/*
	 * Defence in depth: every tag held, so only a wrong data key
	 * recorded for this id could get here with other bytes.
	 */
	if (h && gcry_mac_verify(h, id, CV_ARCHIVE_OID_LEN)) {
		ret = auth_failed(err, hex,
				  "its plaintext does not match its id");
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (buf) {
		cv_wipe(buf, cap);
		free(buf);
	}
	gcry_mac_close(h);
	if (c)
		gcry_cipher_close(c);
	return ret;
}
