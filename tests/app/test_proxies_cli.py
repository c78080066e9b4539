"""`proxybo proxies check` and `bench`: a real run on a small generated table, and bad input
refused with exit code 2 and nothing written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from proxybo.cli import app
from tests.optimizer.conftest import make_table


@pytest.fixture(scope="module")
def nb201_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    table = make_table(n_ops=3)  # 729 NB201 cells
    path = tmp_path_factory.mktemp("proxies") / "table.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["arch", "val_acc", "zc_synflow", "zc_params"])
        for i, arch in enumerate(table.archs):
            y = table.columns["val_acc"][i]
            w.writerow([arch, y, table.columns["zc_good"][i], y / 100])
    return path


def test_check_scores_architectures_live_and_writes_the_report(
    nb201_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    r = CliRunner().invoke(
        app,
        [
            *("proxies", "check", "--table", str(nb201_csv), "--n", "4", "--dataset", "digits"),
            *("--proxies", "synflow,params", "--batch-size", "8", "--threads", "1"),
            *("--out", str(out)),
        ],
    )
    assert r.exit_code == 0, r.output
    report = json.loads(out.read_text())
    assert report["n"] == 4 and report["device"] == "cpu"
    assert set(report["spearman"]) == {"synflow", "params"}
    assert report["non_finite"] == {"synflow": 0, "params": 0}
    assert report["data_dependent"] == []  # neither reads the batch


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--table", "MISSING"), "does not exist"),
        (("--dataset", "no-such-data"), "unknown dataset 'no-such-data'"),
        (("--n", "0"), "greater than or equal to 1"),
        (("--proxies", "synflow,nope"), "not both in the table and registered"),
        pytest.param(
            ("--device", "cuda"),
            "torch sees no CUDA device here",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA"),
        ),
        (("--device", "gpu"), "'gpu' is no torch device"),
    ],
)
def test_check_refuses_bad_input_before_scoring(
    nb201_csv: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "report.json"
    given = dict(zip(args[::2], args[1::2], strict=True))
    if given.get("--table") == "MISSING":
        given["--table"] = str(tmp_path / "missing.csv")
    options = {"--table": str(nb201_csv), "--n": "2", "--dataset": "digits", **given}
    flat = [x for kv in options.items() for x in kv]
    r = CliRunner().invoke(app, ["proxies", "check", *flat, "--out", str(out)])
    assert r.exit_code == 2 and message in " ".join(r.output.split()), r.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("proxies", "message"),
    [("synflow,nope", "unknown proxy 'nope'; choose from"), (",", "no proxy given")],
)
def test_bench_refuses_unknown_proxies(tmp_path: Path, proxies: str, message: str) -> None:
    out = tmp_path / "bench.json"
    r = CliRunner().invoke(
        app, ["proxies", "bench", "--n", "1", "--proxies", proxies, "--out", str(out)]
    )
    assert r.exit_code == 2 and message in " ".join(r.output.split()), r.output
    assert not out.exists()
