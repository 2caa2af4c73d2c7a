/*
 * The screens. Each route says who may open it; vw_route checks that,
 * the sign-in and the CSRF token before the route runs, so a route only
 * renders. A document the user may not see and one that does not exist
 * get the same answer, so ids cannot be probed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viewer_int.h"
#include "common/log.h"
#include "common/banned.h"

void vw_not_found(struct vw_req *r)
{
	vw_error_page(r, 404, "There is no such page or document.");
}

void vw_failed(struct vw_req *r, const struct cv_error *err)
{
	cv_log_error(err);
	vw_error_page(r, 500,
		      "Something went wrong; the error has been logged.");
}

int64_t vw_parse_id(const char *s)
{
	long long v;

	if (!s || cv_parse_ll(&v, s, 1, INT64_MAX) < 0)
		return 0;
	return (int64_t)v;
}

/* ---------------------------------------------------------------------
 * Sign-in
 */

/* Only a path of this site: never "//host" or "https://...". */
static const char *local_next(const char *next)
{
	if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\' ||
	    strpbrk(next, "\r\n"))
		return "/";
	return next;
}

static void login_form(struct vw_req *r, const char *msg, const char *name,
		       const char *next)
{
	struct cv_buf *b = &r->out;

	vw_page_begin(r, "Sign in");
	cv_buf_adds(b, "<h1>Sign in</h1>");
	if (msg) {
		cv_buf_adds(b, "<p class=\"error\" role=\"alert\">");
		vw_esc(b, msg);
		cv_buf_adds(b, "</p>");
	}
	cv_buf_adds(b, "<form class=\"login\" method=\"post\" "
		       "action=\"/login\"><input type=\"hidden\" "
		       "name=\"next\" value=\"");
	vw_esc(b, local_next(next));
	cv_buf_adds(b, "\"><label for=\"user\">User name</label>"
		       "<input id=\"user\" name=\"user\" "
		       "autocomplete=\"username\" required value=\"");
	vw_esc(b, name ? name : "");
	cv_buf_adds(b, "\"><label for=\"password\">Password</label>"
		       "<input id=\"password\" name=\"password\" "
		       "type=\"password\" autocomplete=\"current-password\" "
		       "required><button type=\"submit\">Sign in</button>"
		       "</form>");
	vw_page_end(r);
}

static void route_login(struct vw_req *r)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_viewer_user user;
	const char *name, *pass, *next;
	char msg[128];
	long wait;
	int ret;

	if (strcmp(r->method, "POST")) {
		login_form(r, NULL, NULL, vw_arg(r, "next"));
		return;
	}
	name = vw_field(r, "user");
	pass = vw_field(r, "password");
	next = vw_field(r, "next");
	if (!name || !*name || !pass || strlen(name) >= sizeof(user.name)) {
		r->status = 400;
		login_form(r, "Enter your user name and password.", NULL, next);
		return;
	}
	wait = vw_login_wait(r->srv, name);
	if (wait > 0) {
		vw_audit(r, name, "login", "user", name, "locked out",
			 "denied");
		snprintf(msg, sizeof(msg),
			 "Too many failed attempts. Try again in %ld seconds.",
			 wait);
		r->status = 429;
		login_form(r, msg, name, next);
		return;
	}
	memset(&user, 0, sizeof(user));
	ret = vw_authenticate(r, name, pass, &user, &err);
	if (ret == CV_EMISMATCH) {
		vw_login_failed(r->srv, name);
		vw_audit(r, name, "login", "user", name, "bad credentials",
			 "denied");
		r->status = 401;
		login_form(r, "The user name or password is not right.", name,
			   next);
		return;
	}
	if (ret < 0) {
		vw_failed(r, &err);
		return;
	}
	vw_login_succeeded(r->srv, name);
	vw_session_start(r, &user);
	vw_audit(r, NULL, "login", "user", user.name, NULL, "ok");
	vw_redirect(r, local_next(next));
}

static void route_logout(struct vw_req *r)
{
	vw_audit(r, NULL, "logout", "user", r->sess.user.name, NULL, "ok");
	vw_session_end(r);
	vw_redirect(r, "/login");
}

static void route_home(struct vw_req *r)
{
	vw_redirect(r, vw_role_in(r, VW_STAFF) ? "/search" : "/batches");
}

static void route_static(struct vw_req *r, const char *name)
{
	size_t i;

	for (i = 0; i < vw_nassets; i++)
		if (!strcmp(vw_assets[i].name, name)) {
			cv_buf_add(&r->out, vw_assets[i].data,
				   vw_assets[i].len);
			r->ctype = vw_assets[i].type;
			r->cacheable = 1;
			return;
		}
	vw_not_found(r);
}

/* ---------------------------------------------------------------------
 * Dispatch
 */

/* "/doc/12" with prefix "/doc/" -> 12; suffix must follow the id. */
static int64_t path_id(const char *path, const char *prefix, const char *suffix)
{
	size_t pl = strlen(prefix), sl = strlen(suffix), len = strlen(path);
	char num[24];

	if (strncmp(path, prefix, pl) || len < pl + sl + 1 ||
	    strcmp(path + len - sl, suffix) || len - pl - sl >= sizeof(num))
		return 0;
	memcpy(num, path + pl, len - pl - sl);
	num[len - pl - sl] = '\0';
	return vw_parse_id(num);
}

static void route_logout_post(struct vw_req *r, int64_t id)
{
	(void)id;
	route_logout(r);
}

static void route_home_get(struct vw_req *r, int64_t id)
{
	(void)id;
	route_home(r);
}

static const struct vw_route core_routes[] = {
	{ "GET", "/", NULL, "", route_home_get, NULL },
	{ "POST", "/logout", NULL, "", route_logout_post, NULL },
	{ NULL, NULL, NULL, NULL, NULL, NULL },
};

/* Every screen, one table per file of viewer/: one a line, for merges. */
/* clang-format off */
static const struct vw_route *const route_tables[] = {
	core_routes,
	vw_routes_search,
	vw_routes_chart,
	vw_routes_doc,
	vw_routes_batches,
	vw_routes_qa,
	vw_routes_queue,
	vw_routes_compliance,
	vw_routes_access,
};
/* clang-format on */

void vw_nav_items(struct vw_req *r)
{
	size_t i;
	const struct vw_route *rt;

	for (i = 0; i < sizeof(route_tables) / sizeof(route_tables[0]); i++)
		for (rt = route_tables[i]; rt->prefix; rt++) {
			if (!rt->nav ||
			    (rt->roles[0] && !vw_role_in(r, rt->roles)))
				continue;
			cv_buf_adds(&r->out, "<li><a href=\"");
			vw_esc(&r->out, rt->prefix);
			cv_buf_adds(&r->out, "\">");
			vw_esc(&r->out, rt->nav);
			cv_buf_adds(&r->out, "</a></li>");
		}
}

/* The route for r's path, and in *id the number in it; NULL if none. */
static const struct vw_route *find_route(const char *path, const char *method,
					 int64_t *id, int *other_method)
{
	size_t i;
	const struct vw_route *rt;

	*other_method = 0;
	for (i = 0; i < sizeof(route_tables) / sizeof(route_tables[0]); i++)
		for (rt = route_tables[i]; rt->prefix; rt++) {
			if (rt->suffix)
				*id = path_id(path, rt->prefix, rt->suffix);
			else
				*id = !strcmp(path, rt->prefix) ? 0 : -1;
			if (*id < 0 || (rt->suffix && *id == 0))
				continue;
			/* HEAD is a GET whose body libmicrohttpd drops. */
			if (strcmp(rt->method, method) &&
			    (strcmp(method, "HEAD") ||
			     strcmp(rt->method, "GET"))) {
				*other_method = 1;
				continue;
			}
			return rt;
		}
	return NULL;
}

void vw_route(struct vw_req *r)
{
	const char *p = r->path;
	int post = !strcmp(r->method, "POST");
	const struct vw_route *rt;
	int other_method;
	int64_t id;

	if (!strncmp(p, "/static/", 8) && !post) {
		route_static(r, p + 8);
		return;
	}
	if (!strcmp(p, "/login")) {
		route_login(r);
		return;
	}
	if (!r->signed_in) {
		struct cv_buf next = CV_BUF_INIT;

		if (post) {
			vw_error_page(r, 403,
				      "Your session has ended; sign "
				      "in again.");
			return;
		}
		cv_buf_adds(&next, "/login?next=");
		vw_urlesc(&next, p);
		vw_redirect(r, next.buf);
		cv_buf_release(&next);
		return;
	}
	/* Every state-changing request carries the session's token. */
	if (post && !vw_csrf_ok(r)) {
		vw_audit(r, NULL, "csrf", "request", r->path, NULL, "denied");
		vw_error_page(r, 403,
			      "This form has expired; go back, reload "
			      "the page and try again.");
		return;
	}
	rt = find_route(p, r->method, &id, &other_method);
	if (!rt) {
		if (other_method)
			vw_error_page(r, 405, "That cannot be done here.");
		else
			vw_not_found(r);
		return;
	}
	/* An empty roles string: any signed-in user. */
	if (rt->roles[0] && !vw_role_in(r, rt->roles)) {
		vw_audit(r, NULL, "access", "screen", p, NULL, "denied");
		vw_error_page(r, 403,
			      "Your role does not give access to "
			      "this screen.");
		return;
	}
	rt->fn(r, id);
}
