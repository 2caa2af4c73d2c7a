/*
 * Ed25519 signatures (RFC 8032, "pure" EdDSA) for destruction
 * certificates and anything else the archive vouches for. The secret is
 * the 32-byte seed from the key file; libgcrypt builds its s-expressions
 * in secure memory because the seed it copies from is there.
 */
#include <string.h>

#include "archive_int.h"
#include "common/banned.h"

int cv_archive__ed25519_public(uint8_t pub[32], const uint8_t *seed,
			       struct cv_error *err)
{
	gcry_sexp_t key = NULL;
	gcry_ctx_t ctx = NULL;
	gcry_mpi_t q = NULL;
	const void *qb;
	unsigned int nbits = 0;
	gcry_error_t e;
	int ret;

	e = gcry_sexp_build(
		&key, NULL,
		"(private-key (ecc (curve Ed25519)(flags eddsa)(d %b)))",
		CV_ARCHIVE_KEY_LEN, seed);
	if (!e)
		e = gcry_mpi_ec_new(&ctx, key, NULL);
	if (e) {
		ret = cv_archive__error_gcry(err, CV_ERROR, e,
					     "could not load the signing key");
		goto cleanup;
	}
	/* "q@eddsa" computes the public point from d and encodes it. */
	q = gcry_mpi_ec_get_mpi("q@eddsa", ctx, 1);
	qb = q ? gcry_mpi_get_opaque(q, &nbits) : NULL;
	if (!qb || nbits != 256) {
		ret = cv_error_set(err, CV_ERROR,
				   "could not compute the public signing key");
		goto cleanup;
	}
	memcpy(pub, qb, 32);
	ret = 0;
cleanup:
	gcry_mpi_release(q);
	gcry_ctx_release(ctx);
	gcry_sexp_release(key);
	return ret;
}

static int sig_part(uint8_t out[32], gcry_sexp_t sig, const char *name)
{
	gcry_sexp_t part = gcry_sexp_find_token(sig, name, 0);
	const char *p;
	size_t n = 0;
	int ret = -1;

	if (!part)
		return -1;
	p = gcry_sexp_nth_data(part, 1, &n);
	if (p && n == 32) {
		memcpy(out, p, 32);
		ret = 0;
	}
	gcry_sexp_release(part);
	return ret;
}

int cv_archive__ed25519_sign(const uint8_t *seed, const uint8_t pub[32],
			     const void *msg, size_t n, uint8_t sig[64],
			     struct cv_error *err)
{
	gcry_sexp_t key = NULL, data = NULL, s = NULL;
	gcry_error_t e;
	int ret;

	memset(sig, 0, 64);
	e = gcry_sexp_build(
		&key, NULL,
		"(private-key (ecc (curve Ed25519)(flags eddsa)(q %b)(d %b)))",
		32, pub, CV_ARCHIVE_KEY_LEN, seed);
	if (!e)
		e = gcry_sexp_build(
			&data, NULL,
			"(data (flags eddsa)(hash-algo sha512)(value %b))", n,
			msg);
	if (!e)
		e = gcry_pk_sign(&s, data, key);
	if (e) {
		ret = cv_archive__error_gcry(
			err, CV_ERROR, e,
			"could not sign with the archive key");
		goto cleanup;
	}
	if (sig_part(sig, s, "r") < 0 || sig_part(sig + 32, s, "s") < 0) {
		memset(sig, 0, 64);
		ret = cv_error_set(
			err, CV_ERROR,
			"libgcrypt returned a malformed Ed25519 signature");
		goto cleanup;
	}
	ret = 0;
cleanup:
	gcry_sexp_release(s);
	gcry_sexp_release(data);
	gcry_sexp_release(key);
	return ret;
}

int cv_archive_sign(const struct cv_archive_keys *keys, const void *msg,
		    size_t n, uint8_t sig[64], struct cv_error *err)
{
	return cv_archive__ed25519_sign(keys->sign_seed, keys->sign_pub, msg, n,
					sig, err);
}

void cv_archive_public_key(const struct cv_archive_keys *keys, uint8_t pub[32])
{
	memcpy(pub, keys->sign_pub, 32);
}

int cv_archive_verify_signature(const uint8_t pub[32], const void *msg,
				size_t n, const uint8_t sig[64],
				struct cv_error *err)
{
	gcry_sexp_t key = NULL, data = NULL, s = NULL;
	gcry_error_t e;
	int ret;

	e = gcry_sexp_build(
		&key, NULL,
		"(public-key (ecc (curve Ed25519)(flags eddsa)(q %b)))", 32,
		pub);
	if (!e)
		e = gcry_sexp_build(
			&data, NULL,
			"(data (flags eddsa)(hash-algo sha512)(value %b))", n,
			msg);
	if (!e)
		e = gcry_sexp_build(&s, NULL, "(sig-val (eddsa (r %b)(s %b)))",
				    32, sig, 32, sig + 32);
	if (e) {
		ret = cv_archive__error_gcry(
			err, CV_ERROR, e,
			"could not prepare signature verification");
		goto cleanup;
	}
	/*
	 * Any failure here, a bad signature or a public key that is not a
	 * valid point, means the signature does not verify.
	 */
	e = gcry_pk_verify(s, data, key);
	if (e) {
		ret = cv_archive__error_gcry(err, CV_EMISMATCH, e,
					     "signature does not verify");
		goto cleanup;
	}
	ret = 0;
cleanup:
	gcry_sexp_release(s);
	gcry_sexp_release(data);
	gcry_sexp_release(key);
	return ret;
}
