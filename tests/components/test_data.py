"""Datasets: built-in digits, IDX folders, .npz (local and S3), validation of bad data."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from components.data import DatasetError, from_arrays, load_dataset, load_idx_folder, load_npz


def test_digits_is_split_normalized_and_deterministic() -> None:
    a, b = load_dataset("digits"), load_dataset("digits")
    assert a.input_shape == (1, 8, 8)
    assert a.classes == tuple(str(i) for i in range(10))
    assert len(a.y_train) + len(a.y_val) + len(a.y_test) == 1797
    assert abs(float(a.x_train.mean())) < 1e-4 and float(a.x_train.std()) == pytest.approx(1, 1e-3)
    assert np.array_equal(a.y_val, b.y_val) and np.array_equal(a.x_test, b.x_test)
    c = load_dataset("digits", seed=1)
    assert not np.array_equal(a.y_val, c.y_val)
    facts = a.preprocessing()
    assert facts["input_shape"] == [1, 8, 8] and len(facts["mean"]) == 1


def _images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return rng.integers(0, 256, size=(n, 6, 6), dtype=np.uint8), rng.integers(0, 3, size=n)


def test_npz_without_val_and_test_gets_both_carved_from_train(tmp_path: Path) -> None:
    x, y = _images(100, np.random.default_rng(0))
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y)
    d = load_npz(tmp_path / "d.npz")
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (80, 10, 10)
    assert d.input_shape == (1, 6, 6) and d.num_classes == 3


def test_npz_with_all_splits_keeps_them_and_reads_channels_last(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.random((20, 5, 5, 3), dtype=np.float32)
    y = np.arange(20) % 4
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_val=x[:5], y_val=y[:5],
             x_test=x[:7], y_test=y[:7])  # fmt: skip
    d = load_npz(tmp_path / "d.npz")
    assert d.input_shape == (3, 5, 5)
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (20, 5, 7)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x_train": np.zeros((10, 6, 6))}, "lacks y_train"),
        ({"x_train": np.zeros((10, 6)), "y_train": np.zeros(10)}, "x_train must hold images"),
        ({"x_train": np.zeros((10, 6, 6)), "y_train": np.zeros(9)}, "9 labels but the images are 10"),
        ({"x_train": np.zeros((10, 6, 6)), "y_train": -np.ones(10)}, "labels must lie in"),
        ({"x_train": np.zeros((10, 6, 6)), "y_train": np.full(10, 0.5)}, "integer class"),
        (
            {"x_train": np.zeros((10, 6, 6)), "y_train": np.arange(10) % 2,
             "x_val": np.zeros((3, 5, 5)), "y_val": np.zeros(3)},
            "x_val images are",
        ),
        (
            {"x_train": np.zeros((10, 6, 6)), "y_train": np.arange(10) % 2,
             "classes": np.array(["a"])},
            "labels must lie in 0..0",
        ),
    ],
)  # fmt: skip
def test_bad_npz_fails_naming_the_problem(
    tmp_path: Path, arrays: dict[str, np.ndarray], message: str
) -> None:
    np.savez(tmp_path / "bad.npz", **arrays)  # type: ignore[arg-type]
    with pytest.raises(DatasetError, match=message):
        load_npz(tmp_path / "bad.npz")


def test_missing_or_unknown_sources_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_npz(tmp_path / "nope.npz")
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("cifar-1000")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a readable"):
        load_npz(tmp_path / "junk.npz")


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(
        ">" + "I" * array.ndim, *array.shape
    )
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def test_idx_folder_reads_fashion_mnist_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    _write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (50, 28, 28)))
    _write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(50) % 10)
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (20, 28, 28)))
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(20) % 10)
    d = load_dataset(str(folder))
    assert d.input_shape == (1, 28, 28) and len(d.y_test) == 20 and len(d.y_val) == 5
    assert d.classes[0] == "T-shirt/top"
    r = d.resized(32, channels=3)
    assert r.input_shape == (3, 32, 32) and len(r.mean) == 3
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="no t10k labels"):
        load_idx_folder(folder)


def test_from_arrays_rejects_bad_fractions() -> None:
    with pytest.raises(DatasetError, match="val_fraction"):
        from_arrays("x", np.zeros((10, 4, 4)), np.arange(10) % 2, val_fraction=0.7)


def test_npz_from_s3_uses_the_standard_aws_environment(s3_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    x, y = _images(40, np.random.default_rng(3))
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y)
    bucket = s3_env.new_bucket()
    s3_env.client().put_object(
        Bucket=bucket, Key="data/d.npz", Body=(tmp_path / "d.npz").read_bytes()
    )
    d = load_dataset(f"s3://{bucket}/data/d.npz")
    assert d.name == f"s3://{bucket}/data/d.npz" and len(d.y_train) == 32
