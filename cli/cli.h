/*
 * The chartvault command: shared declarations of cli/. Commands use only
 * the modules' public headers. The dispatcher in main.c does the setup
 * that a command's flags name (find the archive, start and open the
 * database, load the keys), so commands never repeat it.
 */
#ifndef CV_CLI_H
#define CV_CLI_H

#include <stdio.h>

#include <jansson.h>

#include "common/cv.h"
#include "common/config.h"
#include "common/log.h"
#include "archive/archive.h"
#include "index/index.h"

/*
 * Exit codes: documented in docs/chartvault.1 and README.md, and never
 * renumbered.
 */
enum cli_exit {
	CLI_OK = 0,        /* done */
	CLI_REJECTS = 1,   /* done, but some input was rejected */
	CLI_USAGE = 2,     /* bad command line */
	CLI_UNAVAIL = 3,   /* archive, database or key unavailable */
	CLI_INTEGRITY = 4, /* an object failed authentication */
	CLI_NOTFOUND = 5,  /* no such object or document, or erased */
	CLI_REFUSED = 6, /* refused: already exists, legal hold, newer schema */
	CLI_FAILED = 7,  /* the operation failed (I/O, database error) */
	CLI_INTERNAL = 70, /* a bug */
};

enum {
	NEED_ARCHIVE = 1 << 0, /* an initialised archive folder */
	NEED_DB = 1 << 1,      /* a migrated database connection */
	NEED_KEY = 1 << 2,     /* the key file loaded and the store open */
};

struct cli {
	const char *dir_opt; /* -C */
	char *dir;           /* the archive folder, absolute */
	struct cv_config cfg;
	char **cfg_sets; /* -c assignments, applied after the file */
	int ncfg_sets;
	int json;
	char *dsn; /* resolved connection string (secret) */
	struct cv_index *ix;
	struct cv_archive_keys *keys;
	struct cv_archive *ar;
	const char *actor; /* the OS user, for the audit trail */
};

struct cv_cmd {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	int flags;
	const char *summary;
	const char *usage;
};

/* Map an error code to an exit code and print the error. */
int cli_fail(const struct cv_error *err);
int cli_exit_code(int code);
/* Print a usage error for cmd and return CLI_USAGE. */
int cli_usage(const struct cv_cmd *cmd, const char *fmt, ...) CV_PRINTF(2, 3);
const struct cv_cmd *cli_find(const char *name);
void cli_print_help(const struct cv_cmd *cmd, FILE *out);

/* Setup used by the dispatcher and by init. */
int cli_find_archive(struct cli *c, struct cv_error *err);
int cli_load_config(struct cli *c, struct cv_error *err);
int cli_open_db(struct cli *c, struct cv_error *err);
int cli_open_store(struct cli *c, struct cv_error *err);
void cli_release(struct cli *c);

/*
 * The passphrase for a key file: $CHARTVAULT_PASSPHRASE, else a prompt on
 * the terminal (twice when confirm). NULL and CV_EINVAL when neither is
 * possible. The result is the caller's to wipe and free.
 */
int cli_passphrase(char **out, const char *prompt, int confirm,
		   struct cv_error *err);

/* Print a JSON value to stdout, pretty, and release it. */
void cli_json_print(json_t *v);

/* Parse a bounded integer option; prints a usage error. */
int cli_int_opt(const struct cv_cmd *cmd, const char *name, const char *s,
		long long min, long long max, long long *out);

/* The archive marker file, written last by init. */
#define CLI_MARKER "ARCHIVE"

struct cv_ingest_opts;
struct Pix;

/* Write a rendered sheet as .pdf, .png or .tif (by path), with mode. */
int cli_write_sheet(struct Pix *pix, const char *path, mode_t mode,
		    struct cv_error *err);

/* Ingest options from the settings (ocr.*, ingest.*): ingest and watch. */
void cli_ingest_opts(const struct cli *c, struct cv_ingest_opts *o);

/* Each command, in its own cmd_<name>.c. */
int cmd_init(struct cli *c, int argc, char **argv);
int cmd_db(struct cli *c, int argc, char **argv);
int cmd_archive(struct cli *c, int argc, char **argv);
int cmd_ingest(struct cli *c, int argc, char **argv);
int cmd_search(struct cli *c, int argc, char **argv);
int cmd_show(struct cli *c, int argc, char **argv);
int cmd_config(struct cli *c, int argc, char **argv);
int cmd_help(struct cli *c, int argc, char **argv);
int cmd_coversheet(struct cli *c, int argc, char **argv);
int cmd_batch(struct cli *c, int argc, char **argv);
int cmd_watch(struct cli *c, int argc, char **argv);
int cmd_verify(struct cli *c, int argc, char **argv);
int cmd_gc(struct cli *c, int argc, char **argv);
int cmd_keys(struct cli *c, int argc, char **argv);
int cmd_patients(struct cli *c, int argc, char **argv);
int cmd_queue(struct cli *c, int argc, char **argv);

#endif
