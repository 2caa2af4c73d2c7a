/*
 * libgcrypt set-up and the small primitives the rest of the module builds
 * on: the error adapter, secrets in secure memory, HMAC, AES key wrap and
 * the big-endian helpers of the on-disk formats.
 */
#include <stdio.h>
#include <string.h>

#include "archive_int.h"
#include "common/banned.h"

/*
 * Enough for the loaded keys and a few cipher handles per thread. The
 * pool grows on demand past this (GCRYCTL_AUTO_EXPAND_SECMEM), so a busy
 * worker does not fail for want of locked memory.
 */
#define SECMEM_POOL (256 * 1024)

int cv_archive__error_gcry(struct cv_error *err, int code, gcry_error_t e,
			   const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	cv_error_set(err, code, "%s", msg);
	cv_error_detail(err, "%s: %s", gcry_strsource(e), gcry_strerror(e));
	return code;
}

int cv_archive_global_init(struct cv_error *err)
{
	gcry_error_t e;

	if (gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P))
		return 0;
	if (!gcry_check_version(GCRYPT_VERSION))
		return cv_error_set(
			err, CV_ERROR,
			"libgcrypt is older than %s, the version chartvault was built with",
			GCRYPT_VERSION);
	/*
	 * Modules never print, and libgcrypt would otherwise warn on stderr
	 * when it may not lock memory (an unprivileged user with a small
	 * RLIMIT_MEMLOCK). Unlocked, the pool is still wiped on free.
	 */
	gcry_control(GCRYCTL_DISABLE_SECMEM_WARN);
	e = gcry_control(GCRYCTL_INIT_SECMEM, SECMEM_POOL, 0);
	if (e)
		return cv_archive__error_gcry(
			err, CV_ERROR, e,
			"could not set up libgcrypt's secure memory");
	e = gcry_control(GCRYCTL_AUTO_EXPAND_SECMEM, SECMEM_POOL, 0);
	if (e)
		return cv_archive__error_gcry(
			err, CV_ERROR, e,
			"could not set up libgcrypt's secure memory");
	e = gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	if (e)
		return cv_archive__error_gcry(err, CV_ERROR, e,
					      "could not initialise libgcrypt");
	e = gcry_control(GCRYCTL_SELFTEST, 0);
	if (e)
		return cv_archive__error_gcry(
			err, CV_ERROR, e, "libgcrypt failed its self-tests");
	return 0;
}

int cv_archive__need_init(struct cv_error *err)
{
	if (gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P))
		return 0;
	return cv_error_set(err, CV_ERROR,
			    "the archive's crypto library is not initialised");
}

uint8_t *cv_archive__secret_new(void)
{
	return gcry_calloc_secure(1, CV_ARCHIVE_KEY_LEN);
}

void cv_archive__secret_free(void *p, size_t len)
{
	if (!p)
		return;
	cv_wipe(p, len);
	gcry_free(p);
}

int cv_archive__hmac_open(gcry_mac_hd_t *out, const uint8_t *key,
			  struct cv_error *err)
{
	gcry_mac_hd_t h = NULL;
	gcry_error_t e;

	*out = NULL;
	e = gcry_mac_open(&h, GCRY_MAC_HMAC_SHA256, GCRY_MAC_FLAG_SECURE, NULL);
	if (e)
		return cv_archive__error_gcry(err, CV_ERROR, e,
					      "could not start HMAC-SHA256");
	e = gcry_mac_setkey(h, key, CV_ARCHIVE_KEY_LEN);
	if (e) {
		gcry_mac_close(h);
		return cv_archive__error_gcry(err, CV_ERROR, e,
					      "could not key HMAC-SHA256");
	}
	*out = h;
	return 0;
}

static int open_wrap(gcry_cipher_hd_t *out, const uint8_t *kek,
		     struct cv_error *err)
{
	gcry_cipher_hd_t c = NULL;
	gcry_error_t e;

	*out = NULL;
	e = gcry_cipher_open(&c, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_AESWRAP,
			     GCRY_CIPHER_SECURE);
	if (e)
		return cv_archive__error_gcry(err, CV_ERROR, e,
					      "could not start AES key wrap");
	e = gcry_cipher_setkey(c, kek, CV_ARCHIVE_KEY_LEN);
	if (e) {
		gcry_cipher_close(c);
		return cv_archive__error_gcry(err, CV_ERROR, e,
					      "could not key AES key wrap");
	}
	*out = c;
	return 0;
}

int cv_archive__wrap(uint8_t out[CV_ARCHIVE_WRAPPED_LEN], const uint8_t *kek,
		     const uint8_t *data_key, struct cv_error *err)
{
	gcry_cipher_hd_t c;
	gcry_error_t e;
	int ret;

	ret = open_wrap(&c, kek, err);
	if (ret < 0)
		return ret;
	e = gcry_cipher_encrypt(c, out, CV_ARCHIVE_WRAPPED_LEN, data_key,
				CV_ARCHIVE_KEY_LEN);
	if (e)
		ret = cv_archive__error_gcry(err, CV_ERROR, e,
					     "could not wrap a data key");
	gcry_cipher_close(c);
	return ret;
}

int cv_archive__unwrap(uint8_t *data_key, const uint8_t *kek,
		       const uint8_t in[CV_ARCHIVE_WRAPPED_LEN],
		       struct cv_error *err)
{
	gcry_cipher_hd_t c;
	gcry_error_t e;
	int ret;

	ret = open_wrap(&c, kek, err);
	if (ret < 0)
		return ret;
	e = gcry_cipher_decrypt(c, data_key, CV_ARCHIVE_KEY_LEN, in,
				CV_ARCHIVE_WRAPPED_LEN);
	if (e) {
		/* RFC 3394's integrity check: not our KEK, or a bad row. */
		ret = cv_archive__error_gcry(
			err,
			gcry_err_code(e) == GPG_ERR_CHECKSUM ? CV_EMISMATCH
							     : CV_ERROR,
			e, "could not unwrap a data key");
		cv_wipe(data_key, CV_ARCHIVE_KEY_LEN);
	}
	gcry_cipher_close(c);
	return ret;
}

void cv_archive__put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void cv_archive__put_be64(uint8_t *p, uint64_t v)
{
	cv_archive__put_be32(p, (uint32_t)(v >> 32));
	cv_archive__put_be32(p + 4, (uint32_t)v);
}

uint32_t cv_archive__get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

uint64_t cv_archive__get_be64(const uint8_t *p)
{
	return (uint64_t)cv_archive__get_be32(p) << 32 |
	       cv_archive__get_be32(p + 4);
}
