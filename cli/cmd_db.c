/*
 * chartvault db status|start|stop: the archive's database. status never
 * starts a stopped server: it reports what is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/banned.h"

static int status(struct cli *c)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_index_cluster_status st;
	struct cv_index_stats stats;
	int private_ = !c->cfg.db_dsn[0], have_stats = 0, version = 0;
	int latest = cv_index_schema_latest(), ret;
	json_t *o;

	memset(&st, 0, sizeof(st));
	memset(&stats, 0, sizeof(stats));
	if (private_) {
		ret = cv_index_cluster_status(c->dir, &c->cfg, &st, &err);
		if (ret < 0)
			return cli_fail(&err);
	}
	if (!private_ || st.running) {
		c->dsn = private_ ? cv_index_cluster_dsn(c->dir)
				  : cv_strdup(c->cfg.db_dsn);
		ret = cv_index_open(&c->ix, c->dsn, &err);
		if (ret == 0)
			ret = cv_index_schema_version(c->ix, &version, &err);
		if (ret == 0)
			ret = cv_index_stats(c->ix, &stats, &err);
		if (ret < 0)
			return cli_fail(&err);
		have_stats = 1;
	}
	if (c->json) {
		o = json_object();
		json_object_set_new(
			o, "kind",
			json_string(private_ ? "private" : "external"));
		json_object_set_new(o, "running",
				    json_boolean(!private_ || st.running));
		if (private_) {
			json_object_set_new(o, "pid", json_integer(st.pid));
			json_object_set_new(o, "cluster_version",
					    json_string(st.version));
			json_object_set_new(o, "socket_dir",
					    json_string(st.socket_dir));
		}
		if (have_stats) {
			json_object_set_new(o, "server_version",
					    json_string(stats.server_version));
			json_object_set_new(o, "schema_version",
					    json_integer(version));
			json_object_set_new(o, "schema_latest",
					    json_integer(latest));
			json_object_set_new(o, "database_bytes",
					    json_integer(stats.database_bytes));
			json_object_set_new(o, "objects",
					    json_integer(stats.objects));
			json_object_set_new(o, "batches",
					    json_integer(stats.batches));
			json_object_set_new(o, "documents",
					    json_integer(stats.documents));
			json_object_set_new(o, "pages",
					    json_integer(stats.pages));
		}
		cli_json_print(o);
		return CLI_OK;
	}
	if (private_)
		printf("server:    private cluster (PostgreSQL %s), %s\n",
		       st.version, st.running ? "running" : "stopped");
	else
		printf("server:    external PostgreSQL\n");
	if (private_ && st.running)
		printf("pid:       %ld\nsocket:    %s\n", st.pid,
		       st.socket_dir);
	if (!have_stats) {
		printf("(start it with 'chartvault db start' to see the schema and sizes)\n");
		return CLI_OK;
	}
	printf("version:   %s\n", stats.server_version);
	printf("schema:    %d (this chartvault knows %d)\n", version, latest);
	printf("size:      %.1f MB\n", (double)stats.database_bytes / 1e6);
	printf("objects:   %lld\nbatches:   %lld\ndocuments: %lld\npages:     %lld\n",
	       (long long)stats.objects, (long long)stats.batches,
	       (long long)stats.documents, (long long)stats.pages);
	return CLI_OK;
}

int cmd_db(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("db");
	struct cv_error err = CV_ERROR_INIT;
	const char *verb = NULL;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			continue;
		if (verb)
			return cli_usage(cmd, "db takes one verb");
		verb = argv[i];
	}
	if (!verb)
		return cli_usage(cmd, "db needs a verb");
	if (!strcmp(verb, "status"))
		return status(c);
	if (strcmp(verb, "start") && strcmp(verb, "stop"))
		return cli_usage(cmd, "unknown verb '%s'", verb);
	if (c->cfg.db_dsn[0]) {
		cv_error_set(
			&err, CV_EINVAL,
			"this archive uses an external PostgreSQL; chartvault does not start or stop it");
		return cli_fail(&err);
	}
	if (!strcmp(verb, "start"))
		ret = cv_index_cluster_start(c->dir, &c->cfg, &err);
	else
		ret = cv_index_cluster_stop(c->dir, &c->cfg, &err);
	if (ret < 0)
		return cli_fail(&err);
	if (!c->json)
		printf("database %s\n",
		       !strcmp(verb, "start") ? "running" : "stopped");
	return CLI_OK;
}
