"""Pinned outputs: training and inference give the same numbers as when they were recorded.

Refactors must not change results. ``loss_curve_`` and the outputs of a few small fits
(conv on digits, the two-view conv on 16x16 images, the conv with its earlier linear
latent, the mlp on a table, the vit, the imputer) are compared with values recorded by
running this file as a script (``python tests/test_golden.py``) with one torch thread.
The tolerance only absorbs float32 rounding between CPUs (the conv code's entries near
zero differed by up to 3e-4 between two x86 CPUs); a change in how weights, masks or
batches are drawn moves the numbers by far more (a changed decoder moved the two-view
conv's outputs by 0.04 on average, 0.4 at most).
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, load_wine

from sklearn_mae import MaskedAutoencoder, MaskedAutoencoderImputer

GOLDEN = Path(__file__).parent / "data" / "golden.npz"


def _cases():
    digits = load_digits().data[:300] / 16.0
    big = np.kron(digits.reshape(-1, 8, 8), np.ones((2, 2)))  # 16x16: shifts, two views
    wine = load_wine().data
    holes = wine.copy()
    holes[np.random.default_rng(0).random(wine.shape) < 0.2] = np.nan
    return {
        "conv": (MaskedAutoencoder(max_epochs=2, random_state=0), digits, "transform"),
        "conv2view": (MaskedAutoencoder(max_epochs=1, random_state=0), big, "transform"),
        # the conv model with its earlier latent, a normalised linear bottleneck
        "conv_linear": (MaskedAutoencoder(max_epochs=2, random_state=0, latent_dim=128,
                                          module_params={"sparse_code": False}),
                        digits, "transform"),
        "mlp": (MaskedAutoencoder(max_epochs=3, random_state=0), wine, "transform"),
        "vit": (MaskedAutoencoder(architecture="vit", max_epochs=2, random_state=0),
                digits, "transform"),
        "imputer": (MaskedAutoencoderImputer(max_epochs=3, random_state=0), holes, "transform"),
    }


def golden_outputs(name: str) -> dict:
    estimator, X, method = _cases()[name]
    estimator.fit(X)
    return {f"{name}_loss": np.asarray(estimator.loss_curve_),
            f"{name}_out": getattr(estimator, method)(X[:50])}


@pytest.mark.parametrize("name", ["conv", "conv2view", "conv_linear", "mlp", "vit",
                                  "imputer"])
def test_outputs_match_the_recorded_ones(name):
    recorded = np.load(GOLDEN)
    for key, value in golden_outputs(name).items():
        atol = 1e-3 if key.endswith("_out") else 1e-5
        np.testing.assert_allclose(value, recorded[key], rtol=1e-4, atol=atol, err_msg=key)


if __name__ == "__main__":
    torch.set_num_threads(1)
    outputs = {}
    for case in _cases():
        outputs.update(golden_outputs(case))
    np.savez(GOLDEN, **outputs)
    print(f"recorded {sorted(outputs)} in {GOLDEN}")
