/*
 * A document's searchable PDF rendition: each page is the cleaned page
 * image that OCR read, with the recognised words laid over it as
 * invisible text (text render mode 3), each word placed and stretched
 * onto its box. A reader shows the scan; search, copy and pdftotext find
 * the words where they are printed. This is what Tesseract's PDF renderer
 * makes, built from what ingest already archived (the image and the word
 * boxes), so rendering a document never runs OCR again.
 *
 * Layout of the file we write (PDF 1.4, no object streams):
 *
 *   | object        | what                                                |
 *   |---------------|-----------------------------------------------------|
 *   | 1             | catalog                                             |
 *   | 2             | page tree                                           |
 *   | 3             | font: Helvetica, WinAnsiEncoding (a standard font,  |
 *   |               | not embedded; the text is never painted)            |
 *   | 4             | document information: producer only (no title: it  |
 *   |               | would name the patient outside the page content)    |
 *   | 5 + 3i        | page i                                              |
 *   | 6 + 3i        | its content stream (Flate): image, then text        |
 *   | 7 + 3i        | its image: 1 bit as CCITT G4, else Flate            |
 *
 * Word text is UTF-8 from Tesseract; it is mapped to WinAnsi (Latin-1
 * plus typographic quotes and dashes), ligatures are spelled out, and
 * anything else becomes '?', so search works for the languages Tesseract
 * reads here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>

#include "ingest_int.h"
#include "../common/banned.h"

/* A rendition past this is refused: a chart, not a library. */
#define PDF_MAX (2048ull << 20)
/* Words of one page: the TSV of a page is capped the same way ingest caps
 * its text. */
#define WORDS_MAX (16u << 20)
/* Pages without a resolution are taken as scanned at this. */
#define DEFAULT_DPI 300

/* Helvetica's advance widths (AFM, 1/1000 em) for WinAnsi 32..126. */
static const short helvetica[95] = {
	278, 278, 355, 556, 556,  889, 667, 191, 333, 333, 389, 584, 278, 333,
	278, 278, 556, 556, 556,  556, 556, 556, 556, 556, 556, 556, 278, 278,
	584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278,
	500, 667, 556, 833, 722,  778, 667, 778, 722, 667, 611, 722, 667, 944,
	667, 667, 611, 278, 278,  278, 469, 556, 333, 556, 556, 500, 556, 556,
	278, 556, 556, 222, 222,  500, 222, 833, 556, 556, 556, 556, 333, 500,
	278, 556, 500, 722, 500,  500, 500, 334, 260, 334, 584,
};

static int char_width(unsigned char c)
{
	if (c >= 32 && c <= 126)
		return helvetica[c - 32];
	return 556; /* Latin-1 letters are about as wide as an 'n' */
}

/* Decode one UTF-8 sequence; *s advances. Malformed bytes give 0xFFFD. */
static unsigned long utf8_next(const unsigned char **s, const unsigned char *e)
{
	const unsigned char *p = *s;
	unsigned long cp;
	int n, i;

	if (*p < 0x80) {
		*s = p + 1;
		return *p;
	}
	n = (*p & 0xE0) == 0xC0   ? 1
	    : (*p & 0xF0) == 0xE0 ? 2
	    : (*p & 0xF8) == 0xF0 ? 3
				  : -1;
	if (n < 0 || e - p <= n) {
		*s = p + 1;
		return 0xFFFD;
	}
	cp = *p & (0x3F >> n);
	for (i = 1; i <= n; i++) {
		if ((p[i] & 0xC0) != 0x80) {
			*s = p + 1;
			return 0xFFFD;
		}
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	*s = p + n + 1;
	return cp;
}

/*
 * Append a word's text in WinAnsi to out (bytes, not yet escaped) and
 * return its width in 1/1000 em.
 */
static long winansi(const char *word, struct cv_buf *out)
{
	static const struct {
		unsigned long cp;
		const char *to;
	} map[] = {
		{ 0x2018, "\x91" }, { 0x2019, "\x92" }, { 0x201C, "\x93" },
		{ 0x201D, "\x94" }, { 0x2022, "\x95" }, { 0x2013, "\x96" },
		{ 0x2014, "\x97" }, { 0x20AC, "\x80" }, { 0x2026, "\x85" },
		{ 0xFB00, "ff" },   { 0xFB01, "fi" },   { 0xFB02, "fl" },
		{ 0xFB03, "ffi" },  { 0xFB04, "ffl" },
	};
	const unsigned char *s = (const unsigned char *)word;
	const unsigned char *e = s + strlen(word);
	long width = 0;

	while (s < e) {
		unsigned long cp = utf8_next(&s, e);
		const char *to = NULL;
		char one[2] = { 0, 0 };
		size_t i;

		if (cp >= 0x20 && cp < 0x7F) {
			one[0] = (char)cp;
			to = one;
		} else if (cp >= 0xA0 && cp <= 0xFF) {
			one[0] = (char)(unsigned char)cp;
			to = one;
		} else {
			for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
				if (map[i].cp == cp)
					to = map[i].to;
			if (!to)
				to = "?";
		}
		for (; *to; to++) {
			cv_buf_addch(out, *to);
			width += char_width((unsigned char)*to);
		}
	}
	return width;
}

/* A PDF literal string: parentheses and backslashes escaped, bytes past
 * ASCII as octal so the content stream stays 7-bit. */
static void add_pdf_string(struct cv_buf *b, const char *s, size_t n)
{
	size_t i;

	cv_buf_addch(b, '(');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '(' || c == ')' || c == '\\')
			cv_buf_addf(b, "\\%c", c);
		else if (c < 0x20 || c > 0x7E)
			cv_buf_addf(b, "\\%03o", c);
		else
			cv_buf_addch(b, c);
	}
	cv_buf_addch(b, ')');
}

/*
 * The text layer of one page from its word TSV ("x\ty\tw\th\tconf\ttext"
 * after a header line; see cv_ocr_words_tsv). scale turns pixels into
 * points; page_h is the page height in points (PDF's y grows upwards).
 */
static void add_text_layer(struct cv_buf *c, const char *tsv, size_t len,
			   double scale, double page_h)
{
	struct cv_buf line = CV_BUF_INIT, word = CV_BUF_INIT;
	const char *p = tsv, *end = tsv + len;
	int first = 1, began = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int x, y, w, h, used = 0;
		float conf;
		const char *text;
		long width;
		double size, tz;

		cv_buf_reset(&line);
		cv_buf_add(&line, p, n);
		p += n + (nl ? 1 : 0);
		if (first) { /* the header line */
			first = 0;
			continue;
		}
		if (sscanf(line.buf, "%d\t%d\t%d\t%d\t%f\t%n", &x, &y, &w, &h,
			   &conf, &used) != 5 ||
		    used <= 0 || w <= 0 || h <= 0)
			continue;
		text = line.buf + used;
		cv_buf_reset(&word);
		width = winansi(text, &word);
		if (word.len == 0 || width <= 0)
			continue;
		/* The box is the ink of the word: set the type so that its
		 * height fills the box and stretch it to the box's width, as
		 * Tesseract's renderer does, so a selection covers the word. */
		size = (double)h * scale;
		if (size < 1)
			size = 1;
		tz = 100.0 * ((double)w * scale) /
		     (size * (double)width / 1000.0);
		if (!began) {
			cv_buf_adds(c, "BT\n3 Tr\n");
			began = 1;
		}
		cv_buf_addf(c, "/F1 %.2f Tf %.2f Tz 1 0 0 1 %.2f %.2f Tm ",
			    size, tz, (double)x * scale,
			    page_h - (double)(y + h) * scale);
		add_pdf_string(c, word.buf, word.len);
		cv_buf_adds(c, " Tj\n");
	}
	if (began)
		cv_buf_adds(c, "ET\n");
	cv_buf_release(&line);
	cv_buf_release(&word);
}

/* Offsets of the objects written so far, for the cross-reference table. */
struct objs {
	size_t *off;
	size_t n, alloc;
};

static void obj_begin(struct cv_buf *pdf, struct objs *o, size_t num)
{
	if (num >= o->alloc) {
		o->alloc = 2 * num + 16;
		o->off = cv_realloc(o->off, o->alloc * sizeof(*o->off));
	}
	o->off[num] = pdf->len;
	if (num + 1 > o->n)
		o->n = num + 1;
	cv_buf_addf(pdf, "%zu 0 obj\n", num);
}

static void add_stream(struct cv_buf *pdf, const char *dict_extra,
		       const void *data, size_t n)
{
	cv_buf_addf(pdf, "<< %s /Length %zu >>\nstream\n", dict_extra, n);
	cv_buf_add(pdf, data, n);
	cv_buf_adds(pdf, "\nendstream\nendobj\n");
}

/*
 * The page image as a PDF image XObject dictionary (without /Length) and
 * its data, from Leptonica's compressed-image data: CCITT G4 for 1 bit,
 * Flate for grey and colour (colour maps taken out first).
 */
static int image_data(PIX *pix, L_COMP_DATA **cid, struct cv_buf *dict)
{
	PIX *conv = NULL;
	int type, ret = -1;

	*cid = NULL;
	if (pixGetDepth(pix) == 1) {
		type = L_G4_ENCODE;
		conv = pixClone(pix);
	} else {
		type = L_FLATE_ENCODE;
		conv = pixRemoveColormap(pix, REMOVE_CMAP_BASED_ON_SRC);
		if (conv && pixGetDepth(conv) != 8 && pixGetDepth(conv) != 32) {
			PIX *eight = pixConvertTo8(conv, 0);

			pixDestroy(&conv);
			conv = eight;
		}
	}
	if (!conv || pixGenerateCIData(conv, type, 0, 0, cid) || !*cid)
		goto out;
	cv_buf_addf(dict, "/Type /XObject /Subtype /Image /Width %d /Height %d",
		    (*cid)->w, (*cid)->h);
	if (type == L_G4_ENCODE) {
		cv_buf_addf(dict,
			    " /ColorSpace /DeviceGray /BitsPerComponent 1"
			    " /Filter /CCITTFaxDecode /DecodeParms << /K -1"
			    " /Columns %d /Rows %d%s >>",
			    (*cid)->w, (*cid)->h,
			    (*cid)->minisblack ? " /BlackIs1 true" : "");
	} else {
		cv_buf_addf(dict, " /ColorSpace /%s /BitsPerComponent %d",
			    (*cid)->spp == 1 ? "DeviceGray" : "DeviceRGB",
			    (*cid)->bps);
		if ((*cid)->predictor)
			cv_buf_addf(dict,
				    " /Filter /FlateDecode /DecodeParms <<"
				    " /Predictor 14 /Colors %d"
				    " /BitsPerComponent %d /Columns %d >>",
				    (*cid)->spp, (*cid)->bps, (*cid)->w);
		else
			cv_buf_adds(dict, " /Filter /FlateDecode");
	}
	ret = 0;
out:
	pixDestroy(&conv);
	return ret;
}

/* One page: its image (decoded from the archived bytes unless the caller
 * has it decoded already: pix, borrowed), its content stream and its page
 * object. */
static int add_page(struct cv_buf *pdf, struct objs *o, size_t i,
		    const struct cv_ingest_pdf_page *pg, PIX *decoded,
		    struct cv_error *err)
{
	size_t page_obj = 5 + 3 * i, content_obj = page_obj + 1;
	size_t image_obj = page_obj + 2, zlen = 0;
	struct cv_buf dict = CV_BUF_INIT, content = CV_BUF_INIT;
	L_COMP_DATA *cid = NULL;
	l_uint8 *z = NULL;
	PIX *pix = NULL;
	double scale, w_pt, h_pt;
	int dpi = pg->dpi > 0 ? pg->dpi : DEFAULT_DPI, ret;

	pix = decoded ? pixClone(decoded)
		      : pixReadMem(pg->image, pg->image_len);
	if (!pix || image_data(pix, &cid, &dict) < 0) {
		ret = cv_error_set(
			err, CV_EINVAL,
			"page %zu of the rendition: its image cannot be read",
			i + 1);
		goto cleanup;
	}
	scale = 72.0 / dpi;
	w_pt = cid->w * scale;
	h_pt = cid->h * scale;
	cv_buf_addf(&content, "q %.2f 0 0 %.2f 0 0 cm /Im1 Do Q\n", w_pt, h_pt);
	if (pg->words && pg->words_len)
		add_text_layer(&content, pg->words, pg->words_len, scale, h_pt);
	z = zlibCompress((const l_uint8 *)content.buf, content.len, &zlen);
	if (!z) {
		ret = cv_error_set(
			err, CV_ERROR,
			"page %zu of the rendition: zlibCompress failed",
			i + 1);
		goto cleanup;
	}

	obj_begin(pdf, o, page_obj);
	cv_buf_addf(pdf,
		    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f]"
		    " /Resources << /Font << /F1 3 0 R >>"
		    " /XObject << /Im1 %zu 0 R >> >> /Contents %zu 0 R >>\n"
		    "endobj\n",
		    w_pt, h_pt, image_obj, content_obj);
	obj_begin(pdf, o, content_obj);
	add_stream(pdf, "/Filter /FlateDecode", z, zlen);
	obj_begin(pdf, o, image_obj);
	add_stream(pdf, dict.buf, cid->datacomp, cid->nbytescomp);
	ret = 0;
cleanup:
	if (z)
		lept_free(z);
	l_CIDataDestroy(&cid);
	pixDestroy(&pix);
	cv_buf_release(&dict);
	cv_buf_release(&content);
	return ret;
}

/* The file's head: everything before the pages, for n pages. */
static void pdf_begin(struct cv_buf *out, struct objs *o, size_t n)
{
	size_t i;

	cv_buf_limit(out, PDF_MAX);
	/* The binary comment marks the file as binary for transfer tools. */
	cv_buf_adds(out, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
	obj_begin(out, o, 1);
	cv_buf_adds(out, "<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
	obj_begin(out, o, 2);
	cv_buf_adds(out, "<< /Type /Pages /Kids [");
	for (i = 0; i < n; i++)
		cv_buf_addf(out, "%s%zu 0 R", i ? " " : "", 5 + 3 * i);
	cv_buf_addf(out, "] /Count %zu >>\nendobj\n", n);
	obj_begin(out, o, 3);
	cv_buf_adds(out, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica"
			 " /Encoding /WinAnsiEncoding >>\nendobj\n");
	obj_begin(out, o, 4);
	cv_buf_addf(out, "<< /Producer (chartvault %s) >>\nendobj\n",
		    CV_VERSION);
}

/* The file's tail: the cross-reference table and the trailer. */
static int pdf_end(struct cv_buf *out, struct objs *o, struct cv_error *err)
{
	size_t i, xref = out->len;

	cv_buf_addf(out, "xref\n0 %zu\n0000000000 65535 f \n", o->n);
	for (i = 1; i < o->n; i++)
		cv_buf_addf(out, "%010zu 00000 n \n", o->off[i]);
	cv_buf_addf(out,
		    "trailer\n<< /Size %zu /Root 1 0 R /Info 4 0 R >>\n"
		    "startxref\n%zu\n%%%%EOF\n",
		    o->n, xref);
	/* A capped buffer that overflowed was released: its length is 0. */
	if (out->len == 0)
		return cv_error_set(err, CV_ELIMIT,
				    "the rendition is over %llu MB",
				    (unsigned long long)(PDF_MAX >> 20));
	return 0;
}

int cv_ingest_pdf_build(const struct cv_ingest_pdf_page *pages, size_t n,
			struct cv_buf *out, struct cv_error *err)
{
	struct objs o = { NULL, 0, 0 };
	size_t i;
	int ret = 0;

	if (n == 0)
		return cv_error_set(err, CV_EINVAL,
				    "a rendition needs at least one page");
	pdf_begin(out, &o, n);
	for (i = 0; i < n && ret == 0; i++)
		ret = add_page(out, &o, i, &pages[i], NULL, err);
	if (ret == 0)
		ret = pdf_end(out, &o, err);
	free(o.off);
	return ret;
}

/* ---------------------------------------------------------------------
 * Rendering a document from what the archive holds
 */

/*
 * The previews of one page (its image decoded: pix, borrowed), each
 * stored and recorded, in one transaction: the preview objects' rows
 * (with their data keys) commit with the rows that name them, so a page
 * destroyed meanwhile (CV_ENOTFOUND) keeps no preview: the rows roll
 * back, and files whose keys were never committed are unreadable
 * orphans that gc removes. Bytes whose object was crypto-erased (the
 * same image as a destroyed record's) get no preview: the viewer renders
 * that page on demand, as it does for pages made before previews were.
 * Not inside a caller's transaction.
 */
static int store_previews(struct cv_archive *ar, struct cv_index *ix,
			  int64_t page_id, PIX *pix, struct cv_error *err)
{
	static const int widths[] = { CV_INGEST_PREVIEW_WIDTHS };
	struct cv_buf png = CV_BUF_INIT;
	uint8_t oid[CV_ARCHIVE_OID_LEN];
	size_t i;
	int ret;

	ret = cv_index_begin(ix, err);
	for (i = 0; i < sizeof(widths) / sizeof(widths[0]) && ret == 0; i++) {
		struct cv_error perr = CV_ERROR_INIT;

		cv_buf_reset(&png);
		ret = cv_ingest_pix_preview(&png, pix, widths[i], err);
		if (ret == 0)
			ret = cv_archive_put_mem(ar, png.buf, png.len,
						 "preview", oid, NULL, &perr);
		if (ret == CV_EERASED) {
			ret = 0;
			continue;
		}
		if (ret < 0 && perr.code)
			*err = perr;
		if (ret == 0)
			ret = cv_index_page_preview_add(ix, page_id, widths[i],
							oid, err);
	}
	if (ret == 0)
		ret = cv_index_commit(ix, err);
	else
		cv_index_rollback(ix);
	cv_wipe(png.buf, png.len); /* a patient's page */
	cv_buf_release(&png);
	return ret;
}

int cv_ingest_render_document(struct cv_archive *ar, struct cv_index *ix,
			      int64_t doc_id, uint8_t *pdf_oid,
			      struct cv_error *err)
{
	static const int widths[] = { CV_INGEST_PREVIEW_WIDTHS };
	struct cv_index_rendition_page *rp = NULL;
	struct cv_buf image = CV_BUF_INIT, words = CV_BUF_INIT;
	struct cv_buf pdf = CV_BUF_INIT;
	struct objs o = { NULL, 0, 0 };
	uint8_t oid[CV_ARCHIVE_OID_LEN];
	PIX *pix = NULL;
	size_t n = 0, i;
	int ret;

	ret = cv_index_rendition_pages(ix, doc_id, &rp, &n, err);
	if (ret < 0)
		goto cleanup;
	if (n == 0) {
		ret = cv_error_set(err, CV_EINVAL,
				   "document %lld has no page with an image",
				   (long long)doc_id);
		goto cleanup;
	}
	/*
	 * Page by page, each image decoded once for both its previews and
	 * its place in the PDF, and only one page in memory at a time. The
	 * previews are recorded before the PDF: a document with a PDF has
	 * its previews, and a run stopped before then is rendered again
	 * (cv_ingest_render_batch), which finds the previews made.
	 */
	pdf_begin(&pdf, &o, n);
	for (i = 0; i < n; i++) {
		struct cv_ingest_pdf_page pg;

		cv_buf_reset(&image);
		cv_buf_reset(&words);
		ret = cv_archive_get_mem(ar, rp[i].image_object, &image,
					 PDF_MAX, err);
		if (ret == 0 && rp[i].has_words)
			ret = cv_archive_get_mem(ar, rp[i].words_object, &words,
						 WORDS_MAX, err);
		if (ret < 0)
			goto cleanup;
		pixDestroy(&pix);
		pix = pixReadMem((const l_uint8 *)image.buf, image.len);
		if (!pix) {
			ret = cv_error_set(
				err, CV_EINVAL,
				"document %lld: page %zu of the "
				"rendition: its image cannot be read",
				(long long)doc_id, i + 1);
			goto cleanup;
		}
		if (rp[i].previews <
		    (int)(sizeof(widths) / sizeof(widths[0]))) {
			ret = store_previews(ar, ix, rp[i].page_id, pix, err);
			if (ret < 0)
				goto cleanup;
		}
		memset(&pg, 0, sizeof(pg));
		pg.words = words.buf;
		pg.words_len = words.len;
		pg.dpi = rp[i].dpi;
		ret = add_page(&pdf, &o, i, &pg, pix, err);
		if (ret < 0) {
			cv_error_prefix(err,
					"document %lld: ", (long long)doc_id);
			goto cleanup;
		}
	}
	ret = pdf_end(&pdf, &o, err);
	if (ret < 0) {
		cv_error_prefix(err, "document %lld: ", (long long)doc_id);
		goto cleanup;
	}
	ret = cv_archive_put_mem(ar, pdf.buf, pdf.len, "pdf", oid, NULL, err);
	if (ret == 0)
		ret = cv_index_document_set_pdf(ix, doc_id, oid, err);
	if (ret == 0 && pdf_oid)
		memcpy(pdf_oid, oid, sizeof(oid));
cleanup:
	pixDestroy(&pix);
	free(o.off);
	free(rp);
	cv_buf_release(&image);
	cv_buf_release(&words);
	cv_buf_release(&pdf);
	return ret;
}

int cv_ingest_render_batch(struct cv_archive *ar, struct cv_index *ix,
			   int64_t batch_id, size_t *rendered, size_t *failed,
			   struct cv_error *err)
{
	int64_t *ids = NULL;
	size_t n = 0, i;
	int ret;

	ret = cv_index_batch_unrendered(ix, batch_id, &ids, &n, err);
	for (i = 0; i < n && ret == 0; i++) {
		struct cv_error derr = CV_ERROR_INIT;

		ret = cv_ingest_render_document(ar, ix, ids[i], NULL, &derr);
		if (ret == 0) {
			(*rendered)++;
		} else if (ret == CV_EINVAL) {
			/* One document's unreadable page image leaves that
			 * document without a rendition (export tries again);
			 * it does not stop the batch. */
			(*failed)++;
			ret = 0;
		} else {
			*err = derr;
		}
	}
	free(ids);
	return ret;
}

/* Pages asked for at a time, so that a large archive is not listed at
 * once. */
#define PREVIEW_CHUNK 256

int cv_ingest_make_previews(struct cv_archive *ar, struct cv_index *ix,
			    int64_t batch_id, size_t *made, size_t *failed,
			    struct cv_error *err)
{
	static const int widths[] = { CV_INGEST_PREVIEW_WIDTHS };
	struct cv_index_rendition_page *rp = NULL;
	struct cv_buf image = CV_BUF_INIT;
	int64_t after = 0;
	size_t n, i;
	int ret;

	*made = 0;
	*failed = 0;
	do {
		free(rp);
		rp = NULL;
		ret = cv_index_pages_without_previews(
			ix, batch_id, after,
			(int)(sizeof(widths) / sizeof(widths[0])),
			PREVIEW_CHUNK, &rp, &n, err);
		for (i = 0; ret == 0 && i < n; i++) {
			struct cv_error perr = CV_ERROR_INIT;
			PIX *pix = NULL;
			int got;

			after = rp[i].page_id;
			cv_buf_reset(&image);
			got = cv_archive_get_mem(ar, rp[i].image_object, &image,
						 PDF_MAX, &perr);
			if (got == CV_EUNAVAIL || got == CV_ERROR) {
				*err = perr;
				ret = got;
				break;
			}
			/* A damaged, erased or undecodable page image is
			 * counted and left to be rendered on demand (verify
			 * reports the damage). */
			if (got == 0)
				pix = pixReadMem((const l_uint8 *)image.buf,
						 image.len);
			if (!pix) {
				(*failed)++;
				continue;
			}
			ret = store_previews(ar, ix, rp[i].page_id, pix, err);
			pixDestroy(&pix);
			if (ret == CV_ENOTFOUND) /* destroyed meanwhile */
				ret = 0;
			else if (ret == 0)
				(*made)++;
		}
	} while (ret == 0 && n == PREVIEW_CHUNK);
	free(rp);
	cv_buf_release(&image);
	return ret;
}

/* ---------------------------------------------------------------------
 * Release: chartvault export and the viewer's download
 */

int cv_ingest_export_request_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z') || strchr("-_./:#", s[i])))
			return 0;
	return 1;
}

int cv_ingest_export_pdf(struct cv_ingest_export *out, struct cv_archive *ar,
			 struct cv_index *ix, int64_t doc_id,
			 const char *request, size_t max, struct cv_error *err)
{
	char state[16];
	int has = 0, ret;

	out->rendered_now = 0;
	cv_buf_reset(&out->pdf);
	/* A reference that is not one is not written into the audit row. */
	if (request && !cv_ingest_export_request_valid(request)) {
		snprintf(out->audit_detail, sizeof(out->audit_detail),
			 "pdf, 0 bytes, bad request reference");
		return cv_error_set(err, CV_EINVAL,
				    "a request reference is up to 64 letters, "
				    "digits and -_./:#");
	}
	ret = cv_index_document_pdf(ix, doc_id, out->object, &has, state, err);
	if (ret == 0 && !strcmp(state, "exception")) {
		ret = cv_error_set(
			err, CV_EHOLD,
			"document %lld is in the exception queue and cannot be exported",
			(long long)doc_id);
		cv_error_hint(err, "resolve its exceptions first");
	}
	if (ret == 0 && !has) {
		ret = cv_ingest_render_document(ar, ix, doc_id, out->object,
						err);
		out->rendered_now = ret == 0;
	}
	if (ret == 0)
		ret = cv_archive_get_mem(ar, out->object, &out->pdf, max, err);
	snprintf(out->audit_detail, sizeof(out->audit_detail),
		 "pdf, %zu bytes%s%s", out->pdf.len,
		 request ? ", request " : "", request ? request : "");
	return ret;
}

void cv_ingest_export_release(struct cv_ingest_export *e)
{
	cv_buf_release(&e->pdf);
}
