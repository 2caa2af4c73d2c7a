/*
 * The settings table and the ini parsing behind config.h (inih).
 */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config.h"
#include "banned.h"

enum type {
	T_STRING,
	T_INT
};

struct setting {
	const char *section;
	const char *name;
	enum type type;
	long long min, max;
	const char *def;
	int flags;
	size_t offset;
	const char *help;
};

#define FIELD(f) offsetof(struct cv_config, f)

static const struct setting settings[] = {
	{ "db", "dsn", T_STRING, 0, 0, "", CV_CONFIG_SECRET, FIELD(db_dsn),
	  "libpq connection string of an external PostgreSQL; empty uses the archive's private cluster" },
	{ "db", "server_user", T_STRING, 0, 0, "chartvault", 0,
	  FIELD(db_server_user),
	  "system user that runs the private cluster when chartvault runs as root" },
	{ "db", "pg_bindir", T_STRING, 0, 0, "", 0, FIELD(db_pg_bindir),
	  "folder holding initdb and pg_ctl; empty searches /usr/lib/postgresql/*/bin and PATH" },
	{ "ocr", "workers", T_INT, 0, 256, "0", 0, FIELD(ocr_workers),
	  "OCR worker threads, each with its own Tesseract engine; 0 means one per core" },
	{ "ocr", "language", T_STRING, 0, 0, "eng", 0, FIELD(ocr_language),
	  "Tesseract language(s), e.g. eng or eng+spa" },
	{ "ocr", "tessdata", T_STRING, 0, 0, "", 0, FIELD(ocr_tessdata),
	  "folder with Tesseract's traineddata files; empty uses Tesseract's default" },
	{ "ocr", "osd_below_confidence", T_INT, 0, 100, "60", 0,
	  FIELD(ocr_osd_below_confidence),
	  "pages whose OCR confidence is under this are checked for orientation (upside down, sideways) and read again turned upright; 0 turns the check off" },
	{ "ocr", "min_confidence", T_INT, 0, 100, "70", 0,
	  FIELD(ocr_min_confidence),
	  "pages recognised with a lower mean confidence are flagged low-confidence for QA" },
	{ "ingest", "max_file_mb", T_INT, 1, 65536, "1024", 0,
	  FIELD(ingest_max_file_mb), "largest input file accepted, in MB" },
	{ "ingest", "max_megapixels", T_INT, 1, 10000, "150", 0,
	  FIELD(ingest_max_megapixels),
	  "largest page accepted, in megapixels, checked before decoding (decompression bombs)" },
	{ "keys", "file", T_STRING, 0, 0, "chartvault.key", 0, FIELD(keys_file),
	  "key file, relative to the archive folder or absolute; keep a copy off-site" },
	{ "viewer", "listen", T_STRING, 0, 0, "127.0.0.1:8080", 0,
	  FIELD(viewer_listen),
	  "address the viewer serves on (host:port, [v6]:port); loopback unless a reverse proxy or TLS is in front" },
	{ "viewer", "threads", T_INT, 0, 64, "0", 0, FIELD(viewer_threads),
	  "viewer server threads, each with its own database connection; 0 means eight per core" },
	{ "viewer", "max_connections", T_INT, 1, 10000, "256", 0,
	  FIELD(viewer_max_connections),
	  "open connections the viewer accepts at once" },
	{ "viewer", "idle_timeout", T_INT, 5, 86400, "900", 0,
	  FIELD(viewer_idle_timeout),
	  "seconds without a request after which a viewer session is signed out" },
	{ "viewer", "glass_minutes", T_INT, 1, 1440, "30", 0,
	  FIELD(viewer_glass_minutes),
	  "minutes that emergency access to a restricted chart lasts after a user gives a reason (break the glass); every such access waits for compliance review" },
	{ "viewer", "max_failures", T_INT, 1, 100, "5", 0,
	  FIELD(viewer_max_failures),
	  "failed sign-ins in a row before a user is locked out, for 30 s doubling with each further failure (up to 15 min)" },
	{ "classify", "min_confidence", T_INT, 0, 100, "60", 0,
	  FIELD(classify_min_confidence),
	  "a document whose type the model decides with a lower confidence (percent) goes to the exception queue instead of being filed" },
	{ "classify", "types_file", T_STRING, 0, 0, "doctypes.tsv", 0,
	  FIELD(classify_types_file),
	  "the hospital's own document types (code, name, title pattern; see data/doctypes.tsv), relative to the archive folder or absolute; a missing file adds none" },
	{ "queue", "lease_s", T_INT, 5, 3600, "60", 0, FIELD(queue_lease_s),
	  "seconds a worker's claim on a page lasts; renewed every third of it while the page is worked on, and taken over by another worker when it runs out" },
	{ "queue", "max_attempts", T_INT, 1, 1000, "5", 0,
	  FIELD(queue_max_attempts),
	  "a page whose worker died or stalled this many times is failed with a reason instead of being tried again" },
	{ "retention", "paper_wait_days", T_INT, 0, 3650, "30", 0,
	  FIELD(retention_paper_wait_days),
	  "days after a batch's QA sign-off before 'paper-destroy' accepts it" },
	{ "archive", "group", T_STRING, 0, 0, "", 0, FIELD(archive_group),
	  "OS group of the staff sharing this archive (files and database socket open to the group); set by 'chartvault init --group', see docs/ROLES.md" },
	{ "audit", "checkpoint_rows", T_INT, 1, 10000000, "1000", 0,
	  FIELD(audit_checkpoint_rows),
	  "sign an audit checkpoint once this many audit rows follow the last one" },
	{ "audit", "checkpoint_minutes", T_INT, 1, 10080, "60", 0,
	  FIELD(audit_checkpoint_minutes),
	  "sign an audit checkpoint when the last one is this many minutes old and rows were added since" },
	{ "audit", "checkpoint_file", T_STRING, 0, 0, "audit/checkpoints.log",
	  0, FIELD(audit_checkpoint_file),
	  "file that signed audit checkpoints are appended to, relative to the archive or absolute; best on other storage, to outlive a rewritten database" },
	{ "identity", "mrn_pattern", T_STRING, 0, 0, "", 0,
	  FIELD(identity_mrn_pattern),
	  "extended regex that finds the MRN in a page's text, the MRN being its first non-empty group (alternatives with |); empty: the built-in labels (MRN, MR#, Medical Record #, Unit No, Hospital No, Chart #) and demographic lines" },
	{ "identity", "mrn_format", T_STRING, 0, 0, "", 0,
	  FIELD(identity_mrn_format),
	  "extended regex every MRN (page text, label, cover sheet, manifest) must match whole, e.g. 9[0-9]{7}; empty: any" },
	{ "identity", "mrn_check", T_STRING, 0, 0, "none", 0,
	  FIELD(identity_mrn_check),
	  "check digit of MRNs: none, luhn, or mod11 (weights 2,3,4... from the right, X for 10)" },
	{ "patients", "nicknames_file", T_STRING, 0, 0, "", 0,
	  FIELD(patients_nicknames_file),
	  "extra given-name nickname groups for patient lookup, one group a line (formal,nick,nick...), added to the built-in ones" },
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static void *slot(struct cv_config *cfg, const struct setting *s)
{
	return (char *)cfg + s->offset;
}

static const void *cslot(const struct cv_config *cfg, const struct setting *s)
{
	return (const char *)cfg + s->offset;
}

static int apply(struct cv_config *cfg, const struct setting *s,
		 const char *value, const char *where, struct cv_error *err)
{
	long long v;

	if (s->type == T_INT) {
		if (cv_parse_ll(&v, value, s->min, s->max) < 0)
			return cv_error_set(
				err, CV_EINVAL,
				"%s: %s.%s must be a whole number from %lld to %lld",
				where, s->section, s->name, s->min, s->max);
		*(long long *)slot(cfg, s) = v;
	} else {
		char **p = slot(cfg, s);

		free(*p);
		*p = cv_strdup(value);
	}
	return 0;
}

static const struct setting *find(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++)
		if (!strcmp(settings[i].section, section) &&
		    !strcmp(settings[i].name, name))
			return &settings[i];
	return NULL;
}

void cv_config_init(struct cv_config *cfg)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < NSETTINGS; i++)
		if (apply(cfg, &settings[i], settings[i].def, "default", NULL) <
		    0)
			CV_BUG("bad default for %s", settings[i].name);
}

void cv_config_release(struct cv_config *cfg)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++) {
		if (settings[i].type == T_STRING) {
			char **p = slot(cfg, &settings[i]);

			if (*p && (settings[i].flags & CV_CONFIG_SECRET))
				cv_wipe(*p, strlen(*p));
			free(*p);
			*p = NULL;
		}
	}
}

struct load_ctx {
	struct cv_config *cfg;
	const char *path;
	FILE *f;
	int lineno;
	struct cv_error *err;
	int failed;
};

/*
 * Debian's inih is built without INI_HANDLER_LINENO, so count lines in the
 * reader: inih calls it once per line, just before handling that line.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct load_ctx *ctx = stream;
	char *r = fgets(str, num, ctx->f);

	if (r)
		ctx->lineno++;
	return r;
}

static int on_ini(void *user, const char *section, const char *name,
		  const char *value)
{
	struct load_ctx *ctx = user;
	int lineno = ctx->lineno;
	const struct setting *s;
	char where[512];

	if (ctx->failed)
		return 0;
	snprintf(where, sizeof(where), "%s:%d", ctx->path, lineno);
	s = find(section, name);
	if (!s) {
		cv_error_set(ctx->err, CV_EINVAL, "%s: unknown setting '%s.%s'",
			     where, section, name);
		ctx->failed = 1;
		return 0;
	}
	if (apply(ctx->cfg, s, value, where, ctx->err) < 0) {
		ctx->failed = 1;
		return 0;
	}
	return 1;
}

int cv_config_load_file(struct cv_config *cfg, const char *path, int optional,
			struct cv_error *err)
{
	struct load_ctx ctx = { cfg, path, NULL, 0, err, 0 };
	FILE *f;
	int r;

	f = fopen(path, "r");
	if (!f) {
		if (optional)
			return 0;
		return cv_error_errno(err, CV_EINVAL,
				      "could not read configuration '%s'",
				      path);
	}
	ctx.f = f;
	r = ini_parse_stream(read_line, &ctx, on_ini, &ctx);
	fclose(f);
	if (ctx.failed)
		return err ? err->code : CV_EINVAL;
	if (r != 0)
		return cv_error_set(err, CV_EINVAL, "%s:%d: syntax error", path,
				    r);
	return 0;
}

int cv_config_load_env(struct cv_config *cfg, struct cv_error *err)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++) {
		char var[128], *p;
		const char *v;

		snprintf(var, sizeof(var), "CHARTVAULT_%s_%s",
			 settings[i].section, settings[i].name);
		for (p = var; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		v = getenv(var);
		if (v && apply(cfg, &settings[i], v, var, err) < 0)
			return err ? err->code : CV_EINVAL;
	}
	return 0;
}

int cv_config_set(struct cv_config *cfg, const char *assignment,
		  struct cv_error *err)
{
	const char *eq = strchr(assignment, '='), *dot;
	char section[64], name[64];
	const struct setting *s;

	dot = strchr(assignment, '.');
	if (!eq || !dot || dot > eq || (size_t)(dot - assignment) >= 64 ||
	    (size_t)(eq - dot - 1) >= 64)
		return cv_error_set(err, CV_EINVAL,
				    "'-c' takes section.name=value");
	memcpy(section, assignment, (size_t)(dot - assignment));
	section[dot - assignment] = '\0';
	memcpy(name, dot + 1, (size_t)(eq - dot - 1));
	name[eq - dot - 1] = '\0';
	s = find(section, name);
	if (!s)
		return cv_error_set(err, CV_EINVAL, "unknown setting '%s.%s'",
				    section, name);
	return apply(cfg, s, eq + 1, "-c", err);
}

void cv_config_list(const struct cv_config *cfg, FILE *out)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];

		fprintf(out, "%s.%s=", s->section, s->name);
		if (s->flags & CV_CONFIG_SECRET) {
			const char *v = *(char *const *)cslot(cfg, s);

			fputs(v && *v ? "(set, hidden)" : "", out);
		} else if (s->type == T_INT) {
			fprintf(out, "%lld", *(const long long *)cslot(cfg, s));
		} else {
			fputs(*(char *const *)cslot(cfg, s), out);
		}
		fputc('\n', out);
	}
}

/*
 * help as "# " comment lines of at most 78 columns: inih reads lines of
 * up to 200 bytes, and splits a longer one into a line it cannot parse.
 */
static void add_comment(struct cv_buf *b, const char *help)
{
	const char *p = help;

	while (*p) {
		size_t len = strlen(p), cut = len;

		if (len > 76) {
			for (cut = 76; cut > 0 && p[cut] != ' '; cut--)
				;
			if (cut == 0)
				cut = 76;
		}
		cv_buf_addf(b, "# %.*s\n", (int)cut, p);
		p += cut;
		while (*p == ' ')
			p++;
	}
}

char *cv_config_sample(void)
{
	struct cv_buf b = CV_BUF_INIT;
	const char *section = "";
	size_t i;

	cv_buf_adds(
		&b,
		"# chartvault configuration. Every setting is shown with its default,\n"
		"# commented out. The environment (CHARTVAULT_SECTION_NAME) and\n"
		"# \"chartvault -c section.name=value\" override this file.\n"
		"# Name the key file here, never a key.\n");
	for (i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];

		if (strcmp(section, s->section)) {
			section = s->section;
			cv_buf_addf(&b, "\n[%s]\n", section);
		}
		add_comment(&b, s->help);
		cv_buf_addf(&b, ";%s = %s\n", s->name, s->def);
	}
	return cv_buf_detach(&b, NULL);
}
