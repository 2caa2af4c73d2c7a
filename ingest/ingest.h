/*
 * ingest: carry scanned files through the pipeline. Files are checked
 * (format by content, dimensions before decoding), archived unchanged,
 * their pages queued in the index, recognised by a pool of OCR worker
 * threads (one Tesseract engine each, reused across pages), their text
 * and word boxes archived, their search vectors indexed, and the page
 * stream cut into documents with the identity and type found on them.
 *
 * Every step is recorded before the next starts, so a run that is killed
 * at any moment is completed by running it again: files already archived
 * are recognised by content, pages already done are skipped, and
 * documents are assembled in one transaction or not at all.
 *
 * Leptonica 1.82's PIX reference counts are not atomic, so a page image
 * never crosses threads: each worker decodes its own page.
 */
#ifndef CV_INGEST_H
#define CV_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cv.h"
#include "../archive/archive.h"
#include "../index/index.h"

struct Pix;

struct cv_ingest_progress {
	size_t pages_total;
	size_t pages_done;
	size_t rejects;
	uint64_t elapsed_ms;
};

typedef void (*cv_ingest_progress_fn)(void *ctx,
				      const struct cv_ingest_progress *p);

struct cv_ingest_opts {
	const char *batch; /* batch name; NULL: derived from the first path */
	const char *operator_; /* who is scanning; NULL: the login name */
	const char *manifest;  /* CSV of per-file facts; NULL: none */
	int workers;           /* OCR threads; <= 0: one per core */
	uint64_t max_file_bytes;
	uint64_t max_pixels;  /* per page, checked before decoding */
	const char *language; /* Tesseract language(s) */
	const char *tessdata; /* NULL: Tesseract's default */
	/* Pages whose OCR confidence is under this get an orientation check
	 * (upside down, sideways) and are read again turned upright. */
	int osd_below_confidence;
	/* Pages recognised with a lower mean confidence are flagged. */
	int min_confidence;
	cv_ingest_progress_fn progress;
	void *progress_ctx;
	/*
	 * Patient identity (ingest/identity.c). mrn_pattern: an extended
	 * regex finding the MRN in page text, the MRN being its first
	 * non-empty group; NULL: "MRN: 12345678". mrn_format: an extended
	 * regex every MRN (text, label, cover, manifest) must match whole;
	 * NULL: any. mrn_check: "none", "luhn" or "mod11"; NULL: none.
	 */
	const char *mrn_pattern;
	const char *mrn_format;
	const char *mrn_check;
};

/* clang-format off */
#define CV_INGEST_OPTS_INIT { NULL, NULL, NULL, 0, 1024ull << 20, 150000000ull, \
	"eng", NULL, 60, 70, NULL, NULL, NULL, NULL, NULL }
/* clang-format on */

struct cv_ingest_reject {
	char *name;   /* as given, control characters escaped */
	int page;     /* 1-based, 0 for the whole file */
	char *reason; /* one line */
};

/* A page with image-quality flags, for the QA queue. */
struct cv_ingest_flagged {
	char *name;
	int page;
	char *flags; /* "too-dark,cut-off" */
};

struct cv_ingest_file {
	char *name;
	char id[CV_ARCHIVE_OID_HEXLEN + 1];
	int pages;
	int already; /* archived before, by this or another batch */
	int64_t owner_batch;
};

struct cv_ingest_doc_page {
	char *file;
	int page;
};

struct cv_ingest_doc {
	struct cv_index_document doc;
	struct cv_ingest_doc_page *pages;
	size_t npages;
};

struct cv_ingest_report {
	int64_t batch_id;
	char *batch;
	size_t files_seen;
	size_t files_new;
	size_t files_already;
	size_t pages_total;
	size_t pages_ocr; /* recognised in this run */
	size_t pages_blank;
	size_t pages_failed;
	struct cv_ingest_file *files;
	size_t nfiles;
	struct cv_ingest_reject *rejects;
	size_t nrejects;
	struct cv_ingest_doc *docs;
	size_t ndocs;
	struct cv_ingest_flagged *flagged;
	size_t nflagged;
	uint64_t elapsed_ms;
	size_t docs_queued; /* held in the exception queue (identity.c) */
};

void cv_ingest_report_release(struct cv_ingest_report *r);

/*
 * Ingest the files and folders in paths (folders are walked in name
 * order). ar and ix are borrowed; ar must have been opened on ix. Bad
 * input is rejected (recorded in rep and in the index) and never stops the
 * batch; the return value is negative only when the run itself could not
 * go on (database or archive unavailable, out of space), and then rep
 * still holds what was done.
 */
int cv_ingest_run(struct cv_archive *ar, struct cv_index *ix,
		  const char *const *paths, size_t npaths,
		  const struct cv_ingest_opts *o, struct cv_ingest_report *rep,
		  struct cv_error *err);

/* ---------------------------------------------------------------------
 * Pieces of the pipeline that are useful on their own.
 */

enum cv_ingest_format {
	CV_INGEST_FMT_UNKNOWN = 0,
	CV_INGEST_FMT_TIFF,
	CV_INGEST_FMT_PNG,
	CV_INGEST_FMT_JPEG,
	CV_INGEST_FMT_PNM,
};

const char *cv_ingest_format_name(enum cv_ingest_format f);

/*
 * Check that data (size bytes, a snapshot of the file called name) is an
 * image we accept, by its content, and count its pages, reading only
 * headers: every page's dimensions are checked against max_pixels before
 * anything is decoded. CV_EINVAL (wrong format, corrupt header) or
 * CV_ELIMIT (too many pixels or pages), with a message that names the
 * file and the page. Thread-safe.
 */
int cv_ingest_probe_mem(const char *name, const uint8_t *data, size_t size,
			uint64_t max_pixels, enum cv_ingest_format *format,
			int *pages, struct cv_error *err);

/*
 * Decode page (1-based) of a probed snapshot. *pix is the caller's (a new
 * PIX; pixDestroy it); *dpi is the stored resolution or 0. Thread-safe:
 * data is only read.
 */
int cv_ingest_load_page_mem(const char *name, const uint8_t *data, size_t size,
			    enum cv_ingest_format format, int page,
			    struct Pix **pix, int *dpi, struct cv_error *err);

/* The same two on a file path (read whole first). */
int cv_ingest_probe(const char *path, uint64_t max_pixels,
		    enum cv_ingest_format *format, int *pages,
		    struct cv_error *err);
int cv_ingest_load_page(const char *path, enum cv_ingest_format format,
			int page, struct Pix **pix, int *dpi,
			struct cv_error *err);

/* What a cover sheet says about the document that follows it. */
struct cv_ingest_cover {
	char mrn[64];
	char doc_type[32];     /* LOINC code */
	char service_date[16]; /* YYYY-MM-DD or "" */
	char encounter[64];
};

/*
 * Parse a cover sheet's code (see ingest/barcode.c for the format).
 * CV_EINVAL, and *c zeroed, unless it is well formed with an MRN and a
 * known document type.
 */
int cv_ingest_cover_parse(const char *payload, struct cv_ingest_cover *c,
			  struct cv_error *err);
/* The code for a cover sheet; malloc'd. */
char *cv_ingest_cover_payload(const struct cv_ingest_cover *c);

/*
 * Render a printable sheet, letter size at 300 dpi, 1 bit: a cover sheet
 * for c (patient_name, if given, printed for the clerk but not encoded),
 * or a separator sheet when c is NULL. *out is the caller's PIX.
 */
int cv_ingest_sheet_render(const struct cv_ingest_cover *c,
			   const char *patient_name, struct Pix **out,
			   struct cv_error *err);

/*
 * Render a printable sheet of text lines under a title and a QR code of
 * code (letter size, 300 dpi, 1 bit), with an optional footer paragraph.
 * Used for key recovery sheets; text copies made here are wiped.
 */
int cv_ingest_sheet_render_text(const char *title, const char *code,
				const char *text, const char *footer,
				struct Pix **out, struct cv_error *err);

/* ---------------------------------------------------------------------
 * The batch manifest (ingest/manifest.c has the format)
 */

struct cv_ingest_manifest;

struct cv_ingest_manifest_row {
	char *file; /* real path, inside the manifest's folder */
	size_t line;
	char mrn[64];
	char doc_type[32];
	char service_date[16];
	char box[64];
	char folder[64];
};

struct cv_ingest_manifest_reject {
	size_t line;
	char *reason; /* "line 5, column service_date: ..." */
};

/*
 * Read a manifest. Rows that fail their checks are left out and listed
 * with cv_ingest_manifest_reject; CV_EINVAL (naming the file and line)
 * when the manifest as a whole cannot be used: no such file, not CSV, an
 * unknown or missing column in the header.
 */
int cv_ingest_manifest_load(struct cv_ingest_manifest **out, const char *path,
			    struct cv_error *err);
void cv_ingest_manifest_free(struct cv_ingest_manifest *m);
const char *cv_ingest_manifest_path(const struct cv_ingest_manifest *m);
/* The manifest's bytes as read and parsed (borrowed). */
const void *cv_ingest_manifest_bytes(const struct cv_ingest_manifest *m,
				     size_t *len);
/* The row for a file, by its real path; NULL when none. Borrowed. */
const struct cv_ingest_manifest_row *
cv_ingest_manifest_find(const struct cv_ingest_manifest *m, const char *real);
size_t cv_ingest_manifest_nrows(const struct cv_ingest_manifest *m);
size_t cv_ingest_manifest_nrejects(const struct cv_ingest_manifest *m);
const struct cv_ingest_manifest_reject *
cv_ingest_manifest_reject(const struct cv_ingest_manifest *m, size_t i);

/* ---------------------------------------------------------------------
 * The hot folder (ingest/hotfolder.c has the folder layout)
 */

/* Told of every file the hot folder settles: outcome "done", "rejected"
 * (reason says why) or "retry" (a whole run failed; it will be tried
 * again). Called on the watching thread. */
typedef void (*cv_ingest_watch_report_fn)(void *ctx, const char *name,
					  const char *outcome,
					  const char *reason);

struct cv_ingest_watch_opts {
	const char *dir;
	int settle_s;       /* unchanged this long counts as complete */
	int poll_s;         /* scan at least this often */
	int poll_only;      /* no inotify: for shares that do not support it */
	int once;           /* take what is complete now, then return */
	volatile int *stop; /* set from a signal handler to stop */
	struct cv_ingest_opts ingest;
	cv_ingest_watch_report_fn report;
	void *report_ctx;
};

/*
 * Watch a hot folder until *stop is set (or, with once, until nothing is
 * waiting). Files are claimed into processing/ and moved to done/ or
 * rejected/ (with NAME.reason). A run that fails as a whole leaves its
 * files in processing/ and is retried with backoff. Returns <0 only when
 * the folders cannot be made, or, with once, when the run failed.
 */
int cv_ingest_watch(struct cv_archive *ar, struct cv_index *ix,
		    const struct cv_ingest_watch_opts *o, struct cv_error *err);

/* What the text of one page says about itself. */
struct cv_ingest_page_facts {
	char title_type[32]; /* LOINC code of a title found near the top */
	char mrn[64];
	char patient_name[128];
	char dob[16]; /* YYYY-MM-DD */
	char service_date[16];
	int page_of;    /* "Page X of Y": X, else 0 */
	int page_total; /* Y, else 0 */
};

/* Read identity, title and page numbering cues from a page's text. */
void cv_ingest_page_facts(const char *text, struct cv_ingest_page_facts *facts);

/*
 * MRN rules (ingest/identity.c): whether mrn passes the format and the
 * check digit of o (check "luhn": the last digit is the Luhn digit of
 * the others; "mod11": weights 2, 3, 4... from the right of the others,
 * check (11 - sum mod 11) mod 11, 10 written X). CV_EINVAL, naming the
 * setting, when a pattern of o does not compile.
 */
int cv_ingest_mrn_valid(const struct cv_ingest_opts *o, const char *mrn,
			int *valid, struct cv_error *err);

/*
 * The patient index CSV (ingest/patients_csv.c):
 *   mrn,family_name,given_name,dob,sex,deceased_on
 * mrn is required; other columns are optional, in any order (aliases:
 * family, last_name, surname; given, first_name; date_of_birth;
 * date_of_death, deceased). Dates are YYYY-MM-DD; sex M, F, X, O or U.
 */
struct cv_ingest_patient_row {
	size_t line;
	struct cv_index_patient p;
};

struct cv_ingest_patients_csv {
	struct cv_ingest_patient_row *rows;
	size_t nrows;
	struct cv_ingest_manifest_reject *rejects; /* line and reason */
	size_t nrejects;
};

/*
 * Read and check a patient CSV. Bad rows are listed in rejects ("line 5,
 * column dob: ...") and left out; CV_EINVAL when the file as a whole is
 * unusable (not CSV, unknown column, no mrn column).
 */
int cv_ingest_patients_csv_load(struct cv_ingest_patients_csv *out,
				const char *path, struct cv_error *err);
void cv_ingest_patients_csv_release(struct cv_ingest_patients_csv *c);

/* The display name of a document type code ("18842-5" -> "discharge summary").
 */
const char *cv_ingest_doc_type_name(const char *code);

#endif
