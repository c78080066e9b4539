# proxybo: every target that needs the virtual environment creates it first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint format typecheck benchmark search compile e2e image clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP)
	$(BIN)/mypy

# Quick search-quality benchmark on the NAS-Bench-201 tables (path overridable).
TABLE ?= ../shared/data/nb201/cifar10.csv
benchmark: $(STAMP)
	$(BIN)/proxybo benchmark --table $(TABLE) --methods proxybo,bo,rea,random \
		--seeds 10 --budget 150 --reference-budget 300 --out benchmarks/results/quick

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
