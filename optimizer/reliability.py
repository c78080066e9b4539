"""Reliability ("generalization ability") of each scorer and the weights it earns.

A scorer is anything that orders architectures: the GP's out-of-sample predictions or one
zero-cost proxy. Its reliability is the fraction of pairs of evaluated architectures it orders
correctly. Its weight is the probability that it is the most reliable scorer, estimated by
resampling the evaluated set (bootstrap). Fused score of a candidate: the weighted sum of its
ranks under every scorer (rank 0 is the best).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.stats import rankdata


def _pair_tables(scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per scorer, which pairs it orders correctly, `s x n x n`, and which pairs count, `n x n`.

    A pair counts when the objective differs; a tie in a scorer's values earns half a pair.
    """
    dy = np.sign(y[:, None] - y[None, :])
    counted = (dy != 0).astype(float)
    ds = np.sign(scores.T[:, :, None] - scores.T[:, None, :])  # s x n x n
    correct = np.where(ds == 0, 0.5, (ds == dy).astype(float)) * counted
    return correct, counted


def pairwise_accuracy(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fraction of correctly ordered pairs for each column of `scores` (`n x s`), `s`.

    NaN scores count as the worst value. With fewer than one counted pair, every scorer gets 0.5.
    """
    scores = _nan_to_worst(np.atleast_2d(np.asarray(scores, dtype=float).T).T)
    correct, counted = _pair_tables(scores, np.asarray(y, dtype=float))
    total = counted.sum()
    if total == 0:
        return np.full(scores.shape[1], 0.5)
    return correct.sum(axis=(1, 2)) / total


def best_scorer_probability(
    scores: np.ndarray, y: np.ndarray, rng: np.random.Generator, n_boot: int = 200
) -> np.ndarray:
    """Probability that each scorer (column of `scores`, `n x s`) is the most reliable, `s`.

    Estimated over `n_boot` bootstrap resamples of the evaluated set; ties share the win.
    """
    scores = _nan_to_worst(np.asarray(scores, dtype=float))
    n, s = scores.shape
    if n < 2:
        return np.full(s, 1.0 / s)
    correct, counted = _pair_tables(scores, np.asarray(y, dtype=float))
    picks = rng.integers(0, n, size=(n_boot, n))
    counts = np.zeros((n_boot, n))
    np.add.at(counts, (np.arange(n_boot)[:, None], picks), 1.0)
    # pairs in a resample are weighted by the product of the two points' multiplicities
    den = np.einsum("bi,ij,bj->b", counts, counted, counts)
    num = np.einsum("bi,sij,bj->bs", counts, correct, counts)
    acc = np.where(den[:, None] > 0, num / np.maximum(den[:, None], 1e-12), 0.5)
    best = acc.max(axis=1, keepdims=True)
    winners = np.isclose(acc, best, rtol=0.0, atol=1e-12)
    share = winners / winners.sum(axis=1, keepdims=True)
    return np.asarray(share.mean(axis=0))


def descending_ranks(values: np.ndarray) -> np.ndarray:
    """Rank of each value, 0 for the largest (ties share the mean rank; NaN is last), `m`."""
    v = _nan_to_worst(np.asarray(values, dtype=float)[:, None])[:, 0]
    return np.asarray(rankdata(-v, method="average") - 1.0)


def fuse_ranks(ranks: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Weighted sum of ranks over scorers, `m` (lower is better)."""
    names = [k for k in ranks if weights.get(k, 0.0) > 0]
    if not names:
        raise ValueError("rank fusion needs at least one scorer with positive weight")
    return np.asarray(sum(weights[k] * ranks[k] for k in names))


def uniform_weights(names: Sequence[str]) -> dict[str, float]:
    return {k: 1.0 / len(names) for k in names}


def _nan_to_worst(a: np.ndarray) -> np.ndarray:
    """Replace NaN (a failed score) in each column with a value below the column's minimum."""
    a = np.array(a, dtype=float, copy=True)
    for j in range(a.shape[1]):
        col = a[:, j]
        bad = ~np.isfinite(col)
        if bad.any():
            finite = col[~bad]
            col[bad] = (finite.min() - 1.0) if finite.size else 0.0
    return a
