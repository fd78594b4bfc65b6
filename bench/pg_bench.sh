#!/bin/sh
# bench/pg_bench.sh -- the matcher against PostgreSQL 15 on the same data
# (issue 4, point 2).  Generates the synthetic data (`songgang gen`, fixed
# seed), imports it into a songgang store, dumps it as CSV (bench/vs_pg
# dump), starts a PostgreSQL 15 of its own in a temporary directory
# (127.0.0.1 on a free port, its unix socket in that directory), loads the
# CSV with the schema, indexes and queries of bench/pg_schema.sql, then runs
# bench/vs_pg, which times both systems on the same queries and compares
# every result list.  PostgreSQL is stopped by PID on every exit.
#
# PostgreSQL settings are for a 24 GB machine (override with PG_SHARED_BUFFERS,
# PG_EFFECTIVE_CACHE, PG_WORK_MEM).  The bulk load runs with fsync,
# full_page_writes and synchronous_commit off; all three are turned back on
# (and a checkpoint taken) before any query: the queries only read, so
# these settings change nothing in what is compared.  JIT is off: these are
# short queries that it could only slow down.  Authentication is `trust`,
# reachable only from this machine (127.0.0.1 and a socket in a private
# directory).  As root, PostgreSQL (which refuses to run as root) runs as
# the `postgres` user.
#
# Data generated for W/J/K is kept in bench/work/pg and reused by the next
# run with the same sizes and the same songgang binary (delete it to
# regenerate).
# Usage: sh bench/pg_bench.sh BUILD_DIR WORKERS JOBS COUNTIES QUERIES [PG_QUERIES]
# Writes bench/results/pg-WORKERS.json and bench/results/pg-WORKERS.md.
set -e
if [ $# -lt 5 ]; then
    echo "usage: sh bench/pg_bench.sh BUILD_DIR WORKERS JOBS COUNTIES QUERIES [PG_QUERIES]" >&2
    exit 2
fi
B=$(cd "$1" && pwd)
W=$2 J=$3 K=$4 Q=$5 PGQ=${6:-$5}
AS_OF=${AS_OF:-2026-12-01}
ROOT=$(pwd)
WORK=$ROOT/bench/work/pg
DATA=$WORK/data-$W-$J-$K
RES=$ROOT/bench/results
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
for f in "$B/songgang" "$B/bench/vs_pg" "$PGBIN/postgres"; do
    if [ ! -x "$f" ]; then
        echo "pg_bench: $f missing (make B=... all \$B/bench/vs_pg; tools/bench-deps.sh)" >&2
        exit 1
    fi
done
command -v jq >/dev/null || { echo "pg_bench: needs jq" >&2; exit 1; }
mkdir -p "$WORK" "$RES"

now() { date +%s.%N; }
since() { echo "scale=2; ($(now) - $1) / 1" | bc | sed 's/^\./0./'; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + $$ % 10000)); }

# 1. Data, and the songgang store (kept for the next run of the same size,
# as long as the binary that wrote it is the same).
stamp=$(cksum <"$B/songgang")
if [ ! -f "$DATA/done" ] || [ "$(cat "$DATA/done")" != "$stamp" ]; then
    rm -rf "$DATA"
    mkdir -p "$DATA"
    echo "pg_bench: generating $W workers, $J jobs over $K counties"
    "$B/songgang" gen --county 360425 --counties "$K" --workers "$W" \
        --jobs "$J" --seed 1 >"$DATA/data.ndjson"
    t0=$(now)
    "$B/songgang" import --db "$DATA/db" "$DATA/data.ndjson" | tail -1
    since "$t0" >"$DATA/import_s"
    rm -f "$DATA/data.ndjson"
    echo "$stamp" >"$DATA/done"
else
    echo "pg_bench: reusing the store in $DATA"
fi

# 2. A private PostgreSQL.  PGPID is set once it runs; the trap stops it by
# that PID, waits for it to exit, and removes its directory.
PGD=$(mktemp -d "${TMPDIR:-/tmp}/songgang-pg.XXXXXX")
PGPID=""
stop_pg() {
    if [ -n "$PGPID" ] && kill -0 "$PGPID" 2>/dev/null; then
        kill -INT "$PGPID" 2>/dev/null || true # fast shutdown
        i=0
        while kill -0 "$PGPID" 2>/dev/null && [ $i -lt 600 ]; do
            sleep 0.1
            i=$((i + 1))
        done
    fi
    PGPID=""
    cp "$PGD/log" "$WORK/postgres.log" 2>/dev/null || true
    rm -rf "$PGD"
}
trap stop_pg EXIT
trap 'exit 1' INT TERM
if [ "$(id -u)" = 0 ]; then
    chown postgres "$PGD"
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi
chmod 700 "$PGD"
PORT=$(port)
as_pg "$PGBIN/initdb" -D "$PGD/data" -U postgres -A trust -E UTF8 \
    --locale=C --no-sync >"$PGD/initdb.log"
cat >>"$PGD/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$PGD'
shared_buffers = ${PG_SHARED_BUFFERS:-4GB}
effective_cache_size = ${PG_EFFECTIVE_CACHE:-16GB}
work_mem = ${PG_WORK_MEM:-64MB}
maintenance_work_mem = 1GB
random_page_cost = 1.1
max_wal_size = 8GB
jit = off
fsync = off
full_page_writes = off
synchronous_commit = off
EOF
as_pg "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/log" -w -t 120 start >/dev/null
PGPID=$(head -1 "$PGD/data/postmaster.pid")
PSQL="$PGBIN/psql -X -q -h $PGD -p $PORT -U postgres -d postgres"

# 3. CSV in the private directory (the server reads it with COPY).
mkdir "$PGD/csv"
"$B/bench/vs_pg" dump "$DATA/db" "$PGD/csv" >/dev/null
[ "$(id -u)" = 0 ] && chown -R postgres "$PGD/csv"

# 4. Load, index, analyze; then make the server durable again.
t0=$(now)
$PSQL -v csv="$PGD/csv" -f bench/pg_schema.sql >"$WORK/load.out"
load_s=$(since "$t0")
rm -rf "$PGD/csv"
$PSQL -c "ALTER SYSTEM SET fsync = on" \
    -c "ALTER SYSTEM SET full_page_writes = on" \
    -c "ALTER SYSTEM SET synchronous_commit = on" \
    -c "SELECT pg_reload_conf()" -c "CHECKPOINT" >/dev/null
copy_s=$(awk '$1=="load" && $2=="copy" {print $3}' "$WORK/load.out")
index_s=$(awk '$1=="load" && $2=="index" {print $3}' "$WORK/load.out")
analyze_s=$(awk '$1=="load" && $2=="vacuum_analyze" {print $3}' "$WORK/load.out")
pgsize=$($PSQL -At -c "SELECT pg_size_pretty(pg_database_size('postgres'))")

# The plans of one query each way (a middle worker, a middle job), kept in
# bench/work/pg/explain.txt for whoever wonders where PostgreSQL's time goes.
asof_days=$($PSQL -At -c "SELECT '$AS_OF'::date - '1970-01-01'::date")
wid=$($PSQL -At -c "SELECT id FROM workers WHERE seeking ORDER BY id
    OFFSET (SELECT count(*) / 2 FROM workers WHERE seeking) LIMIT 1")
jid=$($PSQL -At -c "SELECT id FROM jobs WHERE open ORDER BY id
    OFFSET (SELECT count(*) / 2 FROM jobs WHERE open) LIMIT 1")
{
    echo "-- worker $wid -> top 20 jobs"
    $PSQL -At -c "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM sg_jobs_for('$wid', $asof_days, 20)"
    echo "-- job $jid -> top 50 workers"
    $PSQL -At -c "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM sg_workers_for('$jid', $asof_days, 50)"
} >"$WORK/explain.txt"

# 5. The comparison.  vs_pg exits 3 when any list differs: report anyway,
# then fail.
OUTJ=$RES/pg-$W.json
OUTM=$RES/pg-$W.md
rc=0
"$B/bench/vs_pg" run "$DATA/db" "host=127.0.0.1 port=$PORT user=postgres dbname=postgres" \
    "$Q" "$AS_OF" "$OUTJ" --pg-queries "$PGQ" >"$WORK/vs_pg.out" || rc=$?
stop_pg
if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
    cat "$WORK/vs_pg.out"
    echo "pg_bench: vs_pg failed (exit $rc)" >&2
    exit $rc
fi

import_s=$(cat "$DATA/import_s")
jq --arg data "songgang gen --county 360425 --counties $K --workers $W --jobs $J --seed 1" \
    --argjson import_s "$import_s" --argjson load_s "$load_s" \
    --argjson copy_s "${copy_s:-null}" --argjson index_s "${index_s:-null}" \
    --argjson analyze_s "${analyze_s:-null}" --arg pg_size "$pgsize" \
    '. + {data: $data, songgang_import_s: $import_s,
          pg_load: {total_s: $load_s, copy_s: $copy_s, index_s: $index_s,
                    vacuum_analyze_s: $analyze_s, database_size: $pg_size}}' \
    "$OUTJ" >"$OUTJ.tmp" && mv "$OUTJ.tmp" "$OUTJ"
{
    echo "# songgang matcher vs PostgreSQL 15"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/^Mem:/ {print $2}') GB;" \
        "$("$PGBIN/postgres" --version); songgang $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo
    echo "data: songgang gen --county 360425 --counties $K --workers $W --jobs $J --seed 1"
    echo "songgang import (durable group commits): $import_s s." \
        "PostgreSQL load: $load_s s in all (COPY $copy_s s, indexes $index_s s, VACUUM ANALYZE $analyze_s s; $pgsize)."
    echo "PostgreSQL: shared_buffers ${PG_SHARED_BUFFERS:-4GB}, work_mem ${PG_WORK_MEM:-64MB}," \
        "effective_cache_size ${PG_EFFECTIVE_CACHE:-16GB}, jit off; queries over TCP on 127.0.0.1," \
        "prepared statements, tables and indexes prewarmed (pg_prewarm). The matcher runs in-process, its store read through once first (sg_store_prewarm)."
    echo
    cat "$WORK/vs_pg.out"
} >"$OUTM"
cat "$OUTM"
if [ $rc -eq 3 ]; then
    echo "pg_bench: FAILED: PostgreSQL's results differ from the matcher's (see above)" >&2
fi
exit $rc
