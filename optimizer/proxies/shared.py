"""The forward/backward pass that several proxies share.

One forward pass of the batch (batch-norm in training mode, as NASLib) and at most two
backward passes over the same graph give everything `snip`, `grad_norm`, `fisher`, `jacov` and
`nwot` read:

- `weight_grads`: d(loss)/dW of every Conv2d / Linear weight (`snip`, `grad_norm`);
- `fisher`: per output channel of every Conv2d / Linear layer,
  `0.5 * mean_n (sum_spatial act * d(loss)/d(act))^2` (`fisher`);
- `input_grads`: d(sum of logits)/d(input), `b x (c*h*w)` (`jacov`);
- `relu_kernel`: `b x b` Hamming-agreement kernel of the ReLU input signs (`nwot`).

Only the parts in `batch.needs` are computed. With `batch.split > 1` the batch is processed
in parts: gradients and Fisher terms are averaged with each part's weight, Jacobian rows and
ReLU codes are concatenated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from optimizer.proxies.registry import Batch

__all__ = ["ForwardBackward", "prunable_layers"]


def prunable_layers(net: nn.Module) -> list[nn.Conv2d | nn.Linear]:
    """The Conv2d and Linear layers of `net`, in module order (NASLib's measured layers)."""
    return [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


@dataclass
class ForwardBackward:
    """Results of the shared pass of `net` on one batch (fields absent from `needs` are None).

    Attributes:
        net: the network the pass ran on.
        layers: the Conv2d / Linear layers, in module order.
        weight_grads: per layer, the gradient of the mean loss, shaped like its weight.
        fisher: per layer, a `c_out` tensor of Fisher saliencies.
        input_grads: `b x (c*h*w)` gradient of the sum of the logits w.r.t. the input.
        relu_kernel: `b x b` float64 kernel, sum over ReLUs of sign agreements.
        forward_calls: forward passes of `net` this pass made (one per part of the batch).
    """

    net: nn.Module
    layers: list[nn.Conv2d | nn.Linear]
    weight_grads: list[torch.Tensor] | None
    fisher: list[torch.Tensor] | None
    input_grads: torch.Tensor | None
    relu_kernel: torch.Tensor | None
    forward_calls: int

    @classmethod
    def run(cls, net: nn.Module, batch: Batch) -> ForwardBackward:
        needs = batch.needs
        want_w = "weight_grads" in needs
        want_f = "activation_grads" in needs
        want_j = "input_grads" in needs
        want_k = "relu_codes" in needs
        want_loss = want_w or want_f
        layers = prunable_layers(net)
        weights = [layer.weight for layer in layers]
        n_total = batch.size

        weight_grads = [torch.zeros_like(w) for w in weights] if want_w else None
        fisher: list[torch.Tensor] | None = None
        jac_rows: list[torch.Tensor] = []
        kernel: torch.Tensor | None = None
        code_parts: list[list[torch.Tensor]] = []
        forward_calls = 0

        for x, y in batch.chunks():
            frac = x.shape[0] / n_total
            acts: list[torch.Tensor] = []
            codes: list[torch.Tensor] = []
            handles = []
            if want_f:
                for layer in layers:
                    handles.append(layer.register_forward_hook(_capture_output(acts)))
            if want_k:
                for module in net.modules():
                    if isinstance(module, nn.ReLU):
                        handles.append(module.register_forward_hook(_capture_sign(codes)))
            try:
                x_in = x.detach().clone().requires_grad_(want_j)
                with torch.set_grad_enabled(want_loss or want_j):
                    logits = net(x_in)
                forward_calls += 1
            finally:
                for h in handles:
                    h.remove()

            if want_j:
                (gx,) = torch.autograd.grad(logits.sum(), x_in, retain_graph=want_loss)
                jac_rows.append(gx.detach().reshape(gx.shape[0], -1))
            if want_loss:
                loss = batch.loss_fn(logits, y)
                wrt = (weights if want_w else []) + acts
                grads = torch.autograd.grad(loss, wrt, allow_unused=True)
                if want_w and weight_grads is not None:
                    for acc, g in zip(weight_grads, grads[: len(weights)], strict=True):
                        if g is not None:
                            acc.add_(g.detach(), alpha=frac)
                if want_f:
                    act_grads = grads[len(weights) if want_w else 0 :]
                    terms = [
                        _fisher_term(a.detach(), g) * frac
                        for a, g in zip(acts, act_grads, strict=True)
                    ]
                    if fisher is None:
                        fisher = terms
                    else:
                        fisher = [f + t for f, t in zip(fisher, terms, strict=True)]
            if want_k:
                if batch.split == 1:
                    kernel = _hamming_kernel(codes)
                else:
                    code_parts.append(codes)

        if want_k and batch.split > 1:
            merged = [torch.cat(parts, dim=0) for parts in zip(*code_parts, strict=True)]
            kernel = _hamming_kernel(merged)
        return cls(
            net=net,
            layers=layers,
            weight_grads=weight_grads,
            fisher=fisher,
            input_grads=torch.cat(jac_rows, dim=0) if want_j else None,
            relu_kernel=kernel,
            forward_calls=forward_calls,
        )


def _capture_output(store: list[torch.Tensor]):  # type: ignore[no-untyped-def]
    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        store.append(output)

    return hook


def _capture_sign(store: list[torch.Tensor]):  # type: ignore[no-untyped-def]
    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        # An in-place ReLU has overwritten its input with the output; the sign test is the same.
        x = inputs[0].detach()
        store.append(x.reshape(x.shape[0], -1) > 0)

    return hook


def _fisher_term(act: torch.Tensor, grad: torch.Tensor | None) -> torch.Tensor:
    """`0.5 * mean_n (sum_spatial act * grad)^2` per channel, `c_out`."""
    if grad is None:
        return torch.zeros(act.shape[1], dtype=act.dtype, device=act.device)
    prod = act * grad.detach()
    g_nk = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
    return g_nk.pow(2).mean(0).mul(0.5)


def _hamming_kernel(codes: list[torch.Tensor]) -> torch.Tensor:
    """Sum over layers of `c c^T + (1-c)(1-c)^T` for binary codes `c`, `b x b` float64."""
    if not codes:
        raise ValueError("nwot needs a network with ReLU activations; this one has none")
    b = codes[0].shape[0]
    kernel = torch.zeros(b, b, dtype=torch.float64, device=codes[0].device)
    for c in codes:
        f = c.to(torch.float32)
        kernel += (f @ f.T).double() + ((1.0 - f) @ (1.0 - f).T).double()
    return kernel
