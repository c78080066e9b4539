"""What the Kubeflow steps show and hand on: run settings, step outcomes, UI tables (engine-free).

The KFP components in `components.kfp_components` are thin: each parses its inputs, calls one
function of this module or of `components.rounds`, and writes its outputs. This module holds
what sits between the round steps and Kubeflow:

- `run_settings`: the `SearchSettings` of a pipeline run, from its parameters;
- `search_done`, `sample_shards`, `score_shard`, `select_step`, `train_step`, `update_step`:
  a round step plus what Kubeflow needs from it (the ``done`` flag the pipeline branches on,
  the pool in shards, order-free shard merging, KFP metrics, a Markdown table for the run page);
- the Markdown formatters themselves (`selection_markdown`, `round_markdown`), pure functions
  of plain data.

Accuracies are fractions in [0, 1]; tables show them as percentages.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from components.config import SearchSettings
from optimizer.reliability import descending_ranks, fuse_ranks

__all__ = [
    "RoundOutcome",
    "SelectOutcome",
    "TrainOutcome",
    "round_markdown",
    "round_metrics",
    "run_settings",
    "sample_shards",
    "score_shard",
    "search_done",
    "select_step",
    "selection_markdown",
    "train_step",
    "update_step",
]

GP = "gp"


# ------------------------------------------------------------------------------ settings


def run_settings(
    settings: Mapping[str, Any] | str,
    *,
    state_uri: str,
    dataset: str,
    budget: int,
    batch_size: int,
    search_id: str = "",
    registry_name: str = "",
) -> SearchSettings:
    """The settings of one pipeline run: `settings` (sections of `SearchSettings`, as a mapping
    or JSON) with the run's parameters on top. Empty strings leave a setting as it is.

    Raises `components.config.SettingsError` naming the key and what to change.
    """
    base = SearchSettings.from_json(settings if isinstance(settings, str) else dict(settings))
    return base.with_overrides(
        {
            "state.uri": state_uri,
            "data.dataset": dataset or None,
            "search.budget": budget,
            "search.batch_size": batch_size,
            "tracking.search_id": search_id or None,
            "tracking.registry_name": registry_name or None,
        }
    )


# ------------------------------------------------------------------------------ steps


def search_done(settings: SearchSettings | str) -> bool:
    """Whether the stored search has used its budget (False before the first round).

    Not the same as an empty pool: a state with a pending batch has an empty pool but work
    left (the batch is trained again after a failed run)."""
    from components.rounds import load_state

    state = load_state(settings)
    return bool(state is not None and state.done)


@dataclass(frozen=True)
class SelectOutcome:
    """The chosen batch (``[{"arch", "round", "proxies"}]``) and its Markdown table."""

    selection: list[dict[str, Any]]
    markdown: str


def sample_shards(settings: SearchSettings | str, n_shards: int) -> list[list[str]]:
    """`rounds.sample_candidates`, split into `n_shards` contiguous shards (some may be empty;
    there are always `n_shards`, so a fan-out over them never iterates over nothing)."""
    from components.rounds import sample_candidates, shard_bounds

    pool = list(sample_candidates(settings))
    bounds = [shard_bounds(len(pool), i, n_shards) for i in range(n_shards)]
    return [pool[lo:hi] for lo, hi in bounds]


def score_shard(settings: SearchSettings | str, pool: Sequence[str]) -> dict[str, Any]:
    """`rounds.score_candidates` of one shard, with the shard itself: ``{"pool", "scores"}``
    (so that merging the shards does not depend on the order they come back in)."""
    from components.rounds import score_candidates

    return {"pool": list(pool), "scores": score_candidates(settings, list(pool))}


def select_step(
    settings: SearchSettings | str, score_parts: Sequence[Mapping[str, Any]]
) -> SelectOutcome:
    """Join the `score_shard` parts into the pool and its scores, run
    `rounds.select_architectures`, and tabulate the choice with the scorer weights the
    selection used (the latest in the state)."""
    from components.rounds import load_state, merge_scores, select_architectures

    parts = list(score_parts)
    pool = [str(a) for part in parts for a in part["pool"]]
    scores = merge_scores([part["scores"] for part in parts])
    before = load_state(settings)
    weights = dict(before.reliability[-1].weights) if before and before.reliability else {}
    selection = select_architectures(settings, pool, scores)
    return SelectOutcome(selection, selection_markdown(pool, scores, selection, weights))


@dataclass(frozen=True)
class TrainOutcome:
    """`rounds.train_evaluate`'s evaluation (without null fields) and its KFP metrics."""

    evaluation: dict[str, Any]
    metrics: dict[str, float]


def train_step(
    settings: SearchSettings | str, arch: str, round: int, proxies: Mapping[str, float]
) -> TrainOutcome:
    """`rounds.train_evaluate`, with the accuracies, training seconds and parameter count as
    metrics. Null fields (``"error": None``) are left out of the evaluation: KFP parameter
    structs cannot carry nulls under ``kfp.local`` (`Evaluation.from_json` restores them)."""
    from components.rounds import train_evaluate

    evaluation = train_evaluate(settings, arch, round, dict(proxies))
    metrics = {
        str(k): float(v)
        for k, v in {**evaluation.get("metrics", {}), **evaluation.get("cost", {})}.items()
        if v is not None and math.isfinite(float(v))
    }
    clean = {k: v for k, v in evaluation.items() if v is not None}
    return TrainOutcome(evaluation=clean, metrics=metrics)


@dataclass(frozen=True)
class RoundOutcome:
    """`rounds.update_surrogate`'s summary, its KFP metrics and the round's Markdown table."""

    summary: dict[str, Any]
    metrics: dict[str, float]
    markdown: str
    done: bool = field(default=False)


def update_step(
    settings: SearchSettings | str, results: Sequence[Mapping[str, Any]]
) -> RoundOutcome:
    """`rounds.update_surrogate` on the round's results, with what the run page shows."""
    from components.rounds import update_surrogate

    summary = update_surrogate(settings, list(results))
    return RoundOutcome(
        summary=summary,
        metrics=round_metrics(summary),
        markdown=round_markdown(summary, results),
        done=bool(summary.get("done")),
    )


# ------------------------------------------------------------------------------ formatting


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "–"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(f):
        return "NaN" if math.isnan(f) else ("∞" if f > 0 else "−∞")
    return f"{f:.{digits}g}"


def _pct(v: Any) -> str:
    if v is None:
        return "–"
    f = float(v)
    return f"{100 * f:.2f} %" if math.isfinite(f) else "–"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def selection_markdown(
    pool: Sequence[str],
    scores: Mapping[str, Sequence[float]],
    selection: Sequence[Mapping[str, Any]],
    weights: Mapping[str, float] | None = None,
) -> str:
    """Markdown: the chosen architectures, each proxy's score and rank in the pool (1 = best),
    and the fused proxy rank.

    The fused rank is the rank-weighted sum over proxies with the proxies' current `weights`
    (renormalised without the GP, whose EI ranking is internal to the selection; equal weights
    before the first reliability estimate). A selection item's own ``"fused_rank"`` wins if the
    strategy provides one.
    """
    pool = list(pool)
    names = [n for n in scores if len(scores[n]) == len(pool)]
    position = {a: i for i, a in enumerate(pool)}
    ranks = {n: descending_ranks(np.asarray(scores[n], dtype=float)) + 1 for n in names}
    proxy_w = {n: float((weights or {}).get(n, 0.0)) for n in names}
    if sum(proxy_w.values()) <= 0:
        proxy_w = {n: 1.0 for n in names}
    total = sum(proxy_w.values())
    fused_pos: dict[int, int] = {}
    if names and pool:
        fused = fuse_ranks(ranks, {n: w / total for n, w in proxy_w.items()})
        fused_pos = {int(i): k + 1 for k, i in enumerate(np.argsort(fused, kind="stable"))}

    header = ["#", "architecture", "round"]
    for n in names:
        header += [n, f"rank ({n})"]
    header.append("fused proxy rank")
    rows = []
    for k, item in enumerate(selection, start=1):
        arch = str(item["arch"])
        i = position.get(arch)
        row = [str(k), f"`{arch}`", str(int(item.get("round", 0)))]
        for n in names:
            score = item.get("proxies", {}).get(n, scores[n][i] if i is not None else None)
            row += [_fmt(score), str(int(ranks[n][i])) if i is not None else "–"]
        if "fused_rank" in item:
            row.append(_fmt(item["fused_rank"]))
        else:
            row.append(f"{fused_pos[i]} / {len(pool)}" if i is not None and fused_pos else "–")
        rows.append(row)

    lines = [
        f"### Selection: {len(selection)} of {len(pool)} candidates",
        "",
        *_table(header, rows),
        "",
    ]
    if not selection:
        lines.insert(2, "_Nothing selected: the budget is spent._\n")
    if weights:
        lines += [
            "Scorer weights used: "
            + ", ".join(f"{n} {_fmt(w, 3)}" for n, w in sorted(weights.items())),
            "",
        ]
    elif names:
        lines += ["No reliability estimate yet: proxies weighted equally.", ""]
    pending_only = [s for s in selection if str(s["arch"]) not in position]
    if pending_only:
        lines += [f"{len(pending_only)} architecture(s) resumed from a pending batch.", ""]
    return "\n".join(lines)


def round_metrics(summary: Mapping[str, Any]) -> dict[str, float]:
    """Flat KFP metrics of a round summary: best accuracy, the recommended architecture's
    accuracy, progress, and per scorer ``weight_<name>`` / ``reliability_<name>`` (non-finite
    values are left out)."""
    out: dict[str, float] = {}
    for key in ("best_val_acc", "recommended_val_acc", "n_evaluated", "budget", "round"):
        v = summary.get(key)
        if v is not None and math.isfinite(float(v)):
            out[key] = float(v)
    for prefix, key in (("weight", "weights"), ("reliability", "reliability")):
        for name, v in (summary.get(key) or {}).items():
            if v is not None and math.isfinite(float(v)):
                out[f"{prefix}_{name}"] = float(v)
    return out


def _recommended_line(summary: Mapping[str, Any]) -> list[str]:
    """The strategy's recommendation, where it differs from the best observed."""
    arch = summary.get("recommended_arch")
    if arch is None or arch == summary.get("best_arch"):
        return []
    return [
        f"- recommended: `{arch}` at {_pct(summary.get('recommended_val_acc'))} (the GP rates it "
        "highest of the evaluated: the best value may be partly noise)"
    ]


def round_markdown(summary: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> str:
    """Markdown: the round's trained architectures (accuracy, proxy scores, status), the
    reliability and weight of each scorer, and the search's progress."""
    results = list(results)
    proxy_names = sorted({n for r in results for n in (r.get("proxies") or {})})
    rows = []
    order = sorted(
        results,
        key=lambda r: -float((r.get("metrics") or {}).get("val_acc", -math.inf)),
    )
    for r in order:
        m = r.get("metrics") or {}
        status = r.get("status", "ok")
        if r.get("error"):
            status += f": {str(r['error'])[:80]}"
        rows.append(
            [
                f"`{r.get('arch')}`",
                _pct(m.get("val_acc")),
                _pct(m.get("test_acc")),
                *(_fmt((r.get("proxies") or {}).get(n)) for n in proxy_names),
                status,
            ]
        )
    rnd = summary.get("round", "?")
    lines = [
        f"### Round {rnd}: {len(results)} architecture(s) trained",
        "",
        *_table(["architecture", "val acc", "test acc", *proxy_names, "status"], rows),
        "",
        "### Scorers",
        "",
    ]
    rel = summary.get("reliability") or {}
    weights = summary.get("weights") or {}
    scorers = sorted(set(rel) | set(weights), key=lambda n: (n != GP, n))
    if scorers:
        lines += _table(
            ["scorer", "reliability (pairs ordered correctly)", "weight"],
            [[n, _fmt(rel.get(n), 3), _fmt(weights.get(n), 3)] for n in scorers],
        )
    else:
        lines.append("_No reliability estimate yet (too few evaluations)._")
    if summary.get("kernel"):
        lines += ["", f"GP kernel in use: {summary['kernel']}"]
    lines += [
        "",
        "### Search",
        "",
        f"- evaluated: {summary.get('n_evaluated', '?')} of {summary.get('budget', '?')}",
        f"- best: `{summary.get('best_arch')}` at {_pct(summary.get('best_val_acc'))}",
        *_recommended_line(summary),
        f"- done: {'yes' if summary.get('done') else 'no'}",
        "",
    ]
    return "\n".join(lines)
