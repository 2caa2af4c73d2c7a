/*
 * Declarations shared by ingest/'s own files; no other module includes
 * this header.
 */
#ifndef CV_INGEST_INT_H
#define CV_INGEST_INT_H

#include "ingest.h"

/* What cleanup did to a page, recorded with it. */
struct cv_ingest_cleanup {
	int background_normalised;
	int binarised;   /* grey or colour scan, Sauvola */
	double skew_deg; /* corrected; 0 when none was found */
	int despeckled;
	int rotation;          /* 0, 90, 180, 270: turned upright after OSD */
	double border_removed; /* share of the page that was dark border */
};

/*
 * Straighten a skewed page in place (*pix may be replaced) and return the
 * angle found, in degrees, in *angle (0 when none was found). Tesseract's
 * layout analysis drops whole paragraphs of a page scanned 2-3 degrees off.
 */
void cv_ingest__deskew(struct Pix **pix, double *angle);

/*
 * Clean a decoded page for OCR in place: background normalisation and
 * Sauvola binarisation of grey pages, deskew, despeckle. *pix may be
 * replaced; it is never lost.
 */
void cv_ingest__clean(struct Pix **pix, struct cv_ingest_cleanup *rec);

/* The steps taken, as "sauvola,deskew 1.30,despeckle"; "" for none. */
void cv_ingest__cleanup_steps(const struct cv_ingest_cleanup *rec, char *out,
			      size_t n);

/* Image-quality flags of a page, shown to the clerk for QA. */
enum {
	CV_INGEST_Q_LOW_RESOLUTION = 1 << 0, /* under 200 dpi */
	CV_INGEST_Q_TOO_DARK = 1 << 1,
	CV_INGEST_Q_TOO_LIGHT = 1 << 2,  /* faded or low-contrast ink */
	CV_INGEST_Q_CUT_OFF = 1 << 3,    /* content runs off an edge */
	CV_INGEST_Q_HEAVY_SKEW = 1 << 4, /* over 5 degrees */
	/* OCR confidence under the floor */
	CV_INGEST_Q_LOW_CONFIDENCE = 1 << 5,
	/* a cover sheet whose code does not parse */
	CV_INGEST_Q_BAD_COVER = 1 << 6,
};

struct cv_ingest_quality {
	unsigned flags;
	double ink, paper;    /* grey levels of a grey scan; -1 for bilevel */
	double dark_fraction; /* of the cleaned page, inside a 5% margin */
	int nearly_empty;     /* no ink to speak of: a blank back? */
};

/* Measure the scan as decoded (resolution, ink and paper levels). */
void cv_ingest__measure_scan(struct Pix *pix, int dpi,
			     struct cv_ingest_quality *q);
/* Measure the cleaned page (darkness, content at the edges, skew). */
void cv_ingest__measure_clean(struct Pix *pix, double skew_deg,
			      struct cv_ingest_quality *q);
/* The flags as "too-dark,cut-off"; "" for none. */
void cv_ingest__quality_flags(unsigned flags, char *out, size_t n);

enum cv_ingest_sheet {
	CV_INGEST_SHEET_PAGE = 0, /* a page of a document */
	CV_INGEST_SHEET_COVER,    /* starts a document, carries its metadata */
	CV_INGEST_SHEET_SEPARATOR,
};

struct cv_ingest_barcodes {
	enum cv_ingest_sheet sheet;
	int cover_ok; /* the cover's code parsed */
	struct cv_ingest_cover cover;
	char payload[1040]; /* a cover's code as read */
	char label_mrn[64]; /* a patient label on an ordinary page */
};

/* Read the QR and Code 128 symbols of a cleaned page. Thread-safe. */
void cv_ingest__read_barcodes(struct Pix *pix, struct cv_ingest_barcodes *bc);

/* An MRN, encounter or other identifier: letters, digits and '-'. */
int cv_ingest__valid_id(const char *s, size_t min, size_t max);
/* YYYY-MM-DD with a month and day in range. */
int cv_ingest__valid_date(const char *s);

/* One page in the stream that segmentation cuts into documents. */
struct cv_ingest__seg_page {
	int64_t page_id;
	const char *file; /* borrowed */
	int page_no;
	struct cv_ingest_page_facts facts;
	int cut_before; /* a cover, a separator or a manifest's file starts */
	const struct cv_ingest_manifest_row *manifest;
	int has_cover;
	struct cv_ingest_cover cover;
	char label_mrn[64];
	char *text; /* a copy, for typing its document; NULL without a model */
	struct cv_ingest_type_decision page_type; /* the model's, page alone */
};

/*
 * Cut a page stream (blank and failed pages already left out) into
 * documents. starts[i] is set to 1 where a new document begins. A new
 * document begins at a title line, at "Page 1 of N", after the last page
 * of a "Page N of N" run, where the patient identity printed on the
 * page changes, and where the model is sure the type changes on a page
 * that no numbering ties to the one before.
 */
void cv_ingest__segment(const struct cv_ingest__seg_page *pages, size_t n,
			int *starts);

/*
 * Fill doc's type, identity and service date from the facts of its pages
 * (the first page that states each one decides).
 */
void cv_ingest__describe(const struct cv_ingest__seg_page *pages, size_t n,
			 struct cv_index_document *doc);

/*
 * The classifier during a run (classify.c). model_for_run: the newest
 * model trained in the index, else the shipped one (*version 0).
 * type_page: keep the page's text and the model's type of it.
 * type_document: when no cover, manifest or title decided doc's type,
 * the model's type of its pages' text; a rule's decision gets confidence
 * 1. queue_unsure_type: a document typed by the model under min_conf
 * goes to the exception queue.
 */
int cv_ingest__model_for_run(struct cv_index *ix, struct cv_ingest_model **m,
			     int *version, struct cv_error *err);
void cv_ingest__type_page(const struct cv_ingest_model *m, const char *text,
			  struct cv_ingest__seg_page *p);
void cv_ingest__type_document(const struct cv_ingest_model *m,
			      const struct cv_ingest__seg_page *pages, size_t n,
			      struct cv_index_document *doc);
int cv_ingest__queue_unsure_type(struct cv_index *ix,
				 const struct cv_index_document *doc,
				 double min_conf, int model_version,
				 struct cv_error *err);

/* The type whose title pattern matches line; 1 and code set, else 0. */
int cv_ingest__title_type(const char *line, char *code, size_t n);

/* Called for each normalised token; title: it is on one of the first
 * lines. */
typedef void (*cv_ingest__token_fn)(void *ctx, const char *tok, size_t len,
				    int title);
/* Split text into the classifier's tokens (classify.c); their count. */
size_t cv_ingest__tokens(const char *text, cv_ingest__token_fn fn, void *ctx);

struct cv_ingest__hcount {
	uint64_t h; /* FNV-1a 64 of "u:word", "t:word" or "b:word word" */
	uint32_t n; /* occurrences */
};

/* The distinct feature hashes of text, sorted, with counts; *out is
 * malloc'd. */
size_t cv_ingest__featurise(const char *text, struct cv_ingest__hcount **out);

/*
 * The classifier model file, little-endian:
 *
 *   | offset | size          | field                                  |
 *   |--------|---------------|----------------------------------------|
 *   | 0      | 8             | "CVDTMOD1"                             |
 *   | 8      | 4             | format version, 1                      |
 *   | 12     | 4             | C, classes (2..256)                    |
 *   | 16     | 4             | F, features (1..4M)                    |
 *   | 20     | 4             | flags, 0                               |
 *   | 24     | 8             | temperature, IEEE double               |
 *   | 32     | 32 * C        | class codes, NUL-padded                |
 *   | ...    | 4 * C         | bias per class, IEEE float             |
 *   | ...    | F * (8 + 4C)  | feature hash (strictly increasing),    |
 *   |        |               | then its weight per class              |
 *
 * No words are stored: a feature is a hash of its normalised words.
 */
/* ---------------------------------------------------------------------
 * QA rescans (ingest/qa.c)
 */

/* A run that brings in the rescan of one page. */
struct cv_ingest__replace {
	int64_t old_page;
	const char *note;  /* may be NULL */
	const char *actor; /* for page_replacements and the audit log */
	int64_t new_page;  /* set once placed */
	int64_t doc_id;    /* the document it was placed in */
	int placed;
};

/* cv_ingest_run, with a rescan request (NULL: an ordinary batch). */
int cv_ingest__run(struct cv_archive *ar, struct cv_index *ix,
		   const char *const *paths, size_t npaths,
		   const struct cv_ingest_opts *o,
		   struct cv_ingest__replace *replace,
		   struct cv_ingest_report *rep, struct cv_error *err);

/*
 * At the end of a rescan run, instead of assembly: put the run's one page
 * (of the files file_ids, those recognised in this run; none when the
 * scan was archived before) in rp->old_page's place, mark the file done,
 * and render the document's PDF again.
 */
int cv_ingest__place_rescan(struct cv_archive *ar, struct cv_index *ix,
			    struct cv_ingest__replace *rp,
			    const int64_t *file_ids, size_t n,
			    struct cv_error *err);
/* ---------------------------------------------------------------------
 * Patient identity (identity.c)
 */

#include <regex.h>

struct cv_ingest__mrn_rules {
	regex_t pattern; /* identity.mrn_pattern, when has_pattern */
	int has_pattern;
	regex_t format;
	int has_format;
	int check; /* 0 none, 1 luhn, 2 mod11 */
	int ready;
};

/*
 * The MRNs a page's text labels as such (MRN, MR#, Medical Record #, Unit
 * No, Hospital No, Chart #, or the number closing a "FAMILY, Given (F)
 * MM/DD/YYYY NUMBER" demographic line), in the order they appear, each
 * once; at most max of them. What identity.mrn_pattern finds instead
 * when a site sets it.
 */
size_t cv_ingest__mrn_candidates(const char *text, char (*out)[64], size_t max);

/* Compile the rules of o; CV_EINVAL names the bad setting. */
int cv_ingest__mrn_rules_init(struct cv_ingest__mrn_rules *r,
			      const struct cv_ingest_opts *o,
			      struct cv_error *err);
void cv_ingest__mrn_rules_release(struct cv_ingest__mrn_rules *r);
/* Whether mrn passes the format and check digit. */
int cv_ingest__mrn_ok(const struct cv_ingest__mrn_rules *r, const char *mrn);
/*
 * header.c: the identity the page header shows (MRN by the rules, name,
 * date of birth) read off the OCR word boxes line by line as printed, in
 * out's identity fields; the others are as cv_ingest_page_facts finds
 * them in the header.
 */
struct cv_ocr_result;
void cv_ingest__read_header(const struct cv_ocr_result *ocr,
			    const struct cv_ingest__mrn_rules *rules,
			    struct cv_ingest_page_facts *out);

/* Set facts->mrn to the first MRN in text that the rules accept, or "". */
void cv_ingest__find_mrn(const struct cv_ingest__mrn_rules *r, const char *text,
			 struct cv_ingest_page_facts *facts);

/*
 * Before a batch is cut into documents: where OCR misread a letter or a
 * digit of a page's header, and the rest of the page's identity names one
 * patient in the index, correct the page's facts to that patient's own
 * (identity.c says exactly when).
 */
int cv_ingest__confirm_identity(struct cv_index *ix,
				const struct cv_ingest__mrn_rules *r,
				struct cv_ingest__seg_page *pages, size_t n,
				struct cv_error *err);

/*
 * After assembly, in the assembly's transaction: record each page's own
 * identity, decide each document's patient from its evidence (cover
 * sheet > manifest > label barcode > page text MRN > name and DOB)
 * against the patient index, and queue what cannot be filed with
 * confidence: "unknown-patient" documents and "misfile" pages (a page
 * disagreeing with its document's patient, or a document of one patient
 * found inside another patient's bundle). docs[k] covers pages
 * [first[k], first[k + 1]) of the stream (first[ndocs] = n); each doc's
 * id must be set. *queued receives the number of documents held.
 */
int cv_ingest__identify(struct cv_index *ix,
			const struct cv_ingest__mrn_rules *r,
			const struct cv_ingest__seg_page *pages, size_t n,
			struct cv_index_document *docs, const size_t *first,
			size_t ndocs, size_t *queued, struct cv_error *err);

/*
 * csvtable.c: a CSV file whose first row names its columns (the batch
 * manifest, the patient index import). Header names match without regard
 * to case or surrounding spaces, and several names may mean one column;
 * an unknown name, a column named twice or no `required` column makes the
 * whole file unusable (CV_EINVAL naming what, the file and the line), as
 * does text that is not CSV. Every later row is handed to row() with the
 * line it starts on and value[c] for column c (NULL when the header lacks
 * it); a row with the wrong number of fields or a field over field_max
 * bytes goes to reject() instead, and reading goes on. Blank lines are no
 * rows; a UTF-8 byte-order mark is skipped.
 */
struct cv_ingest__csv_name {
	const char *name;
	int column;
};

struct cv_ingest__csv_table {
	const char *what; /* "manifest", "patient file": for messages */
	const struct cv_ingest__csv_name *names;
	size_t nnames;
	const char *const *columns; /* column -> its name in messages */
	size_t ncolumns;
	int required;
	size_t field_max;
	void (*row)(void *ctx, size_t line, char *const *value);
	void (*reject)(void *ctx, size_t line, const char *reason);
	void *ctx;
};

int cv_ingest__csv_read(const struct cv_ingest__csv_table *t, const char *path,
			const char *data, size_t len, struct cv_error *err);
/* s without spaces, tabs and a CR at either end (in place). */
char *cv_ingest__trim(char *s);

#endif
