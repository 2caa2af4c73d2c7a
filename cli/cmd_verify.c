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

int cmd_verify(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("verify");
	struct cv_archive_verify_opts o = CV_ARCHIVE_VERIFY_OPTS_INIT;
	struct cv_archive_verify_report rep;
	struct cv_error err = CV_ERROR_INIT;
	char since[32], detail[128], run[24];
	long long v;
	int i, ret, intact;

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
