"""Throwaway patch (not adopted): the initial design's first coverage pass breaks its ties at
random, as plain BO's does; once every value is shown, the design runs as the default's (only the
proxies' best `design_top` of the subset may add coverage, ties by the equally weighted proxy
rank). Each call is given the proxy scores only once the first pass is complete."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from optimizer.state import SearchState
from optimizer.strategies.base import ProxyScores
from optimizer.strategies.proxybo import BayesianOptimization

_design = BayesianOptimization._initial_design


def _initial_design(
    self: BayesianOptimization,
    state: SearchState,
    pool: Sequence[str],
    scores: ProxyScores,
    q: int,
    rng: np.random.Generator,
) -> list[int]:
    busy = [e.arch for e in state.history] + [p.arch for p in state.pending]
    present = self.space.encode(pool).any(axis=0)
    seen = self.space.encode(busy).sum(axis=0) if busy else np.zeros(present.shape)
    first_pass = bool((seen[present] < 1).any())
    return _design(self, state, pool, {} if first_pass else scores, q, rng)


BayesianOptimization._initial_design = _initial_design  # type: ignore[method-assign]
