"""Throwaway patch (2026-12-04): the local phase's rounds over the whole pool choose only among
the best fraction $K (default 0.1) of the pool by the GP's posterior mean, by the same rule
(the sampled scorer: expected improvement or a proxy's best) as before. Aimed at the default's
whole-pool picks of cells its GP knows least (`poor_picks.py` in
`results/nb201-intel-xeon-2026-12-04/`). Dropped after two seeds of the negated table: seed 0
holds 91.128 from evaluation 30 to the end (150), where the default leaves it at 81 by an
exploratory pick; restricted to cells the GP already rates highly, the whole-pool rounds cannot
leave the region that traps the seed (`cifar10-negated_global-trust-0.1_seeds0-1.json`)."""

from __future__ import annotations

import os

import numpy as np
from phase_rounds import WholePoolRound, replace_whole_pool_rounds

SHARE = float(os.environ.get("K", 0.1))


def _choose(r: WholePoolRound) -> list[int]:
    mean, _ = r.strategy._current_gp(r.state).predict(
        r.strategy._features(r.state, r.pool, r.scores)
    )
    keep = np.sort(np.argsort(-mean, kind="stable")[: max(r.q, int(SHARE * len(r.pool)))])
    sub_scores = {p: np.asarray(v)[keep] for p, v in r.scores.items()}
    chosen = r.usual(r.strategy, r.state, [r.pool[int(i)] for i in keep], sub_scores, r.q)
    return [int(keep[i]) for i in chosen]


replace_whole_pool_rounds(_choose)
