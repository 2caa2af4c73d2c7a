/*
 * Group commit of the audit rows of views. Every view of a page, a
 * document or a search result appends a row to the audit chain, and the
 * chain is a sequence: each append takes the chain's lock and holds it
 * until its transaction has committed (index/audit.c), WAL flush
 * included. With one transaction per view, twenty people paging through
 * charts wait for each other's disk flushes one at a time: that wait,
 * not the rendering, was most of a cached page image's time under load
 * (bench/viewer.sh).
 *
 * So views hand their rows to one writer thread, which appends all the
 * rows waiting (from every server thread) in one statement
 * (cv_index_audit_append_many: each row still through the chain's
 * audit_append, in order): one round trip, one lock and one flush for
 * many rows. A view still waits until its row has
 * committed before it answers, so nothing is shown that is not audited
 * first, exactly as before. The rows are the same cv_index_audit rows,
 * from a connection opened like every server thread's.
 *
 * Only views use this (vw_audit_view): an action that changes a record
 * audits on its own connection, inside its own transaction when it has
 * one (vw_audit), since a row written here could neither roll back with
 * it nor wait for the chain lock its transaction may hold.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "viewer_int.h"
#include "index/index.h"
#include "common/log.h"
#include "common/banned.h"

#define BATCH_MAX 256 /* rows per transaction */

struct row {
	char *actor, *action, *object_type, *object_id, *detail, *outcome;
};

struct vw_auditq {
	const struct cv_viewer_opts *o;
	pthread_mutex_t lock;
	pthread_cond_t work; /* rows queued, or stop */
	pthread_cond_t done; /* written advanced */
	struct row *q;
	size_t n, cap;
	uint64_t queued;  /* tickets handed out */
	uint64_t written; /* every ticket up to this one is done */
	int stop;
	pthread_t thread;
	struct cv_index *ix; /* the writer's own connection */
};

static char *dup_or_null(const char *s)
{
	return s ? cv_strdup(s) : NULL;
}

static void row_release(struct row *w)
{
	free(w->actor);
	free(w->action);
	free(w->object_type);
	free(w->object_id);
	free(w->detail);
	free(w->outcome);
}

static int append(struct cv_index *ix, const struct row *w,
		  struct cv_error *err)
{
	return cv_index_audit(ix, w->actor, w->action, w->object_type,
			      w->object_id, w->detail, w->outcome, err);
}

/* Append rows in one statement; when that fails, one by one. */
static void write_rows(struct vw_auditq *aq, const struct row *w, size_t n)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_audit_entry *e;
	size_t i;
	int ret;

	if (!aq->ix && cv_index_open(&aq->ix, aq->o->dsn, &err) < 0) {
		cv_index_free(aq->ix);
		aq->ix = NULL;
		cv_log_warnx("viewer: could not audit %zu view(s): %s", n,
			     err.msg);
		return;
	}
	e = cv_calloc(n, sizeof(*e));
	for (i = 0; i < n; i++) {
		e[i].actor = w[i].actor;
		e[i].action = w[i].action;
		e[i].object_type = w[i].object_type;
		e[i].object_id = w[i].object_id;
		e[i].detail = w[i].detail;
		e[i].outcome = w[i].outcome;
	}
	ret = cv_index_audit_append_many(aq->ix, e, n, NULL, &err);
	free(e);
	if (ret == 0)
		return;
	/* A bad row must not lose the others: each in its own transaction. */
	for (i = 0; i < n; i++) {
		cv_error_clear(&err);
		if (append(aq->ix, &w[i], &err) < 0)
			cv_log_warnx("viewer: could not audit %s: %s",
				     w[i].action, err.msg);
	}
	if (ret == CV_EUNAVAIL) {
		/* The connection may be gone: open a new one next time. */
		cv_index_free(aq->ix);
		aq->ix = NULL;
	}
}

static void *writer(void *p)
{
	struct vw_auditq *aq = p;
	struct row *batch;
	size_t n, i;
	uint64_t upto;

	pthread_mutex_lock(&aq->lock);
	for (;;) {
		while (!aq->n && !aq->stop)
			pthread_cond_wait(&aq->work, &aq->lock);
		if (!aq->n)
			break; /* stopping, and nothing is left */
		n = aq->n < BATCH_MAX ? aq->n : BATCH_MAX;
		batch = cv_malloc(n * sizeof(*batch));
		memcpy(batch, aq->q, n * sizeof(*batch));
		memmove(aq->q, aq->q + n, (aq->n - n) * sizeof(*aq->q));
		aq->n -= n;
		upto = aq->written + n;
		pthread_mutex_unlock(&aq->lock);

		write_rows(aq, batch, n);
		for (i = 0; i < n; i++)
			row_release(&batch[i]);
		free(batch);

		pthread_mutex_lock(&aq->lock);
		aq->written = upto;
		pthread_cond_broadcast(&aq->done);
	}
	pthread_mutex_unlock(&aq->lock);
	return NULL;
}

struct vw_auditq *vw_auditq_start(const struct cv_viewer_opts *o)
{
	struct vw_auditq *aq = cv_calloc(1, sizeof(*aq));

	aq->o = o;
	pthread_mutex_init(&aq->lock, NULL);
	pthread_cond_init(&aq->work, NULL);
	pthread_cond_init(&aq->done, NULL);
	if (pthread_create(&aq->thread, NULL, writer, aq) != 0) {
		pthread_cond_destroy(&aq->done);
		pthread_cond_destroy(&aq->work);
		pthread_mutex_destroy(&aq->lock);
		free(aq);
		return NULL;
	}
	return aq;
}

void vw_auditq_stop(struct vw_auditq *aq)
{
	if (!aq)
		return;
	pthread_mutex_lock(&aq->lock);
	aq->stop = 1;
	pthread_cond_signal(&aq->work);
	pthread_mutex_unlock(&aq->lock);
	pthread_join(aq->thread, NULL); /* writes what is queued first */
	cv_index_free(aq->ix);
	free(aq->q);
	pthread_cond_destroy(&aq->done);
	pthread_cond_destroy(&aq->work);
	pthread_mutex_destroy(&aq->lock);
	free(aq);
}

void vw_audit_view(struct vw_req *r, const char *action,
		   const char *object_type, const char *object_id,
		   const char *detail, const char *outcome)
{
	struct vw_auditq *aq = r->srv->auditq;
	struct row *w;
	uint64_t ticket;

	if (!aq) {
		vw_audit(r, NULL, action, object_type, object_id, detail,
			 outcome);
		return;
	}
	pthread_mutex_lock(&aq->lock);
	if (aq->n == aq->cap) {
		aq->cap = aq->cap ? aq->cap * 2 : 64;
		aq->q = cv_realloc(aq->q, aq->cap * sizeof(*aq->q));
	}
	w = &aq->q[aq->n++];
	w->actor = cv_strdup(r->signed_in ? r->sess.user.name : "anonymous");
	w->action = cv_strdup(action);
	w->object_type = dup_or_null(object_type);
	w->object_id = dup_or_null(object_id);
	w->detail = dup_or_null(detail);
	w->outcome = dup_or_null(outcome);
	ticket = ++aq->queued;
	pthread_cond_signal(&aq->work);
	/* Answer only once the row is in the chain. */
	while (aq->written < ticket)
		pthread_cond_wait(&aq->done, &aq->lock);
	pthread_mutex_unlock(&aq->lock);
}
