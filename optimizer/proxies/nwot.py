"""NASWOT (Mellor et al. 2021, v2): log-determinant of the ReLU-pattern kernel.

For each sample, the binary code of every ReLU's input (`x > 0`); `K[i, j]` counts the units
on which samples `i` and `j` agree (summed over ReLUs); the score is `log |det K|`.
"""

from __future__ import annotations

import torch
from torch import nn

from optimizer.proxies.registry import Batch, register


@register("nwot", needs=("relu_codes",))
def nwot(net: nn.Module, batch: Batch) -> float:
    fb = batch.forward_backward(net)
    _, logabsdet = torch.linalg.slogdet(fb.relu_kernel)
    return float(logabsdet)
