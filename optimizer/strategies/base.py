"""The ask/tell interface every strategy shares, over one `SearchState`.

A round is: `candidates` (the pool) -> proxy scores of the pool (computed by the caller: live
torch proxies, a table lookup, or a pipeline step) -> `select` (q architectures, recorded as
pending) -> evaluation -> `tell` (results into the history, surrogate and reliability refreshed).
`ask` chains the first three for in-process drivers (the benchmark and the local runner).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from optimizer.spaces.base import SearchSpace
from optimizer.state import Evaluation, SearchConfig, SearchState, StateError

ProxyScores = Mapping[str, np.ndarray]
"""Proxy name -> scores of a list of architectures, aligned with that list (`m` each)."""

ScoreFn = Callable[[Sequence[str]], dict[str, np.ndarray]]
"""Computes `ProxyScores` for a list of architectures."""

PINNED_OPTIONS = "pinned_options"
"""`SearchState.extras` key of the options a search started with, defaults filled in
(`Strategy.effective_options`): a later version whose defaults differ resumes the search with
these (`Strategy.for_state`)."""


class Strategy(ABC):
    """A search strategy: stateless itself, all memory lives in the `SearchState`."""

    name: str = ""
    uses_proxies: bool = False
    """Whether `select` looks at proxy scores (otherwise callers may skip computing them)."""
    legacy_options: Mapping[str, Any] = {}
    """Values of options added after searches began to be pinned (`for_state`) that give the
    behaviour from before each option existed, for a state pinned without them."""
    option_names: tuple[str, ...] = ()
    """The keys of `SearchConfig.options` this strategy reads. The options may hold other keys
    (the main job keeps its training settings there, in the fingerprint); a caller that takes
    strategy options from a user rejects keys outside these (see `proxybo.benchmark`)."""

    def __init__(self, space: SearchSpace, config: SearchConfig) -> None:
        self.space = space
        self.config = config

    def check_options(self) -> None:  # noqa: B027
        """Raise a ValueError naming the first option with a value this strategy cannot run
        with. `make_strategy` calls it, so bad options fail before anything runs or is stored."""

    def new_state(self) -> SearchState:
        """An empty state that pins this strategy's options, defaults filled in (`for_state`)."""
        state = SearchState(self.config)
        state.extras[PINNED_OPTIONS] = self.effective_options()
        return state

    def settings(self) -> dict[str, Any]:
        """The options this strategy runs with, its defaults filled in: what a user reads in
        the tracking UI next to the options they set. JSON values; null where an option is off
        (or, for `refit_every`, adaptive)."""
        return dict(self.config.options)

    def effective_options(self) -> dict[str, Any]:
        """Options (JSON values) that make this strategy behave as it does now under any
        version's defaults: the options set, with every default this strategy reads filled
        in. `new_state` stores them in the state."""
        return dict(self.config.options)

    def for_state(self, state: SearchState) -> Strategy:
        """This strategy as `state`'s search started: options the config leaves unset take
        the values pinned when the search began (`new_state`), so a search resumed by a later
        version whose defaults changed goes on as it started. Options the config sets are
        part of its fingerprint and so already equal; options added since the state was pinned
        take their `legacy_options` values. A state stored before options were pinned is
        pinned here, to this version's defaults (the caller saves the state)."""
        pinned = state.extras.get(PINNED_OPTIONS)
        if not isinstance(pinned, Mapping):
            state.extras[PINNED_OPTIONS] = self.effective_options()
            return self
        legacy = {k: v for k, v in self.legacy_options.items() if k in self.option_names}
        options = {**legacy, **pinned, **self.config.options}
        if options == dict(self.config.options):
            return self
        strategy = type(self)(self.space, replace(self.config, options=options))
        strategy.check_options()
        return strategy

    # ----- the round -------------------------------------------------------------------------
    @abstractmethod
    def candidates(self, state: SearchState) -> list[str]:
        """The pool of unevaluated architectures this round chooses from."""

    def _choose(
        self, state: SearchState, pool: Sequence[str], scores: ProxyScores, q: int
    ) -> list[int]:
        """Positions in `pool` of the `q` architectures to evaluate next (default: the pool is
        already the batch, as for random search and evolution)."""
        return list(range(q))

    def select(
        self, state: SearchState, pool: Sequence[str], scores: ProxyScores, q: int
    ) -> list[str]:
        """Choose up to `q` architectures from `pool` and record them as pending."""
        q = min(q, state.remaining_budget, len(pool))
        if q <= 0:
            return []
        for name, values in scores.items():
            if len(values) != len(pool):
                raise ValueError(
                    f"proxy {name!r} has {len(values)} scores for a pool of {len(pool)}"
                )
        busy = state.busy_archs
        if any(a in busy for a in pool):
            raise StateError("the pool contains architectures that are evaluated or pending")
        picks = self._choose(state, pool, scores, q)
        if len(set(picks)) != len(picks):
            raise AssertionError(f"{self.name} chose the same candidate twice")
        archs = [pool[i] for i in picks]
        proxies = [{k: float(v[i]) for k, v in scores.items()} for i in picks]
        state.add_pending(archs, proxies)
        state.round += 1
        return archs

    def ask(self, state: SearchState, q: int, score_fn: ScoreFn | None = None) -> list[str]:
        """Candidates, their proxy scores (when this strategy uses them) and the selection."""
        pool = self.candidates(state)
        scores = score_fn(pool) if (score_fn is not None and self.config.proxies) else {}
        return self.select(state, pool, scores, q)

    def tell(self, state: SearchState, results: Sequence[Evaluation]) -> list[Evaluation]:
        """Record results (idempotent); returns those that were new."""
        pending = {p.arch: p for p in state.pending}
        filled = []
        for r in results:
            if not r.proxies and r.arch in pending and pending[r.arch].proxies:
                r = Evaluation(
                    arch=r.arch,
                    round=r.round,
                    metrics=r.metrics,
                    cost=r.cost,
                    proxies=pending[r.arch].proxies,
                    status=r.status,
                    error=r.error,
                )
            filled.append(r)
        added = state.record(filled)
        if added:
            self._after_tell(state, added)
        return added

    def _after_tell(self, state: SearchState, added: Sequence[Evaluation]) -> None:  # noqa: B027
        """Hook for strategies that refresh a model after new results (default: nothing)."""

    def recommend(self, state: SearchState) -> Evaluation | None:
        """The evaluated architecture this strategy would deploy now (None before any result):
        the best observed here; a strategy with a model may prefer the one its model rates best,
        since with noisy accuracies the best observed value is often a lucky one."""
        return state.best()

    # ----- helpers ---------------------------------------------------------------------------
    def _unevaluated_sample(
        self, state: SearchState, rng: np.random.Generator, n: int, exclude: set[str] | None = None
    ) -> list[str]:
        """Up to `n` distinct random architectures that are neither evaluated nor pending."""
        busy = state.busy_archs | (exclude or set())
        pool = self.space.finite_pool()
        if pool is not None:
            free = [a for a in pool if a not in busy]
            if len(free) <= n:
                return free
            return [free[int(i)] for i in rng.choice(len(free), size=n, replace=False)]
        out: list[str] = []
        seen = set(busy)
        for _ in range(100):
            for arch in self.space.sample(rng, max(n, 16)):
                if arch not in seen:
                    seen.add(arch)
                    out.append(arch)
                    if len(out) == n:
                        return out
        return out
