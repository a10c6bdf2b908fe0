"""Model selection on a Dask cluster gives the same answer as the sequential run."""

import os

import joblib
import numpy as np
import pytest
import torch
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_validate
from sklearn.pipeline import Pipeline

from sklearn_mae import MaskedAutoencoder

GRID = {"mae__mask_ratio": [0.25, 0.75], "mae__latent_dim": [3, 6]}


def torch_threads(estimator, X, y) -> float:
    """Torch's intra-op thread count in the process that just fitted ``estimator``."""
    return float(torch.get_num_threads())


def process_id(estimator, X, y) -> float:
    return float(os.getpid())


SCORING = {"accuracy": "accuracy", "torch_threads": torch_threads, "pid": process_id}


@pytest.fixture(scope="module")
def client():
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster, Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16, y[:300]


def make_pipeline() -> Pipeline:
    mae = MaskedAutoencoder(latent_dim=4, width=2, max_epochs=1, batch_size=64, random_state=0)
    return Pipeline([("mae", mae), ("clf", LogisticRegression(max_iter=200))])


def make_search(kind: str):
    if kind == "grid":
        return GridSearchCV(make_pipeline(), GRID, cv=2, scoring=SCORING, refit="accuracy")
    return RandomizedSearchCV(
        make_pipeline(), GRID, n_iter=3, cv=2, scoring=SCORING, refit="accuracy", random_state=0
    )


def seen_in_fits(search, metric: str) -> set:
    return {v for k in (0, 1) for v in search.cv_results_[f"split{k}_test_{metric}"]}


@pytest.mark.parametrize("kind", ["grid", "randomized"])
def test_search_on_dask_matches_sequential(client, digits, kind):
    X, y = digits
    local = make_search(kind).set_params(n_jobs=1).fit(X, y)
    with joblib.parallel_backend("dask"):
        remote = make_search(kind).fit(X, y)

    assert remote.best_params_ == local.best_params_
    assert remote.cv_results_["params"] == local.cv_results_["params"]
    for split in ("split0", "split1", "mean"):
        key = f"{split}_test_accuracy"
        np.testing.assert_allclose(remote.cv_results_[key], local.cv_results_[key], rtol=1e-12)
    # Every candidate was fitted in a worker process, with one torch thread.
    assert seen_in_fits(remote, "pid") <= set(client.run(os.getpid).values())
    assert seen_in_fits(remote, "torch_threads") == {1.0}
    # The best candidate is refitted on the client, as in the local run.
    np.testing.assert_array_equal(
        remote.best_estimator_["mae"].transform(X), local.best_estimator_["mae"].transform(X)
    )


def test_models_fitted_in_workers_come_back_usable(client, digits):
    X, y = digits
    local = cross_validate(make_pipeline(), X, y, cv=2, return_estimator=True)
    with joblib.parallel_backend("dask"):
        remote = cross_validate(make_pipeline(), X, y, cv=2, scoring=SCORING,
                                return_estimator=True)

    assert set(remote["test_pid"]) <= set(client.run(os.getpid).values())
    assert os.getpid() not in remote["test_pid"]
    np.testing.assert_allclose(remote["test_accuracy"], local["test_score"], rtol=1e-12)
    for theirs, ours in zip(remote["estimator"], local["estimator"], strict=True):
        np.testing.assert_array_equal(theirs["mae"].transform(X), ours["mae"].transform(X))
        np.testing.assert_array_equal(theirs.predict(X), ours.predict(X))


def test_workers_give_torch_their_thread_budget(client):
    # The nanny sets OMP_NUM_THREADS=1 before the worker starts, so torch
    # takes one intra-op thread per worker instead of every core.
    threads = client.run(lambda: __import__("torch").get_num_threads())
    assert set(threads.values()) == {1}


def test_incremental_trains_block_by_block_on_a_dask_array(client, digits):
    import dask.array as da
    from dask_ml.wrappers import Incremental

    X = digits[0]
    blocks = da.from_array(X, chunks=(100, 64))
    incremental = Incremental(MaskedAutoencoder(latent_dim=4, width=2, random_state=0))
    incremental.fit(blocks)
    model = incremental.estimator_
    assert (model.n_samples_seen_, model.n_iter_, len(model.loss_curve_)) == (300, 3, 3)
    features = incremental.transform(blocks)  # block-wise, on the cluster
    assert isinstance(features, da.Array)
    np.testing.assert_allclose(features.compute(), model.transform(X), rtol=1e-5, atol=1e-6)
    sequential = MaskedAutoencoder(latent_dim=4, width=2, random_state=0)
    for start in range(0, 300, 100):
        sequential.partial_fit(X[start:start + 100])
    # the same three passes; a worker's thread count rounds float32 sums differently,
    # which three passes of training carry to the third decimal
    np.testing.assert_allclose(model.transform(X), sequential.transform(X), atol=2e-2)
