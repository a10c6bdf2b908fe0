"""The mlp's Gaussian: EM with missing entries, the conditional mean, and its use."""

import numpy as np
import pytest
import torch
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer

from sklearn_mae import MaskedAutoencoder, MaskedAutoencoderImputer
from sklearn_mae._gaussian import MAX_FEATURES, conditional_mean, fit_gaussian
from sklearn_mae._modules import MLPAutoencoder

FAST = dict(latent_dim=8, width=4, max_epochs=3, batch_size=32, random_state=0)


def correlated(n=2000, d=6, seed=0):
    """Rows of a Gaussian with strong correlations, its mean and covariance."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(size=(d, 2))
    cov = loadings @ loadings.T + 0.1 * np.eye(d)
    mean = rng.normal(size=d)
    return rng.multivariate_normal(mean, cov, size=n), mean, cov


def test_conditional_mean_is_the_gaussian_formula_row_by_row():
    rng = np.random.default_rng(1)
    X, mean, cov = correlated(n=20)
    visible = rng.random(X.shape) < 0.6
    visible[0] = False  # nothing seen: the mean
    visible[1] = True  # everything seen: the row itself
    got = conditional_mean(torch.tensor(X), torch.tensor(visible), torch.tensor(mean),
                           torch.tensor(cov)).numpy()
    for x, seen, row in zip(X, visible, got, strict=True):
        hidden = ~seen
        expected = x.copy()
        if seen.any():
            gain = cov[np.ix_(hidden, seen)] @ np.linalg.inv(cov[np.ix_(seen, seen)])
            expected[hidden] = mean[hidden] + gain @ (x[seen] - mean[seen])
        else:
            expected = mean
        np.testing.assert_allclose(row, expected, rtol=1e-8, atol=1e-10)
        assert np.array_equal(row[seen], x[seen])  # visible entries as they are


def test_em_recovers_the_gaussian_from_rows_with_missing_entries():
    X, mean, cov = correlated()
    holes = X.copy()
    holes[np.random.default_rng(2).random(X.shape) < 0.3] = np.nan
    got_mean, got_cov = fit_gaussian(torch.tensor(holes), ridge=0.0)
    complete_mean, complete_cov = fit_gaussian(torch.tensor(X), ridge=0.0)
    # as close to the truth as the complete rows' own estimate, give or take
    np.testing.assert_allclose(got_mean.numpy(), mean, atol=0.15)
    assert np.abs(got_cov.numpy() - cov).max() < 2 * np.abs(complete_cov.numpy() - cov).max() + 0.1
    # the mean-filled start would shrink every covariance by the missing share
    assert np.abs(np.diag(got_cov.numpy()) / np.diag(cov) - 1).max() < 0.15


def test_em_of_a_complete_table_is_its_sample_moments():
    X, _, _ = correlated(n=50)
    mean, cov = fit_gaussian(torch.tensor(X), ridge=0.0)
    assert mean.dtype == cov.dtype == torch.float32  # to float32's precision, as the network
    np.testing.assert_allclose(mean.numpy(), X.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cov.numpy(), np.cov(X.T, bias=True), rtol=1e-5, atol=1e-6)


def test_imputer_recovers_a_column_that_is_linear_in_the_others():
    X, _, _ = correlated(n=600, d=8, seed=3)
    X[:, -1] = X[:, :3] @ np.array([1.0, -2.0, 0.5])  # exactly linear, as area and radii
    holes = X.copy()
    holes[np.random.default_rng(4).random(X.shape) < 0.2] = np.nan
    hidden = np.isnan(holes)
    filled = MaskedAutoencoderImputer(random_state=0).fit_transform(holes)
    iterative = IterativeImputer(max_iter=20, random_state=0).fit_transform(holes)
    ours = np.sqrt(np.mean((filled - X)[hidden] ** 2))
    theirs = np.sqrt(np.mean((iterative - X)[hidden] ** 2))
    assert ours <= theirs * 1.05, (ours, theirs)


def test_the_module_holds_a_fitted_gaussian_and_can_go_without():
    X, _, _ = correlated(n=300)
    est = MaskedAutoencoder(**FAST).fit(X)
    module = est.net_.module_
    assert module.gaussian
    # the table is standardised before the module sees it: unit variances, plus the ridge
    np.testing.assert_allclose(np.diag(module.gaussian_cov.numpy()), 1.01, atol=1e-4)
    assert not np.allclose(module.gaussian_cov.numpy(), np.eye(X.shape[1]))
    plain = MaskedAutoencoder(**FAST, module_params={"gaussian": False}).fit(X)
    assert not plain.net_.module_.gaussian
    assert "gaussian_cov" not in plain.net_.module_.state_dict()


def test_wide_inputs_leave_the_gaussian_out():
    module = MLPAutoencoder((MAX_FEATURES + 1,), latent_dim=4, width=2)
    assert not module.gaussian and "gaussian_cov" not in module.state_dict()
    module = MLPAutoencoder((MAX_FEATURES,), latent_dim=4, width=2)
    assert module.gaussian


def test_an_unprepared_module_fills_with_zeros_as_before():
    """Before ``prepare`` the Gaussian is N(0, I): the conditional mean of a hidden entry
    is 0, the zero-filling of the module without it."""
    torch.manual_seed(0)
    with_gaussian = MLPAutoencoder((5,), latent_dim=4, width=2)
    torch.manual_seed(0)
    without = MLPAutoencoder((5,), latent_dim=4, width=2, gaussian=False)
    x = torch.randn(7, 5)
    visible = torch.rand(7, 5) < 0.5
    torch.testing.assert_close(with_gaussian.encode(x, visible), without.encode(x, visible))


def test_prepare_sees_a_bounded_random_subset(monkeypatch):
    from sklearn_mae import _training

    monkeypatch.setattr(_training, "PREPARE_ROWS", 100)
    seen = []
    original = MLPAutoencoder.prepare
    monkeypatch.setattr(MLPAutoencoder, "prepare",
                        lambda self, x: (seen.append(x.clone()), original(self, x)))
    X, _, _ = correlated(n=1000)
    X[::7, 2] = np.nan
    before = X.copy()
    MaskedAutoencoderImputer(**FAST).fit(X)
    (x,) = seen
    assert x.shape == (100, X.shape[1]) and torch.isnan(x).any()
    np.testing.assert_array_equal(X, before)  # the user's data untouched


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_fit_and_partial_fit_prepare_the_gaussian(method):
    X, _, _ = correlated(n=300)
    est = getattr(MaskedAutoencoder(**FAST), method)(X)
    cov = est.net_.module_.gaussian_cov.numpy()
    assert abs(cov[0, 1]) > 0.1  # the table's correlation, not the identity


def test_prepare_reads_an_on_disk_table_in_slices(monkeypatch):
    from test_streaming import OnDisk  # h5py-like: refuses anything but slices

    from sklearn_mae import _training

    monkeypatch.setattr(_training, "PREPARE_ROWS", 50)
    X, _, _ = correlated(n=400)
    # columns 0 and 1 nearly equal, so 50 rows show their correlation whichever are drawn
    # (correlated()'s own is 0.19 there, within a 50-row sample's error of zero)
    X[:, 1] = X[:, 0] + 0.1 * np.random.default_rng(1).normal(size=len(X))
    X_on_disk = OnDisk(X)
    est = MaskedAutoencoder(**FAST).fit(X_on_disk)
    assert all(isinstance(key, slice) for key in X_on_disk.reads)
    assert abs(est.net_.module_.gaussian_cov[0, 1]) > 0.1
