#!/bin/sh
# bench/bench.sh -- every benchmark of songgang in one run on this machine,
# each beside its peer measured in the same run:
#   1. the matcher against PostgreSQL 15 on the same data and queries, with
#      every result list compared, and the floor (the same index entries
#      read without scoring)            bench/pg_bench.sh -> bench/vs_pg
#   2. durable ingest, one record per commit and grouped
#                                       bench/ingest_bench.sh
#   3. the gateway against nginx        bench/http_bench.sh
#   4. push latency and the memory of idle streams
#                                       bench/push_bench.sh
#   5. (full) the scaling curve: the comparison of 1 again at 10k, 100k, 1M
#      and 3M workers, with a PNG plot
# then bench/report.py writes bench/results/latest.md and latest.json.
#
# smoke: the county (30,000 workers, 2,000 jobs), fewer queries, 1,000
#        stream clients -- a few minutes.
# full:  county and province (3,000,000 workers, 200,000 jobs over 100
#        counties), 10,000 queries each way, 1,000 and 10,000 clients --
#        long (an hour or more on 2 cores; needs ~40 GB of disk).
# Loopback only; every server it starts is stopped by PID.
# Usage: sh bench/bench.sh BUILD_DIR smoke|full
set -e
B=$1
MODE=${2:-smoke}
case "$MODE" in
smoke | full) ;;
*)
    echo "usage: sh bench/bench.sh BUILD_DIR smoke|full" >&2
    exit 2
    ;;
esac
sh tools/bench-deps.sh
make -s B="$B" all "$B/bench/vs_pg" "$B/bench/ingest_bench" \
    "$B/bench/sse_load" "$B/bench/nng_hop" "$B/bench/match_bench"
mkdir -p bench/results
# A run's results replace the last run's: start from none.
rm -f bench/results/pg-*.json bench/results/pg-*.md \
    bench/results/ingest-*.json bench/results/ingest-*.md \
    bench/results/push.json bench/results/push.md bench/results/http.json \
    bench/results/http.md bench/results/scaling.dat bench/results/scaling.png
stamp() { echo "== $(date -u +%H:%M:%S) $*"; }

if [ "$MODE" = smoke ]; then
    stamp "matcher vs PostgreSQL, county"
    sh bench/pg_bench.sh "$B" 30000 2000 1 2000 500
    stamp "durable ingest, county"
    W1=1000 J1=200 WG=30000 JG=2000 sh bench/ingest_bench.sh "$B" 30000 2000 1
    stamp "gateway vs nginx"
    sh bench/http_bench.sh "$B" 5 64
    stamp "push"
    PUSH_SECONDS=10 sh bench/push_bench.sh "$B" 1000
else
    stamp "matcher vs PostgreSQL, county"
    sh bench/pg_bench.sh "$B" 30000 2000 1 10000 "${PG_QUERIES_COUNTY:-10000}"
    # PostgreSQL takes about a second per job -> workers query at the
    # province scale: it runs the first PG_QUERIES_PROVINCE of the 10,000.
    stamp "matcher vs PostgreSQL, province"
    sh bench/pg_bench.sh "$B" 3000000 200000 100 10000 "${PG_QUERIES_PROVINCE:-300}"
    stamp "scaling points"
    sh bench/pg_bench.sh "$B" 1000000 66667 33 2000 "${PG_QUERIES_1M:-200}"
    sh bench/pg_bench.sh "$B" 100000 6667 3 2000 500
    sh bench/pg_bench.sh "$B" 10000 667 1 2000 500
    stamp "durable ingest, county and province"
    sh bench/ingest_bench.sh "$B" 30000 2000 1
    W1=1000 J1=200 WG=20000 JG=2000 sh bench/ingest_bench.sh "$B" 3000000 200000 100
    stamp "gateway vs nginx"
    sh bench/http_bench.sh "$B" 10 64
    stamp "push"
    sh bench/push_bench.sh "$B" 1000 10000
fi
stamp "report"
python3 bench/report.py "$MODE" >/dev/null
echo "bench: wrote bench/results/latest.md and bench/results/latest.json"
