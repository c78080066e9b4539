from __future__ import annotations

import numpy as np
from scipy.stats import kendalltau

from optimizer.reliability import (
    best_scorer_probability,
    descending_ranks,
    fuse_ranks,
    pairwise_accuracy,
)


def test_pairwise_accuracy_is_the_fraction_of_correctly_ordered_pairs() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    perfect, reversed_, one_swap = y, -y, np.array([2.0, 1.0, 3.0, 4.0])
    acc = pairwise_accuracy(np.column_stack([perfect, reversed_, one_swap]), y)
    assert acc.tolist() == [1.0, 0.0, 5 / 6]


def test_pairwise_accuracy_matches_kendall_tau_without_ties() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=60)
    s = y + rng.normal(size=60)
    tau = kendalltau(s, y).statistic
    assert np.isclose(pairwise_accuracy(s[:, None], y)[0], (1 + tau) / 2)


def test_best_scorer_probability_favours_the_reliable_scorer() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=80)
    scores = np.column_stack([y + 0.1 * rng.normal(size=80), rng.normal(size=80), -y])
    w = best_scorer_probability(scores, y, np.random.default_rng(2), n_boot=100)
    assert np.isclose(w.sum(), 1.0)
    assert w[0] > 0.95 and w[2] == 0.0


def test_close_scorers_share_the_weight() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(size=40)
    a = y + rng.normal(size=40)
    b = y + rng.normal(size=40)
    w = best_scorer_probability(np.column_stack([a, b]), y, np.random.default_rng(4), n_boot=300)
    assert 0.1 < w[0] < 0.9


def test_ranks_and_fusion() -> None:
    r = descending_ranks(np.array([0.3, np.nan, 0.9, 0.1]))
    assert r.tolist() == [1.0, 3.0, 0.0, 2.0]
    fused = fuse_ranks({"a": np.array([0.0, 1.0]), "b": np.array([1.0, 0.0])}, {"a": 0.8, "b": 0.2})
    assert np.argmin(fused) == 0
