"""`proxybo benchmark` end to end on a small generated table."""

from __future__ import annotations

import csv
import itertools
import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from optimizer.state import Evaluation, SearchState
from optimizer.strategies import Strategy
from proxybo.benchmark import (
    deployed_test_curve,
    drawn_runs,
    evals_to_target_interval,
    first_reaching,
    format_share,
    method_batch_size,
    paired_evals_to_target,
    parse_method,
    run_method,
    weights_plot_name,
)
from proxybo.cli import app
from tests.optimizer.conftest import make_table


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    table = make_table(n_ops=3)  # 729 cells
    path = tmp_path_factory.mktemp("bench") / "table.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        cols = ["val_acc", "test_acc", "train_time_s", "zc_good", "zc_noise"]
        w.writerow(["arch", *cols])
        for i, arch in enumerate(table.archs):
            row = [f"{table.columns[c][i]:.6f}" for c in cols]
            if i == 0:
                row[3] = ""  # a row without a proxy is left out of the pool
            w.writerow([arch, *row])
    return path


def run_cli_benchmark(table: Path, methods: str, out: Path, *, budget: int) -> Result:
    """`proxybo benchmark` on `table` with proxy `good`, 2 seeds and REA to 20 evaluations."""
    args = ["benchmark", "--table", str(table), "--methods", methods, "--proxies", "good"]
    runs = ["--seeds", "2", "--budget", str(budget), "--reference-budget", "20"]
    return CliRunner().invoke(app, [*args, *runs, "--out", str(out)])


def test_benchmark_writes_the_summary_and_plots(table_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "benchmark",
            "--table",
            str(table_csv),
            "--methods",
            "proxybo,bo,rea,random,proxy-warmup,optuna-tpe",
            "--proxies",
            "good,noise",
            "--seeds",
            "2",
            "--budget",
            "12",
            "--reference-budget",
            "20",
            "--workers",
            "2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    rea = summary["methods"]["rea"]
    assert summary["target"] == pytest.approx(rea["mean_best"][19])
    assert len(rea["mean_best"]) == 20 and rea["evals_to_target"] <= 20
    for name in ("proxybo", "bo", "random", "proxy-warmup", "optuna-tpe"):
        m = summary["methods"][name]
        assert len(m["mean_best"]) == 12
        assert m["mean_best"] == sorted(m["mean_best"])  # best-so-far never drops
        if m["evals_to_target"] is not None:
            assert m["speedup_vs_rea"] == pytest.approx(20 / m["evals_to_target"])
        lo, hi = m["evals_to_target_interval"]
        if lo is not None and m["evals_to_target"] is not None:
            assert lo <= m["evals_to_target"] and (hi is None or m["evals_to_target"] <= hi)
    assert (out / "curves.png").stat().st_size > 10_000
    assert (out / "weights_proxybo_seed0.png").exists()
    # where it ran: the GP methods' figures follow the CPU, so the record names it
    import torch

    machine = summary["machine"]
    assert machine["versions"]["torch"] == torch.__version__
    assert machine["versions"]["botorch"] and machine["versions"]["optuna"]
    assert machine["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert machine["cpus"] == os.cpu_count()
    if Path("/proc/cpuinfo").exists():
        assert machine["cpu"]["vendor_id"] and machine["cpu"]["model name"]
    runs = json.loads((out / "runs.json").read_text())
    assert {r["method"] for r in runs} >= {"proxybo", "rea"}
    # The test_acc a user would deploy: that of the best val_acc so far, after each evaluation.
    with table_csv.open(newline="") as fh:
        test_of_val = {float(r["val_acc"]): float(r["test_acc"]) for r in csv.DictReader(fh)}
    for r in runs:
        assert len(r["test_of_best_so_far"]) == len(r["best_so_far"])
        assert r["test_of_best_so_far"][-1] == r["test_of_best"]
        assert r["test_of_best_so_far"] == [test_of_val[v] for v in r["best_so_far"]]
    rea_tests = [r["test_of_best_so_far"][19] for r in runs if r["method"] == "rea"]
    assert summary["test_target"] == pytest.approx(np.mean(rea_tests))
    for name, m in summary["methods"].items():
        mine = [r["test_of_best_so_far"] for r in runs if r["method"] == name]
        assert m["mean_test_of_best"] == pytest.approx(np.mean(mine, axis=0), abs=1e-6)
        assert m["mean_test_of_best"][-1] == pytest.approx(m["final_test_acc_mean"], abs=1e-6)
        recommended = [r["test_of_recommended"] for r in runs if r["method"] == name]
        assert m["mean_test_of_recommended"] == pytest.approx(np.mean(recommended, axis=0))
        if name in ("rea", "random", "proxy-warmup", "optuna-tpe"):  # no model: the best val_acc
            assert recommended == mine
    assert "test_recommended=" in result.output
    for r in runs:  # a recommendation is an evaluated architecture of that run
        assert len(r["test_of_recommended"]) == len(r["best_so_far"])
        assert set(r["test_of_recommended"]) <= set(test_of_val.values())
    assert f"test target (rea mean test_acc of its best at 20): {summary['test_target']:.4f}" in (
        result.output
    )
    # each method against bo over the same seeds, as the "fewer evaluations than bo"
    assert summary["methods"]["bo"]["against_bo"] is None
    bo_curves = np.array([r["best_so_far"] for r in runs if r["method"] == "bo"])
    for name, m in summary["methods"].items():
        if name == "bo":
            continue
        vs = m["against_bo"]
        assert vs["seeds"] == 2 and vs["budget"] == 12  # rea's curves are cut to bo's budget
        curves = np.array([r["best_so_far"][:12] for r in runs if r["method"] == name])
        cmp = paired_evals_to_target(curves, bo_curves, summary["target"])
        assert vs["first_ahead"] == cmp.first_ahead and vs["behind"] == cmp.second_ahead
        assert vs["first_ahead"] + vs["tied"] + vs["behind"] == pytest.approx(1.0)
        assert vs["difference_interval"] == list(cmp.difference)
    assert result.output.count("against bo on the same seeds: reaches the target first in") == 5


def test_every_method_runs_on_a_space_that_is_not_nb201(tmp_path: Path) -> None:
    """Ids that are not NB201 strings, and positions with 2 to 5 choices: the space comes from
    the `encoding` column alone, for our strategies (the local phase included) and Optuna's."""
    rng = np.random.default_rng(0)
    cards = (3, 4, 2, 5, 3)
    path = tmp_path / "other.csv"
    values = {}
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["arch", "encoding", "val_acc", "test_acc", "train_time_s", "zc_good"])
        for i, code in enumerate(itertools.product(*(range(c) for c in cards))):
            y = 70 + float(np.dot(code, [0.5, 0.8, -0.3, 0.4, 0.2])) + 0.3 * rng.normal()
            values[f"net-{i}"] = round(y, 6)
            w.writerow([f"net-{i}", " ".join(map(str, code)), f"{y:.6f}", y, 50, y + rng.normal()])
    methods = "proxybo-features:local_after=8,proxybo,bo,rea,random,proxy-warmup,optuna-tpe"
    out = tmp_path / "out"
    r = run_cli_benchmark(path, methods, out, budget=14)
    assert r.exit_code == 0, r.output
    runs = json.loads((out / "runs.json").read_text())
    assert {x["method"] for x in runs} == set(methods.split(","))
    table_values = set(values.values())
    for run in runs:
        assert len(run["best_so_far"]) == (20 if run["method"] == "rea" else 14)
        assert {round(v, 6) for v in run["best_so_far"]} <= table_values  # rows of the table
    weights = [x["weights"] for x in runs if x["method"].startswith("proxybo")]
    assert all(w and set(w[-1]["weights"]) == {"gp", "good"} for w in weights)


def test_benchmark_refuses_bad_arguments(table_csv: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["benchmark", "--table", str(table_csv), "--out", str(tmp_path), "--seeds", "1"]
    r = runner.invoke(app, [*base, "--methods", "proxybo,bo"])
    assert r.exit_code == 2 and "'rea' must be among the methods" in r.output
    r = runner.invoke(app, [*base, "--methods", "rea,magic"])
    assert r.exit_code == 2 and "unknown method" in r.output
    r = runner.invoke(app, [*base, "--methods", "rea", "--proxies", "synflow"])
    assert r.exit_code == 2 and "zc_synflow" in r.output
    r = runner.invoke(
        app, ["benchmark", "--table", str(tmp_path / "missing.csv"), "--methods", "rea"]
    )
    assert r.exit_code == 2 and "missing.csv" in r.output


@pytest.mark.parametrize(
    ("drop", "blank", "message"),
    [
        ("train_time_s", None, "no column 'train_time_s'; numeric columns:"),
        (None, "test_acc", "column 'test_acc' is empty or not finite in 1 of the rows"),
    ],
)
def test_benchmark_refuses_a_table_without_its_metrics_before_running(
    table_csv: Path, tmp_path: Path, drop: str | None, blank: str | None, message: str
) -> None:
    rows = list(csv.DictReader(table_csv.open()))
    path = tmp_path / "t.csv"
    with path.open("w", newline="") as fh:
        cols = [c for c in rows[0] if c != drop]
        w = csv.DictWriter(fh, cols, extrasaction="ignore")
        w.writeheader()
        for i, row in enumerate(rows):
            w.writerow({**row, **({blank: ""} if blank and i == 5 else {})})
    out = tmp_path / "out"
    args = ["benchmark", "--table", str(path), "--methods", "rea,bo", "--proxies", "good"]
    r = CliRunner().invoke(app, [*args, "--seeds", "1", "--budget", "5", "--out", str(out)])
    assert r.exit_code == 2 and message in r.output, r.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("methods", "message"),
    [
        # a typo in an option name is not ignored: it names the strategy's options
        ("rea,proxybo:local_afer=30", "unknown option 'local_afer'; its options: n_init,"),
        ("rea,random:n_init=5", "random takes no options"),
        ("rea,rea:population=5;tournament=2;pool_size=9", "unknown option 'pool_size'"),
        # a bad value fails before any run starts, naming the option
        ("rea,proxybo:n_init=x", "option n_init must be an integer of at least 2, got 'x'"),
        ("rea,bo:kernel=rbf", "option kernel must be one of ard, hamming, auto"),
        ("rea,rea:tournament=0", "option tournament must be a positive integer"),
        ("rea,bo,bo", "method 'bo' listed more than once"),
        ("rea,bo:batch_size=0", "option batch_size must be a positive integer, got 0"),
        ("rea,optuna-gp:batch_size=2", "Optuna peers take no options (and run one trial"),
    ],
)
def test_benchmark_refuses_bad_options_before_running(
    table_csv: Path, tmp_path: Path, methods: str, message: str
) -> None:
    out = tmp_path / "out"
    args = ["benchmark", "--table", str(table_csv), "--methods", methods, "--proxies", "good"]
    r = CliRunner().invoke(app, [*args, "--seeds", "1", "--budget", "5", "--out", str(out)])
    assert r.exit_code == 2 and message in r.output, r.output
    assert not out.exists()


def test_deployed_test_curve_follows_the_best_val_acc() -> None:
    def ev(val: float | None, test: float, status: str = "ok") -> Evaluation:
        metrics = {} if val is None else {"val_acc": val, "test_acc": test}
        return Evaluation("a", 0, metrics, status=status, error="x" if status != "ok" else None)

    history = [
        ev(None, 0.0, "failed"),  # nothing yet
        ev(50.0, 49.0),
        ev(40.0, 60.0),  # a better test_acc behind a worse val_acc is not deployed
        ev(50.0, 10.0),  # a tie keeps the first
        ev(55.0, 47.0),  # a better val_acc with a worse test_acc is
    ]
    curve = deployed_test_curve(history)
    assert np.isnan(curve[0])
    assert curve[1:] == [49.0, 49.0, 49.0, 47.0]


def test_evals_to_target_interval_resamples_seeds() -> None:
    # Identical seeds: every resample is the same curve, so the interval is one point.
    same = np.tile(np.arange(10.0), (30, 1))
    assert first_reaching(same.mean(axis=0), 4.0) == 5
    assert evals_to_target_interval(same, 4.0) == [5, 5]
    # Half the seeds reach 1 at evaluation 3, half at 8: the mean reaches 1 at 8, and a
    # resample with fewer late seeds reaches a lower target sooner.
    early = np.where(np.arange(10) >= 2, 1.0, 0.0)
    late = np.where(np.arange(10) >= 7, 1.0, 0.0)
    mixed = np.vstack([np.tile(early, (15, 1)), np.tile(late, (15, 1))])
    lo, hi = evals_to_target_interval(mixed, 0.5)
    assert first_reaching(mixed.mean(axis=0), 0.5) == 3 and lo == 3 and hi == 8
    # Late seeds that only get to 0.4: the mean reaches 0.7 at 8 with at least 15 early
    # seeds, which about half the resamples lack, so the upper end is open.
    stuck = np.vstack([np.tile(early, (15, 1)), np.tile(0.4 * late, (15, 1))])
    assert first_reaching(stuck.mean(axis=0), 0.7) == 8
    assert evals_to_target_interval(stuck, 0.7) == [8, None]


def _step_curves(reach_at: list[int], budget: int = 12) -> np.ndarray:
    """One curve per seed: 0 until evaluation `reach_at[i]` (1-based), 1 from there."""
    return np.array([np.where(np.arange(1, budget + 1) >= t, 1.0, 0.0) for t in reach_at])


def test_paired_comparison_sees_a_lead_that_separate_intervals_do_not() -> None:
    # Each seed's luck spreads its evaluations to target from 2 to 9; the second method takes
    # one more than the first on every seed.
    luck = [2, 3, 4, 5, 6, 7, 8, 9] * 4
    first, second = _step_curves(luck), _step_curves([t + 1 for t in luck])
    _, hi_a = evals_to_target_interval(first, 0.5)
    lo_b, _ = evals_to_target_interval(second, 0.5)
    assert lo_b is not None and hi_a is not None and lo_b <= hi_a  # the intervals overlap
    cmp = paired_evals_to_target(first, second, 0.5)
    assert cmp.first_ahead == 1.0 and cmp.tied == 0.0 and cmp.second_ahead == 0.0
    assert cmp.difference == (-1, -1) and cmp.never_share == 0.0
    assert cmp.evals == (first_reaching(first.mean(axis=0), 0.5), 6) == (5, 6)
    # the other way round, and against itself
    back = paired_evals_to_target(second, first, 0.5)
    assert back.first_ahead == 0.0 and back.second_ahead == 1.0 and back.difference == (1, 1)
    same = paired_evals_to_target(first, first, 0.5)
    assert same.tied == 1.0 and same.difference == (0, 0)


def test_paired_comparison_counts_never_at_the_budget_plus_one() -> None:
    reached, stuck = _step_curves([3] * 10), np.zeros((10, 12))
    cmp = paired_evals_to_target(reached, stuck, 0.5)
    assert cmp.first_ahead == 1.0 and cmp.never_share == 1.0 and cmp.difference == (-10, -10)
    assert cmp.evals == (3, None) and (cmp.seeds, cmp.budget) == (10, 12)
    neither = paired_evals_to_target(stuck, stuck, 0.5)
    assert neither.tied == 1.0 and neither.never_share == 1.0
    with pytest.raises(ValueError, match="same seeds and budget"):
        paired_evals_to_target(reached, reached[:5], 0.5)


def test_each_drawn_run_is_scored_against_the_reference_mean_over_its_own_seeds() -> None:
    # Every seed's curve is the same, so a drawn run's evaluations follow from its target
    # alone; the reference is 0 on one seed and 1 on the other, so runs of 2 seeds have targets
    # 0, 0.5 or 1, and a quarter, a half and a quarter of them do.
    curves = {"m": np.array([[0.0, 0.5, 1.0, 1.0]] * 2)}
    drawn = drawn_runs(curves, np.array([0.0, 1.0]), 2, draws=4000)
    assert set(drawn.targets) == {0.0, 0.5, 1.0}
    assert np.array_equal(drawn.evals["m"], 1 + 2 * drawn.targets)  # 1, 2 and 3 evaluations
    assert np.mean(drawn.targets == 0.5) == pytest.approx(0.5, abs=0.03)
    assert drawn.share("m", 2) == pytest.approx(np.mean(drawn.targets <= 0.5))
    assert (drawn.size, drawn.budget) == (2, 4)
    # the same draws for the same seed
    again = drawn_runs(curves, np.array([0.0, 1.0]), 2, draws=4000)
    assert np.array_equal(again.targets, drawn.targets)


def test_drawn_runs_set_each_method_against_another_within_a_bound() -> None:
    reference = np.full(5, 0.5)
    curves = {
        "fast": _step_curves([4] * 5),
        "bo": _step_curves([6] * 5),
        "slow": _step_curves([8] * 5),
        "stuck": np.zeros((5, 12)),
    }
    drawn = drawn_runs(curves, reference, 3, draws=50)
    assert drawn.evals["stuck"].tolist() == [13] * 50  # the budget plus one: never
    assert drawn.share("stuck", 100) == 0.0 and drawn.share("fast", 4) == 1.0
    assert drawn.share_against("fast", "bo", 1.0, strict=True) == 1.0
    assert drawn.share_against("bo", "bo", 1.0, strict=True) == 0.0  # not fewer than itself
    assert drawn.share_against("bo", "bo", 1.0, strict=False) == 1.0
    assert drawn.share_against("slow", "bo", 1.2, strict=False) == 0.0  # 8 > 7.2
    assert drawn.share_against("slow", "bo", 1.4, strict=False) == 1.0  # 8 <= 8.4
    # a run that reaches the target passes against one that never does; never passes nothing
    assert drawn.share_against("slow", "stuck", 1.0, strict=True) == 1.0
    assert drawn.share_against("stuck", "stuck", 1.2, strict=False) == 0.0
    with pytest.raises(ValueError, match="one curve per reference seed"):
        drawn_runs({"short": _step_curves([4] * 3)}, reference, 3)
    with pytest.raises(ValueError, match="run size of at least 1"):
        drawn_runs(curves, reference, 0)


def test_shares_print_as_whole_percentages_that_keep_rare_cases_visible() -> None:
    assert [format_share(x) for x in (0.0, 0.001, 0.004, 0.125, 0.5, 0.996, 1.0)] == [
        "0%",
        "<1%",
        "<1%",
        "12%",
        "50%",
        ">99%",
        "100%",
    ]


def test_weight_plot_names_are_plain_file_names() -> None:
    assert weights_plot_name("proxybo") == "weights_proxybo_seed0.png"
    name = weights_plot_name("proxybo:min_weight=0.05;local_after=30")
    assert name == "weights_proxybo-min_weight-0.05-local_after-30_seed0.png"


@pytest.mark.parametrize(
    "method",
    ["bo:batch_size=3", "proxybo-features:batch_size=4", "random:batch_size=5", "rea:batch_size=3"],
)
def test_a_batch_size_runs_the_method_in_rounds_of_that_many(method: str) -> None:
    table = make_table(n_ops=3).with_proxies(["good"])
    batch, budget = method_batch_size(method), 14
    rounds: list[tuple[int, int]] = []

    def look(strategy: Strategy, state: SearchState) -> None:
        assert strategy.config.batch_size == batch
        rounds.append((state.round, len(state.history)))

    run = run_method(table, method, 0, budget, ["good"], after_tell=look)
    sizes = np.diff([0] + [n for _, n in rounds]).tolist()
    assert [r for r, _ in rounds] == list(range(1, len(rounds) + 1)) and sum(sizes) == budget
    if method.startswith("rea"):
        # REA's batch does not straddle the end of its random population (10): 3, 3, 3, 1
        assert sizes == [3, 3, 3, 1, 3, 1]
    else:  # every round but the last (the budget's remainder) evaluates `batch` architectures
        full, rest = divmod(budget, batch)
        assert sizes == [batch] * full + ([rest] if rest else [])
    assert len(run.best_so_far) == len(run.test_of_recommended) == budget
    assert run.best_so_far == sorted(run.best_so_far)
    assert len(run.ask_seconds) == len(sizes)


def test_batch_size_one_is_the_default_and_not_a_strategy_option() -> None:
    table = make_table(n_ops=3).with_proxies(["good"])
    assert parse_method("bo:batch_size=1;kernel=ard") == ("bo", {"kernel": "ard"})
    assert method_batch_size("bo") == 1 and method_batch_size("random:batch_size=5") == 5
    one = run_method(table, "bo:batch_size=1", 2, 12, ["good"])
    default = run_method(table, "bo", 2, 12, ["good"])
    assert one.best_so_far == default.best_so_far
    assert one.test_of_recommended == default.test_of_recommended


def test_the_summary_gives_rounds_to_the_target_for_a_batch(
    table_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    r = run_cli_benchmark(table_csv, "rea,bo:batch_size=3,random:batch_size=4", out, budget=30)
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    for name, batch in (("rea", 1), ("bo:batch_size=3", 3), ("random:batch_size=4", 4)):
        m = summary["methods"][name]
        assert m["batch_size"] == batch
        e = m["evals_to_target"]
        assert m["rounds_to_target"] == (None if e is None else -(-e // batch))
    bo = summary["methods"]["bo:batch_size=3"]
    assert bo["evals_to_target"] is not None  # a GP finds REA's best of 20 within 30
    assert f"rounds={bo['rounds_to_target']}" in r.output
    # no plain `bo` in the run: nothing to set the methods against
    assert all("against_bo" not in m for m in summary["methods"].values())
    assert "against bo" not in r.output
