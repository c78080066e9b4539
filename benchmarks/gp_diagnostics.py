"""Why a GP strategy finds the best cells late: what the proxies and the GP see of the top.

Four reports on a benchmark table (the NAS-Bench-201 ones are not shipped: pass their path):

    python benchmarks/gp_diagnostics.py proxies TABLE
    python benchmarks/gp_diagnostics.py noise TABLE
    python benchmarks/gp_diagnostics.py stuck TABLE --method proxybo-features --seeds 60 \
        --at 55 --below 46.45
    python benchmarks/gp_diagnostics.py history TABLE --methods bo,proxybo --seeds 30 \
        --pattern '^[^+]*\\+[^+]*\\+\\|skip_connect~0\\|' --out F.json

`proxies`: Kendall's tau of each proxy with `val_acc` over the whole table and within its best
fractions, and the proxy ranks of the best cells (rank 1 is a proxy's favourite; `fused` is the
rank of the equally weighted rank fusion, which is what ProxyBO follows while the GP's weight
is small).

`history`: runs each method (budget = the last checkpoint) and at every checkpoint records, per
seed: the best value so far; Kendall's tau of the GP's posterior mean with `val_acc` over the
300 best unevaluated rows; the rank, by the GP's expected improvement over the unevaluated
rows, of the best of the table's 3 best unevaluated rows (how close the GP is to proposing
one); and, with `--pattern`, how many evaluated architectures match the regular expression
(the example matches NB201 cells with `skip_connect` on edge 0->3, which the 8 best cells of
the CIFAR-10 table and 6 of the 8 best of the ImageNet16-120 table have) and whether the best evaluated one does. Prints the means
(medians for ranks) per method and checkpoint and writes every record to `--out`.

`noise`: how far the table's `val_acc` says anything about `test_acc` among its best rows
(Kendall's tau of the two within the best k rows by `val_acc`), and the `test_acc` rank of the
best rows, among the rows that have every proxy of `--proxies` (the benchmark's pool). A search is scored on `val_acc`; where the two disagree within the top, the last
steps to a target there chase the validation split's noise.

`stuck`: runs one method to evaluation `--at` and lists the seeds whose best `val_acc` then is
below `--below`: since which evaluation that best has held, how many of its one-edit neighbours
were evaluated, and the values of the unevaluated neighbours that are better (none: the best is
a local optimum of one-edit moves).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau, rankdata

from optimizer.spaces import Table, TabularSpace, load_table
from optimizer.state import SearchState
from optimizer.strategies import Strategy
from optimizer.strategies.proxybo import BayesianOptimization
from proxybo.benchmark import init_worker, run_job, worker_table

FRACTIONS = (1.0, 0.5, 0.2, 0.05, 0.01)
TOP_ROWS = 300


def proxies_report(table: Table, proxies: list[str], best: int) -> str:
    val = table.column("val_acc")
    order = np.argsort(-val, kind="stable")
    lines = ["| rows | " + " | ".join(proxies) + " |", "|---|" + "---|" * len(proxies)]
    for frac in FRACTIONS:
        top = order[: max(2, int(len(val) * frac))]
        taus = [kendalltau(table.column(f"zc_{p}")[top], val[top]).statistic for p in proxies]
        lines.append(
            f"| best {frac:.0%} ({len(top)}) | " + " | ".join(f"{t:.3f}" for t in taus) + " |"
        )
    ranks = {p: rankdata(-table.column(f"zc_{p}"), method="min") for p in proxies}
    fused = rankdata(sum(ranks.values()), method="min")
    lines += ["", "rank under each proxy (1 = its favourite) of the best rows:", ""]
    lines.append(
        f"    {'val_acc':>8} " + " ".join(f"{p:>8}" for p in [*proxies, "fused"]) + "  arch"
    )
    for i in order[:best]:
        cells = " ".join(f"{int(ranks[p][i]):8d}" for p in proxies)
        lines.append(f"    {val[i]:8.3f} {cells} {int(fused[i]):8d}  {table.archs[i]}")
    return "\n".join(lines)


def _checkpoint(
    strategy: BayesianOptimization,
    state: SearchState,
    table: Table,
    proxies: Sequence[str],
    pattern: re.Pattern[str] | None,
) -> dict[str, Any]:
    busy = state.busy_archs
    idx = np.array([i for i, a in enumerate(table.archs) if a not in busy])
    archs = [table.archs[i] for i in idx]
    scores = {p: table.column(f"zc_{p}")[idx] for p in proxies}
    mean, _, log_ei = strategy.posterior(state, archs, scores)
    v = table.column("val_acc")[idx]
    top = np.argsort(-v, kind="stable")
    ei_rank = rankdata(-log_ei, method="min")
    observed = state.observed()
    record: dict[str, Any] = {
        "n": len(observed),
        "best": float(max(e.metrics["val_acc"] for e in observed)),
        "tau_top": float(kendalltau(mean[top[:TOP_ROWS]], v[top[:TOP_ROWS]]).statistic),
        "ei_rank_of_top3": int(min(ei_rank[top[:3]])),
    }
    if pattern is not None:
        best = max(observed, key=lambda e: e.metrics["val_acc"])
        record["matching"] = sum(bool(pattern.search(e.arch)) for e in observed)
        record["best_matches"] = bool(pattern.search(best.arch))
    return record


def _history_job(
    method: str, seed: int, proxies: list[str], checkpoints: list[int], pattern: str | None
) -> dict[str, Any]:
    """One run of `method` (the benchmark's own, in a worker of `init_worker`), looked at
    after each checkpoint's evaluation."""
    table = worker_table()
    compiled = re.compile(pattern) if pattern else None
    records: list[dict[str, Any]] = []

    def look(strategy: Strategy, state: SearchState) -> None:
        if len(state.observed()) not in checkpoints:
            return
        if not isinstance(strategy, BayesianOptimization):
            raise SystemExit(f"{method}: not a GP strategy")
        records.append(_checkpoint(strategy, state, table, strategy.config.proxies, compiled))

    run_job(method, seed, max(checkpoints), proxies, after_tell=look)
    return {"method": method, "seed": seed, "checkpoints": records}


def history_report(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| method | evaluations | mean best | GP tau, best 300 unevaluated "
        "| median EI rank of the best of the top 3 | matching pattern | best matches |",
        "|---|---|---|---|---|---|---|",
    ]
    for method in dict.fromkeys(r["method"] for r in runs):
        mine = [r["checkpoints"] for r in runs if r["method"] == method]
        for j, first in enumerate(mine[0]):
            col = [c[j] for c in mine]
            match = f"{np.mean([c['matching'] for c in col]):.1f}" if "matching" in first else "-"
            share = (
                f"{np.mean([c['best_matches'] for c in col]):.0%}" if "matching" in first else "-"
            )
            lines.append(
                f"| {method} | {first['n']} | {np.mean([c['best'] for c in col]):.3f} "
                f"| {np.mean([c['tau_top'] for c in col]):.3f} "
                f"| {np.median([c['ei_rank_of_top3'] for c in col]):.0f} | {match} | {share} |"
            )
    return "\n".join(lines)


NOISE_TOPS = (10, 30, 100, 300)


def noise_report(table: Table, best: int) -> str:
    val, test = table.column("val_acc"), table.column("test_acc")
    order = np.argsort(-val, kind="stable")
    lines = ["| best rows by val_acc | Kendall tau (val_acc, test_acc) | test_acc range |"]
    lines.append("|---|---|---|")
    for k in NOISE_TOPS:
        top = order[: min(k, len(val))]
        tau = kendalltau(val[top], test[top]).statistic
        lines.append(f"| {len(top)} | {tau:.3f} | {test[top].min():.2f}-{test[top].max():.2f} |")
    test_rank = rankdata(-test, method="min")
    lines += ["", f"    {'val_acc':>8} {'test_acc':>8} {'test rank':>9}  arch"]
    for i in order[:best]:
        lines.append(f"    {val[i]:8.3f} {test[i]:8.3f} {int(test_rank[i]):9d}  {table.archs[i]}")
    return "\n".join(lines)


def _stuck_job(method: str, seed: int, proxies: list[str], at: int) -> dict[str, Any]:
    """The archs one run of `method` evaluates, in order, up to evaluation `at`."""
    archs: list[str] = []

    def look(strategy: Strategy, state: SearchState) -> None:
        archs.append(state.history[-1].arch)

    run_job(method, seed, at, proxies, after_tell=look)
    return {"method": method, "seed": seed, "archs": archs}


def stuck_report(table: Table, runs: list[dict[str, Any]], below: float) -> str:
    space = TabularSpace.from_table(table)
    val = table.column("val_acc")
    lines = [
        "| seed | best | held since | neighbours evaluated | better unevaluated neighbours |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        archs = run["archs"]
        values = [float(val[space.index(a)]) for a in archs]
        i = int(np.argmax(values))
        if values[i] >= below:
            continue
        seen = set(archs)
        near = space.neighbours(archs[i])
        better = sorted(
            (
                float(val[space.index(a)])
                for a in near
                if a not in seen and val[space.index(a)] > values[i]
            ),
            reverse=True,
        )
        lines.append(
            f"| {run['seed']} | {values[i]:.3f} | {i + 1} | {sum(a in seen for a in near)} of "
            f"{len(near)} | {', '.join(f'{b:.3f}' for b in better) or 'none'} |"
        )
    shown = len(lines) - 2
    lines.append("")
    lines.append(
        f"{shown} of {len(runs)} seeds below {below} at evaluation {len(runs[0]['archs'])}"
    )
    return "\n".join(lines)


def _add_run_args(parser: argparse.ArgumentParser) -> None:
    """The table and the seeds of a report that runs searches."""
    parser.add_argument("table")
    parser.add_argument("--proxies", default="jacov,synflow,snip")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=30)


def _in_workers(
    table: str, proxies: list[str], job: Callable[..., Any], calls: list[tuple[Any, ...]]
) -> list[Any]:
    """`job(*call)` for every call, in one benchmark worker per CPU, in order."""
    with ProcessPoolExecutor(
        os.cpu_count() or 1, initializer=init_worker, initargs=(table, proxies)
    ) as pool:
        futures = [pool.submit(job, *call) for call in calls]
        return [f.result() for f in futures]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("proxies", help="proxy quality within the best rows of a table")
    p.add_argument("table")
    p.add_argument("--proxies", default="jacov,synflow,snip")
    p.add_argument("--best", type=int, default=8, help="best cells to list")
    h = sub.add_parser("history", help="what each method's GP knows of the top, by evaluations")
    _add_run_args(h)
    h.add_argument("--methods", default="bo,proxybo")
    h.add_argument("--checkpoints", default="10,15,20,25,30,40,55")
    h.add_argument("--pattern", default=None, help="regular expression over arch ids")
    h.add_argument("--out", required=True)
    n = sub.add_parser("noise", help="val_acc against test_acc within the best rows")
    n.add_argument("table")
    n.add_argument("--proxies", default="jacov,synflow,snip", help="rows that have these")
    n.add_argument("--best", type=int, default=8, help="best rows to list")
    k = sub.add_parser("stuck", help="seeds below a value at an evaluation, and why")
    _add_run_args(k)
    k.add_argument("--method", default="proxybo-features")
    k.add_argument("--at", type=int, default=55, help="the evaluation to look at")
    k.add_argument("--below", type=float, required=True, help="list seeds whose best is below")
    args = parser.parse_args()
    proxies = args.proxies.split(",")
    if args.command == "proxies":
        print(proxies_report(load_table(args.table).with_proxies(proxies), proxies, args.best))
        return
    if args.command == "noise":
        print(noise_report(load_table(args.table).with_proxies(proxies), args.best))
        return
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    if args.command == "stuck":
        stuck = _in_workers(
            args.table, proxies, _stuck_job, [(args.method, s, proxies, args.at) for s in seeds]
        )
        print(stuck_report(load_table(args.table).with_proxies(proxies), stuck, args.below))
        return
    checkpoints = sorted(int(c) for c in args.checkpoints.split(","))
    methods = args.methods.split(",")
    calls = [(m, s, proxies, checkpoints, args.pattern) for m in methods for s in seeds]
    runs = _in_workers(args.table, proxies, _history_job, calls)
    Path(args.out).write_text(json.dumps(runs))
    print(history_report(runs))


if __name__ == "__main__":
    main()
