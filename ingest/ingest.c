/*
 * The ingest run and the queue worker: walk the inputs, check and archive
 * each original, queue its pages in the index, and work the queue: claim
 * pages, recognise them on a pool of worker threads, record each page as
 * it comes back, and cut each batch's page stream into documents once its
 * last page is in.
 *
 * 'chartvault ingest' does both: it queues its batch and works the pages
 * of that batch with its own threads, while 'chartvault worker' processes
 * on this or other hosts may take pages of the same batch. There is one
 * mechanism: every page, whoever does it, is claimed from the index under
 * a lease (index/queue.c) and recorded only under that claim.
 *
 * Threads: the main thread owns the database connection and the archive
 * (both single-threaded by contract): it claims pages, fetches their
 * originals from the archive, renews the leases, records the results and
 * assembles documents. Workers only decode a page and run Tesseract on it.
 * That keeps every core on OCR, which is where the time goes, and keeps
 * libpq and PIX references out of the threads.
 *
 * Order of durable steps, and what a re-run does after a crash at each:
 *   1. original archived          -> stored again as a duplicate: no-op
 *   2. file row + queued pages    -> found by content; its pages wait in
 *                                    the queue for any worker
 *   3. page claimed               -> the claim dies with its session, or
 *                                    its lease runs out: taken again
 *   4. page text archived + page row marked done under the claim
 *                                 -> page skipped
 *   5. documents + files done, one transaction, by one worker, once the
 *      batch's intake is finished -> whole file skipped
 * An intake killed midway leaves its batch marked open: its documents are
 * cut only after an intake of that batch (the re-run) finishes, because a
 * document may span files.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <leptonica/allheaders.h>

#include "ingest_int.h"
#include "../ocr/ocr.h"
#include "../common/banned.h"

/* A page's text, capped: no scanned page holds a megabyte of prose. */
#define TEXT_MAX (4u << 20)

/*
 * Originals kept decrypted after their pages are recorded, for the next
 * pages of the same file. Files with pages in flight are always kept.
 */
#define CACHE_MAX (256u << 20)

/* How long the main thread waits for a result before it looks around. */
#define TICK_MS 500

struct file_state {
	struct cv_buf data; /* the file's bytes, read once: see take_file */
	char *path;         /* as opened */
	char *name;         /* as shown and recorded: the path as given */
	enum cv_ingest_format format;
	int npages;
	int64_t file_id;
	int assemble; /* queued by this run: its documents are waited for */
	const struct cv_ingest_manifest_row *row; /* borrowed */
};

/*
 * A claimed page's original file, decrypted from the archive once and
 * shared by the jobs of its pages. Only the main thread allocates, counts
 * and frees it; workers only read data while a job of theirs holds it.
 */
struct original {
	struct original *next;
	int64_t file_id;
	char *name;
	enum cv_ingest_format format;
	struct cv_buf data;
	int refs; /* jobs not yet recorded */
};

struct job {
	struct original *orig;
	int64_t page_id;
	int64_t batch_id;
	int page;
};

struct result {
	struct result *next;
	struct job job;
	int ok;
	int dpi;
	struct cv_ingest_cleanup clean;
	struct cv_ingest_quality quality;
	struct cv_ingest_barcodes barcodes;
	uint8_t *image; /* the cleaned page, G4 TIFF or PNG; lept_free */
	size_t image_len;
	struct cv_ocr_result ocr;
	struct cv_error err;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t job_ready;
	pthread_cond_t result_ready;
	struct job *jobs;
	size_t njobs, jobs_alloc, next;
	int closed;
	struct result *head, *tail;
	size_t outstanding; /* jobs pushed whose results are not yet taken */
	pthread_t *threads;
	int nthreads, alive;
	struct cv_error engine_err;
	struct cv_ocr_opts ocr;
	double osd_below; /* check orientation under this OCR confidence */
};

struct run {
	struct cv_archive *ar;
	struct cv_index *ix;
	const struct cv_ingest_opts *o;
	struct cv_ingest_report *rep;
	struct file_state **files;
	size_t nfiles, files_alloc;
	struct pool pool;
	uint64_t start_ms;
	struct cv_ingest_manifest *manifest;
	char *manifest_real; /* not an input, though it may sit among them */
	struct cv_ingest__replace *replace; /* QA rescan run (ingest/qa.c) */
	struct cv_ingest__mrn_rules mrn;    /* identity.c */

	/* The queue */
	char worker[160]; /* claimed_by: host:pid:nonce */
	int64_t batch_id; /* claim only this batch's pages; 0: any */
	int intake_open;  /* this run is adding files to batch_id */
	int lease_s;
	int max_attempts;
	uint64_t renew_at_ms; /* next lease renewal */
	struct original *cache;
	size_t cache_bytes;
	volatile int *stop;
	size_t queue_left;     /* pages waiting in the queue, for progress */
	uint64_t status_at_ms; /* next look at the queue's size */
	size_t done_at_status; /* pages done by then */
};
/* ---------------------------------------------------------------------
 * Report helpers
 */

static char *escaped(const char *s)
{
	struct cv_buf b = CV_BUF_INIT;

	cv_buf_add_escaped(&b, s, strlen(s));
	return cv_buf_detach(&b, NULL);
}

static void progress(struct run *run)
{
	struct cv_ingest_progress p;

	if (!run->o->progress)
		return;
	p.pages_done = run->rep->pages_ocr + run->rep->pages_failed;
	if (!run->batch_id) {
		/* A worker's share of the queue: what it did plus what
		 * waited when it last looked. */
		p.pages_total = run->done_at_status + run->queue_left;
		if (p.pages_total < p.pages_done)
			p.pages_total = p.pages_done;
	} else {
		/* Workers elsewhere may be doing the batch's pages too. */
		p.pages_total = run->rep->pages_total;
		if (!run->intake_open && run->status_at_ms &&
		    run->queue_left < p.pages_total &&
		    p.pages_total - run->queue_left > p.pages_done)
			p.pages_done = p.pages_total - run->queue_left;
	}
	/* Pages done before this run, or by other workers: in the total,
	 * not in this run's rate. */
	p.pages_earlier =
		p.pages_done - (run->rep->pages_ocr + run->rep->pages_failed);
	p.rejects = run->rep->nrejects;
	p.elapsed_ms = cv_now_ms() - run->start_ms;
	run->o->progress(run->o->progress_ctx, &p);
}

static void report_reject(struct run *run, const char *name, int page,
			  const char *reason)
{
	struct cv_ingest_report *rep = run->rep;
	struct cv_ingest_reject *r;

	rep->rejects = cv_realloc(rep->rejects,
				  (rep->nrejects + 1) * sizeof(*rep->rejects));
	r = &rep->rejects[rep->nrejects++];
	r->name = escaped(name);
	r->page = page;
	r->reason = escaped(reason);
	progress(run);
}

/*
 * Record a rejected input in the report and the index. Only a failure to
 * record it is returned: the reject itself never stops the batch.
 */
static int reject(struct run *run, const char *name, int page,
		  const char *reason, struct cv_error *err)
{
	struct cv_ingest_reject *r;

	report_reject(run, name, page, reason);
	r = &run->rep->rejects[run->rep->nrejects - 1];
	return cv_index_reject_add(run->ix, run->rep->batch_id, r->name, page,
				   r->reason, err);
}
/* ---------------------------------------------------------------------
 * Walking the inputs
 */

static void add_file(struct run *run, const char *path, const char *name)
{
	struct file_state *f;

	if (run->manifest_real) {
		char *real = realpath(path, NULL);
		int same = real && !strcmp(real, run->manifest_real);

		free(real);
		if (same)
			return;
	}
	f = cv_calloc(1, sizeof(*f));

	f->path = cv_strdup(path);
	f->name = cv_strdup(name);
	cv_buf_init(&f->data);
	if (run->nfiles == run->files_alloc) {
		run->files_alloc = run->files_alloc ? 2 * run->files_alloc : 32;
		run->files = cv_realloc(run->files,
					run->files_alloc * sizeof(*run->files));
	}
	run->files[run->nfiles++] = f;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int inside(const char *root, const char *path)
{
	size_t n = strlen(root);

	return !strncmp(root, path, n) && (path[n] == '/' || path[n] == '\0');
}

static int walk(struct run *run, const char *root, const char *dir, int depth,
		struct cv_error *err)
{
	struct dirent **ents = NULL;
	int n, i, ret = 0;

	if (depth > 32)
		return reject(run, dir, 0, "folders are nested too deeply",
			      err);
	n = scandir(dir, &ents, NULL, by_name);
	if (n < 0) {
		char reason[512];

		snprintf(reason, sizeof(reason), "folder cannot be read: %s",
			 strerror(errno));
		return reject(run, dir, 0, reason, err);
	}
	for (i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		char *path = NULL, *real = NULL;
		struct stat st;

		if (ret < 0 || !strcmp(nm, ".") || !strcmp(nm, ".."))
			goto next;
		path = cv_path_join(dir, nm);
		if (lstat(path, &st) < 0) {
			ret = reject(run, path, 0, strerror(errno), err);
			goto next;
		}
		if (S_ISDIR(st.st_mode)) {
			ret = walk(run, root, path, depth + 1, err);
		} else if (S_ISLNK(st.st_mode)) {
			/* A link may point anywhere, /etc/shadow included:
			 * only links that stay inside the batch are taken. */
			real = realpath(path, NULL);
			if (!real)
				ret = reject(run, path, 0,
					     "symbolic link is broken", err);
			else if (!inside(root, real))
				ret = reject(
					run, path, 0,
					"symbolic link points outside the batch folder",
					err);
			else if (stat(real, &st) < 0 || !S_ISREG(st.st_mode))
				ret = reject(
					run, path, 0,
					"symbolic link does not point to a regular file",
					err);
			else
				add_file(run, real, path);
		} else if (S_ISREG(st.st_mode)) {
			add_file(run, path, path);
		} else {
			ret = reject(run, path, 0, "not a regular file", err);
		}
next:
		free(real);
		free(path);
		free(ents[i]);
	}
	free(ents);
	return ret;
}

static int collect(struct run *run, const char *const *paths, size_t n,
		   struct cv_error *err)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < n && ret == 0; i++) {
		struct stat st;

		if (stat(paths[i], &st) < 0) {
			ret = reject(run, paths[i], 0, strerror(errno), err);
		} else if (S_ISDIR(st.st_mode)) {
			char *root = realpath(paths[i], NULL);

			if (!root) {
				ret = reject(run, paths[i], 0, strerror(errno),
					     err);
				continue;
			}
			ret = walk(run, root, paths[i], 0, err);
			free(root);
		} else if (S_ISREG(st.st_mode)) {
			add_file(run, paths[i], paths[i]);
		} else {
			ret = reject(run, paths[i], 0, "not a regular file",
				     err);
		}
	}
	return ret;
}

/* ---------------------------------------------------------------------
 * The OCR worker pool
 */

static void result_free(struct result *r)
{
	cv_ocr_result_release(&r->ocr);
	if (r->image)
		lept_free(r->image);
	free(r);
}

/*
 * A page that reads badly may be upside down or sideways: ask OSD, and
 * keep the turned page only if it then reads better. Pages that read well
 * never pay for this.
 */
static void turn_upright(struct cv_ocr_engine *eng, struct Pix **pix,
			 struct result *r)
{
	struct cv_error ignore = CV_ERROR_INIT;
	struct cv_ocr_result again = CV_OCR_RESULT_INIT;
	struct Pix *turned;
	float conf = 0;
	int deg = 0;

	if (cv_ocr_orientation(eng, *pix, r->dpi, &deg, &conf, &ignore) < 0 ||
	    deg == 0 || conf < 5.0f)
		return;
	/* OSD says how far it was turned clockwise: turn it back. */
	turned = pixRotateOrth(*pix, (4 - deg / 90) % 4);
	if (!turned)
		return;
	if (cv_ocr_recognize(eng, turned, r->dpi, &again, &ignore) == 0 &&
	    again.mean_conf > r->ocr.mean_conf) {
		cv_ocr_result_release(&r->ocr);
		r->ocr = again;
		pixDestroy(pix);
		*pix = turned;
		r->clean.rotation = deg;
		return;
	}
	cv_ocr_result_release(&again);
	pixDestroy(&turned);
}

/* The cleaned page, kept so that word boxes have the image they refer to. */
static void encode_page(struct Pix *pix, struct result *r)
{
	int bad = pixGetDepth(pix) == 1
			  ? pixWriteMemTiff(&r->image, &r->image_len, pix,
					    IFF_TIFF_G4)
			  : pixWriteMemPng(&r->image, &r->image_len, pix, 0);

	if (bad && r->image) {
		lept_free(r->image);
		r->image = NULL;
		r->image_len = 0;
	}
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct cv_ocr_engine *eng = NULL;
	struct cv_error err = CV_ERROR_INIT;

	if (cv_ocr_engine_new(&eng, &p->ocr, &err) < 0) {
		pthread_mutex_lock(&p->mu);
		p->engine_err = err;
		p->alive--;
		pthread_cond_broadcast(&p->result_ready);
		pthread_mutex_unlock(&p->mu);
		return NULL;
	}
	for (;;) {
		struct result *r;
		struct job job;
		const struct original *o;
		struct Pix *pix = NULL;

		pthread_mutex_lock(&p->mu);
		while (p->next == p->njobs && !p->closed)
			pthread_cond_wait(&p->job_ready, &p->mu);
		if (p->next == p->njobs) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		job = p->jobs[p->next++];
		pthread_mutex_unlock(&p->mu);

		o = job.orig;
		r = cv_calloc(1, sizeof(*r));
		r->job = job;
		r->ocr.mean_conf = -1;
		if (cv_ingest_load_page_mem(
			    o->name, (const uint8_t *)o->data.buf, o->data.len,
			    o->format, job.page, &pix, &r->dpi, &r->err) == 0) {
			cv_ingest__measure_scan(pix, r->dpi, &r->quality);
			cv_ingest__clean(&pix, &r->clean);
			cv_ingest__measure_clean(pix, r->clean.skew_deg,
						 &r->quality);
			cv_ingest__read_barcodes(pix, &r->barcodes);
			if (r->barcodes.sheet != CV_INGEST_SHEET_PAGE) {
				/* A cover or separator sheet is read by its
				 * code; it is no page of a document. */
				r->ocr.text = cv_strdup("");
				r->ok = 1;
				encode_page(pix, r);
			} else if (cv_ocr_recognize(eng, pix, r->dpi, &r->ocr,
						    &r->err) == 0) {
				r->ok = 1;
				if (r->ocr.mean_conf < p->osd_below)
					turn_upright(eng, &pix, r);
				encode_page(pix, r);
			}
		}
		pixDestroy(&pix);

		pthread_mutex_lock(&p->mu);
		if (p->tail)
			p->tail->next = r;
		else
			p->head = r;
		p->tail = r;
		pthread_cond_signal(&p->result_ready);
		pthread_mutex_unlock(&p->mu);
	}
	cv_ocr_engine_free(eng);
	pthread_mutex_lock(&p->mu);
	p->alive--;
	pthread_cond_broadcast(&p->result_ready);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static int pool_workers(const struct cv_ingest_opts *o)
{
	long n = o->workers;

	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > 256)
		n = 256;
	return (int)n;
}

/* Start the threads on the first job, so a run with nothing to recognise
 * never pays for loading Tesseract. */
static int pool_push(struct run *run, const struct job *job,
		     struct cv_error *err)
{
	struct pool *p = &run->pool;
	int i;

	if (!p->threads) {
		p->threads = cv_calloc((size_t)p->nthreads, sizeof(pthread_t));
		for (i = 0; i < p->nthreads; i++) {
			if (pthread_create(&p->threads[i], NULL, worker, p)) {
				p->nthreads = i;
				return cv_error_errno(
					err, CV_ERROR,
					"could not start OCR worker %d", i + 1);
			}
			pthread_mutex_lock(&p->mu);
			p->alive++;
			pthread_mutex_unlock(&p->mu);
		}
	}
	pthread_mutex_lock(&p->mu);
	if (p->njobs == p->jobs_alloc) {
		p->jobs_alloc = p->jobs_alloc ? 2 * p->jobs_alloc : 256;
		p->jobs = cv_realloc(p->jobs, p->jobs_alloc * sizeof(*p->jobs));
	}
	/* Jobs taken are never looked at again: reuse their room. */
	if (p->next == p->njobs)
		p->next = p->njobs = 0;
	p->jobs[p->njobs++] = *job;
	p->outstanding++;
	pthread_cond_signal(&p->job_ready);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

/*
 * Take the next result, waiting up to wait_ms for one while jobs are out;
 * NULL when none is ready. CV_EUNAVAIL when every worker failed to start
 * its engine while work is still waiting.
 */
static int pool_take(struct pool *p, int wait_ms, struct result **out,
		     struct cv_error *err)
{
	struct timespec until;
	int ret = 0;

	*out = NULL;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->mu);
	while (!p->head && wait_ms > 0 && p->outstanding) {
		if (p->threads && p->alive == 0) {
			*err = p->engine_err;
			ret = err->code ? err->code : CV_ERROR;
			goto out;
		}
		if (pthread_cond_timedwait(&p->result_ready, &p->mu, &until))
			break;
	}
	if (p->head) {
		*out = p->head;
		p->head = p->head->next;
		if (!p->head)
			p->tail = NULL;
		p->outstanding--;
	}
out:
	pthread_mutex_unlock(&p->mu);
	return ret;
}

/*
 * Stop taking new jobs, let the running ones finish, join the threads.
 * Results not taken are freed; their pages are still claimed, and the
 * caller gives them back.
 */
static void pool_shutdown(struct pool *p, int abandon)
{
	struct result *r;
	int i;

	pthread_mutex_lock(&p->mu);
	p->closed = 1;
	if (abandon)
		p->next = p->njobs;
	pthread_cond_broadcast(&p->job_ready);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; p->threads && i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	while ((r = p->head)) {
		p->head = r->next;
		result_free(r);
	}
	p->tail = NULL;
	free(p->threads);
	free(p->jobs);
	p->threads = NULL;
	p->jobs = NULL;
	p->njobs = p->next = p->jobs_alloc = 0;
}
/* ---------------------------------------------------------------------
 * Per file: intake
 */

static int already_in_run(struct run *run, size_t fidx)
{
	size_t i;

	for (i = 0; i < fidx; i++)
		if (run->files[i]->file_id == run->files[fidx]->file_id)
			return 1;
	return 0;
}

static void report_file(struct run *run, const struct file_state *f,
			const uint8_t *oid, int already, int64_t owner)
{
	struct cv_ingest_report *rep = run->rep;
	struct cv_ingest_file *rf;

	rep->files =
		cv_realloc(rep->files, (rep->nfiles + 1) * sizeof(*rep->files));
	rf = &rep->files[rep->nfiles++];
	rf->name = escaped(f->name);
	cv_archive_oid_format(rf->id, oid);
	rf->pages = f->npages;
	rf->already = already;
	rf->owner_batch = owner;
	if (already)
		rep->files_already++;
	else
		rep->files_new++;
}

/*
 * Record the file and queue its pages, and put it in its batch's stream
 * with the manifest's facts, in one transaction. *state says what the
 * index knew of it; *queued is 0 when it is complete.
 */
static int queue_file(struct run *run, size_t fidx, const uint8_t *oid,
		      int64_t *owner, enum cv_index_file_state *state,
		      int *queued, struct cv_error *err)
{
	struct file_state *f = run->files[fidx];
	const struct cv_ingest_manifest_row *m;
	int ret;

	*queued = 0;
	ret = cv_index_begin(run->ix, err);
	if (ret < 0)
		return ret;
	ret = cv_index_file_add(run->ix, run->rep->batch_id, oid, f->name,
				cv_ingest_format_name(f->format), f->npages,
				&f->file_id, owner, state, err);
	/* The same bytes twice in one run keep their first place. */
	if (ret < 0 || *state == CV_INDEX_FILE_DONE ||
	    already_in_run(run, fidx))
		goto out;
	if (run->manifest) {
		char *real = realpath(f->path, NULL);

		f->row = cv_ingest_manifest_find(run->manifest, real);
		free(real);
	}
	m = f->row;
	if (m && (m->box[0] || m->folder[0])) {
		ret = cv_index_file_set_place(run->ix, f->file_id, m->box,
					      m->folder, err);
		if (ret < 0)
			goto out;
	}
	ret = cv_index_queue_file(run->ix, f->file_id, m ? m->line : 0,
				  m ? m->mrn : NULL, m ? m->doc_type : NULL,
				  m ? m->service_date : NULL, queued, err);
out:
	if (ret < 0) {
		cv_index_rollback(run->ix);
		return ret;
	}
	return cv_index_commit(run->ix, err);
}

/*
 * Check, archive and queue one file. Returns <0 only when the run cannot
 * go on; a bad file is rejected and 0 returned.
 */
static int take_file(struct run *run, size_t fidx, struct cv_error *err)
{
	struct file_state *f = run->files[fidx];
	struct cv_error ferr = CV_ERROR_INIT;
	enum cv_index_file_state state;
	uint8_t oid[CV_ARCHIVE_OID_LEN];
	int64_t owner = 0;
	int queued = 0, ret;

	run->rep->files_seen++;
	/*
	 * One read: the bytes checked and archived are the same bytes, even
	 * if a scanner or a share rewrites the file meanwhile; workers
	 * recognise the archived bytes.
	 */
	cv_buf_limit(&f->data, run->o->max_file_bytes);
	ret = cv_fs_read_file(&f->data, f->path, run->o->max_file_bytes, &ferr);
	if (ret < 0) {
		if (ret == CV_ELIMIT)
			snprintf(ferr.msg, sizeof(ferr.msg),
				 "'%s' is over the limit of %llu MB", f->name,
				 (unsigned long long)(run->o->max_file_bytes >>
						      20));
		else if (ferr.detail[0])
			snprintf(ferr.msg, sizeof(ferr.msg),
				 "'%.120s' cannot be read: %.100s", f->name,
				 ferr.detail);
		return reject(run, f->name, 0, ferr.msg, err);
	}
	if (cv_ingest_probe_mem(f->name, (const uint8_t *)f->data.buf,
				f->data.len, run->o->max_pixels, &f->format,
				&f->npages, &ferr) < 0) {
		cv_buf_release(&f->data);
		return reject(run, f->name, 0, ferr.msg, err);
	}
	ret = cv_archive_put_mem(run->ar, f->data.buf, f->data.len, "original",
				 oid, NULL, err);
	cv_buf_release(&f->data);
	if (ret < 0)
		return ret;
	ret = queue_file(run, fidx, oid, &owner, &state, &queued, err);
	if (ret < 0)
		return ret;
	if (!queued) {
		report_file(run, f, oid, 1, owner);
		return 0;
	}
	report_file(run, f, oid, state != CV_INDEX_FILE_NEW, owner);
	f->assemble = 1;
	run->rep->pages_total += (size_t)f->npages;
	progress(run);
	return 0;
}

/* ---------------------------------------------------------------------
 * Claiming pages, and the originals they come from
 */

static enum cv_ingest_format format_named(const char *name)
{
	enum cv_ingest_format f;

	for (f = CV_INGEST_FMT_TIFF; f <= CV_INGEST_FMT_PNM; f++)
		if (!strcmp(cv_ingest_format_name(f), name))
			return f;
	return CV_INGEST_FMT_UNKNOWN;
}

static void original_free(struct original *o)
{
	if (!o)
		return;
	cv_buf_release(&o->data);
	free(o->name);
	free(o);
}

/* Drop originals no job holds, beyond the most recent one, while the
 * cache is over its size. */
static void cache_trim(struct run *run)
{
	struct original **pp = &run->cache;

	if (*pp)
		pp = &(*pp)->next;
	while (*pp && run->cache_bytes > CACHE_MAX) {
		struct original *o = *pp;

		if (o->refs) {
			pp = &o->next;
			continue;
		}
		*pp = o->next;
		run->cache_bytes -= o->data.len;
		original_free(o);
	}
}

/*
 * The original of a claimed page, from the cache or decrypted from the
 * archive (authenticated: OCR reads exactly the archived bytes). A job
 * reference is taken on it.
 */
static int fetch_original(struct run *run, const struct cv_index_claim *c,
			  struct original **out, struct cv_error *err)
{
	struct original *o;
	int ret;

	*out = NULL;
	for (o = run->cache; o; o = o->next) {
		if (o->file_id == c->file_id) {
			o->refs++;
			*out = o;
			return 0;
		}
	}
	o = cv_calloc(1, sizeof(*o));
	o->file_id = c->file_id;
	o->name = cv_strdup(c->name);
	o->format = format_named(c->format);
	cv_buf_init(&o->data);
	cv_buf_limit(&o->data, run->o->max_file_bytes);
	ret = cv_archive_get_mem(run->ar, c->object_id, &o->data,
				 run->o->max_file_bytes, err);
	if (ret < 0) {
		original_free(o);
		return ret;
	}
	o->refs = 1;
	o->next = run->cache;
	run->cache = o;
	run->cache_bytes += o->data.len;
	cache_trim(run);
	*out = o;
	return 0;
}

static void job_done(struct run *run, struct result *r)
{
	r->job.orig->refs--;
	result_free(r);
	cache_trim(run);
}

/* A page whose original cannot be read fails; the rest go on. */
static int fail_claim(struct run *run, const struct cv_index_claim *c,
		      const char *why, struct cv_error *err)
{
	char reason[512];
	char *name = escaped(c->name);
	int lost = 0, ret;

	snprintf(
		reason, sizeof(reason),
		"the original of '%.200s' cannot be read from the archive: %.250s",
		name, why);
	ret = cv_index_queue_page_failed(run->ix, run->worker, c->batch_id,
					 c->file_id, name, c->page_no, reason,
					 &lost, err);
	if (ret == 0 && !lost) {
		run->rep->pages_failed++;
		report_reject(run, c->name, c->page_no, reason);
	}
	free(name);
	return ret;
}

/* Claim as many pages as there are idle OCR threads, and hand them out. */
static int fill(struct run *run, size_t *got, struct cv_error *err)
{
	struct pool *p = &run->pool;
	struct cv_index_claim *c = NULL;
	size_t n = 0, i, idle;
	int ret;

	*got = 0;
	idle = (size_t)p->nthreads > p->outstanding
		       ? (size_t)p->nthreads - p->outstanding
		       : 0;
	if (!idle)
		return 0;
	ret = cv_index_queue_claim(run->ix, run->worker, run->batch_id,
				   run->lease_s, run->max_attempts, idle, &c,
				   &n, err);
	if (ret < 0)
		return ret;
	if (n && !run->renew_at_ms)
		run->renew_at_ms = cv_now_ms() + (uint64_t)run->lease_s * 333;
	for (i = 0; i < n && ret == 0; i++) {
		struct cv_error ferr = CV_ERROR_INIT;
		struct job job;

		ret = fetch_original(run, &c[i], &job.orig, &ferr);
		if (ret == CV_EUNAVAIL) {
			*err = ferr;
			break;
		}
		if (ret < 0) {
			ret = fail_claim(run, &c[i], ferr.msg, err);
			continue;
		}
		job.page_id = c[i].page_id;
		job.batch_id = c[i].batch_id;
		job.page = c[i].page_no;
		ret = pool_push(run, &job, err);
		if (ret < 0)
			job.orig->refs--;
	}
	*got = n;
	cv_index_claims_free(c, n);
	return ret;
}

/*
 * Keep the claims alive while Tesseract works: renewed every third of
 * the lease, so that two missed renewals still leave time.
 */
static int renew(struct run *run, struct cv_error *err)
{
	uint64_t now = cv_now_ms();

	if (!run->renew_at_ms || now < run->renew_at_ms)
		return 0;
	run->renew_at_ms =
		run->pool.outstanding ? now + (uint64_t)run->lease_s * 333 : 0;
	return cv_index_queue_renew(run->ix, run->worker, run->lease_s, NULL,
				    err);
}

/* ---------------------------------------------------------------------
 * Per page
 */

static const char *sheet_kind(enum cv_ingest_sheet sheet)
{
	switch (sheet) {
	case CV_INGEST_SHEET_COVER:
		return "cover";
	case CV_INGEST_SHEET_SEPARATOR:
		return "separator";
	default:
		return "page";
	}
}

static void report_flagged(struct run *run, const char *name, int page,
			   const char *flags)
{
	struct cv_ingest_report *rep = run->rep;
	struct cv_ingest_flagged *fl;

	rep->flagged = cv_realloc(rep->flagged,
				  (rep->nflagged + 1) * sizeof(*rep->flagged));
	fl = &rep->flagged[rep->nflagged++];
	fl->name = escaped(name);
	fl->page = page;
	fl->flags = cv_strdup(flags);
}

/*
 * A blank back: no ink on the cleaned image and next to no text, or
 * fewer than three letters or digits whatever the image (scanner noise).
 * A page with a few words on it is never blank: it stays in its document.
 */
static int is_blank(const char *text, int nearly_empty)
{
	int n = 0, enough = nearly_empty ? 20 : 3;

	for (; *text; text++)
		if ((*text >= '0' && *text <= '9') ||
		    (*text >= 'A' && *text <= 'Z') ||
		    (*text >= 'a' && *text <= 'z'))
			if (++n >= enough)
				return 0;
	return 1;
}

/*
 * What the page says of its patient: what its header shows, read off the
 * word boxes (header.c), and for what the header does not show, the
 * first the page's text shows anywhere. Decided here, where the word
 * boxes are, and stored with the page (read_* and found_*): assembly
 * (gather) takes it from there.
 */
static void page_identity(struct run *run, const struct result *r,
			  struct cv_ingest_page_facts *facts)
{
	struct cv_ingest_page_facts h;

	cv_ingest_page_facts(r->ocr.text, facts);
	cv_ingest__find_mrn(&run->mrn, r->ocr.text, facts);
	cv_ingest__read_header(&r->ocr, &run->mrn, &h);
	if (h.mrn[0])
		snprintf(facts->mrn, sizeof(facts->mrn), "%s", h.mrn);
	if (h.patient_name[0])
		snprintf(facts->patient_name, sizeof(facts->patient_name), "%s",
			 h.patient_name);
	if (h.dob[0])
		snprintf(facts->dob, sizeof(facts->dob), "%s", h.dob);
}

static int record_page(struct run *run, struct result *r, struct cv_error *err)
{
	const struct original *f = r->job.orig;
	struct cv_index_page_result pr;
	struct cv_ingest_page_facts facts;
	uint8_t text_oid[CV_ARCHIVE_OID_LEN], words_oid[CV_ARCHIVE_OID_LEN];
	uint8_t image_oid[CV_ARCHIVE_OID_LEN];
	char steps[128], flags[128];
	struct cv_buf words = CV_BUF_INIT;
	int lost = 0, ret;

	if (!r->ok) {
		char *name = escaped(f->name);

		ret = cv_index_queue_page_failed(
			run->ix, run->worker, r->job.batch_id, f->file_id, name,
			r->job.page, r->err.msg, &lost, err);
		free(name);
		if (ret == 0 && lost) {
			run->rep->pages_lost++;
		} else if (ret == 0) {
			run->rep->pages_failed++;
			report_reject(run, f->name, r->job.page, r->err.msg);
		}
		return ret;
	}
	memset(&pr, 0, sizeof(pr));
	pr.file_id = f->file_id;
	pr.page_no = r->job.page;
	pr.width = r->ocr.width;
	pr.height = r->ocr.height;
	pr.dpi = r->dpi;
	pr.ocr_confidence = r->ocr.mean_conf;
	pr.skew_deg = r->clean.skew_deg;
	pr.rotation = r->clean.rotation;
	cv_ingest__cleanup_steps(&r->clean, steps, sizeof(steps));
	pr.cleanup = steps;
	if (r->image) {
		ret = cv_archive_put_mem(run->ar, r->image, r->image_len,
					 "image", image_oid, NULL, err);
		if (ret < 0)
			goto cleanup;
		pr.image_object = image_oid;
	}
	pr.kind = sheet_kind(r->barcodes.sheet);
	pr.barcode = r->barcodes.sheet == CV_INGEST_SHEET_COVER
			     ? r->barcodes.payload
		     : r->barcodes.sheet == CV_INGEST_SHEET_SEPARATOR
			     ? "separator"
			     : r->barcodes.label_mrn;
	if (r->barcodes.sheet == CV_INGEST_SHEET_COVER && !r->barcodes.cover_ok)
		r->quality.flags |= CV_INGEST_Q_BAD_COVER;
	pr.blank = r->barcodes.sheet == CV_INGEST_SHEET_PAGE &&
		   is_blank(r->ocr.text, r->quality.nearly_empty);
	if (!pr.blank && r->ocr.mean_conf >= 0 &&
	    r->ocr.mean_conf < run->o->min_confidence)
		r->quality.flags |= CV_INGEST_Q_LOW_CONFIDENCE;
	cv_ingest__quality_flags(pr.blank ? 0 : r->quality.flags, flags,
				 sizeof(flags));
	pr.quality_flags = flags;
	pr.text = r->ocr.text;
	page_identity(run, r, &facts);
	pr.found_mrn = facts.mrn;
	pr.found_name = facts.patient_name;
	pr.found_dob = facts.dob;
	if (!pr.blank && r->barcodes.sheet == CV_INGEST_SHEET_PAGE) {
		ret = cv_archive_put_mem(run->ar, r->ocr.text,
					 strlen(r->ocr.text), "text", text_oid,
					 NULL, err);
		if (ret < 0)
			goto cleanup;
		pr.text_object = text_oid;
		cv_buf_limit(&words, TEXT_MAX * 4);
		if (cv_ocr_words_tsv(&r->ocr, &words) < 0) {
			ret = cv_error_set(err, CV_ELIMIT,
					   "'%s' page %d has too many words",
					   f->name, r->job.page);
			goto cleanup;
		}
		ret = cv_archive_put_mem(run->ar, words.buf, words.len, "words",
					 words_oid, NULL, err);
		if (ret < 0)
			goto cleanup;
		pr.words_object = words_oid;
	}
	/* Recorded only under our claim: a page retaken from us while we
	 * stalled is the other worker's now, and ours is dropped. */
	ret = cv_index_queue_page_done(run->ix, run->worker, &pr, &lost, err);
	if (ret < 0)
		goto cleanup;
	if (lost) {
		run->rep->pages_lost++;
		goto cleanup;
	}
	run->rep->pages_ocr++;
	if (pr.blank)
		run->rep->pages_blank++;
	if (flags[0])
		report_flagged(run, f->name, r->job.page, flags);
	progress(run);
cleanup:
	cv_buf_release(&words);
	return ret;
}

/* ---------------------------------------------------------------------
 * Assembling documents
 */

struct stream {
	struct cv_ingest__seg_page *pages;
	size_t n, alloc;
	const struct cv_ingest_model *model; /* NULL: rules only */
};

/* The open files of a batch, in stream order, with their manifest rows. */
struct unit {
	struct cv_index_unit_file *files;
	struct cv_ingest_manifest_row *rows;
	size_t n;
};

/*
 * Over what the text says, the identity the OCR step recorded for a page
 * (page_identity). A page recorded by an older version has no name or
 * date of birth, and a header MRN that no site rule checked.
 */
static void page_identity_stored(struct run *run,
				 const struct cv_index_page_info *pi,
				 struct cv_ingest_page_facts *facts)
{
	if (pi->found_mrn[0] && cv_ingest__mrn_ok(&run->mrn, pi->found_mrn))
		snprintf(facts->mrn, sizeof(facts->mrn), "%s", pi->found_mrn);
	if (pi->found_name[0])
		snprintf(facts->patient_name, sizeof(facts->patient_name), "%s",
			 pi->found_name);
	if (pi->found_dob[0])
		snprintf(facts->dob, sizeof(facts->dob), "%s", pi->found_dob);
}

/*
 * The batch's page stream, in file and page order. Cover and separator
 * sheets are not pages of any document: they cut the stream, and a
 * cover's metadata goes with the page after it. The cut carries over
 * from one file to the next, as a sheet on top of a stack would.
 */
static int gather(struct run *run, const struct unit *u, struct stream *s,
		  struct cv_error *err)
{
	struct cv_buf text = CV_BUF_INIT;
	struct cv_ingest_cover cover;
	int cut = 0, has_cover = 0;
	size_t fi;
	int ret = 0;

	for (fi = 0; fi < u->n && ret == 0; fi++) {
		const struct cv_index_unit_file *f = &u->files[fi];
		const struct cv_ingest_manifest_row *row =
			f->manifest_line ? &u->rows[fi] : NULL;
		struct cv_index_page_info *info = NULL;
		size_t n = 0, i;
		int first_of_file = 1;

		ret = cv_index_file_pages(run->ix, f->file_id, &info, &n, err);
		for (i = 0; i < n && ret == 0; i++) {
			struct cv_ingest__seg_page *sp;
			struct cv_error ignore = CV_ERROR_INIT;

			if (info[i].failed)
				continue;
			if (strcmp(info[i].kind, "page")) {
				cut = 1;
				has_cover = !strcmp(info[i].kind, "cover") &&
					    cv_ingest_cover_parse(
						    info[i].barcode, &cover,
						    &ignore) == 0;
				continue;
			}
			if (info[i].blank || !info[i].has_text)
				continue;
			/* Whichever worker recognised it, the text is in
			 * the archive. */
			cv_buf_reset(&text);
			ret = cv_archive_get_mem(run->ar, info[i].text_object,
						 &text, TEXT_MAX, err);
			if (ret < 0)
				break;
			if (s->n == s->alloc) {
				s->alloc = s->alloc ? 2 * s->alloc : 64;
				s->pages = cv_realloc(
					s->pages, s->alloc * sizeof(*s->pages));
			}
			sp = &s->pages[s->n++];
			sp->page_id = info[i].id;
			sp->file = f->name;
			sp->page_no = info[i].page_no;
			cv_ingest_page_facts(text.buf, &sp->facts);
			cv_ingest__find_mrn(&run->mrn, text.buf, &sp->facts);
			page_identity_stored(run, &info[i], &sp->facts);
			cv_ingest__type_page(s->model, text.buf, sp);
			/* A file the manifest describes is a document. */
			sp->cut_before = cut || (row && first_of_file);
			sp->manifest = row;
			first_of_file = 0;
			sp->has_cover = has_cover;
			if (has_cover)
				sp->cover = cover;
			/* On a page, the barcode column holds a label's MRN. */
			snprintf(sp->label_mrn, sizeof(sp->label_mrn), "%.63s",
				 info[i].barcode);
			cut = has_cover = 0;
		}
		free(info);
	}
	cv_buf_release(&text);
	return ret;
}

static void report_doc(struct run *run, const struct cv_index_document *doc,
		       const struct cv_ingest__seg_page *p, size_t n)
{
	struct cv_ingest_report *rep = run->rep;
	struct cv_ingest_doc *d;
	size_t i;

	rep->docs =
		cv_realloc(rep->docs, (rep->ndocs + 1) * sizeof(*rep->docs));
	d = &rep->docs[rep->ndocs++];
	d->doc = *doc;
	d->npages = n;
	d->pages = cv_calloc(n, sizeof(*d->pages));
	for (i = 0; i < n; i++) {
		d->pages[i].file = escaped(p[i].file);
		d->pages[i].page = p[i].page_no;
	}
}

/*
 * Cut batch_id's open files into documents, if it is ready and no other
 * worker is doing it: all of the batch's documents, the files they came
 * from marked done, and the batch finished, are committed together, so a
 * crash leaves all of them or none, and a second worker finds nothing
 * left to do.
 */
static int assemble(struct run *run, int64_t batch_id, struct cv_error *err)
{
	struct unit u = { NULL, NULL, 0 };
	struct stream s = { NULL, 0, 0, NULL };
	struct cv_ingest_model *model = NULL;
	int64_t *ids = NULL;
	int *starts = NULL;
	size_t i, first, fi, ndocs = 0, *firsts = NULL;
	struct cv_index_document *docs = NULL;
	int ready = 0, ret, model_version = 0;

	ret = cv_index_begin(run->ix, err);
	if (ret < 0)
		return ret;
	ret = cv_index_assembly_begin(run->ix, batch_id, &ready, &u.files, &u.n,
				      err);
	if (ret < 0 || !ready)
		goto rollback;
	u.rows = cv_calloc(u.n + 1, sizeof(*u.rows));
	for (fi = 0; fi < u.n; fi++) {
		struct cv_ingest_manifest_row *m = &u.rows[fi];

		m->line = u.files[fi].manifest_line;
		snprintf(m->mrn, sizeof(m->mrn), "%s", u.files[fi].mrn);
		snprintf(m->doc_type, sizeof(m->doc_type), "%s",
			 u.files[fi].doc_type);
		snprintf(m->service_date, sizeof(m->service_date), "%s",
			 u.files[fi].service_date);
	}
	ret = cv_ingest__model_for_run(run->ix, &model, &model_version, err);
	if (ret < 0)
		goto rollback;
	s.model = model;
	ret = gather(run, &u, &s, err);
	if (ret == 0)
		ret = cv_ingest__confirm_identity(run->ix, &run->mrn, s.pages,
						  s.n, err);
	if (ret < 0)
		goto rollback;
	starts = cv_calloc(s.n + 1, sizeof(*starts));
	ids = cv_calloc(s.n + 1, sizeof(*ids));
	docs = cv_calloc(s.n + 1, sizeof(*docs));
	firsts = cv_calloc(s.n + 2, sizeof(*firsts));
	cv_ingest__segment(s.pages, s.n, starts);

	for (first = 0; first < s.n; first = i) {
		struct cv_index_document *doc = &docs[ndocs];

		for (i = first + 1; i < s.n && !starts[i]; i++)
			;
		doc->batch_id = batch_id;
		cv_ingest__describe(&s.pages[first], i - first, doc);
		cv_ingest__type_document(model, &s.pages[first], i - first,
					 doc);
		for (fi = first; fi < i; fi++)
			ids[fi - first] = s.pages[fi].page_id;
		ret = cv_index_document_create(run->ix, doc, ids, i - first,
					       &doc->id, err);
		if (ret == 0)
			ret = cv_ingest__queue_unsure_type(
				run->ix, doc, run->o->min_type_confidence,
				model_version, err);
		if (ret < 0)
			goto rollback;
		firsts[ndocs++] = first;
	}
	firsts[ndocs] = s.n;
	/* Before the commit: no document is ever in a chart unchecked. */
	ret = cv_ingest__identify(run->ix, &run->mrn, s.pages, s.n, docs,
				  firsts, ndocs, &run->rep->docs_queued, err);
	if (ret < 0)
		goto rollback;
	for (fi = 0; fi < u.n; fi++) {
		ret = cv_index_file_done(run->ix, u.files[fi].file_id, err);
		if (ret < 0)
			goto rollback;
	}
	ret = cv_index_batch_finish(run->ix, batch_id, err);
	if (ret < 0)
		goto rollback;
	ret = cv_index_commit(run->ix, err);
	if (ret < 0)
		goto cleanup;
	/* Each document's searchable PDF, by whoever cut the batch. */
	ret = cv_ingest_render_batch(run->ar, run->ix, batch_id,
				     &run->rep->docs_rendered,
				     &run->rep->docs_unrendered, err);
	if (ret < 0)
		goto cleanup;
	/* A worker reports what it made; an ingest run reports its batch's
	 * documents at the end, whoever made them. */
	if (!run->batch_id) {
		for (first = 0, ndocs = 0; first < s.n; first = i, ndocs++) {
			for (i = first + 1; i < s.n && !starts[i]; i++)
				;
			report_doc(run, &docs[ndocs], &s.pages[first],
				   i - first);
		}
	}
	goto cleanup;
rollback:
	cv_index_rollback(run->ix);
cleanup:
	free(firsts);
	free(docs);
	free(ids);
	free(starts);
	for (i = 0; i < s.n; i++)
		free(s.pages[i].text);
	free(s.pages);
	free(u.rows);
	cv_index_unit_files_free(u.files, u.n);
	cv_ingest_model_free(model);
	return ret;
}

/* After a page of batch_id is recorded: cut the batch if that was its
 * last page. Never while this run is still adding files to it. */
static int maybe_assemble(struct run *run, int64_t batch_id,
			  struct cv_error *err)
{
	if (run->intake_open && batch_id == run->batch_id)
		return 0;
	return assemble(run, batch_id, err);
}

/* Batches left waiting for their documents: their last page was done by
 * a worker that could not cut them then (an intake was open) or died. */
static int sweep(struct run *run, struct cv_error *err)
{
	int64_t *ids = NULL;
	size_t n = 0, i;
	int ret;

	if (run->batch_id)
		return maybe_assemble(run, run->batch_id, err);
	ret = cv_index_assembly_pending(run->ix, &ids, &n, err);
	for (i = 0; i < n && ret == 0; i++)
		ret = assemble(run, ids[i], err);
	free(ids);
	return ret;
}

/*
 * A QA rescan run: its one page takes a flagged page's place instead of
 * making a document (ingest/qa.c). Then, or after assembly, each new
 * document gets its searchable PDF (ingest/pdf.c).
 */
static int place_rescan(struct run *run, struct cv_error *err)
{
	int64_t *ids = cv_calloc(run->nfiles + 1, sizeof(*ids));
	size_t i, n = 0;
	int ret;

	for (i = 0; i < run->nfiles; i++)
		if (run->files[i]->assemble)
			ids[n++] = run->files[i]->file_id;
	ret = cv_ingest__place_rescan(run->ar, run->ix, run->replace, ids, n,
				      err);
	free(ids);
	return ret;
}

/* The documents of this run's files, whoever made them, in id order. */
static int report_run_docs(struct run *run, struct cv_error *err)
{
	int64_t *fids = cv_calloc(run->nfiles + 1, sizeof(*fids));
	int64_t *dids = NULL;
	size_t n = 0, nd = 0, i, j;
	int ret = 0;

	for (i = 0; i < run->nfiles; i++)
		if (run->files[i]->assemble)
			fids[n++] = run->files[i]->file_id;
	if (n)
		ret = cv_index_documents_of_files(run->ix, fids, n, &dids, &nd,
						  err);
	for (i = 0; i < nd && ret == 0; i++) {
		struct cv_ingest_report *rep = run->rep;
		struct cv_index_doc_page *pages = NULL;
		struct cv_ingest_doc *d;
		struct cv_index_document doc;
		size_t np = 0;

		ret = cv_index_document_get(run->ix, dids[i], &doc, &pages, &np,
					    err);
		if (ret < 0)
			break;
		rep->docs = cv_realloc(rep->docs,
				       (rep->ndocs + 1) * sizeof(*rep->docs));
		d = &rep->docs[rep->ndocs++];
		d->doc = doc;
		d->npages = np;
		d->pages = cv_calloc(np + 1, sizeof(*d->pages));
		for (j = 0; j < np; j++) {
			d->pages[j].file = escaped(pages[j].file_name);
			d->pages[j].page = pages[j].page_no;
		}
		free(pages);
	}
	free(dids);
	free(fids);
	return ret;
}

/* ---------------------------------------------------------------------
 * Working the queue
 */

enum until {
	UNTIL_IDLE,       /* record what is ready, claim, return */
	UNTIL_BATCH_DONE, /* this run's batch has all its documents */
	UNTIL_EMPTY,      /* no page waiting in the queue (worker --once) */
	UNTIL_STOPPED,    /* *run->stop */
};

static void tick(void)
{
	struct timespec ts = { 0, (long)TICK_MS * 1000000L };

	/* A signal cuts it short, which is what a stop wants. */
	nanosleep(&ts, NULL);
}

/* The progress line counts what waits in the queue (the whole queue for
 * a worker, the batch for an ingest run), whoever does it. */
static int refresh_progress(struct run *run, struct cv_error *err)
{
	struct cv_index_queue_status st;
	uint64_t now = cv_now_ms();
	int ret;

	if (!run->o->progress || run->intake_open || now < run->status_at_ms)
		return 0;
	run->status_at_ms = now + 2000;
	ret = cv_index_queue_status(run->ix, run->batch_id, &st, err);
	if (ret == 0) {
		run->queue_left = (size_t)st.queued;
		run->done_at_status =
			run->rep->pages_ocr + run->rep->pages_failed;
		progress(run);
	}
	return ret;
}

/* Nothing in hand and nothing to claim: is the work done? */
static int look_around(struct run *run, enum until until, int *done,
		       struct cv_error *err)
{
	struct cv_index_queue_status st;
	int ret;

	*done = 0;
	ret = sweep(run, err);
	if (ret == 0 && (until != UNTIL_STOPPED || run->o->progress))
		ret = cv_index_queue_status(run->ix, run->batch_id, &st, err);
	if (ret < 0)
		return ret;
	if (run->o->progress) {
		run->queue_left = (size_t)st.queued;
		run->done_at_status =
			run->rep->pages_ocr + run->rep->pages_failed;
		progress(run);
	}
	if (until == UNTIL_BATCH_DONE)
		*done = st.open_files == 0;
	else if (until == UNTIL_EMPTY)
		*done = st.queued == 0;
	return 0;
}

/*
 * The loop of every worker, ingest's included: keep each OCR thread busy
 * with a claimed page, record results as they come, renew the leases,
 * and when idle, look for batches to cut and for the end of the work.
 */
static int work(struct run *run, enum until until, struct cv_error *err)
{
	uint64_t next_look = 0;
	int ret = 0;

	for (;;) {
		int stopping = run->stop && *run->stop;
		struct result *r = NULL;
		size_t got = 0;
		int done = 0;

		if (!stopping) {
			ret = fill(run, &got, err);
			if (ret < 0)
				return ret;
		}
		ret = pool_take(&run->pool, until == UNTIL_IDLE ? 0 : TICK_MS,
				&r, err);
		if (ret < 0)
			return ret;
		if (r) {
			int64_t batch = r->job.batch_id;

			ret = record_page(run, r, err);
			job_done(run, r);
			if (ret == 0)
				ret = maybe_assemble(run, batch, err);
			if (ret < 0)
				return ret;
		}
		ret = renew(run, err);
		if (ret == 0)
			ret = refresh_progress(run, err);
		if (ret < 0)
			return ret;
		if (until == UNTIL_IDLE) {
			if (!r)
				return 0;
			continue;
		}
		if (r || got || run->pool.outstanding)
			continue;
		if (stopping)
			return 0;
		if (cv_now_ms() >= next_look) {
			ret = look_around(run, until, &done, err);
			if (ret < 0 || done)
				return ret;
			next_look = cv_now_ms() + 1000;
		}
		tick();
	}
}

static int render(struct run *run, struct cv_error *err)
{
	size_t made = 0, left = 0;
	int ret = cv_ingest_render_batch(run->ar, run->ix, run->rep->batch_id,
					 &made, &left, err);

	/* What is still without a PDF now, however often it was tried. */
	run->rep->docs_rendered += made;
	run->rep->docs_unrendered = left;
	return ret;
}

/*
 * Work until every page of this run's files is recorded, by this run or
 * by any worker. A rescan run waits so with its intake still open, so
 * that no worker cuts the rescanned page into a document of its own.
 */
static int finish_own_pages(struct run *run, struct cv_error *err)
{
	for (;;) {
		size_t i, left = 0;
		int ret = work(run, UNTIL_IDLE, err);

		for (i = 0; ret == 0 && i < run->nfiles; i++) {
			int *pending = NULL;
			size_t n = 0;

			if (!run->files[i]->assemble)
				continue;
			ret = cv_index_file_pending(run->ix,
						    run->files[i]->file_id,
						    &pending, &n, err);
			free(pending);
			left += n;
		}
		if (ret < 0 || left == 0)
			return ret;
		tick();
	}
}

/* ---------------------------------------------------------------------
 * The run
 */

/*
 * Read the manifest once: its rows, its rejected lines (each a reject of
 * the batch), and its bytes, archived as the record of what was declared.
 * An unusable manifest is rejected and the batch goes on without it.
 */
static int load_manifest(struct run *run, struct cv_error *err)
{
	struct cv_error merr = CV_ERROR_INIT;
	const char *path = run->o->manifest;
	uint8_t oid[CV_ARCHIVE_OID_LEN];
	const void *bytes;
	size_t i, len;
	int ret;

	/* Never an input, even when it cannot be used. */
	run->manifest_real = realpath(path, NULL);
	if (cv_ingest_manifest_load(&run->manifest, path, &merr) < 0)
		return reject(run, path, 0, merr.msg, err);
	for (i = 0; i < cv_ingest_manifest_nrejects(run->manifest); i++) {
		ret = reject(
			run, path, 0,
			cv_ingest_manifest_reject(run->manifest, i)->reason,
			err);
		if (ret < 0)
			return ret;
	}
	bytes = cv_ingest_manifest_bytes(run->manifest, &len);
	ret = cv_archive_put_mem(run->ar, bytes, len, "manifest", oid, NULL,
				 err);
	if (ret == 0)
		ret = cv_index_batch_set_manifest(run->ix, run->rep->batch_id,
						  oid, err);
	return ret;
}

static char *default_batch_name(const char *first)
{
	char *copy = cv_strdup(first), *base, *name;
	size_t n = strlen(copy);
	char day[16];
	struct tm tm;
	time_t t = time(NULL);

	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	base = strrchr(copy, '/');
	base = base && base[1] ? base + 1 : copy;
	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	name = cv_asprintf("%s-%s", base, day);
	free(copy);
	return name;
}

static const char *login_name(void)
{
	struct passwd *pw = getpwuid(geteuid());

	return pw ? pw->pw_name : "unknown";
}

void cv_ingest_report_release(struct cv_ingest_report *r)
{
	size_t i, j;

	for (i = 0; i < r->nrejects; i++) {
		free(r->rejects[i].name);
		free(r->rejects[i].reason);
	}
	for (i = 0; i < r->nfiles; i++)
		free(r->files[i].name);
	for (i = 0; i < r->nflagged; i++) {
		free(r->flagged[i].name);
		free(r->flagged[i].flags);
	}
	free(r->flagged);
	for (i = 0; i < r->ndocs; i++) {
		for (j = 0; j < r->docs[i].npages; j++)
			free(r->docs[i].pages[j].file);
		free(r->docs[i].pages);
	}
	free(r->rejects);
	free(r->files);
	free(r->docs);
	free(r->batch);
	memset(r, 0, sizeof(*r));
}

/*
 * Who claims: unique among every worker past and present, so that a
 * claim is never mistaken for another's. Host and pid say where to look
 * for it; the nonce tells a restarted process with a reused pid apart.
 */
static void worker_name(char *out, size_t n)
{
	char host[64] = "";
	uint8_t nonce[4] = { 0 };
	FILE *f;

	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "unknown");
	f = fopen("/dev/urandom", "rb");
	if (!f || fread(nonce, 1, sizeof(nonce), f) != sizeof(nonce)) {
		uint64_t t = cv_now_ms();

		memcpy(nonce, &t, sizeof(nonce));
	}
	if (f)
		fclose(f);
	snprintf(out, n, "%.64s:%ld:%02x%02x%02x%02x", host, (long)getpid(),
		 nonce[0], nonce[1], nonce[2], nonce[3]);
}

static void run_init(struct run *run, struct cv_archive *ar,
		     struct cv_index *ix, const struct cv_ingest_opts *o,
		     struct cv_ingest_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	memset(run, 0, sizeof(*run));
	run->ar = ar;
	run->ix = ix;
	run->o = o;
	run->rep = rep;
	run->start_ms = cv_now_ms();
	pthread_mutex_init(&run->pool.mu, NULL);
	pthread_cond_init(&run->pool.job_ready, NULL);
	pthread_cond_init(&run->pool.result_ready, NULL);
	run->pool.ocr.language = o->language;
	run->pool.osd_below = o->osd_below_confidence;
	run->pool.ocr.tessdata = o->tessdata;
	run->pool.nthreads = pool_workers(o);
	run->lease_s = o->lease_s > 0 ? o->lease_s : 60;
	run->max_attempts = o->max_attempts > 0 ? o->max_attempts : 5;
	worker_name(run->worker, sizeof(run->worker));
}

/*
 * Stop the threads and give back every page still claimed: recorded
 * pages are no longer claimed, so this releases only pages in hand when
 * the run failed, for another worker to take at once.
 */
static void run_release(struct run *run)
{
	struct cv_error ignore = CV_ERROR_INIT;
	struct original *o;
	size_t i;

	pool_shutdown(&run->pool, 1);
	if (run->renew_at_ms)
		cv_index_queue_release(run->ix, run->worker, NULL, 0, &ignore);
	while ((o = run->cache)) {
		run->cache = o->next;
		original_free(o);
	}
	for (i = 0; i < run->nfiles; i++) {
		struct file_state *f = run->files[i];

		cv_buf_release(&f->data);
		free(f->path);
		free(f->name);
		free(f);
	}
	free(run->files);
	cv_ingest_manifest_free(run->manifest);
	cv_ingest__mrn_rules_release(&run->mrn);
	free(run->manifest_real);
	pthread_mutex_destroy(&run->pool.mu);
	pthread_cond_destroy(&run->pool.job_ready);
	pthread_cond_destroy(&run->pool.result_ready);
	run->rep->elapsed_ms = cv_now_ms() - run->start_ms;
}

int cv_ingest_run(struct cv_archive *ar, struct cv_index *ix,
		  const char *const *paths, size_t npaths,
		  const struct cv_ingest_opts *o, struct cv_ingest_report *rep,
		  struct cv_error *err)
{
	return cv_ingest__run(ar, ix, paths, npaths, o, NULL, rep, err);
}

int cv_ingest__run(struct cv_archive *ar, struct cv_index *ix,
		   const char *const *paths, size_t npaths,
		   const struct cv_ingest_opts *o,
		   struct cv_ingest__replace *replace,
		   struct cv_ingest_report *rep, struct cv_error *err)
{
	struct cv_error ignore = CV_ERROR_INIT;
	struct run run;
	size_t i;
	int created, ret;

	run_init(&run, ar, ix, o, rep);
	run.replace = replace;
	if (npaths == 0) {
		ret = cv_error_set(err, CV_EINVAL, "nothing to ingest");
		goto cleanup;
	}
	ret = cv_ingest__mrn_rules_init(&run.mrn, o, err);
	if (ret < 0)
		goto cleanup;
	rep->batch = o->batch && *o->batch ? cv_strdup(o->batch)
					   : default_batch_name(paths[0]);
	ret = cv_index_batch_open(ix, rep->batch,
				  o->operator_ ? o->operator_ : login_name(),
				  paths[0], &rep->batch_id, &created, err);
	if (ret < 0)
		goto cleanup;
	run.batch_id = rep->batch_id;
	ret = cv_index_intake_begin(ix, run.batch_id, err);
	if (ret < 0)
		goto cleanup;
	run.intake_open = 1;
	if (o->manifest)
		ret = load_manifest(&run, err);
	if (ret == 0)
		ret = collect(&run, paths, npaths, err);
	/* OCR starts with the first file: pages are recorded and more are
	 * claimed between files. */
	for (i = 0; i < run.nfiles && ret == 0; i++) {
		ret = take_file(&run, i, err);
		if (ret == 0 && !o->queue_only)
			ret = work(&run, UNTIL_IDLE, err);
	}
	if (ret == 0 && replace) {
		ret = finish_own_pages(&run, err);
		if (ret == 0)
			ret = place_rescan(&run, err);
	}
	if (ret < 0)
		goto cleanup;
	ret = cv_index_intake_end(ix, run.batch_id, 1, err);
	if (ret < 0)
		goto cleanup;
	run.intake_open = 0;
	if (o->queue_only) {
		/* A batch whose pages were all done before is cut now. */
		ret = sweep(&run, err);
		goto cleanup;
	}
	ret = work(&run, UNTIL_BATCH_DONE, err);
	if (ret == 0 && !replace)
		ret = report_run_docs(&run, err);
	/* Workers make each document's PDF as they cut a batch; this makes
	 * any a crash left without one. */
	if (ret == 0 && !replace)
		ret = render(&run, err);
	if (ret == 0)
		ret = cv_index_batch_finish(ix, rep->batch_id, err);
cleanup:
	/* Unlock, but leave the batch marked: an intake that did not finish
	 * holds its documents back until one does. */
	if (run.intake_open)
		cv_index_intake_end(ix, run.batch_id, 0, &ignore);
	run_release(&run);
	return ret;
}

int cv_ingest_work(struct cv_archive *ar, struct cv_index *ix,
		   const struct cv_ingest_work_opts *o,
		   struct cv_ingest_report *rep, struct cv_error *err)
{
	struct run run;
	int ret;

	run_init(&run, ar, ix, &o->ingest, rep);
	run.stop = o->stop;
	/* A worker cuts batches too: the same identity rules apply. */
	ret = cv_ingest__mrn_rules_init(&run.mrn, &o->ingest, err);
	if (ret == 0)
		ret = work(&run, o->once ? UNTIL_EMPTY : UNTIL_STOPPED, err);
	run_release(&run);
	return ret;
}
