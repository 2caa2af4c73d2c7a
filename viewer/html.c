/*
 * HTML output. Everything that did not come from this file's own string
 * constants goes through vw_esc: OCR text, names, queries, ids. The one
 * escape serves text and double- or single-quoted attributes alike, so
 * no caller has to choose.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viewer_int.h"
#include "common/banned.h"

void vw_escn(struct cv_buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		switch (ch) {
		case '&':
			cv_buf_adds(b, "&amp;");
			break;
		case '<':
			cv_buf_adds(b, "&lt;");
			break;
		case '>':
			cv_buf_adds(b, "&gt;");
			break;
		case '"':
			cv_buf_adds(b, "&quot;");
			break;
		case '\'':
			cv_buf_adds(b, "&#39;");
			break;
		default:
			/* Controls other than white space have no place in
			 * a page; NUL would end it early. */
			if (ch < 0x20 && ch != '\n' && ch != '\t')
				cv_buf_addch(b, ' ');
			else
				cv_buf_addch(b, ch);
		}
	}
}

void vw_esc(struct cv_buf *b, const char *s)
{
	if (s)
		vw_escn(b, s, strlen(s));
}

void vw_urlesc(struct cv_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.' || ch == '~') {
			cv_buf_addch(b, ch);
		} else {
			cv_buf_addch(b, '%');
			cv_buf_addch(b, hex[ch >> 4]);
			cv_buf_addch(b, hex[ch & 15]);
		}
	}
}

void vw_csrf_field(struct vw_req *r)
{
	cv_buf_adds(&r->out, "<input type=\"hidden\" name=\"csrf\" value=\"");
	vw_esc(&r->out, r->sess.csrf);
	cv_buf_adds(&r->out, "\">");
}

void vw_page_begin(struct vw_req *r, const char *title)
{
	struct cv_buf *b = &r->out;

	cv_buf_adds(b, "<!doctype html>\n<html lang=\"en\"><head>"
		       "<meta charset=\"utf-8\">"
		       "<meta name=\"viewport\" content=\"width=device-width, "
		       "initial-scale=1\"><title>");
	vw_esc(b, title);
	cv_buf_adds(b, " - chartvault</title>"
		       "<link rel=\"icon\" href=\"/static/icon.svg\">"
		       "<link rel=\"stylesheet\" href=\"/static/style.css\">"
		       "<script src=\"/static/viewer.js\" defer></script>"
		       "</head><body>"
		       "<a class=\"skip\" href=\"#main\">Skip to content</a>"
		       "<header class=\"top\"><a class=\"brand\" "
		       "href=\"/\">chartvault</a>");
	if (r->signed_in) {
		cv_buf_adds(b, "<nav aria-label=\"Main\"><ul>");
		vw_nav_items(r);
		cv_buf_adds(b, "</ul></nav><form class=\"signout\" "
			       "method=\"post\" action=\"/logout\">");
		vw_csrf_field(r);
		cv_buf_adds(b, "<span class=\"who\">");
		vw_esc(b, r->sess.user.name);
		cv_buf_adds(b, " (");
		vw_esc(b, r->sess.user.role);
		cv_buf_adds(b, ")</span> <button type=\"submit\">Sign "
			       "out</button></form>");
	}
	cv_buf_adds(b, "</header><main id=\"main\">");
}

void vw_page_end(struct vw_req *r)
{
	cv_buf_adds(&r->out, "</main></body></html>\n");
}

void vw_redirect(struct vw_req *r, const char *location)
{
	r->status = 303;
	free(r->location);
	r->location = cv_strdup(location);
	cv_buf_reset(&r->out);
}

void vw_error_page(struct vw_req *r, unsigned status, const char *msg)
{
	cv_buf_reset(&r->out);
	r->status = status;
	r->ctype = NULL;
	vw_page_begin(r, "Error");
	cv_buf_adds(&r->out, "<h1>");
	vw_esc(&r->out, status == 404 ? "Not found" : "Sorry");
	cv_buf_adds(&r->out, "</h1><p>");
	vw_esc(&r->out, msg);
	cv_buf_adds(&r->out, "</p>");
	vw_page_end(r);
}
