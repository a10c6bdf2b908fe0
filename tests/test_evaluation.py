"""The one evaluation protocol shared by the demo, the benchmarks and the tests."""

import numpy as np
import pytest

from sklearn_mae import evaluation


def test_inpainting_mask_is_the_protocol_mask():
    hidden = evaluation.inpainting_mask((2000, 784))
    visible = np.random.default_rng(1).random((2000, 784)) > 0.5
    np.testing.assert_array_equal(hidden, ~visible)
    assert evaluation.inpainting_mask((1000, 50), ratio=0.75).mean() == pytest.approx(0.75, 0.01)


def test_hidden_mse_counts_only_hidden_entries():
    X = np.zeros((2, 3))
    filled = np.array([[1.0, 5.0, 0.0], [0.0, 0.0, 3.0]])
    hidden = np.array([[True, False, False], [False, False, True]])
    assert evaluation.hidden_mse(filled, X, hidden) == pytest.approx(5.0)


def test_probe_and_clustering_score_separable_features_perfectly():
    y = np.repeat(np.arange(10), 20)
    F = np.eye(10)[y] * 10 + np.random.default_rng(0).normal(0, 0.1, (200, 10))
    assert evaluation.linear_probe(F[::2], F[1::2], y[::2], y[1::2]) == 1.0
    assert evaluation.clustering(F, y) == pytest.approx((1.0, 1.0))


def test_digits_split_is_the_stratified_75_25_split():
    X_train, X_test, y_train, y_test = evaluation.digits_split()
    assert (len(X_train), len(X_test)) == (1347, 450) and X_train.max() == 1.0
    assert np.bincount(y_test).min() >= 43  # 174 eights: 43.5 in a quarter


@pytest.mark.parametrize("mechanism", ["mcar", "mar", "mnar"])
@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_missing_mask_hides_the_share_asked_for(mechanism, rate):
    X = np.random.default_rng(3).normal(size=(2000, 10))
    hidden = evaluation.missing_mask(X, rate, mechanism, seed=0)
    assert hidden.shape == X.shape and hidden.dtype == bool
    assert abs(hidden.mean() - rate) < 0.02
    np.testing.assert_array_equal(hidden, evaluation.missing_mask(X, rate, mechanism, seed=0))


def test_missing_mask_mechanisms_hide_where_they_should():
    X = np.random.default_rng(3).normal(size=(2000, 10))
    mar = evaluation.missing_mask(X, 0.5, "mar")
    assert (~mar.any(axis=0)).sum() == 3  # 30% of the columns stay fully observed
    mnar = evaluation.missing_mask(X, 0.5, "mnar")
    assert X[mnar].mean() > 0.3 > -0.3 > X[~mnar].mean()  # large values go missing
    np.testing.assert_array_equal(evaluation.missing_mask(X, 0.2, "mcar", seed=0),
                                  np.random.default_rng(0).random(X.shape) < 0.2)
    with pytest.raises(ValueError, match="mechanism"):
        evaluation.missing_mask(X, 0.2, "bogus")
