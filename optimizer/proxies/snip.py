"""SNIP (Lee et al. 2019): `sum |W * dL/dW|` over Conv2d / Linear weights, from the shared pass.

NASLib obtains `dL/dmask` through a weight mask of ones, which equals `W * dL/dW`.
"""

from __future__ import annotations

from torch import nn

from optimizer.proxies.registry import Batch, register


@register("snip", needs=("weight_grads",))
def snip(net: nn.Module, batch: Batch) -> float:
    fb = batch.forward_backward(net)
    return float(
        sum(
            float((layer.weight.detach() * g).abs().sum())
            for layer, g in zip(fb.layers, fb.weight_grads, strict=True)
        )
    )
