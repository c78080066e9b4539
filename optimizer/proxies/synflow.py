"""SynFlow (Tanaka et al. 2020), as NASLib / NAS-Bench-Suite-Zero compute it.

Batch-norm removed, all parameters replaced by their absolute values, double precision, an
all-ones input of one sample; the score is `sum |W * dR/dW|` over every Conv2d / Linear weight
with `R` the sum of the outputs. NASLib reports its natural logarithm (the raw value overflows
float32 for deep networks); so does this proxy.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from optimizer.proxies.registry import Batch, register
from optimizer.proxies.shared import prunable_layers


@register("synflow", bn=False, mutates=True, data_dependent=False)
def synflow(net: nn.Module, batch: Batch) -> float:
    net.double()
    with torch.no_grad():
        for tensor in net.state_dict().values():
            if tensor.is_floating_point():
                tensor.abs_()
    net.zero_grad(set_to_none=True)
    x = torch.ones((1, *batch.inputs.shape[1:]), dtype=torch.float64, device=batch.inputs.device)
    net(x).sum().backward()
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    with torch.no_grad():
        for layer in prunable_layers(net):
            if layer.weight.grad is not None:
                total += (layer.weight * layer.weight.grad).abs().sum()
    value = float(total)
    if value > 0 and math.isfinite(value):
        return math.log(value)
    return value if value == 0.0 else float("nan")
