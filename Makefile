# make run   - a working site with demo data on http://127.0.0.1:5000
# make test  - the whole suite on SQLite and PostgreSQL (installs what it needs)
# make bench - benchmarks, printed as tables
# make load  - 50 users for 60 s against gunicorn on PostgreSQL (not part of make test)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
SYSTEM_PACKAGES := chromium bind9 bind9-utils bind9-dnsutils xz-utils mailman3

.PHONY: run test test-sqlite test-postgresql lint bench load system-packages install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	INFRAWG_MAIL_BACKEND=$${INFRAWG_MAIL_BACKEND:-outbox} $(BIN)/flask db upgrade
	INFRAWG_MAIL_BACKEND=$${INFRAWG_MAIL_BACKEND:-outbox} $(BIN)/flask infrawg demo --if-empty
	INFRAWG_MAIL_BACKEND=$${INFRAWG_MAIL_BACKEND:-outbox} INFRAWG_EMBEDDED_WORKER=$${INFRAWG_EMBEDDED_WORKER:-1} \
	  $(BIN)/flask run --host 127.0.0.1 --port 5000

# The production server: migrate under the upgrade lock, then gunicorn (workers from the
# cores, gthread, request ids in the access log, graceful reload on HUP). Settings come from
# the INFRAWG_* environment as always; WEB_CONCURRENCY overrides the number of workers.
SERVE_BIND ?= 127.0.0.1:8000
.PHONY: serve
serve: $(STAMP)
	$(BIN)/flask infrawg upgrade
	$(BIN)/gunicorn --config deploy/gunicorn.conf.py --bind $(SERVE_BIND)

# Debian packages the real-server tests use (Chromium, BIND 9, Mailman 3 core). Installed only
# when missing and only as root; policy-rc.d keeps Debian from starting the daemons, and
# --no-install-recommends keeps mailman3 from pulling in an MTA (the tests start their own SMTP
# server; Chromium's only recommendation, chromium-sandbox, is not used by the tests).
system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	  else echo "Missing Debian packages:$$missing (run make test as root, or install them)"; exit 1; fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test-sqlite: $(STAMP) system-packages
	env -u INFRAWG_TEST_DATABASE_URL $(BIN)/pytest -q

test-postgresql: $(STAMP) system-packages
	INFRAWG_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q

test: lint test-sqlite test-postgresql

bench: $(STAMP) system-packages
	@for b in tests/bench/bench_*.py; do PYTHONPATH=. $(BIN)/python $$b || exit 1; done

load: $(STAMP)
	INFRAWG_TEST_DATABASE_URL=$${INFRAWG_TEST_DATABASE_URL:-$(PG_TEST_URL)} PYTHONPATH=. $(BIN)/python tests/bench/load_site.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
