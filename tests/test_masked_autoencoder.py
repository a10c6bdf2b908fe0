"""Behaviour of MaskedAutoencoder that users rely on."""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

from sklearn_mae import MaskedAutoencoder

FAST = dict(latent_dim=8, width=4, max_epochs=2, batch_size=64, random_state=0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def small(digits):
    X, y = digits
    return X[:300], y[:300]


@pytest.fixture(scope="module")
def fitted(small):
    return MaskedAutoencoder(**FAST).fit(small[0])


# ----------------------------------------------------------- the usage lines
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pipeline_with_defaults_reaches_095_on_digits(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    pipe = Pipeline([("mae", MaskedAutoencoder(random_state=0)), ("clf", LogisticRegression())])
    pipe.fit(X_train, y_train)
    assert pipe.score(X_test, y_test) >= 0.95


def test_grid_search_over_mask_ratio_in_parallel(small):
    X, y = small
    pipe = Pipeline([("mae", MaskedAutoencoder(**FAST)), ("clf", LogisticRegression())])
    search = GridSearchCV(pipe, {"mae__mask_ratio": [0.25, 0.5, 0.75]}, n_jobs=2, cv=2)
    search.fit(X, y)
    assert search.best_params_["mae__mask_ratio"] in (0.25, 0.5, 0.75)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_features_feed_kmeans(small, fitted):
    Z = fitted.transform(small[0])
    labels = KMeans(10, n_init=2, random_state=0).fit_predict(Z)
    assert labels.shape == (len(Z),)
    assert len(np.unique(labels)) == 10


# -------------------------------------------------------------------- fit
def test_fit_is_deterministic_with_random_state(small):
    X = small[0]
    Z1 = MaskedAutoencoder(**FAST).fit(X).transform(X)
    Z2 = MaskedAutoencoder(**FAST).fit(X).transform(X)
    np.testing.assert_array_equal(Z1, Z2)
    Z3 = MaskedAutoencoder(**{**FAST, "random_state": 1}).fit(X).transform(X)
    assert not np.allclose(Z1, Z3)


def test_masks_are_drawn_afresh_for_every_batch(small):
    mae = MaskedAutoencoder(**FAST).fit(small[0])
    net = mae.net_
    batch = np.zeros((4, 1, 8, 8), dtype=np.float32)
    import torch

    first = net.draw_mask(torch.from_numpy(batch))
    second = net.draw_mask(torch.from_numpy(batch))
    assert not torch.equal(first, second)
    assert first.float().mean().item() == pytest.approx(FAST.get("mask_ratio", 0.5), abs=0.02)


def test_loss_curve_and_history(fitted):
    assert len(fitted.loss_curve_) == FAST["max_epochs"]
    assert len(fitted.net_.history) == FAST["max_epochs"]
    assert all(np.isfinite(fitted.loss_curve_))


def test_training_reduces_the_loss(small):
    mae = MaskedAutoencoder(**{**FAST, "max_epochs": 8}).fit(small[0])
    assert mae.loss_curve_[-1] < 0.7 * mae.loss_curve_[0]


def test_mask_ratio_zero_trains_a_plain_autoencoder(small):
    mae = MaskedAutoencoder(**{**FAST, "mask_ratio": 0.0, "max_epochs": 4}).fit(small[0])
    assert mae.loss_curve_[-1] < mae.loss_curve_[0]


def test_verbose_shows_per_epoch_loss(small, capsys):
    MaskedAutoencoder(**{**FAST, "verbose": 1}).fit(small[0])
    out = capsys.readouterr()
    assert "train_loss" in out.out
    quiet = MaskedAutoencoder(**FAST).fit(small[0])
    assert quiet.verbose == 0 and capsys.readouterr().out == ""


def test_skorch_callbacks_pass_through(small):
    from skorch.callbacks import EarlyStopping

    stop = EarlyStopping(monitor="train_loss", patience=1, threshold=10.0)
    mae = MaskedAutoencoder(**{**FAST, "max_epochs": 10, "callbacks": [stop]}).fit(small[0])
    assert len(mae.loss_curve_) < 10


# -------------------------------------------------- transform and friends
def test_transform_shape_dtype_and_determinism(small, fitted):
    X = small[0]
    Z = fitted.transform(X)
    assert Z.shape == (len(X), FAST["latent_dim"]) and Z.dtype == np.float64
    np.testing.assert_array_equal(Z, fitted.transform(X))
    assert fitted.transform(X.astype(np.float32)).dtype == np.float32


def test_transform_is_batched_and_batch_independent(fitted):
    X = np.random.default_rng(0).random((2100, 64))
    Z = fitted.transform(X)
    np.testing.assert_allclose(Z[2000:], fitted.transform(X[2000:]), rtol=1e-5, atol=1e-6)


def test_inverse_transform_returns_input_units(digits):
    X = digits[0][:400] * 100.0  # unscaled data
    mae = MaskedAutoencoder(**{**FAST, "latent_dim": 16, "max_epochs": 15}).fit(X)
    X_hat = mae.inverse_transform(mae.transform(X))
    assert X_hat.shape == X.shape
    assert np.mean((X_hat - X) ** 2) < 0.5 * np.var(X)


def test_score_is_minus_hidden_mse_and_ignores_masking_params(small, fitted):
    X = small[0]
    scores = fitted.score_samples(X)
    assert scores.shape == (len(X),) and (scores <= 0).all()
    assert fitted.score(X) == pytest.approx(scores.mean())
    np.testing.assert_array_equal(scores, fitted.score_samples(X))
    np.testing.assert_allclose(fitted.score_samples(X[:5]), scores[:5], rtol=1e-5)
    other = pickle.loads(pickle.dumps(fitted))  # the shared fixture is never changed
    other.set_params(mask_ratio=0.9, mask_type="patch", random_state=7)
    assert other.score(X) == fitted.score(X)


def test_better_model_scores_higher(small):
    X = small[0]
    short = MaskedAutoencoder(**{**FAST, "max_epochs": 1}).fit(X)
    longer = MaskedAutoencoder(**{**FAST, "max_epochs": 12}).fit(X)
    assert longer.score(X) > short.score(X)


def test_inpaint_keeps_observed_entries_bit_for_bit(small, fitted):
    X = small[0][:20]
    mask = np.random.default_rng(0).random(X.shape) < 0.5
    filled = fitted.inpaint(X, mask=mask)
    np.testing.assert_array_equal(filled[~mask], X[~mask])
    assert np.isfinite(filled).all()
    assert not np.array_equal(filled[mask], X[mask])


def test_feature_names_and_pandas_output(small, fitted):
    names = fitted.get_feature_names_out()
    assert list(names) == [f"maskedautoencoder{i}" for i in range(FAST["latent_dim"])]
    mae = clone(fitted).set_output(transform="pandas").fit(small[0])
    Z = mae.transform(small[0])
    assert isinstance(Z, pd.DataFrame) and list(Z.columns) == list(names)


def test_clone_pickle_and_joblib_roundtrip(small, fitted, tmp_path):
    X = small[0]
    assert clone(fitted).get_params() == fitted.get_params()
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(X), fitted.transform(X))
    joblib.dump(fitted, tmp_path / "mae.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "mae.joblib").transform(X),
                                  fitted.transform(X))


def test_model_saved_from_cuda_loads_on_cpu(small, fitted):
    mae = pickle.loads(pickle.dumps(fitted))
    mae.net_.device = "cuda"  # as if fitted on a GPU machine
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        restored = pickle.loads(pickle.dumps(mae))
    assert str(restored.net_.device) == "cpu"
    np.testing.assert_array_equal(restored.transform(small[0]), fitted.transform(small[0]))


# ----------------------------------------------------------- input forms
def test_image_shape_auto_and_architecture(small):
    X = small[0]
    assert MaskedAutoencoder(**FAST).fit(X).architecture_ == "conv"
    tab = MaskedAutoencoder(**FAST).fit(X[:, :10])
    assert tab.architecture_ == "mlp" and tab.image_shape_ is None
    forced = MaskedAutoencoder(**{**FAST, "image_shape": None}).fit(X)
    assert forced.architecture_ == "mlp"
    explicit = MaskedAutoencoder(**{**FAST, "image_shape": (4, 16)}).fit(X)
    assert explicit.image_shape_ == (1, 4, 16)


@pytest.mark.parametrize(
    "shape, image_shape",
    [((40, 8, 8), "auto"), ((40, 3, 8, 8), "auto"), ((40, 6, 10), "auto"), ((40, 60), (6, 10)),
     ((40, 192), (3, 8, 8))],
)
def test_image_inputs_of_any_shape(shape, image_shape):
    X = np.random.default_rng(0).random(shape)
    mae = MaskedAutoencoder(**{**FAST, "image_shape": image_shape}).fit(X)
    assert mae.architecture_ == "conv"
    Z = mae.transform(X)
    assert Z.shape == (40, FAST["latent_dim"])
    assert mae.inverse_transform(Z).shape == (40, int(np.prod(shape[1:])))
    assert mae.inpaint(X).shape == X.shape


def test_uint8_dataframe_and_list_inputs(small):
    X = small[0]
    as_uint8 = (X * 255).astype(np.uint8)
    mae = MaskedAutoencoder(**FAST).fit(as_uint8)
    assert mae.transform(as_uint8).shape == (len(X), FAST["latent_dim"])
    frame = pd.DataFrame(X[:, :10], columns=[f"f{i}" for i in range(10)])
    fitted = MaskedAutoencoder(**FAST).fit(frame)
    assert list(fitted.feature_names_in_) == list(frame.columns)
    from_list = MaskedAutoencoder(**FAST).fit(X[:50, :10].tolist())
    assert from_list.transform(X[:5, :10].tolist()).shape == (5, FAST["latent_dim"])


def test_input_is_never_modified(small):
    X = small[0][:100].copy()
    X[0, 3] = np.nan
    original = X.copy()
    mae = MaskedAutoencoder(**FAST).fit(X)
    mae.transform(X)
    mae.score(X)
    mae.inpaint(X, mask=np.zeros(X.shape, dtype=bool))
    np.testing.assert_array_equal(X, original)


def test_unscaled_data_trains_as_well_as_scaled(small):
    X = small[0]
    scaled = MaskedAutoencoder(**FAST).fit(X)
    shifted = MaskedAutoencoder(**FAST).fit(X * 100 + 50)
    assert shifted.score(X * 100 + 50) / 100**2 == pytest.approx(scaled.score(X), rel=0.05)


def test_sparse_input_is_densified_with_a_warning(small):
    X = sp.csr_matrix(small[0][:50])
    with pytest.warns(UserWarning, match="sparse"):
        MaskedAutoencoder(**FAST).fit(X)


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize("ratio", [1.0, -0.1, 1.5])
def test_mask_ratio_outside_range(small, ratio):
    with pytest.raises(ValueError, match="mask_ratio"):
        MaskedAutoencoder(**{**FAST, "mask_ratio": ratio}).fit(small[0])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"image_shape": (7, 7)}, "image_shape"),
        ({"image_shape": (2, 0)}, "image_shape"),
        ({"mask_type": "patch", "patch_size": 3}, "patch_size=3 does not tile"),
        ({"architecture": "conv", "image_shape": None}, "architecture='conv' needs images"),
        ({"mask_type": "square"}, "mask_type"),
        ({"device": "nonsense"}, "device"),
        ({"module_params": {"depth": 3}}, "module_params"),
    ],
)
def test_bad_parameters_raise_clear_errors(small, params, match):
    with pytest.raises(ValueError, match=match):
        MaskedAutoencoder(**{**FAST, **params}).fit(small[0])


def test_unavailable_cuda_is_a_clear_error(small, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        MaskedAutoencoder(**{**FAST, "device": "cuda"}).fit(small[0])
    assert str(MaskedAutoencoder(**FAST).fit(small[0][:50]).net_.device) == "cpu"


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.empty((0, 64)), ValueError, "0 sample"),
        (np.ones((1, 64)), ValueError, "1 sample"),
        (np.array([["a", "b"], ["c", "d"]]), ValueError, "float"),
        (np.ones((4, 64)) * 1j, ValueError, "[Cc]omplex"),
        (np.full((4, 64), np.inf), ValueError, "infinity"),
        (np.ones(64), ValueError, "2D array"),
    ],
)
def test_bad_data_raises_clear_errors(X, error, match):
    with pytest.raises(error, match=match):
        MaskedAutoencoder(**FAST).fit(X)


def test_transform_checks_features_and_fit(small, fitted):
    with pytest.raises(NotFittedError):
        MaskedAutoencoder().transform(small[0])
    with pytest.raises(ValueError, match=r"samples of shape \(32,\), but this estimator was "
                       r"fitted on samples of shape \(64,\) \(images of"):
        fitted.transform(small[0][:, :32])
    with pytest.raises(ValueError, match="latent vectors of 8"):
        fitted.inverse_transform(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="same shape"):
        fitted.inpaint(small[0], mask=np.zeros((2, 2), dtype=bool))
