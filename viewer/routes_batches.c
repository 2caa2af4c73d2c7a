/*
 * The scanning clerks' screens: batches with their counts, and one
 * batch's report (rejects, pages flagged for quality).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viewer_int.h"
#include "index/index.h"
#include "common/banned.h"

static void count_row(struct cv_buf *b, const char *what, int64_t n)
{
	cv_buf_adds(b, "<tr><th scope=\"row\">");
	vw_esc(b, what);
	cv_buf_addf(b, "</th><td>%" PRId64 "</td></tr>", n);
}

static void route_batches(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_batch_stats *bs = NULL;
	struct cv_buf *b = &r->out;
	size_t n = 0, i;

	(void)id;
	if (!t || cv_index_batch_stats(t->ix, NULL, &bs, &n, &err) < 0) {
		vw_failed(r, &err);
		goto out;
	}
	vw_page_begin(r, "Batches");
	cv_buf_adds(b, "<h1>Batches</h1><table class=\"grid\"><caption>Scan "
		       "batches, newest last</caption><thead><tr>"
		       "<th scope=\"col\">Batch</th><th scope=\"col\">"
		       "Operator</th><th scope=\"col\">Started</th>"
		       "<th scope=\"col\">Pages</th><th scope=\"col\">"
		       "Documents</th><th scope=\"col\">Flagged</th>"
		       "<th scope=\"col\">Rejects</th><th scope=\"col\">"
		       "Counts</th></tr></thead><tbody>");
	for (i = 0; i < n; i++) {
		cv_buf_addf(b, "<tr><td><a href=\"/batch/%" PRId64 "\">",
			    bs[i].id);
		vw_esc(b, bs[i].name);
		cv_buf_adds(b, "</a></td><td>");
		vw_esc(b, bs[i].operator_);
		cv_buf_adds(b, "</td><td>");
		vw_esc(b, bs[i].created);
		cv_buf_addf(b,
			    "</td><td>%" PRId64 "</td><td>%" PRId64
			    "</td><td>%" PRId64 "</td><td>%" PRId64
			    "</td><td>%s</td></tr>",
			    bs[i].pages, bs[i].documents, bs[i].flagged,
			    bs[i].rejects,
			    bs[i].reconciled ? "reconciled" : "NOT reconciled");
	}
	cv_buf_adds(b, "</tbody></table>");
	vw_page_end(r);
out:
	free(bs);
}

static void items_table(struct cv_buf *b, const char *caption, const char *what,
			const struct cv_index_batch_item *it, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	cv_buf_adds(b, "<table class=\"grid\"><caption>");
	vw_esc(b, caption);
	cv_buf_adds(b, "</caption><thead><tr><th scope=\"col\">File</th>"
		       "<th scope=\"col\">Page</th><th scope=\"col\">");
	vw_esc(b, what);
	cv_buf_adds(b, "</th></tr></thead><tbody>");
	for (i = 0; i < n; i++) {
		cv_buf_adds(b, "<tr><td>");
		vw_esc(b, it[i].name);
		if (it[i].page)
			cv_buf_addf(b, "</td><td>%d</td><td>", it[i].page);
		else
			cv_buf_adds(b, "</td><td>whole file</td><td>");
		vw_esc(b, it[i].text);
		cv_buf_adds(b, "</td></tr>");
	}
	cv_buf_adds(b, "</tbody></table>");
}

static void route_batch(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_batch_stats *bs = NULL;
	struct cv_index_batch_item *rej = NULL, *flag = NULL;
	struct cv_buf *b = &r->out;
	size_t n = 0, nrej = 0, nflag = 0;
	char idtxt[24];
	int ret;

	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	ret = t ? cv_index_batch_stats(t->ix, idtxt, &bs, &n, &err) : CV_ERROR;
	if (ret == CV_ENOTFOUND || (ret == 0 && (n != 1 || bs[0].id != id))) {
		vw_not_found(r);
		goto out;
	}
	if (ret == 0)
		ret = cv_index_batch_rejects(t->ix, id, &rej, &nrej, &err);
	if (ret == 0)
		ret = cv_index_batch_flagged(t->ix, id, &flag, &nflag, &err);
	if (ret < 0) {
		vw_failed(r, &err);
		goto out;
	}
	vw_page_begin(r, bs[0].name);
	cv_buf_adds(b, "<h1>Batch ");
	vw_esc(b, bs[0].name);
	cv_buf_addf(b, "</h1><p class=\"%s\">%s</p>",
		    bs[0].reconciled ? "ok" : "error",
		    bs[0].reconciled
			    ? "Every page is accounted for exactly once."
			    : "The counts do not reconcile yet.");
	cv_buf_adds(b, "<table class=\"grid counts\"><caption>Counts"
		       "</caption><tbody>");
	count_row(b, "Files received", bs[0].files);
	count_row(b, "Pages captured", bs[0].pages);
	count_row(b, "Pages filed in documents", bs[0].filed);
	count_row(b, "Blank backs dropped", bs[0].blank);
	count_row(b, "Cover and separator sheets", bs[0].sheets);
	count_row(b, "Pages failed", bs[0].failed);
	count_row(b, "Pages waiting for OCR", bs[0].queued);
	count_row(b, "Pages not yet in a document", bs[0].unplaced);
	count_row(b, "Pages flagged for QA", bs[0].flagged);
	count_row(b, "Documents made", bs[0].documents);
	count_row(b, "Files rejected", bs[0].rejects);
	cv_buf_adds(b, "</tbody></table>");
	items_table(b, "Rejected files", "Reason", rej, nrej);
	items_table(b, "Pages flagged for quality", "Flags", flag, nflag);
	vw_page_end(r);
out:
	cv_index_batch_items_free(rej, nrej);
	cv_index_batch_items_free(flag, nflag);
	free(bs);
}

const struct vw_route vw_routes_batches[] = {
	{ "GET", "/batches", NULL, "clerk " VW_STAFF, route_batches,
	  "Batches" },
	{ "GET", "/batch/", "", "clerk " VW_STAFF, route_batch, NULL },
	{ NULL, NULL, NULL, NULL, NULL, NULL },
};
