# ragworker developer commands. `make demo` and `make test` need no Azure account and no internet
# beyond the package registries used by `make install`.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint unit docs bench clean

$(STAMP): requirements.txt requirements-dev.txt package.json package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

install: $(STAMP)

## The whole product on embedded defaults: PostgreSQL + pgvector, Azurite, the offline model.
demo: install
	$(PY) -m scripts.demo

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy shared

unit: install
	$(PY) -m pytest -q || { rc=$$?; [ $$rc -ne 5 ] || echo "pytest collected no tests: that is a failure" >&2; exit $$rc; }

## Lint, type-check and the full suite on real services (started and stopped by the tests).
test: lint unit

## Refresh the README settings table and local.settings.sample.json from shared/config.py.
docs: install
	$(PY) -m scripts.settings_docs

## Benchmark dependencies (LangChain baselines); each benchmark's command is in bench/README.md.
bench: install
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) -m pip install --quiet --no-deps langchain-postgres==0.0.19
	@echo "see bench/README.md for each benchmark's command"

clean:
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache
