"""Forward FLOPs in millions for one sample, counted as NAS-Bench-201's `get_model_infos`.

Conv2d: `c_in/groups * kh * kw` multiply-adds per output element (+1 with a bias); Linear:
`in * out` (+ `out` with a bias); average / max pooling: `k * k` per output element.
Batch-norm, activations and additions are not counted.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from optimizer.proxies.registry import Batch, register


def _kernel_area(k: int | tuple[int, ...]) -> int:
    return math.prod(k) if isinstance(k, tuple) else int(k) ** 2


def count_flops(net: nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one forward pass of a `1 x input_shape` input (without the batch dimension)."""
    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        per_sample = output.numel() // output.shape[0]
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += per_sample * (module.in_channels // module.groups) * kh * kw
            if module.bias is not None:
                total += per_sample
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features
            if module.bias is not None:
                total += module.out_features
        elif isinstance(module, nn.AvgPool2d | nn.MaxPool2d):
            total += per_sample * _kernel_area(module.kernel_size)  # type: ignore[arg-type]

    kinds = (nn.Conv2d, nn.Linear, nn.AvgPool2d, nn.MaxPool2d)
    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, kinds)]
    was_training = net.training
    param = next(net.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    try:
        net.eval()
        with torch.no_grad():
            net(torch.zeros((1, *input_shape), device=device, dtype=dtype))
    finally:
        net.train(was_training)
        for h in handles:
            h.remove()
    return total


@register("flops", data_dependent=False)
def flops(net: nn.Module, batch: Batch) -> float:
    return count_flops(net, tuple(batch.inputs.shape[1:])) / 1e6
