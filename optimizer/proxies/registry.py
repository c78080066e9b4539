"""The zero-cost proxy registry and the wrapper that does every proxy's shared work.

A proxy is one function `fn(net, batch) -> float` computed on an untrained network, registered
with `@register(name, ...)`. The wrapper (`compute_proxies`) does what NASLib's measure wrapper
does, once for all proxies of a call:

- a fresh deep copy of the network for each call (proxies that only read the network share one
  copy; proxies that mutate it, e.g. `synflow` (absolute weights, double precision) or `zen`
  (Gaussian re-initialization), get their own), with gradients cleared;
- batch-norm mode: `bn=False` proxies see a copy whose batch-norm layers are identities;
- seeding: each proxy runs under `torch.manual_seed(seed)` inside a forked RNG, so results
  are reproducible and the caller's RNG state is left untouched; on CUDA with deterministic
  cuDNN kernels and without TF32, so that repeated calls agree bit for bit and CUDA values
  match CPU ones to float32 rounding;
- out-of-memory retry: on `torch.OutOfMemoryError` the proxy is run again with the batch split
  into 2, 4, ... parts (`batch.split`), until one sample per part;
- shared passes: proxies that need the same forward/backward pass (`snip`, `grad_norm`,
  `fisher`, `jacov`, `nwot`) read it from `batch.forward_backward(net)`, computed once.
"""

from __future__ import annotations

import contextlib
import copy
import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "REGISTRY",
    "Batch",
    "ProxyRegistry",
    "ProxySpec",
    "available_proxies",
    "compute_proxies",
    "register",
]

ProxyFn = Callable[[nn.Module, "Batch"], float]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

NEEDS = frozenset({"weight_grads", "activation_grads", "input_grads", "relu_codes"})
"""What a proxy may ask of the shared forward/backward pass."""


@dataclass(frozen=True)
class ProxySpec:
    """A registered proxy.

    Attributes:
        name: registry key.
        fn: `fn(net, batch) -> float`.
        bn: whether the network keeps its batch-norm layers (False: they become identities).
        mutates: whether `fn` changes the network's weights or dtype (then it gets its own copy).
        needs: parts of the shared forward/backward pass the proxy reads (subset of `NEEDS`).
        data_dependent: whether the value depends on the batch's content (not only its shape).
    """

    name: str
    fn: ProxyFn
    bn: bool = True
    mutates: bool = False
    needs: frozenset[str] = frozenset()
    data_dependent: bool = True


@dataclass
class Batch:
    """One mini-batch for the proxies, plus the shared-pass cache of one scoring call.

    Attributes:
        inputs: `b x c x h x w` images.
        targets: `b` class indices.
        loss_fn: loss of `logits, targets` (cross-entropy by default).
        split: number of parts the batch is processed in (raised by the OOM retry).
        needs: parts the shared pass computes (set by `compute_proxies` to the union of the
            requested proxies' needs; all of them when a proxy is called on its own).
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    loss_fn: LossFn = F.cross_entropy
    split: int = 1
    needs: frozenset[str] = NEEDS
    _passes: dict[tuple[int, int], Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.inputs.dim() != 4:
            raise ValueError(
                f"proxy inputs must be `batch x channels x height x width`, got shape "
                f"{tuple(self.inputs.shape)}"
            )
        if self.targets.shape != (self.inputs.shape[0],):
            raise ValueError(
                f"proxy targets must have shape ({self.inputs.shape[0]},) to match the inputs, "
                f"got {tuple(self.targets.shape)}"
            )

    @property
    def size(self) -> int:
        return int(self.inputs.shape[0])

    def chunks(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """`(inputs, targets)` of each of the `split` parts of the batch."""
        n = self.size
        for k in range(self.split):
            lo, hi = k * n // self.split, (k + 1) * n // self.split
            if hi > lo:
                yield self.inputs[lo:hi], self.targets[lo:hi]

    def forward_backward(self, net: nn.Module) -> Any:
        """The shared pass of `net` on this batch (see `shared.ForwardBackward`), cached."""
        from optimizer.proxies.shared import ForwardBackward

        key = (id(net), self.split)
        cached = self._passes.get(key)
        if cached is None or cached.net is not net:
            cached = ForwardBackward.run(net, self)
            self._passes[key] = cached
        return cached

    def with_split(self, split: int) -> Batch:
        """The same batch processed in `split` parts (sharing this batch's pass cache)."""
        return Batch(self.inputs, self.targets, self.loss_fn, split, self.needs, self._passes)


class ProxyRegistry:
    """Name -> `ProxySpec`; registering a name twice is an error."""

    def __init__(self) -> None:
        self._specs: dict[str, ProxySpec] = {}

    def register(
        self,
        name: str,
        *,
        bn: bool = True,
        mutates: bool = False,
        needs: Iterable[str] = (),
        data_dependent: bool = True,
    ) -> Callable[[ProxyFn], ProxyFn]:
        """Decorator registering `fn(net, batch) -> float` under `name`."""
        needs_set = frozenset(needs)
        unknown = needs_set - NEEDS
        if unknown:
            raise ValueError(
                f"proxy {name!r} needs unknown shared-pass parts {sorted(unknown)}; "
                f"known: {sorted(NEEDS)}"
            )

        def decorate(fn: ProxyFn) -> ProxyFn:
            if name in self._specs:
                raise KeyError(
                    f"proxy {name!r} is already registered (by {self._specs[name].fn.__module__}); "
                    "pick another name"
                )
            self._specs[name] = ProxySpec(name, fn, bn, mutates, needs_set, data_dependent)
            return fn

        return decorate

    def names(self) -> list[str]:
        return sorted(self._specs)

    def get(self, name: str) -> ProxySpec:
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(
                f"unknown proxy {name!r}; available: {', '.join(self.names())}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs


REGISTRY = ProxyRegistry()
register = REGISTRY.register


def available_proxies() -> list[str]:
    """Names of the registered proxies, sorted."""
    return REGISTRY.names()


def _bn_to_identity(net: nn.Module) -> None:
    for name, child in list(net.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(net, name, nn.Identity())
        else:
            _bn_to_identity(child)


def _fresh_copy(net: nn.Module, bn: bool) -> nn.Module:
    clone = copy.deepcopy(net)
    if not bn:
        _bn_to_identity(clone)
    clone.train()
    for p in clone.parameters():
        p.requires_grad_(True)
        p.grad = None
    return clone


def _is_oom(err: BaseException) -> bool:
    return isinstance(err, torch.OutOfMemoryError) or "out of memory" in str(err)


@contextlib.contextmanager
def _exact_cuda(enabled: bool) -> Iterator[None]:
    """Deterministic cuDNN kernels and full float32 (no TF32) while proxies run on CUDA.

    cuDNN's default backward kernels accumulate with atomics (repeated calls differ in the last
    bits) and TF32 convolutions round inputs to 10 mantissa bits (CUDA values then differ from
    CPU ones by up to 2.5% for `fisher`, `grasp`, `zen`, as measured on an H200). Proxy
    scores must be reproducible and device-independent, so both are switched off for the call
    and the caller's settings restored afterwards.
    """
    if not enabled:
        yield
        return
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = (cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32)
    cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = (
        True,
        False,
        False,
        False,
    )
    try:
        yield
    finally:
        cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = saved


def _run_one(spec: ProxySpec, net: nn.Module, batch: Batch, seed: int, devices: list[int]) -> float:
    with torch.random.fork_rng(devices=devices), _exact_cuda(bool(devices)):
        torch.manual_seed(seed)
        value = spec.fn(net, batch)
    return float(value)


def compute_proxies(
    net: nn.Module,
    batch: Batch,
    names: Sequence[str],
    *,
    seed: int = 0,
    registry: ProxyRegistry | None = None,
) -> dict[str, float]:
    """Score one untrained network with several proxies.

    Args:
        net: the network (left unchanged: every proxy works on a copy).
        batch: one mini-batch on the network's device, `b x c x h x w` inputs, `b` targets.
        names: proxy names (see `available_proxies()`).
        seed: seeds any randomness inside the proxies.
        registry: the registry to read (default: the global one).

    Returns:
        `{name: value}` in the order of `names`; values are plain floats (may be NaN or inf
        when a proxy is undefined for that network, e.g. a singular `nwot` kernel).
    """
    reg = registry or REGISTRY
    specs = [reg.get(n) for n in names]
    device = batch.inputs.device
    devices = [device.index or 0] if device.type == "cuda" else []
    needs = frozenset().union(*(s.needs for s in specs)) if specs else frozenset()
    shared_copy: nn.Module | None = None
    split = 1
    base = Batch(batch.inputs, batch.targets, batch.loss_fn, batch.split, needs)
    out: dict[str, float] = {}
    for spec in specs:
        while True:
            run_batch = base.with_split(max(split, batch.split))
            try:
                if spec.mutates or not spec.bn:
                    own = _fresh_copy(net, spec.bn)
                    out[spec.name] = _run_one(spec, own, run_batch, seed, devices)
                    del own
                else:
                    if shared_copy is None:
                        shared_copy = _fresh_copy(net, bn=True)
                    out[spec.name] = _run_one(spec, shared_copy, run_batch, seed, devices)
                break
            except (torch.OutOfMemoryError, RuntimeError) as err:
                if not _is_oom(err):
                    raise
                base._passes.clear()
                gc.collect()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                if split * 2 > batch.size:
                    raise RuntimeError(
                        f"proxy {spec.name!r} ran out of memory even with the batch split into "
                        f"{split} parts; use a smaller batch or network"
                    ) from err
                split *= 2
    base._passes.clear()
    return out
