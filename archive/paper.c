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
 * That is the QR code's text. In print each secret takes two lines, so
 * they fit the page at a size one can read and type from (one line of a
 * KEK is over 100 characters, which had to shrink to about 8 pt):
 *
 *   ID   1/2 <first 16 bytes, hex in groups of 8>            <check>
 *   ID   2/2 <last 16 bytes>                                  <check>
 *   KEK1 <8-byte KEK id>                                      <check>
 *   KEK1 1/2 <first 16 bytes>                                 <check>
 *   KEK1 2/2 <last 16 bytes>                                  <check>
 *   (KEK2 ... during a rotation)
 *   SIGN 1/2 ...  and  SIGN 2/2 ...
 *
 * <check> is the first 8 hex digits of SHA-256 over the line before it
 * (without the two spaces), in both forms. docs/ARCHIVE-FORMAT.md maps the
 * lines back to the key file's entries. The text lives in secure memory; every
 * copy of it, on paper or in a file, is a copy of the keys.
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

/*
 * One secret: "LABEL <kid> <hex>" on one line, or split in two halves,
 * "LABEL <kid> 1/2 <first 16 bytes>" and "... 2/2 <last 16 bytes>", each
 * with its own checksum. line and hex are secure scratch space.
 */
static int add_secret(struct sheet *s, const char *label, const char *kid,
		      const uint8_t *key, int halves, char *line, char *hex,
		      struct cv_error *err)
{
	const size_t half = CV_ARCHIVE_KEY_LEN / 2;
	int ret = 0, h;

	if (!halves) {
		hex_groups(hex, key, CV_ARCHIVE_KEY_LEN);
		snprintf(line, 256, "%-4s %s%s%s", label, kid ? kid : "",
			 kid ? " " : "", hex);
		return add_line(s, line, err);
	}
	for (h = 0; ret == 0 && h < 2; h++) {
		hex_groups(hex, key + h * half, half);
		snprintf(line, 256, "%-4s %s%s%d/2 %s", label, kid ? kid : "",
			 kid ? " " : "", h + 1, hex);
		ret = add_line(s, line, err);
	}
	return ret;
}

static int recovery_text(const struct cv_archive_keys *keys, int halves,
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
	ret = add_secret(&s, "ID", NULL, keys->id_key, halves, line, hex, err);
	for (i = 0; ret == 0 && i < keys->nkeks; i++) {
		char label[24];

		cv_hex_encode(kid, keys->keks[i].id, CV_ARCHIVE_KEKID_LEN);
		if (!halves) {
			ret = add_secret(&s, "KEK", kid, keys->keks[i].key, 0,
					 line, hex, err);
			continue;
		}
		/*
		 * In print the KEK's id takes a line of its own, and its
		 * halves carry its number: "KEK1 <id>", "KEK1 1/2 ...".
		 */
		snprintf(label, sizeof(label), "KEK%zu", i + 1);
		snprintf(line, 256, "%-4s %s", label, kid);
		ret = add_line(&s, line, err);
		if (ret == 0)
			ret = add_secret(&s, label, NULL, keys->keks[i].key, 1,
					 line, hex, err);
	}
	if (ret == 0)
		ret = add_secret(&s, "SIGN", NULL, keys->sign_seed, halves,
				 line, hex, err);
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

int cv_archive_keys_recovery_text(const struct cv_archive_keys *keys,
				  char **out, size_t *len, struct cv_error *err)
{
	return recovery_text(keys, 0, out, len, err);
}

int cv_archive_keys_recovery_print(const struct cv_archive_keys *keys,
				   char **out, size_t *len,
				   struct cv_error *err)
{
	return recovery_text(keys, 1, out, len, err);
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
