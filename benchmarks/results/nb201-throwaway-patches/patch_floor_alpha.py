"""Throwaway patch (not adopted, 2026-12-04): the proxy floor goes only to proxies whose Kendall
rank correlation (tau-b) with the objective on the evaluated architectures is positive at
significance level $A (default 0.05; scipy's one-sided test), instead of every proxy whose
pairwise accuracy is above 0.5. NaN scores count as the worst, as in the reliability measure.
Aimed at a negated snip that orders the evaluated cells of CIFAR-10 at 0.50-0.58 and so takes
a fifth of the default's picks (`trace_seed.py` in `results/nb201-intel-xeon-2026-12-04/`).
The records made before this patch existed carry the label `proxybo-features:floor_alpha=0.05`
(an option, since removed, that did the same: seeds 0-3 of ImageNet16-120 compared)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from scipy.stats import kendalltau

from optimizer.reliability import _nan_to_worst
from optimizer.state import SearchState
from optimizer.strategies.proxybo import GP, BayesianOptimization

ALPHA = float(os.environ.get("A", 0.05))


def _floor_proxies(
    self: BayesianOptimization, state: SearchState, names: Sequence[str]
) -> list[str]:
    proxies = [n for n in names if n != GP]
    obs = state.observed()
    y = state.objective_values()
    if not proxies or len(obs) < 3:
        return []
    out = []
    for p in proxies:
        v = _nan_to_worst(np.array([[e.proxies.get(p, np.nan)] for e in obs], dtype=float))[:, 0]
        pvalue = kendalltau(v, y, alternative="greater").pvalue
        if np.isfinite(pvalue) and pvalue < ALPHA:
            out.append(p)
    return out


BayesianOptimization._floor_proxies = _floor_proxies  # type: ignore[method-assign]
