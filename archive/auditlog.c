/*
 * The audit trail's cryptography: signed checkpoints of the hash chain
 * that index/audit.c keeps, and the verification that recomputes the
 * chain with libgcrypt and holds it against the checkpoints.
 *
 * A checkpoint vouches for the chain's head: (seq, hash of row seq). It is
 * signed with the archive's Ed25519 key, recorded in the database and
 * appended (and fsynced) to a file outside it, one line each:
 *
 *   cvaudit-checkpoint 1 <seq> <hash, 64 hex> <at> <public key, 64 hex>
 *                        <signature, 128 hex>
 *
 * (one line, fields separated by one space). The signed message is
 *
 *   "chartvault audit checkpoint 1\nseq <seq>\nhash <hex>\nat <at>\n"
 *
 * Because each row's hash covers the one before, a valid checkpoint at
 * seq N vouches for every row up to N: editing, deleting or reordering any
 * of them breaks the chain or the match with the checkpoint, and
 * rewriting the chain to match needs the signing key.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive_int.h"
#include "common/banned.h"

#define CP_MAGIC    "cvaudit-checkpoint"
#define CP_VERSION  "1"
#define CP_LINE_MAX 512

static void cp_message(struct cv_buf *b, int64_t seq, const uint8_t hash[32],
		       const char *at)
{
	char hex[65];

	cv_hex_encode(hex, hash, 32);
	cv_buf_addf(b,
		    "chartvault audit checkpoint " CP_VERSION "\nseq %" PRId64
		    "\nhash %s\nat %s\n",
		    seq, hex, at);
}

static void cp_line(struct cv_buf *b,
		    const struct cv_index_audit_checkpoint *cp)
{
	char hash[65], pub[65], sig[129];

	cv_hex_encode(hash, cp->hash, 32);
	cv_hex_encode(pub, cp->public_key, 32);
	cv_hex_encode(sig, cp->signature, 64);
	cv_buf_addf(b, CP_MAGIC " " CP_VERSION " %" PRId64 " %s %s %s %s\n",
		    cp->seq, hash, cp->at, pub, sig);
}

/* Append line to file and make it durable; creates file and folder. */
static int append_durably(const char *file, const char *line, size_t n,
			  struct cv_error *err)
{
	char *dir = cv_strdup(file), *slash = strrchr(dir, '/');
	int fd = -1, created, ret;

	if (slash && slash != dir) {
		*slash = '\0';
		ret = cv_fs_mkdirs(dir, cv_fs_mode(0700), err);
		if (ret < 0)
			goto cleanup;
	}
	created = !cv_fs_exists(file);
	fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		  cv_fs_mode(0600));
	if (fd < 0) {
		ret = cv_error_errno(
			err, CV_ERROR,
			"could not open the audit checkpoint file '%s'", file);
		goto cleanup;
	}
	if (cv_fs_write_all(fd, line, n) < 0 || fsync(fd) < 0) {
		ret = cv_error_errno(
			err, CV_ERROR,
			"could not write the audit checkpoint file '%s'", file);
		goto cleanup;
	}
	ret = 0;
	/* A new file's name must be durable too. */
	if (created && slash && slash != dir)
		ret = cv_fs_fsync_dir(dir, err);
cleanup:
	if (fd >= 0 && close(fd) < 0 && ret == 0)
		ret = cv_error_errno(
			err, CV_ERROR,
			"could not write the audit checkpoint file '%s'", file);
	free(dir);
	return ret;
}

int cv_archive_audit_checkpoint(struct cv_index *ix,
				const struct cv_archive_keys *keys,
				const char *file,
				const struct cv_archive_audit_cp_opts *o,
				struct cv_index_audit_checkpoint *out,
				int *written, struct cv_error *err)
{
	struct cv_index_audit_checkpoint cp;
	struct cv_buf msg = CV_BUF_INIT, line = CV_BUF_INIT;
	int64_t cp_seq, cp_time, head_seq, head_time;
	int ret;

	*written = 0;
	memset(&cp, 0, sizeof(cp));
	ret = cv_index_begin(ix, err);
	if (ret < 0)
		return ret;
	ret = cv_index_audit_checkpoint_lock(ix, err);
	if (ret == 0)
		ret = cv_index_audit_due(ix, &cp_seq, &cp_time, &head_seq,
					 &head_time, err);
	if (ret < 0)
		goto cleanup;
	/* Nothing new to vouch for; otherwise due by rows or by age. */
	if (head_seq <= cp_seq ||
	    !(o->force || cp_seq == 0 || head_seq - cp_seq >= o->every_rows ||
	      (int64_t)time(NULL) - cp_time >= o->every_minutes * 60))
		goto cleanup;
	ret = cv_index_audit_head(ix, &cp.seq, cp.hash, cp.at, err);
	if (ret < 0)
		goto cleanup;
	cp_message(&msg, cp.seq, cp.hash, cp.at);
	cv_archive_public_key(keys, cp.public_key);
	ret = cv_archive_sign(keys, msg.buf, msg.len, cp.signature, err);
	if (ret == 0)
		ret = cv_index_audit_checkpoint_add(ix, &cp, err);
	if (ret < 0)
		goto cleanup;
	/*
	 * The file before the commit: a checkpoint in the database is always
	 * in the file too, and one that reached the file but not the database
	 * (a failed commit) is still a true statement about the chain.
	 */
	cp_line(&line, &cp);
	ret = append_durably(file, line.buf, line.len, err);
	if (ret < 0)
		goto cleanup;
	ret = cv_index_commit(ix, err);
	if (ret == 0) {
		*written = 1;
		if (out)
			*out = cp;
	}
cleanup:
	if (ret < 0 || !*written)
		cv_index_rollback(ix);
	cv_buf_release(&msg);
	cv_buf_release(&line);
	return ret;
}

/* ---------------------------------------------------------------------
 * Verification
 */

struct file_cp {
	struct cv_index_audit_checkpoint cp;
	size_t line;
	int sig_ok;
	int matched; /* the chain had this seq with this hash */
};

struct verify {
	struct cv_archive_audit_report *rep;
	const uint8_t *pub;
	int64_t expect; /* next seq */
	uint8_t prev[32];
	struct cv_buf canon;
	struct file_cp *fcps;
	size_t nfcps;
	struct cv_index_audit_checkpoint *tcps;
	size_t ntcps;
};

static void problem(struct cv_archive_audit_report *rep, int64_t seq,
		    int64_t id, const char *fmt, ...) CV_PRINTF(4, 5);

static void problem(struct cv_archive_audit_report *rep, int64_t seq,
		    int64_t id, const char *fmt, ...)
{
	struct cv_archive_audit_problem *p;
	va_list ap;

	rep->total_problems++;
	if (rep->nproblems >= CV_ARCHIVE_AUDIT_PROBLEMS_MAX)
		return;
	rep->problems = cv_realloc(
		rep->problems, (rep->nproblems + 1) * sizeof(*rep->problems));
	p = &rep->problems[rep->nproblems++];
	p->seq = seq;
	p->id = id;
	va_start(ap, fmt);
	vsnprintf(p->what, sizeof(p->what), fmt, ap);
	va_end(ap);
}

static int verify_row(void *ctx, const struct cv_index_audit_row *r,
		      struct cv_error *err)
{
	struct verify *v = ctx;
	uint8_t h[32];
	size_t i;

	(void)err;
	v->rep->rows++;
	if (r->seq != v->expect) {
		if (r->seq == v->expect + 1)
			problem(v->rep, r->seq, r->id,
				"row seq %" PRId64
				" is missing before row seq %" PRId64
				" (id %" PRId64 "): deleted or renumbered",
				v->expect, r->seq, r->id);
		else if (r->seq > v->expect)
			problem(v->rep, r->seq, r->id,
				"rows seq %" PRId64 " to %" PRId64
				" are missing before row seq %" PRId64
				" (id %" PRId64 "): deleted or renumbered",
				v->expect, r->seq - 1, r->seq, r->id);
		else
			problem(v->rep, r->seq, r->id,
				"row seq %" PRId64 " (id %" PRId64
				") is out of order",
				r->seq, r->id);
	}
	if (!r->has_hash || !r->has_prev) {
		problem(v->rep, r->seq, r->id,
			"row seq %" PRId64 " (id %" PRId64
			") has no valid hash or prev_hash: edited",
			r->seq, r->id);
	} else {
		if (memcmp(r->prev_hash, v->prev, 32) != 0)
			problem(v->rep, r->seq, r->id,
				"row seq %" PRId64 " (id %" PRId64
				") does not follow the row before it (its prev_hash differs from that row's hash): rows before it were deleted, inserted, reordered or rewritten",
				r->seq, r->id);
		cv_buf_reset(&v->canon);
		cv_buf_add(&v->canon, r->prev_hash, 32);
		cv_index_audit_canonical(&v->canon, r);
		gcry_md_hash_buffer(GCRY_MD_SHA256, h, v->canon.buf,
				    v->canon.len);
		if (memcmp(h, r->hash, 32) != 0)
			problem(v->rep, r->seq, r->id,
				"row seq %" PRId64 " (id %" PRId64
				") was edited: its content does not match its hash",
				r->seq, r->id);
	}
	/* Matching checkpoints vouch for this row and all before it. */
	for (i = 0; i < v->nfcps; i++)
		if (v->fcps[i].cp.seq == r->seq &&
		    !memcmp(v->fcps[i].cp.hash, r->hash, 32))
			v->fcps[i].matched = 1;
	memcpy(v->prev, r->has_hash ? r->hash : v->prev, 32);
	v->expect = r->seq + 1;
	v->rep->head_seq = r->seq;
	memcpy(v->rep->head_hash, r->hash, 32);
	return 0;
}

/* Parse one line of the checkpoint file; -1 when malformed. */
static int parse_cp_line(struct cv_index_audit_checkpoint *cp, char *line)
{
	char *f[8], *save = NULL, *tok;
	long long seq;
	int n = 0;

	memset(cp, 0, sizeof(*cp));
	for (tok = strtok_r(line, " ", &save); tok && n < 8;
	     tok = strtok_r(NULL, " ", &save))
		f[n++] = tok;
	if (n != 7 || tok || strcmp(f[0], CP_MAGIC) != 0 ||
	    strcmp(f[1], CP_VERSION) != 0 ||
	    cv_parse_ll(&seq, f[2], 1, INT64_MAX) < 0 ||
	    cv_hex_decode(cp->hash, 32, f[3]) < 0 || strlen(f[4]) >= 32 ||
	    cv_hex_decode(cp->public_key, 32, f[5]) < 0 ||
	    cv_hex_decode(cp->signature, 64, f[6]) < 0)
		return -1;
	cp->seq = seq;
	snprintf(cp->at, sizeof(cp->at), "%s", f[4]);
	return 0;
}

static int cp_signature_ok(const struct cv_index_audit_checkpoint *cp,
			   const uint8_t *pub)
{
	struct cv_error ignore = CV_ERROR_INIT;
	struct cv_buf msg = CV_BUF_INIT;
	int ok;

	cp_message(&msg, cp->seq, cp->hash, cp->at);
	ok = memcmp(cp->public_key, pub, 32) == 0 &&
	     cv_archive_verify_signature(pub, msg.buf, msg.len, cp->signature,
					 &ignore) == 0;
	cv_buf_release(&msg);
	return ok;
}

static int load_file(struct verify *v, const char *file, struct cv_error *err)
{
	struct cv_buf b = CV_BUF_INIT;
	char *p, *nl;
	size_t lineno = 0;
	int ret;

	if (!cv_fs_exists(file)) {
		v->rep->file_missing = 1;
		return 0;
	}
	ret = cv_fs_read_file(&b, file, (size_t)1 << 30, err);
	if (ret < 0)
		return ret;
	for (p = b.buf; *p; p = nl + 1) {
		struct file_cp *f;

		nl = strchr(p, '\n');
		lineno++;
		if (!nl) {
			problem(v->rep, 0, 0,
				"checkpoint file line %zu is cut off (no newline)",
				lineno);
			break;
		}
		*nl = '\0';
		if (nl - p > CP_LINE_MAX) {
			problem(v->rep, 0, 0,
				"checkpoint file line %zu is malformed",
				lineno);
			continue;
		}
		v->fcps =
			cv_realloc(v->fcps, (v->nfcps + 1) * sizeof(*v->fcps));
		f = &v->fcps[v->nfcps];
		memset(f, 0, sizeof(*f));
		f->line = lineno;
		if (parse_cp_line(&f->cp, p) < 0) {
			problem(v->rep, 0, 0,
				"checkpoint file line %zu is malformed",
				lineno);
			continue;
		}
		f->sig_ok = cp_signature_ok(&f->cp, v->pub);
		v->nfcps++;
	}
	v->rep->checkpoints_file = v->nfcps;
	cv_buf_release(&b);
	return 0;
}

int cv_archive_audit_verify(struct cv_index *ix, const uint8_t pub[32],
			    const char *file,
			    struct cv_archive_audit_report *rep,
			    struct cv_error *err)
{
	struct verify v;
	size_t i, j;
	int ret;

	memset(rep, 0, sizeof(*rep));
	memset(&v, 0, sizeof(v));
	v.rep = rep;
	v.pub = pub;
	v.expect = 1;
	ret = cv_archive__need_init(err);
	if (ret < 0)
		return ret;
	ret = load_file(&v, file, err);
	if (ret == 0)
		ret = cv_index_audit_checkpoints(ix, &v.tcps, &v.ntcps, err);
	if (ret == 0)
		ret = cv_index_audit_unsealed(ix, &rep->unsealed, err);
	if (ret == 0)
		ret = cv_index_audit_scan(ix, 0, verify_row, &v, err);
	if (ret < 0)
		goto cleanup;
	rep->checkpoints_table = v.ntcps;
	if (rep->unsealed > 0)
		problem(rep, 0, 0,
			"%" PRId64
			" rows are outside the chain (no seq): written around the chain or taken out of it",
			rep->unsealed);
	for (i = 0; i < v.nfcps; i++) {
		const struct file_cp *f = &v.fcps[i];

		if (!f->sig_ok)
			problem(rep, f->cp.seq, 0,
				"checkpoint at seq %" PRId64
				" (file line %zu) is not signed by this archive's key: forged or altered",
				f->cp.seq, f->line);
		else if (f->cp.seq > rep->head_seq)
			problem(rep, f->cp.seq, 0,
				"the chain ends at seq %" PRId64
				" but the signed checkpoint on file line %zu vouches for %" PRId64
				" rows: rows were deleted from the end",
				rep->head_seq, f->line, f->cp.seq);
		else if (!f->matched)
			problem(rep, f->cp.seq, 0,
				"the chain's row seq %" PRId64
				" does not match the signed checkpoint on file line %zu: rows up to it were changed and rehashed",
				f->cp.seq, f->line);
		else
			rep->checkpoints_ok++;
	}
	/* What the database lists must be in the file, signed alike. */
	for (i = 0; i < v.ntcps; i++) {
		int found = 0;

		for (j = 0; j < v.nfcps && !found; j++)
			found = v.fcps[j].cp.seq == v.tcps[i].seq &&
				!memcmp(v.fcps[j].cp.hash, v.tcps[i].hash,
					32) &&
				!memcmp(v.fcps[j].cp.signature,
					v.tcps[i].signature, 64);
		if (!found)
			problem(rep, v.tcps[i].seq, 0,
				"checkpoint %" PRId64 " at seq %" PRId64
				" in the database is not in the checkpoint file '%s': the file was cut or replaced",
				v.tcps[i].id, v.tcps[i].seq, file);
	}
	if (rep->file_missing && v.ntcps > 0)
		problem(rep, 0, 0,
			"the checkpoint file '%s' is missing but the database lists %zu checkpoints",
			file, v.ntcps);
	ret = 0;
cleanup:
	cv_buf_release(&v.canon);
	free(v.fcps);
	free(v.tcps);
	return ret;
}

void cv_archive_audit_report_release(struct cv_archive_audit_report *rep)
{
	if (!rep)
		return;
	free(rep->problems);
	rep->problems = NULL;
	rep->nproblems = 0;
}
