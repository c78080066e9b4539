"""Where a GP method's first picks land, over seeds (2026-12-04, second session).

    python early_picks.py TABLE METHOD FIRST END BUDGET

runs METHOD (a `proxybo benchmark` method spec of a GP strategy) on seeds FIRST..END-1 to
BUDGET evaluations, as the benchmark's workers do, and prints per phase (the design, evaluations
6-15, 16-BUDGET) and per kind of pick (the design; a pick that followed the GP or a proxy, under
`fusion=sample`; plain BO's picks are all "design" here, as no scorer is drawn) how many picks
there were, their mean val_acc and the share below 85%; then the proxies' summed weight at
evaluations 6-30. With PATCH set, that module of `results/nb201-throwaway-patches/` is imported
first, as `run_patched.py` does (e.g. `PATCH=patch_random_design`). Try 4 of its output, made
with a patch since removed, is the method `proxybo-features:design_screen=0.5` (an option since
the third session of 2026-12-04, not the default).
A diagnostic; run it from the repository root with the project's venv."""

import os
import sys
from collections import defaultdict
from typing import Any

import numpy as np
from spies import watch_scorer_draws

from optimizer.proxies.scoring import DEFAULT_PROXIES as PROXIES
from optimizer.state import SearchState
from optimizer.strategies.base import Strategy
from optimizer.strategies.proxybo import GP
from proxybo.benchmark import init_worker, run_job

PHASES = ("1-5", "6-15", "16+")


def phase(n: int) -> str:
    return PHASES[0] if n <= 5 else (PHASES[1] if n <= 15 else PHASES[2])


def main() -> None:
    patches = os.path.join(os.path.dirname(__file__), "..", "nb201-throwaway-patches")
    sys.path.insert(0, os.path.abspath(patches))
    from run_patched import import_patch

    import_patch()
    init_worker(sys.argv[1], PROXIES)
    method, first, end, budget = sys.argv[2], *map(int, sys.argv[3:6])
    drawn: dict[str, Any] = {}
    watch_scorer_draws(
        lambda s, weights: drawn.update(scorer=s, proxy_weight=1.0 - weights.get(GP, 0.0))
    )
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    proxy_weight: dict[int, list[float]] = defaultdict(list)

    def hook(strategy: Strategy, state: SearchState) -> None:
        obs = state.observed()
        scorer = drawn.pop("scorer", "design")
        kind = scorer if scorer in ("design", GP) else "proxy"
        values[(phase(len(obs)), kind)].append(obs[-1].metrics["val_acc"])
        if "proxy_weight" in drawn:
            proxy_weight[len(obs)].append(drawn.pop("proxy_weight"))

    for seed in range(first, end):
        run_job(method, seed, budget, PROXIES, hook)
    for (ph, kind), v in sorted(values.items(), key=lambda kv: (PHASES.index(kv[0][0]), kv[0][1])):
        a = np.array(v)
        print(
            f"{ph:>5} {kind:>6}: {a.size:4d} picks, mean {a.mean():.2f}, below 85: {(a < 85).mean():.2f}"
        )
    for n in (6, 8, 10, 15, 20, 25, 30):
        if proxy_weight[n]:
            print(f"proxies' weight at {n}: {np.mean(proxy_weight[n]):.2f}")


if __name__ == "__main__":
    main()
