# The two front-door commands (see README): `make demo` and `make test`.
# Everything is built from nothing: a virtualenv in .venv, pinned by constraints.txt.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SCALE ?= xs
SEED ?= 7
RAW ?= data/raw/$(SCALE)-$(SEED)
OUT ?= out/demo

.PHONY: setup demo test lint pytest clean

$(BIN)/vehicle-recs: python/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e 'python[dev]'
	touch $@

setup: $(BIN)/vehicle-recs

# (1) The main job on the embedded default: demo data, then dbt build on DuckDB.
demo: setup
	$(BIN)/vehicle-recs synth --scale $(SCALE) --seed $(SEED) --out $(RAW)
	$(BIN)/vehicle-recs build --raw $(RAW)

lint: setup
	$(BIN)/ruff check python
	mkdir -p target/profiles && cp profiles.yml.example target/profiles/profiles.yml
	$(BIN)/sqlfluff lint models

pytest: setup
	$(BIN)/pytest python/tests

# (2) Every test CI runs.
test: lint pytest

clean:
	rm -rf target logs vehicle_recs.duckdb data out
