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

static int get(struct cli *c, const struct cv_cmd *cmd, int argc, char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	uint8_t id[CV_ARCHIVE_OID_LEN];
	const char *hex = NULL, *outpath = NULL;
	char *tmp = NULL;
	int i, fd = 1, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			outpath = argv[++i];
		else if (hex || argv[i][0] == '-')
			return cli_usage(cmd, "archive get takes one id");
		else
			hex = argv[i];
	}
	if (!hex)
		return cli_usage(cmd, "archive get needs an id");
	if (cv_archive_oid_parse(id, hex) < 0)
		return cli_usage(
			cmd, "'%s' is not an object id (64 hex digits)", hex);
	if (outpath) {
		/* Bytes reach the named file only once all are proven. */
		tmp = cv_asprintf("%s.partial.XXXXXX", outpath);
		fd = mkstemp(tmp);
		if (fd < 0) {
			cv_error_errno(&err, CV_ERROR, "could not create '%s'",
				       outpath);
			free(tmp);
			return cli_fail(&err);
		}
	}
	ret = cv_archive_get_fd(c->ar, id, fd, &err);
	cv_index_audit(c->ix, c->actor, "object.get", "object", hex, NULL,
		       ret == 0 ? "ok" : cv_errcode_name(ret), NULL);
	if (outpath) {
		if (ret == 0 && (fsync(fd) < 0 || close(fd) < 0))
			ret = cv_error_errno(&err, CV_ERROR,
					     "could not write '%s'", outpath);
		else if (ret < 0)
			close(fd);
		if (ret == 0 && rename(tmp, outpath) < 0)
			ret = cv_error_errno(&err, CV_ERROR,
					     "could not write '%s'", outpath);
		if (ret < 0)
			unlink(tmp);
		free(tmp);
	}
	return ret < 0 ? cli_fail(&err) : CLI_OK;
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
