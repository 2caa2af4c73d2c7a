/*
 * chartvault coversheet: print a cover sheet (or a separator sheet) for
 * the scanning room. It needs no archive: the sheet carries its facts in
 * its own QR code, and ingest reads them from the scan.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>

#include "cli.h"
#include "ingest/ingest.h"
#include "common/banned.h"

static int ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), k = strlen(tail);

	return n >= k && !strcasecmp(s + n - k, tail);
}

int cli_write_sheet(struct Pix *pix, const char *path, mode_t mode,
		    struct cv_error *err)
{
	l_uint8 *data = NULL;
	size_t size = 0;
	int bad, ret;

	if (ends_with(path, ".pdf"))
		bad = pixWriteMemPdf(&data, &size, pix, 300,
				     "chartvault sheet");
	else if (ends_with(path, ".png"))
		bad = pixWriteMemPng(&data, &size, pix, 0);
	else if (ends_with(path, ".tif") || ends_with(path, ".tiff"))
		bad = pixWriteMemTiff(&data, &size, pix, IFF_TIFF_G4);
	else
		return cv_error_set(
			err, CV_EINVAL,
			"'%s': the sheet is written as .pdf, .png or .tif",
			path);
	if (bad || !data)
		ret = cv_error_set(err, CV_ERROR, "could not encode '%s'",
				   path);
	else
		ret = cv_fs_write_atomic(path, data, size, mode, 0, err);
	if (data)
		lept_free(data);
	return ret;
}

int cmd_coversheet(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mrn", required_argument, NULL, 'm' },
		{ "type", required_argument, NULL, 't' },
		{ "date", required_argument, NULL, 'd' },
		{ "encounter", required_argument, NULL, 'e' },
		{ "name", required_argument, NULL, 'n' },
		{ "separator", no_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cv_cmd *cmd = cli_find("coversheet");
	struct cv_error err = CV_ERROR_INIT;
	struct cv_ingest_cover cover, checked;
	const char *out = NULL, *name = NULL;
	struct Pix *pix = NULL;
	char *code = NULL;
	int separator = 0, opt, ret;

	(void)c;
	memset(&cover, 0, sizeof(cover));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			snprintf(cover.mrn, sizeof(cover.mrn), "%s", optarg);
			break;
		case 't':
			snprintf(cover.doc_type, sizeof(cover.doc_type), "%s",
				 optarg);
			break;
		case 'd':
			snprintf(cover.service_date, sizeof(cover.service_date),
				 "%s", optarg);
			break;
		case 'e':
			snprintf(cover.encounter, sizeof(cover.encounter), "%s",
				 optarg);
			break;
		case 'n':
			name = optarg;
			break;
		case 's':
			separator = 1;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return cli_usage(cmd, "unknown option");
		}
	}
	if (!out || optind != argc)
		return cli_usage(
			cmd, "coversheet needs -o FILE and no other arguments");
	if (!separator) {
		/* What ingest would refuse is refused here, before printing. */
		code = cv_ingest_cover_payload(&cover);
		if (cv_ingest_cover_parse(code, &checked, &err) < 0) {
			free(code);
			cli_usage(cmd, "%s", err.msg);
			return CLI_USAGE;
		}
		free(code);
	}
	ret = cv_ingest_sheet_render(separator ? NULL : &cover, name, &pix,
				     &err);
	if (ret == 0)
		ret = cli_write_sheet(pix, out, 0644, &err);
	pixDestroy(&pix);
	if (ret < 0)
		return ret == CV_EINVAL ? cli_usage(cmd, "%s", err.msg)
					: cli_fail(&err);
	if (!c->json)
		printf("%s sheet written to %s\n",
		       separator ? "separator" : "cover", out);
	return CLI_OK;
}
