"""The search-space protocol shared by every strategy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class SearchSpace(Protocol):
    """A space of architectures identified by strings.

    Strategies only ever talk to a space through this protocol, so the same strategy runs on
    NAS-Bench-201, a tabular benchmark or any future space.
    """

    name: str

    def canonical(self, arch: str) -> str:
        """The canonical id of `arch`; raises `ValueError` naming the bad part if malformed."""
        ...

    def encode(self, archs: Sequence[str]) -> np.ndarray:
        """Numeric encoding for the surrogate, `n x d`, values in [0, 1]."""
        ...

    def sample(self, rng: np.random.Generator, n: int) -> list[str]:
        """`n` architectures drawn uniformly (with replacement across calls, not within one)."""
        ...

    def mutate(self, arch: str, rng: np.random.Generator) -> str:
        """A random neighbour of `arch` (one categorical choice changed)."""
        ...

    def neighbours(self, arch: str) -> list[str]:
        """All architectures at one-edit distance from `arch`."""
        ...

    def finite_pool(self) -> list[str] | None:
        """Every architecture, when the space is small enough to enumerate; else None."""
        ...
