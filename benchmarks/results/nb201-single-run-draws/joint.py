"""How often one issue run passes the default's points on every table at once, on the Intel
Xeon's records. The issue's command runs the same seeds 0..29 on each table, so every table's
drawn runs here take the same seed sets: `drawn_runs` with its default seed draws the same sets
wherever the seeds on record are the same (0-119 here). Speed-up and earn-place on the two plain
tables (at most 55 evaluations, fewer than plain BO), at most 1.2x plain BO on the negated one;
the peers point is left out (Optuna has 30 seeds on record). Run from the repository root:

    python benchmarks/results/nb201-single-run-draws/joint.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, "benchmarks")
from seed_range import curves_by_method

from proxybo.benchmark import drawn_runs

HERE = Path("benchmarks/results/nb201-single-run-draws")
X = Path("benchmarks/results/nb201-intel-xeon-2026-12-04")
T = Path("benchmarks/results/nb201-throwaway-patches")
D = Path("benchmarks/results/nb201-default-floor")
OLD = {"bo:noise_floor=0.1": "bo"}
TABLES = {
    "imagenet16-120": [
        T / "imagenet16-120_default-and-local-patience-10-15_seeds0-59.json",
        X / "imagenet16-120_default_seeds60-119.json",
        D / "imagenet16-120_bo-proxybo_seeds0-29.json",
        D / "imagenet16-120_bo-proxybo_seeds30-59.json",
        X / "imagenet16-120_proxybo-bo_seeds60-119.json",
    ],
    "cifar10": [
        T / "cifar10_default-and-local-patience-10-15_seeds0-59.json",
        X / "cifar10_default_seeds60-119.json",
        D / "cifar10_bo-proxybo_seeds0-29.json",
        D / "cifar10_bo-proxybo_seeds30-59.json",
        X / "cifar10_bo_seeds60-119.json",
    ],
    "cifar10-negated": sorted(X.glob("cifar10-negated_default-bo_seeds*.json")),
}
SEEDS = range(120)


def main() -> None:
    passed = {}
    for table, paths in TABLES.items():
        rea = HERE / f"{table.removesuffix('-negated')}_rea_seeds0-119.json"
        runs = curves_by_method([str(p) for p in [rea, *paths]], "best_so_far", OLD)
        reference = np.array([runs["rea"][s][299] for s in SEEDS])
        curves = {m: np.array([runs[m][s] for s in SEEDS]) for m in ("proxybo-features", "bo")}
        drawn = drawn_runs(curves, reference, 30)
        a, b = drawn.evals["proxybo-features"], drawn.evals["bo"]
        if table == "cifar10-negated":
            passed[table] = (a <= drawn.budget) & ((b > drawn.budget) | (a <= 1.2 * b))
        else:
            passed[table] = (a <= 55) & (a < b)
        print(f"{table}: the default passes its points in {np.mean(passed[table]):.0%} of runs")
    every = np.logical_and.reduce(list(passed.values()))
    print(f"every table at once: {np.mean(every):.0%} of 2000 drawn runs of 30 seeds")


if __name__ == "__main__":
    main()
