"""Fisher (Theis et al. 2018, as in Abdelfattah et al. 2021).

For every Conv2d / Linear output channel `k`: `0.5 * mean_n (sum_spatial a_nk * dL/da_nk)^2`
with `a` the layer's output activation; summed over channels and layers.
"""

from __future__ import annotations

from torch import nn

from optimizer.proxies.registry import Batch, register


@register("fisher", needs=("activation_grads",))
def fisher(net: nn.Module, batch: Batch) -> float:
    fb = batch.forward_backward(net)
    return float(sum(float(f.abs().sum()) for f in fb.fisher))
