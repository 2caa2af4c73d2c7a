/*
 * chartvault verify: the fixity report. Keyless by default (each stored
 * file's size and SHA-256 against what the index recorded at write time),
 * or --full (decrypt, authenticate every chunk, recompute the keyed id).
 * Both reconcile the index and the store. Exit 0 when every object checked
 * is intact and none is missing; 4 otherwise. Orphan and temp files are
 * reported but are not damage: a crash leaves them, and gc removes them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common/banned.h"

static const char *const problem_names[] = { "FAILED", "MISSING", "ORPHAN",
					     "TEMP" };

/*
 * --since: a date or time (UTC), or Nd / Nh for "the last N days/hours".
 * out receives "YYYY-MM-DD HH:MM:SS".
 */
static int parse_since(const char *s, char *out, size_t n)
{
	struct tm tm;
	const char *end;
	long long v;
	time_t t;
	size_t len = strlen(s);

	if (len >= 2 && (s[len - 1] == 'd' || s[len - 1] == 'h')) {
		char num[24];

		if (len - 1 >= sizeof(num))
			return -1;
		memcpy(num, s, len - 1);
		num[len - 1] = '\0';
		if (cv_parse_ll(&v, num, 0, 36500LL * 24) < 0)
			return -1;
		t = time(NULL) -
		    (time_t)(v * (s[len - 1] == 'd' ? 86400 : 3600));
		if (!gmtime_r(&t, &tm))
			return -1;
		strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end && (*end == 'T' || *end == ' '))
		end = strptime(end + 1, "%H:%M:%S", &tm);
	if (end && *end == 'Z')
		end++;
	if (!end || *end)
		return -1;
	strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
	return 0;
}

static double mb_per_s(uint64_t bytes, uint64_t ms)
{
	return ms ? (double)bytes / 1e6 / ((double)ms / 1000.0) : 0.0;
}

static json_t *report_json(const struct cli *c,
			   const struct cv_archive_verify_opts *o,
			   const struct cv_archive_verify_report *r, int intact)
{
	json_t *v = json_object(), *arr = json_array();
	size_t i;

	json_object_set_new(v, "archive", json_string(c->dir));
	json_object_set_new(v, "run", json_integer(r->run_id));
	json_object_set_new(v, "mode", json_string(o->full ? "full" : "quick"));
	json_object_set_new(v, "sample_pct", json_integer(o->sample_pct));
	json_object_set_new(v, "since",
			    o->since ? json_string(o->since) : json_null());
	json_object_set_new(v, "objects", json_integer(r->objects));
	json_object_set_new(v, "checked", json_integer(r->selected));
	json_object_set_new(v, "intact", json_integer(r->intact));
	json_object_set_new(v, "failed", json_integer(r->failed));
	json_object_set_new(v, "missing", json_integer(r->missing));
	json_object_set_new(v, "erased", json_integer(r->erased));
	json_object_set_new(v, "orphans", json_integer(r->orphans));
	json_object_set_new(v, "temp_files", json_integer(r->temp_files));
	json_object_set_new(v, "bytes", json_integer((json_int_t)r->bytes));
	json_object_set_new(v, "seconds", json_real((double)r->ms / 1000.0));
	json_object_set_new(v, "all_intact", json_boolean(intact));
	for (i = 0; i < r->nfindings; i++) {
		const struct cv_index_verify_finding *f = &r->findings[i];
		json_t *o2 = json_object();
		char hex[CV_ARCHIVE_OID_HEXLEN + 1];
		char lower[16];
		size_t k;

		for (k = 0; problem_names[f->problem][k] && k < 15; k++)
			lower[k] = (char)(problem_names[f->problem][k] + 32);
		lower[k] = '\0';
		json_object_set_new(o2, "problem", json_string(lower));
		if (f->has_id) {
			cv_archive_oid_format(hex, f->id);
			json_object_set_new(o2, "id", json_string(hex));
		}
		if (f->file[0])
			json_object_set_new(o2, "file", json_string(f->file));
		json_object_set_new(o2, "reason", json_string(f->reason));
		json_array_append_new(arr, o2);
	}
	json_object_set_new(v, "findings", arr);
	return v;
}

static void report_text(const struct cli *c,
			const struct cv_archive_verify_opts *o,
			const struct cv_archive_verify_report *r, int intact)
{
	char when[32];
	size_t i;

	cv_utc_now(when, sizeof(when));
	printf("chartvault fixity report\n\n");
	printf("  archive     %s\n", c->dir);
	printf("  finished    %s\n", when);
	printf("  check       %s\n",
	       o->full ? "full: every chunk decrypted and authenticated, keyed id recomputed"
		       : "keyless: size and SHA-256 of the stored bytes against the values recorded at write time");
	if (o->sample_pct < 100 || o->since)
		printf("  selection   %d%% least recently proven%s%s\n",
		       o->sample_pct, o->since ? ", stored since " : "",
		       o->since ? o->since : "");
	else
		printf("  selection   every live object\n");
	printf("  run         #%lld, %.1f s, %.1f MB read, %.1f MB/s\n\n",
	       (long long)r->run_id, (double)r->ms / 1000.0,
	       (double)r->bytes / 1e6, mb_per_s(r->bytes, r->ms));
	printf("  objects in the index   %8lld\n", (long long)r->objects);
	printf("  checked                %8lld\n", (long long)r->selected);
	printf("  intact                 %8lld\n", (long long)r->intact);
	printf("  failed their check     %8lld\n", (long long)r->failed);
	printf("  missing from the store %8lld\n", (long long)r->missing);
	printf("  crypto-erased          %8lld\n", (long long)r->erased);
	printf("  orphan files           %8lld\n", (long long)r->orphans);
	printf("  temp files             %8lld\n", (long long)r->temp_files);
	if (r->nfindings)
		printf("\n");
	for (i = 0; i < r->nfindings; i++) {
		const struct cv_index_verify_finding *f = &r->findings[i];
		char hex[CV_ARCHIVE_OID_HEXLEN + 1];

		if (f->has_id && f->problem != CV_INDEX_FINDING_ORPHAN &&
		    f->problem != CV_INDEX_FINDING_TEMP) {
			cv_archive_oid_format(hex, f->id);
			printf("  %-8s %s  %s\n", problem_names[f->problem],
			       hex, f->reason);
		} else {
			printf("  %-8s objects/%s  %s\n",
			       problem_names[f->problem], f->file, f->reason);
		}
	}
	printf("\nresult: %s\n",
	       intact ? "INTACT: every object checked was proven intact"
		      : "NOT INTACT: see FAILED and MISSING above");
}

/* ---------------------------------------------------------------------
 * verify history: past runs, and when each object was last proven intact.
 */

static json_t *run_json(const struct cv_index_verify_run_row *r)
{
	json_t *v = json_object();

	json_object_set_new(v, "run", json_integer(r->id));
	json_object_set_new(v, "started", json_string(r->started_at));
	json_object_set_new(v, "finished", json_string(r->finished_at));
	json_object_set_new(v, "actor", json_string(r->actor));
	json_object_set_new(v, "mode", json_string(r->full ? "full" : "quick"));
	json_object_set_new(v, "sample_pct", json_integer(r->sample_pct));
	json_object_set_new(v, "since",
			    r->since[0] ? json_string(r->since) : json_null());
	json_object_set_new(v, "checked", json_integer(r->selected));
	json_object_set_new(v, "intact", json_integer(r->intact));
	json_object_set_new(v, "failed", json_integer(r->failed));
	json_object_set_new(v, "missing", json_integer(r->missing));
	json_object_set_new(v, "erased", json_integer(r->erased));
	json_object_set_new(v, "orphans", json_integer(r->orphans));
	json_object_set_new(v, "temp_files", json_integer(r->temp_files));
	json_object_set_new(v, "bytes", json_integer(r->bytes));
	json_object_set_new(v, "findings", json_integer(r->findings));
	json_object_set_new(v, "all_intact",
			    json_boolean(!r->failed && !r->missing));
	return v;
}

static json_t *stats_json(const struct cv_index_proof_stats *st, int stale_days)
{
	json_t *v = json_object(), *w = json_object();
	char key[16], hex[CV_ARCHIVE_OID_HEXLEN + 1];
	int i;

	json_object_set_new(v, "never", json_integer(st->never));
	snprintf(key, sizeof(key), "%dd", stale_days);
	json_object_set_new(v, "stale", json_integer(st->stale));
	json_object_set_new(v, "stale_after", json_string(key));
	for (i = 0; i < CV_INDEX_PROOF_AGES; i++) {
		snprintf(key, sizeof(key), "%dd", cv_index_proof_age_days[i]);
		json_object_set_new(w, key, json_integer(st->within[i]));
	}
	json_object_set_new(v, "within", w);
	json_object_set_new(v, "oldest_proof",
			    st->oldest[0] ? json_string(st->oldest)
					  : json_null());
	if (st->has_least) {
		cv_archive_oid_format(hex, st->least_id);
		json_object_set_new(v, "least_recent_id", json_string(hex));
		json_object_set_new(v, "least_recent_proof",
				    st->least_at[0] ? json_string(st->least_at)
						    : json_null());
	}
	return v;
}

static void stats_text(const char *what, const struct cv_index_proof_stats *st,
		       int64_t live, int stale_days)
{
	char hex[CV_ARCHIVE_OID_HEXLEN + 1];
	int i;

	printf("  %s\n", what);
	printf("    never proven               %8lld\n", (long long)st->never);
	for (i = 0; i < CV_INDEX_PROOF_AGES; i++)
		printf("    proven in the last %3d d   %8lld\n",
		       cv_index_proof_age_days[i], (long long)st->within[i]);
	printf("    last proof over %3d d ago  %8lld\n", stale_days,
	       (long long)st->stale);
	if (st->oldest[0])
		printf("    oldest last proof          %s\n", st->oldest);
	if (st->has_least && live) {
		cv_archive_oid_format(hex, st->least_id);
		printf("    least recently proven      %s (%s)\n", hex,
		       st->least_at[0] ? st->least_at : "never");
	}
}

static int history_object(struct cli *c, const char *hex)
{
	struct cv_index_object_proof p;
	struct cv_error err = CV_ERROR_INIT;
	uint8_t id[CV_ARCHIVE_OID_LEN];
	size_t i;
	int ret;

	if (cv_archive_oid_parse(id, hex) < 0)
		return cli_usage(cli_find("verify"),
				 "'%s' is not an object id (64 hex digits)",
				 hex);
	ret = cv_index_object_proof(c->ix, id, &p, &err);
	if (ret < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *v = json_object(), *arr = json_array();

		json_object_set_new(v, "id", json_string(hex));
		json_object_set_new(v, "erased", json_boolean(p.erased));
		json_object_set_new(v, "stored", json_string(p.created_at));
		json_object_set_new(v, "last_proven",
				    p.checked_run ? json_string(p.checked_at)
						  : json_null());
		json_object_set_new(v, "last_proven_run",
				    json_integer(p.checked_run));
		json_object_set_new(
			v, "last_proven_mode",
			p.checked_run
				? json_string(p.checked_full ? "full" : "quick")
				: json_null());
		json_object_set_new(v, "last_full",
				    p.full_run ? json_string(p.full_at)
					       : json_null());
		json_object_set_new(v, "last_full_run",
				    json_integer(p.full_run));
		json_object_set_new(v, "runs_since_proof",
				    json_integer(p.runs_since));
		for (i = 0; i < p.nfindings; i++) {
			json_t *f = json_object();

			json_object_set_new(f, "run",
					    json_integer(p.findings[i].run_id));
			json_object_set_new(f, "at",
					    json_string(p.findings[i].at));
			json_object_set_new(f, "problem",
					    json_string(p.findings[i].problem));
			json_object_set_new(f, "reason",
					    json_string(p.findings[i].reason));
			json_array_append_new(arr, f);
		}
		json_object_set_new(v, "findings", arr);
		cli_json_print(v);
	} else {
		printf("object %s\n\n", hex);
		printf("  stored               %s%s\n", p.created_at,
		       p.erased ? " (crypto-erased since)" : "");
		if (p.checked_run)
			printf("  last proven intact   %s, run #%lld (%s)\n",
			       p.checked_at, (long long)p.checked_run,
			       p.checked_full ? "full" : "quick");
		else
			printf("  last proven intact   never\n");
		if (p.full_run)
			printf("  last authenticated   %s, run #%lld\n",
			       p.full_at, (long long)p.full_run);
		else
			printf("  last authenticated   never\n");
		printf("  runs since           %lld\n",
		       (long long)p.runs_since);
		if (p.nfindings)
			printf("\n  findings, newest first:\n");
		for (i = 0; i < p.nfindings; i++)
			printf("    run #%-6lld %s  %-8s %s\n",
			       (long long)p.findings[i].run_id,
			       p.findings[i].at, p.findings[i].problem,
			       p.findings[i].reason);
	}
	cv_index_object_proof_release(&p);
	return CLI_OK;
}

static int history(struct cli *c, const struct cv_cmd *cmd, int argc,
		   char **argv)
{
	struct cv_index_verify_run_row *runs = NULL;
	struct cv_index_proof_summary sum;
	struct cv_error err = CV_ERROR_INIT;
	const char *object = NULL;
	long long limit = 20, stale = 30;
	int64_t total = 0;
	size_t n = 0, i;
	int ret;

	for (i = 1; i < (size_t)argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--json"))
			continue;
		if (!strcmp(a, "--limit") && i + 1 < (size_t)argc) {
			if (cli_int_opt(cmd, "--limit", argv[++i], 1, 100000,
					&limit) != 0)
				return CLI_USAGE;
		} else if (!strcmp(a, "--stale") && i + 1 < (size_t)argc) {
			if (cli_int_opt(cmd, "--stale", argv[++i], 1, 36500,
					&stale) != 0)
				return CLI_USAGE;
		} else if (!strcmp(a, "--object") && i + 1 < (size_t)argc) {
			object = argv[++i];
		} else {
			return cli_usage(cmd, "unknown option '%s'", a);
		}
	}
	if (object)
		return history_object(c, object);
	ret = cv_index_verify_runs(c->ix, (size_t)limit, &runs, &n, &total,
				   &err);
	if (ret == 0)
		ret = cv_index_proof_summary(c->ix, (int)stale, &sum, &err);
	if (ret < 0) {
		free(runs);
		return cli_fail(&err);
	}
	if (c->json) {
		json_t *v = json_object(), *arr = json_array();

		json_object_set_new(v, "archive", json_string(c->dir));
		json_object_set_new(v, "runs_total", json_integer(total));
		for (i = 0; i < n; i++)
			json_array_append_new(arr, run_json(&runs[i]));
		json_object_set_new(v, "runs", arr);
		json_object_set_new(v, "live_objects", json_integer(sum.live));
		json_object_set_new(v, "proven",
				    stats_json(&sum.any, sum.stale_days));
		json_object_set_new(v, "proven_full",
				    stats_json(&sum.full, sum.stale_days));
		cli_json_print(v);
		free(runs);
		return CLI_OK;
	}
	printf("chartvault verify history\n\n");
	printf("  archive     %s\n", c->dir);
	printf("  runs        %lld recorded, the latest %zu below\n\n",
	       (long long)total, n);
	if (n)
		printf("  %6s  %-20s  %-5s  %4s  %8s  %8s  %6s  %7s  %7s  %9s\n",
		       "run", "finished (UTC)", "mode", "pct", "checked",
		       "intact", "failed", "missing", "orphans", "MB");
	for (i = 0; i < n; i++) {
		const struct cv_index_verify_run_row *r = &runs[i];

		printf("  %6lld  %-20s  %-5s  %3d%%  %8lld  %8lld  %6lld  %7lld  %7lld  %9.1f%s\n",
		       (long long)r->id, r->finished_at,
		       r->full ? "full" : "quick", r->sample_pct,
		       (long long)r->selected, (long long)r->intact,
		       (long long)r->failed, (long long)r->missing,
		       (long long)r->orphans, (double)r->bytes / 1e6,
		       r->failed || r->missing ? "  NOT INTACT" : "");
	}
	printf("\n  live objects %lld\n\n", (long long)sum.live);
	stats_text("proven intact by any check (size and SHA-256, or full)",
		   &sum.any, sum.live, sum.stale_days);
	printf("\n");
	stats_text("authenticated by a full check (verify --full)", &sum.full,
		   sum.live, sum.stale_days);
	free(runs);
	return CLI_OK;
}

int cmd_verify(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("verify");
	struct cv_archive_verify_opts o = CV_ARCHIVE_VERIFY_OPTS_INIT;
	struct cv_archive_verify_report rep;
	struct cv_error err = CV_ERROR_INIT;
	char since[32], detail[128], run[24];
	long long v;
	int i, ret, intact;

	if (argc > 1 && !strcmp(argv[1], "history"))
		return history(c, cmd, argc - 1, argv + 1);
	o.actor = c->actor;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--json"))
			continue;
		if (!strcmp(a, "--full")) {
			o.full = 1;
		} else if (!strcmp(a, "--sample") && i + 1 < argc) {
			char num[8];
			size_t len = strlen(argv[++i]);

			if (len && argv[i][len - 1] == '%')
				len--;
			if (len == 0 || len >= sizeof(num))
				return cli_usage(
					cmd,
					"--sample takes a percentage, 1%% to 100%%");
			memcpy(num, argv[i], len);
			num[len] = '\0';
			if (cli_int_opt(cmd, "--sample", num, 1, 100, &v) != 0)
				return CLI_USAGE;
			o.sample_pct = (int)v;
		} else if (!strcmp(a, "--since") && i + 1 < argc) {
			if (parse_since(argv[++i], since, sizeof(since)) < 0)
				return cli_usage(
					cmd,
					"--since takes YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS (UTC), or Nd / Nh");
			o.since = since;
		} else if (!strcmp(a, "--threads") && i + 1 < argc) {
			if (cli_int_opt(cmd, "--threads", argv[++i], 1, 64,
					&v) != 0)
				return CLI_USAGE;
			o.threads = (int)v;
		} else {
			return cli_usage(cmd, "unknown option '%s'", a);
		}
	}
	if (o.full)
		ret = cli_open_store(c, &err);
	else
		ret = cv_archive_open(&c->ar, c->dir, NULL, c->ix, &err);
	if (ret < 0)
		return cli_fail(&err);
	ret = cv_archive_verify(c->ar, &o, &rep, &err);
	if (ret < 0)
		return cli_fail(&err);
	intact = rep.failed == 0 && rep.missing == 0;
	snprintf(run, sizeof(run), "%lld", (long long)rep.run_id);
	snprintf(detail, sizeof(detail),
		 "%s run %lld: %lld checked, %lld failed, %lld missing",
		 o.full ? "full" : "quick", (long long)rep.run_id,
		 (long long)rep.selected, (long long)rep.failed,
		 (long long)rep.missing);
	if (cv_index_audit(c->ix, c->actor, "store.verify", "verify_run", run,
			   detail, intact ? "ok" : "integrity", &err) < 0) {
		cv_archive_verify_report_release(&rep);
		return cli_fail(&err);
	}
	if (c->json)
		cli_json_print(report_json(c, &o, &rep, intact));
	else
		report_text(c, &o, &rep, intact);
	cv_archive_verify_report_release(&rep);
	return intact ? CLI_OK : CLI_INTEGRITY;
}
