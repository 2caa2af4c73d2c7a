/*
 * The error record. Library adapters live with the one module that uses
 * each library (cv_index__error_pg in index/, cv_archive__error_gcry in
 * archive/), so that no other module includes libpq or gcrypt.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cv.h"
#include "banned.h"

static void vformat(char *out, size_t n, const char *fmt, va_list ap)
{
	int r = vsnprintf(out, n, fmt, ap);

	if (r < 0)
		out[0] = '\0';
}

int cv_error_set(struct cv_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vformat(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->detail[0] = '\0';
	err->hint[0] = '\0';
	return code;
}

int cv_error_errno(struct cv_error *err, int code, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vformat(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	snprintf(err->detail, sizeof(err->detail), "%s", strerror(saved));
	err->hint[0] = '\0';
	if (saved == ENOSPC)
		snprintf(err->hint, sizeof(err->hint),
			 "free some space and run the command again");
	errno = saved;
	return code;
}

void cv_error_detail(struct cv_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vformat(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
}

void cv_error_hint(struct cv_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vformat(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

void cv_error_prefix(struct cv_error *err, const char *fmt, ...)
{
	char where[256], old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vformat(where, sizeof(where), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* Truncation is fine here: the message stays one readable line. */
	if (snprintf(err->msg, sizeof(err->msg), "%.200s: %.*s", where,
		     (int)(sizeof(err->msg) - 4 - strnlen(where, 200)),
		     old) < 0)
		err->msg[0] = '\0';
}

void cv_error_clear(struct cv_error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = err->detail[0] = err->hint[0] = '\0';
}

const char *cv_errcode_name(int code)
{
	switch (code) {
	case CV_OK:
		return "ok";
	case CV_EINVAL:
		return "invalid";
	case CV_ELIMIT:
		return "limit";
	case CV_EMISMATCH:
		return "integrity";
	case CV_EHOLD:
		return "hold";
	case CV_ERETRY:
		return "retry";
	case CV_EUNAVAIL:
		return "unavailable";
	case CV_ENOTFOUND:
		return "not-found";
	case CV_EEXISTS:
		return "exists";
	case CV_EERASED:
		return "erased";
	default:
		return "error";
	}
}

void cv__bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "chartvault: BUG %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
