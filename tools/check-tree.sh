#!/bin/sh
# tools/check-tree.sh -- the rules of the source tree that a compiler does
# not check, run by `make unit`:
#   1. the README's "Source layout" names every source file of the tree (a
#      line per file) and every path it names exists;
#   2. only the store's files (matcher/store*.c) include <lmdb.h>, only the
#      gateway's (gateway/*.c) and the programs that run it include <uv.h>;
#   3. nothing under include/ declares an internal (sg__) name.
# Prints what is wrong and exits 1; silent apart from one line when all hold.
set -u
cd "$(dirname "$0")/.." || exit 2
bad=0
say() { echo "check-tree: $*" >&2; bad=1; }

# The files the layout must list: sources, headers, scripts and data, as
# tracked by git (or found, outside a git checkout).
if git rev-parse --git-dir >/dev/null 2>&1; then
    files=$(git ls-files)
else
    files=$(find . -type f ! -path './build/*' | sed 's#^\./##')
fi
listed=$(sed -n '/^## Source layout/,/^## /p' README.md |
    grep -o '`[^`]*`' | tr -d '`')
for f in $(echo "$files" | grep -E '^(proto|matcher|gateway|cmd|tools|include|tests|bench|data|docs)/' |
    grep -Ev '^bench/results/'); do
    echo "$listed" | grep -qxF "$f" || say "README's source layout does not list $f"
done
for f in $listed; do
    case $f in
    */\*|*\**) continue ;; # a pattern, e.g. tests/*_test.c
    esac
    case $f in
    /*) ;; # a URL path, e.g. /healthz
    */*) [ -e "$f" ] || say "README's source layout lists $f, which does not exist" ;;
    esac
done

# <lmdb.h> and <uv.h> stay where the architecture puts them.
for f in $(echo "$files" | grep -E '\.(c|h)$'); do
    if grep -q '#include <lmdb.h>' "$f"; then
        case $f in
        # store_test.c damages a store behind its back to prove check()
        # finds it; the benchmarks time LMDB alone.
        matcher/store*.c | matcher/store_int.h | tests/store_test.c | bench/*) ;;
        *) say "$f includes <lmdb.h>: only the store's files may" ;;
        esac
    fi
    if grep -q '#include <uv.h>' "$f"; then
        case $f in
        gateway/* | bench/* | tests/gateway_test.c) ;;
        *) say "$f includes <uv.h>: only the gateway's files may" ;;
        esac
    fi
done
if grep -n '\bsg__' include/songgang/*.h >/dev/null 2>&1; then
    grep -n '\bsg__' include/songgang/*.h | sed 's/^/check-tree: internal in a public header: /' >&2
    bad=1
fi
[ $bad = 0 ] && echo "check-tree: layout listed, includes in place, public headers public"
exit $bad
