/*
 * Password hashes for signing in (the viewer): Argon2id from libgcrypt,
 * stored as a PHC string that carries its own salt and parameters,
 *
 *   $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>
 *
 * with salt and hash in unpadded standard base64, as argon2's reference
 * tools and libsodium write them, so stored hashes stay readable by other
 * software and the cost can be raised later without breaking old hashes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_int.h"
#include "common/banned.h"

#define PW_SALT_LEN 16
#define PW_HASH_LEN 32
#define PW_T        3
#define PW_M_KIB    (64 * 1024)
#define PW_P        1
/* Bounds on what a stored string may ask for: a tampered row must not
 * make a sign-in take minutes or gigabytes. */
#define PW_T_MAX     16
#define PW_M_KIB_MAX (1024 * 1024)
#define PW_P_MAX     8
#define PW_MAX       1024 /* longest password accepted */

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(struct cv_buf *out, const uint8_t *in, size_t n)
{
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];

		cv_buf_addch(out, b64[v >> 18]);
		cv_buf_addch(out, b64[(v >> 12) & 63]);
		cv_buf_addch(out, b64[(v >> 6) & 63]);
		cv_buf_addch(out, b64[v & 63]);
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		cv_buf_addch(out, b64[v >> 18]);
		cv_buf_addch(out, b64[(v >> 12) & 63]);
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		cv_buf_addch(out, b64[v >> 18]);
		cv_buf_addch(out, b64[(v >> 12) & 63]);
		cv_buf_addch(out, b64[(v >> 6) & 63]);
	}
}

/* Decode unpadded base64 of exactly len characters; -1 if malformed. */
static int b64_decode(uint8_t *out, size_t cap, size_t *n, const char *in,
		      size_t len)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t i;

	*n = 0;
	if (len % 4 == 1)
		return -1;
	for (i = 0; i < len; i++) {
		const char *p = memchr(b64, in[i], 64);

		if (!p || !in[i])
			return -1;
		acc = acc << 6 | (uint32_t)(p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (*n >= cap)
				return -1;
			out[(*n)++] = (uint8_t)(acc >> bits);
		}
	}
	return 0;
}

static int argon2id(uint8_t *out, size_t outlen, const char *password,
		    const uint8_t *salt, size_t saltlen, unsigned long t,
		    unsigned long m, unsigned long p, struct cv_error *err)
{
	unsigned long params[4] = { outlen, t, m, p };
	gcry_kdf_hd_t h = NULL;
	gcry_error_t e;

	e = gcry_kdf_open(&h, GCRY_KDF_ARGON2, GCRY_KDF_ARGON2ID, params, 4,
			  password, strlen(password), salt, saltlen, NULL, 0,
			  NULL, 0);
	if (!e)
		e = gcry_kdf_compute(h, NULL);
	if (!e)
		e = gcry_kdf_final(h, outlen, out);
	if (h)
		gcry_kdf_close(h);
	if (e) {
		cv_wipe(out, outlen);
		return cv_archive__error_gcry(err, CV_ERROR, e,
					      "could not hash the password");
	}
	return 0;
}

int cv_archive_password_hash(char **phc, const char *password,
			     struct cv_error *err)
{
	uint8_t salt[PW_SALT_LEN], hash[PW_HASH_LEN];
	struct cv_buf b = CV_BUF_INIT;
	int ret;

	*phc = NULL;
	if (!password || !*password)
		return cv_error_set(err, CV_EINVAL, "the password is empty");
	if (strlen(password) > PW_MAX)
		return cv_error_set(err, CV_EINVAL,
				    "the password is longer than %d bytes",
				    PW_MAX);
	ret = cv_archive__need_init(err);
	if (ret < 0)
		return ret;
	gcry_randomize(salt, sizeof(salt), GCRY_STRONG_RANDOM);
	ret = argon2id(hash, sizeof(hash), password, salt, sizeof(salt), PW_T,
		       PW_M_KIB, PW_P, err);
	if (ret < 0)
		return ret;
	cv_buf_addf(&b, "$argon2id$v=19$m=%d,t=%d,p=%d$", PW_M_KIB, PW_T, PW_P);
	b64_encode(&b, salt, sizeof(salt));
	cv_buf_addch(&b, '$');
	b64_encode(&b, hash, sizeof(hash));
	cv_wipe(hash, sizeof(hash));
	*phc = cv_buf_detach(&b, NULL);
	return 0;
}

/* Parse "m=..,t=..,p=.."; -1 when malformed or out of bounds. */
static int parse_params(const char *s, size_t len, unsigned long *m,
			unsigned long *t, unsigned long *p)
{
	char tmp[64];
	long long vm, vt, vp;
	char *mp, *tp, *pp;

	if (len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (strncmp(tmp, "m=", 2) != 0)
		return -1;
	mp = tmp + 2;
	tp = strstr(mp, ",t=");
	pp = tp ? strstr(tp + 3, ",p=") : NULL;
	if (!tp || !pp)
		return -1;
	*tp = '\0';
	*pp = '\0';
	if (cv_parse_ll(&vm, mp, 8, PW_M_KIB_MAX) < 0 ||
	    cv_parse_ll(&vt, tp + 3, 1, PW_T_MAX) < 0 ||
	    cv_parse_ll(&vp, pp + 3, 1, PW_P_MAX) < 0 || vm < 8 * vp)
		return -1;
	*m = (unsigned long)vm;
	*t = (unsigned long)vt;
	*p = (unsigned long)vp;
	return 0;
}

int cv_archive_password_verify(const char *phc, const char *password,
			       struct cv_error *err)
{
	static const char prefix[] = "$argon2id$v=19$";
	uint8_t salt[64], want[64], got[64];
	size_t saltlen, wantlen;
	unsigned long m, t, p;
	const char *params, *s1, *s2;
	unsigned diff = 0;
	size_t i;
	int ret;

	if (!phc || strncmp(phc, prefix, sizeof(prefix) - 1) != 0)
		return cv_error_set(
			err, CV_EINVAL,
			"the stored password hash is not an Argon2id (v=19) string");
	params = phc + sizeof(prefix) - 1;
	s1 = strchr(params, '$');
	s2 = s1 ? strchr(s1 + 1, '$') : NULL;
	if (!s1 || !s2 ||
	    parse_params(params, (size_t)(s1 - params), &m, &t, &p) < 0 ||
	    b64_decode(salt, sizeof(salt), &saltlen, s1 + 1,
		       (size_t)(s2 - s1 - 1)) < 0 ||
	    b64_decode(want, sizeof(want), &wantlen, s2 + 1, strlen(s2 + 1)) <
		    0 ||
	    saltlen < 8 || wantlen < 16)
		return cv_error_set(err, CV_EINVAL,
				    "the stored password hash is malformed");
	if (!password || strlen(password) > PW_MAX)
		return cv_error_set(err, CV_EMISMATCH, "wrong password");
	ret = cv_archive__need_init(err);
	if (ret < 0)
		return ret;
	ret = argon2id(got, wantlen, password, salt, saltlen, t, m, p, err);
	if (ret < 0)
		return ret;
	/* Constant time: how much matched must not show in the timing. */
	for (i = 0; i < wantlen; i++)
		diff |= (unsigned)(got[i] ^ want[i]);
	cv_wipe(got, sizeof(got));
	if (diff)
		return cv_error_set(err, CV_EMISMATCH, "wrong password");
	return 0;
}
