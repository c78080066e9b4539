"""The MLflow tracker against a real ``mlflow server`` (SQLite store, proxied artifacts)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest
import torch
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from components.tracking import (
    ArchitectureRecord,
    MLflowTracker,
    NullTracker,
    Preprocessing,
    RoundRecord,
    SearchSpec,
    Tracker,
    TrackingUnavailable,
    champion_info,
    check_reachable,
    resolve_tracking_uri,
)
from tests.fixtures.mlflow_server import MlflowServer

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PRE = Preprocessing(
    input_shape=(3, 4, 4),
    mean=(0.49, 0.48, 0.45),
    std=(0.25, 0.24, 0.26),
    class_labels=("cat", "dog", "ship"),
)
ARCH_A = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
ARCH_B = "|nor_conv_1x1~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
ARCH_C = "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


def tiny_net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 3))


def record(arch: str, val: float, round: int = 0) -> ArchitectureRecord:
    return ArchitectureRecord(
        arch=arch,
        round=round,
        strategy="proxybo",
        val_accuracy=val,
        test_accuracy=val - 0.01,
        train_seconds=1.5,
        n_params=147,
        proxy_scores={"synflow": 12.5, "jacov": -3.25},
        curves={"train_loss": [2.0, 1.5, 1.2], "val_accuracy": [0.3, 0.4, val]},
    )


def spec(search_id: str, lr: float = 0.1, settings: dict[str, Any] | None = None) -> SearchSpec:
    return SearchSpec(
        search_id=search_id,
        config={"budget": 20, "train": {"epochs": 3, "lr": lr}},
        search_space="nb201",
        proxies=("synflow", "jacov"),
        strategy="proxybo",
        settings={"n_init": 5, "noise_floor": 0.1} if settings is None else settings,
    )


@pytest.fixture(autouse=True)
def _restore_mlflow_uris(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflowTracker sets MLflow's process-wide URIs; undo that after each test."""
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.setattr(tracking_utils, "_tracking_uri", tracking_utils._tracking_uri)
    monkeypatch.setattr(registry_utils, "_registry_uri", registry_utils._registry_uri)


@pytest.fixture
def server_tracker(mlflow_server: MlflowServer) -> Iterator[MLflowTracker]:
    """A tracker on the shared server with its own search id and registered model name."""
    tag = uuid.uuid4().hex[:8]
    tracker = MLflowTracker(
        mlflow_server.tracking_uri, registered_model_name=f"proxybo-{tag}", preprocessing=PRE
    )
    tracker.start_search(spec(f"search-{tag}"))
    yield tracker


def client_for(tracker: MLflowTracker) -> MlflowClient:
    return MlflowClient(tracker.tracking_uri, tracker.tracking_uri)


def child_runs(tracker: MLflowTracker) -> list[mlflow.entities.Run]:
    assert tracker.experiment_id is not None
    return list(
        client_for(tracker).search_runs(
            [tracker.experiment_id], "tags.`proxybo.role` = 'architecture'"
        )
    )


def predict(model_uri: str, batch: int) -> np.ndarray:
    model = mlflow.pyfunc.load_model(model_uri)
    x = np.random.default_rng(batch).standard_normal((batch, *PRE.input_shape)).astype(np.float32)
    return np.asarray(model.predict(x))


def test_both_trackers_satisfy_the_protocol(server_tracker: MLflowTracker) -> None:
    assert isinstance(server_tracker, Tracker)
    assert isinstance(NullTracker(), Tracker)
    assert NullTracker().log_architecture(record(ARCH_A, 0.5), tiny_net(0)) is None


def test_parent_run_records_the_search_and_is_found_again_on_resume(
    server_tracker: MLflowTracker,
) -> None:
    client = client_for(server_tracker)
    assert server_tracker.search_id is not None
    parent = client.get_run(str(server_tracker.parent_run_id))
    assert parent.data.params == {
        "search_space": "nb201",
        "proxies": "synflow,jacov",
        "strategy": "proxybo",
        "config.budget": "20",
        "config.train.epochs": "3",
        "config.train.lr": "0.1",
        "settings.n_init": "5",
        "settings.noise_floor": "0.1",
    }
    assert parent.data.tags["proxybo.search_id"] == server_tracker.search_id
    experiment = client.get_experiment(str(server_tracker.experiment_id))
    assert experiment.name == f"proxybo-{server_tracker.search_id}"
    assert "config.json" in [a.path for a in client.list_artifacts(parent.info.run_id)]

    server_tracker.end_search()
    resumed = MLflowTracker(server_tracker.tracking_uri, preprocessing=PRE)
    # a later version may resolve more settings: they are added, the recorded ones kept
    later = {"n_init": 5, "noise_floor": 0.1, "kernel": "auto"}
    assert resumed.start_search(spec(server_tracker.search_id, settings=later)) == (
        parent.info.run_id
    )
    assert client.get_run(parent.info.run_id).info.status == "RUNNING"
    assert client.get_run(parent.info.run_id).data.params["settings.kernel"] == "auto"
    assert "proxybo.settings_changed" not in client.get_run(parent.info.run_id).data.tags
    parents = client.search_runs(
        [str(server_tracker.experiment_id)], "tags.`proxybo.role` = 'search'"
    )
    assert len(parents) == 1

    with pytest.raises(ValueError, match="different configuration"):
        MLflowTracker(server_tracker.tracking_uri).start_search(
            spec(server_tracker.search_id, lr=0.5)
        )


def test_a_resume_with_other_settings_keeps_the_recorded_params_and_tags_the_difference(
    server_tracker: MLflowTracker,
) -> None:
    # A search stored before settings were pinned, resumed by a version with other defaults.
    client = client_for(server_tracker)
    run_id = str(server_tracker.parent_run_id)
    resumed = MLflowTracker(server_tracker.tracking_uri, preprocessing=PRE)
    now = {"n_init": 10, "noise_floor": 0.1, "fusion": "sample"}
    assert resumed.start_search(spec(str(server_tracker.search_id), settings=now)) == run_id
    run = client.get_run(run_id)
    assert (run.data.params["settings.n_init"], run.data.params["settings.fusion"]) == (
        "5",
        "sample",
    )
    assert run.data.tags["proxybo.settings_changed"] == "settings.n_init: 5 -> 10"


def test_params_another_step_logged_at_the_same_moment_count_as_logged(
    server_tracker: MLflowTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two steps that both found a key missing both insert it; the store refuses the later
    # insert (a unique key). Here the other step's insert lands just before this step's batch.
    from mlflow.entities import Param

    run_id = server_tracker.parent_run_id
    assert run_id is not None
    real = server_tracker.client
    original = real.log_batch
    raced: list[bool] = []

    def racing_log_batch(run: str, params: Sequence[Any] = ()) -> None:
        if not raced:
            raced.append(True)
            original(run, params=[Param("settings.race", "1")])  # the other step
            raise MlflowException("UNIQUE constraint failed: params.key, params.run_uuid")
        original(run, params=list(params))

    monkeypatch.setattr(real, "log_batch", racing_log_batch)
    server_tracker._log_params_once(
        run_id, [Param("settings.race", "1"), Param("settings.after", "2")]
    )
    params = real.get_run(run_id).data.params
    assert raced and (params["settings.race"], params["settings.after"]) == ("1", "2")
    # another value for a key already logged is an error, not a silent keep
    with pytest.raises(MlflowException):
        server_tracker._log_params_once(run_id, [Param("settings.race", "3")])


def test_parallel_steps_starting_one_search_agree_on_one_parent_run(
    mlflow_server: MlflowServer,
) -> None:
    # The training fan-out starts the same search in several processes at once; each may find
    # no parent and create one. They must end up sharing one parent, with no duplicate left.
    import threading

    search_id = f"race-{uuid.uuid4().hex[:8]}"
    n = 6
    barrier = threading.Barrier(n)
    ids: list[str] = []
    errors: list[BaseException] = []

    def start() -> None:
        tracker = MLflowTracker(mlflow_server.tracking_uri, preprocessing=PRE)
        barrier.wait()
        try:
            ids.append(tracker.start_search(spec(search_id)))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(set(ids)) == 1, ids
    client = MlflowClient(mlflow_server.tracking_uri)
    experiment = client.get_experiment_by_name("proxybo-" + search_id)
    assert experiment is not None
    parents = client.search_runs([experiment.experiment_id], "tags.`proxybo.role` = 'search'")
    assert [p.info.run_id for p in parents] == ids[:1]
    assert client.get_run(ids[0]).data.params["strategy"] == "proxybo"


def test_child_run_holds_params_metrics_curves_and_a_model_that_predicts_any_batch(
    server_tracker: MLflowTracker,
) -> None:
    run_id = server_tracker.log_architecture(record(ARCH_A, 0.8, round=2), tiny_net(0))

    client = client_for(server_tracker)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == ARCH_A
    assert run.data.tags["mlflow.parentRunId"] == server_tracker.parent_run_id
    assert run.data.params == {
        "arch": ARCH_A,
        "arch_id": run.data.tags["proxybo.arch_id"],
        "round": "2",
        "strategy": "proxybo",
        "n_params": "147",
    }
    assert run.data.metrics["val_accuracy"] == pytest.approx(0.8)
    assert run.data.metrics["test_accuracy"] == pytest.approx(0.79)
    assert run.data.metrics["train_seconds"] == pytest.approx(1.5)
    assert run.data.metrics["n_params"] == 147
    assert run.data.metrics["proxy/synflow"] == pytest.approx(12.5)
    assert run.data.metrics["proxy/jacov"] == pytest.approx(-3.25)
    curve = client.get_metric_history(run_id, "epoch/train_loss")
    assert [(m.step, m.value) for m in sorted(curve, key=lambda m: m.step)] == [
        (0, 2.0),
        (1, 1.5),
        (2, 1.2),
    ]

    assert run.outputs is not None
    outputs = run.outputs.model_outputs
    assert len(outputs) == 1
    model_uri = f"models:/{outputs[0].model_id}"
    assert predict(model_uri, 1).shape == (1, 3)
    assert predict(model_uri, 5).shape == (5, 3)
    loaded = mlflow.pyfunc.load_model(model_uri)
    assert loaded.metadata.metadata["arch"] == ARCH_A
    assert loaded.metadata.metadata["preprocessing"]["input_shape"] == [3, 4, 4]


def test_pickle_serialization_also_predicts_any_batch(mlflow_server: MlflowServer) -> None:
    tracker = MLflowTracker(
        mlflow_server.tracking_uri,
        registered_model_name=None,
        serialization_format="pickle",
    )
    tracker.start_search(spec(f"pickle-{uuid.uuid4().hex[:8]}"))
    # A batch-1 example is widened to 2 so the signature's batch dimension stays -1.
    example = np.zeros((1, *PRE.input_shape), dtype=np.float32)
    run_id = tracker.log_architecture(record(ARCH_B, 0.6), tiny_net(1), input_example=example)
    outputs = client_for(tracker).get_run(run_id).outputs
    assert outputs is not None
    model_id = outputs.model_outputs[0].model_id
    assert predict(f"models:/{model_id}", 1).shape == (1, 3)
    assert predict(f"models:/{model_id}", 5).shape == (5, 3)


def test_logging_the_same_architecture_and_round_again_creates_no_duplicate(
    server_tracker: MLflowTracker,
) -> None:
    first = server_tracker.log_architecture(record(ARCH_A, 0.5, round=1))
    again = server_tracker.log_architecture(record(ARCH_A, 0.5, round=1))
    other_round = server_tracker.log_architecture(record(ARCH_A, 0.5, round=2))

    assert again == first
    assert other_round != first
    runs = child_runs(server_tracker)
    assert sorted(r.data.tags["proxybo.round"] for r in runs) == ["1", "2"]
    assert all(r.info.status == "FINISHED" for r in runs)


def test_a_failed_attempt_is_marked_failed_and_does_not_block_the_retry(
    server_tracker: MLflowTracker,
) -> None:
    broken = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(7, 3))  # wrong input size
    with pytest.raises(RuntimeError):
        server_tracker.log_architecture(record(ARCH_C, 0.4, round=3), broken)
    retry = server_tracker.log_architecture(record(ARCH_C, 0.4, round=3), tiny_net(2))

    statuses = sorted(r.info.status for r in child_runs(server_tracker))
    assert statuses == ["FAILED", "FINISHED"]
    assert server_tracker.find_architecture_run(ARCH_C, 3, status="FINISHED") == retry


def test_rounds_log_metrics_by_step_and_plots_on_the_parent(server_tracker: MLflowTracker) -> None:
    weights = [{"gp": 0.1, "synflow": 0.6, "jacov": 0.3}, {"gp": 0.5, "synflow": 0.4, "jacov": 0.1}]
    for rnd, w in enumerate(weights):
        server_tracker.log_round(
            RoundRecord(
                round=rnd,
                best_so_far=0.6 + 0.1 * rnd,
                reliability={"gp": 0.5 + 0.1 * rnd, "synflow": 0.7, "jacov": 0.55},
                weights=w,
            )
        )

    client = client_for(server_tracker)
    parent = str(server_tracker.parent_run_id)

    def history(key: str) -> list[tuple[int, float]]:
        return sorted((m.step, round(m.value, 6)) for m in client.get_metric_history(parent, key))

    assert history("best_so_far_val_accuracy") == [(0, 0.6), (1, 0.7)]
    assert history("weight/gp") == [(0, 0.1), (1, 0.5)]
    assert history("weight/synflow") == [(0, 0.6), (1, 0.4)]
    assert history("reliability/gp") == [(0, 0.5), (1, 0.6)]
    assert history("reliability/jacov") == [(0, 0.55), (1, 0.55)]

    for name in ("plots/best_so_far.png", "plots/weights.png"):
        local = Path(mlflow.artifacts.download_artifacts(run_id=parent, artifact_path=name))
        assert local.read_bytes().startswith(PNG_SIGNATURE), name


def test_rounds_name_the_recommended_architecture_and_its_run_on_the_parent(
    server_tracker: MLflowTracker,
) -> None:
    run_a = server_tracker.log_architecture(record(ARCH_A, 0.9, round=0))
    client = client_for(server_tracker)
    parent = str(server_tracker.parent_run_id)

    def tags() -> dict[str, str]:
        return dict(client.get_run(parent).data.tags)

    def log(rnd: int, arch: str, val: float) -> None:
        server_tracker.log_round(
            RoundRecord(
                round=rnd,
                best_so_far=0.95,
                recommended_arch=arch,
                recommended_round=rnd,
                recommended_val_acc=val,
            )
        )

    log(0, ARCH_A, 0.9)
    assert tags()["proxybo.recommended_arch"] == ARCH_A
    assert tags()["proxybo.recommended_run_id"] == run_a

    # Recommended without a child run to point at (not logged in this search): the run tag
    # would name the earlier architecture's run, so it goes.
    log(1, ARCH_B, 0.93)
    assert tags()["proxybo.recommended_arch"] == ARCH_B
    assert "proxybo.recommended_run_id" not in tags()
    history = client.get_metric_history(parent, "recommended_val_accuracy")
    assert sorted((m.step, round(m.value, 6)) for m in history) == [(0, 0.9), (1, 0.93)]

    server_tracker.log_round(RoundRecord(round=2, best_so_far=0.95))  # nothing recommended
    assert tags()["proxybo.recommended_arch"] == ARCH_B, "a round without one changes nothing"
    assert len(client.get_metric_history(parent, "recommended_val_accuracy")) == 2


def test_champion_alias_moves_only_to_a_better_model(server_tracker: MLflowTracker) -> None:
    name = str(server_tracker.registered_model_name)
    client = client_for(server_tracker)
    assert champion_info(name, client=client) is None

    server_tracker.log_architecture(record(ARCH_A, 0.50), tiny_net(0))
    first = champion_info(name, client=client)
    assert first is not None and first["arch"] == ARCH_A and first["val_accuracy"] == 0.5

    best_net = tiny_net(1)
    best_run = server_tracker.log_architecture(record(ARCH_B, 0.70, round=1), best_net)
    worse_run = server_tracker.log_architecture(record(ARCH_C, 0.60, round=1), tiny_net(2))
    tie_run = server_tracker.log_architecture(record(ARCH_A, 0.70, round=2), tiny_net(3))

    info = champion_info(name, client=client)
    assert info is not None
    assert info["arch"] == ARCH_B
    assert info["val_accuracy"] == pytest.approx(0.70)
    assert info["run_id"] == best_run
    assert info["version"] != first["version"]
    registered = {v.run_id for v in client.search_model_versions(f"name = '{name}'")}
    assert worse_run not in registered and tie_run not in registered
    assert len(registered) == 2

    version = client.get_model_version_by_alias(name, "champion")
    assert version.tags["arch"] == ARCH_B
    assert version.tags["input_shape"] == "[3, 4, 4]"
    assert version.tags["normalization_mean"] == "[0.49, 0.48, 0.45]"
    assert version.tags["normalization_std"] == "[0.25, 0.24, 0.26]"
    assert version.tags["class_labels"] == '["cat", "dog", "ship"]'
    assert version.tags["search_id"] == server_tracker.search_id

    champion = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    x = np.random.default_rng(0).standard_normal((5, 3, 4, 4)).astype(np.float32)
    with torch.no_grad():
        expected = best_net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.asarray(champion.predict(x)), expected, rtol=1e-5, atol=1e-6)
    assert np.asarray(champion.predict(x[:1])).shape == (1, 3)


def test_champion_info_is_none_for_an_unknown_model(mlflow_server: MlflowServer) -> None:
    assert (
        champion_info(f"never-registered-{uuid.uuid4().hex[:8]}", mlflow_server.tracking_uri)
        is None
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server_fails_fast_with_the_uri_in_the_message() -> None:
    uri = f"http://127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    with pytest.raises(
        TrackingUnavailable, match=r"127\.0\.0\.1.*unreachable.*MLFLOW_TRACKING_URI"
    ):
        MLflowTracker(uri)
    assert time.monotonic() - start < 10


def test_a_server_that_never_answers_times_out_fast() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections into the backlog, never answers
    uri = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        start = time.monotonic()
        with pytest.raises(TrackingUnavailable, match=r"did not answer within 1 s"):
            check_reachable(uri, timeout_s=1.0)
        assert time.monotonic() - start < 10
    finally:
        listener.close()


def test_default_store_is_a_local_sqlite_file_with_local_artifacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve_tracking_uri() == "sqlite:///mlruns.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert resolve_tracking_uri() == "http://tracking.example:5000"
    assert resolve_tracking_uri("sqlite:///x.db") == "sqlite:///x.db"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")

    tracker = MLflowTracker(registered_model_name="local-proxybo", preprocessing=PRE)
    tracker.start_search(spec("local"))
    tracker.log_architecture(record(ARCH_A, 0.5), tiny_net(0))

    assert (tmp_path / "mlruns.db").is_file()
    assert any((tmp_path / "mlartifacts").rglob("MLmodel"))
    info = champion_info("local-proxybo")
    assert info is not None and info["arch"] == ARCH_A
    assert predict("models:/local-proxybo@champion", 1).shape == (1, 3)


def test_importing_the_tracking_module_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, components.tracking, components.plots\n"
        "print(sorted(m for m in ('mlflow', 'torch', 'matplotlib') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
