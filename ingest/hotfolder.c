/*
 * The hot folder: scanners and shares drop files into a folder, and
 * chartvault takes each one only once it is complete, claims it with an
 * atomic move into processing/, ingests it, and moves it on to done/ or
 * rejected/ (with a .reason file beside it).
 *
 *   DIR/              files arrive here
 *   DIR/processing/   claimed: being ingested, or waiting for a retry
 *   DIR/done/         archived (or found already archived)
 *   DIR/rejected/     refused; NAME.reason says why
 *
 * A file is complete when inotify saw it closed after writing or moved in
 * and it has not changed since, or, on shares without inotify, when its
 * size and time stood still for the settle time. Names that transfer
 * tools use while copying (dot files, *.part, *.tmp, *.partial,
 * *.crdownload) are never taken.
 *
 * A run that fails as a whole (database or archive unavailable, disk
 * full) leaves its files in processing/ and is retried with backoff;
 * files are never dropped, and a restart resumes what processing/ holds.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ingest_int.h"
#include "../common/banned.h"

#define BACKOFF_MAX_S 300
#define MAX_SEEN      4096

struct seen {
	char *name;
	off_t size;
	struct timespec mtime;
	uint64_t stable_since_ms; /* when size and time were last seen change */
	int closed; /* inotify: closed after writing, or moved in */
	int present;
};

struct watch {
	const struct cv_ingest_watch_opts *o;
	char *processing, *done, *rejected;
	struct seen *seen;
	size_t nseen;
	int ifd;
};

static int in_progress_name(const char *n)
{
	static const char *const tails[] = { ".part", ".tmp", ".partial",
					     ".crdownload" };
	size_t len = strlen(n), i;

	if (n[0] == '.')
		return 1;
	for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		size_t k = strlen(tails[i]);

		if (len > k && !strcasecmp(n + len - k, tails[i]))
			return 1;
	}
	return 0;
}

static struct seen *find_seen(struct watch *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->nseen; i++)
		if (!strcmp(w->seen[i].name, name))
			return &w->seen[i];
	if (w->nseen == MAX_SEEN)
		return NULL;
	w->seen = cv_realloc(w->seen, (w->nseen + 1) * sizeof(*w->seen));
	memset(&w->seen[w->nseen], 0, sizeof(*w->seen));
	w->seen[w->nseen].name = cv_strdup(name);
	w->seen[w->nseen].stable_since_ms = cv_now_ms();
	return &w->seen[w->nseen++];
}

static void forget_seen(struct watch *w, size_t i)
{
	free(w->seen[i].name);
	w->seen[i] = w->seen[--w->nseen];
}

/* Read what inotify has to say: which files were finished. */
static void read_events(struct watch *w)
{
	char buf[8192]
		__attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(w->ifd, buf, sizeof(buf));
		char *p;

		if (n <= 0)
			return;
		for (p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->len && !in_progress_name(ev->name) &&
			    (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))) {
				struct seen *s = find_seen(w, ev->name);

				if (s)
					s->closed = 1;
			}
			p += sizeof(*ev) + ev->len;
		}
	}
}

/*
 * The files of the folder that are complete now, as names; *out is
 * malloc'd, each name too.
 */
static size_t ready_files(struct watch *w, char ***out)
{
	uint64_t now = cv_now_ms();
	size_t n = 0, i;
	struct dirent *e;
	DIR *d;

	*out = NULL;
	for (i = 0; i < w->nseen; i++)
		w->seen[i].present = 0;
	d = opendir(w->o->dir);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char *path;
		struct stat st;
		struct seen *s;

		if (in_progress_name(e->d_name))
			continue;
		path = cv_path_join(w->o->dir, e->d_name);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		free(path);
		s = find_seen(w, e->d_name);
		if (!s)
			continue;
		s->present = 1;
		if (st.st_size != s->size ||
		    st.st_mtim.tv_sec != s->mtime.tv_sec ||
		    st.st_mtim.tv_nsec != s->mtime.tv_nsec) {
			s->size = st.st_size;
			s->mtime = st.st_mtim;
			s->stable_since_ms = now;
		}
		/* The writer closed it (inotify), or it stood still for the
		 * settle time (any share). Either way ingest reads it once,
		 * so what is archived is one consistent snapshot. */
		if (s->closed || now - s->stable_since_ms >=
					 (uint64_t)w->o->settle_s * 1000) {
			*out = cv_realloc(*out, (n + 1) * sizeof(**out));
			(*out)[n++] = cv_strdup(s->name);
		}
	}
	closedir(d);
	for (i = 0; i < w->nseen;)
		if (!w->seen[i].present)
			forget_seen(w, i);
		else
			i++;
	return n;
}

/* A name free in folder dir: name, else name.1, name.2 ... */
static char *free_name(const char *dir, const char *name)
{
	char *p = cv_path_join(dir, name);
	int i;

	for (i = 1; cv_fs_exists(p) && i < 10000; i++) {
		free(p);
		p = cv_asprintf("%s/%s.%d", dir, name, i);
	}
	return p;
}

static void report(const struct cv_ingest_watch_opts *o, const char *name,
		   const char *outcome, const char *reason)
{
	if (o->report)
		o->report(o->report_ctx, name, outcome, reason);
}

/* Claim: the move into processing/ is atomic, so a file is taken once
 * even with two watchers on one share. */
static size_t claim(struct watch *w, char **names, size_t n, char ***claimed)
{
	size_t k = 0, i;

	*claimed = cv_calloc(n + 1, sizeof(**claimed));
	for (i = 0; i < n; i++) {
		char *from = cv_path_join(w->o->dir, names[i]);
		char *to = free_name(w->processing, names[i]);

		if (rename(from, to) == 0)
			(*claimed)[k++] = to;
		else
			free(to);
		free(from);
	}
	return k;
}

/* Files left in processing/ by an earlier run: taken first. */
static size_t leftovers(struct watch *w, char ***out)
{
	struct dirent *e;
	size_t n = 0;
	DIR *d = opendir(w->processing);

	*out = NULL;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char *p;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		p = cv_path_join(w->processing, e->d_name);
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			*out = cv_realloc(*out, (n + 1) * sizeof(**out));
			(*out)[n++] = p;
		} else {
			free(p);
		}
	}
	closedir(d);
	return n;
}

static const char *rejection_of(const struct cv_ingest_report *rep,
				const char *path)
{
	struct cv_buf esc = CV_BUF_INIT;
	const char *reason = NULL;
	size_t i;

	/* The report escapes names as the log does; compare the same way. */
	cv_buf_add_escaped(&esc, path, strlen(path));
	for (i = 0; i < rep->nrejects && !reason; i++)
		if (rep->rejects[i].page == 0 &&
		    !strcmp(rep->rejects[i].name, esc.buf))
			reason = rep->rejects[i].reason;
	cv_buf_release(&esc);
	return reason;
}

/* Move each claimed file on, by what the run said of it. */
static void settle(struct watch *w, char **claimed, size_t n,
		   const struct cv_ingest_report *rep)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *name = strrchr(claimed[i], '/') + 1;
		const char *reason = rejection_of(rep, claimed[i]);
		char *to = free_name(reason ? w->rejected : w->done, name);

		if (rename(claimed[i], to) == 0 && reason) {
			char *why = cv_asprintf("%s.reason", to);
			char *text = cv_asprintf("%s\n", reason);
			struct cv_error ignore = CV_ERROR_INIT;

			cv_fs_write_atomic(why, text, strlen(text), 0644, 0,
					   &ignore);
			free(text);
			free(why);
		}
		report(w->o, name, reason ? "rejected" : "done", reason);
		free(to);
	}
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static char *batch_name(const struct cv_ingest_watch_opts *o)
{
	char day[16];
	struct tm tm;
	time_t t = time(NULL);
	const char *base = strrchr(o->dir, '/');

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	return cv_asprintf("hotfolder-%s-%s",
			   base && base[1] ? base + 1 : o->dir, day);
}

int cv_ingest_watch(struct cv_archive *ar, struct cv_index *ix,
		    const struct cv_ingest_watch_opts *o, struct cv_error *err)
{
	struct watch w;
	unsigned backoff_s = 0;
	uint64_t retry_at = 0;
	int ret = 0;

	memset(&w, 0, sizeof(w));
	w.o = o;
	w.ifd = -1;
	w.processing = cv_path_join(o->dir, "processing");
	w.done = cv_path_join(o->dir, "done");
	w.rejected = cv_path_join(o->dir, "rejected");
	if (cv_fs_mkdirs(w.processing, 0755, err) < 0 ||
	    cv_fs_mkdirs(w.done, 0755, err) < 0 ||
	    cv_fs_mkdirs(w.rejected, 0755, err) < 0) {
		ret = err->code;
		goto out;
	}
	if (!o->poll_only) {
		w.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (w.ifd >= 0 &&
		    inotify_add_watch(w.ifd, o->dir,
				      IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
			/* A share without inotify: polling alone will do. */
			close(w.ifd);
			w.ifd = -1;
		}
	}
	while (!(o->stop && *o->stop)) {
		struct cv_ingest_report rep;
		struct cv_error rerr = CV_ERROR_INIT;
		char **names = NULL, **claimed = NULL, **old = NULL;
		size_t nnames, nclaimed = 0, nold, i;
		struct pollfd pfd;
		char *batch;
		int run;

		if (w.ifd >= 0)
			read_events(&w);
		nold = cv_now_ms() >= retry_at ? leftovers(&w, &old) : 0;
		nnames = ready_files(&w, &names);
		if (nnames)
			nclaimed = claim(&w, names, nnames, &claimed);
		free_names(names, nnames);
		if (nold) {
			claimed = cv_realloc(claimed, (nclaimed + nold + 1) *
							      sizeof(*claimed));
			for (i = 0; i < nold; i++)
				claimed[nclaimed++] = old[i];
			free(old);
		}
		if (nclaimed) {
			struct cv_ingest_opts io = o->ingest;

			batch = batch_name(o);
			io.batch = batch;
			run = cv_ingest_run(ar, ix,
					    (const char *const *)claimed,
					    nclaimed, &io, &rep, &rerr);
			if (run == 0) {
				settle(&w, claimed, nclaimed, &rep);
				backoff_s = 0;
			} else {
				/* Everything waits in processing/ for the
				 * next try: a passing failure never drops a
				 * file. */
				backoff_s = backoff_s ? backoff_s * 2 : 5;
				if (backoff_s > BACKOFF_MAX_S)
					backoff_s = BACKOFF_MAX_S;
				retry_at = cv_now_ms() + backoff_s * 1000ull;
				report(o, "(batch)", "retry", rerr.msg);
				if (o->once) {
					*err = rerr;
					ret = rerr.code ? rerr.code : CV_ERROR;
				}
			}
			cv_ingest_report_release(&rep);
			free(batch);
			free_names(claimed, nclaimed);
			if (ret < 0)
				break;
			continue;
		}
		free(claimed);
		/* --once: done when nothing is waiting to become complete. */
		if (o->once && w.nseen == 0)
			break;
		pfd.fd = w.ifd;
		pfd.events = POLLIN;
		poll(w.ifd >= 0 ? &pfd : NULL, w.ifd >= 0 ? 1 : 0,
		     o->poll_s > 0 ? o->poll_s * 1000 : 2000);
	}
out:
	if (w.ifd >= 0)
		close(w.ifd);
	while (w.nseen)
		forget_seen(&w, 0);
	free(w.seen);
	free(w.processing);
	free(w.done);
	free(w.rejected);
	return ret;
}
