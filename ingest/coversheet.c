/*
 * Printing cover and separator sheets: a letter page at 300 dpi with the
 * QR code (libqrencode) that ingest reads, and a block of the same facts
 * in print for the clerk. A cover sheet starts a new document carrying
 * its MRN, document type and date; a separator sheet only starts one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>
#include <qrencode.h>

#include "ingest_int.h"
#include "../common/banned.h"

#define PAGE_W    2550 /* US letter at 300 dpi */
#define PAGE_H    3300
#define MODULE_PX 14  /* a QR module, about 1.2 mm: reads after a fax */
#define QUIET     4   /* modules of white around the code */
#define FONT_PT   20  /* Leptonica's built-in font, about 10 pt here */
#define MARGIN    300 /* one inch */

static int draw_qr(PIX *page, const char *payload, int top,
		   struct cv_error *err)
{
	QRcode *qr =
		QRcode_encodeString(payload, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	int size, x0, x, y;

	if (!qr)
		return cv_error_errno(err, CV_ERROR,
				      "could not make the sheet's QR code");
	size = (qr->width + 2 * QUIET) * MODULE_PX;
	x0 = (PAGE_W - size) / 2;
	for (y = 0; y < qr->width; y++)
		for (x = 0; x < qr->width; x++)
			if (qr->data[y * qr->width + x] & 1)
				pixRasterop(page, x0 + (x + QUIET) * MODULE_PX,
					    top + (y + QUIET) * MODULE_PX,
					    MODULE_PX, MODULE_PX, PIX_SET, NULL,
					    0, 0);
	QRcode_free(qr);
	return top + size;
}

/*
 * One line of text at scale times the font's size, at x (or centred when
 * x < 0); returns the y below it. Leptonica's text blocks run lines
 * together, so each fact gets its own line.
 */
static int draw_line(PIX *page, L_BMF *font, const char *text, int x, int y,
		     float scale)
{
	PIX *small, *big;
	l_int32 width = 0, overflow;

	if (bmfGetStringWidth(font, text, &width) || width <= 0)
		return y;
	small = pixCreate(width + 20, font->lineheight + 10, 1);
	if (!small)
		return y;
	pixSetTextline(small, font, text, 1, 0, font->baselinetab[(int)'A'] + 5,
		       NULL, &overflow);
	/* A long name or type shrinks to fit inside the margins. */
	if ((float)(width + 20) * scale > (float)(PAGE_W - 2 * MARGIN))
		scale = (float)(PAGE_W - 2 * MARGIN) / (float)(width + 20);
	big = pixScale(small, scale, scale);
	if (big) {
		if (x < 0)
			x = (PAGE_W - pixGetWidth(big)) / 2;
		pixRasterop(page, x, y, pixGetWidth(big), pixGetHeight(big),
			    PIX_PAINT, big, 0, 0);
		y += pixGetHeight(big);
	}
	pixDestroy(&big);
	pixDestroy(&small);
	return y;
}

int cv_ingest_sheet_render(const struct cv_ingest_cover *c,
			   const char *patient_name, struct Pix **out,
			   struct cv_error *err)
{
	struct cv_buf text = CV_BUF_INIT;
	char *payload = NULL;
	L_BMF *font = NULL;
	PIX *page = NULL;
	l_int32 overflow = 0;
	int y, ret;

	*out = NULL;
	font = bmfCreate(NULL, FONT_PT);
	page = pixCreate(PAGE_W, PAGE_H, 1);
	if (!font || !page) {
		ret = cv_error_set(err, CV_ERROR,
				   "could not set up the sheet's page or font");
		goto cleanup;
	}
	pixSetResolution(page, 300, 300);
	y = draw_line(page, font,
		      c ? "CHARTVAULT COVER SHEET"
			: "CHARTVAULT SEPARATOR SHEET",
		      -1, 200, 2.0f);
	payload = c ? cv_ingest_cover_payload(c) : cv_strdup("separator");
	y = draw_qr(page, payload, y + 100, err);
	if (y < 0) {
		ret = y;
		goto cleanup;
	}
	y += 100;
	if (c) {
		char line[256];

		snprintf(line, sizeof(line), "MRN: %s", c->mrn);
		y = draw_line(page, font, line, MARGIN, y, 2.0f);
		if (patient_name && *patient_name) {
			snprintf(line, sizeof(line), "Patient: %.120s",
				 patient_name);
			y = draw_line(page, font, line, MARGIN, y, 2.0f);
		}
		snprintf(line, sizeof(line), "Type: %s (LOINC %s)",
			 cv_ingest_doc_type_name(c->doc_type), c->doc_type);
		y = draw_line(page, font, line, MARGIN, y, 2.0f);
		if (c->service_date[0]) {
			snprintf(line, sizeof(line), "Date of service: %s",
				 c->service_date);
			y = draw_line(page, font, line, MARGIN, y, 2.0f);
		}
		if (c->encounter[0]) {
			snprintf(line, sizeof(line), "Encounter: %s",
				 c->encounter);
			y = draw_line(page, font, line, MARGIN, y, 2.0f);
		}
		cv_buf_adds(
			&text,
			"Place this sheet on top of the document it describes. "
			"It starts a new document with these facts and is not "
			"filed as a page.");
	} else {
		cv_buf_adds(
			&text,
			"Place this sheet between two documents. It starts a "
			"new document and is not filed as a page.");
	}
	pixSetTextblock(page, font, text.buf, 1, MARGIN, y + 150,
			PAGE_W - 2 * MARGIN, 0, &overflow);
	*out = page;
	page = NULL;
	ret = 0;
cleanup:
	pixDestroy(&page);
	bmfDestroy(&font);
	free(payload);
	cv_buf_release(&text);
	return ret;
}

int cv_ingest_sheet_render_text(const char *title, const char *code,
				const char *text, const char *footer,
				struct Pix **out, struct cv_error *err)
{
	L_BMF *font = NULL;
	PIX *page = NULL;
	char *copy = NULL, *line, *save = NULL;
	l_int32 overflow = 0;
	int y, ret;

	*out = NULL;
	font = bmfCreate(NULL, FONT_PT);
	page = pixCreate(PAGE_W, PAGE_H, 1);
	if (!font || !page) {
		ret = cv_error_set(err, CV_ERROR,
				   "could not set up the sheet's page or font");
		goto cleanup;
	}
	pixSetResolution(page, 300, 300);
	y = draw_line(page, font, title, -1, 200, 2.0f);
	y = draw_qr(page, code, y + 60, err);
	if (y < 0) {
		ret = y;
		goto cleanup;
	}
	y += 60;
	/* Each line on its own, at the font's size: they are typed back. */
	copy = cv_strdup(text);
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		y = draw_line(page, font, line, MARGIN / 2, y + 10, 1.0f);
	if (footer)
		pixSetTextblock(page, font, footer, 1, MARGIN, y + 100,
				PAGE_W - 2 * MARGIN, 0, &overflow);
	*out = page;
	page = NULL;
	ret = 0;
cleanup:
	if (copy) {
		cv_wipe(copy, strlen(text));
		free(copy);
	}
	pixDestroy(&page);
	bmfDestroy(&font);
	return ret;
}
