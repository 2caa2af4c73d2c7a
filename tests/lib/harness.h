/*
 * Test helpers shared by the unit and integration suites: temporary
 * folders, a throwaway PostgreSQL server (initdb + pg_ctl on a Unix socket
 * in a temp folder, as the unprivileged 'chartvault' user when root), and
 * running the chartvault binary with captured output.
 *
 * CV_TEST_KEEP=1 keeps temporary folders and the server's data for a look
 * afterwards.
 */
#ifndef CVT_HARNESS_H
#define CVT_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "common/cv.h"

/* A fresh folder under $TMPDIR (or /tmp), mode 0711; malloc'd. */
char *cvt_tmpdir(const char *tag);
/* Remove a tree (unless CV_TEST_KEEP is set). */
void cvt_rmrf(const char *path);

struct cvt_pg {
	char *dir;    /* the temp folder: data/ and the socket */
	char *dsn;    /* libpq connection string */
	char *bindir; /* where initdb and pg_ctl were found */
	int running;
};

/*
 * Start a throwaway server. Fails the calling test (ck_abort) when
 * PostgreSQL is missing: a missing prerequisite never skips.
 */
void cvt_pg_start(struct cvt_pg *pg);
/* Stop it and remove its folder; safe to call twice. */
void cvt_pg_stop(struct cvt_pg *pg);

/*
 * Create a fresh database on pg for one test; returns its connection
 * string (malloc'd). Tests that init archives with --db use one each, so
 * that no two archives share a catalogue.
 */
char *cvt_pg_createdb(struct cvt_pg *pg);

/* The suite-wide server used by fixtures below. */
extern struct cvt_pg cvt_shared_pg;
void cvt_shared_pg_setup(void);
void cvt_shared_pg_teardown(void);

struct cvt_run {
	int status; /* exit code, or 128+signal */
	struct cv_buf out;
	struct cv_buf err;
};

/*
 * Run argv (argv[0] "chartvault" means $CV_BIN) with extra environment
 * entries env (NULL-terminated "NAME=value", may be NULL) and stdin from
 * input (may be NULL). Output is captured into r.
 */
void cvt_run(struct cvt_run *r, const char *const *argv, const char *const *env,
	     const char *input);
void cvt_run_release(struct cvt_run *r);

/* Start argv as cvt_run does, output to /dev/null, without waiting. */
pid_t cvt_spawn(const char *const *argv);

/* Run chartvault with the given arguments, stdin empty, into *r. */
#define CV(r, ...)                                                         \
	do {                                                               \
		const char *argv_[] = { "chartvault", __VA_ARGS__, NULL }; \
		cvt_run((r), argv_, NULL, NULL);                           \
	} while (0)

/* Fail the test unless r exited with want, showing its output. */
void cvt_expect_status(const struct cvt_run *r, int want, const char *what);
/* r's stdout as JSON; fails the test when it is not. */
json_t *cvt_parse_json(const struct cvt_run *r);
/* The number a one-row, one-column query on dsn returns. */
long long cvt_sql_count(const char *dsn, const char *sql);

/*
 * Other people at the same server. Tests run as root; a second person is
 * a second OS user. cvt_os_user creates login (a nologin system user, no
 * home) if it is missing and makes it a member of group (may be NULL), so
 * it can reach an archive shared with that group (init --group). It fails
 * the test when not root. The users stay: they are inert, and tests of
 * later runs reuse them.
 */
void cvt_os_user(const char *login, const char *group);
/* As cvt_run, but as OS user login (runuser -u login --). */
void cvt_run_as(struct cvt_run *r, const char *login, const char *const *argv,
		const char *const *env, const char *input);
#define CV_AS(r, login, ...)                                               \
	do {                                                               \
		const char *argv_[] = { "chartvault", __VA_ARGS__, NULL }; \
		cvt_run_as((r), (login), argv_, NULL, NULL);               \
	} while (0)
/* The one-column, one-row text a query on dsn returns; malloc'd. */
char *cvt_sql_text(const char *dsn, const char *sql);
/* Run a statement on dsn that returns no rows; fails the test if it fails. */
void cvt_sql_exec(const char *dsn, const char *sql);

/* Path under the source tree ($CV_SRCDIR); malloc'd. */
char *cvt_srcpath(const char *rel);
/*
 * Import a patient index into an archive: csv, or samples/patients.csv
 * when NULL. Without one, every ingested document waits in the exception
 * queue as an unknown patient, out of search.
 */
void cvt_import_patients(const char *archive_dir, const char *csv);

#endif
