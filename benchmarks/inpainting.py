"""Filling missing data: MNIST inpainting and tabular imputation, all systems in one run.

    python benchmarks/inpainting.py --mnist-dir ../shared/data/mnist10k [--iterative]
    python benchmarks/inpainting.py --tabular-only [--no-forest]
    python benchmarks/inpainting.py --quick

MNIST-10k: models are fit on the 8,000 training images; on the 2,000 test images we
hide 50% or 75% of the pixels at random (``rng(1).random(X.shape) > ratio`` marks
the visible ones) or one 8x8 block per image, and report the MSE over the hidden
pixels and the end-to-end seconds (fit + fill). "trained with 30% missing" rows fit
on training images that themselves miss 30% of their pixels (NaN).
Tabular: wine, breast cancer and diabetes, standardised, 20% and 50% of entries hidden
completely at random (MCAR), at random given 30% fully observed columns (MAR) or, large
values more often, not at random (MNAR), by ``sklearn_mae.evaluation.missing_mask``
(seed 0); RMSE on the hidden entries and fit+transform seconds of every imputer, all in
one run, after one untimed fit of each on another mask of wine. Downstream: accuracy of
imputer -> StandardScaler -> LogisticRegression on breast cancer and wine with 20% / 50%
MCAR, cross-validated on each of 5 draws of the missing entries and averaged.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn_mae import MaskedAutoencoder, MaskedAutoencoderImputer
from sklearn_mae.evaluation import missing_mask
from threadpoolctl import threadpool_limits

from article import ArticleModel
from common import (
    add_common_args,
    block_mask,
    hidden_mse,
    inpainting_mask,
    load,
    markdown_table,
    mean_row,
    print_row,
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


OURS = "MaskedAutoencoderImputer()"
FOREST = "MissForest-style"
TABLES = (load_wine, load_breast_cancer, load_diabetes)


def tabular_systems(args) -> dict:
    """The imputers compared, each a function making a fresh one."""
    systems = {
        "SimpleImputer(mean)": lambda: SimpleImputer(),
        "KNNImputer(5)": lambda: KNNImputer(),
        "IterativeImputer": lambda: IterativeImputer(max_iter=20, random_state=0),
        FOREST: lambda: IterativeImputer(
            estimator=ExtraTreesRegressor(n_estimators=args.forest_trees, random_state=0),
            max_iter=10, random_state=0),
        OURS: lambda: MaskedAutoencoderImputer(
            random_state=0, **({"max_epochs": 2} if args.quick else {})),
    }
    if args.no_forest:
        del systems[FOREST]
    return systems


def table_settings(tables=TABLES, mechanisms=("mcar", "mar", "mnar")):
    """``(name, X, hidden)``: each standardised table under each missingness mechanism with
    20% and 50% of its entries hidden (``missing_mask`` seed 0)."""
    for loader in tables:
        X = StandardScaler().fit_transform(loader().data)
        for mechanism in mechanisms:
            for rate in (0.2, 0.5):
                yield (f"{loader.__name__[5:]} {mechanism.upper()} {rate:.0%}", X,
                       missing_mask(X, rate, mechanism, seed=0))


def warm_up(makers) -> None:
    """One untimed fit of each imputer: costs paid once a process (torch's first kernels,
    lazy imports) would otherwise land on the first table's row alone."""
    warm = StandardScaler().fit_transform(load_wine().data)
    warm = with_nan(warm, missing_mask(warm, 0.3, "mcar", seed=1))
    for make in makers:
        make().fit_transform(warm)


def timed_fill(make, X, hidden) -> tuple[float, float]:
    """``(RMSE on the hidden entries, fit+transform seconds)`` of a fresh imputer."""
    start = time.perf_counter()
    filled = make().fit_transform(with_nan(X, hidden))
    seconds = time.perf_counter() - start
    return float(np.sqrt(hidden_mse(filled, X, hidden))), seconds


def tabular_rows(args) -> list[dict]:
    """RMSE and seconds of every imputer on every table, mechanism and rate."""
    rows = []
    systems = tabular_systems(args)
    baselines = [n for n in systems if n not in (OURS, "SimpleImputer(mean)")]
    warm_up(systems.values())
    for dataset, X, hidden in table_settings():
        row = {"dataset": dataset}
        for name, make in systems.items():
            row[name], row[name + " s"] = timed_fill(make, X, hidden)
        row["best baseline"] = min(row[n] for n in baselines)
        row["ours / best"] = row[OURS] / row["best baseline"]
        row["time / Iterative"] = row[OURS + " s"] / row["IterativeImputer s"]
        rows.append(row)
        print_row(row)
    mean = mean_row(rows)
    mean["wins"] = sum(r[OURS] <= r["best baseline"] for r in rows)
    rows.append(mean)
    return rows


def utility_draws(args) -> int:
    """Draws of the missing entries that the downstream comparison averages."""
    return 2 if args.quick else 5


def utility_rows(args) -> list[dict]:
    """Accuracy of imputer -> StandardScaler -> LogisticRegression under MCAR, over several
    draws of the missing entries (``missing_mask`` seeds 0, 1, ...), each scored by 5-fold
    cross-validation repeated twice (the same splits and entries for both imputers).

    A single draw is one sample of which entries are lost: on breast cancer at 50%, the
    difference to IterativeImputer ranged from -0.005 to +0.009 over six draws, wider than
    the cross-validation's standard error within one draw (about 0.002), so the comparison
    averages the draws and takes its standard error over them. Also each draw's mean
    paired difference (ours minus IterativeImputer)."""
    rows = []
    imputers = {"IterativeImputer": tabular_systems(args)["IterativeImputer"],
                OURS: tabular_systems(args)[OURS]}
    draws = range(utility_draws(args))
    folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=1 if args.quick else 2,
                                    random_state=0)
    for loader in (load_breast_cancer, load_wine):
        X, y = loader(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        for rate in (0.2, 0.5):
            row = {"dataset": f"{loader.__name__[5:]} MCAR {rate:.0%}"}
            scores = {name: [] for name in imputers}
            seconds = dict.fromkeys(imputers, 0.0)
            for draw in draws:
                X_missing = with_nan(X, missing_mask(X, rate, "mcar", seed=draw))
                for name, make in imputers.items():
                    model = make_pipeline(make(), StandardScaler(),
                                          LogisticRegression(max_iter=3000))
                    start = time.perf_counter()
                    scores[name].append(cross_val_score(model, X_missing, y, cv=folds))
                    seconds[name] += time.perf_counter() - start
            for name in imputers:
                row[name] = float(np.mean(scores[name]))
                row[name + " s"] = seconds[name]
            per_draw = (np.array(scores[OURS]) - np.array(scores["IterativeImputer"])).mean(1)
            row["difference"] = float(per_draw.mean())
            row["standard error"] = float(per_draw.std(ddof=1) / np.sqrt(len(per_draw)))
            row["per draw"] = " / ".join(f"{d:+.4f}" for d in per_draw)
            rows.append(row)
            print_row(row, digits=4)
    return rows


def command_line(args) -> str:
    """The command that made a table, with the options that change what it measures."""
    parts = ["python benchmarks/inpainting.py"]
    if args.tabular_only:
        parts.append("--tabular-only")
    else:
        parts.append(f"--mnist-dir {args.mnist_dir}")
    if args.no_forest:
        parts.append("--no-forest")
    parts.append(f"--threads {args.threads}")
    return " ".join(parts)


def tabular_text(args, table_rows, utility) -> str:
    names = [n for n in tabular_systems(args) if n != "SimpleImputer(mean)"]
    command = command_line(args)
    return (
        f"### Tabular imputation, RMSE on hidden entries (standardised units)\n\n"
        f"`{command}`; MissForest-style is IterativeImputer(ExtraTreesRegressor("
        f"n_estimators={args.forest_trees}), max_iter=10). "
        f"{table_rows[-1]['wins']} of {len(table_rows) - 1} cells at or below the best "
        "baseline.\n\n"
        + markdown_table(table_rows, [("dataset", "data, mechanism, missing", "s"),
                                      ("SimpleImputer(mean)", "mean", ".3f")]
                         + [(n, n, ".3f") for n in names]
                         + [("ours / best", "ours / best", ".3f")])
        + "\n\n### Tabular imputation, fit+transform seconds (same run)\n\n"
        + markdown_table(table_rows, [("dataset", "data, mechanism, missing", "s")]
                         + [(n + " s", n, ".2f") for n in names]
                         + [("time / Iterative", "ours / Iterative", ".1f")])
        + "\n\n### Downstream: accuracy of imputer -> StandardScaler -> "
        "LogisticRegression (same run)\n\n"
        f"Mean over {utility_draws(args)} draws of the missing entries (`missing_mask` seeds "
        f"0-{utility_draws(args) - 1}), each scored by "
        f"5-fold cross-validation{'' if args.quick else ' repeated twice'}; the standard "
        "error is over the draws.\n\n"
        + markdown_table(utility, [("dataset", "data, missing", "s"),
                                   ("IterativeImputer", "IterativeImputer", ".4f"),
                                   (OURS, OURS, ".4f"),
                                   ("difference", "ours - Iterative", "+.4f"),
                                   ("standard error", "standard error", ".4f"),
                                   ("per draw", "ours - Iterative, draw by draw", "s"),
                                   ("IterativeImputer s", "Iterative s", ".1f"),
                                   (OURS + " s", "ours s", ".1f")])
    )


def add_table_args(parser) -> None:
    """The options of the tabular systems (``tabular_systems``)."""
    parser.add_argument("--no-forest", action="store_true",
                        help="leave out the MissForest-style baseline (the slowest)")
    parser.add_argument("--forest-trees", type=int, default=20,
                        help="trees of the MissForest-style baseline (default 20)")


def set_up_tables(args) -> None:
    """Threads and warnings for the tabular systems."""
    torch.set_num_threads(args.threads)
    # the same number of threads for NumPy's BLAS (IterativeImputer, KNNImputer) as for
    # torch: timings compare like with like, and a BLAS pool wider than the free cores
    # slowed IterativeImputer tenfold while another process shared them
    threadpool_limits(args.threads)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    parser.add_argument("--iterative", action="store_true",
                        help="also try IterativeImputer on MNIST (with a time limit)")
    parser.add_argument("--iterative-timeout", type=float, default=600.0)
    parser.add_argument("--all-knn", action="store_true",
                        help="run KNNImputer in every MNIST setting (about 90 s each)")
    parser.add_argument("--tabular-only", action="store_true",
                        help="the tables alone (a few minutes; about one without the forest)")
    add_table_args(parser)
    args = parser.parse_args(argv)
    set_up_tables(args)

    table_rows = tabular_rows(args)
    utility = utility_rows(args)
    tables = tabular_text(args, table_rows, utility)
    if args.tabular_only:
        print("\n" + tables)
        write_results(args.out, "inpainting-tabular" + ("-quick" if args.quick else ""),
                      tables, {"tabular": table_rows, "utility": utility})
        return
    image_rows = mnist_rows(args)
    text = (
        "### MNIST-10k inpainting" + (" (quick)" if args.quick else "") + "\n\n"
        + f"`{command_line(args)}`; the imputer fits on training images with 30% of their "
        "pixels missing, the other systems on complete ones.\n\n"
        + markdown_table(image_rows, [("setting", "hidden", "s"), ("system", "system", "s"),
                                      ("mse", "MSE on hidden pixels", ".4f"),
                                      ("fit_s", "fit s", ".1f"), ("fill_s", "fill s", ".1f"),
                                      ("seconds", "end to end s", ".1f")])
        + "\n\n" + tables
    )
    print("\n" + text)
    write_results(args.out, "inpainting-quick" if args.quick else "inpainting", text,
                  {"mnist": image_rows, "tabular": table_rows, "utility": utility})


if __name__ == "__main__":
    main()
