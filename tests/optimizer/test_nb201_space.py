from __future__ import annotations

import numpy as np
import pytest

from optimizer.spaces import NB201Space, nb201

BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def test_parse_and_format_round_trip() -> None:
    ops = nb201.parse(BEST_C10)
    assert ops == (
        "nor_conv_3x3",
        "nor_conv_3x3",
        "nor_conv_3x3",
        "skip_connect",
        "nor_conv_3x3",
        "nor_conv_1x1",
    )
    assert nb201.format_arch(ops) == BEST_C10


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("", "non-empty"),
        ("|none~0|+|none~0|none~1|", "3 node groups"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "must have 2 edge"),
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown operation 'conv'"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "'OP~0'"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "start and end"),
    ],
)
def test_malformed_arch_is_rejected_naming_the_bad_part(bad: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        nb201.parse(bad)


def test_one_hot_has_one_op_per_edge() -> None:
    x = NB201Space().encode([BEST_C10])
    assert x.shape == (1, 30)
    assert x.reshape(6, 5).sum(axis=1).tolist() == [1.0] * 6


def test_space_enumerates_all_cells_once() -> None:
    pool = NB201Space().finite_pool()
    assert pool is not None
    assert len(pool) == 15625 == len(set(pool))


def test_mutation_changes_exactly_one_edge() -> None:
    space = NB201Space()
    rng = np.random.default_rng(0)
    for _ in range(50):
        child = space.mutate(BEST_C10, rng)
        diff = sum(a != b for a, b in zip(nb201.parse(child), nb201.parse(BEST_C10), strict=True))
        assert diff == 1
    assert len(set(space.neighbours(BEST_C10))) == 24


def test_sampling_is_seeded() -> None:
    space = NB201Space()
    a = space.sample(np.random.default_rng(3), 5)
    b = space.sample(np.random.default_rng(3), 5)
    assert a == b and len(set(a)) == 5
