"""Trace one seed of a GP method, pick by pick (2026-12-04).

    python trace_seed.py TABLE METHOD SEED FROM TO

runs METHOD (a `proxybo benchmark` method spec of a GP strategy) on SEED as the benchmark's
workers do (one torch thread, rows with every proxy) and prints, for evaluations FROM..TO: the
pool size (over 1,000: a round over the whole pool), the scorer drawn, the GP's posterior mean
and standard deviation of the pick (its standardised scale), the pick's proxy features
(quantiles), its val_acc, the best so far, each scorer's pairwise accuracy and the kernel in
use. A diagnostic; run it from the repository root with the project's venv."""

import sys
from typing import Any

import numpy as np
from spies import watch_scorer_draws

from optimizer.proxies.scoring import DEFAULT_PROXIES as PROXIES
from optimizer.strategies import proxybo as P
from proxybo.benchmark import init_worker, run_job


def main() -> None:
    init_worker(sys.argv[1], PROXIES)  # as the benchmark's workers: one torch thread
    method, seed, lo, hi = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    log: list[dict[str, Any]] = []
    real_batch = P.BayesianOptimization._bo_batch
    watch_scorer_draws(lambda s, _: log[-1].update(scorer=s))

    def batch(self, state, pool, scores, q):  # type: ignore[no-untyped-def]
        log.append({"n": len(state.observed()) + 1, "pool": len(pool)})
        out = real_batch(self, state, pool, scores, q)
        i = out[0]
        x = self._features(state, [pool[i]], {p: np.asarray(scores[p])[[i]] for p in scores})
        mean, var = self._current_gp(state).predict(x)
        log[-1].update(
            feat=np.round(x[0, -len(PROXIES) :], 2).tolist(),
            mean=round(float(mean[0]), 2),
            sd=round(float(np.sqrt(var[0])), 2),
        )
        return out

    P.BayesianOptimization._bo_batch = batch  # type: ignore[method-assign]
    rows: dict[int, tuple[Any, ...]] = {}

    def hook(strategy, state):  # type: ignore[no-untyped-def]
        obs = state.observed()
        rel = state.reliability[-1] if state.reliability else None
        rows[len(obs)] = (
            round(obs[-1].metrics["val_acc"], 3),
            round(max(e.metrics["val_acc"] for e in obs), 3),
            {k: round(v, 2) for k, v in rel.reliability.items()} if rel else {},
            strategy.kernel_in_use(state),
        )

    run_job(method, seed, 150, PROXIES, hook)
    for e in log:
        if lo <= e["n"] <= hi:
            head = (e["n"], e["pool"], e.get("scorer"), e.get("mean"), e.get("sd"), e.get("feat"))
            print(*head, *rows.get(e["n"], ()))


if __name__ == "__main__":
    main()
