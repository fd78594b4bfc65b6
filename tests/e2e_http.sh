#!/bin/bash
# tests/e2e_http.sh -- end-to-end tests of the HTTP service against the real
# binaries on 127.0.0.1, in both modes: the embedded `songgang serve`, and
# `songgang-matcher` with two `songgang-gateway`s over tcp://.  Each mode
# gets a fresh data directory loaded with the demo county and a set of keys
# (admin, scoped admin, officers, employers, worker tokens); the suite then
# drives every endpoint with curl and jq: role and scope, bad input, push
# over Server-Sent Events with Last-Event-ID resume, limits, shutdown, and
# the gateways' reply cache: a write is read back at once through the
# gateway that took it, through another one or after a CLI write within the
# version poll (deadlines, never bare sleeps).
# Usage: bash tests/e2e_http.sh BUILD_DIR (bash: the slow-client case uses /dev/tcp)
B=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sghttp.XXXXXX")
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    sleep 0.2
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $MODE: $1"; }
bad() { failed=$((failed + 1)); echo "FAIL - $MODE: $1"; }
cd "$TMP" || exit 1

# free_port prints a TCP port nobody listens on (loopback only), such that
# the next one is free too (a matcher's PUB socket takes its REP port + 1).
# Ports are handed out in steps of 2 from a counter kept in $TMP, so two
# servers of one run never get the same or adjacent ports while the first
# is still starting (a random pick did, now and then, under load). They
# are taken below the kernel's ephemeral range: a port in it may be the
# local end of one of the run's own client connections, or of one in
# TIME_WAIT, which the probe below cannot see and which makes the
# server's bind fail (CI saw three such ports in a row under ASan).
EPH_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$EPH_LOW" -gt 12000 ] 2>/dev/null || EPH_LOW=32768
free_port() {
    [ -f "$TMP/port" ] || echo $(( 10000 + ($$ % ((EPH_LOW - 10004) / 2)) * 2 )) >"$TMP/port"
    while :; do
        p=$(cat "$TMP/port")
        echo $((p + 4 > EPH_LOW ? 10000 : p + 2)) >"$TMP/port"
        (echo >/dev/tcp/127.0.0.1/$p) 2>/dev/null && continue
        (echo >/dev/tcp/127.0.0.1/$((p + 1))) 2>/dev/null && continue
        echo $p
        return
    done
}

# wait_http URL: until its /healthz answers 200 (for a gateway: its matcher
# answers too), up to 10 s.
wait_http() {
    i=0
    while [ $i -lt 100 ]; do
        curl -sf -o /dev/null "$1/healthz" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# req METHOD URL CRED [BODY-FILE] [EXTRA CURL ARGS...]: sets $code, body in
# $TMP/body.
req() {
    m=$1 u=$2 c=$3
    shift 3
    f=""
    if [ $# -gt 0 ] && [ -f "$1" ]; then f=$1; shift; fi
    set -- -s -o "$TMP/body" -w '%{http_code}' -X "$m" "$@"
    [ -n "$c" ] && set -- "$@" -H "Authorization: Bearer $c"
    [ -n "$f" ] && set -- "$@" -H 'Content-Type: application/json' --data-binary "@$f"
    code=$(curl "$@" "$u")
}
# expect_code DESC WANT METHOD URL CRED [BODY]
expect_code() {
    d=$1 want=$2
    shift 2
    req "$@"
    if [ "$code" = "$want" ]; then ok "$d"; else bad "$d: got $code want $want: $(head -c 300 "$TMP/body")"; fi
}
jbody() { jq -e "$1" "$TMP/body" >/dev/null 2>&1; }

make_keys() {
    db=$1
    ADMIN=$("$B/songgang" key create --db "$db" --role admin)
    SADMIN=$("$B/songgang" key create --db "$db" --role admin --scope 360425110)
    OFF_YF=$("$B/songgang" key create --db "$db" --role officer --scope 360425108)
    OFF_ZL=$("$B/songgang" key create --db "$db" --role officer --scope 360425110)
    EMP_XH=$("$B/songgang" key create --db "$db" --role employer --employer E-xinghuo)
    EMP_YS=$("$B/songgang" key create --db "$db" --role employer --employer E-yunshan)
    TOK2=$("$B/songgang" key create --db "$db" --role worker --worker demo-2)
    TOK1=$("$B/songgang" key create --db "$db" --role worker --worker demo-1)
    EXPIRED=$("$B/songgang" key create --db "$db" --role admin --ttl 0)
    REVOKED=$("$B/songgang" key create --db "$db" --role admin)
    "$B/songgang" key revoke --db "$db" "$(echo "$REVOKED" | cut -d_ -f2)" >/dev/null
}

new_db() {
    rm -rf "$1"
    "$B/songgang" import --db "$1" "$ROOT/data/demo.ndjson" >/dev/null
    make_keys "$1"
}

# ---------------------------------------------------------------------------
# suite U1 U2: U1 and U2 are two gateways of one matcher (equal when
# embedded).  Writes go through U1, reads and streams through U2 as well.
suite() {
    U1=$1 U2=$2
    expect_code "healthz" 200 GET "$U1/healthz" ""
    jbody '.ok == true' && ok "healthz says ok" || bad "healthz body"

    # --- authentication ---
    expect_code "no credential: 401" 401 GET "$U1/v1/jobs" ""
    jbody '.error.code == "unauthorized"' && ok "401 is a JSON error" || bad "401 body"
    expect_code "unknown key: 401" 401 GET "$U1/v1/jobs" "sgk_00000000_nope"
    expect_code "expired key: 401" 401 GET "$U1/v1/jobs" "$EXPIRED"
    expect_code "revoked key: 401" 401 GET "$U1/v1/jobs" "$REVOKED"
    expect_code "forged token: 401" 401 GET "$U1/v1/me" "$(echo "$TOK2" | sed 's/.$/A/')"
    expect_code "unknown path: 404" 404 GET "$U1/v1/nothing" "$ADMIN"
    expect_code "wrong method: 405" 405 PATCH "$U1/v1/jobs" "$ADMIN"

    # --- jobs ---
    cat >job.json <<'EOF'
{"id":"J-e2e-1","employer":"E-xinghuo","source":"workshop","title":"帮扶车间缝纫工（新线）","skills_required":["sew"],"labor_classes":["half","weak","ordinary"],"sites":[{"region":"360425108202","lat":28.9214,"lon":115.8049}],"openings":6,"wage_min":2000,"wage_max":2800,"posted":"2026-11-28T09:00:00+08:00"}
EOF
    # A worker's stream, opened before the job is posted.
    curl -s -N -H "Authorization: Bearer $TOK2" "$U2/v1/events?worker=demo-2" >sse1.out 2>/dev/null &
    SSE=$!
    PIDS="$PIDS $SSE"
    # And the township officer's region stream (燕坊镇).
    curl -s -N -H "Authorization: Bearer $OFF_YF" "$U2/v1/events?region=360425108" >sser.out 2>/dev/null &
    SSER=$!
    PIDS="$PIDS $SSER"
    sleep 0.5
    expect_code "employer posts a job: 201" 201 POST "$U1/v1/jobs" "$EMP_XH" job.json
    jbody '.id == "J-e2e-1" and .employer == "E-xinghuo"' && ok "201 returns the stored job" || bad "201 body"
    expect_code "same id again: 409" 409 POST "$U1/v1/jobs" "$EMP_XH" job.json
    sed 's/"E-xinghuo"/"E-yunshan"/; s/J-e2e-1/J-e2e-2/' job.json >job2.json
    expect_code "employer posts for another employer: 403" 403 POST "$U1/v1/jobs" "$EMP_XH" job2.json
    expect_code "worker posts a job: 403" 403 POST "$U1/v1/jobs" "$TOK2" job2.json
    expect_code "officer posts a job: 403" 403 POST "$U1/v1/jobs" "$OFF_YF" job2.json
    expect_code "admin posts any job: 201" 201 POST "$U1/v1/jobs" "$ADMIN" job2.json
    expect_code "employer reads own job" 200 GET "$U2/v1/jobs/J-e2e-1" "$EMP_XH"
    expect_code "employer reads another's job: 404" 404 GET "$U2/v1/jobs/J-e2e-2" "$EMP_XH"
    expect_code "officer reads a job" 200 GET "$U2/v1/jobs/J-e2e-1" "$OFF_YF"
    expect_code "unknown job: 404" 404 GET "$U2/v1/jobs/J-none" "$ADMIN"
    expect_code "employer lists own jobs" 200 GET "$U2/v1/jobs?limit=100" "$EMP_XH"
    jbody '(.jobs | length) >= 1 and all(.jobs[]; .employer == "E-xinghuo")' && ok "the list holds only its own jobs" || bad "employer list"
    expect_code "admin lists by source" 200 GET "$U2/v1/jobs?source=public_welfare&limit=5" "$ADMIN"
    jbody 'all(.jobs[]; .source == "public_welfare") and .limit == 5' && ok "source filter and limit" || bad "job list filter"
    expect_code "bad limit: 400" 400 GET "$U2/v1/jobs?limit=100000" "$ADMIN"
    jbody '.error.field == "limit"' && ok "400 names the parameter" || bad "limit field"

    # --- bad input ---
    printf '{"id":"J-bad","employer":"E-xinghuo","source":"nowhere"}' >badjob.json
    expect_code "bad enum: 400" 400 POST "$U1/v1/jobs" "$EMP_XH" badjob.json
    jbody '.error.field == "source"' && ok "400 names the field" || bad "bad enum field: $(cat body)"
    printf '{"id": "x", "id": "y"}' >dup.json
    expect_code "duplicate key: 400" 400 POST "$U1/v1/jobs" "$ADMIN" dup.json
    printf '{not json' >broken.json
    expect_code "broken JSON: 400" 400 POST "$U1/v1/jobs" "$ADMIN" broken.json
    printf '\335\377\377\377\377' >hostile.mp
    code=$(curl -s -o body -w '%{http_code}' -X POST -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/msgpack' --data-binary @hostile.mp "$U1/v1/jobs")
    [ "$code" = 400 ] && ok "hostile msgpack header: 400" || bad "hostile msgpack: $code"
    code=$(curl -s -o body.mp -w '%{http_code}' -H "Authorization: Bearer $ADMIN" -H 'Accept: application/msgpack' "$U2/v1/jobs/J-e2e-1")
    first=$(od -An -tx1 -N1 body.mp | tr -d ' ')
    [ "$code" = 200 ] && case $first in 8*|de|df) true;; *) false;; esac && ok "Accept: application/msgpack gives a msgpack map" || bad "msgpack reply ($code $first)"

    # --- push: the job reached demo-2's stream ---
    i=0
    while [ $i -lt 50 ] && ! grep -q 'J-e2e-1' sse1.out; do sleep 0.1; i=$((i + 1)); done
    grep -q '^event: match' sse1.out && grep -q '"job":"J-e2e-1"' sse1.out && ok "the posted job arrives on the worker's stream" || bad "push: $(cat sse1.out | head -5)"
    grep -q '"worker":"demo-2"' sser.out && grep '^data:' sser.out | sed 's/^data: //' | jq -e -s 'all(.[]; .worker as $w | ["demo-2","w-yf-03","w-yf-01"] | index($w) != null)' >/dev/null && ok "the officer's region stream carries its township's workers only" || bad "region stream: $(head -5 sser.out)"
    kill $SSER 2>/dev/null
    FIRST_ID=$(grep '^id:' sse1.out | tail -1 | awk '{print $2}')
    expect_code "employer closes own job" 200 DELETE "$U1/v1/jobs/J-e2e-1" "$EMP_XH"
    jbody '.state == "closed"' && ok "DELETE returns the closed job" || bad "closed body"
    i=0
    while [ $i -lt 50 ] && ! grep -q '^event: removed' sse1.out; do sleep 0.1; i=$((i + 1)); done
    grep -q '^event: removed' sse1.out && ok "closing sends removed" || bad "removed: $(cat sse1.out)"
    kill $SSE 2>/dev/null
    # Resume from the first event: exactly what came after, nothing twice.
    curl -s -N -m 2 -H "Authorization: Bearer $TOK2" -H "Last-Event-ID: $FIRST_ID" "$U2/v1/events?worker=demo-2" >sse2.out 2>/dev/null
    n_match=$(grep -c '^event: match' sse2.out)
    n_removed=$(grep -c '^event: removed' sse2.out)
    [ "$n_match" = 0 ] && [ "$n_removed" = 1 ] && ok "Last-Event-ID resume: nothing lost, nothing twice" || bad "resume: match=$n_match removed=$n_removed"
    # The token in the query string works for EventSource.
    curl -s -N -m 1 "$U2/v1/events?worker=demo-2&token=$TOK2" >sse3.out 2>/dev/null
    grep -q '^event: ' sse3.out && ok "?token= opens the stream" || bad "?token= stream"
    expect_code "a worker's stream for someone else: 403" 403 GET "$U2/v1/events?worker=demo-1" "$TOK2"
    expect_code "officer region stream outside scope: 403" 403 GET "$U2/v1/events?region=360425110" "$OFF_YF"

    # --- workers ---
    expect_code "worker reads itself" 200 GET "$U2/v1/me" "$TOK2"
    jbody '.id == "demo-2"' && ok "/v1/me is the token's worker" || bad "/v1/me"
    expect_code "worker reads its matches" 200 GET "$U2/v1/me/matches?as_of=2026-11-29" "$TOK2"
    jbody '.worker == "demo-2" and (.matches | length) > 0' && ok "its matches" || bad "me/matches"
    expect_code "worker token on its own matches" 200 GET "$U2/v1/workers/demo-2/matches?token=$TOK2" ""
    expect_code "worker token asks for someone else: 403" 403 GET "$U2/v1/workers/demo-1/matches?token=$TOK2" ""
    expect_code "worker token reads someone else: 403" 403 GET "$U2/v1/workers/demo-1" "$TOK2"
    expect_code "officer reads a worker in scope" 200 GET "$U2/v1/workers/demo-2" "$OFF_YF"
    expect_code "officer reads a worker out of scope: 404" 404 GET "$U2/v1/workers/demo-3" "$OFF_YF"
    expect_code "scoped admin out of scope: 404" 404 GET "$U2/v1/workers/demo-2" "$SADMIN"
    expect_code "employer reads a worker: 403" 403 GET "$U2/v1/workers/demo-2" "$EMP_XH"
    expect_code "officer matches in scope" 200 GET "$U2/v1/workers/demo-2/matches?limit=3&as_of=2026-11-29" "$OFF_YF"
    jbody '(.matches | length) <= 3 and all(.matches[]; (.parts | add) == .score)' && ok "matches: limit, parts sum to score" || bad "officer matches"
    expect_code "bad as_of: 400" 400 GET "$U2/v1/workers/demo-2/matches?as_of=2026-13-01" "$ADMIN"
    "$B/songgang" get --db "$DB" --worker demo-3 >/dev/null 2>&1 # readers may run beside the server
    curl -s -H "Authorization: Bearer $ADMIN" "$U2/v1/workers/demo-3" >w3.json
    jq '.status = "idle" | .expected_wage = 1100' w3.json >w3b.json
    curl -s -N -m 3 -H "Authorization: Bearer $ADMIN" "$U2/v1/events?worker=demo-3" >sse4.out 2>/dev/null &
    SSE4=$!
    sleep 0.5
    expect_code "officer updates a worker in scope" 200 PUT "$U1/v1/workers/demo-3" "$OFF_ZL" w3b.json
    expect_code "officer updates out of scope: 404" 404 PUT "$U1/v1/workers/demo-3" "$OFF_YF" w3b.json
    jq '.status = "returned"' w3.json >w3c.json
    expect_code "status to returned" 200 PUT "$U1/v1/workers/demo-3" "$ADMIN" w3c.json
    wait $SSE4 2>/dev/null
    grep -q '^event: list' sse4.out && ok "returned worker gets a fresh list" || bad "list event: $(head -3 sse4.out)"
    cat >nw.json <<'EOF'
{"id":"w-e2e-9","name":"赵六","region":"360425108201","labor_class":"ordinary","skills":["sew"],"category":"low_income","household":"hh-e2e","travel":"county","expected_wage":2500,"status":"idle","seeking":true,"id_number":"11010519491231002X"}
EOF
    expect_code "officer registers a worker in scope: 201" 201 POST "$U1/v1/workers" "$OFF_YF" nw.json
    grep -q 11010519491231002X body && bad "the reply holds the ID number" || ok "the reply never holds the ID number in clear"
    sed 's/w-e2e-9/w-e2e-8/' nw.json >nw2.json
    expect_code "the same ID number again: 409" 409 POST "$U1/v1/workers" "$ADMIN" nw2.json
    sed 's/360425108201/360425110201/; s/w-e2e-9/w-e2e-7/; s/"id_number":"11010519491231002X"/"phone":"13800000001"/' nw.json >nw3.json
    expect_code "officer registers out of scope: 403" 403 POST "$U1/v1/workers" "$OFF_YF" nw3.json
    printf '%s\n%s\n' "$(sed 's/w-e2e-9/w-e2e-6/; s/,"id_number":"11010519491231002X"//' nw.json)" '{"kind":"worker","id":"bad line"}' >imp.ndjson
    sed -i 's/^{"id"/{"kind":"worker","id"/' imp.ndjson
    code=$(curl -s -o body -w '%{http_code}' -X POST -H "Authorization: Bearer $OFF_YF" -H 'Content-Type: application/x-ndjson' --data-binary @imp.ndjson "$U1/v1/workers:import")
    [ "$code" = 200 ] && jbody '.accepted == 1 and .rejected == 1 and .errors[0].line == 2' && ok "import: per-line results" || bad "import: $code $(cat body)"
    expect_code "token for a worker" 200 POST "$U1/v1/workers/demo-2/token" "$OFF_YF"
    jbody '(.token | startswith("sgt_")) and (.url | test("token=")) and (.expires | type) != "null"' && ok "token, url, expires" || bad "token body"
    NEWTOK=$(jq -r .token body)
    expect_code "the new token works" 200 GET "$U2/v1/me?token=$NEWTOK" ""
    expect_code "token for someone out of scope: 404" 404 POST "$U1/v1/workers/demo-3/token" "$OFF_YF"

    # --- candidates and region lists ---
    expect_code "admin reads candidates" 200 GET "$U2/v1/jobs/J-yx-004/candidates?as_of=2026-11-29" "$ADMIN"
    jbody '.candidates[0].worker == "demo-2"' && ok "admin sees worker ids" || bad "admin candidates"
    expect_code "employer reads own job's candidates" 200 GET "$U2/v1/jobs/J-yx-001/candidates?as_of=2026-11-29" "$EMP_XH"
    jbody '(.candidates | length) > 0 and all(.candidates[]; has("worker") | not) and all(.candidates[]; (.township | length) == 9 and has("candidate"))' && ok "employer's candidates are masked" || bad "masked: $(head -c 300 body)"
    grep -q '陈' body && bad "masked candidates hold a name" || ok "no names in masked candidates"
    expect_code "employer, another's candidates: 404" 404 GET "$U2/v1/jobs/J-yx-002/candidates" "$EMP_XH"
    expect_code "worker reads candidates: 403" 403 GET "$U2/v1/jobs/J-yx-001/candidates" "$TOK2"
    expect_code "region job list" 200 GET "$U2/v1/regions/360425108/jobs?limit=5" "$OFF_YF"
    jbody '.region == "360425108" and (.jobs | length) > 0 and .jobs[0].fits >= .jobs[-1].fits' && ok "region list ranked by fits" || bad "region list: $(cat body)"
    expect_code "region list out of scope: 404" 404 GET "$U2/v1/regions/360425110/jobs" "$OFF_YF"

    # --- metrics ---
    curl -s "$U2/metrics" >metrics.txt
    grep -q '^songgang_http_requests_total{' metrics.txt && grep -q 'songgang_sse_streams' metrics.txt && grep -q 'songgang_lmdb_bytes' metrics.txt && ok "metrics" || bad "metrics: $(head -5 metrics.txt)"
    grep -q "$TOK2" metrics.txt && bad "metrics leak a token" || ok "metrics never hold a token"
}

# ---------------------------------------------------------------------------
# The gateways' reply cache: a read answered from it must be the answer the
# matcher would give now.  Deadlines, never bare sleeps: a wait ends as soon
# as the change is seen, and a cache that never learns of it fails.

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# cache_hits URL: the gateway's songgang_cache_hits_total.
cache_hits() { curl -s "$1/metrics" | awk '$1 == "songgang_cache_hits_total" {print $2}'; }
# wait_for DEADLINE_MS CMD...: runs CMD until it succeeds or the deadline
# passes; sets $waited (ms).  1 when it never succeeded.
wait_for() {
    limit=$1
    shift
    t0=$(now_ms)
    while :; do
        "$@" && { waited=$(( $(now_ms) - t0 )); return 0; }
        [ $(( $(now_ms) - t0 )) -ge "$limit" ] && { waited=$limit; return 1; }
        sleep 0.005
    done
}
has_job() { req GET "$1" "$2" && [ "$code" = 200 ] && jbody "[.matches[].job] | index(\"$3\") != null"; }
is_code() { req GET "$1" "$2" && [ "$code" = "$3" ]; }

# cache_suite U1 U2 [U3]: U1 and U2 are gateways of one matcher (equal
# when embedded); writes go through U1 or the CLI.
cache_suite() {
    U1=$1 U2=$2
    M="/v1/workers/demo-2/matches?as_of=2026-11-29&limit=1000"
    # A repeated read is answered by the gateway, byte for byte.
    h0=$(cache_hits "$U1")
    req GET "$U1$M" "$ADMIN"
    cp "$TMP/body" cache1.json
    wait_for 2000 eval '[ "$(cache_hits "$U1")" -gt "$h0" ] || { req GET "$U1$M" "$ADMIN"; false; }'
    req GET "$U1$M" "$ADMIN"
    [ "$code" = 200 ] && cmp -s "$TMP/body" cache1.json && [ "$(cache_hits "$U1")" -gt "$h0" ] && ok "cache: a repeated read is a hit, the same bytes" || bad "cache: no hit ($h0 -> $(cache_hits "$U1"))"
    req GET "$U1$M" "$OFF_YF"
    [ "$code" = 200 ] && ok "cache: another credential is answered for itself" || bad "cache: other credential: $code"
    req GET "$U1$M" "$TOK1"
    [ "$code" = 403 ] && ok "cache: another credential's entry is never shared (403)" || bad "cache: shared across credentials: $code"

    # A job posted through U1: the very next read through U1 has it.
    sed 's/J-e2e-1/J-cache-1/; s/帮扶车间缝纫工（新线）/缓存测试缝纫工/' job.json >jobc1.json
    req GET "$U2$M" "$ADMIN" # U2 holds the old answer too
    expect_code "cache: post a job through gateway 1" 201 POST "$U1/v1/jobs" "$ADMIN" jobc1.json
    req GET "$U1$M" "$ADMIN"
    [ "$code" = 200 ] && jbody '[.matches[].job] | index("J-cache-1") != null' && ok "cache: the next read through the same gateway has the job" || bad "cache: stale read after a write through the same gateway: $(head -c 200 "$TMP/body")"
    # Through the other gateway: within its version poll (50 ms; 2 s deadline).
    if wait_for 2000 has_job "$U2$M" "$ADMIN" J-cache-1; then ok "cache: gateway 2 has it after ${waited} ms"; else bad "cache: gateway 2 never saw the job"; fi

    # A worker updated through U1: read back through U1 at once.
    req GET "$U1/v1/workers/demo-2" "$ADMIN"
    jq '.expected_wage = 2100' "$TMP/body" >w2c.json
    req GET "$U1/v1/workers/demo-2" "$ADMIN"
    expect_code "cache: update a worker through gateway 1" 200 PUT "$U1/v1/workers/demo-2" "$ADMIN" w2c.json
    req GET "$U1/v1/workers/demo-2" "$ADMIN"
    jbody '.expected_wage == 2100' && ok "cache: the update is read back at once" || bad "cache: stale worker: $(head -c 200 "$TMP/body")"

    # A write by another process (the CLI): seen within the poll bound.
    TOK3=$("$B/songgang" key create --db "$DB" --role worker --worker demo-2)
    for U in "$U1" "$U2"; do
        req GET "$U/v1/me" "$TOK3"
        [ "$code" = 200 ] && ok "cache: a token made by the CLI works at once" || bad "cache: new token: $code"
        req GET "$U/v1/me" "$TOK3"
    done
    "$B/songgang" key revoke --db "$DB" "$(echo "$TOK3" | cut -d_ -f2)" >/dev/null || bad "cache: key revoke failed"
    for U in "$U1" "$U2"; do
        if wait_for 2000 is_code "$U/v1/me" "$TOK3" 401; then ok "cache: a token revoked by the CLI is refused after ${waited} ms"; else bad "cache: a revoked token still answered: $code"; fi
    done
    sed 's/J-e2e-1/J-cache-2/; s/"E-xinghuo"/"E-cli"/' job.json | jq -c '. + {kind: "job"}' >jobc2.ndjson
    req GET "$U2$M" "$ADMIN"
    "$B/songgang" import --db "$DB" jobc2.ndjson >/dev/null || bad "cache: CLI import failed"
    if wait_for 2000 has_job "$U2$M" "$ADMIN" J-cache-2; then ok "cache: a job imported by the CLI is read after ${waited} ms"; else bad "cache: the CLI's job never appeared"; fi
}

# limits GATEWAY_URL: header, body, slow client.
limits() {
    U=$1
    big=$(head -c 20000 /dev/zero | tr '\0' a)
    code=$(curl -s -o body -w '%{http_code}' -H "X-Big: $big" "$U/healthz")
    [ "$code" = 431 ] && ok "huge header: 431" || bad "431: $code"
    head -c 2000000 /dev/zero | tr '\0' ' ' >bigbody.json
    code=$(curl -s -o body -w '%{http_code}' -X POST -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' --data-binary @bigbody.json "$U/v1/jobs")
    [ "$code" = 413 ] && ok "huge body: 413" || bad "413: $code"
    # A client that sends half a request and stalls gets 408.
    exec 3<>/dev/tcp/127.0.0.1/"${U##*:}"
    printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&3
    resp=$(timeout 5 head -c 12 <&3)
    exec 3>&-
    case $resp in *408*) ok "slow client: 408";; *) bad "408: '$resp'";; esac
}

# restart_matcher URL: start the split mode's matcher again and wait until
# URL answers 200 through a gateway (10 s at most); sets $code.
restart_matcher() {
    "$B/songgang-matcher" --db "$DB" --listen tcp://127.0.0.1:$MP 2>>matcher.err &
    MATCHER=$!
    PIDS="$PIDS $MATCHER"
    i=0
    code=0
    while [ $i -lt 50 ] && [ "$code" != 200 ]; do
        sleep 0.2
        code=$(curl -s -o /dev/null -w '%{http_code}' -m 3 -H "Authorization: Bearer $ADMIN" "$1")
        i=$((i + 1))
    done
}

# ---------------------------------------------------------------------------
MODE=embedded
DB=$TMP/db-embedded
new_db "$DB"
P=$(free_port)
"$B/songgang" serve --db "$DB" --http 127.0.0.1:$P --quiet --request-timeout-ms 1500 2>serve.err &
SERVE=$!
PIDS="$PIDS $SERVE"
if wait_http "http://127.0.0.1:$P"; then
    suite "http://127.0.0.1:$P" "http://127.0.0.1:$P"
    cache_suite "http://127.0.0.1:$P" "http://127.0.0.1:$P"
    limits "http://127.0.0.1:$P"
    # Graceful stop with a stream open and the server busy: exit 0.
    curl -s -N -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$P/v1/events?region=36" >/dev/null 2>&1 &
    sleep 0.3
    kill -TERM $SERVE
    i=0
    while kill -0 $SERVE 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    wait $SERVE
    rc=$?
    [ $rc = 0 ] && ok "SIGTERM: clean exit 0" || bad "SIGTERM exit $rc"
    "$B/songgang" check --db "$DB" >/dev/null && ok "store checks after shutdown" || bad "check after shutdown"
    "$B/songgang" get --db "$DB" --job J-e2e-2 >/dev/null && ok "acknowledged writes survive" || bad "writes lost"
else
    bad "serve did not start: $(cat serve.err)"
fi

MODE=split
DB=$TMP/db-split
new_db "$DB"
MP=$(free_port)
"$B/songgang-matcher" --db "$DB" --listen tcp://127.0.0.1:$MP 2>matcher.err &
MATCHER=$!
PIDS="$PIDS $MATCHER"
G1=$(free_port)
"$B/songgang-gateway" --matcher tcp://127.0.0.1:$MP --http 127.0.0.1:$G1 --quiet 2>g1.err &
PIDS="$PIDS $!"
G2=$(free_port)
"$B/songgang-gateway" --matcher tcp://127.0.0.1:$MP --http 127.0.0.1:$G2 --quiet --rate 5 --matcher-timeout-ms 1000 --request-timeout-ms 1500 2>g2.err &
GW2=$!
PIDS="$PIDS $GW2"
G3=$(free_port)
"$B/songgang-gateway" --matcher tcp://127.0.0.1:$MP --http 127.0.0.1:$G3 --quiet 2>g3.err &
PIDS="$PIDS $!"
if wait_http "http://127.0.0.1:$G1" && wait_http "http://127.0.0.1:$G2" && wait_http "http://127.0.0.1:$G3"; then
    suite "http://127.0.0.1:$G1" "http://127.0.0.1:$G3"
    cache_suite "http://127.0.0.1:$G1" "http://127.0.0.1:$G3"
    # Writes through one gateway, a stream and reads through the other.
    limits "http://127.0.0.1:$G2"
    n429=0
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do
        c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$G2/v1/jobs?limit=1")
        [ "$c" = 429 ] && n429=$((n429 + 1))
    done
    [ $n429 -gt 0 ] && ok "per-key rate limit: 429" || bad "no 429 in 25 quick requests"
    sleep 3 # refill the bucket
    curl -s -N -m 4 -H "Authorization: Bearer $TOK1" "http://127.0.0.1:$G2/v1/events?worker=demo-1" >sse5.out 2>/dev/null &
    SSE5=$!
    sleep 0.5
    sed 's/J-e2e-1/J-e2e-3/; s/"sew"/"weld"/; s/"half","weak","ordinary"/"skilled"/; s/360425108202/360425103201/' job.json >job3.json
    expect_code "post through gateway 1" 201 POST "http://127.0.0.1:$G1/v1/jobs" "$ADMIN" job3.json
    wait $SSE5 2>/dev/null
    grep -q '"job":"J-e2e-3"' sse5.out && ok "a job posted on gateway 1 reaches a stream on gateway 2" || bad "cross-gateway push: $(head -3 sse5.out)"
    # The matcher goes away: 503, quickly; it comes back: served again.
    kill -TERM $MATCHER
    wait $MATCHER
    [ $? = 0 ] && ok "matcher SIGTERM: exit 0" || bad "matcher exit: $(cat matcher.err)"
    t0=$(date +%s)
    code=$(curl -s -o body -w '%{http_code}' -m 10 -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$G1/v1/jobs")
    t1=$(date +%s)
    [ "$code" = 503 ] && [ $((t1 - t0)) -le 7 ] && jbody '.error.code == "unavailable"' && ok "matcher down: 503 JSON, no hang" || bad "matcher down: $code after $((t1 - t0)) s"
    restart_matcher "http://127.0.0.1:$G1/v1/jobs"
    [ "$code" = 200 ] && ok "the gateway reconnects by itself" || bad "no reconnect: $code"
    # An acknowledged write survives the matcher being killed outright.
    sed 's/J-e2e-1/J-e2e-9/' job.json >job9.json
    expect_code "post before a crash" 201 POST "http://127.0.0.1:$G1/v1/jobs" "$ADMIN" job9.json
    kill -KILL $MATCHER
    wait $MATCHER 2>/dev/null
    "$B/songgang" get --db "$DB" --job J-e2e-9 >/dev/null && ok "an acknowledged write survives kill -9" || bad "write lost after kill -9"
    "$B/songgang" check --db "$DB" >/dev/null && ok "the store checks after kill -9" || bad "check after kill -9"
    restart_matcher "http://127.0.0.1:$G1/v1/jobs/J-e2e-9"
    [ "$code" = 200 ] && ok "served again after the crash" || bad "after crash: $code"
    kill -TERM $GW2
    wait $GW2
    [ $? = 0 ] && ok "gateway SIGTERM: exit 0" || bad "gateway exit"
    kill -TERM $MATCHER
    wait $MATCHER
    "$B/songgang" check --db "$DB" >/dev/null && ok "store checks after the split run" || bad "check split"
else
    bad "split mode did not start: $(cat matcher.err g1.err g2.err)"
fi

echo "$passed passed, $failed failed"
[ $failed = 0 ]
