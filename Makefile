# ShmKV — the two commands a new user needs:
#   make run    installs what is missing, builds release, runs shmkvd with Config/shmkvd.yaml (data in ./data)
#   make test   installs what is missing, builds, runs every test
# Debian packages are installed with apt-get (as root, or through sudo when there is one).

SWIFT ?= swift
# What building and running need.
RUN_PACKAGES := liblmdb-dev pkg-config
# What the tests need besides: mdb_stat (lmdb-utils) opens the daemon's files; prlimit (util-linux)
# cuts a running daemon's descriptor limit; py-lmdb (python3-lmdb) reads them; redis-cli and
# redis-benchmark (redis-tools) talk RESP to the daemon; redis-server is the oracle RESP tests compare
# replies with; python3-venv holds redis-py from PyPI.
TEST_PACKAGES := $(RUN_PACKAGES) lmdb-utils util-linux python3-lmdb redis-tools redis-server python3-venv
# redis-py, for the RESP tests, in a virtual environment of Debian's python3 (under .build/).
PYVENV := .build/pyvenv
REDIS_PY := redis>=8,<9

SUDO := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null && echo sudo)

.PHONY: run test build build-release deps-run deps-test clean bench

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

build-release: deps-run
	$(SWIFT) build -c release --product shmkvd
	$(SWIFT) build -c release --product shmkv

run: build-release
	mkdir -p data && chmod 700 data
	./.build/release/shmkvd --config Config/shmkvd.yaml

build: deps-test
	$(SWIFT) build --build-tests

test: build
	$(SWIFT) test --skip-build --disable-xctest

clean:
	rm -rf .build
