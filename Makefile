# Learning Analytics — `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

.DEFAULT_GOAL := help
.PHONY: help venv run serve test test-fast lint format lock clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv and install the pinned dependencies

run: $(STAMP) ## Migrate, load demo data, start the simulator and serve the API on http://127.0.0.1:8000
	$(BIN)/learning-analytics demo --host $(HOST) --port $(PORT)

serve: $(STAMP) ## Serve the API with configuration from the environment (production style)
	$(BIN)/learning-analytics serve --host $(HOST) --port $(PORT)

test: $(STAMP) ## Lint, type-check, check layers and run the whole test suite
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest

test-fast: $(STAMP) ## Run the tests only
	$(BIN)/python -m pytest -q

lint: $(STAMP) ## ruff, mypy (strict on src) and the import-linter layer contract
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP) ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

lock: ## Re-resolve requirements.lock from pyproject.toml (needs network)
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	.lock-venv/bin/python -m pip freeze --exclude-editable --exclude learning-analytics > requirements.lock
	rm -rf .lock-venv

clean: ## Remove the virtualenv, caches and local data
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache var/*.db
