#!/bin/sh
# tools/run-demo.sh -- what `make run` does: on first start, load the bundled
# demo data (永修县, illustrative) into ./var/db; make a fresh admin key
# (valid one day); print the URL, the key and a few commands to try; then
# run the embedded server (`songgang serve`) until Ctrl-C.
set -e
BIN=${1:-build/songgang}
DB=var/db
ADDR=${SONGGANG_HTTP:-127.0.0.1:8080}
mkdir -p var
if [ ! -f "$DB/data.mdb" ]; then
    "$BIN" import --db "$DB" data/demo.ndjson
fi
"$BIN" check --db "$DB"
for w in demo-1 demo-2 demo-3; do
    "$BIN" get --db "$DB" --worker "$w" |
        jq -r '"== \(.id) \(.name)  \(.labor_class) / \(.status) / travel: \(.travel)"'
    "$BIN" match --db "$DB" --worker "$w" --limit 3 |
        jq -r '.matches[] | "  \(.score)\t\(.job)\t\(.reason)"'
done
KEY=$("$BIN" key create --db "$DB" --role admin --ttl 1)
cat <<MSG

songgang is starting on http://$ADDR
admin key (valid 1 day):  $KEY

Try, in another terminal (the README walks through more):
  export KEY=$KEY
  curl -s -H "Authorization: Bearer \$KEY" http://$ADDR/v1/workers/demo-1/matches | jq .
  curl -s -H "Authorization: Bearer \$KEY" http://$ADDR/v1/regions/360425108/jobs | jq .

MSG
exec "$BIN" serve --db "$DB" --http "$ADDR"
