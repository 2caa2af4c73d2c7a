#!/bin/bash
# The held-out, rendered-and-scanned evaluation of the document-type
# classifier, end to end:
#
#   1. generate labelled documents with a seed the shipped model was not
#      trained on;
#   2. render PER_TYPE of each type to scanned-looking images (render.sh);
#   3. ingest them into a throwaway archive with the real pipeline (OCR,
#      title rules, the model; a manifest makes each file one document and
#      states no type);
#   4. classify eval on the resulting document ids: with the title rules
#      and with the model alone.
#
#   heldout.sh CHARTVAULT WORKDIR [PER_TYPE] [SEED]
#
# Takes about 20-40 minutes on 2 busy cores (OCR of ~190 pages).
set -euo pipefail
CV=$1 W=$2 PER=${3:-12} SEED=${4:-3}
# The rendered batch is ingested from inside its folder.
CV=$(realpath "$CV")
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$W"
python3 "$HERE/generate.py" --seed "$SEED" --count-per-type 40 --prefix held "$W/corpus"
"$HERE/render.sh" "$W/corpus" "$W/render" "$PER" 7
"$CV" init "$W/archive" > /dev/null
(cd "$W/render" && "$CV" -C "$W/archive" ingest --json --workers 2 --batch heldout \
	--manifest manifest.csv scans) > "$W/ingest.json"
python3 "$HERE/doclabels.py" "$W/ingest.json" "$W/render/scan-labels.csv" "$W/doc-labels.csv" | tee "$W/at-ingest.json"
"$CV" -C "$W/archive" classify eval --builtin "$W/doc-labels.csv" | tee "$W/eval-rules.txt"
"$CV" -C "$W/archive" classify eval --builtin --model-only --show-errors "$W/doc-labels.csv" | tee "$W/eval-model.txt"
"$CV" -C "$W/archive" db stop > /dev/null || true
