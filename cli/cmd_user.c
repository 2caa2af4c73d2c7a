/*
 * chartvault user add|list|disable|role|passwd: the people who may use
 * the archive and their roles. Every change is audited; a user is never
 * deleted, because the audit trail names them for as long as it is kept.
 * The archive always keeps one enabled administrator, so that nobody can
 * lock everyone out by mistake.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common/banned.h"

#define PASSWORD_MIN 12
#define PASSWORD_MAX 1024

static void audit_change(struct cli *c, const char *action, const char *name,
			 const char *detail, int ret)
{
	struct cv_error err = CV_ERROR_INIT;

	if (cv_index_audit(c->ix, c->actor, action, "user", name, detail,
			   ret == 0 ? "ok" : cv_errcode_name(ret), &err) < 0)
		cv_log_error(&err);
}

/* How many enabled admins there are besides name. */
static int other_admins(struct cli *c, const char *name, size_t *count,
			struct cv_error *err)
{
	struct cv_index_user *v = NULL;
	size_t n = 0, i;
	int ret;

	*count = 0;
	ret = cv_index_user_list(c->ix, &v, &n, err);
	for (i = 0; ret == 0 && i < n; i++)
		if (v[i].role == CV_ROLE_ADMIN && !v[i].disabled &&
		    strcmp(v[i].name, name) != 0)
			(*count)++;
	free(v);
	return ret;
}

static int user_add(struct cli *c, const struct cv_cmd *cmd, int argc,
		    char **argv)
{
	static const struct option longopts[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "os-user", required_argument, NULL, 'o' },
		{ "full-name", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_user u;
	char detail[160];
	const char *role = NULL, *os = NULL, *full = NULL;
	int opt, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			role = optarg;
			break;
		case 'o':
			os = optarg;
			break;
		case 'f':
			full = optarg;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "user add takes one user name");
	if (!role)
		return cli_usage(cmd, "user add needs --role");
	memset(&u, 0, sizeof(u));
	u.role = cv_role_parse(role);
	if (!u.role)
		return cli_usage(
			cmd,
			"'%s' is not a role (clerk, records, compliance, admin)",
			role);
	if (strlen(argv[optind]) > CV_USER_NAME_MAX ||
	    (os && strlen(os) > CV_USER_NAME_MAX) ||
	    (full && strlen(full) >= sizeof(u.full_name)))
		return cli_usage(cmd, "a name is too long");
	/* The archive owner's bootstrap (cli_authorize) makes an admin. */
	if (!c->user_name && u.role != CV_ROLE_ADMIN) {
		fprintf(stderr,
			"chartvault: error: the first user of an archive must be an administrator (--role admin)\n");
		return CLI_REFUSED;
	}
	snprintf(u.name, sizeof(u.name), "%s", argv[optind]);
	snprintf(u.os_user, sizeof(u.os_user), "%s", os ? os : "");
	snprintf(u.full_name, sizeof(u.full_name), "%s", full ? full : "");
	ret = cv_index_user_add(c->ix, &u, c->actor, &err);
	snprintf(detail, sizeof(detail), "role %s%s%s", cv_role_name(u.role),
		 u.os_user[0] ? "; os_user " : "", u.os_user);
	if (cv_index_user_name_ok(u.name))
		audit_change(c, "user.add", u.name, detail, ret);
	if (ret < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "name", json_string(u.name));
		json_object_set_new(o, "role",
				    json_string(cv_role_name(u.role)));
		json_object_set_new(o, "os_user",
				    u.os_user[0] ? json_string(u.os_user)
						 : json_null());
		cli_json_print(o);
	} else {
		printf("Added user %s (%s)%s%s\n", u.name, cv_role_name(u.role),
		       u.os_user[0] ? ", OS user " : "", u.os_user);
	}
	return CLI_OK;
}

static int user_list(struct cli *c)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_user *v = NULL;
	size_t n = 0, i;
	int ret;

	ret = cv_index_user_list(c->ix, &v, &n, &err);
	if (ret < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++) {
			json_t *o = json_object();

			json_object_set_new(o, "name", json_string(v[i].name));
			json_object_set_new(
				o, "role",
				json_string(cv_role_name(v[i].role)));
			json_object_set_new(o, "os_user",
					    v[i].os_user[0]
						    ? json_string(v[i].os_user)
						    : json_null());
			json_object_set_new(
				o, "full_name",
				v[i].full_name[0] ? json_string(v[i].full_name)
						  : json_null());
			json_object_set_new(o, "disabled",
					    json_boolean(v[i].disabled));
			json_object_set_new(o, "password",
					    json_boolean(v[i].has_password));
			json_object_set_new(o, "created",
					    json_string(v[i].created));
			json_object_set_new(o, "created_by",
					    json_string(v[i].created_by));
			json_array_append_new(a, o);
		}
		cli_json_print(a);
	} else {
		printf("%-20s %-11s %-16s %-9s %s\n", "USER", "ROLE", "OS USER",
		       "STATE", "NAME");
		for (i = 0; i < n; i++)
			printf("%-20s %-11s %-16s %-9s %s\n", v[i].name,
			       cv_role_name(v[i].role),
			       v[i].os_user[0] ? v[i].os_user : "-",
			       v[i].disabled ? "disabled" : "active",
			       v[i].full_name);
	}
	free(v);
	return CLI_OK;
}

static int user_disable(struct cli *c, const struct cv_cmd *cmd, int argc,
			char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_user u;
	size_t admins = 0;
	int ret;

	if (argc != 3)
		return cli_usage(cmd, "user disable takes one user name");
	ret = cv_index_user_get(c->ix, argv[2], 0, &u, &err);
	if (ret == 0 && u.role == CV_ROLE_ADMIN && !u.disabled)
		ret = other_admins(c, u.name, &admins, &err);
	if (ret < 0)
		return cli_fail(&err);
	if (u.role == CV_ROLE_ADMIN && !u.disabled && admins == 0) {
		audit_change(c, "user.disable", u.name, "last administrator",
			     CV_EEXISTS);
		fprintf(stderr,
			"chartvault: error: '%s' is the last active administrator; add another first\n",
			u.name);
		return CLI_REFUSED;
	}
	ret = cv_index_user_disable(c->ix, u.name, &err);
	audit_change(c, "user.disable", u.name, NULL, ret);
	if (ret < 0)
		return cli_fail(&err);
	printf("Disabled user %s\n", u.name);
	return CLI_OK;
}

static int user_role(struct cli *c, const struct cv_cmd *cmd, int argc,
		     char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_user u;
	char detail[64];
	size_t admins = 0;
	unsigned role;
	int ret;

	if (argc != 4)
		return cli_usage(cmd, "user role takes a user name and a role");
	role = cv_role_parse(argv[3]);
	if (!role)
		return cli_usage(
			cmd,
			"'%s' is not a role (clerk, records, compliance, admin)",
			argv[3]);
	ret = cv_index_user_get(c->ix, argv[2], 0, &u, &err);
	if (ret == 0 && u.role == CV_ROLE_ADMIN && role != CV_ROLE_ADMIN)
		ret = other_admins(c, u.name, &admins, &err);
	if (ret < 0)
		return cli_fail(&err);
	if (u.role == CV_ROLE_ADMIN && role != CV_ROLE_ADMIN && !u.disabled &&
	    admins == 0) {
		fprintf(stderr,
			"chartvault: error: '%s' is the last active administrator; make another one first\n",
			u.name);
		return CLI_REFUSED;
	}
	ret = cv_index_user_set_role(c->ix, u.name, role, &err);
	snprintf(detail, sizeof(detail), "role %s -> %s", cv_role_name(u.role),
		 cv_role_name(role));
	audit_change(c, "user.role", u.name, detail, ret);
	if (ret < 0)
		return cli_fail(&err);
	printf("User %s is now %s\n", u.name, cv_role_name(role));
	return CLI_OK;
}

/* The new password: $CHARTVAULT_NEW_PASSWORD, or asked twice. */
static int read_password(char **out, struct cv_error *err)
{
	const char *env = getenv("CHARTVAULT_NEW_PASSWORD");
	char *a = NULL, *b = NULL;
	int fd = -1, ret = 0;

	*out = NULL;
	if (env && *env) {
		*out = cv_strdup(env);
		return 0;
	}
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0 || !isatty(fd)) {
		if (fd >= 0)
			close(fd);
		cv_error_set(
			err, CV_EINVAL,
			"a password is needed and there is no terminal to ask on");
		cv_error_hint(err, "set CHARTVAULT_NEW_PASSWORD");
		return CV_EINVAL;
	}
	a = cv_malloc(PASSWORD_MAX + 2);
	b = cv_malloc(PASSWORD_MAX + 2);
	if (cli_read_hidden(fd, "New password: ", a, PASSWORD_MAX + 2) < 0 ||
	    cli_read_hidden(fd, "Repeat it: ", b, PASSWORD_MAX + 2) < 0) {
		ret = cv_error_set(err, CV_EINVAL, "the password is too long");
		goto out;
	}
	if (strcmp(a, b) != 0) {
		ret = cv_error_set(err, CV_EINVAL, "the two passwords differ");
		goto out;
	}
	*out = cv_strdup(a);
out:
	cv_wipe(a, PASSWORD_MAX + 2);
	cv_wipe(b, PASSWORD_MAX + 2);
	free(a);
	free(b);
	close(fd);
	return ret;
}

static int user_passwd(struct cli *c, const struct cv_cmd *cmd, int argc,
		       char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	char *pw = NULL, *phc = NULL;
	size_t len;
	int ret;

	if (argc != 3)
		return cli_usage(cmd, "user passwd takes one user name");
	/* Anyone may set their own; someone else's takes an admin. */
	if (!c->user_name || strcmp(c->user_name, argv[2]) != 0) {
		ret = cli_authorize(c, ROLES_ADMIN,
				    "user passwd (another user)");
		if (ret != 0)
			return ret;
	}
	ret = read_password(&pw, &err);
	if (ret < 0)
		goto out;
	len = strlen(pw);
	if (len < PASSWORD_MIN || len > PASSWORD_MAX) {
		ret = cv_error_set(
			&err, CV_EINVAL,
			"a password must be %d to %d characters long",
			PASSWORD_MIN, PASSWORD_MAX);
		goto out;
	}
	ret = cv_archive_password_hash(&phc, pw, &err);
	if (ret == 0)
		ret = cv_index_user_set_password(c->ix, argv[2], phc, &err);
	if (cv_index_user_name_ok(argv[2]))
		audit_change(c, "user.passwd", argv[2], NULL, ret);
out:
	if (pw) {
		cv_wipe(pw, strlen(pw));
		free(pw);
	}
	free(phc);
	if (ret < 0)
		return cli_fail(&err);
	printf("Password set for %s\n", argv[2]);
	return CLI_OK;
}

int cmd_user(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("user");

	if (argc < 2)
		return cli_usage(cmd, "user needs a verb");
	if (!strcmp(argv[1], "add"))
		return user_add(c, cmd, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return user_list(c);
	if (!strcmp(argv[1], "disable"))
		return user_disable(c, cmd, argc, argv);
	if (!strcmp(argv[1], "role"))
		return user_role(c, cmd, argc, argv);
	if (!strcmp(argv[1], "passwd"))
		return user_passwd(c, cmd, argc, argv);
	return cli_usage(cmd, "unknown verb '%s'", argv[1]);
}
