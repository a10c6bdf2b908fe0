"""Filling missing data: MNIST inpainting and tabular imputation, all systems in one run.

    python benchmarks/inpainting.py --mnist-dir ../shared/data/mnist10k [--iterative]
    python benchmarks/inpainting.py --quick

MNIST-10k: models are fit on the 8,000 training images; on the 2,000 test images we
hide 50% or 75% of the pixels at random (``rng(1).random(X.shape) > ratio`` marks
the visible ones) or one 8x8 block per image, and report the MSE over the hidden
pixels and the end-to-end seconds (fit + fill). "trained with 30% missing" rows fit
on training images that themselves miss 30% of their pixels (NaN).
Tabular: wine, breast cancer and diabetes, standardised, 20% and 50% of entries
missing completely at random (seeded); RMSE on the hidden entries.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.preprocessing import StandardScaler
from sklearn_mae import MaskedAutoencoder, MaskedAutoencoderImputer

from article import ArticleModel
from common import (
    add_common_args,
    block_mask,
    hidden_mse,
    inpainting_mask,
    load,
    markdown_table,
    write_results,
)


def with_nan(X, hidden):
    out = X.copy()
    out[hidden] = np.nan
    return out


class Filler:
    """Fit once on the training images, then fill any test mask; times fit and fills."""

    def __init__(self, fit, fill):
        self._fit, self._fill = fit, fill
        self.model = None
        self.fit_seconds = 0.0

    def __call__(self, X_train, X_test, hidden):
        if self.model is None:
            start = time.perf_counter()
            self.model = self._fit(X_train)
            self.fit_seconds = time.perf_counter() - start
        return self._fill(self.model, X_test, hidden)


def sklearn_filler(make):
    return Filler(lambda X: make().fit(X), lambda m, X, hidden: m.transform(with_nan(X, hidden)))


def mae_filler(**params):
    return Filler(lambda X: MaskedAutoencoder(**params).fit(X),
                  lambda m, X, hidden: m.inpaint(X, mask=hidden))


def article_filler(epochs):
    return Filler(lambda X: ArticleModel(epochs=epochs).fit(X),
                  lambda m, X, hidden: m.inpaint(X, hidden))


def imputer_filler(**params):
    return Filler(lambda X: MaskedAutoencoderImputer(**params).fit(X),
                  lambda m, X, hidden: m.transform(with_nan(X, hidden)))


def _iterative_worker(queue, X_train, X_test, hidden):
    start = time.perf_counter()
    filled = IterativeImputer(random_state=0).fit(X_train).transform(with_nan(X_test, hidden))
    queue.put((hidden_mse(filled, X_test, hidden), time.perf_counter() - start))


def iterative_with_timeout(X_train, X_test, hidden, timeout):
    queue = multiprocessing.get_context("fork").Queue()
    proc = multiprocessing.get_context("fork").Process(
        target=_iterative_worker, args=(queue, X_train, X_test, hidden))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.terminate()
        return None, f"did not finish in {timeout:.0f} s"
    return queue.get()


def mnist_rows(args) -> list[dict]:
    X_train, X_test, *_ = load("mnist", args.mnist_dir, args.quick)
    side = int(np.sqrt(X_train.shape[1]))
    train_holes = np.random.default_rng(2).random(X_train.shape) < 0.3
    X_train_missing = with_nan(X_train, train_holes)
    settings = {"50% pixels": inpainting_mask(X_test.shape, 0.5),
                "75% pixels": inpainting_mask(X_test.shape, 0.75),
                "8x8 block": block_mask(X_test, side, 8)}
    params = {"random_state": 0, **({"max_epochs": 2} if args.quick else {})}
    systems = {
        "SimpleImputer(mean)": (sklearn_filler(SimpleImputer), X_train),
        "KNNImputer(5)": (sklearn_filler(KNNImputer), X_train),
        "article's model, 10 epochs": (article_filler(1 if args.quick else 10), X_train),
        "MaskedAutoencoder().inpaint": (mae_filler(**params), X_train),
        "MaskedAutoencoderImputer, trained with 30% missing": (
            imputer_filler(**params), X_train_missing),
    }
    rows = []
    first = next(iter(settings))
    for setting, hidden in settings.items():
        for name, (fill, train) in systems.items():
            if name.startswith("KNN") and setting != "50% pixels" and not args.all_knn:
                continue
            start = time.perf_counter()
            filled = fill(train, X_test, hidden)
            fill_s = time.perf_counter() - start - (fill.fit_seconds if setting == first else 0)
            row = {"setting": setting, "system": name, "mse": hidden_mse(filled, X_test, hidden),
                   "fit_s": fill.fit_seconds, "fill_s": fill_s,
                   "seconds": fill.fit_seconds + fill_s}
            rows.append(row)
            print(f"  {setting} | {name}: mse={row['mse']:.4f} ({row['seconds']:.1f} s)",
                  flush=True)
        if args.iterative and setting == "50% pixels":
            mse, seconds = iterative_with_timeout(X_train, X_test, hidden, args.iterative_timeout)
            name = "IterativeImputer" if mse is not None else f"IterativeImputer: {seconds}"
            rows.append({"setting": setting, "system": name, "mse": mse,
                         "seconds": seconds if mse is not None else None})
            print(f"  {setting} | IterativeImputer: {mse} ({seconds})", flush=True)
    return rows


def tabular_rows(args) -> list[dict]:
    rows = []
    systems = {
        "SimpleImputer(mean)": lambda: SimpleImputer(),
        "KNNImputer(5)": lambda: KNNImputer(),
        "IterativeImputer": lambda: IterativeImputer(random_state=0),
        "MaskedAutoencoderImputer()": lambda: MaskedAutoencoderImputer(
            random_state=0, **({"max_epochs": 2} if args.quick else {})),
    }
    for loader in (load_wine, load_breast_cancer, load_diabetes):
        X = StandardScaler().fit_transform(loader().data)
        for rate in (0.2, 0.5):
            hidden = np.random.default_rng(0).random(X.shape) < rate
            row = {"dataset": f"{loader.__name__[5:]} {rate:.0%}"}
            for name, make in systems.items():
                start = time.perf_counter()
                filled = make().fit_transform(with_nan(X, hidden))
                row[name] = float(np.sqrt(hidden_mse(filled, X, hidden)))
                row[name + " s"] = time.perf_counter() - start
            rows.append(row)
            print("  " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else str(v)
                                   for k, v in row.items()), flush=True)
    mean = {"dataset": "mean"}
    for name in systems:
        mean[name] = float(np.mean([r[name] for r in rows]))
    rows.append(mean)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    parser.add_argument("--iterative", action="store_true",
                        help="also try IterativeImputer on MNIST (with a time limit)")
    parser.add_argument("--iterative-timeout", type=float, default=600.0)
    parser.add_argument("--all-knn", action="store_true",
                        help="run KNNImputer in every MNIST setting (about 90 s each)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    image_rows = mnist_rows(args)
    table_rows = tabular_rows(args)
    names = ["SimpleImputer(mean)", "KNNImputer(5)", "IterativeImputer",
             "MaskedAutoencoderImputer()"]
    text = (
        "### MNIST-10k inpainting" + (" (quick)" if args.quick else "") + "\n\n"
        + markdown_table(image_rows, [("setting", "hidden", "s"), ("system", "system", "s"),
                                      ("mse", "MSE on hidden pixels", ".4f"),
                                      ("fit_s", "fit s", ".1f"), ("fill_s", "fill s", ".1f"),
                                      ("seconds", "end to end s", ".1f")])
        + "\n\n### Tabular imputation, RMSE on hidden entries (standardised units)\n\n"
        + markdown_table(table_rows, [("dataset", "data, missing", "s")]
                         + [(n, n, ".3f") for n in names])
    )
    print("\n" + text)
    write_results(args.out, "inpainting-quick" if args.quick else "inpainting", text,
                  {"mnist": image_rows, "tabular": table_rows})


if __name__ == "__main__":
    main()
