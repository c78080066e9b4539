"""`proxybo proxies ...`: check live proxies against NAS-Bench-Suite-Zero, and time them."""

from __future__ import annotations

import json
import math
import pathlib
import time
from typing import Any

import typer

app = typer.Typer(
    help="Live zero-cost proxies: correctness check against a table, throughput benchmark.",
    no_args_is_help=True,
    add_completion=False,
)

# Options shared by check and bench.
DeviceOpt = typer.Option("", help="torch device (default: cuda if available, else cpu).")
ThreadsOpt = typer.Option(
    0, min=0, help="CPU threads for torch (0: torch's default; 1 is fastest on a busy machine)."
)


def _setup(threads: int) -> None:
    import torch

    if threads > 0:
        torch.set_num_threads(threads)


def _device(name: str | None) -> Any:
    """`name` as a torch device (None: cuda if available, else cpu); a device this machine does
    not have is a BadParameter, not a failure in the middle of the scoring."""
    import torch

    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise typer.BadParameter(
            f"{name!r} is no torch device: {exc}", param_hint="--device"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise typer.BadParameter(
            f"{name!r}: torch sees no CUDA device here; leave it out to use the CPU",
            param_hint="--device",
        )
    return device


def _proxy_batch(dataset: str, n: int, seed: int, device: Any) -> tuple[Any, str]:
    """A `n x 3 x 32 x 32` batch of `dataset` (resized, channels repeated) and its label."""
    import torch

    from components.data import DatasetError, load_dataset
    from optimizer.proxies import Batch

    try:
        data = load_dataset(dataset, seed=seed, limit=5000 if dataset != "digits" else None)
    except DatasetError as exc:
        raise typer.BadParameter(str(exc), param_hint="--dataset") from None
    data = data.resized(32, channels=3 if data.input_shape[0] == 1 else None)
    if data.input_shape != (3, 32, 32):
        raise typer.BadParameter(
            f"dataset {dataset!r} has input shape {data.input_shape}; the NB201 default network "
            "check needs 3 x 32 x 32 (or grayscale, which is repeated to 3 channels)"
        )
    x, y = data.sample_batch(n, seed=seed)
    label = f"{data.name} (resized to 32x32x3 stand-in for CIFAR-10)"
    return Batch(torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)), label


@app.command("check")
def check(
    table: pathlib.Path = typer.Option(
        ..., exists=True, dir_okay=False, help="NB201 table CSV with zc_* columns."
    ),
    n: int = typer.Option(300, min=1, help="Random architectures (with proxies) to score."),
    dataset: str = typer.Option(
        "fashion-mnist", help="Batch source for data-dependent proxies: digits|fashion-mnist|PATH."
    ),
    out: pathlib.Path = typer.Option(..., help="JSON report to write."),
    proxies: str = typer.Option("", help="Comma-separated proxies (default: all in both)."),
    batch_size: int = typer.Option(64, min=2, help="Mini-batch size (NAS-Bench-Suite-Zero: 64)."),
    seed: int = typer.Option(0, help="Seed of the sample, the batch and the networks."),
    device: str = DeviceOpt,
    threads: int = ThreadsOpt,
) -> None:
    """Score N random architectures live and compare with the table's zc_* columns."""
    import numpy as np
    import pandas as pd
    import torch
    from scipy.stats import spearmanr

    from optimizer.proxies import available_proxies, score_architecture

    _setup(threads)
    df = pd.read_csv(table)
    zc_cols = [c for c in df.columns if c.startswith("zc_")]
    if not zc_cols:
        raise typer.BadParameter(f"{table} has no zc_* columns")
    common = [c[3:] for c in zc_cols if c[3:] in available_proxies()]
    names = [p for p in proxies.split(",") if p] or common
    unknown = [p for p in names if p not in common]
    if unknown:
        raise typer.BadParameter(
            f"proxies {unknown} are not both in the table and registered; choose from {common}"
        )
    with_zc = df.dropna(subset=[f"zc_{p}" for p in names])
    if len(with_zc) < n:
        raise typer.BadParameter(f"the table has only {len(with_zc)} rows with proxies, asked {n}")
    rows = with_zc.sample(n=n, random_state=seed)
    dev = _device(device or None)
    batch, label = _proxy_batch(dataset, batch_size, seed, dev)

    scores: dict[str, list[float]] = {p: [] for p in names}
    t0 = time.perf_counter()
    for i, arch in enumerate(rows["arch"]):
        vals = score_architecture(str(arch), batch, names, seed=seed)
        for p in names:
            scores[p].append(vals[p])
        if (i + 1) % 25 == 0:
            typer.echo(f"{i + 1}/{n} architectures scored", err=True)
    elapsed = time.perf_counter() - t0

    def rho(a: list[float], b: Any) -> float | None:
        x = np.asarray(a, dtype=float)
        y = np.asarray(b, dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() < 3:
            return None
        r = float(spearmanr(x[ok], y[ok]).statistic)
        return None if math.isnan(r) else round(r, 4)

    from optimizer.proxies import REGISTRY

    report: dict[str, Any] = {
        "n": n,
        "spearman": {p: rho(scores[p], rows[f"zc_{p}"]) for p in names},
        "params_max_abs_diff": (
            float(np.max(np.abs(np.asarray(scores["params"]) - rows["zc_params"].to_numpy())))
            if "params" in names
            else None
        ),
        "spearman_with_val_acc": {p: rho(scores[p], rows["val_acc"]) for p in names},
        "table_spearman_with_val_acc": {
            p: rho(list(rows[f"zc_{p}"]), rows["val_acc"]) for p in names
        },
        "non_finite": {p: int(np.sum(~np.isfinite(np.asarray(scores[p])))) for p in names},
        "dataset": label,
        "data_dependent": [p for p in names if REGISTRY.get(p).data_dependent],
        "notes": (
            "spearman: live proxy vs the table's zc_PROXY (NAS-Bench-Suite-Zero, computed on "
            "CIFAR-10). Data-dependent proxies were computed here on the stand-in dataset above, "
            "not CIFAR-10, so their agreement is only indicative. spearman_with_val_acc: live "
            "proxy vs NB201 CIFAR-10 val_acc; table_spearman_with_val_acc: the table's own "
            "zc_PROXY vs val_acc on the same rows, for reference."
        ),
        "network": "NB201 default (C=16, N=5, 10 classes, 3x32x32)",
        "batch_size": batch_size,
        "seed": seed,
        "device": str(dev),
        "torch_threads": torch.get_num_threads(),
        "seconds_per_arch_all_proxies": round(elapsed / n, 4),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    typer.echo(json.dumps(report, indent=2))


@app.command("bench")
def bench(
    proxies: str = typer.Option("jacov,synflow,snip", help="Comma-separated proxies."),
    n: int = typer.Option(20, min=1, help="Random NB201 architectures to time."),
    out: pathlib.Path = typer.Option(..., help="JSON report to write."),
    batch_size: int = typer.Option(64, min=2, help="Mini-batch size."),
    seed: int = typer.Option(0, help="Seed of the architectures and the batch."),
    device: str = DeviceOpt,
    threads: int = ThreadsOpt,
) -> None:
    """Architectures per second for a proxy set at NB201 size (3x32x32 inputs)."""
    import numpy as np
    import torch

    from optimizer.proxies import available_proxies
    from optimizer.proxies.scoring import time_scoring

    _setup(threads)
    names = [p for p in proxies.split(",") if p]
    unknown = [p for p in names if p not in available_proxies()]
    if unknown or not names:
        what = f"unknown proxy {', '.join(map(repr, unknown))}" if unknown else "no proxy given"
        raise typer.BadParameter(
            f"{what}; choose from {', '.join(available_proxies())}", param_hint="--proxies"
        )
    dev = _device(device or None)
    times = time_scoring(names, n, batch_size=batch_size, seed=seed, device=dev)
    report = {
        "seconds_per_arch": round(float(np.mean(times)), 4),
        "seconds_per_arch_median": round(float(np.median(times)), 4),
        "seconds_per_arch_max": round(float(np.max(times)), 4),
        "archs_per_second": round(1.0 / float(np.mean(times)), 3),
        "proxies": names,
        "n": n,
        "batch_size": batch_size,
        "input_shape": [3, 32, 32],
        "device": str(dev),
        "torch_threads": torch.get_num_threads(),
        "includes": "network construction + all listed proxies, after one warm-up architecture",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    typer.echo(json.dumps(report, indent=2))
