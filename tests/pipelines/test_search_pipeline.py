"""The compiled search pipeline: checked-in package up to date, round structure, pod settings,
and the components' contract (image, documented inputs and outputs, no run-time installs)."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import kfp_components
from pipelines.search_pipeline import DEFAULT_PACKAGE, CompileOptions, compile_pipeline

VERSION = importlib.metadata.version("proxybo")
STATEFUL = ("sample-candidates", "search-status", "select", "train-evaluate", "update-surrogate")


def _compile(tmp_path: Path, **options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    path = compile_pipeline(tmp_path / "p.yaml", CompileOptions(**options))
    spec, platform = yaml.safe_load_all(path.read_text())
    return spec, platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def _tasks(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every task of every DAG (name -> task spec), the root included."""
    out = dict(spec["root"]["dag"]["tasks"])
    for comp in spec["components"].values():
        out.update(comp.get("dag", {}).get("tasks", {}))
    return out


def test_checked_in_package_matches_a_fresh_compile(tmp_path: Path) -> None:
    fresh = compile_pipeline(tmp_path / "fresh.yaml")
    assert DEFAULT_PACKAGE.is_file(), "no compiled pipeline checked in: run `make compile`"
    assert DEFAULT_PACKAGE.read_text() == fresh.read_text(), (
        f"{DEFAULT_PACKAGE} is stale: run `make compile` and commit it"
    )


def test_rounds_are_unrolled_and_chained_by_done(tmp_path: Path) -> None:
    spec, _ = _compile(tmp_path, rounds=3, batch_size=2)
    executors = spec["deploymentSpec"]["executors"]
    for name in (
        "sample-candidates",
        "proxy-score",
        "select",
        "train-evaluate",
        "update-surrogate",
    ):
        assert sorted(k for k in executors if re.fullmatch(rf"exec-{name}(-\d+)?", k)) == sorted(
            [f"exec-{name}", f"exec-{name}-2", f"exec-{name}-3"]
        ), name
    tasks = _tasks(spec)
    conditions = [t.get("triggerPolicy", {}).get("condition") for t in tasks.values()]
    conditions = [c for c in conditions if c]
    # round 1 behind search-status, rounds 2 and 3 behind the previous update-surrogate
    assert sorted(conditions) == sorted(
        [
            "inputs.parameter_values['pipelinechannel--search-status-Output'] == false",
            "inputs.parameter_values['pipelinechannel--update-surrogate-Output'] == false",
            "inputs.parameter_values['pipelinechannel--update-surrogate-2-Output'] == false",
        ]
    )
    loops = {n: t for n, t in tasks.items() if "parameterIterator" in t}
    parallelism = sorted(
        t.get("iteratorPolicy", {}).get("parallelismLimit", 0) for t in loops.values()
    )
    assert parallelism == [1, 1, 1, 2, 2, 2]  # score shards and the training batch, per round
    exit_tasks = [n for n, t in spec["root"]["dag"]["tasks"].items() if n == "ensure-champion"]
    assert (
        exit_tasks
        and spec["root"]["dag"]["tasks"]["ensure-champion"]["triggerPolicy"]["strategy"]
        == "ALL_UPSTREAM_TASKS_COMPLETED"
    )


def test_default_package_has_five_rounds_and_state_uri_parameter() -> None:
    spec = next(yaml.safe_load_all(DEFAULT_PACKAGE.read_text()))
    executors = spec["deploymentSpec"]["executors"]
    assert len([k for k in executors if k.startswith("exec-train-evaluate")]) == 5
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert "defaultValue" not in params["state_uri"]
    assert set(params) == {
        "state_uri",
        "dataset",
        "budget",
        "settings",
        "search_id",
        "registry_name",
    }
    assert all(p.get("description") for p in params.values())


def test_train_evaluate_pods_get_gpu_placement_retries_and_credentials(tmp_path: Path) -> None:
    spec, k8s = _compile(
        tmp_path,
        rounds=2,
        batch_size=2,
        gpu_node_selector={"pool": "gpu-a100"},
        gpu_tolerations=("nvidia.com/gpu", "dedicated"),
    )
    container = spec["deploymentSpec"]["executors"]["exec-train-evaluate"]["container"]
    assert container["image"] == f"ghcr.io/proxybo/proxybo:{VERSION}"
    accelerator = container["resources"]["accelerator"]
    assert (accelerator["resourceType"], accelerator["resourceCount"]) == ("nvidia.com/gpu", "1")
    assert container["resources"]["resourceCpuRequest"] == "4"
    assert container["resources"]["resourceMemoryRequest"] == "16Gi"
    train = k8s["exec-train-evaluate"]
    assert train["nodeSelector"]["labels"] == {"pool": "gpu-a100"}
    assert [t["key"] for t in train["tolerations"]] == ["nvidia.com/gpu", "dedicated"]
    assert all(
        t["operator"] == "Exists" and t["effect"] == "NoSchedule" for t in train["tolerations"]
    )
    trains = [
        t
        for t in _tasks(spec).values()
        if t.get("componentRef", {}).get("name", "").startswith("comp-train-evaluate")
    ]
    assert len(trains) == 2
    assert all(t["retryPolicy"]["maxRetryCount"] == 2 for t in trains)
    assert [t["taskInfo"]["name"] for t in trains] == [
        "round 1: train-evaluate",
        "round 2: train-evaluate",
    ]
    for name, executor in k8s.items():
        envs = {
            e["envVar"]: group["secretName"]
            for group in executor["secretAsEnv"]
            for e in group["keyToEnv"]
        }
        assert envs["AWS_ACCESS_KEY_ID"] == "proxybo-credentials", name
        assert {"AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "MLFLOW_TRACKING_URI"} <= set(envs)
    others = [k for k in k8s if not k.startswith("exec-train-evaluate")]
    assert others and all("nodeSelector" not in k8s[k] for k in others)


def test_cpu_only_compile_drops_gpu_settings(tmp_path: Path) -> None:
    spec, k8s = _compile(tmp_path, rounds=1, accelerator_count=0)
    container = spec["deploymentSpec"]["executors"]["exec-train-evaluate"]["container"]
    assert "accelerator" not in container["resources"]
    assert "nodeSelector" not in k8s["exec-train-evaluate"]


def test_caching_is_off_for_every_stateful_step(tmp_path: Path) -> None:
    spec, _ = _compile(tmp_path, rounds=2, batch_size=2)
    seen = set()
    for task in _tasks(spec).values():
        comp = task.get("componentRef", {}).get("name", "")
        base = re.sub(r"^comp-|-\d+$", "", comp)
        if base in STATEFUL or base == "ensure-champion":
            seen.add(base)
            assert task.get("cachingOptions", {}).get("enableCache", False) is False, comp
    assert seen == {*STATEFUL, "ensure-champion"}


@pytest.mark.parametrize("options", [{"rounds": 0}, {"batch_size": 100}, {"accelerator_count": -1}])
def test_invalid_compile_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be between"):
        CompileOptions(**options)


def test_components_are_documented_lightweight_components_on_the_project_image() -> None:
    components = kfp_components.with_image(kfp_components.IMAGE)
    names = {c.component_spec.name for c in components.values()}
    assert {
        "sample-candidates",
        "proxy-score",
        "select",
        "train-evaluate",
        "update-surrogate",
    } <= names
    for comp in components.values():
        spec = comp.component_spec
        container = spec.implementation.container
        assert container.image == f"ghcr.io/proxybo/proxybo:{VERSION}"
        script = " ".join(container.command)
        assert "pip install" not in script, f"{spec.name} installs packages at run time"
        for name, inp in (spec.inputs or {}).items():
            assert inp.description, f"{spec.name}: input {name} is not documented"
        for name, out in (spec.outputs or {}).items():
            assert out.description, f"{spec.name}: output {name} is not documented"


def test_with_image_rebuilds_components_on_another_image() -> None:
    comps = kfp_components.with_image("registry.example/proxybo:dev-cpu")
    assert {c.component_spec.implementation.container.image for c in comps.values()} == {
        "registry.example/proxybo:dev-cpu"
    }
