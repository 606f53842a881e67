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

# PyTorch is the `torch` extra (docs/install.md). Its CPU build goes in first, so
# the extra finds torch installed and never resolves the CUDA build (gigabytes of
# nvidia-* and triton packages): from PyTorch's CPU wheel index, given up after
# one 5 s try where that index cannot be reached, else the pinned release from the
# configured index (a machine with a local CPU wheel takes that one).
TORCH_VERSION   ?= 2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --timeout 5 --retries 0 --index-url $(TORCH_CPU_INDEX) \
		torch==$(TORCH_VERSION) \
	|| { echo "make install: PyTorch's CPU index not reachable; torch==$(TORCH_VERSION)" \
		"from the configured index instead"; $(BIN)/pip install --quiet torch==$(TORCH_VERSION); }
	$(BIN)/pip install --quiet -e ".[dev,torch]"
	touch $(STAMP)

install: $(STAMP)

## Serve the API on the embedded default (SQLite + Qdrant Edge under ./var) with demo data.
run: install
	$(BIN)/gigsy-search demo --if-empty
	$(BIN)/gigsy-search serve --host $(HOST) --port $(PORT)

# pytest-xdist workers: each takes half the tests in collection order, and a worker
# that runs out takes tests from the end of the other's queue (--dist worksteal;
# docs/development.md). `make test TEST_WORKERS=0` runs in-process.
TEST_WORKERS ?= 2

## The whole test suite (SQLite and PostgreSQL, both vector-store adapters, real model).
test: install
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/python -m mypy models indexers search_service benchmarks tests
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

## Benchmarks print numbers (see benchmarks/README.md); they never run in `make test`.
bench: install
	$(BIN)/python -m benchmarks --help

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
