/*
 * Barcodes on scanned pages (zbar): cover sheets and separator sheets
 * that cut a batch into documents, and patient-label barcodes whose MRN
 * is evidence of whose page it is.
 *
 * Only QR and Code 128 are looked for, on a half-size grey rendering of
 * the cleaned page: 25 ms a page here against 0.1 s at full size, a few
 * per cent of the page's OCR time, and both the cover sheet's QR and a
 * 300-dpi label's Code 128 still read.
 *
 * A cover sheet's QR holds lines of "key: value" after a header line:
 *
 *   CHARTVAULT COVER 1
 *   mrn: 90001234
 *   type: 18842-5
 *   date: 2025-03-05
 *   encounter: E-2025-0042
 *
 * mrn and type are required; a sheet that says "CHARTVAULT COVER" but
 * does not parse is reported, never half-trusted. A separator sheet's QR
 * says only "separator".
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>
#include <zbar.h>

#include "ingest_int.h"
#include "../common/banned.h"

#define COVER_MAGIC "CHARTVAULT COVER 1"
#define COVER_MAX   1024

int cv_ingest_cover_parse(const char *payload, struct cv_ingest_cover *c,
			  struct cv_error *err)
{
	char *copy, *line, *save = NULL;
	int first = 1, ret = 0;

	memset(c, 0, sizeof(*c));
	if (strlen(payload) > COVER_MAX)
		return cv_error_set(err, CV_EINVAL,
				    "cover sheet code is too long");
	copy = cv_strdup(payload);
	for (line = strtok_r(copy, "\r\n", &save); line && ret == 0;
	     line = strtok_r(NULL, "\r\n", &save)) {
		char *colon, *key, *value;

		if (first) {
			first = 0;
			if (strcmp(line, COVER_MAGIC))
				ret = cv_error_set(
					err, CV_EINVAL,
					"cover sheet code has an unknown header");
			continue;
		}
		colon = strchr(line, ':');
		if (!colon) {
			ret = cv_error_set(
				err, CV_EINVAL,
				"cover sheet code has a line without ':'");
			break;
		}
		*colon = '\0';
		key = line;
		for (value = colon + 1; *value == ' '; value++)
			;
		if (!strcmp(key, "mrn") && cv_ingest__valid_id(value, 1, 40))
			snprintf(c->mrn, sizeof(c->mrn), "%s", value);
		else if (!strcmp(key, "type") &&
			 strcmp(cv_ingest_doc_type_name(value), "other"))
			snprintf(c->doc_type, sizeof(c->doc_type), "%s", value);
		else if (!strcmp(key, "date") && cv_ingest__valid_date(value))
			snprintf(c->service_date, sizeof(c->service_date), "%s",
				 value);
		else if (!strcmp(key, "encounter") &&
			 cv_ingest__valid_id(value, 1, 40))
			snprintf(c->encounter, sizeof(c->encounter), "%s",
				 value);
		else
			ret = cv_error_set(
				err, CV_EINVAL,
				"cover sheet field '%.20s' is unknown or malformed",
				key);
	}
	if (ret == 0 && first)
		ret = cv_error_set(err, CV_EINVAL, "cover sheet code is empty");
	if (ret == 0 && (!c->mrn[0] || !c->doc_type[0]))
		ret = cv_error_set(
			err, CV_EINVAL,
			"cover sheet code lacks the MRN or the document type");
	free(copy);
	if (ret < 0)
		memset(c, 0, sizeof(*c));
	return ret;
}

char *cv_ingest_cover_payload(const struct cv_ingest_cover *c)
{
	struct cv_buf b = CV_BUF_INIT;

	cv_buf_addf(&b, "%s\nmrn: %s\ntype: %s\n", COVER_MAGIC, c->mrn,
		    c->doc_type);
	if (c->service_date[0])
		cv_buf_addf(&b, "date: %s\n", c->service_date);
	if (c->encounter[0])
		cv_buf_addf(&b, "encounter: %s\n", c->encounter);
	return cv_buf_detach(&b, NULL);
}

/* A label's code is an MRN and nothing else. */
static int label_mrn(const char *data, char *out, size_t n)
{
	if (!cv_ingest__valid_id(data, 5, 20))
		return 0;
	snprintf(out, n, "%s", data);
	return 1;
}

static void take_symbol(const char *data, struct cv_ingest_barcodes *bc)
{
	if (!strcmp(data, "separator")) {
		bc->sheet = CV_INGEST_SHEET_SEPARATOR;
		return;
	}
	if (!strncmp(data, "CHARTVAULT COVER", 16)) {
		struct cv_error ignore = CV_ERROR_INIT;

		bc->sheet = CV_INGEST_SHEET_COVER;
		snprintf(bc->payload, sizeof(bc->payload), "%s", data);
		bc->cover_ok =
			cv_ingest_cover_parse(data, &bc->cover, &ignore) == 0;
		return;
	}
	if (!bc->label_mrn[0])
		label_mrn(data, bc->label_mrn, sizeof(bc->label_mrn));
}

void cv_ingest__read_barcodes(struct Pix *pix, struct cv_ingest_barcodes *bc)
{
	zbar_image_scanner_t *scanner = NULL;
	zbar_image_t *image = NULL;
	const zbar_symbol_t *sym;
	PIX *gray = NULL;
	uint8_t *buf = NULL;
	l_uint32 *line;
	int w, h, wpl, x, y;

	memset(bc, 0, sizeof(*bc));
	if (pixGetDepth(pix) == 1)
		gray = pixScaleToGray2(pix);
	else if (pixGetDepth(pix) == 8)
		gray = pixScaleAreaMap2(pix);
	if (!gray)
		return;
	w = pixGetWidth(gray);
	h = pixGetHeight(gray);
	wpl = pixGetWpl(gray);
	buf = cv_malloc((size_t)w * (size_t)h);
	for (y = 0; y < h; y++) {
		line = pixGetData(gray) + (size_t)y * (size_t)wpl;
		for (x = 0; x < w; x++)
			buf[(size_t)y * (size_t)w + (size_t)x] =
				(uint8_t)GET_DATA_BYTE(line, x);
	}
	scanner = zbar_image_scanner_create();
	image = zbar_image_create();
	if (!scanner || !image)
		goto cleanup;
	zbar_image_scanner_set_config(scanner, 0, ZBAR_CFG_ENABLE, 0);
	zbar_image_scanner_set_config(scanner, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
	zbar_image_scanner_set_config(scanner, ZBAR_CODE128, ZBAR_CFG_ENABLE,
				      1);
	zbar_image_set_format(image, zbar_fourcc('Y', '8', '0', '0'));
	zbar_image_set_size(image, (unsigned)w, (unsigned)h);
	zbar_image_set_data(image, buf, (unsigned long)w * (unsigned long)h,
			    NULL);
	if (zbar_scan_image(scanner, image) <= 0)
		goto cleanup;
	for (sym = zbar_image_first_symbol(image); sym;
	     sym = zbar_symbol_next(sym)) {
		const char *data = zbar_symbol_get_data(sym);

		if (data && zbar_symbol_get_data_length(sym) == strlen(data))
			take_symbol(data, bc);
	}
cleanup:
	if (image)
		zbar_image_destroy(image);
	if (scanner)
		zbar_image_scanner_destroy(scanner);
	free(buf);
	pixDestroy(&gray);
}
