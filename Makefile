# songgang -- build, test and run.  `make run` and `make test` are the two
# set-up commands; everything else is reached from them.
CC      ?= gcc
CFLAGS  ?= -O2 -g
BASEFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
            -Wall -Wextra -Werror -Iinclude -Ibuild/gen -I$(LLHTTP_INC) -MMD -MP
LDLIBS  = -lnng -luv -llmdb -lmsgpackc -ljansson -lsodium -lm -lpthread
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

MAINS       = matcher/cli.c matcher/matcherd.c gateway/main.c
PROTO_SRC   = $(wildcard proto/*.c)
MATCHER_SRC = $(filter-out $(MAINS),$(wildcard matcher/*.c))
GATEWAY_SRC = $(filter-out $(MAINS),$(wildcard gateway/*.c))
LLHTTP_OBJ  = $(B)/llhttp/llhttp.o $(B)/llhttp/api.o $(B)/llhttp/http.o
LIB_OBJ     = $(PROTO_SRC:%.c=$(B)/%.o) $(MATCHER_SRC:%.c=$(B)/%.o) \
              $(GATEWAY_SRC:%.c=$(B)/%.o) $(LLHTTP_OBJ) \
              $(B)/gen/skills_data.o $(B)/gen/regions_data.o
BINS        = $(B)/songgang \
              $(if $(wildcard matcher/matcherd.c),$(B)/songgang-matcher) \
              $(if $(wildcard gateway/main.c),$(B)/songgang-gateway)
TESTS       = $(patsubst tests/%_test.c,$(B)/tests/%_test,$(wildcard tests/*_test.c))

.PHONY: all deps test unit e2e asan run bench bench-smoke clean
all: deps $(BINS) $(TESTS)

# deps checks the Debian packages; as root on a fresh machine it installs
# them, otherwise it names the ones missing.
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
$(B)/gen/%.o: $(B)/gen/%.c
	$(CC) $(ALLFLAGS) -c $< -o $@

# llhttp's generated C is built with its own, laxer warning flags.
$(B)/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -g $(EXTRA) -I$(LLHTTP_INC) -w -c $< -o $@

$(B)/libsonggang.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/songgang: $(B)/matcher/cli.o $(B)/libsonggang.a
	$(CC) $(ALLFLAGS) $^ $(LDLIBS) -o $@
$(B)/songgang-matcher: $(B)/matcher/matcherd.o $(B)/libsonggang.a
	$(CC) $(ALLFLAGS) $^ $(LDLIBS) -o $@
$(B)/songgang-gateway: $(B)/gateway/main.o $(B)/libsonggang.a
	$(CC) $(ALLFLAGS) $^ $(LDLIBS) -o $@

$(B)/tests/%_test: tests/%_test.c $(B)/libsonggang.a
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -Itests $< $(B)/libsonggang.a $(LDLIBS) $(TEST_LDLIBS) -o $@

# unit runs every cmocka test binary; e2e drives the real CLI.
unit: all
	@set -e; for t in $(TESTS); do echo "== $$t"; $$t; done
e2e: all
	@sh tests/e2e_cli.sh $(B)/songgang
	@bash tests/e2e_http.sh $(B)

asan:
	$(MAKE) B=build/asan EXTRA="$(SAN)" CFLAGS="-O1 -g" unit e2e

test: deps
	$(MAKE) unit e2e
	$(MAKE) asan
	@echo "make test: all suites passed"

# run builds, loads the demo data into ./var/db and shows matches.
run: all
	@sh tools/run-demo.sh $(B)/songgang

# vs_pg (matcher vs PostgreSQL) alone links libpq (Debian's libpq-dev,
# installed by tools/bench-deps.sh), so the rest of the build never needs it.
$(B)/bench/vs_pg: bench/vs_pg.c $(B)/libsonggang.a
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -I/usr/include/postgresql $< $(B)/libsonggang.a \
	    $(LDLIBS) -lpq -o $@

$(B)/bench/%: bench/%.c $(B)/libsonggang.a
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) $< $(B)/libsonggang.a $(LDLIBS) -o $@

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
