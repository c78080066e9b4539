from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.state import (
    Evaluation,
    RoundReliability,
    SearchConfig,
    SearchState,
    StateError,
)

CONFIG = SearchConfig(strategy="proxybo", space="nb201", proxies=("jacov", "snip"), seed=3)


def _state() -> SearchState:
    state = SearchState(CONFIG)
    state.add_pending(["a", "b"], [{"jacov": 1.0, "snip": 2.0}, {"jacov": 0.5, "snip": 1.0}])
    state.record([Evaluation(arch="a", round=0, metrics={"val_acc": 90.0}, proxies={"jacov": 1.0})])
    state.reliability.append(
        RoundReliability(0, 1, {"gp": 0.5, "jacov": 0.7}, {"gp": 0.2, "jacov": 0.8})
    )
    state.rng().integers(10)
    return state


def test_state_round_trips_exactly_through_json_text() -> None:
    state = _state()
    rng = state.rng()
    rng.integers(100, size=5)
    state.save_rng(rng)
    doc = json.loads(json.dumps(state.to_json()))
    again = SearchState.from_json(doc, expected=CONFIG)
    assert again.to_json() == state.to_json()
    assert again.rng().integers(1 << 30) == state.rng().integers(1 << 30)


def test_the_json_document_shares_nothing_with_the_state() -> None:
    """A document kept while the search goes on (or edited by its reader) must not change with
    the state, nor the state with it."""
    state = _state()
    state.extras["proxy_reference"] = {"jacov": [0.0, 1.0]}
    doc = state.to_json()
    before = json.dumps(doc)
    state.extras["proxy_reference"]["jacov"].append(2.0)
    state.extras["search_id"] = "s"
    assert json.dumps(doc) == before
    again = SearchState.from_json(doc, expected=CONFIG)
    doc["extras"]["proxy_reference"]["jacov"].append(9.0)
    assert again.extras["proxy_reference"] == {"jacov": [0.0, 1.0]}


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=8),
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from(["ok", "failed"]),
        ),
        max_size=8,
        unique_by=lambda t: t[0],
    )
)
def test_any_history_round_trips(items: list[tuple[str, float, str]]) -> None:
    state = SearchState(CONFIG)
    state.record(
        Evaluation(
            arch=a, round=i, metrics={"val_acc": v}, status=s, error=None if s == "ok" else "x"
        )
        for i, (a, v, s) in enumerate(items)
    )
    doc = json.loads(json.dumps(state.to_json(), allow_nan=False))
    again = SearchState.from_json(doc)
    assert json.dumps(again.to_json()) == json.dumps(state.to_json())


def test_telling_the_same_result_twice_changes_nothing() -> None:
    state = _state()
    before = json.dumps(state.to_json())
    added = state.record(
        [Evaluation(arch="a", round=0, metrics={"val_acc": 12.0}, proxies={"jacov": 1.0})]
    )
    assert added == []
    assert json.dumps(state.to_json()) == before


def test_recording_clears_the_pending_entry() -> None:
    state = _state()
    assert [p.arch for p in state.pending] == ["b"]
    state.record([Evaluation(arch="b", round=0, status="failed", error="diverged")])
    assert state.pending == []
    assert state.n_evaluated == 2
    assert [e.arch for e in state.observed()] == ["a"]


def test_another_schema_version_is_refused() -> None:
    doc = _state().to_json()
    doc["schema_version"] = 99
    with pytest.raises(StateError, match="schema_version 99"):
        SearchState.from_json(doc)


def test_another_config_is_refused_naming_the_difference() -> None:
    doc = _state().to_json()
    other = SearchConfig(strategy="bo", space="nb201", proxies=("jacov", "snip"), seed=3)
    with pytest.raises(StateError, match="strategy: stored 'proxybo' vs requested 'bo'"):
        SearchState.from_json(doc, expected=other)


def test_a_larger_budget_continues_the_same_search() -> None:
    doc = _state().to_json()
    bigger = SearchConfig(
        strategy="proxybo", space="nb201", proxies=("jacov", "snip"), seed=3, budget=500
    )
    assert SearchState.from_json(doc, expected=bigger).config.budget == 500


def test_tampered_or_garbage_state_is_refused() -> None:
    doc = _state().to_json()
    doc["config"]["seed"] = 4
    with pytest.raises(StateError, match="fingerprint"):
        SearchState.from_json(doc)
    with pytest.raises(StateError):
        SearchState.from_json({"schema_version": 1})
    with pytest.raises(StateError):
        SearchState.from_json([])  # type: ignore[arg-type]


def test_pending_twice_is_refused() -> None:
    state = _state()
    with pytest.raises(StateError, match="already evaluated or pending"):
        state.add_pending(["b"], [{}])


def test_best_so_far_ignores_failures() -> None:
    state = SearchState(CONFIG)
    state.record(
        [
            Evaluation(arch="x", round=0, status="failed", error="nan loss"),
            Evaluation(arch="y", round=0, metrics={"val_acc": 3.0}),
            Evaluation(arch="z", round=1, metrics={"val_acc": 2.0}),
        ]
    )
    curve = state.best_so_far()
    assert np.isnan(curve[0]) and curve[1:] == [3.0, 3.0]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"budget": 0}, "budget"),
        ({"batch_size": 0}, "batch_size"),
        ({"proxies": ("a", "a")}, "distinct"),
    ],
)
def test_impossible_config_is_refused(kwargs: dict, fragment: str) -> None:
    with pytest.raises(StateError, match=fragment):
        SearchConfig(strategy="bo", space="nb201", **kwargs)
