/*
 * The key file: the id key, the key-encryption keys and the signing seed,
 * optionally sealed under a passphrase with Argon2id and AES-256-GCM. The
 * format is in archive_int.h. Secrets are only ever held in libgcrypt's
 * secure memory, including the raw file bytes of an unsealed key file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive_int.h"
#include "common/banned.h"

#define ENTRY_HEAD 3 /* type, 2-byte length */
#define PAYLOAD_LEN(nkeks)                       \
	(2 * (ENTRY_HEAD + CV_ARCHIVE_KEY_LEN) + \
	 (nkeks) * (ENTRY_HEAD + CV_ARCHIVE_KEKID_LEN + CV_ARCHIVE_KEY_LEN))

static const char restore_hint[] =
	"restore the key file from its backup; without it the archive cannot be read";

static struct cv_archive_keys *keys_alloc(void)
{
	return gcry_calloc_secure(1, sizeof(struct cv_archive_keys));
}

void cv_archive_keys_free(struct cv_archive_keys *keys)
{
	if (!keys)
		return;
	cv_wipe(keys, sizeof(*keys));
	gcry_free(keys);
}

static uint8_t *put_entry(uint8_t *p, int type, const uint8_t *a, size_t an,
			  const uint8_t *b, size_t bn)
{
	*p++ = (uint8_t)type;
	*p++ = (uint8_t)((an + bn) >> 8);
	*p++ = (uint8_t)(an + bn);
	memcpy(p, a, an);
	p += an;
	if (bn)
		memcpy(p, b, bn);
	return p + bn;
}

/* Serialise the secrets as payload entries; out holds PAYLOAD_LEN. */
static size_t encode_payload(uint8_t *out, const struct cv_archive_keys *k)
{
	uint8_t *p = out;
	size_t i;

	p = put_entry(p, CV_ARCHIVE_ENTRY_ID_KEY, k->id_key, CV_ARCHIVE_KEY_LEN,
		      NULL, 0);
	for (i = 0; i < k->nkeks; i++)
		p = put_entry(p, CV_ARCHIVE_ENTRY_KEK, k->keks[i].id,
			      CV_ARCHIVE_KEKID_LEN, k->keks[i].key,
			      CV_ARCHIVE_KEY_LEN);
	p = put_entry(p, CV_ARCHIVE_ENTRY_SIGN_SEED, k->sign_seed,
		      CV_ARCHIVE_KEY_LEN, NULL, 0);
	return (size_t)(p - out);
}

static int parse_payload(struct cv_archive_keys *k, const uint8_t *p, size_t n,
			 const char *path, struct cv_error *err)
{
	int have_id = 0, have_seed = 0;
	size_t i;

	k->nkeks = 0;
	while (n) {
		int type;
		size_t len;

		if (n < ENTRY_HEAD)
			goto malformed;
		type = p[0];
		len = (size_t)p[1] << 8 | p[2];
		p += ENTRY_HEAD;
		n -= ENTRY_HEAD;
		if (len > n)
			goto malformed;
		switch (type) {
		case CV_ARCHIVE_ENTRY_ID_KEY:
			if (len != CV_ARCHIVE_KEY_LEN || have_id++)
				goto malformed;
			memcpy(k->id_key, p, len);
			break;
		case CV_ARCHIVE_ENTRY_KEK:
			if (len != CV_ARCHIVE_KEKID_LEN + CV_ARCHIVE_KEY_LEN ||
			    k->nkeks == CV_ARCHIVE_KEK_MAX)
				goto malformed;
			for (i = 0; i < k->nkeks; i++)
				if (!memcmp(k->keks[i].id, p,
					    CV_ARCHIVE_KEKID_LEN))
					goto malformed;
			memcpy(k->keks[k->nkeks].id, p, CV_ARCHIVE_KEKID_LEN);
			memcpy(k->keks[k->nkeks].key, p + CV_ARCHIVE_KEKID_LEN,
			       CV_ARCHIVE_KEY_LEN);
			k->nkeks++;
			break;
		case CV_ARCHIVE_ENTRY_SIGN_SEED:
			if (len != CV_ARCHIVE_KEY_LEN || have_seed++)
				goto malformed;
			memcpy(k->sign_seed, p, len);
			break;
		default:
			goto malformed;
		}
		p += len;
		n -= len;
	}
	if (have_id && have_seed && k->nkeks)
		return 0;
malformed:
	cv_error_set(err, CV_EINVAL, "key file '%s' is malformed", path);
	cv_error_detail(
		err,
		"its entries are not one id key, one to %d key-encryption keys and one signing key",
		CV_ARCHIVE_KEK_MAX);
	cv_error_hint(err, "%s", restore_hint);
	return CV_EINVAL;
}

static int derive(uint8_t *key, const char *passphrase, const uint8_t *salt,
		  const struct cv_archive__kdf_params *kp, struct cv_error *err)
{
	unsigned long params[4] = { CV_ARCHIVE_KEY_LEN, kp->t, kp->m_kib,
				    kp->p };
	gcry_kdf_hd_t h = NULL;
	gcry_error_t e;

	e = gcry_kdf_open(&h, GCRY_KDF_ARGON2, GCRY_KDF_ARGON2ID, params, 4,
			  passphrase, strlen(passphrase), salt,
			  CV_ARCHIVE_KEYS_SALT_LEN, NULL, 0, NULL, 0);
	if (!e)
		e = gcry_kdf_compute(h, NULL);
	if (!e)
		e = gcry_kdf_final(h, CV_ARCHIVE_KEY_LEN, key);
	if (h)
		gcry_kdf_close(h);
	if (e) {
		cv_wipe(key, CV_ARCHIVE_KEY_LEN);
		return cv_archive__error_gcry(
			err, CV_ERROR, e,
			"could not derive a key from the passphrase");
	}
	return 0;
}

/*
 * Seal or unseal the payload in place with AES-256-GCM, the header as
 * associated data. Unsealing fails with CV_EMISMATCH on a bad tag.
 */
static int gcm_payload(uint8_t *image, size_t plen, const uint8_t *key,
		       int seal, struct cv_error *err)
{
	uint8_t *payload = image + CV_ARCHIVE_KEYS_HEADER_LEN;
	uint8_t *tag = payload + plen;
	gcry_cipher_hd_t c = NULL;
	gcry_error_t e;
	int ret;

	e = gcry_cipher_open(&c, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM,
			     GCRY_CIPHER_SECURE);
	if (!e)
		e = gcry_cipher_setkey(c, key, CV_ARCHIVE_KEY_LEN);
	if (!e)
		e = gcry_cipher_setiv(c, image + 40, CV_ARCHIVE_NONCE_LEN);
	if (!e)
		e = gcry_cipher_authenticate(c, image,
					     CV_ARCHIVE_KEYS_HEADER_LEN);
	if (e) {
		ret = cv_archive__error_gcry(err, CV_ERROR, e,
					     "could not start AES-256-GCM");
		goto cleanup;
	}
	if (seal) {
		e = gcry_cipher_encrypt(c, payload, plen, NULL, 0);
		if (!e)
			e = gcry_cipher_gettag(c, tag, CV_ARCHIVE_TAG_LEN);
		if (e) {
			ret = cv_archive__error_gcry(
				err, CV_ERROR, e,
				"could not seal the key file");
			goto cleanup;
		}
	} else {
		e = gcry_cipher_decrypt(c, payload, plen, NULL, 0);
		if (!e)
			e = gcry_cipher_checktag(c, tag, CV_ARCHIVE_TAG_LEN);
		if (e) {
			ret = cv_archive__error_gcry(
				err,
				gcry_err_code(e) == GPG_ERR_CHECKSUM
					? CV_EMISMATCH
					: CV_ERROR,
				e, "could not open the key file");
			goto cleanup;
		}
	}
	ret = 0;
cleanup:
	if (c)
		gcry_cipher_close(c);
	return ret;
}

static void checksum(uint8_t out[CV_ARCHIVE_TAG_LEN], const uint8_t *image,
		     size_t n)
{
	uint8_t digest[32];

	gcry_md_hash_buffer(GCRY_MD_SHA256, digest, image, n);
	memcpy(out, digest, CV_ARCHIVE_TAG_LEN);
}

/* Write k to path, sealed under passphrase when there is one. */
static int keys_write(const char *path, const struct cv_archive_keys *k,
		      const char *passphrase,
		      const struct cv_archive__kdf_params *kp, int exclusive,
		      struct cv_error *err)
{
	size_t plen = PAYLOAD_LEN(k->nkeks);
	size_t total = CV_ARCHIVE_KEYS_HEADER_LEN + plen + CV_ARCHIVE_TAG_LEN;
	int sealed = passphrase && *passphrase;
	uint8_t *image, *key = NULL;
	int ret;

	image = gcry_calloc_secure(1, total);
	if (!image)
		return cv_error_set(err, CV_ERROR,
				    "out of secure memory for the key file");
	memcpy(image, CV_ARCHIVE_KEYS_MAGIC, 8);
	image[8] = CV_ARCHIVE_KEYS_VERSION;
	image[9] = sealed ? CV_ARCHIVE_KDF_ARGON2ID : CV_ARCHIVE_KDF_NONE;
	cv_archive__put_be32(image + 52, (uint32_t)plen);
	if (encode_payload(image + CV_ARCHIVE_KEYS_HEADER_LEN, k) != plen)
		CV_BUG("key file payload length");
	if (sealed) {
		cv_archive__put_be32(image + 12, kp->t);
		cv_archive__put_be32(image + 16, kp->m_kib);
		cv_archive__put_be32(image + 20, kp->p);
		gcry_create_nonce(image + 24, CV_ARCHIVE_KEYS_SALT_LEN);
		gcry_create_nonce(image + 40, CV_ARCHIVE_NONCE_LEN);
		key = cv_archive__secret_new();
		if (!key) {
			ret = cv_error_set(
				err, CV_ERROR,
				"out of secure memory for the key file");
			goto cleanup;
		}
		ret = derive(key, passphrase, image + 24, kp, err);
		if (ret < 0)
			goto cleanup;
		ret = gcm_payload(image, plen, key, 1, err);
		if (ret < 0)
			goto cleanup;
	} else {
		checksum(image + CV_ARCHIVE_KEYS_HEADER_LEN + plen, image,
			 CV_ARCHIVE_KEYS_HEADER_LEN + plen);
	}
	ret = cv_fs_write_atomic(path, image, total, cv_fs_mode(0600),
				 exclusive, err);
cleanup:
	cv_archive__secret_free(key, CV_ARCHIVE_KEY_LEN);
	cv_wipe(image, total);
	gcry_free(image);
	return ret;
}

static int check_params(const struct cv_archive__kdf_params *kp)
{
	return kp->t >= 1 && kp->t <= CV_ARCHIVE_ARGON2_T_MAX && kp->p >= 1 &&
	       kp->p <= CV_ARCHIVE_ARGON2_P_MAX && kp->m_kib >= 8 * kp->p &&
	       kp->m_kib <= CV_ARCHIVE_ARGON2_M_MAX;
}

int cv_archive__keys_create_params(const char *path, const char *passphrase,
				   const struct cv_archive__kdf_params *params,
				   struct cv_error *err)
{
	struct cv_archive_keys *k = NULL;
	int ret;

	ret = cv_archive__need_init(err);
	if (ret < 0)
		return ret;
	if (passphrase && *passphrase && !check_params(params))
		return cv_error_set(
			err, CV_EINVAL,
			"Argon2id parameters t=%u m=%u KiB p=%u are out of range",
			params->t, params->m_kib, params->p);
	/* Refuse early, before spending the Argon2id time. */
	if (cv_fs_exists(path))
		return cv_error_set(err, CV_EEXISTS, "'%s' already exists",
				    path);
	k = keys_alloc();
	if (!k)
		return cv_error_set(err, CV_ERROR,
				    "out of secure memory for the keys");
	gcry_randomize(k->id_key, CV_ARCHIVE_KEY_LEN, GCRY_STRONG_RANDOM);
	gcry_randomize(k->sign_seed, CV_ARCHIVE_KEY_LEN, GCRY_STRONG_RANDOM);
	gcry_randomize(k->keks[0].key, CV_ARCHIVE_KEY_LEN, GCRY_STRONG_RANDOM);
	gcry_create_nonce(k->keks[0].id, CV_ARCHIVE_KEKID_LEN);
	k->nkeks = 1;
	ret = keys_write(path, k, passphrase, params, 1, err);
	if (ret < 0)
		cv_error_prefix(err, "could not create key file '%s'", path);
	cv_archive_keys_free(k);
	return ret;
}

int cv_archive_keys_create(const char *path, const char *passphrase,
			   struct cv_error *err)
{
	static const struct cv_archive__kdf_params defaults = {
		CV_ARCHIVE_ARGON2_T, CV_ARCHIVE_ARGON2_M_KIB,
		CV_ARCHIVE_ARGON2_P
	};

	return cv_archive__keys_create_params(path, passphrase, &defaults, err);
}

static int open_key_file(int *fd, const char *path, struct cv_error *err)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd >= 0)
		return 0;
	cv_error_errno(err, CV_EUNAVAIL, "could not open key file '%s'", path);
	if (errno == ENOENT)
		cv_error_hint(
			err,
			"check the key.file setting, or create an archive with 'chartvault init'");
	else if (errno == EACCES)
		cv_error_hint(
			err,
			"the key file must be readable by the user running chartvault");
	return CV_EUNAVAIL;
}

/* Read up to max bytes of fd into buf; *got receives the count. */
static int read_up_to(int fd, uint8_t *buf, size_t max, size_t *got)
{
	size_t n = 0;

	while (n < max) {
		ssize_t r = read(fd, buf + n, max - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*got = n;
	return 0;
}

/*
 * Check the fixed header of a key file of n bytes (n may be the header
 * alone when only the header was read). *plen receives L.
 */
static int check_header(const uint8_t *h, size_t n, int whole, const char *path,
			size_t *plen, struct cv_error *err)
{
	uint32_t l;

	if (n < 8 || memcmp(h, CV_ARCHIVE_KEYS_MAGIC, 8))
		return cv_error_set(err, CV_EINVAL,
				    "'%s' is not a chartvault key file", path);
	if (n < CV_ARCHIVE_KEYS_HEADER_LEN)
		goto truncated;
	if (h[8] != CV_ARCHIVE_KEYS_VERSION)
		return cv_error_set(
			err, CV_EINVAL,
			"key file '%s' has format version %u, which this chartvault does not read",
			path, h[8]);
	if ((h[9] != CV_ARCHIVE_KDF_NONE && h[9] != CV_ARCHIVE_KDF_ARGON2ID) ||
	    h[10] || h[11]) {
		cv_error_set(err, CV_EINVAL, "key file '%s' is malformed",
			     path);
		cv_error_detail(err, "unknown key derivation %u", h[9]);
		return CV_EINVAL;
	}
	l = cv_archive__get_be32(h + 52);
	if (!l || l > CV_ARCHIVE_KEYS_PAYLOAD_MAX) {
		cv_error_set(err, CV_EINVAL, "key file '%s' is malformed",
			     path);
		cv_error_detail(err, "payload length %u", l);
		return CV_EINVAL;
	}
	*plen = l;
	if (!whole)
		return 0;
	if (n < CV_ARCHIVE_KEYS_HEADER_LEN + l + CV_ARCHIVE_TAG_LEN)
		goto truncated;
	if (n > CV_ARCHIVE_KEYS_HEADER_LEN + l + CV_ARCHIVE_TAG_LEN) {
		cv_error_set(err, CV_EINVAL, "key file '%s' is malformed",
			     path);
		cv_error_detail(err, "%zu bytes follow the key material",
				n - (CV_ARCHIVE_KEYS_HEADER_LEN + l +
				     CV_ARCHIVE_TAG_LEN));
		return CV_EINVAL;
	}
	return 0;
truncated:
	cv_error_set(err, CV_EINVAL, "key file '%s' is truncated", path);
	cv_error_detail(err, "it is %zu bytes long", n);
	cv_error_hint(err, "%s", restore_hint);
	return CV_EINVAL;
}

int cv_archive_keys_need_passphrase(const char *path, int *need,
				    struct cv_error *err)
{
	uint8_t h[CV_ARCHIVE_KEYS_HEADER_LEN];
	size_t n, plen;
	int fd, ret;

	*need = 0;
	ret = open_key_file(&fd, path, err);
	if (ret < 0)
		return ret;
	if (read_up_to(fd, h, sizeof(h), &n) < 0) {
		ret = cv_error_errno(err, CV_EUNAVAIL,
				     "could not read key file '%s'", path);
		goto cleanup;
	}
	ret = check_header(h, n, 0, path, &plen, err);
	if (ret < 0)
		goto cleanup;
	*need = h[9] == CV_ARCHIVE_KDF_ARGON2ID;
cleanup:
	close(fd);
	return ret;
}

/* Unseal or check the image of n bytes in place. */
static int open_image(uint8_t *image, size_t plen, const char *path,
		      const char *passphrase, struct cv_error *err)
{
	uint8_t check[CV_ARCHIVE_TAG_LEN];
	struct cv_archive__kdf_params kp;
	uint8_t *key = NULL;
	int ret;

	if (image[9] == CV_ARCHIVE_KDF_NONE) {
		checksum(check, image, CV_ARCHIVE_KEYS_HEADER_LEN + plen);
		if (memcmp(check, image + CV_ARCHIVE_KEYS_HEADER_LEN + plen,
			   CV_ARCHIVE_TAG_LEN)) {
			cv_error_set(err, CV_EINVAL, "key file '%s' is damaged",
				     path);
			cv_error_detail(err, "its checksum does not match");
			cv_error_hint(err, "%s", restore_hint);
			return CV_EINVAL;
		}
		return 0;
	}
	if (!passphrase || !*passphrase) {
		cv_error_set(err, CV_EINVAL, "key file '%s' needs a passphrase",
			     path);
		cv_error_hint(
			err,
			"give the passphrase the key file was created with");
		return CV_EINVAL;
	}
	kp.t = cv_archive__get_be32(image + 12);
	kp.m_kib = cv_archive__get_be32(image + 16);
	kp.p = cv_archive__get_be32(image + 20);
	if (!check_params(&kp)) {
		cv_error_set(err, CV_EINVAL, "key file '%s' is malformed",
			     path);
		cv_error_detail(
			err,
			"Argon2id parameters t=%u m=%u KiB p=%u are out of range",
			kp.t, kp.m_kib, kp.p);
		return CV_EINVAL;
	}
	key = cv_archive__secret_new();
	if (!key)
		return cv_error_set(err, CV_ERROR,
				    "out of secure memory for the key file");
	ret = derive(key, passphrase, image + 24, &kp, err);
	if (ret < 0)
		goto cleanup;
	ret = gcm_payload(image, plen, key, 0, err);
	if (ret == CV_EMISMATCH) {
		/* The tag covers the header too, so damage looks the same. */
		cv_error_set(err, CV_EMISMATCH,
			     "wrong passphrase for key file '%s'", path);
		cv_error_hint(
			err,
			"check the passphrase; if it is right, the key file is damaged and must be restored from its backup");
	}
cleanup:
	cv_archive__secret_free(key, CV_ARCHIVE_KEY_LEN);
	return ret;
}

int cv_archive_keys_load(struct cv_archive_keys **out, const char *path,
			 const char *passphrase, struct cv_error *err)
{
	struct cv_archive_keys *k = NULL;
	uint8_t *image = NULL;
	size_t n = 0, plen;
	struct stat st;
	int fd = -1, ret;

	*out = NULL;
	ret = cv_archive__need_init(err);
	if (ret < 0)
		return ret;
	ret = open_key_file(&fd, path, err);
	if (ret < 0)
		return ret;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = cv_error_set(err, CV_EINVAL,
				   "key file '%s' is not a regular file", path);
		goto cleanup;
	}
	/* One byte more than the largest valid file, to see trailing junk. */
	image = gcry_malloc_secure(CV_ARCHIVE_KEYS_FILE_MAX + 1);
	k = keys_alloc();
	if (!image || !k) {
		ret = cv_error_set(err, CV_ERROR,
				   "out of secure memory for the keys");
		goto cleanup;
	}
	if (read_up_to(fd, image, CV_ARCHIVE_KEYS_FILE_MAX + 1, &n) < 0) {
		ret = cv_error_errno(err, CV_EUNAVAIL,
				     "could not read key file '%s'", path);
		goto cleanup;
	}
	ret = check_header(image, n, 1, path, &plen, err);
	if (ret < 0)
		goto cleanup;
	ret = open_image(image, plen, path, passphrase, err);
	if (ret < 0)
		goto cleanup;
	ret = parse_payload(k, image + CV_ARCHIVE_KEYS_HEADER_LEN, plen, path,
			    err);
	if (ret < 0)
		goto cleanup;
	if (image[9] == CV_ARCHIVE_KDF_ARGON2ID) {
		k->kdf.t = cv_archive__get_be32(image + 12);
		k->kdf.m_kib = cv_archive__get_be32(image + 16);
		k->kdf.p = cv_archive__get_be32(image + 20);
	}
	ret = cv_archive__ed25519_public(k->sign_pub, k->sign_seed, err);
	if (ret < 0)
		goto cleanup;
	*out = k;
	k = NULL;
cleanup:
	if (image) {
		cv_wipe(image, CV_ARCHIVE_KEYS_FILE_MAX + 1);
		gcry_free(image);
	}
	cv_archive_keys_free(k);
	if (fd >= 0)
		close(fd);
	return ret;
}

int cv_archive__keys_rewrite(const char *path, const struct cv_archive_keys *k,
			     const char *passphrase, struct cv_error *err)
{
	static const struct cv_archive__kdf_params defaults = {
		CV_ARCHIVE_ARGON2_T, CV_ARCHIVE_ARGON2_M_KIB,
		CV_ARCHIVE_ARGON2_P
	};
	const struct cv_archive__kdf_params *kp =
		k->kdf.t && check_params(&k->kdf) ? &k->kdf : &defaults;
	char *aside = cv_asprintf("%s.retired", path);
	struct stat a, b;
	int present, ret;

	/*
	 * A leftover from a crash: the retired copy of an older file, or,
	 * when the crash came before the rename, a second name of the live
	 * file, which must only lose its name.
	 */
	if (lstat(aside, &a) == 0) {
		if (stat(path, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev) {
			if (unlink(aside) < 0) {
				ret = cv_error_errno(err, CV_ERROR,
						     "could not remove '%s'",
						     aside);
				goto cleanup;
			}
		} else {
			ret = cv_archive__shred(aside, &present, err);
			if (ret < 0)
				goto cleanup;
		}
	}
	if (link(path, aside) < 0) {
		ret = cv_error_errno(err, CV_ERROR,
				     "could not keep the old key file aside");
		cv_error_detail(err, "link '%s' to '%s': %s", path, aside,
				strerror(errno));
		goto cleanup;
	}
	ret = keys_write(path, k, passphrase, kp, 0, err);
	if (ret < 0) {
		unlink(aside);
		cv_error_prefix(err, "could not rewrite key file '%s'", path);
		goto cleanup;
	}
	/* The new file is in place and durable: destroy the old secrets. */
	ret = cv_archive__shred(aside, &present, err);
cleanup:
	free(aside);
	return ret;
}
