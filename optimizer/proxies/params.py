"""Parameter count in millions (NAS-Bench-Suite-Zero's `params`)."""

from __future__ import annotations

from torch import nn

from optimizer.proxies.registry import Batch, register


@register("params", data_dependent=False)
def params(net: nn.Module, batch: Batch) -> float:
    return sum(p.numel() for p in net.parameters()) / 1e6
