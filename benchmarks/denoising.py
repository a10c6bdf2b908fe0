"""Restoring images: denoising, features of noisy images, inpainting of colour photographs.

    python benchmarks/denoising.py --mnist-dir ../shared/data/mnist10k [--parts mnist digits photos]
    python benchmarks/denoising.py --quick

Each part writes its own table, ``results/denoising-<part>.md`` (and ``.json``), so the
parts can run as separate processes.

MNIST-10k and digits. Every model is fit on the clean training images (pixels in
[0, 1]); the test images get Gaussian noise (std 0.2 and 0.4) or salt-and-pepper noise
(20% of the pixels set to 0 or 1), clipped to [0, 1]. Each system restores the noisy
test images; we report the MSE against the clean images and the PSNR (peak 1). Systems:
the noisy input itself, PCA(50) fitted on the clean training images (project and
reconstruct), a 3x3 median filter, the article's model (10 epochs; its reconstruction
of the noisy image), ``MaskedAutoencoder()`` with its defaults (``denoise``) and
``MaskedAutoencoder(noise=..., noise_level=...)`` trained for the test noise.

Features of noisy images: the linear probe (fitted on the features of the clean
training images) scored on the features of the noisy test images, for raw pixels and
the defaults.

Colour photographs: 32x32 patches of the two photographs bundled with scikit-learn
(8,000 from the left two thirds for training, 1,000 from the right third for testing),
half of the pixels hidden (all three channels of a pixel together); MSE over the hidden
entries, against the mean of the visible 3x3 neighbours and KNNImputer(5). The digits
part fills its test images the same way, the imputer trained on images with 30% of their
pixels missing (as MNIST's in ``inpainting.py``).
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np
import torch
from scipy.ndimage import convolve, median_filter
from sklearn.decomposition import PCA
from sklearn.impute import KNNImputer
from sklearn_mae import MaskedAutoencoder, MaskedAutoencoderImputer

from article import ArticleModel
from common import (
    add_common_args,
    hidden_mse,
    linear_probe,
    load,
    markdown_table,
    photo_patches,
    write_results,
)

NOISES = {  # name: (kind, level)
    "Gaussian 0.2": ("gaussian", 0.2),
    "Gaussian 0.4": ("gaussian", 0.4),
    "salt-and-pepper 20%": ("salt_pepper", 0.2),
}


DENOISING_COLUMNS = [("noise", "noise", "s"), ("system", "system", "s"), ("mse", "MSE", ".4f"),
                     ("psnr", "PSNR dB", ".1f"), ("fit_s", "fit s", ".1f")]


def add_noise(X: np.ndarray, kind: str, level: float, seed: int = 2) -> np.ndarray:
    """A noisy copy of images in [0, 1] (any shape), clipped to [0, 1]."""
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return np.clip(X + rng.normal(0.0, level, X.shape), 0, 1).astype(X.dtype)
    draws = rng.random(X.shape)
    return np.where(draws < level / 2, 0.0, np.where(draws < level, 1.0, X)).astype(X.dtype)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b) ** 2))


def psnr(error: float) -> float:
    return float(10 * np.log10(1.0 / error))


def neighbour_mean(X: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Fill each hidden pixel of ``(n, C, H, W)`` images with the mean of its visible 3x3
    neighbours (widening to 5x5, 7x7... where none is visible)."""
    filled = X.copy()
    visible = (~hidden).astype(np.float64)
    todo = hidden.copy()
    size = 3
    while todo.any():
        box = np.ones((1, 1, size, size))
        sums = convolve(np.where(hidden, 0.0, X), box, mode="constant")
        counts = convolve(visible, box, mode="constant")
        ready = todo & (counts > 0)
        filled[ready] = (sums[ready] / counts[ready]).astype(X.dtype)
        todo &= ~ready
        size += 2
    return filled


def restoration_row(name, label, system, restored, X_clean, fit_s) -> dict:
    error = mse(restored, X_clean)
    return {"data": name, "noise": label, "system": system, "mse": error, "psnr": psnr(error),
            "fit_s": fit_s}


def restoration_rows(name, X_train, X_test, image_shape, quick, epochs,
                     report=lambda rows, noisy, defaults: None) -> tuple[list, dict, object]:
    """Denoising rows for one data set, the noisy test sets and the default model;
    ``report`` is called with them after the shared systems and after each model trained
    for a noise (a long run leaves its finished rows behind)."""
    images = (-1, *image_shape)
    noisy = {label: add_noise(X_test, *spec) for label, spec in NOISES.items()}
    systems = {"noisy input": lambda Xn: Xn}

    pca = PCA(50, random_state=0).fit(X_train)
    systems["PCA(50)"] = lambda Xn: pca.inverse_transform(pca.transform(Xn))
    systems["3x3 median filter"] = lambda Xn: median_filter(
        Xn.reshape(images), size=(1, 1, 3, 3), mode="nearest").reshape(Xn.shape)

    fit_seconds = {}
    start = time.perf_counter()
    article = ArticleModel(epochs=2 if quick else 10).fit(X_train)
    fit_seconds["article's model, 10 epochs"] = time.perf_counter() - start

    @torch.inference_mode()
    def article_restore(Xn):
        article.module_.eval()
        return article.module_(article._images(Xn)).numpy().reshape(Xn.shape)

    systems["article's model, 10 epochs"] = article_restore

    start = time.perf_counter()
    defaults = MaskedAutoencoder(random_state=0, max_epochs=epochs).fit(X_train)
    fit_seconds["MaskedAutoencoder() defaults"] = time.perf_counter() - start
    systems["MaskedAutoencoder() defaults"] = defaults.denoise

    rows = []
    for label, Xn in noisy.items():  # every system but the ones trained for each noise
        for system, restore in systems.items():
            rows.append(restoration_row(name, label, system, restore(Xn), X_test,
                                        fit_seconds.get(system, 0.0)))
    report(rows, noisy, defaults)
    for label, Xn in noisy.items():  # a model trained for each noise: the long part
        kind, level = NOISES[label]
        start = time.perf_counter()
        trained = MaskedAutoencoder(noise=kind, noise_level=level, random_state=0,
                                    max_epochs=epochs).fit(X_train)
        seconds = time.perf_counter() - start
        rows.append(restoration_row(name, label,
                                    f"MaskedAutoencoder(noise={kind!r}, noise_level={level})",
                                    trained.denoise(Xn), X_test, seconds))
        print(f"{name} {label}: done", flush=True)
        report(rows, noisy, defaults)
    rows.sort(key=lambda row: list(NOISES).index(row["noise"]))  # stable: by noise
    return rows, noisy, defaults


def feature_rows(name, X_train, X_test, y_train, y_test, noisy, defaults) -> list:
    rows = []
    F_train = defaults.transform(X_train)
    for label, X in {"clean": X_test, **noisy}.items():
        if label == "Gaussian 0.4":
            continue
        rows.append({"data": name, "test images": label,
                     "raw": linear_probe(X_train, X, y_train, y_test),
                     "mae": linear_probe(F_train, defaults.transform(X), y_train, y_test)})
    return rows


def fill_rows(X_train, X_test, epochs, train_missing: float = 0.0) -> list:
    """Half of the pixels of the ``(n, C, H, W)`` test images hidden (all channels of a
    pixel together); MSE over the hidden entries and seconds, fit included. The imputer
    trains on the training images with ``train_missing`` of their pixels missing."""
    hidden = np.broadcast_to(np.random.default_rng(1).random(
        (len(X_test), 1, *X_test.shape[2:])) < 0.5, X_test.shape)
    with_holes = np.where(hidden, np.nan, X_test).astype(np.float32)
    X_train_missing = X_train if not train_missing else np.where(
        np.random.default_rng(2).random(X_train.shape) < train_missing, np.nan, X_train
    ).astype(np.float32)
    rows = []

    def timed(system, fill):
        start = time.perf_counter()
        filled = fill()
        rows.append({"system": system, "mse": hidden_mse(filled, X_test, hidden),
                     "seconds": time.perf_counter() - start})
        print(f"{system}: {rows[-1]['mse']:.4f}", flush=True)

    timed("mean of the visible 3x3 neighbours", lambda: neighbour_mean(X_test, hidden))
    flat = (len(X_test), -1)
    timed("KNNImputer(5)", lambda: KNNImputer().fit(X_train.reshape(len(X_train), -1))
          .transform(with_holes.reshape(flat)).reshape(X_test.shape))
    timed("MaskedAutoencoder().inpaint", lambda: MaskedAutoencoder(
        random_state=0, max_epochs=epochs).fit(X_train).inpaint(with_holes))
    imputer = "MaskedAutoencoderImputer()" + (
        f", trained with {train_missing:.0%} missing" if train_missing else "")
    timed(imputer, lambda: MaskedAutoencoderImputer(
        random_state=0, max_epochs=epochs).fit(X_train_missing).transform(with_holes))
    return rows


def photo_rows(quick: bool, epochs) -> list:
    n_train, n_test = (1000, 200) if quick else (8000, 1000)
    X_train, X_test = photo_patches(n_train=n_train, n_test=n_test)
    return fill_rows(X_train, X_test, epochs)


def write_part(out, name, probes, data, rows, noisy, defaults) -> None:
    """Write the rows so far; the features of noisy images once the defaults are fitted."""
    if not probes:
        probes.extend(feature_rows(*data, noisy, defaults))
    write_results(out, name, denoising_text(data[0], rows, probes),
                  {"denoising": rows, "probe": probes})


FILL_COLUMNS = [("system", "system", "s"), ("mse", "MSE on hidden entries", ".4f"),
                ("seconds", "fit + fill s", ".1f")]


def denoising_text(part: str, rows: list, probes: list, fills: list | None = None) -> str:
    return "\n\n".join([
        f"### {part}: denoising, MSE and PSNR against the clean test images",
        markdown_table(rows, DENOISING_COLUMNS),
        f"### {part}: linear probe on features of noisy test images (probe fitted on "
        "clean training features)",
        markdown_table(probes, [("test images", "test images", "s"),
                                ("raw", "raw pixels", ".4f"),
                                ("mae", "MaskedAutoencoder()", ".4f")]),
        *([f"### {part}: 50% of the test pixels hidden", markdown_table(fills, FILL_COLUMNS)]
          if fills else []),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--parts", nargs="+", default=["mnist", "digits", "photos"],
                        choices=["mnist", "digits", "photos"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    epochs = 2 if args.quick else "auto"
    suffix = "-quick" if args.quick else ""

    for part in args.parts:
        if part == "photos":
            photos = photo_rows(args.quick, epochs)
            text = "\n\n".join([
                "### Colour photographs, 32x32 patches, 50% of the pixels hidden",
                markdown_table(photos, FILL_COLUMNS),
            ])
            write_results(args.out, f"denoising-photos{suffix}", text, {"photos": photos})
            continue
        X_train, X_test, y_train, y_test, image_shape = load(part, args.mnist_dir, args.quick)
        probes = []
        report = partial(write_part, args.out, f"denoising-{part}{suffix}", probes,
                         (part, X_train, X_test, y_train, y_test))
        rows, noisy, defaults = restoration_rows(part, X_train, X_test, image_shape,
                                                 args.quick, epochs, report)
        fills = None
        if part == "digits":  # small images; MNIST's are in inpainting.py
            fills = fill_rows(X_train.reshape(-1, *image_shape),
                              X_test.reshape(-1, *image_shape), epochs, train_missing=0.3)
        text = denoising_text(part, rows, probes, fills)
        print(text, flush=True)
        write_results(args.out, f"denoising-{part}{suffix}", text,
                      {"denoising": rows, "probe": probes, **({"fill": fills} if fills else {})})


if __name__ == "__main__":
    main()
