"""Throwaway patch (not adopted): in the local phase, once the best has not improved for $S
(default 8) evaluations, every round takes the whole pool until it improves."""

from __future__ import annotations

import os

from optimizer.state import SearchState
from optimizer.strategies.proxybo import BayesianOptimization

STALL = int(os.environ.get("S", 8))
_local = BayesianOptimization._local_candidates


def _local_candidates(self: BayesianOptimization, state: SearchState) -> list[str]:
    out = _local(self, state)
    values = [e.metrics[self.config.objective] for e in state.observed()]
    if out and len(values) - 1 - max(range(len(values)), key=values.__getitem__) >= STALL:
        return []  # stalled: this round is global
    return out


BayesianOptimization._local_candidates = _local_candidates  # type: ignore[method-assign]
