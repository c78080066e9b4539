"""Search settings: YAML / JSON loading and validation messages that say what to change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from components.config import SearchSettings, SettingsError, load_settings
from optimizer.spaces import NB201Space
from optimizer.state import Evaluation
from optimizer.strategies import DEFAULT_STRATEGY, make_strategy
from optimizer.strategies.proxybo import BayesianOptimization


def test_defaults_and_json_round_trip() -> None:
    s = SearchSettings()
    assert s.search.strategy == DEFAULT_STRATEGY
    assert s.search.proxies == ("jacov", "synflow", "snip")
    assert s.data.dataset == "digits"
    assert s.state.uri == "./proxybo-state/"
    assert SearchSettings.from_json(s.to_json()) == s


def test_yaml_file_with_overrides(tmp_path: Path) -> None:
    path = tmp_path / "search.yaml"
    path.write_text(
        "search:\n  budget: 6\n  proxies: jacov, snip\nnetwork: {C: 4, N: 1}\n"
        "state: {uri: s3://bucket/prefix}\n"
    )
    s = load_settings(path)
    assert (s.search.budget, s.search.proxies, s.network.C) == (6, ("jacov", "snip"), 4)
    assert s.state.uri == "s3://bucket/prefix"
    t = s.with_overrides({"search.budget": 9, "search.batch_size": None})
    assert (t.search.budget, t.search.batch_size) == (9, s.search.batch_size)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"search": {"budgt": 3}}, ["search.budgt", "unknown setting", "allowed:", "budget"]),
        ({"trainig": {}}, ["trainig", "unknown setting", "training"]),
        ({"search": {"budget": "many"}}, ["search.budget", "valid integer", "'many'"]),
        ({"network": {"C": [4]}}, ["network.C", "valid integer"]),
        ({"search": {"budget": 0}}, ["search.budget", "greater than or equal to 1"]),
        ({"search": {"batch_size": 0}}, ["search.batch_size"]),
        (
            {"search": {"proxies": ["jacov", "magic"]}},
            ["search.proxies", "unknown proxy 'magic'", "available proxies", "synflow", "zen"],
        ),
        (
            {"search": {"strategy": "hyperband"}},
            ["search.strategy", "unknown strategy 'hyperband'", "proxybo", "rea"],
        ),
        ({"search": {"strategy": "proxybo", "proxies": []}}, ["needs at least one proxy"]),
        ({"search": {"kernel": "matern"}}, ["search.kernel", "'auto'", "'hamming'"]),
        ({"training": {"momentum": 1.5}}, ["training.momentum", "less than 1"]),
        ({"search": {"noise_floor": 1.5}}, ["search.noise_floor", "less than 1"]),
        ({"search": {"fusion": "mean"}}, ["search.fusion", "unknown fusion 'mean'", "'sample'"]),
        (
            {"search": {"strategy": "bo", "fusion": "sample"}},
            ["fusion applies to proxybo and proxybo-features, not to 'bo'"],
        ),
        ({"search": {"noise_floor": -0.1}}, ["search.noise_floor", "greater than or equal to 0"]),
        ({"search": {"proxy_floor": 1.5}}, ["search.proxy_floor", "less than or equal to 1"]),
        (
            {"search": {"strategy": "bo", "proxy_floor": 0.2}},
            ["proxy_floor applies to proxybo and proxybo-features, not to 'bo'"],
        ),
        (
            {"search": {"strategy": "proxybo", "proxy_floor": 0.2}},
            ["proxybo runs with fusion rank", "set fusion: sample"],
        ),
        (
            {"search": {"proxy_floor": 0.2, "fusion": "none"}},
            ["runs with fusion none", "remove proxy_floor"],
        ),
        ({"data": {"dataset": "imagenet"}}, ["data.dataset", "unknown dataset 'imagenet'"]),
        ({"tracking": {"search_id": "a b"}}, ["tracking.search_id"]),
    ],
)
def test_invalid_settings_name_the_key_and_the_fix(doc: dict, expected: list[str]) -> None:
    with pytest.raises(SettingsError) as info:
        SearchSettings.from_mapping(doc)
    for text in expected:
        assert text in str(info.value)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("search: [unclosed\n")
    with pytest.raises(SettingsError, match="not valid YAML"):
        load_settings(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(SettingsError, match="must be a mapping of sections"):
        load_settings(listy)
    with pytest.raises(SettingsError, match="not valid JSON"):
        SearchSettings.from_json("{nope")


def test_fingerprint_follows_what_defines_the_search() -> None:
    base = SearchSettings()
    fp = base.search_config().fingerprint()
    same = base.with_overrides(
        {"search.budget": 99, "state.uri": "s3://b/p", "tracking.tracking_uri": "http://x:5000"}
    )
    assert same.search_config().fingerprint() == fp
    for key, value in [
        ("search.seed", 3),
        ("search.batch_size", 4),
        ("network.C", 8),
        ("data.dataset", "fashion-mnist"),
        ("training.epochs", 2),
        ("search.proxies", "jacov"),
        ("search.kernel", "hamming"),
        ("search.local_phase", False),
        ("search.noise_floor", 0.3),
        ("search.fusion", "sample"),
        ("search.proxy_floor", 0.3),
    ]:
        assert base.with_overrides({key: value}).search_config().fingerprint() != fp, key
    # The default kernel stays out of the options, so searches stored before the setting
    # existed keep their fingerprint; another kernel reaches the strategy.
    assert "kernel" not in base.search_config().options
    assert base.with_overrides({"search.kernel": "ard"}).search_config().options["kernel"] == "ard"
    # Likewise the local phase: on by default (the strategy's own default), off reaches it.
    assert "local_after" not in base.search_config().options
    # And the noise floor: the strategy's own unless set.
    assert "noise_floor" not in base.search_config().options
    floor = base.with_overrides({"search.noise_floor": 0.3}).search_config()
    assert floor.options["noise_floor"] == 0.3
    # 0 turns the default strategy's floor off: null reaches the strategy.
    no_floor = base.with_overrides({"search.noise_floor": 0}).search_config()
    assert no_floor.options["noise_floor"] is None
    for config, expected in ((base.search_config(), 0.1), (no_floor, None)):
        gp_strategy = make_strategy(NB201Space(), config)
        assert isinstance(gp_strategy, BayesianOptimization)
        assert gp_strategy.noise_floor == expected
    # And the fusion rule: the strategy's own unless set (the default strategy samples a
    # scorer per pick); "none" reaches it as false.
    assert "fusion" not in base.search_config().options
    assert make_strategy(NB201Space(), base.search_config()).settings()["proxy_fusion"] == "sample"
    for value, option, rule in (("rank", "rank", "rank"), ("none", False, False)):
        config = base.with_overrides({"search.fusion": value}).search_config()
        assert config.options["fusion"] == option
        assert make_strategy(NB201Space(), config).settings()["proxy_fusion"] == rule
    # And the proxies' floor: the strategy's own (0.2 under its sampled rule) unless set.
    assert "proxy_floor" not in base.search_config().options
    assert make_strategy(NB201Space(), base.search_config()).settings()["proxy_floor"] == 0.2
    floored = base.with_overrides({"search.proxy_floor": 0.5}).search_config()
    assert make_strategy(NB201Space(), floored).settings()["proxy_floor"] == 0.5
    off = base.with_overrides({"search.local_phase": False}).search_config()
    assert off.options["local_after"] is None
    space = NB201Space()
    rng = np.random.default_rng(0)
    for config, local in ((base.search_config(), True), (off, False)):
        strategy = make_strategy(space, config)
        state = strategy.new_state()
        for i, arch in enumerate(space.sample(rng, 30)):
            state.history.append(Evaluation(arch=arch, round=0, metrics={"val_acc": float(i)}))
        state.round = 1  # a local round of the default (every second one is global)
        top = [e.arch for e in state.history[-5:]]
        near = {n for a in top for n in space.neighbours(a)}
        assert (set(strategy.candidates(state)) <= near) is local


def test_the_shipped_example_is_valid_and_documents_the_defaults() -> None:
    example = Path(__file__).parents[2] / "examples" / "search.yaml"
    assert load_settings(example) == SearchSettings()
