# estore-analytics: every target creates .venv and installs on first use (fast afterwards).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Demo data set: 100 days so the 90-day churn rule has eligible cohorts. Override:
# make demo EVENTS=500000 DAYS=30
EVENTS ?= 3000000
DAYS ?= 100

.PHONY: install demo run test lint format dev bench bench-scale clean checkov bqemulator

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip uv
	@# Bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set (CI machines) every
	@# process would otherwise recompile dagster's and dbt's sources (~9 s per `estore run`,
	@# ~4 s per dbt call on 2 cores).
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -e ".[dev]"
	@touch $(STAMP)

demo: install  ## generate 100 days / 3M events (once), load, build every model, print the summary
	$(BIN)/estore demo --events $(EVENTS) --days $(DAYS)

run: install  ## process whatever is pending in the bucket
	$(BIN)/estore run

test: install lint checkov bqemulator  ## the whole test suite (what CI runs)
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@if command -v terraform >/dev/null; then terraform fmt -check -recursive terraform; \
	 else echo "terraform not installed: skipping terraform fmt -check"; fi

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

dev: install  ## Dagster UI on the same state as `make demo` (http://127.0.0.1:3000)
	$(BIN)/estore dev

bench: install  ## the issue-9 figures beside their goals (ratios within one run, 3-5 min)
	$(BIN)/estore bench $(if $(WORKDIR),--workdir $(WORKDIR))

bench-scale: install  ## an October-sized month (42M events, one file): landing -> every mart
	$(BIN)/estore bench --scale $(if $(EVENTS_SCALE),--events $(EVENTS_SCALE)) $(if $(GZIP),--gzip) $(if $(WORKDIR),--workdir $(WORKDIR))

clean:
	rm -rf data dbt-project/target dbt-project/logs

# checkov lives in its own virtualenv: its pins conflict with the project's (it is a tool, not a
# dependency). Pinned; the first run installs it (~1-2 min), later runs only scan.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
checkov:  ## static security checks of terraform/ (0 failed checks; skips justified in place)
	@test -x $(CHECKOV_VENV)/bin/checkov || { $(PYTHON) -m venv $(CHECKOV_VENV) && \
	 $(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip && \
	 $(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION); }
	$(CHECKOV_VENV)/bin/checkov -d terraform --quiet --compact --skip-download

# The BigQuery emulator (PyPI `bqemulator`, DuckDB + sqlglot behind BigQuery's REST API) in its own
# virtualenv, run as an HTTP server by tests/test_bigquery_emulator.py. It needs DuckDB's spatial
# extension at start; the extension site is not reachable here, so the PyPI build of it is put
# where DuckDB looks (HOME of the emulator process). duckdb is pinned to that build's version.
BQEMU_VENV := .venv-bqemulator
BQEMU_DUCKDB := 1.5.5
bqemulator:  ## the BigQuery emulator's own virtualenv (first run ~1 min)
	@test -x $(BQEMU_VENV)/bin/bqemulator || { $(PYTHON) -m venv $(BQEMU_VENV) && \
	 $(BQEMU_VENV)/bin/python -m pip install --quiet --upgrade pip && \
	 $(BQEMU_VENV)/bin/python -m pip install --quiet bqemulator==1.4.0 duckdb==$(BQEMU_DUCKDB) \
	   duckdb-extension-spatial==$(BQEMU_DUCKDB) numpy==2.4.6; }
	@mkdir -p $(BQEMU_VENV)/home/.duckdb/extensions/v$(BQEMU_DUCKDB)/linux_amd64
	@cp $(BQEMU_VENV)/lib/python3*/site-packages/duckdb_extension_spatial/extensions/v$(BQEMU_DUCKDB)/spatial.duckdb_extension \
	 $(BQEMU_VENV)/home/.duckdb/extensions/v$(BQEMU_DUCKDB)/linux_amd64/
