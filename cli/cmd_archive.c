/*
 * chartvault archive put|get: the object store's plumbing, for scripts
 * and tests (like git's hash-object and cat-file). Every read of an
 * object is audited.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common/banned.h"

struct put_ctx {
	struct cli *c;
	const char **files;
	json_t *arr;
	int failed;
};

/* One file's outcome, in order, once its row is committed. */
static int put_done(void *arg, size_t i,
		    const struct cv_archive_put_result *res)
{
	struct put_ctx *p = arg;
	char hex[CV_ARCHIVE_OID_HEXLEN + 1];

	if (res->code < 0) {
		int code = cli_fail(&res->err);

		/* A bad file is skipped; a broken store or database stops
		 * the run. */
		if (code != CLI_REJECTS)
			return -code;
		p->failed++;
		return 0;
	}
	cv_archive_oid_format(hex, res->id);
	if (p->arr) {
		json_t *o = json_object();

		json_object_set_new(o, "file", json_string(p->files[i]));
		json_object_set_new(o, "id", json_string(hex));
		json_object_set_new(o, "new", json_boolean(res->is_new));
		json_array_append_new(p->arr, o);
	} else {
		/* One line per stored file, as soon as its row is committed:
		 * a caller that is killed mid-run still knows which ids are
		 * safe. */
		printf("%s\n", hex);
		fflush(stdout);
	}
	return 0;
}

static int put(struct cli *c, const struct cv_cmd *cmd, int argc, char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	struct put_ctx p = { c, NULL, NULL, 0 };
	size_t nfiles = 0;
	int i, ret;

	p.files = cv_calloc((size_t)argc, sizeof(*p.files));
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json"))
			p.files[nfiles++] = argv[i];
	if (!nfiles) {
		free(p.files);
		return cli_usage(cmd, "archive put needs at least one file");
	}
	p.arr = c->json ? json_array() : NULL;
	/* Each stored file's audit row commits with its object row. */
	ret = cv_archive_put_files(c->ar, p.files, nfiles, "original", 0,
				   c->actor, put_done, &p, &err);
	free(p.files);
	if (ret < 0 && err.code) {
		json_decref(p.arr);
		return cli_fail(&err);
	}
	if (ret < 0) {
		json_decref(p.arr);
		return -ret; /* put_done reported it */
	}
	if (p.arr)
		cli_json_print(p.arr);
	return p.failed ? CLI_REJECTS : CLI_OK;
}

/*
 * Read one object into the file outpath: the bytes reach that name only
 * once every chunk is proven, through a temp file that is synced and
 * renamed (the caller syncs the folder when it names many files).
 */
static int get_to_file(struct cli *c, const uint8_t *id, const char *outpath,
		       struct cv_error *err)
{
	char *tmp = cv_asprintf("%s.partial.XXXXXX", outpath);
	int fd, ret;

	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = cv_error_errno(err, CV_ERROR, "could not create '%s'",
				     outpath);
		goto cleanup;
	}
	ret = cv_archive_get_fd(c->ar, id, fd, err);
	if (ret == 0 && fsync(fd) < 0)
		ret = cv_error_errno(err, CV_ERROR, "could not write '%s'",
				     outpath);
	if (close(fd) < 0 && ret == 0)
		ret = cv_error_errno(err, CV_ERROR, "could not write '%s'",
				     outpath);
	if (ret == 0 && rename(tmp, outpath) < 0)
		ret = cv_error_errno(err, CV_ERROR, "could not write '%s'",
				     outpath);
	if (ret < 0)
		unlink(tmp);
cleanup:
	free(tmp);
	return ret;
}

/* Read one object to stdout or into outpath, and audit the read. */
static int get_one(struct cli *c, const char *hex, const char *outpath,
		   struct cv_error *err)
{
	uint8_t id[CV_ARCHIVE_OID_LEN];
	int ret;

	if (cv_archive_oid_parse(id, hex) < 0)
		return cv_error_set(err, CV_EINVAL,
				    "'%s' is not an object id (64 hex digits)",
				    hex);
	if (outpath)
		ret = get_to_file(c, id, outpath, err);
	else
		ret = cv_archive_get_fd(c->ar, id, 1, err);
	cv_index_audit(c->ix, c->actor, "object.get", "object", hex, NULL,
		       ret == 0 ? "ok" : cv_errcode_name(ret), NULL);
	return ret;
}

/*
 * Many objects are read in groups, and each group's audit rows are
 * committed in one transaction before any of its bytes are released (to
 * stdout, or renamed into the folder): one commit per group instead of
 * one per object, and no read leaves the process unaudited. On stdout a
 * group is held in memory, so it is capped in bytes; an object larger than
 * the cap goes alone, audited as a single get is.
 */
#define GET_GROUP_MAX   32
#define GET_GROUP_BYTES ((size_t)64 << 20)

struct got {
	const char *hex;
	int code; /* 0, or why the read failed */
	struct cv_error err;
	struct cv_buf data; /* stdout: the plaintext */
	int pooled;         /* data is get_run's: wipe, do not free */
	char *tmp;          /* folder: the proven bytes, not yet named */
};

struct get_run {
	struct cli *c;
	const char *dir; /* NULL: stdout */
	struct got group[GET_GROUP_MAX];
	size_t n, bytes;
	size_t failed;
	int first_fail; /* exit code of the first failure */
	int stop;       /* a failure that ends the run */
	/*
	 * stdout: the groups' buffers, kept from group to group so their
	 * pages are faulted in once; wiped after each group.
	 */
	struct cv_buf pool[GET_GROUP_MAX];
};

static void got_release(struct got *g)
{
	cv_wipe(g->data.buf, g->data.len);
	if (!g->pooled)
		cv_buf_release(&g->data);
	if (g->tmp) {
		unlink(g->tmp);
		free(g->tmp);
	}
	memset(g, 0, sizeof(*g));
}

/* Read one object of the group into memory or a temp file. */
static void read_into_group(struct get_run *r, const char *hex)
{
	struct got *g = &r->group[r->n++];
	uint8_t id[CV_ARCHIVE_OID_LEN];
	int fd;

	memset(g, 0, sizeof(*g));
	g->hex = hex;
	g->data = (struct cv_buf)CV_BUF_INIT;
	if (cv_archive_oid_parse(id, hex) < 0) {
		g->code = cv_error_set(
			&g->err, CV_EINVAL,
			"'%s' is not an object id (64 hex digits)", hex);
		return;
	}
	if (!r->dir) {
		g->code = cv_archive_get_mem(r->c->ar, id, &g->data,
					     GET_GROUP_BYTES, &g->err);
		r->bytes += g->data.len;
		return;
	}
	g->tmp = cv_asprintf("%s/%s.partial.XXXXXX", r->dir, hex);
	fd = mkstemp(g->tmp);
	if (fd < 0) {
		g->code = cv_error_errno(&g->err, CV_ERROR,
					 "could not create a file in '%s'",
					 r->dir);
		free(g->tmp);
		g->tmp = NULL;
		return;
	}
	g->code = cv_archive_get_fd(r->c->ar, id, fd, &g->err);
	if (g->code == 0 && fsync(fd) < 0)
		g->code = cv_error_errno(&g->err, CV_ERROR,
					 "could not write '%s'", g->tmp);
	if (close(fd) < 0 && g->code == 0)
		g->code = cv_error_errno(&g->err, CV_ERROR,
					 "could not write '%s'", g->tmp);
}

static void note_failure(struct get_run *r, const struct cv_error *err,
			 int code)
{
	r->failed++;
	if (r->first_fail == CLI_OK)
		r->first_fail = cli_exit_code(code);
	cli_fail(err);
	/*
	 * A folder takes each object on its own; on stdout the stream ends
	 * at a failure. Without the database or the store nothing else
	 * would work either.
	 */
	if (!r->dir || code == CV_EUNAVAIL)
		r->stop = 1;
}

/* Audit the group in one transaction, then release its bytes. */
static int flush_group(struct get_run *r, struct cv_error *err)
{
	struct cv_index *ix = r->c->ix;
	size_t i;
	int ret;

	if (!r->n)
		return 0;
	ret = cv_index_begin(ix, err);
	for (i = 0; ret == 0 && i < r->n; i++) {
		const struct got *g = &r->group[i];

		ret = cv_index_audit(
			ix, r->c->actor, "object.get", "object", g->hex, NULL,
			g->code == 0 ? "ok" : cv_errcode_name(g->code), err);
	}
	if (ret == 0)
		ret = cv_index_commit(ix, err);
	else
		cv_index_rollback(ix);
	for (i = 0; ret == 0 && i < r->n; i++) {
		struct got *g = &r->group[i];
		char *path;

		if (g->code < 0) {
			note_failure(r, &g->err, g->code);
			continue;
		}
		if (!r->dir) {
			if (cv_fs_write_all(1, g->data.buf, g->data.len) < 0)
				ret = cv_error_errno(
					err, CV_ERROR,
					"could not write to stdout");
			continue;
		}
		path = cv_asprintf("%s/%s", r->dir, g->hex);
		if (rename(g->tmp, path) < 0) {
			struct cv_error rerr = CV_ERROR_INIT;

			cv_error_errno(&rerr, CV_ERROR, "could not write '%s'",
				       path);
			note_failure(r, &rerr, CV_ERROR);
		} else {
			free(g->tmp);
			g->tmp = NULL;
		}
		free(path);
	}
	for (i = 0; i < r->n; i++)
		got_release(&r->group[i]);
	r->n = 0;
	r->bytes = 0;
	return ret;
}

/*
 * One group for stdout, read by cv_archive_get_many_mem on every core,
 * from ids[*at]. The group ends at the first failure (nothing after it may
 * be written), or before an object too large to hold, which goes alone.
 */
static int stdout_group(struct get_run *r, char **ids, size_t nids, size_t *at,
			struct cv_error *err)
{
	uint8_t oids[GET_GROUP_MAX][CV_ARCHIVE_OID_LEN];
	struct cv_archive_get_result *res;
	size_t k = nids - *at, valid, taken = 0, upto, i;
	int ret, code;

	if (k > GET_GROUP_MAX)
		k = GET_GROUP_MAX;
	for (valid = 0; valid < k; valid++)
		if (cv_archive_oid_parse(oids[valid], ids[*at + valid]) < 0)
			break;
	if (!valid) {
		/* Not an id: reported (and audited) as a failed read. */
		read_into_group(r, ids[(*at)++]);
		return flush_group(r, err);
	}
	res = cv_calloc(valid, sizeof(*res));
	for (i = 0; i < valid; i++)
		cv_buf_reset(&r->pool[i]);
	ret = cv_archive_get_many_mem(r->c->ar, (const uint8_t(*)[32])oids,
				      valid, GET_GROUP_BYTES, 0, r->pool, res,
				      &taken, err);
	upto = taken;
	for (i = 0; ret == 0 && i < taken; i++) {
		if (res[i].code == CV_ELIMIT) {
			upto = i;
			break;
		}
		if (res[i].code < 0) {
			upto = i + 1;
			break;
		}
	}
	for (i = 0; i < taken; i++) {
		if (i < upto) {
			struct got *g = &r->group[r->n++];

			memset(g, 0, sizeof(*g));
			g->hex = ids[*at + i];
			g->code = res[i].code;
			g->err = res[i].err;
			g->data = r->pool[i];
			g->pooled = 1;
		} else {
			cv_wipe(r->pool[i].buf, r->pool[i].len);
		}
	}
	free(res);
	if (ret < 0)
		return ret;
	*at += upto;
	ret = flush_group(r, err);
	if (ret == 0 && !r->stop && upto < taken) {
		/* Too large to hold: alone, straight to stdout. */
		code = get_one(r->c, ids[*at], NULL, err);
		(*at)++;
		if (code < 0) {
			note_failure(r, err, code);
			cv_error_clear(err);
		}
	}
	return ret;
}

static int get_many(struct cli *c, char **ids, size_t nids, const char *dir)
{
	struct get_run *r = cv_calloc(1, sizeof(*r));
	struct cv_error err = CV_ERROR_INIT;
	size_t i = 0;
	int ret = 0, code;

	r->c = c;
	r->dir = dir;
	for (i = 0; i < GET_GROUP_MAX; i++)
		r->pool[i] = (struct cv_buf)CV_BUF_INIT;
	i = 0;
	while (!dir && i < nids && !r->stop && ret == 0)
		ret = stdout_group(r, ids, nids, &i, &err);
	for (i = 0; dir && i < nids && !r->stop && ret == 0; i++) {
		read_into_group(r, ids[i]);
		if (!dir && r->group[r->n - 1].code == CV_ELIMIT) {
			/* Too large to hold: alone, straight to stdout. */
			got_release(&r->group[--r->n]);
			ret = flush_group(r, &err);
			if (ret < 0 || r->stop)
				break;
			code = get_one(c, ids[i], NULL, &err);
			if (code < 0) {
				note_failure(r, &err, code);
				cv_error_clear(&err);
			}
			continue;
		}
		/* On stdout nothing after a failure may be read. */
		if (r->n == GET_GROUP_MAX || r->bytes >= GET_GROUP_BYTES ||
		    (!dir && r->group[r->n - 1].code < 0))
			ret = flush_group(r, &err);
	}
	if (ret == 0 && !r->stop)
		ret = flush_group(r, &err);
	for (i = 0; i < r->n; i++)
		got_release(&r->group[i]);
	for (i = 0; i < GET_GROUP_MAX; i++) {
		cv_wipe(r->pool[i].buf, r->pool[i].len);
		cv_buf_release(&r->pool[i]);
	}
	if (ret == 0 && dir)
		ret = cv_fs_fsync_dir(dir, &err);
	code = ret < 0 ? cli_fail(&err) : r->first_fail;
	free(r);
	return code;
}

/* Ids of every live object, from the index (--all). */
static int all_ids(struct cli *c, char ***out, size_t *n, struct cv_error *err)
{
	struct cv_index_object_filter f = { 0, 100, NULL };
	struct cv_index_object_entry *rows = NULL;
	size_t i, nrows = 0;
	int ret;

	*out = NULL;
	*n = 0;
	ret = cv_index_object_list(c->ix, &f, &rows, &nrows, err);
	if (ret < 0)
		return ret;
	*out = cv_calloc(nrows + 1, sizeof(**out));
	for (i = 0; i < nrows; i++) {
		char hex[CV_ARCHIVE_OID_HEXLEN + 1];

		if (rows[i].obj.erased)
			continue;
		cv_archive_oid_format(hex, rows[i].obj.id);
		(*out)[(*n)++] = cv_strdup(hex);
	}
	free(rows);
	return 0;
}

/* Ids from stdin, one a line (blank lines and surrounding space ignored). */
static int stdin_ids(char ***out, size_t *n, struct cv_error *err)
{
	char line[256];
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	while (fgets(line, sizeof(line), stdin)) {
		char *p = line, *e;

		if (!strchr(line, '\n') && !feof(stdin))
			return cv_error_set(
				err, CV_EINVAL,
				"line %zu of stdin is too long for an object id",
				*n + 1);
		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == '\n' || e[-1] == '\r' ||
				 e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*p)
			continue;
		if (*n + 1 >= cap) {
			cap = cap ? 2 * cap : 256;
			*out = cv_realloc(*out, cap * sizeof(**out));
		}
		(*out)[(*n)++] = cv_strdup(p);
		(*out)[*n] = NULL;
	}
	if (ferror(stdin))
		return cv_error_errno(err, CV_ERROR, "could not read stdin");
	return 0;
}

static void free_ids(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int get(struct cli *c, const struct cv_cmd *cmd, int argc, char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	const char *outpath = NULL, *dir = NULL;
	char **ids = NULL;
	size_t nids = 0;
	int use_stdin = 0, all = 0, a, ret = 0;
	struct stat st;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "-o") && a + 1 < argc)
			outpath = argv[++a];
		else if (!strcmp(argv[a], "--stdin"))
			use_stdin = 1;
		else if (!strcmp(argv[a], "--all"))
			all = 1;
		else if (argv[a][0] == '-')
			return cli_usage(cmd, "unknown option '%s'", argv[a]);
	}
	if (use_stdin + all > 1)
		return cli_usage(cmd, "--stdin and --all do not go together");
	if (all)
		ret = all_ids(c, &ids, &nids, &err);
	else if (use_stdin)
		ret = stdin_ids(&ids, &nids, &err);
	if (ret < 0) {
		free_ids(ids, nids);
		return cli_fail(&err);
	}
	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "-o")) {
			a++;
			continue;
		}
		if (argv[a][0] == '-')
			continue;
		if (all || use_stdin) {
			free_ids(ids, nids);
			return cli_usage(
				cmd, "ids come from %s, not the command line",
				all ? "--all" : "--stdin");
		}
		if (strlen(argv[a]) != CV_ARCHIVE_OID_HEXLEN ||
		    strspn(argv[a], "0123456789abcdefABCDEF") !=
			    CV_ARCHIVE_OID_HEXLEN) {
			free_ids(ids, nids);
			return cli_usage(
				cmd, "'%s' is not an object id (64 hex digits)",
				argv[a]);
		}
		ids = cv_realloc(ids, (nids + 2) * sizeof(*ids));
		ids[nids++] = cv_strdup(argv[a]);
		ids[nids] = NULL;
	}
	if (!nids && !all && !use_stdin)
		return cli_usage(cmd, "archive get needs an id");
	/* Many objects: -o names a folder, each object a file in it. */
	if (outpath && (nids != 1 || all || use_stdin)) {
		if (stat(outpath, &st) < 0 || !S_ISDIR(st.st_mode)) {
			free_ids(ids, nids);
			return cli_usage(
				cmd,
				"with many ids, -o names an existing folder ('%s' is not one)",
				outpath);
		}
		dir = outpath;
		outpath = NULL;
	}
	if (nids == 1 && !dir && !all && !use_stdin) {
		ret = get_one(c, ids[0], outpath, &err);
		free_ids(ids, nids);
		return ret < 0 ? cli_fail(&err) : CLI_OK;
	}
	ret = get_many(c, ids, nids, dir);
	free_ids(ids, nids);
	return ret;
}

int cmd_archive(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("archive");

	if (argc < 2)
		return cli_usage(cmd, "archive needs a verb");
	if (!strcmp(argv[1], "put"))
		return put(c, cmd, argc - 1, argv + 1);
	if (!strcmp(argv[1], "get"))
		return get(c, cmd, argc - 1, argv + 1);
	return cli_usage(cmd, "unknown verb '%s'", argv[1]);
}
