/*
 * The HTTP server: libmicrohttpd in a pool of threads, each with its own
 * database connection (a libpq connection serves one thread at a time).
 * This file owns everything a route should not have to think about: the
 * size limits, reading a form, the session behind a cookie, sign-in
 * throttling, the security headers of every response, and the access log.
 *
 * The access log records method, path, status, size, time and user name:
 * never the query string (a search may be a patient's name) nor a body.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "viewer_int.h"
#include "archive/archive.h"
#include "index/index.h"
#include "common/log.h"
#include "common/banned.h"

#define SESSIONS_MAX 4096
#define LOCKOUTS_MAX 4096 /* user names with failed sign-ins remembered */
#define FIELD_MAX    8192 /* one form value */
#define LOCKOUT_BASE 30   /* seconds, doubled per further failure */
#define LOCKOUT_MAX  (15 * 60)

/*
 * No inline script or style, nothing from elsewhere, no framing: a page
 * that shows OCR text containing markup cannot run it even if an escape
 * were missed.
 */
static const char CSP[] = "default-src 'none'; script-src 'self'; "
			  "style-src 'self'; img-src 'self'; "
			  "connect-src 'self'; form-action 'self'; "
			  "frame-ancestors 'none'; base-uri 'none'";

static void close_thread(void *p)
{
	struct vw_thread *t = p;

	if (!t)
		return;
	cv_archive_free(t->ar);
	cv_index_free(t->ix);
	free(t);
}

struct vw_thread *vw_thread(struct vw_req *r, struct cv_error *err)
{
	const struct cv_viewer_opts *o = r->srv->o;
	struct vw_thread *t = pthread_getspecific(r->srv->thread_key);

	if (t)
		return t;
	t = cv_calloc(1, sizeof(*t));
	if (cv_index_open(&t->ix, o->dsn, err) < 0 ||
	    cv_archive_open(&t->ar, o->archive_dir, o->keys, t->ix, err) < 0) {
		close_thread(t);
		return NULL;
	}
	pthread_setspecific(r->srv->thread_key, t);
	return t;
}

const char *vw_arg(struct vw_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
					   name);
}

const char *vw_field(struct vw_req *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nfields; i++)
		if (!strcmp(r->fields[i].name, name))
			return r->fields[i].value;
	return NULL;
}

/* Equal strings in time that depends on their length only. */
static int same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char d = 0;

	if (la != lb || la == 0)
		return 0;
	for (i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

int vw_csrf_ok(struct vw_req *r)
{
	const char *t = vw_field(r, "csrf");

	return r->signed_in && t && same_secret(t, r->sess.csrf);
}

int vw_role_in(const struct vw_req *r, const char *roles)
{
	const char *role = r->sess.user.role;
	size_t n = strlen(role);
	const char *p;

	if (!r->signed_in || n == 0)
		return 0;
	for (p = roles; (p = strstr(p, role)) != NULL; p += n)
		if ((p == roles || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\0'))
			return 1;
	return 0;
}

static void random_hex(char out[VW_TOKEN_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[VW_TOKEN_HEX / 2];
	size_t i;

	cv_archive_random(raw, sizeof(raw));
	for (i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[VW_TOKEN_HEX] = '\0';
	cv_wipe(raw, sizeof(raw));
}

static void set_cookie(struct vw_req *r, const char *value, int expire)
{
	struct cv_buf b = CV_BUF_INIT;

	cv_buf_addf(&b, "cv_session=%s; Path=/; HttpOnly; SameSite=Strict%s%s",
		    value, expire ? "; Max-Age=0" : "",
		    r->srv->tls ? "; Secure" : "");
	free(r->set_cookie);
	r->set_cookie = cv_buf_detach(&b, NULL);
}

/* Drop session i; the lock is held. */
static void drop_session(struct vw_server *s, size_t i)
{
	cv_wipe(&s->sessions[i], sizeof(s->sessions[i]));
	s->sessions[i] = s->sessions[--s->nsessions];
}

void vw_session_start(struct vw_req *r, const struct cv_viewer_user *user)
{
	struct vw_server *s = r->srv;
	struct vw_session n;
	size_t i, oldest = 0;

	/* A fresh token at every sign-in: no fixation of an old one. */
	memset(&n, 0, sizeof(n));
	random_hex(n.token);
	random_hex(n.csrf);
	n.user = *user;
	n.created = n.last_seen = time(NULL);
	pthread_mutex_lock(&s->lock);
	if (s->nsessions == SESSIONS_MAX) {
		for (i = 1; i < s->nsessions; i++)
			if (s->sessions[i].last_seen <
			    s->sessions[oldest].last_seen)
				oldest = i;
		drop_session(s, oldest);
	}
	if (s->nsessions == s->capsessions) {
		s->capsessions = s->capsessions ? s->capsessions * 2 : 16;
		s->sessions = cv_realloc(s->sessions,
					 s->capsessions * sizeof(*s->sessions));
	}
	s->sessions[s->nsessions++] = n;
	pthread_mutex_unlock(&s->lock);
	r->sess = n;
	r->signed_in = 1;
	set_cookie(r, n.token, 0);
	cv_wipe(&n, sizeof(n));
}

void vw_session_end(struct vw_req *r)
{
	struct vw_server *s = r->srv;
	size_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->nsessions; i++)
		if (same_secret(s->sessions[i].token, r->sess.token)) {
			drop_session(s, i);
			break;
		}
	pthread_mutex_unlock(&s->lock);
	cv_wipe(&r->sess, sizeof(r->sess));
	r->signed_in = 0;
	set_cookie(r, "", 1);
}

/* Find the session of the request's cookie; an idle one is ended. */
static void resolve_session(struct vw_req *r)
{
	struct vw_server *s = r->srv;
	const char *tok = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND,
						      "cv_session");
	time_t now = time(NULL);
	size_t i;

	if (!tok || strlen(tok) != VW_TOKEN_HEX)
		return;
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->nsessions; i++) {
		struct vw_session *e = &s->sessions[i];

		if (!same_secret(e->token, tok))
			continue;
		if (now - e->last_seen > (time_t)s->o->idle_seconds) {
			drop_session(s, i);
			set_cookie(r, "", 1);
			break;
		}
		e->last_seen = now;
		r->sess = *e;
		r->signed_in = 1;
		break;
	}
	pthread_mutex_unlock(&s->lock);
}

static struct vw_lockout *lockout_of(struct vw_server *s, const char *name,
				     int add)
{
	size_t i;

	for (i = 0; i < s->nlockouts; i++)
		if (!strcmp(s->lockouts[i].name, name))
			return &s->lockouts[i];
	if (!add || strlen(name) >= sizeof(s->lockouts[0].name))
		return NULL;
	/*
	 * Names are the attacker's to choose: a full table reuses the entry
	 * whose lockout ends first, so memory stays bounded.
	 */
	if (s->nlockouts == LOCKOUTS_MAX) {
		size_t old = 0;

		for (i = 1; i < s->nlockouts; i++)
			if (s->lockouts[i].until < s->lockouts[old].until)
				old = i;
		memset(&s->lockouts[old], 0, sizeof(s->lockouts[0]));
		snprintf(s->lockouts[old].name, sizeof(s->lockouts[0].name),
			 "%s", name);
		return &s->lockouts[old];
	}
	if (s->nlockouts == s->caplockouts) {
		s->caplockouts = s->caplockouts ? s->caplockouts * 2 : 16;
		s->lockouts = cv_realloc(s->lockouts,
					 s->caplockouts * sizeof(*s->lockouts));
	}
	memset(&s->lockouts[s->nlockouts], 0, sizeof(s->lockouts[0]));
	snprintf(s->lockouts[s->nlockouts].name, sizeof(s->lockouts[0].name),
		 "%s", name);
	return &s->lockouts[s->nlockouts++];
}

long vw_login_wait(struct vw_server *s, const char *name)
{
	struct vw_lockout *l;
	long wait = 0;
	time_t now = time(NULL);

	pthread_mutex_lock(&s->lock);
	l = lockout_of(s, name, 0);
	if (l && l->until > now)
		wait = (long)(l->until - now);
	pthread_mutex_unlock(&s->lock);
	return wait;
}

void vw_login_failed(struct vw_server *s, const char *name)
{
	struct vw_lockout *l;

	pthread_mutex_lock(&s->lock);
	l = lockout_of(s, name, 1);
	if (l && ++l->failures >= s->o->max_failures) {
		unsigned extra = l->failures - s->o->max_failures;
		long wait = LOCKOUT_BASE;

		while (extra-- > 0 && wait < LOCKOUT_MAX)
			wait *= 2;
		if (wait > LOCKOUT_MAX)
			wait = LOCKOUT_MAX;
		l->until = time(NULL) + wait;
	}
	pthread_mutex_unlock(&s->lock);
}

void vw_login_succeeded(struct vw_server *s, const char *name)
{
	struct vw_lockout *l;

	pthread_mutex_lock(&s->lock);
	l = lockout_of(s, name, 0);
	if (l) {
		l->failures = 0;
		l->until = 0;
	}
	pthread_mutex_unlock(&s->lock);
}

/*
 * Check a user's password: 0 and *user filled when it matches, else
 * CV_EMISMATCH, the same for an unknown, disabled or password-less user
 * (a hash is checked either way, so the time does not tell them apart).
 */
int vw_authenticate(struct vw_req *r, const char *name, const char *password,
		    struct cv_viewer_user *user, struct cv_error *err)
{
	struct vw_thread *t = vw_thread(r, err);
	struct cv_error ignore = CV_ERROR_INIT;
	struct cv_index_user u;
	char *phc = NULL;
	int ret, found;

	if (!t)
		return err->code;
	ret = cv_index_user_password(t->ix, name, &phc, err);
	if (ret < 0 && ret != CV_ENOTFOUND)
		return ret;
	found = ret == 0 && phc;
	ret = cv_archive_password_verify(found ? phc : r->srv->decoy, password,
					 &ignore);
	free(phc);
	if (!found || ret != 0) {
		if (found)
			cv_index_user_login_result(t->ix, name, 0, NULL,
						   &ignore);
		return cv_error_set(err, CV_EMISMATCH,
				    "the user name or password is not right");
	}
	ret = cv_index_user_get(t->ix, name, 0, &u, err);
	if (ret < 0)
		return ret;
	if (u.disabled || !cv_role_name(u.role))
		return cv_error_set(err, CV_EMISMATCH,
				    "the user name or password is not right");
	snprintf(user->name, sizeof(user->name), "%s", u.name);
	snprintf(user->role, sizeof(user->role), "%s", cv_role_name(u.role));
	cv_index_user_login_result(t->ix, name, 1, NULL, &ignore);
	return 0;
}

void vw_audit(struct vw_req *r, const char *actor, const char *action,
	      const char *object_type, const char *object_id,
	      const char *detail, const char *outcome)
{
	struct cv_error err = CV_ERROR_INIT;
	struct vw_thread *t = vw_thread(r, &err);

	if (!actor)
		actor = r->signed_in ? r->sess.user.name : "anonymous";
	if (!t || cv_index_audit(t->ix, actor, action, object_type, object_id,
				 detail, outcome, &err) < 0)
		cv_log_warnx("viewer: could not audit %s: %s", action, err.msg);
}

/* Collect form fields; a value may arrive in several pieces. */
static enum MHD_Result post_field(void *cls, enum MHD_ValueKind kind,
				  const char *key, const char *filename,
				  const char *content_type,
				  const char *transfer_encoding,
				  const char *data, uint64_t off, size_t size)
{
	struct vw_req *r = cls;
	struct vw_field *f = NULL;
	size_t have;

	(void)kind;
	(void)filename;
	(void)content_type;
	(void)transfer_encoding;
	if (off > 0 && r->nfields > 0 &&
	    !strcmp(r->fields[r->nfields - 1].name, key))
		f = &r->fields[r->nfields - 1];
	if (!f) {
		if (r->nfields == VW_MAX_FIELDS || vw_field(r, key)) {
			r->body_bad = 1;
			return MHD_NO;
		}
		f = &r->fields[r->nfields++];
		f->name = cv_strdup(key);
		f->value = cv_strdup("");
	}
	have = strlen(f->value);
	/* A NUL would end the value early; such a form is no form. */
	if (have + size > FIELD_MAX || (size && memchr(data, '\0', size))) {
		r->body_bad = 1;
		return MHD_NO;
	}
	f->value = cv_realloc(f->value, have + size + 1);
	memcpy(f->value + have, data, size);
	f->value[have + size] = '\0';
	return MHD_YES;
}

static void access_log(struct vw_req *r, size_t bytes)
{
	struct timespec now;
	char when[32];
	time_t t = time(NULL);
	struct tm tm;
	double ms;

	if (!r->srv->access)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - r->start.tv_sec) * 1e3 +
	     (double)(now.tv_nsec - r->start.tv_nsec) / 1e6;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	pthread_mutex_lock(&r->srv->lock);
	fprintf(r->srv->access, "%s %s %s %u %zu %.1fms %s\n", when, r->method,
		r->path, r->status, bytes, ms,
		r->signed_in ? r->sess.user.name : "-");
	fflush(r->srv->access);
	pthread_mutex_unlock(&r->srv->lock);
}

static enum MHD_Result respond(struct vw_req *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ok;
	size_t len = r->out.len;
	char *body = cv_buf_detach(&r->out, NULL);

	if (!r->status)
		r->status = MHD_HTTP_OK;
	resp = MHD_create_response_from_buffer(len, body,
					       MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
				r->ctype ? r->ctype
					 : "text/html; charset=utf-8");
	MHD_add_response_header(resp, "Content-Security-Policy", CSP);
	MHD_add_response_header(resp, "Cache-Control",
				r->cacheable ? "private, max-age=3600"
					     : "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (r->srv->tls)
		MHD_add_response_header(resp, "Strict-Transport-Security",
					"max-age=31536000");
	if (r->location)
		MHD_add_response_header(resp, "Location", r->location);
	if (r->set_cookie)
		MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
	if (r->disposition)
		MHD_add_response_header(resp, "Content-Disposition",
					r->disposition);
	ok = MHD_queue_response(r->conn, r->status, resp);
	MHD_destroy_response(resp);
	access_log(r, len);
	return ok;
}

/*
 * %HH decoded as libmicrohttpd does it, except that a decoded NUL, which
 * would silently cut a path or value short where its C string ends,
 * becomes DEL, which request_text_ok refuses.
 */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	size_t n = MHD_http_unescape(s), i;

	(void)cls;
	(void)conn;
	for (i = 0; i < n; i++)
		if (s[i] == '\0')
			s[i] = 0x7f;
	return n;
}

static enum MHD_Result arg_text_ok(void *cls, enum MHD_ValueKind kind,
				   const char *key, size_t key_size,
				   const char *value, size_t value_size)
{
	int *ok = cls;

	(void)kind;
	if (!cv_text_ok(key, key_size, 0) ||
	    (value && !cv_text_ok(value, value_size, 1))) {
		*ok = 0;
		return MHD_NO;
	}
	return MHD_YES;
}

/*
 * Every path, query argument and form field is UTF-8 text before a route
 * sees it: what PostgreSQL or a page would choke on is refused here, in
 * one place, with a 400.
 */
static int request_text_ok(struct vw_req *r)
{
	int ok = 1;
	size_t i;

	if (!cv_text_ok(r->path, strlen(r->path), 0))
		return 0;
	MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, arg_text_ok,
				    &ok);
	for (i = 0; ok && i < r->nfields; i++)
		ok = cv_text_ok(r->fields[i].name, strlen(r->fields[i].name),
				0) &&
		     cv_text_ok(r->fields[i].value, strlen(r->fields[i].value),
				1);
	return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct vw_server *s = cls;
	struct vw_req *r = *con_cls;

	(void)version;
	if (!r) {
		const char *ctype, *clen;

		r = cv_calloc(1, sizeof(*r));
		r->srv = s;
		r->conn = conn;
		r->method = method;
		r->path = cv_strdup(url);
		cv_buf_init(&r->out);
		clock_gettime(CLOCK_MONOTONIC, &r->start);
		*con_cls = r;
		if (strcmp(method, "POST"))
			return MHD_YES;
		/* Refuse a body we will not read before reading it. */
		clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						   "Content-Length");
		ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						    "Content-Type");
		if (clen && strtoull(clen, NULL, 10) > VW_MAX_BODY) {
			vw_error_page(r, MHD_HTTP_CONTENT_TOO_LARGE,
				      "The request is too large.");
			return respond(r);
		}
		if (ctype &&
		    !strncmp(ctype, "application/x-www-form-urlencoded", 33))
			r->pp = MHD_create_post_processor(conn, 4096,
							  post_field, r);
		else
			r->body_bad = 1;
		return MHD_YES;
	}
	if (*upload_size) {
		r->body_len += *upload_size;
		if (r->body_len > VW_MAX_BODY)
			r->body_bad = 1;
		else if (r->pp && !r->body_bad &&
			 MHD_post_process(r->pp, upload, *upload_size) !=
				 MHD_YES)
			r->body_bad = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	resolve_session(r);
	if (strcmp(method, "GET") && strcmp(method, "HEAD") &&
	    strcmp(method, "POST"))
		vw_error_page(r, MHD_HTTP_METHOD_NOT_ALLOWED,
			      "That method is not allowed.");
	else if (r->body_bad)
		vw_error_page(r, MHD_HTTP_BAD_REQUEST,
			      "The form could not be read.");
	else if (!request_text_ok(r))
		vw_error_page(r, MHD_HTTP_BAD_REQUEST,
			      "The request holds characters that are not "
			      "text.");
	else
		vw_route(r);
	return respond(r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct vw_req *r = *con_cls;
	size_t i;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!r)
		return;
	if (r->pp)
		MHD_destroy_post_processor(r->pp);
	for (i = 0; i < r->nfields; i++) {
		free(r->fields[i].name);
		cv_wipe(r->fields[i].value, strlen(r->fields[i].value));
		free(r->fields[i].value);
	}
	cv_wipe(&r->sess, sizeof(r->sess));
	cv_buf_release(&r->out);
	free(r->path);
	free(r->location);
	free(r->set_cookie);
	free(r->disposition);
	free(r);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	cv_log_warnx("viewer: %s", msg);
}

/* "host:port", "[v6]:port" or ":port" into an address to bind. */
static int parse_listen(const char *spec, struct sockaddr_storage *ss,
			socklen_t *sslen, struct cv_error *err)
{
	char host[256], *end;
	const char *colon, *h = spec;
	struct addrinfo hints, *ai = NULL;
	unsigned long port;
	size_t hl;
	int rc;

	colon = strrchr(spec, ':');
	if (!colon)
		return cv_error_set(err, CV_EINVAL,
				    "listen address '%s' has no port", spec);
	hl = (size_t)(colon - spec);
	if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
		h = spec + 1;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return cv_error_set(err, CV_EINVAL, "listen address too long");
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port == 0 || port > 65535)
		return cv_error_set(err, CV_EINVAL,
				    "listen address '%s': bad port", spec);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &ai);
	if (rc != 0)
		return cv_error_set(err, CV_EINVAL, "listen address '%s': %s",
				    spec, gai_strerror(rc));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sslen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/*
 * viewer.threads 0: eight threads per core. A request mostly waits for
 * the database (and every view for its audit row to commit), so more
 * requests in flight than cores keep the cores busy, and let the audit
 * writer commit many views' rows at once (audit.c). With both, under 20
 * clients on 2 busy cores, the search page's p95 fell from ~390 to ~255
 * ms (bench/viewer.sh; docs/VIEWER-SEARCH.md).
 */
static unsigned default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 8 : n > 8 ? 64 : 8 * (unsigned)n;
}

int cv_viewer_serve(const struct cv_viewer_opts *o, struct cv_error *err)
{
	struct vw_server s;
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct cv_buf cert = CV_BUF_INIT, key = CV_BUF_INIT;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	unsigned threads = o->threads ? o->threads : default_threads();
	sigset_t stop;
	int ret, sig;

	memset(&s, 0, sizeof(s));
	s.o = o;
	ret = parse_listen(o->listen, &ss, &sslen, err);
	if (ret < 0)
		return ret;
	if (!!o->tls_cert != !!o->tls_key)
		return cv_error_set(err, CV_EINVAL,
				    "HTTPS needs both a certificate and a key");
	if (o->tls_cert) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
			return cv_error_set(
				err, CV_EUNAVAIL,
				"this libmicrohttpd was built without TLS");
		ret = cv_fs_read_file(&cert, o->tls_cert, 1u << 20, err);
		if (ret == 0)
			ret = cv_fs_read_file(&key, o->tls_key, 1u << 20, err);
		if (ret < 0)
			goto cleanup;
		s.tls = 1;
		flags |= MHD_USE_TLS;
	}
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL))
		flags |= MHD_USE_EPOLL;
	if (o->access_log) {
		s.access = fopen(o->access_log, "ae");
		if (!s.access) {
			ret = cv_error_set(err, CV_ERROR,
					   "could not open the access log");
			cv_error_detail(err, "%s: %s", o->access_log,
					strerror(errno));
			goto cleanup;
		}
	}
	pthread_mutex_init(&s.lock, NULL);
	{
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		sem_init(&s.renders, 0, n < 1 ? 1 : (unsigned)n);
	}
	s.images = vw_cache_new((size_t)o->cache_mb << 20);
	pthread_key_create(&s.thread_key, close_thread);
	s.auditq = vw_auditq_start(o); /* NULL: views audit one by one */
	{
		/* A hash no password matches, checked for unknown users. */
		char secret[VW_TOKEN_HEX + 1];

		random_hex(secret);
		ret = cv_archive_password_hash(&s.decoy, secret, err);
		cv_wipe(secret, sizeof(secret));
	}
	if (ret < 0)
		goto cleanup_started;
	ret = cv_index_synonyms_builtin(&s.synonyms, err);
	if (ret < 0)
		goto cleanup_started;
	s.daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, handle, &s,
		/* First, so that MHD's own complaints go to our log. */
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
		/* Caps the request line and headers together. */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
		MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
		MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_NOTIFY_COMPLETED,
		completed, NULL,
		s.tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert.buf,
		MHD_OPTION_HTTPS_MEM_KEY, key.buf, MHD_OPTION_END);
	cv_wipe(key.buf, key.len);
	if (!s.daemon) {
		ret = cv_error_set(err, CV_EUNAVAIL, "could not serve on %s",
				   o->listen);
		cv_error_hint(err,
			      "is the address in use, or the certificate bad?");
		goto cleanup_started;
	}
	cv_log_info("viewer: serving on %s://%s", s.tls ? "https" : "http",
		    o->listen);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigwait(&stop, &sig);
	cv_log_info("viewer: signal %d, stopping", sig);
	MHD_stop_daemon(s.daemon);
	ret = 0;
cleanup_started:
	/* No request is left to wait for it: write what is queued, stop. */
	vw_auditq_stop(s.auditq);
	/* The pool threads are gone; this thread's connection, if any. */
	close_thread(pthread_getspecific(s.thread_key));
	pthread_key_delete(s.thread_key);
	pthread_mutex_destroy(&s.lock);
	sem_destroy(&s.renders);
	while (s.nsessions > 0)
		drop_session(&s, 0);
	free(s.sessions);
	free(s.lockouts);
	vw_cache_free(s.images);
	free(s.decoy);
	cv_index_synonyms_free(s.synonyms);
cleanup:
	if (s.access)
		fclose(s.access);
	cv_buf_release(&cert);
	cv_wipe(key.buf, key.len);
	cv_buf_release(&key);
	return ret;
}
