"""Jacobian covariance (Mellor et al. 2020, v1; NASLib's `jacov`).

`J` is the `b x (c*h*w)` gradient of the sum of the logits w.r.t. each input; with `v` the
eigenvalues of the `b x b` correlation matrix of `J`'s rows and `k = 1e-5`, the score is
`-sum(log(v + k) + 1 / (v + k))`. NaN when a row is constant (correlation undefined).
"""

from __future__ import annotations

import numpy as np
from torch import nn

from optimizer.proxies.registry import Batch, register


def jacov_score(jacobian: np.ndarray, k: float = 1e-5) -> float:
    """The score of a `b x d` Jacobian."""
    with np.errstate(invalid="ignore", divide="ignore"):
        corrs = np.corrcoef(jacobian)
    if not np.all(np.isfinite(corrs)):
        return float("nan")
    v = np.linalg.eigvalsh(corrs)
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


@register("jacov", needs=("input_grads",))
def jacov(net: nn.Module, batch: Batch) -> float:
    fb = batch.forward_backward(net)
    return jacov_score(fb.input_grads.double().cpu().numpy())
