"""GP-based strategies: plain BO (GP + expected improvement) and ProxyBO.

ProxyBO (Shen et al., AAAI 2023) fuses the EI ranking of the pool with each zero-cost proxy's
ranking, weighted by the probability that each scorer (the GP, every proxy) orders the evaluated
architectures best. Early on the proxies steer; as the GP learns its weight rises and the search
becomes plain BO; a proxy that misleads on this task loses its weight by itself.

Beyond the paper, `proxy_features=True` also gives the GP each proxy (as a quantile in [0, 1]) as
an input with its own ARD lengthscale, so a useful proxy sharpens the surrogate and a useless one
is learned away. That strategy, `proxybo-features`, is the default, and it also differs from the
paper in how the acquisition listens to the proxies (`fusion`, "sample": each pick follows one
scorer drawn with the reliability weights; `proxy_floor`: at least a fifth of the picks follow a
proxy that orders better than chance) and in a local phase; `proxybo` keeps the published rule
(the weighted rank sum) and the whole pool.

Options (all in `SearchConfig.options`; `BayesianOptimization.option_names` lists them, and
`make_strategy` checks every value, so a bad one fails before anything runs):
- `n_init` (an integer of at least 2): evaluations before the GP is used, chosen in passes that
  each cover every encoding value (operation on an edge) once more; ties go to the equally
  weighted proxy ranking (ProxyBO; `design_screen` turns the ranking into a screen) or are random
  (BO), within a random subset of `init_pool` candidates. Default 5: on NB201 five picks can cover
  every value once. A second pass (`n_init=10`, the default of `proxybo-features` under the rank
  fusion until 2026-12-02) shows every operation again in cells the proxies rate highly, so the GP
  does not judge an operation by the one weak cell it appeared in; with the sampled fusion a
  design of 5 measured better on both NB201 tables (benchmarks/README.md, "The sampled scorer on a
  second CPU vendor"). A design too short to show every value once (fewer picks than values over
  values per pick: `n_init` 4 or less on NB201, as in the main job) breaks its ties at random with
  proxies too: the value it leaves out would otherwise be the one the proxies rate lowest on each
  edge, which on NB201 is often the residual `skip_connect` of the best cells (left out in 43 of
  100 designs of 4 against 22 at random). Measured at the main job's and the pipeline's settings
  in benchmarks/README.md.
- `design_screen` (null): how the design's ties use the proxies. null breaks them by the
  proxies' equally weighted rank, best first. A share s lets the proxies screen instead of
  rank: ties go at random among their best s of the subset, then at random among the rest.
  Over a whole NB201 table the proxies tell broken cells from working ones (Kendall's tau
  0.4-0.6), but within the best fifth they order near chance. Measured for `proxybo-features`
  in benchmarks/README.md ("The proxies screen the design"): 0.5 is ahead on ImageNet16-120 on
  both numeric settings measured (an Intel Xeon natively, 120 seeds, and the AMD Zen 5's
  numerics, 60 seeds). On CIFAR-10 and with every proxy negated it is ahead or level on the
  Xeon and behind on the Zen 5's numerics, where one run of 30 seeds passes every point of
  the benchmark's goals in 30% of drawn runs against 42% with null. So it is not the default.
- `design_top` (0.2): from the second pass on (a design longer than one pass, such as
  `n_init=10` on NB201), only this fraction of the subset, the proxies' best, may add coverage;
  the second five picks thus show every operation again, this time in cells the proxies rate
  highly. 0 gives the proxies' best cells regardless of coverage (the
  rule before 2026-11-28's fourth session). Without proxies (BO) every candidate may.
- `kernel`: "auto" (default: both of the following are fitted after every observation and the
  one whose k-fold out-of-sample predictions order the evaluated architectures better is used,
  ties to ARD), "ard" (one lengthscale per encoding column and per proxy feature) or "hamming"
  (one lengthscale shared by the encoding, one per proxy feature).
- `init_pool`: size of that random subset (500), which keeps seeds apart.
- `pool_size`: candidates per round; None (default) is every unevaluated architecture of a
  finite space, an integer is half random cells, half mutations of the best seen (all of
  the ten best's unseen one-edit neighbours where they are fewer, the rest random).
- `local_after` (30 for `proxybo-features`, None = off for `bo` and `proxybo`): from this many
  evaluations on, the candidates are the unevaluated one-edit neighbours of the best `local_top`
  (5) evaluated architectures, and the whole pool again once those are all evaluated: a local
  phase that works through the top region instead of trying far, uncertain cells. With
  `global_every` (4 for `proxybo-features`, None = never for the others) every that many rounds
  of the phase choose from the whole pool, a way out of a region that traps a seed. Measured in
  benchmarks/README.md (4 against 2: level on CIFAR-10, fewer evaluations on ImageNet16-120 over
  60 seeds); `local_after=null` turns the phase off.
- `noise_floor` (0.1; None is BoTorch's default noise prior, which lets the GP nearly
  interpolate): the GP's noise variance, on the standardised copula scale, is held at this value
  or above, so the GP smooths over differences the encoding cannot explain instead of chasing
  them. Measured on both NB201 tables, 60 seeds each (benchmarks/README.md): 0.1 takes
  `proxybo-features` on ImageNet16-120 (whose fifteen best cells lie within 0.42 points) from
  71 to 64 evaluations and on CIFAR-10 from 56 to 51, plain BO from 149 to 106 and from 79 to
  72; faithful ProxyBO is level (137 to 122, 85 to 92), so every GP strategy has the same GP.
  0.2 gives the default 60 on ImageNet16-120 but 73 on CIFAR-10 (seeds 0-29; its best cell is
  0.04 points above the next), 0.05 gives 66 on ImageNet16-120 (seeds 0-29).
  `noise_floor=null` turns it off.
- `fusion` (ProxyBO: "rank"; `proxybo-features`: "sample"): how the acquisition
  listens to the proxies. "rank" is the published rule: the candidates are ordered by the sum
  over scorers of weight times rank. "sample" makes each pick with one scorer, drawn with the
  weights as probabilities: the GP picks by expected improvement, a proxy picks its best
  candidate (ties to expected improvement). The weights are each scorer's probability of being
  the most reliable, so this follows the scorer that is probably best, where the rank sum lets a
  scorer with a small weight overrule the GP's first choice by a rank gap of thousands. false
  ranks by expected improvement alone, an ablation. The design still breaks its ties by the
  proxies, the default's GP still takes them as inputs, and reliability and weights are measured
  and reported under every rule. Measured in benchmarks/README.md over 60 seeds on an Intel
  and an AMD CPU: with a design of 5, "sample" takes `proxybo-features` to the target in 64 and
  63 evaluations on ImageNet16-120 (the rank sum with a design of 10: 64 and 82) and 39 and 41
  on CIFAR-10 (51 and 59); with every proxy negated it stays within 1.2x of plain BO.
- `proxy_floor` (`proxybo-features`: 0.2; `proxybo`: 0; only under "sample"): the least share
  of picks that follow a proxy. With this probability a pick follows one of the proxies whose
  latest pairwise accuracy on the evaluated architectures is above 0.5 (each as likely), and
  otherwise the scorer drawn with the weights. The weights are each scorer's probability of
  ordering best, so from about 20 evaluations on the GP holds nearly all of it and every pick
  would be expected improvement; in the local phase, among the neighbours of the best cells,
  that overlooks cells the proxies rank high (ImageNet16-120's best cell: 25th by expected
  improvement, 8th by jacov, in the local pool). A proxy that orders worse than chance (one
  that misleads on this task) gets no floor. Measured over 60 seeds (benchmarks/README.md,
  "A floor for the proxies"): 0.2 takes the default on ImageNet16-120 from 63 to 51
  evaluations (0.1: 64; 0.3: 50), leaves CIFAR-10 level (42 against 41; 0.3: 46) and takes
  it with every proxy negated from 73 to 68 (plain BO: 74; 0.3: 84). Options pinned before
  this option existed (`for_state`) keep 0.
- `min_weight` (0: the published fusion): scorers whose weight is below it are left out of the
  rank fusion (an experiment, see benchmarks/README.md).
- `cv_folds` (5, at least 2), `n_boot` (200): reliability measurement; `refit_every`: refit the GP
  hyperparameters when this many observations arrived since the last fit (a positive integer;
  default adaptive: every observation up to 30, then every n/15; `refit_every=1` measured level
  with it on both NB201 tables, benchmarks/README.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import numpy as np

from optimizer.reliability import (
    best_scorer_probability,
    descending_ranks,
    fuse_ranks,
    pairwise_accuracy,
    uniform_weights,
)
from optimizer.state import Evaluation, RoundReliability, SearchState
from optimizer.strategies.base import ProxyScores, Strategy
from optimizer.strategies.options import positive_int, unit_number
from optimizer.surrogate import GPSurrogate

GP = "gp"
"""The scorer name of the surrogate in reliability and weights."""

_REF_POINTS = 257

FUSION_RULES: tuple[str, ...] = ("rank", "sample")
"""Values of the `fusion` option besides true (= "rank") and false."""

AUTO_KERNELS: tuple[str, ...] = ("ard", "hamming")
"""The kernels "auto" fits, in tie-breaking order."""

KERNELS: tuple[str, ...] = (*AUTO_KERNELS, "auto")
"""Values of the `kernel` option."""

DEFAULT_KERNEL: Final = "auto"
"""Measured best over both NB201 tables for the default strategy (benchmarks/README.md)."""


def pick_kernel(predictions: dict[str, np.ndarray], y: np.ndarray) -> str:
    """The kernel whose out-of-sample `predictions` (`n` each) order `y` (`n`) best by pairwise
    accuracy; ties go to the first in `predictions`' order."""
    names = list(predictions)
    acc = {k: float(pairwise_accuracy(v[:, None], y)[0]) for k, v in predictions.items()}
    return max(names, key=lambda k: (acc[k], -names.index(k)))


class BayesianOptimization(Strategy):
    """GP + expected improvement over the candidate pool; batches by fantasized observations
    (Kriging believer: each chosen architecture is added with its posterior mean before the
    next is chosen, so a batch spreads out instead of repeating one peak)."""

    name = "bo"
    fusion = False
    default_fusion = "rank"
    proxy_features = False
    default_n_init = 5
    default_design_top = 0.2
    default_local_after: int | None = None
    default_local_top = 5
    default_global_every: int | None = None
    # The GP's noise floor: measured on both NB201 tables for each GP strategy (benchmarks/README.md)
    default_noise_floor: float | None = 0.1
    default_proxy_floor = 0.0
    default_design_screen: float | None = None
    # Options added since searches pin theirs (2026-12-03), at the values of before.
    legacy_options: Mapping[str, Any] = {"proxy_floor": 0.0, "design_screen": None}
    option_names: tuple[str, ...] = (
        "n_init",
        "design_top",
        "init_pool",
        "kernel",
        "noise_floor",
        "pool_size",
        "local_after",
        "local_top",
        "global_every",
        "min_weight",
        "cv_folds",
        "n_boot",
        "refit_every",
    )

    # ----- options ---------------------------------------------------------------------------
    def _opt(self, key: str, default: object) -> object:
        return self.config.options.get(key, default)

    @property
    def kernel(self) -> str:
        """The `kernel` option: "ard", "hamming" or "auto"."""
        kernel = str(self._opt("kernel", DEFAULT_KERNEL))
        if kernel not in KERNELS:
            raise ValueError(f"option kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
        return kernel

    def _shared_for(self, kernel: str) -> int | None:
        """Columns sharing one lengthscale: the encoding with the "hamming" kernel; none (one
        lengthscale per column) with "ard"."""
        if kernel == "ard":
            return None
        return int(self.space.encode([]).shape[1]) if hasattr(self.space, "encode") else None

    @property
    def _candidate_kernels(self) -> list[str]:
        """The kernels fitted after each observation: both with "auto", else the one chosen."""
        return list(AUTO_KERNELS) if self.kernel == "auto" else [self.kernel]

    def kernel_in_use(self, state: SearchState) -> str | None:
        """The kernel of the current GP fit (None before the first fit)."""
        if state.surrogate is None:
            return None
        return str(state.surrogate.get("kernel", self._candidate_kernels[0]))

    @property
    def n_init(self) -> int:
        return positive_int("n_init", self._opt("n_init", self.default_n_init), least=2)

    @property
    def pool_size(self) -> int | None:
        """The `pool_size` option: candidates per round, or None for every unevaluated
        architecture of a finite space."""
        size = self._opt("pool_size", None)
        return None if size is None else positive_int("pool_size", size, alternative=" or null")

    @property
    def fusion_rule(self) -> str | None:
        """How the acquisition listens to the proxies (option `fusion`): "rank" (ProxyBO's
        weighted rank sum; `true` is the same), "sample" (each pick by one scorer drawn with the
        weights) or None (expected improvement alone: plain BO, or `fusion` false)."""
        if not self.fusion:
            return None
        value = self._opt("fusion", self.default_fusion)
        if value is True:
            return "rank"
        if value is False:
            return None
        if value not in FUSION_RULES:
            raise ValueError(
                f"option fusion must be true, false, 'rank' or 'sample', got {value!r}"
            )
        return str(value)

    def check_options(self) -> None:
        _ = self.n_init, self.design_top, self.init_pool, self.kernel, self.noise_floor
        _ = self.pool_size, self.local_phase, self.min_weight, self.cv_folds, self.n_boot
        _ = self.refit_every, self.fusion_rule, self.proxy_floor, self.design_screen

    @property
    def design_screen(self) -> float | None:
        """The `design_screen` option: the share of the design's subset, by the proxies' rank,
        among which its ties go at random first; None: ties by that rank."""
        value = self._opt("design_screen", self.default_design_screen)
        if value is None:
            return None
        share = unit_number("design_screen", value, closed=True, alternative=" or null")
        if share == 0:
            raise ValueError(
                "option design_screen must be above 0 (a share of the design's subset) or null, "
                "got 0"
            )
        return share

    @property
    def proxy_floor(self) -> float:
        """The `proxy_floor` option: the least share of the "sample" rule's picks that follow a
        proxy ordering the evaluated architectures better than chance; 0 under the other rules."""
        rule = self.fusion_rule
        value = self._opt("proxy_floor", None)
        if value is None:
            return self.default_proxy_floor if rule == "sample" else 0.0
        floor = unit_number("proxy_floor", value, closed=True)
        if floor > 0 and rule != "sample":
            raise ValueError(
                f"option proxy_floor applies to fusion 'sample' only, and fusion is "
                f"{rule or False!r}: drop proxy_floor or set fusion to 'sample'"
            )
        return floor

    def effective_options(self) -> dict[str, Any]:
        settings = self.settings()
        out = {
            k: v for k, v in settings.items() if k in self.option_names or k in self.config.options
        }
        if out["local_after"] is None:  # off: the phase's other options are not read
            out = {k: v for k, v in out.items() if k not in ("local_top", "global_every")}
        if "fusion" in self.option_names:
            out["fusion"] = settings["proxy_fusion"]
        return out

    def settings(self) -> dict[str, Any]:
        local_after, local_top, global_every = self.local_phase or (None, None, None)
        return {
            **self.config.options,
            "n_init": self.n_init,
            "design_top": self.design_top,
            "init_pool": self.init_pool,
            "kernel": self.kernel,
            "noise_floor": self.noise_floor,
            "pool_size": self.pool_size,
            "local_after": local_after,
            "local_top": local_top,
            "global_every": global_every,
            "min_weight": self.min_weight,
            "cv_folds": self.cv_folds,
            "n_boot": self.n_boot,
            "refit_every": self.refit_every,
            "proxy_fusion": self.fusion_rule or False,
            # ProxyBO's options that plain BO does not read
            **{
                k: getattr(self, k)
                for k in ("proxy_floor", "design_screen")
                if k in self.option_names
            },
            "proxy_features": self.proxy_features,
        }

    # ----- pool ------------------------------------------------------------------------------
    def _best_observed(self, state: SearchState, k: int) -> list[Evaluation]:
        """The `k` best evaluated architectures, best first."""
        return sorted(state.observed(), key=lambda e: -e.metrics[self.config.objective])[:k]

    @property
    def local_phase(self) -> tuple[int, int, int | None] | None:
        """The options `local_after`, `local_top` and `global_every`, or None when the local
        phase is off (`local_after` null)."""
        option = self._opt("local_after", self.default_local_after)
        if option is None:
            return None
        after = positive_int("local_after", option)
        top_k = positive_int("local_top", self._opt("local_top", self.default_local_top))
        option = self._opt("global_every", self.default_global_every)
        every = None if option is None else positive_int("global_every", option)
        return after, top_k, every

    def _local_candidates(self, state: SearchState) -> list[str]:
        """The local phase's pool (see `local_after`); empty before it or once exhausted."""
        phase = self.local_phase
        if phase is None:
            return []
        after, top_k, every = phase
        if len(state.observed()) < after:
            return []
        if every is not None and state.round % every == 0:
            return []
        top = self._best_observed(state, top_k)
        busy = state.busy_archs
        near = (n for e in top for n in self.space.neighbours(e.arch) if n not in busy)
        return list(dict.fromkeys(near))

    def candidates(self, state: SearchState) -> list[str]:
        local = self._local_candidates(state)
        if local:
            return local
        size = self.pool_size
        rng = state.rng()
        finite = self.space.finite_pool()
        if size is None and finite is not None:
            busy = state.busy_archs
            out = [a for a in finite if a not in busy]
        else:
            n = size if size is not None else 1000
            out = self._unevaluated_sample(state, rng, n - n // 2)
            seen = set(out) | state.busy_archs
            top = self._best_observed(state, 10)
            # One-edit children of the best not yet seen. Fewer than the pool still needs: take
            # them all, instead of drawing mutations until 20 n tries are spent on duplicates
            # (1 s per ask with 500 wanted from 240 on NB201).
            fresh = [c for e in top for c in self.space.neighbours(e.arch) if c not in seen]
            fresh = list(dict.fromkeys(fresh))
            if len(fresh) <= n - len(out):
                out += [fresh[int(i)] for i in rng.permutation(len(fresh))]
                seen.update(fresh)
            else:
                tries = 0
                while len(out) < n and tries < 20 * n:
                    tries += 1
                    child = self.space.mutate(top[int(rng.integers(len(top)))].arch, rng)
                    if child not in seen:
                        seen.add(child)
                        out.append(child)
            if len(out) < n:
                out += self._unevaluated_sample(state, rng, n - len(out), exclude=seen)
        state.save_rng(rng)
        return out

    # ----- features --------------------------------------------------------------------------
    def _features(
        self, state: SearchState, archs: Sequence[str], proxies: ProxyScores
    ) -> np.ndarray:
        x = self.space.encode(archs)
        if not (self.proxy_features and self.config.proxies):
            return x
        ref = state.extras.get("proxy_reference")
        if ref is None:
            raise RuntimeError("proxy features need a proxy reference; select() sets it")
        grid = np.linspace(0.0, 1.0, _REF_POINTS)
        cols = []
        for p in self.config.proxies:
            v = np.asarray(proxies[p], dtype=float)
            col = np.interp(np.nan_to_num(v, nan=-np.inf), ref[p], grid)
            cols.append(np.where(np.isfinite(v), col, 0.0))
        return np.hstack([x, np.stack(cols, axis=1)])

    def _ensure_reference(self, state: SearchState, scores: ProxyScores) -> None:
        if not (self.proxy_features and self.config.proxies) or "proxy_reference" in state.extras:
            return
        ref = {}
        q = np.linspace(0.0, 1.0, _REF_POINTS)
        for p in self.config.proxies:
            values = np.asarray(scores[p], dtype=float)
            values = values[np.isfinite(values)]
            if values.size == 0:
                raise ValueError(f"proxy {p!r} has no finite score in the pool")
            ref[p] = np.quantile(values, q).tolist()
        state.extras["proxy_reference"] = ref

    def _observed_xy(self, state: SearchState) -> tuple[np.ndarray, np.ndarray]:
        obs = state.observed()
        proxies = {
            p: np.array([e.proxies.get(p, np.nan) for e in obs]) for p in self.config.proxies
        }
        return self._features(state, [e.arch for e in obs], proxies), state.objective_values()

    # ----- the model ---------------------------------------------------------------------------
    def _after_tell(self, state: SearchState, added: Sequence[object]) -> None:
        n = len(state.observed())
        if n < 2 or (self.proxy_features and "proxy_reference" not in state.extras):
            return
        x, y = self._observed_xy(state)
        prev = state.surrogate
        last = int(prev["n_fit"]) if prev else 0
        every = self.refit_every
        step = every if every is not None else (1 if n <= 30 else n // 15)
        optimize = prev is None or n - last >= step
        kernels = self._candidate_kernels
        # A state written before kernels were tracked by name holds one fit, of the first.
        hypers = dict(prev.get("hypers") or {kernels[0]: prev["hyper"]}) if prev else {}
        fits = {
            k: GPSurrogate.fit(
                x,
                y,
                init=hypers.get(k),
                optimize=optimize,
                maxiter=200 if k not in hypers else 50,
                seed=self.config.seed + n,
                shared=self._shared_for(k),
                noise_floor=self.noise_floor,
            )
            for k in kernels
        }
        oos: np.ndarray | None = None
        chosen = kernels[0]
        if len(kernels) > 1 and n >= 3:
            # "auto": the kernel whose out-of-sample predictions order the evaluated
            # architectures best (same folds for both), ties to the first (ARD).
            rng = state.rng()
            fold_seed = int(rng.integers(2**31))
            state.save_rng(rng)
            preds = {
                k: gp.kfold_predictions(self.cv_folds, np.random.default_rng(fold_seed))
                for k, gp in fits.items()
            }
            chosen = pick_kernel(preds, y)
            oos = preds[chosen]
        gp = fits[chosen]
        state.surrogate = {
            "hyper": gp.hyperparameters(),
            "kernel": chosen,
            "hypers": {k: f.hyperparameters() for k, f in fits.items()},
            "n_fit": n if optimize else last,
        }
        if self.config.proxies and n >= 3:
            self._measure_reliability(state, gp, y, oos)

    @property
    def refit_every(self) -> int | None:
        """The `refit_every` option: observations between hyperparameter fits, or None for the
        adaptive schedule."""
        every = self._opt("refit_every", None)
        return None if every is None else positive_int("refit_every", every, alternative=" or null")

    @property
    def noise_floor(self) -> float | None:
        """The `noise_floor` option: the GP's least noise variance on the standardised scale, or
        None for BoTorch's default likelihood."""
        value = self._opt("noise_floor", self.default_noise_floor)
        if value is None:
            return None
        return unit_number("noise_floor", value, closed=False, alternative=" or null")

    @property
    def cv_folds(self) -> int:
        return positive_int("cv_folds", self._opt("cv_folds", 5), least=2)

    @property
    def n_boot(self) -> int:
        return positive_int("n_boot", self._opt("n_boot", 200))

    @property
    def init_pool(self) -> int:
        return positive_int("init_pool", self._opt("init_pool", 500))

    @property
    def min_weight(self) -> float:
        return unit_number("min_weight", self._opt("min_weight", 0.0), closed=True)

    def _measure_reliability(
        self, state: SearchState, gp: GPSurrogate, y: np.ndarray, oos: np.ndarray | None = None
    ) -> None:
        obs = state.observed()
        rng = state.rng()
        names = [GP, *self.config.proxies]
        if oos is None:
            oos = gp.kfold_predictions(self.cv_folds, rng)
        columns = [oos] + [
            np.array([e.proxies.get(p, np.nan) for e in obs]) for p in self.config.proxies
        ]
        scores = np.column_stack(columns)
        rel = pairwise_accuracy(scores, y)
        weights = best_scorer_probability(scores, y, rng, self.n_boot)
        state.save_rng(rng)
        state.reliability.append(
            RoundReliability(
                round=max(e.round for e in obs),
                n_observed=len(obs),
                reliability=dict(zip(names, map(float, rel), strict=True)),
                weights=dict(zip(names, map(float, weights), strict=True)),
            )
        )

    def current_weights(self, state: SearchState) -> dict[str, float]:
        """Weights used by the next selection: proxies alone until the GP is in use."""
        if len(state.observed()) < self.n_init or not state.reliability:
            return uniform_weights(list(self.config.proxies)) if self.config.proxies else {GP: 1.0}
        return dict(state.reliability[-1].weights)

    # ----- selection ---------------------------------------------------------------------------
    def _choose(
        self, state: SearchState, pool: Sequence[str], scores: ProxyScores, q: int
    ) -> list[int]:
        # Checked before anything is stored, also for a strategy made without `make_strategy`.
        self.check_options()
        self._ensure_reference(state, scores)
        rng = state.rng()
        try:
            if len(state.observed()) < self.n_init or state.surrogate is None:
                return self._initial_design(state, pool, scores, q, rng)
            return self._bo_batch(state, pool, scores, q)
        finally:
            state.save_rng(rng)

    def _initial_design(
        self,
        state: SearchState,
        pool: Sequence[str],
        scores: ProxyScores,
        q: int,
        rng: np.random.Generator,
    ) -> list[int]:
        """Space-filling picks in coverage passes: each pick shows the most encoding values (an
        operation on an edge) that the evaluated and chosen architectures show least often, so
        the GP sees every choice early. Ties go by the proxies (ProxyBO: `_proxy_design_ties`)
        or are random (BO, and a design shorter than one pass: `picks_per_pass`), within a
        random subset of `init_pool` candidates that keeps seeds apart. From the second pass on,
        with proxies, only the proxies' best `design_top` of the subset may add coverage, so
        every choice is also seen in a promising cell."""
        size = min(len(pool), self.init_pool)
        share = self.design_top  # checked even where no proxy uses it
        subset = rng.choice(len(pool), size=size, replace=False)
        enc = self.space.encode([pool[int(i)] for i in subset]) > 0.5
        present = enc.any(axis=0)  # values no candidate has cannot be covered
        if self.fusion and scores and self.n_init >= picks_per_pass(enc):
            tie, promising = self._proxy_design_ties(
                {p: np.asarray(scores[p])[subset] for p in self.config.proxies}, share, rng
            )
        else:
            tie = rng.permutation(size).astype(float)
            promising = np.ones(size, dtype=bool)
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

    def _proxy_design_ties(
        self, scores: ProxyScores, share: float, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """For a design that follows the proxies, from their `scores` of the design's subset
        (`m` each): the tie-break key of each candidate (lower first), `m`, and which candidates
        may add coverage after the first pass (the best `share` by the equally weighted proxy
        rank), `m`. The key is that rank, or with `design_screen` a random order (from `rng`)
        within the rank's best `design_screen` and then within the rest."""
        ranks = {p: descending_ranks(np.asarray(v)) for p, v in scores.items()}
        rank = np.asarray(fuse_ranks(ranks, uniform_weights(list(ranks))), dtype=float)
        order = np.argsort(rank, kind="stable")
        promising = np.zeros(rank.size, dtype=bool)
        promising[order[: int(share * rank.size)]] = True
        screen = self.design_screen
        if screen is None:
            return rank, promising
        screened = np.zeros(rank.size, dtype=bool)
        screened[order[: int(screen * rank.size)]] = True
        tie = rng.permutation(rank.size) + rank.size * (~screened)
        return tie.astype(float), promising

    @property
    def design_top(self) -> float:
        """The `design_top` option: the fraction of the design's subset, by proxy rank, that may
        add coverage after the first pass."""
        return unit_number(
            "design_top", self._opt("design_top", self.default_design_top), closed=True
        )

    def _current_gp(self, state: SearchState) -> GPSurrogate:
        """The GP of the last fit, conditioned on every observation."""
        kernel = self.kernel_in_use(state)
        if state.surrogate is None or kernel is None:
            raise ValueError("no GP yet: it is fitted once two architectures are evaluated")
        x, y = self._observed_xy(state)
        return GPSurrogate.fit(
            x,
            y,
            init=state.surrogate["hyper"],
            optimize=False,
            shared=self._shared_for(kernel),
            noise_floor=self.noise_floor,
        )

    def recommend(self, state: SearchState) -> Evaluation | None:
        """The evaluated architecture with the highest posterior mean of the current GP (the
        in-sample recommendation of noisy BO): where the GP takes part of an observed value
        for noise (its noise floor), the architecture is ranked by what the model makes of it
        and of its evaluated neighbours, not by that value. The best observed before the GP's
        first fit. Does not change the state."""
        if state.surrogate is None:
            return state.best()
        x, _ = self._observed_xy(state)
        mean, _ = self._current_gp(state).predict(x)
        return state.observed()[int(np.argmax(mean))]

    def posterior(
        self, state: SearchState, archs: Sequence[str], scores: ProxyScores
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the current GP thinks of `archs` (with their proxy `scores`, as `select` takes
        them): posterior mean and variance on the GP's scale, and log expected improvement, `m`
        each. Pending evaluations are not fantasized and the state is not changed. For
        diagnostics (benchmarks/gp_diagnostics.py); ValueError before the first fit."""
        gp = self._current_gp(state)
        x = self._features(state, archs, scores)
        mean, var = gp.predict(x)
        return mean, var, gp.log_expected_improvement(x)

    def _bo_batch(
        self, state: SearchState, pool: Sequence[str], scores: ProxyScores, q: int
    ) -> list[int]:
        gp = self._current_gp(state)
        if state.pending:  # evaluations still running: fantasize them first
            pend_scores = {
                p: np.array([e.proxies.get(p, np.nan) for e in state.pending])
                for p in self.config.proxies
            }
            xp = self._features(state, [e.arch for e in state.pending], pend_scores)
            gp = gp.condition(xp, gp.predict(xp)[0])
        xpool = self._features(state, pool, scores)
        weights = self.current_weights(state)
        floor = self.min_weight
        if floor > 0 and any(w >= floor for w in weights.values()):
            # Scorers below the floor are left out of the fusion: a weight of one bootstrap
            # win in n_boot, times a rank gap of thousands, would otherwise reorder the top.
            weights = {k: w for k, w in weights.items() if w >= floor}
        rule = self.fusion_rule
        proxy_ranks = (
            {p: descending_ranks(np.asarray(scores[p])) for p in self.config.proxies if p in scores}
            if rule == "rank"
            else {}
        )
        draw = self._scorer_draws(state, weights) if rule == "sample" else None
        chosen: list[int] = []
        for _ in range(q):
            lei = gp.log_expected_improvement(xpool)
            if draw is not None:
                scorer = next(draw)
                fused = (
                    -lei if scorer == GP or scorer not in scores else _best_first(scores[scorer])
                )
            elif proxy_ranks:
                fused = fuse_ranks({GP: descending_ranks(lei), **proxy_ranks}, weights)
            else:
                fused = -lei
            fused = np.asarray(fused, dtype=float).copy()
            fused[chosen] = np.inf
            order = np.lexsort((-lei, fused))
            pick = int(order[0])
            chosen.append(pick)
            if len(chosen) < q:
                xi = xpool[pick : pick + 1]
                gp = gp.condition(xi, gp.predict(xi)[0])
        return chosen

    def _floor_proxies(self, state: SearchState, names: Sequence[str]) -> list[str]:
        """The proxies among `names` that get the `proxy_floor`: those whose latest pairwise
        accuracy on the evaluated architectures is above 0.5."""
        accuracy = state.reliability[-1].reliability if state.reliability else {}
        return [n for n in names if n != GP and accuracy.get(n, 0.0) > 0.5]

    def _scorer_draws(self, state: SearchState, weights: dict[str, float]) -> Iterator[str]:
        """Scorers drawn with probabilities `weights`, one per pick (the "sample" rule), mixed
        with `proxy_floor`: with that probability the pick follows one of the proxies whose
        latest pairwise accuracy is above 0.5, each as likely. The generator is seeded by the
        search's seed and the number of results so far, so a replayed round draws the same
        scorers and the state's random stream is left alone."""
        names = sorted(weights)
        p = np.array([weights[n] for n in names], dtype=float)
        p = p / p.sum()
        floor = self.proxy_floor
        better = self._floor_proxies(state, names) if floor > 0 else []
        if better:
            share = np.array([1.0 / len(better) if n in better else 0.0 for n in names])
            p = (1 - floor) * p + floor * share
        # 7 keeps this stream apart from any other seeded by (seed, results).
        rng = np.random.default_rng([self.config.seed, len(state.history), 7])
        while True:
            yield names[int(rng.choice(len(names), p=p))]


def picks_per_pass(enc: np.ndarray) -> int:
    """The fewest picks that could show every value of the boolean encoding `enc` (`n x d`) at
    least once: the values present over the most any one row shows (on NB201, 30 operations on
    edges over 6 per cell = 5)."""
    per_pick = int(enc.sum(axis=1).max()) if enc.size else 0
    return math.ceil(int(enc.any(axis=0).sum()) / per_pick) if per_pick else 0


def _best_first(values: np.ndarray) -> np.ndarray:
    """Sort key putting the highest of `values` (`m`) first and undefined (NaN) ones last, still
    before the picks already made (marked infinite)."""
    v = np.asarray(values, dtype=float)
    return np.where(np.isfinite(v), -v, np.finfo(float).max)


class ProxyBO(BayesianOptimization):
    """ProxyBO as published: EI ranking fused with proxy rankings by reliability weights."""

    name = "proxybo"
    uses_proxies = True
    fusion = True
    option_names = (*BayesianOptimization.option_names, "fusion", "proxy_floor", "design_screen")


class ProxyBOFeatures(ProxyBO):
    """ProxyBO whose GP also takes the proxies as inputs (see the module docstring)."""

    name = "proxybo-features"
    proxy_features = True
    # The fusion rule, the initial design and the local phase: measured on both NB201 tables, on
    # two CPU vendors (benchmarks/README.md).
    default_fusion = "sample"
    default_proxy_floor = 0.2
    default_local_after = 30
    default_global_every = 4
