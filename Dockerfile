# syntax=docker/dockerfile:1
#
# proxybo: one image for every Kubeflow Pipelines component (lightweight components use
# `base_image=` this image with `install_kfp_package=False`, so kfp comes from the project's
# pinned dependencies) and for the `proxybo` command.
#
#   docker build -t ghcr.io/proxybo/proxybo:<version> .                       # CUDA build (GPU pods)
#   docker build --build-arg TORCH_VARIANT=cpu -t ghcr.io/proxybo/proxybo:<version>-cpu .
#
# `make image` does this with the tag taken from pyproject.toml [project].version, which is what
# the components derive from importlib.metadata.version("proxybo").

# ---------------------------------------------------------------------------------------------
# Build stage: a virtual environment in /opt/venv with torch from the PyTorch index (CUDA or
# CPU build) and the project with the dependencies pinned in pyproject.toml.
# ---------------------------------------------------------------------------------------------
FROM python:3.11.14-slim-bookworm AS build

# cu128 (CUDA 12.8 build, needs an NVIDIA driver >= 570 on the node) or cpu; any variant that
# https://download.pytorch.org/whl/<variant> publishes torch==TORCH_VERSION for works.
ARG TORCH_VARIANT=cu128
# Must equal the torch pin in pyproject.toml (the project install below re-checks it).
ARG TORCH_VERSION=2.13.0

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# torch first, in its own layer: the largest download, cached across source changes. Only the
# PyTorch index is consulted here (--index-url, not --extra-index-url: no dependency confusion).
RUN pip install --no-cache-dir \
        --index-url "https://download.pytorch.org/whl/${TORCH_VARIANT}" \
        "torch==${TORCH_VERSION}"

# The project itself (not editable). Its dependencies are pinned in pyproject.toml; the torch
# pin is already satisfied by the build above (2.13.0+cu128 matches ==2.13.0), so pip keeps it.
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY optimizer/ optimizer/
COPY components/ components/
COPY pipelines/ pipelines/
COPY proxybo/ proxybo/
RUN pip install --no-cache-dir . \
    && pip check \
    && python -c "import importlib.metadata as m, torch, kfp; print('proxybo', m.version('proxybo'), 'torch', torch.__version__, 'kfp', kfp.__version__)"

# ---------------------------------------------------------------------------------------------
# Runtime stage: same base, the virtual environment only (no build context, no pip cache),
# an unprivileged user.
# ---------------------------------------------------------------------------------------------
FROM python:3.11.14-slim-bookworm

ARG TORCH_VARIANT=cu128
ARG PROXYBO_VERSION=0.0.0.dev0

LABEL org.opencontainers.image.title="proxybo" \
      org.opencontainers.image.description="Neural architecture search by Bayesian optimization steered by zero-cost proxies (ProxyBO): Kubeflow Pipelines components and CLI" \
      org.opencontainers.image.version="${PROXYBO_VERSION}" \
      org.opencontainers.image.source="https://github.com/proxybo/proxybo" \
      org.opencontainers.image.url="https://github.com/proxybo/proxybo" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="proxybo" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.14-slim-bookworm" \
      io.proxybo.torch-variant="${TORCH_VARIANT}"

# A fixed, high, non-root UID/GID (Kubernetes pods set runAsUser to the same value).
RUN groupadd --system --gid 10001 proxybo \
    && useradd --system --uid 10001 --gid proxybo --home-dir /home/proxybo --create-home \
        --shell /usr/sbin/nologin proxybo

COPY --from=build /opt/venv /opt/venv

# PATH puts the venv first, so the `python3` that KFP's lightweight-component command runs is
# the one with kfp and proxybo installed. NVIDIA_* let the NVIDIA container runtime expose the
# GPU to the CUDA build; they are inert on CPU nodes.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/proxybo \
    MPLCONFIGDIR=/tmp/matplotlib \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

WORKDIR /home/proxybo
USER 10001:10001

# Batch jobs, not a service: Kubernetes ignores Docker health checks and judges pods by their
# exit status, so none is defined (stated explicitly rather than left out).
HEALTHCHECK NONE

# No ENTRYPOINT: KFP sets the container command itself. Plain `docker run` shows the CLI help.
CMD ["proxybo", "--help"]
