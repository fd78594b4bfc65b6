#!/bin/sh
# bench/push_bench.sh -- push latency and the memory of an idle SSE
# connection (issue 4 point 6).  County-scale data, one worker token per
# connected worker, then for each client count N a fresh copy of the
# store, `songgang serve` with a connection cap above N, and bench/sse_load:
# N streams, jobs posted at a steady rate, the time from each POST's 201 to
# each matching stream's `event: match`, and (VmRSS after - before) / N.
# Loopback only; every process it starts it stops by PID.
# Usage: sh bench/push_bench.sh BUILD_DIR [CLIENTS...]   (default 1000 10000)
# Environment: PUSH_RATE (jobs/s, 20), PUSH_SECONDS (30).
set -e
[ -n "$1" ] || { echo "usage: sh bench/push_bench.sh BUILD_DIR [CLIENTS...]" >&2; exit 2; }
BARG=$1
shift
CLIENTS=${*:-1000 10000}
RATE=${PUSH_RATE:-20}
SECS=${PUSH_SECONDS:-30}
ROOT=$(pwd)
W=$ROOT/bench/work/push
RES=$ROOT/bench/results
PIDS=""
stop() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; }
trap stop EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + $$ % 10000 + $1)); }
waitport() { i=0; while [ $i -lt 100 ]; do curl -s -o /dev/null "http://127.0.0.1:$1/healthz" && return 0; sleep 0.1; i=$((i+1)); done; return 1; }
# stop_pid PID: a graceful stop (SIGTERM), then wait for it.
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; PIDS=""; }

for t in curl jq; do
    command -v $t >/dev/null || { echo "push_bench: needs $t" >&2; exit 1; }
done
[ -x "$BARG/songgang" ] || make B="$BARG" all >/dev/null
[ -x "$BARG/bench/sse_load" ] || make B="$BARG" "$BARG/bench/sse_load" >/dev/null
B=$(cd "$BARG" && pwd)

# Every stream is a descriptor in both processes: the soft limit goes up
# to the hard one, which must cover the largest N and a margin.
MAXN=0
for n in $CLIENTS; do [ "$n" -gt "$MAXN" ] && MAXN=$n; done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((MAXN + 256)) ]; then
    echo "push_bench: ulimit -n is $(ulimit -n); $MAXN clients need $((MAXN + 256)) (raise the hard limit as root)" >&2
    exit 1
fi

rm -rf "$W/db" "$W/run" "$W"/push-*.json
mkdir -p "$W" "$RES"

# 1. County-scale data (Yongxiu's size) and an admin key (in a file, so it
#    never shows in a process listing).
"$B/songgang" gen --county 360425 --workers 30000 --jobs 2000 --seed 1 >"$W/data.ndjson"
"$B/songgang" import --db "$W/db" "$W/data.ndjson" >/dev/null
(umask 077 && "$B/songgang" key create --db "$W/db" --role admin >"$W/admin.key")

# 2. Which workers connect: seeking ones, those whose travel reaches the
#    whole county first (any village's job can reach them), grouped by
#    township and village, the townships with most such workers first.  A
#    job's top 50 (--push-top) are mostly its own villages' and township's
#    workers, so the jobs sse_load sites in the connected workers' villages
#    reach many of them even when N is a small part of the county.
jq -r 'select(.kind=="worker" and .seeking) |
       [.id, .region, (if (.travel=="village" or .travel=="township") then 1 else 0 end)] | @tsv' \
    "$W/data.ndjson" |
    awk -F'\t' '{ t = substr($2, 1, 9); n[$3 FS t]++; line[NR] = $0 }
        END { for (i = 1; i <= NR; i++) { split(line[i], f, "\t"); t = substr(f[2], 1, 9);
                  printf "%d\t%06d\t%s\t%s\t%s\n", f[3], 999999 - n[f[3] FS t], t, f[2], f[1] } }' |
    LC_ALL=C sort | awk -F'\t' '{ print $5, $4 }' >"$W/workers.txt"
if [ "$(wc -l <"$W/workers.txt")" -lt "$MAXN" ]; then
    echo "push_bench: only $(wc -l <"$W/workers.txt") seeking workers for $MAXN clients" >&2
    exit 1
fi

# 3. One token per worker, over HTTP (POST /v1/workers/{id}/token) with
#    the admin key: curl runs them 16 at a time on keep-alive connections,
#    and the matcher commits them in groups.  A token names its worker
#    (sgt_<id>_<exp>_<worker>_<sig>), so the order of the answers does not
#    matter.
SP=$(port 1)
"$B/songgang" serve --db "$W/db" --http 127.0.0.1:$SP --quiet --rate 100000000 2>"$W/serve-tokens.err" &
PIDS=$!
waitport $SP
{
    printf 'header = "Authorization: Bearer %s"\n' "$(cat "$W/admin.key")"
    head -n "$MAXN" "$W/workers.txt" |
        awk -v p=$SP '{ printf "url = \"http://127.0.0.1:%s/v1/workers/%s/token\"\n", p, $1 }'
} >"$W/tokens.cfg"
t0=$(date +%s)
curl -sS --no-progress-meter --parallel --parallel-max 16 -X POST -d '' \
    -K "$W/tokens.cfg" -w '\n' >"$W/tokens.json"
rm -f "$W/tokens.cfg"
stop_pid "$PIDS"
# Join the tokens with the selection, in the selection's order.
jq -r '.token' "$W/tokens.json" |
    awk 'NR == FNR { n = split($0, f, "_"); w = f[4]; for (i = 5; i < n; i++) w = w "_" f[i]; tok[w] = $0; next }
         ($1 in tok) { print $1, tok[$1], $2 }' - "$W/workers.txt" >"$W/tokens.txt"
chmod 600 "$W/tokens.txt" "$W/tokens.json"
NT=$(wc -l <"$W/tokens.txt")
echo "push_bench: $NT worker tokens in $(( $(date +%s) - t0 ))s"
if [ "$NT" -lt "$MAXN" ]; then
    echo "push_bench: only $NT tokens for $MAXN clients; see $W/tokens.json" >&2
    exit 1
fi

# 4. For each N: a fresh copy of the store, a server with room for N
#    streams, the load.
for N in $CLIENTS; do
    rm -rf "$W/run"
    cp -a "$W/db" "$W/run"
    SP=$(port 2)
    "$B/songgang" serve --db "$W/run" --http 127.0.0.1:$SP --quiet --max-conns $((N + 256)) 2>"$W/serve-$N.err" &
    PIDS=$!
    waitport $SP
    "$B/bench/sse_load" --port $SP --tokens "$W/tokens.txt" --clients "$N" \
        --key-file "$W/admin.key" --pid "$PIDS" --rate "$RATE" --seconds "$SECS" \
        --out "$W/push-$N.json"
    stop_pid "$PIDS"
done
rm -rf "$W/run"

# 5. Results: JSON keyed by client count, and a table a person reads.
jq -s 'map({key: (.clients | tostring), value: .}) | from_entries' "$W"/push-*.json >"$RES/push.json"
{
    echo "# push latency and idle SSE connection cost"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
    echo
    echo "data: songgang gen --county 360425 --workers 30000 --jobs 2000 --seed 1; N seeking workers connected by bench/sse_load on 127.0.0.1 (one process, same machine as the server), each with its own worker token; jobs POSTed at $RATE/s for ${SECS}s on one keep-alive connection (4 sites in the workers' villages, all labor classes, no required skill); each job is pushed to its top 50 (\`--push-top\`), so events/job counts only those of the 50 who are connected. Latency = the stream's receipt of \`event: match\` - the POST's 201 fully read, one CLOCK_MONOTONIC; negative when the event beat the reply."
    echo
    echo "| clients | jobs | events | events/job | missing | p50 ms | p99 ms | max ms | min ms | POST sent → receipt p50 / p99 ms | VmRSS per idle stream | of it anonymous | connect s |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    jq -r 'to_entries | sort_by(.value.clients) | .[] | .value |
        "| \(.clients) | \(.jobs) | \(.events) | \(if .jobs > 0 then (.events / .jobs * 10 | floor / 10) else 0 end) | \(.missing) | \(.p50_ms) | \(.p99_ms) | \(.max_ms) | \(.min_ms) | \(.from_send_p50_ms) / \(.from_send_p99_ms) | \(if .rss_per_idle_sse_bytes == null then "-" else "\(.rss_per_idle_sse_bytes) B | \(.anon_per_idle_sse_bytes) B" end) | \(.connect_s) |"' "$RES/push.json"
    echo
    echo "The matcher rings the doorbell right after the commit that holds the job and its events, before it replies, so an event reaches its stream about when the 201 does (p50 near 0); the time from the POST being sent is the durable commit plus the top-50 ranking of the job write."
    echo
    echo "VmRSS is (after - before) / N around connecting the N streams; it includes the LMDB file pages the matcher touched to authorise them and read their backlogs (shared, evictable page cache); the anonymous part (RssAnon) is the heap the connections and streams hold."
    echo
    jq -r 'to_entries | map(.value) | max_by(.clients) |
        "target: p99 <= 50 ms with 10,000 clients; at \(.clients) clients p99 = \(.p99_ms) ms: \(if .clients >= 10000 and .p99_ms <= 50 then "met" elif .clients >= 10000 then "missed" else "not measured at 10,000" end)"' "$RES/push.json"
} | tee "$RES/push.md"
