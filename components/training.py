"""Train and evaluate one network (engine-free: in-process, under kfp.local, or in a pod).

SGD with (Nesterov) momentum and a cosine learning-rate schedule, NAS-Bench-201's recipe with
configurable settings; CUDA when available, mixed precision (float16 autocast + gradient
scaling) on CUDA; deterministic for a seed on CPU. A NaN or infinite loss stops training and
returns a failed `TrainResult` with the reason, never a number.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from components.data import Dataset

__all__ = ["EpochRecord", "TrainConfig", "TrainResult", "train_architecture", "train_model"]


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (defaults: NB201's SGD recipe, shortened to a few epochs).

    Attributes:
        epochs: passes over the training split.
        batch_size: mini-batch size.
        lr: initial learning rate, annealed to 0 by a cosine schedule over all steps.
        momentum, nesterov, weight_decay: SGD settings.
        seed: seeds the initialization, the shuffling and the proxies' batches.
        device: torch device; None picks CUDA when available, else CPU.
        amp: mixed precision on CUDA (ignored on CPU).
        eval_batch_size: mini-batch size for evaluation.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    seed: int = 0
    device: str | None = None
    amp: bool = True
    eval_batch_size: int = 512

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError("batch_size and eval_batch_size must be >= 1")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive finite number, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")


@dataclass(frozen=True)
class EpochRecord:
    """Per-epoch metrics (accuracies in percent)."""

    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float


@dataclass
class TrainResult:
    """Outcome of one training run.

    Attributes:
        status: `"succeeded"` or `"failed"`.
        reason: why it failed (None when it succeeded).
        val_acc, test_acc: final accuracy in percent (None when failed).
        train_seconds: wall-clock time of the training loop (evaluations included).
        n_params: parameters of the model.
        history: one `EpochRecord` per completed epoch.
        model: the trained module (on CPU; None when failed).
        device: where it trained.
    """

    status: str
    reason: str | None
    val_acc: float | None
    test_acc: float | None
    train_seconds: float
    n_params: int
    history: list[EpochRecord] = field(default_factory=list)
    model: nn.Module | None = None
    device: str = "cpu"

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable summary (everything but the model)."""
        return {
            "status": self.status,
            "reason": self.reason,
            "val_acc": self.val_acc,
            "test_acc": self.test_acc,
            "train_seconds": self.train_seconds,
            "n_params": self.n_params,
            "history": [asdict(h) for h in self.history],
            "device": self.device,
        }


def _pick_device(name: str | None) -> torch.device:
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@torch.no_grad()
def _evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, amp: bool
) -> tuple[float, float]:
    """Mean loss and accuracy (%) of `model` on `x`, `y`."""
    model.eval()
    total_loss, correct = 0.0, 0
    for lo in range(0, len(y), batch_size):
        xb, yb = x[lo : lo + batch_size], y[lo : lo + batch_size]
        with torch.autocast(device_type=x.device.type, dtype=torch.float16, enabled=amp):
            logits = model(xb)
        total_loss += float(F.cross_entropy(logits.float(), yb, reduction="sum"))
        correct += int((logits.argmax(1) == yb).sum())
    model.train()
    n = max(len(y), 1)
    return total_loss / n, 100.0 * correct / n


def train_model(model: nn.Module, data: Dataset, config: TrainConfig | None = None) -> TrainResult:
    """Train `model` on `data.x_train` and evaluate on the validation and test splits.

    Args:
        model: maps `b x C x H x W` (the dataset's `input_shape`) to `b x num_classes` logits.
        data: the dataset.
        config: training settings (default `TrainConfig()`).

    Returns:
        A `TrainResult`; on a NaN / inf loss, `status="failed"` with the epoch, step and
        learning rate in `reason`.
    """
    cfg = config or TrainConfig()
    device = _pick_device(cfg.device)
    amp = cfg.amp and device.type == "cuda"
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    n_params = sum(p.numel() for p in model.parameters())
    x_tr = torch.from_numpy(data.x_train).to(device)
    y_tr = torch.from_numpy(data.y_train).to(device)
    x_va = torch.from_numpy(data.x_val).to(device)
    y_va = torch.from_numpy(data.y_val).to(device)
    x_te = torch.from_numpy(data.x_test).to(device)
    y_te = torch.from_numpy(data.y_test).to(device)
    model = model.to(device)
    if device.type == "cpu" and x_tr.dim() == 4:
        # oneDNN trains NHWC convolutions about 30% faster on CPU (measured on the digits
        # default); the model is handed back in the ordinary layout.
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        x_tr, x_va, x_te = (
            t.contiguous(memory_format=torch.channels_last) for t in (x_tr, x_va, x_te)
        )
    model.train()

    opt = torch.optim.SGD(
        model.parameters(),
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov and cfg.momentum > 0,
        weight_decay=cfg.weight_decay,
    )
    steps_per_epoch = math.ceil(len(y_tr) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * steps_per_epoch)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    gen = torch.Generator().manual_seed(cfg.seed)
    history: list[EpochRecord] = []
    t0 = time.perf_counter()

    def failed(reason: str) -> TrainResult:
        return TrainResult(
            status="failed",
            reason=reason,
            val_acc=None,
            test_acc=None,
            train_seconds=time.perf_counter() - t0,
            n_params=n_params,
            history=history,
            model=None,
            device=str(device),
        )

    for epoch in range(cfg.epochs):
        perm = torch.randperm(len(y_tr), generator=gen).to(device)
        loss_sum, correct, seen = 0.0, 0, 0
        for step in range(steps_per_epoch):
            idx = perm[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            xb, yb = x_tr[idx], y_tr[idx]
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
                logits = model(xb)
                loss = F.cross_entropy(logits.float(), yb)
            if not torch.isfinite(loss):
                return failed(
                    f"training diverged: loss is {float(loss.detach())} at epoch {epoch + 1}, step "
                    f"{step + 1} (lr={sched.get_last_lr()[0]:.4g}); lower the learning rate"
                )
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            loss_sum += float(loss.detach()) * len(yb)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(yb)
        val_loss, val_acc = _evaluate(model, x_va, y_va, cfg.eval_batch_size, amp)
        if not math.isfinite(val_loss):
            return failed(
                f"training diverged: validation loss is {val_loss} after epoch {epoch + 1}; "
                "lower the learning rate"
            )
        history.append(
            EpochRecord(
                epoch=epoch + 1,
                train_loss=loss_sum / seen,
                train_acc=100.0 * correct / seen,
                val_loss=val_loss,
                val_acc=val_acc,
                lr=float(sched.get_last_lr()[0]),
            )
        )
    _, test_acc = _evaluate(model, x_te, y_te, cfg.eval_batch_size, amp)
    seconds = time.perf_counter() - t0
    return TrainResult(
        status="succeeded",
        reason=None,
        val_acc=history[-1].val_acc,
        test_acc=test_acc,
        train_seconds=seconds,
        n_params=n_params,
        history=history,
        model=model.cpu().to(memory_format=torch.contiguous_format),  # type: ignore[call-overload]
        device=str(device),
    )


def train_architecture(
    arch: str,
    data: Dataset,
    config: TrainConfig | None = None,
    *,
    C: int = 16,
    N: int = 5,
) -> TrainResult:
    """Build the NB201 network of `arch` for `data` (channels, classes) and train it.

    The network is initialized under `torch.manual_seed(config.seed)`.
    """
    from optimizer.spaces.nb201 import parse
    from optimizer.spaces.nb201_net import build_network

    cfg = config or TrainConfig()
    c, h, w = data.input_shape
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % (2**32))
        net = build_network(
            parse(arch),
            C=C,
            N=N,
            in_channels=c,
            num_classes=data.num_classes,
            input_size=min(h, w),
        )
    return train_model(net, data, cfg)
