#!/bin/sh
# bench/ingest_bench.sh -- durable ingest (issue 4, point 4): upserts per
# second of workers and of jobs through the API, every index and the push
# inboxes maintained, each group durable before it is acknowledged.
# Generates the base data (seed 1) and imports it with `songgang import`
# (the bulk path, no push: its records/s are reported too), then an update
# set with seed 2 (same ids, other contents, so index entries move) and
# runs bench/ingest_bench on it, each run on a fresh copy of the imported
# store:
#   one      BATCH 1: one record per durable commit (W1 workers, J1 jobs)
#   grouped  BATCH 1000: group commits (WG workers, JG jobs), and the push
#            ranking alone timed afterwards (--rank)
#   top1     grouped jobs pushed to 1 candidate instead of 50
#   store    grouped, records put straight into the store (no API, no push)
# Within a run the workers go first, then the jobs (ranked against the
# updated workers).  A worker keeps its base ID number in the update set:
# seed 2 would give some of them ID numbers held by other workers, which
# the API rightly refuses (409).  Every store is checked (`songgang check`)
# after its run and must be clean.  Writes bench/results/ingest-W.json/.md.
# Usage: sh bench/ingest_bench.sh BUILD_DIR WORKERS JOBS COUNTIES
#   env: W1 J1 (default 2000 500), WG JG (50000 5000), INGEST_WORK (data dir)
set -eu
if [ $# -ne 4 ]; then
    echo "usage: sh bench/ingest_bench.sh BUILD_DIR WORKERS JOBS COUNTIES" >&2
    exit 2
fi
B=$1 W=$2 J=$3 K=$4
W1=${W1:-2000} J1=${J1:-500} WG=${WG:-50000} JG=${JG:-5000}
WORK=${INGEST_WORK:-bench/work/ingest}
RES=bench/results
min() { [ "$1" -lt "$2" ] && echo "$1" || echo "$2"; }
W1=$(min "$W1" "$W") J1=$(min "$J1" "$J") WG=$(min "$WG" "$W") JG=$(min "$JG" "$J")

make -s B="$B" "$B/songgang" "$B/bench/ingest_bench"
SG=$B/songgang
IB=$B/bench/ingest_bench
rm -rf "$WORK"
mkdir -p "$WORK" "$RES"

# first KIND N FILE: the first N records of one kind.
first() { grep "\"kind\":\"$1\"" "$3" | head -n "$2" || true; }
now() { date +%s.%N; }

# 1. Base data, imported by the bulk path (durable groups of 5,000).
GEN="--county 360425 --counties $K --workers $W --jobs $J"
"$SG" gen $GEN --seed 1 >"$WORK/base.ndjson"
sync # the generator's file written back now, not inside the import's commits
# The import is timed IMPORT_RUNS times (3 up to 100,000 workers, else 1),
# each into a fresh store, and the median kept.  On the 2-core VM of
# 2026-12-07 the county import took 0.75-0.98 s here against 0.53-0.56 s
# run by hand or inside pg_bench.sh; the cause was not found (the disk is
# mounted with `discard`, which may trim the blocks of the store deleted
# just before), and the median did not remove the gap.
IMPORT_RUNS=${IMPORT_RUNS:-$([ "$W" -le 100000 ] && echo 3 || echo 1)}
: >"$WORK/import.times"
i=0
while [ $i -lt "$IMPORT_RUNS" ]; do
    rm -rf "$WORK/base"
    t0=$(now)
    "$SG" import --db "$WORK/base" "$WORK/base.ndjson" >"$WORK/import.out"
    t1=$(now)
    printf '%.3f\n' "$(echo "$t1 - $t0" | bc)" >>"$WORK/import.times"
    i=$((i + 1))
done
IMP_N=$(wc -l <"$WORK/base.ndjson")
IMP_S=$(sort -n "$WORK/import.times" | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
echo "import: $(cat "$WORK/import.out") in $IMP_S s (median of: $(tr '\n' ' ' <"$WORK/import.times"))"

# 2. The update set: seed 2, kept to the ids the base has (over several
# counties a seed puts other numbers of households in each county, so a
# few ids exist in one set only), in seed 2's order.  Each worker keeps
# its base ID number (or none).  Only the records sent are kept.
"$SG" gen $GEN --seed 2 >"$WORK/upd-all.ndjson"
first worker $((2 * WG)) "$WORK/upd-all.ndjson" >"$WORK/cand-w.ndjson"
first job $((2 * JG)) "$WORK/upd-all.ndjson" >"$WORK/cand-j.ndjson"
rm -f "$WORK/upd-all.ndjson"
# updates CAND N: the first N lines of CAND whose id is in the base, with
# the base's "id_number" member in place of CAND's.
updates() {
    awk -v max="$2" '
    function id_of(s) {
        match(s, /"id":"[^"]*"/)
        return substr(s, RSTART + 6, RLENGTH - 7)
    }
    function idnum_of(s) {
        return match(s, /,"id_number":"[0-9X]*"/) ? substr(s, RSTART, RLENGTH) : ""
    }
    FILENAME == ARGV[1] && !pass2 { want[id_of($0)] = 1; next }
    FILENAME == ARGV[2] {
        pass2 = 1
        k = id_of($0)
        if (k in want) { have[k] = 1; num[k] = idnum_of($0) }
        next
    }
    {
        k = id_of($0)
        if (!(k in have) || n >= max) { next }
        line = $0
        if (match(line, /,"id_number":"[0-9X]*"/)) {
            line = substr(line, 1, RSTART - 1) substr(line, RSTART + RLENGTH)
        }
        sub(/}$/, num[k] "}", line)
        print line
        n++
    }' "$1" "$WORK/base.ndjson" "$1"
}
updates "$WORK/cand-w.ndjson" "$WG" >"$WORK/upd-w.ndjson"
updates "$WORK/cand-j.ndjson" "$JG" >"$WORK/upd-j.ndjson"
WG=$(wc -l <"$WORK/upd-w.ndjson") JG=$(wc -l <"$WORK/upd-j.ndjson")
{ head -n "$W1" "$WORK/upd-w.ndjson"; head -n "$J1" "$WORK/upd-j.ndjson"; } \
    >"$WORK/one.ndjson"
cat "$WORK/upd-w.ndjson" "$WORK/upd-j.ndjson" >"$WORK/grouped.ndjson"

# run NAME FILE BATCH [OPTIONS]: ingest_bench on a fresh copy of the base,
# then `songgang check` on it; NAME.json and NAME.md rows in WORK.
run() {
    name=$1 file=$2 batch=$3
    shift 3
    rm -rf "$WORK/db"
    cp -a "$WORK/base" "$WORK/db"
    sync # the copy written back now, not during the run's commits
    echo "== $name: ingest_bench $(basename "$file") $batch $*"
    "$IB" "$WORK/db" "$file" "$batch" "$@" >"$WORK/$name.out"
    head -n 1 "$WORK/$name.out" >"$WORK/$name.json"
    grep '^|' "$WORK/$name.out" | tee "$WORK/$name.md"
    if ! "$SG" check --db "$WORK/db" >"$WORK/$name.check"; then
        cat "$WORK/$name.check"
        echo "ingest_bench.sh: $name: the store is not consistent" >&2
        exit 1
    fi
    cat "$WORK/$name.check"
    rm -rf "$WORK/db"
}
run one "$WORK/one.ndjson" 1
run grouped "$WORK/grouped.ndjson" 1000 --rank
run top1 "$WORK/upd-j.ndjson" 1000 --push-top 1 --rank
run store "$WORK/grouped.ndjson" 1000 --store-only

# 3. Results.
FS=$(df -T "$WORK" | awk 'NR == 2 {print $2}')
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
DATE=$(date -u +%Y-%m-%dT%H:%MZ)
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- matcher proto include 2>/dev/null)" ]; then
    REV="$REV+changes"
fi
jq -n --argjson one "$(cat "$WORK/one.json")" \
    --argjson grouped "$(cat "$WORK/grouped.json")" \
    --argjson top1 "$(cat "$WORK/top1.json")" \
    --argjson store "$(cat "$WORK/store.json")" \
    --arg date "$DATE" --arg cpu "$CPU" --arg fs "$FS" --arg rev "$REV" \
    --argjson cores "$(nproc)" --argjson w "$W" --argjson j "$J" \
    --argjson k "$K" --argjson imp_n "$IMP_N" --argjson imp_s "$IMP_S" '
    def ms($x): ($x * 1000 | round) / 1000;
    ($grouped.workers.records + $grouped.jobs.records) as $n
    | ($grouped.workers.seconds + $grouped.jobs.seconds) as $s
    | {date: $date, cpu: $cpu, cores: $cores, filesystem: $fs,
       revision: $rev,
       data: {workers: $w, jobs: $j, counties: $k},
       import: {records: $imp_n, seconds: $imp_s,
                per_s: ($imp_n / $imp_s | round)},
       durable_per_s: ($n / $s | round),
       durable_per_s_workers: ($grouped.workers.per_s | round),
       durable_per_s_jobs: ($grouped.jobs.per_s | round),
       target_per_s: 10000,
       job_ms: {api_push_top_50: ms($grouped.jobs.handle_ms_per_record),
                api_push_top_1: ms($top1.jobs.handle_ms_per_record),
                store_writes_only: ms($store.jobs.handle_ms_per_record),
                ranking_top_50: ms($grouped.jobs.rank_ms_per_record),
                ranking_top_1: ms($top1.jobs.rank_ms_per_record)},
       worker_ms: {api: ms($grouped.workers.handle_ms_per_record),
                   store_writes_only: ms($store.workers.handle_ms_per_record),
                   with_list_event: ms($grouped.workers.pushed_ms_per_record),
                   without_event: ms($grouped.workers.unpushed_ms_per_record),
                   ranking_top_20: ms($grouped.workers.rank_ms_per_record),
                   share_with_list_event: (if $grouped.workers.records > 0
                       then ($grouped.workers.pushed / $grouped.workers.records
                             * 1000 | round) / 1000 else 0 end)},
       check: "clean",
       runs: {one_per_commit: $one, grouped: $grouped,
              grouped_jobs_push_top_1: $top1,
              grouped_store_only: $store}}' >"$RES/ingest-$W.json"

R=$RES/ingest-$W.json
v() { jq -r "$1" "$R"; }
{
    echo "# songgang durable ingest"
    echo
    echo "$DATE, $(nproc) cores, $CPU; store on $FS; revision $REV"
    echo
    echo "data: songgang gen $GEN --seed 1, imported; updates: the same with --seed 2"
    echo "(each worker keeps its base ID number)."
    echo
    echo "bulk import (songgang import, no push, durable groups of 5,000):"
    echo "$IMP_N records in $IMP_S s (median of $IMPORT_RUNS), $(v .import.per_s) records/s."
    echo
    echo "Upserts through the API (PUT /v1/workers/{id}, PUT /v1/jobs/{id}, an"
    echo "admin key), BATCH per durable commit, each straight in the group's"
    echo "transaction (a nested one only after it failed), as the service's"
    echo "writer runs them.  Each run starts from the imported"
    echo "store; workers go first, then jobs.  ms/record: inside the requests;"
    echo "ms/commit: the durable commit (fsync); rank ms/record: the push ranking"
    echo "alone, in a read transaction after the run (a job: sg_match_job top K;"
    echo "a worker: sg_match_worker top 20, the ranking of a \`list\` event).  Every"
    echo "reply was 200."
    echo
    echo "| kind | batch | mode | push top | records | s | upserts/s | ms/record | ms/commit | events | commits | rank ms/record | failed |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    cat "$WORK/one.md" "$WORK/grouped.md" "$WORK/top1.md" "$WORK/store.md"
    echo
    echo "**Grouped commits: $(v .durable_per_s) durable upserts/s** (workers"
    echo "$(v .durable_per_s_workers)/s, jobs $(v .durable_per_s_jobs)/s; target $(v .target_per_s)/s)."
    echo
    echo "Where a job's time goes (ms per job, grouped): the store writes alone"
    echo "$(v .job_ms.store_writes_only); the whole request $(v .job_ms.api_push_top_50) with push to 50,"
    echo "$(v .job_ms.api_push_top_1) with push to 1; the push ranking alone $(v .job_ms.ranking_top_50)"
    echo "(top 50), $(v .job_ms.ranking_top_1) (top 1).  The rest is auth, decoding, the"
    echo "reply, and the events (JSON of each \`match\`/\`removed\`, log and"
    echo "inbox entries, pushed set)."
    echo
    echo "Where a worker's time goes (ms per worker, grouped): the store writes"
    echo "alone $(v .worker_ms.store_writes_only); the whole request $(v .worker_ms.api) on average:"
    echo "$(v .worker_ms.with_list_event) for the share $(v .worker_ms.share_with_list_event) whose status turned returned or idle"
    echo "(a \`list\` event: a top-20 ranking, $(v .worker_ms.ranking_top_20) ms alone on average over"
    echo "all workers, and its JSON), $(v .worker_ms.without_event) for the others."
    echo
    echo "songgang check after every run: $(cat "$WORK/grouped.check")"
} >"$RES/ingest-$W.md"
cat "$RES/ingest-$W.md"
