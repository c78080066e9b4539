from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from optimizer.reliability import descending_ranks
from optimizer.spaces import NB201Space, Table, TabularSpace
from optimizer.state import Evaluation, SearchConfig, SearchState
from optimizer.strategies import GP, STRATEGIES, Strategy, make_strategy
from optimizer.strategies.proxybo import (
    BayesianOptimization,
    _best_first,
    pick_kernel,
    picks_per_pass,
)
from optimizer.surrogate import GPSurrogate


def _run(
    table: Table,
    strategy: str,
    budget: int,
    proxies: Sequence[str] = ("good",),
    seed: int = 0,
    q: int = 1,
    options: dict | None = None,
) -> tuple[Strategy, SearchState]:
    space = TabularSpace.from_table(table)
    uses = STRATEGIES[strategy].uses_proxies
    config = SearchConfig(
        strategy=strategy,
        space="tabular",
        proxies=tuple(proxies) if uses else (),
        seed=seed,
        budget=budget,
        batch_size=q,
        options=options or {},
    )
    strat = make_strategy(space, config)
    state = strat.new_state()
    val = table.column("val_acc")

    def score(archs: Sequence[str]) -> dict[str, np.ndarray]:
        idx = [space.index(a) for a in archs]
        return {p: table.column(f"zc_{p}")[idx] for p in config.proxies}

    while not state.done:
        chosen = strat.ask(state, q, score)
        assert chosen, "a strategy with budget left must propose something"
        strat.tell(
            state,
            [
                Evaluation(
                    arch=a, round=state.round - 1, metrics={"val_acc": float(val[space.index(a)])}
                )
                for a in chosen
            ],
        )
    return strat, state


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_spends_its_budget_on_distinct_archs(small_table: Table, name: str) -> None:
    _, state = _run(small_table, name, budget=14, q=3)
    archs = [e.arch for e in state.history]
    assert len(archs) == 14 == len(set(archs))
    assert state.pending == []


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_is_deterministic_for_a_seed(small_table: Table, name: str) -> None:
    a = _run(small_table, name, budget=12, seed=5)[1].to_json()
    b = _run(small_table, name, budget=12, seed=5)[1].to_json()
    c = _run(small_table, name, budget=12, seed=6)[1].to_json()
    assert a == b
    assert [e["arch"] for e in a["history"]] != [e["arch"] for e in c["history"]]


def test_stopping_and_resuming_from_json_gives_the_same_search(small_table: Table) -> None:
    space = TabularSpace.from_table(small_table)
    config = SearchConfig(strategy="proxybo", space="tabular", proxies=("good",), seed=1, budget=12)
    strat = make_strategy(space, config)
    val = small_table.column("val_acc")

    def score(archs: Sequence[str]) -> dict[str, np.ndarray]:
        return {"good": small_table.column("zc_good")[[space.index(a) for a in archs]]}

    def step(state: SearchState) -> None:
        (arch,) = strat.ask(state, 1, score)
        strat.tell(
            state, [Evaluation(arch, state.round - 1, {"val_acc": float(val[space.index(arch)])})]
        )

    straight = strat.new_state()
    resumed = strat.new_state()
    while not straight.done:
        step(straight)
        step(resumed)
        resumed = SearchState.from_json(json.loads(json.dumps(resumed.to_json())), config)
    assert resumed.to_json() == straight.to_json()


@pytest.mark.slow
def test_proxybo_beats_random_and_tracks_reliability(small_table: Table) -> None:
    best = {
        name: np.mean(
            [
                _run(small_table, name, budget=25, seed=s)[1].objective_values().max()
                for s in range(3)
            ]
        )
        for name in ("proxybo", "random")
    }
    assert best["proxybo"] > best["random"]
    _, state = _run(small_table, "proxybo", budget=25, seed=0)
    last = state.reliability[-1]
    assert set(last.weights) == {GP, "good"}
    assert np.isclose(sum(last.weights.values()), 1.0)
    assert last.n_observed == 25


def test_a_misleading_proxy_loses_its_weight(small_table: Table) -> None:
    _, state = _run(small_table, "proxybo", budget=30, proxies=("bad",))
    assert state.reliability[-1].weights["bad"] < 0.05
    assert state.reliability[-1].reliability["bad"] < 0.5


def test_an_informative_proxy_steers_the_first_rounds(small_table: Table) -> None:
    _, state = _run(small_table, "proxybo", budget=10, proxies=("good", "noise"))
    last = state.reliability[-1]
    assert last.reliability["good"] > last.reliability["noise"]
    assert last.weights["good"] + last.weights[GP] > last.weights["noise"]
    # the initial design covers every operation on every edge either way; the proxy picks
    # better architectures among the covering ones than random tie-breaking does
    first = {
        name: np.mean(
            [_run(small_table, name, budget=5, seed=s)[1].objective_values() for s in range(4)]
        )
        for name in ("proxybo", "bo")
    }
    assert first["proxybo"] > first["bo"]


def test_the_initial_design_spreads_over_the_operations(small_table: Table) -> None:
    # 4 random cells of this 4-op space cover about 16 of the 24 (edge, op) values
    for seed in range(3):
        strat, state = _run(small_table, "bo", budget=4, seed=seed)
        covered = strat.space.encode([e.arch for e in state.history]).max(axis=0)
        assert covered.sum() >= 21


def test_batches_are_diverse_under_fantasies(small_table: Table) -> None:
    _, state = _run(small_table, "bo", budget=20, q=5)
    rounds: dict[int, list[str]] = {}
    for e in state.history:
        rounds.setdefault(e.round, []).append(e.arch)
    assert all(len(v) == len(set(v)) == 5 for v in rounds.values())


def test_sampled_pool_for_a_large_space_mixes_random_and_mutations() -> None:
    config = SearchConfig(strategy="bo", space="nb201", budget=50, options={"pool_size": 40})
    strat = make_strategy(NB201Space(), config)
    state = strat.new_state()
    pool = strat.candidates(state)
    assert len(pool) == len(set(pool)) == 40
    chosen = strat.select(state, pool, {}, 1)
    strat.tell(state, [Evaluation(chosen[0], 0, {"val_acc": 1.0})])
    assert chosen[0] not in strat.candidates(state)


def test_a_sampled_pool_wider_than_the_neighbourhood_of_the_best_takes_it_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 2 evaluated cells have at most 48 one-edit neighbours; a pool of 400 wants 200 mutations.
    # Every neighbour goes in once, the rest is random, and no mutation is drawn in vain
    # (drawing until 20 x 400 tries ran out took a second per ask).
    space = NB201Space()
    config = SearchConfig(strategy="bo", space="nb201", budget=50, options={"pool_size": 400})
    strat = make_strategy(space, config)
    state = strat.new_state()
    for i, arch in enumerate(space.sample(np.random.default_rng(0), 2)):
        strat.select(state, [arch], {}, 1)
        strat.tell(state, [Evaluation(arch, i, {"val_acc": 0.5 + i / 10})])
    drawn: list[str] = []

    def mutate(arch: str, rng: np.random.Generator) -> str:
        drawn.append(arch)
        return arch

    monkeypatch.setattr(space, "mutate", mutate)
    pool = strat.candidates(state)
    assert len(pool) == len(set(pool)) == 400 and not state.busy_archs & set(pool)
    near = {n for e in state.observed() for n in space.neighbours(e.arch)} - state.busy_archs
    assert near <= set(pool) and not drawn


def test_unknown_strategy_and_missing_proxies_are_refused() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        make_strategy(NB201Space(), SearchConfig(strategy="nope", space="nb201"))
    with pytest.raises(ValueError, match="needs at least one proxy"):
        make_strategy(NB201Space(), SearchConfig(strategy="proxybo", space="nb201"))


def test_proxy_features_widen_the_gp_input(small_table: Table) -> None:
    strat, state = _run(small_table, "proxybo-features", budget=10, proxies=("good", "noise"))
    assert isinstance(strat, BayesianOptimization)
    assert state.surrogate is not None
    assert state.surrogate["hyper"]["dim"] == 4 * 6 + 2


def test_kernel_option_selects_per_column_or_shared_lengthscales(small_table: Table) -> None:
    _, ard = _run(small_table, "bo", budget=6, options={"kernel": "ard"})
    _, ham = _run(small_table, "bo", budget=6, options={"kernel": "hamming"})
    assert ard.surrogate is not None and ham.surrogate is not None
    ard_ls = np.asarray(ard.surrogate["hyper"]["params"]["covar_module.raw_lengthscale"])
    ham_ls = np.asarray(ham.surrogate["hyper"]["params"]["covar_module.raw_lengthscale"])
    assert ard_ls.shape == (1, 24) and ham_ls.shape == (1, 1)
    with pytest.raises(ValueError, match="ard, hamming, auto"):
        _run(small_table, "bo", budget=6, options={"kernel": "matern"})


def test_auto_kernel_uses_the_kernel_with_the_better_out_of_sample_ranking(
    small_table: Table,
) -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    good, bad = y + 0.1, y[::-1].copy()
    assert pick_kernel({"ard": bad, "hamming": good}, y) == "hamming"
    assert pick_kernel({"ard": good, "hamming": bad}, y) == "ard"
    assert pick_kernel({"ard": good, "hamming": good * 2}, y) == "ard"  # tie: the first

    strat, state = _run(small_table, "proxybo", budget=12)  # "auto" is the default
    assert isinstance(strat, BayesianOptimization)
    sur = state.surrogate
    assert sur is not None and set(sur["hypers"]) == {"ard", "hamming"}
    assert sur["kernel"] in ("ard", "hamming") and sur["hyper"] == sur["hypers"][sur["kernel"]]
    # the state round-trips and the next ask uses the chosen kernel's hyperparameters
    again = SearchState.from_json(json.loads(json.dumps(state.to_json())), expected=state.config)
    assert again.surrogate == sur


@pytest.mark.parametrize(
    ("name", "options", "floor"),
    [
        ("proxybo-features", {}, 0.1),  # the default
        ("bo", {}, 0.1),
        ("proxybo", {}, 0.1),
        ("proxybo-features", {"noise_floor": 0.3}, 0.3),
        ("proxybo-features", {"noise_floor": None}, None),
        ("bo", {"noise_floor": None}, None),
    ],
)
def test_the_noise_floor_holds_in_every_fit_and_in_every_ask(
    small_table: Table,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    options: dict,
    floor: float | None,
) -> None:
    seen: list[object] = []
    real_fit = GPSurrogate.fit.__func__  # type: ignore[attr-defined]

    def spy(cls: type, *args: object, **kwargs: object) -> GPSurrogate:
        seen.append(kwargs.get("noise_floor"))
        return real_fit(cls, *args, **kwargs)

    monkeypatch.setattr(GPSurrogate, "fit", classmethod(spy))
    _, state = _run(small_table, name, budget=14, options=options)
    # every fit, those after a result and those that rebuild the GP for an ask, has the floor
    assert len(seen) > 20 and set(seen) == {floor}
    sur = state.surrogate
    assert sur is not None and set(sur["hypers"]) == {"ard", "hamming"}
    for hyper in sur["hypers"].values():
        params = hyper["params"]
        bound = params["likelihood.noise_covar.raw_noise_constraint.lower_bound"]
        if floor is None:
            assert bound < 0.001  # BoTorch's default
        else:
            assert bound == pytest.approx(floor)
            assert params["likelihood.noise_covar.raw_noise"][0] >= floor


@pytest.mark.parametrize(("floor", "expected"), [(0.0, {"gp", "good"}), (0.05, {"gp"})])
def test_min_weight_leaves_tiny_weights_out_of_the_fusion(
    small_table: Table, monkeypatch: pytest.MonkeyPatch, floor: float, expected: set[str]
) -> None:
    import optimizer.strategies.proxybo as proxybo_module

    strat, state = _run(small_table, "proxybo", budget=8, options={"min_weight": floor})
    space = TabularSpace.from_table(small_table)
    pool = strat.candidates(state)[:200]
    scores = {"good": small_table.column("zc_good")[[space.index(a) for a in pool]]}
    seen: list[set[str]] = []
    real_fuse = proxybo_module.fuse_ranks

    def spy(ranks: dict, weights: dict) -> np.ndarray:
        seen.append({k for k, w in weights.items() if w > 0})
        return real_fuse(ranks, weights)

    monkeypatch.setattr(proxybo_module, "fuse_ranks", spy)
    monkeypatch.setattr(
        BayesianOptimization, "current_weights", lambda self, st: {"gp": 0.97, "good": 0.03}
    )
    assert isinstance(strat, BayesianOptimization)
    strat._bo_batch(state, pool, scores, 1)
    assert seen == [expected]


def test_local_phase_proposes_neighbours_of_the_best_until_they_run_out(
    small_table: Table,
) -> None:
    space = TabularSpace.from_table(small_table)
    strat, state = _run(small_table, "bo", budget=12, options={"local_after": 8, "local_top": 2})
    obs = state.observed()
    objective = [e.metrics["val_acc"] for e in obs]
    for i in range(8, 12):  # each pick after the 8th neighbours one of the best 2 before it
        best = sorted(range(i), key=lambda j: -objective[j])[:2]
        assert any(obs[i].arch in space.neighbours(obs[j].arch) for j in best), i
    # in the phase the pool is those neighbours only
    assert 0 < len(strat.candidates(state)) <= 2 * 6 * 3  # 2 cells, 6 edges, 3 other ops
    # with the neighbours of the best evaluated, the whole pool is back
    top = sorted(obs, key=lambda e: -e.metrics["val_acc"])[:2]
    for e in top:
        for n in space.neighbours(e.arch):
            if n not in state.busy_archs:
                state.history.append(
                    Evaluation(arch=n, round=state.round, metrics={"val_acc": -1.0})
                )
    assert len(strat.candidates(state)) == len(space) - len(state.history)


def test_local_phase_with_global_every_uses_the_whole_pool_in_those_rounds(
    small_table: Table,
) -> None:
    space = TabularSpace.from_table(small_table)
    opts = {"local_after": 8, "local_top": 2, "global_every": 2}
    strat, state = _run(small_table, "bo", budget=12, options=opts)
    free = len(space) - len(state.history)
    assert state.round % 2 == 0 and len(strat.candidates(state)) == free
    state.round += 1
    assert 0 < len(strat.candidates(state)) <= 2 * 6 * 3


@pytest.mark.parametrize(
    ("name", "options", "design"),
    [("proxybo-features", {}, 5), ("proxybo-features", {"n_init": 10}, 10), ("proxybo", {}, 5)],
)
def test_the_gp_takes_over_after_the_design(
    small_table: Table, monkeypatch: pytest.MonkeyPatch, name: str, options: dict, design: int
) -> None:
    gp_picks: list[int] = []
    real = BayesianOptimization._bo_batch

    def spy(self: BayesianOptimization, state: SearchState, *args: object) -> list[int]:
        gp_picks.append(len(state.observed()))
        return real(self, state, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(BayesianOptimization, "_bo_batch", spy)
    _run(small_table, name, budget=12, options=options)
    assert gp_picks == list(range(design, 12))


def _design(
    table: Table, options: dict, *, n_init: int = 8, seed: int = 0, proxy: str = "good"
) -> tuple[np.ndarray, np.ndarray]:
    """The `n_init` design picks of proxybo-features over the whole table (`init_pool` = all of
    it): their encodings and the rank (0 = best) of each by the proxy `good`."""
    strat, state = _run(
        table,
        "proxybo-features",
        budget=n_init,
        proxies=(proxy,),
        seed=seed,
        options={"n_init": n_init, "init_pool": 4096, **options},
    )
    idx = [table.archs.index(e.arch) for e in state.history]
    rank = descending_ranks(table.column("zc_good"))
    return strat.space.encode([e.arch for e in state.history]), rank[idx]


def test_the_second_design_pass_shows_every_operation_in_promising_cells(
    small_table: Table,
) -> None:
    # over the whole table a design whose ties follow the proxy rank is the same for every seed
    enc, rank = _design(small_table, {"design_screen": None})
    first = int(np.argmax(np.cumsum(enc, axis=0).min(axis=1) >= 1)) + 1  # picks in pass one
    assert first <= 5  # 24 (edge, op) values, 6 per cell
    assert (rank[first:] < 0.2 * len(small_table.archs)).all()
    twice = int((enc.sum(axis=0) >= 2).sum())
    # design_top=0 is the earlier rule: the proxies' best cells, which repeat the strong operations
    old_enc, old_rank = _design(small_table, {"design_top": 0, "design_screen": None})
    assert (old_enc[:first] == enc[:first]).all()
    best_left = sorted(set(range(8)) - set(old_rank[:first].tolist()))[: 8 - first]
    assert sorted(old_rank[first:].tolist()) == best_left
    assert twice >= 20 > int((old_enc.sum(axis=0) >= 2).sum())


SCREEN = {"design_screen": 0.5}


def test_the_design_screen_lets_the_proxies_screen_the_design_not_rank_it(
    small_table: Table,
) -> None:
    half = len(small_table.archs) // 2
    for seed in range(3):
        # a screen of 0.5: coverage first, ties at random among the proxy's better half. One
        # pass of 4 picks shows all 24 values, so the last pick is forced (for this table's
        # proxy, the weakest operation everywhere: its worst cells); the others are screened.
        enc, rank = _design(small_table, SCREEN, n_init=4, seed=seed)
        assert (enc.sum(axis=0) >= 1).all() and (rank[:3] < half).all()
        # a misleading proxy screens the other way: its better half is the good one's worse
        _, flipped = _design(small_table, SCREEN, n_init=4, seed=seed, proxy="bad")
        assert (flipped[:3] >= half).all()
    # at random: seeds differ although the subset is the whole table
    assert len({tuple(_design(small_table, SCREEN, n_init=4, seed=s)[1]) for s in range(3)}) == 3
    # by rank: the proxy's best cell first, and the same design for every seed
    ranked = [_design(small_table, {}, n_init=4, seed=s)[1] for s in range(3)]
    assert ranked[0][0] == 0 and all((r == ranked[0]).all() for r in ranked)


def test_the_design_screen_orders_ties_at_random_within_each_side(small_table: Table) -> None:
    space = TabularSpace.from_table(small_table)
    config = SearchConfig(strategy="proxybo-features", space="tabular", proxies=("good",))
    scores = {"good": np.arange(10.0)}  # rank 0 is the cell scored 9
    for screen, best in ((0.3, {7, 8, 9}), (None, None)):
        strat = make_strategy(space, replace(config, options={"design_screen": screen}))
        assert isinstance(strat, BayesianOptimization)
        tie, promising = strat._proxy_design_ties(scores, 0.2, np.random.default_rng(0))
        assert set(np.flatnonzero(promising)) == {8, 9}  # design_top 0.2 by rank, either way
        if best is None:
            assert tie.tolist() == list(range(9, -1, -1))  # the rank itself
            continue
        assert set(np.flatnonzero(tie < 10)) == best  # the screened three come first
        assert len(set(tie.tolist())) == 10  # no ties left
        # each side in a random order: other generators order the screened three otherwise
        orders = {
            tuple(np.argsort(strat._proxy_design_ties(scores, 0.2, np.random.default_rng(g))[0]))
            for g in range(20)
        }
        assert {o[:3] for o in orders} != {(9, 8, 7)} and len({o[:3] for o in orders}) > 1
        assert all(set(o[:3]) == best for o in orders)


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, "0.5", True])
def test_design_screen_is_checked(small_table: Table, bad: object) -> None:
    with pytest.raises(ValueError, match="option design_screen must be"):
        _run(small_table, "proxybo-features", budget=4, options={"design_screen": bad})


def test_one_pass_takes_the_values_over_the_values_a_cell_shows(small_table: Table) -> None:
    # NB201: 6 edges x 5 operations, 6 per cell; the small table has 4 operations per edge
    cells = NB201Space().sample(np.random.default_rng(0), 500)
    assert picks_per_pass(NB201Space().encode(cells) > 0.5) == 5
    assert picks_per_pass(TabularSpace.from_table(small_table).encode(small_table.archs) > 0.5) == 4
    assert picks_per_pass(np.zeros((0, 3), dtype=bool)) == 0


def test_a_design_shorter_than_one_pass_does_not_follow_the_proxies(small_table: Table) -> None:
    def design(n_init: int, proxy: str) -> list[str]:
        _, state = _run(
            small_table,
            "proxybo-features",
            budget=n_init,
            proxies=(proxy,),
            options={"n_init": n_init},
        )
        return [e.arch for e in state.history]

    # Three picks cannot show all 4 operations of an edge. Were ties broken by the proxy, the one
    # left out would be the one it rates lowest on every edge; at random, the proxy (here a good
    # one and its negation) does not matter.
    assert design(3, "good") == design(3, "bad")
    # A design of a whole pass shows every operation anyway, and breaks its ties by the proxy.
    assert design(4, "good") != design(4, "bad")


@pytest.mark.parametrize("name", ["proxybo-features", "bo"])
@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.2", True])
def test_design_top_is_checked(small_table: Table, name: str, bad: object) -> None:
    with pytest.raises(ValueError, match="design_top must be a number in"):
        _run(small_table, name, budget=8, options={"n_init": 8, "design_top": bad})


@pytest.mark.parametrize("key", ["local_after", "global_every"])
@pytest.mark.parametrize("bad", [0, -3, 2.5, "7", True])
def test_local_phase_options_are_checked(small_table: Table, key: str, bad: object) -> None:
    options = {"local_after": 2, key: bad}
    with pytest.raises(ValueError, match=f"{key} must be a positive integer"):
        _run(small_table, "bo", budget=6, options=options)


@pytest.mark.parametrize(
    ("name", "options", "local"),
    [
        ("proxybo-features", {}, True),
        ("proxybo-features", {"local_after": None}, False),
        ("proxybo-features", {"local_after": 31}, False),
        ("proxybo", {}, False),
        ("bo", {}, False),
    ],
)
def test_the_default_strategy_has_the_local_phase_from_30_evaluations(
    small_table: Table, name: str, options: dict, local: bool
) -> None:
    space = TabularSpace.from_table(small_table)
    uses = STRATEGIES[name].uses_proxies
    config = SearchConfig(
        strategy=name,
        space="tabular",
        proxies=("good",) if uses else (),
        budget=40,
        options=options,
    )
    strat = make_strategy(space, config)
    state = strat.new_state()
    val = small_table.column("val_acc")
    pool = space.finite_pool()
    assert pool is not None
    for arch in pool[:30]:
        state.history.append(
            Evaluation(arch=arch, round=0, metrics={"val_acc": float(val[space.index(arch)])})
        )
    for r in (1, 2, 3):  # local rounds (global_every=4)
        state.round = r
        assert (len(strat.candidates(state)) <= 5 * 6 * 3) is local
    state.round = 4  # every fourth round searches the whole pool
    assert len(strat.candidates(state)) == len(space) - 30


@pytest.mark.parametrize("name", ["bo", "proxybo-features"])
@pytest.mark.parametrize(
    ("key", "bad", "message"),
    [
        *(
            ("refit_every", v, "refit_every must be a positive integer or null")
            for v in [0, -2, 1.5, "3", True]
        ),
        *(
            ("noise_floor", v, r"noise_floor must be a number in \(0, 1\) or null")
            for v in [0, 1, -0.5, "0.2", True]
        ),
        *(("n_init", v, "n_init must be an integer of at least 2") for v in [1, 0, 2.5, "x"]),
        *(("pool_size", v, "pool_size must be a positive integer or null") for v in [0, "64"]),
        *(("cv_folds", v, "cv_folds must be an integer of at least 2") for v in [1, 5.0]),
        ("init_pool", 0, "init_pool must be a positive integer"),
        ("n_boot", -1, "n_boot must be a positive integer"),
        *(("min_weight", v, r"min_weight must be a number in \[0, 1\]") for v in [-0.1, 2, "0"]),
        ("kernel", "rbf", "kernel must be one of ard, hamming, auto"),
        ("local_top", 0, "local_top must be a positive integer"),
    ],
)
def test_bad_option_values_fail_when_the_strategy_is_made(
    small_table: Table, name: str, key: str, bad: object, message: str
) -> None:
    """Before any round runs or anything is stored, whichever the option."""
    space = TabularSpace.from_table(small_table)
    proxies = ("good",) if STRATEGIES[name].uses_proxies else ()
    options = {key: bad, **({"local_after": 30} if key == "local_top" else {})}
    config = SearchConfig(
        strategy=name, space="tabular", proxies=proxies, budget=6, options=options
    )
    with pytest.raises(ValueError, match=message):
        make_strategy(space, config)


def test_a_strategy_made_directly_checks_its_options_before_storing_anything(
    small_table: Table,
) -> None:
    space = TabularSpace.from_table(small_table)
    config = SearchConfig(
        strategy="proxybo", space="tabular", proxies=("good",), budget=6, options={"n_boot": 0}
    )
    strat = STRATEGIES["proxybo"](space, config)  # not through make_strategy
    with pytest.raises(ValueError, match="option n_boot must be a positive integer"):
        strat.new_state()  # it pins the options, so it checks them
    state = SearchState(config)  # a state made elsewhere
    before = json.dumps(state.to_json())

    def score(archs: Sequence[str]) -> dict[str, np.ndarray]:
        return {"good": small_table.column("zc_good")[[space.index(a) for a in archs]]}

    with pytest.raises(ValueError, match="option n_boot must be a positive integer"):
        strat.ask(state, 1, score)
    assert json.dumps(state.to_json()) == before


@pytest.mark.parametrize(
    ("name", "key", "bad"),
    [
        ("rea", "population", 0),
        ("rea", "tournament", "3"),
        ("proxy-warmup", "population", -1),
        ("proxy-warmup", "warmup_sample", 0),
    ],
)
def test_bad_evolution_options_fail_when_the_strategy_is_made(
    small_table: Table, name: str, key: str, bad: object
) -> None:
    space = TabularSpace.from_table(small_table)
    proxies = ("good",) if STRATEGIES[name].uses_proxies else ()
    config = SearchConfig(
        strategy=name, space="tabular", proxies=proxies, budget=6, options={key: bad}
    )
    with pytest.raises(ValueError, match=f"option {key} must be a positive integer"):
        make_strategy(space, config)


def test_every_option_a_strategy_reads_is_declared() -> None:
    """What `settings()` reports, defaults filled in, is what the strategy declares it reads
    (the benchmark rejects any other key a user types)."""
    space = NB201Space()
    for name, cls in STRATEGIES.items():
        proxies = ("synflow",) if cls.uses_proxies else ()
        strat = make_strategy(space, SearchConfig(strategy=name, space="nb201", proxies=proxies))
        # ProxyBO's option `fusion` is reported, for every GP strategy, as proxy_fusion
        reported = set(strat.settings()) - {"proxy_fusion", "proxy_features"}
        assert reported == set(cls.option_names) - {"fusion"}, name


@pytest.mark.parametrize(
    ("options", "fits"), [({}, [30, 32, 32, 34]), ({"refit_every": 1}, [31, 32, 33, 34])]
)
def test_the_gp_is_refitted_on_its_schedule(
    small_table: Table, options: dict, fits: list[int]
) -> None:
    """Adaptive by default (every observation up to 30, then every n // 15 = 2 here);
    `refit_every=1` after every observation. `n_fit` is the size of the last fit."""
    space = TabularSpace.from_table(small_table)
    config = SearchConfig(strategy="bo", space="tabular", budget=40, options=options)
    strat = make_strategy(space, config)
    state = strat.new_state()
    val = small_table.column("val_acc")
    pool = space.finite_pool()
    assert pool is not None
    n_fit = []
    for arch in pool[:34]:
        metrics = {"val_acc": float(val[space.index(arch)])}
        strat.tell(state, [Evaluation(arch=arch, round=0, metrics=metrics)])
        n_fit.append(int(state.surrogate["n_fit"]) if state.surrogate else None)
    assert n_fit[:30] == [None, *range(2, 31)]
    assert n_fit[30:] == fits


@pytest.mark.parametrize("name", ["bo", "proxybo-features"])
def test_posterior_is_what_the_next_ask_ranks_by(small_table: Table, name: str) -> None:
    strat, state = _run(small_table, name, budget=12, proxies=("good", "noise"))
    assert isinstance(strat, BayesianOptimization)
    space = TabularSpace.from_table(small_table)
    busy = state.busy_archs
    pool = [a for a in space.archs if a not in busy]
    idx = [space.index(a) for a in pool]
    scores = {p: small_table.column(f"zc_{p}")[idx] for p in strat.config.proxies}
    before = state.to_json()
    mean, var, log_ei = strat.posterior(state, pool, scores)
    assert state.to_json() == before  # a diagnostic look changes nothing
    assert mean.shape == var.shape == log_ei.shape == (len(pool),)
    assert np.all(var > 0) and np.all(np.isfinite(log_ei))
    # plain BO's next choice is the architecture of highest expected improvement
    if name == "bo":
        assert strat._choose(state, pool, scores, 1) == [int(np.argmax(log_ei))]


@pytest.mark.parametrize("name", ["proxybo", "proxybo-features"])
def test_without_fusion_proxybo_picks_by_expected_improvement_alone(
    small_table: Table, name: str
) -> None:
    """The ablation `fusion=false`: the choice is the EI argmax, while the weights are still
    measured; with the fusion (the default) a proxy that the weights trust moves the choice."""
    options = {"fusion": False, "local_after": None}
    strat, state = _run(small_table, name, budget=12, proxies=("noise",), options=options)
    assert isinstance(strat, BayesianOptimization)
    assert strat.settings()["proxy_fusion"] is False
    assert state.reliability and "noise" in state.reliability[-1].weights
    space = TabularSpace.from_table(small_table)
    pool = [a for a in space.archs if a not in state.busy_archs]
    scores = {"noise": small_table.column("zc_noise")[[space.index(a) for a in pool]]}
    log_ei = strat.posterior(state, pool, scores)[2]
    assert strat._choose(state, pool, scores, 1) == [int(np.argmax(log_ei))]
    # the same state under the strategy's own fusion (ProxyBO: the published rank sum; the
    # default: one scorer drawn per pick), with the weights all on the proxy
    fused = make_strategy(space, replace(strat.config, options={"local_after": None}))
    own = {"proxybo": "rank", "proxybo-features": "sample"}[name]
    assert isinstance(fused, BayesianOptimization) and fused.settings()["proxy_fusion"] == own
    state.reliability[-1] = replace(state.reliability[-1], weights={"gp": 0.0, "noise": 1.0})
    assert fused._choose(state, pool, scores, 1) == [int(np.argmax(scores["noise"]))]


def test_fusion_takes_a_rule_or_a_boolean(small_table: Table) -> None:
    space = TabularSpace.from_table(small_table)

    def rule(value: object) -> object:
        config = SearchConfig(
            strategy="proxybo", space="tabular", proxies=("good",), options={"fusion": value}
        )
        return make_strategy(space, config).settings()["proxy_fusion"]

    assert (rule(True), rule("rank"), rule("sample"), rule(False)) == (
        "rank",
        "rank",
        "sample",
        False,
    )
    with pytest.raises(ValueError, match="option fusion must be true, false, 'rank' or 'sample'"):
        rule("no")


def _sample_rule_setup(
    table: Table, weights: dict[str, float], q: int = 1
) -> tuple[BayesianOptimization, SearchState, list[str], dict[str, np.ndarray], np.ndarray]:
    """A proxybo state after 12 evaluations under the "sample" rule, with `weights` put in
    place; the unevaluated pool, its proxy scores and its log expected improvement."""
    options = {"fusion": "sample", "local_after": None}
    strat, state = _run(table, "proxybo", budget=12, proxies=("noise",), options=options)
    assert isinstance(strat, BayesianOptimization)
    state.reliability[-1] = replace(state.reliability[-1], weights=weights)
    space = TabularSpace.from_table(table)
    pool = [a for a in space.archs if a not in state.busy_archs]
    scores = {"noise": table.column("zc_noise")[[space.index(a) for a in pool]]}
    return strat, state, pool, scores, strat.posterior(state, pool, scores)[2]


def test_sample_rule_picks_with_the_scorer_drawn(small_table: Table) -> None:
    """Under "sample" each pick is made by one scorer: the proxy's best candidate when it holds
    all the weight, the EI argmax when the GP does."""
    strat, state, pool, scores, log_ei = _sample_rule_setup(small_table, {"gp": 0.0, "noise": 1.0})
    assert strat._choose(state, pool, scores, 1) == [int(np.argmax(scores["noise"]))]
    strat, state, pool, scores, log_ei = _sample_rule_setup(small_table, {"gp": 1.0, "noise": 0.0})
    assert strat._choose(state, pool, scores, 1) == [int(np.argmax(log_ei))]


def test_sample_rule_draws_scorers_with_the_weights_and_replays_them(small_table: Table) -> None:
    weights = {"gp": 0.25, "noise": 0.75}
    strat, state, pool, scores, _ = _sample_rule_setup(small_table, weights)
    draws = strat._scorer_draws(state, weights)
    counts = Counter(next(draws) for _ in range(4000))
    assert abs(counts["noise"] / 4000 - 0.75) < 0.03
    a, b = strat._scorer_draws(state, weights), strat._scorer_draws(state, weights)
    assert [next(a) for _ in range(20)] == [next(b) for _ in range(20)], "a replay draws alike"
    # a batch under the rule is still distinct architectures
    batch = strat._choose(state, pool, scores, 4)
    assert len(set(batch)) == 4


def test_proxy_floor_gives_proxies_that_order_better_than_chance_a_share_of_the_picks(
    small_table: Table,
) -> None:
    weights = {"gp": 1.0, "noise": 0.0}  # the GP holds all the weight
    strat, state, pool, scores, log_ei = _sample_rule_setup(small_table, weights)
    assert strat.proxy_floor == 0.0  # ProxyBO's default, also under "sample"

    def with_floor(floor: float) -> BayesianOptimization:
        options = {**strat.config.options, "proxy_floor": floor}
        out = make_strategy(strat.space, replace(strat.config, options=options))
        assert isinstance(out, BayesianOptimization)
        return out

    def share(floored: BayesianOptimization, accuracy: float) -> float:
        last = state.reliability[-1]
        state.reliability[-1] = replace(last, reliability={"gp": 0.9, "noise": accuracy})
        draws = floored._scorer_draws(state, weights)
        return Counter(next(draws) for _ in range(4000))["noise"] / 4000

    assert abs(share(with_floor(0.3), 0.6) - 0.3) < 0.03
    assert share(with_floor(0.3), 0.4) == 0.0, "a proxy that orders worse than chance: no floor"
    assert share(with_floor(0.0), 0.6) == 0.0
    assert share(with_floor(1.0), 0.6) == 1.0
    # with a floor of 1 every pick follows the proxy
    assert with_floor(1.0)._choose(state, pool, scores, 1) == [int(np.argmax(scores["noise"]))]
    assert strat._choose(state, pool, scores, 1) == [int(np.argmax(log_ei))]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"proxy_floor": 1.5}, r"option proxy_floor must be a number in \[0, 1\]"),
        ({"proxy_floor": "0.2"}, r"option proxy_floor must be a number in \[0, 1\]"),
        ({"proxy_floor": 0.2}, "applies to fusion 'sample' only, and fusion is 'rank'"),
        ({"proxy_floor": 0.2, "fusion": False}, "and fusion is False"),
    ],
)
def test_bad_proxy_floor_fails_when_the_strategy_is_made(
    small_table: Table, options: dict, message: str
) -> None:
    space = TabularSpace.from_table(small_table)
    config = SearchConfig(strategy="proxybo", space="tabular", proxies=("good",), options=options)
    with pytest.raises(ValueError, match=message):
        make_strategy(space, config)
    # the default's floor is for its own rule: under the rank sum it is 0, not an error
    rank = replace(config, strategy="proxybo-features", options={"fusion": "rank"})
    assert make_strategy(space, rank).settings()["proxy_floor"] == 0.0


def test_a_proxy_pick_puts_undefined_scores_last_but_before_the_picks_made() -> None:
    key = _best_first(np.array([1.0, np.nan, 3.0]))
    key[2] = np.inf  # already picked in this batch, and the GP rates it highest
    assert np.lexsort((-np.array([0.0, 0.0, 5.0]), key)).tolist() == [0, 1, 2]


@pytest.mark.parametrize("name", ["bo", "proxybo", "proxybo-features"])
def test_recommend_is_the_evaluated_architecture_the_gp_rates_best(
    small_table: Table, name: str
) -> None:
    strat, state = _run(small_table, name, budget=14, proxies=("good", "noise"))
    assert isinstance(strat, BayesianOptimization)
    observed = state.observed()
    archs = [e.arch for e in observed]
    scores = {p: np.array([e.proxies[p] for e in observed]) for p in strat.config.proxies}
    before = state.to_json()
    pick = strat.recommend(state)
    assert state.to_json() == before  # choosing what to deploy changes nothing
    mean = strat.posterior(state, archs, scores)[0]
    assert pick is not None and pick.arch == archs[int(np.argmax(mean))]


def test_recommend_before_the_first_fit_and_without_a_model_is_the_best_observed(
    small_table: Table,
) -> None:
    strat, state = _run(small_table, "bo", budget=1)
    assert state.surrogate is None
    assert strat.recommend(state) == state.best() is not None
    assert strat.recommend(strat.new_state()) is None
    for name in ("rea", "random", "proxy-warmup"):
        strat, state = _run(small_table, name, budget=12)
        assert strat.recommend(state) == state.best()


def test_posterior_before_the_first_fit_says_so(small_table: Table) -> None:
    strat, state = _run(small_table, "bo", budget=1)
    assert isinstance(strat, BayesianOptimization)
    with pytest.raises(ValueError, match="no GP yet"):
        strat.posterior(state, [small_table.archs[0]], {})


def test_settings_show_the_defaults_that_run(small_table: Table) -> None:
    space = TabularSpace.from_table(small_table)

    def settings(name: str, **options: object) -> dict:
        proxies = ("good",) if STRATEGIES[name].uses_proxies else ()
        config = SearchConfig(strategy=name, space="tabular", proxies=proxies, options=options)
        return make_strategy(space, config).settings()

    default = settings("proxybo-features")
    assert default["n_init"] == 5 and default["kernel"] == "auto"
    assert default["noise_floor"] == 0.1 and default["local_after"] == 30
    assert default["global_every"] == 4 and default["proxy_features"] is True
    assert default["proxy_floor"] == 0.2 and settings("proxybo")["proxy_floor"] == 0.0
    assert "proxy_floor" not in settings("bo")
    # both designs follow the proxies' rank unless asked to let them screen
    assert default["design_screen"] is None and settings("proxybo")["design_screen"] is None
    assert "design_screen" not in settings("bo")
    bo = settings("bo")
    assert bo["local_after"] is None and bo["global_every"] is None  # no local phase
    assert bo["proxy_fusion"] is False and bo["n_init"] == 5
    # the default samples a scorer per pick; ProxyBO keeps the published rank sum
    assert default["proxy_fusion"] == "sample" and settings("proxybo")["proxy_fusion"] == "rank"
    # what the user set wins, and stays JSON
    chosen = settings("proxybo", noise_floor=None, kernel="ard", n_init=8)
    assert (chosen["noise_floor"], chosen["kernel"], chosen["n_init"]) == (None, "ard", 8)
    assert json.loads(json.dumps(chosen)) == chosen
    assert settings("rea") == {"population": 10, "tournament": 3}
    assert settings("random", custom=1) == {"custom": 1}
