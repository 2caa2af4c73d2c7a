/*
 * chartvault keys rotate|passwd|export: key management. The key file is
 * rewritten whole each time (archive/rotate.c), so a crash leaves the old
 * or the new file, and rotate completes an interrupted rotation when run
 * again. Every outcome is audited; no key material is ever printed except
 * by 'export --paper', whose output is a copy of the keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>

#include "cli.h"
#include "ingest/ingest.h"
#include "common/banned.h"

static char *key_file(const struct cli *c)
{
	if (c->cfg.keys_file[0] == '/')
		return cv_strdup(c->cfg.keys_file);
	return cv_path_join(c->dir, c->cfg.keys_file);
}

static void free_secret(char *s)
{
	if (s) {
		cv_wipe(s, strlen(s));
		free(s);
	}
}

/* The current passphrase when the key file has one; *pass NULL if not. */
static int current_passphrase(const char *path, char **pass,
			      struct cv_error *err)
{
	int need = 0, ret;

	*pass = NULL;
	ret = cv_archive_keys_need_passphrase(path, &need, err);
	if (ret == 0 && need)
		ret = cli_passphrase(pass, "Key file passphrase: ", 0, err);
	return ret;
}

static int rotate(struct cli *c, const struct cv_cmd *cmd, int argc,
		  char **argv)
{
	struct cv_archive_rotate_report rep;
	struct cv_error err = CV_ERROR_INIT;
	char *path = key_file(c), *pass = NULL, detail[160];
	size_t i;
	int ret;

	for (i = 1; i < (size_t)argc; i++)
		if (strcmp(argv[i], "--json")) {
			free(path);
			return cli_usage(cmd, "unknown option '%s'", argv[i]);
		}
	ret = current_passphrase(path, &pass, &err);
	if (ret == 0)
		ret = cv_archive_keys_rotate(c->ix, path, pass, c->actor, &rep,
					     &err);
	free_secret(pass);
	free(path);
	if (ret < 0) {
		cv_index_audit(c->ix, c->actor, "keys.rotate", "key_file", NULL,
			       NULL, cv_errcode_name(ret), NULL);
		return cli_fail(&err);
	}
	snprintf(
		detail, sizeof(detail),
		"rotation %lld: new KEK %s, %lld data keys rewrapped, %zu old KEKs destroyed%s",
		(long long)rep.rotation_id, rep.new_kek,
		(long long)rep.rewrapped, rep.nretired,
		rep.resumed ? " (resumed)" : "");
	if (cv_index_audit(c->ix, c->actor, "keys.rotate", "key_file",
			   rep.new_kek, detail, "ok", &err) < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *v = json_object(), *old = json_array();

		for (i = 0; i < rep.nretired; i++)
			json_array_append_new(old, json_string(rep.retired[i]));
		json_object_set_new(v, "rotation",
				    json_integer(rep.rotation_id));
		json_object_set_new(v, "resumed", json_boolean(rep.resumed));
		json_object_set_new(v, "new_kek", json_string(rep.new_kek));
		json_object_set_new(v, "rewrapped",
				    json_integer(rep.rewrapped));
		json_object_set_new(v, "retired_keks", old);
		cli_json_print(v);
	} else {
		printf("%s key rotation %lld: new key-encryption key %s\n",
		       rep.resumed ? "completed interrupted" : "completed",
		       (long long)rep.rotation_id, rep.new_kek);
		printf("rewrapped %lld data keys; destroyed %zu old key-encryption key%s:",
		       (long long)rep.rewrapped, rep.nretired,
		       rep.nretired == 1 ? "" : "s");
		for (i = 0; i < rep.nretired; i++)
			printf(" %s", rep.retired[i]);
		printf("\nbackups and paper copies of the old key file still hold the old keys: destroy them\n");
	}
	return CLI_OK;
}

static int passwd(struct cli *c, const struct cv_cmd *cmd, int argc,
		  char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	char *path, *old = NULL, *new_ = NULL;
	const char *env;
	int i, none = 0, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-passphrase"))
			none = 1;
		else if (strcmp(argv[i], "--json"))
			return cli_usage(cmd, "unknown option '%s'", argv[i]);
	}
	path = key_file(c);
	ret = current_passphrase(path, &old, &err);
	if (ret == 0 && !none) {
		env = getenv("CHARTVAULT_NEW_PASSPHRASE");
		if (env && *env) {
			new_ = cv_strdup(env);
		} else {
			/* cli_passphrase would answer with the old one. */
			unsetenv("CHARTVAULT_PASSPHRASE");
			ret = cli_passphrase(&new_, "New passphrase: ", 1,
					     &err);
		}
	}
	if (ret == 0)
		ret = cv_archive_keys_passwd(path, old, new_, &err);
	free_secret(old);
	free_secret(new_);
	free(path);
	cv_index_audit(c->ix, c->actor, "keys.passwd", "key_file", NULL,
		       none ? "passphrase removed" : "passphrase changed",
		       ret == 0 ? "ok" : cv_errcode_name(ret), NULL);
	if (ret < 0)
		return cli_fail(&err);
	if (c->json) {
		json_t *v = json_object();

		json_object_set_new(v, "passphrase", json_boolean(!none));
		cli_json_print(v);
	} else {
		printf("%s; the old key file was overwritten\n",
		       none ? "the key file is no longer passphrase-protected"
			    : "the key file's passphrase was changed");
	}
	return CLI_OK;
}

/*
 * keys export --paper -o FILE: the recovery sheet. It is a copy of the
 * keys: written 0600, audited (without any key material), and said so on
 * stderr, because a crypto-erase is complete only when it is gone too.
 */
static int export_paper(struct cli *c, const struct cv_cmd *cmd, int argc,
			char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	const char *out = NULL;
	struct Pix *pix = NULL;
	char *text = NULL, *print = NULL;
	size_t len = 0, plen = 0;
	int i, paper = 0, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--paper"))
			paper = 1;
		else if (!strcmp(argv[i], "-o") && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(argv[i], "--json"))
			return cli_usage(cmd, "unknown argument '%s'", argv[i]);
	}
	if (!paper || !out)
		return cli_usage(cmd, "keys export needs --paper and -o FILE");
	ret = cli_open_store(c, &err);
	if (ret == 0)
		ret = cv_archive_keys_recovery_text(c->keys, &text, &len, &err);
	/* The QR code holds a line per secret; print splits each in two. */
	if (ret == 0)
		ret = cv_archive_keys_recovery_print(c->keys, &print, &plen,
						     &err);
	if (ret == 0)
		ret = cv_ingest_sheet_render_text(
			"CHARTVAULT KEY RECOVERY SHEET", text, print,
			"This sheet is a copy of the archive's keys. Keep it locked "
			"away, apart from the archive. Destroy it, and record that "
			"you did, before a record may count as crypto-erased. Each "
			"line ends in a checksum of the line.",
			&pix, &err);
	if (ret == 0)
		ret = cli_write_sheet(pix, out, 0600, &err);
	cv_archive_secret_text_free(text, len);
	cv_archive_secret_text_free(print, plen);
	pixDestroy(&pix);
	cv_index_audit(c->ix, c->actor, "keys.export", "key_file", NULL,
		       "paper recovery sheet",
		       ret == 0 ? "ok" : cv_errcode_name(ret), NULL);
	if (ret < 0)
		return cli_fail(&err);
	fprintf(stderr,
		"chartvault: the sheet in '%s' is a copy of the keys: store it "
		"apart from the archive; it counts as a copy for crypto-erase\n",
		out);
	if (!c->json)
		printf("key recovery sheet written to %s\n", out);
	return CLI_OK;
}

int cmd_keys(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd = cli_find("keys");

	if (argc < 2)
		return cli_usage(cmd, "keys needs a verb");
	if (!strcmp(argv[1], "rotate"))
		return rotate(c, cmd, argc - 1, argv + 1);
	if (!strcmp(argv[1], "passwd"))
		return passwd(c, cmd, argc - 1, argv + 1);
	if (!strcmp(argv[1], "export"))
		return export_paper(c, cmd, argc - 1, argv + 1);
	return cli_usage(cmd, "unknown verb '%s'", argv[1]);
}
