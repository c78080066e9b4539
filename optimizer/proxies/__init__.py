"""Zero-cost proxies: one proxy per module, registered in `registry.REGISTRY`.

Usage::

    from optimizer.proxies import random_batch, score_architecture
    batch = random_batch(64)                      # or Batch(inputs, targets)
    score_architecture(arch, batch, ["jacov", "synflow", "snip"], seed=0)

or, for any network, `compute_proxies(net, batch, names, seed=...)`.
"""

from __future__ import annotations

from optimizer.proxies import (  # noqa: F401  (importing registers each proxy)
    fisher,
    flops,
    grad_norm,
    grasp,
    jacov,
    l2_norm,
    nwot,
    params,
    snip,
    synflow,
    zen,
)
from optimizer.proxies.registry import (
    REGISTRY,
    Batch,
    ProxyRegistry,
    ProxySpec,
    available_proxies,
    compute_proxies,
    register,
)
from optimizer.proxies.scoring import DEFAULT_PROXIES, random_batch, score_architecture

__all__ = [
    "DEFAULT_PROXIES",
    "REGISTRY",
    "Batch",
    "ProxyRegistry",
    "ProxySpec",
    "available_proxies",
    "compute_proxies",
    "random_batch",
    "register",
    "score_architecture",
]
