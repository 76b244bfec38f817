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

.PHONY: install demo run test lint format dev bench bench-scale clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e ".[dev]"
	@touch $(STAMP)

demo: install  ## generate 100 days / 3M events (once), load, build every model, print the summary
	$(BIN)/estore demo --events $(EVENTS) --days $(DAYS)

run: install  ## process whatever is pending in the bucket
	$(BIN)/estore run

test: install lint  ## the whole test suite (what CI runs)
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

bench: install  ## the issue-9 figures beside their goals (ratios within one run, ~15 min)
	$(BIN)/estore bench

bench-scale: install  ## an October-sized month (42M events, one file): landing -> every mart
	$(BIN)/estore bench --scale $(if $(EVENTS_SCALE),--events $(EVENTS_SCALE)) $(if $(GZIP),--gzip)

clean:
	rm -rf data dbt-project/target dbt-project/logs
