"""`proxybo search / status / best`: real searches in subprocesses, against a real MLflow server,
local state and S3 state on SeaweedFS (killed with SIGKILL mid-search, then resumed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest
import yaml
from mlflow import MlflowClient
from typer.testing import CliRunner

from components.state_store import open_store
from proxybo.cli import app
from tests.fixtures.mlflow_server import MlflowServer
from tests.fixtures.s3server import S3Server

PROXYBO = str(Path(sys.executable).with_name("proxybo"))
BUDGET = 6


def tiny_config(path: Path, **sections: dict[str, Any]) -> Path:
    """A search that trains in about a second per architecture."""
    doc: dict[str, Any] = {
        "search": {"budget": BUDGET, "batch_size": 2, "pool_size": 16, "proxy_batch_size": 16},
        "network": {"C": 4, "N": 1},
        "data": {"dataset": "digits"},
        "training": {"epochs": 1},
    }
    for name, values in sections.items():
        doc.setdefault(name, {}).update(values)
    path.write_text(yaml.safe_dump(doc))
    return path


def run_cli(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROXYBO, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=os.environ
    )


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("yaml_text", "args", "message"),
    [
        ("search:\n  budgett: 3\n", [], "search.budgett: unknown setting"),
        ("search:\n  budget: 0\n", [], "search.budget: Input should be greater than or equal to 1"),
        ("search:\n  proxies: [jacov, nope]\n", [], "unknown proxy 'nope'; available proxies:"),
        ("network:\n  C: four\n", [], "network.C: Input should be a valid integer"),
        ("", ["--strategy", "smac"], "unknown strategy 'smac'; choose one of"),
        ("", ["--budget", "0"], "search.budget"),
        ("", ["--fusion", "mean"], "unknown fusion 'mean'; choose one of: 'rank', 'sample'"),
        ("", ["--strategy", "bo", "--fusion", "sample"], "fusion applies to proxybo and"),
    ],
)
def test_bad_settings_exit_2_and_write_nothing(
    workdir: Path, yaml_text: str, args: list[str], message: str
) -> None:
    (workdir / "search.yaml").write_text(yaml_text)
    result = CliRunner().invoke(app, ["search", "--config", "search.yaml", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert sorted(p.name for p in workdir.iterdir()) == ["search.yaml"]


@pytest.mark.parametrize(("value", "option"), [("sample", "sample"), ("none", False)])
def test_fusion_option_reaches_the_strategy(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, value: str, option: str | bool
) -> None:
    """`--fusion` overrides the file's `search.fusion`; the search runs with that rule."""
    import components.runner

    seen: dict[str, Any] = {}

    def run_search(settings: Any, progress: Any) -> dict[str, Any]:
        seen["options"] = settings.search_config().options
        return {"summary": {}, "champion": None}

    monkeypatch.setattr(components.runner, "run_search", run_search)
    (workdir / "search.yaml").write_text("search:\n  fusion: rank\n")
    args = ["search", "--config", "search.yaml", "--state", "st", "--fusion", value, "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert seen["options"]["fusion"] == option


def test_unreachable_mlflow_fails_before_training(workdir: Path) -> None:
    start = time.monotonic()
    result = CliRunner().invoke(
        app, ["search", "--tracking-uri", "http://127.0.0.1:9", "--state", str(workdir / "st")]
    )
    assert result.exit_code == 1, result.output
    assert "MLflow tracking server http://127.0.0.1:9 is unreachable" in result.output
    assert time.monotonic() - start < 30
    assert not (workdir / "st").exists()


def test_best_and_status_without_a_search(workdir: Path, mlflow_server: MlflowServer) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "best",
            "--registry-name",
            "never-registered",
            "--tracking-uri",
            mlflow_server.tracking_uri,
        ],
    )
    assert result.exit_code == 1 and "has no champion yet" in result.output
    # a SQLite store that does not exist is not created by asking it
    uri = f"sqlite:///{workdir / 'never.db'}"
    result = runner.invoke(app, ["best", "--tracking-uri", uri])
    assert result.exit_code == 1 and "has no champion yet" in result.output
    assert not (workdir / "never.db").exists()
    result = runner.invoke(app, ["status", "--state", str(workdir / "none")])
    assert result.exit_code == 1 and "no search state" in result.output


# --------------------------------------------------------------------------- real searches


@pytest.mark.slow
def test_a_small_search_ends_with_a_loadable_champion(
    workdir: Path, mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.tracking_uri)
    config = tiny_config(workdir / "search.yaml")
    result = run_cli("search", "--config", str(config), cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "champion: models:/proxybo@champion" in result.stdout

    status = json.loads(run_cli("status", "--json", cwd=workdir).stdout)
    assert status["n_evaluated"] == BUDGET and status["done"]
    assert set(status["weights"]) == {"gp", "jacov", "synflow", "snip"}
    assert status["kernel"] in ("ard", "hamming")  # chosen by the default kernel "auto"
    best = json.loads(run_cli("best", "--json", cwd=workdir).stdout)
    assert best["search_id"] == status["search_id"]
    assert best["arch"] == status["best_arch"]
    assert best["val_accuracy"] == pytest.approx(status["best_val_acc"])
    # the parent run shows the GP settings that ran, defaults included, beside those set
    client = mlflow.MlflowClient(mlflow_server.tracking_uri)
    experiment = client.get_experiment_by_name(f"proxybo-{status['search_id']}")
    assert experiment is not None
    (parent,) = client.search_runs([experiment.experiment_id], "tags.`proxybo.role` = 'search'")
    params = parent.data.params
    assert params["settings.noise_floor"] == "0.1" and params["settings.kernel"] == "auto"
    assert params["settings.proxy_features"] == "true"
    assert "config.options.noise_floor" not in params  # not set by the user
    # what the GP would deploy: named on the parent run, printed where it is not the best
    evaluated = {e["arch"]: e for e in _history(str(workdir / "proxybo-state"))}
    assert status["recommended_arch"] in evaluated
    for key in ("best", "recommended"):  # the test split, for a user who wants to compare
        measured = evaluated[status[f"{key}_arch"]]["metrics"]["test_acc"]
        assert status[f"{key}_test_acc"] == pytest.approx(measured)
    assert parent.data.tags["proxybo.recommended_arch"] == status["recommended_arch"]
    text = run_cli("status", cwd=workdir).stdout
    differs = status["recommended_arch"] != status["best_arch"]
    assert ("recommended: " + status["recommended_arch"] in text) == differs
    # the search's own last lines give the test accuracy of the best, as `status` does
    best_test = f"test_acc {100 * status['best_test_acc']:.2f}%"
    assert f"val_acc {100 * status['best_val_acc']:.2f}% {best_test}" in result.stdout
    assert "already spent" not in result.stdout
    # run again (the same budget, then a lower one): nothing is trained, and it says why
    for extra in ([], ["--budget", str(BUDGET - 2)]):
        again = run_cli("search", "--config", str(config), "--quiet", *extra, cwd=workdir)
        assert again.returncode == 0, again.stderr[-3000:]
        assert f"({BUDGET} evaluated), so nothing was trained: raise --budget" in again.stdout
        assert f"done: {BUDGET} architectures, best {status['best_arch']}" in again.stdout
        assert best_test in again.stdout
    assert len(_history(str(workdir / "proxybo-state"))) == BUDGET

    from components.data import load_digits

    mlflow.set_tracking_uri(mlflow_server.tracking_uri)
    try:
        model = mlflow.pyfunc.load_model("models:/proxybo@champion")
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    data = load_digits()
    logits = np.asarray(model.predict(data.x_test))
    assert logits.shape == (len(data.y_test), 10)
    accuracy = float((logits.argmax(1) == data.y_test).mean())
    # the registered model is the trained champion: it scores what its training run measured on
    # the whole test split (270 images), and better than chance
    assert accuracy == pytest.approx(evaluated[status["best_arch"]]["metrics"]["test_acc"])
    assert accuracy > 0.2, "the champion should do better than chance on digits"


def _history(uri: str) -> list[dict[str, Any]]:
    found = open_store(uri).load()
    return [] if found is None else list(found.doc["history"])


@pytest.mark.slow
def test_kill_9_then_resume_on_s3_loses_and_repeats_nothing(
    workdir: Path, mlflow_server: MlflowServer, s3_env: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.tracking_uri)
    uri = f"s3://{s3_env.bucket}/kill9-{uuid.uuid4().hex[:8]}"
    registry = f"kill9-{uuid.uuid4().hex[:8]}"
    config = tiny_config(workdir / "search.yaml", tracking={"registry_name": registry})
    cmd = [PROXYBO, "search", "--config", str(config), "--state", uri, "--quiet"]

    proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    before: list[dict[str, Any]] = []
    while time.monotonic() < deadline and proc.poll() is None:
        before = _history(uri)
        if before:
            break
        time.sleep(0.2)
    assert before and proc.poll() is None, "expected the search to store an evaluation and run on"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    before = _history(uri)  # what was stored when it died
    assert 1 <= len(before) < BUDGET

    result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]

    after = _history(uri)
    archs = [e["arch"] for e in after]
    assert len(archs) == len(set(archs)) == BUDGET
    assert after[: len(before)] == before, "evaluations stored before the kill are unchanged"
    state = open_store(uri).load()
    assert state is not None and state.doc["pending"] == []

    client = MlflowClient(mlflow_server.tracking_uri)
    search_id = state.doc["extras"]["search_id"]
    exp = client.get_experiment_by_name(f"proxybo-{search_id}")
    assert exp is not None
    runs = client.search_runs(
        [exp.experiment_id], "tags.`proxybo.role` = 'architecture'", max_results=1000
    )
    finished = [r.data.tags["proxybo.arch"] for r in runs if r.info.status == "FINISHED"]
    assert sorted(finished) == sorted(archs), "exactly one FINISHED child run per architecture"
    assert client.get_model_version_by_alias(registry, "champion") is not None
