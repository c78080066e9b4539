"""The NAS-Bench-201 cell space: 6 edges of a 4-node DAG, 5 operations per edge.

Arch strings look like ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``; edges are ordered
(0->1), (0->2), (1->2), (0->3), (1->3), (2->3).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is heavy; the network builder imports it lazily
    from torch import nn

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The five NB201 operations, in NAS-Bench-201's index order."""

EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
"""`(source, target)` node of each of the 6 edges, in arch-string order."""

N_EDGES = len(EDGES)


def parse(arch: str) -> tuple[str, ...]:
    """The 6 operations of an NB201 arch string, in edge order.

    Raises `ValueError` with a message naming the malformed part.
    """
    if not isinstance(arch, str) or not arch:
        raise ValueError(f"NB201 arch must be a non-empty string, got {arch!r}")
    nodes = arch.split("+")
    if len(nodes) != 3:
        raise ValueError(
            f"NB201 arch {arch!r} must have 3 node groups separated by '+', found {len(nodes)}"
        )
    ops: list[str] = []
    for target, group in enumerate(nodes, start=1):
        if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
            raise ValueError(
                f"NB201 arch {arch!r}: node group {group!r} must start and end with '|'"
            )
        items = group[1:-1].split("|")
        if len(items) != target:
            raise ValueError(
                f"NB201 arch {arch!r}: node {target} group {group!r} must have {target} "
                f"edge(s), found {len(items)}"
            )
        for source, item in enumerate(items):
            op, sep, src = item.partition("~")
            if not sep or src != str(source):
                raise ValueError(
                    f"NB201 arch {arch!r}: edge {item!r} into node {target} must read 'OP~{source}'"
                )
            if op not in OPS:
                raise ValueError(
                    f"NB201 arch {arch!r}: unknown operation {op!r} in {item!r}; "
                    f"expected one of {', '.join(OPS)}"
                )
            ops.append(op)
    return tuple(ops)


def format_arch(ops: Sequence[str]) -> str:
    """The NB201 arch string of 6 operations given in edge order."""
    if len(ops) != N_EDGES:
        raise ValueError(f"an NB201 cell has {N_EDGES} edges, got {len(ops)} operations")
    for op in ops:
        if op not in OPS:
            raise ValueError(f"unknown NB201 operation {op!r}; expected one of {', '.join(OPS)}")
    groups = []
    k = 0
    for target in (1, 2, 3):
        items = [f"{ops[k + s]}~{s}" for s in range(target)]
        k += target
        groups.append("|" + "|".join(items) + "|")
    return "+".join(groups)


def to_indices(arch: str) -> tuple[int, ...]:
    """Operation index (into `OPS`) of each edge."""
    return tuple(OPS.index(op) for op in parse(arch))


def from_indices(indices: Sequence[int]) -> str:
    """The arch string of operation indices given in edge order."""
    return format_arch([OPS[int(i)] for i in indices])


def one_hot(archs: Sequence[str]) -> np.ndarray:
    """One-hot encoding of each edge's operation, `n x 30`."""
    out = np.zeros((len(archs), N_EDGES * len(OPS)), dtype=np.float64)
    for row, arch in enumerate(archs):
        for edge, op in enumerate(to_indices(arch)):
            out[row, edge * len(OPS) + op] = 1.0
    return out


class NB201Space:
    """The full NB201 space (15,625 cells), enumerable."""

    name = "nb201"

    def canonical(self, arch: str) -> str:
        return format_arch(parse(arch))

    def encode(self, archs: Sequence[str]) -> np.ndarray:
        return one_hot(archs)

    def sample(self, rng: np.random.Generator, n: int) -> list[str]:
        total = len(OPS) ** N_EDGES
        picks = rng.choice(total, size=min(n, total), replace=False)
        shape = (len(OPS),) * N_EDGES
        return [from_indices([int(i) for i in np.unravel_index(int(p), shape)]) for p in picks]

    def mutate(self, arch: str, rng: np.random.Generator) -> str:
        ops = list(to_indices(arch))
        edge = int(rng.integers(N_EDGES))
        choices = [i for i in range(len(OPS)) if i != ops[edge]]
        ops[edge] = int(rng.choice(choices))
        return from_indices(ops)

    def neighbours(self, arch: str) -> list[str]:
        ops = to_indices(arch)
        out = []
        for edge in range(N_EDGES):
            for op in range(len(OPS)):
                if op != ops[edge]:
                    new = list(ops)
                    new[edge] = op
                    out.append(from_indices(new))
        return out

    def finite_pool(self) -> list[str] | None:
        return [from_indices(ix) for ix in itertools.product(range(len(OPS)), repeat=N_EDGES)]

    def build_network(self, arch: str, **kwargs: Any) -> nn.Module:
        """The torch network of `arch` as NAS-Bench-201 defines it (see `nb201_net`)."""
        from optimizer.spaces.nb201_net import build_network

        return build_network(parse(arch), **kwargs)
