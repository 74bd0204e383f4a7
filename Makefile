# Banli — the two commands: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DB     ?= sqlite:///instance/banli.db

.PHONY: run test bench lint format demo clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## Set up everything, create instance/banli.db with the demo organisation, then show Banli at work.
run: $(STAMP)
	BANLI_DATABASE_URL=$(DB) $(VENV)/bin/banli demo
	BANLI_DATABASE_URL=$(DB) $(PY) examples/walkthrough.py

## The whole test suite (PostgreSQL tests run when BANLI_TEST_POSTGRES_URL is set).
test: $(STAMP)
	$(PY) -m pytest

## Benchmarks: actions per second, cost as history grows, inbox latency at 10k–1M items.
bench: $(STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check workflow tests examples bench
	$(VENV)/bin/ruff format --check workflow tests examples bench

format: $(STAMP)
	$(VENV)/bin/ruff format workflow tests examples bench
	$(VENV)/bin/ruff check --fix workflow tests examples bench

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .hypothesis
