"""The evaluation protocol used by the demo, the benchmarks and the tests.

One implementation of each measure, so the demo's table and the README's benchmark
tables cannot drift apart:

- splits: digits (``load_digits`` / 16, 75 / 25, stratified, ``random_state=0``) and
  MNIST-10k (``datasets.mnist_split``: 8,000 / 2,000, stratified, ``random_state=0``);
- ``linear_probe``: ``StandardScaler`` + ``LogisticRegression(max_iter=3000)`` fitted on
  the training features, accuracy on the test features;
- ``clustering``: ``KMeans(10, n_init=10, random_state=0)`` on the test features, NMI
  and ARI against the labels;
- ``inpainting_mask`` and ``hidden_mse``: a seeded random share of the entries hidden,
  and the mean squared error over the hidden entries only.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .datasets import mnist_split

__all__ = ["clustering", "digits_split", "hidden_mse", "inpainting_mask", "linear_probe",
           "mnist_split"]


def digits_split(dtype=np.float64):
    """``(X_train, X_test, y_train, y_test)`` of the digits, pixels scaled to [0, 1]."""
    X, y = load_digits(return_X_y=True)
    return train_test_split((X / 16.0).astype(dtype), y, test_size=0.25, stratify=y,
                            random_state=0)


def linear_probe(F_train, F_test, y_train, y_test) -> float:
    """Test accuracy of a standardised logistic regression fitted on the training features."""
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    return float(clf.fit(F_train, y_train).score(F_test, y_test))


def clustering(F_test, y_test, n_clusters: int = 10) -> tuple[float, float]:
    """``(NMI, ARI)`` of KMeans clusters of the features against the labels."""
    labels = KMeans(n_clusters=n_clusters, n_init=10, random_state=0).fit_predict(F_test)
    return (float(normalized_mutual_info_score(y_test, labels)),
            float(adjusted_rand_score(y_test, labels)))


def inpainting_mask(shape, ratio: float = 0.5, seed: int = 1) -> np.ndarray:
    """Entries to hide (True): ``default_rng(seed).random(shape) > ratio`` marks the visible."""
    return ~(np.random.default_rng(seed).random(shape) > ratio)


def hidden_mse(filled: np.ndarray, X: np.ndarray, hidden: np.ndarray) -> float:
    """Mean squared error of ``filled`` against ``X`` over the ``hidden`` entries only."""
    return float(np.mean((filled[hidden] - X[hidden]) ** 2))
