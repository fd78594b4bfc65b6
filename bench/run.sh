#!/bin/sh
# bench/run.sh -- the matcher benchmark of `make bench`: generates the
# synthetic county (100,000 workers, 10,000 jobs, fixed seed), imports it
# with durable group commits (timed), verifies the store, and measures time
# per ranked query in both directions with bench/match_bench.
# Usage: sh bench/run.sh BUILD/songgang [WORKERS] [JOBS] [QUERIES] [COUNTIES]
set -e
BIN=$1
B=$(dirname "$BIN")
W=${2:-100000}
J=${3:-10000}
Q=${4:-10000}
K=${5:-1}
WORK=bench/work
rm -rf "$WORK/db"
mkdir -p "$WORK" bench/results
"$BIN" gen --county 360425 --counties "$K" --workers "$W" --jobs "$J" --seed 1 >"$WORK/data.ndjson"
lines=$(wc -l <"$WORK/data.ndjson")
t0=$(date +%s.%N)
"$BIN" import --db "$WORK/db" "$WORK/data.ndjson" | tail -1
t1=$(date +%s.%N)
"$BIN" check --db "$WORK/db"
{
    echo "# songgang matcher benchmark"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo
    echo "data: songgang gen --county 360425 --counties $K --workers $W --jobs $J --seed 1"
    echo "import: $lines records in $(echo "$t1 - $t0" | bc) s with durable group commits of 1,000 ($(echo "$lines / ($t1 - $t0)" | bc) records/s)"
    echo
    "$B/bench/match_bench" "$WORK/db" "$Q" 2026-12-01
} | tee "bench/results/match-$W-$K.md"
