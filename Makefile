# Two commands for a new user: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build where one is available locally; any torch works (CUDA builds too).
TORCH ?= torch==2.13.0
MNIST_DIR ?= $(or $(SKLEARN_MAE_MNIST_DIR),../shared/data/mnist10k)

.PHONY: demo test lint bench bench-quick clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH)" \
		|| $(BIN)/pip install --quiet torch
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/sklearn-mae demo

test: $(VENV)/.installed
	SKLEARN_MAE_MNIST_DIR="$(MNIST_DIR)" $(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check sklearn_mae tests benchmarks

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/quality.py --mnist-dir "$(MNIST_DIR)"
	$(BIN)/python benchmarks/speed.py

bench-quick: $(VENV)/.installed
	$(BIN)/python benchmarks/quality.py --quick --mnist-dir "$(MNIST_DIR)"
	$(BIN)/python benchmarks/speed.py --quick

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
