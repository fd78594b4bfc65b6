#!/bin/sh
# tools/bench-deps.sh -- the Debian 12 packages `make bench` needs besides
# the build's own (tools/deps.sh): PostgreSQL 15 and libpq for the matcher
# comparison, nginx and wrk for the gateway's, gnuplot for the scaling
# plot.  As root it installs what is missing; otherwise it names them.
exec sh "$(dirname "$0")/deps.sh" postgresql-15 libpq-dev nginx-light wrk \
    gnuplot-nox bc jq curl python3
