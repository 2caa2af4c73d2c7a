/*
 * The test harness behind harness.h. It starts PostgreSQL on its own,
 * rather than through index/'s cluster code, so that the code under test
 * is not also the code that sets its stage.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "harness.h"
#include "common/banned.h"

struct cvt_pg cvt_shared_pg;

static int keep(void)
{
	const char *k = getenv("CV_TEST_KEEP");

	return k && *k && strcmp(k, "0");
}

char *cvt_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (!base || !*base)
		base = "/tmp";
	path = cv_asprintf("%s/cvtest-%s-XXXXXX", base, tag);
	if (!mkdtemp(path))
		ck_abort_msg("mkdtemp %s: %s", path, strerror(errno));
	/* The server user must be able to pass through to its data. */
	chmod(path, 0711);
	return path;
}

static void rmrf_at(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	d = opendir(path);
	if (d) {
		while ((e = readdir(d))) {
			char *sub;

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			sub = cv_path_join(path, e->d_name);
			rmrf_at(sub);
			free(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

void cvt_rmrf(const char *path)
{
	if (!path)
		return;
	if (keep()) {
		fprintf(stderr, "CV_TEST_KEEP: kept %s\n", path);
		return;
	}
	rmrf_at(path);
}

char *cvt_srcpath(const char *rel)
{
	const char *src = getenv("CV_SRCDIR");

	return cv_path_join(src && *src ? src : ".", rel);
}

void cvt_import_patients(const char *archive_dir, const char *csv)
{
	char *path = csv ? cv_strdup(csv) : cvt_srcpath("samples/patients.csv");
	struct cvt_run r;

	CV(&r, "-C", archive_dir, "patients", "import", path);
	cvt_expect_status(&r, 0, "patients import");
	cvt_run_release(&r);
	free(path);
}

static char *find_pg_bindir(void)
{
	glob_t g;
	char *found = NULL;
	size_t i;

	if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0) {
		/* glob sorts; the last is the newest major version. */
		for (i = g.gl_pathc; i-- > 0;) {
			found = cv_strndup(g.gl_pathv[i],
					   strlen(g.gl_pathv[i]) -
						   strlen("/initdb"));
			break;
		}
		globfree(&g);
	}
	return found;
}

/* Run argv, as the 'chartvault' user when we are root; return status. */
static int run_as_server_user(char *const argv[], const char *logpath)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (geteuid() == 0) {
			struct passwd *pw = getpwnam("chartvault");

			if (!pw) {
				fprintf(stderr,
					"no 'chartvault' user: run scripts/deps.sh as root\n");
				_exit(127);
			}
			if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
			    setuid(pw->pw_uid) < 0)
				_exit(126);
		}
		/* Opened after the switch, so the server user owns the log
		 * that pg_ctl -l later appends to. */
		if (logpath) {
			int fd = open(logpath,
				      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				      0644);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
		}
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void chown_to_server_user(const char *path)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return;
	pw = getpwnam("chartvault");
	ck_assert_msg(pw != NULL,
		      "no 'chartvault' user: run scripts/deps.sh as root");
	ck_assert_int_eq(chown(path, pw->pw_uid, pw->pw_gid), 0);
}

void cvt_pg_start(struct cvt_pg *pg)
{
	char *data, *initdb, *pgctl, *log, *opts;
	int st;

	memset(pg, 0, sizeof(*pg));
	pg->bindir = find_pg_bindir();
	ck_assert_msg(
		pg->bindir != NULL,
		"PostgreSQL server binaries not found under /usr/lib/postgresql: run scripts/deps.sh");
	pg->dir = cvt_tmpdir("pg");
	chown_to_server_user(pg->dir);
	/* Other OS users of a test (cvt_os_user) reach the socket too. */
	chmod(pg->dir, 0711);
	data = cv_path_join(pg->dir, "data");
	log = cv_path_join(pg->dir, "server.log");
	initdb = cv_path_join(pg->bindir, "initdb");
	pgctl = cv_path_join(pg->bindir, "pg_ctl");
	{
		char *argv[] = {
			initdb,      "-D",    data, "-U",   "postgres",
			"-A",        "trust", "-E", "UTF8", "--locale=C.UTF-8",
			"--no-sync", NULL
		};

		st = run_as_server_user(argv, log);
		ck_assert_msg(st == 0, "initdb failed (%d); see %s", st, log);
	}
	opts = cv_asprintf(
		"-c listen_addresses='' -c unix_socket_directories='%s' -c fsync=off -c max_connections=40",
		pg->dir);
	{
		char *argv[] = { pgctl, "-D", data, "-l", log,     "-w",
				 "-t",  "60", "-o", opts, "start", NULL };

		st = run_as_server_user(argv, NULL);
		ck_assert_msg(st == 0, "pg_ctl start failed (%d); see %s", st,
			      log);
	}
	pg->running = 1;
	pg->dsn =
		cv_asprintf("host='%s' user=postgres dbname=postgres", pg->dir);
	free(opts);
	free(data);
	free(log);
	free(initdb);
	free(pgctl);
}

void cvt_pg_stop(struct cvt_pg *pg)
{
	if (pg->running) {
		char *data = cv_path_join(pg->dir, "data");
		char *pgctl = cv_path_join(pg->bindir, "pg_ctl");
		char *argv[] = { pgctl,       "-D", data,   "-m",
				 "immediate", "-w", "stop", NULL };

		run_as_server_user(argv, NULL);
		pg->running = 0;
		free(data);
		free(pgctl);
	}
	if (pg->dir)
		cvt_rmrf(pg->dir);
	free(pg->dir);
	free(pg->dsn);
	free(pg->bindir);
	memset(pg, 0, sizeof(*pg));
}

char *cvt_pg_createdb(struct cvt_pg *pg)
{
	static int seq;
	char name[64], *sql;
	PGconn *conn;
	PGresult *res;

	ck_assert_msg(pg->running, "the test server is not running");
	snprintf(name, sizeof(name), "t_%ld_%d", (long)getpid(), ++seq);
	conn = PQconnectdb(pg->dsn);
	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "connect: %s",
		      PQerrorMessage(conn));
	sql = cv_asprintf("CREATE DATABASE %s", name);
	res = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s: %s", sql,
		      PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	free(sql);
	return cv_asprintf("host='%s' user=postgres dbname=%s", pg->dir, name);
}

static void stop_shared_at_exit(void)
{
	/* Only the process that started it stops it: not Check's children. */
	static pid_t owner;

	if (!owner) {
		owner = getpid();
		return;
	}
	if (getpid() == owner)
		cvt_pg_stop(&cvt_shared_pg);
}

void cvt_shared_pg_setup(void)
{
	static int registered;

	if (cvt_shared_pg.running)
		return;
	cvt_pg_start(&cvt_shared_pg);
	if (!registered) {
		stop_shared_at_exit();
		atexit(stop_shared_at_exit);
		registered = 1;
	}
}

void cvt_shared_pg_teardown(void)
{
	cvt_pg_stop(&cvt_shared_pg);
}

static void drain(int fd, struct cv_buf *b, int *open_)
{
	char tmp[65536];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n > 0)
		cv_buf_add(b, tmp, (size_t)n);
	else if (n == 0 || (errno != EINTR && errno != EAGAIN))
		*open_ = 0;
}

void cvt_run(struct cvt_run *r, const char *const *argv, const char *const *env,
	     const char *input)
{
	int in[2], out[2], errp[2], st, oo = 1, eo = 1;
	const char *bin = getenv("CV_BIN");
	pid_t pid;

	cv_buf_init(&r->out);
	cv_buf_init(&r->err);
	ck_assert_msg(bin && *bin, "CV_BIN is not set: run through make");
	/* Close-on-exec: the child's only copies are its 0, 1 and 2, so the
	 * pipes close when it (and anything it starts) is done with them. */
	ck_assert(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 &&
		  pipe2(errp, O_CLOEXEC) == 0);
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		size_t i;

		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(errp[1], 2);
		close(in[1]);
		close(out[0]);
		close(errp[0]);
		for (i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		if (!strcmp(argv[0], "chartvault"))
			execv(bin, (char *const *)argv);
		else
			execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(errp[1]);
	if (input)
		cv_fs_write_all(in[1], input, strlen(input));
	close(in[1]);
	while (oo || eo) {
		struct pollfd p[2] = { { out[0], POLLIN, 0 },
				       { errp[0], POLLIN, 0 } };

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (oo && p[0].revents)
			drain(out[0], &r->out, &oo);
		if (eo && p[1].revents)
			drain(errp[0], &r->err, &eo);
	}
	close(out[0]);
	close(errp[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void cvt_run_release(struct cvt_run *r)
{
	cv_buf_release(&r->out);
	cv_buf_release(&r->err);
}

pid_t cvt_spawn(const char *const *argv)
{
	const char *bin = getenv("CV_BIN");
	pid_t pid;

	ck_assert_msg(bin && *bin, "CV_BIN is not set: run through make");
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

void cvt_expect_status(const struct cvt_run *r, int want, const char *what)
{
	ck_assert_msg(
		r->status == want,
		"%s: exit %d, wanted %d\nstdout: %.3000s\nstderr: %.2000s",
		what, r->status, want, r->out.buf, r->err.buf);
}

json_t *cvt_parse_json(const struct cvt_run *r)
{
	json_error_t jerr;
	json_t *v = json_loads(r->out.buf, 0, &jerr);

	ck_assert_msg(v != NULL, "bad JSON (%s): %.500s", jerr.text,
		      r->out.buf);
	return v;
}

long long cvt_sql_count(const char *dsn, const char *sql)
{
	PGconn *conn = PQconnectdb(dsn);
	PGresult *res;
	long long v = 0;

	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "%s",
		      PQerrorMessage(conn));
	res = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK &&
			      PQntuples(res) == 1,
		      "%s: %s", sql, PQerrorMessage(conn));
	ck_assert_msg(cv_parse_ll(&v, PQgetvalue(res, 0, 0), 0, 1ll << 50) == 0,
		      "%s: not a count", sql);
	PQclear(res);
	PQfinish(conn);
	return v;
}

/* ---------------------------------------------------------------------
 * Other OS users
 */

static int run_plain(char *const argv[])
{
	pid_t pid;
	int st, fd;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static const char *sbin(const char *name)
{
	static char path[64];

	snprintf(path, sizeof(path), "/usr/sbin/%s", name);
	if (access(path, X_OK) == 0)
		return path;
	snprintf(path, sizeof(path), "/sbin/%s", name);
	return path;
}

/* 1 when login is in group's member list (or has it as primary group). */
static int in_group(const char *login, const char *group)
{
	struct group *gr = getgrnam(group);
	struct passwd *pw = getpwnam(login);
	char **m;

	if (!gr || !pw)
		return 0;
	if (pw->pw_gid == gr->gr_gid)
		return 1;
	for (m = gr->gr_mem; *m; m++)
		if (!strcmp(*m, login))
			return 1;
	return 0;
}

void cvt_os_user(const char *login, const char *group)
{
	char useradd[64], usermod[64];

	ck_assert_msg(geteuid() == 0,
		      "tests of several people need root to create OS users");
	ck_assert_msg(!group || getgrnam(group),
		      "no group '%s': run scripts/deps.sh as root", group);
	snprintf(useradd, sizeof(useradd), "%s", sbin("useradd"));
	snprintf(usermod, sizeof(usermod), "%s", sbin("usermod"));
	if (!getpwnam(login)) {
		char *argv[] = { useradd,
				 "--system",
				 "--no-create-home",
				 "--home-dir",
				 "/nonexistent",
				 "--shell",
				 "/usr/sbin/nologin",
				 (char *)login,
				 NULL };

		/* A concurrent run may have made it: check again after. */
		run_plain(argv);
		ck_assert_msg(getpwnam(login) != NULL, "useradd %s failed",
			      login);
	}
	if (group && !in_group(login, group)) {
		char *argv[] = { usermod,       "-a",          "-G",
				 (char *)group, (char *)login, NULL };

		run_plain(argv);
		ck_assert_msg(in_group(login, group),
			      "usermod -a -G %s %s failed", group, login);
	}
}

void cvt_run_as(struct cvt_run *r, const char *login, const char *const *argv,
		const char *const *env, const char *input)
{
	const char *bin = getenv("CV_BIN");
	const char **v;
	size_t n = 0, i;

	ck_assert_msg(bin && *bin, "CV_BIN is not set: run through make");
	while (argv[n])
		n++;
	v = cv_calloc(n + 5, sizeof(*v));
	v[0] = sbin("runuser");
	v[1] = "-u";
	v[2] = login;
	v[3] = "--";
	for (i = 0; i < n; i++)
		v[4 + i] = i == 0 && !strcmp(argv[0], "chartvault") ? bin
								    : argv[i];
	cvt_run(r, v, env, input);
	free(v);
}

char *cvt_sql_text(const char *dsn, const char *sql)
{
	PGconn *conn = PQconnectdb(dsn);
	PGresult *res;
	char *v;

	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "%s",
		      PQerrorMessage(conn));
	res = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK &&
			      PQntuples(res) == 1,
		      "%s: %s", sql, PQerrorMessage(conn));
	v = cv_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	return v;
}

void cvt_sql_exec(const char *dsn, const char *sql)
{
	PGconn *conn = PQconnectdb(dsn);
	PGresult *res;

	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "%s",
		      PQerrorMessage(conn));
	res = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK ||
			      PQresultStatus(res) == PGRES_TUPLES_OK,
		      "%s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
}
