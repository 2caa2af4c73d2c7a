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
	size_t pages_done; /* pages_earlier included */
	size_t rejects;
	uint64_t elapsed_ms;
	size_t pages_earlier; /* done by an interrupted run, not redone */
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
	/* A document typed by the model with less confidence than this
	 * (0..1) goes to the exception queue ("low-confidence-type"). */
	double min_type_confidence;
	/* The work queue: a claimed page's lease, renewed while it is
	 * worked on (<= 0: 60 s), and how many times a page may be claimed
	 * by workers that then died or stalled before it is failed
	 * (<= 0: 5). */
	int lease_s;
	int max_attempts;
	/* Queue the batch and return: 'chartvault worker' processes do the
	 * pages and cut the documents. */
	int queue_only;
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
	"eng", NULL, 60, 70, NULL, NULL, 0.6, 60, 5, 0, NULL, NULL, NULL }
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
	/* Pages whose claim another worker took over (this one stalled past
	 * its lease): their results were dropped, not recorded twice. */
	size_t pages_lost;
	size_t docs_rendered;   /* searchable PDFs made in this run */
	size_t docs_unrendered; /* documents whose PDF could not be made */
	size_t docs_queued;     /* held in the exception queue (identity.c) */
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
 * The work queue. cv_ingest_run queues its pages in the index and works
 * them itself; cv_ingest_work, on this or another host sharing the
 * database and the archive store (and its key file), works the pages of
 * every batch. Both claim pages under a lease, renew it while Tesseract
 * runs, and cut a batch into documents once its intake is finished and
 * its last page is recorded, in one transaction that exactly one worker
 * performs.
 */
struct cv_ingest_work_opts {
	/* workers, OCR settings, lease, progress */
	struct cv_ingest_opts ingest;
	int once; /* return once no page is waiting in the queue */
	/* Set (from a signal handler) to stop: no new page is claimed, the
	 * pages in hand are finished and recorded, then it returns. */
	volatile int *stop;
};

/*
 * Work the queue until *stop is set, or with once until no page waits in
 * it (pages other workers hold included: they may die). rep (the
 * caller's; release it) receives what this worker did:
 * pages recognised, blank, failed (with their rejects), lost to another
 * worker, flagged, and the documents it made. Returns < 0 only when the
 * database or the archive failed; pages in hand are then given back.
 */
int cv_ingest_work(struct cv_archive *ar, struct cv_index *ix,
		   const struct cv_ingest_work_opts *o,
		   struct cv_ingest_report *rep, struct cv_error *err);

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

/* ---------------------------------------------------------------------
 * Document types (ingest/doctypes.c) and the type classifier
 * (ingest/classify.c)
 */

#define CV_INGEST_TYPE_OTHER    "other"
#define CV_INGEST_TYPE_CODE_MAX 32

/* One row of the taxonomy; borrowed from the table. */
struct cv_ingest_doctype {
	const char *code;  /* LOINC document code */
	const char *name;  /* display name */
	const char *title; /* extended regex over a title line; "" for none */
	int builtin;       /* from data/doctypes.tsv as shipped */
};

/*
 * Read a hospital's taxonomy file (data/doctypes.tsv's format: code, name,
 * title pattern, tab-separated; '#' comments) and, when apply, add its
 * types to the table, replacing built-in rows of the same code. A file
 * with any bad row changes nothing: CV_EINVAL naming file:line. Not
 * thread-safe: call at start-up, before any page is read.
 */
int cv_ingest_doctypes_parse_file(const char *path, int apply, size_t *ntypes,
				  struct cv_error *err);
int cv_ingest_doctypes_load(const char *path, struct cv_error *err);
size_t cv_ingest_doctype_count(void);
/* Row i (0-based), NULL past the end. */
const struct cv_ingest_doctype *cv_ingest_doctype_at(size_t i);
/* 1 when code is in the table or is "other". */
int cv_ingest_doctype_known(const char *code);

/* A trained classifier; opaque. Read-only once made, so it may be shared
 * by threads. */
struct cv_ingest_model;

/* What decided a document's type, and how sure it is (0..1). */
struct cv_ingest_type_decision {
	char code[CV_INGEST_TYPE_CODE_MAX];
	char source[16]; /* "title", "model"; "" when nothing decided */
	double confidence;
};

/*
 * The type of a text: a title line near the top decides (confidence 1);
 * otherwise the model's most probable type and its calibrated
 * probability. m may be NULL (then "other", confidence 0). Cover sheets
 * and manifests outrank both; cv_ingest__describe applies them.
 */
void cv_ingest_classify_text(const struct cv_ingest_model *m, const char *text,
			     struct cv_ingest_type_decision *d);
/* The model alone, without the title rule. */
void cv_ingest_classify_model(const struct cv_ingest_model *m, const char *text,
			      struct cv_ingest_type_decision *d);
/*
 * Calibrated probabilities of every class of m into probs
 * (cv_ingest_model_nclasses entries, summing to 1); returns the index of
 * the most probable.
 */
size_t cv_ingest_model_predict(const struct cv_ingest_model *m,
			       const char *text, double *probs);
size_t cv_ingest_model_nclasses(const struct cv_ingest_model *m);
const char *cv_ingest_model_class(const struct cv_ingest_model *m, size_t i);
size_t cv_ingest_model_nfeatures(const struct cv_ingest_model *m);
double cv_ingest_model_temperature(const struct cv_ingest_model *m);
void cv_ingest_model_free(struct cv_ingest_model *m);

/* The model shipped with chartvault (data/default.model). */
int cv_ingest_model_default(struct cv_ingest_model **out, struct cv_error *err);
/* Parse a model file's bytes (checked: a hostile file gives CV_EINVAL). */
int cv_ingest_model_read(struct cv_ingest_model **out, const void *data,
			 size_t len, struct cv_error *err);
/* The model's bytes into out (reset first). */
int cv_ingest_model_write(const struct cv_ingest_model *m, struct cv_buf *out,
			  struct cv_error *err);

/*
 * Cut a stream of page texts into documents as ingest does without cover
 * sheets or a manifest (titles, patient header changes, "Page X of Y",
 * and, when type_cue and m are given, the model's type changes).
 * starts[i] is set to 1 where a document begins. For measuring
 * segmentation on text whose truth is known.
 */
void cv_ingest_segment_texts(const struct cv_ingest_model *m,
			     const char *const *texts, size_t n, int type_cue,
			     int *starts);

#define CV_INGEST_EVAL_BINS 10

/* Accuracy, confusion table, per-type and macro-F1, calibration. */
struct cv_ingest_eval {
	size_t nclasses;
	char (*codes)[CV_INGEST_TYPE_CODE_MAX]; /* in order of first use */
	size_t *confusion; /* nclasses x nclasses, [truth][predicted] */
	size_t n, correct;
	size_t scored; /* additions with a confidence */
	double nll;    /* summed -log p(truth), where given */
	size_t bin_n[CV_INGEST_EVAL_BINS], bin_correct[CV_INGEST_EVAL_BINS];
	double bin_conf[CV_INGEST_EVAL_BINS];
};

void cv_ingest_eval_init(struct cv_ingest_eval *e);
void cv_ingest_eval_release(struct cv_ingest_eval *e);
/* Count one document. confidence (of predicted) and p_truth may be -1
 * when unknown. */
void cv_ingest_eval_add(struct cv_ingest_eval *e, const char *truth,
			const char *predicted, double confidence,
			double p_truth);
double cv_ingest_eval_accuracy(const struct cv_ingest_eval *e);
double cv_ingest_eval_macro_f1(const struct cv_ingest_eval *e);
/* Expected calibration error over CV_INGEST_EVAL_BINS confidence bins. */
double cv_ingest_eval_ece(const struct cv_ingest_eval *e);
void cv_ingest_eval_class(const struct cv_ingest_eval *e, size_t k,
			  size_t *support, double *precision, double *recall,
			  double *f1);

struct cv_ingest_train_example {
	const char *text;
	const char *label; /* a known type code or "other" */
	const char *group; /* the patient (MRN); NULL or "": its own */
};

struct cv_ingest_train_opts {
	int folds; /* held-out folds for calibration and metrics */
	int epochs;
	double rate;         /* initial SGD step */
	double l2;           /* weight penalty */
	int min_patients;    /* a feature must occur for this many patients */
	size_t max_features; /* the most frequent kept */
	uint64_t seed;
};

/* clang-format off */
#define CV_INGEST_TRAIN_OPTS_INIT { 5, 12, 0.5, 1e-6, 3, 8000, 1 }
/* clang-format on */

/*
 * Train a model on n labelled examples. Before the final fit on all of
 * them, folds models are each fitted without one fold and score it; those
 * held-out scores fit the temperature and, when heldout is not NULL, are
 * added to it (an honest estimate: no document is scored by a model that
 * saw it). Deterministic for a given seed. CV_EINVAL for unknown types,
 * fewer than 2 types, or no usable feature.
 */
int cv_ingest_model_train(struct cv_ingest_model **out,
			  const struct cv_ingest_train_example *ex, size_t n,
			  const struct cv_ingest_train_opts *o,
			  struct cv_ingest_eval *heldout, struct cv_error *err);
/* ---------------------------------------------------------------------
 * Searchable PDF renditions (ingest/pdf.c)
 */

/* One page of a rendition, as the archive keeps it (all borrowed). */
struct cv_ingest_pdf_page {
	const uint8_t *image; /* the cleaned page image: G4 TIFF or PNG */
	size_t image_len;
	const char *words; /* cv_ocr_words_tsv lines for that image; NULL */
	size_t words_len;
	int dpi; /* 0: 300 */
};

/*
 * Write a PDF of n pages to out (appended; capped at 2 GB, CV_ELIMIT):
 * each page image with its words as invisible text over them, so that
 * readers, search and pdftotext find them. CV_EINVAL when a page image
 * cannot be decoded. Thread-safe.
 */
int cv_ingest_pdf_build(const struct cv_ingest_pdf_page *pages, size_t n,
			struct cv_buf *out, struct cv_error *err);

/*
 * Make document doc_id's rendition from its pages' archived images and
 * words, store it (kind "pdf") and record it on the document; pdf_oid
 * (may be NULL) receives its id. Pages without their previews get them
 * first, from the same decoded image (CV_INGEST_PREVIEW_WIDTHS, kind
 * "preview", index page_previews), so a document with a PDF has its
 * previews. CV_EINVAL when the document has no page image or one cannot
 * be decoded (previews of the pages before it are kept).
 */
int cv_ingest_render_document(struct cv_archive *ar, struct cv_index *ix,
			      int64_t doc_id, uint8_t *pdf_oid,
			      struct cv_error *err);

/*
 * Render every document of a batch that has no rendition yet (made by a
 * run that was interrupted, or whose page was replaced), adding to
 * *rendered. A document whose pages cannot be rendered is added to
 * *failed and left for later; only database and archive failures are
 * returned.
 */
int cv_ingest_render_batch(struct cv_archive *ar, struct cv_index *ix,
			   int64_t batch_id, size_t *rendered, size_t *failed,
			   struct cv_error *err);

/*
 * Make the missing previews of the filed pages of batch_id (0: every
 * batch): pages of documents made before ingest made previews, or whose
 * previews a stopped run left out. *made counts the pages that got them,
 * *failed those whose image could not be read or decoded (left to the
 * viewer to render, and to verify to report). Only database, key and
 * store failures are returned. Idempotent: a re-run finds nothing to do.
 */
int cv_ingest_make_previews(struct cv_archive *ar, struct cv_index *ix,
			    int64_t batch_id, size_t *made, size_t *failed,
			    struct cv_error *err);

/*
 * Releasing a document's searchable PDF (chartvault export and the
 * viewer's download share this, so both refuse and audit alike).
 */
struct cv_ingest_export {
	struct cv_buf pdf;                  /* the rendition */
	uint8_t object[CV_ARCHIVE_OID_LEN]; /* its archive object */
	int rendered_now; /* it was missing (a crash, a QA rescan) */
	/* The detail of the "document.export" audit row, set on failure
	 * too: "pdf, N bytes[, request REF]". */
	char audit_detail[160];
};

/* clang-format off */
#define CV_INGEST_EXPORT_INIT { CV_BUF_INIT, { 0 }, 0, "" }
/* clang-format on */

/*
 * 1 when s can be a release-of-information request reference: 1 to 64
 * letters, digits and -_./:# (an id from the ROI log, never prose).
 */
int cv_ingest_export_request_valid(const char *s);

/*
 * Read document doc_id's rendition into out->pdf (at most max bytes,
 * CV_ELIMIT past it), making it first when it is missing. request (NULL:
 * none) is the request it answers, for the audit detail. CV_ENOTFOUND
 * when there is no such document; CV_EHOLD when it is in the exception
 * queue (it may be filed under the wrong patient, and releasing it could
 * hand one patient's record to another's requester); CV_EINVAL for a bad
 * request reference. The caller audits, with out->audit_detail, whatever
 * the outcome; release out with cv_ingest_export_release.
 */
int cv_ingest_export_pdf(struct cv_ingest_export *out, struct cv_archive *ar,
			 struct cv_index *ix, int64_t doc_id,
			 const char *request, size_t max, struct cv_error *err);
void cv_ingest_export_release(struct cv_ingest_export *e);

/* ---------------------------------------------------------------------
 * QA rescans (ingest/qa.c)
 */

/*
 * Bring in the rescan of page old_page (marked for rescan in the QA
 * queue): the file at path must hold exactly one page. It is ingested into
 * the old page's batch like any scan (archived unchanged, cleaned,
 * recognised), then takes the old page's place in its document; the old
 * page is kept, superseded (see cv_index_qa_replace), and the document's
 * PDF is made again. *new_page and *doc_id receive the new page and the
 * document. CV_EEXISTS when old_page cannot be replaced or the file was
 * archived before; CV_EINVAL when the file is rejected or its page is
 * blank or unreadable (it is then kept in the batch as such). rep is as
 * cv_ingest_run's.
 */
int cv_ingest_replace_page(struct cv_archive *ar, struct cv_index *ix,
			   const char *path, const struct cv_ingest_opts *o,
			   int64_t old_page, const char *note,
			   const char *actor, int64_t *new_page,
			   int64_t *doc_id, struct cv_ingest_report *rep,
			   struct cv_error *err);

/* ---------------------------------------------------------------------
 * Page images for the screen (ingest/preview.c)
 */

/*
 * The widths ingest makes each page's preview at, when it makes its
 * document's PDF (stored as "preview" objects, index page_previews): the
 * document view's page and its thumbnails. The viewer serves a stored
 * preview for any width step it covers and renders other widths.
 */
#define CV_INGEST_PREVIEW_WIDTHS 1400, 120

/*
 * Append to out an 8-bit grey PNG of a page image as the archive keeps it
 * (G4 TIFF or PNG, len bytes), scaled to width pixels (never enlarged):
 * bilevel pages are scaled to grey so that small print stays legible.
 * Made for speed (the viewer renders it while someone waits). CV_EINVAL
 * when the image cannot be decoded. Thread-safe.
 */
int cv_ingest_page_preview(struct cv_buf *out, const uint8_t *image, size_t len,
			   int width, struct cv_error *err);
/* The same from a decoded page (the caller's; not changed). */
int cv_ingest_pix_preview(struct cv_buf *out, struct Pix *pix, int width,
			  struct cv_error *err);

#endif
