"""Fixtures shared across the test suite; each lives in `tests/fixtures/` and is re-exported here.

`make test` runs the suite on parallel workers (pytest-xdist, one per CPU, at most 4). Two
hooks here keep that fast on a small machine: every worker gets its share of the CPUs for
torch and BLAS threads (set before anything imports torch, and inherited by the subprocesses
a test starts), and the tests marked ``slow`` are scheduled first, so that they overlap the
many short ones instead of trailing at the end.
"""

from __future__ import annotations

import os

import pytest

from tests.fixtures.kfp_api_double import kfp_api
from tests.fixtures.mlflow_server import mlflow_server
from tests.fixtures.s3server import s3_env, s3_server
from tests.fixtures.torch_threads import one_thread

__all__ = ["kfp_api", "mlflow_server", "one_thread", "s3_env", "s3_server"]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def pytest_configure(config: pytest.Config) -> None:
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere every CPU counts
        cpus = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
        threads = str(max(1, cpus // workers))  # the workers share the CPUs, no more
        for name in _THREAD_VARIABLES:
            os.environ.setdefault(name, threads)  # a value the user set wins


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: order kept
