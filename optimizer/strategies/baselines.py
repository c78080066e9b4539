"""Baselines: random search, regularized evolution, and evolution warmed up by proxies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from optimizer.reliability import descending_ranks, fuse_ranks, uniform_weights
from optimizer.state import SearchState
from optimizer.strategies.base import ProxyScores, Strategy
from optimizer.strategies.options import positive_int


class RandomSearch(Strategy):
    """Uniform sampling of unevaluated architectures."""

    name = "random"

    def candidates(self, state: SearchState) -> list[str]:
        rng = state.rng()
        out = self._unevaluated_sample(state, rng, self.config.batch_size)
        state.save_rng(rng)
        return out


class RegularizedEvolution(Strategy):
    """Regularized evolution (Real et al., 2019): the population is the `population` most
    recent evaluations; each child is a one-edge mutation of the best of `tournament` members
    drawn at random. Options: `population` (10), `tournament` (3).
    """

    name = "rea"
    option_names: tuple[str, ...] = ("population", "tournament")

    @property
    def population(self) -> int:
        return positive_int("population", self.config.options.get("population", 10))

    @property
    def tournament(self) -> int:
        return positive_int("tournament", self.config.options.get("tournament", 3))

    def check_options(self) -> None:
        _ = self.population, self.tournament

    def settings(self) -> dict[str, Any]:
        return {**self.config.options, "population": self.population, "tournament": self.tournament}

    def effective_options(self) -> dict[str, Any]:
        return self.settings()  # every setting here is an option

    def _initial(self, state: SearchState, rng: np.random.Generator, n: int) -> list[str]:
        return self._unevaluated_sample(state, rng, n)

    def candidates(self, state: SearchState) -> list[str]:
        """Random cells until the population is full (a batch never straddles that point),
        then one mutated child per batch slot."""
        rng = state.rng()
        q = min(self.config.batch_size, max(1, state.remaining_budget))
        started = len(state.history) + len(state.pending)
        if started < self.population:
            initial = self._initial(state, rng, min(q, self.population - started))
            state.save_rng(rng)
            return initial
        population = list(state.history)[-self.population :]
        obj = self.config.objective
        out: list[str] = []
        for _ in range(q):
            members = rng.choice(
                len(population), size=min(self.tournament, len(population)), replace=False
            )
            parent = max(
                (population[int(i)] for i in members),
                key=lambda e: e.metrics.get(obj, -np.inf) if e.status == "ok" else -np.inf,
            )
            busy = state.busy_archs | set(out)
            child = None
            for _ in range(50):
                c = self.space.mutate(parent.arch, rng)
                if c not in busy:
                    child = c
                    break
            if child is None:  # every tried mutation is known: fall back to a random cell
                fresh = self._unevaluated_sample(state, rng, 1, exclude=set(out))
                if not fresh:
                    break
                child = fresh[0]
            out.append(child)
        state.save_rng(rng)
        return out


class ProxyWarmupEvolution(RegularizedEvolution):
    """REA whose initial population is the top of a proxy ranking over a large random sample
    (Abdelfattah et al., ICLR 2021). Options: `warmup_sample` (3000), plus REA's.
    """

    name = "proxy-warmup"
    uses_proxies = True
    option_names = (*RegularizedEvolution.option_names, "warmup_sample")

    @property
    def warmup_sample(self) -> int:
        return positive_int("warmup_sample", self.config.options.get("warmup_sample", 3000))

    def check_options(self) -> None:
        super().check_options()
        _ = self.warmup_sample

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "warmup_sample": self.warmup_sample}

    def _initial(self, state: SearchState, rng: np.random.Generator, n: int) -> list[str]:
        return self._unevaluated_sample(state, rng, max(self.warmup_sample, n))

    def _choose(
        self, state: SearchState, pool: Sequence[str], scores: ProxyScores, q: int
    ) -> list[int]:
        started = len(state.history) + len(state.pending)
        if started >= self.population or not scores:
            return list(range(q))
        # the pool is the warm-up sample: take the top of the equally weighted proxy ranking
        ranks = {k: descending_ranks(np.asarray(v)) for k, v in scores.items()}
        fused = fuse_ranks(ranks, uniform_weights(list(ranks)))
        return [
            int(i) for i in np.argsort(fused, kind="stable")[: min(q, self.population - started)]
        ]
