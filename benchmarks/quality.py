"""Feature quality of every system, side by side in one run (MNIST-10k and digits).

    python benchmarks/quality.py --mnist-dir ../shared/data/mnist10k      # full run
    python benchmarks/quality.py --quick                                  # smoke test

Rows: raw pixels, PCA(50), BernoulliRBM(128), the original article's model (PyTorch
port, 10 epochs) and MaskedAutoencoder with default parameters (random_state=0).
Columns: linear-probe accuracy, KMeans NMI/ARI on test features, fit seconds,
training images/s, transform images/s, and how far the process's resident memory
(RSS) rose above its level before the system was fitted.
"""

from __future__ import annotations

import argparse
import time

import torch
from sklearn.decomposition import PCA
from sklearn.neural_network import BernoulliRBM
from sklearn_mae import MaskedAutoencoder

from article import ArticleModel
from common import (
    FEATURE_COLUMNS,
    PeakRSS,
    add_common_args,
    load,
    markdown_table,
    score_features,
    write_results,
)


def systems(quick: bool) -> dict:
    """name -> (factory, training epochs or None). Defaults, no per-data-set tuning."""
    return {
        "raw pixels": (None, None),
        "PCA(50)": (lambda: PCA(50, random_state=0), None),
        "BernoulliRBM(128), 20 iter": (
            lambda: BernoulliRBM(128, n_iter=2 if quick else 20, random_state=0), None),
        "article's model, 10 epochs, batch 256": (
            lambda: ArticleModel(epochs=1 if quick else 10), 1 if quick else 10),
        "MaskedAutoencoder() defaults": (
            lambda: MaskedAutoencoder(random_state=0, **({"max_epochs": 2} if quick else {})),
            "max_epochs"),
    }


def run_system(name, factory, epochs, data) -> dict:
    X_train, X_test, y_train, y_test, _ = data
    row = {"system": name}
    with PeakRSS() as mem:
        if factory is None:
            F_train, F_test = X_train, X_test
        else:
            model = factory()
            start = time.perf_counter()
            model.fit(X_train)
            row["fit_s"] = time.perf_counter() - start
            if epochs == "max_epochs":
                epochs = len(model.loss_curve_)
            if epochs:
                row["train_img_s"] = epochs * len(X_train) / row["fit_s"]
            F_train = model.transform(X_train)
            start = time.perf_counter()
            F_test = model.transform(X_test)
            row["transform_img_s"] = len(X_test) / (time.perf_counter() - start)
    row["mem_mb"] = mem.growth_mb
    return score_features(row, F_train, F_test, y_train, y_test)


COLUMNS = [*FEATURE_COLUMNS, ("fit_s", "fit s", ".1f"),
           ("train_img_s", "train img/s", ",.0f"), ("transform_img_s", "transform img/s", ",.0f"),
           ("mem_mb", "peak RSS growth MB", ",.0f")]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "digits"],
                        choices=["mnist", "digits"])
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sections, payload = [], {"quick": args.quick, "threads": args.threads}
    for dataset in args.datasets:
        data = load(dataset, args.mnist_dir, args.quick)
        print(f"{dataset}: {len(data[0])} train / {len(data[1])} test", flush=True)
        rows = [run_system(name, factory, epochs, data)
                for name, (factory, epochs) in systems(args.quick).items()]
        payload[dataset] = rows
        title = "MNIST-10k (8,000 train / 2,000 test)" if dataset == "mnist" else "digits"
        sections.append(f"### {title}{' (quick)' if args.quick else ''}\n\n"
                        + markdown_table(rows, COLUMNS))
    text = "\n\n".join(sections)
    print("\n" + text)
    write_results(args.out, "quality-quick" if args.quick else "quality", text, payload)


if __name__ == "__main__":
    main()
