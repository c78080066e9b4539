"""The Kubeflow Pipelines v2 components of a ProxyBO search round (lightweight components).

One image for all of them, ``ghcr.io/proxybo/proxybo:<package version>`` (`IMAGE`), with kfp
and proxybo installed (``install_kfp_package=False``; nothing is pip-installed at run time).
Each component's signature is its contract; its body parses the inputs, calls one library
function (`components.rounds`, `components.report`) and writes the outputs. KFP serialises the
bodies as source, so every import is inside the function.

Components (names as shown in the Kubeflow UI):

- ``configure``: validate the run's settings once, before anything runs;
- ``search-status``: whether the search has already used its budget (then nothing runs);
- ``sample-candidates``: the round's pool of unevaluated architectures;
- ``proxy-score``: zero-cost proxy scores of one shard of the pool;
- ``select``: merge the shards, choose the batch, show the choice (Markdown);
- ``train-evaluate``: train one architecture (GPU when present), log its MLflow child run;
- ``update-surrogate``: tell the results, persist the state, show the round (Metrics, Markdown);
- ``ensure-champion``: point the registry's ``champion`` alias at the best model.

`with_image` rebuilds the same components on another image (``proxybo compile --image``).

(No ``from __future__ import annotations`` here: KFP reads the annotations as types.)
"""

import importlib.metadata
from typing import Any

from kfp import dsl
from kfp.dsl import Artifact, Markdown, Metrics, Output

__all__ = [
    "IMAGE",
    "IMAGE_REPO",
    "configure",
    "ensure_champion",
    "proxy_score",
    "sample_candidates",
    "search_status",
    "select",
    "train_evaluate",
    "update_surrogate",
    "with_image",
]

IMAGE_REPO = "ghcr.io/proxybo/proxybo"
IMAGE = f"{IMAGE_REPO}:{importlib.metadata.version('proxybo')}"
"""The project image, tagged with the installed package version (``make image`` builds it)."""


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def configure(
    settings: dict,
    state_uri: str,
    dataset: str,
    budget: int,
    batch_size: int,
    search_id: str,
    registry_name: str,
) -> str:
    """Validate the search settings of this run and serialise them for the other steps.

    Args:
        settings: Sections of ``SearchSettings`` (search, network, data, training, tracking,
            state) as a JSON object; missing keys take their defaults.
        state_uri: Where the search state lives (``s3://bucket/prefix`` or a folder); the same
            URI continues the same search.
        dataset: ``digits``, ``fashion-mnist``, a ``.npz`` path or an ``s3://`` URI of one.
        budget: Architectures to train in total over all runs of this search.
        batch_size: Architectures trained in parallel per round (the compiled parallelism).
        search_id: Names the MLflow experiment; empty keeps the stored or generated one.
        registry_name: MLflow registered model whose ``champion`` alias follows the best model;
            empty keeps the settings' value.

    Returns:
        Output: The validated ``SearchSettings`` as a JSON string (the ``settings`` of every step).
    """
    from components.report import run_settings

    return run_settings(
        settings,
        state_uri=state_uri,
        dataset=dataset,
        budget=budget,
        batch_size=batch_size,
        search_id=search_id,
        registry_name=registry_name,
    ).to_json()


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def search_status(settings: str) -> bool:
    """Whether the stored search has already used its budget (then no round runs).

    Args:
        settings: ``SearchSettings`` JSON (the output of ``configure``).

    Returns:
        Output: True when the budget is spent; False otherwise, and before the first round.
    """
    from components.report import search_done

    return search_done(settings)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def sample_candidates(settings: str, n_shards: int) -> list:
    """Draw the round's pool of unevaluated architectures from the stored search state, split
    into shards for the ``proxy-score`` fan-out.

    Args:
        settings: ``SearchSettings`` JSON (the output of ``configure``).
        n_shards: Number of contiguous shards to split the pool into (one ``proxy-score`` pod
            each).

    Returns:
        Output: ``n_shards`` lists of NB201 architecture strings (all empty while only a
            pending batch is left to train).
    """
    from components.report import sample_shards

    return sample_shards(settings, int(n_shards))


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def proxy_score(settings: str, pool: list) -> dict:
    """Compute the zero-cost proxies of one shard of the pool on untrained networks.

    Args:
        settings: ``SearchSettings`` JSON (the output of ``configure``).
        pool: The shard: architectures to score (an item of ``sample-candidates``).

    Returns:
        Output: ``{"pool": [architecture], "scores": {proxy: [score per architecture]}}``,
            aligned with ``pool``; NaN where a proxy failed on an architecture.
    """
    from components.report import score_shard

    return score_shard(settings, pool)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def select(settings: str, score_parts: list, report: Output[Markdown]) -> list:
    """Choose the round's batch by fusing the GP's expected improvement with the proxy
    rankings, weighted by each scorer's reliability; record it as pending in the state.

    Args:
        settings: ``SearchSettings`` JSON (the output of ``configure``).
        score_parts: The ``proxy-score`` outputs of every shard (any order).

    Returns:
        report: Markdown table of the chosen architectures: proxy scores, rank of each in
            the pool, fused rank, and the scorer weights used.
        Output: The batch: ``[{"arch", "round", "proxies": {name: score}}]`` (the pending
            batch again if one is already recorded).
    """
    from components.report import select_step

    out = select_step(settings, score_parts)
    with open(report.path, "w", encoding="utf-8") as fh:
        fh.write(out.markdown)
    return out.selection


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train_evaluate(
    settings: str, arch: str, round: int, proxies: dict, metrics: Output[Metrics]
) -> dict:
    """Train one architecture on the settings' dataset (read from its URI: S3 or a path),
    on the GPU when the pod has one, and log it as an MLflow child run with its model.

    Args:
        settings: ``SearchSettings`` JSON (the output of ``configure``).
        arch: NB201 architecture string (an item of ``select``'s batch).
        round: The round it was selected in.
        proxies: Its proxy scores, logged with the run.

    Returns:
        metrics: ``val_acc``, ``test_acc`` (fractions), ``train_seconds``, ``n_params``.
        Output: The evaluation: ``{"arch", "round", "metrics", "cost", "proxies", "status",
            "error"}`` (``status`` "failed" with the reason when training diverged).
    """
    from components.report import train_step

    out = train_step(settings, arch, int(round), proxies)
    for name, value in out.metrics.items():
        metrics.log_metric(name, value)
    return out.evaluation


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def update_surrogate(
    settings: str,
    results: list,
    metrics: Output[Metrics],
    report: Output[Markdown],
    summary: Output[Artifact],
) -> bool:
    """Add the round's results to the history, refresh the surrogate and the reliability of
    every scorer, persist the state, and log the round on the MLflow parent run.

    Args:
        settings: ``SearchSettings`` JSON (the output of ``configure``).
        results: The ``train-evaluate`` outputs of the round (told once: replays are no-ops).

    Returns:
        metrics: ``best_val_acc``, ``recommended_val_acc`` (of the evaluated architecture
            the strategy would deploy now: for the GP strategies the highest posterior mean),
            ``n_evaluated``, ``budget``, ``round``, and per scorer (the GP and every proxy)
            ``weight_<name>`` and ``reliability_<name>``.
        report: Markdown table of the round: architectures, accuracies, proxy scores, and
            each scorer's reliability and weight.
        summary: JSON ``{"round", "n_evaluated", "budget", "best_arch", "best_val_acc",
            "recommended_arch", "recommended_val_acc", "reliability", "weights", "n_new",
            "done", ...}``.
        Output: Whether the budget is spent ("done": the remaining rounds are skipped).
    """
    import json

    from components.report import update_step

    out = update_step(settings, results)
    for name, value in out.metrics.items():
        metrics.log_metric(name, value)
    with open(report.path, "w", encoding="utf-8") as fh:
        fh.write(out.markdown)
    with open(summary.path, "w", encoding="utf-8") as fh:
        json.dump(out.summary, fh, indent=2, default=str)
    return out.done


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def ensure_champion(
    settings: dict,
    state_uri: str,
    dataset: str,
    budget: int,
    batch_size: int,
    search_id: str,
    registry_name: str,
) -> dict:
    """Make sure the registry's ``champion`` alias points at the best model of the search
    (runs last, also after a failed step), and close the MLflow parent run once the budget
    is spent. Takes the run's parameters, like ``configure`` (an exit step cannot consume
    other steps' outputs).

    Args:
        settings: As for ``configure``.
        state_uri: As for ``configure``.
        dataset: As for ``configure``.
        budget: As for ``configure``.
        batch_size: As for ``configure``.
        search_id: As for ``configure``.
        registry_name: As for ``configure``.

    Returns:
        Output: The champion: ``{"name", "version", "arch", "val_accuracy", "run_id", "search_id",
            "model_uri", "tags"}``; empty when no model is registered yet.
    """
    from components.report import run_settings
    from components.rounds import ensure_champion

    info = ensure_champion(
        run_settings(
            settings,
            state_uri=state_uri,
            dataset=dataset,
            budget=budget,
            batch_size=batch_size,
            search_id=search_id,
            registry_name=registry_name,
        )
    )
    return info or {}


_COMPONENTS = {
    "configure": configure,
    "search_status": search_status,
    "sample_candidates": sample_candidates,
    "proxy_score": proxy_score,
    "select": select,
    "train_evaluate": train_evaluate,
    "update_surrogate": update_surrogate,
    "ensure_champion": ensure_champion,
}


def with_image(image: str) -> dict[str, Any]:
    """Every component (Python name -> component), built on `image` instead of `IMAGE`."""
    if image == IMAGE:
        return dict(_COMPONENTS)
    return {
        name: dsl.component(base_image=image, install_kfp_package=False)(comp.python_func)
        for name, comp in _COMPONENTS.items()
    }
