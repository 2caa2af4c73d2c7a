/*
 * Rescans from the QA queue. A page a clerk marked for rescan is scanned
 * again and fed in with 'chartvault qa replace PAGE FILE'. The new scan
 * goes through the whole pipeline like any other (the original archived
 * unchanged, cleanup, OCR, its own quality flags) as part of the old
 * page's batch, so the batch's counts still add up: one more page
 * received, one page superseded. Only the last step differs: instead of
 * making a document, the page takes the old page's place in its document
 * (index/qa.c does that in one transaction), and the document's PDF is
 * made again.
 *
 * A re-run after a crash finds the scan by its content, skips the work
 * done, and completes the placement.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_int.h"
#include "../common/banned.h"

int cv_ingest__place_rescan(struct cv_archive *ar, struct cv_index *ix,
			    struct cv_ingest__replace *rp,
			    const int64_t *file_ids, size_t n,
			    struct cv_error *err)
{
	struct cv_index_page_info *info = NULL;
	struct cv_error perr = CV_ERROR_INIT;
	size_t npages = 0;
	int ret, placed;

	if (n == 0)
		return 0; /* rejected, or archived before: the caller says */
	if (n != 1)
		return cv_error_set(err, CV_EINVAL,
				    "a rescan is one file, not %zu", n);
	ret = cv_index_file_pages(ix, file_ids[0], &info, &npages, err);
	if (ret < 0)
		goto cleanup;
	if (npages != 1) {
		ret = cv_error_set(
			err, CV_EINVAL,
			"a rescan must be one page; the file has %zu", npages);
		goto cleanup;
	}
	ret = cv_index_begin(ix, err);
	if (ret < 0)
		goto cleanup;
	placed = cv_index_qa_replace(ix, rp->old_page, info[0].id, rp->note,
				     rp->actor, &rp->doc_id, &perr);
	if (placed < 0 && placed != CV_EINVAL && placed != CV_EEXISTS) {
		cv_index_rollback(ix);
		*err = perr;
		ret = placed;
		goto cleanup;
	}
	if (placed < 0) {
		/* A blank or unreadable rescan, or a page replaced meanwhile:
		 * the scan stays in the batch as what it is (counted blank,
		 * failed or unplaced), and the clerk is told why. */
		cv_index_rollback(ix);
		ret = cv_index_file_done(ix, file_ids[0], err);
		if (ret == 0) {
			*err = perr;
			ret = placed;
		}
		goto cleanup;
	}
	ret = cv_index_file_done(ix, file_ids[0], err);
	if (ret < 0) {
		cv_index_rollback(ix);
		goto cleanup;
	}
	ret = cv_index_commit(ix, err);
	if (ret < 0)
		goto cleanup;
	rp->new_page = info[0].id;
	rp->placed = 1;
	ret = cv_ingest_render_document(ar, ix, rp->doc_id, NULL, &perr);
	/* An unreadable page image leaves the document without a PDF, to be
	 * made by export; the replacement itself stands. */
	if (ret == CV_EINVAL)
		ret = 0;
	else if (ret < 0)
		*err = perr;
cleanup:
	free(info);
	return ret;
}

int cv_ingest_replace_page(struct cv_archive *ar, struct cv_index *ix,
			   const char *path, const struct cv_ingest_opts *o,
			   int64_t old_page, const char *note,
			   const char *actor, int64_t *new_page,
			   int64_t *doc_id, struct cv_ingest_report *rep,
			   struct cv_error *err)
{
	struct cv_ingest__replace rp;
	struct cv_ingest_opts ro = *o;
	struct cv_index_qa_page q;
	enum cv_ingest_format fmt;
	int pages = 0, ret;

	memset(rep, 0, sizeof(*rep));
	*new_page = 0;
	*doc_id = 0;
	/* Check before anything is archived: a rescan for a page that cannot
	 * take one would only leave an unplaced page in the batch. */
	ret = cv_index_qa_get(ix, old_page, &q, err);
	if (ret < 0)
		return ret;
	if (q.superseded_by)
		return cv_error_set(err, CV_EEXISTS,
				    "page %" PRId64
				    " was replaced already, by page %" PRId64,
				    old_page, q.superseded_by);
	if (strcmp(q.qa_state, "rescan")) {
		cv_error_set(err, CV_EEXISTS,
			     "page %" PRId64 " is not marked for rescan",
			     old_page);
		cv_error_hint(err,
			      "run 'chartvault qa rescan %" PRId64 "' first",
			      old_page);
		return CV_EEXISTS;
	}
	if (!q.document_id)
		return cv_error_set(err, CV_EEXISTS,
				    "page %" PRId64 " is in no document",
				    old_page);
	ret = cv_ingest_probe(path, o->max_pixels, &fmt, &pages, err);
	if (ret < 0)
		return ret;
	if (pages != 1)
		return cv_error_set(err, CV_EINVAL,
				    "a rescan must be one page; '%s' has %d",
				    path, pages);

	memset(&rp, 0, sizeof(rp));
	rp.old_page = old_page;
	rp.note = note;
	rp.actor = actor;
	ro.batch = q.batch;
	ro.manifest = NULL;
	ret = cv_ingest__run(ar, ix, &path, 1, &ro, &rp, rep, err);
	if (ret < 0)
		return ret;
	if (!rp.placed) {
		if (rep->nrejects)
			return cv_error_set(err, CV_EINVAL, "%s",
					    rep->rejects[0].reason);
		cv_error_set(
			err, CV_EEXISTS,
			"'%s' is archived already; a rescan must be a new scan",
			path);
		return CV_EEXISTS;
	}
	*new_page = rp.new_page;
	*doc_id = rp.doc_id;
	return 0;
}
