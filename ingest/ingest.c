/*
 * The ingest run: walk the inputs, check and archive each original,
 * queue its pages in the index, recognise them on a pool of worker
 * threads, record each page as it comes back, and finally cut the run's
 * page stream into documents.
 *
 * Threads: the main thread owns the database connection and the archive
 * (both single-threaded by contract) and does all recording; workers only
 * decode a page and run Tesseract on it. That keeps every core on OCR,
 * which is where the time goes, and keeps libpq and PIX references out of
 * the threads.
 *
 * Order of durable steps, and what a re-run does after a crash at each:
 *   1. original archived          -> stored again as a duplicate: no-op
 *   2. file row + queued pages    -> found by content; pending pages redone
 *   3. page text archived + page row marked done -> page skipped
 *   4. documents + files done, one transaction   -> whole file skipped
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
 * Originals held in memory while their pages wait for OCR. Past this the
 * run stops reading new files until pages come back; one file always fits.
 */
#define INFLIGHT_MAX (512u << 20)

struct file_state {
	struct cv_buf data; /* the file's bytes, read once: see take_file */
	char *path;         /* as opened */
	char *name;         /* as shown and recorded: the path as given */
	enum cv_ingest_format format;
	int npages;
	int64_t file_id;
	int assemble;  /* its documents are made in this run */
	int remaining; /* pages queued to the pool, not yet recorded */
	const struct cv_ingest_manifest_row *row; /* borrowed */
	char **texts; /* [1..npages], text recognised in this run */
};

struct job {
	const struct file_state *file;
	size_t fidx;
	int page;
};

struct result {
	struct result *next;
	size_t fidx;
	int page;
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
	size_t inflight; /* bytes of originals whose pages are queued */
	struct cv_ingest_manifest *manifest;
	char *manifest_real; /* not an input, though it may sit among them */
	struct cv_ingest__mrn_rules mrn; /* identity.c */
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
	p.pages_total = run->rep->pages_total;
	p.pages_done = run->rep->pages_ocr + run->rep->pages_failed;
	p.rejects = run->rep->nrejects;
	p.elapsed_ms = cv_now_ms() - run->start_ms;
	run->o->progress(run->o->progress_ctx, &p);
}

/*
 * Record a rejected input in the report and the index. Only a failure to
 * record it is returned: the reject itself never stops the batch.
 */
static int reject(struct run *run, const char *name, int page,
		  const char *reason, struct cv_error *err)
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
	return cv_index_reject_add(run->ix, rep->batch_id, r->name, page,
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

		r = cv_calloc(1, sizeof(*r));
		r->fidx = job.fidx;
		r->page = job.page;
		r->ocr.mean_conf = -1;
		if (cv_ingest_load_page_mem(
			    job.file->name, (const uint8_t *)job.file->data.buf,
			    job.file->data.len, job.file->format, job.page,
			    &pix, &r->dpi, &r->err) == 0) {
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
static int pool_push(struct run *run, size_t fidx, int page,
		     struct cv_error *err)
{
	struct pool *p = &run->pool;
	int i;

	if (!p->threads) {
		p->nthreads = pool_workers(run->o);
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
	p->jobs[p->njobs].file = run->files[fidx];
	p->jobs[p->njobs].fidx = fidx;
	p->jobs[p->njobs].page = page;
	p->njobs++;
	p->outstanding++;
	pthread_cond_signal(&p->job_ready);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

/*
 * Take the next result: wait for one when block is set, else return NULL
 * when none is ready. CV_EUNAVAIL when every worker failed to start its
 * engine while work is still waiting.
 */
static int pool_take(struct pool *p, int block, struct result **out,
		     struct cv_error *err)
{
	int ret = 0;

	*out = NULL;
	pthread_mutex_lock(&p->mu);
	while (!p->head && block && p->outstanding) {
		if (p->alive == 0) {
			*err = p->engine_err;
			ret = err->code ? err->code : CV_ERROR;
			goto out;
		}
		pthread_cond_wait(&p->result_ready, &p->mu);
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

/* Stop taking new jobs, let the running ones finish, join the threads. */
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
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	while ((r = p->head)) {
		p->head = r->next;
		result_free(r);
	}
	free(p->threads);
	free(p->jobs);
	p->threads = NULL;
	p->jobs = NULL;
}

/* ---------------------------------------------------------------------
 * Per file and per page
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

/* The file's pages are all back: its bytes are in the archive. */
static void release_snapshot(struct run *run, struct file_state *f)
{
	if (f->data.alloc && run->inflight >= f->data.len && f->assemble)
		run->inflight -= f->data.len;
	cv_buf_release(&f->data);
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
	int *pending = NULL;
	size_t npending = 0, i;
	int ret;

	run->rep->files_seen++;
	/*
	 * One read: the bytes checked, archived and recognised are the same
	 * bytes, even if a scanner or a share rewrites the file meanwhile.
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
	if (ret < 0)
		goto cleanup;
	ret = cv_index_file_add(run->ix, run->rep->batch_id, oid, f->name,
				cv_ingest_format_name(f->format), f->npages,
				&f->file_id, &owner, &state, err);
	if (ret < 0)
		goto cleanup;
	if (state == CV_INDEX_FILE_DONE || already_in_run(run, fidx)) {
		report_file(run, f, oid, 1, owner);
		ret = 0;
		goto cleanup;
	}
	report_file(run, f, oid, state != CV_INDEX_FILE_NEW, owner);
	if (run->manifest) {
		char *real = realpath(f->path, NULL);

		f->row = cv_ingest_manifest_find(run->manifest, real);
		free(real);
	}
	if (f->row && (f->row->box[0] || f->row->folder[0])) {
		ret = cv_index_file_set_place(run->ix, f->file_id, f->row->box,
					      f->row->folder, err);
		if (ret < 0)
			goto cleanup;
	}
	f->assemble = 1;
	run->inflight += f->data.len;
	f->texts = cv_calloc((size_t)f->npages + 1, sizeof(*f->texts));
	run->rep->pages_total += (size_t)f->npages;
	ret = cv_index_file_pending(run->ix, f->file_id, &pending, &npending,
				    err);
	if (ret < 0)
		goto cleanup;
	for (i = 0; i < npending; i++) {
		ret = pool_push(run, fidx, pending[i], err);
		if (ret < 0)
			goto cleanup;
		f->remaining++;
	}
	ret = 0;
cleanup:
	if (!f->remaining)
		release_snapshot(run, f);
	free(pending);
	return ret;
}

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

static int record_page(struct run *run, struct result *r, struct cv_error *err)
{
	struct file_state *f = run->files[r->fidx];
	struct cv_index_page_result pr;
	struct cv_ingest_page_facts facts;
	uint8_t text_oid[CV_ARCHIVE_OID_LEN], words_oid[CV_ARCHIVE_OID_LEN];
	uint8_t image_oid[CV_ARCHIVE_OID_LEN];
	char steps[128], flags[128];
	struct cv_buf words = CV_BUF_INIT;
	int ret;

	if (--f->remaining == 0)
		release_snapshot(run, f);
	if (!r->ok) {
		run->rep->pages_failed++;
		ret = cv_index_page_failed(run->ix, f->file_id, r->page,
					   r->err.msg, err);
		if (ret == 0)
			ret = reject(run, f->name, r->page, r->err.msg, err);
		return ret;
	}
	memset(&pr, 0, sizeof(pr));
	pr.file_id = f->file_id;
	pr.page_no = r->page;
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
	cv_ingest_page_facts(r->ocr.text, &facts);
	pr.found_mrn = facts.mrn[0] ? facts.mrn : NULL;
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
					   f->name, r->page);
			goto cleanup;
		}
		ret = cv_archive_put_mem(run->ar, words.buf, words.len, "words",
					 words_oid, NULL, err);
		if (ret < 0)
			goto cleanup;
		pr.words_object = words_oid;
	}
	ret = cv_index_page_done(run->ix, &pr, err);
	if (ret < 0)
		goto cleanup;
	run->rep->pages_ocr++;
	if (pr.blank)
		run->rep->pages_blank++;
	if (flags[0])
		report_flagged(run, f->name, r->page, flags);
	free(f->texts[r->page]);
	f->texts[r->page] = cv_strdup(r->ocr.text);
	progress(run);
cleanup:
	cv_buf_release(&words);
	return ret;
}

static int drain(struct run *run, int block, struct cv_error *err)
{
	for (;;) {
		struct result *r;
		int ret = pool_take(&run->pool, block, &r, err);

		if (ret < 0)
			return ret;
		if (!r)
			return 0;
		ret = record_page(run, r, err);
		result_free(r);
		if (ret < 0)
			return ret;
	}
}

/* Wait for one result and record it. */
static int drain_one(struct run *run, struct cv_error *err)
{
	struct result *r;
	int ret;

	ret = pool_take(&run->pool, 1, &r, err);
	if (ret < 0 || !r)
		return ret;
	ret = record_page(run, r, err);
	result_free(r);
	return ret;
}

/* ---------------------------------------------------------------------
 * Assembling documents
 */

struct stream {
	struct cv_ingest__seg_page *pages;
	size_t n, alloc;
};

/*
 * The run's page stream, in file and page order. Cover and separator
 * sheets are not pages of any document: they cut the stream, and a
 * cover's metadata goes with the page after it. The cut carries over
 * from one file to the next, as a sheet on top of a stack would.
 */
static int gather(struct run *run, struct stream *s, struct cv_error *err)
{
	struct cv_buf text = CV_BUF_INIT;
	struct cv_ingest_cover cover;
	int cut = 0, has_cover = 0;
	size_t fi;
	int ret = 0;

	for (fi = 0; fi < run->nfiles && ret == 0; fi++) {
		struct file_state *f = run->files[fi];
		struct cv_index_page_info *info = NULL;
		size_t n = 0, i;
		int first_of_file = 1;

		if (!f->assemble)
			continue;
		ret = cv_index_file_pages(run->ix, f->file_id, &info, &n, err);
		for (i = 0; i < n && ret == 0; i++) {
			struct cv_ingest__seg_page *sp;
			struct cv_error ignore = CV_ERROR_INIT;
			const char *t;

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
			t = info[i].page_no <= f->npages
				    ? f->texts[info[i].page_no]
				    : NULL;
			if (!t) {
				/* Recognised by an earlier, interrupted run. */
				cv_buf_reset(&text);
				ret = cv_archive_get_mem(run->ar,
							 info[i].text_object,
							 &text, TEXT_MAX, err);
				if (ret < 0)
					break;
				t = text.buf;
			}
			if (s->n == s->alloc) {
				s->alloc = s->alloc ? 2 * s->alloc : 64;
				s->pages = cv_realloc(
					s->pages, s->alloc * sizeof(*s->pages));
			}
			sp = &s->pages[s->n++];
			sp->page_id = info[i].id;
			sp->file = f->name;
			sp->page_no = info[i].page_no;
			cv_ingest_page_facts(t, &sp->facts);
			cv_ingest__find_mrn(&run->mrn, t, &sp->facts);
			/* A file the manifest describes is a document. */
			sp->cut_before = cut || (f->row && first_of_file);
			sp->manifest = f->row;
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

static int assemble(struct run *run, struct cv_error *err)
{
	struct stream s = { NULL, 0, 0 };
	int64_t *ids = NULL;
	int *starts = NULL;
	size_t i, first, fi, ndocs = 0, *firsts = NULL;
	struct cv_index_document *docs = NULL;
	int ret;

	ret = gather(run, &s, err);
	if (ret < 0)
		goto cleanup;
	starts = cv_calloc(s.n + 1, sizeof(*starts));
	ids = cv_calloc(s.n + 1, sizeof(*ids));
	docs = cv_calloc(s.n + 1, sizeof(*docs));
	firsts = cv_calloc(s.n + 2, sizeof(*firsts));
	cv_ingest__segment(s.pages, s.n, starts);

	/* All of this run's documents, and the files they came from, are
	 * committed together: a crash leaves all of them or none. */
	ret = cv_index_begin(run->ix, err);
	if (ret < 0)
		goto cleanup;
	for (first = 0; first < s.n; first = i) {
		struct cv_index_document *doc = &docs[ndocs];

		for (i = first + 1; i < s.n && !starts[i]; i++)
			;
		doc->batch_id = run->rep->batch_id;
		cv_ingest__describe(&s.pages[first], i - first, doc);
		for (fi = first; fi < i; fi++)
			ids[fi - first] = s.pages[fi].page_id;
		ret = cv_index_document_create(run->ix, doc, ids, i - first,
					       &doc->id, err);
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
	for (fi = 0; fi < run->nfiles; fi++) {
		if (!run->files[fi]->assemble)
			continue;
		ret = cv_index_file_done(run->ix, run->files[fi]->file_id, err);
		if (ret < 0)
			goto rollback;
	}
	ret = cv_index_commit(run->ix, err);
	if (ret < 0)
		goto cleanup;
	/* Report only what was committed. */
	for (first = 0, ndocs = 0; first < s.n; first = i, ndocs++) {
		for (i = first + 1; i < s.n && !starts[i]; i++)
			;
		report_doc(run, &docs[ndocs], &s.pages[first], i - first);
	}
	goto cleanup;
rollback:
	cv_index_rollback(run->ix);
cleanup:
	free(firsts);
	free(docs);
	free(ids);
	free(starts);
	free(s.pages);
	return ret;
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

int cv_ingest_run(struct cv_archive *ar, struct cv_index *ix,
		  const char *const *paths, size_t npaths,
		  const struct cv_ingest_opts *o, struct cv_ingest_report *rep,
		  struct cv_error *err)
{
	struct run run;
	size_t i;
	int created, ret;

	memset(rep, 0, sizeof(*rep));
	memset(&run, 0, sizeof(run));
	run.ar = ar;
	run.ix = ix;
	run.o = o;
	run.rep = rep;
	run.start_ms = cv_now_ms();
	pthread_mutex_init(&run.pool.mu, NULL);
	pthread_cond_init(&run.pool.job_ready, NULL);
	pthread_cond_init(&run.pool.result_ready, NULL);
	run.pool.ocr.language = o->language;
	run.pool.osd_below = o->osd_below_confidence;
	run.pool.ocr.tessdata = o->tessdata;

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
	if (o->manifest)
		ret = load_manifest(&run, err);
	if (ret == 0)
		ret = collect(&run, paths, npaths, err);
	for (i = 0; i < run.nfiles && ret == 0; i++) {
		while (ret == 0 && run.inflight > INFLIGHT_MAX &&
		       run.pool.outstanding)
			ret = drain_one(&run, err);
		if (ret == 0)
			ret = take_file(&run, i, err);
		if (ret == 0)
			ret = drain(&run, 0, err);
	}
	if (ret == 0)
		ret = drain(&run, 1, err);
	pool_shutdown(&run.pool, ret < 0);
	if (ret == 0)
		ret = assemble(&run, err);
	if (ret == 0)
		ret = cv_index_batch_finish(ix, rep->batch_id, err);
cleanup:
	if (run.pool.threads)
		pool_shutdown(&run.pool, 1);
	for (i = 0; i < run.nfiles; i++) {
		struct file_state *f = run.files[i];
		int p;

		for (p = 0; f->texts && p <= f->npages; p++)
			free(f->texts[p]);
		free(f->texts);
		cv_buf_release(&f->data);
		free(f->path);
		free(f->name);
		free(f);
	}
	free(run.files);
	cv_ingest_manifest_free(run.manifest);
	cv_ingest__mrn_rules_release(&run.mrn);
	free(run.manifest_real);
	pthread_mutex_destroy(&run.pool.mu);
	pthread_cond_destroy(&run.pool.job_ready);
	pthread_cond_destroy(&run.pool.result_ready);
	rep->elapsed_ms = cv_now_ms() - run.start_ms;
	return ret;
}
