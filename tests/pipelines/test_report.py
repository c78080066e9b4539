"""What the Kubeflow run page shows: the selection and round tables and the round metrics."""

from __future__ import annotations

import math

import pytest

from components.config import SearchSettings, SettingsError
from components.report import (
    round_markdown,
    round_metrics,
    run_settings,
    selection_markdown,
)

POOL = ["a", "b", "c", "d"]
SCORES = {"synflow": [1.0, 4.0, 3.0, 2.0], "jacov": [4.0, 3.0, 2.0, 1.0]}


def _tables(md: str) -> list[list[list[str]]]:
    """The Markdown tables of `md`: body rows (no header, no separator) as lists of cells."""
    tables: list[list[list[str]]] = []
    block: list[str] = []
    for line in [*md.splitlines(), ""]:
        if line.startswith("| "):
            block.append(line)
        elif block:
            tables.append([[c.strip() for c in r.strip("|").split("|")] for r in block[2:]])
            block = []
    return tables


def _table_rows(md: str) -> list[list[str]]:
    return _tables(md)[0]


def test_selection_table_shows_scores_pool_ranks_and_weighted_fused_rank() -> None:
    selection = [
        {"arch": "b", "round": 3, "proxies": {"synflow": 4.0, "jacov": 3.0}},
        {"arch": "d", "round": 3, "proxies": {"synflow": 2.0, "jacov": 1.0}},
    ]
    # synflow has all the proxy weight: fused rank = synflow rank.
    md = selection_markdown(POOL, SCORES, selection, {"gp": 0.5, "synflow": 0.5, "jacov": 0.0})
    assert "2 of 4 candidates" in md
    rows = _table_rows(md)
    assert rows[0][:3] == ["1", "`b`", "3"]
    assert rows[0][3:] == ["4", "1", "3", "2", "1 / 4"]  # synflow, rank, jacov, rank, fused
    assert rows[1][3:] == ["2", "3", "1", "4", "3 / 4"]
    assert "gp 0.5" in md and "synflow 0.5" in md

    equal = selection_markdown(POOL, SCORES, selection[:1])
    assert "weighted equally" in equal
    # equal weights: b has ranks 1 and 2 -> fused 1.5, the best of the pool
    assert _table_rows(equal)[0][-1] == "1 / 4"


def test_selection_prefers_the_strategy_fused_rank_and_handles_empty_batches() -> None:
    md = selection_markdown(POOL, SCORES, [{"arch": "c", "round": 1, "fused_rank": 2.5}])
    assert _table_rows(md)[0][-1] == "2.5"
    empty = selection_markdown([], {"synflow": []}, [])
    assert "budget is spent" in empty


def test_round_table_sorts_by_accuracy_and_lists_scorers() -> None:
    summary = {
        "round": 2,
        "n_evaluated": 6,
        "budget": 10,
        "best_arch": "x",
        "best_val_acc": 0.91,
        "reliability": {"gp": 0.8, "synflow": 0.6},
        "weights": {"gp": 0.7, "synflow": 0.3},
        "kernel": "hamming",
        "done": False,
    }
    results = [
        {"arch": "y", "metrics": {"val_acc": 0.5}, "proxies": {"synflow": 1.5}, "status": "ok"},
        {"arch": "x", "metrics": {"val_acc": 0.91, "test_acc": 0.9}, "proxies": {"synflow": 3}},
        {"arch": "z", "metrics": {}, "proxies": {}, "status": "failed", "error": "NaN loss"},
    ]
    md = round_markdown(summary, results)
    rows, scorers = _tables(md)
    assert [r[0] for r in rows] == ["`x`", "`y`", "`z`"]
    assert rows[0][1:3] == ["91.00 %", "90.00 %"]
    assert rows[2][-1] == "failed: NaN loss"
    assert scorers == [["gp", "0.8", "0.7"], ["synflow", "0.6", "0.3"]]  # GP first
    assert "evaluated: 6 of 10" in md and "done: no" in md
    assert "GP kernel in use: hamming" in md
    assert "GP kernel" not in round_markdown({**summary, "kernel": None}, results)
    assert "recommended" not in md, "no line while the recommendation is the best observed"
    other = {**summary, "recommended_arch": "y", "recommended_val_acc": 0.5}
    assert "- recommended: `y` at 50.00 %" in round_markdown(other, results)
    assert "recommended" not in round_markdown({**other, "recommended_arch": "x"}, results)


def test_round_metrics_are_flat_and_finite() -> None:
    metrics = round_metrics(
        {
            "round": 1,
            "best_val_acc": 0.5,
            "recommended_val_acc": 0.45,
            "n_evaluated": 4,
            "budget": 8,
            "best_arch": "x",
            "weights": {"gp": 0.25, "snip": 0.75},
            "reliability": {"gp": math.nan, "snip": 0.5},
        }
    )
    assert metrics == {
        "round": 1.0,
        "best_val_acc": 0.5,
        "recommended_val_acc": 0.45,
        "n_evaluated": 4.0,
        "budget": 8.0,
        "weight_gp": 0.25,
        "weight_snip": 0.75,
        "reliability_snip": 0.5,
    }


def test_run_settings_put_the_run_parameters_on_top_of_the_settings() -> None:
    s = run_settings(
        {"network": {"C": 8}, "search": {"batch_size": 7}},
        state_uri="s3://b/p",
        dataset="",
        budget=12,
        batch_size=3,
        search_id="nightly",
        registry_name="",
    )
    assert isinstance(s, SearchSettings)
    assert (s.state.uri, s.search.budget, s.search.batch_size) == ("s3://b/p", 12, 3)
    assert (s.network.C, s.data.dataset, s.tracking.search_id) == (8, "digits", "nightly")
    assert s.tracking.registry_name == SearchSettings().tracking.registry_name
    with pytest.raises(SettingsError, match="netwrk"):
        run_settings({"netwrk": {}}, state_uri="x", dataset="", budget=1, batch_size=1)
