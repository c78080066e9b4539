"""Fixtures shared across the test suite; each lives in `tests/fixtures/` and is re-exported here."""

from __future__ import annotations

from tests.fixtures.kfp_api_double import kfp_api
from tests.fixtures.mlflow_server import mlflow_server
from tests.fixtures.s3server import s3_env, s3_server
from tests.fixtures.torch_threads import one_thread

__all__ = ["kfp_api", "mlflow_server", "one_thread", "s3_env", "s3_server"]
