"""Throwaway patch: the initial design breaks its coverage ties at random among the proxies'
best share `S` (env, default 0.5) of its random subset, then at random among the rest, instead
of by the equally weighted proxy rank. Coverage comes first as before, so every value is still
shown. The idea: over a whole table the proxies tell broken cells from working ones (Kendall's
tau 0.4-0.6), within its best fifth they are near chance ("What the proxies see of the best
cells"), so let them keep the design out of the broken cells without choosing among the rest.
From the second pass on only the proxies' best `design_top` may add coverage, as in the
default."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from optimizer.reliability import descending_ranks, fuse_ranks, uniform_weights
from optimizer.state import SearchState
from optimizer.strategies.base import ProxyScores
from optimizer.strategies.proxybo import BayesianOptimization, picks_per_pass

_design = BayesianOptimization._initial_design
SHARE = float(os.environ.get("S", "0.5"))


def _initial_design(
    self: BayesianOptimization,
    state: SearchState,
    pool: Sequence[str],
    scores: ProxyScores,
    q: int,
    rng: np.random.Generator,
) -> list[int]:
    size = min(len(pool), self.init_pool)
    subset = rng.choice(len(pool), size=size, replace=False)
    enc = self.space.encode([pool[int(i)] for i in subset]) > 0.5
    if not (self.fusion and scores and self.n_init >= picks_per_pass(enc)):
        raise RuntimeError("patch_design_random_top is for proxy designs of a full pass")
    present = enc.any(axis=0)
    ranks = {p: descending_ranks(np.asarray(scores[p])[subset]) for p in self.config.proxies}
    fused = np.asarray(fuse_ranks(ranks, uniform_weights(list(ranks))), dtype=float)
    order = np.argsort(fused, kind="stable")
    top = np.zeros(size, dtype=bool)
    top[order[: int(SHARE * size)]] = True
    promising = np.zeros(size, dtype=bool)
    promising[order[: int(self.design_top * size)]] = True
    tie = rng.permutation(size).astype(float) + size * (~top)
    busy = [e.arch for e in state.history] + [p.arch for p in state.pending]
    seen = self.space.encode(busy).sum(axis=0) if busy else np.zeros(enc.shape[1])
    chosen: list[int] = []
    for _ in range(q):
        passes = seen[present].min() if present.any() else 0.0
        gain = (enc & (seen <= passes) & present).sum(axis=1).astype(float)
        if passes >= 1:
            gain[~promising] = -1.0
        gain[chosen] = -2.0
        pick = int(np.lexsort((tie, -gain))[0])
        chosen.append(pick)
        seen = seen + enc[pick]
    return [int(subset[i]) for i in chosen]


BayesianOptimization._initial_design = _initial_design  # type: ignore[method-assign]
