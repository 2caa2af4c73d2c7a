/*
 * Settings. One table in config.c describes each: name, type, bounds,
 * default, flags and help (Redis static_configs[]). The parser, the
 * environment overrides, "chartvault config --list" and the commented
 * sample file written by "chartvault init" all come from that table.
 *
 * Precedence: default < <archive>/chartvault.conf < CHARTVAULT_* in the
 * environment (section_name in upper case, e.g. CHARTVAULT_OCR_WORKERS)
 * < "-c name=value" on the command line.
 */
#ifndef CV_CONFIG_H
#define CV_CONFIG_H

#include <stdio.h>

#include "cv.h"

struct cv_config {
	char *db_dsn;          /* empty: the archive's private cluster */
	char *db_server_user;  /* runs the private cluster when we are root */
	char *db_pg_bindir;    /* empty: find initdb/pg_ctl on their own */
	long long ocr_workers; /* 0: one per core */
	char *ocr_language;
	char *ocr_tessdata; /* empty: Tesseract's default */
	long long ocr_osd_below_confidence;
	long long ocr_min_confidence;
	long long ingest_max_file_mb;
	long long ingest_max_megapixels;
	char *keys_file; /* relative to the archive folder, or absolute */
	char *viewer_listen;
	long long viewer_threads; /* 0: one per core */
	long long viewer_max_connections;
	long long viewer_idle_timeout; /* seconds */
	long long viewer_max_failures;
	long long classify_min_confidence; /* percent */
	char *classify_types_file;
	long long queue_lease_s;      /* a claimed page's lease */
	long long queue_max_attempts; /* claims lost before a page fails */
	long long retention_paper_wait_days; /* sign-off to paper destruction */
	/* Signed audit checkpoints: at least every N rows or M minutes. */
	long long audit_checkpoint_rows;
	long long audit_checkpoint_minutes;
	char *audit_checkpoint_file; /* relative to the archive, or absolute */
	char *archive_group; /* OS group sharing the archive; empty: private */
	char *identity_mrn_pattern;    /* empty: "MRN: digits" */
	char *identity_mrn_format;     /* empty: any */
	char *identity_mrn_check;      /* none, luhn, mod11 */
	char *patients_nicknames_file; /* empty: the built-in groups only */

	/* Minutes of emergency access to a restricted chart. */
	long long viewer_glass_minutes;
};

/* clang-format off */
#define CV_CONFIG_SECRET 0x1 /* never shown, never logged */
/* clang-format on */

/* Set every field to its default. */
void cv_config_init(struct cv_config *cfg);
void cv_config_release(struct cv_config *cfg);

/*
 * Read an ini file over cfg. A missing file is not an error when
 * optional. Errors name file:line (CV_EINVAL).
 */
int cv_config_load_file(struct cv_config *cfg, const char *path, int optional,
			struct cv_error *err);
/* Apply CHARTVAULT_<SECTION>_<NAME> variables. */
int cv_config_load_env(struct cv_config *cfg, struct cv_error *err);
/* Apply one "section.name=value" (from -c). */
int cv_config_set(struct cv_config *cfg, const char *assignment,
		  struct cv_error *err);

/* Print every setting and its value (secrets redacted). */
void cv_config_list(const struct cv_config *cfg, FILE *out);
/* The commented sample file, generated from the table; malloc'd. */
char *cv_config_sample(void);

#endif
