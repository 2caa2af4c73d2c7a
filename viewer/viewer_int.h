/*
 * Declarations shared by the files of viewer/ and by no other module.
 *
 * A request goes through server.c (the libmicrohttpd handler: body,
 * session, route, response headers, access log), then vw_route (routes.c)
 * picks one route function from the tables of the routes_*.c files, which
 * writes HTML into req->out with the helpers of html.c.
 */
#ifndef CV_VIEWER_INT_H
#define CV_VIEWER_INT_H

#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <microhttpd.h>

#include "viewer.h"

struct cv_index;
struct cv_index_synonyms;
struct cv_archive;

/*
 * What each server thread owns: a libpq connection serves one thread at
 * a time, and the store reads wrapped keys through it.
 */
struct vw_thread {
	struct cv_index *ix;
	struct cv_archive *ar;
};

#define VW_TOKEN_HEX  64    /* 32 random bytes */
#define VW_MAX_FIELDS 32    /* form fields per request */
#define VW_MAX_BODY   65536 /* a form, never a file */

struct vw_session {
	char token[VW_TOKEN_HEX + 1];
	char csrf[VW_TOKEN_HEX + 1];
	struct cv_viewer_user user;
	time_t created;
	time_t last_seen;
};

struct vw_lockout {
	char name[64];
	unsigned failures;
	time_t until;
};

struct vw_cache;

struct vw_server {
	const struct cv_viewer_opts *o;
	struct vw_cache *images;            /* rendered page images (cache.c) */
	struct cv_index_synonyms *synonyms; /* the built-in abbreviations */
	char *decoy; /* a password hash checked for unknown user names */
	struct MHD_Daemon *daemon;
	int tls;
	pthread_key_t thread_key; /* each server thread's struct vw_thread */
	FILE *access;
	pthread_mutex_t lock; /* sessions, lockouts, access log */
	/*
	 * Page images rendered on demand at once: one a core, so that a
	 * burst of renders leaves the pool's other threads (stored previews,
	 * cached images, pages of text) the CPU to answer quickly.
	 */
	sem_t renders;
	struct vw_session *sessions;
	size_t nsessions, capsessions;
	struct vw_lockout *lockouts;
	size_t nlockouts, caplockouts;
	struct vw_auditq *auditq; /* group commit of views' rows (audit.c) */
};

struct vw_field {
	char *name;
	char *value;
};

struct vw_req {
	struct vw_server *srv;
	struct MHD_Connection *conn;
	const char *method;
	char *path; /* without the query string */
	struct timespec start;

	struct MHD_PostProcessor *pp;
	struct vw_field fields[VW_MAX_FIELDS];
	size_t nfields;
	size_t body_len;
	int body_bad; /* too large, or not a form */

	/* The signed-in user, copied out of the session table. */
	int signed_in;
	struct vw_session sess;

	/* The response. */
	unsigned status;
	const char *ctype;
	struct cv_buf out;
	char *location;   /* redirect target */
	char *set_cookie; /* one Set-Cookie header */
	int cacheable;    /* static assets only */
	/* A Content-Disposition header (a download), or NULL. */
	char *disposition;
};

/* server.c */

/*
 * This thread's database connection and store, opened on first use; NULL
 * and err when they cannot be.
 */
struct vw_thread *vw_thread(struct vw_req *r, struct cv_error *err);
/* A query-string argument, or NULL. */
const char *vw_arg(struct vw_req *r, const char *name);
/* A form field of a POST, or NULL. */
const char *vw_field(struct vw_req *r, const char *name);
/* 1 when the signed-in user's role is in roles ("records admin"). */
int vw_role_in(const struct vw_req *r, const char *roles);
/* 1 when a POST carries this session's CSRF token. */
int vw_csrf_ok(struct vw_req *r);
/* Sign in: a new session for user, with its cookie on the response. */
void vw_session_start(struct vw_req *r, const struct cv_viewer_user *user);
void vw_session_end(struct vw_req *r);
/*
 * Sign-in throttling per user name: 0 when name may try now, else the
 * seconds to wait. vw_login_failed doubles the wait after max_failures.
 */
int vw_authenticate(struct vw_req *r, const char *name, const char *password,
		    struct cv_viewer_user *user, struct cv_error *err);
long vw_login_wait(struct vw_server *s, const char *name);
void vw_login_failed(struct vw_server *s, const char *name);
void vw_login_succeeded(struct vw_server *s, const char *name);
/* Record an audit row for the signed-in user (or actor when not). */
void vw_audit(struct vw_req *r, const char *actor, const char *action,
	      const char *object_type, const char *object_id,
	      const char *detail, const char *outcome);

/* html.c */

/* Append s with & < > " ' escaped: safe in text and quoted attributes. */
void vw_esc(struct cv_buf *b, const char *s);
void vw_escn(struct cv_buf *b, const char *s, size_t n);
/* Append s escaped for a URL query value. */
void vw_urlesc(struct cv_buf *b, const char *s);
void vw_page_begin(struct vw_req *r, const char *title);
void vw_page_end(struct vw_req *r);
/* A hidden CSRF field for a form of the signed-in user. */
void vw_csrf_field(struct vw_req *r);
void vw_redirect(struct vw_req *r, const char *location);
/* An error page with status and a message (escaped). */
void vw_error_page(struct vw_req *r, unsigned status, const char *msg);

/* routes.c */

/* The roles that may read charts, as a space-separated list. */
#define VW_STAFF "records compliance admin"

/*
 * A screen. With suffix NULL the path is exactly prefix; otherwise it is
 * prefix, a positive id, then suffix ("/doc/" "12" ""), and the id is
 * passed to fn (0 otherwise). vw_route checks the sign-in, the CSRF token
 * of a POST and the role (roles "" lets any signed-in user in) before fn
 * runs, so a route only has to render, and to answer a record the user
 * may not see exactly as one that does not exist (vw_not_found).
 */
struct vw_route {
	const char *method; /* "GET" or "POST" */
	const char *prefix;
	const char *suffix;
	const char *roles;
	void (*fn)(struct vw_req *r, int64_t id);
	const char *nav; /* its name in the main menu, or NULL */
};

/* Each routes_*.c file's table, ended by an entry with prefix NULL. */
extern const struct vw_route vw_routes_search[];
extern const struct vw_route vw_routes_doc[];
extern const struct vw_route vw_routes_batches[];
extern const struct vw_route vw_routes_compliance[];
extern const struct vw_route vw_routes_qa[];
extern const struct vw_route vw_routes_queue[];
extern const struct vw_route vw_routes_chart[];
extern const struct vw_route vw_routes_access[];

/* Dispatch r to its route; fills the response. */
void vw_route(struct vw_req *r);
/* The main menu's items r's user may open, as <li> links. */
void vw_nav_items(struct vw_req *r);
/* 404: no such page or document, or one the user may not see. */
void vw_not_found(struct vw_req *r);
/* 500, with err logged (never shown: it may name files). */
void vw_failed(struct vw_req *r, const struct cv_error *err);
/* A positive id from s; 0 when s is not one. */
int64_t vw_parse_id(const char *s);

/*
 * routes_doc.c: a page's cleaned image, decrypted and scaled to the width
 * of ?w=, as a PNG response (from the cache when rendered before). The
 * caller has checked that r's user may see the page and audited the view.
 */
struct cv_index_page_view;
void vw_page_png(struct vw_req *r, struct vw_thread *t,
		 const struct cv_index_page_view *pv);
/* The width ?w= asks for, rounded up to the steps the image cache keeps. */
int vw_image_width(struct vw_req *r);
/*
 * Answer pix (borrowed) scaled to width as a PNG, and keep the PNG in the
 * image cache under (key, width): a page's id for its cleaned image, the
 * negated id for its original scan (routes_qa.c).
 */
struct Pix;
void vw_png_send(struct vw_req *r, struct Pix *pix, int64_t key, int width);
/* routes_chart.c: restricted charts (index/access.c decides) */

struct cv_index;
struct cv_index_hit;
struct cv_index_access_info;
/*
 * May the signed-in user open this record (kind "document" or "page")?
 * 0 and its chart's patient in *patient_id (0: none; may be NULL), or
 * CV_ENOTFOUND, with the same words, both when there is no such record
 * and when it is in a restricted chart the user may not open (audited as
 * "access.denied"): answer that with vw_not_found. Other codes: errors.
 */
int vw_record_access(struct vw_req *r, struct cv_index *ix, const char *kind,
		     int64_t id, int64_t *patient_id, struct cv_error *err);
/* A search result in a chart the user may not open (h->access): its
 * type and patient, a link to the chart's reason form, and no snippet. */
void vw_restricted_hit(struct vw_req *r, const struct cv_index_hit *h);
/* The patient's name, escaped, linked to their chart when patient_id. */
void vw_patient_link(struct vw_req *r, int64_t patient_id, const char *name);

/* cache.c: rendered page images by (page, width), max_bytes in all */
struct vw_cache *vw_cache_new(size_t max_bytes);
void vw_cache_free(struct vw_cache *c);
/* 1 and the image appended to out when cached, else 0. */
int vw_cache_get(struct vw_cache *c, int64_t page_id, int width,
		 struct cv_buf *out);
void vw_cache_put(struct vw_cache *c, int64_t page_id, int width,
		  const void *data, size_t len);

/*
 * audit.c: the audit rows of views, appended by one writer thread in one
 * transaction for all the rows waiting (one chain lock and one flush for
 * many views). vw_audit_view returns once its row has committed, so a
 * view is audited before it is answered. Views only: an action audits
 * with vw_audit, on its own connection and transaction.
 */
struct vw_auditq;
struct vw_auditq *vw_auditq_start(const struct cv_viewer_opts *o);
void vw_auditq_stop(struct vw_auditq *aq); /* writes what is queued */
void vw_audit_view(struct vw_req *r, const char *action,
		   const char *object_type, const char *object_id,
		   const char *detail, const char *outcome);

/* assets (generated from viewer/static/ by scripts/embed-assets.sh) */
struct vw_asset {
	const char *name;
	const char *type;
	const unsigned char *data;
	size_t len;
};
extern const struct vw_asset vw_assets[];
extern const size_t vw_nassets;

#endif
