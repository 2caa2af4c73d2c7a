/*
 * Small helpers with no better home: aborting allocators, hex, bounded
 * number parsing, text checks, clocks.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unistr.h>

#include "cv.h"
#include "banned.h"

static CV_NORETURN void out_of_memory(size_t n)
{
	fprintf(stderr, "chartvault: out of memory allocating %zu bytes\n", n);
	abort();
}

void *cv_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		out_of_memory(n);
	return p;
}

void *cv_calloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		out_of_memory(nmemb * size);
	return p;
}

void *cv_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		out_of_memory(n);
	return q;
}

char *cv_strdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		out_of_memory(strlen(s) + 1);
	return p;
}

char *cv_strndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		out_of_memory(n + 1);
	return p;
}

char *cv_asprintf(const char *fmt, ...)
{
	struct cv_buf b = CV_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	cv_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return cv_buf_detach(&b, NULL);
}

void cv_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

void cv_hex_encode(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int cv_hex_decode(uint8_t *out, size_t n, const char *hex)
{
	size_t i;

	if (strlen(hex) != 2 * n)
		return CV_EINVAL;
	for (i = 0; i < n; i++) {
		int hi = hexval((unsigned char)hex[2 * i]);
		int lo = hexval((unsigned char)hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return CV_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int cv_parse_ll(long long *out, const char *s, long long min, long long max)
{
	char *end;
	long long v;

	if (!s || !*s)
		return CV_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max)
		return CV_EINVAL;
	*out = v;
	return 0;
}

int cv_text_ok(const char *s, size_t n, int lines)
{
	size_t i;

	if (u8_check((const uint8_t *)s, n))
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 || c == 0x7f) &&
		    !(lines && (c == '\t' || c == '\n' || c == '\r')))
			return 0;
	}
	return 1;
}

uint64_t cv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void cv_utc_now(char *out, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
