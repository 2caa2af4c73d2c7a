/*
 * The patient index import file: a CSV export of the hospital's master
 * patient index (libcsv, as the batch manifest).
 *
 *   mrn,family_name,given_name,dob,sex,deceased_on
 *   90001234,SAMPLEWOOD,ORLA,1957-03-14,F,
 *
 * Only mrn is required; the other columns may be left out or empty, and
 * an empty value keeps what the index already has (the import merges by
 * MRN). Each row is checked on its own: a bad value rejects its row with
 * the line and column, and the rest of the file still applies. Messages
 * name the column and the rule, never the value, which is patient data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <csv.h>

#include "ingest_int.h"
#include "../common/banned.h"

#define PATIENTS_MAX  (512u << 20) /* bytes */
#define PATIENTS_ROWS 5000000
#define MAX_COLUMNS   16
#define FIELD_MAX     256

enum column {
	COL_MRN,
	COL_FAMILY,
	COL_GIVEN,
	COL_DOB,
	COL_SEX,
	COL_DECEASED,
	NCOLS
};

static const char *const col_names[NCOLS] = { "mrn",        "family_name",
					      "given_name", "dob",
					      "sex",        "deceased_on" };

static const struct {
	const char *alias;
	enum column col;
} aliases[] = {
	{ "mrn", COL_MRN },
	{ "medical_record_number", COL_MRN },
	{ "family_name", COL_FAMILY },
	{ "family", COL_FAMILY },
	{ "last_name", COL_FAMILY },
	{ "surname", COL_FAMILY },
	{ "given_name", COL_GIVEN },
	{ "given", COL_GIVEN },
	{ "first_name", COL_GIVEN },
	{ "dob", COL_DOB },
	{ "date_of_birth", COL_DOB },
	{ "birth_date", COL_DOB },
	{ "sex", COL_SEX },
	{ "deceased_on", COL_DECEASED },
	{ "deceased", COL_DECEASED },
	{ "date_of_death", COL_DECEASED },
};

struct parse {
	struct cv_ingest_patients_csv *out;
	const char *path;
	int columns[MAX_COLUMNS];
	size_t ncolumns;
	int header_done;
	char *fields[MAX_COLUMNS + 1];
	size_t nfields;
	int too_many, too_long;
	size_t line, next_line;
	struct cv_error *err;
	int failed;
};

static void add_reject(struct cv_ingest_patients_csv *c, size_t line,
		       const char *fmt, ...) CV_PRINTF(3, 4);

static void add_reject(struct cv_ingest_patients_csv *c, size_t line,
		       const char *fmt, ...)
{
	struct cv_buf b = CV_BUF_INIT;
	va_list ap;

	c->rejects =
		cv_realloc(c->rejects, (c->nrejects + 1) * sizeof(*c->rejects));
	va_start(ap, fmt);
	cv_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	c->rejects[c->nrejects].line = line;
	c->rejects[c->nrejects].reason = cv_buf_detach(&b, NULL);
	c->nrejects++;
}

static void on_field(void *data, size_t n, void *ctx)
{
	struct parse *p = ctx;

	if (p->nfields >= MAX_COLUMNS) {
		p->too_many = 1;
		return;
	}
	if (n > FIELD_MAX) {
		p->too_long = 1;
		n = 0;
	}
	p->fields[p->nfields++] = cv_strndup(data ? data : "", n);
}

/* Trim spaces at both ends, in place. */
static char *trim(char *s)
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

static void take_header(struct parse *p)
{
	size_t i, j, k;

	p->header_done = 1;
	if (p->too_many || p->too_long) {
		p->failed = 1;
		cv_error_set(
			p->err, CV_EINVAL,
			"patient file '%s' line %zu: the header is too long",
			p->path, p->line);
		return;
	}
	for (i = 0; i < p->nfields; i++) {
		char *name = trim(p->fields[i]);

		for (k = 0; k < sizeof(aliases) / sizeof(aliases[0]); k++)
			if (!strcasecmp(name, aliases[k].alias))
				break;
		if (k == sizeof(aliases) / sizeof(aliases[0])) {
			p->failed = 1;
			cv_error_set(
				p->err, CV_EINVAL,
				"patient file '%s' line %zu, column %zu: unknown column '%.40s' (known: mrn, family_name, given_name, dob, sex, deceased_on)",
				p->path, p->line, i + 1, name);
			return;
		}
		for (j = 0; j < i; j++) {
			if (p->columns[j] == (int)aliases[k].col) {
				p->failed = 1;
				cv_error_set(
					p->err, CV_EINVAL,
					"patient file '%s' line %zu: column '%s' appears twice",
					p->path, p->line,
					col_names[aliases[k].col]);
				return;
			}
		}
		p->columns[i] = (int)aliases[k].col;
	}
	p->ncolumns = p->nfields;
	for (i = 0; i < p->ncolumns; i++)
		if (p->columns[i] == COL_MRN)
			return;
	p->failed = 1;
	cv_error_set(p->err, CV_EINVAL,
		     "patient file '%s' line %zu: there is no 'mrn' column",
		     p->path, p->line);
}

static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* A name: letters (any script), spaces, apostrophes, hyphens, periods,
 * commas ("BAKER, JR"). */
static int valid_name(const char *s)
{
	if (strlen(s) > 100)
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x80 || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || c == ' ' || c == '\'' ||
		    c == '-' || c == '.' || c == ',')
			continue;
		return 0;
	}
	return 1;
}

/* Check one value and store it; 0, or -1 with the row rejected. */
static int take_value(struct parse *p, int col, char *v,
		      struct cv_index_patient *pt)
{
	const char *name = col_names[col];

	if (has_control(v)) {
		add_reject(
			p->out, p->line,
			"line %zu, column %s: the value holds control characters",
			p->line, name);
		return -1;
	}
	v = trim(v);
	switch (col) {
	case COL_MRN:
		if (!cv_ingest__valid_id(v, 1, 40)) {
			add_reject(
				p->out, p->line, "line %zu, column mrn: %s",
				p->line,
				*v ? "not an MRN (letters, digits and '-', at most 40)"
				   : "empty; every patient needs an MRN");
			return -1;
		}
		snprintf(pt->mrn, sizeof(pt->mrn), "%s", v);
		return 0;
	case COL_FAMILY:
	case COL_GIVEN:
		if (!valid_name(v)) {
			add_reject(
				p->out, p->line,
				"line %zu, column %s: not a name (letters, spaces, ' - . and comma, at most 100)",
				p->line, name);
			return -1;
		}
		snprintf(col == COL_FAMILY ? pt->family : pt->given,
			 sizeof(pt->family), "%s", v);
		return 0;
	case COL_DOB:
	case COL_DECEASED:
		if (*v && !cv_ingest__valid_date(v)) {
			add_reject(
				p->out, p->line,
				"line %zu, column %s: not a date (YYYY-MM-DD)",
				p->line, name);
			return -1;
		}
		snprintf(col == COL_DOB ? pt->dob : pt->deceased_on,
			 sizeof(pt->dob), "%s", v);
		return 0;
	case COL_SEX:
		if (*v && (strlen(v) != 1 || !strchr("MFXOUmfxou", v[0]))) {
			add_reject(
				p->out, p->line,
				"line %zu, column sex: not one of M, F, X, O, U",
				p->line);
			return -1;
		}
		snprintf(pt->sex, sizeof(pt->sex), "%s", v);
		if (*v && pt->sex[0] >= 'a')
			pt->sex[0] = (char)(pt->sex[0] - 'a' + 'A');
		return 0;
	default:
		return 0;
	}
}

static void take_row(struct parse *p)
{
	struct cv_ingest_patients_csv *c = p->out;
	struct cv_ingest_patient_row row;
	size_t i;

	memset(&row, 0, sizeof(row));
	row.line = p->line;
	if (p->too_many || p->nfields != p->ncolumns) {
		add_reject(c, p->line,
			   "line %zu: %s fields than the header's %zu columns",
			   p->line,
			   p->too_many || p->nfields > p->ncolumns ? "more"
								   : "fewer",
			   p->ncolumns);
		return;
	}
	if (p->too_long) {
		add_reject(c, p->line,
			   "line %zu: a field is longer than %d bytes", p->line,
			   FIELD_MAX);
		return;
	}
	for (i = 0; i < p->nfields; i++)
		if (take_value(p, p->columns[i], p->fields[i], &row.p) < 0)
			return;
	if (row.p.dob[0] && row.p.deceased_on[0] &&
	    strcmp(row.p.deceased_on, row.p.dob) < 0) {
		add_reject(
			c, p->line,
			"line %zu, column deceased_on: before the date of birth",
			p->line);
		return;
	}
	if (c->nrows >= PATIENTS_ROWS) {
		add_reject(c, p->line, "line %zu: more than %d rows", p->line,
			   PATIENTS_ROWS);
		return;
	}
	if ((c->nrows & (c->nrows - 1)) == 0)
		c->rows = cv_realloc(c->rows, (c->nrows ? 2 * c->nrows : 1) *
						      sizeof(*c->rows));
	c->rows[c->nrows++] = row;
}

static void on_row(int ch, void *ctx)
{
	struct parse *p = ctx;
	size_t i;

	(void)ch;
	if (!p->failed) {
		if (!p->header_done)
			take_header(p);
		else if (!(p->nfields == 1 && !trim(p->fields[0])[0]))
			take_row(p); /* an empty line is no row */
	}
	for (i = 0; i < p->nfields; i++)
		free(p->fields[i]);
	p->nfields = 0;
	p->too_many = p->too_long = 0;
	p->line = p->next_line;
}

void cv_ingest_patients_csv_release(struct cv_ingest_patients_csv *c)
{
	size_t i;

	for (i = 0; i < c->nrejects; i++)
		free(c->rejects[i].reason);
	free(c->rejects);
	free(c->rows);
	memset(c, 0, sizeof(*c));
}

int cv_ingest_patients_csv_load(struct cv_ingest_patients_csv *out,
				const char *path, struct cv_error *err)
{
	struct cv_buf data = CV_BUF_INIT;
	struct csv_parser csv;
	struct parse p;
	size_t i;
	int ret, csv_ready = 0;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	ret = cv_fs_read_file(&data, path, PATIENTS_MAX, err);
	if (ret < 0) {
		cv_error_prefix(err, "patient file");
		goto cleanup;
	}
	if (csv_init(&csv, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)) {
		ret = cv_error_set(err, CV_ERROR,
				   "could not set up the CSV parser");
		goto cleanup;
	}
	csv_ready = 1;
	p.out = out;
	p.path = path;
	p.err = err;
	p.line = p.next_line = 1;
	/* Line by line, so that every row knows its line number. */
	i = data.len >= 3 && !memcmp(data.buf, "\xef\xbb\xbf", 3) ? 3 : 0;
	while (i < data.len && !p.failed) {
		const char *nl = memchr(data.buf + i, '\n', data.len - i);
		size_t n =
			nl ? (size_t)(nl - (data.buf + i)) + 1 : data.len - i;

		/* A blank line gives no row to advance the count: a row
		 * starts on the line where the parser is between rows
		 * (libcsv's ROW_NOT_BEGUN is 0). */
		if (csv.pstate == 0)
			p.line = p.next_line;
		p.next_line++;
		if (csv_parse(&csv, data.buf + i, n, on_field, on_row, &p) !=
		    n) {
			ret = cv_error_set(err, CV_EINVAL,
					   "patient file '%s' line %zu: %s",
					   path, p.line,
					   csv_strerror(csv_error(&csv)));
			goto cleanup;
		}
		i += n;
	}
	if (!p.failed && csv_fini(&csv, on_field, on_row, &p) != 0) {
		ret = cv_error_set(err, CV_EINVAL,
				   "patient file '%s' line %zu: %s", path,
				   p.line, csv_strerror(csv_error(&csv)));
		goto cleanup;
	}
	if (p.failed) {
		ret = err ? err->code : CV_EINVAL;
		goto cleanup;
	}
	if (!p.header_done) {
		ret = cv_error_set(err, CV_EINVAL, "patient file '%s' is empty",
				   path);
		goto cleanup;
	}
	ret = 0;
cleanup:
	for (i = 0; i < p.nfields; i++)
		free(p.fields[i]);
	if (csv_ready)
		csv_free(&csv);
	cv_buf_release(&data);
	if (ret < 0)
		cv_ingest_patients_csv_release(out);
	return ret;
}
