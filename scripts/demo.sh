#!/bin/sh
# make demo: create a demo archive, ingest the sample batch, show a search.
# usage: scripts/demo.sh /path/to/chartvault
set -eu
bin=$1
src=$(cd "$(dirname "$0")/.." && pwd)

# The private cluster runs as the 'chartvault' user when we are root, and
# that user must be able to reach the archive folder; a checkout under a
# private home folder is out of its reach, so fall back to /var/tmp.
demo=${DEMO_DIR:-$src/build/demo}
if [ "$(id -u)" -eq 0 ] && [ -z "${DEMO_DIR:-}" ] &&
	! runuser -u chartvault -- test -x "$src/build" 2>/dev/null; then
	demo=/var/tmp/chartvault-demo
fi

if [ -f "$demo/ARCHIVE" ]; then
	echo "demo: removing the previous demo archive in $demo"
	"$bin" -C "$demo" db stop >/dev/null 2>&1 || true
	rm -rf "$demo"
fi

echo "== chartvault init $demo"
"$bin" init "$demo"
echo
echo "== chartvault patients import samples/patients.csv (the patient index)"
"$bin" -C "$demo" patients import "$src/samples/patients.csv"
echo
echo "== chartvault ingest samples/batch"
"$bin" -C "$demo" ingest --batch demo-samples "$src/samples/batch"
echo
echo "== chartvault search appendectomy"
"$bin" -C "$demo" search appendectomy
echo
echo "== chartvault search '\"atrial fibrillation\" OR metformin'"
"$bin" -C "$demo" search '"atrial fibrillation" OR metformin' --limit 5
echo
echo "== chartvault queue list (documents held for records staff: the seeded misfile)"
"$bin" -C "$demo" queue list
echo
echo "Try: $bin -C $demo show 1"
echo "     $bin -C $demo db status"
echo "     $bin -C $demo db stop     (when you are done)"
