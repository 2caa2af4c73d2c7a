#!/bin/bash
# chartvault sample intake batch generator.
#
# Makes a fictitious scanned-chart intake batch for OCR / classification / patient-matching tests:
#   batch/bundle-NN.tif   multi-page bilevel CCITT G4 TIFF "patient bundles" (several documents each)
#   batch/scan-NNNN.png   single-page 8-bit grayscale PNG scans
#   truth.json            ground truth (patients, documents with LOINC type, per-page identity, defects, text)
#   truth/<stem>-pNN.txt  exact printed text of every non-blank page (for character-error-rate scoring)
#   patients.csv          master-patient-index import of the (fictitious) patients
#   README.md             table of the batch
# All pages are US letter at 300 dpi (2550x3300 px). Defects: skew 0.5-3 deg on most pages, speckle
# on several, one page upside down, one blank back side, one page with a Code 128 patient label,
# one page of another patient misfiled inside a bundle.
#
# Usage: samples/generate.sh [--seed N] [OUTDIR]      (default seed 20261125, OUTDIR = this folder)
# The same seed gives byte-identical files.
#
# Debian packages needed: python3 (standard library only: text + layout), ghostscript (PostScript ->
# 300 dpi gray raster), imagemagick (/usr/bin/convert: skew, noise, G4/PNG encoding), barcode (GNU
# barcode: Code 128 label EPS), fonts-urw-base35 (Times/Helvetica/Courier metrics; comes with
# ghostscript). For checking: tesseract-ocr, zbar-tools, poppler-utils.
#   apt-get install -y python3 ghostscript imagemagick barcode fonts-urw-base35
set -euo pipefail
export LC_ALL=C TZ=UTC SOURCE_DATE_EPOCH=0
# single-threaded ImageMagick so that seeded noise does not depend on the number of CPUs
export MAGICK_THREAD_LIMIT=1 OMP_NUM_THREADS=1

SEED=20261125
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE
while [ $# -gt 0 ]; do
  case $1 in
    --seed) SEED=$2; shift 2 ;;
    --seed=*) SEED=${1#--seed=}; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) OUT=$1; shift ;;
  esac
done
[[ $SEED =~ ^[0-9]+$ ]] || { echo "seed must be a non-negative integer" >&2; exit 2; }
CONVERT=/usr/bin/convert   # the Debian ImageMagick 6 binary, not a stand-in earlier in PATH
for t in $CONVERT gs barcode python3; do
  command -v $t >/dev/null || { echo "missing tool: $t (see header for Debian packages)" >&2; exit 1; }
done
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d /tmp/chartvault-samples.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/eps" "$WORK/raw" "$WORK/deg"

# 1. Code 128 label symbols (one per patient; only the label page uses one)
for mrn in 90001234 90002718 90003306 90004451 90005097; do
  barcode -b "$mrn" -e 128 -E -n -u pt -g 150x40 -o "$WORK/eps/$mrn.eps"
done

# 2. text + layout -> one PostScript file per page, manifest, truth files
rm -rf "$OUT/truth" "$OUT/batch"; mkdir -p "$OUT/truth" "$OUT/batch"
python3 "$HERE/compose.py" "$SEED" "$WORK" "$OUT" "$WORK/eps" 2>"$WORK/layout.log" || { cat "$WORK/layout.log" >&2; exit 1; }

# 3. raster + scan defects, page by page
# manifest columns: idx file page-in-file format skew rot180 noise blank seed
page() {
  local idx file pno fmt skew rot noise blank pseed raw geo nz
  IFS=$'\t' read -r idx file pno fmt skew rot noise blank pseed <<< "$1"
  raw=$WORK/raw/p$idx.png
  if [ "$blank" = 1 ]; then
    # back side of a sheet: paper white, a faint shadow line near the leading edge, a small dust mark
    $CONVERT -size 2550x3300 xc:'gray(252)' -seed "$pseed" -attenuate 0.35 +noise Gaussian \
      -fill 'gray(95)' -draw "rectangle 18,1210 22,1690" -fill 'gray(90)' -draw "circle 1930,2710 1934,2713" \
      -blur 0x0.8 "$raw"
  else
    gs -q -dSAFER -dNOPAUSE -dBATCH -sDEVICE=pnggray -r300 -dTextAlphaBits=4 -dGraphicsAlphaBits=4 \
      -dDEVICEWIDTHPOINTS=612 -dDEVICEHEIGHTPOINTS=792 -dFIXEDMEDIA -o "$raw" "$WORK/p$(printf %03d "$idx").ps"
  fi
  geo=(-background white -rotate "$skew" +repage -gravity center -extent 2550x3300 +repage)
  [ "$rot" = 180 ] && geo+=(-rotate 180 +repage)
  if [ "$fmt" = g4 ]; then
    if [ "$noise" = 1 ]; then nz=(-attenuate 0.25 +noise Impulse); else nz=(); fi
    $CONVERT "$raw" "${geo[@]}" -blur 0x0.6 -seed "$pseed" -attenuate 0.5 +noise Gaussian "${nz[@]}" \
      -threshold 55% -type bilevel "$WORK/deg/p$idx.png"
  else
    if [ "$noise" = 1 ]; then nz=(-attenuate 0.12 +noise Impulse); else nz=(); fi
    # gray scanner look: slightly gray paper and ink, light blur; speckle only on noise pages
    $CONVERT "$raw" "${geo[@]}" -blur 0x0.6 -seed "$pseed" "${nz[@]}" +level 6%,97% \
      -colorspace Gray -depth 8 -units PixelsPerInch -density 300 \
      -define png:exclude-chunks=all -define png:include-chunks=pHYs -define png:color-type=0 -define png:bit-depth=8 \
      "$OUT/batch/$file"
  fi
}
export -f page; export CONVERT WORK OUT
# pages are independent (each has its own noise seed), so render them in parallel
tr '\n' '\0' < "$WORK/manifest.tsv" | xargs -0 -n1 -P "$(nproc)" bash -c 'page "$1"' _

# 4. assemble the multi-page G4 bundles (one convert call per bundle)
for f in $(cut -f2 "$WORK/manifest.tsv" | grep '\.tif$' | sort -u); do
  pages=()
  while IFS=$'\t' read -r idx file _; do [ "$file" = "$f" ] && pages+=("$WORK/deg/p$idx.png"); done < "$WORK/manifest.tsv"
  $CONVERT "${pages[@]}" -strip +set date:create +set date:modify -type bilevel -units PixelsPerInch \
    -density 300 -compress Group4 -define tiff:rows-per-strip=3300 -adjoin "$OUT/batch/$f"
done

# 5. README table
python3 - "$WORK/summary.json" "$OUT/README.md" "$SEED" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1])); seed = sys.argv[3]
pages = sum(r[1] for r in rows)
t = ["| file | pages | format | patient(s) | documents | defects |", "|---|---|---|---|---|---|"]
for fn, n, fmt, pat, docs, dfx in rows:
    t.append("| batch/%s | %d | %s | %s | %s | %s |" % (fn, n, fmt, pat, docs, dfx))
open(sys.argv[2], "w").write("""# chartvault sample intake batch

A fictitious batch of scanned paper charts for testing intake: OCR, page orientation and skew handling,
document classification (LOINC document types), patient matching, and G4/PNG decoding.
Generated by `samples/generate.sh` with seed %s: %d pages in %d files (%d of them bilevel G4 TIFF bundles,
%d single-page 8-bit grayscale PNG), all US letter at 300 dpi (2550x3300 px), facility "Riverbend General
Hospital" (fictional).

**All persons are fictitious.** Patients, clinicians, addresses and accession numbers are invented. Medical
record numbers 90000000-90009999 (8 digits starting 9000) are reserved for test patients and must never be
assigned to a real patient.

%s

Every page shows the facility line, the patient header `Patient: FAMILY, GIVEN   MRN: 9000xxxx   DOB: MM/DD/YYYY`
and a `Page N of M` footer; the first page of each document carries its title (DISCHARGE SUMMARY, PROGRESS NOTE,
HISTORY AND PHYSICAL, CONSULTATION, OPERATIVE REPORT, LABORATORY REPORT, RADIOLOGY REPORT, INFORMED CONSENT,
MEDICATION LIST) and a date of service. Most pages are skewed 0.5-3 degrees (`skew_deg` is the angle given to
ImageMagick `-rotate`, positive = clockwise); the upside-down page is additionally turned 180 degrees. The patient
label on the label page is a sticker box at the top right with the name, MRN, DOB/sex and a Code 128 symbol of the
MRN; its three printed lines follow the patient header in that page's truth text.

## Files

- `batch/` - the scans (the intake batch).
- `truth.json` - ground truth: patients; documents (id, MRN, LOINC type, service date, pages) and pages
  (file, 1-based page within the file, printed MRN, document, type, blank, rotation, skew, noise, label barcode,
  misfiled, exact text), both in batch order (files sorted by name, pages in file order); `search_terms` lists
  which pages carry distinctive words (appendectomy, metformin, pneumothorax, cholecystitis, atrial fibrillation...;
  literal occurrences, so negated mentions such as "no pneumothorax" count).
  The misfiled page has `misfiled: true`, its own patient's MRN, and its own single-page document.
- `truth/<file-stem>-pNN.txt` - exact printed text of each non-blank page (lines top to bottom).
- `patients.csv` - `mrn,family_name,given_name,dob,sex`, a master patient index import.
- `generate.sh`, `compose.py` - the generator.

## Regenerate

    samples/generate.sh --seed N [OUTDIR]     # default seed 20261125, default OUTDIR samples/

The same seed reproduces every file byte for byte; another seed changes the wording, values, skew angles and
speckle. Tools (Debian packages): python3 (standard library only), ghostscript, imagemagick
(`/usr/bin/convert`, ImageMagick 6), barcode (GNU barcode, Code 128), fonts-urw-base35. Checking: tesseract-ocr,
zbar-tools (`zbarimg` reads the label), poppler-utils. `barcode` is not installed by default:
`apt-get install -y barcode`. A run takes about 4-5 minutes (ImageMagick is kept single-threaded so that the
seeded noise is reproducible). This README is written by generate.sh: edit the template there.
""" % (seed, pages, len(rows), sum(1 for r in rows if r[0].endswith('.tif')),
       sum(1 for r in rows if r[0].endswith('.png')), "\n".join(t)))
PY
cat "$WORK/layout.log" >&2
echo "wrote $(ls "$OUT/batch" | wc -l) files to $OUT/batch; $(du -sh "$OUT" | cut -f1) in $OUT" >&2
