/*
 * The web viewer for records staff: an HTTP(S) server on libmicrohttpd
 * that signs staff in, searches the charts, and shows page images
 * decrypted on the fly with the search hits drawn over them. This is the
 * only code that includes libmicrohttpd.
 *
 * Staff sign in as the chartvault users of 'chartvault user' (index/),
 * with the Argon2id password 'chartvault user passwd' set (archive/); the
 * viewer checks roles on every route and audits through the same chain
 * as the command line.
 *
 * Every response carries a Content-Security-Policy without inline script,
 * "Cache-Control: no-store", and refuses framing. Pages are rendered on
 * the server; the little JavaScript there is (positioning highlight boxes,
 * zoom) is served from the binary, never from a CDN.
 */
#ifndef CV_VIEWER_H
#define CV_VIEWER_H

#include <stddef.h>
#include <stdint.h>

#include "common/cv.h"

struct cv_archive_keys;

/* A signed-in user, as the viewer needs to know them. */
struct cv_viewer_user {
	char name[65]; /* CV_USER_NAME_MAX + 1 */
	char role[16]; /* clerk, records, compliance, admin */
};

struct cv_viewer_opts {
	const char *listen;   /* "127.0.0.1:8080", "[::1]:8443", ":8080" */
	const char *tls_cert; /* PEM file; with tls_key, serve HTTPS */
	const char *tls_key;
	/* Each server thread opens its own connection and store on these. */
	const char *dsn;
	const char *archive_dir;
	const struct cv_archive_keys *keys;
	const char *access_log; /* file to append to; NULL: none */
	unsigned threads;       /* server threads; 0: eight per core */
	unsigned max_connections;
	unsigned idle_seconds; /* sign-out after this long idle */
	unsigned max_failures; /* failed sign-ins before lockout */
	unsigned cache_mb;     /* rendered page images kept in memory */
	/* The audit trail's signed checkpoints (audit.checkpoint_file),
	 * for the compliance screens' 'audit verify'. */
	const char *checkpoint_file;
	/* Minutes of emergency access to a restricted chart. */
	unsigned glass_minutes;
};

#define CV_VIEWER_OPTS_INIT                                                   \
	{                                                                     \
		"127.0.0.1:8080", NULL, NULL, NULL, NULL, NULL, NULL, 0, 256, \
			900, 5, 128, NULL, 30                                 \
	}

/*
 * Serve until SIGTERM or SIGINT, then stop accepting, let the requests in
 * flight finish, and return 0. The signals must be blocked in the calling
 * thread (and so in every thread it starts) before the call; they are
 * waited for with sigwait. Errors starting up (address in use, a bad
 * certificate) return CV_EUNAVAIL or CV_EINVAL with the reason.
 */
int cv_viewer_serve(const struct cv_viewer_opts *o, struct cv_error *err);

#endif
