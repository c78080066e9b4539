"""Throwaway patch (not adopted): the local phase's centres are niched. The best evaluated cell
first, then each next-best whose distance (edges that differ) to every centre so far is at least
$R (default 2), until `local_top` centres; the pool is their unevaluated one-edit neighbours."""

from __future__ import annotations

import os

import numpy as np

from optimizer.state import Evaluation, SearchState
from optimizer.strategies.proxybo import BayesianOptimization

R = int(os.environ.get("R", "2"))


def _niched(self: BayesianOptimization, state: SearchState, k: int) -> list[Evaluation]:
    ranked = sorted(state.observed(), key=lambda e: -e.metrics[self.config.objective])
    codes = self.space.encode([e.arch for e in ranked])  # one-hot: distance = L1 / 2
    chosen: list[int] = []
    for i in range(len(ranked)):
        if all(np.abs(codes[i] - codes[j]).sum() / 2 >= R for j in chosen):
            chosen.append(i)
            if len(chosen) == k:
                break
    return [ranked[i] for i in chosen]


def _local_candidates(self: BayesianOptimization, state: SearchState) -> list[str]:
    phase = self.local_phase
    if phase is None:
        return []
    after, top_k, every = phase
    if len(state.observed()) < after:
        return []
    if every is not None and state.round % every == 0:
        return []
    top = _niched(self, state, top_k)
    busy = state.busy_archs
    near = (n for e in top for n in self.space.neighbours(e.arch) if n not in busy)
    return list(dict.fromkeys(near))


BayesianOptimization._local_candidates = _local_candidates  # type: ignore[method-assign]
