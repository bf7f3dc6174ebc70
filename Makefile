# ShmKV — the two commands a new user needs:
#   make run    installs what is missing, builds release, runs shmkvd with Config/shmkvd.yaml (data in ./data)
#   make test   installs what is missing, builds, runs every test
# and one to put it on a machine:
#   make install [PREFIX=/usr/local] [SYSCONFDIR=$(PREFIX)/etc] [DESTDIR=]   (make uninstall removes it)
# Debian packages are installed with apt-get (as root, or through sudo when there is one).

SWIFT ?= swift
# Release builds link Swift's runtime and Foundation statically: the installed binaries do not need the
# toolchain's /opt/swift libraries, and an idle daemon holds less (18 MiB resident against 24 MiB with
# the shared libraries; a GET costs about a tenth less CPU without the calls through the PLT). Every
# script that builds release uses the same flags, so they share one build (changing them rebuilds all).
RELEASE := build -c release --static-swift-stdlib
# What building and running need.
RUN_PACKAGES := liblmdb-dev libedit-dev pkg-config liblua5.1-0-dev lua-cjson-dev lua-bitop-dev
# What the tests need besides: mdb_stat (lmdb-utils) opens the daemon's files; prlimit (util-linux)
# cuts a running daemon's descriptor limit; py-lmdb (python3-lmdb) reads them; redis-cli and
# redis-benchmark (redis-tools) talk RESP to the daemon; redis-server is the oracle RESP tests compare
# replies with; nutcracker (twemproxy) is put in front of the daemon with redis_auth; iproute2 gives the
# protected-mode test a second address in a network namespace of its own (unshare, setpriv and mount come
# with util-linux); python3-venv holds redis-py from PyPI; systemd's systemd-analyze checks the service unit.
TEST_PACKAGES := $(RUN_PACKAGES) lmdb-utils util-linux python3-lmdb redis-tools redis-server nutcracker iproute2 python3-venv systemd
# redis-py, for the RESP tests, and the job-queue libraries the queue tests run (Celery, whose Kombu Redis
# transport imports `packaging`; python-rq), in a virtual environment of Debian's python3 (under .build/).
# python-rq 3 takes the scheduler's lock and refuses duplicate unique jobs with Lua scripts; redis-py's
# Lock and the `limits` rate limiter's moving window are Lua too.
PYVENV := .build/pyvenv
REDIS_PY := redis>=8,<9
# `limits` without its [redis] extra, which would pin redis-py below 7 (it uses the redis-py installed).
QUEUE_LIBRARIES := celery>=5.5,<6 packaging rq>=3,<4 limits>=5,<6

SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null && echo sudo)

.PHONY: run test build build-release smoke-release deps-run deps-test clean bench bench-deps fuzz fuzz-build fuzz-short test-sanitize test-tsan \
	install install-files uninstall

# Installs the packages named in $(1) that dpkg does not list as installed.
define install_missing
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
endef

deps-run:
	$(call install_missing,$(RUN_PACKAGES))

deps-test:
	$(call install_missing,$(TEST_PACKAGES))
	@[ -x $(PYVENV)/bin/python ] || /usr/bin/python3 -m venv $(PYVENV)
	@$(PYVENV)/bin/python -c 'import redis, sys; sys.exit(0 if int(redis.__version__.split(".")[0]) >= 8 else 1)' 2>/dev/null || \
		$(PYVENV)/bin/pip install -q '$(REDIS_PY)'
	@$(PYVENV)/bin/python -c 'import celery, packaging, rq, limits, sys; sys.exit(0 if rq.__version__.startswith("3.") else 1)' 2>/dev/null || \
		$(PYVENV)/bin/pip install -q '$(REDIS_PY)' $(foreach p,$(QUEUE_LIBRARIES),'$(p)')

# What Benchmarks/run.sh needs besides: a C compiler for the
# raw-LMDB baselines. `make bench` runs it (about 10 minutes; numbers, never pass/fail).
BENCH_PACKAGES := $(TEST_PACKAGES) gcc libc6-dev

bench-deps:
	$(call install_missing,$(BENCH_PACKAGES))

bench: bench-deps
	Benchmarks/run.sh

build-release: deps-run
	$(SWIFT) $(RELEASE) --product shmkvd
	$(SWIFT) $(RELEASE) --product shmkv

# The release build that `make run` and `make install` ship, started and checked (.ci/run runs it).
smoke-release: build-release
	./.ci/smoke-release .build/release

run: build-release
	mkdir -p data && chmod 700 data
	./.build/release/shmkvd --config Config/shmkvd.yaml

# Installation. `install` builds release and copies; `install-files` only copies from BIN_DIR (the
# tests run it with their own build). The unit's /usr/local paths become PREFIX and SYSCONFDIR; an
# existing configuration is kept and the new default written beside it as shmkvd.yaml.default.
PREFIX ?= /usr/local
SYSCONFDIR ?= $(PREFIX)/etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/shmkv
BIN_DIR ?= .build/release

install: build-release
	@$(MAKE) --no-print-directory install-files

install-files:
	install -d -m 755 "$(DESTDIR)$(PREFIX)/bin" "$(DESTDIR)$(SYSCONFDIR)/shmkv" "$(DESTDIR)$(UNITDIR)" "$(DESTDIR)$(DOCDIR)"
	install -m 755 "$(BIN_DIR)/shmkvd" "$(BIN_DIR)/shmkv" "$(DESTDIR)$(PREFIX)/bin/"
	@config="$(DESTDIR)$(SYSCONFDIR)/shmkv/shmkvd.yaml"; \
	if [ -e "$$config" ]; then \
		install -m 644 Config/shmkvd.yaml "$$config.default"; echo "kept $$config; the new default is $$config.default"; \
	else install -m 644 Config/shmkvd.yaml "$$config"; fi
	sed -e 's#/usr/local/etc/#@SYSCONFDIR@/#g' -e 's#/usr/local/#$(PREFIX)/#g' -e 's#@SYSCONFDIR@#$(SYSCONFDIR)#g' \
		Config/shmkvd.service > "$(DESTDIR)$(UNITDIR)/shmkvd.service"
	chmod 644 "$(DESTDIR)$(UNITDIR)/shmkvd.service"
	@# The README's links are relative (docs/…, Config/…, Benchmarks/…, Examples/…): the same tree under DOCDIR.
	install -m 644 README.md "$(DESTDIR)$(DOCDIR)/"
	install -d -m 755 "$(DESTDIR)$(DOCDIR)/docs" "$(DESTDIR)$(DOCDIR)/Config" "$(DESTDIR)$(DOCDIR)/Benchmarks"
	install -m 644 docs/*.md "$(DESTDIR)$(DOCDIR)/docs/"
	install -m 644 Config/shmkvd.yaml Config/shmkvd.service "$(DESTDIR)$(DOCDIR)/Config/"
	install -m 644 Benchmarks/README.md "$(DESTDIR)$(DOCDIR)/Benchmarks/"
	@for example in Examples/*/main.swift; do \
		install -d -m 755 "$(DESTDIR)$(DOCDIR)/$$(dirname $$example)" && install -m 644 "$$example" "$(DESTDIR)$(DOCDIR)/$$example" || exit 1; \
	done

uninstall:
	rm -f "$(DESTDIR)$(PREFIX)/bin/shmkvd" "$(DESTDIR)$(PREFIX)/bin/shmkv" "$(DESTDIR)$(UNITDIR)/shmkvd.service"
	rm -rf "$(DESTDIR)$(DOCDIR)"
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/shmkv and the data (/var/lib/shmkv for the service)"

build: deps-test
	$(SWIFT) build --build-tests

# The suite runs as two `swift test` processes at once, each line of output marked [1] or [2]: most tests
# wait on daemons, redis-server and sockets, and one process runs no more tests at a time than it has
# cores, so on 2 cores one process leaves most of the CPU idle (about 280 s against 160 s for two).
# TEST_GROUP is the first process's share (the long replication and script suites); the second runs
# every test it does not match, so no test is left out. --ignore-lock: both read the one finished build.
TEST_GROUP := ^(ShmKVServerTests\.(ReplicationTests|ClusterReplicationTests|DataMovementTests|RDBMigrationTests|ScriptTests|ListTests|FunctionTests)|RDBTests\.[A-Za-z]+)/
SWIFT_TEST := $(SWIFT) test --ignore-lock --skip-build --disable-xctest
test: build
	@set -o pipefail; \
	$(SWIFT_TEST) --filter '$(TEST_GROUP)' 2>&1 | sed -u 's/^/[1] /' & first=$$!; \
	$(SWIFT_TEST) --skip '$(TEST_GROUP)' 2>&1 | sed -u 's/^/[2] /'; second=$$?; \
	wait $$first; first=$$?; \
	[ $$first -eq 0 ] && [ $$second -eq 0 ] || { echo "make test: tests failed ([1] status $$first, [2] status $$second)"; exit 1; }
	$(MAKE) --no-print-directory fuzz-short

# Coverage-guided fuzzing with libFuzzer (the toolchain's, through swiftc -sanitize=fuzzer,address):
# the RESP decoder, the native decoder, a whole daemon in one process fed connections, the collection
# record decoders, Lua scripts of a grammar run by that daemon, RDB files and what a replica reads from
# its primary. Each target
# runs FUZZ_SECONDS, from the seed corpus in Tests/Fuzz/corpus plus what earlier runs found (kept under
# $(FUZZ_BUILD)/corpus). A crash leaves its input in Tests/Fuzz/findings/: make it a regression by
# moving it to Tests/Fuzz/regressions/ under a name that says what it was.
FUZZ_SECONDS ?= 600
FUZZ_BUILD := .build-fuzz
FUZZ_TARGETS := fuzz-resp-decoder fuzz-native-decoder fuzz-server fuzz-collection-records fuzz-scripts fuzz-rdb-decoder \
	fuzz-replication-stream
FUZZ_SEEDS_fuzz-collection-records := records
FUZZ_SEEDS_fuzz-resp-decoder := resp
FUZZ_SEEDS_fuzz-native-decoder := native
FUZZ_SEEDS_fuzz-server := server
FUZZ_SEEDS_fuzz-scripts := scripts
FUZZ_SEEDS_fuzz-rdb-decoder := rdb
FUZZ_SEEDS_fuzz-replication-stream := replication
# Swift's runtime keeps some allocations for the life of the process; LeakSanitizer would report them.
FUZZ_ENV := ASAN_OPTIONS=detect_leaks=0:abort_on_error=1

fuzz-build: deps-run
	@for t in $(FUZZ_TARGETS); do \
		$(SWIFT) build --scratch-path $(FUZZ_BUILD) --product $$t -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld || exit 1; \
	done

fuzz: fuzz-build
	@mkdir -p Tests/Fuzz/findings
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
		dir=$$(mktemp -d /tmp/shmkv-fuzz-XXXXXX); \
		echo "== $$t for $(FUZZ_SECONDS) s"; \
		SHMKV_FUZZ_DIR=$$dir $(FUZZ_ENV) $(FUZZ_BUILD)/debug/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=4096 \
			-print_final_stats=1 -artifact_prefix=Tests/Fuzz/findings/$$t- \
			$(FUZZ_BUILD)/corpus/$$t Tests/Fuzz/corpus/$(FUZZ_SEEDS_$$t) 2>&1 | grep -v '^#[0-9]*.*\(NEW\|REDUCE\|pulse\)' ; \
		status=$${PIPESTATUS[0]}; rm -rf $$dir; [ "$$status" -eq 0 ] || exit $$status; \
	done

# What make test runs: about 20 s per target, so that CI keeps the seven targets building and running within its 30 minutes.
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=20

# The concurrency-heavy suites under ThreadSanitizer, as CI runs them (on 2 cores: about 2.5 min to
# build and 2.5 min to run; the whole suite under TSan takes about 8.5 min, `make test-sanitize`): the
# write path and its combining, MULTI and TXN, pub/sub and tracking, the ring and LocalStore across
# processes, both clients, scaling over reactors, the event loop, stopping under load, command streams,
# the write arena and map growth, and scripts running on several reactors at once (busy, killed).
TSAN_SUITES := WritePathTests|TransactionTests|NativeTransactionTests|PubSubTests|TrackingTests|LocalStoreTests|RingTests
TSAN_SUITES := $(TSAN_SUITES)|CrossProcessTests|AsyncClientTests|ClientTests|NativeOperationTests|ScalingTests|EventLoopTests
TSAN_SUITES := $(TSAN_SUITES)|LoopThreadTests|DaemonTests|StreamApplyTests|WriteArenaTests|StorageLimitTests
TSAN_SUITES := $(TSAN_SUITES)|ScriptSnapshotTests|ScriptBusyTests
test-tsan: deps-test
	@$(MAKE) --no-print-directory test-sanitize SANITIZERS=thread:TSAN_OPTIONS:halt_on_error=1:second_deadlock_stack=1 \
		SANITIZE_FILTER='$(TSAN_SUITES)'

# The whole suite (or SANITIZE_FILTER's suites) under ThreadSanitizer, then under AddressSanitizer (each
# in its own build folder).
# The daemons the tests start are built with the same sanitizer; every process writes its reports to
# .build-*/reports, which are printed, and any report fails the run.
SANITIZERS := thread:TSAN_OPTIONS:halt_on_error=1:second_deadlock_stack=1 address:ASAN_OPTIONS:detect_leaks=0
test-sanitize: deps-test
	@for entry in $(SANITIZERS); do \
		sanitizer=$${entry%%:*}; rest=$${entry#*:}; variable=$${rest%%:*}; options=$${rest#*:}; \
		dir=.build-$${sanitizer:0:1}san; rm -rf $$dir/reports; mkdir -p $$dir/reports; \
		echo "== swift test --sanitize=$$sanitizer"; \
		$(SWIFT) build --build-tests --sanitize=$$sanitizer --scratch-path $$dir || exit 1; \
		env $$variable=$$options:log_path=$(CURDIR)/$$dir/reports/report \
			$(SWIFT) test --skip-build --disable-xctest --sanitize=$$sanitizer --scratch-path $$dir \
			$(if $(SANITIZE_FILTER),--filter '$(SANITIZE_FILTER)'); status=$$?; \
		if ls $$dir/reports/report* >/dev/null 2>&1; then cat $$dir/reports/report*; exit 1; fi; \
		[ $$status -eq 0 ] || exit $$status; \
	done
