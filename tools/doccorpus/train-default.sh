#!/bin/bash
# Rebuild data/default.model, the classifier shipped with chartvault:
# 250 generated documents of each of the 14 types (seed 1), trained with
# the defaults of "chartvault classify train" in a throwaway archive.
#
#   train-default.sh CHARTVAULT [WORKDIR]
#
# The same seed and the same generator give the same model, byte for
# byte. Then rebuild (make) so the binary embeds it, and run
# tools/doccorpus/heldout.sh to measure it on rendered scans.
set -euo pipefail
CV=$1 W=${2:-$(mktemp -d /tmp/cv-train-default.XXXXXX)}
HERE=$(cd "$(dirname "$0")" && pwd)
python3 "$HERE/generate.py" --seed 1 --count-per-type 250 "$W/corpus"
"$CV" init "$W/archive" > /dev/null
"$CV" -C "$W/archive" classify train --output "$HERE/../../data/default.model" "$W/corpus/labels.csv"
"$CV" -C "$W/archive" db stop > /dev/null || true
