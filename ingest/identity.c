/*
 * Patient identity at ingest: which MRNs to believe, whose each document
 * is, and which pages must not be filed where they were found.
 *
 * MRNs come from four places, in order of trust: the cover sheet (the
 * clerk's declaration), the manifest, a patient label's barcode, and the
 * page header's text. Each must pass the hospital's MRN format and check
 * digit (settings identity.mrn_pattern, mrn_format, mrn_check), which is
 * what keeps an OCR misreading of one digit from naming another patient.
 * The most trusted MRN decides and must be in the patient index; without
 * one, the header's name and date of birth may identify the patient.
 * What cannot be decided goes to the exception queue ("unknown-patient"),
 * never into a chart.
 *
 * Misfiles are caught twice. index/identity.c compares every page's own
 * identifiers with its document's patient. And since a page stream is cut
 * where the header's patient changes, a misfiled page usually arrives as
 * a document of its own, correctly labelled with its own patient: what
 * gives it away is where it was found, between documents of one other
 * patient in the same scanned file (a chart folder). That is the bundle
 * rule here.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_int.h"
#include "../common/banned.h"

/* What facts.c has always accepted: "MRN: 90001234", "MRN #12345". */
/* ---------------------------------------------------------------------
 * MRN rules
 */

static int compile(regex_t *re, const char *pattern, const char *setting,
		   struct cv_error *err)
{
	char why[128];
	int rc = regcomp(re, pattern, REG_EXTENDED);

	if (rc == 0)
		return 0;
	regerror(rc, re, why, sizeof(why));
	regfree(re);
	return cv_error_set(
		err, CV_EINVAL,
		"setting identity.%s is not a valid extended regular expression: %s",
		setting, why);
}

int cv_ingest__mrn_rules_init(struct cv_ingest__mrn_rules *r,
			      const struct cv_ingest_opts *o,
			      struct cv_error *err)
{
	const char *check =
		o->mrn_check && *o->mrn_check ? o->mrn_check : "none";
	struct cv_buf whole = CV_BUF_INIT;
	int ret;

	memset(r, 0, sizeof(*r));
	if (!strcmp(check, "none"))
		r->check = 0;
	else if (!strcmp(check, "luhn"))
		r->check = 1;
	else if (!strcmp(check, "mod11"))
		r->check = 2;
	else
		return cv_error_set(
			err, CV_EINVAL,
			"setting identity.mrn_check must be none, luhn or mod11");
	if (o->mrn_pattern && *o->mrn_pattern) {
		ret = compile(&r->pattern, o->mrn_pattern, "mrn_pattern", err);
		if (ret < 0)
			return ret;
		r->has_pattern = 1;
	}
	if (o->mrn_format && *o->mrn_format) {
		/* Anchored here so that a format cannot match a part. */
		cv_buf_addf(&whole, "^(%s)$", o->mrn_format);
		ret = compile(&r->format, whole.buf, "mrn_format", err);
		cv_buf_release(&whole);
		if (ret < 0) {
			if (r->has_pattern)
				regfree(&r->pattern);
			return ret;
		}
		r->has_format = 1;
	}
	r->ready = 1;
	return 0;
}

void cv_ingest__mrn_rules_release(struct cv_ingest__mrn_rules *r)
{
	if (!r->ready)
		return;
	if (r->has_pattern)
		regfree(&r->pattern);
	if (r->has_format)
		regfree(&r->format);
	r->ready = 0;
}

static int luhn_ok(const char *s)
{
	size_t n = strlen(s), i;
	int sum = 0, dbl = 0;

	if (n < 2)
		return 0;
	for (i = n; i-- > 0;) {
		int d;

		if (!isdigit((unsigned char)s[i]))
			return 0;
		d = s[i] - '0';
		if (dbl) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
		dbl = !dbl;
	}
	return sum % 10 == 0;
}

static int mod11_ok(const char *s)
{
	size_t n = strlen(s), i;
	int sum = 0, weight = 2, check, want;

	if (n < 2)
		return 0;
	for (i = n - 1; i-- > 0;) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		sum += (s[i] - '0') * weight++;
	}
	want = (11 - sum % 11) % 11;
	if (s[n - 1] == 'X' || s[n - 1] == 'x')
		check = 10;
	else if (isdigit((unsigned char)s[n - 1]))
		check = s[n - 1] - '0';
	else
		return 0;
	return check == want;
}

int cv_ingest__mrn_ok(const struct cv_ingest__mrn_rules *r, const char *mrn)
{
	if (!mrn[0] || !cv_ingest__valid_id(mrn, 1, 40))
		return 0;
	if (r->has_format && regexec(&r->format, mrn, 0, NULL, 0) != 0)
		return 0;
	if (r->check == 1)
		return luhn_ok(mrn);
	if (r->check == 2)
		return mod11_ok(mrn);
	return 1;
}

int cv_ingest_mrn_valid(const struct cv_ingest_opts *o, const char *mrn,
			int *valid, struct cv_error *err)
{
	struct cv_ingest__mrn_rules r;
	int ret;

	*valid = 0;
	ret = cv_ingest__mrn_rules_init(&r, o, err);
	if (ret < 0)
		return ret;
	*valid = cv_ingest__mrn_ok(&r, mrn);
	cv_ingest__mrn_rules_release(&r);
	return 0;
}

void cv_ingest__find_mrn(const struct cv_ingest__mrn_rules *r, const char *text,
			 struct cv_ingest_page_facts *f)
{
	regmatch_t m[10];
	const char *s = text;
	int tries;

	f->mrn[0] = '\0';
	/* The first acceptable one: a header may also print an account or
	 * accession number that the pattern matches but the check fails. */
	if (!r->has_pattern) {
		char cand[16][64];
		size_t i, n = cv_ingest__mrn_candidates(text, cand, 16);

		for (i = 0; i < n; i++)
			if (cv_ingest__mrn_ok(r, cand[i])) {
				snprintf(f->mrn, sizeof(f->mrn), "%s", cand[i]);
				return;
			}
		return;
	}
	for (tries = 0; tries < 16 && *s; tries++) {
		size_t k, len;
		char cand[64];

		if (regexec(&r->pattern, s, 10, m, s == text ? 0 : REG_NOTBOL))
			return;
		for (k = 1;
		     k < 10 && (m[k].rm_so < 0 || m[k].rm_eo == m[k].rm_so);
		     k++)
			;
		if (k == 10)
			k = 0;
		len = (size_t)(m[k].rm_eo - m[k].rm_so);
		if (len < sizeof(cand)) {
			memcpy(cand, s + m[k].rm_so, len);
			cand[len] = '\0';
			if (cv_ingest__mrn_ok(r, cand)) {
				snprintf(f->mrn, sizeof(f->mrn), "%s", cand);
				return;
			}
		}
		s += m[0].rm_eo > m[0].rm_so ? m[0].rm_eo : m[0].rm_so + 1;
	}
}

/* ---------------------------------------------------------------------
 * Deciding a document's patient
 */

struct decided {
	int64_t patient_id; /* 0: unknown */
	char mrn[64];
	const char *source;
	int declared; /* by a cover sheet or manifest: the clerk's word */
	int held;     /* an exception was raised on the document */
};

/* A JSON string of an identifier (see index/identity.c). */
static void json_id(struct cv_buf *b, const char *s)
{
	cv_buf_addch(b, '"');
	for (; *s; s++)
		if (isalnum((unsigned char)*s) || *s == '-' || *s == '.')
			cv_buf_addch(b, *s);
	cv_buf_addch(b, '"');
}

static int unknown(struct cv_index *ix, int64_t doc_id, const char *reason,
		   const char *source, const char *mrn, struct cv_error *err)
{
	struct cv_buf d = CV_BUF_INIT;
	int ret;

	cv_buf_addf(&d, "{\"reason\": \"%s\", \"source\": ", reason);
	json_id(&d, source ? source : "");
	cv_buf_adds(&d, ", \"mrn\": ");
	json_id(&d, mrn ? mrn : "");
	cv_buf_adds(&d, "}");
	ret = cv_index_exception_raise(ix, doc_id, 0, "unknown-patient", d.buf,
				       err);
	cv_buf_release(&d);
	return ret;
}

/* The patient whose name and DOB a page header shows: unique, else 0. */
static int by_name_dob(struct cv_index *ix,
		       const struct cv_ingest_page_facts *f,
		       struct cv_index_patient *out, int *found,
		       struct cv_error *err)
{
	struct cv_index_patient_query q = { NULL, NULL, NULL, 10 };
	struct cv_index_patient_match *m = NULL;
	char fam[128], giv[128];
	size_t n = 0, i, hits = 0;
	int ret;

	*found = 0;
	cv_index_name_split(f->patient_name, fam, sizeof(fam), giv,
			    sizeof(giv));
	q.name = f->patient_name;
	q.dob = f->dob;
	ret = cv_index_patient_find(ix, &q, &m, &n, err);
	if (ret < 0)
		return ret;
	for (i = 0; i < n; i++) {
		if (cv_index_names_agree(fam, giv, m[i].p.family,
					 m[i].p.given)) {
			if (!hits++)
				*out = m[i].p;
		}
	}
	*found = hits == 1;
	free(m);
	return 0;
}

static int decide(struct cv_index *ix, const struct cv_ingest__mrn_rules *r,
		  const struct cv_ingest__seg_page *p, size_t n,
		  struct cv_index_document *doc, struct decided *dec,
		  struct cv_error *err)
{
	const char *mrn = NULL, *source = NULL;
	struct cv_index_patient pat;
	struct cv_error lookup = CV_ERROR_INIT;
	size_t i;
	int ret, found;

	memset(dec, 0, sizeof(*dec));
	if (p[0].has_cover && p[0].cover.mrn[0]) {
		mrn = p[0].cover.mrn;
		source = "coversheet";
		dec->declared = 1;
	} else if (p[0].manifest && p[0].manifest->mrn[0]) {
		mrn = p[0].manifest->mrn;
		source = "manifest";
		dec->declared = 1;
	}
	for (i = 0; !mrn && i < n; i++) {
		if (p[i].label_mrn[0] && cv_ingest__mrn_ok(r, p[i].label_mrn)) {
			mrn = p[i].label_mrn;
			source = "label barcode";
		}
	}
	for (i = 0; !mrn && i < n; i++) {
		if (p[i].facts.mrn[0]) {
			mrn = p[i].facts.mrn;
			source = "page text";
		}
	}
	if (mrn) {
		if (!cv_ingest__mrn_ok(r, mrn))
			return unknown(ix, doc->id,
				       "mrn fails format or check digit",
				       source, mrn, err);
		ret = cv_index_patient_by_mrn(ix, mrn, &pat, &lookup);
		/* An MRN read by OCR that no patient has is most likely
		 * misread: the header's name and DOB may still say whose the
		 * page is. A declared or barcoded MRN is not second-guessed. */
		if (ret == CV_ENOTFOUND && strcmp(source, "page text"))
			return unknown(ix, doc->id, "mrn not in patient index",
				       source, mrn, err);
		if (ret == CV_ENOTFOUND)
			goto by_name;
		if (ret < 0) {
			*err = lookup;
			return ret;
		}
		dec->patient_id = pat.id;
		snprintf(dec->mrn, sizeof(dec->mrn), "%s", pat.mrn);
		dec->source = source;
		return cv_index_document_set_patient(ix, doc->id, pat.id,
						     pat.mrn, source, err);
	}
	/* No MRN anywhere (or none the index knows): the header's name
	 * and DOB, if one patient has them. */
by_name:
	for (i = 0; i < n; i++) {
		if (!p[i].facts.patient_name[0] || !p[i].facts.dob[0])
			continue;
		ret = by_name_dob(ix, &p[i].facts, &pat, &found, err);
		if (ret < 0)
			return ret;
		if (!found)
			return unknown(
				ix, doc->id,
				mrn ? "mrn not in patient index"
				    : "name and dob match no single patient",
				"page text", mrn ? mrn : "", err);
		dec->patient_id = pat.id;
		snprintf(dec->mrn, sizeof(dec->mrn), "%s", pat.mrn);
		dec->source = "name+dob";
		snprintf(doc->mrn, sizeof(doc->mrn), "%s", pat.mrn);
		return cv_index_document_set_patient(ix, doc->id, pat.id,
						     pat.mrn, "name+dob", err);
	}
	if (mrn)
		return unknown(ix, doc->id, "mrn not in patient index", source,
			       mrn, err);
	return unknown(ix, doc->id, "no identity found", "", "", err);
}

/*
 * The bundle rule. Within one scanned file (a chart folder), documents
 * identified by the patient index form runs by patient; documents whose
 * patient is unknown are left out (they are queued anyway). When one
 * patient has more pages in the file than any other, the folder is that
 * patient's chart, and every run of someone else between its first and
 * last pages was found inside it (two misfiled pages in a row included).
 * Without a majority, a run with runs of one other patient on both sides,
 * and fewer pages than those two together, is flagged. Runs outside the
 * chart's first and last pages are not judged: a stack of several
 * patients' charts scanned as one file changes patient there. Documents
 * a cover sheet or manifest declared are context, never flagged here:
 * their pages are checked against the declared patient instead.
 */
struct run {
	int64_t patient_id;
	size_t first, last; /* documents */
	size_t pages;
};

static int raise_bundle(struct cv_index *ix,
			const struct cv_ingest__seg_page *pages,
			const struct cv_index_document *docs,
			const size_t *first, struct decided *dec, size_t k,
			const struct run *chart, int64_t prev_doc,
			int64_t next_doc, struct cv_error *err)
{
	struct cv_buf d = CV_BUF_INIT;
	size_t j;
	int ret = 0;

	for (j = first[k]; j < first[k + 1] && ret == 0; j++) {
		cv_buf_reset(&d);
		cv_buf_addf(&d,
			    "{\"rule\": \"bundle\", \"source\": \"%s\","
			    " \"page_id\": %" PRId64 ", \"page_mrn\": ",
			    dec[k].source, pages[j].page_id);
		json_id(&d, dec[k].mrn);
		cv_buf_addf(&d,
			    ", \"page_patient_id\": %" PRId64
			    ", \"page_patient_mrn\": ",
			    dec[k].patient_id);
		json_id(&d, dec[k].mrn);
		cv_buf_addf(&d,
			    ", \"document_id\": %" PRId64
			    ", \"chart_patient_id\": %" PRId64
			    ", \"chart_mrn\": ",
			    docs[k].id, chart->patient_id);
		json_id(&d, dec[chart->first].mrn);
		cv_buf_addf(
			&d,
			", \"chart\": \"file\", \"between_documents\": [%" PRId64
			", %" PRId64 "]}",
			prev_doc, next_doc);
		ret = cv_index_exception_raise(ix, docs[k].id, pages[j].page_id,
					       "misfile", d.buf, err);
	}
	cv_buf_release(&d);
	if (ret == 0)
		dec[k].held = 1;
	return ret;
}

/*
 * The patient with more pages in the file than any other, whose chart
 * the folder is; 0 when no one has a majority.
 */
static int64_t majority(const struct run *runs, size_t nruns)
{
	size_t i, j, best = 0, second = 0;
	int64_t who = 0;

	for (i = 0; i < nruns; i++) {
		size_t total = 0;
		int seen = 0;

		for (j = 0; j < i; j++)
			seen |= runs[j].patient_id == runs[i].patient_id;
		if (seen)
			continue;
		for (j = i; j < nruns; j++)
			if (runs[j].patient_id == runs[i].patient_id)
				total += runs[j].pages;
		if (total > best) {
			second = best;
			best = total;
			who = runs[i].patient_id;
		} else if (total > second) {
			second = total;
		}
	}
	return best > second ? who : 0;
}

static int bundle_rule(struct cv_index *ix,
		       const struct cv_ingest__seg_page *pages,
		       const struct cv_index_document *docs,
		       const size_t *first, size_t ndocs, struct decided *dec,
		       struct cv_error *err)
{
	struct run *runs = cv_calloc(ndocs + 1, sizeof(*runs));
	size_t k = 0, nruns, r, x;
	int64_t chart;
	int ret = 0;

	while (k < ndocs && ret == 0) {
		const char *file = pages[first[k]].file;

		/* The runs of one file. */
		nruns = 0;
		for (; k < ndocs && pages[first[k]].file == file; k++) {
			size_t np = first[k + 1] - first[k];

			if (!dec[k].patient_id)
				continue;
			if (pages[first[k + 1] - 1].file != file) {
				k++; /* crosses into the next file */
				break;
			}
			if (nruns &&
			    runs[nruns - 1].patient_id == dec[k].patient_id) {
				runs[nruns - 1].last = k;
				runs[nruns - 1].pages += np;
				continue;
			}
			runs[nruns].patient_id = dec[k].patient_id;
			runs[nruns].first = runs[nruns].last = k;
			runs[nruns].pages = np;
			nruns++;
		}
		chart = majority(runs, nruns);
		for (r = 1; r + 1 < nruns && ret == 0; r++) {
			const struct run *p = &runs[r - 1], *n = &runs[r + 1];

			if (chart) {
				/* Inside the chart's first and last pages. */
				if (runs[r].patient_id == chart)
					continue;
				while (p > runs && p->patient_id != chart)
					p--;
				while (n < runs + nruns - 1 &&
				       n->patient_id != chart)
					n++;
				if (p->patient_id != chart ||
				    n->patient_id != chart)
					continue;
			} else if (p->patient_id != n->patient_id ||
				   runs[r].pages >= p->pages + n->pages) {
				continue;
			}
			for (x = runs[r].first; x <= runs[r].last && ret == 0;
			     x++)
				if (dec[x].patient_id && !dec[x].declared)
					ret = raise_bundle(
						ix, pages, docs, first, dec, x,
						p, docs[p->last].id,
						docs[n->first].id, err);
		}
	}
	free(runs);
	return ret;
}

/* Two strings of one length that differ in one place: a digit misread. */
static int one_char_apart(const char *a, const char *b)
{
	size_t diff = 0;

	if (strlen(a) != strlen(b))
		return 0;
	for (; *a; a++, b++)
		diff += *a != *b;
	return diff == 1;
}

/* Levenshtein distance at most one: a digit misread, dropped or split
 * off. */
static int one_edit_apart(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la == lb)
		return one_char_apart(a, b) || !strcmp(a, b);
	if (la + 1 == lb)
		return one_edit_apart(b, a);
	if (la != lb + 1)
		return 0;
	/* a is b with one character more: skip it where they part. */
	while (*b && *a == *b)
		a++, b++;
	return !strcmp(a + 1, b);
}

static void spell_as(struct cv_ingest_page_facts *f,
		     const struct cv_index_patient *p)
{
	snprintf(f->patient_name, sizeof(f->patient_name), "%.60s, %.60s",
		 p->family, p->given);
}

/*
 * OCR misreads a letter or a digit of a header now and then: "Nettlefoid"
 * for Nettlefold, 1983 for 1933, "90609824" for 90009824. When the rest
 * of the page's identity names one patient in the index, a field within
 * OCR's reach of that patient's is recorded as the patient's own: the
 * name when the page's MRN is the patient's; the date of birth when the
 * name agrees too; the MRN when the name and date of birth are one
 * patient's. Anything farther off is left as read, for it is evidence of
 * a misfiled page, not of a misread (index/identity.c judges it). The
 * reading itself stays in pages.read_*.
 */
static int confirm(struct cv_index *ix, const struct cv_ingest__mrn_rules *r,
		   struct cv_ingest_page_facts *f, struct cv_error *err)
{
	struct cv_index_patient p;
	struct cv_error lookup = CV_ERROR_INIT;
	char fam[128], giv[128];
	int ret;

	cv_index_name_split(f->patient_name, fam, sizeof(fam), giv,
			    sizeof(giv));
	if (f->mrn[0]) {
		ret = cv_index_patient_by_mrn(ix, f->mrn, &p, &lookup);
		if (ret < 0 && ret != CV_ENOTFOUND) {
			*err = lookup;
			return ret;
		}
		if (ret == 0) {
			if (!fam[0] ||
			    !cv_index_names_close(fam, giv, p.family, p.given))
				return 0;
			spell_as(f, &p);
			if (f->dob[0] && p.dob[0] &&
			    one_char_apart(f->dob, p.dob))
				snprintf(f->dob, sizeof(f->dob), "%s", p.dob);
			return 0;
		}
	}
	/* No MRN the index knows: whose name and date of birth these are. */
	if (fam[0] && f->dob[0]) {
		struct cv_index_patient_query q = { NULL, NULL, NULL, 10 };
		struct cv_index_patient_match *m = NULL;
		size_t n = 0, i, hits = 0, at = 0;

		q.name = f->patient_name;
		q.dob = f->dob;
		ret = cv_index_patient_find(ix, &q, &m, &n, err);
		if (ret < 0)
			return ret;
		for (i = 0; i < n; i++)
			if (!strcmp(m[i].p.dob, f->dob) &&
			    cv_index_names_close(fam, giv, m[i].p.family,
						 m[i].p.given) &&
			    !hits++)
				at = i;
		if (hits == 1) {
			spell_as(f, &m[at].p);
			if (f->mrn[0] && one_edit_apart(f->mrn, m[at].p.mrn) &&
			    cv_ingest__mrn_ok(r, m[at].p.mrn))
				snprintf(f->mrn, sizeof(f->mrn), "%s",
					 m[at].p.mrn);
		}
		free(m);
	}
	return 0;
}

int cv_ingest__confirm_identity(struct cv_index *ix,
				const struct cv_ingest__mrn_rules *r,
				struct cv_ingest__seg_page *pages, size_t n,
				struct cv_error *err)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < n && ret == 0; i++)
		ret = confirm(ix, r, &pages[i].facts, err);
	return ret;
}

int cv_ingest__identify(struct cv_index *ix,
			const struct cv_ingest__mrn_rules *r,
			const struct cv_ingest__seg_page *pages, size_t n,
			struct cv_index_document *docs, const size_t *first,
			size_t ndocs, size_t *queued, struct cv_error *err)
{
	struct decided *dec = cv_calloc(ndocs + 1, sizeof(*dec));
	size_t k, i, flagged = 0;
	int ret = 0;

	(void)n;
	*queued = 0;
	for (k = 0; k < ndocs && ret == 0; k++) {
		for (i = first[k]; i < first[k + 1] && ret == 0; i++)
			ret = cv_index_page_set_identity(
				ix, pages[i].page_id, pages[i].facts.mrn,
				pages[i].facts.patient_name, pages[i].facts.dob,
				err);
		if (ret == 0)
			ret = decide(ix, r, &pages[first[k]],
				     first[k + 1] - first[k], &docs[k], &dec[k],
				     err);
		flagged = 0;
		if (ret == 0 && dec[k].patient_id)
			ret = cv_index_document_check_pages(ix, docs[k].id,
							    &flagged, err);
		dec[k].held = !dec[k].patient_id || flagged;
	}
	if (ret == 0)
		ret = bundle_rule(ix, pages, docs, first, ndocs, dec, err);
	for (k = 0; ret == 0 && k < ndocs; k++)
		*queued += dec[k].held != 0;
	free(dec);
	return ret;
}
