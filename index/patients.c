/*
 * The patient index (master patient index): patients merged in by MRN,
 * and the fuzzy lookup that records staff use to find a chart from a
 * name as someone spoke or misspelled it.
 *
 * Lookup ranks candidates by pg_trgm similarity of family and given
 * names, tries the name both as typed and with family and given names
 * swapped (a form filled in the wrong boxes), and matches given names by
 * nickname from data/nicknames.csv, compiled into the binary, plus a
 * hospital's own groups. The same name rules decide, for the misfile
 * check, whether a page header's name is the patient's (names_agree).
 */
#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

/* scripts/embed-data.sh, from data/nicknames.csv */
extern const char cv_index__nicknames_csv[];

#define NAME_MAX_LEN 64

/* ---------------------------------------------------------------------
 * Names
 */

/* Upper-case ASCII letters only: "o'brien-smith" -> "OBRIENSMITH". */
static void norm(char *out, size_t n, const char *s)
{
	size_t o = 0;

	for (; s && *s && o + 1 < n; s++)
		if (isalpha((unsigned char)*s))
			out[o++] = (char)toupper((unsigned char)*s);
	out[o] = '\0';
}

/* The first word of a given name ("MARY ANN" -> "MARY"), normalised. */
static void first_word(char *out, size_t n, const char *s)
{
	char tmp[NAME_MAX_LEN * 2];
	size_t i = 0;

	while (s && *s == ' ')
		s++;
	for (; s && *s && *s != ' ' && i + 1 < sizeof(tmp); s++)
		tmp[i++] = *s;
	tmp[i] = '\0';
	norm(out, n, tmp);
}

struct nick_group {
	char **names; /* normalised */
	size_t n;
};

static struct nick_group *groups;
static size_t ngroups;
static pthread_once_t nick_once = PTHREAD_ONCE_INIT;

/* Parse one line of the nicknames format into a group; 0 when empty. */
static int parse_group(const char *line, size_t len, struct nick_group *g)
{
	size_t i = 0;

	memset(g, 0, sizeof(*g));
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len || line[i] == '#')
		return 0;
	while (i < len) {
		size_t start = i;
		char raw[NAME_MAX_LEN], name[NAME_MAX_LEN];

		while (i < len && line[i] != ',')
			i++;
		snprintf(raw, sizeof(raw), "%.*s", (int)(i - start),
			 line + start);
		norm(name, sizeof(name), raw);
		if (name[0]) {
			g->names = cv_realloc(g->names,
					      (g->n + 1) * sizeof(*g->names));
			g->names[g->n++] = cv_strdup(name);
		}
		if (i < len)
			i++;
	}
	return g->n > 1;
}

static void free_group(struct nick_group *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		free(g->names[i]);
	free(g->names);
}

/* Add every group of text; returns the 1-based line of a bad one or 0. */
static size_t add_groups(const char *text, size_t len)
{
	size_t i = 0, line = 0;

	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
		struct nick_group g;

		line++;
		if (n && text[i + n - 1] == '\r')
			n--;
		if (parse_group(text + i, n, &g)) {
			groups = cv_realloc(groups,
					    (ngroups + 1) * sizeof(*groups));
			groups[ngroups++] = g;
		} else if (g.n == 1) {
			free_group(&g);
			return line;
		}
		i += n + 1;
		if (nl && text[i - 1] == '\r')
			i++;
	}
	return 0;
}

static void load_builtin(void)
{
	if (add_groups(cv_index__nicknames_csv,
		       strlen(cv_index__nicknames_csv)))
		CV_BUG("data/nicknames.csv has a group of one name");
}

int cv_index_nicknames_load(const char *path, struct cv_error *err)
{
	struct cv_buf b = CV_BUF_INIT;
	size_t bad;
	int ret;

	pthread_once(&nick_once, load_builtin);
	ret = cv_fs_read_file(&b, path, 4u << 20, err);
	if (ret < 0) {
		cv_error_prefix(err, "nicknames file");
		goto cleanup;
	}
	bad = add_groups(b.buf, b.len);
	if (bad) {
		ret = cv_error_set(
			err, CV_EINVAL,
			"nicknames file '%s' line %zu: a group needs at least two names",
			path, bad);
		goto cleanup;
	}
	ret = 0;
cleanup:
	cv_buf_release(&b);
	return ret;
}

/* Whether a and b (normalised) are in one nickname group. */
static int nicknames(const char *a, const char *b)
{
	size_t i, j;
	int ina, inb;

	pthread_once(&nick_once, load_builtin);
	for (i = 0; i < ngroups; i++) {
		ina = inb = 0;
		for (j = 0; j < groups[i].n; j++) {
			ina |= !strcmp(groups[i].names[j], a);
			inb |= !strcmp(groups[i].names[j], b);
		}
		if (ina && inb)
			return 1;
	}
	return 0;
}

/*
 * Every name in a group with name (itself included), as a PostgreSQL
 * array literal of normalised names; letters only, so no quoting is
 * needed.
 */
static void variants(struct cv_buf *out, const char *name)
{
	size_t i, j;

	pthread_once(&nick_once, load_builtin);
	cv_buf_addch(out, '{');
	cv_buf_adds(out, name);
	for (i = 0; name[0] && i < ngroups; i++) {
		int in = 0;

		for (j = 0; j < groups[i].n; j++)
			in |= !strcmp(groups[i].names[j], name);
		for (j = 0; in && j < groups[i].n; j++) {
			if (strcmp(groups[i].names[j], name)) {
				cv_buf_addch(out, ',');
				cv_buf_adds(out, groups[i].names[j]);
			}
		}
	}
	cv_buf_addch(out, '}');
}

/* Levenshtein distance of two short strings, capped at 99. */
static int distance(const char *a, const char *b)
{
	int row[NAME_MAX_LEN + 1];
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la > NAME_MAX_LEN || lb > NAME_MAX_LEN)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (i = 1; i <= la; i++) {
		int diag = row[0], tmp;

		row[0] = (int)i;
		for (j = 1; j <= lb; j++) {
			int best = diag + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			diag = tmp;
		}
	}
	return row[lb];
}

/* Equal, or as close as OCR of a printed name gets: one error in four
 * letters. */
static int close_enough(const char *a, const char *b)
{
	size_t l = strlen(a) > strlen(b) ? strlen(a) : strlen(b);
	int allowed = (int)(l / 4);

	if (!a[0] || !b[0])
		return 0;
	return !strcmp(a, b) || distance(a, b) <= (allowed ? allowed : 0);
}

/* Names as cv_index_names_agree compares them; nicknames only when
 * nick is set. */
static int names_compare(const char *family_a, const char *given_a,
			 const char *family_b, const char *given_b, int nick)
{
	char fa[NAME_MAX_LEN], fb[NAME_MAX_LEN];
	char ga[NAME_MAX_LEN], gb[NAME_MAX_LEN];

	norm(fa, sizeof(fa), family_a);
	norm(fb, sizeof(fb), family_b);
	first_word(ga, sizeof(ga), given_a);
	first_word(gb, sizeof(gb), given_b);
	if (!close_enough(fa, fb))
		return 0;
	return close_enough(ga, gb) ||
	       (nick && ga[0] && gb[0] && nicknames(ga, gb));
}

int cv_index_names_agree(const char *family_a, const char *given_a,
			 const char *family_b, const char *given_b)
{
	return names_compare(family_a, given_a, family_b, given_b, 1);
}

int cv_index_names_close(const char *family_a, const char *given_a,
			 const char *family_b, const char *given_b)
{
	return names_compare(family_a, given_a, family_b, given_b, 0);
}

void cv_index_name_split(const char *name, char *family, size_t nf, char *given,
			 size_t ng)
{
	const char *comma = name ? strchr(name, ',') : NULL;

	family[0] = given[0] = '\0';
	if (!name)
		return;
	if (comma) {
		snprintf(family, nf, "%.*s", (int)(comma - name), name);
		for (comma++; *comma == ' '; comma++)
			;
		snprintf(given, ng, "%s", comma);
	} else {
		snprintf(family, nf, "%s", name);
	}
}

/* ---------------------------------------------------------------------
 * Rows
 */

#define PATIENT_COLS                                                    \
	"id, mrn, coalesce(family_name, ''), coalesce(given_name, '')," \
	" coalesce(dob::text, ''), coalesce(sex, ''),"                  \
	" coalesce(deceased_on::text, '')"

/*
 * Merge by MRN: a value not given keeps the stored one, and a row that
 * would not change is left alone (no RETURNING row: "unchanged").
 */
static const char UPSERT[] =
	"INSERT INTO patients AS p (mrn, family_name, given_name, dob, sex,"
	" deceased_on)"
	" VALUES ($1, NULLIF($2, ''), NULLIF($3, ''), NULLIF($4, '')::date,"
	" NULLIF($5, ''), NULLIF($6, '')::date)"
	" ON CONFLICT (mrn) DO UPDATE SET"
	" family_name = coalesce(EXCLUDED.family_name, p.family_name),"
	" given_name = coalesce(EXCLUDED.given_name, p.given_name),"
	" dob = coalesce(EXCLUDED.dob, p.dob),"
	" sex = coalesce(EXCLUDED.sex, p.sex),"
	" deceased_on = coalesce(EXCLUDED.deceased_on, p.deceased_on),"
	" updated_at = now()"
	" WHERE (p.family_name, p.given_name, p.dob, p.sex, p.deceased_on)"
	"  IS DISTINCT FROM"
	" (coalesce(EXCLUDED.family_name, p.family_name),"
	"  coalesce(EXCLUDED.given_name, p.given_name),"
	"  coalesce(EXCLUDED.dob, p.dob), coalesce(EXCLUDED.sex, p.sex),"
	"  coalesce(EXCLUDED.deceased_on, p.deceased_on))"
	" RETURNING (xmax = 0)";

static const char BY_MRN[] =
	"SELECT " PATIENT_COLS " FROM patients WHERE mrn = $1";

/*
 * $1 the name typed as family, $2 as given ("" for a single name), $3
 * nickname variants of $2, $4 of $1; $5 DOB, $6 MRN ("" for any). The
 * candidates come from the trigram indexes; the scoring is done here
 * from the similarities the server returns.
 */
static const char FIND[] =
	"SELECT * FROM (SELECT " PATIENT_COLS ","
	" similarity(coalesce(family_name, ''), $1) AS fa,"
	" similarity(coalesce(given_name, ''), $2) AS ga,"
	" similarity(coalesce(family_name, ''), $2) AS fb,"
	" similarity(coalesce(given_name, ''), $1) AS gb,"
	" upper(split_part(coalesce(given_name, ''), ' ', 1))"
	"  = ANY($3::text[]) AS na,"
	" upper(split_part(coalesce(given_name, ''), ' ', 1))"
	"  = ANY($4::text[]) AS nb"
	" FROM patients"
	" WHERE ($5 = '' OR dob = $5::date) AND ($6 = '' OR mrn = $6)"
	" AND ($1 = '' OR family_name % $1 OR given_name % $1"
	"  OR ($2 <> '' AND (family_name % $2 OR given_name % $2))"
	"  OR upper(split_part(coalesce(given_name, ''), ' ', 1))"
	"   = ANY($4::text[]))) c"
	/* The score of score_row, so that the cut keeps the best. */
	" ORDER BY greatest("
	"  0.6 * fa + 0.4 * greatest(ga, CASE WHEN na THEN 0.9 ELSE 0 END),"
	"  0.95 * (0.6 * fb + 0.4 * greatest(gb, CASE WHEN nb THEN 0.9 ELSE 0 END)),"
	"  CASE WHEN $2 = '' THEN greatest(fa,"
	"   0.9 * greatest(gb, CASE WHEN nb THEN 0.9 ELSE 0 END)) ELSE 0 END)"
	" DESC, id"
	" LIMIT 500";

static void read_patient(const PGresult *res, int row,
			 struct cv_index_patient *p)
{
	memset(p, 0, sizeof(*p));
	cv_index__get_i64(&p->id, res, row, 0);
	snprintf(p->mrn, sizeof(p->mrn), "%s", PQgetvalue(res, row, 1));
	snprintf(p->family, sizeof(p->family), "%s", PQgetvalue(res, row, 2));
	snprintf(p->given, sizeof(p->given), "%s", PQgetvalue(res, row, 3));
	snprintf(p->dob, sizeof(p->dob), "%s", PQgetvalue(res, row, 4));
	snprintf(p->sex, sizeof(p->sex), "%s", PQgetvalue(res, row, 5));
	snprintf(p->deceased_on, sizeof(p->deceased_on), "%s",
		 PQgetvalue(res, row, 6));
}

int cv_index_patient_upsert(struct cv_index *ix,
			    const struct cv_index_patient *p,
			    enum cv_index_upsert *outcome, struct cv_error *err)
{
	const char *params[6] = { p->mrn, p->family, p->given,
				  p->dob, p->sex,    p->deceased_on };
	PGresult *res;
	int ret;

	*outcome = CV_INDEX_UPSERT_UNCHANGED;
	if (!p->mrn[0])
		return cv_error_set(err, CV_EINVAL, "a patient needs an MRN");
	res = PQexecParams(ix->conn, UPSERT, 6, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not record a patient");
		goto cleanup;
	}
	if (PQntuples(res) == 1)
		*outcome = !strcmp(PQgetvalue(res, 0, 0), "t")
				   ? CV_INDEX_UPSERT_INSERTED
				   : CV_INDEX_UPSERT_UPDATED;
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

int cv_index_patient_by_mrn(struct cv_index *ix, const char *mrn,
			    struct cv_index_patient *out, struct cv_error *err)
{
	const char *params[1] = { mrn };
	PGresult *res;
	int ret;

	memset(out, 0, sizeof(*out));
	res = PQexecParams(ix->conn, BY_MRN, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not look up a patient");
		goto cleanup;
	}
	if (PQntuples(res) != 1) {
		/* The MRN is patient data: not in the message. */
		ret = cv_error_set(
			err, CV_ENOTFOUND,
			"no patient with that MRN in the patient index");
		goto cleanup;
	}
	read_patient(res, 0, out);
	ret = 0;
cleanup:
	PQclear(res);
	return ret;
}

/*
 * The typed name as family and given parts: "FAMILY, GIVEN" is
 * unambiguous; "GIVEN [MIDDLE] FAMILY" takes the last word as the family
 * name; one word is tried as either.
 */
static void parse_query_name(const char *name, char *family, size_t nf,
			     char *given, size_t ng)
{
	char tmp[2 * NAME_MAX_LEN];
	const char *last;
	size_t len;

	family[0] = given[0] = '\0';
	if (!name)
		return;
	while (*name == ' ')
		name++;
	snprintf(tmp, sizeof(tmp), "%s", name);
	len = strlen(tmp);
	while (len && tmp[len - 1] == ' ')
		tmp[--len] = '\0';
	if (strchr(tmp, ',')) {
		char f[2 * NAME_MAX_LEN], g[2 * NAME_MAX_LEN];

		cv_index_name_split(tmp, f, sizeof(f), g, sizeof(g));
		norm(family, nf, f);
		first_word(given, ng, g);
		return;
	}
	last = strrchr(tmp, ' ');
	if (!last) {
		norm(family, nf, tmp);
		return;
	}
	norm(family, nf, last + 1);
	first_word(given, ng, tmp);
}

static double maxd(double a, double b)
{
	return a > b ? a : b;
}

/* Given-name credit for a nickname: below an exact spelling. */
#define NICK_CREDIT 0.9
/* An answer found only with the names swapped ranks a little lower. */
#define SWAP_FACTOR 0.95
/* Candidates scoring lower are not worth showing. */
#define MIN_SCORE 0.3

static void score_row(const PGresult *res, int row, int single,
		      struct cv_index_patient_match *m)
{
	double fam_a = strtod(PQgetvalue(res, row, 7), NULL);
	double giv_a = strtod(PQgetvalue(res, row, 8), NULL);
	double fam_b = strtod(PQgetvalue(res, row, 9), NULL);
	double giv_b = strtod(PQgetvalue(res, row, 10), NULL);
	int nick_a = !strcmp(PQgetvalue(res, row, 11), "t");
	int nick_b = !strcmp(PQgetvalue(res, row, 12), "t");
	double straight, swapped, ga, gb;

	m->how = 0;
	if (single) {
		/* One word: a family name, or a given name or nickname. */
		gb = maxd(giv_b, nick_b ? NICK_CREDIT : 0);
		straight = fam_a;
		swapped = 0.9 * gb;
		m->score = maxd(straight, swapped);
		if (straight >= swapped)
			m->how = fam_a >= 1 ? CV_INDEX_MATCH_EXACT
					    : CV_INDEX_MATCH_FUZZY;
		else
			m->how = giv_b >= 1 ? CV_INDEX_MATCH_EXACT
				 : nick_b   ? CV_INDEX_MATCH_NICKNAME
					    : CV_INDEX_MATCH_FUZZY;
		return;
	}
	ga = maxd(giv_a, nick_a ? NICK_CREDIT : 0);
	gb = maxd(giv_b, nick_b ? NICK_CREDIT : 0);
	straight = 0.6 * fam_a + 0.4 * ga;
	swapped = SWAP_FACTOR * (0.6 * fam_b + 0.4 * gb);
	if (straight >= swapped) {
		m->score = straight;
		if (fam_a >= 1 && giv_a >= 1)
			m->how = CV_INDEX_MATCH_EXACT;
		else if (nick_a && giv_a < NICK_CREDIT)
			m->how = CV_INDEX_MATCH_NICKNAME |
				 (fam_a < 1 ? CV_INDEX_MATCH_FUZZY : 0);
		else
			m->how = CV_INDEX_MATCH_FUZZY;
	} else {
		m->score = swapped;
		m->how = CV_INDEX_MATCH_TRANSPOSED;
		if (nick_b && giv_b < NICK_CREDIT)
			m->how |= CV_INDEX_MATCH_NICKNAME;
		if (fam_b < 1 || (!nick_b && giv_b < 1))
			m->how |= CV_INDEX_MATCH_FUZZY;
	}
}

static int by_score(const void *a, const void *b)
{
	const struct cv_index_patient_match *x = a, *y = b;
	int c;

	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	c = strcmp(x->p.family, y->p.family);
	if (c)
		return c;
	c = strcmp(x->p.given, y->p.given);
	return c ? c : strcmp(x->p.mrn, y->p.mrn);
}

int cv_index_patient_find(struct cv_index *ix,
			  const struct cv_index_patient_query *q,
			  struct cv_index_patient_match **out, size_t *n,
			  struct cv_error *err)
{
	char family[NAME_MAX_LEN], given[NAME_MAX_LEN];
	struct cv_buf va = CV_BUF_INIT, vb = CV_BUF_INIT;
	const char *params[6];
	struct cv_index_patient_match *m = NULL;
	PGresult *res = NULL;
	size_t k = 0, limit = q->limit > 0 ? (size_t)q->limit : 20;
	int i, rows, ret, single;

	*out = NULL;
	*n = 0;
	parse_query_name(q->name, family, sizeof(family), given, sizeof(given));
	if (!family[0] && !(q->dob && *q->dob) && !(q->mrn && *q->mrn))
		return cv_error_set(
			err, CV_EINVAL,
			"a patient search needs a name (letters), a date of birth or an MRN");
	single = !given[0];
	variants(&va, given);
	variants(&vb, family);
	params[0] = family;
	params[1] = given;
	params[2] = va.buf;
	params[3] = vb.buf;
	params[4] = q->dob ? q->dob : "";
	params[5] = q->mrn ? q->mrn : "";
	res = PQexecParams(ix->conn, FIND, 6, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not search the patient index");
		goto cleanup;
	}
	rows = PQntuples(res);
	m = cv_calloc((size_t)rows + 1, sizeof(*m));
	for (i = 0; i < rows; i++) {
		read_patient(res, i, &m[k].p);
		if (!family[0]) {
			m[k].score = 1;
			m[k].how = CV_INDEX_MATCH_EXACT;
		} else {
			score_row(res, i, single, &m[k]);
		}
		if (m[k].score >= MIN_SCORE)
			k++;
	}
	qsort(m, k, sizeof(*m), by_score);
	*n = k < limit ? k : limit;
	*out = m;
	m = NULL;
	ret = 0;
cleanup:
	free(m);
	cv_buf_release(&va);
	cv_buf_release(&vb);
	PQclear(res);
	return ret;
}
