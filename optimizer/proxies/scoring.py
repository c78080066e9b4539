"""Score NB201 architectures with live proxies: build the network, then `compute_proxies`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from optimizer.proxies.registry import Batch, ProxyRegistry, compute_proxies
from optimizer.spaces.nb201 import parse

__all__ = ["DEFAULT_PROXIES", "random_batch", "score_architecture", "time_scoring"]

DEFAULT_PROXIES: tuple[str, ...] = ("jacov", "synflow", "snip")
"""ProxyBO's default proxy set."""


def random_batch(
    n: int,
    input_shape: Sequence[int] = (3, 32, 32),
    num_classes: int = 10,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> Batch:
    """A Gaussian `n x input_shape` batch with uniform labels (for benchmarks and
    data-independent proxies)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((n, *input_shape), generator=gen)
    y = torch.randint(0, num_classes, (n,), generator=gen)
    return Batch(x.to(device), y.to(device))


def score_architecture(
    arch: str,
    batch: Batch,
    names: Sequence[str] = DEFAULT_PROXIES,
    *,
    seed: int = 0,
    registry: ProxyRegistry | None = None,
    **net_kwargs: Any,
) -> dict[str, float]:
    """Proxies of one NB201 architecture at initialization.

    Args:
        arch: NB201 arch string.
        batch: the mini-batch (`b x c x h x w`); its device is used for the network.
        names: proxies to compute.
        seed: seeds the network's initialization and the proxies.
        **net_kwargs: `build_network` settings (`C`, `N`, `num_classes`; `in_channels`
            defaults to the batch's channels).

    Returns:
        `{name: value}`.
    """
    from optimizer.spaces.nb201_net import build_network

    net_kwargs.setdefault("in_channels", int(batch.inputs.shape[1]))
    device = batch.inputs.device
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        net = build_network(parse(arch), **net_kwargs).to(device)
    if device.type == "cpu":
        # oneDNN's convolutions (forward and both backward passes) run about 15% faster on
        # NHWC tensors; the values agree with the NCHW ones to float rounding.
        net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        batch = Batch(
            batch.inputs.contiguous(memory_format=torch.channels_last),
            batch.targets,
            batch.loss_fn,
            batch.split,
        )
    return compute_proxies(net, batch, names, seed=seed, registry=registry)


def time_scoring(
    names: Sequence[str],
    n: int,
    *,
    batch_size: int = 64,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> list[float]:
    """Seconds to score each of `n` random NB201 architectures with `names` at NB201 size
    (3x32x32 inputs, 10 classes, network construction included), after one warm-up
    architecture (allocator, kernels)."""
    import time

    import numpy as np

    from optimizer.spaces.nb201 import NB201Space

    dev = torch.device(device)
    archs = NB201Space().sample(np.random.default_rng(seed), n + 1)
    batch = random_batch(batch_size, (3, 32, 32), 10, seed=seed, device=dev)
    score_architecture(archs[0], batch, names, seed=seed)
    times = []
    for arch in archs[1:]:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        score_architecture(arch, batch, names, seed=seed)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        times.append(time.perf_counter() - t0)
    return times
