/*
 * chartvault init: create an archive folder. Everything is built inside
 * the folder and the marker file is written last, so a folder without a
 * marker is never mistaken for an archive; on failure what was made is
 * removed again.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common/banned.h"

static const char marker_text[] =
	"chartvault archive\n"
	"format 1\n"
	"This folder is a chartvault archive. Do not edit or remove files by hand;\n"
	"see 'chartvault help' and README.md for backing it up.\n";

/* 1 empty, 0 not empty, -1 cannot be read. */
static int dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int empty = 1;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty;
}

/* Refuse anything but a missing or empty folder; *made says we made it. */
static int prepare_dir(const char *dir, int *made, struct cv_error *err)
{
	struct stat st;
	char *marker = cv_path_join(dir, CLI_MARKER);
	int is_archive = access(marker, F_OK) == 0, ret = 0;

	free(marker);
	*made = 0;
	if (is_archive) {
		cv_error_set(
			err, CV_EEXISTS,
			"'%s' is already a chartvault archive; nothing was changed",
			dir);
		return CV_EEXISTS;
	}
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return cv_error_set(
				err, CV_EEXISTS,
				"'%s' exists and is not a folder; nothing was changed",
				dir);
		if (dir_is_empty(dir) != 1)
			return cv_error_set(
				err, CV_EEXISTS,
				"'%s' is not empty; nothing was changed", dir);
		return 0;
	}
	/* Parents made here must let the server user pass (see below). */
	ret = cv_fs_mkdirs(dir, 0711, err);
	if (ret == 0)
		*made = 1;
	return ret;
}

static int write_config(const char *dir, const char *dsn, const char *group,
			struct cv_error *err)
{
	char *path = cv_path_join(dir, "chartvault.conf");
	char *sample = cv_config_sample();
	struct cv_buf b = CV_BUF_INIT;
	int ret;

	cv_buf_adds(&b, sample);
	if (dsn && *dsn)
		cv_buf_addf(
			&b,
			"\n# Set by 'chartvault init --db'.\n[db]\ndsn = %s\n",
			dsn);
	if (group && *group)
		cv_buf_addf(
			&b,
			"\n# Set by 'chartvault init --group'.\n[archive]\ngroup = %s\n",
			group);
	/* 0600: a DSN may carry a password (0660 for a shared archive's
	 * group, whose members connect with it). */
	ret = cv_fs_write_atomic(path, b.buf, b.len, cv_fs_mode(0600), 1, err);
	cv_wipe(b.buf, b.len);
	cv_buf_release(&b);
	free(sample);
	free(path);
	return ret;
}

/*
 * The OS user who creates the archive is its first administrator: there
 * is nobody else yet to vouch for anyone. Their user name is the login,
 * lower-cased, or "admin" when the login is not a valid user name.
 */
static int bootstrap_admin(struct cli *c, char *name, size_t n,
			   struct cv_error *err)
{
	struct cv_index_user u;
	int64_t users = 0;
	size_t i;
	int ret;

	name[0] = '\0';
	ret = cv_index_user_count(c->ix, &users, err);
	if (ret < 0 || users > 0)
		return ret; /* an external database that has its users */
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", c->actor);
	for (i = 0; u.name[i]; i++)
		if (u.name[i] >= 'A' && u.name[i] <= 'Z')
			u.name[i] = (char)(u.name[i] - 'A' + 'a');
	if (!cv_index_user_name_ok(u.name))
		snprintf(u.name, sizeof(u.name), "admin");
	snprintf(u.os_user, sizeof(u.os_user), "%s", c->actor);
	u.role = CV_ROLE_ADMIN;
	ret = cv_index_user_add(c->ix, &u, "init", err);
	if (ret == 0)
		ret = cv_index_audit(c->ix, u.name, "user.add", "user", u.name,
				     "role admin; first administrator, by init",
				     "ok", err);
	if (ret == 0)
		snprintf(name, n, "%s", u.name);
	return ret;
}

static void undo(const char *dir, int made, int cluster, struct cli *c)
{
	struct cv_error ignore = CV_ERROR_INIT;
	DIR *d;
	struct dirent *e;

	cv_index_free(c->ix);
	c->ix = NULL;
	if (cluster)
		cv_index_cluster_stop(dir, &c->cfg, &ignore);
	if (made) {
		cv_fs_remove_tree(dir, &ignore);
		return;
	}
	/* The folder was there, empty, before: leave it empty. */
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		char *p;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		p = cv_path_join(dir, e->d_name);
		cv_fs_remove_tree(p, &ignore);
		free(p);
	}
	closedir(d);
}

int cmd_init(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "passphrase", no_argument, NULL, 'p' },
		{ "group", required_argument, NULL, 'g' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cv_cmd *cmd = cli_find("init");
	struct cv_error err = CV_ERROR_INIT;
	const char *dsn = NULL, *target, *group = NULL;
	gid_t gid = (gid_t)-1;
	char *pass = NULL, *keys = NULL, admin[CV_USER_NAME_MAX + 1] = "";
	int want_pass = 0, made = 0, cluster = 0, opt, ret, version = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dsn = optarg;
			break;
		case 'p':
			want_pass = 1;
			break;
		case 'g':
			group = optarg;
			break;
		case 'j':
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (argc - optind > 1)
		return cli_usage(cmd, "init takes one folder");
	target = optind < argc ? argv[optind] : c->dir_opt;
	if (!target || !*target)
		target = getenv("CHARTVAULT_HOME");
	if (!target || !*target)
		target = ".";
	c->dir = cv_path_absolute(target);

	ret = cli_load_config(c, &err);
	if (ret < 0)
		return cli_fail(&err);
	if (dsn) {
		free(c->cfg.db_dsn);
		c->cfg.db_dsn = cv_strdup(dsn);
	}
	if (group) {
		struct group *gr = getgrnam(group);

		if (!gr) {
			cv_error_set(&err, CV_EINVAL,
				     "'%s' is not a group of this system",
				     group);
			cv_error_hint(&err, "create it first: groupadd %s",
				      group);
			return cli_fail(&err);
		}
		gid = gr->gr_gid;
		free(c->cfg.archive_group);
		c->cfg.archive_group = cv_strdup(group);
		cv_fs_share_with_group(1);
		umask(0007);
	}
	if (want_pass || getenv("CHARTVAULT_PASSPHRASE")) {
		ret = cli_passphrase(&pass, "New key file passphrase: ", 1,
				     &err);
		if (ret < 0)
			return cli_fail(&err);
	}
	ret = prepare_dir(c->dir, &made, &err);
	if (ret < 0)
		goto out;
	/* As root the private cluster runs as an unprivileged user, which
	 * must be able to pass through this folder to reach its own. */
	chmod(c->dir, geteuid() == 0 && !c->cfg.db_dsn[0] ? 0711 : 0700);
	/*
	 * Shared: the group's, with the setgid bit so that every file and
	 * folder made inside stays the group's, whoever makes it.
	 */
	if (group &&
	    (chown(c->dir, (uid_t)-1, gid) < 0 ||
	     chmod(c->dir,
		   geteuid() == 0 && !c->cfg.db_dsn[0] ? 02771 : 02770) < 0)) {
		ret = cv_error_errno(&err, CV_ERROR,
				     "could not give '%s' to group '%s'",
				     c->dir, group);
		goto out;
	}

	keys = cv_path_join(c->dir, c->cfg.keys_file);
	if (c->cfg.keys_file[0] == '/') {
		free(keys);
		keys = cv_strdup(c->cfg.keys_file);
	}
	ret = cv_archive_keys_create(keys, pass, &err);
	if (ret == 0)
		ret = cv_archive_store_init(c->dir, &err);
	if (ret == 0)
		ret = write_config(c->dir, dsn, group, &err);
	if (ret == 0 && !c->cfg.db_dsn[0]) {
		ret = cv_index_cluster_create(c->dir, &c->cfg, &err);
		cluster = ret == 0;
	}
	if (ret == 0) {
		c->dsn = c->cfg.db_dsn[0] ? cv_strdup(c->cfg.db_dsn)
					  : cv_index_cluster_dsn(c->dir);
		ret = cv_index_open(&c->ix, c->dsn, &err);
	}
	if (ret == 0)
		ret = cv_index_migrate(c->ix, NULL, &version, &err);
	if (ret == 0)
		ret = bootstrap_admin(c, admin, sizeof(admin), &err);
	if (ret == 0) {
		char *marker = cv_path_join(c->dir, CLI_MARKER);

		ret = cv_fs_write_atomic(marker, marker_text,
					 sizeof(marker_text) - 1, 0644, 1,
					 &err);
		free(marker);
	}
	if (ret < 0) {
		undo(c->dir, made, cluster, c);
		goto out;
	}
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "archive", json_string(c->dir));
		json_object_set_new(o, "key_file", json_string(keys));
		json_object_set_new(o, "passphrase",
				    json_boolean(pass != NULL));
		json_object_set_new(
			o, "database",
			json_string(c->cfg.db_dsn[0] ? "external" : "private"));
		json_object_set_new(o, "schema_version", json_integer(version));
		json_object_set_new(o, "group",
				    group ? json_string(group) : json_null());
		json_object_set_new(o, "admin",
				    admin[0] ? json_string(admin)
					     : json_null());
		cli_json_print(o);
	} else {
		printf("Initialised chartvault archive in %s\n", c->dir);
		printf("  key file:  %s (%s)\n", keys,
		       pass ? "passphrase-protected" : "no passphrase");
		if (c->cfg.db_dsn[0])
			printf("  database:  external PostgreSQL, schema version %d\n",
			       version);
		else
			printf("  database:  private PostgreSQL cluster in %s/pgdata, schema version %d\n",
			       c->dir, version);
		if (admin[0])
			printf("  administrator: %s (OS user %s)\n", admin,
			       c->actor);
		printf("Keep a copy of the key file somewhere safe: without it the archive\n"
		       "cannot be read.\n");
	}
out:
	if (pass) {
		cv_wipe(pass, strlen(pass));
		free(pass);
	}
	free(keys);
	return ret < 0 ? cli_fail(&err) : CLI_OK;
}
