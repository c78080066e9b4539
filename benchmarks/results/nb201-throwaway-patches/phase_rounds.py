"""Shared by the throwaway patches of 2026-12-04 (`patch_global_*.py`): which rounds of the
local phase take the whole pool."""

from __future__ import annotations

from optimizer.state import SearchState
from optimizer.strategies.proxybo import BayesianOptimization


def whole_pool_round_in_phase(strategy: BayesianOptimization, state: SearchState) -> bool:
    """Whether this round is in the local phase (`local_after` reached) and still chooses from
    the whole pool: a `global_every` round, or the neighbours of the best are all evaluated."""
    phase = strategy.local_phase
    return (
        phase is not None
        and len(state.observed()) >= phase[0]
        and not strategy._local_candidates(state)
    )
