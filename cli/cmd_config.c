/*
 * chartvault config list|check|sample. Works outside an archive too
 * (then only the environment and -c apply).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/banned.h"

int cmd_config(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("config");
	struct cv_error err = CV_ERROR_INIT;
	const char *verb = argc > 1 ? argv[1] : NULL;
	struct cv_error ignore = CV_ERROR_INIT;
	int ret;

	if (!verb || argc > 2)
		return cli_usage(cmd, "config needs one verb");
	if (!strcmp(verb, "sample")) {
		char *s = cv_config_sample();

		fputs(s, stdout);
		free(s);
		return CLI_OK;
	}
	if (strcmp(verb, "list") && strcmp(verb, "check"))
		return cli_usage(cmd, "unknown verb '%s'", verb);
	/* Outside an archive only the environment and -c apply. */
	if (cli_find_archive(c, &ignore) < 0) {
		free(c->dir);
		c->dir = NULL;
	}
	ret = cli_load_config(c, &err);
	if (ret < 0)
		return cli_fail(&err);
	if (!strcmp(verb, "list"))
		cv_config_list(&c->cfg, stdout);
	else
		printf("configuration OK\n");
	return CLI_OK;
}
