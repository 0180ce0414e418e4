# One command per chore, the same on a laptop and in CI.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test test-all test-mlflow lint bench clean install docs

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Each run gets a new directory (an earlier run is never overwritten); CI passes its own.
DEMO_WORKDIR ?= stagewise-demo/run-$(shell date +%Y%m%dT%H%M%S)

demo: $(STAMP)
	$(BIN)/stagewise demo --workdir $(DEMO_WORKDIR)

# The fast suites; CI=true (or `make test-all`) adds the slow ones.
test: $(STAMP)
	@if [ "$${CI:-}" = "true" ]; then \
		$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS); \
	else \
		$(BIN)/python -m pytest -n 2 -m "not slow" $(PYTEST_ARGS); \
	fi

test-all: $(STAMP)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy src/stagewise

# The CLI reference is generated from the commands; tests/cli/test_cli_reference.py fails when it is stale.
docs: $(STAMP)
	$(BIN)/python -m stagewise.cli.reference > docs/cli.md.tmp
	mv docs/cli.md.tmp docs/cli.md

# Peers (GrowthBook, Unleash, Evidently, pandas-ta-classic, skforecast) live in their own venv so that their
# pins (Evidently wants plotly<6) never change the environment the tests run in. Evidently 0.7 does not import
# under pandas 3, so it also gets a venv with pandas<3 that bench_monitor calls through a subprocess.
BENCH_VENV := .venv-bench
EVIDENTLY_VENV := .venv-evidently

$(BENCH_VENV)/.installed: pyproject.toml
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

$(EVIDENTLY_VENV)/.installed:
	test -x $(EVIDENTLY_VENV)/bin/python || $(PYTHON) -m venv $(EVIDENTLY_VENV)
	$(EVIDENTLY_VENV)/bin/python -m pip install --quiet 'evidently>=0.7' 'pandas<3'
	touch $@

bench: $(BENCH_VENV)/.installed $(EVIDENTLY_VENV)/.installed
	STAGEWISE_EVIDENTLY_PYTHON=$(CURDIR)/$(EVIDENTLY_VENV)/bin/python $(BENCH_VENV)/bin/python bench/run.py

# MLflow 3 pins packages (pyarrow among them) that must not change the main venv: its interop tests run in
# their own venv; in .venv they skip, naming this target.
MLFLOW_VENV := .venv-mlflow

$(MLFLOW_VENV)/.installed: pyproject.toml
	test -x $(MLFLOW_VENV)/bin/python || $(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MLFLOW_VENV)/bin/python -m pip install --quiet -e '.[dev,mlflow]'
	touch $@

test-mlflow: $(MLFLOW_VENV)/.installed
	$(MLFLOW_VENV)/bin/python -m pytest -q tests/integrations $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(EVIDENTLY_VENV) $(MLFLOW_VENV) .pytest_cache .mypy_cache .ruff_cache
