"""Search-quality benchmark on a tabular NAS benchmark (e.g. NAS-Bench-201 tables).

Every method searches the same pool (the rows that have every requested proxy), maximising
`val_acc`; each run's best-val architecture is reported with its `test_acc`. `rea` runs to the
reference budget and defines the target: its mean (over seeds) best `val_acc` there.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.spaces import Table, TabularSpace, load_table
from optimizer.state import Evaluation, SearchConfig, SearchState
from optimizer.strategies import STRATEGIES, Strategy, make_strategy
from optimizer.strategies.options import positive_int

OPTUNA_METHODS = ("optuna-tpe", "optuna-gp")
METHODS = (*STRATEGIES, *OPTUNA_METHODS)
OBJECTIVE = "val_acc"
METRIC_COLUMNS = (OBJECTIVE, "test_acc", "train_time_s")
"""Columns every row of the pool needs: the objective, the accuracy reported for each run's
best, and the training time that prices an evaluation in GPU hours."""


@dataclass
class RunResult:
    """One (method, seed) run: best-so-far per evaluation and timings. `test_of_best_so_far`
    holds, after each evaluation, the `test_acc` of the architecture with the best `val_acc` so
    far (the one a user would deploy); its last value is `test_of_best`. `test_of_recommended`
    holds the `test_acc` of the architecture the strategy recommends (`Strategy.recommend`: for
    the GP strategies, the evaluated one with the best posterior mean; for the others and the
    Optuna peers, the best `val_acc`)."""

    method: str
    seed: int
    best_so_far: list[float]
    test_of_best: float
    train_seconds: list[float]
    archs_scored: int
    ask_seconds: list[float] = field(default_factory=list)
    tell_seconds: list[float] = field(default_factory=list)
    weights: list[dict[str, Any]] = field(default_factory=list)
    test_of_best_so_far: list[float] = field(default_factory=list)
    test_of_recommended: list[float] = field(default_factory=list)


def run_record(r: RunResult) -> dict[str, Any]:
    """A run's curves as JSON (a record of `runs.json`, without the weights)."""
    return {
        "method": r.method,
        "seed": r.seed,
        "best_so_far": r.best_so_far,
        "test_of_best": r.test_of_best,
        "test_of_best_so_far": r.test_of_best_so_far,
        "test_of_recommended": r.test_of_recommended,
    }


def deployed_test_curve(history: Sequence[Evaluation]) -> list[float]:
    """After each evaluation of `history`, the `test_acc` of the best by `val_acc` so far (the
    first evaluated among equals; NaN before the first result)."""
    out: list[float] = []
    best, test = -math.inf, math.nan
    for e in history:
        value = e.metrics.get(OBJECTIVE)
        if e.status == "ok" and value is not None and value > best:
            best, test = value, e.metrics["test_acc"]
        out.append(test)
    return out


# ----- worker-side --------------------------------------------------------------------------
_TABLE: Table | None = None


def init_worker(table_path: str, proxies: Sequence[str]) -> None:
    global _TABLE
    import torch

    torch.set_num_threads(1)
    _TABLE = load_table(table_path).with_proxies(proxies)


BATCH_OPTION = "batch_size"
"""The one option every method of ours takes, read by the benchmark and not the strategy: the
architectures chosen per round (evaluated in parallel, as the pipeline's GPU pods do), 1 by
default. `proxybo-features:batch_size=4` asks the strategy for 4 at a time; the curves stay per
evaluation, and the summary adds the rounds to the target, ceil(evaluations / Q): exact where
every round is full (the GP strategies and random on a table; REA's batches stop at the end of
its random population, so REA may take a round more)."""


def parse_method(spec: str) -> tuple[str, dict[str, Any]]:
    """`NAME` or `NAME:key=value;key=value` (values parsed as JSON where they can be), e.g.
    `bo:kernel=ard` runs BO with the per-column kernel. Returns the strategy's options, without
    `batch_size` (see `method_batch_size`)."""
    name, options, _ = _parse_method(spec)
    return name, options


def method_batch_size(spec: str) -> int:
    """The `batch_size` of a method spec (1 where it is not given)."""
    return _parse_method(spec)[2]


def _parse_method(spec: str) -> tuple[str, dict[str, Any], int]:
    name, _, rest = spec.partition(":")
    options: dict[str, Any] = {}
    for item in filter(None, rest.split(";")):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ValueError(f"method {spec!r}: options must read key=value, got {item!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    if options and name in OPTUNA_METHODS:
        raise ValueError(
            f"method {spec!r}: Optuna peers take no options (and run one trial at a time)"
        )
    try:
        batch = positive_int(BATCH_OPTION, options.pop(BATCH_OPTION, 1))
    except ValueError as exc:
        raise ValueError(f"method {spec!r}: {exc}") from None
    known = STRATEGIES[name].option_names if name in STRATEGIES else ()
    unknown = [k for k in options if k not in known]
    if unknown:
        takes = (
            f"its options: {', '.join(known)}, and {BATCH_OPTION}"
            if known
            else f"{name} takes no options besides {BATCH_OPTION}"
        )
        raise ValueError(
            f"method {spec!r}: unknown option {', '.join(map(repr, unknown))}; {takes}"
        )
    return name, options, batch


def make_method_strategy(
    space: TabularSpace, method: str, seed: int, budget: int, proxies: Sequence[str]
) -> Strategy:
    """The strategy of `method` (one of ours, not an Optuna peer) over `space` (a table's
    rows), its options checked."""
    name, options, batch = _parse_method(method)
    config = SearchConfig(
        strategy=name,
        space="tabular",
        proxies=tuple(proxies) if STRATEGIES[name].uses_proxies else (),
        seed=seed,
        budget=budget,
        batch_size=batch,
        options=options,
    )
    return make_strategy(space, config)


def run_method(
    table: Table,
    method: str,
    seed: int,
    budget: int,
    proxies: Sequence[str],
    after_tell: Callable[[Strategy, SearchState], None] | None = None,
) -> RunResult:
    """Run `method` (see `parse_method`) for `budget` evaluations on `table` (which has every
    proxy). `after_tell`, if given, looks at the strategy and state after every result (a
    strategy of ours, not an Optuna peer)."""
    if parse_method(method)[0] in OPTUNA_METHODS:
        return _run_optuna(table, method, seed, budget)
    space = TabularSpace.from_table(table)
    strategy = make_method_strategy(space, method, seed, budget, proxies)
    config = strategy.config
    state = strategy.new_state()
    val, test, cost = (table.column(c) for c in METRIC_COLUMNS)
    zc = {p: table.column(f"zc_{p}") for p in proxies}
    scored: set[str] = set()

    def score(archs: Sequence[str]) -> dict[str, np.ndarray]:
        idx = [space.index(a) for a in archs]
        scored.update(archs)
        return {p: zc[p][idx] for p in config.proxies}

    asks, tells, recommended = [], [], []
    while not state.done:
        t0 = time.perf_counter()
        chosen = strategy.ask(state, config.batch_size, score)
        t1 = time.perf_counter()
        results = []
        for arch in chosen:
            i = space.index(arch)
            results.append(
                Evaluation(
                    arch=arch,
                    round=state.round - 1,
                    metrics={"val_acc": float(val[i]), "test_acc": float(test[i])},
                    cost={"train_seconds": float(cost[i])},
                )
            )
        strategy.tell(state, results)
        t2 = time.perf_counter()
        if after_tell is not None:
            after_tell(strategy, state)
        pick = strategy.recommend(state)
        # One recommendation per round, standing for each evaluation of the round.
        value = float(test[space.index(pick.arch)]) if pick else math.nan
        recommended += [value] * len(results)
        asks.append(t1 - t0)
        tells.append(t2 - t1)
    best = state.best()
    assert best is not None
    return RunResult(
        method=method,
        seed=seed,
        best_so_far=state.best_so_far(),
        test_of_best=best.metrics["test_acc"],
        train_seconds=[e.cost.get("train_seconds", 0.0) for e in state.history],
        archs_scored=len(scored),
        ask_seconds=asks,
        tell_seconds=tells,
        weights=[r.to_json() for r in state.reliability],
        test_of_best_so_far=deployed_test_curve(state.history),
        test_of_recommended=recommended,
    )


def _run_optuna(table: Table, method: str, seed: int, budget: int) -> RunResult:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = TabularSpace.from_table(table)
    sampler: optuna.samplers.BaseSampler
    if method == "optuna-tpe":
        sampler = optuna.samplers.TPESampler(seed=seed)
    else:
        sampler = optuna.samplers.GPSampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    by_code = {tuple(int(v) for v in c): i for i, c in enumerate(space.codes.tolist())}
    val, test, cost = (table.column(c) for c in METRIC_COLUMNS)
    seen: set[int] = set()
    outside: set[tuple[int, ...]] = set()
    best, best_test, worst = -math.inf, math.nan, math.inf
    curve: list[float] = []
    test_curve: list[float] = []
    train: list[float] = []
    asks: list[float] = []
    trials = 0
    while len(curve) < budget and trials < 20 * budget:
        trials += 1
        t0 = time.perf_counter()
        trial = study.ask()
        code = tuple(
            trial.suggest_categorical(f"x{pos}", list(range(card)))
            for pos, card in enumerate(space.cardinalities)
        )
        asks.append(time.perf_counter() - t0)
        i = by_code.get(code)
        if i is None:  # outside the pool: does not count toward the budget
            if code in outside:
                # A sampler that ignores pruned trials (GPSampler) proposes the same cell again
                # and again; the second time it is told the worst value seen, as BO benchmarks
                # do with infeasible points, so it moves on.
                study.tell(trial, worst if math.isfinite(worst) else 0.0)
            else:
                outside.add(code)
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            continue
        study.tell(trial, float(val[i]))
        if i in seen:  # a repeat is a table lookup: no new evaluation
            continue
        seen.add(i)
        worst = min(worst, float(val[i]))
        if val[i] > best:
            best, best_test = float(val[i]), float(test[i])
        curve.append(best)
        test_curve.append(best_test)
        train.append(float(cost[i]))
    while len(curve) < budget:  # the sampler got stuck on known points: the curve stays flat
        curve.append(best)
        test_curve.append(best_test)
        train.append(0.0)
    return RunResult(
        method,
        seed,
        curve,
        best_test,
        train,
        0,
        asks,
        [],
        test_of_best_so_far=test_curve,
        test_of_recommended=list(test_curve),
    )


def worker_table() -> Table:
    """The table `init_worker` loaded in this process."""
    if _TABLE is None:
        raise RuntimeError("init_worker has not run in this process")
    return _TABLE


def run_job(
    method: str,
    seed: int,
    budget: int,
    proxies: Sequence[str],
    after_tell: Callable[[Strategy, SearchState], None] | None = None,
) -> RunResult:
    return run_method(worker_table(), method, seed, budget, proxies, after_tell)


# ----- summary ------------------------------------------------------------------------------
INTERVAL_RESAMPLES = 2000
"""Seed-bootstrap resamples behind `evals_to_target_interval` and `mean_best_interval`."""


def rounds_to_target(evals: int | None, batch_size: int) -> int | None:
    """The rounds of `batch_size` that `evals` evaluations take (None where never reached)."""
    return math.ceil(evals / batch_size) if evals else None


def _resample_seeds(n: int, seed: int) -> np.ndarray:
    """Seed sets of `n` rows drawn with replacement, `INTERVAL_RESAMPLES x n`."""
    return np.random.default_rng(seed).integers(0, n, size=(INTERVAL_RESAMPLES, n))


def _resampled_means(curves: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Means of `curves` (`seeds x budget`) over the seed sets `idx` (`_resample_seeds`),
    `INTERVAL_RESAMPLES x budget`."""
    return np.asarray(curves[idx].mean(axis=1))


def first_reaching(mean: np.ndarray, target: float) -> int | None:
    """The first evaluation (1-based) at which the curve `mean` reaches `target`, or None."""
    hit = np.flatnonzero(mean >= target - 1e-9)
    return int(hit[0]) + 1 if hit.size else None


def _resampled_firsts(curves: np.ndarray, target: float, idx: np.ndarray) -> np.ndarray:
    """`first_reaching` of each of `_resampled_means(curves, idx)`, with `budget + 1` where a
    resampled mean never reaches `target`, `INTERVAL_RESAMPLES`."""
    reached = _resampled_means(curves, idx) >= target - 1e-9
    return np.where(reached.any(axis=1), reached.argmax(axis=1) + 1, curves.shape[1] + 1)


@dataclass(frozen=True)
class PairedComparison:
    """Two methods' evaluations to target over the same seeds, resampled together."""

    first_ahead: float
    """Share of seed resamples in which the first method's mean reaches the target earlier."""
    tied: float
    """Share in which both reach it at the same evaluation, or neither within the budget."""
    difference: tuple[int, int]
    """Central interval of the first's evaluations to target minus the second's; a resample
    in which one never reaches the target counts it at the budget plus one."""
    never_share: float
    """Share of resamples in which at least one of the two never reaches the target."""
    seeds: int
    """How many seeds the two share."""
    budget: int
    """The evaluations compared: the shortest of the two methods' curves."""
    evals: tuple[int | None, int | None]
    """Each method's evaluations to target over all the seeds (None: not within the budget)."""

    @property
    def second_ahead(self) -> float:
        return 1.0 - self.first_ahead - self.tied


def paired_evals_to_target(
    first: np.ndarray, second: np.ndarray, target: float, *, level: float = 0.8, seed: int = 0
) -> PairedComparison:
    """How surely `first` reaches `target` in fewer evaluations than `second`: both are
    `seeds x budget` best-so-far curves whose rows are the same seeds in the same order, and
    every resample draws the same seeds for both (a paired seed bootstrap). Two separate
    intervals that overlap do not say how often one method is ahead; this does. Where a seed's
    runs of the two methods are alike (the same design, as for `bo` with two kernels) the
    pairing also narrows the difference; where they differ from the first pick (ProxyBO breaks
    its design's ties by the proxies, BO at random) it is as wide as resampling each alone."""
    if first.shape != second.shape:
        raise ValueError(
            f"paired curves need the same seeds and budget, got {first.shape} and {second.shape}"
        )
    idx = _resample_seeds(len(first), seed)  # one draw of seeds for both
    a, b = (_resampled_firsts(c, target, idx) for c in (first, second))
    lo, hi = np.quantile(a - b, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    never = first.shape[1] + 1
    return PairedComparison(
        first_ahead=float(np.mean(a < b)),
        tied=float(np.mean(a == b)),
        difference=(int(lo), int(hi)),
        never_share=float(np.mean((a == never) | (b == never))),
        seeds=first.shape[0],
        budget=first.shape[1],
        evals=(
            first_reaching(first.mean(axis=0), target),
            first_reaching(second.mean(axis=0), target),
        ),
    )


def paired_by_seed(
    curves: Mapping[int, Sequence[float]], base: Mapping[int, Sequence[float]], target: float
) -> PairedComparison | None:
    """`paired_evals_to_target` of two methods' best-so-far curves by seed, over the seeds
    both have and the evaluations every one of those curves has; None where no seed is in
    both."""
    seeds = sorted(set(curves) & set(base))
    if not seeds:
        return None
    budget = min(len(c[s]) for c in (curves, base) for s in seeds)
    first, second = (np.array([c[s][:budget] for s in seeds], dtype=float) for c in (curves, base))
    return paired_evals_to_target(first, second, target)


@dataclass(frozen=True)
class DrawnRuns:
    """Runs of `size` seeds drawn from seed records, each scored as one `proxybo benchmark` run
    of that many seeds is: against the reference's mean over the drawn seeds."""

    size: int
    """Seeds per drawn run."""
    budget: int
    """The evaluations every method's curve has."""
    targets: np.ndarray
    """The target of each drawn run, `draws`."""
    evals: dict[str, np.ndarray]
    """Per method, the evaluations at which each drawn run's mean best reaches its target,
    `draws`, with `budget + 1` where it never does."""

    def reaches(self, method: str, at_most: float) -> np.ndarray:
        """Per drawn run, whether `method` reaches the target within `at_most` evaluations
        (and within the budget: a run that never reaches it does not pass), `draws`."""
        e = self.evals[method]
        return (e <= at_most) & (e <= self.budget)

    def within(self, method: str, other: str, bound: float, *, strict: bool) -> np.ndarray:
        """Per drawn run, whether `method` reaches the target within `bound` times the
        evaluations of `other` (fewer than, where `strict`), `draws`. Where `other` never
        reaches it within the budget, any run of `method` that does passes; one that never
        does fails."""
        a, b = self.evals[method], self.evals[other]
        never = self.budget + 1
        ratio = a < bound * b if strict else a <= bound * b
        return (a < never) & ((b == never) | ratio)

    def share(self, method: str, at_most: float) -> float:
        """Share of drawn runs in which `method` `reaches` the target within `at_most`."""
        return float(np.mean(self.reaches(method, at_most)))

    def share_against(self, method: str, other: str, bound: float, *, strict: bool) -> float:
        """Share of drawn runs in which `method` is `within` `bound` times `other`."""
        return float(np.mean(self.within(method, other, bound, strict=strict)))


def evals_for_speedup(reference_budget: int, speedup: float) -> int:
    """The most evaluations to the target that still give `speedup` over a reference run of
    `reference_budget` (`speedup_vs_rea` is `reference_budget / evals`): 55 for 5.4x of 300."""
    return int(reference_budget / speedup)


def drawn_runs(
    curves: Mapping[str, np.ndarray],
    reference: np.ndarray,
    size: int,
    *,
    draws: int = INTERVAL_RESAMPLES,
    seed: int = 0,
) -> DrawnRuns:
    """What one run of `size` seeds would report, drawn `draws` times from seed records: each
    draw takes `size` seeds with replacement (a fresh run's seeds, with the records standing
    for every seed one might draw) and sets its target to the mean of `reference` over them, as
    `proxybo benchmark` sets it to REA's mean best at the reference budget over its own seeds.
    `curves` maps each method to its `seeds x budget` best-so-far curves and `reference` holds
    one value per seed, every row the same seed in the same order. How often the issue's points
    hold in a single run, which the mean over all seeds on record does not say."""
    n = len(reference)
    if n == 0 or size < 1:
        raise ValueError(f"need seeds on record and a run size of at least 1, got {n} and {size}")
    if any(c.ndim != 2 or c.shape[0] != n for c in curves.values()):
        shapes = {m: c.shape for m, c in curves.items()}
        raise ValueError(f"every method needs one curve per reference seed ({n}), got {shapes}")
    idx = np.random.default_rng(seed).integers(0, n, size=(draws, size))
    targets = reference[idx].mean(axis=1)
    budget = min(c.shape[1] for c in curves.values())
    evals = {}
    for method, c in curves.items():
        reached = c[:, :budget][idx].mean(axis=1) >= targets[:, None] - 1e-9
        evals[method] = np.where(reached.any(axis=1), reached.argmax(axis=1) + 1, budget + 1)
    return DrawnRuns(size=size, budget=budget, targets=targets, evals=evals)


def evals_to_target_interval(
    curves: np.ndarray, target: float, *, level: float = 0.8, seed: int = 0
) -> list[int | None]:
    """Seed-bootstrap interval of the evaluations to target: `level` central interval of
    `first_reaching` over means of `curves` (`seeds x budget`) with the seeds resampled with
    replacement. An end is None where that share of resamples never reaches the target within
    the budget. With 30 seeds the mean curve crosses the target slowly, so a difference between
    methods smaller than this interval is not a finding on its own; `paired_evals_to_target`
    says how often one method is ahead of another."""
    budget = curves.shape[1]
    first = _resampled_firsts(curves, target, _resample_seeds(len(curves), seed))
    lo, hi = np.quantile(first, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return [int(v) if v <= budget else None for v in (lo, hi)]


def mean_best_interval(
    curves: np.ndarray, points: Sequence[int], *, level: float = 0.8, seed: int = 0
) -> list[tuple[float, float]]:
    """Seed-bootstrap `level` central interval of the mean best of `curves` (`seeds x budget`)
    after each of `points` evaluations (1-based), resampled as `evals_to_target_interval` is:
    how budgets too small to reach a target are compared."""
    if not points:
        return []
    means = _resampled_means(curves, _resample_seeds(len(curves), seed))
    means = means[:, [p - 1 for p in points]]
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return [(float(a), float(b)) for a, b in zip(lo, hi, strict=True)]


def format_share(x: float) -> str:
    """A share as a whole percentage, without rounding a rare case to 0% or a near-sure one
    to 100%."""
    if 0 < x < 0.005:
        return "<1%"
    if 0.995 < x < 1:
        return ">99%"
    return f"{x:.0%}"


def format_interval(interval: Sequence[int | None]) -> str:
    """`evals_to_target_interval` as text, e.g. "42-66" or "99-never"."""
    return "-".join(str(v) if v is not None else "never" for v in interval)


def machine_info() -> dict[str, Any]:
    """Where a benchmark ran: the GP methods' figures follow the CPU (on x86, Intel against AMD
    through oneMKL's dispatch; benchmarks/README.md, "A fourth machine"), so a record names its
    CPU, torch's kernel capability and the numeric libraries' versions."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    import torch

    try:  # Linux: the first processor's entry; elsewhere the platform's processor string
        first = Path("/proc/cpuinfo").read_text().split("\n\n", 1)[0]
        fields = {
            k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in first.splitlines())
        }
        cpu: dict[str, str] = {
            k: fields[k] for k in ("vendor_id", "model name", "cpu family", "model") if k in fields
        }
    except OSError:
        cpu = {"processor": platform.processor()}
    versions: dict[str, str | None] = {}
    for name in ("torch", "botorch", "gpytorch", "numpy", "scipy", "optuna"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": cpu,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "versions": versions,
    }


def summarize(
    runs: Sequence[RunResult], reference: str, reference_budget: int, proxy_seconds: float
) -> dict[str, Any]:
    by_method: dict[str, list[RunResult]] = {}
    for r in runs:
        by_method.setdefault(r.method, []).append(r)
    ref_curves = np.array([r.best_so_far[:reference_budget] for r in by_method[reference]])
    target = float(ref_curves[:, reference_budget - 1].mean())
    ref_tests = np.array([r.test_of_best_so_far[:reference_budget] for r in by_method[reference]])
    test_target = float(ref_tests[:, reference_budget - 1].mean())
    out: dict[str, Any] = {
        "target": target,
        "test_target": test_target,
        "reference_budget": reference_budget,
        "methods": {},
    }
    for method, rs in by_method.items():
        curves = np.array([r.best_so_far for r in rs])
        mean = curves.mean(axis=0)
        evals = first_reaching(mean, target)
        tests = np.array([r.test_of_best_so_far for r in rs]).mean(axis=0)
        asks = np.concatenate([r.ask_seconds for r in rs]) if rs[0].ask_seconds else np.array([])
        tells = np.concatenate([r.tell_seconds for r in rs]) if rs[0].tell_seconds else np.array([])
        last = np.concatenate([r.ask_seconds[-10:] for r in rs]) if rs[0].ask_seconds else asks
        last_tell = (
            np.concatenate([r.tell_seconds[-10:] for r in rs]) if rs[0].tell_seconds else tells
        )
        batch = method_batch_size(method)
        out["methods"][method] = {
            "mean_best": [round(float(v), 6) for v in mean],
            "evals_to_target": evals,
            "batch_size": batch,
            "rounds_to_target": rounds_to_target(evals, batch),
            "evals_to_target_interval": evals_to_target_interval(curves, target),
            "speedup_vs_rea": (reference_budget / evals) if evals else None,
            "final_test_acc_mean": float(np.mean([r.test_of_best for r in rs])),
            "mean_test_of_best": [round(float(v), 6) for v in tests],
            "mean_test_of_recommended": [
                round(float(v), 6)
                for v in np.array([r.test_of_recommended for r in rs]).mean(axis=0)
            ],
            "ask_seconds_median": float(np.median(asks)) if asks.size else None,
            "ask_seconds_median_last10": float(np.median(last)) if last.size else None,
            "tell_seconds_median": float(np.median(tells)) if tells.size else None,
            "tell_seconds_median_last10": float(np.median(last_tell)) if last_tell.size else None,
            "seeds": len(rs),
            "seeds_reaching_target": int(sum(c.max() >= target - 1e-9 for c in curves)),
            "final_best_mean": float(mean[-1]),
            "proxy_seconds_per_arch": proxy_seconds,
        }
    if "bo" in by_method:  # the same GP and pool without proxies: what the proxies add
        for method, m in out["methods"].items():
            m["against_bo"] = (
                None if method == "bo" else against(by_method[method], by_method["bo"], target)
            )
    return out


def against(
    runs: Sequence[RunResult], other: Sequence[RunResult], target: float
) -> dict[str, Any] | None:
    """`paired_by_seed` of `runs` against `other`, as JSON; None where they share no seed."""
    cmp = paired_by_seed(
        {r.seed: r.best_so_far for r in runs}, {r.seed: r.best_so_far for r in other}, target
    )
    if cmp is None:
        return None
    return {
        "seeds": cmp.seeds,
        "budget": cmp.budget,
        "first_ahead": cmp.first_ahead,
        "tied": cmp.tied,
        "behind": cmp.second_ahead,
        "difference_interval": list(cmp.difference),
    }


def plot_curves(
    runs: Sequence[RunResult], summary: dict[str, Any], proxy_seconds: float, path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(19, 5))
    by_method: dict[str, list[RunResult]] = {}
    for r in runs:
        by_method.setdefault(r.method, []).append(r)
    for method, rs in by_method.items():
        curves = np.array([r.best_so_far for r in rs])
        mean = curves.mean(axis=0)
        se = curves.std(axis=0, ddof=1) / math.sqrt(len(rs)) if len(rs) > 1 else 0 * mean
        x = np.arange(1, len(mean) + 1)
        (line,) = ax1.plot(x, mean, label=method)
        ax1.fill_between(x, mean - se, mean + se, alpha=0.2, color=line.get_color())
        hours = (
            np.array(
                [np.cumsum(r.train_seconds) + r.archs_scored * proxy_seconds for r in rs]
            ).mean(axis=0)
            / 3600.0
        )
        ax2.plot(hours, mean, label=method, color=line.get_color())
        tests = summary["methods"][method]["mean_test_of_best"]
        recommended = summary["methods"][method]["mean_test_of_recommended"]
        ax3.plot(x, tests, label=method, color=line.get_color())
        if not np.allclose(recommended, tests):
            ax3.plot(x, recommended, color=line.get_color(), ls=":")
    for ax in (ax1, ax2):
        ax.axhline(summary["target"], color="k", ls="--", lw=0.8, label="target (rea)")
        ax.set_ylabel("mean best val_acc")
        lo = summary["target"] - 1.0
        ax.set_ylim(lo, None)
        ax.grid(alpha=0.3)
    ax1.set_xlabel("evaluations")
    ax2.set_xlabel("simulated GPU hours (training + proxies)")
    ax2.set_xscale("log")
    ax3.axhline(summary["test_target"], color="k", ls="--", lw=0.8, label="test target (rea)")
    ax3.set_ylabel("mean test_acc: best val_acc (solid), recommended (dotted)")
    ax3.set_ylim(summary["test_target"] - 1.0, None)
    ax3.set_xlabel("evaluations")
    ax3.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def weights_plot_name(method: str) -> str:
    """The file name of `method`'s weight plot: options (`:k=v;k=v`) become `-k-v` so the name
    is valid on every file system."""
    safe = method.replace(":", "-").replace(";", "-").replace("=", "-")
    return f"weights_{safe}_seed0.png"


def plot_weights(weights: Sequence[dict[str, Any]], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    names = list(weights[0]["weights"]) if weights else []
    n = [w["n_observed"] for w in weights]
    for name in names:
        ax1.plot(n, [w["weights"][name] for w in weights], label=name)
        ax2.plot(n, [w["reliability"][name] for w in weights], label=name)
    ax1.set_title(f"weight (P[best scorer]) — {title}")
    ax2.set_title("reliability (pairwise ordering accuracy)")
    for ax in (ax1, ax2):
        ax.set_xlabel("evaluations")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_benchmark(
    table_path: str,
    methods: Sequence[str],
    proxies: Sequence[str],
    seeds: int,
    budget: int,
    reference_budget: int,
    out_dir: str,
    workers: int | None = None,
    proxy_seconds: float = 0.5,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every method for every seed and write `summary.json`, `curves.png`, `runs.json`."""
    names = {m: parse_method(m)[0] for m in methods}
    twice = sorted({m for m in methods if list(methods).count(m) > 1})
    if twice:
        raise ValueError(f"method {', '.join(map(repr, twice))} listed more than once")
    if "rea" not in methods:
        raise ValueError("'rea' must be among the methods: it defines the target")
    if reference_budget < 1 or budget < 1 or seeds < 1:
        raise ValueError("--budget, --reference-budget and --seeds must be positive")
    table = load_table(table_path).with_proxies(proxies)  # validates the path and the proxies
    for name in METRIC_COLUMNS:
        empty = np.flatnonzero(~np.isfinite(table.column(name)))
        if empty.size:
            raise ValueError(
                f"{table_path}: column {name!r} is empty or not finite in {empty.size} of the "
                f"rows with every proxy (the first: arch {table.archs[int(empty[0])]!r}); fill "
                "them in or remove those rows"
            )
    if len(table.archs) < max(budget, reference_budget):
        raise ValueError(
            f"the table has {len(table.archs)} rows with every proxy, fewer than the budget"
        )
    space = TabularSpace.from_table(table)
    for m, name in names.items():  # option values, checked before any run starts
        if name not in OPTUNA_METHODS:
            make_method_strategy(space, m, 0, budget, proxies)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [
        (m, s, reference_budget if m == "rea" else budget) for m in methods for s in range(seeds)
    ]
    # slow methods first so the pool drains evenly
    order = {"optuna-gp": 0, "proxybo-features": 1, "proxybo": 1, "bo": 1}
    jobs.sort(key=lambda j: order.get(j[0].partition(":")[0], 2))
    workers = workers or os.cpu_count() or 1
    runs: list[RunResult] = []
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc="benchmark", unit="run", disable=not progress)
    with ProcessPoolExecutor(
        workers, initializer=init_worker, initargs=(table_path, list(proxies))
    ) as pool:
        futures = {pool.submit(run_job, m, s, b, list(proxies)): (m, s) for m, s, b in jobs}
        for fut in as_completed(futures):
            r = fut.result()
            runs.append(r)
            bar.set_postfix_str(f"{r.method} seed {r.seed}: best {r.best_so_far[-1]:.3f}")
            bar.update()
    bar.close()
    runs.sort(key=lambda r: (r.method, r.seed))
    summary = summarize(runs, "rea", reference_budget, proxy_seconds)
    summary["table"] = str(table_path)
    summary["proxies"] = list(proxies)
    summary["seeds"] = seeds
    summary["budget"] = budget
    summary["machine"] = machine_info()
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "runs.json").write_text(
        json.dumps([{**run_record(r), "weights": r.weights} for r in runs])
    )
    plot_curves(runs, summary, proxy_seconds, out / "curves.png")
    for r in runs:
        if r.seed == 0 and r.weights:
            plot_weights(r.weights, f"{r.method}, seed 0", out / weights_plot_name(r.method))
    return summary
