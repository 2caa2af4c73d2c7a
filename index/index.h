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
	const char *found_mrn;       /* may be NULL */
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
	char found_mrn[64];
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

struct cv_index_search_opts {
	const char *query; /* websearch syntax: words, "phrases", OR, -not */
	int limit;         /* documents */
};

struct cv_index_hit {
	struct cv_index_document doc;
	double rank;
	int page_no; /* best page of the document, 1-based seq */
	int64_t page_id;
	int matching_pages;
	/*
	 * Snippet with matches between \x01 and \x02; control characters of
	 * the page text are replaced by spaces first. malloc'd.
	 */
	char *snippet;
};

/*
 * Run a search: rank matching pages, group them by document, and make a
 * snippet for each document's best page from the text fetch returns.
 * *hits is malloc'd; free with cv_index_hits_free.
 */
int cv_index_search(struct cv_index *ix, const struct cv_index_search_opts *o,
		    cv_index_fetch_fn fetch, void *fetch_ctx,
		    struct cv_index_hit **hits, size_t *n,
		    struct cv_error *err);
void cv_index_hits_free(struct cv_index_hit *hits, size_t n);

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
 * Audit
 */

/* Append an audit row. Ids and codes only, never OCR text. */
int cv_index_audit(struct cv_index *ix, const char *actor, const char *action,
		   const char *object_type, const char *object_id,
		   const char *detail, const char *outcome,
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

#endif
