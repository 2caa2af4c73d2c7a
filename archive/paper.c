/*
 * The key file on paper, for disaster recovery: every secret as lines of
 * hexadecimal a person can type back in, each line ending in a checksum
 * so that a typing mistake is caught on that line, not at the end.
 *
 *   CHARTVAULT KEY SHEET 1
 *   ID   <32 bytes, hex in groups of 8>                      <check>
 *   KEK  <8-byte KEK id> <32 bytes, hex in groups of 8>     <check>
 *   SIGN <32 bytes, hex in groups of 8>                      <check>
 *
 * <check> is the first 8 hex digits of SHA-256 over the line before it
 * (without the two spaces). docs/ARCHIVE-FORMAT.md maps the lines back to
 * the key file's entries. The text lives in secure memory; every copy of
 * it, on paper or in a file, is a copy of the keys.
 */
#include <stdio.h>
#include <string.h>

#include "archive_int.h"
#include "common/banned.h"

#define SHEET_MAX 4096

struct sheet {
	char *text;
	size_t len;
};

static void hex_groups(char *out, const uint8_t *b, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (i && i % 4 == 0)
			out[k++] = ' ';
		cv_hex_encode(out + k, b + i, 1);
		k += 2;
	}
	out[k] = '\0';
}

/* Append "body  check\n" to the sheet. */
static int add_line(struct sheet *s, const char *body, struct cv_error *err)
{
	uint8_t digest[32];
	char check[9];
	size_t n = strlen(body);

	if (s->len + n + 12 >= SHEET_MAX)
		return cv_error_set(err, CV_ERROR, "the key sheet is too long");
	gcry_md_hash_buffer(GCRY_MD_SHA256, digest, body, n);
	cv_hex_encode(check, digest, 4);
	memcpy(s->text + s->len, body, n);
	s->len += n;
	s->len += (size_t)snprintf(s->text + s->len, SHEET_MAX - s->len,
				   "  %s\n", check);
	cv_wipe(digest, sizeof(digest));
	return 0;
}

int cv_archive_keys_recovery_text(const struct cv_archive_keys *keys,
				  char **out, size_t *len, struct cv_error *err)
{
	struct sheet s = { NULL, 0 };
	char *line = NULL, *hex = NULL, kid[2 * CV_ARCHIVE_KEKID_LEN + 1];
	size_t i;
	int ret = 0;

	*out = NULL;
	*len = 0;
	s.text = gcry_malloc_secure(SHEET_MAX);
	line = gcry_malloc_secure(256);
	hex = gcry_malloc_secure(128);
	if (!s.text || !line || !hex) {
		ret = cv_error_set(err, CV_ERROR,
				   "out of secure memory for the key sheet");
		goto cleanup;
	}
	s.len = (size_t)snprintf(s.text, SHEET_MAX, "CHARTVAULT KEY SHEET 1\n");
	hex_groups(hex, keys->id_key, CV_ARCHIVE_KEY_LEN);
	snprintf(line, 256, "ID   %s", hex);
	ret = add_line(&s, line, err);
	for (i = 0; ret == 0 && i < keys->nkeks; i++) {
		cv_hex_encode(kid, keys->keks[i].id, CV_ARCHIVE_KEKID_LEN);
		hex_groups(hex, keys->keks[i].key, CV_ARCHIVE_KEY_LEN);
		snprintf(line, 256, "KEK  %s %s", kid, hex);
		ret = add_line(&s, line, err);
	}
	if (ret == 0) {
		hex_groups(hex, keys->sign_seed, CV_ARCHIVE_KEY_LEN);
		snprintf(line, 256, "SIGN %s", hex);
		ret = add_line(&s, line, err);
	}
	if (ret == 0) {
		*out = s.text;
		*len = s.len;
		s.text = NULL;
	}
cleanup:
	cv_archive_secret_text_free(s.text, SHEET_MAX);
	cv_archive_secret_text_free(line, 256);
	cv_archive_secret_text_free(hex, 128);
	return ret;
}

void cv_archive_secret_text_free(char *text, size_t len)
{
	if (!text)
		return;
	cv_wipe(text, len);
	gcry_free(text);
}

int cv_archive_recovery_line_ok(const char *line)
{
	size_t n = strlen(line);
	uint8_t digest[32];
	char check[9];

	/* "<body>  <8 hex>": the checksum is at the end, after two spaces
	 * (the body itself holds runs of spaces). */
	if (n < 11 || line[n - 10] != ' ' || line[n - 9] != ' ')
		return 0;
	gcry_md_hash_buffer(GCRY_MD_SHA256, digest, line, n - 10);
	cv_hex_encode(check, digest, 4);
	return !strncmp(check, line + n - 8, 8);
}
