"""Shared by the throwaway patches of 2026-12-04 (`patch_global_*.py`): the local phase's rounds
that take the whole pool, and a way to choose differently in those rounds only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from optimizer.state import SearchState
from optimizer.strategies.base import ProxyScores
from optimizer.strategies.proxybo import BayesianOptimization

Batch = Callable[[BayesianOptimization, SearchState, Sequence[str], ProxyScores, int], list[int]]


def whole_pool_round_in_phase(strategy: BayesianOptimization, state: SearchState) -> bool:
    """Whether this round is in the local phase (`local_after` reached) and still chooses from
    the whole pool: a `global_every` round, or the neighbours of the best are all evaluated."""
    phase = strategy.local_phase
    return (
        phase is not None
        and len(state.observed()) >= phase[0]
        and not strategy._local_candidates(state)
    )


@dataclass
class WholePoolRound:
    """One such round, as `_bo_batch` gets it; `usual` is the unpatched `_bo_batch`."""

    strategy: BayesianOptimization
    state: SearchState
    pool: Sequence[str]
    scores: ProxyScores
    q: int
    usual: Batch


def replace_whole_pool_rounds(choose: Callable[[WholePoolRound], list[int]]) -> None:
    """Make `choose` pick the batch in those rounds; every other round keeps `_bo_batch`."""
    usual: Batch = BayesianOptimization._bo_batch

    def _bo_batch(
        self: BayesianOptimization,
        state: SearchState,
        pool: Sequence[str],
        scores: ProxyScores,
        q: int,
    ) -> list[int]:
        if not whole_pool_round_in_phase(self, state):
            return usual(self, state, pool, scores, q)
        return choose(WholePoolRound(self, state, pool, scores, q, usual))

    BayesianOptimization._bo_batch = _bo_batch  # type: ignore[method-assign]
