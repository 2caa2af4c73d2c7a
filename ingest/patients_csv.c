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

#include "ingest_int.h"
#include "../common/banned.h"

#define PATIENTS_MAX  (512u << 20) /* bytes */
#define PATIENTS_ROWS 5000000
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

static const struct cv_ingest__csv_name aliases[] = {
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

/* The row being checked, for messages. */
struct parse {
	struct cv_ingest_patients_csv *out;
	size_t line;
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
	v = cv_ingest__trim(v);
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

static void on_row(void *ctx, size_t line, char *const *value)
{
	struct cv_ingest_patients_csv *c = ctx;
	struct parse pr = { c, line }, *p = &pr;
	struct cv_ingest_patient_row row;
	int col;

	memset(&row, 0, sizeof(row));
	row.line = line;
	for (col = 0; col < NCOLS; col++)
		if (value[col] && take_value(p, col, value[col], &row.p) < 0)
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
	struct cv_ingest__csv_table t = {
		.what = "patient file",
		.names = aliases,
		.nnames = sizeof(aliases) / sizeof(aliases[0]),
		.columns = col_names,
		.ncolumns = NCOLS,
		.required = COL_MRN,
		.field_max = FIELD_MAX,
		.row = on_row,
		.reject = on_reject,
		.ctx = out,
	};
	struct cv_buf data = CV_BUF_INIT;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = cv_fs_read_file(&data, path, PATIENTS_MAX, err);
	if (ret < 0)
		cv_error_prefix(err, "patient file");
	else
		ret = cv_ingest__csv_read(&t, path, data.buf, data.len, err);
	cv_buf_release(&data);
	if (ret < 0)
		cv_ingest_patients_csv_release(out);
	return ret;
}
