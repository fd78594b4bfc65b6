#!/bin/sh
# tools/deps.sh -- checks the Debian 12 packages songgang builds with (or,
# given package names, those: tools/bench-deps.sh).  As root it installs
# what is missing with apt-get; otherwise it names them.
PKGS="gcc make pkg-config liblmdb-dev lmdb-utils libmsgpack-dev libjansson-dev \
libsodium-dev libcmocka-dev libnng-dev libuv1-dev node-llhttp jq curl"
[ $# -gt 0 ] && PKGS="$*"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq $missing >/dev/null || exit 1
    exit 0
fi
echo "deps: missing Debian packages:$missing" >&2
echo "deps: install them with: sudo apt-get install$missing" >&2
exit 1
