#!/bin/sh
# make bench, the viewer: a throwaway archive with the samples loaded
# (init, the sample patients, all of samples/batch ingested), then
# BENCH_VIEWER_RUNS (default 3) runs of bench/viewer.mjs against a fresh
# `chartvault serve` on loopback, each with its own empty image cache so
# that "cold" is a first render. Prints the medians of the runs, the
# goals of issue 7 (page image p95 <= 150 ms, search page p95 <= 200 ms
# under 20 clients) and the ratios, and the load average before and
# after: the machine's cores are shared, so read medians and ratios.
#
# BENCH_VIEWER_ARCHIVE=DIR uses (and keeps) an archive made by an earlier
# run instead of ingesting the samples again (it is made there when
# missing); its database server is left running. BENCH_VIEWER_JSON=FILE
# appends each run's figures to FILE as a line of JSON.
#
# usage: bench/viewer.sh /path/to/chartvault
set -eu
bin=$1
src=$(cd "$(dirname "$0")/.." && pwd)
runs=${BENCH_VIEWER_RUNS:-3}
work=$(mktemp -d /tmp/cvbench-viewer.XXXXXX)
chmod 0711 "$work"
archive=${BENCH_VIEWER_ARCHIVE:-$work/archive}
port=$((20000 + $$ % 20000))
user=bench
password=bench-Secret-1
server=
cleanup() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
	fi
	if [ -z "${BENCH_VIEWER_ARCHIVE:-}" ]; then
		"$bin" -C "$archive" db stop >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
export OMP_THREAD_LIMIT=1

echo
echo "Viewer: load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc --all) cores)"
if [ ! -f "$archive/chartvault.conf" ]; then
	"$bin" init "$archive" >/dev/null
	"$bin" -C "$archive" patients import "$src/samples/patients.csv" >/dev/null
	start=$(date +%s)
	# Exit 1 is "finished with rejects"; anything else stops the bench.
	"$bin" -C "$archive" ingest --batch bench-viewer "$src"/samples/batch/* \
		>/dev/null || [ $? -eq 1 ]
	echo "  samples ingested in $(($(date +%s) - start)) s"
else
	"$bin" -C "$archive" db start >/dev/null 2>&1 || true
fi
if ! "$bin" -C "$archive" user list 2>/dev/null | grep -q "^$user\b"; then
	"$bin" -C "$archive" user add "$user" --role records >/dev/null
fi
CHARTVAULT_NEW_PASSWORD=$password "$bin" -C "$archive" user passwd "$user" >/dev/null

i=1
while [ "$i" -le "$runs" ]; do
	"$bin" -C "$archive" serve --listen "127.0.0.1:$port" 2>"$work/serve.log" &
	server=$!
	n=0
	until node -e 'fetch(process.argv[1]).then(() => process.exit(0), () => process.exit(1))' \
		"http://127.0.0.1:$port/login" 2>/dev/null; do
		n=$((n + 1))
		if [ "$n" -gt 100 ] || ! kill -0 "$server" 2>/dev/null; then
			cat "$work/serve.log" >&2
			echo "viewer bench: the server did not start" >&2
			exit 1
		fi
		sleep 0.1
	done
	BENCH_VIEWER_PIDS="$server $(head -1 "$archive/pgdata/postmaster.pid" 2>/dev/null)" \
		BENCH_VIEWER_CLK_TCK=$(getconf CLK_TCK) \
		node "$src/bench/viewer.mjs" run "http://127.0.0.1:$port" "$user" "$password" \
		>"$work/run$i.json"
	kill "$server"
	wait "$server" 2>/dev/null || true
	server=
	i=$((i + 1))
done
node "$src/bench/viewer.mjs" table "$work"/run*.json
if [ -n "${BENCH_VIEWER_JSON:-}" ]; then
	cat "$work"/run*.json >>"$BENCH_VIEWER_JSON"
fi
# Every view was audited (group-committed: viewer/audit.c); the chain
# must still verify.
"$bin" -C "$archive" audit verify | sed 's/^/  /'
echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
