# SPDX-License-Identifier: AGPL-3.0-or-later
# scwire - conformance suite, reference runtime and fuzzing kit for the
# tractor 0.1.0a4 wire protocol.  `make help` lists the targets.

CC      ?= cc
PYTHON  ?= /usr/bin/python3
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build

WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  ?= -O2 -g
LDFLAGS ?=
MSGPACK_CFLAGS := $(shell pkg-config --cflags msgpack 2>/dev/null)
MSGPACK_LIBS   := $(shell pkg-config --libs msgpack 2>/dev/null || echo -lmsgpackc)
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) $(MSGPACK_CFLAGS) -Iref/src $(CFLAGS)

# The sans-IO core: everything under ref/src except the libev glue, main and
# the command-line helpers that the programs share.
GLUE_SRCS = ref/src/loop.c ref/src/main.c ref/src/cli.c ref/src/peercred.c ref/src/resolve.c
CORE_SRCS = $(filter-out $(GLUE_SRCS),$(sort $(wildcard ref/src/*.c)))
CORE_OBJS = $(CORE_SRCS:ref/src/%.c=$(BUILD)/core/%.o)
GLUE_OBJS = $(GLUE_SRCS:ref/src/%.c=$(BUILD)/glue/%.o)
TEST_SRCS = $(sort $(wildcard ref/tests/*.c))
TEST_OBJS = $(TEST_SRCS:ref/tests/%.c=$(BUILD)/tests/%.o)

TAP_SRCS  = $(sort $(wildcard tools/tap/*.c))
TAP_OBJS  = $(TAP_SRCS:tools/tap/%.c=$(BUILD)/tap/%.o)

LIB    = $(BUILD)/libscwire.a
DAEMON = $(BUILD)/scwire-ref
UNIT   = $(BUILD)/unit-tests
TAP    = $(BUILD)/scwire-tap
PYTEST = $(PYTHON) -m pytest -q -p no:cacheprovider
CONFORM = $(PYTHON) conformance/scwire-conform

.PHONY: all help deps deps-fuzz check check-run unit daemon-test spec-check tools-test \
	conformance conformance-run conformance-selftest fuzz fuzz-smoke fuzz-coverage fuzz-test bench bench-run bench-build bench-publish record-vectors interop conformance-tractor mutation mutation-run mutation-sample install install-conformance clean
all: $(LIB) $(DAEMON) $(UNIT) $(TAP)

help:
	@echo "make               build the reference runtime and the unit tests"
	@echo "make deps          install missing Debian packages (as root)"
	@echo "make conformance   run the conformance suite against the reference runtime"
	@echo "make check         every test"
	@echo "make tools-test    tests of scwire-tap, scwire-trace, scwire-send, the dissector"
	@echo "make fuzz-smoke    every fuzz target for FUZZ_SMOKE_SECONDS (30), then the regression replay"
	@echo "make fuzz TARGET=fuzz_actor SECONDS=600   one long fuzzing run"
	@echo "make fuzz-coverage what of ref/src the fuzz corpora reach (CORPUS_DIRS adds corpora)"
	@echo "make bench         benchmarks: a table, and results in $(BUILD)/bench/results/"
	@echo "make bench-publish copy the latest bench results to tools/bench/results/ (tracked)"
	@echo "make record-vectors  record the tractor traces again from a local tractor (SCWIRE_TRACTOR_PYTHONPATH)"
	@echo "make interop       the interop matrix (scwire-ref, tractor, --impl) and the differential replay"
	@echo "make conformance-tractor  the suite against tractor (SCWIRE_TRACTOR_PYTHONPATH) under both profiles, promises checked"
	@echo "make mutation      the suite against every planted bug of conformance/mutation/mutants.toml (~30 min)"
	@echo "make soak          load, chaos, leak and SIGTERM scenarios for SOAK_SECONDS (300)"
	@echo "make install       install under PREFIX (default /usr/local), DESTDIR honoured"
	@echo "make clean         remove $(BUILD)/"

deps:
	@sh tools/install-deps

deps-fuzz:
	@sh tools/install-deps --fuzz

$(BUILD)/core/%.o: ref/src/%.c $(wildcard ref/src/*.h) | $(BUILD)/core
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
$(BUILD)/glue/%.o: ref/src/%.c $(wildcard ref/src/*.h) | $(BUILD)/glue
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
$(BUILD)/tests/%.o: ref/tests/%.c $(wildcard ref/src/*.h ref/tests/*.h) | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -Iref/tests -c -o $@ $<
$(BUILD)/tap/%.o: tools/tap/%.c $(wildcard tools/tap/*.h ref/src/*.h) | $(BUILD)/tap
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
$(BUILD)/core $(BUILD)/glue $(BUILD)/tests $(BUILD)/tap:
	@mkdir -p $@

$(LIB): $(CORE_OBJS)
	rm -f $@
	ar rcs $@ $^
$(DAEMON): $(GLUE_OBJS) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(GLUE_OBJS) $(LIB) -lev $(MSGPACK_LIBS) -lm
$(UNIT): $(TEST_OBJS) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJS) $(LIB) -lcunit $(MSGPACK_LIBS) -lm
$(TAP): $(TAP_OBJS) $(BUILD)/glue/cli.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(TAP_OBJS) $(BUILD)/glue/cli.o $(LIB) -lev $(MSGPACK_LIBS) -lm

unit: $(UNIT)
	$(UNIT)

# The daemon under ASan, LSan and UBSan, for the leak sessions of daemon-test.
# Its objects stay loose files so that a test can link a variant from them.
ASAN_DIR    = $(BUILD)/asan
ASAN_DAEMON = $(ASAN_DIR)/scwire-ref
# gcc's UBSan null checks make -Wformat-overflow see a null format in every
# vfprintf wrapper, a false alarm.
ASAN_FLAGS  = -fsanitize=address,undefined -fno-omit-frame-pointer -Wno-format-overflow
ASAN_OBJS   = $(CORE_SRCS:ref/src/%.c=$(ASAN_DIR)/%.o) $(GLUE_SRCS:ref/src/%.c=$(ASAN_DIR)/%.o)

$(ASAN_DIR)/%.o: ref/src/%.c $(wildcard ref/src/*.h) | $(ASAN_DIR)
	$(CC) $(ALL_CFLAGS) $(ASAN_FLAGS) -c -o $@ $<
$(ASAN_DIR):
	@mkdir -p $@
$(ASAN_DAEMON): $(ASAN_OBJS)
	$(CC) $(LDFLAGS) $(ASAN_FLAGS) -o $@ $(ASAN_OBJS) -lev $(MSGPACK_LIBS) -lm

# The daemon as a program: flags, exit statuses, a session under valgrind,
# faults, limits and leaks.
daemon-test: $(DAEMON) $(ASAN_DAEMON)
	$(PYTEST) ref/tests/daemon

spec-check:
	$(PYTHON) tools/spec-trace

# The tools' tests drive the daemon and the tap, so they need both built.
tools-test: $(DAEMON) $(TAP)
	$(PYTEST) tools/tests

# The self-tests run the runtime and the tap (interop, install, caps).
conformance-selftest: $(DAEMON) $(TAP)
	$(PYTEST) conformance/selftest

# The suite against the reference runtime, once per codec.
conformance-run: all
	$(CONFORM) --iut-ref-flags --codec msgpack --out $(BUILD)/conformance/msgpack
	$(CONFORM) --iut-ref-flags --codec lenprefix --out $(BUILD)/conformance/lenprefix

# deps must finish before anything is compiled, so the real work is a
# second make started after it (its pkg-config lookups then see msgpack).
# make check fuzzes each target for CHECK_FUZZ_SECONDS only, to stay near six
# minutes; make fuzz-smoke and make fuzz are the longer runs.
CHECK_FUZZ_SECONDS ?= 5
check: deps
	@sh tools/install-deps --fuzz
	@$(MAKE) --no-print-directory check-run FUZZ_SMOKE_SECONDS=$(CHECK_FUZZ_SECONDS)
check-run: all unit daemon-test spec-check tools-test conformance-selftest conformance-run fuzz-smoke fuzz-test soak-smoke mutation-sample conformance-tractor

conformance: deps
	@$(MAKE) --no-print-directory conformance-run

# In-process fuzzing (fuzz/README.md).  An empty FUZZ_CFLAGS keeps a global
# CFLAGS from replacing the sanitizer flags of fuzz/build.sh.
FUZZ_CC     ?= clang
FUZZ_CFLAGS ?=
FUZZ_ENV = CC="$(FUZZ_CC)" CFLAGS="$(FUZZ_CFLAGS)" PYTHON="$(PYTHON)" OUT="$(BUILD)/fuzz"
FUZZ_SMOKE_SECONDS ?= 30
fuzz-smoke:
	$(FUZZ_ENV) sh fuzz/smoke.sh $(FUZZ_SMOKE_SECONDS)
fuzz:
	@test -n "$(TARGET)" || { echo "usage: make fuzz TARGET=fuzz_codec|fuzz_msg|fuzz_actor|fuzz_registry [SECONDS=600]" >&2; exit 2; }
	$(FUZZ_ENV) sh fuzz/smoke.sh $(or $(SECONDS),600) $(TARGET)
# Source-based coverage of the core by the corpora: $(BUILD)/fuzz/coverage/.
fuzz-coverage:
	$(FUZZ_ENV) CORPUS_DIRS="$(CORPUS_DIRS)" sh fuzz/coverage.sh
# The fuzz kit's own scripts (coverage.sh, blind-spots.py, gen-corpus.py).
fuzz-test:
	$(PYTEST) fuzz/tests

# Benchmarks: figures and ratios, never part of check (tools/bench/README.md).
BENCH_DIR    = $(BUILD)/bench
BENCH_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) $(MSGPACK_CFLAGS) -Iref/src -O2 -g
BENCH_CLIENT = $(BENCH_DIR)/scwire-bench
BENCH_BASE   = $(BENCH_DIR)/bench-baseline

$(BENCH_DIR):
	@mkdir -p $@
$(BENCH_CLIENT): tools/bench/scwire-bench.c tools/bench/benchio.c tools/bench/bench.h $(LIB) | $(BENCH_DIR)
	$(CC) $(BENCH_CFLAGS) -o $@ tools/bench/scwire-bench.c tools/bench/benchio.c $(LIB) $(MSGPACK_LIBS) -lm
$(BENCH_BASE): tools/bench/bench-baseline.c | $(BENCH_DIR)
	$(CC) $(BENCH_CFLAGS) -o $@ tools/bench/bench-baseline.c -lev $(MSGPACK_LIBS) -lm
bench-build: $(DAEMON) $(BENCH_CLIENT) $(BENCH_BASE)
bench-run: bench-build
	PYTHON=$(PYTHON) $(PYTHON) tools/bench/run-bench $(BENCH_FLAGS)
bench: deps
	@$(MAKE) --no-print-directory bench-run
# The results of `make bench` stay under $(BUILD)/bench/results; this copies
# the latest summary into tools/bench/results/, the published one.
bench-publish:
	$(PYTHON) tools/bench/run-bench --publish

# Reliability under load and chaos (tools/soak/): scwire-soak holds numbered
# streams both ways on many connections beside hostile ones; run-soak adds
# the leak check and SIGTERM under load.  soak-smoke is the same in seconds.
SOAK_DIR     = $(BUILD)/soak
SOAK         = $(SOAK_DIR)/scwire-soak
SOAK_SRCS    = $(sort $(wildcard tools/soak/*.c)) tools/bench/benchio.c
SOAK_SECONDS ?= 300
.PHONY: soak soak-run soak-smoke
$(SOAK_DIR):
	@mkdir -p $@
$(SOAK): $(SOAK_SRCS) tools/soak/soak.h tools/bench/bench.h $(BUILD)/glue/cli.o $(LIB) | $(SOAK_DIR)
	$(CC) $(ALL_CFLAGS) -Itools/bench $(LDFLAGS) -o $@ $(SOAK_SRCS) $(BUILD)/glue/cli.o $(LIB) -lev $(MSGPACK_LIBS) -lm
tools-test: $(SOAK)
soak-smoke: $(DAEMON) $(SOAK)
	$(PYTHON) tools/soak/run-soak --seconds 3 --conns 200 --warmup 1 --attack-seconds 2
soak-run: $(DAEMON) $(SOAK)
	$(PYTHON) tools/soak/run-soak --seconds $(SOAK_SECONDS) --max-p99-ratio 5
soak: deps
	@$(MAKE) --no-print-directory soak-run

# The network fuzzer against a live implementation (tools/scwire-netfuzz --help),
# here build/scwire-ref; NETFUZZ_ARGS adds options (--iut-cmd, --diff-cmd, --seed).
# Its tests are in tools/tests (tools-test).
NETFUZZ_SECONDS ?= 60
NETFUZZ_ARGS    ?=
.PHONY: netfuzz
netfuzz: $(DAEMON)
	$(PYTHON) tools/scwire-netfuzz --seconds $(NETFUZZ_SECONDS) --out $(BUILD)/netfuzz $(NETFUZZ_ARGS)

# The interoperability matrix between implementations and the differential
# replay of the recordings (conformance/interop/README.md); tractor comes from
# SCWIRE_TRACTOR_PYTHONPATH, else its cells SKIP with the reason.
INTEROP_ARGS ?=
interop: $(DAEMON) $(TAP)
	$(PYTHON) conformance/interop/run-interop --out $(BUILD)/interop $(INTEROP_ARGS)
# The suite against real tractor under both profiles, and the promises of
# spec/profiles.md checked on the two reports; SKIP (exit 0) without tractor.
conformance-tractor:
	$(PYTHON) conformance/interop/run-profiles --out $(BUILD)/tractor-profiles $(TRACTOR_PROFILES_ARGS)

# Mutation testing of the suite (conformance/mutation/README.md): every planted
# bug of the catalogue against the whole suite, or a rotating sample of them.
MUTATION_JOBS   ?= 2
MUTATION_SAMPLE ?= 1
MUTATION_SEED   ?= $(shell date +%F)
mutation: deps
	@$(MAKE) --no-print-directory mutation-run
mutation-run:
	$(PYTHON) conformance/mutation/run-mutants -j $(MUTATION_JOBS) --out $(BUILD)/mutation
# The sample: one planted bug per class of blind spot (each must be killed) and
# MUTATION_SAMPLE more, chosen by the day.
mutation-sample:
	$(PYTHON) conformance/mutation/run-mutants -j 2 --blind-spots --sample $(MUTATION_SAMPLE) \
		--seed $(MUTATION_SEED) --min-score 100 --out $(BUILD)/mutation-sample

# Record the tractor traces of conformance/vectors again, from a tractor
# 0.1.0a4 importable with SCWIRE_TRACTOR_PYTHONPATH (nothing here installs
# it); without one it says why and records nothing.
record-vectors: $(TAP)
	$(PYTHON) tools/dev/record-vectors --out $(BUILD)/vectors/tractor-0.1.0a4

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(DAEMON) $(DESTDIR)$(PREFIX)/bin/scwire-ref
	install -m 0755 $(TAP) $(DESTDIR)$(PREFIX)/bin/scwire-tap
	install -d $(DESTDIR)$(PREFIX)/lib/scwire/tools/scwire_tools/netfuzz $(DESTDIR)$(PREFIX)/share/scwire/wireshark
	install -m 0755 tools/scwire-trace tools/scwire-send tools/scwire-netfuzz $(DESTDIR)$(PREFIX)/lib/scwire/tools/
	install -m 0644 tools/scwire_tools/*.py $(DESTDIR)$(PREFIX)/lib/scwire/tools/scwire_tools/
	install -m 0644 tools/scwire_tools/netfuzz/*.py $(DESTDIR)$(PREFIX)/lib/scwire/tools/scwire_tools/netfuzz/
	for t in scwire-trace scwire-send scwire-netfuzz; do \
		ln -sf ../lib/scwire/tools/$$t $(DESTDIR)$(PREFIX)/bin/$$t || exit 1; done
	install -m 0644 tools/wireshark/scwire.lua $(DESTDIR)$(PREFIX)/share/scwire/wireshark/
	$(MAKE) --no-print-directory install-conformance

# The suite keeps the repository's shape under lib/scwire (conformance/, spec/,
# tools/scwire_tools), so that it finds the spec text and the diagram code.
CONFORM_DEST = $(DESTDIR)$(PREFIX)/lib/scwire
VECTORS      = conformance/vectors/tractor-0.1.0a4
VECTORS_DEST = $(CONFORM_DEST)/$(VECTORS)
install-conformance:
	install -d $(CONFORM_DEST)/conformance/scwire_conform $(CONFORM_DEST)/conformance/cases \
		$(CONFORM_DEST)/conformance/iut/tractor $(CONFORM_DEST)/spec $(DESTDIR)$(PREFIX)/bin
	install -m 0755 conformance/scwire-conform $(CONFORM_DEST)/conformance/
	install -m 0644 conformance/pytest.ini conformance/README.md $(CONFORM_DEST)/conformance/
	install -m 0644 conformance/scwire_conform/*.py $(CONFORM_DEST)/conformance/scwire_conform/
	install -m 0644 conformance/cases/*.py $(CONFORM_DEST)/conformance/cases/
	install -m 0644 conformance/iut/tractor/*.py $(CONFORM_DEST)/conformance/iut/tractor/
	install -m 0755 conformance/iut/tractor/child-shim $(CONFORM_DEST)/conformance/iut/tractor/
	chmod 0755 $(CONFORM_DEST)/conformance/iut/tractor/run.py $(CONFORM_DEST)/conformance/iut/tractor/child.py
	install -m 0644 spec/*.md spec/pending.txt $(CONFORM_DEST)/spec/
	install -d $(VECTORS_DEST)/profile $(VECTORS_DEST)/logs/profile
	install -m 0644 $(VECTORS)/*.jsonl $(VECTORS)/README.md $(VECTORS_DEST)/
	install -m 0644 $(VECTORS)/profile/*.jsonl $(VECTORS_DEST)/profile/
	install -m 0644 $(wildcard $(VECTORS)/logs/*.*) $(VECTORS_DEST)/logs/
	install -m 0644 $(VECTORS)/logs/profile/* $(VECTORS_DEST)/logs/profile/
	ln -sf ../lib/scwire/conformance/scwire-conform $(DESTDIR)$(PREFIX)/bin/scwire-conform

clean:
	rm -rf $(BUILD)
