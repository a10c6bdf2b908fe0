"""Shared pieces of the benchmark scripts: data, timing, memory, tables.

The metrics and splits are the package's own (``sklearn_mae.evaluation``), the same the
demo and the tests use.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from sklearn_mae.evaluation import (  # noqa: F401 (re-exported for the scripts)
    clustering,
    digits_split,
    hidden_mse,
    inpainting_mask,
    linear_probe,
    mnist_split,
)

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_MNIST_DIR = os.environ.get(
    "SKLEARN_MAE_MNIST_DIR", str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
                                 / "mnist10k")
)


def add_common_args(parser) -> None:
    parser.add_argument("--mnist-dir", default=DEFAULT_MNIST_DIR,
                        help="folder with the MNIST t10k IDX files (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny smoke run: subsampled data, few epochs")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--out", default=str(RESULTS), help="where tables are written")


def load(name: str, mnist_dir: str, quick: bool):
    """``(X_train, X_test, y_train, y_test, image_shape)`` under the shared protocol."""
    if name == "mnist":
        X_train, X_test, y_train, y_test = mnist_split(mnist_dir)
    else:
        X_train, X_test, y_train, y_test = digits_split(np.float32)
    if quick:
        X_train, y_train = X_train[:1000], y_train[:1000]
        X_test, y_test = X_test[:400], y_test[:400]
    side = int(np.sqrt(X_train.shape[1]))
    return X_train, X_test, y_train, y_test, (1, side, side)


FEATURE_COLUMNS = [("system", "system", "s"), ("probe", "probe acc", ".4f"),
                   ("nmi", "KMeans NMI", ".3f"), ("ari", "KMeans ARI", ".3f")]
"""Table columns for what ``score_features`` adds to a row."""


def score_features(row: dict, F_train, F_test, y_train, y_test) -> dict:
    """Add the protocol's probe accuracy and KMeans NMI/ARI to ``row``; print the row."""
    row["probe"] = linear_probe(F_train, F_test, y_train, y_test)
    row["nmi"], row["ari"] = clustering(F_test, y_test)
    print(f"  {row['system']}: " + ", ".join(
        f"{k}={v:.4g}" for k, v in row.items() if k != "system"), flush=True)
    return row


def block_mask(X: np.ndarray, side: int, block: int = 8, seed: int = 1) -> np.ndarray:
    """One random ``block x block`` square hidden per image."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((len(X), side, side), dtype=bool)
    for i, (r, c) in enumerate(rng.integers(0, side - block + 1, size=(len(X), 2))):
        mask[i, r : r + block, c : c + block] = True
    return mask.reshape(X.shape)


class PeakRSS:
    """Peak resident memory of this process while the block runs, sampled every 5 ms."""

    def __init__(self):
        self.page = os.sysconf("SC_PAGE_SIZE")

    def rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def __enter__(self):
        self.start = self.peak = self.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20


@contextmanager
def timer():
    box = {}
    start = time.perf_counter()
    yield box
    box["seconds"] = time.perf_counter() - start


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def fmt(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return format(value, spec)


def markdown_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """``columns``: (key, header, format spec)."""
    lines = ["| " + " | ".join(h for _, h, _ in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(
            str(row.get(k, "—")) if spec == "s" else fmt(row.get(k), spec)
            for k, _, spec in columns) + " |")
    return "\n".join(lines)


def print_row(row: dict, digits: int = 3) -> None:
    """A table's row on one line, as soon as it is measured."""
    print("  " + ", ".join(f"{k}={v:.{digits}f}" if isinstance(v, float) else str(v)
                           for k, v in row.items()), flush=True)


def mean_row(rows: list[dict], label: str = "dataset") -> dict:
    """The mean of every column of ``rows`` but ``label``, labelled "mean"."""
    return {label: "mean", **{key: float(np.mean([r[key] for r in rows]))
                              for key in rows[0] if key != label}}


def write_results(out: str, name: str, text: str, payload: dict) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text(text + "\n")
    (out / f"{name}.json").write_text(json.dumps({**payload, "machine": machine()}, indent=2))
    print(f"\nwritten: {out / (name + '.md')} and {name}.json")


def photo_patches(side: int = 32, n_train: int = 8000, n_test: int = 1000, seed: int = 0):
    """``(X_train, X_test)``: ``side x side`` colour patches ``(n, 3, side, side)`` in [0, 1]
    of the two photographs that ship with scikit-learn (``load_sample_images``).

    Training patches come from the left two thirds of each photograph and test patches
    from the right third, so no test pixel was seen in training.
    """
    from sklearn.datasets import load_sample_images
    from sklearn.feature_extraction.image import extract_patches_2d

    train, test = [], []
    for i, image in enumerate(load_sample_images().images):
        image = image.astype(np.float32) / 255.0
        cut = 2 * image.shape[1] // 3
        for part, n, out in ((image[:, :cut], n_train, train), (image[:, cut:], n_test, test)):
            patches = extract_patches_2d(part, (side, side), max_patches=n // 2,
                                         random_state=seed + i)
            out.append(np.moveaxis(patches, -1, 1))
    return np.concatenate(train), np.concatenate(test)
