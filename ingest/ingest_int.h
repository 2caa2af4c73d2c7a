/*
 * Declarations shared by ingest/'s own files; no other module includes
 * this header.
 */
#ifndef CV_INGEST_INT_H
#define CV_INGEST_INT_H

#include "ingest.h"

/* What cleanup did to a page, recorded with it. */
struct cv_ingest_cleanup {
	int background_normalised;
	int binarised;   /* grey or colour scan, Sauvola */
	double skew_deg; /* corrected; 0 when none was found */
	int despeckled;
	int rotation; /* 0, 90, 180, 270: turned upright after OSD */
};

/*
 * Straighten a skewed page in place (*pix may be replaced) and return the
 * angle found, in degrees, in *angle (0 when none was found). Tesseract's
 * layout analysis drops whole paragraphs of a page scanned 2-3 degrees off.
 */
void cv_ingest__deskew(struct Pix **pix, double *angle);

/*
 * Clean a decoded page for OCR in place: background normalisation and
 * Sauvola binarisation of grey pages, deskew, despeckle. *pix may be
 * replaced; it is never lost.
 */
void cv_ingest__clean(struct Pix **pix, struct cv_ingest_cleanup *rec);

/* The steps taken, as "sauvola,deskew 1.30,despeckle"; "" for none. */
void cv_ingest__cleanup_steps(const struct cv_ingest_cleanup *rec, char *out,
			      size_t n);

/* One page in the stream that segmentation cuts into documents. */
struct cv_ingest__seg_page {
	int64_t page_id;
	const char *file; /* borrowed */
	int page_no;
	struct cv_ingest_page_facts facts;
};

/*
 * Cut a page stream (blank and failed pages already left out) into
 * documents. starts[i] is set to 1 where a new document begins. A new
 * document begins at a title line, at "Page 1 of N", after the last page
 * of a "Page N of N" run, and where the patient identity printed on the
 * page changes.
 */
void cv_ingest__segment(const struct cv_ingest__seg_page *pages, size_t n,
			int *starts);

/*
 * Fill doc's type, identity and service date from the facts of its pages
 * (the first page that states each one decides).
 */
void cv_ingest__describe(const struct cv_ingest__seg_page *pages, size_t n,
			 struct cv_index_document *doc);

#endif
