/*
 * Durable file-system primitives. Every file chartvault stores goes
 * through cv_fs_write_atomic or the archive's own streaming variant of
 * the same protocol: temp file, fsync, rename, fsync of the folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cv.h"
#include "banned.h"

static int share_group;

void cv_fs_share_with_group(int on)
{
	share_group = on;
}

mode_t cv_fs_mode(mode_t private_mode)
{
	if (!share_group)
		return private_mode;
	return private_mode | ((private_mode & 0700) >> 3);
}

int cv_fs_mkdirs(const char *path, mode_t mode, struct cv_error *err)
{
	char *p = cv_strdup(path), *s;
	int ret = 0;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			ret = cv_error_errno(err, CV_ERROR,
					     "could not create folder '%s'", p);
			goto out;
		}
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		ret = cv_error_errno(err, CV_ERROR,
				     "could not create folder '%s'", p);
out:
	free(p);
	return ret;
}

int cv_fs_fsync_dir(const char *path, struct cv_error *err)
{
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cv_error_errno(err, CV_ERROR,
				      "could not open folder '%s'", path);
	if (fsync(fd) < 0)
		ret = cv_error_errno(err, CV_ERROR,
				     "could not sync folder '%s'", path);
	close(fd);
	return ret;
}

int cv_fs_write_all(int fd, const void *data, size_t n)
{
	const char *p = data;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return cv_strdup(".");
	if (slash == path)
		return cv_strdup("/");
	return cv_strndup(path, (size_t)(slash - path));
}

int cv_fs_write_atomic(const char *path, const void *data, size_t n,
		       mode_t mode, int exclusive, struct cv_error *err)
{
	char *dir = dir_of(path);
	char *tmp = cv_asprintf("%s.tmp.XXXXXX", path);
	int fd = -1, ret;

	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = cv_error_errno(err, CV_ERROR,
				     "could not create a file in '%s'", dir);
		goto out;
	}
	if (fchmod(fd, mode) < 0 || cv_fs_write_all(fd, data, n) < 0 ||
	    fsync(fd) < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not write '%s'",
				     path);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		ret = cv_error_errno(err, CV_ERROR, "could not write '%s'",
				     path);
		goto out;
	}
	fd = -1;
	if (exclusive) {
		/* link() fails if path exists, which rename() would not. */
		if (link(tmp, path) < 0) {
			ret = errno == EEXIST
				      ? cv_error_set(err, CV_EEXISTS,
						     "'%s' already exists",
						     path)
				      : cv_error_errno(err, CV_ERROR,
						       "could not create '%s'",
						       path);
			goto out;
		}
		unlink(tmp);
	} else if (rename(tmp, path) < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not replace '%s'",
				     path);
		goto out;
	}
	/* The rename is durable only once the folder's entry is on disk. */
	ret = cv_fs_fsync_dir(dir, err);
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	free(dir);
	return ret;
}

int cv_fs_read_file(struct cv_buf *b, const char *path, size_t max,
		    struct cv_error *err)
{
	struct stat st;
	int fd, ret = 0;

	/* O_NONBLOCK: a FIFO swapped in for a file must not hang the open;
	 * it is refused below like any other non-file. Reads of a regular
	 * file ignore the flag. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return cv_error_errno(
			err, errno == ENOENT ? CV_ENOTFOUND : CV_EINVAL,
			"could not open '%s'", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = cv_error_set(err, CV_EINVAL, "'%s' is not a regular file",
				   path);
		goto out;
	}
	if ((size_t)st.st_size > max) {
		ret = cv_error_set(err, CV_ELIMIT,
				   "'%s' is larger than the limit of %zu bytes",
				   path, max);
		goto out;
	}
	if (cv_buf_grow(b, (size_t)st.st_size) < 0) {
		ret = cv_error_set(err, CV_ELIMIT, "'%s' is too large", path);
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (cv_buf_grow(b, 65536) < 0) {
			ret = cv_error_set(err, CV_ELIMIT, "'%s' is too large",
					   path);
			goto out;
		}
		r = read(fd, b->buf + b->len, 65536);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = cv_error_errno(err, CV_ERROR,
					     "could not read '%s'", path);
			goto out;
		}
		if (r == 0)
			break;
		b->len += (size_t)r;
		if (max && b->len > max) {
			ret = cv_error_set(
				err, CV_ELIMIT,
				"'%s' grew past the limit of %zu bytes", path,
				max);
			goto out;
		}
	}
	b->buf[b->len] = '\0';
out:
	close(fd);
	return ret;
}

int cv_fs_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

char *cv_path_join(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (n && a[n - 1] == '/')
		return cv_asprintf("%s%s", a, b);
	return cv_asprintf("%s/%s", a, b);
}

char *cv_path_absolute(const char *path)
{
	struct cv_buf out = CV_BUF_INIT;
	char cwd[PATH_MAX];
	char *in;
	const char *seg;
	char *save = NULL;

	if (path[0] == '/') {
		in = cv_strdup(path);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return cv_strdup(path);
		in = cv_path_join(cwd, path);
	}
	/* Resolve "." and ".." lexically; symlinks are left as they are. */
	for (seg = strtok_r(in, "/", &save); seg;
	     seg = strtok_r(NULL, "/", &save)) {
		if (!strcmp(seg, "."))
			continue;
		if (!strcmp(seg, "..")) {
			char *slash = strrchr(out.buf, '/');

			if (slash) {
				out.len = (size_t)(slash - out.buf);
				out.buf[out.len] = '\0';
			}
			continue;
		}
		cv_buf_addch(&out, '/');
		cv_buf_adds(&out, seg);
	}
	if (!out.len)
		cv_buf_addch(&out, '/');
	free(in);
	return cv_buf_detach(&out, NULL);
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int cv_fs_remove_tree(const char *path, struct cv_error *err)
{
	/* FTW_PHYS: a symlink inside is removed, never followed. */
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 &&
	    errno != ENOENT)
		return cv_error_errno(err, CV_ERROR, "could not remove '%s'",
				      path);
	return 0;
}
