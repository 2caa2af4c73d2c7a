/*
 * Growable, capped byte buffers (git strbuf.h rules, curl DYNBUF.md caps).
 * The empty buffer points at a shared static byte so that an initialised
 * buffer is always a valid C string without allocating.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cv.h"
#include "banned.h"

char cv_buf__empty[1];

void cv_buf_init(struct cv_buf *b)
{
	b->buf = cv_buf__empty;
	b->len = 0;
	b->alloc = 0;
	b->limit = 0;
}

void cv_buf_release(struct cv_buf *b)
{
	size_t limit = b->limit;

	if (b->alloc)
		free(b->buf);
	cv_buf_init(b);
	b->limit = limit;
}

void cv_buf_reset(struct cv_buf *b)
{
	b->len = 0;
	if (b->alloc)
		b->buf[0] = '\0';
}

void cv_buf_limit(struct cv_buf *b, size_t limit)
{
	b->limit = limit;
}

int cv_buf_grow(struct cv_buf *b, size_t extra)
{
	size_t want;

	if (extra > SIZE_MAX - b->len - 1 ||
	    (b->limit && b->len + extra > b->limit)) {
		cv_buf_release(b);
		return CV_ELIMIT;
	}
	want = b->len + extra + 1;
	if (want <= b->alloc)
		return 0;
	if (want < b->alloc + b->alloc / 2)
		want = b->alloc + b->alloc / 2;
	if (want < 64)
		want = 64;
	if (b->alloc) {
		b->buf = cv_realloc(b->buf, want);
	} else {
		b->buf = cv_malloc(want);
		b->buf[0] = '\0';
	}
	b->alloc = want;
	return 0;
}

int cv_buf_add(struct cv_buf *b, const void *data, size_t n)
{
	if (cv_buf_grow(b, n) < 0)
		return CV_ELIMIT;
	if (n)
		memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return 0;
}

int cv_buf_adds(struct cv_buf *b, const char *s)
{
	return cv_buf_add(b, s, strlen(s));
}

int cv_buf_addch(struct cv_buf *b, int c)
{
	char ch = (char)c;

	return cv_buf_add(b, &ch, 1);
}

int cv_buf_vaddf(struct cv_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return CV_ERROR;
	if (cv_buf_grow(b, (size_t)n) < 0)
		return CV_ELIMIT;
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int cv_buf_addf(struct cv_buf *b, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = cv_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return ret;
}

char *cv_buf_detach(struct cv_buf *b, size_t *len)
{
	char *out;

	if (len)
		*len = b->len;
	out = b->alloc ? b->buf : cv_strdup("");
	cv_buf_init(b);
	return out;
}

int cv_buf_add_escaped(struct cv_buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int ret;

		if (c < 0x20 || c == 0x7f || c == '\\')
			ret = cv_buf_addf(b, "\\x%02x", c);
		else
			ret = cv_buf_addch(b, c);
		if (ret < 0)
			return ret;
	}
	return 0;
}
