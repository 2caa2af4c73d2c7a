/*
 * What the dispatcher does before a command runs: find the archive
 * folder, read its settings, start and open the database, load the keys.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "ingest/ingest.h"
#include "common/banned.h"

#define PASSPHRASE_MAX 1024

int cli_find_archive(struct cli *c, struct cv_error *err)
{
	const char *d = c->dir_opt;
	char *marker;
	int ok;

	if (!d || !*d)
		d = getenv("CHARTVAULT_HOME");
	if (!d || !*d)
		d = ".";
	free(c->dir);
	c->dir = cv_path_absolute(d);
	marker = cv_path_join(c->dir, CLI_MARKER);
	ok = access(marker, F_OK) == 0;
	free(marker);
	if (!ok) {
		/* One line: it is the whole story, and scripts grep it. */
		return cv_error_set(
			err, CV_EUNAVAIL,
			"'%s' is not a chartvault archive (create one with 'chartvault init DIR', or point -C or CHARTVAULT_HOME at one)",
			c->dir);
	}
	return 0;
}

/* The hospital's own document types, before any page is read. */
static int load_doctypes(struct cli *c, struct cv_error *err)
{
	const char *f = c->cfg.classify_types_file;
	char *path;
	int ret = 0;

	if (!f[0] || (f[0] != '/' && !c->dir))
		return 0;
	path = f[0] == '/' ? cv_strdup(f) : cv_path_join(c->dir, f);
	if (cv_fs_exists(path))
		ret = cv_ingest_doctypes_load(path, err);
	free(path);
	return ret;
}

int cli_load_config(struct cli *c, struct cv_error *err)
{
	int i, ret;

	if (c->dir) {
		char *conf = cv_path_join(c->dir, "chartvault.conf");

		ret = cv_config_load_file(&c->cfg, conf, 1, err);
		free(conf);
		if (ret < 0)
			return ret;
	}
	ret = cv_config_load_env(&c->cfg, err);
	for (i = 0; ret == 0 && i < c->ncfg_sets; i++)
		ret = cv_config_set(&c->cfg, c->cfg_sets[i], err);
	if (ret == 0)
		ret = load_doctypes(c, err);
	/* A shared archive: what anyone writes stays the group's. */
	if (ret == 0 && c->cfg.archive_group && c->cfg.archive_group[0]) {
		cv_fs_share_with_group(1);
		umask(0007);
	}
	return ret;
}

int cli_open_db(struct cli *c, struct cv_error *err)
{
	int ret;

	if (!c->cfg.db_dsn[0]) {
		ret = cv_index_cluster_start(c->dir, &c->cfg, err);
		if (ret < 0)
			return ret;
		c->dsn = cv_index_cluster_dsn(c->dir);
	} else {
		c->dsn = cv_strdup(c->cfg.db_dsn);
	}
	ret = cv_index_open(&c->ix, c->dsn, err);
	if (ret == 0)
		ret = cv_index_migrate(c->ix, NULL, NULL, err);
	return ret;
}

static char *key_path(struct cli *c)
{
	if (c->cfg.keys_file[0] == '/')
		return cv_strdup(c->cfg.keys_file);
	return cv_path_join(c->dir, c->cfg.keys_file);
}

int cli_open_store(struct cli *c, struct cv_error *err)
{
	char *path = key_path(c), *pass = NULL;
	int need = 0, ret;

	ret = cv_archive_keys_need_passphrase(path, &need, err);
	if (ret == 0 && need)
		ret = cli_passphrase(&pass, "Key file passphrase: ", 0, err);
	if (ret == 0)
		ret = cv_archive_keys_load(&c->keys, path, pass, err);
	if (ret == 0)
		ret = cv_archive_open(&c->ar, c->dir, c->keys, c->ix, err);
	if (pass) {
		cv_wipe(pass, strlen(pass));
		free(pass);
	}
	free(path);
	return ret;
}

void cli_release(struct cli *c)
{
	cv_archive_free(c->ar);
	cv_archive_keys_free(c->keys);
	cv_index_free(c->ix);
	if (c->dsn) {
		cv_wipe(c->dsn, strlen(c->dsn));
		free(c->dsn);
	}
	free(c->dir);
	cv_config_release(&c->cfg);
	c->ar = NULL;
	c->keys = NULL;
	c->ix = NULL;
	c->dsn = NULL;
	c->dir = NULL;
}

int cli_read_hidden(int fd, const char *prompt, char *buf, size_t n)
{
	struct termios old, quiet;
	size_t len = 0;
	int have_termios, ret = 0;

	have_termios = tcgetattr(fd, &old) == 0;
	if (have_termios) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	cv_fs_write_all(fd, prompt, strlen(prompt));
	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || ch == '\n')
			break;
		if (len + 1 >= n) {
			ret = -1;
			continue;
		}
		buf[len++] = ch;
	}
	buf[len] = '\0';
	if (have_termios)
		tcsetattr(fd, TCSAFLUSH, &old);
	cv_fs_write_all(fd, "\n", 1);
	return ret;
}

int cli_passphrase(char **out, const char *prompt, int confirm,
		   struct cv_error *err)
{
	const char *env = getenv("CHARTVAULT_PASSPHRASE");
	char *a = NULL, *b = NULL;
	int fd, ret = 0;

	*out = NULL;
	if (env && *env) {
		if (strlen(env) >= PASSPHRASE_MAX)
			return cv_error_set(
				err, CV_EINVAL,
				"the passphrase in CHARTVAULT_PASSPHRASE is too long");
		*out = cv_strdup(env);
		return 0;
	}
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0 || !isatty(fd)) {
		if (fd >= 0)
			close(fd);
		cv_error_set(
			err, CV_EINVAL,
			"a passphrase is needed and there is no terminal to ask on");
		cv_error_hint(err, "set CHARTVAULT_PASSPHRASE");
		return CV_EINVAL;
	}
	a = cv_malloc(PASSPHRASE_MAX);
	b = cv_malloc(PASSPHRASE_MAX);
	if (cli_read_hidden(fd, prompt, a, PASSPHRASE_MAX) < 0) {
		ret = cv_error_set(err, CV_EINVAL,
				   "the passphrase is too long");
		goto out;
	}
	if (confirm) {
		if (!a[0]) {
			ret = cv_error_set(
				err, CV_EINVAL,
				"an empty passphrase protects nothing");
			goto out;
		}
		cli_read_hidden(fd, "Repeat it: ", b, PASSPHRASE_MAX);
		if (strcmp(a, b)) {
			ret = cv_error_set(err, CV_EINVAL,
					   "the two passphrases differ");
			goto out;
		}
	}
	*out = cv_strdup(a);
out:
	cv_wipe(a, PASSPHRASE_MAX);
	cv_wipe(b, PASSPHRASE_MAX);
	free(a);
	free(b);
	close(fd);
	return ret;
}
