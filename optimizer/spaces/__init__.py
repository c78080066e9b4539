"""Search spaces: architectures are plain strings; a space parses, encodes, samples and mutates them."""

from __future__ import annotations

from optimizer.spaces.base import SearchSpace
from optimizer.spaces.nb201 import NB201Space
from optimizer.spaces.tabular import Table, TabularSpace, load_table

__all__ = ["NB201Space", "SearchSpace", "Table", "TabularSpace", "load_table"]
