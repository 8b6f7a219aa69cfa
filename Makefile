# Common tasks. `make demo` and `make test` are the two commands for a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo run test test-fast lint format migrate i18n-extract i18n-compile i18n-check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

## Try the bot without Telegram: local Bot API server + chat page + bot on demo data.
demo: $(STAMP)
	$(BIN)/retiree-bot sandbox

## Run the bot against Telegram (needs BOT_TOKEN).
run: $(STAMP)
	$(BIN)/retiree-bot run

## The whole test suite, slow end-to-end tests included.
test: $(STAMP)
	$(BIN)/python -m pytest

## Everything but the slow end-to-end tests.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(STAMP)
	$(BIN)/retiree-bot migrate

## The translation template locales/messages.pot, from the texts in the code (commit it).
i18n-extract: $(STAMP)
	$(BIN)/python -m bot.i18n_tools extract

## Compile locales/*/*.po into the .mo files (the bot also does this at every start).
i18n-compile: $(STAMP)
	$(BIN)/python -m bot.i18n_tools compile

## The catalog checks: complete, not fuzzy, placeholders match, the template up to date.
i18n-check: $(STAMP)
	$(BIN)/python -m pytest -q tests/test_catalogs.py

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data test-artifacts
