"""The torch network of an NB201 cell, exactly as NAS-Bench-201 defines it.

Macro skeleton (NAS-Bench-201, Dong & Yang 2020, `TinyNetwork` / `InferCell`)::

    stem: Conv3x3(in_channels -> C) + BN
    N cells (C) -> ResNet reduction block (C -> 2C, stride 2)
    N cells (2C) -> ResNet reduction block (2C -> 4C, stride 2)
    N cells (4C) -> BN + ReLU -> global average pool -> Linear(4C -> num_classes)

Cell operations: `none` (zero), `skip_connect` (identity), `nor_conv_1x1` and
`nor_conv_3x3` (ReLU -> Conv (no bias) -> BN), `avg_pool_3x3` (stride 1, padding 1, padding
excluded from the average). Every node is the sum of its incoming edges; the cell's output is
node 3. With the defaults (`C=16`, `N=5`, 3 input channels, 10 classes) the parameter counts
equal NAS-Bench-201's `params` column.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from optimizer.spaces.nb201 import EDGES, N_EDGES, OPS

__all__ = ["AvgPool3x3", "NB201Network", "build_network", "count_parameters"]


class ReLUConvBN(nn.Module):
    """ReLU -> Conv2d (no bias) -> BatchNorm2d, NB201's convolution block."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=True, track_running_stats=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Zero(nn.Module):
    """The `none` operation: an all-zero output of the input's shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class AvgPool3x3(nn.AvgPool2d):
    """NB201's `avg_pool_3x3`: 3x3 average, stride 1, padding 1, padding excluded from the count.

    On CPU the average is computed as a depthwise convolution with a ones kernel divided by the
    number of in-image positions under the window: the same values (to float rounding) as
    `nn.AvgPool2d(3, 1, 1, count_include_pad=False)`, whose CPU kernel is about ten times
    slower forward and backward (it was half the time of a proxy evaluation). Other devices
    use the pooling kernel. Still an `nn.AvgPool2d`, so FLOP counting treats it as one.
    """

    def __init__(self) -> None:
        super().__init__(kernel_size=3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or x.dim() != 4:
            return super().forward(x)
        c, h, w = x.shape[1], x.shape[2], x.shape[3]
        window = x.new_ones((1, 1, 3, 3))
        summed = F.conv2d(x, window.expand(c, 1, 3, 3), padding=1, groups=c)
        count = F.conv2d(x.new_ones((1, 1, h, w)), window, padding=1)
        return summed * count.reciprocal()


class ResNetBasicBlock(nn.Module):
    """NB201's reduction block: two ReLUConvBN 3x3 (first with stride 2) plus an
    average-pool + 1x1 conv shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


def _make_op(name: str, channels: int) -> nn.Module:
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, 1)
    if name == "avg_pool_3x3":
        return AvgPool3x3()
    raise ValueError(f"unknown NB201 operation {name!r}; expected one of {', '.join(OPS)}")


class NB201Cell(nn.Module):
    """One NB201 cell: a 4-node DAG whose 6 edges carry `ops` (in `EDGES` order)."""

    def __init__(self, ops: Sequence[str], channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(_make_op(op, channels) for op in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for target in (1, 2, 3):
            total: torch.Tensor | None = None
            for k, (source, tgt) in enumerate(EDGES):
                if tgt == target and not isinstance(self.edges[k], Zero):
                    # A `none` edge adds zeros: skipping it saves a pass over the tensor.
                    out = self.edges[k](nodes[source])
                    total = out if total is None else total + out
            # A node fed by `none` edges only is zero, kept on the graph of the input (the
            # input gradient of a cut cell is then zero, as with NB201's `Zero`, not missing).
            nodes.append(x.mul(0.0) if total is None else total)
        return nodes[3]


class NB201Network(nn.Module):
    """NAS-Bench-201's network for one cell (`TinyNetwork` with a fixed genotype).

    `forward` maps `batch x in_channels x H x W` images to `batch x num_classes` logits;
    `forward_features` returns the `batch x 4C x H/4 x W/4` map before global pooling.
    """

    def __init__(
        self,
        ops: Sequence[str],
        *,
        C: int = 16,
        N: int = 5,
        in_channels: int = 3,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        self.ops = tuple(ops)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C)
        )
        layers: list[nn.Module] = []
        c_prev = C
        for stage, c_curr in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                layers.append(ResNetBasicBlock(c_prev, c_curr))
            layers.extend(NB201Cell(self.ops, c_curr) for _ in range(N))
            c_prev = c_curr
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Features before global average pooling, `batch x 4C x H' x W'`."""
        return self.lastact(self.cells(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.global_pooling(self.forward_features(x))
        return self.classifier(out.flatten(1))


def build_network(
    ops: Sequence[str],
    *,
    C: int = 16,
    N: int = 5,
    in_channels: int = 3,
    num_classes: int = 10,
    input_size: int | None = None,
) -> NB201Network:
    """The NAS-Bench-201 network of a cell given as 6 operation names in edge order.

    Args:
        ops: operation of each edge, in `EDGES` order (see `optimizer.spaces.nb201.parse`).
        C: channels of the first stage (NB201: 16); stages have `C, 2C, 4C`.
        N: cells per stage (NB201: 5).
        in_channels: channels of the input images (NB201: 3).
        num_classes: outputs of the classifier (CIFAR-10: 10).
        input_size: side of the square input images; only validated (the network is
            size-agnostic thanks to global pooling), it must survive two stride-2 reductions.

    Returns:
        An `NB201Network` in training mode, with PyTorch's default initialization (seed
        `torch.manual_seed` beforehand for a reproducible network).
    """
    if len(ops) != N_EDGES:
        raise ValueError(f"an NB201 cell has {N_EDGES} edges, got {len(ops)} operations")
    for name, value in (("C", C), ("N", N), ("in_channels", in_channels)):
        if int(value) < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    if input_size is not None and input_size < 4:
        raise ValueError(
            f"input_size {input_size} is too small: NB201 halves the resolution twice; use >= 4"
        )
    return NB201Network(ops, C=C, N=N, in_channels=in_channels, num_classes=num_classes)


def count_parameters(net: nn.Module) -> int:
    """Number of parameters of `net` (NB201 counts every parameter, batch-norm included)."""
    return sum(p.numel() for p in net.parameters())
