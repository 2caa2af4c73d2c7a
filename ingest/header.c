/*
 * Who the page header says the patient is, read off the word boxes
 * rather than the page's running text.
 *
 * Tesseract's layout analysis may take a line of widely spaced fields,
 * "Patient: DIMMOCK, ULRIC   MRN: 90008505   DOB: 12/04/1971", for
 * columns when the page below it has aligned columns; the text then
 * carries the date far from its label, or the label alone. So the header
 * is rebuilt from the words' positions, line by line as printed, and the
 * identity patterns (facts.c) read that.
 *
 * A second, enlarged OCR pass over the header strip when a field read
 * unsure was tried and left out: on the identity bench (bench/identity.sh)
 * it fixed nothing that this reading does not, broke one MRN, and cost a
 * few percent more ingest time. What OCR still misreads is checked
 * against the patient index when the batch is cut (identity.c, confirm).
 */
#include <stdlib.h>
#include <string.h>

#include "ingest_int.h"
#include "../ocr/ocr.h"
#include "../common/banned.h"

/* Headers sit at the top of a page: words whose middle is below this
 * share of the page height are body text. */
#define HEADER_SHARE 0.4

struct hword {
	int x, y, w, h;
	char *text; /* cleaned (clean_word); malloc'd */
	size_t len;
	int line;
};

/* Marks OCR reads off specks: quote marks and a degree sign. */
static const char *const marks[] = { "\xe2\x80\x98", "\xe2\x80\x99",
				     "\xe2\x80\x9c", "\xe2\x80\x9d",
				     "\xc2\xb0",     "'",
				     "\"",           "`" };

static size_t mark_at(const char *s)
{
	size_t i, k;

	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		k = strlen(marks[i]);
		if (!strncmp(s, marks[i], k))
			return k;
	}
	return 0;
}

static int is_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_alnum(int c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

/*
 * A word as OCR read it off a specked header, cleaned: quote marks kept
 * only between letters (O'Brien), a dash only between letters or digits
 * (Smith-Jones, 2024-03-14), specks read as '*', '~' or '_' dropped; a
 * bar read as a bracket or '!' read as the bar; and in a word of digits,
 * the letters OCR confuses with digits (O for 0, l or I for 1) read as
 * the digits. Returns the length written to out,
 * which has room for strlen(s) + 1.
 */
static size_t clean_word(const char *s, char *out)
{
	size_t n = 0, i, digits = 0, others = 0;
	size_t k;

	while (*s) {
		int prev = n ? (unsigned char)out[n - 1] : 0;

		if ((k = mark_at(s)) > 0) {
			if (is_alpha(prev) && is_alpha((unsigned char)s[k]))
				out[n++] = '\'';
			s += k;
		} else if (*s == '-') {
			if (is_alnum(prev) && is_alnum((unsigned char)s[1]))
				out[n++] = '-';
			s++;
		} else if (*s == '*' || *s == '~' || *s == '_') {
			s++;
		} else {
			out[n++] = *s++;
		}
	}
	out[n] = '\0';
	/* A bar between fields, as OCR reads it: "]", "{|", "!"; a speck
	 * read as a full stop on its own. */
	if (n && n <= 3 && strspn(out, "|[]{}!") == n) {
		out[0] = '|';
		out[n = 1] = '\0';
		return n;
	}
	if (n == 1 && out[0] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (out[i] >= '0' && out[i] <= '9')
			digits++;
		else if (strchr("OolI", out[i]))
			others++;
		else if (out[i] != '/' && out[i] != '-' && out[i] != '.')
			return n;
	}
	if (digits >= 2 && others && others < digits)
		for (i = 0; i < n; i++)
			if (strchr("OolI", out[i]))
				out[i] = out[i] == 'O' || out[i] == 'o' ? '0'
									: '1';
	return n;
}

static int by_middle(const void *a, const void *b)
{
	const struct hword *x = a, *y = b;
	int mx = x->y + x->h / 2, my = y->y + y->h / 2;

	return mx < my ? -1 : mx > my ? 1 : x->x - y->x;
}

static int by_line_then_x(const void *a, const void *b)
{
	const struct hword *x = a, *y = b;

	if (x->line != y->line)
		return x->line - y->line;
	return x->x - y->x;
}

static int numeric(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '/' && s[i] != '-')
			return 0;
	return len > 0;
}

/*
 * In a typewriter face a narrow digit stands alone in a wide cell, and
 * OCR reads "90002911" as "9000291 1", "01/11/1983" as "01/1 1/1983".
 * Two runs of digits closer than 0.4 of their height are one number: a
 * real space is a whole cell wide, about 0.6 of the height or more.
 * Words are in line order.
 */
static size_t join_split_numbers(struct hword *w, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (k > 0) {
			struct hword *prev = &w[k - 1];
			int h = prev->h > w[i].h ? prev->h : w[i].h;
			int gap = w[i].x - (prev->x + prev->w);

			if (prev->line == w[i].line && 5 * gap < 2 * h &&
			    numeric(prev->text, prev->len) &&
			    numeric(w[i].text, w[i].len)) {
				prev->text = cv_realloc(
					prev->text, prev->len + w[i].len + 1);
				memcpy(prev->text + prev->len, w[i].text,
				       w[i].len + 1);
				prev->len += w[i].len;
				prev->w = w[i].x + w[i].w - prev->x;
				free(w[i].text);
				continue;
			}
		}
		w[k++] = w[i];
	}
	return k;
}

/*
 * The words of r whose middle is above max_y as text, one line of text
 * per printed line, each line's words left to right.
 */
static void header_text(const struct cv_ocr_result *r, int max_y,
			struct cv_buf *out)
{
	struct hword *w = cv_calloc(r->nwords + 1, sizeof(*w));
	size_t i, n = 0;
	int line = -1, line_mid = 0, line_h = 0;

	for (i = 0; i < r->nwords; i++) {
		const struct cv_ocr_word *o = &r->words[i];
		char *text;
		size_t len;

		if (o->h <= 0 || o->y + o->h / 2 >= max_y)
			continue;
		text = cv_malloc(strlen(o->text) + 1);
		len = clean_word(o->text, text);
		if (!len) {
			free(text);
			continue;
		}
		w[n].x = o->x;
		w[n].y = o->y;
		w[n].w = o->w;
		w[n].h = o->h;
		w[n].text = text;
		w[n].len = len;
		n++;
	}
	qsort(w, n, sizeof(*w), by_middle);
	/* A word whose middle is within half a line of the line's first
	 * word is on that line: pages are deskewed before OCR. */
	for (i = 0; i < n; i++) {
		int mid = w[i].y + w[i].h / 2;

		if (line < 0 || abs(mid - line_mid) > line_h / 2) {
			line++;
			line_mid = mid;
			line_h = w[i].h;
		}
		w[i].line = line;
	}
	qsort(w, n, sizeof(*w), by_line_then_x);
	n = join_split_numbers(w, n);
	for (i = 0; i < n; i++) {
		if (i > 0)
			cv_buf_addch(out,
				     w[i].line == w[i - 1].line ? ' ' : '\n');
		cv_buf_add(out, w[i].text, w[i].len);
		free(w[i].text);
	}
	free(w);
}

void cv_ingest__read_header(const struct cv_ocr_result *ocr,
			    const struct cv_ingest__mrn_rules *rules,
			    struct cv_ingest_page_facts *out)
{
	struct cv_buf text = CV_BUF_INIT;

	header_text(ocr, (int)(ocr->height * HEADER_SHARE), &text);
	cv_ingest_page_facts(text.buf, out);
	cv_ingest__find_mrn(rules, text.buf, out);
	cv_buf_release(&text);
}
