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

# Parallel workers (pytest-xdist): one per CPU, at most 4; TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/pytest -q -n $(TEST_WORKERS) --maxprocesses=4

# Container image and cluster manifests (see Dockerfile, k8s/README.md).
IMAGE_REPO ?= ghcr.io/proxybo/proxybo
TORCH_VARIANT ?= cu128
DOCKER ?= docker
VERSION := $(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' pyproject.toml | head -n 1)
IMAGE := $(IMAGE_REPO):$(VERSION)$(if $(filter cpu,$(TORCH_VARIANT)),-cpu,)
K8S_VERSION ?= 1.31
K8S_MANIFESTS := $(filter-out %/kustomization.yaml,$(wildcard k8s/*.yaml k8s/*/*.yaml k8s/*/*/*.yaml))

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	@# kubernetes-validate exits 0 on a kind it has no schema for; any WARN/ERROR line fails here.
	@out=$$($(BIN)/kubernetes-validate --strict --quiet -k $(K8S_VERSION) $(K8S_MANIFESTS)); rc=$$?; \
		if [ -n "$$out" ]; then echo "$$out"; fi; \
		[ $$rc -eq 0 ] && [ -z "$$out" ] && echo "k8s manifests valid for Kubernetes $(K8S_VERSION)"

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP)
	$(BIN)/mypy

# Quick search-quality benchmark on the NAS-Bench-201 tables (path overridable): the default
# strategy, faithful ProxyBO, plain BO, REA (the reference) and random search.
TABLE ?= ../shared/data/nb201/cifar10.csv
benchmark: $(STAMP)
	$(BIN)/proxybo benchmark --table $(TABLE) --methods proxybo-features,proxybo,bo,rea,random \
		--seeds 10 --budget 150 --reference-budget 300 --out benchmarks/results/quick

# A real local search (digits, MLflow in ./mlruns.db, state in ./proxybo-state/); resumable.
search: $(STAMP)
	$(BIN)/proxybo search

# The image for every pipeline component: $(IMAGE_REPO):<pyproject version> (CUDA build);
# TORCH_VARIANT=cpu builds the CPU variant, tagged <version>-cpu.
image:
	@command -v $(DOCKER) >/dev/null 2>&1 || { echo "make image: '$(DOCKER)' not found. Install Docker (or run with DOCKER=podman) to build $(IMAGE)." >&2; exit 1; }
	@$(DOCKER) info >/dev/null 2>&1 || { echo "make image: '$(DOCKER)' is installed but cannot reach a container engine (is the daemon running?)." >&2; exit 1; }
	@[ -n "$(VERSION)" ] || { echo "make image: no [project].version found in pyproject.toml." >&2; exit 1; }
	$(DOCKER) build --build-arg TORCH_VARIANT=$(TORCH_VARIANT) --build-arg PROXYBO_VERSION=$(VERSION) \
		-t $(IMAGE) .

# The Kubeflow pipeline package (checked in; tests/pipelines fails when it is stale).
compile: $(STAMP)
	$(BIN)/proxybo compile --out pipelines/compiled/proxybo_search.yaml

# The pipeline end to end under kfp.local, against real MLflow and SeaweedFS servers (~4 min).
e2e: $(STAMP)
	$(BIN)/pytest -q -m e2e tests/e2e

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
