"""Throwaway patch (2026-12-04): the local phase's rounds over the whole pool pick by expected
improvement under a GP on the encoding alone (plain BO's GP: the kernel in use, the noise floor,
hyperparameters refitted from the previous such fit), not under the GP with the proxy features
and not by a drawn scorer; the local rounds are unchanged. Aimed at the default's whole-pool
picks of cells its GP knows least, most of them at an end of a proxy feature's range
(`poor_picks.py` in `results/nb201-intel-xeon-2026-12-04/`). Not adopted: on the negated table,
seeds 0-29, it takes 114 evaluations (66-125) against the default's 83, seed 27 never reaching
the target (`cifar10-negated_global-plain-gp_seeds0-29.json`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from phase_rounds import WholePoolRound, replace_whole_pool_rounds

from optimizer.surrogate import GPSurrogate

_KEY = "plain_gp_hyper"  # warm start of the encoding-only fit, kept in the state's extras


def _choose(r: WholePoolRound) -> list[int]:
    self, state = r.strategy, r.state
    obs = state.observed()
    kernel = self.kernel_in_use(state) or "ard"
    init: dict[str, Any] | None = state.extras.get(_KEY, {}).get(kernel)
    gp = GPSurrogate.fit(
        self.space.encode([e.arch for e in obs]),
        state.objective_values(),
        init=init,
        maxiter=200 if init is None else 50,
        seed=self.config.seed + len(obs),
        shared=self._shared_for(kernel),
        noise_floor=self.noise_floor,
    )
    state.extras.setdefault(_KEY, {})[kernel] = gp.hyperparameters()
    if state.pending:
        xp = self.space.encode([e.arch for e in state.pending])
        gp = gp.condition(xp, gp.predict(xp)[0])
    xpool = self.space.encode(r.pool)
    chosen: list[int] = []
    for _ in range(r.q):
        lei = np.asarray(gp.log_expected_improvement(xpool), dtype=float).copy()
        lei[chosen] = -np.inf
        pick = int(np.argmax(lei))
        chosen.append(pick)
        if len(chosen) < r.q:
            xi = xpool[pick : pick + 1]
            gp = gp.condition(xi, gp.predict(xi)[0])
    return chosen


replace_whole_pool_rounds(_choose)
