/*
 * Users and roles: the people who may use an archive, each with one role,
 * mapped to an OS login for the command line and holding a password hash
 * for the viewer. Users are never deleted, only disabled, because the
 * audit trail names them for years after they leave.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

static const char *const role_names[] = { "clerk", "records", "compliance",
					  "admin" };

const char *cv_role_name(unsigned role)
{
	size_t i;

	for (i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (role == 1u << i)
			return role_names[i];
	return NULL;
}

unsigned cv_role_parse(const char *name)
{
	size_t i;

	for (i = 0; name && i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (!strcmp(name, role_names[i]))
			return 1u << i;
	return 0;
}

int cv_index_user_name_ok(const char *name)
{
	size_t i, n = name ? strlen(name) : 0;

	if (n == 0 || n > CV_USER_NAME_MAX)
		return 0;
	if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
		return 0;
	for (i = 1; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '.' || ch == '-'))
			return 0;
	}
	return 1;
}

/* An OS login as the system accepts it: printable, no ':' or '/'. */
static int os_user_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > CV_USER_NAME_MAX || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == ':' || s[i] == '/' ||
		    (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

static const char ADD[] =
	"INSERT INTO users (name, os_user, full_name, role, created_by)"
	" VALUES ($1, $2, $3, $4, $5)";

int cv_index_user_add(struct cv_index *ix, const struct cv_index_user *u,
		      const char *created_by, struct cv_error *err)
{
	const char *role = cv_role_name(u->role);
	const char *params[5] = { u->name, u->os_user[0] ? u->os_user : NULL,
				  u->full_name[0] ? u->full_name : NULL, role,
				  created_by };
	PGresult *res;
	int ret = 0;

	if (!cv_index_user_name_ok(u->name))
		return cv_error_set(
			err, CV_EINVAL,
			"'%s' is not a valid user name (lower-case letters, digits, '_', '.', '-'; up to 64, starting with a letter or '_')",
			u->name);
	if (!role)
		return cv_error_set(
			err, CV_EINVAL,
			"a user needs one of the roles clerk, records, compliance, admin");
	if (u->os_user[0] && !os_user_ok(u->os_user))
		return cv_error_set(err, CV_EINVAL,
				    "'%s' is not a valid OS login name",
				    u->os_user);
	res = PQexecParams(ix->conn, ADD, 5, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not add user '%s'", u->name);
		if (ret == CV_EEXISTS)
			cv_error_hint(
				err,
				"the user name or the OS login is taken; 'chartvault user list' shows who has it");
	}
	PQclear(res);
	return ret;
}

#define USER_COLUMNS                                                            \
	"id, name, coalesce(os_user, ''), coalesce(full_name, ''), role,"       \
	" disabled_at IS NOT NULL, password_hash IS NOT NULL,"                  \
	" to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')," \
	" coalesce(created_by, '')"

static int read_user(struct cv_index_user *u, const PGresult *res, int i)
{
	memset(u, 0, sizeof(*u));
	if (cv_index__get_i64(&u->id, res, i, 0) < 0)
		return CV_ERROR;
	snprintf(u->name, sizeof(u->name), "%s", PQgetvalue(res, i, 1));
	snprintf(u->os_user, sizeof(u->os_user), "%s", PQgetvalue(res, i, 2));
	snprintf(u->full_name, sizeof(u->full_name), "%s",
		 PQgetvalue(res, i, 3));
	u->role = cv_role_parse(PQgetvalue(res, i, 4));
	u->disabled = !strcmp(PQgetvalue(res, i, 5), "t");
	u->has_password = !strcmp(PQgetvalue(res, i, 6), "t");
	snprintf(u->created, sizeof(u->created), "%s", PQgetvalue(res, i, 7));
	snprintf(u->created_by, sizeof(u->created_by), "%s",
		 PQgetvalue(res, i, 8));
	return u->role ? 0 : CV_ERROR;
}

int cv_index_user_get(struct cv_index *ix, const char *key, int by_os,
		      struct cv_index_user *out, struct cv_error *err)
{
	const char *params[1] = { key };
	PGresult *res;
	int ret;

	memset(out, 0, sizeof(*out));
	res = PQexecParams(
		ix->conn,
		by_os ? "SELECT " USER_COLUMNS " FROM users WHERE os_user = $1"
		      : "SELECT " USER_COLUMNS " FROM users WHERE name = $1",
		1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not look up user '%s'", key);
		goto cleanup;
	}
	if (PQntuples(res) != 1) {
		ret = cv_error_set(
			err, CV_ENOTFOUND,
			by_os ? "OS user '%s' is not mapped to a chartvault user"
			      : "there is no user '%s'",
			key);
		goto cleanup;
	}
	if (read_user(out, res, 0) < 0) {
		ret = cv_error_set(err, CV_ERROR,
				   "could not read user '%s': malformed row",
				   key);
		goto cleanup;
	}
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_user_list(struct cv_index *ix, struct cv_index_user **out,
		       size_t *n, struct cv_error *err)
{
	struct cv_index_user *v = NULL;
	PGresult *res;
	int i, rows, ret;

	*out = NULL;
	*n = 0;
	res = PQexecParams(ix->conn,
			   "SELECT " USER_COLUMNS " FROM users ORDER BY name",
			   0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not list the users");
		goto cleanup;
	}
	rows = PQntuples(res);
	v = cv_calloc((size_t)rows + 1, sizeof(*v));
	for (i = 0; i < rows; i++) {
		if (read_user(&v[i], res, i) < 0) {
			ret = cv_error_set(
				err, CV_ERROR,
				"could not list the users: row %d is malformed",
				i + 1);
			goto cleanup;
		}
	}
	*out = v;
	*n = (size_t)rows;
	v = NULL;
	ret = 0;
cleanup:
	free(v);
	PQclear(res);
	return ret;
}

int cv_index_user_count(struct cv_index *ix, int64_t *n, struct cv_error *err)
{
	PGresult *res;
	int ret = 0;

	*n = 0;
	res = PQexecParams(ix->conn, "SELECT count(*) FROM users", 0, NULL,
			   NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    cv_index__get_i64(n, res, 0, 0) < 0)
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not count the users");
	PQclear(res);
	return ret;
}

/* Run an UPDATE of one user by name; CV_ENOTFOUND when none matched. */
static int update_user(struct cv_index *ix, const char *sql, int nparams,
		       const char *const *params, const char *what,
		       struct cv_error *err)
{
	PGresult *res;
	int ret = 0;

	res = PQexecParams(ix->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not %s of user '%s'", what,
					 params[0]);
	else if (!strcmp(PQcmdTuples(res), "0"))
		ret = cv_error_set(err, CV_ENOTFOUND, "there is no user '%s'",
				   params[0]);
	PQclear(res);
	return ret;
}

int cv_index_user_set_role(struct cv_index *ix, const char *name, unsigned role,
			   struct cv_error *err)
{
	const char *params[2] = { name, cv_role_name(role) };

	if (!params[1])
		return cv_error_set(
			err, CV_EINVAL,
			"a user needs one of the roles clerk, records, compliance, admin");
	return update_user(ix, "UPDATE users SET role = $2 WHERE name = $1", 2,
			   params, "change the role", err);
}

int cv_index_user_disable(struct cv_index *ix, const char *name,
			  struct cv_error *err)
{
	const char *params[1] = { name };

	/* Disabling also drops the password, so no old hash lingers. */
	return update_user(
		ix,
		"UPDATE users SET disabled_at = coalesce(disabled_at, now()),"
		" password_hash = NULL WHERE name = $1",
		1, params, "disable the account", err);
}

int cv_index_user_set_password(struct cv_index *ix, const char *name,
			       const char *phc, struct cv_error *err)
{
	const char *params[2] = { name, phc };

	return update_user(ix,
			   "UPDATE users SET password_hash = $2,"
			   " password_set_at = now(), failed_logins = 0"
			   " WHERE name = $1",
			   2, params, "set the password", err);
}

int cv_index_user_password(struct cv_index *ix, const char *name, char **phc,
			   struct cv_error *err)
{
	const char *params[1] = { name };
	PGresult *res;
	int ret = 0;

	*phc = NULL;
	res = PQexecParams(ix->conn,
			   "SELECT password_hash FROM users"
			   " WHERE name = $1 AND disabled_at IS NULL",
			   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read the password of '%s'",
					 name);
	else if (PQntuples(res) != 1)
		ret = cv_error_set(err, CV_ENOTFOUND,
				   "there is no enabled user '%s'", name);
	else if (!PQgetisnull(res, 0, 0))
		*phc = cv_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return ret;
}

int cv_index_user_login_result(struct cv_index *ix, const char *name, int ok,
			       int64_t *failures, struct cv_error *err)
{
	const char *params[1] = { name };
	PGresult *res;
	int ret = 0;

	if (failures)
		*failures = 0;
	res = PQexecParams(
		ix->conn,
		ok ? "UPDATE users SET failed_logins = 0, last_login_at = now()"
		     " WHERE name = $1 RETURNING failed_logins"
		   : "UPDATE users SET failed_logins = failed_logins + 1"
		     " WHERE name = $1 RETURNING failed_logins",
		1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not record a sign-in of '%s'",
					 name);
	else if (PQntuples(res) != 1)
		ret = cv_error_set(err, CV_ENOTFOUND, "there is no user '%s'",
				   name);
	else if (failures)
		cv_index__get_i64(failures, res, 0, 0);
	PQclear(res);
	return ret;
}
