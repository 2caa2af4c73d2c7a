/*
 * Who is acting, and may they: the role check every command that reads or
 * changes patient data goes through, and the signed audit checkpoints
 * written after commands.
 *
 * On the command line the acting person is the OS login of the real user
 * id, mapped to a chartvault user (users.os_user). There is deliberately
 * no way to name another user (no option, no environment variable): the
 * login is what the operating system vouches for. The command table's
 * roles column (main.c) says who may run what; docs/ROLES.md explains
 * the matrix and the deployment.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/banned.h"

static char *login_name(void)
{
	struct passwd *pw = getpwuid(getuid());

	if (pw && pw->pw_name && *pw->pw_name)
		return cv_strdup(pw->pw_name);
	return cv_asprintf("uid-%ld", (long)getuid());
}

/* Name the roles in mask: "compliance or admin". */
static void roles_text(char *out, size_t n, unsigned mask)
{
	unsigned bit;
	size_t used = 0;
	int count = 0, total = 0;

	for (bit = 1; bit <= CV_ROLE_ADMIN; bit <<= 1)
		total += (mask & bit) != 0;
	out[0] = '\0';
	for (bit = 1; bit <= CV_ROLE_ADMIN; bit <<= 1) {
		if (!(mask & bit))
			continue;
		count++;
		used += (size_t)snprintf(out + used, used < n ? n - used : 0,
					 "%s%s",
					 count == 1       ? ""
					 : count == total ? " or "
							  : ", ",
					 cv_role_name(bit));
		if (used >= n)
			break;
	}
	if (!count)
		snprintf(out, n, "(no role)");
}

static void set_context(struct cli *c, const char *role)
{
	struct cv_index_audit_ctx ctx;
	char host[256], session[32];

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(session, sizeof(session), "cli:%ld", (long)getpid());
	ctx.role = role;
	ctx.os_user = c->login;
	ctx.host = host;
	ctx.session = session;
	cv_index_audit_set_context(c->ix, &ctx);
}

/* Record a refused attempt; the refusal stands even if this fails. */
static void audit_denied(struct cli *c, const char *actor, const char *role,
			 const char *what, const char *why)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_audit_entry e;

	set_context(c, role);
	memset(&e, 0, sizeof(e));
	e.actor = actor;
	e.action = "access.denied";
	e.object_type = "command";
	e.object_id = what;
	e.detail = why;
	e.outcome = "denied";
	if (cv_index_audit_append(c->ix, &e, NULL, &err) < 0) {
		cv_error_prefix(&err, "the refusal was not audited");
		cv_log_error(&err);
	}
}

/*
 * The command line's sign-in: who ran which command, also when the
 * command leaves no row of its own (batch list). Fail closed: what cannot
 * be audited does not run.
 */
static int audit_login(struct cli *c, const char *what)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_audit_entry e;

	memset(&e, 0, sizeof(e));
	e.actor = c->actor;
	e.action = "login";
	e.object_type = "command";
	e.object_id = what;
	e.detail = "cli";
	if (cv_index_audit_append(c->ix, &e, NULL, &err) < 0) {
		cv_error_prefix(&err, "'%s' is refused", what);
		return cli_fail(&err);
	}
	return 0;
}

/* Root, or the owner of the archive folder's marker file. */
static int archive_owner(const struct cli *c)
{
	struct stat st;
	char *marker;
	int ok;

	if (getuid() == 0)
		return 1;
	if (!c->dir)
		return 0;
	marker = cv_path_join(c->dir, CLI_MARKER);
	ok = stat(marker, &st) == 0 && st.st_uid == getuid();
	free(marker);
	return ok;
}

static int refuse(const char *fmt, const char *a, const char *b,
		  const char *hint)
{
	struct cv_error err = CV_ERROR_INIT;

	cv_error_set(&err, CV_ERROR, fmt, a, b);
	if (hint)
		cv_error_hint(&err, "%s", hint);
	cv_log_error(&err);
	return CLI_REFUSED;
}

int cli_authorize(struct cli *c, unsigned roles, const char *what)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_user u;
	char need[64], why[160], hint[256];
	int64_t nusers = 0;
	int first, ret;

	if (!c->login)
		c->login = login_name();
	if (!c->ix) {
		cv_error_set(&err, CV_ERROR,
			     "could not check who may run '%s': no database",
			     what);
		return cli_fail(&err);
	}
	if (roles == 0) {
		/* Fail closed: a table row without roles is a bug. */
		audit_denied(c, c->login, NULL, what, "command has no roles");
		return refuse(
			"nobody may run '%s': the command lists no roles%s",
			what, "", "this is a bug in chartvault");
	}
	ret = cv_index_user_get(c->ix, c->login, 1, &u, &err);
	if (ret == CV_ENOTFOUND) {
		ret = cv_index_user_count(c->ix, &nusers, &err);
		if (ret < 0)
			return cli_fail(&err);
		if (nusers == 0 && !strcmp(what, "user add") &&
		    archive_owner(c)) {
			/* Bootstrap of an archive made before users. */
			c->actor = c->login;
			c->role = CV_ROLE_ADMIN;
			set_context(c, "admin");
			return 0;
		}
		audit_denied(c, c->login, NULL, what,
			     nusers ? "not a chartvault user"
				    : "archive has no users");
		if (nusers == 0)
			return refuse(
				"this archive has no users yet, so '%s' is refused for OS user '%s'",
				what, c->login,
				"the archive's owner (or root) creates the first administrator: chartvault user add NAME --role admin --os-user LOGIN");
		snprintf(
			hint, sizeof(hint),
			"an administrator can add you: chartvault user add NAME --role ROLE --os-user %s",
			c->login);
		return refuse(
			"OS user '%s' is not a chartvault user of this archive; '%s' is refused",
			c->login, what, hint);
	}
	if (ret < 0)
		return cli_fail(&err);
	free(c->user_name);
	c->user_name = cv_strdup(u.name);
	if (u.disabled) {
		audit_denied(c, c->user_name, cv_role_name(u.role), what,
			     "account disabled");
		return refuse(
			"user '%s' is disabled; '%s' is refused", c->user_name,
			what,
			"an administrator can give the person a new account");
	}
	if (!(roles & u.role)) {
		roles_text(need, sizeof(need), roles);
		snprintf(why, sizeof(why), "role %s; needs %s",
			 cv_role_name(u.role), need);
		audit_denied(c, c->user_name, cv_role_name(u.role), what, why);
		snprintf(hint, sizeof(hint), "'%s' needs the role %s", what,
			 need);
		return refuse("user '%s' (role %s) may not run this command",
			      c->user_name, cv_role_name(u.role), hint);
	}
	/* One sign-in per run: a second check inside a command is not one. */
	first = c->role == 0;
	c->actor = c->user_name;
	c->role = u.role;
	set_context(c, cv_role_name(u.role));
	return first ? audit_login(c, what) : 0;
}

char *cli_checkpoint_file(const struct cli *c)
{
	const char *f = c->cfg.audit_checkpoint_file;

	if (!f || !*f)
		f = "audit/checkpoints.log";
	if (f[0] == '/')
		return cv_strdup(f);
	return cv_path_join(c->dir, f);
}

void cli_audit_checkpoint_if_due(struct cli *c)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_archive_audit_cp_opts o;
	struct cv_archive_keys *own = NULL;
	const struct cv_archive_keys *keys = c->keys;
	int64_t cp_seq, cp_time, head_seq, head_time;
	char *file = NULL, *path = NULL;
	int need = 0, written = 0, ret;

	if (!c->ix || !c->dir)
		return;
	memset(&o, 0, sizeof(o));
	o.every_rows = c->cfg.audit_checkpoint_rows;
	o.every_minutes = c->cfg.audit_checkpoint_minutes;
	/* Cheap test first: most commands find nothing due. */
	ret = cv_index_audit_due(c->ix, &cp_seq, &cp_time, &head_seq,
				 &head_time, &err);
	if (ret < 0)
		goto out;
	if (head_seq <= cp_seq ||
	    !(cp_seq == 0 || head_seq - cp_seq >= o.every_rows ||
	      (int64_t)time(NULL) - cp_time >= o.every_minutes * 60))
		goto out;
	if (!keys) {
		path = c->cfg.keys_file[0] == '/'
			       ? cv_strdup(c->cfg.keys_file)
			       : cv_path_join(c->dir, c->cfg.keys_file);
		ret = cv_archive_keys_need_passphrase(path, &need, &err);
		/* A sealed key file waits for a command that unlocks it. */
		if (ret < 0 || need)
			goto out;
		ret = cv_archive_keys_load(&own, path, NULL, &err);
		if (ret < 0)
			goto out;
		keys = own;
	}
	file = cli_checkpoint_file(c);
	ret = cv_archive_audit_checkpoint(c->ix, keys, file, &o, NULL, &written,
					  &err);
out:
	if (ret < 0) {
		cv_error_prefix(&err, "no audit checkpoint was signed");
		cv_log_error(&err);
	}
	cv_archive_keys_free(own);
	free(path);
	free(file);
}
