#!/bin/sh
# make bench: chartvault against its peer tools on the same pages, in one
# run, printed as ratios. Tests never assert on time; this is where speed
# is watched.
#
#   OCR throughput, one core: 'chartvault ingest --workers 1' against
#   'tesseract' run once per page (OMP_THREAD_LIMIT=1 for both), on the
#   sample batch and on the dense pages of ../shared/bench/make_pages.sh.
#
# usage: bench/run.sh /path/to/chartvault
set -eu
bin=$1
src=$(cd "$(dirname "$0")/.." && pwd)
repeat=${BENCH_REPEAT:-3}
cores=$(nproc --all)
work=$(mktemp -d /tmp/cvbench.XXXXXX)
chmod 0711 "$work"
export OMP_THREAD_LIMIT=1
stop_all() {
	for a in "$work"/archive-*; do
		[ -d "$a" ] && "$bin" -C "$a" db stop >/dev/null 2>&1
	done
	rm -rf "$work"
}
trap stop_all EXIT

now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
per_min() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n * 60 / s }'; }

# One page per file, so that tesseract runs once per page.
split_pages() { # in_dir out_dir
	mkdir -p "$2"
	for f in "$1"/*; do
		base=$(basename "$f"); stem=${base%.*}
		case $f in
		*.tif|*.tiff)
			n=$(identify "$f" | wc -l)
			i=0
			while [ $i -lt "$n" ]; do
				/usr/bin/convert "$f[$i]" -compress Group4 "$2/$stem-p$(printf %03d $((i + 1))).tif"
				i=$((i + 1))
			done ;;
		*) cp "$f" "$2/" ;;
		esac
	done
}

# Every page's text as chartvault recognised it, one file per page named
# after its source file, for the error-rate scorer.
page_texts() { # archive out_dir
	mkdir -p "$2"
	d=1
	while "$bin" -C "$1" show --json "$d" > "$work/doc.json" 2>/dev/null; do
		python3 - "$work/doc.json" "$2" <<'PY'
import json, os, sys
doc = json.load(open(sys.argv[1]))
for p in doc["pages"]:
    stem = os.path.splitext(os.path.basename(p["file"]))[0]
    open(os.path.join(sys.argv[2], stem + ".txt"), "w").write(p.get("text", ""))
PY
		d=$((d + 1))
	done
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }

# Each round runs both tools on the same pages, alternating, so that any
# slow spell of the machine hits both; chartvault gets a fresh archive
# each round (it would otherwise find the pages already archived).
bench_set() { # name pages_dir
	name=$1; dir=$2
	pages=$(ls "$dir" | wc -l)
	: > "$work/t-tess"; : > "$work/t-cv"
	round=1
	while [ $round -le "$repeat" ]; do
		out="$work/tess-$name-$round"; mkdir -p "$out"
		t0=$(now)
		for p in "$dir"/*; do
			tesseract "$p" "$out/$(basename "$p")" >/dev/null 2>&1
		done
		t1=$(now)
		elapsed "$t0" "$t1" >> "$work/t-tess"

		a="$work/archive-$name-$round"
		"$bin" init "$a" >/dev/null
		t0=$(now)
		"$bin" -q -C "$a" ingest --workers 1 --batch "bench-$name" "$dir" >/dev/null
		t1=$(now)
		elapsed "$t0" "$t1" >> "$work/t-cv"
		[ $round -eq 1 ] && page_texts "$a" "$work/cv-$name"
		"$bin" -C "$a" db stop >/dev/null
		round=$((round + 1))
	done
	tess=$(median < "$work/t-tess"); cv=$(median < "$work/t-cv")
	printf '%-8s %5d pages  tesseract %6.1f s (%s pages/min)  chartvault %6.1f s (%s pages/min)  ratio %s\n' \
		"$name" "$pages" "$tess" "$(per_min "$pages" "$tess")" "$cv" "$(per_min "$pages" "$cv")" \
		"$(ratio "$tess" "$cv")"
}

echo "chartvault bench on $cores cores, $(date -u +%Y-%m-%dT%H:%MZ), median of $repeat rounds"
echo "tesseract: $(tesseract --version 2>&1 | head -1)"

split_pages "$src/samples/batch" "$work/samples"
if [ -x "$src/../shared/bench/make_pages.sh" ]; then
	bash "$src/../shared/bench/make_pages.sh" "$work/dense-src" >/dev/null 2>&1
	mkdir -p "$work/dense" && cp "$work/dense-src/pages/"* "$work/dense/"
fi

echo
echo "OCR throughput on one core: 'chartvault ingest --workers 1' (load, deskew, OCR, archive,"
echo "index) against 'tesseract' once per page; ratio = chartvault pages/min / tesseract"
echo "pages/min, goal >= 0.90:"
bench_set samples "$work/samples"
if [ -d "$work/dense" ]; then
	bench_set dense "$work/dense"
	echo
	echo "Character error rate on the dense, noisy, skewed pages (../shared/bench/cer.py):"
	# tesseract wrote pNN.tif.txt / pNN.png.txt; the scorer wants pNN.txt.
	for f in "$work"/tess-dense-1/*.txt; do
		mv "$f" "$(printf '%s' "$f" | sed 's/\.[a-z]*\.txt$/.txt/')"
	done
	printf '  tesseract   '; python3 "$src/../shared/bench/cer.py" "$work/dense-src/gt" "$work/tess-dense-1" | tail -1
	printf '  chartvault  '; python3 "$src/../shared/bench/cer.py" "$work/dense-src/gt" "$work/cv-dense" | tail -1
fi

sh "$src/bench/archive.sh" "$bin"
