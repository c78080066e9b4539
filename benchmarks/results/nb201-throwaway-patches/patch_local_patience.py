"""Throwaway patch (not adopted, 2026-12-04): the local phase steps aside once $P (default 10)
evaluations have passed without a new best, counted from the best's first arrival or from the
start of the phase (`local_after`), whichever came later; every round then takes the whole pool
until a new best arrives, and the phase resumes around it. Unlike `patch_stall_global.py`
(2026-11-29, before the sampled scorer), a best found before the phase does not end the phase
at once."""

from __future__ import annotations

import os

import numpy as np

from optimizer.state import SearchState
from optimizer.strategies.proxybo import BayesianOptimization

PATIENCE = int(os.environ.get("P", 10))
_local = BayesianOptimization._local_candidates


def _local_candidates(self: BayesianOptimization, state: SearchState) -> list[str]:
    out = _local(self, state)
    phase = self.local_phase
    if not out or phase is None:
        return out
    values = [e.metrics[self.config.objective] for e in state.observed()]
    first_best = int(np.argmax(values)) + 1  # the first of equal maxima
    if len(values) - max(first_best, phase[0]) >= PATIENCE:
        return []  # stalled: this round takes the whole pool
    return out


BayesianOptimization._local_candidates = _local_candidates  # type: ignore[method-assign]
