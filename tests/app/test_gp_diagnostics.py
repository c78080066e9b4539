"""The benchmark diagnostics' `noise` and `stuck` reports (benchmarks/gp_diagnostics.py)."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from optimizer.spaces import Table, TabularSpace
from tests.optimizer.conftest import make_table

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gp_diagnostics.py"


@pytest.fixture(scope="module")
def diag() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gp_diagnostics", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _with_test(table: Table, test: np.ndarray) -> Table:
    return Table(table.archs, table.codes, {**table.columns, "test_acc": test})


def test_noise_report_measures_val_against_test_in_the_top(diag: ModuleType) -> None:
    table = make_table(n_ops=3)
    val = table.columns["val_acc"]
    agree = diag.noise_report(_with_test(table, val + 1.0), best=3)
    disagree = diag.noise_report(_with_test(table, -val), best=3)
    assert "| 10 | 1.000 |" in agree and "| 300 | 1.000 |" in agree
    assert "| 10 | -1.000 |" in disagree and "| 300 | -1.000 |" in disagree
    # The best row by val_acc is the worst of all by test_acc when the two are opposed.
    best = table.archs[int(np.argmax(val))]
    assert f"{len(val):9d}  {best}" in disagree


def test_stuck_report_lists_the_better_unevaluated_neighbours(diag: ModuleType) -> None:
    table = make_table(n_ops=3)
    space = TabularSpace.from_table(table)
    val = table.columns["val_acc"]
    order = np.argsort(val)
    mid = table.archs[int(order[len(order) // 2])]
    near = space.neighbours(mid)
    better = sorted(
        (val[space.index(a)] for a in near if val[space.index(a)] > val[space.index(mid)]),
        reverse=True,
    )
    worse = [a for a in near if val[space.index(a)] < val[space.index(mid)]]
    assert better, "the middle cell of this table has better neighbours"
    top = table.archs[int(order[-1])]
    runs = [
        # seed 0: `mid` found second, then only worse neighbours: stuck with better ones left.
        {"seed": 0, "archs": [worse[0], mid, *worse[1:3]]},
        # seed 1: the table's best: above the threshold, not listed.
        {"seed": 1, "archs": [worse[0], top, mid, worse[1]]},
    ]
    report = diag.stuck_report(table, runs, below=float(val[space.index(top)]))
    lines = [ln for ln in report.splitlines() if ln.startswith("| 0 |")]
    assert len(lines) == 1 and "| 1 of" not in report
    row = lines[0]
    assert f"| {val[space.index(mid)]:.3f} | 2 | 3 of {len(near)} |" in row
    assert row.split("|")[5].strip() == ", ".join(f"{b:.3f}" for b in better)
    assert "1 of 2 seeds below" in report


def test_stuck_command_runs_a_method_on_a_table(tmp_path: Path) -> None:
    table = make_table(n_ops=3)
    path = tmp_path / "t.csv"
    cols = ["val_acc", "test_acc", "train_time_s", "zc_good"]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["arch", *cols])
        for i, arch in enumerate(table.archs):
            w.writerow([arch, *(f"{table.columns[c][i]:.6f}" for c in cols)])
    cmd = [sys.executable, str(SCRIPT), "stuck", str(path), "--method", "random"]
    cmd += ["--proxies", "good", "--seeds", "2", "--at", "6", "--below", "1000"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "2 of 2 seeds below 1000.0 at evaluation 6" in done.stdout
    assert done.stdout.count("of 12 |") == 2  # 6 edges x 2 other operations
