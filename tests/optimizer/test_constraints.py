"""Zero-cost constraints: parameter and FLOP limits filter candidates before training."""

from __future__ import annotations

import pytest

from optimizer.constraints import CostLimits, feasible, nb201_costs, violations

SMALL = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
BIG = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_nb201_costs_match_nb201_params_and_grow_with_convolutions() -> None:
    small, big = nb201_costs(SMALL), nb201_costs(BIG)
    assert small["params"] == pytest.approx(0.073306, abs=1e-6)
    assert big["params"] == pytest.approx(1.531546, abs=1e-6)
    assert big["flops"] > 25 * small["flops"] > 0


def test_limits_keep_only_cheap_candidates_in_order() -> None:
    costs = {
        "a": {"params": 0.1, "flops": 10.0},
        "b": {"params": 2.0, "flops": 5.0},
        "c": {"params": 0.2, "flops": 50.0},
    }
    assert feasible(["a", "b", "c"], costs.__getitem__, CostLimits(max_params=1.0)) == ["a", "c"]
    assert feasible(["a", "b", "c"], costs.__getitem__, CostLimits(max_flops=20.0)) == ["a", "b"]
    both = CostLimits(max_params=1.0, max_flops=20.0)
    assert feasible(["c", "b", "a"], costs.__getitem__, both) == ["a"]
    assert violations(costs["c"], both) == ["flops 50 M > limit 20 M"]


def test_no_limit_needs_no_costs() -> None:
    def boom(arch: str) -> dict[str, float]:
        raise AssertionError("costs computed without a limit")

    assert feasible(["x", "y"], boom, CostLimits()) == ["x", "y"]


def test_bad_limits_and_missing_costs_are_refused() -> None:
    with pytest.raises(ValueError, match="max_params"):
        CostLimits(max_params=0)
    with pytest.raises(KeyError, match="flops"):
        violations({"params": 1.0}, CostLimits(max_flops=1.0))
