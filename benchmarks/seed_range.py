"""Run methods over a range of seeds, and score seed sets against a fixed target.

`proxybo benchmark` always runs seeds 0..N-1 and takes its target from REA over the same seeds.
Checking whether a 30-seed figure holds on other seeds needs other seeds against the same
target, which is what this script does (how the sixty-seed figures in README.md were made):

    python benchmarks/seed_range.py run TABLE --methods proxybo-features --first-seed 30 \
        --seeds 30 --out seeds30.json
    python benchmarks/seed_range.py score --target 91.58615 RUNS.json [RUNS.json ...]

`run` writes `runs.json`-style records (method, seed, best-so-far curve, and the `test_acc` of
the best-so-far architecture after each evaluation); `score` pools the records of every file by
method (a `runs.json` from `proxybo benchmark` works too) and prints, per method, the
evaluations at which the mean best reaches the target, its 80% seed-bootstrap interval, and the
seeds that first reach it after 100 evaluations or never, and, for records that hold them, the
mean `test_acc` of the best-so-far and of the recommended architecture at 55 evaluations and at
the end. `score --at 10,20,55` also prints the mean best-so-far at those evaluations, each with
its 80% seed-bootstrap interval (how budgets too small to reach the target are compared). A method
with `batch_size=Q` (Q architectures per round) also gets the rounds to the target.

    python benchmarks/seed_range.py paired --target 91.58615 [--against bo] RUNS.json [...]

`paired` sets every method of the records against one (`bo` unless `--against` names another)
over the seeds both have, resampling the same seeds for both: the share of resamples in which
the method's mean reaches the target first, tied or behind, and the 80% interval of the
difference in evaluations: how often one is ahead, which `score`'s two separate intervals do
not say where they overlap. Where a seed's runs of the two methods are alike (the same design)
the pairing also narrows the difference; ProxyBO's and BO's designs differ from the first pick.

    python benchmarks/seed_range.py compare A.json B.json [--pair LABEL_IN_A=LABEL_IN_B]

`compare` prints, per method in both files, how many seeds have the same best-so-far curve
throughout and at which evaluation the others part: how one checks that two machines, or a
change meant to leave results alone, give the same searches.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from proxybo.benchmark import (
    evals_to_target_interval,
    first_reaching,
    format_interval,
    format_share,
    init_worker,
    mean_best_interval,
    method_batch_size,
    paired_by_seed,
    rounds_to_target,
    run_job,
    run_record,
)

CURVES = {
    "best_so_far": "",
    "test_of_best_so_far": "the best so far",
    "test_of_recommended": "the recommended",
}
"""The per-evaluation curves of a record, and how `score` names the test ones."""


def run(args: argparse.Namespace) -> None:
    proxies = args.proxies.split(",")
    methods = args.methods.split(",")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    with ProcessPoolExecutor(
        os.cpu_count() or 1, initializer=init_worker, initargs=(args.table, proxies)
    ) as pool:
        futures = [pool.submit(run_job, m, s, args.budget, proxies) for m in methods for s in seeds]
        results = [f.result() for f in futures]
    records = [run_record(r) for r in results]
    Path(args.out).write_text(json.dumps(records))
    print(f"wrote {len(records)} runs to {args.out}")


def score(args: argparse.Namespace) -> None:
    # curve name -> method -> seed -> curve; the test curves only where a record holds them
    by_curve = {key: curves_by_method(args.runs, key) for key in CURVES}
    for method, runs in by_curve["best_so_far"].items():
        budget = min(len(c) for c in runs.values())
        curves = np.array([c[:budget] for c in runs.values()])
        first = [first_reaching(c, args.target) for c in curves]
        late = sum(f is None or f > 100 for f in first)
        evals = first_reaching(curves.mean(axis=0), args.target)
        span = format_interval(evals_to_target_interval(curves, args.target))
        batch = _batch_size(method)
        n_rounds = rounds_to_target(evals, batch)
        rounds = f" = {n_rounds} rounds of {batch}" if n_rounds and batch > 1 else ""
        print(
            f"{method}: {len(runs)} seeds, evals to target {evals or 'never'}{rounds} "
            f"(80% {span}), {late} first reach it after 100 or never "
            f"({sum(f is None for f in first)} never)"
        )
        if args.at:
            mean = curves.mean(axis=0)
            points = [n for n in args.at if n <= budget]
            spans = mean_best_interval(curves, points)
            print(
                "  mean best: "
                + ", ".join(
                    f"{mean[n - 1]:.3f} ({lo:.3f}-{hi:.3f}) at {n}"
                    for n, (lo, hi) in zip(points, spans, strict=True)
                )
            )
        for key, label in CURVES.items():
            if key == "best_so_far":
                continue
            tests = by_curve[key].get(method, {})
            if set(tests) != set(runs):  # records written before these curves were kept
                continue
            test_mean = np.array([tests[seed][:budget] for seed in runs]).mean(axis=0)
            at55 = f"{test_mean[54]:.4f} at 55, " if budget >= 55 else ""
            print(f"  mean test_acc of {label}: {at55}{test_mean[-1]:.4f} at {budget}")


def paired(args: argparse.Namespace) -> None:
    """Every method of the records against `--against`, over the seeds both have: how often a
    seed resample that draws the same seeds for both has the method reach the target first."""
    runs = curves_by_method(args.runs, "best_so_far")
    if args.against not in runs:
        sys.exit(f"no records of {args.against!r} in these files; they hold {sorted(runs)}")
    base = runs[args.against]
    for method, curves in runs.items():
        if method == args.against:
            continue
        cmp = paired_by_seed(curves, base, args.target)
        if cmp is None:
            print(f"{method}: no seed in common with {args.against}")
            continue
        ea, eb = cmp.evals
        lo, hi = cmp.difference
        line = (
            f"{method} against {args.against}: {cmp.seeds} seeds in both, evals to target "
            f"{ea or 'never'} against {eb or 'never'}; first in {format_share(cmp.first_ahead)} "
            f"of seed resamples, tied in {format_share(cmp.tied)}, behind in "
            f"{format_share(cmp.second_ahead)}; difference (80%) {lo} to {hi}"
        )
        if cmp.never_share:
            line += (
                f" (at least one never reaches it within {cmp.budget} in "
                f"{format_share(cmp.never_share)}: counted at {cmp.budget + 1})"
            )
        print(line)


def parted_at(a: list[float], b: list[float]) -> int | None:
    """The first evaluation (1-based) at which two best-so-far curves differ; None where they
    agree over their common length."""
    for n, (x, y) in enumerate(zip(a, b, strict=False), start=1):
        if x != y:
            return n
    return None


def compare(args: argparse.Namespace) -> None:
    """Per method and seed, where two record files' best-so-far curves part (records of the
    same code on two machines, or before and after a change that should not move them)."""
    pairs = dict(args.pair)
    a, b = (curves_by_method([path], "best_so_far") for path in (args.first, args.second))
    methods = [(m, pairs.get(m, m)) for m in a if pairs.get(m, m) in b]
    if not methods:
        sys.exit(
            f"no method is in both files ({sorted(a)} against {sorted(b)}); "
            "name the pairs with --pair LABEL_IN_FIRST=LABEL_IN_SECOND"
        )
    for ma, mb in methods:
        seeds = sorted(set(a[ma]) & set(b[mb]))
        parts = {s: parted_at(a[ma][s], b[mb][s]) for s in seeds}
        same = [s for s, n in parts.items() if n is None]
        apart = sorted(n for n in parts.values() if n is not None)
        label = ma if ma == mb else f"{ma} / {mb}"
        line = f"{label}: {len(seeds)} seeds in both, {len(same)} the same throughout"
        if apart:
            line += (
                f", {len(apart)} part at evaluations {', '.join(map(str, apart))} "
                f"(median {int(np.median(apart))})"
            )
        print(line)


def curves_by_method(paths: list[str], key: str) -> dict[str, dict[int, list[float]]]:
    """Method -> seed -> the records' curve `key`, pooled over `paths` (records without it,
    written before that curve was kept, are left out)."""
    out: dict[str, dict[int, list[float]]] = {}
    for path in paths:
        for r in json.loads(Path(path).read_text()):
            if key in r:
                out.setdefault(r["method"], {})[r["seed"]] = r[key]
    return out


def _batch_size(method: str) -> int:
    """The method's `batch_size` option; 1 for a label that is not a method this version can
    parse (a record written with an option since renamed, or a label of one's own): records
    are scored by label, and only a method of ours run with `batch_size` has rounds."""
    try:
        return method_batch_size(method)
    except ValueError:
        return 1


def evaluations(text: str) -> list[int]:
    """`--at`: comma-separated positive evaluation counts."""
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 10,20,55, got {text!r}") from None
    if any(n < 1 for n in out):
        raise argparse.ArgumentTypeError(f"evaluation counts start at 1, got {text!r}")
    return out


def _pair(text: str) -> tuple[str, str]:
    """`--pair`: two method labels joined by `=`."""
    first, sep, second = text.partition("=")
    if not (sep and first and second):
        raise argparse.ArgumentTypeError(f"expected LABEL_IN_FIRST=LABEL_IN_SECOND, got {text!r}")
    return first, second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(required=True)
    p = sub.add_parser("run", help="run methods over a seed range")
    p.add_argument("table")
    p.add_argument("--methods", required=True)
    p.add_argument("--proxies", default="jacov,synflow,snip")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=30)
    p.add_argument("--budget", type=int, default=150)
    p.add_argument("--out", required=True)
    p.set_defaults(func=run)
    s = sub.add_parser("score", help="score pooled runs against a target")
    s.add_argument("runs", nargs="+")
    s.add_argument("--target", type=float, required=True)
    s.add_argument(
        "--at",
        type=evaluations,
        default=[],
        help="comma-separated evaluations at which to print the mean best, e.g. 10,20,55",
    )
    s.set_defaults(func=score)
    d = sub.add_parser("paired", help="each method against one, seeds resampled together for both")
    d.add_argument("runs", nargs="+")
    d.add_argument("--target", type=float, required=True)
    d.add_argument("--against", default="bo", help="the method every other is set against")
    d.set_defaults(func=paired)
    c = sub.add_parser("compare", help="where two files' best-so-far curves part, per seed")
    c.add_argument("first")
    c.add_argument("second")
    c.add_argument(
        "--pair",
        action="append",
        default=[],
        type=_pair,
        help="LABEL_IN_FIRST=LABEL_IN_SECOND, for a method recorded under another label",
    )
    c.set_defaults(func=compare)
    args = parser.parse_args()
    try:
        args.func(args)
    except BrokenPipeError:
        # The reader left early (`score ... | head`): stop quietly, as Unix tools do, and keep
        # the interpreter from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    main()
