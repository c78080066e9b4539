"""Strategies behind one ask/tell interface; `make_strategy` builds one by name."""

from __future__ import annotations

from optimizer.spaces.base import SearchSpace
from optimizer.state import SearchConfig
from optimizer.strategies.base import ProxyScores, ScoreFn, Strategy
from optimizer.strategies.baselines import ProxyWarmupEvolution, RandomSearch, RegularizedEvolution
from optimizer.strategies.proxybo import GP, BayesianOptimization, ProxyBO, ProxyBOFeatures

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        ProxyBO,
        ProxyBOFeatures,
        BayesianOptimization,
        RegularizedEvolution,
        RandomSearch,
        ProxyWarmupEvolution,
    )
}

DEFAULT_STRATEGY = "proxybo-features"
"""The variant that measured best on the NAS-Bench-201 tables (see benchmarks/README.md)."""


def make_strategy(space: SearchSpace, config: SearchConfig) -> Strategy:
    """The strategy `config.strategy` over `space`, its option values checked; an unknown name
    lists the known ones."""
    try:
        cls = STRATEGIES[config.strategy]
    except KeyError:
        raise ValueError(
            f"unknown strategy {config.strategy!r}; choose one of {', '.join(STRATEGIES)}"
        ) from None
    if cls.uses_proxies and not config.proxies:
        raise ValueError(f"strategy {config.strategy!r} needs at least one proxy")
    strategy = cls(space, config)
    strategy.check_options()
    return strategy


__all__ = [
    "DEFAULT_STRATEGY",
    "GP",
    "STRATEGIES",
    "BayesianOptimization",
    "ProxyBO",
    "ProxyBOFeatures",
    "ProxyScores",
    "ProxyWarmupEvolution",
    "RandomSearch",
    "RegularizedEvolution",
    "ScoreFn",
    "Strategy",
    "make_strategy",
]
