/*
 * The batch manifest: a CSV file (libcsv) that tells, per scanned file,
 * whose it is and what it is.
 *
 *   file,mrn,document_type,service_date,box,folder
 *   box-0042/chart-001.tif,90001234,18842-5,2025-03-05,0042,A-17
 *
 * Every column but file is optional, in any order; names are matched
 * without regard to case. file is relative to the manifest's folder and
 * may not leave it. A row that fails a check is rejected with its line
 * and column and the rest still applies; a header that cannot be used
 * makes the whole manifest unusable. Quoted fields, embedded commas and
 * newlines, and UTF-8 (with or without a byte-order mark) are taken as
 * CSV writes them.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_int.h"
#include "../common/banned.h"

#define MANIFEST_MAX  (16u << 20) /* bytes */
#define MANIFEST_ROWS 100000
#define FIELD_MAX     1024

enum column {
	COL_FILE,
	COL_MRN,
	COL_TYPE,
	COL_DATE,
	COL_BOX,
	COL_FOLDER
};

static const char *const column_names[] = { "file",          "mrn",
					    "document_type", "service_date",
					    "box",           "folder" };

#define NCOLUMNS (sizeof(column_names) / sizeof(column_names[0]))

struct cv_ingest_manifest {
	struct cv_buf data; /* the bytes parsed, to archive the same bytes */
	char *path;
	char *dir; /* real path of the folder holding the manifest */
	struct cv_ingest_manifest_row *rows;
	size_t nrows, rows_alloc;
	struct cv_ingest_manifest_reject *rejects;
	size_t nrejects;
};

/* v into a field of a row; check_value has bounded v's length. */
#define COPY(field, v) \
	snprintf(field, sizeof(field), "%.*s", (int)sizeof(field) - 1, v)

/* The row being checked, for messages. */
struct parse {
	struct cv_ingest_manifest *m;
	size_t line;
};

static const struct cv_ingest__csv_name header_names[] = {
	{ "file", COL_FILE },
	{ "mrn", COL_MRN },
	{ "document_type", COL_TYPE },
	{ "service_date", COL_DATE },
	{ "box", COL_BOX },
	{ "folder", COL_FOLDER },
};

static void add_reject(struct cv_ingest_manifest *m, size_t line,
		       const char *fmt, ...) CV_PRINTF(3, 4);

static void add_reject(struct cv_ingest_manifest *m, size_t line,
		       const char *fmt, ...)
{
	struct cv_buf b = CV_BUF_INIT;
	va_list ap;

	m->rejects =
		cv_realloc(m->rejects, (m->nrejects + 1) * sizeof(*m->rejects));
	va_start(ap, fmt);
	cv_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	m->rejects[m->nrejects].line = line;
	m->rejects[m->nrejects].reason = cv_buf_detach(&b, NULL);
	m->nrejects++;
}

static void on_reject(void *ctx, size_t line, const char *reason)
{
	add_reject(ctx, line, "%s", reason);
}

static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* The row's file, resolved inside the manifest's folder. */
static char *resolve(struct parse *p, const char *file)
{
	char *joined, *real;
	const char *s;

	if (file[0] == '/') {
		add_reject(
			p->m, p->line,
			"line %zu, column file: '%.200s' is an absolute path; give it relative to the manifest",
			p->line, file);
		return NULL;
	}
	for (s = file; *s; s = strchr(s, '/') ? strchr(s, '/') + 1 : "") {
		if (!strncmp(s, "..", 2) && (s[2] == '/' || s[2] == '\0')) {
			add_reject(
				p->m, p->line,
				"line %zu, column file: '%.200s' leaves the batch folder",
				p->line, file);
			return NULL;
		}
	}
	joined = cv_path_join(p->m->dir, file);
	real = realpath(joined, NULL);
	free(joined);
	if (!real) {
		add_reject(
			p->m, p->line,
			"line %zu, column file: '%.200s' is not in the batch folder",
			p->line, file);
		return NULL;
	}
	/* A symbolic link inside may still point out. */
	if (strncmp(real, p->m->dir, strlen(p->m->dir)) ||
	    real[strlen(p->m->dir)] != '/') {
		add_reject(
			p->m, p->line,
			"line %zu, column file: '%.200s' leads out of the batch folder",
			p->line, file);
		free(real);
		return NULL;
	}
	return real;
}

static int check_value(struct parse *p, int col, const char *v)
{
	const char *name = column_names[col];

	if (has_control(v)) {
		add_reject(
			p->m, p->line,
			"line %zu, column %s: the value holds control characters",
			p->line, name);
		return -1;
	}
	if (!*v)
		return 0;
	switch (col) {
	case COL_MRN:
		if (cv_ingest__valid_id(v, 1, 40))
			return 0;
		add_reject(
			p->m, p->line,
			"line %zu, column mrn: not an MRN (letters, digits and '-', at most 40)",
			p->line);
		return -1;
	case COL_TYPE:
		if (!strcmp(v, "other") ||
		    strcmp(cv_ingest_doc_type_name(v), "other"))
			return 0;
		add_reject(
			p->m, p->line,
			"line %zu, column document_type: '%.40s' is not a known document type code",
			p->line, v);
		return -1;
	case COL_DATE:
		if (cv_ingest__valid_date(v))
			return 0;
		add_reject(
			p->m, p->line,
			"line %zu, column service_date: '%.40s' is not a date (YYYY-MM-DD)",
			p->line, v);
		return -1;
	case COL_BOX:
	case COL_FOLDER:
		if (strlen(v) < 64)
			return 0;
		add_reject(p->m, p->line,
			   "line %zu, column %s: longer than 63 characters",
			   p->line, name);
		return -1;
	default:
		return 0;
	}
}

static void on_row(void *ctx, size_t line, char *const *value)
{
	struct parse pr = { ctx, line }, *p = &pr;
	struct cv_ingest_manifest_row row;
	char *file = NULL;
	int c;

	memset(&row, 0, sizeof(row));
	row.line = line;
	for (c = 0; c < (int)NCOLUMNS; c++) {
		const char *v = value[c];

		if (!v)
			continue;
		if (check_value(p, c, v) < 0)
			goto out;
		switch (c) {
		case COL_FILE:
			if (!*v) {
				add_reject(p->m, p->line,
					   "line %zu, column file: empty",
					   p->line);
				goto out;
			}
			file = resolve(p, v);
			if (!file)
				goto out;
			break;
		case COL_MRN:
			COPY(row.mrn, v);
			break;
		case COL_TYPE:
			COPY(row.doc_type, v);
			break;
		case COL_DATE:
			COPY(row.service_date, v);
			break;
		case COL_BOX:
			COPY(row.box, v);
			break;
		case COL_FOLDER:
			COPY(row.folder, v);
			break;
		}
	}
	if (cv_ingest_manifest_find(p->m, file)) {
		add_reject(p->m, p->line,
			   "line %zu, column file: the file is listed twice",
			   p->line);
		goto out;
	}
	if (p->m->nrows >= MANIFEST_ROWS) {
		add_reject(p->m, p->line, "line %zu: more than %d rows",
			   p->line, MANIFEST_ROWS);
		goto out;
	}
	if (p->m->nrows == p->m->rows_alloc) {
		p->m->rows_alloc = p->m->rows_alloc ? 2 * p->m->rows_alloc : 64;
		p->m->rows = cv_realloc(p->m->rows,
					p->m->rows_alloc * sizeof(*p->m->rows));
	}
	row.file = file;
	file = NULL;
	p->m->rows[p->m->nrows++] = row;
out:
	free(file);
}

void cv_ingest_manifest_free(struct cv_ingest_manifest *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nrows; i++)
		free(m->rows[i].file);
	for (i = 0; i < m->nrejects; i++)
		free(m->rejects[i].reason);
	free(m->rows);
	free(m->rejects);
	free(m->path);
	free(m->dir);
	cv_buf_release(&m->data);
	free(m);
}

int cv_ingest_manifest_load(struct cv_ingest_manifest **out, const char *path,
			    struct cv_error *err)
{
	struct cv_ingest_manifest *m = cv_calloc(1, sizeof(*m));
	struct cv_ingest__csv_table t = {
		.what = "manifest",
		.names = header_names,
		.nnames = sizeof(header_names) / sizeof(header_names[0]),
		.columns = column_names,
		.ncolumns = NCOLUMNS,
		.required = COL_FILE,
		.field_max = FIELD_MAX,
		.row = on_row,
		.reject = on_reject,
		.ctx = m,
	};
	char *real = NULL, *slash;
	int ret;

	*out = NULL;
	m->path = cv_strdup(path);
	cv_buf_init(&m->data);
	ret = cv_fs_read_file(&m->data, path, MANIFEST_MAX, err);
	if (ret < 0) {
		cv_error_prefix(err, "manifest");
		goto cleanup;
	}
	real = realpath(path, NULL);
	if (!real) {
		ret = cv_error_errno(err, CV_EINVAL,
				     "could not resolve the manifest '%s'",
				     path);
		goto cleanup;
	}
	slash = strrchr(real, '/');
	m->dir = slash == real ? cv_strdup("/")
			       : cv_strndup(real, (size_t)(slash - real));
	ret = cv_ingest__csv_read(&t, path, m->data.buf, m->data.len, err);
	if (ret < 0)
		goto cleanup;
	*out = m;
	m = NULL;
cleanup:
	cv_ingest_manifest_free(m);
	free(real);
	return ret;
}

const char *cv_ingest_manifest_path(const struct cv_ingest_manifest *m)
{
	return m->path;
}

const void *cv_ingest_manifest_bytes(const struct cv_ingest_manifest *m,
				     size_t *len)
{
	*len = m->data.len;
	return m->data.buf;
}

const struct cv_ingest_manifest_row *
cv_ingest_manifest_find(const struct cv_ingest_manifest *m, const char *real)
{
	size_t i;

	if (!m || !real)
		return NULL;
	for (i = 0; i < m->nrows; i++)
		if (!strcmp(m->rows[i].file, real))
			return &m->rows[i];
	return NULL;
}

size_t cv_ingest_manifest_nrejects(const struct cv_ingest_manifest *m)
{
	return m ? m->nrejects : 0;
}

const struct cv_ingest_manifest_reject *
cv_ingest_manifest_reject(const struct cv_ingest_manifest *m, size_t i)
{
	return &m->rejects[i];
}

size_t cv_ingest_manifest_nrows(const struct cv_ingest_manifest *m)
{
	return m ? m->nrows : 0;
}
