"""Throwaway patch: the sampled scorer keeps a floor of probability for the proxies that order
the evaluated cells better than chance. With the option `proxy_floor` F (0 = the default's
draw), each pick follows, with probability F, one of the proxies whose latest pairwise accuracy
is above 0.5 (uniformly), and otherwise the scorer drawn with the reliability weights. In the
local phase the GP's weight is about 1.0, so without a floor every pick is expected improvement;
jacov ranked the lone best cell of ImageNet16-120 8th in the local pool where expected
improvement ranked it 25th (benchmarks/README.md, "The lone best cell"). A proxy that misleads
orders the evaluated cells worse than chance and gets no floor."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from optimizer.state import SearchState
from optimizer.strategies.proxybo import BayesianOptimization, ProxyBO, ProxyBOFeatures

ProxyBO.option_names = (*ProxyBO.option_names, "proxy_floor")
ProxyBOFeatures.option_names = ProxyBO.option_names


def _scorer_draws(
    self: BayesianOptimization, state: SearchState, weights: dict[str, float]
) -> Iterator[str]:
    floor = float(self.config.options.get("proxy_floor", 0.0))
    rel = state.reliability[-1].reliability if state.reliability else {}
    reliable = [p for p in self.config.proxies if rel.get(p, 0.0) > 0.5]
    names = sorted(weights)
    p = np.array([weights[n] for n in names], dtype=float)
    p = p / p.sum()
    if reliable and floor > 0:
        u = np.array([1.0 / len(reliable) if n in reliable else 0.0 for n in names])
        p = (1 - floor) * p + floor * u
    rng = np.random.default_rng([self.config.seed, len(state.history), 7])
    while True:
        yield names[int(rng.choice(len(names), p=p))]


BayesianOptimization._scorer_draws = _scorer_draws  # type: ignore[method-assign]
