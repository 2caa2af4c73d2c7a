/*
 * chartvault serve: the web viewer for records staff (viewer/). It runs in
 * the foreground until SIGTERM or SIGINT, like any service a supervisor
 * (systemd) starts, and logs requests, without query strings or bodies,
 * to <archive>/logs/viewer-access.log.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "viewer/viewer.h"
#include "common/banned.h"

int cmd_serve(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cv_cmd *cmd = cli_find("serve");
	struct cv_viewer_opts o = CV_VIEWER_OPTS_INIT;
	struct cv_error err = CV_ERROR_INIT;
	char *logs = NULL, *access = NULL, *checkpoints = NULL;
	sigset_t stop;
	int opt, ret;

	o.listen = c->cfg.viewer_listen;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			o.listen = optarg;
			break;
		case 'c':
			o.tls_cert = optarg;
			break;
		case 'k':
			o.tls_key = optarg;
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage(cmd, "serve takes no arguments");
	if (!!o.tls_cert != !!o.tls_key)
		return cli_usage(cmd, "--tls-cert and --tls-key go together");
	o.dsn = c->dsn;
	o.archive_dir = c->dir;
	o.keys = c->keys;
	checkpoints = cli_checkpoint_file(c);
	o.checkpoint_file = checkpoints;
	o.threads = (unsigned)c->cfg.viewer_threads;
	o.max_connections = (unsigned)c->cfg.viewer_max_connections;
	o.idle_seconds = (unsigned)c->cfg.viewer_idle_timeout;
	o.max_failures = (unsigned)c->cfg.viewer_max_failures;
	o.glass_minutes = (unsigned)c->cfg.viewer_glass_minutes;
	logs = cv_path_join(c->dir, "logs");
	access = cv_path_join(logs, "viewer-access.log");
	ret = cv_fs_mkdirs(logs, cv_fs_mode(0700), &err);
	if (ret < 0) {
		ret = cli_fail(&err);
		goto out;
	}
	o.access_log = access;
	/* Blocked here, so in every server thread: the signals are waited
	 * for by cv_viewer_serve, which then shuts down cleanly. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	/* The command's own connection is not the viewer's: let it go. */
	cv_index_audit(c->ix, c->actor, "viewer.start", "viewer", o.listen,
		       o.tls_cert ? "https" : "http", "ok", &err);
	fprintf(stderr,
		"chartvault: serving on %s://%s (stop with Ctrl-C or SIGTERM)\n",
		o.tls_cert ? "https" : "http", o.listen);
	ret = cv_viewer_serve(&o, &err);
	ret = ret < 0 ? cli_fail(&err) : CLI_OK;
out:
	free(checkpoints);
	free(access);
	free(logs);
	return ret;
}
