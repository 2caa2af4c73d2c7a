/*
 * chartvault gc: remove files that no index row names (left by a crash or
 * a lost race, or by an interrupted erase) and leftover temp files, once
 * they are older than the grace period, and never while a process on this
 * host is writing to the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/banned.h"

#define DEFAULT_GRACE (24 * 3600)

/* "0", "90s", "30m", "2h", "7d"; seconds into *out. */
static int parse_duration(const char *s, int64_t *out)
{
	static const char units[] = "smhd";
	static const long long mult[] = { 1, 60, 3600, 86400 };
	char num[24];
	size_t len = strlen(s);
	const char *u;
	long long v, m = 1;

	if (!len || len >= sizeof(num))
		return -1;
	memcpy(num, s, len + 1);
	u = strchr(units, s[len - 1]);
	if (u && *u) {
		m = mult[u - units];
		num[len - 1] = '\0';
	}
	if (cv_parse_ll(&v, num, 0, 3650LL * 86400) < 0)
		return -1;
	*out = v * m;
	return 0;
}

int cmd_gc(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("gc");
	struct cv_archive_gc_opts o = { DEFAULT_GRACE, 0 };
	struct cv_archive_gc_report rep;
	struct cv_error err = CV_ERROR_INIT;
	char detail[96];
	size_t k;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			continue;
		if (!strcmp(argv[i], "--dry-run")) {
			o.dry_run = 1;
		} else if (!strcmp(argv[i], "--grace") && i + 1 < argc) {
			if (parse_duration(argv[++i], &o.grace_s) < 0)
				return cli_usage(
					cmd,
					"--grace takes a duration: 0, 90s, 30m, 2h or 7d");
		} else {
			return cli_usage(cmd, "unknown option '%s'", argv[i]);
		}
	}
	ret = cv_archive_open(&c->ar, c->dir, NULL, c->ix, &err);
	if (ret == 0)
		ret = cv_archive_gc(c->ar, &o, &rep, &err);
	if (ret < 0)
		return cli_fail(&err);
	if (!o.dry_run) {
		snprintf(detail, sizeof(detail),
			 "%zu files, %llu bytes, grace %lld s", rep.removed,
			 (unsigned long long)rep.bytes, (long long)o.grace_s);
		if (cv_index_audit(c->ix, c->actor, "store.gc", "store", NULL,
				   detail, "ok", &err) < 0) {
			cv_archive_gc_report_release(&rep);
			return cli_fail(&err);
		}
	}
	if (c->json) {
		json_t *v = json_object(), *arr = json_array();

		for (k = 0; k < rep.nfiles; k++)
			json_array_append_new(arr, json_string(rep.files[k]));
		json_object_set_new(v, "dry_run", json_boolean(o.dry_run));
		json_object_set_new(v, "grace_seconds",
				    json_integer(o.grace_s));
		json_object_set_new(v, "removed",
				    json_integer((json_int_t)rep.removed));
		json_object_set_new(v, "bytes",
				    json_integer((json_int_t)rep.bytes));
		json_object_set_new(v, "within_grace",
				    json_integer((json_int_t)rep.young));
		json_object_set_new(v, "files", arr);
		cli_json_print(v);
	} else {
		for (k = 0; k < rep.nfiles; k++)
			printf("%s objects/%s\n",
			       o.dry_run ? "would remove" : "removed",
			       rep.files[k]);
		printf("%s %zu file%s (%.1f MB); %zu younger than the grace period of %lld s kept\n",
		       o.dry_run ? "would remove" : "removed", rep.removed,
		       rep.removed == 1 ? "" : "s", (double)rep.bytes / 1e6,
		       rep.young, (long long)o.grace_s);
	}
	cv_archive_gc_report_release(&rep);
	return CLI_OK;
}
