/*
 * The archive's private PostgreSQL cluster: initdb, pg_ctl start/stop and
 * status, run from argv vectors (never a shell string) and, when we are
 * root, as an unprivileged server user, since PostgreSQL refuses to run
 * as root.
 *
 * Who can reach the server. The cluster trusts every local connection,
 * so the only guard is the socket folder <archive>/pgrun: mode 0700,
 * owned by the user the server runs as, and the socket itself 0700
 * (unix_socket_permissions) in case the folder is ever loosened. There is
 * no TCP listener (listen_addresses = '') and pg_hba.conf rejects host
 * connections should one ever be enabled.
 *   - chartvault run as root: the server runs as db.server_user (a
 *     nologin system user made by scripts/deps.sh). Root reaches the
 *     socket because it bypasses file permissions; no other login does.
 *   - chartvault run as a normal user: the server runs as that same user,
 *     and only that user (and root) reaches it.
 *   - a shared archive (archive.group, docs/ROLES.md): the socket folder
 *     is 0750 and the socket 0770, both the group's, so the staff in the
 *     group connect; the server's own folder stays 0700. Staff cannot
 *     start or stop the server (pg_ctl needs its folder); a running one
 *     is found by its answer on the socket.
 * Anyone else who could connect would be the database superuser, so
 * loosening the folder would hand out every chart.
 *
 * pg_ctl starts the server through /bin/sh with the data folder in double
 * quotes, so the archive path must not hold characters that the shell
 * expands there (" $ ` \) or control characters; they are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

#define CLUSTER_USER   "chartvault" /* the database superuser */
#define CLUSTER_DB     "chartvault"
#define CLUSTER_PORT   "5432"
#define SOCKET_NAME    "/.s.PGSQL." CLUSTER_PORT
#define START_TIMEOUT  "60" /* seconds pg_ctl waits for the server */
#define START_RETRY_MS 15000
#define TAIL_BYTES     4096
#define OUTPUT_KEEP    8192

struct paths {
	char *archive; /* absolute */
	char *pgdata;
	char *pgrun;
	char *server_log;
	char *initdb_log;
	char *lock;
	char *pidfile;
	char *socket_lock;
	char *escaped; /* archive with control characters shown, for messages */
};

/* Who runs initdb and the server. */
struct runas {
	int drop; /* we are root: switch to uid/gid in the child */
	uid_t uid;
	gid_t gid;
	char name[64];
	/* archive.group: the socket folder and socket are the group's too */
	int share;
	gid_t share_gid;
	char group[64];
};

static void paths_release(struct paths *p)
{
	free(p->archive);
	free(p->pgdata);
	free(p->pgrun);
	free(p->server_log);
	free(p->initdb_log);
	free(p->lock);
	free(p->pidfile);
	free(p->socket_lock);
	free(p->escaped);
	memset(p, 0, sizeof(*p));
}

static int paths_init(struct paths *p, const char *archive_dir,
		      struct cv_error *err)
{
	struct cv_buf esc = CV_BUF_INIT;
	const char *s;
	size_t max_dir;

	memset(p, 0, sizeof(*p));
	p->archive = cv_path_absolute(archive_dir);
	cv_buf_add_escaped(&esc, p->archive, strlen(p->archive));
	p->escaped = cv_buf_detach(&esc, NULL);
	p->pgdata = cv_path_join(p->archive, "pgdata");
	p->pgrun = cv_path_join(p->archive, "pgrun");
	p->server_log = cv_path_join(p->pgdata, "server.log");
	p->initdb_log = cv_path_join(p->archive, "initdb.log");
	p->lock = cv_path_join(p->pgrun, ".start.lock");
	p->pidfile = cv_path_join(p->pgdata, "postmaster.pid");
	p->socket_lock = cv_asprintf("%s%s.lock", p->pgrun, SOCKET_NAME);
	for (s = p->archive; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' ||
		    *s == '$' || *s == '`' || *s == '\\') {
			cv_error_set(
				err, CV_EINVAL,
				"the archive folder '%s' cannot hold a PostgreSQL cluster",
				p->escaped);
			cv_error_detail(
				err,
				"its path contains %s, which pg_ctl's shell would expand",
				(unsigned char)*s < 0x20 || *s == 0x7f
					? "a control character"
					: "one of \" $ ` \\");
			cv_error_hint(
				err,
				"use a folder whose path has none of these characters");
			return CV_EINVAL;
		}
	}
	/* The socket's full path must fit struct sockaddr_un. */
	max_dir = sizeof(((struct sockaddr_un *)0)->sun_path) - 1 -
		  strlen(SOCKET_NAME);
	if (strlen(p->pgrun) > max_dir) {
		cv_error_set(
			err, CV_EINVAL,
			"the archive folder '%s' is too deep for a Unix socket",
			p->escaped);
		cv_error_detail(
			err,
			"'%s' is %zu characters long; a socket folder may have at most %zu",
			p->pgrun, strlen(p->pgrun), max_dir);
		cv_error_hint(
			err,
			"move the archive to a shorter path, or use an external server with db.dsn");
		return CV_EINVAL;
	}
	return 0;
}

static const char *server_user(const struct cv_config *cfg)
{
	if (cfg && cfg->db_server_user && *cfg->db_server_user)
		return cfg->db_server_user;
	return "chartvault";
}

static int resolve_runas(struct runas *ra, const struct cv_config *cfg,
			 struct cv_error *err)
{
	const char *name = server_user(cfg);
	struct passwd pwbuf, *pw = NULL;
	char buf[16384];
	int rc;

	memset(ra, 0, sizeof(*ra));
	if (geteuid() != 0) {
		/* Not root: the server runs as ourselves. */
		ra->uid = geteuid();
		ra->gid = getegid();
		rc = getpwuid_r(ra->uid, &pwbuf, buf, sizeof(buf), &pw);
		snprintf(ra->name, sizeof(ra->name), "%s",
			 rc == 0 && pw ? pw->pw_name : "(current user)");
		return 0;
	}
	rc = getpwnam_r(name, &pwbuf, buf, sizeof(buf), &pw);
	if (rc != 0 || !pw) {
		cv_error_set(err, CV_EUNAVAIL,
			     "could not find the database server user '%s'",
			     name);
		cv_error_detail(
			err, "%s",
			rc ? strerror(rc)
			   : "no such user in the system's user database");
		cv_error_hint(
			err,
			"run scripts/deps.sh as root, or set db.server_user");
		return CV_EUNAVAIL;
	}
	if (pw->pw_uid == 0) {
		cv_error_set(err, CV_EUNAVAIL,
			     "could not use '%s' as the database server user",
			     name);
		cv_error_detail(
			err, "PostgreSQL refuses to run with root's user id");
		cv_error_hint(
			err,
			"set db.server_user to an unprivileged user, e.g. the one scripts/deps.sh creates");
		return CV_EUNAVAIL;
	}
	ra->drop = 1;
	ra->uid = pw->pw_uid;
	ra->gid = pw->pw_gid;
	snprintf(ra->name, sizeof(ra->name), "%s", name);
	return 0;
}

/*
 * A shared archive (archive.group): its staff reach the socket through
 * the group. PostgreSQL gives the socket to unix_socket_group only when
 * the server's user is a member of it.
 */
static int resolve_share(struct runas *ra, const struct cv_config *cfg,
			 struct cv_error *err)
{
	struct group grbuf, *gr = NULL;
	char buf[16384];
	int rc;

	if (!cfg || !cfg->archive_group || !*cfg->archive_group)
		return 0;
	rc = getgrnam_r(cfg->archive_group, &grbuf, buf, sizeof(buf), &gr);
	if (rc != 0 || !gr)
		return cv_error_set(
			err, CV_EUNAVAIL,
			"archive.group '%s' is not a group of this system",
			cfg->archive_group);
	ra->share = 1;
	ra->share_gid = gr->gr_gid;
	snprintf(ra->group, sizeof(ra->group), "%s", cfg->archive_group);
	return 0;
}

/* The numeric major version in ".../postgresql/<v>/bin/...", or -1. */
static long version_of(const char *path)
{
	const char *v = strstr(path, "/postgresql/");
	char *end;
	long major, minor = 0;

	if (!v)
		return -1;
	v += strlen("/postgresql/");
	major = strtol(v, &end, 10);
	if (end == v)
		return -1;
	if (*end == '.')
		minor = strtol(end + 1, &end, 10);
	if (*end != '/')
		return -1;
	return major * 1000 + minor;
}

static int is_program(const char *dir, const char *prog)
{
	char *path = cv_path_join(dir, prog);
	int ok = access(path, X_OK) == 0;

	free(path);
	return ok;
}

/*
 * Where prog (initdb or pg_ctl) lives: db.pg_bindir, else the server
 * binaries matching the cluster's own major version (a pg_ctl of another
 * major refuses the cluster), else the newest /usr/lib/postgresql/N/bin,
 * else PATH. malloc'd into *out.
 */
static int find_bindir(char **out, const struct cv_config *cfg,
		       const char *major, const char *prog,
		       struct cv_error *err)
{
	glob_t g;
	char *path = NULL, *pattern;
	const char *env;
	long best = -1;
	size_t i;

	*out = NULL;
	if (cfg && cfg->db_pg_bindir && *cfg->db_pg_bindir) {
		if (!is_program(cfg->db_pg_bindir, prog)) {
			cv_error_set(err, CV_EUNAVAIL,
				     "could not find %s in '%s' (db.pg_bindir)",
				     prog, cfg->db_pg_bindir);
			cv_error_hint(
				err,
				"point db.pg_bindir at the folder holding initdb and pg_ctl, or leave it empty to search");
			return CV_EUNAVAIL;
		}
		*out = cv_strdup(cfg->db_pg_bindir);
		return 0;
	}
	if (major && *major) {
		char *dir = cv_asprintf("/usr/lib/postgresql/%s/bin", major);

		if (is_program(dir, prog)) {
			*out = dir;
			return 0;
		}
		free(dir);
	}
	pattern = cv_asprintf("/usr/lib/postgresql/*/bin/%s", prog);
	if (glob(pattern, 0, NULL, &g) == 0) {
		/* glob sorts as text ("10" before "9"); compare numbers. */
		for (i = 0; i < g.gl_pathc; i++) {
			long v = version_of(g.gl_pathv[i]);

			if (v > best && access(g.gl_pathv[i], X_OK) == 0) {
				best = v;
				free(path);
				path = cv_strndup(g.gl_pathv[i],
						  strlen(g.gl_pathv[i]) -
							  strlen(prog) - 1);
			}
		}
		globfree(&g);
	}
	free(pattern);
	if (path) {
		*out = path;
		return 0;
	}
	env = getenv("PATH");
	if (env) {
		char *copy = cv_strdup(env), *save = NULL, *dir;

		for (dir = strtok_r(copy, ":", &save); dir;
		     dir = strtok_r(NULL, ":", &save)) {
			if (dir[0] == '/' && is_program(dir, prog)) {
				*out = cv_strdup(dir);
				break;
			}
		}
		free(copy);
		if (*out)
			return 0;
	}
	cv_error_set(err, CV_EUNAVAIL,
		     "could not find the PostgreSQL server program %s", prog);
	cv_error_detail(err, "searched /usr/lib/postgresql/*/bin and PATH");
	cv_error_hint(
		err,
		"install PostgreSQL (scripts/deps.sh) or set db.pg_bindir");
	return CV_EUNAVAIL;
}

/* Read a small file's first line into out; 0 or -1 (errno set). */
static int read_first_line(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "re");
	int ret = -1;

	out[0] = '\0';
	if (!f)
		return -1;
	if (fgets(out, (int)n, f)) {
		out[strcspn(out, "\r\n")] = '\0';
		ret = 0;
	} else {
		errno = EIO;
	}
	fclose(f);
	return ret;
}

/*
 * The last 400 bytes of text as one line for err->detail (where the
 * reason is): lines joined with " | ", starting at a line boundary when
 * one is near.
 */
static void tail_line(struct cv_buf *out, const char *s, size_t len)
{
	const char *start = s, *nl;
	size_t i;

	while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
		len--;
	if (len > 400) {
		start = s + len - 400;
		nl = memchr(start, '\n', 100);
		if (nl && nl + 1 < s + len)
			start = nl + 1;
	}
	for (i = 0; start + i < s + len; i++) {
		unsigned char c = (unsigned char)start[i];

		if (c == '\n')
			cv_buf_adds(out, " | ");
		else
			cv_buf_addch(out, c < 0x20 ? ' ' : c);
	}
}

/* Append the end of a log file, from offset on, to out. */
static void file_tail(struct cv_buf *out, const char *path, off_t from)
{
	char buf[TAIL_BYTES];
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0) {
		if (st.st_size - from > (off_t)sizeof(buf))
			from = st.st_size - (off_t)sizeof(buf);
		if (from < 0)
			from = 0;
		n = pread(fd, buf, sizeof(buf), from);
		if (n > 0)
			tail_line(out, buf, (size_t)n);
	}
	close(fd);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : 0;
}

/*
 * Run argv as ra, stdin from /dev/null. Output goes to logfd, or is
 * captured (its end) into capture. *status is the exit code, or 128 plus
 * the signal. Only an error of our own (fork, pipe) fails the call.
 */
static int run_program(char *const argv[], const struct runas *ra, int logfd,
		       struct cv_buf *capture, int *status,
		       struct cv_error *err)
{
	static const char switch_failed[] =
		"chartvault: could not switch to the database server user\n";
	static const char exec_failed[] = "chartvault: could not execute ";
	const char *tz = getenv("TZ");
	char *tzvar = tz ? cv_asprintf("TZ=%s", tz) : NULL;
	/*
	 * A fixed environment: PG* variables of the caller must not steer
	 * the server, and English messages keep the log readable by the
	 * retry check of start_server. TZ is kept so initdb picks the local
	 * zone.
	 */
	char *const envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin",
			       "LC_ALL=C.UTF-8", tzvar, NULL };
	int pipefd[2] = { -1, -1 }, devnull = -1, st, ret;
	pid_t pid;

	*status = -1;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not open /dev/null");
		goto cleanup;
	}
	if (capture && pipe2(pipefd, O_CLOEXEC) < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not run %s: no pipe",
				     argv[0]);
		goto cleanup;
	}
	pid = fork();
	if (pid < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not run %s",
				     argv[0]);
		goto cleanup;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls from here on. */
		int o = capture ? pipefd[1] : logfd >= 0 ? logfd : devnull;

		if (dup2(devnull, 0) < 0 || dup2(o, 1) < 0 || dup2(o, 2) < 0)
			_exit(126);
		if (ra->drop && (setgroups(0, NULL) < 0 ||
				 setgid(ra->gid) < 0 || setuid(ra->uid) < 0)) {
			(void)!write(2, switch_failed,
				     sizeof(switch_failed) - 1);
			_exit(126);
		}
		if (chdir("/") < 0)
			_exit(126);
		/* The postmaster outlives us: it must not keep whatever our
		 * caller left open (a pipe it waits on would never close). */
		close_range(3, ~0U, 0);
		execve(argv[0], argv, envp);
		(void)!write(2, exec_failed, sizeof(exec_failed) - 1);
		(void)!write(2, argv[0], strlen(argv[0]));
		(void)!write(2, "\n", 1);
		_exit(127);
	}
	if (capture) {
		char buf[4096];
		ssize_t n;

		close(pipefd[1]);
		pipefd[1] = -1;
		for (;;) {
			n = read(pipefd[0], buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			cv_buf_add(capture, buf, (size_t)n);
			/* Keep the end: that is where the reason is. */
			if (capture->len > OUTPUT_KEEP) {
				size_t drop = capture->len - OUTPUT_KEEP / 2;

				memmove(capture->buf, capture->buf + drop,
					capture->len - drop);
				capture->len -= drop;
				capture->buf[capture->len] = '\0';
			}
		}
	}
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			ret = cv_error_errno(err, CV_ERROR,
					     "could not wait for %s", argv[0]);
			goto cleanup;
		}
	}
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	ret = 0;
cleanup:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (devnull >= 0)
		close(devnull);
	free(tzvar);
	return ret;
}

/*
 * The server user must be able to pass through every folder down to the
 * archive. Ask as that user, in a child, so the answer includes ACLs and
 * group membership exactly as the server will see them.
 */
static int check_reachable(const struct paths *p, const struct runas *ra,
			   struct cv_error *err)
{
	size_t n = 0, i, len = strlen(p->archive);
	char **prefix = NULL;
	/* { index of the blocking folder or -1, its errno } */
	int answer[2] = { -2, 0 }, pipefd[2] = { -1, -1 }, st, ret;
	pid_t pid;

	if (!ra->drop)
		return 0;
	prefix = cv_calloc(len + 1, sizeof(*prefix));
	prefix[n++] = cv_strdup("/");
	for (i = 1; i <= len; i++)
		if (p->archive[i] == '/' || p->archive[i] == '\0')
			prefix[n++] = cv_strndup(p->archive, i);
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		ret = cv_error_errno(err, CV_ERROR,
				     "could not check access to '%s'",
				     p->escaped);
		goto cleanup;
	}
	pid = fork();
	if (pid < 0) {
		ret = cv_error_errno(err, CV_ERROR,
				     "could not check access to '%s'",
				     p->escaped);
		goto cleanup;
	}
	if (pid == 0) {
		if (setgroups(0, NULL) == 0 && setgid(ra->gid) == 0 &&
		    setuid(ra->uid) == 0) {
			for (answer[0] = 0; answer[0] < (int)n; answer[0]++) {
				if (access(prefix[answer[0]], X_OK) < 0) {
					answer[1] = errno;
					break;
				}
			}
			if (answer[0] == (int)n)
				answer[0] = -1;
		}
		(void)!write(pipefd[1], answer, sizeof(answer));
		_exit(0);
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	if (read(pipefd[0], answer, sizeof(answer)) != sizeof(answer))
		answer[0] = -2;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (answer[0] == -2 || answer[0] >= (int)n) {
		ret = cv_error_set(
			err, CV_ERROR,
			"could not check whether user '%s' can reach '%s'",
			ra->name, p->escaped);
		cv_error_detail(
			err, "switching to the user failed in a child process");
		goto cleanup;
	}
	if (answer[0] >= 0) {
		ret = cv_error_set(
			err, CV_EUNAVAIL,
			"the database server user '%s' cannot reach the archive folder '%s'",
			ra->name, p->escaped);
		cv_error_detail(err, "no search (x) permission on '%s': %s",
				prefix[answer[0]], strerror(answer[1]));
		cv_error_hint(
			err,
			"let it pass, e.g. chmod o+x '%s' (or a group or ACL entry), or put the archive elsewhere",
			prefix[answer[0]]);
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	for (i = 0; i < n; i++)
		free(prefix[i]);
	free(prefix);
	return ret;
}

/*
 * Make path a 0700 folder owned by the server user (0750 and the
 * archive's group for the socket folder of a shared archive). exclusive:
 * fail with CV_EEXISTS when it is already there.
 */
static int folder_for(const char *path, const struct runas *ra, int exclusive,
		      int group_reach, struct cv_error *err);

static int private_dir(const char *path, const struct runas *ra, int exclusive,
		       struct cv_error *err)
{
	return folder_for(path, ra, exclusive, 0, err);
}

static int folder_for(const char *path, const struct runas *ra, int exclusive,
		      int group_reach, struct cv_error *err)
{
	const mode_t mode = group_reach && ra->share ? 0750 : 0700;
	const gid_t gid = group_reach && ra->share ? ra->share_gid : ra->gid;
	struct stat st;

	if (mkdir(path, 0700) < 0) {
		if (errno == EEXIST && exclusive)
			return cv_error_set(err, CV_EEXISTS,
					    "'%s' already exists", path);
		if (errno != EEXIST)
			return cv_error_errno(err, CV_ERROR,
					      "could not create folder '%s'",
					      path);
	}
	/* A symlink here could move the socket or data anywhere. */
	if (lstat(path, &st) < 0)
		return cv_error_errno(err, CV_ERROR, "could not inspect '%s'",
				      path);
	if (!S_ISDIR(st.st_mode))
		return cv_error_set(
			err, CV_ERROR,
			"'%s' is not a folder (a symlink or file is in its place)",
			path);
	if (ra->drop && (st.st_uid != ra->uid || st.st_gid != gid) &&
	    chown(path, ra->uid, gid) < 0)
		return cv_error_errno(err, CV_ERROR,
				      "could not give '%s' to user '%s'", path,
				      ra->name);
	if (!ra->drop && st.st_gid != gid && chown(path, (uid_t)-1, gid) < 0)
		return cv_error_errno(err, CV_ERROR,
				      "could not give '%s' to group '%s'", path,
				      ra->group);
	if ((st.st_mode & 07777) != mode && chmod(path, mode) < 0)
		return cv_error_errno(err, CV_ERROR,
				      "could not set '%s' to mode %04o", path,
				      (unsigned)mode);
	return 0;
}

/* Quote s as a single-quoted postgresql.conf string. */
static void add_conf_string(struct cv_buf *b, const char *s)
{
	cv_buf_addch(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			cv_buf_adds(b, "''");
		else if (*s == '\\')
			cv_buf_adds(b, "\\\\");
		else
			cv_buf_addch(b, *s);
	}
	cv_buf_addch(b, '\'');
}

/* Quote s as a libpq connection string value. */
static void add_dsn_string(struct cv_buf *b, const char *s)
{
	cv_buf_addch(b, '\'');
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			cv_buf_addch(b, '\\');
		cv_buf_addch(b, *s);
	}
	cv_buf_addch(b, '\'');
}

static char *make_dsn(const char *pgrun, const char *dbname)
{
	struct cv_buf b = CV_BUF_INIT;

	cv_buf_adds(&b, "host=");
	add_dsn_string(&b, pgrun);
	cv_buf_addf(&b, " port=%s dbname=%s user=%s", CLUSTER_PORT, dbname,
		    CLUSTER_USER);
	return cv_buf_detach(&b, NULL);
}

char *cv_index_cluster_dsn(const char *archive_dir)
{
	char *archive = cv_path_absolute(archive_dir);
	char *pgrun = cv_path_join(archive, "pgrun");
	char *dsn = make_dsn(pgrun, CLUSTER_DB);

	free(pgrun);
	free(archive);
	return dsn;
}

/*
 * Settings appended to postgresql.conf; later lines win over initdb's.
 * Sized for a small machine running OCR beside the database.
 */
static int write_settings(const struct paths *p, const struct runas *ra,
			  struct cv_error *err)
{
	struct cv_buf b = CV_BUF_INIT;
	char *conf = cv_path_join(p->pgdata, "postgresql.conf");
	int fd = -1, ret;

	cv_buf_adds(
		&b,
		"\n# Added by chartvault: Unix socket only, reachable by the server's user\n"
		"# and root alone, or archive.group's members (see index/cluster.c).\n"
		"listen_addresses = ''\n"
		"unix_socket_directories = ");
	add_conf_string(&b, p->pgrun);
	if (ra->share) {
		/* The staff of a shared archive connect through the group. */
		cv_buf_adds(&b, "\nunix_socket_group = ");
		add_conf_string(&b, ra->group);
		cv_buf_adds(&b, "\nunix_socket_permissions = 0770");
	} else {
		cv_buf_adds(&b, "\nunix_socket_permissions = 0700");
	}
	cv_buf_adds(&b, "\nport = " CLUSTER_PORT "\n"
			"max_connections = 50\n"
			"shared_buffers = 128MB\n"
			"maintenance_work_mem = 128MB\n"
			/* Interactive statements (search): compiling
			 * one costs more than it saves (docs/search.md) */
			"jit = off\n"
			"logging_collector = off\n"
			"log_line_prefix = '%m [%p] '\n");
	fd = open(conf, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not open '%s'",
				     conf);
		goto cleanup;
	}
	if (cv_fs_write_all(fd, b.buf, b.len) < 0 || fsync(fd) < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not write '%s'",
				     conf);
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (fd >= 0 && close(fd) < 0 && ret == 0)
		ret = cv_error_errno(err, CV_ERROR, "could not write '%s'",
				     conf);
	cv_buf_release(&b);
	free(conf);
	return ret;
}

/* 1 when pid is a zombie: dead, but kill(pid, 0) still succeeds. */
static int is_zombie(long pid)
{
	char path[64], line[512], *paren;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (read_first_line(path, line, sizeof(line)) < 0)
		return 0;
	paren = strrchr(line, ')');
	return paren && paren[1] == ' ' && paren[2] == 'Z';
}

/* The pid recorded in a PostgreSQL lock file, or 0. */
static long lockfile_pid(const char *path)
{
	char line[64];
	long long pid;

	if (read_first_line(path, line, sizeof(line)) < 0)
		return 0;
	/* A negative pid marks a single-user backend; report it as is. */
	if (cv_parse_ll(&pid, line, -(long long)INT_MAX, INT_MAX) < 0)
		return 0;
	return pid < 0 ? (long)-pid : (long)pid;
}

static int pid_alive(long pid)
{
	if (pid <= 0)
		return 0;
	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return 0;
	return !is_zombie(pid);
}

/*
 * A postmaster killed with -9 whose parent does not reap it (a container
 * whose init does not) stays a zombie, and PostgreSQL, seeing its pid
 * alive, refuses to start. A zombie has detached its shared memory, so
 * its lock files are safe to remove; PostgreSQL's own shared memory check
 * still guards against live backends.
 */
static void clear_zombie_lock(const char *path)
{
	long pid = lockfile_pid(path);

	if (pid > 0 && is_zombie(pid))
		unlink(path);
}

/* 1 when the cluster's postmaster is alive and answers on its socket. */
static int server_running(const struct paths *p, long *pid_out)
{
	long pid = lockfile_pid(p->pidfile);
	char *dsn;
	PGPing ping;

	*pid_out = 0;
	if (!pid_alive(pid))
		return 0;
	dsn = make_dsn(p->pgrun, "postgres");
	ping = PQping(dsn);
	free(dsn);
	if (ping != PQPING_OK && ping != PQPING_REJECT)
		return 0;
	*pid_out = pid;
	return 1;
}

/* Create the chartvault database unless it is there. */
static int ensure_database(const struct paths *p, struct cv_error *err)
{
	const char *params[1] = { CLUSTER_DB };
	char *dsn = make_dsn(p->pgrun, "postgres");
	struct cv_index *ix = NULL;
	PGresult *res = NULL;
	const char *state;
	int ret;

	ret = cv_index_open(&ix, dsn, err);
	if (ret < 0) {
		cv_error_prefix(err, "cluster in '%s'", p->escaped);
		goto cleanup;
	}
	res = PQexecParams(ix->conn,
			   "SELECT 1 FROM pg_database WHERE datname = $1", 1,
			   NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not list the databases of the cluster in '%s'",
			p->escaped);
		goto cleanup;
	}
	if (PQntuples(res) > 0) {
		ret = 0;
		goto cleanup;
	}
	PQclear(res);
	res = PQexecParams(ix->conn, "CREATE DATABASE " CLUSTER_DB, 0, NULL,
			   NULL, NULL, NULL, 0);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	/* 42P04: another process created it first. */
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    !(state && !strcmp(state, "42P04"))) {
		ret = cv_index__error_pg(
			err, res, ix->conn,
			"could not create database '%s' in '%s'", CLUSTER_DB,
			p->escaped);
		goto cleanup;
	}
	ret = 0;
cleanup:
	PQclear(res);
	cv_index_free(ix);
	free(dsn);
	return ret;
}

/*
 * Serialise start and stop between chartvault processes: two commands
 * starting an idle archive at once must not both run pg_ctl start. The
 * lock goes with the descriptor, so a crashed holder releases it.
 */
static int take_lock(const struct paths *p, int *fd_out, struct cv_error *err)
{
	int fd;

	*fd_out = -1;
	fd = open(p->lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cv_error_errno(err, CV_ERROR, "could not open lock '%s'",
				      p->lock);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			cv_error_errno(err, CV_ERROR, "could not lock '%s'",
				       p->lock);
			close(fd);
			return CV_ERROR;
		}
	}
	*fd_out = fd;
	return 0;
}

static void release_lock(int fd)
{
	if (fd >= 0)
		close(fd); /* drops the flock */
}

static int cluster_exists(const struct paths *p, struct cv_error *err)
{
	char *version = cv_path_join(p->pgdata, "PG_VERSION");
	int ret = 0;

	if (!cv_fs_exists(version)) {
		ret = cv_error_set(err, CV_EUNAVAIL,
				   "there is no database cluster in '%s'",
				   p->escaped);
		cv_error_detail(err, "'%s' is missing", version);
		cv_error_hint(
			err,
			"create the archive with 'chartvault init', or set db.dsn to use an external server");
	}
	free(version);
	return ret;
}

static void read_major(const struct paths *p, char *out, size_t n)
{
	char *version = cv_path_join(p->pgdata, "PG_VERSION");

	if (read_first_line(version, out, n) < 0)
		out[0] = '\0';
	free(version);
}

/*
 * PostgreSQL refuses to start while shared memory of a killed server is
 * still attached by its dying backends, or while the old pid looks alive;
 * both pass within seconds.
 */
static int transient_start_failure(const char *log)
{
	return strstr(log, "pre-existing shared memory block") ||
	       strstr(log, "already exists") || strstr(log, "is still in use");
}

static int start_server(const struct paths *p, const struct runas *ra,
			const char *pgctl, struct cv_error *err)
{
	char *argv[] = { (char *)pgctl, "-D",    p->pgdata, "-l",
			 p->server_log, "-w",    "-t",      START_TIMEOUT,
			 "-s",          "start", NULL };
	uint64_t deadline = cv_now_ms() + START_RETRY_MS;
	struct cv_buf out = CV_BUF_INIT, log = CV_BUF_INIT;
	long pid;
	int status = 0, ret;
	off_t from;

	for (;;) {
		if (server_running(p, &pid)) {
			ret = 0;
			goto cleanup;
		}
		clear_zombie_lock(p->pidfile);
		clear_zombie_lock(p->socket_lock);
		cv_buf_reset(&out);
		cv_buf_reset(&log);
		from = file_size(p->server_log);
		ret = run_program(argv, ra, -1, &out, &status, err);
		if (ret < 0)
			goto cleanup;
		if (status == 0) {
			ret = 0;
			goto cleanup;
		}
		file_tail(&log, p->server_log, from);
		if (cv_now_ms() >= deadline ||
		    !(transient_start_failure(log.buf) ||
		      transient_start_failure(out.buf)))
			break;
		usleep(500 * 1000);
	}
	ret = cv_error_set(err, CV_EUNAVAIL,
			   "could not start the database server in '%s'",
			   p->escaped);
	{
		struct cv_buf d = CV_BUF_INIT;

		cv_buf_addf(&d, "pg_ctl exited with %d: ", status);
		tail_line(&d, out.buf, out.len);
		if (log.len)
			cv_buf_addf(&d, "; server.log: %s", log.buf);
		/* The end of the text says why; keep that part. */
		cv_error_detail(err, "%s",
				d.len < sizeof(err->detail)
					? d.buf
					: d.buf + d.len - sizeof(err->detail) +
						  1);
		cv_buf_release(&d);
	}
	if (strstr(log.buf, "postmaster.pid"))
		cv_error_hint(
			err,
			"if no server runs for this archive, remove the stale '%s'; see '%s'",
			p->pidfile, p->server_log);
	else
		cv_error_hint(err, "see '%s'", p->server_log);
cleanup:
	cv_buf_release(&out);
	cv_buf_release(&log);
	return ret;
}

/* Start under the lock and make sure the chartvault database exists. */
static int start_locked(const struct paths *p, const struct cv_config *cfg,
			struct cv_error *err)
{
	struct runas ra;
	char major[32], *bindir = NULL, *pgctl = NULL;
	int lockfd = -1, ret;

	ret = cluster_exists(p, err);
	if (ret < 0)
		goto cleanup;
	ret = resolve_runas(&ra, cfg, err);
	if (ret == 0)
		ret = resolve_share(&ra, cfg, err);
	if (ret < 0)
		goto cleanup;
	/* Recreated if someone removed it; fixes a loosened mode too. */
	ret = folder_for(p->pgrun, &ra, 0, 1, err);
	if (ret < 0)
		goto cleanup;
	read_major(p, major, sizeof(major));
	ret = find_bindir(&bindir, cfg, major, "pg_ctl", err);
	if (ret < 0)
		goto cleanup;
	pgctl = cv_path_join(bindir, "pg_ctl");
	ret = take_lock(p, &lockfd, err);
	if (ret < 0)
		goto cleanup;
	ret = start_server(p, &ra, pgctl, err);
	if (ret < 0)
		goto cleanup;
	/*
	 * Also on a warm start: a create that died between starting the
	 * server and creating the database is completed here.
	 */
	ret = ensure_database(p, err);
cleanup:
	release_lock(lockfd);
	free(pgctl);
	free(bindir);
	return ret;
}

/*
 * 1 when a server answers on the archive's socket. The fast path of a
 * start, and the only one open to the staff of a shared archive, who may
 * reach the socket but not read the server's own folder.
 */
static int answers(const struct paths *p)
{
	char *dsn = make_dsn(p->pgrun, "postgres");
	PGPing ping = PQping(dsn);

	free(dsn);
	return ping == PQPING_OK;
}

/*
 * On a warm start too, a loosened socket folder is set right again, by
 * whoever may: root or its owner (not the staff of a shared archive).
 */
static int tighten_socket_folder(const struct paths *p,
				 const struct cv_config *cfg,
				 struct cv_error *err)
{
	struct runas ra;
	struct stat st;
	int ret;

	if (lstat(p->pgrun, &st) < 0 ||
	    (geteuid() != 0 && st.st_uid != geteuid()))
		return 0;
	ret = resolve_runas(&ra, cfg, err);
	if (ret == 0)
		ret = resolve_share(&ra, cfg, err);
	if (ret == 0)
		ret = folder_for(p->pgrun, &ra, 0, 1, err);
	return ret;
}

int cv_index_cluster_start(const char *archive_dir, const struct cv_config *cfg,
			   struct cv_error *err)
{
	struct paths p;
	int ret;

	ret = paths_init(&p, archive_dir, err);
	if (ret == 0 && answers(&p)) {
		ret = tighten_socket_folder(&p, cfg, err);
		if (ret == 0)
			ret = ensure_database(&p, err);
	} else if (ret == 0) {
		ret = start_locked(&p, cfg, err);
	}
	paths_release(&p);
	return ret;
}

static int run_initdb(const struct paths *p, const struct runas *ra,
		      const char *initdb, struct cv_error *err)
{
	/*
	 * Trust only on the socket, whose folder is the guard; host lines
	 * reject, in case a TCP listener is ever switched on. Checksums catch
	 * storage corruption under the index of patient records.
	 */
	char *argv[] = { (char *)initdb,
			 "-D",
			 p->pgdata,
			 "-U",
			 CLUSTER_USER,
			 "--auth-local=trust",
			 "--auth-host=reject",
			 "-E",
			 "UTF8",
			 "--locale=C.UTF-8",
			 "--data-checksums",
			 NULL };
	struct cv_buf tail = CV_BUF_INIT;
	int fd, status, ret;

	/* Opened here, as the caller: the server user may not write there. */
	fd = open(p->initdb_log,
		  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not create '%s'",
				     p->initdb_log);
		goto cleanup;
	}
	ret = run_program(argv, ra, fd, NULL, &status, err);
	if (ret < 0)
		goto cleanup;
	if (status != 0) {
		ret = cv_error_set(
			err, CV_ERROR,
			"could not create the database cluster in '%s'",
			p->escaped);
		file_tail(&tail, p->initdb_log, 0);
		cv_error_detail(err, "initdb exited with %d: %s", status,
				tail.buf);
		cv_error_hint(err, "see '%s'", p->initdb_log);
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	cv_buf_release(&tail);
	return ret;
}

int cv_index_cluster_create(const char *archive_dir,
			    const struct cv_config *cfg, struct cv_error *err)
{
	struct paths p;
	struct runas ra;
	struct stat st;
	char *bindir = NULL, *initdb = NULL;
	int made_pgdata = 0, initialised = 0, configured = 0, ret;

	ret = paths_init(&p, archive_dir, err);
	if (ret < 0)
		goto cleanup;
	if (stat(p.archive, &st) < 0) {
		ret = cv_error_errno(err, CV_ERROR,
				     "could not use the archive folder '%s'",
				     p.escaped);
		goto cleanup;
	}
	if (!S_ISDIR(st.st_mode)) {
		ret = cv_error_set(
			err, CV_ERROR,
			"could not use the archive folder '%s': it is not a folder",
			p.escaped);
		goto cleanup;
	}
	if (cv_fs_exists(p.pgdata)) {
		ret = cv_error_set(err, CV_EEXISTS,
				   "a database cluster already exists in '%s'",
				   p.escaped);
		cv_error_hint(
			err,
			"use the existing cluster, or remove '%s' to start over",
			p.pgdata);
		goto cleanup;
	}
	ret = find_bindir(&bindir, cfg, NULL, "initdb", err);
	if (ret < 0)
		goto cleanup;
	initdb = cv_path_join(bindir, "initdb");
	if (!is_program(bindir, "pg_ctl")) {
		ret = cv_error_set(err, CV_EUNAVAIL,
				   "could not find pg_ctl beside '%s'", initdb);
		cv_error_hint(
			err,
			"install the PostgreSQL server package, or set db.pg_bindir");
		goto cleanup;
	}
	ret = resolve_runas(&ra, cfg, err);
	if (ret == 0)
		ret = resolve_share(&ra, cfg, err);
	if (ret < 0)
		goto cleanup;
	ret = check_reachable(&p, &ra, err);
	if (ret < 0)
		goto cleanup;
	/* mkdir is the claim: of two concurrent creates, one wins. */
	ret = private_dir(p.pgdata, &ra, 1, err);
	if (ret < 0) {
		if (ret == CV_EEXISTS)
			cv_error_set(
				err, CV_EEXISTS,
				"a database cluster already exists in '%s'",
				p.escaped);
		goto cleanup;
	}
	made_pgdata = 1;
	ret = folder_for(p.pgrun, &ra, 0, 1, err);
	if (ret < 0)
		goto cleanup;
	ret = run_initdb(&p, &ra, initdb, err);
	if (ret < 0)
		goto cleanup;
	initialised = 1;
	ret = write_settings(&p, &ra, err);
	if (ret < 0)
		goto cleanup;
	configured = 1;
	ret = start_locked(&p, cfg, err);
cleanup:
	/*
	 * initdb removes what it wrote when it fails; take the empty folder
	 * too, so that running create again works. A cluster without our
	 * settings would listen on TCP: move it out of the way, never start
	 * it. A configured cluster is kept (stopped), and start completes it.
	 */
	if (ret < 0 && made_pgdata && !initialised)
		rmdir(p.pgdata);
	if (ret < 0 && configured) {
		/* A failed create leaves no server running behind the caller.
		 */
		struct cv_error ignore = CV_ERROR_INIT;

		cv_index_cluster_stop(archive_dir, cfg, &ignore);
	}
	if (ret < 0 && initialised && !configured) {
		char *aside = cv_asprintf("%s.incomplete.%ld", p.pgdata,
					  (long)getpid());

		if (rename(p.pgdata, aside) == 0)
			cv_error_hint(
				err,
				"the unfinished cluster was moved to '%s'; remove it and run the command again",
				aside);
		free(aside);
	}
	free(initdb);
	free(bindir);
	paths_release(&p);
	return ret;
}

int cv_index_cluster_stop(const char *archive_dir, const struct cv_config *cfg,
			  struct cv_error *err)
{
	struct paths p;
	struct runas ra;
	struct cv_buf out = CV_BUF_INIT, log = CV_BUF_INIT;
	char major[32], *bindir = NULL, *pgctl = NULL;
	int lockfd = -1, status, ret;
	long pid;
	off_t from;

	ret = paths_init(&p, archive_dir, err);
	if (ret < 0)
		goto cleanup;
	ret = cluster_exists(&p, err);
	if (ret < 0)
		goto cleanup;
	if (!cv_fs_exists(p.pgrun) || !server_running(&p, &pid)) {
		ret = 0;
		goto cleanup;
	}
	ret = resolve_runas(&ra, cfg, err);
	if (ret == 0)
		ret = resolve_share(&ra, cfg, err);
	if (ret < 0)
		goto cleanup;
	read_major(&p, major, sizeof(major));
	ret = find_bindir(&bindir, cfg, major, "pg_ctl", err);
	if (ret < 0)
		goto cleanup;
	pgctl = cv_path_join(bindir, "pg_ctl");
	ret = take_lock(&p, &lockfd, err);
	if (ret < 0)
		goto cleanup;
	if (!server_running(&p, &pid)) {
		ret = 0;
		goto cleanup;
	}
	from = file_size(p.server_log);
	{
		char *argv[] = { pgctl,  "-D",   p.pgdata, "-m",
				 "fast", "-w",   "-t",     START_TIMEOUT,
				 "-s",   "stop", NULL };

		ret = run_program(argv, &ra, -1, &out, &status, err);
	}
	if (ret < 0)
		goto cleanup;
	if (status != 0) {
		struct cv_buf d = CV_BUF_INIT;

		file_tail(&log, p.server_log, from);
		ret = cv_error_set(err, CV_ERROR,
				   "could not stop the database server in '%s'",
				   p.escaped);
		cv_buf_addf(&d, "pg_ctl exited with %d: ", status);
		tail_line(&d, out.buf, out.len);
		if (log.len)
			cv_buf_addf(&d, "; server.log: %s", log.buf);
		cv_error_detail(err, "%s",
				d.len < sizeof(err->detail)
					? d.buf
					: d.buf + d.len - sizeof(err->detail) +
						  1);
		cv_buf_release(&d);
		cv_error_hint(err, "see '%s'", p.server_log);
		goto cleanup;
	}
	ret = 0;
cleanup:
	release_lock(lockfd);
	cv_buf_release(&out);
	cv_buf_release(&log);
	free(pgctl);
	free(bindir);
	paths_release(&p);
	return ret;
}

int cv_index_cluster_status(const char *archive_dir,
			    const struct cv_config *cfg,
			    struct cv_index_cluster_status *st,
			    struct cv_error *err)
{
	struct paths p;
	long pid;
	int ret;

	(void)cfg; /* status needs no program and no user switch */
	memset(st, 0, sizeof(*st));
	ret = paths_init(&p, archive_dir, err);
	if (ret < 0)
		goto cleanup;
	ret = cluster_exists(&p, err);
	if (ret < 0)
		goto cleanup;
	read_major(&p, st->version, sizeof(st->version));
	snprintf(st->socket_dir, sizeof(st->socket_dir), "%s", p.pgrun);
	st->running = server_running(&p, &pid);
	st->pid = st->running ? pid : 0;
	ret = 0;
cleanup:
	paths_release(&p);
	return ret;
}
