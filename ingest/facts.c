/*
 * What a page's own text says about it: the document title near the top,
 * the patient identity in the page header, the date of service and
 * "Page X of Y" numbering, and how those cues cut a page stream into
 * documents.
 *
 * These are explicit rules; the trainable classifier and the matching of
 * identities against the patient index build on them.
 */
#include <ctype.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_int.h"
#include "../common/banned.h"

/* The title patterns of the document types are data: see
 * data/doctypes.tsv and ingest/doctypes.c. */

/* Lines this close to the top may carry the document's title. */
#define TITLE_LINES 8

/*
 * How page headers name the patient. Hospitals print it many ways, so
 * each field has several patterns; the earliest match on the page wins.
 * A demographic line as wristbands and labels print it,
 * "FAMILY, Given (F) 04/05/1956 90000689", names all three unlabelled.
 */
#define WORD "([A-Z][A-Za-z'-]+)"
#define MDY  "([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})"
#define ID   "([0-9]{5,12})\\b"
/* "#" as OCR may read it off a faint scan: "¥". */
#define NUMBER "[ \t]*(#|No\\.?|Number|\xc2\xa5)[ \t]*:?[ \t]*"
/* A label's colon, as OCR also reads it off a specked or faint scan. */
#define COLON "[ \t]*[:;!][ \t]*"

struct pattern {
	const char *re;
	int a, b, c; /* groups: MRN a; name family a, given b; date m d y */
	regex_t compiled;
};

static struct pattern mrn_pats[] = {
	/* OCR reads the R of MRN as B now and then, as another letter more
	 * rarely: then only a colon and digits after it make it the label. */
	{ "\\bM[RB]N[ \t]*[:;!#.]?[ \t]*" ID, 1, 0, 0, { 0 } },
	{ "\\bM[A-Z]N[ \t]*:[ \t]*" ID, 1, 0, 0, { 0 } },
	{ "\\bMR" NUMBER ID, 2, 0, 0, { 0 } },
	{ "\\bMed(ical|\\.)?[ \t]*Rec(ord|\\.)?" NUMBER ID, 4, 0, 0, { 0 } },
	{ "\\b(Unit|Hospital|Chart)" NUMBER ID, 3, 0, 0, { 0 } },
	{ "\\([MFXOU]\\)[ \t]+[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}[ \t]+" ID,
	  1,
	  0,
	  0,
	  { 0 } },
};

/* Labels that introduce a patient's name, never a clinician's. */
#define NAME_LABEL "(^|[ \t|])(Patient([ \t]+Name)?|Pt([ \t]+Name)?|Name)" COLON

static struct pattern name_pats[] = {
	{ NAME_LABEL WORD ",[ \t]*" WORD, 5, 6, 0, { 0 } }, /* family first */
	/* given first; OCR may read the space between as a period */
	{ NAME_LABEL WORD "([ \t]+|[ \t]*\\.[ \t]*)" WORD "\\b",
	  7,
	  5,
	  0,
	  { 0 } },
	/* between bars, which OCR may read as I or l */
	{ "(\\||[ \t][Il])[ \t]*" WORD ",[ \t]*" WORD
	  "[ \t]*(\\||[ \t][Il][ \t])",
	  2,
	  3,
	  0,
	  { 0 } },
	{ "^[ \t]*" WORD ",[ \t]*" WORD "[ \t]+\\([MFXOU]\\)", 1, 2, 0, { 0 } },
};

#define DOB_LABEL                                                             \
	"\\b(D[O0Q]B|D\\.O\\.B\\.?|Date[ -]of[ -]Birth|Birth[ \t]*Date|Born)" \
	"[ \t]*[:;!.,]*[ \t]*"

static struct pattern dob_pats[] = {
	{ DOB_LABEL MDY, 2, 3, 4, { 0 } },
	{ DOB_LABEL "([0-9]{4})-([0-9]{2})-([0-9]{2})\\b", 3, 4, 2, { 0 } },
	{ "\\([MFXOU]\\)[ \t]+" MDY, 1, 2, 3, { 0 } },
};

#define NPATS(a) (sizeof(a) / sizeof(a[0]))

static regex_t date_re, pageof_re;
static pthread_once_t compiled = PTHREAD_ONCE_INIT;

static void compile_one(regex_t *re, const char *pattern)
{
	if (regcomp(re, pattern, REG_EXTENDED | REG_ICASE | REG_NEWLINE) != 0)
		CV_BUG("bad built-in pattern %s", pattern);
}

static void compile_all(void)
{
	size_t i;

	for (i = 0; i < NPATS(mrn_pats); i++)
		compile_one(&mrn_pats[i].compiled, mrn_pats[i].re);
	for (i = 0; i < NPATS(name_pats); i++)
		compile_one(&name_pats[i].compiled, name_pats[i].re);
	for (i = 0; i < NPATS(dob_pats); i++)
		compile_one(&dob_pats[i].compiled, dob_pats[i].re);
	compile_one(
		&date_re,
		"\\b(Date of Service|Service Date|Date of (Admission|Procedure|Surgery|Exam|Visit|Consultation)|(Admission|Procedure|Exam|Visit|Report|Collection|Collected) Date|Collected|Date)[ \t]*:[ \t]*([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})");
	compile_one(&pageof_re,
		    "\\bPage[ \t]+([0-9]{1,4})[ \t]+of[ \t]+([0-9]{1,4})\\b");
}

/*
 * The earliest match in text of any of pats, from offset from on; its
 * match groups in m (offsets from text). -1 when none matches.
 */
static int earliest(struct pattern *pats, size_t npats, const char *text,
		    size_t from, regmatch_t m[8])
{
	regmatch_t t[8];
	size_t i, k;
	int best = -1;

	for (i = 0; i < npats; i++) {
		if (regexec(&pats[i].compiled, text + from, 8, t,
			    from ? REG_NOTBOL : 0))
			continue;
		if (best >= 0 && t[0].rm_so >= m[0].rm_so)
			continue;
		for (k = 0; k < 8; k++)
			m[k] = t[k];
		best = (int)i;
	}
	for (k = 0; best >= 0 && k < 8; k++)
		if (m[k].rm_so >= 0) {
			m[k].rm_so += (regoff_t)from;
			m[k].rm_eo += (regoff_t)from;
		}
	return best;
}

static void copy_match(char *out, size_t n, const char *s, const regmatch_t *m)
{
	size_t len = (size_t)(m->rm_eo - m->rm_so);

	if (m->rm_so < 0) {
		out[0] = '\0';
		return;
	}
	if (len >= n)
		len = n - 1;
	memcpy(out, s + m->rm_so, len);
	out[len] = '\0';
}

static int match_int(const char *s, const regmatch_t *m)
{
	char tmp[16];
	long long v;

	copy_match(tmp, sizeof(tmp), s, m);
	return cv_parse_ll(&v, tmp, 0, 99999) < 0 ? -1 : (int)v;
}

/* Month/day/year as an ISO date, or "" when it is no calendar date. */
static void iso_date(char *out, size_t n, const char *s, const regmatch_t *mm,
		     const regmatch_t *dd, const regmatch_t *yy)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30,
				     31, 31, 30, 31, 30, 31 };
	int m = match_int(s, mm), d = match_int(s, dd), y = match_int(s, yy);

	out[0] = '\0';
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] || y < 1850 ||
	    y > 2200)
		return;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 || y % 400 == 0)))
		return;
	{
		char tmp[48];

		snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d", y, m, d);
		snprintf(out, n, "%.10s", tmp);
	}
}

/* A title line is short and mostly capitals, unlike a sentence that
 * happens to mention a discharge summary. */
static int looks_like_title(const char *line, size_t len)
{
	size_t i, upper = 0, lower = 0;

	if (len < 3 || len > 60)
		return 0;
	for (i = 0; i < len; i++) {
		if (isupper((unsigned char)line[i]))
			upper++;
		else if (islower((unsigned char)line[i]))
			lower++;
	}
	return upper >= 3 && upper >= 4 * lower;
}

static void find_title(const char *text, char *code, size_t n)
{
	const char *line = text;
	int lines = 0;

	code[0] = '\0';
	while (*line && lines < TITLE_LINES) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (len && looks_like_title(line, len)) {
			char *copy = cv_strndup(line, len);

			lines++;
			cv_ingest__title_type(copy, code, n);
			free(copy);
			if (code[0])
				return;
		} else if (len) {
			lines++;
		}
		if (!end)
			break;
		line = end + 1;
	}
}

size_t cv_ingest__mrn_candidates(const char *text, char (*out)[64], size_t max)
{
	regmatch_t m[8];
	size_t n = 0, from = 0, i;
	int k;

	pthread_once(&compiled, compile_all);
	while (n < max &&
	       (k = earliest(mrn_pats, NPATS(mrn_pats), text, from, m)) >= 0) {
		copy_match(out[n], sizeof(out[n]), text, &m[mrn_pats[k].a]);
		for (i = 0; i < n && strcmp(out[i], out[n]); i++)
			;
		if (i == n)
			n++;
		from = (size_t)m[0].rm_eo;
	}
	return n;
}

void cv_ingest_page_facts(const char *text, struct cv_ingest_page_facts *f)
{
	regmatch_t m[8];
	int k;

	pthread_once(&compiled, compile_all);
	memset(f, 0, sizeof(*f));
	find_title(text, f->title_type, sizeof(f->title_type));
	if (cv_ingest__mrn_candidates(text, &f->mrn, 1) == 0)
		f->mrn[0] = '\0';
	if ((k = earliest(name_pats, NPATS(name_pats), text, 0, m)) >= 0) {
		char fam[60], given[60];

		copy_match(fam, sizeof(fam), text, &m[name_pats[k].a]);
		copy_match(given, sizeof(given), text, &m[name_pats[k].b]);
		snprintf(f->patient_name, sizeof(f->patient_name),
			 "%.60s, %.60s", fam, given);
	}
	if ((k = earliest(dob_pats, NPATS(dob_pats), text, 0, m)) >= 0)
		iso_date(f->dob, sizeof(f->dob), text, &m[dob_pats[k].a],
			 &m[dob_pats[k].b], &m[dob_pats[k].c]);
	if (!regexec(&date_re, text, 7, m, 0))
		iso_date(f->service_date, sizeof(f->service_date), text, &m[4],
			 &m[5], &m[6]);
	if (!regexec(&pageof_re, text, 3, m, 0)) {
		int x = match_int(text, &m[1]), y = match_int(text, &m[2]);

		if (x >= 1 && y >= x) {
			f->page_of = x;
			f->page_total = y;
		}
	}
}

/* Sure enough of both pages' types that a change means a new document. */
#define TYPE_CUT_CONFIDENCE 0.8

/*
 * The model reads page b as another kind of document than page a, and is
 * sure of both. Numbering outranks it: a page that says it continues
 * ("Page 2 of 3"), or follows one that says more is coming, is not cut.
 */
static int type_changes(const struct cv_ingest__seg_page *a,
			const struct cv_ingest__seg_page *b)
{
	const struct cv_ingest_type_decision *x = &a->page_type,
					     *y = &b->page_type;

	if (strcmp(x->source, "model") || strcmp(y->source, "model"))
		return 0;
	if (b->facts.page_of > 1 ||
	    (a->facts.page_total > 0 && a->facts.page_of < a->facts.page_total))
		return 0;
	if (!strcmp(x->code, CV_INGEST_TYPE_OTHER) ||
	    !strcmp(y->code, CV_INGEST_TYPE_OTHER))
		return 0;
	return strcmp(x->code, y->code) &&
	       x->confidence >= TYPE_CUT_CONFIDENCE &&
	       y->confidence >= TYPE_CUT_CONFIDENCE;
}

void cv_ingest__segment(const struct cv_ingest__seg_page *p, size_t n,
			int *starts)
{
	const char *mrn = "";
	size_t i;

	for (i = 0; i < n; i++) {
		const struct cv_ingest_page_facts *f = &p[i].facts;
		int start = i == 0;

		if (f->title_type[0] || f->page_of == 1 || p[i].cut_before)
			start = 1;
		/* The last page of "Page N of N" closes its document. */
		if (i > 0 && p[i - 1].facts.page_total > 0 &&
		    p[i - 1].facts.page_of == p[i - 1].facts.page_total)
			start = 1;
		if (i > 0 && type_changes(&p[i - 1], &p[i]))
			start = 1;
		/* Another patient's page never continues this document. */
		if (f->mrn[0] && mrn[0] && strcmp(f->mrn, mrn))
			start = 1;
		starts[i] = start;
		if (start)
			mrn = f->mrn;
		else if (!mrn[0])
			mrn = f->mrn;
	}
}

void cv_ingest__describe(const struct cv_ingest__seg_page *p, size_t n,
			 struct cv_index_document *doc)
{
	size_t i;

	snprintf(doc->doc_type, sizeof(doc->doc_type), "other");
	doc->type_source[0] = '\0';
	/* A cover sheet is the clerk's word: it decides what it states. */
	if (n && p[0].has_cover) {
		const struct cv_ingest_cover *c = &p[0].cover;

		snprintf(doc->doc_type, sizeof(doc->doc_type), "%s",
			 c->doc_type);
		snprintf(doc->type_source, sizeof(doc->type_source),
			 "coversheet");
		snprintf(doc->mrn, sizeof(doc->mrn), "%s", c->mrn);
		snprintf(doc->identity_source, sizeof(doc->identity_source),
			 "coversheet");
		snprintf(doc->service_date, sizeof(doc->service_date), "%s",
			 c->service_date);
	}
	/* Then the manifest, for what the cover did not state. */
	if (n && p[0].manifest) {
		const struct cv_ingest_manifest_row *m = p[0].manifest;

		if (!doc->type_source[0] && m->doc_type[0]) {
			snprintf(doc->doc_type, sizeof(doc->doc_type), "%s",
				 m->doc_type);
			snprintf(doc->type_source, sizeof(doc->type_source),
				 "manifest");
		}
		if (!doc->mrn[0] && m->mrn[0]) {
			snprintf(doc->mrn, sizeof(doc->mrn), "%s", m->mrn);
			snprintf(doc->identity_source,
				 sizeof(doc->identity_source), "manifest");
		}
		if (!doc->service_date[0] && m->service_date[0])
			snprintf(doc->service_date, sizeof(doc->service_date),
				 "%s", m->service_date);
	}
	for (i = 0; i < n; i++) {
		const struct cv_ingest_page_facts *f = &p[i].facts;

		if (!doc->type_source[0] && f->title_type[0]) {
			snprintf(doc->doc_type, sizeof(doc->doc_type), "%s",
				 f->title_type);
			snprintf(doc->type_source, sizeof(doc->type_source),
				 "title");
		}
		if (!doc->mrn[0] && f->mrn[0]) {
			snprintf(doc->mrn, sizeof(doc->mrn), "%s", f->mrn);
			snprintf(doc->identity_source,
				 sizeof(doc->identity_source), "page text");
		}
		if (!doc->patient_name[0] && f->patient_name[0])
			snprintf(doc->patient_name, sizeof(doc->patient_name),
				 "%s", f->patient_name);
		if (!doc->dob[0] && f->dob[0])
			snprintf(doc->dob, sizeof(doc->dob), "%s", f->dob);
		if (!doc->service_date[0] && f->service_date[0])
			snprintf(doc->service_date, sizeof(doc->service_date),
				 "%s", f->service_date);
	}
	for (i = 0; !doc->mrn[0] && i < n; i++) {
		if (p[i].label_mrn[0]) {
			snprintf(doc->mrn, sizeof(doc->mrn), "%s",
				 p[i].label_mrn);
			snprintf(doc->identity_source,
				 sizeof(doc->identity_source), "label barcode");
		}
	}
}

int cv_ingest__valid_id(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s), i;

	if (n < min || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return 1;
}

int cv_ingest__valid_date(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30,
				     31, 31, 30, 31, 30, 31 };
	long long y, m, d;
	char buf[16];

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	memcpy(buf, s, 11);
	buf[4] = buf[7] = '\0';
	if (cv_parse_ll(&y, buf, 1850, 2200) ||
	    cv_parse_ll(&m, buf + 5, 1, 12) ||
	    cv_parse_ll(&d, buf + 8, 1, mdays[m - 1]))
		return 0;
	/* 29 February only in a leap year. */
	return !(m == 2 && d == 29 &&
		 !(y % 4 == 0 && (y % 100 || y % 400 == 0)));
}
