"""Sum over Conv2d / Linear layers of the L2 norm of the weight (NASLib's `l2_norm`)."""

from __future__ import annotations

from torch import nn

from optimizer.proxies.registry import Batch, register
from optimizer.proxies.shared import prunable_layers


@register("l2_norm", data_dependent=False)
def l2_norm(net: nn.Module, batch: Batch) -> float:
    return float(sum(float(layer.weight.detach().norm()) for layer in prunable_layers(net)))
