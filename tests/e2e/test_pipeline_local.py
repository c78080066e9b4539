"""The search pipeline end to end under ``kfp.local`` (every component in its own subprocess),
against a real MLflow server and a real S3 (SeaweedFS), twice on the same ``state_uri``.

Tiny on purpose: NB201 cells in a C=4, N=1 network, scikit-learn digits, one epoch, two rounds
of two architectures per run. The first run must leave the state in S3, an MLflow child run per
architecture and the ``champion`` alias on the best one; the second must continue that search
(same history, new architectures, no retraining) and stop at the budget.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from components.tracking import (
    EXPERIMENT_PREFIX,
    TAG_ARCH,
    TAG_PARENT,
    TAG_ROLE,
    champion_info,
)
from tests.fixtures.mlflow_server import MlflowServer
from tests.fixtures.s3server import S3Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(480)]

ROUNDS = 2
BATCH = 2
BUDGET = 6  # 4 architectures in the first run, 2 in the second, then done
SETTINGS = {
    "search": {"proxies": ["synflow", "jacov"], "pool_size": 8, "n_init": 2, "seed": 7},
    "network": {"C": 4, "N": 1},
    "training": {"epochs": 1, "batch_size": 128, "device": "cpu"},
    "data": {"dataset": "digits", "limit": 400},
}


def _state(s3: S3Server, bucket: str) -> dict[str, Any]:
    body = s3.client().get_object(Bucket=bucket, Key="search/state.json")["Body"].read()
    return json.loads(body)


def _runs(client: MlflowClient, search_id: str) -> list[Any]:
    exp = client.get_experiment_by_name(EXPERIMENT_PREFIX + search_id)
    assert exp is not None, f"no MLflow experiment for search {search_id}"
    return list(client.search_runs([exp.experiment_id], max_results=100))


def _children(client: MlflowClient, search_id: str) -> list[Any]:
    return [r for r in _runs(client, search_id) if TAG_PARENT in r.data.tags]


def test_pipeline_runs_rounds_and_continues_from_s3_state(
    s3_env: S3Server,
    mlflow_server: MlflowServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from kfp import local

    from pipelines.search_pipeline import CompileOptions, build_pipeline

    # Component subprocesses inherit the environment: S3 (s3_env) and MLflow.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.tracking_uri)
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    # One thread per component process: parallel train-evaluate processes share two cores.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    bucket = s3_env.new_bucket("e2e")
    state_uri = f"s3://{bucket}/search"
    search_id = f"e2e-{uuid.uuid4().hex[:8]}"
    registry = f"proxybo-e2e-{uuid.uuid4().hex[:8]}"

    local.init(
        runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp-root")
    )
    pipeline = build_pipeline(CompileOptions(rounds=ROUNDS, batch_size=BATCH))
    args = {
        "state_uri": state_uri,
        "dataset": "digits",
        "budget": BUDGET,
        "settings": SETTINGS,
        "search_id": search_id,
        "registry_name": registry,
    }

    # ---- first run: two rounds of two architectures
    pipeline(**args)

    state = _state(s3_env, bucket)
    history = state["history"]
    assert len(history) == ROUNDS * BATCH
    assert sorted(Counter(e["round"] for e in history).values()) == [BATCH] * ROUNDS
    assert state["pending"] == []
    assert all(e["status"] == "ok" and 0.0 <= e["metrics"]["val_acc"] <= 1.0 for e in history)
    assert all(set(e["proxies"]) == {"synflow", "jacov"} for e in history)
    first_archs = [e["arch"] for e in history]
    assert len(set(first_archs)) == len(first_archs)

    client = MlflowClient(mlflow_server.tracking_uri)
    children = _children(client, search_id)
    assert sorted(r.data.tags[TAG_ARCH] for r in children) == sorted(first_archs)
    assert all(r.info.status == "FINISHED" for r in children)

    champ = champion_info(registry, mlflow_server.tracking_uri)
    assert champ is not None, "no champion alias after the first run"
    best = max(history, key=lambda e: e["metrics"]["val_acc"])
    assert champ["val_accuracy"] == pytest.approx(best["metrics"]["val_acc"])

    # ---- second run, same state_uri: continues (one more round, then the budget is spent)
    pipeline(**args)

    state2 = _state(s3_env, bucket)
    history2 = state2["history"]
    assert [e["arch"] for e in history2[: len(first_archs)]] == first_archs, "search restarted"
    assert history2[: len(history)] == history, "earlier results were changed"
    assert len(history2) == BUDGET
    new = history2[len(history) :]
    assert {e["arch"] for e in new}.isdisjoint(first_archs)
    assert min(e["round"] for e in new) > max(e["round"] for e in history)
    assert len({e["round"] for e in new}) == 1, "rounds after the budget was spent were not skipped"
    assert state2["pending"] == []

    children2 = _children(client, search_id)
    assert len(children2) == BUDGET, "an architecture was trained twice or not logged"
    champ2 = champion_info(registry, mlflow_server.tracking_uri)
    assert champ2 is not None
    best2 = max(history2, key=lambda e: e["metrics"]["val_acc"])
    assert champ2["val_accuracy"] == pytest.approx(best2["metrics"]["val_acc"])
    # the exit step closed the search's parent run once the budget was spent
    (parent,) = [r for r in _runs(client, search_id) if r.data.tags.get(TAG_ROLE) == "search"]
    assert parent.info.status == "FINISHED"
