/*
 * Compliance actions that take more than one module: carrying out a
 * destruction batch and certifying it, certificates of destruction
 * (issued, printed again, verified years later), and verifying the audit
 * trail. The command line (cli/cmd_destroy.c, cmd_certificate.c,
 * cmd_paper.c, cmd_audit.c) and the viewer's compliance screens both call
 * these, so that the web and the terminal can never disagree about what a
 * certificate says or whether it verifies.
 *
 * A certificate is canonical JSON (jansson: keys sorted, no white space,
 * ASCII only) signed with the archive's Ed25519 key, plus a PDF rendering
 * of it for people (Leptonica's bitmap font, G4 pages). The file format
 * and its fields are described at the top of compliance/certificate.c.
 *
 * Nothing here is thread-safe across one struct cv_index: each caller
 * passes its own connection (the viewer: the request thread's).
 */
#ifndef CV_COMPLIANCE_H
#define CV_COMPLIANCE_H

#include <stddef.h>
#include <stdint.h>

#include "common/cv.h"

struct cv_index;
struct cv_archive;
struct cv_archive_keys;
struct cv_archive_destroy_report;
struct cv_index_paper_counts;

/* Who acts, and on what. */
struct cv_compliance_ctx {
	struct cv_index *ix;
	struct cv_archive *ar; /* for verification (object state) */
	const struct cv_archive_keys *keys; /* signs and names the archive */
	const char *archive_dir; /* certificates/ is made inside it */
	const char *actor;       /* the chartvault user acting */
};

/* What a destruction certificate says beyond the batch's rows. */
struct cv_compliance_cert_opts {
	const char *facility;  /* AHIMA: the facility */
	const char *manager;   /* AHIMA: the department manager */
	const char *backups;   /* NIST: data backed up: yes, no, unknown */
	long long backup_days; /* backups of the index kept this long */
};

/* Told each record's final state while a batch is executed. */
typedef void (*cv_compliance_progress_fn)(void *ctx, int64_t doc_id,
					  const char *state);

/*
 * Execute (or resume) an approved destruction batch
 * (cv_archive_destroy_execute: re-check, unlink, crypto-erase, vacuum),
 * then sign and record its certificate and write it as
 * <archive>/certificates/destruction-N.json and .pdf. *json_path and
 * *pdf_path are malloc'd (NULL on failure). A batch that is not approved
 * is refused with CV_EINVAL; a failure midway leaves it executing, and a
 * new call resumes it. The role check is the caller's.
 */
int cv_compliance_destroy_execute(const struct cv_compliance_ctx *cx,
				  int64_t batch_id,
				  const struct cv_compliance_cert_opts *o,
				  cv_compliance_progress_fn fn, void *fn_ctx,
				  struct cv_archive_destroy_report *rep,
				  char **json_path, char **pdf_path,
				  struct cv_error *err);

/*
 * Sign and record the certificate of an executed batch (all its records
 * final) and write its files, as cv_compliance_destroy_execute does after
 * executing. Needs the keys.
 */
int cv_compliance_certificate_issue(const struct cv_compliance_ctx *cx,
				    int64_t batch_id,
				    const struct cv_compliance_cert_opts *o,
				    char **json_path, char **pdf_path,
				    struct cv_error *err);

/* What the paper certificate says beyond the batch's rows. */
struct cv_compliance_paper_opts {
	const char *method, *vendor, *witness; /* as given */
	const char *facility, *manager, *recorded_by;
	int64_t boxes, folders, sheets; /* counted, reconciled by the caller */
	long long wait_days;
};

/*
 * Sign and record the paper certificate of a batch whose checks passed
 * (the caller's) and write certificates/paper-N.json and .pdf.
 */
int cv_compliance_paper_certificate_issue(
	const struct cv_compliance_ctx *cx,
	const struct cv_index_paper_counts *pc,
	const struct cv_compliance_paper_opts *o, char **json_path,
	char **pdf_path, struct cv_error *err);

/* The outcome of verifying a certificate. */
struct cv_compliance_cert_check {
	int paper;        /* a certificate of paper destruction */
	int64_t batch_id; /* the destruction (or scan) batch it names */
	size_t records;   /* destroyed records it lists */
	char **problems;  /* each a sentence naming what is wrong */
	size_t nproblems; /* 0: the certificate verifies */
};

/*
 * Verify a certificate file's bytes (name is how messages call it): the
 * canonical form (a changed byte anywhere fails), the Ed25519 signature
 * and that it is this archive's key, that it is the one recorded with its
 * batch, that every erased object's key and file are gone and every
 * record's index rows, that the ghosts are there, and that the audit
 * trail holds the approval, execution and per-record events. Returns 0
 * when the check ran, whatever it found (chk->nproblems); an error only
 * when it could not run. Release chk with
 * cv_compliance_cert_check_release.
 */
int cv_compliance_certificate_verify(const struct cv_compliance_ctx *cx,
				     const char *name, const char *data,
				     size_t len,
				     struct cv_compliance_cert_check *chk,
				     struct cv_error *err);
void cv_compliance_cert_check_release(struct cv_compliance_cert_check *chk);

/* The largest certificate file read back. */
#define CV_COMPLIANCE_CERT_MAX (64u << 20)

/*
 * Render a recorded certificate (its file's text, as issued) as a PDF
 * again: appended to out, or written to path. CV_ERROR when the text is
 * not a certificate.
 */
int cv_compliance_certificate_pdf(const char *text, struct cv_buf *out,
				  struct cv_error *err);
int cv_compliance_certificate_pdf_file(const char *text, const char *path,
				       struct cv_error *err);

/* ---------------------------------------------------------------------
 * The audit trail
 */

struct cv_archive_audit_report;

/*
 * Verify the audit trail as 'chartvault audit verify' does: seal rows
 * written before the chain existed, recompute the chain against every
 * checkpoint in checkpoint_file and in the database (cx->keys: the
 * archive's public key), and append an "audit.verify" row by cx->actor
 * with the counts and the outcome ("ok" or "tampered"). rep is filled
 * (release it with cv_archive_audit_report_release) when 0 is returned.
 */
int cv_compliance_audit_verify(const struct cv_compliance_ctx *cx,
			       const char *checkpoint_file,
			       struct cv_archive_audit_report *rep,
			       struct cv_error *err);

#endif
