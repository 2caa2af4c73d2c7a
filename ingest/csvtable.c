/*
 * A CSV file whose first row names its columns, read with libcsv: the
 * part the batch manifest and the patient index import have in common.
 *
 * The file is fed to libcsv one line at a time so that every row knows
 * the line it starts on, even when a quoted field holds newlines and
 * when blank lines (which libcsv drops without a word) come before it.
 * The header decides the whole file; after it, each row stands alone: a
 * row that cannot be read is rejected with its line, and the next row is
 * read as if nothing happened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <csv.h>

#include "ingest_int.h"
#include "../common/banned.h"

#define MAX_FIELDS 16 /* per row: more is no file of ours */

struct reader {
	const struct cv_ingest__csv_table *t;
	const char *path;
	int columns[MAX_FIELDS]; /* header position -> column */
	size_t ncolumns;
	int header_done;
	char *fields[MAX_FIELDS];
	size_t nfields;
	int too_many, too_long;
	size_t line; /* where the row being read starts, 1-based */
	struct cv_error *err;
	int failed;
};

char *cv_ingest__trim(char *s)
{
	size_t len;

	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len &&
	       (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		s[--len] = '\0';
	return s;
}

static void on_field(void *data, size_t n, void *ctx)
{
	struct reader *rd = ctx;

	if (rd->nfields >= MAX_FIELDS) {
		rd->too_many = 1;
		return;
	}
	if (n > rd->t->field_max) {
		rd->too_long = 1;
		n = 0;
	}
	rd->fields[rd->nfields++] = cv_strndup(data ? data : "", n);
}

static void header_fail(struct reader *rd, const char *fmt, ...)
	CV_PRINTF(2, 3);

static void header_fail(struct reader *rd, const char *fmt, ...)
{
	struct cv_buf b = CV_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	cv_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	rd->failed = 1;
	cv_error_set(rd->err, CV_EINVAL, "%s '%s' line %zu%s", rd->t->what,
		     rd->path, rd->line, b.buf);
	cv_buf_release(&b);
}

static void take_header(struct reader *rd)
{
	const struct cv_ingest__csv_table *t = rd->t;
	size_t i, j, k;

	rd->header_done = 1;
	if (rd->too_many || rd->too_long) {
		header_fail(rd, ": the header is too long");
		return;
	}
	for (i = 0; i < rd->nfields; i++) {
		char *name = cv_ingest__trim(rd->fields[i]);

		for (k = 0; k < t->nnames; k++)
			if (!strcasecmp(name, t->names[k].name))
				break;
		if (k == t->nnames) {
			struct cv_buf known = CV_BUF_INIT;

			for (j = 0; j < t->ncolumns; j++)
				cv_buf_addf(&known, "%s%s", j ? ", " : "",
					    t->columns[j]);
			/* A header is no patient data: the name is shown. */
			header_fail(rd,
				    ", column %zu: unknown column '%.40s' "
				    "(known: %s)",
				    i + 1, name, known.buf);
			cv_buf_release(&known);
			return;
		}
		for (j = 0; j < i; j++)
			if (rd->columns[j] == t->names[k].column) {
				header_fail(rd, ": column '%s' appears twice",
					    t->columns[t->names[k].column]);
				return;
			}
		rd->columns[i] = t->names[k].column;
	}
	rd->ncolumns = rd->nfields;
	for (i = 0; i < rd->ncolumns; i++)
		if (rd->columns[i] == t->required)
			return;
	header_fail(rd, ": there is no '%s' column", t->columns[t->required]);
}

static void reject(struct reader *rd, const char *fmt, ...) CV_PRINTF(2, 3);

static void reject(struct reader *rd, const char *fmt, ...)
{
	struct cv_buf b = CV_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	cv_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	rd->t->reject(rd->t->ctx, rd->line, b.buf);
	cv_buf_release(&b);
}

static void take_row(struct reader *rd)
{
	char *value[MAX_FIELDS] = { NULL };
	size_t i;

	if (rd->too_many || rd->nfields != rd->ncolumns) {
		reject(rd, "line %zu: %s fields than the header's %zu columns",
		       rd->line,
		       rd->too_many || rd->nfields > rd->ncolumns ? "more"
								  : "fewer",
		       rd->ncolumns);
		return;
	}
	if (rd->too_long) {
		reject(rd, "line %zu: a field is longer than %zu bytes",
		       rd->line, rd->t->field_max);
		return;
	}
	for (i = 0; i < rd->nfields; i++)
		value[rd->columns[i]] = rd->fields[i];
	rd->t->row(rd->t->ctx, rd->line, value);
}

static void on_row(int c, void *ctx)
{
	struct reader *rd = ctx;
	size_t i;

	(void)c;
	if (!rd->failed) {
		if (!rd->header_done)
			take_header(rd);
		else if (!(rd->nfields == 1 &&
			   !cv_ingest__trim(rd->fields[0])[0]))
			take_row(rd); /* a line of spaces is no row */
	}
	for (i = 0; i < rd->nfields; i++)
		free(rd->fields[i]);
	rd->nfields = 0;
	rd->too_many = rd->too_long = 0;
}

int cv_ingest__csv_read(const struct cv_ingest__csv_table *t, const char *path,
			const char *data, size_t len, struct cv_error *err)
{
	struct csv_parser csv;
	struct reader rd;
	size_t i, line = 1;
	int ret = 0;

	memset(&rd, 0, sizeof(rd));
	rd.t = t;
	rd.path = path;
	rd.err = err;
	rd.line = 1;
	if (csv_init(&csv, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL))
		return cv_error_set(err, CV_ERROR,
				    "could not set up the CSV parser");
	/* A byte-order mark is how some spreadsheets start UTF-8; strict
	 * CSV would take it for part of a quoted header. */
	i = len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3) ? 3 : 0;
	for (; i < len && !rd.failed; line++) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (data + i)) + 1 : len - i;

		/* A row starts on the line fed while libcsv is between
		 * rows (its ROW_NOT_BEGUN state is 0). */
		if (csv.pstate == 0)
			rd.line = line;
		if (csv_parse(&csv, data + i, n, on_field, on_row, &rd) != n) {
			ret = cv_error_set(
				err, CV_EINVAL, "%s '%s' line %zu: %s", t->what,
				path, rd.line, csv_strerror(csv_error(&csv)));
			goto out;
		}
		i += n;
	}
	if (!rd.failed && csv_fini(&csv, on_field, on_row, &rd) != 0) {
		ret = cv_error_set(err, CV_EINVAL, "%s '%s' line %zu: %s",
				   t->what, path, rd.line,
				   csv_strerror(csv_error(&csv)));
		goto out;
	}
	if (rd.failed)
		ret = err ? err->code : CV_EINVAL;
	else if (!rd.header_done)
		ret = cv_error_set(err, CV_EINVAL, "%s '%s' is empty", t->what,
				   path);
out:
	for (i = 0; i < rd.nfields; i++)
		free(rd.fields[i]);
	csv_free(&csv);
	return ret;
}
