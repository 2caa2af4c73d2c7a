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
#include "compliance/compliance.h"

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
	NO_USER = 1 << 3,      /* runs without an archive user (roles 0) */
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
	const char *actor; /* the acting chartvault user (the OS login until
			    * the dispatcher has mapped it) */
	/* Set by the dispatcher's role check (cli/auth.c). */
	char *login;      /* the OS login (real user id) */
	char *user_name;  /* the chartvault user it maps to; NULL if none */
	unsigned role;    /* that user's role, an enum cv_role bit */
	const char *verb; /* the subcommand the role check used, or NULL */
};

/*
 * Per-verb roles of a command with verbs (destroy approve|execute):
 * a verb listed here needs one of its roles instead of the command's.
 */
struct cv_verb_roles {
	const char *verb;
	unsigned roles;
};

struct cv_cmd {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	int flags;
	const char *summary;
	const char *usage;
	/*
	 * Who may run it: enum cv_role bits (index.h). A command that opens
	 * the database with roles 0 is refused (fail closed), so a new row
	 * must say who may run it; commands that need no archive user carry
	 * NO_USER. docs/ROLES.md is the matrix in words.
	 */
	unsigned roles;
	const struct cv_verb_roles *verbs; /* NULL-terminated, or NULL */
};

/* Roles of the command table, as the docs name them. */
#define ROLES_ANY        CV_ROLE_ALL
#define ROLES_RECORDS_UP (CV_ROLE_RECORDS | CV_ROLE_COMPLIANCE | CV_ROLE_ADMIN)
#define ROLES_OVERSIGHT  (CV_ROLE_COMPLIANCE | CV_ROLE_ADMIN)
#define ROLES_ADMIN      CV_ROLE_ADMIN

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

/*
 * The role check (cli/auth.c). Map the OS login to a chartvault user and
 * check that its role is in roles (for what, e.g. "destroy approve").
 * On success c->actor, c->user_name and c->role are set and the audit
 * context of c->ix names them. On refusal the attempt is audited as
 * "access.denied", a message is printed and CLI_REFUSED returned.
 * Commands call it again for checks the table cannot express.
 */
int cli_authorize(struct cli *c, unsigned roles, const char *what);
/*
 * Sign an audit checkpoint if one is due (audit.checkpoint_rows/minutes),
 * loading the key file when the command did not and it needs no
 * passphrase. Best effort after each command: a failure is reported
 * but changes no exit code. Must be called outside a transaction.
 */
void cli_audit_checkpoint_if_due(struct cli *c);
/* The checkpoint file's path from the settings; malloc'd. */
char *cli_checkpoint_file(const struct cli *c);

/*
 * Read one line from the terminal fd with echo off, after prompt, into
 * buf (n bytes, NUL-terminated). -1 when the line was longer than buf.
 */
int cli_read_hidden(int fd, const char *prompt, char *buf, size_t n);

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

/* A made document and the rejects of a report, as ingest and worker
 * print them in JSON (cmd_ingest.c). */
struct cv_ingest_doc;
struct cv_ingest_report;
/*
 * The progress line of ingest and worker on a terminal, redrawn in place:
 * pages done of the total (a worker's: its own plus what waits in the
 * queue), the rate of this run's pages, the time left and the rejects.
 */
struct cv_ingest_progress;
void cli_show_progress(void *ctx, const struct cv_ingest_progress *p);
json_t *cli_doc_json(const struct cv_ingest_doc *d);
json_t *cli_rejects_json(const struct cv_ingest_report *r);

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
int cmd_classify(struct cli *c, int argc, char **argv);
int cmd_worker(struct cli *c, int argc, char **argv);
int cmd_retention(struct cli *c, int argc, char **argv);
/* patients event (cmd_retention.c), reached through cmd_patients. */
int cmd_patients_event(struct cli *c, int argc, char **argv);
int cmd_hold(struct cli *c, int argc, char **argv);
int cmd_destroy(struct cli *c, int argc, char **argv);
int cmd_certificate(struct cli *c, int argc, char **argv);

/* What the paper certificate says beyond the batch's rows. */
struct cli_paper_opts {
	const char *method, *vendor, *witness; /* as given */
	const char *facility, *manager, *recorded_by;
	int64_t boxes, folders, sheets; /* counted, reconciled by the caller */
	long long wait_days;
};

/*
 * Sign and record the paper certificate of a batch whose checks passed
 * (cmd_paper.c) and write certificates/paper-N.json and .pdf.
 */
int cli_paper_certificate_issue(struct cli *c,
				const struct cv_index_paper_counts *pc,
				const struct cli_paper_opts *o,
				char **json_path, char **pdf_path,
				struct cv_error *err);
/* Who acts and on what, for compliance/'s functions (cmd_certificate.c). */
void cli_compliance_ctx(struct cli *c, struct cv_compliance_ctx *cx);
int cmd_batch_signoff(struct cli *c, int argc, char **argv);
int cmd_paper_destroy(struct cli *c, int argc, char **argv);
int cmd_user(struct cli *c, int argc, char **argv);
int cmd_serve(struct cli *c, int argc, char **argv);
int cmd_audit(struct cli *c, int argc, char **argv);
int cmd_export(struct cli *c, int argc, char **argv);
int cmd_qa(struct cli *c, int argc, char **argv);
int cmd_patients(struct cli *c, int argc, char **argv);
int cmd_queue(struct cli *c, int argc, char **argv);

/*
 * Restricted charts (cmd_access.c). cli_document_access: 0 when the
 * acting user may see document doc_id, CV_ENOTFOUND (with the words of an
 * unknown id, audited as "access.denied") when it is in a restricted
 * chart they may not open. cli_search_redact: hits of a search run with
 * access_user that the user may not open keep their type and patient,
 * and their snippet says why it is empty (state "restricted").
 */
int cli_document_access(struct cli *c, int64_t doc_id, struct cv_error *err);
struct cv_index_search_result;
void cli_search_redact(struct cv_index_search_result *res);
int cmd_access(struct cli *c, int argc, char **argv);
int cmd_patients_restrict(struct cli *c, int argc, char **argv);
int cmd_patients_permit(struct cli *c, int argc, char **argv);
int cmd_patients_access(struct cli *c, int argc, char **argv);

#endif
