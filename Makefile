# Two commands for a new user: `make demo` and `make test`. Both create .venv first.
# `make docs` builds the documentation (every example run); `make docs-test` checks the
# built site in headless Chromium; `make dist-check` builds, checks and installs the wheel.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build where one is available locally; any torch works (CUDA builds too).
TORCH ?= torch==2.13.0
MNIST_DIR ?= $(or $(SKLEARN_MAE_MNIST_DIR),../shared/data/mnist10k)
DIST_VENV ?= build/dist-venv

.PHONY: demo test lint docs docs-test docs-clean dist-check bench bench-quick clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH)" \
		|| $(BIN)/pip install --quiet torch
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

$(VENV)/.docs-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev,docs,release]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/sklearn-mae demo

test: $(VENV)/.installed
	SKLEARN_MAE_MNIST_DIR="$(MNIST_DIR)" $(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check sklearn_mae tests benchmarks examples

# HTML in docs/_build/html; warnings (and warnings in examples) are errors. Examples whose
# source has not changed since the last build are not run again: `make docs-clean` first
# to run them all.
docs: $(VENV)/.docs-installed
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html
	@echo "Built docs/_build/html/index.html"

docs-test: $(VENV)/.docs-installed
	SKLEARN_MAE_REQUIRE_BROWSER=1 $(BIN)/python -m pytest tests/test_docs_site.py

docs-clean:
	rm -rf docs/_build docs/generated docs/auto_examples docs/gen_modules \
		docs/sg_execution_times.rst

# The sdist and wheel build and pass `twine check`; the wheel installs in a clean virtual
# environment (torch first, from $(TORCH)) and its import and command work there.
dist-check: $(VENV)/.docs-installed
	rm -rf dist $(DIST_VENV)
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*
	$(PYTHON) -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DIST_VENV)/bin/pip install --quiet "$(TORCH)" || $(DIST_VENV)/bin/pip install --quiet torch
	$(DIST_VENV)/bin/pip install --quiet dist/*.whl
	cd $(DIST_VENV) && bin/python -c "import sklearn_mae, sklearn_mae.persistence, \
		sklearn_mae.plotting, importlib.resources as r; \
		assert r.files('sklearn_mae').joinpath('py.typed').is_file(); \
		print('imported sklearn_mae', sklearn_mae.__version__, 'from', sklearn_mae.__file__)"
	$(DIST_VENV)/bin/sklearn-mae --version

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/quality.py --mnist-dir "$(MNIST_DIR)"
	$(BIN)/python benchmarks/speed.py

bench-quick: $(VENV)/.installed
	$(BIN)/python benchmarks/quality.py --quick --mnist-dir "$(MNIST_DIR)"
	$(BIN)/python benchmarks/speed.py --quick

clean: docs-clean
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
