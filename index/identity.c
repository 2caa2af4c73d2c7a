/*
 * Whose is this page? The identity each page shows of itself (header
 * MRN, label barcode, name and date of birth), the patient its document
 * is linked to, and the misfile rule that compares the two.
 *
 * The rule lives here, on the rows, rather than in ingest/, because it
 * must hold again after records staff move pages between documents in
 * the exception queue: the same check runs at ingest and after every
 * queue action that changes what a document holds.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

static const char SET_PAGE_IDENTITY[] =
	"UPDATE pages SET found_mrn = NULLIF($2, ''),"
	" found_name = NULLIF($3, ''),"
	" found_dob = NULLIF($4, '')::date WHERE id = $1";

static const char SET_PATIENT[] =
	"UPDATE documents SET patient_id = NULLIF($2, '0')::bigint,"
	" mrn = coalesce(NULLIF($3, ''), mrn),"
	" identity_source = NULLIF($4, '') WHERE id = $1";

/* The pages of a document with what each says, and the document's
 * patient as the patient index has it. */
static const char DOC_PAGES[] =
	"SELECT p.id, coalesce(p.found_mrn, ''),"
	" CASE WHEN p.kind = 'page' THEN coalesce(p.barcode, '') ELSE '' END,"
	" coalesce(p.found_name, ''), coalesce(p.found_dob::text, ''),"
	" coalesce(d.patient_id, 0), coalesce(t.mrn, ''),"
	" coalesce(t.family_name, ''), coalesce(t.given_name, ''),"
	" coalesce(t.dob::text, '')"
	" FROM documents d JOIN pages p ON p.document_id = d.id"
	" LEFT JOIN patients t ON t.id = d.patient_id"
	" WHERE d.id = $1 ORDER BY p.seq";

static const char PATIENT_BY_MRN[] =
	"SELECT id, coalesce(family_name, ''), coalesce(given_name, ''),"
	" coalesce(dob::text, '') FROM patients WHERE mrn = $1";

static const char PATIENTS_BY_DOB[] =
	"SELECT id, mrn, coalesce(family_name, ''), coalesce(given_name, '')"
	" FROM patients WHERE dob = $1::date LIMIT 200";

int cv_index_page_set_identity(struct cv_index *ix, int64_t page_id,
			       const char *mrn, const char *name,
			       const char *dob, struct cv_error *err)
{
	char id[24];
	const char *params[4] = { id, mrn ? mrn : "", name ? name : "",
				  dob ? dob : "" };
	PGresult *res;
	int ret;

	snprintf(id, sizeof(id), "%" PRId64, page_id);
	res = PQexecParams(ix->conn, SET_PAGE_IDENTITY, 4, NULL, params, NULL,
			   NULL, 0);
	ret = cv_index__result_ok(res)
		      ? 0
		      : cv_index__error_pg(
				err, res, ix->conn,
				"could not record page %s's identity", id);
	PQclear(res);
	return ret;
}

int cv_index_document_set_patient(struct cv_index *ix, int64_t doc_id,
				  int64_t patient_id, const char *mrn,
				  const char *source, struct cv_error *err)
{
	char d[24], p[24];
	const char *params[4] = { d, p, mrn ? mrn : "", source ? source : "" };
	PGresult *res;
	int ret;

	snprintf(d, sizeof(d), "%" PRId64, doc_id);
	snprintf(p, sizeof(p), "%" PRId64, patient_id > 0 ? patient_id : 0);
	res = PQexecParams(ix->conn, SET_PATIENT, 4, NULL, params, NULL, NULL,
			   0);
	ret = cv_index__result_ok(res)
		      ? 0
		      : cv_index__error_pg(
				err, res, ix->conn,
				"could not link document %s to its patient", d);
	PQclear(res);
	return ret;
}

/* A JSON string of an identifier: anything but letters, digits, '-' and
 * '.' is dropped, so no value can break out of the string. */
static void json_id(struct cv_buf *b, const char *s)
{
	cv_buf_addch(b, '"');
	for (; *s; s++)
		if ((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= 'a' && *s <= 'z') || *s == '-' || *s == '.')
			cv_buf_addch(b, *s);
	cv_buf_addch(b, '"');
}

struct other {
	int64_t id; /* 0: not in the patient index */
	char family[128], given[128], dob[16];
};

static int lookup_mrn(struct cv_index *ix, const char *mrn, struct other *o,
		      struct cv_error *err)
{
	const char *params[1] = { mrn };
	PGresult *res;
	int ret = 0;

	memset(o, 0, sizeof(*o));
	res = PQexecParams(ix->conn, PATIENT_BY_MRN, 1, NULL, params, NULL,
			   NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not look up a page's MRN");
	} else if (PQntuples(res) == 1) {
		cv_index__get_i64(&o->id, res, 0, 0);
		snprintf(o->family, sizeof(o->family), "%s",
			 PQgetvalue(res, 0, 1));
		snprintf(o->given, sizeof(o->given), "%s",
			 PQgetvalue(res, 0, 2));
		snprintf(o->dob, sizeof(o->dob), "%s", PQgetvalue(res, 0, 3));
	}
	PQclear(res);
	return ret;
}

/* Another patient with this name and DOB: *id, or 0. */
static int lookup_name_dob(struct cv_index *ix, const char *family,
			   const char *given, const char *dob, int64_t *id,
			   char *mrn, size_t nmrn, struct cv_error *err)
{
	const char *params[1] = { dob };
	PGresult *res;
	int i, ret = 0;

	*id = 0;
	mrn[0] = '\0';
	res = PQexecParams(ix->conn, PATIENTS_BY_DOB, 1, NULL, params, NULL,
			   NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not look up a page's patient");
		goto cleanup;
	}
	for (i = 0; i < PQntuples(res); i++) {
		if (cv_index_names_agree(family, given, PQgetvalue(res, i, 2),
					 PQgetvalue(res, i, 3))) {
			cv_index__get_i64(id, res, i, 0);
			snprintf(mrn, nmrn, "%s", PQgetvalue(res, i, 1));
			break;
		}
	}
cleanup:
	PQclear(res);
	return ret;
}

struct verdict {
	const char *rule;   /* NULL: the page agrees */
	const char *source; /* what on the page said so */
	const char *mrn;    /* the page's MRN, or "" */
	int64_t other_id;   /* the page's patient, when known */
	char other_mrn[64];
};

/*
 * Judge one page (row i of DOC_PAGES) against the document's patient.
 * An MRN that is in the index as someone else is decisive. An MRN the
 * index does not know is a misread when the page's name and DOB are the
 * patient's, and otherwise a disagreement: a page is never filed on a
 * guess. Without any MRN, the name and DOB decide when both differ, or
 * when they are another patient's.
 */
static int judge(struct cv_index *ix, const PGresult *res, int i,
		 struct verdict *v, struct cv_error *err)
{
	const char *mrns[2] = { PQgetvalue(res, i, 1), PQgetvalue(res, i, 2) };
	const char *sources[2] = { "page text", "label barcode" };
	const char *pmrn = PQgetvalue(res, i, 6);
	const char *pfam = PQgetvalue(res, i, 7), *pgiv = PQgetvalue(res, i, 8);
	const char *pdob = PQgetvalue(res, i, 9);
	const char *dob = PQgetvalue(res, i, 4);
	char fam[128], giv[128];
	int64_t pid;
	int k, name_ok, dob_ok, any_mrn = 0, ret;

	memset(v, 0, sizeof(*v));
	cv_index__get_i64(&pid, res, i, 5);
	cv_index_name_split(PQgetvalue(res, i, 3), fam, sizeof(fam), giv,
			    sizeof(giv));
	name_ok = fam[0] && cv_index_names_agree(fam, giv, pfam, pgiv);
	dob_ok = dob[0] && !strcmp(dob, pdob);
	for (k = 0; k < 2; k++) {
		struct other o;

		if (!mrns[k][0])
			continue;
		any_mrn = 1;
		if (!strcmp(mrns[k], pmrn))
			continue;
		ret = lookup_mrn(ix, mrns[k], &o, err);
		if (ret < 0)
			return ret;
		if (o.id == pid)
			continue;
		if (!o.id && name_ok && dob_ok)
			continue; /* a misread MRN on the patient's page */
		v->rule = o.id ? "mrn" : "unknown-mrn";
		v->source = sources[k];
		v->mrn = mrns[k];
		v->other_id = o.id;
		snprintf(v->other_mrn, sizeof(v->other_mrn), "%s",
			 o.id ? mrns[k] : "");
		return 0;
	}
	if (any_mrn || !fam[0] || !dob[0] || (name_ok && dob_ok))
		return 0;
	ret = lookup_name_dob(ix, fam, giv, dob, &v->other_id, v->other_mrn,
			      sizeof(v->other_mrn), err);
	if (ret < 0)
		return ret;
	if (v->other_id == pid)
		v->other_id = 0;
	if (v->other_id || (!name_ok && !dob_ok)) {
		v->rule = "name+dob";
		v->source = "page text";
		v->mrn = "";
	} else {
		v->other_id = 0;
		v->other_mrn[0] = '\0';
	}
	return 0;
}

int cv_index_document_check_pages(struct cv_index *ix, int64_t doc_id,
				  size_t *flagged, struct cv_error *err)
{
	char d[24];
	const char *params[1] = { d };
	struct cv_buf detail = CV_BUF_INIT;
	PGresult *res = NULL;
	size_t count = 0;
	int i, ret;

	if (flagged)
		*flagged = 0;
	snprintf(d, sizeof(d), "%" PRId64, doc_id);
	res = PQexecParams(ix->conn, DOC_PAGES, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read document %s's pages",
					 d);
		goto cleanup;
	}
	ret = 0;
	for (i = 0; i < PQntuples(res) && ret == 0; i++) {
		struct verdict v;
		int64_t page_id, pid;

		cv_index__get_i64(&pid, res, i, 5);
		if (!pid)
			break; /* no patient: the unknown-patient case */
		ret = judge(ix, res, i, &v, err);
		if (ret < 0 || !v.rule)
			continue;
		cv_index__get_i64(&page_id, res, i, 0);
		cv_buf_reset(&detail);
		cv_buf_addf(&detail,
			    "{\"rule\": \"%s\", \"source\": \"%s\","
			    " \"page_id\": %" PRId64 ", \"page_mrn\": ",
			    v.rule, v.source, page_id);
		json_id(&detail, v.mrn);
		cv_buf_adds(&detail, ", \"page_patient_id\": ");
		if (v.other_id)
			cv_buf_addf(&detail, "%" PRId64, v.other_id);
		else
			cv_buf_adds(&detail, "null");
		cv_buf_adds(&detail, ", \"page_patient_mrn\": ");
		json_id(&detail, v.other_mrn);
		cv_buf_addf(&detail,
			    ", \"document_id\": %" PRId64
			    ", \"document_patient_id\": %" PRId64
			    ", \"document_mrn\": ",
			    doc_id, pid);
		json_id(&detail, PQgetvalue(res, i, 6));
		cv_buf_adds(&detail, ", \"chart\": \"document\"}");
		ret = cv_index_exception_raise(ix, doc_id, page_id, "misfile",
					       detail.buf, err);
		if (ret == 0)
			count++;
	}
	if (flagged)
		*flagged = count;
cleanup:
	cv_buf_release(&detail);
	PQclear(res);
	return ret;
}
