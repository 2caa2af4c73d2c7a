/*
 * index: chartvault's PostgreSQL side, and the only code that includes
 * libpq.
 *
 * It runs the archive's private cluster (initdb and pg_ctl, Unix socket
 * only, started on demand, run as an unprivileged system user when we are
 * root), connects to it or to an external server by DSN, applies the
 * numbered migrations, and keeps the catalogue of stored objects, the
 * batches, files, pages and documents of the pipeline, and the search
 * vectors. It never stores page prose: search snippets are made at query
 * time from text that the caller fetches from the archive.
 *
 * A struct cv_index is one connection: use it from one thread at a time.
 * Every function that can fail returns 0 or a negative enum cv_errcode and
 * fills err; CV_EUNAVAIL means the server could not be reached and
 * CV_ERETRY a serialization failure worth retrying.
 */
#ifndef CV_INDEX_H
#define CV_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cv.h"
#include "../common/config.h"

struct cv_index;

/* ---------------------------------------------------------------------
 * The private cluster, inside the archive folder:
 *   <archive>/pgdata/   the cluster (owned by db.server_user when root)
 *   <archive>/pgrun/    the Unix socket folder; no TCP listener
 *   <archive>/pgdata/server.log  the server's log
 */

/*
 * Create the cluster with initdb (run from an argv vector, as
 * cfg->db_server_user when we are root), configure it for Unix-socket-only
 * access, start it and create the chartvault database. CV_EEXISTS when
 * pgdata is already there. CV_EUNAVAIL when initdb cannot be found or the
 * server user cannot reach the folder (the hint says which parent blocks
 * it).
 */
int cv_index_cluster_create(const char *archive_dir,
			    const struct cv_config *cfg, struct cv_error *err);

/*
 * Start the cluster if it is not running (pg_ctl start -w). Recovers from
 * a server killed with -9: a stale postmaster.pid and leftover backends
 * are waited out. Returns 0 when already running.
 */
int cv_index_cluster_start(const char *archive_dir, const struct cv_config *cfg,
			   struct cv_error *err);

/* Stop the cluster (pg_ctl stop -m fast). 0 when it was not running. */
int cv_index_cluster_stop(const char *archive_dir, const struct cv_config *cfg,
			  struct cv_error *err);

struct cv_index_cluster_status {
	int running;
	long pid;         /* postmaster pid when running, else 0 */
	char version[64]; /* PG_VERSION of the cluster */
	char socket_dir[4096];
};

int cv_index_cluster_status(const char *archive_dir,
			    const struct cv_config *cfg,
			    struct cv_index_cluster_status *st,
			    struct cv_error *err);

/*
 * The libpq connection string of the private cluster; malloc'd. The
 * folder name is quoted for libpq, so any path works.
 */
char *cv_index_cluster_dsn(const char *archive_dir);

/* ---------------------------------------------------------------------
 * Connections and schema
 */

/*
 * Connect with a libpq connection string (PG* environment variables
 * apply). CV_EUNAVAIL when the server cannot be reached. *out is NULL on
 * failure.
 */
int cv_index_open(struct cv_index **out, const char *dsn, struct cv_error *err);
/* Close the connection; NULL is fine. */
void cv_index_free(struct cv_index *ix);

/* The newest schema version this binary knows. */
int cv_index_schema_latest(void);

/*
 * Apply the migrations newer than the database's version, all in one
 * transaction, recording each in schema_version. *from and *to (either may
 * be NULL) receive the versions before and after. Refuses with CV_ERROR
 * and a hint to upgrade when the database is newer than this binary.
 * Serialised against concurrent callers with an advisory lock.
 */
int cv_index_migrate(struct cv_index *ix, int *from, int *to,
		     struct cv_error *err);

/* The schema version recorded in the database (0 when none). */
int cv_index_schema_version(struct cv_index *ix, int *out,
			    struct cv_error *err);

struct cv_index_stats {
	char server_version[32];
	int64_t database_bytes;
	int64_t objects, batches, documents, pages;
};

int cv_index_stats(struct cv_index *ix, struct cv_index_stats *st,
		   struct cv_error *err);

int cv_index_begin(struct cv_index *ix, struct cv_error *err);
int cv_index_commit(struct cv_index *ix, struct cv_error *err);
/* Roll back if a transaction is open; never fails. */
void cv_index_rollback(struct cv_index *ix);

/* ---------------------------------------------------------------------
 * The object catalogue (used by archive/)
 */

#define CV_INDEX_OID_LEN     32
#define CV_INDEX_KEKID_LEN   8
#define CV_INDEX_WRAPKEY_LEN 40

struct cv_index_object {
	uint8_t id[CV_INDEX_OID_LEN];
	uint64_t gen;  /* names this writer's file: objects/ab/<id>.<gen> */
	char kind[16]; /* "original", "text", "words", "image", "pdf" */
	uint8_t kek_id[CV_INDEX_KEKID_LEN];
	uint8_t wrapped_key[CV_INDEX_WRAPKEY_LEN];
	int erased; /* wrapped_key destroyed */
	uint64_t size;
	uint64_t stored_size;
	uint8_t stored_sha256[32];
};

/* Look up an object; CV_ENOTFOUND when the id was never recorded. */
int cv_index_object_find(struct cv_index *ix, const uint8_t *id,
			 struct cv_index_object *out, struct cv_error *err);

/*
 * Record an object. When the id is already recorded (another writer
 * stored the same bytes first), nothing changes and *inserted is 0.
 */
int cv_index_object_add(struct cv_index *ix, const struct cv_index_object *obj,
			int *inserted, struct cv_error *err);

/*
 * Fixity (index/fixity.c). A catalogue row with what verify and gc need.
 */
struct cv_index_object_entry {
	struct cv_index_object obj;
	int64_t created_at; /* Unix seconds */
	int selected;       /* chosen by the filter for checking */
};

struct cv_index_object_filter {
	int full;          /* order by the last authenticated check */
	int sample_pct;    /* 1..100: that share of the candidates, least
			    * recently proven first */
	const char *since; /* "YYYY-MM-DD[ HH:MM:SS]" UTC: only objects stored
			    * since then are candidates; NULL: all */
};

/*
 * Every catalogue row, erased ones included, ordered by id then gen, with
 * selected set on the live rows the filter picks. *out is malloc'd.
 */
int cv_index_object_list(struct cv_index *ix,
			 const struct cv_index_object_filter *f,
			 struct cv_index_object_entry **out, size_t *n,
			 struct cv_error *err);

enum cv_index_finding {
	CV_INDEX_FINDING_FAILED,  /* the stored file fails its check */
	CV_INDEX_FINDING_MISSING, /* a live row without its file */
	CV_INDEX_FINDING_ORPHAN,  /* a file that no live row names */
	CV_INDEX_FINDING_TEMP,    /* a leftover temp file */
};

struct cv_index_verify_finding {
	enum cv_index_finding problem;
	int has_id;
	uint8_t id[CV_INDEX_OID_LEN];
	char file[160];   /* relative to objects/, or "" */
	char reason[160]; /* never key material */
};

struct cv_index_verify_run {
	int full;
	int sample_pct;
	const char *since; /* as in the filter, or NULL */
	const char *actor;
	int64_t started_at; /* Unix seconds */
	int64_t selected, intact, failed, missing, orphans, temp_files, erased;
	int64_t bytes;
};

/*
 * Record a verify run, its findings, and the time each of the intact
 * objects (ids, n of them) was proven, in one transaction. *run_id (may be
 * NULL) receives the run's number.
 */
int cv_index_verify_record(struct cv_index *ix,
			   const struct cv_index_verify_run *run,
			   const struct cv_index_verify_finding *findings,
			   size_t nfindings, const uint8_t *intact_ids,
			   size_t nintact, int64_t *run_id,
			   struct cv_error *err);

/*
 * Crypto-erase in the catalogue. The records being destroyed (the caller's
 * set; retention passes the files and pages it destroys): an object that a
 * source_files or pages row outside this set references is not erased.
 * Pages of a listed source file belong to the set.
 */
struct cv_index_erase_set {
	const int64_t *source_files;
	size_t nsource_files;
	const int64_t *pages;
	size_t npages;
};

enum cv_index_erase_outcome {
	CV_INDEX_ERASE_DONE,       /* wrapped key destroyed now */
	CV_INDEX_ERASE_ALREADY,    /* erased before */
	CV_INDEX_ERASE_REFERENCED, /* kept: another record references it */
	CV_INDEX_ERASE_UNKNOWN,    /* no such object */
};

struct cv_index_erased {
	uint8_t id[CV_INDEX_OID_LEN];
	enum cv_index_erase_outcome outcome;
	uint64_t gen;
	uint8_t kek_id[CV_INDEX_KEKID_LEN];
	/* First 16 bytes of SHA-256 of the destroyed wrapped key: names the
	 * data key in the evidence without keeping any form of it. */
	uint8_t key_fpr[16];
	char erased_at[40];       /* the commit's time, ISO 8601 UTC */
	int64_t referenced_by;    /* a source_files or pages id, or 0 */
	char referenced_kind[16]; /* "source_file" or "page" */
};

/*
 * Destroy the wrapped data keys of n objects in one committed transaction,
 * with an audit row "object.erase" per object by actor. out (n entries,
 * the caller's) receives each object's outcome. Must not be called inside
 * a caller's transaction: the destruction must be committed on return.
 */
int cv_index_object_erase(struct cv_index *ix, const uint8_t (*ids)[32],
			  size_t n, const struct cv_index_erase_set *set,
			  const char *actor, struct cv_index_erased *out,
			  struct cv_error *err);

/*
 * Key rotation (archive/rotate.c). Live rows whose data key is wrapped by
 * a KEK other than current, at most max of them; *rows malloc'd.
 */
int cv_index_object_stale_wraps(struct cv_index *ix, const uint8_t *current,
				size_t max, struct cv_index_object **rows,
				size_t *n, struct cv_error *err);
/*
 * Replace a row's wrapped key, but only if it is still old_wrapped under
 * old_kek (erased or rewrapped meanwhile: *updated 0).
 */
int cv_index_object_rewrap(struct cv_index *ix, const uint8_t *id,
			   const uint8_t *old_kek, const uint8_t *old_wrapped,
			   const uint8_t *new_kek, const uint8_t *new_wrapped,
			   int *updated, struct cv_error *err);
/*
 * The open rotation to new_kek, or a new one: *rotation_id. Adds rewrapped
 * to its count.
 */
int cv_index_rotation_open(struct cv_index *ix, const uint8_t *new_kek,
			   const char *actor, int64_t *rotation_id,
			   struct cv_error *err);
int cv_index_rotation_count(struct cv_index *ix, int64_t rotation_id,
			    int64_t rewrapped, struct cv_error *err);
/*
 * Retire old KEKs (n of them) once no live row uses them: in one
 * transaction that waits for writers in flight (SHARE lock on objects), so
 * none can slip a row under an old KEK past the check. *remaining is the
 * count of live rows still under them; when it is not 0 nothing changes.
 * Closes the rotation when done.
 */
int cv_index_kek_retire(struct cv_index *ix, int64_t rotation_id,
			const uint8_t (*old)[CV_INDEX_KEKID_LEN], size_t n,
			int64_t *remaining, struct cv_error *err);

/* ---------------------------------------------------------------------
 * The pipeline's rows (used by ingest/)
 */

/*
 * Find or create the batch called name. *created says which. operator_
 * and source are recorded on creation only.
 */
int cv_index_batch_open(struct cv_index *ix, const char *name,
			const char *operator_, const char *source,
			int64_t *batch_id, int *created, struct cv_error *err);
int cv_index_batch_finish(struct cv_index *ix, int64_t batch_id,
			  struct cv_error *err);
/* Record the batch's manifest, archived as received. */
int cv_index_batch_set_manifest(struct cv_index *ix, int64_t batch_id,
				const uint8_t *object_id, struct cv_error *err);
/*
 * What a batch received and what became of its pages, counted from the
 * rows. reconciled is 1 when every page is accounted for exactly once
 * and none is still waiting.
 */
struct cv_index_batch_stats {
	int64_t id;
	char name[256];
	char operator_[128];
	char source[512];
	char created[24]; /* UTC, ISO 8601 */
	char finished[24];
	int64_t files;
	int64_t pages;    /* sheets received, each side a page */
	int64_t filed;    /* in a document */
	int64_t blank;    /* blank backs, dropped from documents */
	int64_t sheets;   /* cover and separator sheets */
	int64_t failed;   /* could not be decoded or recognised */
	int64_t queued;   /* still waiting for OCR */
	int64_t unplaced; /* recognised but in no document yet */
	int64_t flagged;  /* with image-quality flags, for QA */
	int64_t documents;
	int64_t rejects;
	int reconciled;
	int64_t superseded; /* replaced by a rescan after QA, kept as history */
};

/*
 * One batch (which: its name or id) or, with which NULL, all of them.
 * CV_ENOTFOUND when which names no batch. *out is malloc'd.
 */
int cv_index_batch_stats(struct cv_index *ix, const char *which,
			 struct cv_index_batch_stats **out, size_t *n,
			 struct cv_error *err);

/* A reject or a flagged page of a batch. */
struct cv_index_batch_item {
	char *name; /* file */
	int page;   /* 0: the whole file */
	char *text; /* reason, or flags */
};

int cv_index_batch_rejects(struct cv_index *ix, int64_t batch_id,
			   struct cv_index_batch_item **out, size_t *n,
			   struct cv_error *err);
int cv_index_batch_flagged(struct cv_index *ix, int64_t batch_id,
			   struct cv_index_batch_item **out, size_t *n,
			   struct cv_error *err);
void cv_index_batch_items_free(struct cv_index_batch_item *items, size_t n);

/* Where a file's paper lives, from the manifest ("" for unknown). */
int cv_index_file_set_place(struct cv_index *ix, int64_t file_id,
			    const char *box, const char *folder,
			    struct cv_error *err);

int cv_index_reject_add(struct cv_index *ix, int64_t batch_id, const char *name,
			int page, const char *reason, struct cv_error *err);

enum cv_index_file_state {
	CV_INDEX_FILE_NEW,    /* just recorded by this call */
	CV_INDEX_FILE_QUEUED, /* recorded before; pages still to do */
	CV_INDEX_FILE_DONE,   /* recorded before and complete */
};

/*
 * Record an original file by its object id and queue its pages for OCR,
 * in one transaction. When the object is already recorded, the existing
 * row is returned with its state, and its batch in *owner_batch.
 */
int cv_index_file_add(struct cv_index *ix, int64_t batch_id,
		      const uint8_t *object_id, const char *name,
		      const char *format, int page_count, int64_t *file_id,
		      int64_t *owner_batch, enum cv_index_file_state *state,
		      struct cv_error *err);

/* The 1-based page numbers of file_id still queued; *pages is malloc'd. */
int cv_index_file_pending(struct cv_index *ix, int64_t file_id, int **pages,
			  size_t *n, struct cv_error *err);

struct cv_index_page_result {
	int64_t file_id;
	int page_no;
	int width, height, dpi;
	int blank;
	double ocr_confidence;       /* 0..100, <0 when unknown */
	double skew_deg;             /* corrected before OCR; 0 when none */
	int rotation;                /* 0, 90, 180, 270: turned upright */
	const char *cleanup;         /* the cleanup steps taken, "" for none */
	const uint8_t *image_object; /* the cleaned page image; may be NULL */
	const char *quality_flags;   /* "too-dark,cut-off"; "" for none */
	const char *kind;            /* "page", "cover", "separator" */
	const char *barcode;         /* a cover's code, or a label's MRN */
	/* What the page header was read to say (read_* and found_*, until
	 * assembly confirms them); each may be NULL. */
	const char *found_mrn;
	const char *found_name;      /* "FAMILY, Given" */
	const char *found_dob;       /* YYYY-MM-DD */
	const uint8_t *text_object;  /* may be NULL for a blank page */
	const uint8_t *words_object; /* may be NULL */
	/* Only to compute the search vector; not stored. */
	const char *text;
};

/* Record a page's OCR result and its search vector; marks it done. */
int cv_index_page_done(struct cv_index *ix,
		       const struct cv_index_page_result *r,
		       struct cv_error *err);

/* Record that a page could not be processed (reason shown to the clerk). */
int cv_index_page_failed(struct cv_index *ix, int64_t file_id, int page_no,
			 const char *reason, struct cv_error *err);

struct cv_index_page_info {
	int64_t id;
	int page_no;
	int blank;
	int failed;
	uint8_t text_object[CV_INDEX_OID_LEN];
	int has_text;
	char found_mrn[64]; /* what the header was read to say */
	char found_name[128];
	char found_dob[16];
	char kind[16];      /* "page", "cover", "separator" */
	char barcode[1040]; /* a cover's code, or a label's MRN; "" */
};

/* The pages of a file in page order; *pages is malloc'd. */
int cv_index_file_pages(struct cv_index *ix, int64_t file_id,
			struct cv_index_page_info **pages, size_t *n,
			struct cv_error *err);

struct cv_index_document {
	int64_t id;
	int64_t batch_id;
	char doc_type[32]; /* LOINC code or "other" */
	char type_source[32];
	char mrn[64];
	char patient_name[128];
	char dob[16]; /* YYYY-MM-DD or "" */
	char service_date[16];
	char identity_source[32];
	double type_confidence; /* 0..1; 0: not known (stored as NULL) */
};

/*
 * Create a document holding the given pages in that order (seq 1..n).
 * Pages already in a document are refused (CV_EEXISTS). Callers that
 * assemble several documents wrap them, and cv_index_file_done for their
 * files, in one transaction (cv_index_begin/commit) so that a crash leaves
 * the whole assembly or none of it.
 */
int cv_index_document_create(struct cv_index *ix,
			     const struct cv_index_document *doc,
			     const int64_t *page_ids, size_t npages,
			     int64_t *doc_id, struct cv_error *err);
/* Mark a file complete: all its pages recorded and its documents made. */
int cv_index_file_done(struct cv_index *ix, int64_t file_id,
		       struct cv_error *err);

struct cv_index_doc_page {
	int64_t page_id;
	int seq;
	char file_name[256];
	int page_no;
	int blank;
	double ocr_confidence;
	uint8_t text_object[CV_INDEX_OID_LEN];
	int has_text;
};

/* A document and its pages; CV_ENOTFOUND when there is no such document. */
int cv_index_document_get(struct cv_index *ix, int64_t doc_id,
			  struct cv_index_document *doc,
			  struct cv_index_doc_page **pages, size_t *npages,
			  struct cv_error *err);

/* ---------------------------------------------------------------------
 * Search
 */

/* Fetch the decrypted text of a page's text object into out. */
typedef int (*cv_index_fetch_fn)(void *ctx, const uint8_t *text_object,
				 struct cv_buf *out, struct cv_error *err);

/*
 * The medical abbreviations of search (index/synonyms.c): groups of terms
 * that mean the same ("MI" and "myocardial infarction"). A query term or
 * phrase that is one of a group's terms matches any of them.
 */
struct cv_index_synonyms;

/*
 * Parse a synonym list (the format is described in data/synonyms.txt)
 * and add its groups to *syn, which is created when NULL. name is the
 * file's name for messages: CV_EINVAL names its line and the reason.
 */
int cv_index_synonyms_parse(struct cv_index_synonyms **syn, const char *name,
			    const char *text, size_t len, struct cv_error *err);
/* The list shipped with chartvault (data/synonyms.txt, built in). */
int cv_index_synonyms_builtin(struct cv_index_synonyms **syn,
			      struct cv_error *err);
size_t cv_index_synonyms_count(const struct cv_index_synonyms *syn);
void cv_index_synonyms_free(struct cv_index_synonyms *syn);

/*
 * Turn a query in websearch syntax (words, "phrases", OR, -not) into the
 * to_tsquery text that search runs: every term quoted, and each term or
 * phrase that names a synonym group replaced by the alternatives of the
 * group, "('mi' | 'myocardial infarction')"; an excluded term excludes
 * all of them. syn may be NULL. *out is malloc'd. CV_EINVAL when the
 * query has no term to look for.
 */
int cv_index_search_query(char **out, const char *query,
			  const struct cv_index_synonyms *syn,
			  struct cv_error *err);

struct cv_index_search_opts {
	const char *query; /* websearch syntax: words, "phrases", OR, -not */
	int limit;         /* documents shown, 1..1000 */
	/* Filters; NULL for none. */
	const char *mrn;        /* the chart of this MRN */
	const char *patient;    /* patients with every word of this name */
	const char *doc_type;   /* a document type code (LOINC or site) */
	const char *from;       /* service date on or after, YYYY-MM-DD */
	const char *to;         /* service date on or before, YYYY-MM-DD */
	int include_exceptions; /* documents in the exception queue too */
	int near;               /* near spellings too, ranked below exact */
	int facets;             /* count types and years of all matches */
	const struct cv_index_synonyms *synonyms; /* NULL: none */
	/*
	 * The user searching: no page text of a restricted chart they may
	 * not open is fetched (cv_index_documents_access, one statement for
	 * all the documents shown); such hits have an empty snippet. NULL:
	 * every shown document's text is fetched.
	 */
	const char *access_user;
};

/* clang-format off */
#define CV_INDEX_SEARCH_OPTS_INIT { NULL, 20, NULL, NULL, NULL, NULL, NULL, 0, 0, 1, NULL, NULL }
/* clang-format on */

struct cv_index_hit {
	struct cv_index_document doc;
	double rank;
	int near;    /* matched only by near spellings */
	int page_no; /* best page of the document, 1-based seq */
	int64_t page_id;
	int matching_pages;
	char state[16]; /* "filed" or "exception" */
	/*
	 * Snippet with matches between \x01 and \x02; control characters of
	 * the page text are replaced by spaces first. malloc'd.
	 */
	char *snippet;
	/*
	 * With opts.access_user: that user's access to the document (an enum
	 * cv_index_access; the snippet is empty unless it allows) and its
	 * chart's patient (0: none). Without: -1 and 0.
	 */
	int access;
	int64_t patient_id;
};

struct cv_index_facet {
	char key[32]; /* a type code, or a year ("" when no service date) */
	int64_t documents;
};

struct cv_index_search_result {
	struct cv_index_hit *hits;
	size_t n;
	int64_t total_documents; /* every matching document, not only hits */
	int64_t total_pages;
	struct cv_index_facet *types; /* by count, then key */
	size_t ntypes;
	struct cv_index_facet *years; /* by year, newest first */
	size_t nyears;
	/* Too many matches to count: totals and facets are estimated from a
	 * sample of the documents (facets_sample); show them as "about N". */
	int facets_estimated;
	/* So many pages matched that the hits were ranked among the pages
	 * of a fixed sample of the documents (ranked_sample; see
	 * index/search.c): a document outside it is not listed. More words
	 * rank every match. */
	int ranked_in_sample;
	/* Near spellings searched for (--near), space-separated lexemes;
	 * malloc'd, or NULL. */
	char *near_terms;
	/* The sample the estimates were counted in: 16 for 1/16 of the
	 * documents (128, 1024); 0 when every match was counted. */
	int facets_sample;
	/* The sample the hits were ranked in (16 or 128); 0 when every
	 * match was ranked. ranked_in_sample is ranked_sample > 0. */
	int ranked_sample;
};

/* clang-format off */
#define CV_INDEX_SEARCH_RESULT_INIT { NULL, 0, 0, 0, NULL, 0, NULL, 0, 0, 0, NULL, 0, 0 }
/* clang-format on */

/*
 * Run a search: rank matching pages, group them by document, and make a
 * snippet for each document shown from its best page's text, which fetch
 * returns (decrypted from the archive; sent to the server for ts_headline
 * and never stored). Facets and totals count every matching document.
 * Filters are checked first: CV_EINVAL names the bad one. out is the
 * caller's; release it with cv_index_search_result_release.
 */
int cv_index_search(struct cv_index *ix, const struct cv_index_search_opts *o,
		    cv_index_fetch_fn fetch, void *fetch_ctx,
		    struct cv_index_search_result *out, struct cv_error *err);
void cv_index_search_result_release(struct cv_index_search_result *r);

/*
 * Drop the vocabulary entries of --near that no page has any more (after
 * pages were destroyed), so a destroyed record's rare words (a name) do
 * not outlive it there. Reads every search vector: a maintenance step
 * for after a destruction batch. *removed (may be NULL) is how many.
 */
int cv_index_search_vocab_prune(struct cv_index *ix, int64_t *removed,
				struct cv_error *err);

/* ---------------------------------------------------------------------
 * Exception queue
 */

/*
 * Put document doc_id in the exception queue for one reason (kind, e.g.
 * "misfile", "low-confidence-type", "unknown-patient"), about one of its
 * pages (page_id) or the whole document (page_id 0), and take it out of
 * the charts (state 'exception'), in one transaction. detail_json is a
 * JSON object of ids and codes, never OCR prose; NULL for {}. Raising an
 * open exception again is a no-op, so re-runs are safe.
 */
int cv_index_exception_raise(struct cv_index *ix, int64_t doc_id,
			     int64_t page_id, const char *kind,
			     const char *detail_json, struct cv_error *err);

/* ---------------------------------------------------------------------
 * Page view (the viewer)
 */

/* Preview widths a page may have (page_previews); more are ignored. */
#define CV_INDEX_PREVIEWS_MAX 8

struct cv_index_page_view {
	int64_t id;
	int64_t document_id; /* 0 when in no document */
	int seq;             /* place in its document, 1-based; 0 none */
	int width, height;   /* of the cleaned image the word boxes use */
	int dpi;
	uint8_t image_object[CV_INDEX_OID_LEN];
	uint8_t text_object[CV_INDEX_OID_LEN];
	uint8_t words_object[CV_INDEX_OID_LEN];
	int has_image, has_text, has_words;
	/* The previews made at ingest (page_previews), by width step. */
	size_t npreviews;
	int preview_width[CV_INDEX_PREVIEWS_MAX];
	uint8_t preview_object[CV_INDEX_PREVIEWS_MAX][CV_INDEX_OID_LEN];
};

/* One page's objects and place; CV_ENOTFOUND when there is no such page. */
int cv_index_page_view(struct cv_index *ix, int64_t page_id,
		       struct cv_index_page_view *out, struct cv_error *err);
/*
 * The object of pv's narrowest preview at least width wide (a width step;
 * a wider preview is scaled down by the browser as well as we would), or
 * NULL when none is (borrowed from pv).
 */
const uint8_t *cv_index_page_view_preview(const struct cv_index_page_view *pv,
					  int width);

/*
 * Which words of a page's text (len bytes) a search query hits, with the
 * same matching as the search snippets: (*hits)[i] is 1 when the i-th
 * whitespace-separated word is a hit. The words are in the order of the
 * page's word boxes. *hits is malloc'd, *nwords long.
 */
int cv_index_query_hits(struct cv_index *ix, const char *query,
			const char *text, size_t len, uint8_t **hits,
			size_t *nwords, struct cv_error *err);

/* ---------------------------------------------------------------------
 * Audit
 */

/* Append an audit row. Ids and codes only, never OCR text. */
int cv_index_audit(struct cv_index *ix, const char *actor, const char *action,
		   const char *object_type, const char *object_id,
		   const char *detail, const char *outcome,
		   struct cv_error *err);

/* ---------------------------------------------------------------------
 * Document-type classifier models (index/models.c)
 */

/*
 * Store a trained model (opaque bytes; no prose) with its training
 * parameters and held-out metrics (JSON objects of numbers and codes) as
 * the next version, returned in *version.
 */
int cv_index_model_store(struct cv_index *ix, const char *created_by,
			 const char *params_json, const char *metrics_json,
			 const void *model, size_t len, int *version,
			 struct cv_error *err);
/*
 * The bytes of model version want (0: the newest) into out. CV_ENOTFOUND
 * when there is none, CV_EMISMATCH when the row fails its checksum.
 */
int cv_index_model_get(struct cv_index *ix, int want, int *version,
		       struct cv_buf *out, struct cv_error *err);

struct cv_index_model_info {
	int version;
	char created[32];
	char created_by[64];
	char *params;  /* JSON */
	char *metrics; /* JSON */
	size_t size;   /* bytes */
};

/* Every stored version, oldest first; free with cv_index_model_list_free. */
int cv_index_model_list(struct cv_index *ix, struct cv_index_model_info **out,
			size_t *n, struct cv_error *err);
void cv_index_model_list_free(struct cv_index_model_info *m, size_t n);

/* ---------------------------------------------------------------------
 * The work queue (index/queue.c). Pages in state 'queued' are claimed by
 * a worker (identified by a string unique to the process, "host:pid:nonce")
 * with SELECT ... FOR UPDATE SKIP LOCKED, under a lease the worker renews.
 * A claim is taken again when its lease has run out or when the claimer's
 * server session is gone (the process died). Results are recorded only
 * under the claim, so a worker that lost its claim records nothing.
 * Documents are cut per batch, once its intake is finished and none of
 * its open files has a page waiting, by one worker under a lock.
 */

struct cv_index_claim {
	int64_t page_id;
	int64_t file_id;
	int64_t batch_id;
	int page_no;
	int page_count;
	uint8_t object_id[CV_INDEX_OID_LEN]; /* the original file */
	char format[16];
	char *name; /* the file as recorded; malloc'd */
};

void cv_index_claims_free(struct cv_index_claim *c, size_t n);

/*
 * Claim up to max waiting pages for worker, for lease_s seconds: of
 * batch_id only, or of any batch when batch_id is 0. Pages retaken from a
 * dead or stalled claimer come after fresh ones. First, pages whose claim
 * has been lost max_attempts times are failed (and rejected with a
 * reason): a page that crashes its worker must not crash them all.
 * *out (malloc'd, *n entries, possibly 0) is freed with
 * cv_index_claims_free. Not inside a caller's transaction.
 */
int cv_index_queue_claim(struct cv_index *ix, const char *worker,
			 int64_t batch_id, int lease_s, int max_attempts,
			 size_t max, struct cv_index_claim **out, size_t *n,
			 struct cv_error *err);

/* Extend the lease of every page worker holds; *held (may be NULL)
 * receives how many it still holds. */
int cv_index_queue_renew(struct cv_index *ix, const char *worker, int lease_s,
			 int64_t *held, struct cv_error *err);

/*
 * Give back the n pages (page ids) that worker holds but has not
 * started, or all it holds when ids is NULL: they are claimable at once,
 * and the claim does not count as an attempt.
 */
int cv_index_queue_release(struct cv_index *ix, const char *worker,
			   const int64_t *page_ids, size_t n,
			   struct cv_error *err);

/*
 * Record a page's result as cv_index_page_done does, but only while
 * worker still holds its claim; otherwise nothing changes and *lost is 1
 * (another worker has taken the page). The row keeps claimed_by: who did
 * the page.
 */
int cv_index_queue_page_done(struct cv_index *ix, const char *worker,
			     const struct cv_index_page_result *r, int *lost,
			     struct cv_error *err);

/*
 * Record that a page could not be processed, with a reject of batch_id
 * naming the file (name) and page, in one transaction, under the claim
 * as cv_index_queue_page_done.
 */
int cv_index_queue_page_failed(struct cv_index *ix, const char *worker,
			       int64_t batch_id, int64_t file_id,
			       const char *name, int page_no,
			       const char *reason, int *lost,
			       struct cv_error *err);

/*
 * An intake of batch_id is adding files: no documents are cut from the
 * batch until cv_index_intake_end (held by a session lock, so a second
 * intake of the same batch at once is safe, and by a mark in the batch
 * row, so an intake that was killed holds the batch until a new one of
 * the same batch finishes).
 */
int cv_index_intake_begin(struct cv_index *ix, int64_t batch_id,
			  struct cv_error *err);
/* complete 0: the intake failed; unlock but leave the batch marked. */
int cv_index_intake_end(struct cv_index *ix, int64_t batch_id, int complete,
			struct cv_error *err);

/*
 * Put a file that cv_index_file_add recorded in its batch's stream, after
 * the files taken so far, with the manifest's facts when manifest_line
 * is not 0 (mrn, doc_type, service_date: "" for none). *queued is 0 when
 * the file is complete already (its documents are made).
 */
int cv_index_queue_file(struct cv_index *ix, int64_t file_id,
			size_t manifest_line, const char *mrn,
			const char *doc_type, const char *service_date,
			int *queued, struct cv_error *err);

/* An open file of a batch, as assembly needs it. */
struct cv_index_unit_file {
	int64_t file_id;
	char *name; /* malloc'd */
	int page_count;
	size_t manifest_line; /* 0: no manifest row */
	char mrn[64];
	char doc_type[32];
	char service_date[16];
};

void cv_index_unit_files_free(struct cv_index_unit_file *f, size_t n);

/*
 * Inside the caller's transaction: take the right to cut batch_id's open
 * files into documents. *ready is 1, and *files (malloc'd, in stream
 * order, locked until the transaction ends) lists them, when no other
 * worker is assembling the batch, no intake of it is open, and none of
 * those files has a page waiting; the caller then creates the documents,
 * marks the files done and commits. Otherwise *ready is 0 and the caller
 * rolls back.
 */
int cv_index_assembly_begin(struct cv_index *ix, int64_t batch_id, int *ready,
			    struct cv_index_unit_file **files, size_t *n,
			    struct cv_error *err);

/* Batches whose open files wait only for their documents; malloc'd. */
int cv_index_assembly_pending(struct cv_index *ix, int64_t **batch_ids,
			      size_t *n, struct cv_error *err);

struct cv_index_queue_status {
	int64_t queued;      /* pages waiting, claimed or not */
	int64_t claimed;     /* of those, held under a live lease */
	int64_t open_files;  /* files not yet cut into documents */
	int64_t pages_total; /* pages of the open files */
};

/* The queue as a whole (batch_id 0) or one batch's part of it. */
int cv_index_queue_status(struct cv_index *ix, int64_t batch_id,
			  struct cv_index_queue_status *st,
			  struct cv_error *err);

/* The documents holding pages of the n files; *doc_ids malloc'd. */
int cv_index_documents_of_files(struct cv_index *ix, const int64_t *file_ids,
				size_t n, int64_t **doc_ids, size_t *ndocs,
				struct cv_error *err);

/* ---------------------------------------------------------------------
 * Retention schedules (retention_expr.c, retention.c)
 *
 * A rule's expression is a small language over clinical anchors, parsed
 * here so that a schedule is data: see retention_expr.c for the grammar
 * and docs/RETENTION.md for the presets. Dates are days since
 * 1970-01-01.
 */

#define CV_RETENTION_NODATE INT32_MIN

enum cv_retention_kind {
	CV_RETENTION_DATE,     /* eligible from day */
	CV_RETENTION_WAITING,  /* waits for an event (a death) */
	CV_RETENTION_UNKNOWN,  /* an anchor is missing: never eligible yet */
	CV_RETENTION_PERMANENT /* kept for ever */
};

struct cv_retention_anchors {
	/* Each a day, or CV_RETENTION_NODATE when not known. */
	int32_t birth, death, last_encounter, discharge, last_entry, service,
		creation;
	int majority_age; /* the rule's; majority(AGE) overrides */
};

struct cv_retention_value {
	enum cv_retention_kind kind;
	int32_t day;  /* kind DATE */
	char why[96]; /* otherwise: what is missing, for people */
};

struct cv_retention_expr;

/*
 * Parse an expression. CV_EINVAL (or CV_ELIMIT for over 1024 characters)
 * with the column and the reason in err->msg. *out is the caller's; free
 * it with cv_retention_expr_free (NULL is fine).
 */
int cv_retention_parse(struct cv_retention_expr **out, const char *text,
		       struct cv_error *err);
void cv_retention_expr_free(struct cv_retention_expr *e);
/* The canonical text of e (one spelling per meaning); malloc'd. */
char *cv_retention_expr_format(const struct cv_retention_expr *e);
/* Evaluate e over a's anchors into out. Never fails. */
void cv_retention_eval(const struct cv_retention_expr *e,
		       const struct cv_retention_anchors *a,
		       struct cv_retention_value *out);
/* Order: any date < waiting < unknown < permanent. */
int cv_retention_value_cmp(const struct cv_retention_value *a,
			   const struct cv_retention_value *b);
/* "YYYY-MM-DD" (1800..2999) to a day; CV_EINVAL when it is not one. */
int cv_retention_date_parse(int32_t *day, const char *s);
void cv_retention_date_format(char out[11], int32_t day);
/* Add years and months on the calendar (clamped to the month), then days. */
int32_t cv_retention_date_add(int32_t day, int years, int months, int days);

struct cv_retention_rule {
	char id[64];
	int version;
	char *doc_types;   /* "18842-5,11506-3", or NULL for every type */
	char category[8];  /* "any", "minor", "adult" */
	int majority_age;  /* 14..25 */
	char *expr;        /* canonical text; NULL: retired */
	char *schedule;    /* the schedule it belongs to (preset name) */
	char *description; /* the rule as the schedule words it */
	char *citation;
	char created_by[64];
	char created_at[24];
};

void cv_retention_rules_free(struct cv_retention_rule *r, size_t n);

/*
 * Choose the rule for a document of doc_type whose anchors are a, among n
 * rules with their parsed expressions (exprs[i] NULL: retired): of the
 * rules whose types and category fit, the most specific count (naming the
 * type beats not; naming a category beats "any"), and of those the latest
 * result wins. When the category cannot be told (no date of birth) the
 * choice is made as for a minor and as for an adult, and the later result
 * kept. Returns the rule (borrowed from rules) with its result in *out,
 * or NULL with out UNKNOWN when none applies. Pure; thread-safe.
 */
const struct cv_retention_rule *
cv_retention_choose(const struct cv_retention_rule *rules,
		    struct cv_retention_expr *const *exprs, size_t n,
		    const char *doc_type, const struct cv_retention_anchors *a,
		    struct cv_retention_value *out);

/*
 * Record a rule: its expression is parsed (CV_EINVAL naming the rule and
 * the column) and stored in canonical form as a new version, unless the
 * latest version already says exactly the same (*changed 0). expr NULL
 * retires the rule. *version is the version in force afterwards. Audited
 * as "retention.set".
 */
int cv_index_retention_set(struct cv_index *ix,
			   const struct cv_retention_rule *r, const char *actor,
			   int *version, int *changed, struct cv_error *err);

/*
 * Rules: the latest version of each (all 0) or every version (all 1),
 * of one rule (id not NULL) or all. CV_ENOTFOUND for an unknown id.
 * *out malloc'd; free with cv_retention_rules_free.
 */
int cv_index_retention_rules(struct cv_index *ix, const char *id, int all,
			     struct cv_retention_rule **out, size_t *n,
			     struct cv_error *err);

struct cv_retention_eval_report {
	int64_t documents, dated, permanent, waiting, unknown, no_rule;
	int64_t due; /* dated, on or before today, and not held */
};

/*
 * Evaluate the rules for every document (mrn NULL) or one patient's, and
 * store each eligible date with the rule id and version that produced
 * it, in one transaction. Audited as "retention.evaluate".
 */
int cv_index_retention_evaluate(struct cv_index *ix, const char *mrn,
				const char *actor,
				struct cv_retention_eval_report *rep,
				struct cv_error *err);

struct cv_retention_due {
	int64_t document_id;
	char mrn[64];
	char doc_type[32];
	char status[16]; /* as retention_eligibility.status */
	char eligible_on[11];
	char rule_id[64];
	int rule_version;
	char reason[96];
	int64_t hold_id;     /* an active hold covering it, or 0 */
	char rule_expr[256]; /* the rule version's expression, as stored */
	char anchors[192];   /* the dates it works from, for people */
};

/*
 * Documents whose stored eligible date is on or before `before`
 * (YYYY-MM-DD; NULL: today, UTC), not held and not in a destruction
 * batch under way; with everything set, every evaluated document with
 * its status and hold instead; with everything CV_RETENTION_DUE_HELD,
 * the documents eligible by then that an active hold keeps. *out
 * malloc'd.
 */
#define CV_RETENTION_DUE_HELD 2
int cv_index_retention_due(struct cv_index *ix, const char *before,
			   int everything, struct cv_retention_due **out,
			   size_t *n, struct cv_error *err);

enum cv_patient_event {
	CV_PATIENT_ENCOUNTER, /* date: admission or visit; date2: discharge */
	CV_PATIENT_DEATH,
	CV_PATIENT_BIRTH, /* the date of birth, recorded or corrected */
};

/*
 * Record an event for the patient with this MRN (a patients row is made
 * for an MRN that documents carry but the patient index lacks;
 * CV_ENOTFOUND when neither knows it), then re-evaluate that patient's
 * documents, all in one transaction. Dates are YYYY-MM-DD (CV_EINVAL
 * otherwise, or for a date in the future or a discharge before
 * admission). Audited as "patient.event".
 */
int cv_index_patient_event(struct cv_index *ix, const char *mrn,
			   enum cv_patient_event ev, const char *date,
			   const char *date2, const char *actor,
			   struct cv_retention_eval_report *rep,
			   struct cv_error *err);

/* ---------------------------------------------------------------------
 * Legal holds (holds.c). A document under an active hold is never
 * eligible for destruction, whatever its date.
 */

struct cv_index_hold {
	int64_t id;
	char scope[12];   /* "patient", "document", "batch", "query" */
	char target[256]; /* MRN, document id, batch id, or the query */
	char reason[512];
	char matter[256];
	char placed_by[64];
	char placed_at[24];
	char released_by[64]; /* "" while active */
	char released_at[24];
	char release_reason[512];
	int64_t documents; /* documents it covers now */
};

/*
 * Place a hold. target is an MRN, a document id, a batch name or id, or a
 * search query (websearch syntax) for scope query. The documents it
 * covers now are remembered with it, so a later correction of an MRN
 * does not free them. *covered: how many; *too_late: how many of those
 * were already committed to destruction (index rows gone). Serialised
 * with destruction. Audited as "hold.add".
 */
int cv_index_hold_add(struct cv_index *ix, const char *scope,
		      const char *target, const char *reason,
		      const char *matter, const char *actor, int64_t *id,
		      int64_t *covered, int64_t *too_late,
		      struct cv_error *err);
/* Holds, the released ones too with all; *out malloc'd. */
int cv_index_hold_list(struct cv_index *ix, int all, struct cv_index_hold **out,
		       size_t *n, struct cv_error *err);
/*
 * Release an active hold, with the reason (required). CV_ENOTFOUND for no
 * such hold, CV_EEXISTS when it was released already. Audited.
 */
int cv_index_hold_release(struct cv_index *ix, int64_t id, const char *reason,
			  const char *actor, struct cv_error *err);

/* ---------------------------------------------------------------------
 * Destruction of records (destroy.c): proposed by one person, approved by
 * another, executed record by record (resumable), certified.
 */

struct cv_index_destroy_batch {
	int64_t id;
	char state[16]; /* proposed, approved, executing, executed, cancelled */
	char cutoff[11];
	char proposed_by[64], proposed_at[24];
	char approved_by[64], approved_at[24];
	char executed_by[64], started_at[24], executed_at[24];
	int64_t items, pending, unlinked, destroyed, held, not_eligible, gone;
};

struct cv_index_destroy_item {
	int64_t document_id;
	char mrn[64];
	char doc_type[32];
	char first_date[11], last_date[11];
	char rule_id[64];
	int rule_version;
	char eligible_on[11];
	char state[16]; /* pending unlinked destroyed held not-eligible gone */
	char reason[160];
	char done_at[40];
};

struct cv_index_destroy_object {
	int64_t document_id;
	uint8_t id[CV_INDEX_OID_LEN];
	char kind[16];
	uint8_t kek_id[CV_INDEX_KEKID_LEN];
	uint8_t key_fpr[16];
	int has_key_fpr;
	char outcome[8]; /* "erased", "kept", "" while pending */
	char kept_by[48];
	int file_present; /* -1 unknown */
	char erased_at[40];
};

/*
 * Build a destruction batch from the documents eligible on or before
 * cutoff (NULL: today, UTC), after re-evaluating every document: not
 * held, not in another unfinished batch. *id is 0 and nothing is
 * recorded when none qualifies. Audited as "destroy.propose".
 */
int cv_index_destroy_propose(struct cv_index *ix, const char *cutoff,
			     const char *actor, int64_t *id, size_t *nitems,
			     struct cv_error *err);
/*
 * The same, limited to the ndocs documents of docs (ids; ndocs 0: every
 * document, as cv_index_destroy_propose): those of them that qualify are
 * taken, the others left out (*nitems says how many were taken).
 * CV_EINVAL for an id that is not positive.
 */
int cv_index_destroy_propose_docs(struct cv_index *ix, const char *cutoff,
				  const int64_t *docs, size_t ndocs,
				  const char *actor, int64_t *id,
				  size_t *nitems, struct cv_error *err);
/* A batch and its items; CV_ENOTFOUND when there is no such batch. */
int cv_index_destroy_get(struct cv_index *ix, int64_t id,
			 struct cv_index_destroy_batch *b,
			 struct cv_index_destroy_item **items, size_t *n,
			 struct cv_error *err);
int cv_index_destroy_list(struct cv_index *ix,
			  struct cv_index_destroy_batch **out, size_t *n,
			  struct cv_error *err);
/*
 * Approve a proposed batch. Refused (CV_EEXISTS, and an audit row with
 * outcome "denied") when actor proposed it: two people, always. The role
 * check (compliance) belongs to the caller.
 */
int cv_index_destroy_approve(struct cv_index *ix, int64_t id, const char *actor,
			     struct cv_error *err);
/* Cancel a batch that has not started executing. Audited. */
int cv_index_destroy_cancel(struct cv_index *ix, int64_t id, const char *actor,
			    const char *reason, struct cv_error *err);
/*
 * Move an approved batch to executing (or accept one already executing:
 * a resumed run). CV_EINVAL for any other state.
 */
int cv_index_destroy_start(struct cv_index *ix, int64_t id, const char *actor,
			   struct cv_error *err);
/*
 * Step 1 of one record, in one transaction serialised with hold add:
 * re-check that the document exists, is under no active hold and is
 * still eligible today (rules re-evaluated now); then capture its objects
 * and their key fingerprints, write its ghost, delete its index rows and
 * search vectors (and those of original files no other document uses,
 * with their cover and blank pages). state receives the item's new
 * state: "unlinked", "held", "not-eligible" or "gone". Audited.
 */
int cv_index_destroy_unlink(struct cv_index *ix, int64_t batch_id,
			    int64_t doc_id, const char *actor, char state[16],
			    struct cv_error *err);
/* The captured objects of a batch (doc_id 0) or one record; *out malloc'd. */
int cv_index_destroy_objects(struct cv_index *ix, int64_t batch_id,
			     int64_t doc_id,
			     struct cv_index_destroy_object **out, size_t *n,
			     struct cv_error *err);
/*
 * Step 2 done: record each object's erase outcome (n rows, in the order
 * of cv_index_destroy_objects for this record) and mark the record
 * destroyed, in one transaction.
 */
int cv_index_destroy_erased(struct cv_index *ix, int64_t batch_id,
			    int64_t doc_id, const struct cv_index_erased *rows,
			    const int *file_present, size_t n,
			    struct cv_error *err);
/*
 * VACUUM the tables destruction deleted from, so that the dead rows'
 * space (names, MRNs, dates of birth, search vectors) is reclaimed
 * rather than left for a later autovacuum. Outside any transaction.
 */
int cv_index_destroy_vacuum(struct cv_index *ix, struct cv_error *err);
/*
 * Close an executing batch whose records are all final: store the
 * certificate (canonical JSON) and its signature, mark it executed.
 * Audited as "destroy.execute".
 */
int cv_index_destroy_finish(struct cv_index *ix, int64_t batch_id,
			    const char *certificate, const uint8_t sig[64],
			    const char *actor, struct cv_error *err);
/* A batch's stored certificate; CV_ENOTFOUND before execution. malloc'd. */
int cv_index_destroy_certificate(struct cv_index *ix, int64_t batch_id,
				 char **certificate, uint8_t sig[64],
				 struct cv_error *err);
/*
 * How many audit rows hold action on object_id (object_type) with
 * outcome (NULL: any).
 */
int cv_index_audit_count(struct cv_index *ix, const char *action,
			 const char *object_type, const char *object_id,
			 const char *outcome, int64_t *count,
			 struct cv_error *err);

/* The ghost of a destroyed document; CV_ENOTFOUND when there is none. */
int cv_index_destroy_ghost(struct cv_index *ix, int64_t doc_id,
			   struct cv_index_destroy_item *ghost,
			   int64_t *batch_id, struct cv_error *err);

/* Paper: QA sign-off of a scan batch and destruction of its paper. */
struct cv_index_paper_counts {
	int64_t batch_id;
	char name[256];
	char signed_by[64], signed_at[24];
	int64_t files, sheets_scanned, boxes, folders, open_exceptions,
		failed_pages, documents;
	int64_t held_documents;     /* under an active legal hold */
	int64_t unverified_objects; /* never proven intact by verify */
	int64_t failed_objects;     /* failed or missing at their last check */
	char dates_from[11], dates_to[11]; /* service dates of its documents */
	int reconciled;
	int64_t days_since_signoff; /* -1 when not signed off */
	int destroyed;              /* paper destruction already recorded */
};

/* Sign a batch's QA off (once; CV_EEXISTS after). Audited. */
int cv_index_batch_signoff(struct cv_index *ix, const char *batch,
			   const char *note, const char *actor,
			   struct cv_error *err);
int cv_index_paper_counts(struct cv_index *ix, const char *batch,
			  struct cv_index_paper_counts *pc,
			  struct cv_error *err);
int cv_index_paper_record(struct cv_index *ix, int64_t batch_id,
			  const char *method, const char *vendor,
			  const char *witness, int64_t boxes, int64_t folders,
			  int64_t sheets, const char *certificate,
			  const uint8_t sig[64], const char *actor,
			  int64_t *paper_id, struct cv_error *err);
int cv_index_paper_certificate(struct cv_index *ix, int64_t batch_id,
			       char **certificate, uint8_t sig[64],
			       struct cv_error *err);

/* ---------------------------------------------------------------------
 * Users and roles (index/users.c)
 *
 * A chartvault user is a person with one role. On the command line the
 * acting user is the one mapped to the OS login (os_user); the viewer
 * signs users in with the password hash set by 'chartvault user passwd'.
 * What each role may do is the command table's business (cli/main.c,
 * docs/ROLES.md); index/ only keeps the rows.
 */

/* Roles as bits, so that a command can allow several. */
enum cv_role {
	CV_ROLE_CLERK = 1 << 0,      /* scanning clerk */
	CV_ROLE_RECORDS = 1 << 1,    /* HIM staff, release of information */
	CV_ROLE_COMPLIANCE = 1 << 2, /* compliance and privacy officers */
	CV_ROLE_ADMIN = 1 << 3,      /* system administrator */
};
#define CV_ROLE_ALL \
	(CV_ROLE_CLERK | CV_ROLE_RECORDS | CV_ROLE_COMPLIANCE | CV_ROLE_ADMIN)

/* "clerk", "records", "compliance", "admin"; NULL for anything else. */
const char *cv_role_name(unsigned role);
/* The role called name; 0 when there is none. */
unsigned cv_role_parse(const char *name);

#define CV_USER_NAME_MAX 64

struct cv_index_user {
	int64_t id;
	char name[CV_USER_NAME_MAX + 1];
	char os_user[CV_USER_NAME_MAX + 1]; /* "" when not mapped */
	char full_name[201];
	unsigned role; /* one enum cv_role bit */
	int disabled;
	int has_password;
	char created[24]; /* UTC, ISO 8601 */
	char created_by[CV_USER_NAME_MAX + 1];
};

/* 1 when name is a valid user name: [a-z_][a-z0-9_.-]{0,63}. */
int cv_index_user_name_ok(const char *name);

/*
 * Add a user. os_user and full_name may be NULL. CV_EEXISTS when the name
 * or the OS login is taken, CV_EINVAL for a bad name, role or length.
 */
int cv_index_user_add(struct cv_index *ix, const struct cv_index_user *u,
		      const char *created_by, struct cv_error *err);

/*
 * Look a user up by name, or (by_os) by OS login. CV_ENOTFOUND when there
 * is none. Disabled users are returned with disabled set.
 */
int cv_index_user_get(struct cv_index *ix, const char *key, int by_os,
		      struct cv_index_user *out, struct cv_error *err);

/* Every user, by name; *out is malloc'd. */
int cv_index_user_list(struct cv_index *ix, struct cv_index_user **out,
		       size_t *n, struct cv_error *err);

/* How many users there are (0 in an archive made before users existed). */
int cv_index_user_count(struct cv_index *ix, int64_t *n, struct cv_error *err);

/* Change a user's role; CV_ENOTFOUND when there is no such user. */
int cv_index_user_set_role(struct cv_index *ix, const char *name, unsigned role,
			   struct cv_error *err);

/*
 * Disable a user (kept, for the audit trail, but refused everywhere).
 * CV_ENOTFOUND when there is no such user; disabling twice is fine.
 */
int cv_index_user_disable(struct cv_index *ix, const char *name,
			  struct cv_error *err);

/*
 * Store a password hash (a PHC string from cv_archive_password_hash) and
 * reset the failed-login count. CV_ENOTFOUND when there is no such user.
 */
int cv_index_user_set_password(struct cv_index *ix, const char *name,
			       const char *phc, struct cv_error *err);

/*
 * The stored password hash of an enabled user, for sign-in: *phc is
 * malloc'd, NULL when no password is set. CV_ENOTFOUND when the user does
 * not exist or is disabled (callers answer both alike).
 */
int cv_index_user_password(struct cv_index *ix, const char *name, char **phc,
			   struct cv_error *err);

/*
 * Record a sign-in attempt: success clears the failure count and stamps
 * last_login_at; a failure adds one. *failures (may be NULL) receives the
 * count after the change.
 */
int cv_index_user_login_result(struct cv_index *ix, const char *name, int ok,
			       int64_t *failures, struct cv_error *err);

/* ---------------------------------------------------------------------
 * The audit trail as a hash chain (index/audit.c)
 *
 * Each row is numbered (seq, no gaps) and carries
 *   hash = SHA-256(prev_hash || canonical bytes of the row)
 * with prev_hash the previous row's hash (32 zero bytes for the first).
 * Appends take a transaction-scoped advisory lock, so concurrent writers
 * on any host keep one chain. The canonical bytes are, in order:
 *
 *   "cvaudit1"
 *   then for each field: 0x00 when NULL, else 0x01, its length as 4
 *   bytes big-endian, and its bytes:
 *   seq, at ("YYYY-MM-DDTHH:MM:SS.ffffffZ", UTC), actor, role, os_user,
 *   host, session, action, object_type, object_id, patient,
 *   document_id (decimal), purpose, detail, outcome
 *
 * Appends are one call of the server function audit_append() (migration
 * 0010), which builds these bytes and hashes them with the server's
 * sha256(); cv_index_audit_canonical builds them here for verification,
 * which hashes with libgcrypt. The hashing for verification and the signed
 * checkpoints are archive/'s (cv_archive_audit_*), which holds the
 * cryptography.
 */

/* Who acts on this connection: added to every row it appends. */
struct cv_index_audit_ctx {
	const char *role;    /* the actor's role name, or NULL */
	const char *os_user; /* OS login */
	const char *host;    /* host name */
	const char *session; /* e.g. "cli:<pid>", a viewer session id */
};

/*
 * Set (copy) the context of ix's audit rows; NULL clears it. Without a
 * context, a row's role is the actor's role in the users table.
 */
void cv_index_audit_set_context(struct cv_index *ix,
				const struct cv_index_audit_ctx *ctx);

struct cv_index_audit_entry {
	const char *actor;  /* required */
	const char *action; /* required, e.g. "document.view" */
	const char *object_type, *object_id;
	const char *patient; /* MRN; filled from the document when NULL */
	int64_t document_id; /* 0: none (or object_id of a "document") */
	const char *purpose; /* why, e.g. a release-of-information request */
	const char *detail;  /* ids and codes only, never OCR text */
	const char *outcome; /* NULL means "ok"; "denied", "failed", ... */
};

/*
 * Append one row to the chain, sealing first any rows written before the
 * chain existed. Inside a caller's transaction the chain lock is held
 * until that transaction ends. *seq (may be NULL) receives the row's seq.
 */
int cv_index_audit_append(struct cv_index *ix,
			  const struct cv_index_audit_entry *e, int64_t *seq,
			  struct cv_error *err);

/*
 * Append n rows to the chain in one statement (one round trip), in the
 * order given, each through audit_append as cv_index_audit_append does;
 * all or none (one transaction, or part of the caller's). *first_seq (may
 * be NULL) receives the first row's seq; the others follow it with no
 * other writer's row between them, since the chain lock the first takes
 * is held to the end of the transaction. CV_EINVAL when an entry lacks
 * its actor or action (then nothing is written).
 */
int cv_index_audit_append_many(struct cv_index *ix,
			       const struct cv_index_audit_entry *e, size_t n,
			       int64_t *first_seq, struct cv_error *err);

/* Seal rows written before the chain existed (a no-op when none). */
int cv_index_audit_seal(struct cv_index *ix, struct cv_error *err);

/* A stored row, as read back for verification and reports. */
struct cv_index_audit_row {
	int64_t id;
	int64_t seq;
	char at[32]; /* as in the canonical bytes */
	const char *actor, *role, *os_user, *host, *session, *action,
		*object_type, *object_id, *patient, *document_id, *purpose,
		*detail, *outcome; /* NULL when NULL */
	int has_hash, has_prev;
	uint8_t prev_hash[32];
	uint8_t hash[32];
};

/*
 * The canonical bytes of a row (format above), appended to out. The
 * result is what SHA-256 is computed over, after prev_hash.
 */
void cv_index_audit_canonical(struct cv_buf *out,
			      const struct cv_index_audit_row *row);

/*
 * Call fn for every sealed row in seq order, from seq > after. fn returns
 * 0 to go on, or a negative code to stop (returned). Rows are read in
 * pages, so memory stays small; a row's strings live until fn returns.
 */
typedef int (*cv_index_audit_row_fn)(void *ctx,
				     const struct cv_index_audit_row *row,
				     struct cv_error *err);
int cv_index_audit_scan(struct cv_index *ix, int64_t after,
			cv_index_audit_row_fn fn, void *ctx,
			struct cv_error *err);

/* Rows not yet sealed (seq NULL); verification reports them. */
int cv_index_audit_unsealed(struct cv_index *ix, int64_t *n,
			    struct cv_error *err);

/* The chain's head: its last seq (0 when empty), hash and time. */
int cv_index_audit_head(struct cv_index *ix, int64_t *seq, uint8_t hash[32],
			char at[32], struct cv_error *err);

struct cv_index_audit_checkpoint {
	int64_t id;
	int64_t seq;
	uint8_t hash[32];
	char at[32]; /* "YYYY-MM-DDTHH:MM:SS.ffffffZ" */
	uint8_t public_key[32];
	uint8_t signature[64];
};

/* Record a checkpoint (the caller signed it). */
int cv_index_audit_checkpoint_add(struct cv_index *ix,
				  const struct cv_index_audit_checkpoint *cp,
				  struct cv_error *err);
/* Every checkpoint in seq order; *out malloc'd. */
int cv_index_audit_checkpoints(struct cv_index *ix,
			       struct cv_index_audit_checkpoint **out,
			       size_t *n, struct cv_error *err);
/*
 * The last checkpoint's seq and time in Unix seconds (both 0 when none),
 * and the chain's head seq and the time of its newest row.
 */
int cv_index_audit_due(struct cv_index *ix, int64_t *cp_seq, int64_t *cp_time,
		       int64_t *head_seq, int64_t *head_time,
		       struct cv_error *err);

/*
 * Take the checkpoint lock (transaction-scoped; the caller's transaction
 * must be open), so that two writers never sign the same head twice.
 */
int cv_index_audit_checkpoint_lock(struct cv_index *ix, struct cv_error *err);

/* A filter for reports; unset fields (NULL, 0) do not filter. */
struct cv_index_audit_filter {
	const char *patient; /* MRN */
	const char *actor;
	int64_t document_id;
	const char *action; /* exact, or a prefix ending in '.' */
	const char *since;  /* "YYYY-MM-DD[ HH:MM:SS]" UTC */
	int64_t limit;      /* 0: no limit */
	int64_t before_seq; /* rows before this seq only (paging); 0: all */
};

/*
 * Rows matching f, oldest first, into fn (strings live until fn
 * returns). For a patient, the rows about any of their documents count
 * too, as do searches that returned one of them.
 */
int cv_index_audit_query(struct cv_index *ix,
			 const struct cv_index_audit_filter *f,
			 cv_index_audit_row_fn fn, void *ctx,
			 struct cv_error *err);

/* ---------------------------------------------------------------------
 * Searchable PDF renditions of documents (index/renditions.c)
 */

/* A page of a document's rendition: its cleaned image and word boxes. */
struct cv_index_rendition_page {
	int64_t page_id;
	uint8_t image_object[CV_INDEX_OID_LEN];
	uint8_t words_object[CV_INDEX_OID_LEN];
	int has_words;
	int dpi;      /* 0 when unknown */
	int previews; /* how many previews (page_previews) it has */
};

/* The pages of a document that have an image, in order; *out malloc'd. */
int cv_index_rendition_pages(struct cv_index *ix, int64_t doc_id,
			     struct cv_index_rendition_page **out, size_t *n,
			     struct cv_error *err);
/* Record a document's rendition (replacing the reference to any older). */
int cv_index_document_set_pdf(struct cv_index *ix, int64_t doc_id,
			      const uint8_t *pdf_object, struct cv_error *err);
/*
 * A document's rendition: *has is 0 when none was made yet; state
 * receives the document's state ("filed", "exception"). CV_ENOTFOUND when
 * there is no such document.
 */
int cv_index_document_pdf(struct cv_index *ix, int64_t doc_id,
			  uint8_t pdf_object[CV_INDEX_OID_LEN], int *has,
			  char state[16], struct cv_error *err);
/* Documents of a batch without a rendition; *ids malloc'd. */
int cv_index_batch_unrendered(struct cv_index *ix, int64_t batch_id,
			      int64_t **ids, size_t *n, struct cv_error *err);

/* ---------------------------------------------------------------------
 * The QA queue of flagged pages, and rescans (index/qa.c)
 */

struct cv_index_qa_page {
	int64_t page_id;
	int64_t batch_id;
	char batch[256];
	char file_name[256];
	int page_no;
	char page_state[16]; /* "queued", "done", "failed" */
	char kind[16];       /* "page", "cover", "separator" */
	int blank;
	int64_t document_id; /* 0: in no document */
	int seq;
	char flags[128];   /* "too-dark,cut-off"; "" */
	char qa_state[16]; /* "open", "accepted", "rescan", "replaced", or ""
			    * for an unflagged page nobody decided on */
	char qa_note[512];
	char qa_by[128];
	char qa_at[24];        /* UTC, ISO 8601 */
	double ocr_confidence; /* <0 when unknown */
	double skew_deg;
	int dpi;
	char cleanup[160];
	int64_t superseded_by; /* the page that replaced it, or 0 */
	int64_t replaces;      /* the page it replaced, or 0 */
};

/*
 * Flagged pages of one batch (its name or id) or of all (batch NULL): by
 * default those still waiting (never decided, or marked for rescan and
 * not yet replaced); with all, every flagged page and every page ever
 * decided on. CV_ENOTFOUND when batch names none. *out malloc'd.
 */
int cv_index_qa_list(struct cv_index *ix, const char *batch, int all,
		     struct cv_index_qa_page **out, size_t *n,
		     struct cv_error *err);
/* One page; CV_ENOTFOUND when there is no such page. */
int cv_index_qa_get(struct cv_index *ix, int64_t page_id,
		    struct cv_index_qa_page *out, struct cv_error *err);
/*
 * Decide on a page: decision "accepted" or "rescan", with an optional
 * note (500 characters at most), by actor, audited in the same
 * transaction. CV_ENOTFOUND for no such page, CV_EEXISTS when it was
 * replaced already or is a cover or separator sheet.
 */
int cv_index_qa_decide(struct cv_index *ix, int64_t page_id,
		       const char *decision, const char *note,
		       const char *actor, struct cv_error *err);
/*
 * Put new_page in old_page's place in its document (same seq) in one
 * transaction: old_page leaves the document (and so search) but keeps its
 * rows and objects, marked replaced and superseded by new_page; the
 * replacement, the document's old rendition and who did it are recorded
 * in page_replacements and the audit log; the document's rendition is
 * cleared, to be made again. old_page must be marked for rescan and in a
 * document; new_page must be a recognised, non-blank page in none
 * (CV_EEXISTS otherwise). *doc_id receives the document.
 */
int cv_index_qa_replace(struct cv_index *ix, int64_t old_page, int64_t new_page,
			const char *note, const char *actor, int64_t *doc_id,
			struct cv_error *err);
/* ---------------------------------------------------------------------
 * The patient index (index/patients.c)
 */

struct cv_index_patient {
	int64_t id;
	char mrn[64];
	char family[128];
	char given[128];
	char dob[16]; /* YYYY-MM-DD or "" */
	char sex[8];
	char deceased_on[16];
};

enum cv_index_upsert {
	CV_INDEX_UPSERT_INSERTED,
	CV_INDEX_UPSERT_UPDATED,
	CV_INDEX_UPSERT_UNCHANGED,
};

/*
 * Add a patient, or merge into the one with the same MRN: fields given
 * ("" is not given) replace the stored ones, the others are kept, so an
 * import of only some columns never erases the rest. *outcome says what
 * happened.
 */
int cv_index_patient_upsert(struct cv_index *ix,
			    const struct cv_index_patient *p,
			    enum cv_index_upsert *outcome,
			    struct cv_error *err);

/* The patient with this MRN (exact); CV_ENOTFOUND when none. */
int cv_index_patient_by_mrn(struct cv_index *ix, const char *mrn,
			    struct cv_index_patient *out, struct cv_error *err);

/* How a fuzzy match was made (bits of cv_index_patient_match.how). */
enum {
	CV_INDEX_MATCH_EXACT = 1 << 0,    /* family and given names as typed */
	CV_INDEX_MATCH_NICKNAME = 1 << 1, /* given name by a nickname */
	CV_INDEX_MATCH_TRANSPOSED = 1 << 2, /* family and given swapped */
	CV_INDEX_MATCH_FUZZY = 1 << 3,      /* by spelling similarity */
};

struct cv_index_patient_query {
	const char *name; /* "GIVEN FAMILY", "FAMILY, GIVEN" or one name */
	const char *dob;  /* YYYY-MM-DD narrows; NULL or "" for any */
	const char *mrn;  /* exact; NULL or "" for any */
	int limit;        /* <= 0: 20 */
};

struct cv_index_patient_match {
	struct cv_index_patient p;
	double score; /* 0..1, higher is better */
	unsigned how;
};

/*
 * Fuzzy patient lookup: trigram similarity (pg_trgm) of family and given
 * names, given names also by nickname (data/nicknames.csv: Bob finds
 * ROBERT), and family and given names also swapped, narrowed by DOB and
 * MRN; best first. *out is malloc'd. CV_EINVAL when the query has
 * nothing to search by.
 */
int cv_index_patient_find(struct cv_index *ix,
			  const struct cv_index_patient_query *q,
			  struct cv_index_patient_match **out, size_t *n,
			  struct cv_error *err);

/*
 * Add nickname groups from a file in data/nicknames.csv's format to the
 * built-in ones (a hospital's own names). CV_EINVAL naming file:line.
 * Not thread-safe: call before lookups start.
 */
int cv_index_nicknames_load(const char *path, struct cv_error *err);

/*
 * Whether two names are the same person's as far as a scanned header can
 * tell: family names equal or within OCR distance, given names equal,
 * nicknames of each other, or within OCR distance. Case and punctuation
 * do not matter. An empty name never agrees.
 */
int cv_index_names_agree(const char *family_a, const char *given_a,
			 const char *family_b, const char *given_b);

/*
 * Whether two names differ by no more than OCR misreads of a printed
 * name: cv_index_names_agree without nicknames.
 */
int cv_index_names_close(const char *family_a, const char *given_a,
			 const char *family_b, const char *given_b);

/* Split "FAMILY, GIVEN" as page headers print it; "" parts when absent. */
void cv_index_name_split(const char *name, char *family, size_t nf, char *given,
			 size_t ng);

/* ---------------------------------------------------------------------
 * Identity and misfile checks (index/identity.c)
 */

/*
 * Record what a page's own header says: its MRN (as the configured MRN
 * patterns found it), name ("FAMILY, GIVEN") and DOB; "" for none.
 */
int cv_index_page_set_identity(struct cv_index *ix, int64_t page_id,
			       const char *mrn, const char *name,
			       const char *dob, struct cv_error *err);

/*
 * Link a document to its patient (patient_id > 0) with the MRN and the
 * source that decided ("coversheet", "manifest", "label barcode",
 * "page text", "name+dob", "staff").
 */
int cv_index_document_set_patient(struct cv_index *ix, int64_t doc_id,
				  int64_t patient_id, const char *mrn,
				  const char *source, struct cv_error *err);

/*
 * The misfile rule: every page of doc_id whose own identifiers (its
 * header MRN or label MRN, else its name and DOB) point to someone other
 * than the document's patient raises a "misfile" exception about that
 * page, with both identities (ids and MRNs) in its detail. An MRN not in
 * the patient index counts as a misread when the page's name and DOB are
 * the patient's. Nothing is checked for a document without a patient.
 * *flagged (may be NULL) receives the number of pages raised.
 */
int cv_index_document_check_pages(struct cv_index *ix, int64_t doc_id,
				  size_t *flagged, struct cv_error *err);

/* ---------------------------------------------------------------------
 * The exception queue's screens and actions (index/exception_queue.c). A
 * document is in the queue while it is in state 'exception' and not closed.
 * Every action runs in one transaction that also writes a queue_actions
 * row (actor, time, the documents before and after as JSON) and an
 * audit row; it fails with CV_ENOTFOUND for an unknown document or page
 * and CV_EINVAL (nothing changed) when it does not apply.
 */

struct cv_index_exception_item {
	int64_t doc_id;
	int64_t batch_id;
	char doc_type[32];
	char mrn[64];
	int64_t patient_id;
	int npages;
	char kinds[128]; /* open exception kinds, "misfile,unknown-patient" */
	char created[24];
	char batch[256];        /* the batch's name */
	char patient[260];      /* "FAMILY, GIVEN" of its patient, or "" */
	char suspected[512];    /* who its pages say: the misfiled pages'
				 * patients "FAMILY, GIVEN (MRN)", else the
				 * name the pages print; "" */
	double type_confidence; /* 0..1, <0 when not the classifier's */
};

int cv_index_exception_list(struct cv_index *ix,
			    struct cv_index_exception_item **out, size_t *n,
			    struct cv_error *err);

/*
 * One document of the queue (or any document) as JSON text (malloc'd):
 * the document, its patient, its pages with the identity each shows,
 * its exceptions and the queue actions on it. Ids, codes, MRNs and
 * names from the patient index; never page text.
 */
int cv_index_exception_show(struct cv_index *ix, int64_t doc_id, char **json,
			    struct cv_error *err);

/* Set the patient (by MRN, which must be in the patient index) and, when
 * doc_type is not NULL, the type; resolves the identity exceptions (and
 * the type's, with a type): records staff have decided. */
int cv_index_exception_assign(struct cv_index *ix, const char *actor,
			      int64_t doc_id, const char *mrn,
			      const char *doc_type, struct cv_error *err);
/* Cut doc_id before page seq; the pages from seq on become a new
 * document (*new_id) with the same patient and type, in the queue. */
int cv_index_exception_split(struct cv_index *ix, const char *actor,
			     int64_t doc_id, int seq, int64_t *new_id,
			     struct cv_error *err);
/* Append doc2's pages to doc1; doc2 is closed. */
int cv_index_exception_merge(struct cv_index *ix, const char *actor,
			     int64_t doc1, int64_t doc2, struct cv_error *err);
/* Move a page to the end of doc_id; a document left empty is closed. */
int cv_index_exception_move_page(struct cv_index *ix, const char *actor,
				 int64_t page_id, int64_t doc_id,
				 struct cv_error *err);
/*
 * File a document into its patient's chart: refused (CV_EINVAL) while an
 * exception is open or no patient is set; re-indexes every page (its
 * search vector from the text fetch returns, its patient link).
 */
int cv_index_exception_file(struct cv_index *ix, const char *actor,
			    int64_t doc_id, cv_index_fetch_fn fetch,
			    void *fetch_ctx, struct cv_error *err);
/* Close a document as rejected, resolving its exceptions. */
int cv_index_exception_reject(struct cv_index *ix, const char *actor,
			      int64_t doc_id, const char *reason,
			      struct cv_error *err);

/* ---------------------------------------------------------------------
 * Verify history (index/fixity.c): what past verify runs found, and how
 * long ago each live object was last proven intact. Times are ISO 8601
 * UTC ("2026-11-25T10:01:02Z"), "" when there is none.
 */

struct cv_index_verify_run_row {
	int64_t id;
	char started_at[24], finished_at[24];
	char actor[64];
	int full;
	int sample_pct;
	char since[24];
	int64_t selected, intact, failed, missing, orphans, temp_files, erased;
	int64_t bytes;
	int64_t findings; /* rows in verify_findings */
};

/*
 * The latest runs, newest first, at most limit of them; *total receives
 * how many runs were ever recorded. *out is malloc'd (n of them).
 */
int cv_index_verify_runs(struct cv_index *ix, size_t limit,
			 struct cv_index_verify_run_row **out, size_t *n,
			 int64_t *total, struct cv_error *err);

/* How recently the live (not erased) objects were proven intact. */
#define CV_INDEX_PROOF_AGES 5
/* The ages counted in within[]: 1, 7, 30, 90 and 365 days. */
extern const int cv_index_proof_age_days[CV_INDEX_PROOF_AGES];

struct cv_index_proof_stats {
	int64_t never; /* never proven */
	int64_t stale; /* last proven more than stale_days ago */
	int64_t within[CV_INDEX_PROOF_AGES]; /* proven in the last N days */
	char oldest[24];                     /* the oldest last proof */
	int has_least;                       /* least_id is set */
	uint8_t least_id[CV_INDEX_OID_LEN];  /* least recently proven */
	char least_at[24];                   /* its proof ("" never) */
};

struct cv_index_proof_summary {
	int64_t live;
	int stale_days;
	struct cv_index_proof_stats any;  /* by any check, quick or full */
	struct cv_index_proof_stats full; /* by an authenticated (full) one */
};

int cv_index_proof_summary(struct cv_index *ix, int stale_days,
			   struct cv_index_proof_summary *out,
			   struct cv_error *err);

/* One finding a run made about an object. */
struct cv_index_object_finding {
	int64_t run_id;
	char at[24];     /* when the run finished */
	char problem[8]; /* "failed" or "missing" */
	char reason[160];
};

struct cv_index_object_proof {
	uint8_t id[CV_INDEX_OID_LEN];
	int erased;
	char created_at[24];
	char checked_at[24]; /* last proven intact, by any check */
	int64_t checked_run; /* 0: never */
	int checked_full;    /* that run was a full one */
	char full_at[24];    /* last proven by a full check */
	int64_t full_run;    /* 0: never */
	int64_t runs_since;  /* runs recorded after its last proof */
	/* Its findings, newest first (at most 50); malloc'd. */
	struct cv_index_object_finding *findings;
	size_t nfindings;
};

/*
 * One object's proof record and its findings; CV_ENOTFOUND for an id
 * never stored. Release out with cv_index_object_proof_release.
 */
int cv_index_object_proof(struct cv_index *ix, const uint8_t *id,
			  struct cv_index_object_proof *out,
			  struct cv_error *err);
void cv_index_object_proof_release(struct cv_index_object_proof *p);

/* ---------------------------------------------------------------------
 * The object catalogue, a batch per statement (index/objects_batch.c),
 * for archive's batched put. Row by row each means what its one-row
 * sibling means; one round trip does the batch.
 */

/*
 * What the catalogue knows of n ids: state[i] is 0 (never stored), 1
 * (stored) or 2 (stored, then crypto-erased).
 */
int cv_index_object_state_many(struct cv_index *ix, const uint8_t (*ids)[32],
			       size_t n, int *state, struct cv_error *err);

/*
 * Look up n objects at once, as cv_index_object_find would: found[i] is 1
 * and out[i] the row when ids[i] is recorded, else 0.
 */
int cv_index_object_find_many(struct cv_index *ix, const uint8_t (*ids)[32],
			      size_t n, struct cv_index_object *out, int *found,
			      struct cv_error *err);

/*
 * Record n objects as cv_index_object_add would, in one statement and in
 * id order; inserted[i] is 1 when objs[i]'s row was made by this call.
 */
int cv_index_object_add_many(struct cv_index *ix,
			     const struct cv_index_object *objs, size_t n,
			     int *inserted, struct cv_error *err);

/*
 * Append n audit rows that differ only in object id and detail (details
 * may be NULL: none), in the order given.
 */
int cv_index_audit_many(struct cv_index *ix, const char *actor,
			const char *action, const char *object_type,
			const char *const *object_ids,
			const char *const *details, size_t n,
			const char *outcome, struct cv_error *err);

/* ---------------------------------------------------------------------
 * Where a page was scanned (index/pagesource.c)
 */

/*
 * The archived original file page_id was scanned in (its object id) and
 * the page's 1-based number in it. CV_ENOTFOUND when there is no such
 * page. Ids only; what may see the scan is the caller's to decide.
 */
int cv_index_page_source(struct cv_index *ix, int64_t page_id,
			 uint8_t object_id[CV_INDEX_OID_LEN], int *page_no,
			 struct cv_error *err);

/* ---------------------------------------------------------------------
 * Patient charts and restricted charts (index/access.c)
 *
 * A patient may be restricted (an employee's, a VIP's, or a sensitive
 * chart). Then a user opens it only with a standing permission or an
 * emergency grant ("break the glass": a reason, time-limited, flagged for
 * compliance review). cv_index_chart_access and its document and page
 * forms are the one place that decides; the viewer and the command line
 * ask them before they show anything of a record. A record without a
 * patient (still in the exception queue) is not restricted.
 */

enum cv_index_access {
	CV_INDEX_ACCESS_OPEN,         /* not restricted */
	CV_INDEX_ACCESS_PERMITTED,    /* restricted; standing permission */
	CV_INDEX_ACCESS_EMERGENCY,    /* restricted; emergency grant in force */
	CV_INDEX_ACCESS_NEEDS_REASON, /* restricted; may break the glass */
	CV_INDEX_ACCESS_DENIED,       /* restricted; not this user at all */
};

/* 1 when the decision lets the user open the record. */
int cv_index_access_allowed(enum cv_index_access a);
/* "open", "permitted", "emergency", "needs-reason", "denied". */
const char *cv_index_access_name(enum cv_index_access a);

struct cv_index_access_info {
	enum cv_index_access decision;
	int64_t patient_id;  /* 0: the record has no patient */
	char mrn[64];        /* the patient's MRN, "" without one */
	char restricted[16]; /* "employee", "vip", "sensitive", or "" */
	int64_t grant_id;    /* the emergency grant in force, or 0 */
	char expires_at[24]; /* its end, UTC ISO 8601, or "" */
};

/*
 * May user open the chart of patient_id? Only enabled users of a role
 * that reads charts (records, compliance, admin) may break the glass;
 * others are DENIED a restricted chart. CV_ENOTFOUND when there is no
 * such patient.
 */
int cv_index_chart_access(struct cv_index *ix, const char *user,
			  int64_t patient_id, struct cv_index_access_info *out,
			  struct cv_error *err);
/* The same for the chart a document belongs to; CV_ENOTFOUND when there
 * is no such document. */
int cv_index_document_access(struct cv_index *ix, const char *user,
			     int64_t doc_id, struct cv_index_access_info *out,
			     struct cv_error *err);
/* The same for a page's document; CV_ENOTFOUND when there is no such
 * page. A page in no document is OPEN with patient_id 0. */
int cv_index_page_access(struct cv_index *ix, const char *user, int64_t page_id,
			 struct cv_index_access_info *out,
			 struct cv_error *err);
/*
 * Decisions for n documents at once (a page of search results): out[i]
 * for doc_ids[i] (the caller's array); an unknown id is OPEN with
 * patient_id 0.
 */
int cv_index_documents_access(struct cv_index *ix, const char *user,
			      const int64_t *doc_ids, size_t n,
			      struct cv_index_access_info *out,
			      struct cv_error *err);

/* Restriction categories, and the shortest reason for breaking the glass. */
#define CV_INDEX_GLASS_REASON_MIN 20
#define CV_INDEX_GLASS_REASON_MAX 500
/* "employee", "vip", "sensitive": 1 when name is one of them. */
int cv_index_restriction_ok(const char *name);
/*
 * The categories of an emergency a user may name, NULL-terminated:
 * code and label ("treatment", "Emergency treatment").
 */
extern const char *const cv_index_glass_categories[][2];
/* 1 when code is one of cv_index_glass_categories. */
int cv_index_glass_category_ok(const char *code);

/*
 * Restrict the chart of the patient with this MRN (category one of the
 * restriction categories; note optional, 500 characters at most), or
 * lift the restriction (category NULL). Audited as "patient.restrict" /
 * "patient.unrestrict". CV_ENOTFOUND for an unknown MRN, CV_EINVAL for a
 * bad category or note.
 */
int cv_index_patient_restrict(struct cv_index *ix, const char *mrn,
			      const char *category, const char *note,
			      const char *actor, struct cv_error *err);

/*
 * Give user a standing permission to open the chart of the patient with
 * this MRN, or (revoke) take it back. Audited as "chart.permit" /
 * "chart.revoke". CV_ENOTFOUND for an unknown MRN or user, or (revoke)
 * when there is no permission to take back; CV_EEXISTS when one is
 * already in force.
 */
int cv_index_chart_permit(struct cv_index *ix, const char *mrn,
			  const char *user, int revoke, const char *actor,
			  struct cv_error *err);

/*
 * Break the glass: user takes emergency access to a restricted chart for
 * minutes (1..1440), giving a category (cv_index_glass_categories) and a
 * reason (CV_INDEX_GLASS_REASON_MIN..MAX characters, no control
 * characters). In one transaction: the grant, and an audit row
 * "emergency.access" flagged "review=required" that names the grant.
 * CV_ENOTFOUND for no such patient, CV_EINVAL when the chart is not
 * restricted, the user may already open it or may not break the glass,
 * or the reason or category is not right (err says which).
 */
int cv_index_emergency_grant(struct cv_index *ix, const char *user,
			     int64_t patient_id, const char *category,
			     const char *reason, int minutes, int64_t *grant_id,
			     struct cv_error *err);

struct cv_index_emergency {
	int64_t id;
	int64_t patient_id;
	char mrn[64];
	char patient_name[260]; /* "FAMILY, GIVEN" */
	char user[CV_USER_NAME_MAX + 1];
	char category[32];
	char reason[CV_INDEX_GLASS_REASON_MAX + 1];
	char granted_at[24], expires_at[24];    /* UTC, ISO 8601 */
	int active;                             /* not yet run out */
	int64_t audit_seq;                      /* its audit row */
	char reviewed_by[CV_USER_NAME_MAX + 1]; /* "" while waiting */
	char reviewed_at[24];
	char review_note[501];
	/* Views of the chart and its documents by that user while the grant
	 * was in force, from the audit trail: what the reviewer checks. */
	int64_t views;
};

/*
 * Emergency grants waiting for review, oldest first; with all, every
 * grant, newest first. *out malloc'd.
 */
int cv_index_emergency_list(struct cv_index *ix, int all,
			    struct cv_index_emergency **out, size_t *n,
			    struct cv_error *err);
/* One grant; CV_ENOTFOUND when there is none. */
int cv_index_emergency_get(struct cv_index *ix, int64_t id,
			   struct cv_index_emergency *out,
			   struct cv_error *err);
/*
 * Mark a grant reviewed with a note (1..500 characters). Audited as
 * "emergency.review". CV_ENOTFOUND for no such grant, CV_EEXISTS when it
 * was reviewed already, CV_EINVAL for a missing note or when actor took
 * the grant (nobody reviews their own emergency access).
 */
int cv_index_emergency_review(struct cv_index *ix, int64_t id, const char *note,
			      const char *actor, struct cv_error *err);

/* Who may open a chart: its restriction and its standing permissions. */
struct cv_index_chart_permission {
	int64_t id;
	char user[CV_USER_NAME_MAX + 1];
	char granted_by[CV_USER_NAME_MAX + 1];
	char granted_at[24]; /* UTC, ISO 8601 */
};

struct cv_index_chart_acl {
	int64_t patient_id;
	char restricted[16]; /* "" when not restricted */
	char note[501];
	char restricted_by[CV_USER_NAME_MAX + 1];
	char restricted_at[24];
	struct cv_index_chart_permission *permissions; /* live ones; malloc'd */
	size_t npermissions;
	int64_t grants, grants_unreviewed; /* emergency grants ever, waiting */
};

/*
 * The restriction, live permissions and emergency-grant counts of the
 * chart of the patient with this MRN; CV_ENOTFOUND for an unknown MRN.
 * Release with cv_index_chart_acl_release.
 */
int cv_index_chart_acl(struct cv_index *ix, const char *mrn,
		       struct cv_index_chart_acl *out, struct cv_error *err);
void cv_index_chart_acl_release(struct cv_index_chart_acl *acl);

/* The patient with this id; CV_ENOTFOUND when none. */
int cv_index_patient_get(struct cv_index *ix, int64_t id,
			 struct cv_index_patient *out, struct cv_error *err);

/* A document of a chart, as the chart's timeline lists it. */
struct cv_index_chart_doc {
	int64_t id;
	char doc_type[32];
	char service_date[16]; /* YYYY-MM-DD or "" */
	char filed_at[24];     /* when it entered the chart, UTC ISO 8601 */
	int pages;             /* pages in it, blank backs left out */
};

/*
 * The filed documents of a patient's chart, newest service date first
 * (undated last, by id). *out malloc'd. The caller has decided access.
 */
int cv_index_chart_documents(struct cv_index *ix, int64_t patient_id,
			     struct cv_index_chart_doc **out, size_t *n,
			     struct cv_error *err);
/* ---------------------------------------------------------------------
 * Page previews made at ingest (index/previews.c, migration 0017)
 */

/*
 * Record object as page_id's preview at width (a viewer width step). A
 * page that has a preview at that width keeps it (a re-run after a crash
 * makes the same bytes again). CV_ENOTFOUND when there is no such page.
 */
int cv_index_page_preview_add(struct cv_index *ix, int64_t page_id, int width,
			      const uint8_t object[CV_INDEX_OID_LEN],
			      struct cv_error *err);

/*
 * Up to limit filed pages (in a document, with an image) of batch_id (0:
 * every batch) that have fewer than nwidths previews, with ids above
 * after, in id order: page_id and image_object of each *out (malloc'd).
 */
int cv_index_pages_without_previews(struct cv_index *ix, int64_t batch_id,
				    int64_t after, int nwidths, size_t limit,
				    struct cv_index_rendition_page **out,
				    size_t *n, struct cv_error *err);

#endif
