/*
 * The document-type taxonomy: LOINC document codes, their display names
 * and the title patterns that decide a type by rule. The shipped table is
 * data/doctypes.tsv, embedded in the binary at build time (so a binary
 * never runs with a taxonomy other than the one it was tested with); a
 * hospital adds or renames types with a file of the same shape.
 *
 * The table is built once, before any page is read: the built-in rows on
 * first use, a hospital's file by cv_ingest_doctypes_load at start-up.
 * After that it is only read, from any thread.
 */
#include <ctype.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_int.h"
#include "../common/banned.h"

extern const unsigned char cv_data_doctypes[];
extern const size_t cv_data_doctypes_len;

/* More would be a taxonomy nobody can file by; it also bounds a hostile
 * file. */
#define MAX_TYPES   256
#define MAX_LINE    1024
#define TYPES_BYTES (1u << 20)

struct entry {
	struct cv_ingest_doctype pub;
	char code[CV_INGEST_TYPE_CODE_MAX];
	char name[96];
	char *title;
	int has_re;
	regex_t re;
};

static struct entry *types[MAX_TYPES];
static size_t ntypes;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static int valid_code(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n >= CV_INGEST_TYPE_CODE_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return 0;
	return 1;
}

static int valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n >= 96)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	if (e->has_re)
		regfree(&e->re);
	free(e->title);
	free(e);
}

static struct entry *find_entry(const char *code)
{
	size_t i;

	for (i = 0; i < ntypes; i++)
		if (!strcmp(types[i]->code, code))
			return types[i];
	return NULL;
}

/*
 * Parse one taxonomy file's bytes into entries (not yet installed), so a
 * file with an error anywhere changes nothing. where names the file in
 * messages.
 */
static int parse(const char *where, const char *data, size_t len, int builtin,
		 struct entry ***out, size_t *nout, struct cv_error *err)
{
	struct entry **list = NULL;
	size_t n = 0, lineno = 0, pos = 0;
	int ret = 0;

	*out = NULL;
	*nout = 0;
	while (pos < len && ret == 0) {
		const char *line = data + pos, *nl;
		size_t l;
		char buf[MAX_LINE + 1], *f[4], *p;
		int nf = 0, rc;
		struct entry *e;

		nl = memchr(line, '\n', len - pos);
		l = nl ? (size_t)(nl - line) : len - pos;
		pos += l + (nl ? 1 : 0);
		lineno++;
		if (l && line[l - 1] == '\r')
			l--;
		if (l == 0 || line[0] == '#')
			continue;
		if (l > MAX_LINE) {
			ret = cv_error_set(err, CV_EINVAL,
					   "%s:%zu: line is too long", where,
					   lineno);
			break;
		}
		if (memchr(line, '\0', l)) {
			ret = cv_error_set(err, CV_EINVAL,
					   "%s:%zu: not a text file", where,
					   lineno);
			break;
		}
		memcpy(buf, line, l);
		buf[l] = '\0';
		for (p = buf; nf < 4;) {
			f[nf++] = p;
			p = strchr(p, '\t');
			if (!p)
				break;
			*p++ = '\0';
		}
		if (nf < 2 || nf > 3) {
			ret = cv_error_set(
				err, CV_EINVAL,
				"%s:%zu: expected code<TAB>name<TAB>title pattern",
				where, lineno);
			break;
		}
		if (!valid_code(f[0]) || !strcmp(f[0], CV_INGEST_TYPE_OTHER)) {
			ret = cv_error_set(
				err, CV_EINVAL,
				"%s:%zu: bad type code (letters, digits, '-', '_', '.'; not \"other\")",
				where, lineno);
			break;
		}
		if (!valid_name(f[1])) {
			ret = cv_error_set(err, CV_EINVAL,
					   "%s:%zu: bad display name", where,
					   lineno);
			break;
		}
		e = cv_calloc(1, sizeof(*e));
		snprintf(e->code, sizeof(e->code), "%s", f[0]);
		snprintf(e->name, sizeof(e->name), "%s", f[1]);
		e->title = cv_strdup(nf == 3 ? f[2] : "");
		if (e->title[0]) {
			rc = regcomp(&e->re, e->title,
				     REG_EXTENDED | REG_ICASE);
			if (rc != 0) {
				char msg[128];

				regerror(rc, &e->re, msg, sizeof(msg));
				ret = cv_error_set(
					err, CV_EINVAL,
					"%s:%zu: bad title pattern for %s",
					where, lineno, e->code);
				cv_error_detail(err, "%s", msg);
				entry_free(e);
				break;
			}
			e->has_re = 1;
		}
		e->pub.code = e->code;
		e->pub.name = e->name;
		e->pub.title = e->title;
		e->pub.builtin = builtin;
		if (n == MAX_TYPES) {
			entry_free(e);
			ret = cv_error_set(err, CV_ELIMIT,
					   "%s: more than %d types", where,
					   MAX_TYPES);
			break;
		}
		list = cv_realloc(list, (n + 1) * sizeof(*list));
		list[n++] = e;
	}
	if (ret < 0) {
		while (n)
			entry_free(list[--n]);
		free(list);
		return ret;
	}
	*out = list;
	*nout = n;
	return 0;
}

/* Install parsed entries: a code already present is replaced in place,
 * so its position (and the order of "classify types") is stable. */
static int install(struct entry **list, size_t n, const char *where,
		   struct cv_error *err)
{
	size_t i, added = 0;

	for (i = 0; i < n; i++)
		if (!find_entry(list[i]->code))
			added++;
	if (ntypes + added > MAX_TYPES) {
		for (i = 0; i < n; i++)
			entry_free(list[i]);
		return cv_error_set(err, CV_ELIMIT, "%s: more than %d types",
				    where, MAX_TYPES);
	}
	for (i = 0; i < n; i++) {
		size_t j;

		for (j = 0; j < ntypes; j++) {
			if (!strcmp(types[j]->code, list[i]->code)) {
				entry_free(types[j]);
				types[j] = list[i];
				break;
			}
		}
		if (j == ntypes)
			types[ntypes++] = list[i];
	}
	return 0;
}

static void load_builtin(void)
{
	struct cv_error err = CV_ERROR_INIT;
	struct entry **list;
	size_t n;

	if (parse("data/doctypes.tsv", (const char *)cv_data_doctypes,
		  cv_data_doctypes_len, 1, &list, &n, &err) < 0 ||
	    install(list, n, "data/doctypes.tsv", &err) < 0)
		CV_BUG("built-in taxonomy: %s", err.msg);
	free(list);
}

static void ensure(void)
{
	pthread_once(&builtin_once, load_builtin);
}

int cv_ingest_doctypes_parse_file(const char *path, int apply,
				  size_t *ntypes_out, struct cv_error *err)
{
	struct cv_buf b = CV_BUF_INIT;
	struct entry **list = NULL;
	size_t n = 0, i;
	int ret;

	ensure();
	if (ntypes_out)
		*ntypes_out = 0;
	ret = cv_fs_read_file(&b, path, TYPES_BYTES, err);
	if (ret < 0) {
		cv_error_prefix(err, "document types");
		goto cleanup;
	}
	ret = parse(path, b.buf, b.len, 0, &list, &n, err);
	if (ret < 0)
		goto cleanup;
	if (ntypes_out)
		*ntypes_out = n;
	if (apply) {
		ret = install(list, n, path, err);
	} else {
		for (i = 0; i < n; i++)
			entry_free(list[i]);
	}
cleanup:
	free(list);
	cv_buf_release(&b);
	return ret;
}

int cv_ingest_doctypes_load(const char *path, struct cv_error *err)
{
	return cv_ingest_doctypes_parse_file(path, 1, NULL, err);
}

size_t cv_ingest_doctype_count(void)
{
	ensure();
	return ntypes;
}

const struct cv_ingest_doctype *cv_ingest_doctype_at(size_t i)
{
	ensure();
	return i < ntypes ? &types[i]->pub : NULL;
}

int cv_ingest_doctype_known(const char *code)
{
	ensure();
	return !strcmp(code, CV_INGEST_TYPE_OTHER) || find_entry(code) != NULL;
}

const char *cv_ingest_doc_type_name(const char *code)
{
	const struct entry *e;

	ensure();
	e = find_entry(code);
	return e ? e->name : "other";
}

int cv_ingest__title_type(const char *line, char *code, size_t n)
{
	size_t i;

	ensure();
	for (i = 0; i < ntypes; i++) {
		if (types[i]->has_re &&
		    !regexec(&types[i]->re, line, 0, NULL, 0)) {
			snprintf(code, n, "%s", types[i]->code);
			return 1;
		}
	}
	return 0;
}
