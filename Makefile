# Gigsy talent search. Quick start: `make run` (serve with demo data), `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test bench clean

# CPU PyTorch first: an unpinned torch would pull gigabytes of CUDA packages.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Serve the API on the embedded default (SQLite + Qdrant Edge under ./var) with demo data.
run: install
	$(BIN)/gigsy-search demo --if-empty
	$(BIN)/gigsy-search serve --host $(HOST) --port $(PORT)

## The whole test suite (SQLite and PostgreSQL, both vector-store adapters, real model).
test: install
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/python -m mypy models indexers search_service benchmarks tests
	$(BIN)/python -m pytest

## Benchmarks print numbers (see benchmarks/README.md); they never run in `make test`.
bench: install
	$(BIN)/python -m benchmarks --help

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
