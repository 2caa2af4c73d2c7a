/*
 * Diagnostics for people, on stderr (OpenBSD ntpd log.h). Modules never
 * print: only cli/ and the daemons call these. _warn appends
 * strerror(errno), _warnx does not. The macros test the level before they
 * evaluate their arguments, so a debug line costs nothing when quiet.
 *
 * Never log patient data, keys or passphrases; escape file names and OCR
 * text with cv_buf_add_escaped before they reach a log line.
 */
#ifndef CV_LOG_H
#define CV_LOG_H

#include "cv.h"

enum cv_log_level {
	CV_LOG_QUIET = 0, /* errors only */
	CV_LOG_WARN = 1,
	CV_LOG_INFO = 2,
	CV_LOG_DEBUG = 3,
};

extern int cv_log_level;

void cv_log_init(const char *progname, int level);
void cv_log__out(int level, int with_errno, const char *fmt, ...)
	CV_PRINTF(3, 4);
/* Print an error record: msg, then detail and hint on their own lines. */
void cv_log_error(const struct cv_error *err);
CV_NORETURN void cv_fatalx(const char *fmt, ...) CV_PRINTF(1, 2);

#define cv_log_warn(...)                                          \
	do {                                                      \
		if (cv_log_level >= CV_LOG_WARN)                  \
			cv_log__out(CV_LOG_WARN, 1, __VA_ARGS__); \
	} while (0)
#define cv_log_warnx(...)                                         \
	do {                                                      \
		if (cv_log_level >= CV_LOG_WARN)                  \
			cv_log__out(CV_LOG_WARN, 0, __VA_ARGS__); \
	} while (0)
#define cv_log_info(...)                                          \
	do {                                                      \
		if (cv_log_level >= CV_LOG_INFO)                  \
			cv_log__out(CV_LOG_INFO, 0, __VA_ARGS__); \
	} while (0)
#define cv_log_debug(...)                                          \
	do {                                                       \
		if (cv_log_level >= CV_LOG_DEBUG)                  \
			cv_log__out(CV_LOG_DEBUG, 0, __VA_ARGS__); \
	} while (0)

#endif
