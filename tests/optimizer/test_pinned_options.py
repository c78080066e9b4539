"""A search goes on with the options it started with, whatever the defaults of the version that
resumes it (`Strategy.effective_options`, `Strategy.for_state`)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest

from optimizer.spaces import Table
from optimizer.spaces.tabular import TabularSpace
from optimizer.state import Evaluation, SearchConfig, SearchState
from optimizer.strategies import STRATEGIES, ProxyBOFeatures, Strategy, make_strategy
from optimizer.strategies.base import PINNED_OPTIONS
from tests.optimizer.conftest import make_table


def _config(name: str, budget: int = 12, options: dict | None = None) -> SearchConfig:
    uses = STRATEGIES[name].uses_proxies
    return SearchConfig(
        strategy=name,
        space="tabular",
        proxies=("good", "noise") if uses else (),
        budget=budget,
        options=options or {},
    )


def _drive(strat: Strategy, state: SearchState, table: Table, n: int) -> None:
    """`n` more evaluations of `strat` on `state`, one per round."""
    space = strat.space
    assert isinstance(space, TabularSpace)

    def score(archs: Sequence[str]) -> dict[str, np.ndarray]:
        idx = [space.index(a) for a in archs]
        return {p: table.column(f"zc_{p}")[idx] for p in strat.config.proxies}

    for _ in range(n):
        (arch,) = strat.ask(state, 1, score)
        value = float(table.column("val_acc")[space.index(arch)])
        strat.tell(
            state, [Evaluation(arch=arch, round=state.round - 1, metrics={"val_acc": value})]
        )


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_the_pinned_options_reproduce_every_setting(small_table: Table, name: str) -> None:
    space = TabularSpace.from_table(small_table)
    strat = make_strategy(space, _config(name))
    pinned = make_strategy(space, _config(name, options=strat.effective_options()))
    assert strat.new_state().extras[PINNED_OPTIONS] == strat.effective_options()
    reproduced = pinned.settings()
    for key, value in strat.settings().items():
        assert reproduced[key] == value, key


def test_a_search_resumed_by_a_version_with_other_defaults_goes_on_as_it_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    small_table = make_table(n_ops=3)  # 729 cells
    space = TabularSpace.from_table(small_table)
    # One GP, its hyperparameters fitted once: the test is about the options, not the GP.
    config = _config("proxybo-features", options={"kernel": "ard", "refit_every": 50})
    first = make_strategy(space, config)
    uninterrupted = first.new_state()
    _drive(first, uninterrupted, small_table, 6)
    started = first.settings()
    stored = json.dumps(uninterrupted.to_json())
    _drive(first, uninterrupted, small_table, 6)

    # A later version: other defaults for what the config leaves unset.
    monkeypatch.setattr(ProxyBOFeatures, "default_fusion", "rank")
    monkeypatch.setattr(ProxyBOFeatures, "default_n_init", 10)
    monkeypatch.setattr(ProxyBOFeatures, "default_global_every", 2)
    later = make_strategy(space, config)
    assert later.settings() != started

    resumed = SearchState.from_json(json.loads(stored), expected=config)
    going_on = later.for_state(resumed)
    assert going_on.settings() == {**started, "fusion": "sample"}
    _drive(going_on, resumed, small_table, 6)
    assert [e.arch for e in resumed.history] == [e.arch for e in uninterrupted.history]
    assert resumed.to_json() == uninterrupted.to_json()

    # Without the pins the later defaults would have changed the search.
    unpinned = SearchState.from_json(json.loads(stored), expected=config)
    _drive(later, unpinned, small_table, 6)
    assert [e.arch for e in unpinned.history] != [e.arch for e in uninterrupted.history]


def test_a_state_stored_before_options_were_pinned_takes_this_versions_defaults(
    small_table: Table,
) -> None:
    space = TabularSpace.from_table(small_table)
    strat = make_strategy(space, _config("proxybo-features"))
    doc = strat.new_state().to_json()
    del doc["extras"][PINNED_OPTIONS]
    old = SearchState.from_json(doc)
    assert strat.for_state(old) is strat
    assert old.extras[PINNED_OPTIONS] == strat.effective_options()


def test_an_option_added_after_a_state_was_pinned_keeps_the_behaviour_of_before(
    small_table: Table,
) -> None:
    space = TabularSpace.from_table(small_table)
    strat = make_strategy(space, _config("proxybo-features"))
    assert strat.settings()["proxy_floor"] == 0.2
    state = strat.new_state()
    del state.extras[PINNED_OPTIONS]["proxy_floor"]  # pinned before the option existed
    assert strat.for_state(state).settings()["proxy_floor"] == 0.0
    # the design's screen (2026-12-04): a search begun while its default was 0.5 (commits
    # c26ef07 to 01da394) goes on screening; one pinned before the option keeps ties by rank
    assert strat.settings()["design_screen"] is None
    state.extras[PINNED_OPTIONS]["design_screen"] = 0.5
    assert strat.for_state(state).settings()["design_screen"] == 0.5
    del state.extras[PINNED_OPTIONS]["design_screen"]
    assert strat.for_state(state).settings()["design_screen"] is None
