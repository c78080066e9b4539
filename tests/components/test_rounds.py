"""The round functions, in-process, against a local state folder and a local MLflow store."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest
import torch

from components import rounds
from components.config import SearchSettings
from components.runner import limit_torch_threads
from components.state_store import open_store
from optimizer.proxies.registry import REGISTRY, ProxySpec
from optimizer.state import SearchState, StateError
from optimizer.strategies import ProxyBOFeatures
from optimizer.strategies.base import PINNED_OPTIONS

FAILING = "test_fails_on_odd_convs"


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[SearchSettings]:
    threads = torch.get_num_threads()
    limit_torch_threads()  # as the local runner does: far faster on a shared 2-core machine
    s = SearchSettings.from_mapping(
        {
            "search": {
                "budget": 4,
                "batch_size": 2,
                "pool_size": 8,
                "n_init": 2,
                "proxy_batch_size": 16,
            },
            "network": {"C": 4, "N": 1},
            "training": {"epochs": 1},
            "tracking": {
                "tracking_uri": f"sqlite:///{tmp_path}/mlruns.db",
                "registry_name": "rounds-test",
            },
            "state": {"uri": str(tmp_path / "state")},
        }
    )
    yield s
    torch.set_num_threads(threads)
    rounds._TRACKERS.clear()
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_search_runs_round_by_round_and_reruns_are_harmless(
    settings: SearchSettings, tmp_path: Path
) -> None:
    text = settings.to_json()  # what a KFP component receives
    pool = rounds.sample_candidates(text)
    assert len(pool) == 8 and len(set(pool)) == 8
    assert rounds.sample_candidates(text) == pool, "the pool is a function of the stored state"
    assert not (tmp_path / "state").exists(), "sampling writes nothing"

    parts = [rounds.score_candidates(text, pool, shard=i, n_shards=3) for i in range(3)]
    assert [len(p["jacov"]) for p in parts] == [3, 3, 2]
    scores = rounds.merge_scores(parts)
    whole = rounds.score_candidates(text, pool)
    assert set(scores) == set(whole) == {"jacov", "synflow", "snip"}
    for name in whole:  # shards add up to the whole pool (NaN where a proxy is undefined)
        np.testing.assert_array_equal(scores[name], whole[name])

    batch = rounds.select_architectures(text, pool, scores)
    assert len(batch) == 2 and {b["round"] for b in batch} == {0}
    assert all(b["arch"] in pool and set(b["proxies"]) == set(scores) for b in batch)
    assert rounds.select_architectures(text, pool, scores) == batch, "re-run: same batch"
    state = rounds.load_state(text)
    assert state is not None and [p.arch for p in state.pending] == [b["arch"] for b in batch]

    results = [rounds.train_evaluate(text, **b) for b in batch]
    json.dumps(results, allow_nan=False)  # JSON-friendly
    for r in results:
        assert r["status"] == "ok" and 0.0 <= r["metrics"]["val_acc"] <= 1.0
    summary = rounds.update_surrogate(text, results)
    assert (summary["n_evaluated"], summary["n_new"], summary["done"]) == (2, 2, False)
    assert summary["best_val_acc"] == max(r["metrics"]["val_acc"] for r in results)
    again = rounds.update_surrogate(text, results)
    assert (again["n_evaluated"], again["n_new"]) == (2, 0), "telling twice changes nothing"
    assert rounds.train_evaluate(text, **batch[0]) == results[0], "no second training"

    pool = rounds.sample_candidates(text)
    assert not set(pool) & {b["arch"] for b in batch}
    batch2 = rounds.select_architectures(text, pool, rounds.score_candidates(text, pool))
    assert {b["round"] for b in batch2} == {1}
    summary = rounds.update_surrogate(text, [rounds.train_evaluate(text, **b) for b in batch2])
    assert summary["done"] and summary["n_evaluated"] == 4
    assert set(summary["weights"]) == {"gp", "jacov", "synflow", "snip"}
    assert math.isclose(sum(summary["weights"].values()), 1.0)
    assert rounds.sample_candidates(text) == []

    # The stored state is strict JSON (the GP's unbounded constraints included) and reloads.
    doc = open_store(settings.state.uri).load()
    assert doc is not None and SearchState.from_json(doc.doc).surrogate is not None

    champion = rounds.ensure_champion(text)
    assert champion is not None and champion["arch"] == summary["best_arch"]
    assert champion["val_accuracy"] == summary["best_val_acc"]

    # What the GP would deploy is one of the evaluated, and the parent run names it.
    told = {r["arch"]: r["metrics"]["val_acc"] for r in results} | {
        e.arch: e.metrics["val_acc"] for e in SearchState.from_json(doc.doc).history
    }
    assert summary["recommended_arch"] in told
    assert summary["recommended_val_acc"] == told[summary["recommended_arch"]]
    client = mlflow.MlflowClient(settings.tracking.tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    (parent,) = client.search_runs(experiments, "tags.`proxybo.role` = 'search'")
    assert parent.data.tags["proxybo.recommended_arch"] == summary["recommended_arch"]
    child = client.get_run(parent.data.tags["proxybo.recommended_run_id"])
    assert child.data.params["arch"] == summary["recommended_arch"]


def _one_round(text: str) -> dict[str, Any]:
    pool = rounds.sample_candidates(text)
    batch = rounds.select_architectures(text, pool, rounds.score_candidates(text, pool))
    return rounds.update_surrogate(text, [rounds.train_evaluate(text, **b) for b in batch])


@pytest.mark.slow
def test_a_search_resumed_by_a_version_with_other_defaults_keeps_its_settings(
    settings: SearchSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = settings.to_json()
    _one_round(text)
    client = mlflow.MlflowClient(settings.tracking.tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    (parent,) = client.search_runs(experiments, "tags.`proxybo.role` = 'search'")
    assert parent.data.params["settings.proxy_fusion"] == "sample"

    # A later version, in a new process: another default for a setting the user left unset.
    monkeypatch.setattr(ProxyBOFeatures, "default_fusion", "rank")
    rounds._TRACKERS.clear()
    assert rounds._strategy(settings).settings()["proxy_fusion"] == "rank"
    assert _one_round(text)["done"]
    state = rounds.load_state(text)
    assert state is not None and state.extras[PINNED_OPTIONS]["fusion"] == "sample"
    assert rounds._strategy(settings).for_state(state).settings()["proxy_fusion"] == "sample"
    parent = client.get_run(parent.info.run_id)
    assert parent.data.params["settings.proxy_fusion"] == "sample"
    assert "proxybo.settings_changed" not in parent.data.tags

    # A state stored before settings were pinned goes on with this version's, and says so.
    def unpin(doc: dict[str, Any] | None) -> dict[str, Any]:
        assert doc is not None
        del doc["extras"][PINNED_OPTIONS]
        return doc

    open_store(settings.state.uri).update(unpin)
    rounds._TRACKERS.clear()
    assert rounds.ensure_champion(text) is not None
    parent = client.get_run(parent.info.run_id)
    assert parent.data.params["settings.proxy_fusion"] == "sample"
    assert parent.data.tags["proxybo.settings_changed"] == (
        "settings.proxy_fusion: sample -> rank; settings.proxy_floor: 0.2 -> 0.0"
    )


def test_resuming_with_other_settings_fails_clearly(settings: SearchSettings) -> None:
    pool = rounds.sample_candidates(settings)
    rounds.select_architectures(settings, pool, rounds.score_candidates(settings, pool))
    other = settings.with_overrides({"search.seed": 7, "search.budget": 10})
    with pytest.raises(StateError, match="seed: stored 0 vs requested 7"):
        rounds.sample_candidates(other)
    # a bigger budget alone continues the same search
    assert rounds.load_state(settings.with_overrides({"search.budget": 10})) is not None


def test_a_failing_proxy_gives_nan_in_place(
    settings: SearchSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails_on_odd(net: torch.nn.Module, batch: object) -> float:
        n = sum(1 for m in net.modules() if isinstance(m, torch.nn.Conv2d))
        if n % 2:
            raise RuntimeError("this proxy is undefined for an odd number of convolutions")
        return float(n)

    monkeypatch.setitem(
        REGISTRY._specs, FAILING, ProxySpec(FAILING, fails_on_odd, True, False, frozenset(), False)
    )
    s = settings.with_overrides({"search.proxies": ["synflow", FAILING], "search.pool_size": 12})
    pool = rounds.sample_candidates(s)
    scores = rounds.score_candidates(s, pool)
    assert len(scores[FAILING]) == len(scores["synflow"]) == len(pool)
    assert all(math.isfinite(v) for v in scores["synflow"])
    failed = [math.isnan(v) for v in scores[FAILING]]
    assert any(failed) and not all(failed), "expected a mix of odd and even convolution counts"
    for v, bad in zip(scores[FAILING], failed, strict=True):
        assert bad or (v > 0 and v % 2 == 0)
