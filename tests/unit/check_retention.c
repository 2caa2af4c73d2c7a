/*
 * Unit tests for the retention expression language (index/retention_expr.c):
 * each combinator, minors through the age of majority, death, permanent,
 * the order that keeps a missing fact from making a record eligible early,
 * calendar arithmetic, canonical text, and errors that name the column.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/cv.h"
#include "index/index.h"
#include "common/banned.h"

static int32_t day(const char *s)
{
	int32_t d;

	ck_assert_msg(cv_retention_date_parse(&d, s) == 0, "bad date %s", s);
	return d;
}

/* An adult seen in 2010 and discharged in 2010, born 1960, alive. */
static struct cv_retention_anchors adult(void)
{
	struct cv_retention_anchors a;

	a.birth = day("1960-05-10");
	a.death = CV_RETENTION_NODATE;
	a.last_encounter = day("2010-03-02");
	a.discharge = day("2010-03-09");
	a.last_entry = day("2010-03-09");
	a.service = day("2010-03-02");
	a.creation = day("2024-01-15");
	a.majority_age = 18;
	return a;
}

/* A child born 2008, discharged 2012. */
static struct cv_retention_anchors minor(void)
{
	struct cv_retention_anchors a = adult();

	a.birth = day("2008-07-01");
	a.last_encounter = a.service = day("2012-06-01");
	a.discharge = a.last_entry = day("2012-06-04");
	return a;
}

/* Evaluate text over a; the result as "YYYY-MM-DD" or its kind. */
static const char *eval(const char *text, const struct cv_retention_anchors *a)
{
	static char out[16];
	struct cv_error err = CV_ERROR_INIT;
	struct cv_retention_expr *e = NULL;
	struct cv_retention_value v;

	ck_assert_msg(cv_retention_parse(&e, text, &err) == 0, "%s: %s", text,
		      err.msg);
	cv_retention_eval(e, a, &v);
	cv_retention_expr_free(e);
	switch (v.kind) {
	case CV_RETENTION_DATE:
		cv_retention_date_format(out, v.day);
		break;
	case CV_RETENTION_WAITING:
		snprintf(out, sizeof(out), "waiting");
		break;
	case CV_RETENTION_UNKNOWN:
		snprintf(out, sizeof(out), "unknown");
		break;
	default:
		snprintf(out, sizeof(out), "permanent");
		break;
	}
	return out;
}

START_TEST(test_retention_anchor_offsets)
{
	struct cv_retention_anchors a = adult();

	ck_assert_str_eq(eval("last_encounter + 10y", &a), "2020-03-02");
	ck_assert_str_eq(eval("discharge + 10 years", &a), "2020-03-09");
	ck_assert_str_eq(eval("service + 6m + 30d", &a), "2010-10-02");
	ck_assert_str_eq(eval("creation", &a), "2024-01-15");
	ck_assert_str_eq(eval("last_entry - 1y", &a), "2009-03-09");
	ck_assert_str_eq(eval("(discharge + 1y) + 2y", &a), "2013-03-09");
}
END_TEST

START_TEST(test_retention_combinators)
{
	struct cv_retention_anchors a = adult();

	/* "whichever is later" / "whichever is first" / "not to exceed" */
	ck_assert_str_eq(eval("max(discharge + 10y, creation + 1y)", &a),
			 "2025-01-15");
	ck_assert_str_eq(eval("min(discharge + 10y, creation + 1y)", &a),
			 "2020-03-09");
	ck_assert_str_eq(eval("cap(creation + 10y, discharge + 25y)", &a),
			 "2034-01-15");
	ck_assert_str_eq(eval("cap(creation + 30y, discharge + 25y)", &a),
			 "2035-03-09");
	ck_assert_str_eq(eval("max(service, discharge, last_entry + 1d)", &a),
			 "2010-03-10");
	/* An offset applies to the combinator's result. */
	ck_assert_str_eq(eval("max(service, discharge) + 1y", &a),
			 "2011-03-09");
}
END_TEST

START_TEST(test_retention_minors_and_majority)
{
	struct cv_retention_anchors a = minor();

	/* Age of majority + statute of limitations (3 y). */
	ck_assert_str_eq(eval("majority + 3y", &a), "2029-07-01");
	/* A state example: 10 y after discharge; minors the longer of
	 * majority + 1 y and 10 y. */
	ck_assert_str_eq(eval("max(discharge + 10y, majority + 1y)", &a),
			 "2027-07-01");
	/* Per-jurisdiction ages: the rule's, or the expression's own. */
	a.majority_age = 19;
	ck_assert_str_eq(eval("majority", &a), "2027-07-01");
	ck_assert_str_eq(eval("majority(21) + 1y", &a), "2030-07-01");
	/* For an adult the majority term is long past and drops out. */
	a = adult();
	ck_assert_str_eq(eval("max(discharge + 10y, majority + 1y)", &a),
			 "2020-03-09");
}
END_TEST

START_TEST(test_retention_death_and_permanent)
{
	struct cv_retention_anchors a = adult();

	ck_assert_str_eq(eval("death + 5y", &a), "waiting");
	ck_assert_str_eq(eval("min(death + 5y, discharge + 10y)", &a),
			 "2020-03-09");
	ck_assert_str_eq(eval("max(death + 5y, discharge + 10y)", &a),
			 "waiting");
	a.death = day("2015-02-28");
	ck_assert_str_eq(eval("death + 5y", &a), "2020-02-28");
	ck_assert_str_eq(eval("max(death + 5y, discharge + 10y)", &a),
			 "2020-03-09");
	ck_assert_str_eq(eval("permanent", &a), "permanent");
	ck_assert_str_eq(eval("max(permanent, discharge)", &a), "permanent");
	ck_assert_str_eq(eval("min(permanent, discharge)", &a), "2010-03-09");
	ck_assert_str_eq(eval("cap(permanent, creation + 6y)", &a),
			 "2030-01-15");
}
END_TEST

/*
 * A missing anchor is unknown: later than any date and any wait, so max
 * keeps it (never eligible), while min and cap pass over it only to a real
 * date, which is never before the true answer.
 */
START_TEST(test_retention_missing_never_early)
{
	struct cv_retention_anchors a = adult();

	a.birth = CV_RETENTION_NODATE;
	ck_assert_str_eq(eval("majority + 3y", &a), "unknown");
	ck_assert_str_eq(eval("max(discharge + 10y, majority + 1y)", &a),
			 "unknown");
	ck_assert_str_eq(eval("min(discharge + 10y, majority + 1y)", &a),
			 "2020-03-09");
	ck_assert_str_eq(eval("max(permanent, birth)", &a), "permanent");
	ck_assert_str_eq(eval("max(death, birth)", &a), "unknown");
	a.last_encounter = a.discharge = CV_RETENTION_NODATE;
	ck_assert_str_eq(eval("last_encounter + 10y", &a), "unknown");
	ck_assert_str_eq(eval("coalesce(last_encounter, last_entry) + 10y", &a),
			 "2020-03-09");
	ck_assert_str_eq(eval("coalesce(last_encounter, discharge)", &a),
			 "unknown");
}
END_TEST

START_TEST(test_retention_calendar)
{
	char out[11];

	/* A leap day plus a year is 28 February, not 1 March. */
	cv_retention_date_format(
		out, cv_retention_date_add(day("2012-02-29"), 1, 0, 0));
	ck_assert_str_eq(out, "2013-02-28");
	cv_retention_date_format(
		out, cv_retention_date_add(day("2012-02-29"), 4, 0, 0));
	ck_assert_str_eq(out, "2016-02-29");
	cv_retention_date_format(
		out, cv_retention_date_add(day("2023-01-31"), 0, 1, 0));
	ck_assert_str_eq(out, "2023-02-28");
	cv_retention_date_format(
		out, cv_retention_date_add(day("1999-12-31"), 0, 0, 1));
	ck_assert_str_eq(out, "2000-01-01");
	cv_retention_date_format(out, day("1970-01-01"));
	ck_assert_str_eq(out, "1970-01-01");
	ck_assert_int_eq(day("1970-01-02"), 1);
	{
		int32_t d;

		ck_assert_int_eq(cv_retention_date_parse(&d, "2023-02-29"),
				 CV_EINVAL);
		ck_assert_int_eq(cv_retention_date_parse(&d, "2023-2-01"),
				 CV_EINVAL);
		ck_assert_int_eq(cv_retention_date_parse(&d, "20x3-02-01"),
				 CV_EINVAL);
		ck_assert_int_eq(cv_retention_date_parse(&d, NULL), CV_EINVAL);
	}
}
END_TEST

START_TEST(test_retention_canonical_text)
{
	struct cv_error err = CV_ERROR_INIT;
	struct cv_retention_expr *e = NULL;
	char *s;

	ck_assert_int_eq(cv_retention_parse(&e,
					    "  MAX(discharge+10 years,"
					    "majority( 19 )+1y)",
					    &err),
			 CV_EINVAL);
	ck_assert_int_eq(cv_retention_parse(&e,
					    "  max(discharge+10 years,"
					    "majority( 19 )+1y - 2d)",
					    &err),
			 0);
	s = cv_retention_expr_format(e);
	ck_assert_str_eq(s, "max(discharge + 10y, majority(19) + 1y - 2d)");
	free(s);
	cv_retention_expr_free(e);
}
END_TEST

/* Each bad expression fails with CV_EINVAL and names what is wrong. */
START_TEST(test_retention_errors_name_the_column)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "", "empty" },
		{ "   ", "empty" },
		{ "last_encountr + 10y",
		  "column 1: unknown word 'last_encountr'" },
		{ "discharge + 10", "column 15: a duration needs a unit" },
		{ "discharge + y", "column 13: expected a number" },
		{ "discharge + 10w", "column 15: a duration needs a unit" },
		{ "max(discharge)", "two or more arguments" },
		{ "cap(discharge, service, creation)", "cap takes two" },
		{ "max(discharge, service", "expected ')'" },
		{ "discharge service", "column 11: unexpected text" },
		{ "permanent + 1y", "'permanent' takes no offset" },
		{ "majority(40)", "from 14 to 25" },
		{ "discharge + 99999y", "number too large" },
		{ "discharge + 300y", "more than 200 years" },
		{ "discharge; drop table", "column 10: unexpected text" },
		{ "discharge + 10y\x01", "only ASCII letters" },
		{ "max(", "ends too soon" },
		{ "10y", "expected an anchor" },
	};
	struct cv_error err = CV_ERROR_INIT;
	struct cv_retention_expr *e = NULL;
	struct cv_buf deep = CV_BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cv_error_clear(&err);
		ck_assert_msg(cv_retention_parse(&e, cases[i].text, &err) ==
				      CV_EINVAL,
			      "'%s' was accepted", cases[i].text);
		ck_assert_ptr_null(e);
		ck_assert_msg(strstr(err.msg, cases[i].want),
			      "'%s': message '%s' lacks '%s'", cases[i].text,
			      err.msg, cases[i].want);
	}
	/* Nesting is bounded, and so is length. */
	for (i = 0; i < 40; i++)
		cv_buf_adds(&deep, "max(discharge, ");
	cv_buf_adds(&deep, "service");
	for (i = 0; i < 40; i++)
		cv_buf_adds(&deep, ")");
	ck_assert_int_eq(cv_retention_parse(&e, deep.buf, &err), CV_EINVAL);
	ck_assert(strstr(err.msg, "nested more than 32"));
	cv_buf_reset(&deep);
	for (i = 0; i < 300; i++)
		cv_buf_adds(&deep, "min(");
	ck_assert_int_eq(cv_retention_parse(&e, deep.buf, &err), CV_ELIMIT);
	cv_buf_release(&deep);
}
END_TEST

/* A small rule set, parsed, for the choice tests. */
static struct cv_retention_rule rules[8];
static struct cv_retention_expr *exprs[8];

static void rule(int i, const char *id, const char *types, const char *cat,
		 int majority, const char *expr)
{
	struct cv_error err = CV_ERROR_INIT;

	memset(&rules[i], 0, sizeof(rules[i]));
	snprintf(rules[i].id, sizeof(rules[i].id), "%s", id);
	rules[i].version = 1;
	rules[i].doc_types = (char *)types;
	snprintf(rules[i].category, sizeof(rules[i].category), "%s", cat);
	rules[i].majority_age = majority;
	rules[i].expr = (char *)expr;
	cv_retention_expr_free(exprs[i]);
	exprs[i] = NULL;
	if (expr)
		ck_assert_msg(cv_retention_parse(&exprs[i], expr, &err) == 0,
			      "%s", err.msg);
}

static void rules_setup(void)
{
	rule(0, "generic-adult", NULL, "adult", 18, "discharge + 10y");
	rule(1, "generic-minor", NULL, "minor", 18, "majority + 3y");
	rule(2, "images-adult", "18748-4,diagnostic-image", "adult", 18,
	     "service + 5y");
	rule(3, "images-any", "18748-4", "any", 18, "service + 7y");
	rule(4, "mpi", "mpi", "any", 18, "permanent");
	rule(5, "overlap", NULL, "adult", 18, "discharge + 12y");
	rule(6, "retired", NULL, "any", 18, NULL);
}

static void rules_teardown(void)
{
	size_t i;

	for (i = 0; i < 8; i++) {
		cv_retention_expr_free(exprs[i]);
		exprs[i] = NULL;
	}
}

/* The chosen rule's id and its result, as "id=YYYY-MM-DD" or "id=kind". */
static const char *choice(size_t n, const char *type,
			  const struct cv_retention_anchors *a)
{
	static char out[96];
	struct cv_retention_value v;
	const struct cv_retention_rule *r;
	char d[11];

	r = cv_retention_choose(rules, exprs, n, type, a, &v);
	if (v.kind == CV_RETENTION_DATE)
		cv_retention_date_format(d, v.day);
	snprintf(out, sizeof(out), "%s=%s", r ? r->id : "none",
		 v.kind == CV_RETENTION_DATE        ? d
		 : v.kind == CV_RETENTION_UNKNOWN   ? "unknown"
		 : v.kind == CV_RETENTION_PERMANENT ? "permanent"
						    : "waiting");
	return out;
}

START_TEST(test_retention_choice_specific_and_longest)
{
	struct cv_retention_anchors a = adult(), m = minor();

	/* Two generic adult rules: the longer keeps the record. */
	ck_assert_str_eq(choice(7, "11506-3", &a), "overlap=2022-03-09");
	/* A rule naming the type beats the generic ones, even if shorter. */
	ck_assert_str_eq(choice(7, "18748-4", &a), "images-adult=2015-03-02");
	ck_assert_str_eq(choice(7, "diagnostic-image", &a),
			 "images-adult=2015-03-02");
	/* A minor's image: the adult image rule does not fit; the typed
	 * "any" rule beats the generic minor rule. */
	ck_assert_str_eq(choice(7, "18748-4", &m), "images-any=2019-06-01");
	ck_assert_str_eq(choice(7, "11506-3", &m), "generic-minor=2029-07-01");
	ck_assert_str_eq(choice(7, "mpi", &a), "mpi=permanent");
	/* Retired rules never apply; no rule: none. */
	ck_assert_str_eq(choice(1, "mpi", &m), "none=unknown");
}
END_TEST

START_TEST(test_retention_choice_without_birth_date)
{
	struct cv_retention_anchors a = adult();

	/* Minor or adult cannot be told: both count, and the minor rule's
	 * unknown majority keeps the record. */
	a.birth = CV_RETENTION_NODATE;
	ck_assert_str_eq(choice(7, "11506-3", &a), "generic-minor=unknown");
	ck_assert_str_eq(choice(7, "18748-4", &a), "images-any=2017-03-02");
}
END_TEST

START_TEST(test_retention_choice_majority_per_rule)
{
	struct cv_retention_anchors a = adult();

	/* Nineteen at the last encounter: adult where majority is 18, a
	 * minor where it is 21. */
	a.birth = day("1991-01-01");
	rule(0, "adult-18", NULL, "adult", 18, "discharge + 1y");
	rule(1, "minor-21", NULL, "minor", 21, "majority + 1y");
	ck_assert_str_eq(choice(2, "11506-3", &a), "minor-21=2013-01-01");
	rule(1, "minor-21", NULL, "minor", 19, "majority + 1y");
	ck_assert_str_eq(choice(2, "11506-3", &a), "adult-18=2011-03-09");
}
END_TEST

Suite *cv_retention_suite(void)
{
	Suite *s = suite_create("retention");
	TCase *tc = tcase_create("expressions");

	tcase_add_test(tc, test_retention_anchor_offsets);
	tcase_add_test(tc, test_retention_combinators);
	tcase_add_test(tc, test_retention_minors_and_majority);
	tcase_add_test(tc, test_retention_death_and_permanent);
	tcase_add_test(tc, test_retention_missing_never_early);
	tcase_add_test(tc, test_retention_calendar);
	tcase_add_test(tc, test_retention_canonical_text);
	tcase_add_test(tc, test_retention_errors_name_the_column);
	suite_add_tcase(s, tc);

	tc = tcase_create("choice");
	tcase_add_checked_fixture(tc, rules_setup, rules_teardown);
	tcase_add_test(tc, test_retention_choice_specific_and_longest);
	tcase_add_test(tc, test_retention_choice_without_birth_date);
	tcase_add_test(tc, test_retention_choice_majority_per_rule);
	suite_add_tcase(s, tc);
	return s;
}
