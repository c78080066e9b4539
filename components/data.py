"""Datasets for training and proxy scoring (engine-free: used in-process, under kfp.local, in pods).

Every loader returns a `Dataset`: float32 images `n x C x H x W`, already normalized per channel
with the recorded `mean` / `std` (computed on the training split), int64 labels in
`0 .. num_classes - 1`, and train / validation / test splits. Sources:

- `"digits"`: scikit-learn's 8x8 grayscale digits (ships with scikit-learn; the default);
- `"fashion-mnist"` or a folder of Fashion-MNIST / MNIST IDX files (`*-images-idx3-ubyte[.gz]`,
  `*-labels-idx1-ubyte[.gz]`; default folder `/usr/share/datasets/fashion-mnist`, from the
  Debian package `dataset-fashion-mnist`);
- a `.npz` file, local or `s3://bucket/key` (boto3; endpoint and credentials from the standard
  AWS environment variables, `AWS_ENDPOINT_URL` included) with `x_train, y_train` and optionally
  `x_val, y_val, x_test, y_test`. Images are `n x H x W` (grayscale), `n x H x W x C` (C <= 4)
  or `n x C x H x W`; integer images are scaled from 0..255 to 0..1.

Missing validation (and test) splits are carved out of the training split deterministically
(stratification-free, by a seeded permutation).
"""

from __future__ import annotations

import gzip
import io
import os
import pathlib
import struct
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_FASHION_MNIST_DIR",
    "Dataset",
    "DatasetError",
    "from_arrays",
    "load_dataset",
    "load_digits",
    "load_idx_folder",
    "load_npz",
]

DEFAULT_FASHION_MNIST_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


class DatasetError(ValueError):
    """A dataset that cannot be used, with a message naming the problem."""


@dataclass(frozen=True)
class Dataset:
    """Normalized image-classification data with its preprocessing facts.

    Attributes:
        name: where it came from (`digits`, a folder, a path or URI).
        x_train, x_val, x_test: `n x C x H x W` float32, normalized with `mean` / `std`.
        y_train, y_val, y_test: `n` int64 labels.
        mean, std: per-channel normalization applied to raw images scaled to 0..1.
        classes: class labels (index -> name).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """`(C, H, W)`."""
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def preprocessing(self) -> dict[str, Any]:
        """The facts a model registry needs to reproduce the inputs (JSON-serializable)."""
        return {
            "dataset": self.name,
            "input_shape": list(self.input_shape),
            "mean": list(self.mean),
            "std": list(self.std),
            "classes": list(self.classes),
            "sizes": {
                "train": len(self.y_train),
                "val": len(self.y_val),
                "test": len(self.y_test),
            },
        }

    def resized(self, size: int, channels: int | None = None) -> Dataset:
        """The same data resized to `size x size` (bilinear), channels repeated to `channels`.

        Used to feed NB201's 32x32x3 network with grayscale stand-ins (e.g. Fashion-MNIST).
        """
        import torch
        import torch.nn.functional as F

        def convert(x: np.ndarray) -> np.ndarray:
            if len(x) == 0:
                c = channels or x.shape[1]
                return np.zeros((0, c, size, size), dtype=np.float32)
            t = torch.from_numpy(x)
            t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
            if channels is not None and channels != t.shape[1]:
                if t.shape[1] != 1:
                    raise DatasetError(
                        f"can only repeat single-channel images to {channels} channels, "
                        f"these have {t.shape[1]}"
                    )
                t = t.repeat(1, channels, 1, 1)
            return t.numpy().astype(np.float32)

        reps = channels if channels is not None and len(self.mean) == 1 else 1
        return replace(
            self,
            x_train=convert(self.x_train),
            x_val=convert(self.x_val),
            x_test=convert(self.x_test),
            mean=self.mean * reps,
            std=self.std * reps,
        )

    def sample_batch(self, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """`n` training images and labels drawn without replacement (deterministic in `seed`)."""
        if n > len(self.y_train):
            raise DatasetError(f"asked for {n} samples, the training split has {len(self.y_train)}")
        idx = np.random.default_rng(seed).choice(len(self.y_train), size=n, replace=False)
        return self.x_train[idx], self.y_train[idx]


def _to_nchw(x: np.ndarray, key: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[:, None, :, :]
    elif x.ndim == 4:
        if x.shape[-1] <= 4 and x.shape[1] > 4:
            x = np.transpose(x, (0, 3, 1, 2))
    else:
        raise DatasetError(
            f"{key} must hold images shaped n x H x W, n x H x W x C or n x C x H x W; "
            f"got shape {x.shape}"
        )
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise DatasetError(f"{key} must be numeric, got dtype {x.dtype}")
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float32) / 255.0
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise DatasetError(f"{key} contains NaN or infinite values")
    if x.shape[2] < 4 or x.shape[3] < 4:
        raise DatasetError(f"{key} images are {x.shape[2]}x{x.shape[3]}; need at least 4x4")
    return x


def _labels(y: np.ndarray, n: int, key: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DatasetError(f"{key} must be a vector of class indices, got shape {y.shape}")
    if len(y) != n:
        raise DatasetError(f"{key} has {len(y)} labels but the images are {n}")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DatasetError(f"{key} must hold integer class indices, got non-integer values")
    elif not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"{key} must hold integer class indices, got dtype {y.dtype}")
    return y.astype(np.int64)


def from_arrays(
    name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    x_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    *,
    classes: tuple[str, ...] | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
) -> Dataset:
    """A validated, normalized `Dataset` from raw arrays (images in 0..1 or 0..255 integers).

    Missing `val` (and `test`) splits are taken from the training split by a permutation seeded
    with `seed`. Raises `DatasetError` naming the problem (shapes, labels, fractions).
    """
    for frac_name, frac in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < frac < 0.5:
            raise DatasetError(f"{frac_name} must be in (0, 0.5), got {frac}")
    if (x_val is None) != (y_val is None):
        raise DatasetError("give both x_val and y_val, or neither")
    if (x_test is None) != (y_test is None):
        raise DatasetError("give both x_test and y_test, or neither")
    xt = _to_nchw(x_train, "x_train")
    yt = _labels(y_train, len(xt), "y_train")
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key, x, y in (("val", x_val, y_val), ("test", x_test, y_test)):
        if x is not None and y is not None:
            xs = _to_nchw(x, f"x_{key}")
            if xs.shape[1:] != xt.shape[1:]:
                raise DatasetError(
                    f"x_{key} images are {xs.shape[1:]} but x_train images are {xt.shape[1:]}"
                )
            splits[key] = (xs, _labels(y, len(xs), f"y_{key}"))
    missing = [k for k in ("val", "test") if k not in splits]
    if missing:
        perm = np.random.default_rng(seed).permutation(len(xt))
        take = {"val": val_fraction, "test": test_fraction}
        start = 0
        for key in missing:
            k = round(take[key] * len(xt))
            if k < 1:
                raise DatasetError(
                    f"x_train has {len(xt)} samples, too few to split a {key} set from it"
                )
            idx = perm[start : start + k]
            splits[key] = (xt[idx], yt[idx])
            start += k
        keep = np.sort(perm[start:])
        xt, yt = xt[keep], yt[keep]
    if len(xt) < 2:
        raise DatasetError(f"the training split has {len(xt)} samples; need at least 2")

    all_y = np.concatenate([yt, splits["val"][1], splits["test"][1]])
    n_classes = len(classes) if classes is not None else int(all_y.max()) + 1
    if all_y.min() < 0 or all_y.max() >= n_classes:
        raise DatasetError(
            f"labels must lie in 0..{n_classes - 1}, found values from {int(all_y.min())} "
            f"to {int(all_y.max())}"
        )
    if n_classes < 2:
        raise DatasetError("labels hold a single class; classification needs at least 2")
    mean = xt.mean(axis=(0, 2, 3)).astype(np.float64)
    std = xt.std(axis=(0, 2, 3)).astype(np.float64)
    std = np.where(std > 1e-8, std, 1.0)

    def norm(x: np.ndarray) -> np.ndarray:
        return ((x - mean[None, :, None, None]) / std[None, :, None, None]).astype(np.float32)

    return Dataset(
        name=name,
        x_train=norm(xt),
        y_train=yt,
        x_val=norm(splits["val"][0]),
        y_val=splits["val"][1],
        x_test=norm(splits["test"][0]),
        y_test=splits["test"][1],
        mean=tuple(float(m) for m in mean),
        std=tuple(float(s) for s in std),
        classes=classes or tuple(str(i) for i in range(n_classes)),
    )


def load_digits(
    *, seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15
) -> Dataset:
    """scikit-learn's digits: 1,797 8x8 grayscale images of 10 digits (values 0..16)."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = (bunch.images / 16.0).astype(np.float32)
    return from_arrays(
        "digits",
        x,
        bunch.target,
        classes=tuple(str(i) for i in range(10)),
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=seed,
    )


def _read_idx(path: pathlib.Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:  # type: ignore[operator]
        data = fh.read()
    if len(data) < 4:
        raise DatasetError(f"{path} is too short to be an IDX file")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DatasetError(f"{path} is not an unsigned-byte IDX file (magic {data[:4]!r})")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DatasetError(f"{path}: header says {dims}, found {body.size} values")
    return body.reshape(dims)


def _find_idx(folder: pathlib.Path, prefix: str, kind: str) -> pathlib.Path:
    for suffix in ("", ".gz"):
        for sep in ("-", "."):
            p = folder / f"{prefix}-{kind}{sep}idx{'3' if kind == 'images' else '1'}-ubyte{suffix}"
            if p.exists():
                return p
    raise DatasetError(
        f"no {prefix} {kind} IDX file in {folder} (expected {prefix}-{kind}-idx"
        f"{'3' if kind == 'images' else '1'}-ubyte[.gz]); install `dataset-fashion-mnist` or "
        "point to a folder that has it"
    )


def load_idx_folder(
    folder: str | os.PathLike[str] = DEFAULT_FASHION_MNIST_DIR,
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    limit: int | None = None,
) -> Dataset:
    """Fashion-MNIST (or MNIST) from IDX files: `train-*` split into train/val, `t10k-*` is test.

    `limit` keeps the first `limit` training images (for quick runs).
    """
    path = pathlib.Path(folder)
    if not path.is_dir():
        hint = (
            " (Fashion-MNIST's place once the Debian package `dataset-fashion-mnist` is "
            "installed; install it, or use the dataset 'digits', which ships with scikit-learn)"
            if path == DEFAULT_FASHION_MNIST_DIR
            else ""
        )
        raise DatasetError(f"{path} is not a folder of IDX files{hint}")
    x_tr = _read_idx(_find_idx(path, "train", "images"))
    y_tr = _read_idx(_find_idx(path, "train", "labels"))
    x_te = _read_idx(_find_idx(path, "t10k", "images"))
    y_te = _read_idx(_find_idx(path, "t10k", "labels"))
    if limit is not None:
        x_tr, y_tr = x_tr[:limit], y_tr[:limit]
    classes = FASHION_MNIST_CLASSES if "fashion" in str(path).lower() else None
    return from_arrays(
        str(path),
        x_tr,
        y_tr,
        x_test=x_te,
        y_test=y_te,
        classes=classes,
        val_fraction=val_fraction,
        seed=seed,
    )


def _read_s3(uri: str) -> bytes:
    import boto3

    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise DatasetError(f"S3 URI {uri!r} must look like s3://bucket/key.npz")
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3")
    client = boto3.client("s3", endpoint_url=endpoint or None)
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert isinstance(body, bytes)
    return body


def load_npz(
    source: str | os.PathLike[str],
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> Dataset:
    """A `.npz` with `x_train, y_train` (optionally `x_val, y_val, x_test, y_test`, `classes`)."""
    src = str(source)
    if src.startswith("s3://"):
        raw = _read_s3(src)
    else:
        p = pathlib.Path(src)
        if not p.is_file():
            raise DatasetError(f"dataset file {p} does not exist")
        raw = p.read_bytes()
    try:
        archive = np.load(io.BytesIO(raw), allow_pickle=False)
    except Exception as err:  # numpy raises several types for a bad archive
        raise DatasetError(f"{src} is not a readable .npz archive: {err}") from err
    with archive:
        keys = set(archive.files)
        missing = {"x_train", "y_train"} - keys
        if missing:
            raise DatasetError(
                f"{src} lacks {', '.join(sorted(missing))}; a dataset .npz needs x_train and "
                f"y_train (found: {', '.join(sorted(keys)) or 'nothing'})"
            )
        arrays = {k: archive[k] for k in keys}
    classes = tuple(str(c) for c in arrays["classes"]) if "classes" in arrays else None
    return from_arrays(
        src,
        arrays["x_train"],
        arrays["y_train"],
        arrays.get("x_val"),
        arrays.get("y_val"),
        arrays.get("x_test"),
        arrays.get("y_test"),
        classes=classes,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=seed,
    )


def load_dataset(spec: str = "digits", *, seed: int = 0, limit: int | None = None) -> Dataset:
    """Load by name or location: `digits`, `fashion-mnist`, an IDX folder, a `.npz` path or an
    `s3://` URI."""
    if spec == "digits":
        return load_digits(seed=seed)
    if spec in ("fashion-mnist", "fashion_mnist"):
        return load_idx_folder(DEFAULT_FASHION_MNIST_DIR, seed=seed, limit=limit)
    if spec.startswith("s3://") or spec.endswith(".npz"):
        return load_npz(spec, seed=seed)
    if pathlib.Path(spec).is_dir():
        return load_idx_folder(spec, seed=seed, limit=limit)
    raise DatasetError(
        f"unknown dataset {spec!r}: use 'digits', 'fashion-mnist', a folder of IDX files, "
        "a .npz file or an s3://bucket/key.npz URI"
    )
