# Journey Canvas — two commands: `make run` and `make test`. Both install what is missing.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test app-deps setup lint typecheck pytest bench clean histories cjk-font postgres

# The local demo (JOURNEYS_DEMO): default secrets and demo logins are fine here only.
run: app-deps
	JOURNEYS_DEMO=true $(BIN)/journeys up

test: setup lint typecheck pytest

# What the app needs to run, and what the tests need on top (browser, CJK font, PostgreSQL).
app-deps: $(STAMP) node_modules/.stamp
setup: app-deps /usr/bin/chromium cjk-font postgres

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the browser tests (never Playwright's own browser download: none here).
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium missing: run 'sudo apt-get install chromium' (browser tests will be skipped)"; fi

# A CJK font, so Chinese labels render as text (not boxes) in Chromium and screenshots.
cjk-font:
	@if ! dpkg -s fonts-wqy-microhei >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null; \
	  else echo "fonts-wqy-microhei missing: Chinese may render as boxes in the browser tests"; fi; \
	fi

# PostgreSQL server binaries, so the SQL tests also run against PostgreSQL.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "PostgreSQL missing: its tests will be skipped"; fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check engine workflows services journeys tests/engine tests/workflows

typecheck: $(STAMP)
	$(BIN)/mypy engine workflows activities services journeys db canvas_ui audiences templates_lib bench

pytest: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15 --ignore=tests/ui
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=5 tests/ui

# Re-record the replay corpus (tests/replay/histories) from the current workflow code.
histories: setup
	$(BIN)/python -m tests.replay.record

bench: setup
	$(BIN)/python -m bench.throughput
	$(BIN)/python -m bench.event_latency

clean:
	rm -rf $(VENV) node_modules .data test-artifacts
