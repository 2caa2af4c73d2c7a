/*
 * chartvault's entry point: global options, the command table, and the
 * setup each command's flags ask for.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <leptonica/allheaders.h>

#include "cli.h"
#include "ocr/ocr.h"
#include "common/banned.h"

static const struct cv_cmd commands[] = {
	{ "init", cmd_init, 0, "create an archive",
	  "usage: chartvault init [DIR] [--db DSN] [--passphrase]\n"
	  "\n"
	  "Create an archive in DIR (default: -C, $CHARTVAULT_HOME, or the current\n"
	  "folder): a key file, the object store, a commented chartvault.conf, and a\n"
	  "private PostgreSQL cluster listening only on a Unix socket inside DIR.\n"
	  "\n"
	  "  --db DSN       use an external PostgreSQL (libpq connection string;\n"
	  "                 PG* environment variables apply) instead\n"
	  "  --passphrase   protect the key file with a passphrase (Argon2id), read\n"
	  "                 from $CHARTVAULT_PASSPHRASE or asked on the terminal\n"
	  "  --json         print the result as JSON\n"
	  "\n"
	  "Refuses, changing nothing, when DIR is an archive already or not empty.\n" },
	{ "db", cmd_db, NEED_ARCHIVE, "show, start or stop the database",
	  "usage: chartvault db status|start|stop [--json]\n"
	  "\n"
	  "  status   the server, the schema version and the sizes\n"
	  "  start    start the private cluster (commands do this on demand)\n"
	  "  stop     stop the private cluster\n" },
	{ "archive", cmd_archive, NEED_ARCHIVE | NEED_DB | NEED_KEY,
	  "store and read raw objects",
	  "usage: chartvault archive put [--json] FILE...\n"
	  "       chartvault archive get ID [-o FILE]\n"
	  "       chartvault archive get [-o DIR] (ID... | --stdin | --all)\n"
	  "\n"
	  "  put   store each file, encrypted; print one object id per file\n"
	  "  get   write an object's bytes to stdout (or FILE), authenticating\n"
	  "        every chunk; exit 4 when the stored bytes fail authentication\n"
	  "        Many ids (on the command line, one a line on --stdin, or every\n"
	  "        live object with --all) are read in one process: into DIR/ID\n"
	  "        each, going on past a bad object, or one after the other to\n"
	  "        stdout, stopping at the first failure\n" },
	{ "ingest", cmd_ingest, NEED_ARCHIVE | NEED_DB | NEED_KEY,
	  "add scanned files to the archive",
	  "usage: chartvault ingest [--batch NAME] [--operator NAME] [--workers N] [--json] PATH...\n"
	  "\n"
	  "Archive each image file (TIFF, PNG, JPEG, PNM; folders are walked), OCR\n"
	  "every page, index its text and cut the pages into documents. Bad files\n"
	  "are rejected with a reason and never stop the batch (exit 1 when any\n"
	  "were). Running it again completes an interrupted batch; files already\n"
	  "archived are reported and not stored twice.\n"
	  "\n"
	  "  --batch NAME     batch name (default: the first PATH's name and today)\n"
	  "  --operator NAME  who scanned it (default: your login name)\n"
	  "  --workers N      OCR threads (default: ocr.workers, or one per core)\n"
	  "  --json           print the batch summary as JSON\n" },
	{ "search", cmd_search, NEED_ARCHIVE | NEED_DB | NEED_KEY,
	  "find documents by the words on their pages",
	  "usage: chartvault search [--limit N] [--json] WORDS...\n"
	  "\n"
	  "Web-search syntax: words, \"exact phrases\", OR, -excluded. Prints the\n"
	  "matching documents, best first, each with a snippet of its best page.\n" },
	{ "show", cmd_show, NEED_ARCHIVE | NEED_DB | NEED_KEY,
	  "print a document's metadata and page texts",
	  "usage: chartvault show [--json] [--no-text] DOCUMENT-ID\n" },
	{ "watch", cmd_watch, NEED_ARCHIVE | NEED_DB | NEED_KEY,
	  "ingest what arrives in a hot folder",
	  "usage: chartvault watch [--settle S] [--poll S] [--poll-only] [--once]\n"
	  "                        [--workers N] [--operator NAME] [--json] DIR\n"
	  "\n"
	  "Take each file dropped into DIR once it is complete (closed after\n"
	  "writing, or unchanged for --settle seconds, default 5), move it into\n"
	  "DIR/processing/, ingest it, and move it to DIR/done/ or DIR/rejected/\n"
	  "with NAME.reason beside it. Files being copied (dot files, *.part, *.tmp)\n"
	  "are left alone. A failure that may pass (database down, disk full) is\n"
	  "retried with backoff; nothing is dropped, and a restart resumes what\n"
	  "processing/ holds. Stops on SIGTERM or SIGINT after the current batch.\n"
	  "\n"
	  "  --poll-only  no inotify, for network shares (scans every --poll seconds)\n"
	  "  --once       take what is complete now, then exit\n" },
	{ "batch", cmd_batch, NEED_ARCHIVE | NEED_DB,
	  "list batches, or show one with its counts",
	  "usage: chartvault batch list [--json]\n"
	  "       chartvault batch show NAME|ID [--json]\n"
	  "\n"
	  "  list   every batch with its files, pages, documents, rejects, pages\n"
	  "         flagged for QA, and whether its counts reconcile\n"
	  "  show   one batch: pages received and where each went (filed, blank\n"
	  "         backs dropped, cover and separator sheets, failed, waiting),\n"
	  "         its rejects with their reasons and its flagged pages\n" },
	{ "coversheet", cmd_coversheet, 0, "print a cover or separator sheet",
	  "usage: chartvault coversheet --mrn MRN --type LOINC [--date YYYY-MM-DD]\n"
	  "                             [--encounter ID] [--name NAME] -o FILE\n"
	  "       chartvault coversheet --separator -o FILE\n"
	  "\n"
	  "Write a sheet to put on top of a document before scanning: its QR code\n"
	  "gives ingest the MRN, the document type (a LOINC document code, e.g.\n"
	  "18842-5 discharge summary) and the date of service, and it starts a new\n"
	  "document without being filed as a page. --name is printed for the clerk\n"
	  "only; it is not put in the code. A separator sheet only starts a new\n"
	  "document. FILE ends in .pdf, .png or .tif (300 dpi, letter size).\n" },
	{ "verify", cmd_verify, NEED_ARCHIVE | NEED_DB,
	  "fixity report: prove stored objects intact",
	  "usage: chartvault verify [--full] [--sample N%] [--since WHEN] [--threads N] [--json]\n"
	  "       chartvault verify history [--limit N] [--stale DAYS] [--json]\n"
	  "       chartvault verify history --object ID [--json]\n"
	  "\n"
	  "Reconcile the index with the store and check the stored files. Reports,\n"
	  "by id, objects the index names that are missing, files no index row names\n"
	  "(orphans and temp files, which 'chartvault gc' removes), and files that\n"
	  "fail their check. Each run is recorded, with the time each object was\n"
	  "last proven intact.\n"
	  "\n"
	  "  (default)       keyless: each file's size and the SHA-256 of its stored\n"
	  "                  bytes against the values recorded when it was written\n"
	  "  --full          decrypt and authenticate every chunk and recompute the\n"
	  "                  keyed id (loads the key file)\n"
	  "  --sample N%     check only N% of the objects, least recently proven\n"
	  "                  first: --sample 15% every night covers all in a week\n"
	  "  --since WHEN    only objects stored since WHEN: YYYY-MM-DD,\n"
	  "                  YYYY-MM-DDTHH:MM:SS (UTC), or Nd / Nh ago\n"
	  "  --threads N     checking threads (default: one per core)\n"
	  "  --json          print the report as JSON\n"
	  "\n"
	  "Exit 0 when every object checked is intact and none is missing, 4 when\n"
	  "not. Orphans and temp files alone do not fail a run.\n"
	  "\n"
	  "history: the latest runs (--limit, default 20) with their counts, and\n"
	  "for the live objects how many were never proven intact, proven within\n"
	  "1, 7, 30, 90 and 365 days, or last proven over --stale DAYS (default 30)\n"
	  "ago, by any check and by a full one, with the oldest proof. --object\n"
	  "shows one object's last proofs and every finding about it.\n" },
	{ "gc", cmd_gc, NEED_ARCHIVE | NEED_DB,
	  "remove unreferenced files from the store",
	  "usage: chartvault gc [--grace DURATION] [--dry-run] [--json]\n"
	  "\n"
	  "Remove files that no index row names (left by a crash, a lost race or an\n"
	  "interrupted erase) and leftover temp files, once they are older than the\n"
	  "grace period. Refuses while any process on this host writes to the store.\n"
	  "\n"
	  "  --grace DURATION  0, 90s, 30m, 2h or 7d (default 24h); covers writers\n"
	  "                    on other hosts that share the store\n"
	  "  --dry-run         list what would be removed\n" },
	{ "keys", cmd_keys, NEED_ARCHIVE | NEED_DB,
	  "rotate or protect the keys",
	  "usage: chartvault keys rotate [--json]\n"
	  "       chartvault keys passwd [--no-passphrase]\n"
	  "       chartvault keys export --paper -o FILE.pdf|png|tif\n"
	  "\n"
	  "  rotate   make a new key-encryption key, rewrap every data key under it\n"
	  "           and destroy the old one; run it again to complete a rotation\n"
	  "           that was interrupted\n"
	  "  passwd   change the key file's passphrase ($CHARTVAULT_PASSPHRASE: the\n"
	  "           current one, $CHARTVAULT_NEW_PASSPHRASE: the new one, or asked\n"
	  "           on the terminal)\n"
	  "  export   a printable recovery sheet: every key as checksummed lines of\n"
	  "           hex and a QR code; written mode 0600 and audited\n"
	  "\n"
	  "Every copy of the key file (backups, paper sheets) is a copy of the keys:\n"
	  "a crypto-erase is complete only once every copy of the old keys is gone.\n" },
	{ "config", cmd_config, 0, "list or check the settings",
	  "usage: chartvault config list|check|sample\n"
	  "\n"
	  "  list     every setting and its value (secrets hidden)\n"
	  "  check    parse chartvault.conf and the environment; print\n"
	  "           \"configuration OK\" or the file:line at fault\n"
	  "  sample   print a commented configuration file\n" },
	{ "help", cmd_help, 0, "show help for a command",
	  "usage: chartvault help [COMMAND]\n" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char global_usage[] =
	"usage: chartvault [-C DIR] [-c section.name=value] [-v|-q] COMMAND [ARGS]\n"
	"       chartvault --version | --help | COMMAND --help\n";

const struct cv_cmd *cli_find(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

void cli_print_help(const struct cv_cmd *cmd, FILE *out)
{
	fputs(cmd->usage, out);
}

static void print_overview(FILE *out)
{
	size_t i;

	fputs(global_usage, out);
	fputs("\nCommands:\n", out);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-9s %s\n", commands[i].name,
			commands[i].summary);
	fputs("\nGlobal options:\n"
	      "  -C DIR        the archive folder (default: $CHARTVAULT_HOME, else .)\n"
	      "  -c NAME=VALUE override a setting (see 'chartvault config list')\n"
	      "  -v, -q        more, or fewer, diagnostics on stderr\n"
	      "\nExit codes: 0 ok, 1 done with rejects, 2 usage, 3 archive/database/key\n"
	      "unavailable, 4 integrity failure, 5 not found, 6 refused, 7 failed,\n"
	      "70 internal error.\n",
	      out);
}

int cmd_help(struct cli *c, int argc, char **argv)
{
	const struct cv_cmd *cmd;

	(void)c;
	if (argc < 2) {
		print_overview(stdout);
		return CLI_OK;
	}
	cmd = cli_find(argv[1]);
	if (!cmd) {
		fprintf(stderr,
			"chartvault: '%s' is not a chartvault command\n",
			argv[1]);
		return CLI_USAGE;
	}
	cli_print_help(cmd, stdout);
	return CLI_OK;
}

int cli_exit_code(int code)
{
	switch (code) {
	case CV_OK:
		return CLI_OK;
	case CV_EINVAL:
	case CV_ELIMIT:
		return CLI_REJECTS;
	case CV_EMISMATCH:
		return CLI_INTEGRITY;
	case CV_EHOLD:
	case CV_EEXISTS:
		return CLI_REFUSED;
	case CV_EUNAVAIL:
	case CV_ERETRY:
		return CLI_UNAVAIL;
	case CV_ENOTFOUND:
	case CV_EERASED:
		return CLI_NOTFOUND;
	default:
		return CLI_FAILED;
	}
}

int cli_fail(const struct cv_error *err)
{
	cv_log_error(err);
	return cli_exit_code(err->code);
}

int cli_usage(const struct cv_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("chartvault: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd)
		cli_print_help(cmd, stderr);
	return CLI_USAGE;
}

int cli_int_opt(const struct cv_cmd *cmd, const char *name, const char *s,
		long long min, long long max, long long *out)
{
	if (cv_parse_ll(out, s, min, max) < 0)
		return cli_usage(cmd,
				 "%s takes a whole number from %lld to %lld",
				 name, min, max);
	return 0;
}

void cli_json_print(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	fputc('\n', stdout);
	json_decref(v);
}

/*
 * libgomp reads OMP_THREAD_LIMIT once, when it is loaded, which happens
 * before main() because Tesseract links it. Tesseract's OpenMP threads
 * make OCR several times slower on small machines, and our own worker
 * threads do the parallel work, so restart the program with the variable
 * set rather than hope the caller did.
 */
static void ensure_single_threaded_ocr(char **argv)
{
	if (cv_ocr_threading_ok())
		return;
	setenv("OMP_THREAD_LIMIT", "1", 1);
	execv("/proc/self/exe", argv);
	cv_log_warn(
		"could not restart with OMP_THREAD_LIMIT=1; OCR will be slow");
}

/* Leptonica reports through this; its messages are diagnostics. */
static void leptonica_message(const char *msg)
{
	size_t n = strlen(msg);

	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	cv_log_debug("leptonica: %.*s", (int)n, msg);
}

static const char *os_user(void)
{
	struct passwd *pw = getpwuid(geteuid());

	return pw ? pw->pw_name : "unknown";
}

static int has_help_flag(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return 0;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	}
	return 0;
}

static int run_command(struct cli *c, const struct cv_cmd *cmd, int argc,
		       char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	int i, ret;

	if (has_help_flag(argc, argv)) {
		cli_print_help(cmd, stdout);
		return CLI_OK;
	}
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json"))
			c->json = 1;
	if (cmd->flags & NEED_ARCHIVE) {
		ret = cli_find_archive(c, &err);
		if (ret == 0)
			ret = cli_load_config(c, &err);
		if (ret < 0)
			return cli_fail(&err);
	}
	if (cmd->flags & NEED_DB) {
		ret = cli_open_db(c, &err);
		if (ret < 0)
			return cli_fail(&err);
	}
	if (cmd->flags & NEED_KEY) {
		ret = cli_open_store(c, &err);
		if (ret < 0)
			return cli_fail(&err);
	}
	return cmd->fn(c, argc, argv);
}

int main(int argc, char **argv)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cli c;
	const struct cv_cmd *cmd;
	int level = CV_LOG_WARN, i, ret;

	ensure_single_threaded_ocr(argv);
	memset(&c, 0, sizeof(c));
	cv_config_init(&c.cfg);
	c.cfg_sets = cv_calloc((size_t)argc, sizeof(*c.cfg_sets));
	c.actor = os_user();

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-C") || !strcmp(a, "-c")) {
			if (i + 1 >= argc) {
				ret = cli_usage(NULL, "%s needs a value", a);
				goto out;
			}
			if (a[1] == 'C')
				c.dir_opt = argv[++i];
			else
				c.cfg_sets[c.ncfg_sets++] = argv[++i];
		} else if (!strcmp(a, "-v")) {
			level = level < CV_LOG_INFO ? CV_LOG_INFO
						    : CV_LOG_DEBUG;
		} else if (!strcmp(a, "-q")) {
			level = CV_LOG_QUIET;
		} else if (!strcmp(a, "--version")) {
			printf("chartvault %s (Tesseract %s, Leptonica %s)\n",
			       CV_VERSION, cv_ocr_version(),
			       getLeptonicaVersion());
			ret = CLI_OK;
			goto out;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			print_overview(stdout);
			ret = CLI_OK;
			goto out;
		} else {
			ret = cli_usage(NULL, "unknown option '%s'\n%s", a,
					global_usage);
			goto out;
		}
	}
	cv_log_init("chartvault", level);
	leptSetStderrHandler(leptonica_message);
	if (i >= argc) {
		print_overview(stderr);
		ret = CLI_USAGE;
		goto out;
	}
	cmd = cli_find(argv[i]);
	if (!cmd) {
		fprintf(stderr,
			"chartvault: '%s' is not a chartvault command\n\n",
			argv[i]);
		print_overview(stderr);
		ret = CLI_USAGE;
		goto out;
	}
	if (cv_archive_global_init(&err) < 0) {
		ret = cli_fail(&err);
		goto out;
	}
	ret = run_command(&c, cmd, argc - i, argv + i);
out:
	cli_release(&c);
	free(c.cfg_sets);
	/* A result nobody received is a failure (a full disk, a closed pipe).
	 */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (ret == CLI_OK)
			fprintf(stderr,
				"chartvault: error: could not write the output: %s\n",
				strerror(errno));
		if (ret == CLI_OK)
			ret = CLI_FAILED;
	}
	return ret;
}
