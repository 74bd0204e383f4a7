# Banli — the two commands: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DB     ?= sqlite:///instance/banli.db

.PHONY: run walkthrough test bench lint format translations messages clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## The zh and en message catalogs, compiled from web/translations/*/LC_MESSAGES/messages.po.
translations: $(STAMP)
	$(VENV)/bin/pybabel compile --use-fuzzy -d web/translations -f

## Re-extract the messages after changing templates or views (then translate the zh catalog).
messages: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k lazy_gettext -k _l -k N_ -o web/translations/messages.pot --omit-header --no-location --sort-output .
	$(VENV)/bin/pybabel update -i web/translations/messages.pot -d web/translations --no-fuzzy-matching --ignore-obsolete

## Set up everything, create instance/banli.db with the demo organisation, serve on 127.0.0.1:5000
## with one worker beside the web server (deliveries, deadlines, reminders); stopping one stops both.
run: translations
	BANLI_DATABASE_URL=$(DB) $(VENV)/bin/banli demo
	@echo "Banli on http://127.0.0.1:5000 — sign in as wangfang (password banli-demo); README lists all accounts"
	BANLI_DATABASE_URL=$(DB) $(VENV)/bin/banli worker & WORKER=$$!; \
	trap 'kill $$WORKER 2>/dev/null; wait $$WORKER' EXIT; trap 'exit 130' INT TERM; \
	BANLI_DATABASE_URL=$(DB) $(VENV)/bin/banli serve

## The engine alone, start to printed flow sheet, in the terminal.
walkthrough: $(STAMP)
	BANLI_DATABASE_URL=$(DB) $(VENV)/bin/banli demo
	BANLI_DATABASE_URL=$(DB) $(PY) examples/walkthrough.py

## The whole test suite (PostgreSQL tests run when BANLI_TEST_POSTGRES_URL is set).
test: translations
	$(PY) -m pytest

## Benchmarks: actions per second, cost as history grows, inbox latency at 10k–1M items.
bench: $(STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check workflow web tests examples bench
	$(VENV)/bin/ruff format --check workflow web tests examples bench

format: $(STAMP)
	$(VENV)/bin/ruff format workflow web tests examples bench
	$(VENV)/bin/ruff check --fix workflow web tests examples bench

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .hypothesis
