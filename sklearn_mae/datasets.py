"""Readers for data files the package works with (no downloads, ever)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not, into a numpy array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number).")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=IDX_DTYPES[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says shape {shape} but holds {data.size} values.")
    return data.reshape(shape).astype(data.dtype.newbyteorder("="))


def load_mnist(directory: str | Path, kind: str = "t10k") -> tuple[np.ndarray, np.ndarray]:
    """MNIST images as float32 in [0, 1], flattened to 784 features, and their labels.

    ``directory`` holds ``{kind}-images-idx3-ubyte[.gz]`` and ``{kind}-labels-idx1-ubyte[.gz]``.
    """
    directory = Path(directory)

    def find(stem: str) -> Path:
        for name in (f"{stem}.gz", stem):
            if (directory / name).exists():
                return directory / name
        raise FileNotFoundError(f"{stem}[.gz] not found in {directory}")

    images = read_idx(find(f"{kind}-images-idx3-ubyte"))
    labels = read_idx(find(f"{kind}-labels-idx1-ubyte"))
    X = images.reshape(len(images), -1).astype(np.float32) / 255.0
    return X, labels.astype(np.int64)


def mnist_split(directory: str | Path):
    """The benchmark split: 8,000 train / 2,000 test, stratified, ``random_state=0``."""
    from sklearn.model_selection import train_test_split

    X, y = load_mnist(directory)
    return train_test_split(X, y, test_size=2000, stratify=y, random_state=0)
