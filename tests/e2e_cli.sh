#!/bin/sh
# tests/e2e_cli.sh -- end-to-end tests of the real `songgang` binary: each
# case runs it in a fresh temporary data directory and checks exit codes and
# output with jq; `songgang check` must pass after every case.
# Usage: sh tests/e2e_cli.sh PATH/TO/songgang
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sge2e.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
passed=0
failed=0
AS_OF=2026-11-29

ok() { passed=$((passed + 1)); echo "ok   - $1"; }
bad() { failed=$((failed + 1)); echo "FAIL - $1"; }
# expect DESC CMD...: the command must succeed.
expect() { d=$1; shift; if "$@" >"$TMP/out" 2>"$TMP/err"; then ok "$d"; else bad "$d"; sed 's/^/    /' "$TMP/out" "$TMP/err" | head -20; fi; }
checked() { # the store must verify after every case
    if "$BIN" check --db "$1" >"$TMP/check" 2>&1; then ok "check $1"; else bad "check $1"; cat "$TMP/check"; fi
}

cd "$TMP" || exit 1

# --- import, summary and exit codes ---
"$BIN" import --db db1 "$ROOT/data/demo.ndjson" >out 2>err
[ $? = 0 ] && grep -q "accepted 31, rejected 0" out && ok "import demo: exit 0, summary" || bad "import demo"
checked db1

cat >mixed.ndjson <<'EOF'
{"kind":"worker","id":"m1","name":"甲","region":"360425100201","labor_class":"ordinary","category":"poverty_exited","household":"hm","travel":"county","expected_wage":3000,"status":"idle","seeking":true}
{"kind":"worker","id":"m2","name":"乙","region":"360425100201","labor_class":"ordinary","skills":["weld","nosuch"],"category":"poverty_exited","household":"hm","travel":"county","expected_wage":3000,"status":"idle","seeking":true}
not json at all

{"kind":"job","id":"mj","employer":"E","source":"workshop","title":"车间","labor_classes":["ordinary"],"sites":[{"region":"360425999201"}],"openings":1,"wage_min":1,"wage_max":2,"posted":"2026-11-01T00:00:00Z"}
{"kind":"worker","id":"m3","id":"m4","name":"丙","region":"360425100201","labor_class":"ordinary","category":"poverty_exited","household":"hm","travel":"county","expected_wage":3000,"status":"idle","seeking":true}
{"kind":"job","id":"mj2","employer":"E","source":"workshop","title":"车间","labor_classes":["ordinary"],"sites":[{"region":"360425100201"}],"openings":1,"wage_min":1,"wage_max":2,"posted":"2026-11-01T00:00:00Z"} trailing
{"kind":"job","id":"mj3","employer":"E","source":"workshop","title":"车间","labor_classes":["ordinary"],"sites":[{"region":"360425100201"}],"openings":1,"wage_min":1,"wage_max":2,"posted":"2026-11-01T00:00:00Z"}
EOF
"$BIN" import --db db2 --json mixed.ndjson >out 2>err
rc=$?
[ $rc = 1 ] && ok "import with rejections exits 1" || bad "import with rejections exits 1 (got $rc)"
jq -e '.accepted == 2 and .rejected == 5' out >/dev/null && ok "summary counts 2 accepted, 5 rejected" || { bad "summary counts"; cat out; }
jq -e '[.errors[] | .line] == [2,3,5,6,7]' out >/dev/null && ok "rejections carry line numbers" || { bad "rejection lines"; cat out; }
jq -e '.errors[] | select(.line == 2) | .field == "skills[1]" and (.reason | test("nosuch"))' out >/dev/null && ok "unknown skill names field and code" || bad "unknown skill field"
jq -e '.errors[] | select(.line == 5) | .field == "sites[0].region"' out >/dev/null && ok "unknown region names the site" || bad "unknown region field"
jq -e '.errors[] | select(.line == 6) | (.reason | test("duplicate"))' out >/dev/null && ok "duplicate key rejected" || bad "duplicate key"
"$BIN" get --db db2 --worker m1 >/dev/null && "$BIN" get --db db2 --job mj3 >/dev/null && ok "accepted lines landed" || bad "accepted lines landed"
"$BIN" get --db db2 --worker m2 >/dev/null 2>&1; [ $? = 1 ] && ok "rejected line left nothing" || bad "rejected line left nothing"
"$BIN" import --db db2 mixed.ndjson >out 2>err
grep -q "^mixed.ndjson:2: skills\[1\]: " out && ok "text summary: file:line: field: reason" || { bad "text summary"; cat out; }
checked db2

# --- usage errors and unknown ids ---
"$BIN" import >/dev/null 2>&1; [ $? = 2 ] && ok "usage error exits 2" || bad "usage error exits 2"
"$BIN" match --db db1 --worker demo-1 --limit 0 >/dev/null 2>&1; [ $? = 2 ] && ok "bad --limit exits 2" || bad "bad --limit"
"$BIN" match --db db1 --worker demo-1 --as-of 2026-02-30 >/dev/null 2>&1; [ $? = 2 ] && ok "bad --as-of exits 2" || bad "bad --as-of"
"$BIN" match --db db1 --worker nobody >out 2>err; rc=$?
[ $rc = 1 ] && grep -q "no worker with id nobody" err && ok "unknown worker: clear error, exit 1" || bad "unknown worker ($rc)"
"$BIN" candidates --db db1 --job nojob >out 2>err; rc=$?
[ $rc = 1 ] && grep -q "no job with id nojob" err && ok "unknown job: clear error, exit 1" || bad "unknown job"
"$BIN" match --db nosuchdir --worker demo-1 >out 2>err; [ $? = 1 ] && ok "missing data directory: exit 1" || bad "missing data dir"

# --- match and candidates output ---
"$BIN" match --db db1 --worker demo-1 --as-of $AS_OF >m1.json
jq -e '.worker == "demo-1" and (.matches | length) >= 3' m1.json >/dev/null && ok "match lists jobs" || bad "match lists jobs"
jq -e 'all(.matches[]; (.parts | add) == .score and (.job|type)=="string" and (.tier|type)=="string" and (.site|length)==12 and (.reason|length) > 0 and has("km"))' m1.json >/dev/null && ok "every result: parts sum to score, tier, site, km, reason" || bad "result fields"
jq -e '[.matches[].score] == ([.matches[].score] | sort | reverse)' m1.json >/dev/null && ok "scores descending" || bad "scores descending"
jq -e '.matches[0].job == "J-yx-002" and (.matches[0].reason | test("焊工"))' m1.json >/dev/null && ok "the welder's best job is the welding job" || bad "welder's best job"
"$BIN" match --db db1 --worker demo-1 --as-of $AS_OF >m1b.json
cmp -s m1.json m1b.json && ok "same input, same output" || bad "reproducible"
"$BIN" match --db db1 --worker demo-1 --as-of 2028-01-01 | jq -e 'all(.matches[]; .parts.freshness == 0)' >/dev/null && ok "--as-of drives freshness" || bad "--as-of freshness"
"$BIN" match --db db1 --worker demo-3 --as-of 2028-01-01 | jq -e '[.matches[].job] | index("J-yx-006") == null' >/dev/null && ok "--as-of past a job's end drops it" || bad "--as-of ends"
"$BIN" match --db db1 --worker demo-1 --limit 2 --as-of $AS_OF | jq -e '.matches | length == 2' >/dev/null && ok "--limit" || bad "--limit"
"$BIN" candidates --db db1 --job J-yx-004 --as-of $AS_OF >c.json
jq -e '.job == "J-yx-004" and .candidates[0].worker == "demo-2" and all(.candidates[]; (.parts|add) == .score)' c.json >/dev/null && ok "candidates ranked" || { bad "candidates"; cat c.json; }
"$BIN" candidates --db db1 --job J-yx-013 --as-of $AS_OF | jq -e '.candidates == []' >/dev/null && ok "a closed job has no candidates" || bad "closed job candidates"

# --- close-job, delete ---
expect "close-job" "$BIN" close-job --db db1 --job J-yx-002
"$BIN" get --db db1 --job J-yx-002 | jq -e '.state == "closed"' >/dev/null && ok "closed job reads closed" || bad "closed state"
"$BIN" match --db db1 --worker demo-1 --as-of $AS_OF | jq -e '[.matches[].job] | index("J-yx-002") == null' >/dev/null && ok "closed job leaves the matches" || bad "closed job leaves"
expect "delete worker" "$BIN" delete --db db1 --worker w-bc-02
"$BIN" get --db db1 --worker w-bc-02 >/dev/null 2>&1; [ $? = 1 ] && ok "deleted worker is gone" || bad "deleted worker"
checked db1

# --- export round trip, ID numbers never in clear ---
IDN=11010519491231002X
cat >idn.ndjson <<EOF
{"kind":"worker","id":"idw","name":"丁","region":"360425100201","labor_class":"half","category":"monitored","household":"hi","travel":"village","expected_wage":1000,"status":"idle","seeking":true,"id_number":"$IDN","phone":"13800000000"}
EOF
expect "import a clear ID number" "$BIN" import --db db1 idn.ndjson
"$BIN" export --db db1 >exp1.ndjson
grep -q "$IDN" exp1.ndjson && bad "export holds the ID number in clear" || ok "export never holds the ID number in clear"
grep -q '"id_number_masked":"110105\*\*\*\*\*\*\*\*002X"' exp1.ndjson && ok "export carries the masked form" || bad "masked form"
"$BIN" get --db db1 --worker idw | grep -q "$IDN" && bad "get shows the number" || ok "get never shows the number"
grep -rqa "$IDN" db1 && bad "the data directory holds the number" || ok "the data directory never holds the number"
stat -c %a db1/idnum.key | grep -q '^600$' && ok "key file is 0600" || bad "key file mode"
expect "re-import the export" "$BIN" import --db db3 exp1.ndjson
"$BIN" export --db db3 >exp3.ndjson
cmp -s exp1.ndjson exp3.ndjson && ok "export -> import -> export is identical" || { bad "round trip"; diff exp1.ndjson exp3.ndjson | head; }
expect "re-import into the same store" "$BIN" import --db db1 exp1.ndjson
"$BIN" export --db db1 | cmp -s - exp1.ndjson && ok "re-import is a no-op" || bad "re-import changed data"
checked db3

# --- gen: deterministic, valid, realistic ---
"$BIN" gen --county 360425 --workers 3000 --jobs 300 --seed 7 >g1.ndjson
"$BIN" gen --county 360425 --workers 3000 --jobs 300 --seed 7 >g2.ndjson
"$BIN" gen --county 360425 --workers 3000 --jobs 300 --seed 8 >g3.ndjson
cmp -s g1.ndjson g2.ndjson && ok "gen: same seed, same bytes" || bad "gen determinism"
cmp -s g1.ndjson g3.ndjson && bad "gen: other seed, same bytes" || ok "gen: another seed, other data"
[ "$(wc -l <g1.ndjson)" = 3300 ] && ok "gen: 3000 workers + 300 jobs" || bad "gen line count"
"$BIN" import --db db4 g1.ndjson >out 2>err && grep -q "accepted 3300, rejected 0" out && ok "gen output imports cleanly" || { bad "gen import"; head out; }
"$BIN" gen --county 360425 --counties 3 --workers 2000 --jobs 100 --seed 1 | jq -r 'select(.kind=="worker") | .region[0:6]' | sort -u | wc -l | grep -q '^3$' && ok "gen --counties 3 spreads over 3 counties" || bad "gen --counties"
jq -r 'select(.kind=="worker") | .labor_class' g1.ndjson | sort -u | tr '\n' ' ' | grep -q "half ordinary skilled weak" && ok "gen: every labor class" || bad "gen labor classes"
checked db4

# --- readers in parallel with a writer ---
"$BIN" gen --county 360425 --workers 20000 --jobs 1000 --seed 9 >big.ndjson
head -n 2000 big.ndjson >big1.ndjson
tail -n +2001 big.ndjson >big2.ndjson
"$BIN" import --db db5 big1.ndjson >/dev/null 2>&1
"$BIN" import --db db5 big2.ndjson >imp.out 2>&1 &
wpid=$!
rfail=0
for id in $(jq -r 'select(.kind=="worker") | .id' big1.ndjson | head -8); do
    "$BIN" match --db db5 --worker "$id" --as-of $AS_OF >/dev/null 2>&1 || rfail=1
done
wait $wpid || rfail=1
[ $rfail = 0 ] && ok "readers run while a writer imports" || { bad "parallel readers"; tail -3 imp.out; }
checked db5
wid=$(jq -r 'select(.kind=="worker" and .seeking) | .id' big.ndjson | head -1)
"$BIN" match --db db5 --worker "$wid" --as-of $AS_OF | jq -e '.matches | length > 0' >/dev/null && ok "a generated seeking worker has matches" || bad "generated worker matches"

# --- keys ---
"$BIN" import --db dbk "$ROOT/data/demo.ndjson" >/dev/null 2>&1
KEY=$("$BIN" key create --db dbk --role admin 2>err)
echo "$KEY" | grep -Eq '^sgk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$' && ok "key create prints the key alone" || { bad "key create: '$KEY'"; cat err; }
KID=$(echo "$KEY" | cut -c5-12)
SECRET=$(echo "$KEY" | cut -c14-)
OFF=$("$BIN" key create --db dbk --role officer --scope 360425108 --ttl 30)
echo "$OFF" | grep -q '^sgk_' && ok "officer key with scope and ttl" || bad "officer key"
"$BIN" key create --db dbk --role officer >out 2>err; rc=$?
[ $rc = 1 ] && grep -q -- "--scope" err && ok "officer key without scope: exit 1, names --scope" || bad "officer without scope ($rc)"
"$BIN" key create --db dbk --role employer >out 2>err; rc=$?
[ $rc = 1 ] && grep -q -- "--employer" err && ok "employer key without --employer: exit 1" || bad "employer key ($rc)"
"$BIN" key create --db dbk --role admin --scope 99999 >out 2>err; [ $? = 1 ] && ok "unknown scope: exit 1" || bad "unknown scope"
"$BIN" key create --db dbk --role king >out 2>err; [ $? = 2 ] && ok "unknown role: exit 2" || bad "unknown role"
"$BIN" key create --db dbk --role admin --ttl x >out 2>err; [ $? = 2 ] && ok "bad --ttl: exit 2" || bad "bad --ttl"
TOK=$("$BIN" key create --db dbk --role worker --worker demo-2)
echo "$TOK" | grep -Eq '^sgt_[0-9a-f]{8}_[0-9]+_demo-2_[0-9a-f]{128}$' && ok "worker token printed alone" || bad "worker token: '$TOK'"
TID=$(echo "$TOK" | cut -d_ -f2)
"$BIN" key create --db dbk --role worker --worker nobody >out 2>err; rc=$?
[ $rc = 1 ] && grep -q "no worker with id nobody" err && ok "token for an unknown worker: exit 1" || bad "token for unknown worker ($rc)"
"$BIN" key create --db dbk --role worker >out 2>err; [ $? = 2 ] && ok "--role worker without --worker: exit 2" || bad "token without worker"
"$BIN" key list --db dbk >list.txt
grep -q "^$KID	key	admin	-	-	never	active$" list.txt && ok "key list: id, kind, role, scope, expiry, state" || { bad "key list"; cat list.txt; }
grep -q "^$TID	token	worker	-	demo-2	" list.txt && ok "key list shows tokens" || bad "key list token"
grep -qF -- "$SECRET" list.txt && bad "key list shows a secret" || ok "key list never shows a key"
grep -rqaF -- "$SECRET" dbk && bad "the data directory holds the key" || ok "the data directory never holds a key"
grep -rqaF -- "$KEY" dbk && bad "the data directory holds the whole key" || ok "only the key's hash is stored"
stat -c %a dbk/token.key | grep -q '^600$' && ok "token.key is 0600" || bad "token.key mode"
expect "key revoke" "$BIN" key revoke --db dbk "$KID"
"$BIN" key list --db dbk | grep -q "^$KID	.*	revoked$" && ok "revoked key listed as revoked" || bad "revoked state"
expect "revoke a token" "$BIN" key revoke --db dbk "$TID"
"$BIN" key revoke --db dbk ffffffff >out 2>err; [ $? = 1 ] && ok "revoke unknown id: exit 1" || bad "revoke unknown"
"$BIN" key revoke --db dbk >out 2>err; [ $? = 2 ] && ok "revoke without id: exit 2" || bad "revoke usage"
EXP=$("$BIN" key create --db dbk --role admin --ttl 0)
"$BIN" key list --db dbk | grep -q "^$(echo "$EXP" | cut -c5-12)	.*	expired$" && ok "--ttl 0 is expired at once" || bad "ttl 0"
checked dbk
# close-job through the CLI takes a pushed job back: it stays consistent
"$BIN" close-job --db dbk --job J-yx-004 && "$BIN" delete --db dbk --job J-yx-005 && ok "close-job and delete with push bookkeeping" || bad "close/delete"
checked dbk

# --- import --push: the same records as the bulk import, pushed as the API ---
"$BIN" gen --county 360425 --workers 300 --jobs 30 --seed 5 >p.ndjson
expect "import without pushes" "$BIN" import --db dbp0 p.ndjson
expect "import --push" "$BIN" import --db dbp1 --push --push-top 20 p.ndjson
grep -q "accepted 330, rejected 0" "$TMP/out" && ok "import --push: summary" || bad "import --push summary"
checked dbp1
"$BIN" export --db dbp0 | jq -c 'del(.id_number_hash)' >p0.ndjson
"$BIN" export --db dbp1 | jq -c 'del(.id_number_hash)' >p1.ndjson
cmp -s p0.ndjson p1.ndjson && ok "import with and without --push: same records" || bad "push changed records"
pj=$(jq -r 'select(.kind=="job") | .id' p.ndjson | head -1)
expect "close-job after import --push" "$BIN" close-job --db dbp1 --job "$pj"
expect "close-job after a bulk import" "$BIN" close-job --db dbp0 --job "$pj"
expect "delete after import --push" "$BIN" delete --db dbp1 --job "$pj"
checked dbp0
checked dbp1
"$BIN" close-job --db dbp1 --job "" >out 2>err; rc=$?
[ $rc = 1 ] && grep -q -- "--job: not an id" err && ok "close-job with an empty id: exit 1, names --job" || bad "close-job empty id ($rc)"
echo 'bogus' >bad.conf
"$BIN" import --db dbp2 --push --weights bad.conf p.ndjson >out 2>err; rc=$?
[ $rc = 1 ] && grep -q "bad.conf" err && ok "import --push with a bad weights file: exit 1, names it" || bad "bad weights ($rc)"

echo "$passed passed, $failed failed"
[ $failed = 0 ]
