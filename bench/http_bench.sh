#!/bin/sh
# bench/http_bench.sh -- the gateway against nginx, in one run on this
# machine: wrk (keep-alive, the same threads and connections) against
# `GET /v1/workers/{id}/matches` on the embedded `songgang serve`, against
# nginx serving a static file of the same size, and against the split mode
# (songgang-matcher + songgang-gateway over tcp://127.0.0.1).  Also the NNG
# hop alone (bench/nng_hop).  Loopback only; every process it starts it
# stops by PID.  Needs wrk and nginx (Debian packages; installed as root).
# Usage: sh bench/http_bench.sh BUILD_DIR [SECONDS] [CONNECTIONS]
set -e
B=$(cd "$1" && pwd)
SECS=${2:-10}
CONNS=${3:-64}
ROOT=$(pwd)
W=$ROOT/bench/work/http
OUT=$ROOT/bench/results/http.md
PIDS=""
stop() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; }
trap stop EXIT
if ! command -v wrk >/dev/null || [ ! -x /usr/sbin/nginx ]; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null
    else
        echo "http_bench: needs wrk and nginx-light (apt-get install wrk nginx-light)" >&2
        exit 1
    fi
fi
rm -rf "$W"
mkdir -p "$W/static" "$ROOT/bench/results"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + $$ % 10000 + $1)); }
waitport() { i=0; while [ $i -lt 100 ]; do curl -s -o /dev/null "http://127.0.0.1:$1/$2" && return 0; sleep 0.1; i=$((i+1)); done; return 1; }

# County-scale data (Yongxiu's size), one admin key.
"$B/songgang" gen --county 360425 --workers 30000 --jobs 2000 --seed 1 >"$W/data.ndjson"
"$B/songgang" import --db "$W/db" "$W/data.ndjson" >/dev/null
KEY=$("$B/songgang" key create --db "$W/db" --role admin)
WID=$(jq -r 'select(.kind=="worker" and .seeking and .travel=="county") | .id' "$W/data.ndjson" | head -1)
PATHQ="/v1/workers/$WID/matches?as_of=2026-12-01"
jq -r 'select(.kind=="worker" and .seeking) | .id' "$W/data.ndjson" | head -1000 |
    awk 'BEGIN { print "local paths = {}" }
         { printf "paths[%d] = \"/v1/workers/%s/matches?as_of=2026-12-01\"\n", NR, $1 }
         END { print "local i = 0"
               print "request = function()"
               print "    i = i % #paths + 1"
               print "    return wrk.format(\"GET\", paths[i])"
               print "end" }' >"$W/many.lua"

# wrk_run NAME URL [HEADER]: one line of the table; requests/s and latency.
wrk_run() {
    name=$1 url=$2
    shift 2
    wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$@" "$url" >"$W/wrk.out" 2>&1
    rps=$(awk '/Requests\/sec/ {print $2}' "$W/wrk.out")
    p50=$(awk '$1=="50%" {print $2}' "$W/wrk.out")
    p99=$(awk '$1=="99%" {print $2}' "$W/wrk.out")
    non2xx=$(awk '/Non-2xx/ {print $5}' "$W/wrk.out")
    echo "| $name | $rps | $p50 | $p99 | ${non2xx:-0} |"
    echo "$rps" >"$W/rps.$name"
    printf '{"rps": %s, "p50_ms": %s, "p99_ms": %s, "non_2xx": %s}' "$rps" \
        "$(to_ms "$p50")" "$(to_ms "$p99")" "${non2xx:-0}" >"$W/json.$name"
}

# to_ms converts wrk's "812.00us", "1.29ms" or "1.02s" to milliseconds.
to_ms() {
    echo "$1" | awk '{ v = $1
        if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); v = v + 0 }
        else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 }
        printf "%.3f", v }'
}

# 1. Embedded.
SP=$(port 1)
"$B/songgang" serve --db "$W/db" --http 127.0.0.1:$SP --quiet --rate 100000000 2>"$W/serve.err" &
PIDS="$PIDS $!"
waitport $SP healthz
curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$SP$PATHQ" >"$W/static/matches.json"
SIZE=$(wc -c <"$W/static/matches.json")

# 2. nginx, the same bytes as a static file.
NP=$(port 2)
cat >"$W/nginx.conf" <<EOF
worker_processes auto;
pid $W/nginx.pid;
error_log $W/nginx.err;
daemon off;
events { worker_connections 4096; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$NP;
        root $W/static;
        location / { default_type application/json; }
    }
}
EOF
/usr/sbin/nginx -c "$W/nginx.conf" -p "$W" &
PIDS="$PIDS $!"
waitport $NP matches.json

{
    echo "# gateway vs nginx"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(/usr/sbin/nginx -v 2>&1), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
    echo
    echo "data: songgang gen --county 360425 --workers 30000 --jobs 2000 --seed 1; GET $PATHQ ($SIZE bytes); wrk -t2 -c$CONNS -d${SECS}s, keep-alive, on the same 2-core machine as the servers"
    echo
    echo "| target | requests/s | p50 | p99 | non-2xx |"
    echo "|---|---|---|---|---|"
    wrk_run embedded "http://127.0.0.1:$SP$PATHQ" -H "Authorization: Bearer $KEY"
    # The same route for 1,000 different workers, round robin (a village
    # officer's page, many phones): the cache holds them all after the
    # first round.
    wrk_run embedded_many "http://127.0.0.1:$SP/" -H "Authorization: Bearer $KEY" -s "$W/many.lua"
    wrk_run nginx "http://127.0.0.1:$NP/matches.json"
} >"$W/table.md"
stop
PIDS=""

# 1b. Embedded with the reply cache off: every request ranks.
"$B/songgang" serve --db "$W/db" --http 127.0.0.1:$SP --quiet --rate 100000000 --cache-mb 0 2>"$W/serve.err" &
PIDS="$PIDS $!"
waitport $SP healthz
wrk_run embedded_nocache "http://127.0.0.1:$SP$PATHQ" -H "Authorization: Bearer $KEY" >>"$W/table.md"
stop
PIDS=""

# 3. Split: matcher + gateway over tcp.
MP=$(port 3)
GP=$(port 4)
"$B/songgang-matcher" --db "$W/db" --listen tcp://127.0.0.1:$MP 2>"$W/matcher.err" &
PIDS="$PIDS $!"
"$B/songgang-gateway" --matcher tcp://127.0.0.1:$MP --http 127.0.0.1:$GP --quiet --rate 100000000 2>"$W/gw.err" &
PIDS="$PIDS $!"
waitport $GP healthz
wrk_run split "http://127.0.0.1:$GP$PATHQ" -H "Authorization: Bearer $KEY" >>"$W/table.md"
stop
PIDS=""

{
    cat "$W/table.md"
    echo
    e=$(cat "$W/rps.embedded"); n=$(cat "$W/rps.nginx"); s=$(cat "$W/rps.split")
    m=$(cat "$W/rps.embedded_many"); c=$(cat "$W/rps.embedded_nocache")
    echo "embedded / nginx = $(echo "scale=3; $e / $n" | bc); 1,000 workers / nginx = $(echo "scale=3; $m / $n" | bc); cache off / nginx = $(echo "scale=3; $c / $n" | bc); split / nginx = $(echo "scale=3; $s / $n" | bc)"
    echo
    if [ -x "$B/bench/nng_hop" ]; then
        echo "## The NNG hop alone (bench/nng_hop.c)"
        echo
        "$B/bench/nng_hop"
    fi
} | tee "$OUT"
# The same figures for bench/report.py.
{
    printf '{"body_bytes": %s, "connections": %s, "seconds": %s,\n' "$SIZE" "$CONNS" "$SECS"
    printf ' "embedded": %s,\n "embedded_many": %s,\n "embedded_nocache": %s,\n' \
        "$(cat "$W/json.embedded")" "$(cat "$W/json.embedded_many")" \
        "$(cat "$W/json.embedded_nocache")"
    printf ' "nginx": %s,\n "split": %s,\n' \
        "$(cat "$W/json.nginx")" "$(cat "$W/json.split")"
    awk -v e="$(cat "$W/rps.embedded")" -v s="$(cat "$W/rps.split")" \
        -v n="$(cat "$W/rps.nginx")" \
        -v m="$(cat "$W/rps.embedded_many")" -v c="$(cat "$W/rps.embedded_nocache")" \
        'BEGIN { printf " \"ratio\": %.4f, \"many_ratio\": %.4f, \"nocache_ratio\": %.4f, \"split_ratio\": %.4f}\n", e / n, m / n, c / n, s / n }'
} >"$ROOT/bench/results/http.json"
