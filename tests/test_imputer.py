"""MaskedAutoencoderImputer and missing-value handling in MaskedAutoencoder."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mae import MaskedAutoencoder, MaskedAutoencoderImputer

FAST = dict(latent_dim=8, width=4, max_epochs=3, batch_size=32, random_state=0)


def with_holes(X, rate=0.2, seed=0):
    X = X.copy()
    X[np.random.default_rng(seed).random(X.shape) < rate] = np.nan
    return X


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_usage_lines(wine):
    X, y = wine
    X_missing = with_holes(X)
    filled = MaskedAutoencoderImputer(**FAST).fit(X_missing).transform(X_missing)
    assert filled.shape == X.shape and not np.isnan(filled).any()
    pipe = make_pipeline(MaskedAutoencoderImputer(**FAST), LogisticRegression(max_iter=500))
    assert pipe.fit(X_missing, y).score(X_missing, y) > 0.8
    Z = MaskedAutoencoder(**FAST).fit(X_missing).transform(X_missing)
    assert Z.shape == (len(X), FAST["latent_dim"]) and np.isfinite(Z).all()


def test_observed_entries_unchanged_bit_for_bit(wine):
    X_missing = with_holes(wine[0], 0.3)
    original = X_missing.copy()
    filled = MaskedAutoencoderImputer(**FAST).fit_transform(X_missing)
    observed = ~np.isnan(original)
    assert filled[observed].tobytes() == original[observed].tobytes()
    np.testing.assert_array_equal(X_missing, original)  # input untouched


def test_beats_mean_imputation_on_correlated_data(wine):
    X = wine[0]
    X_missing = with_holes(X, 0.2)
    hidden = np.isnan(X_missing)
    filled = MaskedAutoencoderImputer(random_state=0, max_epochs=100).fit_transform(X_missing)
    rmse = np.sqrt(np.mean((filled[hidden] - X[hidden]) ** 2))
    assert rmse < 0.9  # mean imputation: about 1.0 on standardised data


def test_missing_values_placeholder_and_indicator(wine):
    X = wine[0][:, :5].copy()
    X[0, 1] = X[3, 4] = -999.0
    imputer = MaskedAutoencoderImputer(missing_values=-999.0, add_indicator=True, **FAST)
    out = imputer.fit_transform(X)
    assert out.shape == (len(X), 5 + 2)
    assert out[0, 1] != -999.0 and out[0, 5 + 0] == 1 and out[3, 5 + 1] == 1
    assert list(imputer.get_feature_names_out()) == [
        "x0", "x1", "x2", "x3", "x4", "missingindicator_x1", "missingindicator_x4"
    ]
    assert (X == -999.0).sum() == 2  # placeholder copy, not in place


def test_dataframe_feature_names(wine):
    frame = pd.DataFrame(with_holes(wine[0][:, :4]), columns=list("abcd"))
    imputer = MaskedAutoencoderImputer(**FAST).fit(frame)
    assert list(imputer.get_feature_names_out()) == list("abcd")
    assert not np.isnan(imputer.transform(frame)).any()


def test_column_missing_in_every_sample_is_an_error(wine):
    X = wine[0].copy()
    X[:, 2] = np.nan
    with pytest.raises(ValueError, match="missing .NaN. in every training sample"):
        MaskedAutoencoderImputer(**FAST).fit(X)


def test_images_with_holes():
    X = load_digits().data[:300] / 16.0
    X_missing = with_holes(X, 0.3)
    imputer = MaskedAutoencoderImputer(**FAST).fit(X_missing)
    assert imputer.architecture_ == "conv"
    filled = imputer.transform(X_missing)
    assert not np.isnan(filled).any() and filled.shape == X.shape


def test_missing_entries_never_reach_the_encoder():
    X = load_digits().data[:100] / 16.0
    X_missing = X.copy()
    X_missing[:, :8] = np.nan
    mae = MaskedAutoencoder(**FAST).fit(X_missing)
    X_other = X.copy()
    X_other[:, :8] = np.nan
    X_garbage = X.copy()
    X_garbage[:, :8] = 123.0  # same visible entries; hidden ones marked missing below
    np.testing.assert_array_equal(
        mae.transform(X_other),
        mae.transform(np.where(np.isnan(X_missing), np.nan, X_garbage)),
    )


def test_inpaint_fills_given_holes_in_images():
    X = load_digits().data[:200] / 16.0
    mae = MaskedAutoencoder(**{**FAST, "max_epochs": 10}).fit(X)
    mask = np.random.default_rng(1).random(X.shape) > 0.5
    filled = mae.inpaint(X, mask=mask)
    np.testing.assert_array_equal(filled[~mask], X[~mask])
    mse = np.mean((filled[mask] - X[mask]) ** 2)
    assert mse < np.mean((X[mask] - X.mean()) ** 2)
    with pytest.raises(TypeError, match="boolean"):
        mae.inpaint(X, mask=mask.astype(int))


def test_imputer_has_no_inverse_transform():
    assert not hasattr(MaskedAutoencoderImputer(), "inverse_transform")
