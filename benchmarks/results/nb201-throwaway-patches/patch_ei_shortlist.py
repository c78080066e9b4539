"""Throwaway patch: faithful ProxyBO's rank fusion over a shortlist, the $SHORTLIST (default 200)
unevaluated candidates with the highest expected improvement, as an acquisition optimizer that
returns its best candidates would hand them to the fusion; ranks are taken within the shortlist.
One pick per round (q=1, as in the benchmark)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from optimizer.reliability import descending_ranks, fuse_ranks
from optimizer.state import SearchState
from optimizer.strategies.base import ProxyScores
from optimizer.strategies.proxybo import GP, ProxyBO

K = int(os.environ.get("SHORTLIST", "200"))
_orig = ProxyBO._bo_batch


def _shortlist(
    self: ProxyBO, state: SearchState, pool: Sequence[str], scores: ProxyScores, q: int
) -> list[int]:
    if self.fusion_rule != "rank" or q != 1 or state.pending:
        return _orig(self, state, pool, scores, q)
    gp = self._current_gp(state)
    xpool = self._features(state, pool, scores)
    lei = gp.log_expected_improvement(xpool)
    top = np.argsort(-lei, kind="stable")[: min(K, len(pool))]
    weights = self.current_weights(state)
    ranks = {GP: descending_ranks(lei[top])}
    for p in self.config.proxies:
        if p in scores:
            ranks[p] = descending_ranks(np.asarray(scores[p], dtype=float)[top])
    fused = np.asarray(fuse_ranks(ranks, weights), dtype=float)
    order = np.lexsort((-lei[top], fused))
    return [int(top[order[0]])]


ProxyBO._bo_batch = _shortlist  # type: ignore[method-assign,assignment]
