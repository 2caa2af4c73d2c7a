#!/bin/bash
# Identity extraction accuracy (issue 5: MRN, name and DOB read from page
# headers, >= 99% where the header prints them), with the real pipeline:
#
#   1. generate labelled documents (tools/doccorpus, a seed the classifier
#      was not trained on, no OCR-like noise in the text: what is printed
#      is what the truth says) and render PER_TYPE of each type to
#      scanned-looking images;
#   2. ingest them, and the samples, into a throwaway archive (the real
#      OCR, cleanup and header reading);
#   3. compare what each page's header was read to say (pages.read_mrn,
#      read_name, read_dob: OCR alone) and what ingest recorded it to say
#      after checking the reading against the patient index (found_mrn,
#      found_name, found_dob) with what the header prints.
#
#   identity.sh CHARTVAULT WORKDIR [PER_TYPE] [SEED]
#
# About 2 minutes on 2 cores (OCR of about 190 pages at PER_TYPE 12).
set -euo pipefail
CV=$1 W=$2 PER=${3:-12} SEED=${4:-11}
# The generated batch is ingested from inside its folder.
CV=$(realpath "$CV")
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
DOC=$SRC/tools/doccorpus
mkdir -p "$W"
W=$(cd "$W" && pwd)
python3 "$DOC/generate.py" --seed "$SEED" --count-per-type 20 --noise 0 --prefix id "$W/corpus"
"$DOC/render.sh" "$W/corpus" "$W/render" "$PER" 5
# The patient index the headers are checked against.
python3 - "$W/corpus/meta.json" > "$W/patients.csv" <<'PY'
import json, sys
seen = {}
for d in json.load(open(sys.argv[1])):
    seen.setdefault(d["mrn"], d)
print("mrn,family_name,given_name,dob,sex")
for m, d in sorted(seen.items()):
    print("%s,%s,%s,%s,%s" % (m, d["family"].upper(), d["given"].upper(), d["dob"], d["sex"]))
PY
[ -d "$W/archive" ] && "$CV" -C "$W/archive" db stop > /dev/null 2>&1 || true
rm -rf "$W/archive"
"$CV" init "$W/archive" > /dev/null
"$CV" -C "$W/archive" patients import "$SRC/samples/patients.csv" > /dev/null
"$CV" -C "$W/archive" patients import "$W/patients.csv" > /dev/null
"$CV" -C "$W/archive" ingest --workers 2 --batch samples "$SRC"/samples/batch/* > /dev/null || true
(cd "$W/render" && "$CV" -C "$W/archive" ingest --workers 2 --batch generated \
	--manifest manifest.csv scans > /dev/null) || true
sock=$("$CV" -C "$W/archive" db status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["socket_dir"])')
sql="COPY (SELECT b.name, f.name, p.page_no, p.blank, coalesce(p.found_mrn, ''),
	coalesce(p.found_name, ''), coalesce(p.found_dob::text, ''),
	coalesce(p.read_mrn, ''), coalesce(p.read_name, ''), coalesce(p.read_dob::text, '')
	FROM pages p JOIN source_files f ON f.id = p.file_id JOIN batches b ON b.id = f.batch_id
	WHERE p.state = 'done' ORDER BY 1, 2, 3) TO STDOUT WITH CSV"
if [ "$(id -u)" = 0 ]; then
	runuser -u chartvault -- psql -qAt -h "$sock" -d chartvault -c "$sql" > "$W/found.csv"
else
	psql -qAt -h "$sock" -d chartvault -c "$sql" > "$W/found.csv"
fi
"$CV" -C "$W/archive" db stop > /dev/null || true
python3 "$HERE/identity_score.py" "$W/found.csv" "$SRC/samples/truth.json" "$W/corpus" "$W/render/list.csv"
