# The two front-door commands (see README): `make demo` and `make test`.
# Everything is built from nothing: a virtualenv in .venv, pinned by constraints.txt.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SCALE ?= xs
SEED ?= 7
RAW ?= data/raw/$(SCALE)-$(SEED)
OUT ?= out/demo

.PHONY: setup demo test lint pytest check-bigquery clean chromium

$(BIN)/vehicle-recs: python/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e 'python[dev]'
	touch $@

# A profiles.yml beside dbt_project.yml (git-ignored; dbt reads it from the folder it runs in),
# so that plain `.venv/bin/dbt build` works after `make demo` as it does through the CLI.
profiles.yml: | profiles.yml.example
	cp profiles.yml.example $@

setup: $(BIN)/vehicle-recs profiles.yml

# (1) The main job on the embedded default: demo data, dbt build on DuckDB (every test), then
# payloads, assignments, HTML preview and a summary in $(OUT).
demo: setup
	$(BIN)/vehicle-recs synth --scale $(SCALE) --seed $(SEED) --out $(RAW)
	$(BIN)/vehicle-recs run --raw $(RAW) --out $(OUT)

lint: setup
	$(BIN)/ruff check python
	$(BIN)/mypy --config-file python/pyproject.toml python/src python/dev
	mkdir -p target/profiles && cp profiles.yml.example target/profiles/profiles.yml
	$(BIN)/sqlfluff lint models

# The report's browser test (python/tests/test_report_browser.py) needs headless Chromium: the
# Debian package, installed only when /usr/bin/chromium is missing (sudo when not root).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

# The local BigQuery emulator for python/tests/test_bigquery_emulator.py, in its own venv (it
# pins its own duckdb and sqlglot). Pre-alpha: keep the version pinned.
EMULATOR_VENV := .venv-emulator
$(EMULATOR_VENV)/bin/crucible:
	$(PYTHON) -m venv $(EMULATOR_VENV)
	$(EMULATOR_VENV)/bin/pip install --quiet 'crucible-emulator[server]==0.1.0a2'
	touch $@

pytest: setup chromium $(EMULATOR_VENV)/bin/crucible
	$(BIN)/pytest python/tests

# The offline BigQuery gate on its own (python/tests/test_bigquery_gate.py runs it in `make
# test`): compile for the prod target without credentials, then sqlglot checks. Dev tooling in
# python/dev, not installed: put it on the path. ARGS: e.g. --keep target/bigquery --timeout 600.
check-bigquery: setup
	PYTHONPATH=python/dev$${PYTHONPATH:+:$$PYTHONPATH} $(BIN)/python -m vehicle_recs_dev.bigquery_gate $(ARGS)

# (2) Every test CI runs.
test: lint pytest

clean:
	rm -rf target logs vehicle_recs.duckdb data out
