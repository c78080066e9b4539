"""Throwaway patch (not adopted): the initial design breaks its coverage ties at random for
every strategy, as plain BO does, instead of by the equally weighted proxy ranking."""

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
    return _design(self, state, pool, {}, q, rng)  # no scores: ties are random


BayesianOptimization._initial_design = _initial_design  # type: ignore[method-assign]
