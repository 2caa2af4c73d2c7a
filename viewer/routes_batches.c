/*
 * The scanning clerks' home: batches with their counts and what still
 * needs someone (pages waiting for QA, documents waiting in the
 * exception queue, counts that do not reconcile), and one batch's report
 * (rejects, its QA pages and its queue documents, linked to the screens
 * that settle them). The waiting counts come from the same lists as the
 * QA and queue screens, so the numbers agree with what those show.
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

/* How many of the waiting items belong to each batch. */
struct waiting {
	int64_t *batch;
	size_t n;
};

static int64_t count_of(const struct waiting *w, int64_t batch_id)
{
	int64_t c = 0;
	size_t i;

	for (i = 0; i < w->n; i++)
		c += w->batch[i] == batch_id;
	return c;
}

/*
 * The batches of the pages waiting for QA and of the documents waiting
 * in the queue. A clerk sees the queue's counts (no patient in them) but
 * cannot open it.
 */
static int load_waiting(struct cv_index *ix, struct waiting *qa,
			struct waiting *queue, struct cv_error *err)
{
	struct cv_index_qa_page *q = NULL;
	struct cv_index_exception_item *e = NULL;
	size_t n = 0, i;
	int ret;

	memset(qa, 0, sizeof(*qa));
	memset(queue, 0, sizeof(*queue));
	ret = cv_index_qa_list(ix, NULL, 0, &q, &n, err);
	if (ret < 0)
		return ret;
	qa->batch = cv_calloc(n + 1, sizeof(int64_t));
	for (i = 0; i < n; i++)
		qa->batch[i] = q[i].batch_id;
	qa->n = n;
	free(q);
	ret = cv_index_exception_list(ix, &e, &n, err);
	if (ret < 0)
		return ret;
	queue->batch = cv_calloc(n + 1, sizeof(int64_t));
	for (i = 0; i < n; i++)
		queue->batch[i] = e[i].batch_id;
	queue->n = n;
	free(e);
	return 0;
}

static void route_batches(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_batch_stats *bs = NULL;
	struct waiting qa = { 0 }, queue = { 0 };
	struct cv_buf *b = &r->out;
	int staff = vw_role_in(r, VW_STAFF);
	size_t n = 0, i, unreconciled = 0;

	(void)id;
	if (!t || cv_index_batch_stats(t->ix, NULL, &bs, &n, &err) < 0 ||
	    load_waiting(t->ix, &qa, &queue, &err) < 0) {
		vw_failed(r, &err);
		goto out;
	}
	for (i = 0; i < n; i++)
		unreconciled += !bs[i].reconciled;
	vw_page_begin(r, "Batches");
	cv_buf_adds(b, "<h1>Batches</h1><ul class=\"summary\">");
	cv_buf_addf(b, "<li><a href=\"/qa\">%zu page%s waiting for QA</a></li>",
		    qa.n, qa.n == 1 ? "" : "s");
	if (staff)
		cv_buf_addf(b,
			    "<li><a href=\"/queue\">%zu document%s waiting "
			    "in the exception queue</a></li>",
			    queue.n, queue.n == 1 ? "" : "s");
	else
		cv_buf_addf(b,
			    "<li>%zu document%s waiting in the exception "
			    "queue (records staff place them)</li>",
			    queue.n, queue.n == 1 ? "" : "s");
	cv_buf_addf(b, "<li>%zu batch%s not reconciled</li></ul>", unreconciled,
		    unreconciled == 1 ? "" : "es");
	cv_buf_adds(b, "<table class=\"grid batches\"><caption>Scan batches, "
		       "newest last</caption><thead><tr>"
		       "<th scope=\"col\">Batch</th><th scope=\"col\">"
		       "Operator</th><th scope=\"col\">Started</th>"
		       "<th scope=\"col\">Pages</th><th scope=\"col\">"
		       "Documents</th><th scope=\"col\">Flagged</th>"
		       "<th scope=\"col\">QA waiting</th>"
		       "<th scope=\"col\">Rejects</th>"
		       "<th scope=\"col\">Exceptions waiting</th>"
		       "<th scope=\"col\">Counts</th></tr></thead><tbody>");
	for (i = 0; i < n; i++) {
		int64_t nqa = count_of(&qa, bs[i].id);
		int64_t nq = count_of(&queue, bs[i].id);

		cv_buf_addf(b,
			    "<tr><th scope=\"row\"><a href=\"/batch/%" PRId64
			    "\">",
			    bs[i].id);
		vw_esc(b, bs[i].name);
		cv_buf_adds(b, "</a></th><td>");
		vw_esc(b, bs[i].operator_);
		cv_buf_adds(b, "</td><td>");
		vw_esc(b, bs[i].created);
		cv_buf_addf(b,
			    "</td><td>%" PRId64 "</td><td>%" PRId64
			    "</td><td>%" PRId64 "</td><td>",
			    bs[i].pages, bs[i].documents, bs[i].flagged);
		if (nqa)
			cv_buf_addf(b,
				    "<a href=\"/qa?batch=%" PRId64 "\">%" PRId64
				    " waiting</a>",
				    bs[i].id, nqa);
		else
			cv_buf_adds(b, "none");
		cv_buf_addf(b, "</td><td%s>%" PRId64 "</td><td>",
			    bs[i].rejects ? " class=\"warn\"" : "",
			    bs[i].rejects);
		if (nq && staff)
			cv_buf_addf(b,
				    "<a href=\"/queue?batch=%" PRId64
				    "\">%" PRId64 " waiting</a>",
				    bs[i].id, nq);
		else if (nq)
			cv_buf_addf(b, "%" PRId64 " waiting", nq);
		else
			cv_buf_adds(b, "none");
		cv_buf_addf(b, "</td><td%s>%s</td></tr>",
			    bs[i].reconciled ? "" : " class=\"warn\"",
			    bs[i].reconciled ? "reconciled" : "NOT reconciled");
	}
	cv_buf_adds(b, "</tbody></table>");
	vw_page_end(r);
out:
	free(qa.batch);
	free(queue.batch);
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

/* The batch's QA pages (every one ever flagged or decided on). */
static void qa_table(struct cv_buf *b, int64_t batch_id,
		     const struct cv_index_qa_page *q, size_t n)
{
	size_t i;

	cv_buf_addf(b,
		    "<h2>Quality (QA)</h2><p><a href=\"/qa?batch=%" PRId64
		    "\">Open the QA queue of this batch</a></p>",
		    batch_id);
	if (n == 0) {
		cv_buf_adds(b, "<p>No page of this batch was flagged.</p>");
		return;
	}
	cv_buf_adds(b, "<table class=\"grid\"><caption>Pages flagged for "
		       "quality</caption><thead><tr><th scope=\"col\">Page"
		       "</th><th scope=\"col\">File</th><th scope=\"col\">"
		       "Page in file</th><th scope=\"col\">Flags</th>"
		       "<th scope=\"col\">QA</th></tr></thead><tbody>");
	for (i = 0; i < n; i++) {
		cv_buf_addf(b,
			    "<tr><th scope=\"row\"><a href=\"/qa/%" PRId64
			    "\">Page %" PRId64 "</a></th><td>",
			    q[i].page_id, q[i].page_id);
		vw_esc(b, q[i].file_name);
		cv_buf_addf(b, "</td><td>%d</td><td>", q[i].page_no);
		vw_esc(b, q[i].flags[0] ? q[i].flags : "none");
		cv_buf_adds(b, "</td><td>");
		vw_esc(b, !strcmp(q[i].qa_state, "open") ? "waiting"
			  : !strcmp(q[i].qa_state, "rescan")
				  ? "marked for rescan"
				  : q[i].qa_state);
		if (q[i].qa_by[0]) {
			cv_buf_adds(b, " by ");
			vw_esc(b, q[i].qa_by);
		}
		cv_buf_adds(b, "</td></tr>");
	}
	cv_buf_adds(b, "</tbody></table>");
}

/* The batch's documents waiting in the exception queue. */
static void queue_table(struct vw_req *r, int64_t batch_id,
			const struct cv_index_exception_item *e, size_t n)
{
	struct cv_buf *b = &r->out;
	int staff = vw_role_in(r, VW_STAFF);
	size_t i, shown = 0;

	cv_buf_adds(b, "<h2>Exception queue</h2>");
	for (i = 0; i < n; i++) {
		if (e[i].batch_id != batch_id)
			continue;
		if (shown++ == 0) {
			if (staff)
				cv_buf_addf(b,
					    "<p><a href=\"/queue?batch=%" PRId64
					    "\">Open the queue of this "
					    "batch</a></p>",
					    batch_id);
			cv_buf_adds(b, "<table class=\"grid\"><caption>"
				       "Documents waiting to be placed"
				       "</caption><thead><tr>"
				       "<th scope=\"col\">Document</th>"
				       "<th scope=\"col\">Pages</th>"
				       "<th scope=\"col\">Reason</th>"
				       "</tr></thead><tbody>");
		}
		if (staff)
			cv_buf_addf(b,
				    "<tr><th scope=\"row\"><a href=\"/queue/"
				    "%" PRId64 "\">Document %" PRId64
				    "</a></th>",
				    e[i].doc_id, e[i].doc_id);
		else
			cv_buf_addf(b,
				    "<tr><th scope=\"row\">Document %" PRId64
				    "</th>",
				    e[i].doc_id);
		cv_buf_addf(b, "<td>%d</td><td>", e[i].npages);
		vw_esc(b, e[i].kinds[0] ? e[i].kinds : "ready to file");
		cv_buf_adds(b, "</td></tr>");
	}
	if (shown)
		cv_buf_adds(b, "</tbody></table>");
	else
		cv_buf_adds(b, "<p>No document of this batch is waiting.</p>");
}

static void route_batch(struct vw_req *r, int64_t id)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);
	struct cv_index_batch_stats *bs = NULL;
	struct cv_index_batch_item *rej = NULL;
	struct cv_index_qa_page *qa = NULL;
	struct cv_index_exception_item *exc = NULL;
	struct cv_buf *b = &r->out;
	size_t n = 0, nrej = 0, nqa = 0, nexc = 0;
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
		ret = cv_index_qa_list(t->ix, idtxt, 1, &qa, &nqa, &err);
	if (ret == 0)
		ret = cv_index_exception_list(t->ix, &exc, &nexc, &err);
	if (ret < 0) {
		vw_failed(r, &err);
		goto out;
	}
	vw_page_begin(r, bs[0].name);
	cv_buf_adds(b, "<p><a href=\"/batches\">All batches</a></p>"
		       "<h1>Batch ");
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
	count_row(b, "Pages replaced by a rescan", bs[0].superseded);
	count_row(b, "Documents made", bs[0].documents);
	count_row(b, "Files rejected", bs[0].rejects);
	cv_buf_adds(b, "</tbody></table>");
	items_table(b, "Rejected files", "Reason", rej, nrej);
	qa_table(b, id, qa, nqa);
	queue_table(r, id, exc, nexc);
	vw_page_end(r);
out:
	cv_index_batch_items_free(rej, nrej);
	free(qa);
	free(exc);
	free(bs);
}

const struct vw_route vw_routes_batches[] = {
	{ "GET", "/batches", NULL, "clerk " VW_STAFF, route_batches,
	  "Batches" },
	{ "GET", "/batch/", "", "clerk " VW_STAFF, route_batch, NULL },
	{ NULL, NULL, NULL, NULL, NULL, NULL },
};
