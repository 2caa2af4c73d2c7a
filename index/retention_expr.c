/*
 * The retention expression language: how a schedule's sentence ("ten
 * years after discharge; for minors the longer of majority plus one year
 * and ten years") becomes something a program evaluates the same way for
 * decades. The grammar (docs/RETENTION.md has the long form):
 *
 *   expr     := primary { ('+' | '-') duration }
 *   primary  := 'permanent' | anchor | func '(' expr { ',' expr } ')'
 *             | '(' expr ')'
 *   func     := 'max' | 'min' | 'cap' | 'coalesce'
 *   anchor   := 'last_encounter' | 'discharge' | 'last_entry' | 'service'
 *             | 'creation' | 'birth' | 'death' | 'majority' [ '(' AGE ')' ]
 *   duration := NUMBER ('y' | 'm' | 'd')
 *
 * Values are a date or one of three "not a date" kinds, ordered
 *
 *   any date < waiting < unknown < permanent
 *
 * so that max ("whichever is later") and min/cap ("whichever is first",
 * "not to exceed") are plain maximum and minimum over that order. The
 * order is what keeps evaluation from ever destroying early: a missing
 * anchor (no date of birth) is unknown, which max carries through and
 * min only passes over when another operand is a real date, a date that
 * is never before the true one. A death not yet recorded is "waiting":
 * the record waits for the event, it is not lost data.
 *
 * Pure computation, no I/O: thread-safe on distinct values.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "common/banned.h"

#define EXPR_MAX_LEN   1024
#define EXPR_MAX_DEPTH 32
#define EXPR_MAX_ARGS  16

enum node_type {
	N_ANCHOR,
	N_PERMANENT,
	N_MAX,
	N_MIN,
	N_CAP,
	N_COALESCE
};

enum anchor {
	A_LAST_ENCOUNTER,
	A_DISCHARGE,
	A_LAST_ENTRY,
	A_SERVICE,
	A_CREATION,
	A_BIRTH,
	A_DEATH,
	A_MAJORITY,
};

static const char *const anchor_names[] = {
	"last_encounter", "discharge", "last_entry", "service",
	"creation",       "birth",     "death",      "majority",
};

static const char *const func_names[] = { "max", "min", "cap", "coalesce" };

struct node {
	enum node_type type;
	enum anchor anchor;
	int age; /* majority(AGE); 0: the rule's */
	/* The offset added to this node's value, in y/m/d (signed). */
	int years, months, days;
	struct node **kids;
	size_t nkids;
};

struct cv_retention_expr {
	struct node *root;
};

struct parser {
	const char *s;
	size_t pos;
	int depth;
	struct cv_error *err;
};

static void node_free(struct node *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n);
}

void cv_retention_expr_free(struct cv_retention_expr *e)
{
	if (!e)
		return;
	node_free(e->root);
	free(e);
}

static int fail(struct parser *p, const char *fmt, const char *what)
{
	char msg[160];

	snprintf(msg, sizeof(msg), fmt, what);
	return cv_error_set(p->err, CV_EINVAL,
			    "retention expression, at column %zu: %s",
			    p->pos + 1, msg);
}

static void skip_space(struct parser *p)
{
	while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
	       p->s[p->pos] == '\n' || p->s[p->pos] == '\r')
		p->pos++;
}

/* A word of [a-z_]; its length, 0 when none. */
static size_t word_len(const struct parser *p)
{
	size_t n = 0;

	while (islower((unsigned char)p->s[p->pos + n]) ||
	       p->s[p->pos + n] == '_')
		n++;
	return n;
}

static int word_is(const struct parser *p, size_t n, const char *w)
{
	return strlen(w) == n && !strncmp(p->s + p->pos, w, n);
}

/* A whole decimal number of at most four digits. */
static int number(struct parser *p, int *out)
{
	int v = 0, digits = 0;

	while (isdigit((unsigned char)p->s[p->pos])) {
		if (++digits > 4)
			return fail(p, "%s", "number too large");
		v = v * 10 + (p->s[p->pos] - '0');
		p->pos++;
	}
	if (!digits)
		return fail(p, "%s", "expected a number");
	*out = v;
	return 0;
}

static int expect(struct parser *p, char c)
{
	char what[2] = { c, '\0' };

	skip_space(p);
	if (p->s[p->pos] != c)
		return fail(p, "expected '%s'", what);
	p->pos++;
	return 0;
}

static int parse_expr(struct parser *p, struct node **out);

static int parse_duration(struct parser *p, int sign, struct node *n)
{
	int v, ret;
	size_t w;

	skip_space(p);
	ret = number(p, &v);
	if (ret < 0)
		return ret;
	skip_space(p);
	w = word_len(p);
	if (word_is(p, w, "y") || word_is(p, w, "year") ||
	    word_is(p, w, "years")) {
		if (v > 200)
			return fail(p, "%s", "more than 200 years");
		n->years += sign * v;
	} else if (word_is(p, w, "m") || word_is(p, w, "month") ||
		   word_is(p, w, "months")) {
		if (v > 2400)
			return fail(p, "%s", "more than 2400 months");
		n->months += sign * v;
	} else if (word_is(p, w, "d") || word_is(p, w, "day") ||
		   word_is(p, w, "days")) {
		n->days += sign * v;
	} else {
		return fail(
			p, "%s",
			"a duration needs a unit: y, m or d (10y, 6m, 30d)");
	}
	p->pos += w;
	return 0;
}

static int parse_call(struct parser *p, enum node_type type, struct node *n)
{
	struct node *kid;
	int ret;

	n->type = type;
	ret = expect(p, '(');
	if (ret < 0)
		return ret;
	for (;;) {
		if (n->nkids == EXPR_MAX_ARGS)
			return fail(p, "%s", "more than 16 arguments");
		ret = parse_expr(p, &kid);
		/* Attached even on failure, so that the caller frees it. */
		if (kid) {
			n->kids = cv_realloc(n->kids,
					     (n->nkids + 1) * sizeof(*n->kids));
			n->kids[n->nkids++] = kid;
		}
		if (ret < 0)
			return ret;
		skip_space(p);
		if (p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		break;
	}
	ret = expect(p, ')');
	if (ret < 0)
		return ret;
	if (type == N_CAP && n->nkids != 2)
		return fail(p, "%s",
			    "cap takes two arguments: cap(date, not-after)");
	if ((type == N_MAX || type == N_MIN) && n->nkids < 2)
		return fail(p, "%s", "max and min take two or more arguments");
	return 0;
}

static int parse_primary(struct parser *p, struct node **out)
{
	struct node *n;
	size_t w, i;
	int ret;

	*out = NULL;
	skip_space(p);
	if (p->s[p->pos] == '(') {
		p->pos++;
		ret = parse_expr(p, out);
		if (ret == 0)
			ret = expect(p, ')');
		return ret;
	}
	w = word_len(p);
	if (!w)
		return fail(
			p, "%s",
			p->s[p->pos]
				? "expected an anchor, a function or 'permanent'"
				: "the expression ends too soon");
	n = cv_calloc(1, sizeof(*n));
	*out = n;
	if (word_is(p, w, "permanent")) {
		n->type = N_PERMANENT;
		p->pos += w;
		return 0;
	}
	for (i = 0; i < sizeof(func_names) / sizeof(func_names[0]); i++) {
		if (word_is(p, w, func_names[i])) {
			p->pos += w;
			return parse_call(p, N_MAX + (int)i, n);
		}
	}
	for (i = 0; i < sizeof(anchor_names) / sizeof(anchor_names[0]); i++) {
		if (!word_is(p, w, anchor_names[i]))
			continue;
		n->type = N_ANCHOR;
		n->anchor = (enum anchor)i;
		p->pos += w;
		skip_space(p);
		if (n->anchor == A_MAJORITY && p->s[p->pos] == '(') {
			p->pos++;
			skip_space(p);
			ret = number(p, &n->age);
			if (ret < 0)
				return ret;
			if (n->age < 14 || n->age > 25)
				return fail(
					p, "%s",
					"an age of majority is from 14 to 25");
			return expect(p, ')');
		}
		return 0;
	}
	{
		char word[48];

		snprintf(word, sizeof(word), "%.*s", (int)(w > 40 ? 40 : w),
			 p->s + p->pos);
		ret = fail(p, "unknown word '%s'", word);
		cv_error_hint(
			p->err,
			"anchors: last_encounter, discharge, last_entry, service, creation, birth, death, majority[(AGE)]; functions: max, min, cap, coalesce; or permanent");
		return ret;
	}
}

static int parse_expr(struct parser *p, struct node **out)
{
	int ret;

	if (++p->depth > EXPR_MAX_DEPTH) {
		*out = NULL;
		return fail(p, "%s", "nested more than 32 deep");
	}
	ret = parse_primary(p, out);
	while (ret == 0) {
		skip_space(p);
		if (p->s[p->pos] != '+' && p->s[p->pos] != '-')
			break;
		if ((*out)->type == N_PERMANENT)
			return fail(p, "%s", "'permanent' takes no offset");
		p->pos++;
		ret = parse_duration(p, p->s[p->pos - 1] == '+' ? 1 : -1, *out);
	}
	p->depth--;
	return ret;
}

int cv_retention_parse(struct cv_retention_expr **out, const char *text,
		       struct cv_error *err)
{
	struct parser p = { text, 0, 0, err };
	struct node *root = NULL;
	size_t i;
	int ret;

	*out = NULL;
	if (!text)
		return cv_error_set(err, CV_EINVAL,
				    "retention expression is empty");
	if (strlen(text) > EXPR_MAX_LEN)
		return cv_error_set(
			err, CV_ELIMIT,
			"retention expression is longer than %d characters",
			EXPR_MAX_LEN);
	for (i = 0; text[i]; i++) {
		if ((unsigned char)text[i] >= 0x80 ||
		    (iscntrl((unsigned char)text[i]) &&
		     !isspace((unsigned char)text[i]))) {
			p.pos = i;
			return fail(
				&p, "%s",
				"only ASCII letters, digits and + - ( ) , are allowed");
		}
	}
	skip_space(&p);
	if (!text[p.pos])
		return cv_error_set(err, CV_EINVAL,
				    "retention expression is empty");
	ret = parse_expr(&p, &root);
	if (ret == 0) {
		skip_space(&p);
		if (text[p.pos])
			ret = fail(&p, "%s",
				   "unexpected text after the expression");
	}
	if (ret < 0) {
		node_free(root);
		return ret;
	}
	*out = cv_calloc(1, sizeof(**out));
	(*out)->root = root;
	return 0;
}

/* ---------------------------------------------------------------------
 * Canonical text: one spelling per meaning, so a new version of a rule
 * is recorded only when its meaning changed.
 */

static void add_offset(struct cv_buf *b, int v, char unit)
{
	if (v)
		cv_buf_addf(b, " %c %d%c", v < 0 ? '-' : '+', v < 0 ? -v : v,
			    unit);
}

static void format_node(struct cv_buf *b, const struct node *n)
{
	size_t i;

	switch (n->type) {
	case N_PERMANENT:
		cv_buf_adds(b, "permanent");
		return;
	case N_ANCHOR:
		cv_buf_adds(b, anchor_names[n->anchor]);
		if (n->age)
			cv_buf_addf(b, "(%d)", n->age);
		break;
	default:
		cv_buf_adds(b, func_names[n->type - N_MAX]);
		cv_buf_addch(b, '(');
		for (i = 0; i < n->nkids; i++) {
			if (i)
				cv_buf_adds(b, ", ");
			format_node(b, n->kids[i]);
		}
		cv_buf_addch(b, ')');
		break;
	}
	add_offset(b, n->years, 'y');
	add_offset(b, n->months, 'm');
	add_offset(b, n->days, 'd');
}

char *cv_retention_expr_format(const struct cv_retention_expr *e)
{
	struct cv_buf b = CV_BUF_INIT;

	format_node(&b, e->root);
	return cv_buf_detach(&b, NULL);
}

/* ---------------------------------------------------------------------
 * Civil dates as days since 1970-01-01 (H. Hinnant's algorithms), valid
 * far beyond any record's life.
 */

static int32_t days_from_civil(int y, int m, int d)
{
	int era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int32_t)(era * 146097 + doe - 719468);
}

static void civil_from_days(int32_t z, int *y, int *m, int *d)
{
	int era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

static int leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int len[12] = { 31, 28, 31, 30, 31, 30,
				     31, 31, 30, 31, 30, 31 };

	return m == 2 && leap(y) ? 29 : len[m - 1];
}

int cv_retention_date_parse(int32_t *day, const char *s)
{
	int y, m, d;

	*day = CV_RETENTION_NODATE;
	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return CV_EINVAL;
	for (y = 0; y < 10; y++)
		if (y != 4 && y != 7 && !isdigit((unsigned char)s[y]))
			return CV_EINVAL;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1800 || y > 2999 || m < 1 || m > 12 || d < 1 ||
	    d > month_days(y, m))
		return CV_EINVAL;
	*day = days_from_civil(y, m, d);
	return 0;
}

void cv_retention_date_format(char out[11], int32_t day)
{
	int y, m, d;

	civil_from_days(day, &y, &m, &d);
	if (y < 0 || y > 9999)
		y = 0;
	snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u,
		 (unsigned)m % 100u, (unsigned)d % 100u);
}

/*
 * Calendar arithmetic: years and months move the calendar date, and a day
 * that does not exist in the target month (29 February, 31 April) becomes
 * the month's last day, so "+ 1y" from a leap day is 28 February, never a
 * day early into March's count.
 */
int32_t cv_retention_date_add(int32_t day, int years, int months, int days)
{
	int y, m, d, total;

	civil_from_days(day, &y, &m, &d);
	total = y * 12 + (m - 1) + years * 12 + months;
	y = total / 12;
	m = total % 12 + 1;
	if (d > month_days(y, m))
		d = month_days(y, m);
	return days_from_civil(y, m, d) + days;
}

/* ---------------------------------------------------------------------
 * Evaluation
 */

static int kind_rank(const struct cv_retention_value *v)
{
	switch (v->kind) {
	case CV_RETENTION_DATE:
		return 0;
	case CV_RETENTION_WAITING:
		return 1;
	case CV_RETENTION_UNKNOWN:
		return 2;
	default:
		return 3;
	}
}

/* -1, 0, 1: a before, equal to, after b in the order of the header. */
static int value_cmp(const struct cv_retention_value *a,
		     const struct cv_retention_value *b)
{
	int ra = kind_rank(a), rb = kind_rank(b);

	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (ra == 0 && a->day != b->day)
		return a->day < b->day ? -1 : 1;
	return 0;
}

static const char *missing_reason(enum anchor a)
{
	switch (a) {
	case A_LAST_ENCOUNTER:
	case A_DISCHARGE:
		return "no encounter recorded for the patient";
	case A_LAST_ENTRY:
	case A_SERVICE:
		return "no date of service on the record";
	case A_CREATION:
		return "no creation date";
	default:
		return "no date of birth for the patient";
	}
}

static void eval_anchor(const struct node *n,
			const struct cv_retention_anchors *a,
			struct cv_retention_value *v)
{
	int32_t d = CV_RETENTION_NODATE;
	int age;

	switch (n->anchor) {
	case A_LAST_ENCOUNTER:
		d = a->last_encounter;
		break;
	case A_DISCHARGE:
		d = a->discharge;
		break;
	case A_LAST_ENTRY:
		d = a->last_entry;
		break;
	case A_SERVICE:
		d = a->service;
		break;
	case A_CREATION:
		d = a->creation;
		break;
	case A_BIRTH:
		d = a->birth;
		break;
	case A_DEATH:
		if (a->death == CV_RETENTION_NODATE) {
			v->kind = CV_RETENTION_WAITING;
			snprintf(v->why, sizeof(v->why),
				 "waits for a date of death");
			return;
		}
		d = a->death;
		break;
	case A_MAJORITY:
		age = n->age ? n->age : a->majority_age;
		if (a->birth != CV_RETENTION_NODATE)
			d = cv_retention_date_add(a->birth, age, 0, 0);
		break;
	}
	if (d == CV_RETENTION_NODATE) {
		v->kind = CV_RETENTION_UNKNOWN;
		snprintf(v->why, sizeof(v->why), "%s",
			 missing_reason(n->anchor));
		return;
	}
	v->kind = CV_RETENTION_DATE;
	v->day = d;
}

static void eval_node(const struct node *n,
		      const struct cv_retention_anchors *a,
		      struct cv_retention_value *v)
{
	struct cv_retention_value k;
	size_t i;

	memset(v, 0, sizeof(*v));
	switch (n->type) {
	case N_PERMANENT:
		v->kind = CV_RETENTION_PERMANENT;
		snprintf(v->why, sizeof(v->why), "kept permanently");
		return;
	case N_ANCHOR:
		eval_anchor(n, a, v);
		break;
	case N_COALESCE:
		/* The first operand that is a date; else the last one. */
		for (i = 0; i < n->nkids; i++) {
			eval_node(n->kids[i], a, v);
			if (v->kind == CV_RETENTION_DATE)
				break;
		}
		break;
	default:
		eval_node(n->kids[0], a, v);
		for (i = 1; i < n->nkids; i++) {
			int c;

			eval_node(n->kids[i], a, &k);
			c = value_cmp(&k, v);
			if ((n->type == N_MAX && c > 0) ||
			    (n->type != N_MAX && c < 0))
				*v = k;
		}
		break;
	}
	if (v->kind == CV_RETENTION_DATE)
		v->day = cv_retention_date_add(v->day, n->years, n->months,
					       n->days);
}

void cv_retention_eval(const struct cv_retention_expr *e,
		       const struct cv_retention_anchors *a,
		       struct cv_retention_value *out)
{
	eval_node(e->root, a, out);
}

int cv_retention_value_cmp(const struct cv_retention_value *a,
			   const struct cv_retention_value *b)
{
	return value_cmp(a, b);
}
