"""The local runner: a whole search in-process, round after round, through `components.rounds`.

Interrupt it at any moment and run it again with the same settings: it resumes from the stored
state. Pending architectures of an interrupted round are evaluated first, each result is told
(persisted) as soon as it is known, and a result already logged to MLflow is read back instead of
trained again, so no finished evaluation is lost or repeated.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from components import rounds
from components.config import SearchSettings

__all__ = ["limit_torch_threads", "preflight", "run_search"]

Progress = Callable[[dict[str, Any]], None]
"""Called after every evaluation with `update_surrogate`'s summary (plus ``"arch"``)."""


def limit_torch_threads() -> None:
    """Use half the CPUs for torch's intra-op pool (on a shared 2-core machine: one thread,
    which is several times faster for these small networks than two competing ones)."""
    import torch

    torch.set_num_threads(max(1, min(torch.get_num_threads(), (os.cpu_count() or 2) // 2)))


def preflight(settings: SearchSettings) -> None:
    """Fail before any training: MLflow unreachable (`TrackingUnavailable`), state unreadable or
    made with other settings (`StateError` / `StateStoreError`), dataset unusable
    (`DatasetError`)."""
    from components.tracking import check_reachable, resolve_tracking_uri

    check_reachable(resolve_tracking_uri(settings.tracking.tracking_uri))
    rounds.load_state(settings)
    rounds._dataset(settings)


def run_search(settings: SearchSettings, progress: Progress | None = None) -> dict[str, Any]:
    """Run (or resume) the search until the budget is used up.

    Returns:
        ``{"summary": <search_summary of the final state>, "champion": <champion_info or
        None>}``: the same summary (test accuracies included) whether this call trained
        anything or found the budget already spent.
    """
    preflight(settings)
    summary: dict[str, Any] = {}
    batch: list[dict[str, Any]]
    while True:
        state = rounds.load_state(settings)
        if state is not None and state.done:
            break
        if state is not None and state.pending:
            batch = [
                {"arch": p.arch, "round": p.round, "proxies": dict(p.proxies)}
                for p in state.pending
            ]
        else:
            pool = rounds.sample_candidates(settings)
            scores = rounds.score_candidates(settings, pool)
            batch = rounds.select_architectures(settings, pool, scores)
        if not batch:
            break  # nothing left to choose from
        for item in batch:
            result = rounds.train_evaluate(settings, **item)
            summary = rounds.update_surrogate(settings, [result])
            if progress is not None:
                progress({**summary, "arch": item["arch"], "status": result["status"]})
    state = rounds.load_state(settings)
    if state is not None:
        summary = rounds.search_summary(state)
    champion = rounds.ensure_champion(settings)
    return {"summary": summary, "champion": champion}
