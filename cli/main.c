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

/*
 * Per-verb roles where a command's verbs differ (cli.h, struct
 * cv_verb_roles); the command's own roles cover the verbs not listed.
 */
static const struct cv_verb_roles archive_verbs[] = {
	{ "put", ROLES_ANY },
	{ "get", ROLES_RECORDS_UP },
	{ NULL, 0 },
};

static const struct cv_verb_roles user_verbs[] = {
	{ "add", ROLES_ADMIN },
	{ "disable", ROLES_ADMIN },
	{ "role", ROLES_ADMIN },
	{ "list", ROLES_OVERSIGHT },
	/* Everyone may set their own password; cmd_user checks whose. */
	{ "passwd", ROLES_ANY },
	{ NULL, 0 },
};

static const struct cv_verb_roles classify_verbs[] = {
	{ "types", ROLES_ANY },
	{ "models", ROLES_ANY },
	{ NULL, 0 },
};

/* Compliance sets the schedules; records staff read and evaluate them. */
static const struct cv_verb_roles retention_verbs[] = {
	{ "set", ROLES_OVERSIGHT },
	{ NULL, 0 },
};

static const struct cv_verb_roles hold_verbs[] = {
	{ "add", ROLES_OVERSIGHT },
	{ "release", ROLES_OVERSIGHT },
	{ NULL, 0 },
};

/*
 * Records staff may propose a destruction batch; only a compliance
 * officer approves it (and never the proposer: cmd_destroy checks that),
 * and compliance or an administrator carries it out.
 */
/* Signing a batch off starts the clock for destroying its paper. */
static const struct cv_verb_roles batch_verbs[] = {
	{ "signoff", ROLES_RECORDS_UP },
	{ NULL, 0 },
};

static const struct cv_verb_roles destroy_verbs[] = {
	{ "approve", CV_ROLE_COMPLIANCE },
	{ "execute", ROLES_OVERSIGHT },
	{ "cancel", ROLES_OVERSIGHT },
	{ NULL, 0 },
};

/* Restricted charts: compliance and administrators restrict and permit;
 * records staff break the glass; compliance reviews (cmd_access.c). */
static const struct cv_verb_roles patients_verbs[] = {
	{ "restrict", ROLES_OVERSIGHT },
	{ "unrestrict", ROLES_OVERSIGHT },
	{ "permit", ROLES_OVERSIGHT },
	{ "access", ROLES_OVERSIGHT },
	{ NULL, 0 },
};

static const struct cv_verb_roles access_verbs[] = {
	{ "emergency", ROLES_RECORDS_UP },
	{ NULL, 0 },
};

static const struct cv_cmd commands[] = {
	{ "init", cmd_init, NO_USER, "create an archive",
	  "usage: chartvault init [DIR] [--db DSN] [--passphrase] [--group GROUP]\n"
	  "\n"
	  "Create an archive in DIR (default: -C, $CHARTVAULT_HOME, or the current\n"
	  "folder): a key file, the object store, a commented chartvault.conf, and a\n"
	  "private PostgreSQL cluster listening only on a Unix socket inside DIR.\n"
	  "\n"
	  "  --db DSN       use an external PostgreSQL (libpq connection string;\n"
	  "                 PG* environment variables apply) instead\n"
	  "  --passphrase   protect the key file with a passphrase (Argon2id), read\n"
	  "                 from $CHARTVAULT_PASSPHRASE or asked on the terminal\n"
	  "  --group GROUP  share the archive with the staff in OS group GROUP:\n"
	  "                 files group-readable and -writable, the database socket\n"
	  "                 reachable by the group (docs/ROLES.md)\n"
	  "  --json         print the result as JSON\n"
	  "\n"
	  "Refuses, changing nothing, when DIR is an archive already or not empty.\n"
	  "The OS user who runs init becomes the archive's first administrator.\n",
	  0, NULL },
	{ "db", cmd_db, NEED_ARCHIVE | NO_USER,
	  "show, start or stop the database",
	  "usage: chartvault db status|start|stop [--json]\n"
	  "\n"
	  "  status   the server, the schema version and the sizes\n"
	  "  start    start the private cluster (commands do this on demand)\n"
	  "  stop     stop the private cluster\n",
	  0, NULL },
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
	  "        stdout, stopping at the first failure\n",
	  ROLES_ANY, archive_verbs },
	{ "ingest", cmd_ingest, NEED_ARCHIVE | NEED_DB | NEED_KEY,
	  "add scanned files to the archive",
	  "usage: chartvault ingest [--batch NAME] [--operator NAME] [--workers N]\n"
	  "                         [--queue-only] [--json] PATH...\n"
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
	  "  --queue-only     archive and queue the pages, then return: 'chartvault\n"
	  "                   worker' processes recognise them and cut the documents\n"
	  "  --json           print the batch summary as JSON\n",
	  ROLES_ANY, NULL },
	{ "search", cmd_search, NEED_ARCHIVE | NEED_DB | NEED_KEY,
	  "find documents by the words on their pages",
	  "usage: chartvault search [--mrn M] [--patient NAME] [--type CODE]\n"
	  "                         [--from DATE] [--to DATE] [--limit N] [--near]\n"
	  "                         [--include-exceptions] [--no-synonyms] [--json]\n"
	  "                         WORDS...\n"
	  "\n"
	  "Web-search syntax: words, \"exact phrases\", OR, -excluded. Prints the\n"
	  "matching documents, best first, each with a snippet of its best page,\n"
	  "and how many documents match by type and by year of service.\n"
	  "Medical abbreviations find what they stand for (\"MI\" finds \"myocardial\n"
	  "infarction\"): the built-in list, plus <archive>/synonyms.txt.\n"
	  "\n"
	  "  --mrn M              only the chart of this MRN\n"
	  "  --patient NAME       only the charts of patients with every word of NAME\n"
	  "  --type CODE          only this document type (LOINC code, e.g. 18842-5)\n"
	  "  --from/--to DATE     service date range, YYYY-MM-DD, both ends included\n"
	  "  --limit N            documents shown (default 20, at most 1000)\n"
	  "  --near               also near spellings (OCR errors), listed after exact hits\n"
	  "  --include-exceptions also documents waiting in the exception queue\n"
	  "  --no-synonyms        the words only, without abbreviation expansion\n"
	  "  --json               print the results as JSON\n",
	  ROLES_RECORDS_UP, NULL },
	{ "show", cmd_show, NEED_ARCHIVE | NEED_DB | NEED_KEY,
	  "print a document's metadata and page texts",
	  "usage: chartvault show [--json] [--no-text] DOCUMENT-ID\n",
	  ROLES_RECORDS_UP, NULL },
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
	  "  --once       take what is complete now, then exit\n",
	  ROLES_ANY, NULL },
	{ "worker", cmd_worker, NEED_ARCHIVE | NEED_DB | NEED_KEY,
	  "work the OCR queue, on this or another host",
	  "usage: chartvault worker [--workers N] [--lease SECONDS] [--once] [--json]\n"
	  "\n"
	  "Take pages that 'chartvault ingest' queued, from any batch: recognise\n"
	  "them, record them, and cut each batch into documents once its last page\n"
	  "is in. Run it on as many hosts as you like: each needs the same database\n"
	  "(db.dsn), the same archive store (a shared folder) and the same key file.\n"
	  "A page is claimed under a lease, renewed while it is worked on; the pages\n"
	  "of a worker that dies are taken over by the others (at once when its\n"
	  "connection closes, else when the lease runs out). See docs/WORKERS.md.\n"
	  "\n"
	  "  --workers N      OCR threads (default: ocr.workers, or one per core)\n"
	  "  --lease SECONDS  how long a claim lasts without renewal (default:\n"
	  "                   queue.lease_s, 60)\n"
	  "  --once           stop when nothing is left to claim\n"
	  "  --json           print what this worker did as JSON\n"
	  "\n"
	  "SIGTERM or SIGINT: finish and record the pages in hand, then exit; a\n"
	  "second one exits at once (the pages in hand go back to the queue).\n",
	  ROLES_ANY, NULL },
	{ "batch", cmd_batch, NEED_ARCHIVE | NEED_DB,
	  "list batches, or show one with its counts",
	  "usage: chartvault batch list [--json]\n"
	  "       chartvault batch show NAME|ID [--json]\n"
	  "       chartvault batch signoff NAME|ID [--note TEXT] [--json]\n"
	  "       chartvault batch previews [NAME|ID] [--json]\n"
	  "\n"
	  "  list   every batch with its files, pages, documents, rejects, pages\n"
	  "         flagged for QA, and whether its counts reconcile\n"
	  "  show   one batch: pages received and where each went (filed, blank\n"
	  "         backs dropped, cover and separator sheets, failed, waiting),\n"
	  "         its rejects with their reasons and its flagged pages\n"
	  "  signoff  record that the batch passed QA: refused while its pages do\n"
	  "         not reconcile or an exception is open; starts the waiting\n"
	  "         period (retention.paper_wait_days) before its paper may be\n"
	  "         destroyed\n"
	  "  previews  make the page images the viewer shows (ingest makes them\n"
	  "         with each document) for filed pages that lack them: of one\n"
	  "         batch, or of every batch (an archive from before previews)\n",
	  ROLES_ANY, batch_verbs },
	{ "coversheet", cmd_coversheet, NO_USER,
	  "print a cover or separator sheet",
	  "usage: chartvault coversheet --mrn MRN --type LOINC [--date YYYY-MM-DD]\n"
	  "                             [--encounter ID] [--name NAME] -o FILE\n"
	  "       chartvault coversheet --separator -o FILE\n"
	  "\n"
	  "Write a sheet to put on top of a document before scanning: its QR code\n"
	  "gives ingest the MRN, the document type (a LOINC document code, e.g.\n"
	  "18842-5 discharge summary) and the date of service, and it starts a new\n"
	  "document without being filed as a page. --name is printed for the clerk\n"
	  "only; it is not put in the code. A separator sheet only starts a new\n"
	  "document. FILE ends in .pdf, .png or .tif (300 dpi, letter size).\n",
	  0, NULL },
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
	  "shows one object's last proofs and every finding about it.\n",
	  ROLES_ADMIN, NULL },
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
	  "  --dry-run         list what would be removed\n",
	  ROLES_ADMIN, NULL },
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
	  "a crypto-erase is complete only once every copy of the old keys is gone.\n",
	  ROLES_ADMIN, NULL },
	{ "export", cmd_export, NEED_ARCHIVE | NEED_DB | NEED_KEY,
	  "write a document's searchable PDF",
	  "usage: chartvault export DOCUMENT-ID -o FILE.pdf [--request REF] [--force] [--json]\n"
	  "\n"
	  "Write the document's PDF rendition (its cleaned page images with the\n"
	  "recognised text as an invisible layer, so readers and pdftotext find the\n"
	  "words) to FILE, mode 0600. The rendition is made when the document is and\n"
	  "kept encrypted in the archive; one that is missing is made now. Every\n"
	  "export is audited; --request records the release-of-information request\n"
	  "it answers. Documents in the exception queue are refused (exit 6).\n"
	  "\n"
	  "  -o, --output FILE  where to write; never over an existing file\n"
	  "  --request REF      the request's reference (letters, digits, -_./:#)\n"
	  "  --force            replace FILE if it exists\n",
	  ROLES_RECORDS_UP, NULL },
	{ "qa", cmd_qa, NEED_ARCHIVE | NEED_DB,
	  "the QA queue of flagged pages: accept, rescan, replace",
	  "usage: chartvault qa list [--batch NAME|ID] [--all] [--json]\n"
	  "       chartvault qa show PAGE [--json]\n"
	  "       chartvault qa accept PAGE [--note TEXT]\n"
	  "       chartvault qa rescan PAGE [--note TEXT]\n"
	  "       chartvault qa replace PAGE FILE [--note TEXT] [--json]\n"
	  "\n"
	  "  list     pages with image-quality flags still waiting (never decided,\n"
	  "           or marked for rescan); --all adds accepted and replaced ones\n"
	  "  show     one page: its flags, cleanup, QA state, who decided and when\n"
	  "  accept   the page is good enough as it is\n"
	  "  rescan   the paper must be scanned again\n"
	  "  replace  ingest FILE (one page) as the rescan of PAGE: it takes PAGE's\n"
	  "           place in its document and PAGE is kept as history, out of the\n"
	  "           document and of search; the document's PDF is made again\n"
	  "\n"
	  "Every decision is recorded with your login name and audited.\n",
	  ROLES_ANY, NULL },
	{ "classify", cmd_classify, NEED_ARCHIVE | NEED_DB | NEED_KEY,
	  "document types: list, train and evaluate the classifier",
	  "usage: chartvault classify types [--json]\n"
	  "       chartvault classify types import FILE.tsv\n"
	  "       chartvault classify train [--folds N] [--epochs N] [--seed N]\n"
	  "                                 [--min-patients N] [--max-features N]\n"
	  "                                 [--output FILE] [--json] LABELS.csv\n"
	  "       chartvault classify eval [--model-only] [--version N | --builtin]\n"
	  "                                [--show-errors] [--json] LABELS.csv\n"
	  "       chartvault classify models [--json]\n"
	  "       chartvault classify boundaries [--builtin] [--json] PAGES.csv\n"
	  "\n"
	  "  types    the document types (LOINC codes, names, title patterns);\n"
	  "           import checks a hospital's own types file (code<TAB>name<TAB>\n"
	  "           title regex) and installs it as classify.types_file\n"
	  "  train    train a classifier on LABELS.csv (rows: a text file, relative\n"
	  "           to LABELS.csv, or a document id, then a type code); it is\n"
	  "           stored in the index as the next version, which ingest uses;\n"
	  "           prints accuracy and macro-F1 on held-out folds\n"
	  "  eval     accuracy, per-type precision/recall/F1, confusion table,\n"
	  "           macro-F1 and calibration error of the current model (title\n"
	  "           rules first unless --model-only) on LABELS.csv\n"
	  "  models   the stored versions with their held-out metrics\n"
	  "  boundaries  boundary precision and recall of segmentation on a\n"
	  "           page stream (rows: a page's text file, its document), by\n"
	  "           the rules alone and with the model's type changes\n"
	  "\n"
	  "Documents the model types below classify.min_confidence go to the\n"
	  "exception queue. Models keep hashed word features seen for at least\n"
	  "--min-patients patients (default 3), never words or text.\n",
	  ROLES_RECORDS_UP, classify_verbs },
	{ "user", cmd_user, NEED_ARCHIVE | NEED_DB, "manage users and roles",
	  "usage: chartvault user add NAME --role ROLE [--os-user LOGIN] [--full-name TEXT]\n"
	  "       chartvault user list [--json]\n"
	  "       chartvault user disable NAME\n"
	  "       chartvault user role NAME ROLE\n"
	  "       chartvault user passwd NAME\n"
	  "\n"
	  "Roles: clerk (scanning), records (HIM staff, release of information),\n"
	  "compliance (retention, holds, destruction, the audit trail), admin\n"
	  "(users, keys, fixity). docs/ROLES.md lists what each may run.\n"
	  "\n"
	  "  add      add a person; --os-user maps the OS login that acts as them\n"
	  "           on the command line (default: none, viewer only)\n"
	  "  list     every user with role, login and state (admin, compliance)\n"
	  "  disable  refuse the user everywhere from now on; the row stays for\n"
	  "           the audit trail\n"
	  "  role     change a user's role\n"
	  "  passwd   set the viewer sign-in password (Argon2id), read from\n"
	  "           $CHARTVAULT_NEW_PASSWORD or asked twice on the terminal;\n"
	  "           anyone may set their own, an admin anyone's\n"
	  "\n"
	  "Changes are admin-only and audited. The first administrator is the\n"
	  "OS user who ran 'chartvault init'.\n",
	  ROLES_ADMIN, user_verbs },
	{ "audit", cmd_audit, NEED_ARCHIVE | NEED_DB,
	  "the audit trail: reports and verification",
	  "usage: chartvault audit show [--patient MRN] [--user NAME] [--document ID]\n"
	  "                             [--action A] [--since DATE] [--limit N] [--json]\n"
	  "       chartvault audit verify [--json]\n"
	  "       chartvault audit checkpoint [--json]\n"
	  "\n"
	  "  show        rows of the audit trail, oldest first (the newest --limit);\n"
	  "              --patient gives a patient's \"who looked at my chart\"\n"
	  "              report: views, searches that listed their documents,\n"
	  "              exports and changes. DATE: YYYY-MM-DD[THH:MM:SS] UTC\n"
	  "  verify      recompute the hash chain of every row and check every\n"
	  "              signed checkpoint in the checkpoint file and the database;\n"
	  "              names each edited, deleted or reordered row; exit 4 when\n"
	  "              anything was tampered with (loads the key file)\n"
	  "  checkpoint  sign a checkpoint of the chain now (one is also signed\n"
	  "              after commands every audit.checkpoint_rows rows or\n"
	  "              audit.checkpoint_minutes minutes)\n",
	  ROLES_OVERSIGHT, NULL },
	{ "retention", cmd_retention, NEED_ARCHIVE | NEED_DB,
	  "retention rules and eligible dates",
	  "usage: chartvault retention list [--all] [--json]\n"
	  "       chartvault retention show RULE [--json]\n"
	  "       chartvault retention set --file FILE [--schedule NAME] [--json]\n"
	  "       chartvault retention set RULE --expr EXPR [--types CODES] [--category any|minor|adult]\n"
	  "                                [--majority AGE] [--description TEXT] [--citation TEXT]\n"
	  "                                [--schedule NAME]\n"
	  "       chartvault retention set RULE --retire\n"
	  "       chartvault retention evaluate [--mrn MRN] [--json]\n"
	  "       chartvault retention due [--before YYYY-MM-DD] [--all] [--json]\n"
	  "\n"
	  "  list      the rules in force (--all: every version)\n"
	  "  show      every version of one rule\n"
	  "  set       record rules from a rule file (data/retention-presets.ini;\n"
	  "            --schedule loads one schedule of it), or one rule; a new\n"
	  "            version only when its meaning changed\n"
	  "  evaluate  compute every document's eligible date, with the rule id\n"
	  "            and version that produced it\n"
	  "  due       documents eligible on or before the date (default today),\n"
	  "            not under a legal hold; --all: every document's status\n"
	  "\n"
	  "EXPR: anchors last_encounter, discharge, last_entry, service, creation,\n"
	  "birth, death, majority[(AGE)]; offsets + 10y, - 6m, + 30d; max(...)\n"
	  "(whichever is later), min(...) (whichever is first), cap(DATE, LIMIT)\n"
	  "(not to exceed), coalesce(...) (the first known); permanent. See\n"
	  "docs/RETENTION.md.\n",
	  ROLES_RECORDS_UP, retention_verbs },
	{ "hold", cmd_hold, NEED_ARCHIVE | NEED_DB,
	  "place, list or release legal holds",
	  "usage: chartvault hold add --patient MRN|--document ID|--batch NAME|--query WORDS\n"
	  "                           --reason TEXT --matter TEXT [--json]\n"
	  "       chartvault hold list [--all] [--json]\n"
	  "       chartvault hold release ID --reason TEXT [--json]\n"
	  "\n"
	  "A record under an active hold is never eligible for destruction,\n"
	  "whatever its date, and a hold placed after a batch was approved still\n"
	  "wins. A hold covers the documents its target matches when placed and\n"
	  "any it matches later. Release is explicit, needs a reason, and is\n"
	  "audited.\n",
	  ROLES_RECORDS_UP, hold_verbs },
	{ "destroy", cmd_destroy, NEED_ARCHIVE | NEED_DB,
	  "propose, approve and execute destruction",
	  "usage: chartvault destroy propose [--before YYYY-MM-DD] [--document ID]... [--json]\n"
	  "       chartvault destroy list|show BATCH [--json]\n"
	  "       chartvault destroy approve BATCH [--json]\n"
	  "       chartvault destroy cancel BATCH --reason TEXT\n"
	  "       chartvault destroy execute BATCH --facility NAME --manager NAME\n"
	  "                  [--backups yes|no|unknown] [--backup-retention DAYS] [--json]\n"
	  "\n"
	  "  propose  re-evaluate the schedule and make a batch of the records\n"
	  "           eligible on or before the date (default today), not held;\n"
	  "           --document (repeatable): only those of these records\n"
	  "  approve  by a different person than the proposer (refused, exit 6,\n"
	  "           and audited otherwise)\n"
	  "  execute  re-check every record (a hold placed since approval wins),\n"
	  "           delete its index rows and search vectors, crypto-erase its\n"
	  "           objects (keys, then files), keep a ghost row, vacuum, and\n"
	  "           issue the signed certificate into <archive>/certificates/.\n"
	  "           Run it again to resume an interrupted execution.\n"
	  "  --backups, --backup-retention: for the certificate, whether backups\n"
	  "           hold the index and for how many days (default 35)\n",
	  ROLES_RECORDS_UP, destroy_verbs },
	{ "certificate", cmd_certificate, NEED_ARCHIVE | NEED_DB,
	  "show or verify certificates of destruction",
	  "usage: chartvault certificate verify FILE [--json]\n"
	  "       chartvault certificate show [--paper] BATCH [-o FILE.json] [--pdf FILE.pdf]\n"
	  "\n"
	  "  verify  check the Ed25519 signature and the canonical form (a changed\n"
	  "          byte anywhere fails), that every erased object's key and file\n"
	  "          are gone and every record's index rows, that the ghosts and the\n"
	  "          audit events are there; exit 4 and say what, when not\n"
	  "  show    the certificate recorded for a destruction batch (--paper: for\n"
	  "          a scan batch's paper), as issued; --pdf prints it again\n",
	  ROLES_RECORDS_UP, NULL },
	{ "paper-destroy", cmd_paper_destroy, NEED_ARCHIVE | NEED_DB,
	  "record the destruction of a batch's paper",
	  "usage: chartvault paper-destroy NAME|ID --method TEXT --vendor TEXT --witness NAME\n"
	  "                  --boxes N --folders N --sheets N --facility NAME --manager NAME [--json]\n"
	  "\n"
	  "Record that a scan batch's paper originals were destroyed and issue a\n"
	  "signed certificate (certificates/paper-ID.json and .pdf). Refused (exit 6)\n"
	  "unless the batch is signed off and the waiting period has passed, its\n"
	  "pages reconcile, no exception is open, no document is under a legal\n"
	  "hold, every object was proven intact by 'chartvault verify' and none\n"
	  "failed, and the boxes, folders and sheets (sides scanned) counted match\n"
	  "the batch's records.\n",
	  ROLES_OVERSIGHT, NULL },
	{ "serve", cmd_serve, NEED_ARCHIVE | NEED_DB | NEED_KEY,
	  "the web viewer for records staff",
	  "usage: chartvault serve [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE]\n"
	  "\n"
	  "Serve the viewer until SIGTERM or SIGINT: sign-in with the password of\n"
	  "'chartvault user passwd', chart search, documents with their page images\n"
	  "and the search hits drawn on them, and the batch screens for clerks.\n"
	  "Every search and view is audited. Listens on viewer.listen (default\n"
	  "127.0.0.1:8080); give a certificate and key (PEM) to serve HTTPS, which\n"
	  "anything but loopback needs. Requests are logged, without query strings,\n"
	  "to <archive>/logs/viewer-access.log.\n"
	  "\n"
	  "  --listen HOST:PORT  the address to serve on ([v6]:port for IPv6)\n"
	  "  --tls-cert FILE     the server certificate (PEM)\n"
	  "  --tls-key FILE      its private key (PEM)\n",
	  ROLES_ADMIN, NULL },
	{ "config", cmd_config, NO_USER, "list or check the settings",
	  "usage: chartvault config list|check|sample\n"
	  "\n"
	  "  list     every setting and its value (secrets hidden)\n"
	  "  check    parse chartvault.conf and the environment; print\n"
	  "           \"configuration OK\" or the file:line at fault\n"
	  "  sample   print a commented configuration file\n",
	  0, NULL },
	{ "patients", cmd_patients, NEED_ARCHIVE | NEED_DB,
	  "import the patient index, or find a patient",
	  "usage: chartvault patients import FILE.csv [--json]\n"
	  "       chartvault patients find NAME [--dob YYYY-MM-DD] [--mrn MRN] [--limit N] [--json]\n"
	  "       chartvault patients event --mrn MRN --encounter DATE [--discharge DATE] [--json]\n"
	  "       chartvault patients event --mrn MRN --death DATE | --birth DATE [--json]\n"
	  "       chartvault patients restrict MRN --category employee|vip|sensitive [--note TEXT]\n"
	  "       chartvault patients unrestrict MRN\n"
	  "       chartvault patients permit MRN USER [--revoke]\n"
	  "       chartvault patients access MRN [--json]\n"
	  "\n"
	  "  import   merge a patient index export into the index by MRN. Columns\n"
	  "           (header line, any order): mrn, family_name, given_name, dob,\n"
	  "           sex, deceased_on; only mrn is required, and an empty value\n"
	  "           keeps what the index has. A bad row is rejected with its line\n"
	  "           and column (exit 1) and the others are imported, all in one\n"
	  "           transaction. Prints the counts inserted, updated, unchanged\n"
	  "           and rejected.\n"
	  "  find     patients by NAME (\"GIVEN FAMILY\" or \"FAMILY, GIVEN\" or one\n"
	  "           name), best first with a score: similar spellings (pg_trgm),\n"
	  "           nicknames (Bob finds ROBERT; patients.nicknames_file adds\n"
	  "           more) and family and given names swapped. --dob and --mrn\n"
	  "           narrow, or search alone. Exit 5 when none is found.\n"
	  "  event    record an encounter, a death or a birth date (YYYY-MM-DD,\n"
	  "           not in the future) and re-evaluate the retention dates of the\n"
	  "           patient's documents\n"
	  "  restrict   flag a chart restricted (employee, vip or sensitive): it\n"
	  "             opens only with a standing permission or emergency access\n"
	  "             (compliance, admin; see docs/ACCESS.md)\n"
	  "  unrestrict lift the restriction\n"
	  "  permit     give USER a standing permission to the chart, or take it\n"
	  "             back with --revoke\n"
	  "  access     who may open the chart: its restriction, the standing\n"
	  "             permissions and the count of emergency grants\n",
	  ROLES_RECORDS_UP, patients_verbs },
	{ "access", cmd_access, NEED_ARCHIVE | NEED_DB,
	  "restricted charts: emergency access and its review",
	  "usage: chartvault access review [--all] [--json]\n"
	  "       chartvault access reviewed GRANT-ID --note TEXT [--json]\n"
	  "       chartvault access emergency MRN --category CAT --reason TEXT [--json]\n"
	  "\n"
	  "  review     emergency access (\"break the glass\") waiting for review,\n"
	  "             oldest first; --all lists every grant, newest first\n"
	  "  reviewed   mark a grant reviewed with a note (never your own)\n"
	  "  emergency  open a restricted chart for viewer.glass_minutes, giving\n"
	  "             the kind of emergency (treatment, continuity, safety,\n"
	  "             legal) and a reason of at least 20 characters; audited as\n"
	  "             emergency.access and flagged for review\n",
	  ROLES_OVERSIGHT, access_verbs },
	{ "queue", cmd_queue, NEED_ARCHIVE | NEED_DB,
	  "the exception queue: documents waiting to be placed",
	  "usage: chartvault queue list [--json]\n"
	  "       chartvault queue show DOC [--json]\n"
	  "       chartvault queue assign DOC --mrn MRN [--type LOINC]\n"
	  "       chartvault queue split DOC --at SEQ\n"
	  "       chartvault queue merge DOC1 DOC2\n"
	  "       chartvault queue move-page PAGE --to DOC\n"
	  "       chartvault queue file DOC\n"
	  "       chartvault queue reject DOC --reason TEXT\n"
	  "\n"
	  "Documents the pipeline would not file wait here: unknown-patient (no\n"
	  "MRN, or one not in the patient index), misfile (a page shows another\n"
	  "patient than its document, or a document was found inside another\n"
	  "patient's bundle), low-confidence-type.\n"
	  "\n"
	  "  list        documents in the queue, with their open reasons\n"
	  "  show        a document: its patient, each page's own MRN, name and\n"
	  "              DOB, its exceptions and the actions taken on it\n"
	  "  assign      set the patient (and type): resolves the identity\n"
	  "              exceptions (and the type's)\n"
	  "  split       pages SEQ and after become a new document\n"
	  "  merge       DOC2's pages go to the end of DOC1; DOC2 is closed\n"
	  "  move-page   move one page to the end of DOC (an emptied document is\n"
	  "              closed); the misfile rule runs again on both\n"
	  "  file        put DOC in its patient's chart: refused while an exception\n"
	  "              is open; re-indexes its pages (needs the key file)\n"
	  "  reject      close DOC out of every chart, with a reason\n"
	  "\n"
	  "Every action is recorded with who, when and the documents before and\n"
	  "after. An action that does not apply changes nothing and exits 6.\n",
	  ROLES_RECORDS_UP, NULL },
	{ "help", cmd_help, NO_USER, "show help for a command",
	  "usage: chartvault help [COMMAND]\n", 0, NULL },
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

/* The login of the real user id: the person at the keyboard. */
static const char *os_user(void)
{
	struct passwd *pw = getpwuid(getuid());

	return pw ? pw->pw_name : "unknown";
}

/*
 * The role check of the command table: the roles of the verb (argv[1])
 * when the command lists it, else the command's. Only a listed verb is
 * named in messages and the audit trail: other arguments may be search
 * words or patient data.
 */
static int authorize(struct cli *c, const struct cv_cmd *cmd, int argc,
		     char **argv)
{
	const struct cv_verb_roles *v;
	unsigned roles = cmd->roles;
	char what[64];

	snprintf(what, sizeof(what), "%s", cmd->name);
	for (v = cmd->verbs; v && v->verb && argc > 1; v++) {
		if (!strcmp(v->verb, argv[1])) {
			roles = v->roles;
			c->verb = v->verb;
			snprintf(what, sizeof(what), "%s %s", cmd->name,
				 v->verb);
			break;
		}
	}
	return cli_authorize(c, roles, what);
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
	/* Before the key is loaded: a refused user gets no further. */
	if (!(cmd->flags & NO_USER)) {
		ret = authorize(c, cmd, argc, argv);
		if (ret != 0)
			goto out;
	}
	if (cmd->flags & NEED_KEY) {
		ret = cli_open_store(c, &err);
		if (ret < 0)
			return cli_fail(&err);
	}
	ret = cmd->fn(c, argc, argv);
out:
	if (c->ix) {
		/* What a failed command left open is rolled back at exit
		 * anyway; the checkpoint needs a transaction of its own. */
		cv_index_rollback(c->ix);
		cli_audit_checkpoint_if_due(c);
	}
	return ret;
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
	free(c.login);
	free(c.user_name);
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
