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
  and the mean squared error over the hidden entries only;
- ``missing_mask``: entries of a standardised table hidden completely at random (MCAR),
  at random given fully observed columns (MAR) or not at random, large values more
  often (MNAR, self-masking), at a seeded overall rate.
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
           "missing_mask", "mnist_split"]

MAR_OBSERVED_SHARE = 0.3  # columns that stay fully observed under MAR


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


def missing_mask(X: np.ndarray, rate: float, mechanism: str = "mcar",
                 seed: int = 0) -> np.ndarray:
    """Entries of the standardised table ``X`` to hide (True), about ``rate`` of them.

    - ``"mcar"``: each entry independently with probability ``rate``.
    - ``"mar"``: 30% of the columns (at random) stay fully observed; an entry of any other
      column is hidden with probability ``sigmoid(w . x_obs + b)``, ``w`` one random
      vector over the observed columns (scaled so ``w . x_obs`` has unit variance) and
      ``b`` fitted by bisection so the overall rate is ``rate`` (Muzellec et al., 2020).
    - ``"mnar"`` (self-masking): an entry is hidden with probability
      ``sigmoid(a_j * x + b_j)``, ``a_j`` drawn from U(0.5, 2) per column and ``b_j``
      fitted so each column's rate is ``rate``: large values go missing more often.
    """
    X = np.asarray(X, dtype=np.float64)
    rng = np.random.default_rng(seed)
    n, d = X.shape
    if mechanism == "mcar":
        return rng.random(X.shape) < rate
    if mechanism == "mar":
        n_observed = max(1, round(MAR_OBSERVED_SHARE * d))
        columns = rng.permutation(d)
        observed, hideable = columns[:n_observed], columns[n_observed:]
        logits = X[:, observed] @ rng.standard_normal(n_observed)
        logits /= max(logits.std(), 1e-12)
        # the hideable entries carry the whole rate
        b = _fitted_intercept(logits, rate * d / len(hideable))
        probability = np.zeros(X.shape)
        probability[:, hideable] = _sigmoid(logits + b)[:, None]
        return rng.random(X.shape) < probability
    if mechanism == "mnar":
        logits = X * rng.uniform(0.5, 2.0, size=d)
        b = np.array([_fitted_intercept(logits[:, j], rate) for j in range(d)])
        return rng.random(X.shape) < _sigmoid(logits + b)
    raise ValueError(f"mechanism must be 'mcar', 'mar' or 'mnar'; got {mechanism!r}.")


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * t))


def _fitted_intercept(logits: np.ndarray, rate: float) -> float:
    """``b`` with ``mean(sigmoid(logits + b)) == rate``, by bisection."""
    if not 0 < rate < 1:
        raise ValueError(f"the rate of hidden entries must be in (0, 1); got {rate:g}.")
    low, high = -50.0 - logits.max(), 50.0 - logits.min()
    for _ in range(100):
        middle = (low + high) / 2
        if _sigmoid(logits + middle).mean() < rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2
