"""A finite space given by a table: one row per architecture, with its metrics and proxies.

Column `arch` holds any string id. Where every `arch` is an NB201 string the categorical encoding
is derived from it; otherwise a column `encoding` (space-separated integers, one categorical
choice per position) is required. Neighbours are pool members at Hamming distance 1. Nothing here
assumes NB201 beyond recognising its strings.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from optimizer.spaces import nb201


@dataclass(frozen=True)
class Table:
    """Rows of a tabular benchmark.

    `codes` is `n x p` integer categorical choices; `columns` maps every other numeric column to
    an `n` float array (NaN where empty); `text_columns` maps each column that is not numeric to
    its first value that is not a number (where, and what), so asking for it says why it is not
    there.
    """

    archs: tuple[str, ...]
    codes: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    text_columns: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.archs) != self.codes.shape[0]:
            raise ValueError("table: archs and codes differ in length")
        if len(set(self.archs)) != len(self.archs):
            raise ValueError("table: column 'arch' has duplicate ids")

    def column(self, name: str) -> np.ndarray:
        """The numeric column `name`, `n`; a ValueError if it is missing or holds text."""
        if name in self.text_columns:
            raise ValueError(
                f"table column {name!r} must hold numbers, but {self.text_columns[name]}"
            )
        if name not in self.columns:
            raise ValueError(
                f"table has no column {name!r}; numeric columns: {', '.join(sorted(self.columns))}"
            )
        return self.columns[name]

    def subset(self, mask: np.ndarray) -> Table:
        """The rows where `mask` is true."""
        idx = np.flatnonzero(mask)
        return Table(
            archs=tuple(self.archs[i] for i in idx),
            codes=self.codes[idx],
            columns={k: v[idx] for k, v in self.columns.items()},
            text_columns=dict(self.text_columns),
        )

    def with_proxies(self, proxies: Sequence[str]) -> Table:
        """The rows that have a finite value for every `zc_<proxy>` column."""
        mask = np.ones(len(self.archs), dtype=bool)
        for p in proxies:
            mask &= np.isfinite(self.column(f"zc_{p}"))
        return self.subset(mask)


def _parse_float(text: str) -> float:
    if text is None or text.strip() == "":
        return math.nan
    return float(text)


def load_table(path: str | Path) -> Table:
    """Read a CSV table; raises `ValueError` naming the row and column of any bad value."""
    path = Path(path)
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "arch" not in reader.fieldnames:
            raise ValueError(f"{path}: a table needs a column named 'arch'")
        rows = list(reader)
    if not rows:
        raise ValueError(f"{path}: the table has no rows")
    fieldnames = list(rows[0].keys())
    archs = [r["arch"] for r in rows]
    has_encoding = "encoding" in fieldnames
    codes_list: list[list[int]] = []
    for lineno, r in enumerate(rows, start=2):
        enc = (r.get("encoding") or "").strip() if has_encoding else ""
        if enc:
            try:
                codes_list.append([int(t) for t in enc.split()])
            except ValueError:
                raise ValueError(
                    f"{path}:{lineno}: column 'encoding' must be space-separated integers, "
                    f"got {enc!r}"
                ) from None
        else:
            try:
                codes_list.append(list(nb201.to_indices(r["arch"])))
            except ValueError as exc:
                raise ValueError(
                    f"{path}:{lineno}: arch {r['arch']!r} is not an NB201 string, so the row "
                    f"needs a column 'encoding' ({exc})"
                ) from None
    widths = {len(c) for c in codes_list}
    if len(widths) != 1:
        raise ValueError(
            f"{path}: every encoding must have the same length, found {sorted(widths)}"
        )
    columns: dict[str, np.ndarray] = {}
    text: dict[str, str] = {}
    for name in fieldnames:
        if name in ("arch", "encoding"):
            continue
        values = np.empty(len(rows))
        for i, r in enumerate(rows):
            try:
                values[i] = _parse_float(r[name])
            except ValueError:
                # A text column (a name, a note) is no metric: kept out, with where it is text.
                text[name] = f"{path}:{i + 2} has {r[name]!r}"
                break
        else:
            columns[name] = values
    return Table(
        archs=tuple(archs),
        codes=np.asarray(codes_list, dtype=np.int64),
        columns=columns,
        text_columns=text,
    )


class TabularSpace:
    """The finite space of a table's rows; encoding is one-hot per categorical position."""

    name = "tabular"

    def __init__(self, archs: Sequence[str], codes: np.ndarray) -> None:
        self.archs: tuple[str, ...] = tuple(archs)
        self.codes = np.asarray(codes, dtype=np.int64)
        self._index = {a: i for i, a in enumerate(self.archs)}
        self._by_code = {tuple(c): a for c, a in zip(self.codes.tolist(), self.archs, strict=True)}
        self.cardinalities = [int(v) + 1 for v in self.codes.max(axis=0)]
        self._offsets = np.concatenate([[0], np.cumsum(self.cardinalities)[:-1]]).astype(int)
        self._onehot = np.zeros((len(self.archs), int(sum(self.cardinalities))))
        rows = np.arange(len(self.archs))
        for pos, off in enumerate(self._offsets):
            self._onehot[rows, off + self.codes[:, pos]] = 1.0

    @classmethod
    def from_table(cls, table: Table) -> TabularSpace:
        return cls(table.archs, table.codes)

    def __len__(self) -> int:
        return len(self.archs)

    def index(self, arch: str) -> int:
        try:
            return self._index[arch]
        except KeyError:
            raise ValueError(f"architecture {arch!r} is not in this table") from None

    def canonical(self, arch: str) -> str:
        self.index(arch)
        return arch

    def encode(self, archs: Sequence[str]) -> np.ndarray:
        return self._onehot[[self.index(a) for a in archs]]

    def encode_indices(self, idx: np.ndarray) -> np.ndarray:
        """One-hot rows of pool positions `idx`, `n x d`."""
        return self._onehot[idx]

    def sample(self, rng: np.random.Generator, n: int) -> list[str]:
        picks = rng.choice(len(self.archs), size=min(n, len(self.archs)), replace=False)
        return [self.archs[int(i)] for i in picks]

    def neighbours(self, arch: str) -> list[str]:
        code = self.codes[self.index(arch)]
        out = []
        for pos, card in enumerate(self.cardinalities):
            for v in range(card):
                if v != code[pos]:
                    new = code.copy()
                    new[pos] = v
                    hit = self._by_code.get(tuple(int(x) for x in new))
                    if hit is not None:
                        out.append(hit)
        return out

    def mutate(self, arch: str, rng: np.random.Generator) -> str:
        nbrs = self.neighbours(arch)
        if not nbrs:
            return self.sample(rng, 1)[0]
        return nbrs[int(rng.integers(len(nbrs)))]

    def finite_pool(self) -> list[str] | None:
        return list(self.archs)
