/*
 * The stderr logger behind common/log.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "banned.h"

int cv_log_level = CV_LOG_WARN;
static const char *prog = "chartvault";

void cv_log_init(const char *progname, int level)
{
	if (progname)
		prog = progname;
	cv_log_level = level;
}

void cv_log__out(int level, int with_errno, const char *fmt, ...)
{
	static const char *const tag[] = { "error", "warning", "info",
					   "debug" };
	int saved = errno;
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	if (level != CV_LOG_INFO)
		fprintf(stderr, "%s: ", tag[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (with_errno)
		fprintf(stderr, ": %s", strerror(saved));
	fputc('\n', stderr);
	errno = saved;
}

void cv_log_error(const struct cv_error *err)
{
	fprintf(stderr, "%s: error: %s\n", prog,
		err->msg[0] ? err->msg : "unknown error");
	if (err->detail[0])
		fprintf(stderr, "%s: detail: %s\n", prog, err->detail);
	if (err->hint[0])
		fprintf(stderr, "%s: hint: %s\n", prog, err->hint);
}

void cv_fatalx(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: fatal: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(70);
}
