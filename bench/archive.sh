#!/bin/sh
# The archive against restic on the same scan-like files, in one run:
#
#   chartvault archive put   vs  restic backup (first backup)
#   chartvault archive get   (every object, to /dev/null)
#   chartvault verify --full vs  restic check --read-data
#
# The files (about BENCH_ARCHIVE_MB, default 500) are made from
# samples/batch with ImageMagick: every file gets its own noise and crop, so nothing compresses or deduplicates trivially, as with real
# scans; about 10% are exact copies under other names. Each phase starts
# with the page cache dropped when we may (root), and says whether it did.
# Goals (issue 3): put >= 3x restic backup; verify --full >= 2x restic
# check --read-data.
#
# usage: bench/archive.sh /path/to/chartvault
set -eu
bin=$1
src=$(cd "$(dirname "$0")/.." && pwd)
repeat=${BENCH_REPEAT:-3}
target_mb=${BENCH_ARCHIVE_MB:-500}
work=$(mktemp -d /tmp/cvbench-archive.XXXXXX)
chmod 0711 "$work" # the private cluster's server user must reach it
convert=/usr/bin/convert
cleanup() {
	for a in "$work"/cv-*; do
		[ -d "$a" ] && "$bin" -C "$a" db stop >/dev/null 2>&1
	done
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1048576 / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
bytes_of() { find "$@" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

dropped=no
drop_caches() {
	sync
	if [ -w /proc/sys/vm/drop_caches ] && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then
		dropped=yes
	else
		dropped=no
	fi
}
# time a command (stdout and stderr discarded), after dropping the caches
timed() {
	drop_caches
	t0=$(now)
	"$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}

# --- the files ---------------------------------------------------------
files=$work/files
mkdir -p "$files"
ls "$src"/samples/batch/*.png "$src"/samples/batch/*.tif > "$work/samples"
nsamples=$(wc -l < "$work/samples")
make_one() { # index
	i=$1
	k=$((i % nsamples + 1))
	s=$(sed -n "${k}p" "$work/samples")
	noise=$(awk -v i="$i" 'BEGIN { printf "%.2f", 0.15 + (i % 7) / 20 }')
	crop=$((i % 40))
	case $s in
	*.tif) out=$files/scan-$i.tif; in="$s[$((i % 3))]"; opts="-compress LZW" ;;
	*) out=$files/scan-$i.png; in=$s; opts="" ;;
	esac
	# shellcheck disable=SC2086
	$convert "$in" -colorspace Gray -shave "${crop}x${crop}" -seed "$i" -attenuate "$noise" +noise Gaussian $opts "$out" 2>/dev/null ||
		$convert "$s" -colorspace Gray -seed "$i" -attenuate "$noise" +noise Gaussian "$out"
}
i=0
while [ "$(bytes_of "$files")" -lt $((target_mb * 1048576 * 9 / 10)) ]; do
	make_one $i & make_one $((i + 1)) & wait
	i=$((i + 2))
done
distinct=$(bytes_of "$files")
ndistinct=$(ls "$files" | wc -l)
# ~10% exact copies under other names
for f in $(ls "$files" | awk 'NR % 10 == 3'); do
	cp "$files/$f" "$files/copy-$f"
done
total=$(bytes_of "$files")
nfiles=$(ls "$files" | wc -l)

echo
echo "Archive throughput: $nfiles files, $(mbps "$total" 1) MB ($ndistinct distinct, $(mbps "$distinct" 1) MB),"
echo "made from samples/batch with noise; chartvault $(basename "$bin") against $(restic version | cut -d' ' -f1-2);"
echo "median of $repeat rounds; MB/s over all files for put/backup, over distinct bytes for get/verify/check"

export RESTIC_PASSWORD=chartvault-bench
for t in put backup get verify check; do : > "$work/t-$t"; done
round=1
while [ "$round" -le "$repeat" ]; do
	a=$work/cv-$round
	"$bin" init "$a" >/dev/null
	"$bin" -C "$a" db start >/dev/null 2>&1 || true
	timed "$bin" -q -C "$a" archive put "$files"/* >> "$work/t-put"
	# a second put stores nothing new; it must name every file
	"$bin" -C "$a" archive put "$files"/* > "$work/ids"
	[ "$(wc -l < "$work/ids")" -eq "$nfiles" ] ||
		{ echo "archive put: $(wc -l < "$work/ids") ids for $nfiles files" >&2; exit 1; }
	# every object, in one process (the store, not process start-up)
	timed "$bin" -C "$a" archive get --all >> "$work/t-get"
	timed "$bin" -C "$a" verify --full >> "$work/t-verify"
	"$bin" -C "$a" db stop >/dev/null 2>&1 || true
	rm -rf "$a"

	r=$work/restic-$round
	restic init -q --repo "$r" >/dev/null
	timed restic backup -q --no-cache --repo "$r" "$files" >> "$work/t-backup"
	timed restic check -q --no-cache --read-data --repo "$r" >> "$work/t-check"
	rm -rf "$r"
	round=$((round + 1))
done

put=$(median < "$work/t-put"); backup=$(median < "$work/t-backup")
get=$(median < "$work/t-get"); verify=$(median < "$work/t-verify")
check=$(median < "$work/t-check")
printf '  chartvault archive put      %6.2f s  %7s MB/s\n' "$put" "$(mbps "$total" "$put")"
printf '  restic backup (first)       %6.2f s  %7s MB/s\n' "$backup" "$(mbps "$total" "$backup")"
printf '  chartvault archive get      %6.2f s  %7s MB/s  (get --all, to /dev/null)\n' "$get" "$(mbps "$distinct" "$get")"
printf '  chartvault verify --full    %6.2f s  %7s MB/s\n' "$verify" "$(mbps "$distinct" "$verify")"
printf '  restic check --read-data    %6.2f s  %7s MB/s\n' "$check" "$(mbps "$distinct" "$check")"
echo "  ratio put / restic backup:            $(ratio "$backup" "$put") (goal >= 3)"
echo "  ratio verify --full / restic check:   $(ratio "$check" "$verify") (goal >= 2)"
echo "  page cache dropped between phases: $dropped"
