"""Constraints known at zero cost (parameters, FLOPs): filter candidates before any training."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["CostLimits", "feasible", "nb201_costs", "violations"]


@dataclass(frozen=True)
class CostLimits:
    """Upper bounds on zero-cost metrics; None means unbounded.

    Attributes:
        max_params: parameters, in millions (as the `params` proxy).
        max_flops: forward FLOPs per sample, in millions (as the `flops` proxy).
    """

    max_params: float | None = None
    max_flops: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_params", "max_flops"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(
                    f"{name} must be a positive number (millions) or None, got {value}"
                )

    def bounds(self) -> dict[str, float]:
        """`{metric: limit}` of the bounded metrics (`params`, `flops`)."""
        out = {}
        if self.max_params is not None:
            out["params"] = self.max_params
        if self.max_flops is not None:
            out["flops"] = self.max_flops
        return out


def violations(costs: Mapping[str, float], limits: CostLimits) -> list[str]:
    """Human-readable reasons why `costs` (`{"params": M, "flops": M}`) break `limits`."""
    out = []
    for metric, limit in limits.bounds().items():
        if metric not in costs:
            raise KeyError(f"cost {metric!r} is needed to check its limit; got {sorted(costs)}")
        if costs[metric] > limit:
            out.append(f"{metric} {costs[metric]:.4g} M > limit {limit:.4g} M")
    return out


def feasible(
    archs: Iterable[str],
    cost_fn: Callable[[str], Mapping[str, float]],
    limits: CostLimits,
) -> list[str]:
    """The architectures of `archs` whose costs (from `cost_fn`) meet `limits`, in order.

    `cost_fn` is only called when some limit is set.
    """
    items = list(archs)
    if not limits.bounds():
        return items
    return [a for a in items if not violations(cost_fn(a), limits)]


def nb201_costs(
    arch: str,
    *,
    input_shape: Sequence[int] = (3, 32, 32),
    num_classes: int = 10,
    C: int = 16,
    N: int = 5,
) -> dict[str, float]:
    """`{"params": M, "flops": M}` of the NB201 network of `arch` (one sample of `input_shape`)."""
    from optimizer.proxies.flops import count_flops
    from optimizer.spaces.nb201 import parse
    from optimizer.spaces.nb201_net import build_network, count_parameters

    net = build_network(
        parse(arch), C=C, N=N, in_channels=int(input_shape[0]), num_classes=num_classes
    )
    return {
        "params": count_parameters(net) / 1e6,
        "flops": count_flops(net, tuple(int(s) for s in input_shape)) / 1e6,
    }
