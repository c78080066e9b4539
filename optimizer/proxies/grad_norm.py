"""Gradient norm (Abdelfattah et al. 2021): `sum_layers ||dL/dW||_2` over Conv2d / Linear."""

from __future__ import annotations

from torch import nn

from optimizer.proxies.registry import Batch, register


@register("grad_norm", needs=("weight_grads",))
def grad_norm(net: nn.Module, batch: Batch) -> float:
    fb = batch.forward_backward(net)
    return float(sum(float(g.norm()) for g in fb.weight_grads))
