"""Zen-score (Lin et al. 2021), as NASLib computes it.

Gaussian re-initialization (Conv2d / Linear weights ~ N(0, 1), biases 0, batch-norm affine
1 / 0); two Gaussian inputs `x` and `x + 0.01 * e`; the score is
`log mean_n sum |f(x) - f(x + 0.01 e)| + sum_bn log sqrt(mean running_var)` with `f` the
feature map before global pooling, batch-norm in training mode. Only the batch's shape is used.
The Gaussian draws come from the CPU generator on every device, so CPU and CUDA agree.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from optimizer.proxies.registry import Batch, register


def _randn(shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """Standard normal draws from the CPU generator, moved to `like`'s device and dtype.

    CUDA's generator gives other numbers for the same seed (zen differed by 2.5% between CPU
    and an H200); drawing on CPU makes the score device-independent.
    """
    return torch.randn(shape).to(device=like.device, dtype=like.dtype)


def _gaussian_init(net: nn.Module) -> None:
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            m.weight.copy_(_randn(tuple(m.weight.shape), m.weight))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    forward_features = getattr(net, "forward_features", None)
    if callable(forward_features):
        out = forward_features(x)
        assert isinstance(out, torch.Tensor)
        return out
    captured: list[torch.Tensor] = []
    pools = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    if len(pools) != 1:
        raise ValueError(
            "zen needs `forward_features` or exactly one AdaptiveAvgPool2d in the network, "
            f"found {len(pools)}"
        )
    handle = pools[0].register_forward_hook(lambda m, i, o: captured.append(i[0]))
    try:
        net(x)
    finally:
        handle.remove()
    return captured[0]


@register("zen", mutates=True, data_dependent=False)
def zen(net: nn.Module, batch: Batch, mixup_gamma: float = 1e-2) -> float:
    shape = tuple(batch.inputs.shape)
    with torch.no_grad():
        _gaussian_init(net)
        x = _randn(shape, batch.inputs)
        x2 = _randn(shape, batch.inputs)
        out = _features(net, x)
        mixed = _features(net, x + mixup_gamma * x2)
        score = torch.sum(torch.abs(out - mixed), dim=tuple(range(1, out.dim()))).mean()
        log_bn = 0.0
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d) and m.running_var is not None:
                log_bn += float(torch.log(torch.sqrt(torch.mean(m.running_var))))
    value = float(score)
    return math.log(value) + log_bn if value > 0 else float("-inf")
