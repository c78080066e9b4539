"""How often one issue run passes the default's points on every table at once, on the Intel
Xeon's records, for the default before and after the design's screen (`design_screen`). The
issue's command runs the same seeds 0..29 on each table, so every table's drawn runs here take
the same seed sets: `drawn_runs` with its default seed draws the same sets wherever the seeds on
record are the same (0-119 here). The points: on the two plain tables a speed-up of at least
5.4x (at most 55 evaluations) and fewer evaluations than plain BO; on the negated one at most
1.2x plain BO's. The peers point is left out (Optuna has 30 seeds on record). Run from the
repository root:

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
TABLES = ("imagenet16-120", "cifar10", "cifar10-negated")
BO = {
    "imagenet16-120": [
        D / "imagenet16-120_bo-proxybo_seeds0-29.json",
        D / "imagenet16-120_bo-proxybo_seeds30-59.json",
        X / "imagenet16-120_proxybo-bo_seeds60-119.json",
    ],
    "cifar10": [
        D / "cifar10_bo-proxybo_seeds0-29.json",
        D / "cifar10_bo-proxybo_seeds30-59.json",
        X / "cifar10_bo_seeds60-119.json",
    ],
    "cifar10-negated": sorted(X.glob("cifar10-negated_default-bo_seeds*.json")),
}
DEFAULTS = {
    "design_screen=null (the default until 2026-12-04)": (
        "proxybo-features",
        {
            "imagenet16-120": [
                T / "imagenet16-120_default-and-local-patience-10-15_seeds0-59.json",
                X / "imagenet16-120_default_seeds60-119.json",
            ],
            "cifar10": [
                T / "cifar10_default-and-local-patience-10-15_seeds0-59.json",
                X / "cifar10_default_seeds60-119.json",
            ],
            "cifar10-negated": sorted(X.glob("cifar10-negated_default-bo_seeds*.json")),
        },
    ),
    "design_screen=0.5 (the default since)": (
        "proxybo-features+design-random-top-0.5",
        {t: [T / f"{t}_design-random-top-0.5_seeds0-119.json"] for t in TABLES},
    ),
}
SEEDS = range(120)


def passes(label: str, files: dict[str, list[Path]]) -> dict[str, np.ndarray]:
    """Per table, whether each drawn run of `label`'s records passes that table's points."""
    out = {}
    for table in TABLES:
        rea = HERE / f"{table.removesuffix('-negated')}_rea_seeds0-119.json"
        paths = [str(p) for p in [rea, *BO[table], *files[table]]]
        # the records' default and BO under one label each ("bo:noise_floor=0.1": the floor
        # before it was every GP's default)
        runs = curves_by_method(paths, "best_so_far", {"bo:noise_floor=0.1": "bo"})
        reference = np.array([runs["rea"][s][299] for s in SEEDS])
        curves = {m: np.array([runs[m][s] for s in SEEDS]) for m in (label, "bo")}
        drawn = drawn_runs(curves, reference, 30)
        a, b = drawn.evals[label], drawn.evals["bo"]
        if table == "cifar10-negated":
            out[table] = (a <= drawn.budget) & ((b > drawn.budget) | (a <= 1.2 * b))
        else:
            out[table] = (a <= 55) & (a < b)
    return out


def main() -> None:
    for name, (label, files) in DEFAULTS.items():
        passed = passes(label, files)
        shares = ", ".join(f"{t} {np.mean(p):.0%}" for t, p in passed.items())
        every = np.logical_and.reduce(list(passed.values()))
        print(f"{name}: {shares}; every table at once {np.mean(every):.0%} of 2000 runs")


if __name__ == "__main__":
    main()
