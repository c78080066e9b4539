"""Small generated tables for the optimizer tests (never the shared benchmark data)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optimizer.spaces import Table, nb201


def make_table(seed: int = 0, n_ops: int = 5, noise: float = 0.3) -> Table:
    """A synthetic NB201-like table: accuracy rises with conv edges; `zc_good` tracks it,
    `zc_bad` is its negation, `zc_noise` is unrelated."""
    rng = np.random.default_rng(seed)
    archs, codes, acc = [], [], []
    weights = np.array([0.0, 0.5, 1.2, 2.0, 0.3])[:n_ops]
    for ix in itertools.product(range(n_ops), repeat=nb201.N_EDGES):
        archs.append(nb201.from_indices(ix))
        codes.append(ix)
        acc.append(80 + weights[list(ix)].sum() + noise * rng.normal())
    y = np.array(acc)
    good = y + rng.normal(size=len(y))
    return Table(
        archs=tuple(archs),
        codes=np.array(codes),
        columns={
            "val_acc": y,
            "test_acc": y + 0.1 * rng.normal(size=len(y)),
            "train_time_s": np.full(len(y), 100.0),
            "zc_good": good,
            "zc_bad": -good,
            "zc_noise": rng.normal(size=len(y)),
        },
    )


@pytest.fixture(scope="session")
def small_table() -> Table:
    return make_table(n_ops=4)  # 4**6 = 4096 cells
