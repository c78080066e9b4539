"""Training: a tiny NB201 network learns digits; divergence fails with a reason."""

from __future__ import annotations

import math

import numpy as np
import pytest

from components.data import Dataset, load_dataset
from components.training import TrainConfig, train_architecture

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one torch thread is fastest


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


def test_tiny_network_learns_digits_well_above_chance(digits: Dataset) -> None:
    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.05, seed=0)
    small = Dataset(
        **{**digits.__dict__, "x_train": digits.x_train[:600], "y_train": digits.y_train[:600]}
    )
    r = train_architecture(ARCH, small, cfg, C=4, N=1)
    assert r.ok and r.reason is None
    assert r.val_acc is not None and r.val_acc > 60.0  # chance is 10%
    assert r.test_acc is not None and r.test_acc > 60.0
    assert [h.epoch for h in r.history] == [1, 2]
    assert r.history[1].train_loss < r.history[0].train_loss
    assert r.model is not None
    assert r.n_params == sum(p.numel() for p in r.model.parameters())
    # trained NHWC on CPU, handed back in the ordinary layout
    assert all(p.is_contiguous() for p in r.model.parameters())
    assert r.train_seconds > 0 and r.device == "cpu"
    assert r.to_dict()["val_acc"] == r.val_acc and "model" not in r.to_dict()


def test_training_is_deterministic_for_a_seed(digits: Dataset) -> None:
    small = Dataset(
        **{**digits.__dict__, "x_train": digits.x_train[:128], "y_train": digits.y_train[:128]}
    )
    cfg = TrainConfig(epochs=1, seed=3)
    a = train_architecture(ARCH, small, cfg, C=4, N=1)
    b = train_architecture(ARCH, small, cfg, C=4, N=1)
    assert a.history == b.history and a.val_acc == b.val_acc


def test_divergence_returns_a_failed_result_with_the_reason(digits: Dataset) -> None:
    cfg = TrainConfig(epochs=3, lr=1e6, weight_decay=0.0)
    r = train_architecture(ARCH, digits, cfg, C=4, N=1)
    assert r.status == "failed" and not r.ok
    assert r.reason is not None and "diverged" in r.reason and "learning rate" in r.reason
    assert r.val_acc is None and r.test_acc is None and r.model is None
    assert all(math.isfinite(h.train_loss) for h in r.history)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"epochs": 0}, "epochs"), ({"lr": -1.0}, "lr"), ({"momentum": 1.0}, "momentum")],
)
def test_bad_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)  # type: ignore[arg-type]


def test_dataset_facts_set_the_network_shape(digits: Dataset) -> None:
    x = np.repeat(digits.x_train[:64], 2, axis=1)  # 2 channels
    two = Dataset(**{**digits.__dict__, "x_train": x, "y_train": digits.y_train[:64],
                     "x_val": np.repeat(digits.x_val, 2, axis=1),
                     "x_test": np.repeat(digits.x_test, 2, axis=1)})  # fmt: skip
    r = train_architecture(ARCH, two, TrainConfig(epochs=1), C=4, N=1)
    assert r.ok and r.model is not None
    assert r.model.stem[0].in_channels == 2  # type: ignore[index,union-attr]
