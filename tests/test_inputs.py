"""Layout resolution and input scaling."""

import numpy as np
import pytest

from sklearn_mae._inputs import Scaler, resolve_layout
from sklearn_mae._sources import ArraySource, scaling_statistics


def fitted_scaler(X, is_image):
    layout = resolve_layout(X.shape[1:], "auto" if is_image else None)
    return Scaler(*scaling_statistics(ArraySource(X, layout)), is_image)


@pytest.mark.parametrize(
    "input_shape, image_shape, sample_shape",
    [
        ((64,), "auto", (1, 8, 8)),
        ((784,), "auto", (1, 28, 28)),
        ((49,), "auto", (49,)),  # a square below 64 features is tabular
        ((10,), "auto", (10,)),
        ((28, 28), "auto", (1, 28, 28)),
        ((3, 32, 32), "auto", (3, 32, 32)),
        ((60,), (6, 10), (1, 6, 10)),
        ((192,), (3, 8, 8), (3, 8, 8)),
        ((64,), None, (64,)),
    ],
)
def test_resolve_layout(input_shape, image_shape, sample_shape):
    assert resolve_layout(input_shape, image_shape).sample_shape == sample_shape


def test_layout_rejects_mismatches():
    with pytest.raises(ValueError, match="does not match X"):
        resolve_layout((64,), (7, 7))
    with pytest.raises(ValueError, match="does not match X"):
        resolve_layout((8, 8), (4, 16))
    layout = resolve_layout((64,), "auto")
    with pytest.raises(ValueError, match="samples of shape"):
        layout.to_samples(np.zeros((2, 63)))


def test_image_scaler_maps_to_unit_range_and_back():
    X = np.random.default_rng(0).random((10, 3, 4, 4)) * 200 + 10
    scaler = fitted_scaler(X, is_image=True)
    t = scaler.to_tensor(X)
    assert float(t.min()) == pytest.approx(0, abs=1e-6) and float(t.max()) == pytest.approx(1)
    np.testing.assert_allclose(scaler.to_numpy(t), X.reshape(10, -1), rtol=1e-5)


def test_tabular_scaler_standardises_ignoring_nan():
    X = np.random.default_rng(0).normal(5, 3, (200, 4))
    X[0, 0] = np.nan
    t = fitted_scaler(X, is_image=False).to_tensor(X).numpy()
    assert np.isnan(t[0, 0])
    np.testing.assert_allclose(np.nanmean(t, 0), 0, atol=1e-5)
    np.testing.assert_allclose(np.nanstd(t, 0), 1, atol=1e-4)


def test_column_missing_everywhere_is_a_clear_error():
    X = np.ones((5, 3))
    X[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"Feature\(s\) \[1\] are missing"):
        fitted_scaler(X, is_image=False)
