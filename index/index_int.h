/*
 * Declarations shared by the files of index/ and by no other module: the
 * connection struct, the libpq error adapter, the embedded migrations and
 * small result helpers.
 *
 * Conventions of every statement in index/:
 *
 *   - SQL is constant text; values travel as parameters of PQexecParams,
 *     never spliced into the statement.
 *   - bytea values (object ids, keys, hashes) are sent as binary
 *     parameters (paramFormats 1, exact lengths) and read back from text
 *     results with cv_index__get_bytea, which accepts both the hex and the
 *     escape output format of bytea.
 *   - Integers travel as decimal text.
 *
 * On-disk layout of the private cluster (cluster.c):
 *
 *   | path                       | owner (root / user) | mode | what |
 *   |----------------------------|---------------------|------|-----------------|
 *   | <archive>/pgdata/          | server user / user  | 0700 | the cluster |
 *   | <archive>/pgdata/server.log| server user / user  | 0600 | server's log |
 *   | <archive>/pgrun/           | server user / user  | 0700 | Unix socket |
 *   | <archive>/pgrun/.start.lock| caller              | 0600 | flock for start
 * | | <archive>/initdb.log       | caller              | 0640 | initdb output |
 */
#ifndef CV_INDEX_INT_H
#define CV_INDEX_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "index.h"

struct cv_index {
	PGconn *conn;
	/* Who acts on this connection, for audit rows (audit.c); malloc'd
	 * strings, NULL when unset. */
	char *audit_role, *audit_os_user, *audit_host, *audit_session;
	int audit_context; /* a context was set (even with a NULL role) */
	int audit_sealed;  /* rows from before the chain were sealed */
};

/*
 * The numbered migrations, embedded by scripts/embed-sql.sh from
 * index/migrations/NNNN_name.sql into build/gen/migrations.c. Versions
 * are dense from 1, in order; the last is cv_index_schema_latest().
 */
struct cv_index__migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct cv_index__migration cv_index__migrations[];
extern const size_t cv_index__nmigrations;

/*
 * Fill err from a failed statement (res) or connection (res NULL) and
 * return the code:
 *
 *   connection lost, SQLSTATE class 08, 57P01-57P03   CV_EUNAVAIL
 *   SQLSTATE class 40 (serialization, deadlock)       CV_ERETRY
 *   23505 unique violation                            CV_EEXISTS
 *   anything else                                     CV_ERROR
 *
 * msg is the caller's fmt; detail is the server's primary message and
 * detail with the SQLSTATE, or PQerrorMessage(conn) when res carries no
 * message. Server text that can quote row values (the detail of class 23,
 * everything but the SQLSTATE and names of class 22) is left out, so that
 * a rejected MRN or date of birth never reaches a log.
 */
int cv_index__error_pg(struct cv_error *err, const PGresult *res,
		       const PGconn *conn, const char *fmt, ...)
	CV_PRINTF(4, 5);

/* 1 when res is a successful command or query result, else 0. */
int cv_index__result_ok(const PGresult *res);

/*
 * Decode the bytea in (row, col) of a text-format result into exactly n
 * bytes of out. Returns 0, 1 when the value is NULL (out is zeroed), or
 * CV_ERROR when it is not exactly n bytes long.
 */
int cv_index__get_bytea(uint8_t *out, size_t n, const PGresult *res, int row,
			int col);

/* Parse the integer in (row, col); CV_ERROR when NULL or not a number. */
int cv_index__get_i64(int64_t *out, const PGresult *res, int row, int col);

/*
 * Fill d from columns first.. of a row shaped like pipeline.c's document
 * queries (defined there, shared with search.c). 0 or CV_ERROR.
 */
int cv_index__read_document(const PGresult *res, int row, int first,
			    struct cv_index_document *d);

/*
 * Open a transaction unless the caller already has one. *owned says
 * whether this call opened it; pass it to cv_index__tx_leave, which
 * commits (ret == 0) or rolls back (ret < 0) only a transaction it owns,
 * so functions documented as "in one transaction" also compose inside a
 * caller's cv_index_begin. tx_leave returns ret, or the commit's error.
 */
int cv_index__tx_enter(struct cv_index *ix, int *owned, struct cv_error *err);
int cv_index__tx_leave(struct cv_index *ix, int owned, int ret,
		       struct cv_error *err);

/*
 * Retention (retention.c), shared with destroy.c: one document evaluated
 * now against the rules in force (kind UNKNOWN when no rule applies), and
 * today's date in UTC by the server's clock.
 */
int cv_index__retention_eval_doc(struct cv_index *ix, int64_t doc_id,
				 struct cv_retention_value *v, char rule_id[64],
				 int *version, struct cv_error *err);
int cv_index__today(struct cv_index *ix, int32_t *day, struct cv_error *err);

/*
 * The transaction-level advisory lock that placing a hold and committing
 * a record to destruction both take (holds.c), so that one of them sees
 * the other. Inside the caller's transaction.
 */
#define CV_INDEX__DESTROY_LOCK 0x63764c48 /* "cvLH" */
int cv_index__destroy_lock(struct cv_index *ix, struct cv_error *err);

/*
 * A text[] literal of n strings (NULL elements allowed): each quoted, with
 * '"' and '\\' escaped, so any text survives; malloc'd (objects_batch.c).
 */
char *cv_index__text_array(const char *const *v, size_t n);

#endif
