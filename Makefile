# `make help` (or plain `make`) lists the targets: each has a `## text` comment after its
# prerequisites, which is what help prints.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
SYSTEM_PACKAGES := chromium bind9 bind9-utils bind9-dnsutils xz-utils mailman3 pebble
# VMs and backups (R13): libvirt's test driver (in libvirt0), cloud-init's schema check,
# genisoimage for the NoCloud seed (and isoinfo to read it back), restic.
SYSTEM_PACKAGES += libvirt0 cloud-init genisoimage restic
# The real boot (tests/vm/test_real_boot.py): mmdebstrap builds a Debian 12 guest tree, mke2fs
# (e2fsprogs) turns it into a root filesystem without a loop mount, qemu-system-x86 boots it
# under TCG, and the tenant's key logs in with OpenSSH's client (ssh-keygen makes the key).
SYSTEM_PACKAGES += mmdebstrap e2fsprogs qemu-system-x86 openssh-client
# Monitoring (R13): Prometheus with promtool, its node and blackbox exporters, Alertmanager.
SYSTEM_PACKAGES += prometheus prometheus-node-exporter prometheus-blackbox-exporter prometheus-alertmanager
# Applications (R14): ruby (ruby -wc, erb, the static cookbook check), Debian's RuboCop, and
# git for the cookbook_dir publisher.
SYSTEM_PACKAGES += ruby rubocop git
# What pip needs to build libvirt-python (an sdist only) against Debian's libvirt, installed
# before the .venv by the same recipe when run as root (python3-dev: for a .venv made from
# Debian's python3). Without libvirt-dev the `vm` extra is left out: the site runs, and the
# libvirt provider says it is not installed.
BUILD_PACKAGES := libvirt-dev pkg-config gcc python3-dev

.PHONY: help run test test-sqlite test-postgresql lint typecheck bench bench-packages load screenshots system-packages install clean
.DEFAULT_GOAL := help

# Coverage of the package, reported by both test runs; the floor is fail_under in
# pyproject.toml ([tool.coverage.report]). Plain `.venv/bin/pytest` runs stay uncovered (fast).
PYTEST_COV := --cov=infrawg --cov-report=term:skip-covered
# The slowest tests of each run are listed at its end: the suite must stay well inside CI's time.
PYTEST_COV += --durations=15

help: ## this list of targets
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-zA-Z_-]+:[^#]*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory system-packages SYSTEM_PACKAGES="$(BUILD_PACKAGES)"; fi
	$(BIN)/pip install -q --upgrade pip
	@extras=test,dev; \
	if pkg-config --exists libvirt 2>/dev/null; then extras="$$extras,vm"; \
	else echo "libvirt-dev is not installed: leaving out the libvirt provider (the vm extra)"; fi; \
	echo "$(BIN)/pip install -q -e '.[$$extras]'"; $(BIN)/pip install -q -e ".[$$extras]"
	touch $(STAMP)

install: $(STAMP) ## the .venv with the package and its test and dev extras

# The demo's servers and application (infrawg/provisioning/demo.py): providers on libvirt's
# test driver (when libvirt-python is installed), a cookbook directory and zone files, and
# restic backups, all under instance/; written by its first recipe line. Set INFRAWG_PROVIDERS
# or INFRAWG_VM_BACKUP in the environment to use your own instead.
run: export INFRAWG_PROVIDERS ?= $(CURDIR)/instance/demo-providers.json
run: export INFRAWG_VM_BACKUP ?= {"repository": "$(CURDIR)/instance/restic/{organisation}", "password": "file:$(CURDIR)/instance/restic.pass", "source_directory": "$(CURDIR)/instance/vm-exports"}
run: $(STAMP) ## a working site with demo data on http://127.0.0.1:5000
	$(BIN)/python -m infrawg.provisioning.demo $(CURDIR)/instance
	INFRAWG_MAIL_BACKEND=$${INFRAWG_MAIL_BACKEND:-outbox} $(BIN)/flask db upgrade
	INFRAWG_MAIL_BACKEND=$${INFRAWG_MAIL_BACKEND:-outbox} $(BIN)/flask infrawg demo --if-empty
	INFRAWG_MAIL_BACKEND=$${INFRAWG_MAIL_BACKEND:-outbox} INFRAWG_EMBEDDED_WORKER=$${INFRAWG_EMBEDDED_WORKER:-1} \
	  $(BIN)/flask run --host 127.0.0.1 --port 5000

# The production server: migrate under the upgrade lock, then gunicorn (workers from the
# cores, gthread, request ids in the access log, graceful reload on HUP). Settings come from
# the INFRAWG_* environment as always; WEB_CONCURRENCY overrides the number of workers.
SERVE_BIND ?= 127.0.0.1:8000
.PHONY: serve
serve: $(STAMP) ## the production server: migrate under the lock, then gunicorn on SERVE_BIND (127.0.0.1:8000)
	$(BIN)/flask infrawg upgrade
	$(BIN)/gunicorn --config deploy/gunicorn.conf.py --bind $(SERVE_BIND)

# Debian packages the real-server tests use (Chromium, BIND 9, Mailman 3 core). Installed only
# when missing and only as root; policy-rc.d keeps Debian from starting the daemons, and
# --no-install-recommends keeps mailman3 from pulling in an MTA (the tests start their own SMTP
# server; Chromium's only recommendation, chromium-sandbox, is not used by the tests).
# A cloud-init installed here is only the tests' schema checker, so it is disabled at boot
# (/etc/cloud/cloud-init.disabled) on a machine that did not have it before.
system-packages: ## the Debian packages the real-server tests use (as root; only when missing)
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	    case " $$missing " in *" cloud-init "*) touch /etc/cloud/cloud-init.disabled;; esac; \
	  else echo "Missing Debian packages:$$missing (run make test as root, or install them)"; exit 1; fi; \
	fi

lint: $(STAMP) ## ruff check, ruff format --check and the type checker
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The type checker alone (lint runs it too, and so does make test).
typecheck: $(STAMP) ## mypy over the package (settings in pyproject.toml)
	$(BIN)/mypy

test-sqlite: $(STAMP) system-packages ## the whole suite on SQLite, with coverage
	env -u INFRAWG_TEST_DATABASE_URL $(BIN)/pytest -q $(PYTEST_COV)

test-postgresql: $(STAMP) system-packages ## the whole suite on PostgreSQL at PG_TEST_URL, with coverage
	INFRAWG_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q $(PYTEST_COV)

test: lint test-sqlite test-postgresql ## lint, then the whole suite on SQLite and on PostgreSQL

# wrk drives bench_pages.py (the site and a bare Flask page under the same gunicorn).
BENCH_PACKAGES := wrk
bench-packages: ## the Debian packages the benchmarks use (wrk; as root; only when missing)
	@missing=""; for p in $(BENCH_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	  else echo "Missing Debian packages:$$missing (run make bench as root, or install them)"; exit 1; fi; \
	fi

# BENCH_QUICK=1: one short round per page, no profile, demo size only.
bench: $(STAMP) system-packages bench-packages ## benchmarks, printed as tables (BENCH_QUICK=1: a quick pass)
	@for b in tests/bench/bench_*.py; do PYTHONPATH=. $(BIN)/python $$b || exit 1; done

load: $(STAMP) ## 50 users for 60 s against gunicorn on PostgreSQL (not part of make test)
	INFRAWG_TEST_DATABASE_URL=$${INFRAWG_TEST_DATABASE_URL:-$(PG_TEST_URL)} PYTHONPATH=. $(BIN)/python tests/bench/load_site.py

screenshots: $(STAMP) system-packages ## PNGs of the main pages of the demo at 1280 and 390 px wide, in screenshots/
	PYTHONPATH=. $(BIN)/python -m tests.browser.screenshots screenshots

clean: ## remove the .venv and the tools' caches
	rm -rf $(VENV) .pytest_cache .ruff_cache

# A local ACME CA for the `make run` demo (R12): Debian's pebble on loopback high ports, and a
# small DNS server answering from the demo's zone files (instance/zones) that pebble asks for
# the DNS-01 values; writes instance/ca/providers.json. Run the site beside it with
# INFRAWG_PROVIDERS=instance/ca/providers.json make run (README, TLS certificates).
CA_PORT ?= 14000
CA_MANAGEMENT_PORT ?= 15000
CA_DNS_PORT ?= 15353
.PHONY: run-ca
run-ca: $(STAMP) ## a local ACME CA (pebble) for make run's demo zone, until Ctrl-C
	@command -v pebble >/dev/null || $(MAKE) --no-print-directory system-packages SYSTEM_PACKAGES=pebble
	CA_PORT=$(CA_PORT) CA_MANAGEMENT_PORT=$(CA_MANAGEMENT_PORT) CA_DNS_PORT=$(CA_DNS_PORT) \
	  PYTHONPATH=. $(BIN)/python tests/servers/run_ca.py
