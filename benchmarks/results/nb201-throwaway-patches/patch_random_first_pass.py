"""Throwaway patch: the initial design's first coverage pass breaks its ties at random (as plain
BO's does); from the second pass on, as the default, only the proxies' best `design_top` of the
subset may add coverage, ties by the equally weighted proxy rank."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from optimizer.reliability import descending_ranks, fuse_ranks, uniform_weights
from optimizer.state import SearchState
from optimizer.strategies.base import ProxyScores
from optimizer.strategies.proxybo import BayesianOptimization


def _initial_design(
    self: BayesianOptimization,
    state: SearchState,
    pool: Sequence[str],
    scores: ProxyScores,
    q: int,
    rng: np.random.Generator,
) -> list[int]:
    size = min(len(pool), self.init_pool)
    share = self.design_top
    subset = rng.choice(len(pool), size=size, replace=False)
    enc = self.space.encode([pool[int(i)] for i in subset]) > 0.5
    random_tie = rng.permutation(size).astype(float)
    if self.fusion and scores:
        ranks = {p: descending_ranks(np.asarray(scores[p])[subset]) for p in self.config.proxies}
        tie = np.asarray(fuse_ranks(ranks, uniform_weights(list(ranks))), dtype=float)
        promising = np.zeros(size, dtype=bool)
        promising[np.argsort(tie, kind="stable")[: int(share * size)]] = True
    else:
        tie = random_tie
        promising = np.ones(size, dtype=bool)
    busy = [e.arch for e in state.history] + [p.arch for p in state.pending]
    seen = self.space.encode(busy).sum(axis=0) if busy else np.zeros(enc.shape[1])
    present = enc.any(axis=0)
    chosen: list[int] = []
    for _ in range(q):
        passes = seen[present].min() if present.any() else 0.0
        gain = (enc & (seen <= passes) & present).sum(axis=1).astype(float)
        if passes >= 1:
            gain[~promising] = -1.0
        gain[chosen] = -2.0
        key = tie if passes >= 1 else random_tie
        pick = int(np.lexsort((key, -gain))[0])
        chosen.append(pick)
        seen = seen + enc[pick]
    return [int(subset[i]) for i in chosen]


BayesianOptimization._initial_design = _initial_design  # type: ignore[method-assign]
