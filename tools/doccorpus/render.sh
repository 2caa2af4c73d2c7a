#!/bin/bash
# Render a held-out subset of generated documents to scanned-looking images
# (300 dpi; skewed, some speckled; bilevel G4 TIFF, or 8-bit grey PNG for
# some single pages; one file per document), so that they can be ingested
# and OCR'd by the real pipeline.
#
#   render.sh CORPUS_DIR OUT_DIR PER_TYPE [SEED]
#
# Writes OUT_DIR/scans/<stem>.tif|png, OUT_DIR/scan-labels.csv (file,type)
# and OUT_DIR/manifest.csv (file,box: one document per file and no type, so
# the type is left to the title rules and the model). Needs python3 and
# ghostscript.
set -euo pipefail
export LC_ALL=C
CORPUS=$1 OUT=$2 PER=$3 SEED=${4:-7}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT/scans"
# PER documents of each type, the first in labels.csv order (shuffled).
awk -F, -v per="$PER" 'NR > 1 { if (n[$2]++ < per) print }' "$CORPUS/labels.csv" > "$OUT/list.csv"
python3 "$HERE/render.py" "$CORPUS" "$OUT/list.csv" "$OUT" "$SEED"
echo "file,box" > "$OUT/manifest.csv"
echo "file,type" > "$OUT/scan-labels.csv"
while IFS=, read -r path type; do
	stem=$(basename "$path" .txt)
	fmt=$(awk -F'\t' -v s="$stem" '$1 == s { print $2; exit }' "$OUT/docs.tsv")
	if [ "$fmt" = g4 ]; then
		f=$stem.tif dev=tiffg4
	else
		f=$stem.png dev=pnggray
	fi
	gs -q -dSAFER -dNOPAUSE -dBATCH -sDEVICE=$dev -r300 -dTextAlphaBits=4 \
		-dDEVICEWIDTHPOINTS=612 -dDEVICEHEIGHTPOINTS=792 -dFIXEDMEDIA \
		-o "$OUT/scans/$f" "$OUT/ps/$stem.ps"
	echo "scans/$f,$stem" >> "$OUT/manifest.csv"
	echo "scans/$f,$type" >> "$OUT/scan-labels.csv"
done < "$OUT/list.csv"
rm -rf "$OUT/ps"
echo "rendered $(wc -l < "$OUT/list.csv") documents into $OUT/scans"
