"""Throwaway patch: the local phase's rounds pick by expected improvement alone (no proxy
fusion); the global rounds and the rounds before the phase keep the fusion. Within the one-edit
neighbourhoods of the best cells the proxies barely order accuracy (benchmarks/README.md, "Why
the last step is slow"), so their share of the fused rank there may only add noise."""

from __future__ import annotations

from optimizer.state import SearchState
from optimizer.strategies.proxybo import BayesianOptimization

_local = BayesianOptimization._local_candidates
_rule = BayesianOptimization.fusion_rule


def _local_candidates(self: BayesianOptimization, state: SearchState) -> list[str]:
    out = _local(self, state)
    self._in_local = bool(out)  # type: ignore[attr-defined]
    return out


def _fusion_rule(self: BayesianOptimization) -> str | None:
    rule = _rule.fget(self)  # type: ignore[attr-defined]
    return None if getattr(self, "_in_local", False) else rule


BayesianOptimization._local_candidates = _local_candidates  # type: ignore[method-assign]
BayesianOptimization.fusion_rule = property(_fusion_rule)  # type: ignore[assignment,method-assign]
