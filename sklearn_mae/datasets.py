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


def load_array(path: str | Path, key: str | None = None) -> np.ndarray:
    """Read one data file into an array: ``.npy``, ``.npz``, ``.csv`` or IDX.

    Parameters
    ----------
    path : str or Path
        ``.npy``; ``.npz`` (its first array, or the one named ``key``); ``.csv``
        (numbers separated by commas, one sample a row, an optional header row
        detected automatically, empty cells read as NaN); or an IDX file such as
        ``t10k-images-idx3-ubyte[.gz]``, recognised by its content whatever its name.
    key : str or None, default=None
        Name of the array to read from a ``.npz`` file.

    Returns
    -------
    array : ndarray
        As stored, except that IDX files of bytes (MNIST images) become float32
        in [0, 1], keeping their shape (e.g. ``(n, 28, 28)``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    if key is not None and suffix != ".npz":
        raise ValueError(f"a key ({key!r}) only selects an array in a .npz file, not in {path}.")
    if suffix in (".npy", ".npz"):
        return _read_numpy(path, key)
    if suffix == ".csv":
        return _read_csv(path)
    if _is_idx(path):
        images = read_idx(path)
        if images.dtype == np.uint8:
            return images.astype(np.float32) / 255.0
        return images.astype(np.float32 if images.dtype.itemsize <= 4 else np.float64)
    raise ValueError(
        f"cannot read {path}: expected a .npy, .npz or .csv file, or an IDX file such as "
        "t10k-images-idx3-ubyte[.gz]."
    )


def _read_numpy(path: Path, key: str | None) -> np.ndarray:
    try:
        loaded = np.load(path, allow_pickle=False)  # never unpickle objects from a data file
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"cannot read {path} as a numpy file: {exc}") from exc
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        if not loaded.files:
            raise ValueError(f"{path} holds no arrays.")
        if key is not None and key not in loaded.files:
            raise ValueError(f"{path} has no array {key!r}; it holds {', '.join(loaded.files)}.")
        try:
            return loaded[key if key is not None else loaded.files[0]]
        except ValueError as exc:
            raise ValueError(f"cannot read {path}: {exc}") from exc


def _read_csv(path: Path) -> np.ndarray:
    import csv

    try:
        with open(path, newline="") as f:
            rows = [(i, row) for i, row in enumerate(csv.reader(f), 1) if "".join(row).strip()]
    except UnicodeDecodeError as exc:
        raise ValueError(f"cannot read {path}: it is not a text (CSV) file.") from exc
    if rows and not all(_is_number(cell) for cell in rows[0][1]):
        rows = rows[1:]  # a header: the first row is not all numbers
    if not rows:
        raise ValueError(f"{path} holds no rows of numbers.")
    n_columns = len(rows[0][1])
    values = np.empty((len(rows), n_columns))
    for r, (line, row) in enumerate(rows):
        if len(row) != n_columns:
            raise ValueError(
                f"{path}, line {line}: {len(row)} values, but the first row has {n_columns}."
            )
        try:
            values[r] = [float(cell) if cell.strip() else np.nan for cell in row]
        except ValueError:
            bad = next(cell for cell in row if not _is_number(cell))
            raise ValueError(f"{path}, line {line}: {bad.strip()!r} is not a number.") from None
    return values


def _is_number(cell: str) -> bool:
    """Empty cells count: they are missing values."""
    if not cell.strip():
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_idx(path: Path) -> bool:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            magic = f.read(4)
    except OSError:  # e.g. a .gz name on a file that is not gzipped
        return False
    return len(magic) == 4 and magic[:2] == b"\x00\x00" and magic[2] in IDX_DTYPES
