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

    python benchmarks/seed_range.py draws REA.json RUNS.json [...] [--against bo] [--size 30]

`draws` says how often one run of `--size` seeds (the issue's 30) would pass each of the
issue's points: it draws that many seeds with replacement from the seeds every method has on
record, sets the run's target to REA's mean best at `--reference-budget` (300) over them, as
`proxybo benchmark` does over its own seeds (or to `--target`), and prints per method the spread
of its evaluations to that target and the share of drawn runs in which it reaches a speed-up of
at least `--speedup` (5.4) over the reference budget, in fewer evaluations than `--against`, and
in at most `--bound` (1.2) times as many. REA's records come from `run --methods rea --budget
300`. `--methods` draws only the methods named. A mean over many seeds says where a method
stands; this says how often an issue-sized run shows it.

`score`, `paired` and `draws` take `--rename 'LABEL_IN_RECORDS->NEW_LABEL'` to pool a method
recorded under another label (`bo:noise_floor=0.1` before the floor was every GP's default).

    python benchmarks/seed_range.py compare A.json B.json [--pair LABEL_IN_A=LABEL_IN_B]

`compare` prints, per method in both files, how many seeds have the same best-so-far curve
throughout and at which evaluation the others part: how one checks that two machines, or a
change meant to leave results alone, give the same searches. A label with options holds `=`
itself; `--pair` splits at the `=` that leaves a label of each file on either side.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from proxybo.benchmark import (
    drawn_runs,
    evals_for_speedup,
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
    by_curve = {key: curves_by_method(args.runs, key, dict(args.rename)) for key in CURVES}
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
    runs = curves_by_method(args.runs, "best_so_far", dict(args.rename))
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


def draws(args: argparse.Namespace) -> None:
    """How often one run of `--size` seeds would pass each of the issue's points: runs drawn
    from the records (seeds with replacement), each against its own target, REA's mean best at
    the reference budget over the drawn seeds (or `--target`)."""
    runs = curves_by_method(args.runs, "best_so_far", dict(args.rename))
    if args.methods:
        wanted = args.methods.split(",")
        if missing := [m for m in wanted if m not in runs]:
            sys.exit(f"no records of {missing} in these files; they hold {sorted(runs)}")
        runs = {m: c for m, c in runs.items() if m in wanted or m == args.reference}
    methods = [m for m in runs if m != args.reference]
    if args.target is None and args.reference not in runs:
        sys.exit(
            f"no records of {args.reference!r} to set each run's target; these files hold "
            f"{sorted(runs)}: run it with --budget {args.reference_budget}, or give --target"
        )
    if args.against is not None and args.against not in methods:
        sys.exit(f"no records of {args.against!r} in these files; they hold {sorted(runs)}")
    pooled = [runs[m] for m in methods]
    if args.target is None:
        pooled.append(runs[args.reference])
    seeds = sorted(set.intersection(*(set(r) for r in pooled))) if pooled else []
    if not seeds:
        sys.exit("no seed is on record for every method (and the reference); nothing to draw")
    if args.target is None:
        short = [s for s in seeds if len(runs[args.reference][s]) < args.reference_budget]
        if short:
            sys.exit(
                f"{args.reference} has fewer than {args.reference_budget} evaluations on seeds "
                f"{short[:5]}: run it with --budget {args.reference_budget}"
            )
        reference = np.array([runs[args.reference][s][args.reference_budget - 1] for s in seeds])
        how = f"{args.reference}'s mean best at {args.reference_budget} over the drawn seeds"
    else:
        reference = np.full(len(seeds), args.target)
        how = "fixed"
    budget = min(len(runs[m][s]) for m in methods for s in seeds)
    curves = {m: np.array([runs[m][s][:budget] for s in seeds], dtype=float) for m in methods}
    drawn = drawn_runs(curves, reference, args.size, draws=args.draws)
    lo, mid, hi = np.quantile(drawn.targets, [0.1, 0.5, 0.9])
    at_most = evals_for_speedup(args.reference_budget, args.speedup)
    print(
        f"{len(seeds)} seeds on record for every method; {args.draws} runs of {args.size} "
        f"seeds drawn with replacement; target ({how}): median {mid:.5f} (80% {lo:.5f}-{hi:.5f})"
    )
    for m in methods:
        e = drawn.evals[m]
        lo_e, mid_e, hi_e = (int(v) for v in np.quantile(e, [0.1, 0.5, 0.9], method="inverted_cdf"))
        never = float(np.mean(e > budget))
        text = "-".join(str(v) if v <= budget else "never" for v in (lo_e, hi_e))
        line = (
            f"{m}: evals to target median {mid_e if mid_e <= budget else 'never'} (80% {text}), "
            f"never in {format_share(never)}; speed-up at least {args.speedup}x (at most "
            f"{at_most} evaluations of {args.reference_budget}) in "
            f"{format_share(drawn.share(m, at_most))}"
        )
        if args.against is not None and m != args.against:
            fewer = drawn.share_against(m, args.against, 1.0, strict=True)
            within = drawn.share_against(m, args.against, args.bound, strict=False)
            line += (
                f"; fewer than {args.against} in {format_share(fewer)}, at most {args.bound}x "
                f"{args.against} in {format_share(within)}"
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
    a, b = (curves_by_method([path], "best_so_far") for path in (args.first, args.second))
    pairs = dict(_resolve_pair(text, a, b) for text in args.pair)
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


def curves_by_method(
    paths: list[str], key: str, rename: Mapping[str, str] | None = None
) -> dict[str, dict[int, list[float]]]:
    """Method -> seed -> the records' curve `key`, pooled over `paths` (records without it,
    written before that curve was kept, are left out), each method under `rename`'s label for
    it where it has one (records of one method written under two labels)."""
    rename = rename or {}
    out: dict[str, dict[int, list[float]]] = {}
    for path in paths:
        for r in json.loads(Path(path).read_text()):
            if key in r:
                out.setdefault(rename.get(r["method"], r["method"]), {})[r["seed"]] = r[key]
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


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """An argparse type: a positive `kind`."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


def _pair(text: str) -> str:
    """`--pair`: two method labels joined by `=`; split by `_resolve_pair`, since a label with
    options holds `=` itself."""
    if not any(text[:i] and text[i + 1 :] for i, ch in enumerate(text) if ch == "="):
        raise argparse.ArgumentTypeError(f"expected LABEL_IN_FIRST=LABEL_IN_SECOND, got {text!r}")
    return text


def _resolve_pair(
    text: str, first: Mapping[str, object], second: Mapping[str, object]
) -> tuple[str, str]:
    """`--pair` split at the `=` that leaves a label of the first file on its left and one of
    the second on its right (`proxybo:noise_floor=0.1=proxybo`)."""
    splits = [(text[:i], text[i + 1 :]) for i, ch in enumerate(text) if ch == "="]
    found = [(x, y) for x, y in splits if x in first and y in second]
    if len(found) != 1:
        sys.exit(
            f"--pair {text!r} does not split into one label of the first file "
            f"({sorted(first)}) and one of the second ({sorted(second)})"
        )
    return found[0]


def _rename(text: str) -> tuple[str, str]:
    """`--rename`: a method label in the records and the label to pool it under, joined by
    `->` (method labels hold `=` and `:` themselves)."""
    old, sep, new = text.partition("->")
    if not (sep and old and new):
        raise argparse.ArgumentTypeError(f"expected LABEL_IN_RECORDS->NEW_LABEL, got {text!r}")
    return old, new


RENAME_HELP = "LABEL_IN_RECORDS->NEW_LABEL: pool a method recorded under another label"


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
    s.add_argument("--rename", action="append", default=[], type=_rename, help=RENAME_HELP)
    s.set_defaults(func=score)
    d = sub.add_parser("paired", help="each method against one, seeds resampled together for both")
    d.add_argument("runs", nargs="+")
    d.add_argument("--target", type=float, required=True)
    d.add_argument("--against", default="bo", help="the method every other is set against")
    d.add_argument("--rename", action="append", default=[], type=_rename, help=RENAME_HELP)
    d.set_defaults(func=paired)
    r = sub.add_parser("draws", help="how often one run of N seeds passes each point")
    r.add_argument("runs", nargs="+")
    r.add_argument("--methods", help="comma-separated labels to draw (default: every one)")
    r.add_argument(
        "--size", type=_positive(int), default=30, help="seeds per drawn run (the issue's: 30)"
    )
    r.add_argument("--draws", type=_positive(int), default=2000, help="how many runs to draw")
    r.add_argument("--reference", default="rea", help="the method whose mean sets each target")
    r.add_argument("--reference-budget", type=_positive(int), default=300)
    r.add_argument("--target", type=float, help="a fixed target instead of the reference's")
    r.add_argument(
        "--speedup", type=_positive(float), default=5.4, help="the speed-up over the reference"
    )
    r.add_argument("--against", help="the method to set every other against (e.g. bo)")
    r.add_argument(
        "--bound", type=_positive(float), default=1.2, help="at most this many times --against"
    )
    r.add_argument("--rename", action="append", default=[], type=_rename, help=RENAME_HELP)
    r.set_defaults(func=draws)
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
