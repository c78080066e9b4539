"""GraSP (Wang et al. 2020), as NASLib computes it: `sum -W * (H g)` over Conv2d / Linear.

`g` is the gradient of the loss, `H g` the Hessian-gradient product obtained by
differentiating `g_detached . dL/dW`. Needs its own two passes (second-order).
"""

from __future__ import annotations

import torch
from torch import nn

from optimizer.proxies.registry import Batch, register
from optimizer.proxies.shared import prunable_layers


@register("grasp")
def grasp(net: nn.Module, batch: Batch) -> float:
    weights = [layer.weight for layer in prunable_layers(net)]
    n = batch.size
    grad_w: list[torch.Tensor] = [torch.zeros_like(w) for w in weights]
    for x, y in batch.chunks():
        loss = batch.loss_fn(net(x), y) * (x.shape[0] / n)
        for acc, g in zip(
            grad_w, torch.autograd.grad(loss, weights, allow_unused=True), strict=True
        ):
            if g is not None:
                acc.add_(g.detach())
    hg: list[torch.Tensor] = [torch.zeros_like(w) for w in weights]
    for x, y in batch.chunks():
        loss = batch.loss_fn(net(x), y) * (x.shape[0] / n)
        grad_f = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
        z = sum(
            ((gw * gf).sum() for gw, gf in zip(grad_w, grad_f, strict=True) if gf is not None),
            start=torch.zeros((), device=x.device),
        )
        if not z.requires_grad:
            continue
        for acc, h in zip(hg, torch.autograd.grad(z, weights, allow_unused=True), strict=True):
            if h is not None:
                acc.add_(h.detach())
    return float(sum(float((-w.detach() * h).sum()) for w, h in zip(weights, hg, strict=True)))
