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

#define PAGE_W	  2550 /* US letter at 300 dpi */
#define PAGE_H	  3300
#define MODULE_PX 14   /* a QR module, about 1.2 mm: reads after a fax */
#define QUIET	  4    /* modules of white around the code */
#define FONT_PT	  20   /* Leptonica's built-in font, about 10 pt here */

static int draw_qr(PIX *page, const char *payload, int top,
		   struct cv_error *err)
{
	QRcode *qr = QRcode_encodeString(payload, 0, QR_ECLEVEL_M, QR_MODE_8,
					 1);
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

/* Text at twice the font's size, for the sheet's title. */
static void draw_title(PIX *page, L_BMF *font, const char *title, int top)
{
	PIX *small = pixCreate(PAGE_W / 2, font->lineheight + 20, 1), *big;
	l_int32 overflow;

	if (!small)
		return;
	pixSetTextline(small, font, title, 1, 0, font->baselinetab[(int)'A'] + 10,
		       NULL, &overflow);
	big = pixScale(small, 2.0f, 2.0f);
	if (big)
		pixRasterop(page, 200, top, pixGetWidth(big), pixGetHeight(big),
			    PIX_PAINT, big, 0, 0);
	pixDestroy(&big);
	pixDestroy(&small);
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
	draw_title(page, font,
		   c ? "CHARTVAULT COVER SHEET" : "CHARTVAULT SEPARATOR SHEET",
		   200);
	payload = c ? cv_ingest_cover_payload(c) : cv_strdup("separator");
	y = draw_qr(page, payload, 450, err);
	if (y < 0) {
		ret = y;
		goto cleanup;
	}
	if (c) {
		cv_buf_addf(&text, "MRN: %s\n", c->mrn);
		if (patient_name && *patient_name)
			cv_buf_addf(&text, "Patient: %s\n", patient_name);
		cv_buf_addf(&text, "Document type: %s (LOINC %s)\n",
			    cv_ingest_doc_type_name(c->doc_type), c->doc_type);
		if (c->service_date[0])
			cv_buf_addf(&text, "Date of service: %s\n",
				    c->service_date);
		if (c->encounter[0])
			cv_buf_addf(&text, "Encounter: %s\n", c->encounter);
		cv_buf_adds(&text, "\nPlace this sheet on top of the document it describes. "
				   "It starts a new document with these facts and is not "
				   "filed as a page.");
	} else {
		cv_buf_adds(&text, "Place this sheet between two documents. It starts a "
				   "new document and is not filed as a page.");
	}
	pixSetTextblock(page, font, text.buf, 1, 300, y + 150, PAGE_W - 600, 0,
			&overflow);
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
