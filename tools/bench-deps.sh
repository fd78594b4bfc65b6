#!/bin/sh
# tools/bench-deps.sh -- the Debian 12 packages `make bench` needs besides
# the build's own (tools/deps.sh): PostgreSQL 15 and libpq for the matcher
# comparison, nginx and wrk for the gateway's, gnuplot for the scaling
# plot.  As root it installs what is missing; otherwise it names them.
PKGS="postgresql-15 libpq-dev nginx-light wrk gnuplot-nox bc jq curl python3"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bench-deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq $missing >/dev/null || exit 1
    exit 0
fi
echo "bench-deps: missing Debian packages:$missing" >&2
echo "bench-deps: install them with: sudo apt-get install$missing" >&2
exit 1
