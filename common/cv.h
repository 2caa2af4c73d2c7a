/*
 * Shared helpers used by every chartvault module: the error record that
 * every fallible function fills, aborting allocators, capped growable
 * buffers and durable file-system primitives.
 *
 * Nothing here knows about patients, pages or the archive; modules build
 * on it, never the other way round.
 */
#ifndef CV_H
#define CV_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CV_VERSION "0.1.0"

#if defined(__GNUC__)
#define CV_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define CV_NORETURN     __attribute__((noreturn))
#else
#define CV_PRINTF(f, a)
#define CV_NORETURN
#endif

/*
 * Only failures that a caller handles differently get a code of their own;
 * everything else is CV_ERROR. The numbers are negative so that "ret < 0"
 * means failure everywhere.
 */
enum cv_errcode {
	CV_OK = 0,
	CV_ERROR = -1,     /* anything not listed below */
	CV_EINVAL = -2,    /* bad input: reject it and carry on */
	CV_ELIMIT = -3,    /* over a configured cap */
	CV_EMISMATCH = -4, /* authentication or integrity check failed */
	CV_EHOLD = -5,     /* refused: legal hold */
	CV_ERETRY = -6,    /* transient (SQLSTATE class 40): try again */
	CV_EUNAVAIL = -7,  /* database, key or archive unreachable */
	CV_ENOTFOUND = -8, /* no such object, document or setting */
	CV_EEXISTS = -9,   /* refused: it is already there */
	CV_EERASED = -10,  /* the object was crypto-erased */
};

/*
 * Filled by a failing function; owned by the caller. Fixed arrays so that
 * reporting an error never allocates. Messages never carry patient data,
 * keys or passphrases.
 */
struct cv_error {
	int code;         /* enum cv_errcode; 0 means no error */
	char msg[256];    /* one line, lower case, no final period */
	char detail[512]; /* optional: the failing call, the library's text */
	char hint[256];   /* optional: what the user can do */
};

/* clang-format off */
#define CV_ERROR_INIT { 0, "", "", "" }
/* clang-format on */

/* Set code and message; clears detail and hint. Returns code. */
int cv_error_set(struct cv_error *err, int code, const char *fmt, ...)
	CV_PRINTF(3, 4);
/* Like cv_error_set with strerror(errno) in detail. Returns code. */
int cv_error_errno(struct cv_error *err, int code, const char *fmt, ...)
	CV_PRINTF(3, 4);
/* Replace or append detail / hint of an error already set. */
void cv_error_detail(struct cv_error *err, const char *fmt, ...)
	CV_PRINTF(2, 3);
void cv_error_hint(struct cv_error *err, const char *fmt, ...) CV_PRINTF(2, 3);
/* Prefix msg with where the error happened, keeping code and detail. */
void cv_error_prefix(struct cv_error *err, const char *fmt, ...)
	CV_PRINTF(2, 3);
void cv_error_clear(struct cv_error *err);
const char *cv_errcode_name(int code);

/* A programming error: print where and abort. */
#define CV_BUG(...) cv__bug(__FILE__, __LINE__, __VA_ARGS__)
CV_NORETURN void cv__bug(const char *file, int line, const char *fmt, ...)
	CV_PRINTF(3, 4);

/* Allocators that abort when memory runs out (git wrapper.c). */
void *cv_malloc(size_t n);
void *cv_calloc(size_t nmemb, size_t size);
void *cv_realloc(void *p, size_t n);
char *cv_strdup(const char *s);
char *cv_strndup(const char *s, size_t n);
char *cv_asprintf(const char *fmt, ...) CV_PRINTF(1, 2);

/* Zero memory in a way the compiler may not elide. */
void cv_wipe(void *p, size_t n);

/*
 * Growable bytes (git strbuf + curl dynbuf): buf is never NULL and always
 * NUL-terminated; every buffer may carry a cap, and an append that would
 * pass it releases the buffer and fails with CV_ELIMIT.
 */
struct cv_buf {
	char *buf;
	size_t len;
	size_t alloc;
	size_t limit; /* 0: no cap */
};

extern char cv_buf__empty[];
/* clang-format off */
#define CV_BUF_INIT { cv_buf__empty, 0, 0, 0 }
/* clang-format on */

void cv_buf_init(struct cv_buf *b);
void cv_buf_release(struct cv_buf *b);
void cv_buf_reset(struct cv_buf *b);
void cv_buf_limit(struct cv_buf *b, size_t limit);
int cv_buf_grow(struct cv_buf *b, size_t extra);
int cv_buf_add(struct cv_buf *b, const void *data, size_t n);
int cv_buf_adds(struct cv_buf *b, const char *s);
int cv_buf_addch(struct cv_buf *b, int c);
int cv_buf_addf(struct cv_buf *b, const char *fmt, ...) CV_PRINTF(2, 3);
int cv_buf_vaddf(struct cv_buf *b, const char *fmt, va_list ap);
/* Hand the bytes to the caller (free() them) and reset the buffer. */
char *cv_buf_detach(struct cv_buf *b, size_t *len);
/*
 * Append a copy of s with control characters shown as \xNN, for logging
 * file names and OCR text without letting them forge log lines.
 */
int cv_buf_add_escaped(struct cv_buf *b, const char *s, size_t n);

/* Hex and text helpers. out must hold 2*n+1 bytes. */
void cv_hex_encode(char *out, const uint8_t *in, size_t n);
/* Decode exactly n bytes from 2*n hex digits; CV_EINVAL otherwise. */
int cv_hex_decode(uint8_t *out, size_t n, const char *hex);

/*
 * Parse a bounded integer (OpenBSD strtonum). CV_EINVAL when s is not a
 * whole decimal number in [min, max].
 */
int cv_parse_ll(long long *out, const char *s, long long min, long long max);

/*
 * 1 when s[0..n) is well-formed UTF-8 (libunistring's strict check: no
 * overlong forms or surrogates) holding no NUL or other control
 * character, except tab, CR and LF when lines is set.
 */
int cv_text_ok(const char *s, size_t n, int lines);

/* Durable file-system primitives. */

/*
 * Sharing an archive with an OS group (archive.group, docs/ROLES.md):
 * when on, cv_fs_mode widens a private mode for the group (0600 -> 0660,
 * 0700 -> 0770) and the caller's umask should let group bits through.
 * Folders also get the setgid bit from their parent, so what one staff
 * member writes stays in the group. Process-wide; set once at start.
 */
void cv_fs_share_with_group(int on);
mode_t cv_fs_mode(mode_t private_mode);

/* Create path and its missing parents with mode. */
int cv_fs_mkdirs(const char *path, mode_t mode, struct cv_error *err);
/* fsync a folder so that renames and creations inside it are durable. */
int cv_fs_fsync_dir(const char *path, struct cv_error *err);
/*
 * Write data to path atomically and durably: temp file in the same folder,
 * write, fsync, rename, fsync of the folder. A crash leaves either the old
 * file or the new one, never a mix. Fails with CV_EEXISTS when exclusive
 * and path exists.
 */
int cv_fs_write_atomic(const char *path, const void *data, size_t n,
		       mode_t mode, int exclusive, struct cv_error *err);
/*
 * Read a whole regular file into b, refusing files over max bytes
 * (CV_ELIMIT). Symlinks are followed; devices and folders are refused.
 */
int cv_fs_read_file(struct cv_buf *b, const char *path, size_t max,
		    struct cv_error *err);
/* Write all n bytes to fd, retrying on EINTR and short writes. */
int cv_fs_write_all(int fd, const void *data, size_t n);
/* Remove path and everything below it, never following symlinks. */
int cv_fs_remove_tree(const char *path, struct cv_error *err);
/* 1 if path exists (any type, without following a final symlink). */
int cv_fs_exists(const char *path);
/* Join a and b with one slash; returns malloc'd memory. */
char *cv_path_join(const char *a, const char *b);
/* Absolute, normalised form of path (need not exist); malloc'd. */
char *cv_path_absolute(const char *path);

/* Milliseconds from a monotonic clock, for progress and benchmarks. */
uint64_t cv_now_ms(void);
/* ISO 8601 UTC timestamp of the current time into out (>= 21 bytes). */
void cv_utc_now(char *out, size_t n);

#endif
