/*
 * Where a page was scanned: the archived original file it came from and
 * its page number there. The QA screen shows the scan as it came off the
 * scanner beside the cleaned page, since the quality flags are measured on
 * the scan and cleanup can hide what made it poor.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "index_int.h"
#include "common/banned.h"

static const char PAGE_SOURCE[] =
	"SELECT f.object_id, p.page_no FROM pages p"
	" JOIN source_files f ON f.id = p.file_id WHERE p.id = $1";

int cv_index_page_source(struct cv_index *ix, int64_t page_id,
			 uint8_t object_id[CV_INDEX_OID_LEN], int *page_no,
			 struct cv_error *err)
{
	char id[24];
	const char *p[1] = { id };
	PGresult *res;
	int64_t n = 0;
	int ret = 0;

	memset(object_id, 0, CV_INDEX_OID_LEN);
	*page_no = 0;
	snprintf(id, sizeof(id), "%" PRId64, page_id);
	res = PQexecParams(ix->conn, PAGE_SOURCE, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		ret = cv_index__error_pg(err, res, ix->conn,
					 "could not read the source of page %s",
					 id);
		goto cleanup;
	}
	if (PQntuples(res) != 1) {
		ret = cv_error_set(err, CV_ENOTFOUND, "no page %s", id);
		goto cleanup;
	}
	if (cv_index__get_bytea(object_id, CV_INDEX_OID_LEN, res, 0, 0) != 0 ||
	    cv_index__get_i64(&n, res, 0, 1) < 0 || n < 1 || n > INT32_MAX) {
		ret = cv_error_set(err, CV_ERROR,
				   "the source of page %s is malformed", id);
		goto cleanup;
	}
	*page_no = (int)n;
cleanup:
	PQclear(res);
	return ret;
}
