"""One-shot check of proxies and training on a CUDA device (run on a GPU machine).

Usage:
    PYTHONPATH=. python benchmarks/cuda_check.py --out DIR [--fashion-mnist FOLDER]
        [--archs 30] [--bench 50] [--epochs 3] [--train-limit 20000]

Checks, written to DIR/cuda_check.json (exit status 1 when any check fails):
  1. every registered proxy on the NB201 default network (batch 64, 3x32x32) on CUDA:
     finite, identical when repeated with the same seed, and close to the CPU value;
  2. CPU/CUDA rank agreement (Spearman) of the default proxies over `--archs` architectures;
  3. throughput of the default proxy set on CUDA (seconds per architecture, `--bench` archs);
  4. training of one NB201 cell (C=16, N=5) on Fashion-MNIST resized to 32x32x3 with mixed
     precision: accuracy, seconds per epoch, and the same seed giving the same result twice;
     float32 training for one epoch for comparison;
  5. a diverging run (huge learning rate) on CUDA ends as a failed result with a reason.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from components.data import load_dataset, load_idx_folder
from components.training import TrainConfig, train_architecture
from optimizer.proxies import (
    DEFAULT_PROXIES,
    available_proxies,
    random_batch,
    score_architecture,
)
from optimizer.proxies.scoring import time_scoring
from optimizer.spaces.nb201 import NB201Space

DEVICE = "cuda"  # `--device cpu` runs the same checks on CPU (a smoke test of this script)


BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def check_proxies_every_one(n_archs: int = 3) -> dict[str, Any]:
    archs = NB201Space().sample(np.random.default_rng(1), n_archs)
    names = available_proxies()
    cpu_batch = random_batch(64, (3, 32, 32), 10, seed=0)
    gpu_batch = random_batch(64, (3, 32, 32), 10, seed=0, device=DEVICE)
    rows: list[dict[str, Any]] = []
    for arch in archs:
        gpu = score_architecture(arch, gpu_batch, names, seed=0)
        again = score_architecture(arch, gpu_batch, names, seed=0)
        cpu = score_architecture(arch, cpu_batch, names, seed=0)
        rows.append({"arch": arch, "cuda": gpu, "cuda_again": again, "cpu": cpu})
    per_proxy = {}
    for name in names:
        g = np.array([r["cuda"][name] for r in rows])
        a = np.array([r["cuda_again"][name] for r in rows])
        c = np.array([r["cpu"][name] for r in rows])
        rel = np.abs(g - c) / np.maximum(np.abs(c), 1e-12)
        per_proxy[name] = {
            "finite": bool(np.all(np.isfinite(g))),
            "repeatable": bool(np.array_equal(g, a, equal_nan=True)),
            "max_rel_diff_vs_cpu": float(np.nanmax(rel)),
        }
    ok = all(
        v["finite"] and v["repeatable"] and v["max_rel_diff_vs_cpu"] < 1e-3
        for v in per_proxy.values()
    )
    return {"ok": ok, "per_proxy": per_proxy, "rows": rows}


def check_rank_agreement(n_archs: int) -> dict[str, Any]:
    archs = NB201Space().sample(np.random.default_rng(2), n_archs)
    cpu_batch = random_batch(64, (3, 32, 32), 10, seed=0)
    gpu_batch = random_batch(64, (3, 32, 32), 10, seed=0, device=DEVICE)
    names = list(DEFAULT_PROXIES)
    cpu: dict[str, list[float]] = {n: [] for n in names}
    gpu: dict[str, list[float]] = {n: [] for n in names}
    for arch in archs:
        c = score_architecture(arch, cpu_batch, names, seed=0)
        g = score_architecture(arch, gpu_batch, names, seed=0)
        for n in names:
            cpu[n].append(c[n])
            gpu[n].append(g[n])
    rho = {}
    for n in names:
        x, y = np.array(cpu[n]), np.array(gpu[n])
        ok = np.isfinite(x) & np.isfinite(y)
        rho[n] = float(spearmanr(x[ok], y[ok]).statistic) if ok.sum() > 2 else None
    return {"ok": all(r is not None and r > 0.99 for r in rho.values()), "spearman": rho}


def check_throughput(n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, names in (("default", list(DEFAULT_PROXIES)), ("all", available_proxies())):
        times = time_scoring(names, n, device=DEVICE)
        out[label] = {
            "proxies": names,
            "seconds_per_arch": round(float(np.mean(times)), 4),
            "seconds_per_arch_median": round(float(np.median(times)), 4),
        }
    out["ok"] = True
    return out


def check_training(folder: str | None, epochs: int, limit: int) -> dict[str, Any]:
    if folder:
        data = load_idx_folder(folder, seed=0, limit=limit)
    else:
        data = load_dataset("digits", seed=0)
    data = data.resized(32, 3)
    runs = {}
    amp_cfg = TrainConfig(epochs=epochs, batch_size=128, lr=0.1, seed=0, device=DEVICE, amp=True)
    first = train_architecture(BEST_C10, data, amp_cfg)
    runs["amp"] = first.to_dict()
    repeat_cfg = TrainConfig(epochs=1, batch_size=128, lr=0.1, seed=0, device=DEVICE, amp=True)
    r1 = train_architecture(BEST_C10, data, repeat_cfg)
    r2 = train_architecture(BEST_C10, data, repeat_cfg)
    runs["repeat_1"] = r1.to_dict()
    runs["repeat_2"] = r2.to_dict()
    fp32_cfg = TrainConfig(epochs=1, batch_size=128, lr=0.1, seed=0, device=DEVICE, amp=False)
    runs["fp32_1epoch"] = train_architecture(BEST_C10, data, fp32_cfg).to_dict()
    model = first.model
    assert model is not None
    with torch.no_grad():
        logits = model.eval()(torch.from_numpy(data.x_test[:4]))
    repeatable = (
        r1.ok
        and r2.ok
        and r1.history[-1].train_loss == r2.history[-1].train_loss
        and r1.val_acc == r2.val_acc
    )
    ok = (
        first.ok
        and first.device.startswith(DEVICE)
        and first.val_acc is not None
        and first.val_acc > 70.0
        and repeatable
        and logits.shape == (4, 10)
    )
    return {
        "ok": bool(ok),
        "dataset": data.name,
        "train_size": len(data.y_train),
        "amp_seconds_per_epoch": first.train_seconds / epochs,
        "amp_1epoch_seconds": r1.train_seconds,
        "fp32_1epoch_seconds": runs["fp32_1epoch"]["train_seconds"],
        "val_acc": first.val_acc,
        "test_acc": first.test_acc,
        "repeatable_same_seed": bool(repeatable),
        "runs": runs,
    }


def check_divergence() -> dict[str, Any]:
    data = load_dataset("digits", seed=0).resized(16, 3)
    cfg = TrainConfig(epochs=2, lr=1e9, momentum=0.9, seed=0, device=DEVICE, amp=True)
    res = train_architecture(BEST_C10, data, cfg, C=8, N=1)
    return {
        "ok": res.status == "failed" and bool(res.reason) and res.val_acc is None,
        "status": res.status,
        "reason": res.reason,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--fashion-mnist", default=None, help="folder of Fashion-MNIST IDX files")
    ap.add_argument("--archs", type=int, default=30)
    ap.add_argument("--bench", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train-limit", type=int, default=20000)
    ap.add_argument("--only", default="", help="comma-separated subset of the checks to run")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu for a smoke test")
    args = ap.parse_args()
    global DEVICE
    DEVICE = args.device
    if DEVICE.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device: this check needs a GPU machine", file=sys.stderr)
        return 2
    report: dict[str, Any] = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if DEVICE.startswith("cuda") else "cpu",
        "cuda": torch.version.cuda,
    }
    checks: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("proxies_every_one", check_proxies_every_one),
        ("rank_agreement_default_proxies", lambda: check_rank_agreement(args.archs)),
        ("throughput", lambda: check_throughput(args.bench)),
        ("training", lambda: check_training(args.fashion_mnist, args.epochs, args.train_limit)),
        ("divergence", check_divergence),
    ]
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {name for name, _ in checks}
        if unknown:
            ap.error(f"unknown checks {sorted(unknown)}; choose from {[n for n, _ in checks]}")
        checks = [(name, fn) for name, fn in checks if name in wanted]
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    for name, fn in checks:
        t0 = time.perf_counter()
        try:
            result = fn()
        except Exception:  # recorded in the report and in the exit status
            result = {"ok": False, "error": traceback.format_exc()}
        result["seconds"] = round(time.perf_counter() - t0, 2)
        report[name] = result
        if not result["ok"]:
            failed.append(name)
        print(name, "ok" if result["ok"] else "FAILED", f"{result['seconds']} s", flush=True)
        (args.out / "cuda_check.json").write_text(
            json.dumps(report, indent=2, default=_jsonable) + "\n"
        )
    report["failed"] = failed
    (args.out / "cuda_check.json").write_text(
        json.dumps(report, indent=2, default=_jsonable) + "\n"
    )
    return 1 if failed else 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
