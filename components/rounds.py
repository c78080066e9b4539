"""The steps of one search round as plain functions (engine-free).

The local runner calls them in-process, the Kubeflow components call them under `kfp.local` or
in pods. Inputs and outputs are JSON-friendly (strings, numbers, lists, dicts); every function
takes the `SearchSettings` (or their JSON string) and does its own state I/O through the state
store named by ``settings.state.uri``, so no step depends on memory another step left behind.

A round::

    pool = sample_candidates(settings)                      # reads the state, writes nothing
    scores = score_candidates(settings, pool)               # or fan out: shard=i, n_shards=k,
                                                            # then merge_scores(parts)
    batch = select_architectures(settings, pool, scores)    # writes pending (conditional)
    results = [train_evaluate(settings, **item) for item in batch]
    summary = update_surrogate(settings, results)           # tells (conditional), logs the round

and at the end ``ensure_champion(settings)``. Re-running any step is harmless: `select` returns
the batch already pending, `train_evaluate` returns a result already stored (in the state, or as
a FINISHED MLflow child run) without training again, `update_surrogate` ignores results already
told.

Accuracies in the state and in MLflow are fractions in [0, 1] (metric ``val_acc``).
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from components.config import SearchSettings, SettingsError
from optimizer.state import Evaluation, SearchState, StateError, validate_state

if TYPE_CHECKING:
    from components.data import Dataset
    from components.state_store import StateStore
    from components.tracking import MLflowTracker
    from optimizer.strategies import Strategy

__all__ = [
    "ensure_champion",
    "load_state",
    "merge_scores",
    "sample_candidates",
    "score_candidates",
    "select_architectures",
    "shard_bounds",
    "train_evaluate",
    "update_surrogate",
]

SettingsLike = SearchSettings | str | Mapping[str, Any]
"""`SearchSettings`, or its JSON string (what a KFP component receives), or a mapping."""

EXTRA_SEARCH_ID = "search_id"
TAG_ERROR = "proxybo.error"


# ------------------------------------------------------------------------------------ helpers


def _settings(settings: SettingsLike) -> SearchSettings:
    if isinstance(settings, SearchSettings):
        return settings
    return SearchSettings.from_json(settings)


def _store(s: SearchSettings) -> StateStore:
    from components.state_store import open_store

    return open_store(s.state.uri, validate=validate_state)


def _strategy(s: SearchSettings) -> Strategy:
    from optimizer.spaces.nb201 import NB201Space
    from optimizer.strategies import make_strategy

    return make_strategy(NB201Space(), s.search_config())


def load_state(settings: SettingsLike) -> SearchState | None:
    """The stored state (None if the search has not started).

    Raises:
        StateError: the state was made with other settings (the message lists them).
    """
    s = _settings(settings)
    found = _store(s).load()
    if found is None:
        return None
    return SearchState.from_json(found.doc, expected=s.search_config())


def _new_state(s: SearchSettings, strategy: Strategy) -> SearchState:
    state = strategy.new_state()
    state.extras[EXTRA_SEARCH_ID] = s.tracking.search_id or f"nb201-{uuid.uuid4().hex[:12]}"
    return state


def _search_id(s: SearchSettings, state: SearchState) -> str:
    stored = state.extras.get(EXTRA_SEARCH_ID)
    if s.tracking.search_id and stored and s.tracking.search_id != stored:
        raise SettingsError(
            f"tracking.search_id is {s.tracking.search_id!r} but the search stored at "
            f"{s.state.uri} logs to {stored!r}; drop the setting or use a new state location"
        )
    return str(stored or s.tracking.search_id or "proxybo")


@functools.lru_cache(maxsize=4)
def _dataset_cached(spec: str, seed: int, limit: int | None) -> Dataset:
    from components.data import load_dataset

    return load_dataset(spec, seed=seed, limit=limit)


def _dataset(s: SearchSettings) -> Dataset:
    return _dataset_cached(s.data.dataset, s.search.seed, s.data.limit)


def _device(s: SearchSettings) -> str:
    if s.training.device:
        return s.training.device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


_TRACKERS: dict[tuple[str, str, str], MLflowTracker] = {}


def _tracker(s: SearchSettings, state: SearchState) -> MLflowTracker:
    """The MLflow tracker of the search of `state`, with its parent run started (cached per
    process). The parent run records the settings the search runs with: those pinned when it
    started (`Strategy.for_state`)."""
    from components.tracking import MLflowTracker, Preprocessing, SearchSpec, resolve_tracking_uri

    search_id = _search_id(s, state)
    uri = resolve_tracking_uri(s.tracking.tracking_uri)
    key = (uri, s.tracking.registry_name, search_id)
    if key in _TRACKERS:
        return _TRACKERS[key]
    data = _dataset(s)
    tracker = MLflowTracker(
        uri,
        registered_model_name=s.tracking.registry_name,
        preprocessing=Preprocessing(
            input_shape=data.input_shape,
            mean=data.mean,
            std=data.std,
            class_labels=data.classes,
        ),
    )
    config = s.search_config()
    doc = config.to_json()
    doc.pop("budget")  # raising the budget continues the same parent run
    tracker.start_search(
        SearchSpec(
            search_id=search_id,
            config=doc,
            search_space=config.space,
            proxies=config.proxies,
            strategy=config.strategy,
            settings=_strategy(s).for_state(state).settings(),
        )
    )
    _TRACKERS[key] = tracker
    return tracker


def shard_bounds(n: int, shard: int, n_shards: int) -> tuple[int, int]:
    """`[lo, hi)` of shard `shard` of `n` items split into `n_shards` contiguous parts."""
    if n_shards < 1 or not 0 <= shard < n_shards:
        raise ValueError(
            f"shard must be in 0..n_shards-1 with n_shards >= 1, got {shard}/{n_shards}"
        )
    size = math.ceil(n / n_shards) if n else 0
    lo = min(n, shard * size)
    return lo, min(n, lo + size)


def merge_scores(parts: Sequence[Mapping[str, Sequence[float]]]) -> dict[str, list[float]]:
    """Concatenate the outputs of `score_candidates` for shards 0..k-1 (in shard order)."""
    out: dict[str, list[float]] = {}
    for part in parts:
        for name, values in part.items():
            out.setdefault(name, []).extend(float(v) for v in values)
    return out


# ------------------------------------------------------------------------------- the round


def sample_candidates(settings: SettingsLike) -> list[str]:
    """The pool of unevaluated architectures of the next round (NB201 arch strings).

    Deterministic for a stored state: the RNG is derived from the seed, the round and the number
    of evaluations, and nothing is written. Empty when the budget is used up.
    """
    s = _settings(settings)
    strategy = _strategy(s)
    state = load_state(s) or strategy.new_state()
    if state.remaining_budget <= 0:
        return []
    gen = np.random.default_rng([s.search.seed, state.round, len(state.history)])
    state.rng_state = dict(gen.bit_generator.state)
    return strategy.for_state(state).candidates(state)


def score_candidates(
    settings: SettingsLike, pool: Sequence[str], shard: int = 0, n_shards: int = 1
) -> dict[str, list[float]]:
    """Live zero-cost proxies of one shard of `pool`, on the NB201 network of the settings.

    Args:
        pool: architectures (from `sample_candidates`).
        shard, n_shards: score only ``pool[lo:hi]`` with ``(lo, hi) = shard_bounds(len(pool),
            shard, n_shards)``; `merge_scores` joins the shards in order.

    Returns:
        ``{proxy: [score per architecture of the shard]}`` for every configured proxy; a proxy
        that fails on an architecture gives NaN there (never a dropped entry).
    """
    import torch

    from optimizer.proxies import Batch

    s = _settings(settings)
    lo, hi = shard_bounds(len(pool), shard, n_shards)
    part = list(pool[lo:hi])
    names = list(s.search.proxies)
    out: dict[str, list[float]] = {n: [] for n in names}
    if not part or not names:
        return out
    data = _dataset(s)
    n = min(s.search.proxy_batch_size, len(data.y_train))
    x, y = data.sample_batch(n, seed=s.search.seed)
    device = _device(s)
    batch = Batch(torch.from_numpy(x).to(device), torch.from_numpy(y).to(device))
    for arch in part:
        scores = _score_one(s, arch, batch, names, data)
        for name in names:
            out[name].append(scores[name])
    return out


def _score_one(
    s: SearchSettings, arch: str, batch: Any, names: Sequence[str], data: Dataset
) -> dict[str, float]:
    from optimizer.proxies import score_architecture

    kwargs: dict[str, Any] = {
        "seed": s.search.seed,
        "C": s.network.C,
        "N": s.network.N,
        "num_classes": data.num_classes,
    }
    try:
        return {k: float(v) for k, v in score_architecture(arch, batch, names, **kwargs).items()}
    except Exception:
        out = {}
        for name in names:  # one at a time, so that only the failing proxy is NaN
            try:
                out[name] = float(score_architecture(arch, batch, [name], **kwargs)[name])
            except Exception:
                out[name] = math.nan
        return out


def select_architectures(
    settings: SettingsLike, pool: Sequence[str], scores: Mapping[str, Sequence[float]]
) -> list[dict[str, Any]]:
    """Choose the next batch from `pool` and record it as pending (conditional state update).

    Creates the state on the first round. Idempotent: while the state holds pending
    architectures (this round's batch, chosen before), returns those instead of choosing again.
    Pool members evaluated or pending in the meantime are skipped.

    Returns:
        ``[{"arch", "round", "proxies": {name: score}}]``; empty when the budget is used up.
    """
    s = _settings(settings)
    strategy = _strategy(s)
    config = strategy.config
    pool = list(pool)
    for name, values in scores.items():
        if len(values) != len(pool):
            raise ValueError(
                f"proxy {name!r} has {len(values)} scores for a pool of {len(pool)}; pass the "
                "merged scores of every shard"
            )
    if strategy.uses_proxies:
        missing = [p for p in config.proxies if p not in scores]
        if missing:
            raise ValueError(f"scores lack the proxies {missing}; run score_candidates first")
    chosen: list[dict[str, Any]] = []

    def apply(doc: dict[str, Any] | None) -> dict[str, Any]:
        state = (
            _new_state(s, strategy) if doc is None else SearchState.from_json(doc, expected=config)
        )
        if not state.pending:
            busy = state.busy_archs
            keep = [i for i, a in enumerate(pool) if a not in busy]
            sub = {
                k: np.asarray([float(v[i]) for i in keep], dtype=float) for k, v in scores.items()
            }
            strategy.for_state(state).select(state, [pool[i] for i in keep], sub, config.batch_size)
        chosen[:] = [p.to_json() for p in state.pending]
        return state.to_json()

    _store(s).update(apply)
    return [
        {
            "arch": p["arch"],
            "round": p["round"],
            "proxies": {k: float(v) for k, v in p["proxies"].items()},
        }
        for p in chosen
    ]


def train_evaluate(
    settings: SettingsLike, arch: str, round: int, proxies: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """Train `arch`, log it as an MLflow child run (with its model), return its `Evaluation`.

    Nothing is trained twice: an architecture already in the stored history returns that
    evaluation, and one already logged as a FINISHED child run for this round is read back from
    MLflow. A diverging training gives ``status="failed"`` with the reason in ``error``.

    Returns:
        `Evaluation.to_json()`: ``{"arch", "round", "metrics": {"val_acc", "test_acc"},
        "cost": {"train_seconds", "n_params"}, "proxies", "status", "error"}``.
    """
    from components.tracking import ArchitectureRecord
    from components.training import TrainConfig, train_architecture

    s = _settings(settings)
    state = load_state(s)
    if state is None:
        raise StateError(
            f"no search state at {s.state.uri}: run select_architectures before train_evaluate"
        )
    for done in state.history:
        if done.arch == arch:
            return done.to_json()
    proxies = {k: float(v) for k, v in (proxies or {}).items()}
    tracker = _tracker(s, state)
    recovered = _recover(tracker, arch, round, proxies)
    if recovered is not None:
        return recovered.to_json()

    data = _dataset(s)
    t = s.training
    cfg = TrainConfig(
        epochs=t.epochs,
        batch_size=t.batch_size,
        lr=t.lr,
        momentum=t.momentum,
        nesterov=t.nesterov,
        weight_decay=t.weight_decay,
        seed=s.search.seed,
        device=t.device,
    )
    result = train_architecture(arch, data, cfg, C=s.network.C, N=s.network.N)
    val = result.val_acc / 100.0 if result.val_acc is not None else math.nan
    test = result.test_acc / 100.0 if result.test_acc is not None else None
    record = ArchitectureRecord(
        arch=arch,
        round=round,
        strategy=s.search.strategy,
        val_accuracy=val,
        test_accuracy=test,
        train_seconds=result.train_seconds,
        n_params=result.n_params,
        proxy_scores=proxies,
        curves={
            "train_loss": [h.train_loss for h in result.history],
            "val_loss": [h.val_loss for h in result.history],
            "val_accuracy": [h.val_acc / 100.0 for h in result.history],
        },
    )
    run_id = tracker.log_architecture(record, model=result.model, input_example=data.x_val[:2])
    if not result.ok:
        tracker.client.set_tag(run_id, TAG_ERROR, str(result.reason)[:5000])
    return _evaluation(
        arch, round, proxies, val, test, result.train_seconds, result.n_params, result.reason
    ).to_json()


def _evaluation(
    arch: str,
    round: int,
    proxies: Mapping[str, float],
    val: float,
    test: float | None,
    seconds: float | None,
    n_params: float | None,
    error: str | None,
) -> Evaluation:
    cost = {"train_seconds": seconds, "n_params": n_params}
    if error is not None or not math.isfinite(val):
        return Evaluation(
            arch=arch,
            round=round,
            cost={k: v for k, v in cost.items() if v is not None},
            proxies=proxies,
            status="failed",
            error=error or "no validation accuracy",
        )
    metrics = {"val_acc": val} if test is None else {"val_acc": val, "test_acc": test}
    return Evaluation(
        arch=arch,
        round=round,
        metrics=metrics,
        cost={k: v for k, v in cost.items() if v is not None},
        proxies=proxies,
    )


def _recover(
    tracker: MLflowTracker, arch: str, round: int, proxies: Mapping[str, float]
) -> Evaluation | None:
    """The evaluation of a FINISHED child run for (`arch`, `round`), if one was logged."""
    run_id = tracker.find_architecture_run(arch, round, status="FINISHED")
    if run_id is None:
        return None
    run = tracker.client.get_run(run_id)
    m = run.data.metrics
    error = run.data.tags.get(TAG_ERROR)
    if "val_accuracy" not in m and error is None:
        return None  # logged but its outcome is unknown: train again
    return _evaluation(
        arch,
        round,
        proxies,
        m.get("val_accuracy", math.nan),
        m.get("test_accuracy"),
        m.get("train_seconds"),
        m.get("n_params"),
        error,
    )


def update_surrogate(
    settings: SettingsLike, results: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Tell `results` (from `train_evaluate`) to the strategy and persist the state.

    Conditional update, idempotent (a result already told changes nothing). Then logs the round
    on the MLflow parent run (best so far, reliability, weights, plots) and makes sure the
    champion alias points at the best model.

    Returns:
        ``{"round", "n_evaluated", "budget", "best_arch", "best_val_acc", "recommended_arch",
        "recommended_round", "recommended_val_acc", "reliability", "weights", "kernel",
        "n_new", "done"}``
        (`recommended_*`: what the strategy would deploy now, `Strategy.recommend`: for the GP
        strategies the evaluated architecture with the highest posterior mean, which can differ
        from the best observed; `kernel`: the GP kernel in use, None before the GP or for
        strategies without one).
    """
    s = _settings(settings)
    strategy = _strategy(s)
    config = strategy.config
    evals = [Evaluation.from_json(r) for r in results]
    added: list[int] = []

    def apply(doc: dict[str, Any] | None) -> dict[str, Any]:
        if doc is None:
            raise StateError(f"no search state at {s.state.uri}: nothing to update")
        state = SearchState.from_json(doc, expected=config)
        added[:] = [len(strategy.for_state(state).tell(state, evals))]
        return state.to_json()

    doc = _store(s).update(apply)
    state = SearchState.from_json(doc, expected=config)
    summary = _summary(strategy.for_state(state), state)
    summary["round"] = max((e.round for e in evals), default=max(state.round - 1, 0))
    summary["n_new"] = added[0] if added else 0
    best = state.best()
    if best is not None:
        from components.tracking import RoundRecord

        tracker = _tracker(s, state)
        tracker.log_round(
            RoundRecord(
                round=summary["round"],
                best_so_far=best.metrics[config.objective],
                reliability=summary["reliability"],
                weights=summary["weights"],
                recommended_arch=summary["recommended_arch"],
                recommended_round=summary["recommended_round"],
                recommended_val_acc=summary["recommended_val_acc"],
            )
        )
        _promote(s, tracker, state)
    return summary


def _summary(strategy: Strategy, state: SearchState) -> dict[str, Any]:
    best = state.best()
    weights_fn = getattr(strategy, "current_weights", None)
    weights = dict(weights_fn(state)) if callable(weights_fn) else {}
    kernel_fn = getattr(strategy, "kernel_in_use", None)
    rec = strategy.recommend(state)
    objective = state.config.objective
    return {
        "round": max(state.round - 1, 0),
        "n_evaluated": state.n_evaluated,
        "budget": state.config.budget,
        "best_arch": best.arch if best else None,
        "best_val_acc": best.metrics[objective] if best else None,
        "recommended_arch": rec.arch if rec else None,
        "recommended_round": rec.round if rec else None,
        "recommended_val_acc": rec.metrics[objective] if rec else None,
        "reliability": dict(state.reliability[-1].reliability) if state.reliability else {},
        "weights": {k: float(v) for k, v in weights.items()},
        "kernel": kernel_fn(state) if callable(kernel_fn) else None,
        "n_pending": len(state.pending),
        "done": state.done,
    }


def search_summary(state: SearchState) -> dict[str, Any]:
    """`update_surrogate`'s summary for any stored state (used by `proxybo status`), with the
    test accuracy of the best and of the recommended architecture (``best_test_acc``,
    ``recommended_test_acc``; None where not measured)."""
    from optimizer.spaces.nb201 import NB201Space
    from optimizer.strategies import make_strategy

    out = _summary(make_strategy(NB201Space(), state.config).for_state(state), state)
    test = {e.arch: e.metrics.get("test_acc") for e in state.observed()}
    out["best_test_acc"] = test.get(out["best_arch"])
    out["recommended_test_acc"] = test.get(out["recommended_arch"])
    out["search_id"] = state.extras.get(EXTRA_SEARCH_ID)
    out["n_failed"] = sum(1 for e in state.history if e.status != "ok")
    out["strategy"] = state.config.strategy
    out["proxies"] = list(state.config.proxies)
    return out


def _promote(
    s: SearchSettings, tracker: MLflowTracker, state: SearchState
) -> dict[str, Any] | None:
    """Point the champion alias at the best evaluated model unless a better one holds it."""
    from components.tracking import ArchitectureRecord, champion_info

    name = s.tracking.registry_name
    best = state.best()
    current = champion_info(name, client=tracker.client)
    if best is None:
        return current
    acc = best.metrics[state.config.objective]
    if current is not None and not acc > current["val_accuracy"]:
        return current
    run_id = tracker.find_architecture_run(best.arch, best.round, status="FINISHED")
    if run_id is None or tracker.experiment_id is None:
        return current
    models = tracker.client.search_logged_models(
        [tracker.experiment_id], filter_string=f"source_run_id = '{run_id}'", max_results=1
    )
    if not models:
        return current
    record = ArchitectureRecord(
        arch=best.arch,
        round=best.round,
        strategy=state.config.strategy,
        val_accuracy=acc,
        test_accuracy=best.metrics.get("test_acc"),
    )
    tracker.promote_if_better(f"models:/{models[0].model_id}", record, run_id)
    return champion_info(name, client=tracker.client)


def ensure_champion(settings: SettingsLike) -> dict[str, Any] | None:
    """At the end of a search: make sure the champion alias holds the best model, close the
    parent run when the budget is used up, and return `champion_info` (None: no model yet)."""
    s = _settings(settings)
    state = load_state(s)
    if state is None:
        return None
    tracker = _tracker(s, state)
    info = _promote(s, tracker, state)
    if state.done:
        tracker.end_search("FINISHED")
    return info
