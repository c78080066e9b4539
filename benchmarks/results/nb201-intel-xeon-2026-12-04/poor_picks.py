"""Where the default's picks after evaluation 30 land, by kind of round (2026-12-04).

    python poor_picks.py TABLE METHOD FIRST_SEED END_SEED

runs METHOD (a `proxybo benchmark` method spec of a GP strategy) on seeds FIRST_SEED..END_SEED-1
for 150 evaluations, as the benchmark's workers do (one torch thread, rows with every proxy),
and prints, for the picks after the 30th, how many came from a round over the whole pool
("global") or from the local phase's neighbours ("local"), the share of them below
85 % val_acc and their median. A diagnostic, not a benchmark: run it from the repository root
with the project's venv."""

import sys

import numpy as np

from optimizer.proxies.scoring import DEFAULT_PROXIES as PROXIES
from optimizer.strategies import proxybo as P
from proxybo.benchmark import init_worker, run_job


def main() -> None:
    init_worker(sys.argv[1], PROXIES)  # as the benchmark's workers: one torch thread
    method, first, end = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    kinds: list[tuple[int, bool]] = []
    real = P.BayesianOptimization._bo_batch

    def spy(self, state, pool, scores, q):  # type: ignore[no-untyped-def]
        kinds.append((len(state.observed()) + 1, not self._local_candidates(state)))
        return real(self, state, pool, scores, q)

    P.BayesianOptimization._bo_batch = spy  # type: ignore[method-assign]
    picks: dict[str, list[float]] = {"global": [], "local": []}
    for seed in range(first, end):
        kinds.clear()
        values: dict[int, float] = {}

        def hook(strategy, state, values=values):  # type: ignore[no-untyped-def]
            values[len(state.observed())] = state.observed()[-1].metrics["val_acc"]

        run_job(method, seed, 150, PROXIES, hook)
        for n, whole in kinds:
            if n > 30 and n in values:
                picks["global" if whole else "local"].append(values[n])
    for kind, v in picks.items():
        a = np.array(v)
        if a.size:
            print(
                f"{method} {kind}: {a.size} picks, {float((a < 85).mean()):.3f} below 85, "
                f"median {float(np.median(a)):.2f}"
            )


if __name__ == "__main__":
    main()
