#!/bin/bash
# Render a held-out subset of generated documents to scanned-looking images
# (300 dpi; skew, blur, noise; bilevel G4 TIFF or 8-bit gray PNG, one file
# per document), so they can be ingested and OCR'd by the real pipeline.
#
#   render.sh CORPUS_DIR OUT_DIR PER_TYPE [SEED]
#
# Writes OUT_DIR/scans/<stem>.tif|png, OUT_DIR/scan-labels.csv (file,type)
# and OUT_DIR/manifest.csv (file,box: one document per file, no type, so
# the type is left to the title rules and the model).
# Needs python3, ghostscript, imagemagick (/usr/bin/convert).
set -euo pipefail
export LC_ALL=C MAGICK_THREAD_LIMIT=1 OMP_NUM_THREADS=1
CORPUS=$1 OUT=$2 PER=$3 SEED=${4:-7}
HERE=$(cd "$(dirname "$0")" && pwd)
CONVERT=/usr/bin/convert
mkdir -p "$OUT/scans" "$OUT/raw"
# PER documents of each type, first in labels.csv order (itself shuffled).
awk -F, -v per="$PER" 'NR > 1 { if (n[$2]++ < per) print }' "$CORPUS/labels.csv" > "$OUT/list.csv"
python3 "$HERE/render.py" "$CORPUS" "$OUT/list.csv" "$OUT" "$SEED"
page() {
	IFS=$'\t' read -r stem pno ps skew fmt pseed noise <<< "$1"
	raw=$OUT/raw/$stem-p$pno.png
	gs -q -dSAFER -dNOPAUSE -dBATCH -sDEVICE=pnggray -r300 -dTextAlphaBits=4 \
		-dDEVICEWIDTHPOINTS=612 -dDEVICEHEIGHTPOINTS=792 -dFIXEDMEDIA -o "$raw.src.png" "$OUT/ps/$ps"
	nz=(); [ "$noise" = 1 ] && nz=(-attenuate 0.2 +noise Impulse)
	if [ "$fmt" = g4 ]; then
		$CONVERT "$raw.src.png" -background white -rotate "$skew" +repage -gravity center \
			-extent 2550x3300 +repage -blur 0x0.6 -seed "$pseed" -attenuate 0.5 +noise Gaussian \
			"${nz[@]}" -threshold 55% -type bilevel "$raw"
	else
		$CONVERT "$raw.src.png" -background white -rotate "$skew" +repage -gravity center \
			-extent 2550x3300 +repage -blur 0x0.6 -seed "$pseed" "${nz[@]}" +level 6%,97% \
			-colorspace Gray -depth 8 "$raw"
	fi
	rm -f "$raw.src.png"
}
export -f page; export OUT CONVERT
tr '\n' '\0' < "$OUT/pages.tsv" | xargs -0 -n1 -P 2 bash -c '[ -n "$1" ] && page "$1"' _
echo "file,box" > "$OUT/manifest.csv"
echo "file,type" > "$OUT/scan-labels.csv"
while IFS=, read -r path type; do
	stem=$(basename "$path" .txt)
	fmt=$(awk -F'\t' -v s="$stem" '$1 == s { print $5; exit }' "$OUT/pages.tsv")
	pages=$(ls "$OUT/raw/$stem"-p*.png | sort)
	# Several pages go in one multi-page TIFF, so a file is a document.
	if [ "$fmt" = g4 ] || [ "$(echo "$pages" | wc -l)" -gt 1 ]; then
		f=$stem.tif
		$CONVERT $pages -type bilevel -units PixelsPerInch -density 300 -compress Group4 -adjoin "$OUT/scans/$f"
	else
		f=$stem.png
		$CONVERT $pages -units PixelsPerInch -density 300 "$OUT/scans/$f"
	fi
	echo "scans/$f,$stem" >> "$OUT/manifest.csv"
	echo "scans/$f,$type" >> "$OUT/scan-labels.csv"
done < "$OUT/list.csv"
rm -rf "$OUT/raw" "$OUT/ps"
echo "rendered $(wc -l < "$OUT/list.csv") documents into $OUT/scans"
