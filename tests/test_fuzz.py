"""Property-based fuzzing of fit / transform / inpaint / score_samples on small random
inputs: shapes (tables and images), dtypes and NaN patterns. A fixed seed and example
budget keep it fast and reproducible."""

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sklearn_mae import MaskedAutoencoder, MaskedAutoencoderImputer

T = dict(max_epochs=1, latent_dim=3, width=2, batch_size=4, random_state=0)
FUZZ = settings(max_examples=30, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

SAMPLE_SHAPES = st.one_of(
    st.tuples(st.integers(1, 6)),                                     # table rows
    st.tuples(st.integers(2, 6), st.integers(2, 6)),                  # (H, W) images
    st.tuples(st.integers(1, 3), st.integers(2, 5), st.integers(2, 5)),  # (C, H, W)
)


@st.composite
def datasets(draw):
    shape = (draw(st.integers(2, 9)), *draw(SAMPLE_SHAPES))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64, np.uint8]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1.0, 255.0, 1e6]))
    X = (rng.normal(size=shape) * scale)
    X = np.clip(X, 0, 255) if dtype == np.uint8 else X
    X = X.astype(dtype)
    if np.issubdtype(dtype, np.floating):
        X[rng.random(shape) < draw(st.sampled_from([0.0, 0.1, 0.5]))] = np.nan
    return X


def every_feature_seen(X) -> bool:
    flat = X.reshape(len(X), -1) if X.ndim < 4 else np.moveaxis(X, 1, -1).reshape(-1, X.shape[1])
    return bool((~np.isnan(flat.astype(float))).any(axis=0).all())


def fit_or_refuse(estimator, X):
    """Fit, or the one refusal a valid input may get: an entirely missing feature/channel."""
    if X.ndim >= 3 or every_feature_seen(X):
        try:
            estimator.fit(X)
        except ValueError as exc:
            assert "in every training sample" in str(exc)
            event("refused: a channel entirely missing")
            return None
        event(f"fitted {X.dtype} {'images' if estimator.image_shape_ else 'table'}")
        return estimator
    with pytest.raises(ValueError, match="in every training sample"):
        estimator.fit(X)
    event("refused: a feature entirely missing")
    return None


@FUZZ
@given(X=datasets())
def test_transformer_on_random_inputs(X):
    original = X.copy()
    mae = fit_or_refuse(MaskedAutoencoder(**T), X)
    if mae is None:
        return
    out_dtype = np.float32 if X.dtype == np.float32 else np.float64
    Z = mae.transform(X)
    assert Z.shape == (len(X), 3) and Z.dtype == out_dtype and np.isfinite(Z).all()
    filled = mae.inpaint(X)
    observed = ~np.isnan(X.astype(float))
    assert filled.shape == X.shape and not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[observed], X[observed])
    scores = mae.score_samples(X)
    assert scores.shape == (len(X),)
    assert (scores[~np.isnan(scores)] <= 0).all()
    np.testing.assert_array_equal(X, original)  # user data is never modified


@FUZZ
@given(X=datasets())
def test_imputer_on_random_inputs(X):
    imputer = fit_or_refuse(MaskedAutoencoderImputer(**T), X)
    if imputer is None:
        return
    filled = imputer.transform(X)
    observed = ~np.isnan(X.astype(float))
    assert not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[observed], X[observed])
