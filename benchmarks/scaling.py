"""Wall time of one grid search run sequentially, on loky and on a Dask cluster.

    python benchmarks/scaling.py            # full grid, a few minutes on 2 quiet cores
    python benchmarks/scaling.py --quick    # tiny grid, smoke test

Pipeline MaskedAutoencoder -> LogisticRegression on load_digits (pixels / 16); grid of
``mae__mask_ratio`` x ``mae__latent_dim`` (6 candidates) x 3 folds, searched four ways:
sequentially with ``--threads`` torch threads, sequentially with one torch thread,
``n_jobs=2`` on loky and on a ``LocalCluster`` of 2 workers x 1 thread. Every fit also
records its process id and ``torch.get_num_threads()`` (as extra "scores"), so the table
shows how many processes worked and how many torch threads each fit used.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import joblib
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn_mae import MaskedAutoencoder

from common import RESULTS, markdown_table, write_results

FULL = {
    "grid": {"mae__mask_ratio": [0.25, 0.5, 0.75], "mae__latent_dim": [16, 32]},
    "n_samples": None,
    "max_epochs": 10,
    "width": 16,
}
QUICK = {
    "grid": {"mae__mask_ratio": [0.25, 0.75], "mae__latent_dim": [8]},
    "n_samples": 450,
    "max_epochs": 2,
    "width": 4,
}
N_FOLDS = 3
N_WORKERS = 2
COLUMNS = [
    ("run", "run", "s"),
    ("workers", "workers", "s"),
    ("seconds", "wall time (s)", ".1f"),
    ("speedup", "speed-up", ".2f"),
    ("processes_used", "processes used", "d"),
    ("torch_threads", "torch threads per fit", "s"),
    ("best", "best params", "s"),
    ("best_accuracy", "best cv accuracy", ".4f"),
    ("same_best_params", "same best params*", "s"),
    ("max_abs_diff", "max abs diff of mean cv accuracy*", ".2g"),
]


def torch_threads(estimator, X, y) -> float:
    return float(torch.get_num_threads())


def process_id(estimator, X, y) -> float:
    return float(os.getpid())


SCORING = {"accuracy": "accuracy", "torch_threads": torch_threads, "pid": process_id}


def make_search(config: dict, n_jobs: int | None) -> GridSearchCV:
    mae = MaskedAutoencoder(width=config["width"], max_epochs=config["max_epochs"],
                            random_state=0)
    pipe = Pipeline([("mae", mae), ("clf", LogisticRegression(max_iter=1000))])
    return GridSearchCV(pipe, config["grid"], cv=N_FOLDS, scoring=SCORING, refit="accuracy",
                        n_jobs=n_jobs)


def timed_search(config: dict, X, y, n_jobs: int | None) -> tuple[GridSearchCV, float]:
    start = time.perf_counter()
    search = make_search(config, n_jobs).fit(X, y)
    return search, time.perf_counter() - start


def timed_search_with_threads(config: dict, X, y, threads: int) -> tuple[GridSearchCV, float]:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return timed_search(config, X, y, n_jobs=1)
    finally:
        torch.set_num_threads(previous)


def warm_up() -> int:
    """Import the estimator in a worker, so that start-up is not timed as search."""
    import sklearn_mae  # noqa: F401

    return os.getpid()


def run_all(config: dict, X, y, threads: int) -> tuple[list[tuple], dict]:
    """``[(run, workers, search, seconds)]`` and the start-up seconds of each pool."""
    runs, startup = [], {}
    runs.append((f"sequential, {threads} torch threads", "1 process",
                 *timed_search_with_threads(config, X, y, threads)))
    runs.append(("sequential, 1 torch thread", "1 process",
                 *timed_search_with_threads(config, X, y, 1)))

    start = time.perf_counter()
    joblib.Parallel(n_jobs=N_WORKERS)(joblib.delayed(warm_up)() for _ in range(N_WORKERS))
    startup["loky"] = time.perf_counter() - start
    runs.append((f"loky, n_jobs={N_WORKERS}", f"{N_WORKERS} processes",
                 *timed_search(config, X, y, n_jobs=N_WORKERS)))

    from distributed import Client, LocalCluster

    start = time.perf_counter()
    with LocalCluster(n_workers=N_WORKERS, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.run(warm_up)
        startup["dask"] = time.perf_counter() - start
        with joblib.parallel_backend("dask"):
            search, seconds = timed_search(config, X, y, n_jobs=None)
    runs.append(("Dask LocalCluster", f"{N_WORKERS} workers x 1 thread", search, seconds))
    return runs, startup


def fitted_in(search: GridSearchCV, metric: str) -> list[float]:
    return [v for k in range(N_FOLDS) for v in search.cv_results_[f"split{k}_test_{metric}"]]


def summarise(runs: list[tuple]) -> list[dict]:
    """Speed-ups against the first run; results against the one-thread sequential run,
    which does the same arithmetic as every worker, so only the distribution differs."""
    baseline_seconds, reference = runs[0][3], runs[1][2]
    rows = []
    for name, workers, search, seconds in runs:
        diff = search.cv_results_["mean_test_accuracy"] - reference.cv_results_[
            "mean_test_accuracy"]
        rows.append({
            "run": name,
            "workers": workers,
            "seconds": seconds,
            "speedup": baseline_seconds / seconds,
            "processes_used": len(set(fitted_in(search, "pid"))),
            "torch_threads": ", ".join(
                str(t) for t in sorted({int(t) for t in fitted_in(search, "torch_threads")})),
            "best_params": search.best_params_,
            "best": ", ".join(f"{k.split('__')[1]}={v}" for k, v in search.best_params_.items()),
            "best_accuracy": float(search.best_score_),
            "same_best_params": "yes" if search.best_params_ == reference.best_params_ else "no",
            "max_abs_diff": float(np.max(np.abs(diff))),
        })
    return rows


def report(rows: list[dict], startup: dict, meta: dict, command: str) -> str:
    n_candidates = int(np.prod([len(v) for v in meta["grid"].values()]))
    return "\n".join([
        f"### Grid search on {N_WORKERS} workers{' (quick)' if meta['quick'] else ''}",
        "",
        markdown_table(rows, COLUMNS),
        "",
        "\\* against the sequential run with 1 torch thread, which does the same arithmetic "
        "as each worker (1 and several torch threads sum in a different order).",
        "",
        f"{n_candidates} candidates x {N_FOLDS} folds on load_digits ({meta['n_samples']} "
        f"samples, pixels / 16), max_epochs={meta['max_epochs']}, width={meta['width']}; "
        f"{os.cpu_count()} CPU cores. Starting the workers and importing torch in them took "
        f"{startup['loky']:.1f} s (loky) and {startup['dask']:.1f} s (Dask), not included "
        "above.",
        "",
        f"Made by `{command}`.",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny grid for a smoke test")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads of the first sequential run (default 2)")
    parser.add_argument("--max-epochs", type=int, help="override the epochs per fit")
    parser.add_argument("--out", default=str(RESULTS), help="where tables are written")
    args = parser.parse_args(argv)

    config = dict(QUICK if args.quick else FULL)
    if args.max_epochs:
        config["max_epochs"] = args.max_epochs
    X, y = load_digits(return_X_y=True)
    X, y = (X[: config["n_samples"]] / 16).astype(np.float32), y[: config["n_samples"]]

    runs, startup = run_all(config, X, y, args.threads)
    rows = summarise(runs)
    meta = {**config, "n_samples": len(X), "n_folds": N_FOLDS, "quick": args.quick,
            "startup_seconds": startup}
    command = " ".join(["python benchmarks/scaling.py", *(argv or sys.argv[1:])])
    text = report(rows, startup, meta, command)
    print("\n" + text)
    write_results(args.out, "scaling-quick" if args.quick else "scaling", text,
                  {**meta, "command": command, "runs": rows})


if __name__ == "__main__":
    main()
