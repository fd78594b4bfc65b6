#!/bin/sh
# tools/run-demo.sh -- what `make run` does until the gateway lands: load the
# bundled demo data (永修县, illustrative) into ./var/db and print the ranked
# matches, with reasons, for the three demo workers.
set -e
BIN=${1:-build/songgang}
DB=var/db
mkdir -p var
"$BIN" import --db "$DB" data/demo.ndjson
"$BIN" check --db "$DB"
for w in demo-1 demo-2 demo-3; do
    echo
    "$BIN" get --db "$DB" --worker "$w" |
        jq -r '"== \(.id) \(.name)  \(.labor_class) / \(.status) / travel: \(.travel)  skills: \(.skills | join(","))"'
    "$BIN" match --db "$DB" --worker "$w" --limit 5 |
        jq -r '.matches[] | "  \(.score)\t\(.job)\t\(.reason)"'
done
echo
echo "Try: $BIN candidates --db $DB --job J-yx-004"
