#!/bin/sh
# make bench, search at scale: a synthetic archive of BENCH_SEARCH_PAGES
# pages (default 1,000,000; 100,000 patients) loaded straight into the
# index with COPY, without OCR, then 200 searches of 1-3 words timed
# through cv_index_search (snippets of the top 20 included), with and
# without filters, inside one patient's chart, and with --near.
#
# The words are clinical vocabulary with Zipfian frequencies
# (bench/search_corpus.c). No text objects are stored: a page's
# text_object names the page, and the bench's fetch callback writes the
# very text its search vector was made from, so a snippet costs what it
# costs with the archive's cache warm; the archive's own read speed is
# measured by bench/archive.sh.
#
# The database is a throwaway cluster with the settings of an archive's
# private cluster (shared_buffers 128MB, jit off), its schema made by
# 'chartvault init --db', so the migrations' indexes are the ones timed.
#
# BENCH_SEARCH_KEEP=1 keeps the database and its server for another
# 'search_bench run' (the folder is printed at the end), and
# BENCH_SEARCH_REUSE=FOLDER runs the searches again on such a kept
# database (started if it is not running, brought to this build's
# migrations) instead of generating a new one: the load takes minutes.
#
# usage: bench/search.sh /path/to/chartvault /path/to/search_bench
set -eu
bin=$1
sb=$2
pages=${BENCH_SEARCH_PAGES:-1000000}
queries=${BENCH_SEARCH_QUERIES:-200}
reuse=${BENCH_SEARCH_REUSE:-}
if [ -n "$reuse" ]; then
	work=$reuse
	BENCH_SEARCH_KEEP=1
else
	work=$(mktemp -d /tmp/cvbench-search.XXXXXX)
	chmod 0711 "$work"
fi
pguser=postgres
[ "$(id -u)" -eq 0 ] && pguser=chartvault || pguser=$(id -un)
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u "$pguser" -- "$@"; else "$@"; fi; }
cleanup() {
	if [ -n "${BENCH_SEARCH_KEEP:-}" ]; then
		echo "kept: $work (server running; stop: pg_ctl -D $work/pg/data stop)"
		return
	fi
	as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -m fast stop >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", b - a }'; }

start_pg() {
	as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w -o \
		"-k $work/pg -c listen_addresses='' -c shared_buffers=128MB -c jit=off -c maintenance_work_mem=512MB -c max_wal_size=4GB -c checkpoint_timeout=30min" \
		start >/dev/null
}
psql_() { psql -X -q -v ON_ERROR_STOP=1 -h "$work/pg" -U "$pguser" "$@"; }
dsn="host=$work/pg user=$pguser dbname=bench"
if [ -n "$reuse" ]; then
	as_pg "$pgbin/pg_ctl" -D "$work/pg/data" status >/dev/null 2>&1 || start_pg
	"$sb" migrate "$dsn"
else
	mkdir -p "$work/pg" && chown "$pguser" "$work/pg" 2>/dev/null || true
	as_pg "$pgbin/initdb" -D "$work/pg/data" -A trust -U "$pguser" >/dev/null
	start_pg
	psql_ -d postgres -c "CREATE DATABASE bench"
	"$bin" init --db "$dsn" "$work/archive" >/dev/null
fi

echo
echo "Search at scale: $pages synthetic pages, 100000 patients, $queries queries of 1-3 words,"
echo "limit 20 documents with snippets, facets counted; $(nproc) cores shared with other work,"
echo "so read the medians and ratios rather than single numbers:"

if [ -z "$reuse" ]; then
	# The lexemes of the vocabulary, as to_tsvector('english') makes them.
	"$sb" vocab > "$work/vocab.txt"
	psql_ -d bench -c "CREATE TEMP TABLE v (n serial, w text)" \
		-c "\\copy v (w) FROM '$work/vocab.txt'" \
		-c "\\copy (SELECT w, coalesce(array_to_string(ts_lexize('english_stem', w), ''), '') FROM v ORDER BY n) TO '$work/stems.txt'"

	# Bulk load: triggers (foreign keys, the --near vocabulary) and the
	# search index are set aside for the COPY and rebuilt after it, as a
	# back-file conversion's bulk load would; the rows are consistent by
	# construction (the synthetic archive has no source files or objects).
	t0=$(now)
	psql_ -d bench -c "INSERT INTO batches (id, name, operator) VALUES (1, 'bench', 'bench')" \
		-c "ALTER TABLE pages DISABLE TRIGGER ALL" \
		-c "ALTER TABLE documents DISABLE TRIGGER ALL" \
		-c "DROP INDEX IF EXISTS pages_tsv_rum" -c "DROP INDEX IF EXISTS pages_tsv_idx"
	"$sb" patients "$work/stems.txt" "$pages" |
		psql_ -d bench -c "COPY patients (id, mrn, family_name, given_name, dob) FROM STDIN"
	"$sb" documents "$work/stems.txt" "$pages" |
		psql_ -d bench -c "COPY documents (id, batch_id, patient_id, mrn, patient_name, doc_type, type_source, service_date, state) FROM STDIN"
	# two streams, one per core
	half=$(( (pages + 1) / 2 ))
	"$sb" pages "$work/stems.txt" "$pages" 1 "$half" |
		psql_ -d bench -c "COPY pages (id, file_id, page_no, state, document_id, seq, text_object, tsv) FROM STDIN" &
	"$sb" pages "$work/stems.txt" "$pages" $((half + 1)) "$pages" |
		psql_ -d bench -c "COPY pages (id, file_id, page_no, state, document_id, seq, text_object, tsv) FROM STDIN"
	wait
	t1=$(now)
	rum=$(psql_ -d bench -Atc "SELECT count(*) FROM pg_extension WHERE extname = 'rum'")
	if [ "$rum" = 1 ]; then
		psql_ -d bench -c "CREATE INDEX pages_tsv_rum ON pages USING rum (tsv rum_tsvector_ops)"
		index=pages_tsv_rum
	else
		psql_ -d bench -c "CREATE INDEX pages_tsv_idx ON pages USING gin (tsv)"
		index=pages_tsv_idx
	fi
	t2=$(now)
	psql_ -d bench -c "INSERT INTO search_vocab SELECT word FROM ts_stat('SELECT tsv FROM pages') ON CONFLICT DO NOTHING" \
		-c "ALTER TABLE pages ENABLE TRIGGER ALL" -c "ALTER TABLE documents ENABLE TRIGGER ALL" \
		-c "VACUUM ANALYZE pages" -c "VACUUM ANALYZE documents" -c "VACUUM ANALYZE patients" \
		-c "VACUUM ANALYZE search_vocab"
	t3=$(now)
	loaded="load: COPY $(secs "$t0" "$t1") s, search index $(secs "$t1" "$t2") s, vocabulary and vacuum $(secs "$t2" "$t3") s"
else
	loaded="load: the database kept in $work, generated earlier"
fi
index=$(psql_ -d bench -Atc "SELECT coalesce(to_regclass('pages_tsv_rum'), to_regclass('pages_tsv_idx'))")
rum=$(psql_ -d bench -Atc "SELECT count(*) FROM pg_extension WHERE extname = 'rum'")
psql_ -d bench -At -F ' ' -c "
SELECT '$loaded'
UNION ALL
SELECT format('sizes: %s pages, %s documents, %s vocabulary words; search index %s (%s bytes per page),'
              ' its 1/16, 1/128 and 1/1024 samples %s (%s bytes per page),'
              ' search vectors %s (%s bytes per page), vocabulary and its trigram index %s',
       (SELECT count(*) FROM pages), (SELECT count(*) FROM documents),
       (SELECT count(*) FROM search_vocab),
       pg_size_pretty(pg_relation_size('$index')),
       pg_relation_size('$index') / (SELECT count(*) FROM pages),
       pg_size_pretty(s.bytes), s.bytes / (SELECT count(*) FROM pages),
       pg_size_pretty(pg_table_size('pages')),
       pg_table_size('pages') / (SELECT count(*) FROM pages),
       pg_size_pretty(pg_total_relation_size('search_vocab')))
FROM (SELECT sum(pg_relation_size(i))::bigint AS bytes FROM unnest(array['pages_tsv_dense',
      'pages_tsv_sample', 'pages_tsv_sparse']) i WHERE to_regclass(i) IS NOT NULL) s"
echo "ranking: $([ "$rum" = 1 ] && echo 'RUM index (pages in rank order from the index)' || echo 'GIN + ts_rank_cd (no rum extension)')"
"$sb" run "$dsn" "$work/stems.txt" "$pages" "$queries"
