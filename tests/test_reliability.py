"""Nothing silently wrong: each case here once gave a wrong answer or an unclear failure.

``T`` and ``table`` are the reproducers' settings: a one-epoch tiny model on a 20 x 5 table.
"""

import os
import signal

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback, EarlyStopping

from sklearn_mae import MaskedAutoencoder, MaskedAutoencoderImputer
from sklearn_mae._net import MaskedAutoencoderNet
from sklearn_mae.cli import main

T = dict(max_epochs=1, latent_dim=4, width=2, random_state=0)


@pytest.fixture
def table():
    return np.random.default_rng(0).normal(size=(20, 5))


def with_holes(X, share=0.2, seed=1):
    X = np.array(X, dtype=float)
    X[np.random.default_rng(seed).random(X.shape) < share] = np.nan
    return X


# ------------------------------------------------------- 1. exact fills
@pytest.mark.parametrize("convert", [
    lambda X: X.tolist(),
    lambda X: X.astype(object),
    lambda X: X.astype(">f8"),
], ids=["list", "object", "big-endian"])
def test_observed_entries_of_any_float_input_come_back_exactly(table, convert):
    holes = with_holes(table)
    holes[0, 0] = 16777217.0  # not a float32
    filled = MaskedAutoencoderImputer(**T).fit_transform(convert(holes))
    observed = ~np.isnan(holes)
    assert filled.dtype == np.float64
    np.testing.assert_array_equal(filled[observed], holes[observed])
    assert filled[0, 0] == 16777217.0


def test_integers_and_nullable_frames_come_back_exactly(table):
    ints = (table * 1e6).astype(np.int64)
    ints[0, 0] = 2**40 + 1
    mask = np.zeros(ints.shape, dtype=bool)
    mask[3:6, 1] = True
    filled = MaskedAutoencoder(**T).fit(ints).inpaint(ints, mask=mask)
    np.testing.assert_array_equal(filled[~mask], ints[~mask])

    frame = pd.DataFrame({"a": pd.array([1, None, 3, 2**40 + 1] * 5, dtype="Int64"),
                          "b": np.linspace(0, 1, 20) + 1e-9, "c": np.arange(20.0)})
    out = MaskedAutoencoderImputer(**T).fit_transform(frame)
    expected = frame.to_numpy(dtype=float, na_value=np.nan)
    observed = ~np.isnan(expected)
    np.testing.assert_array_equal(out[observed], expected[observed])
    assert not np.isnan(out).any()


# ------------------------------------------------------- 2. overflow
def test_large_float32_values_are_scaled_in_float64(table):
    X = (table * 1e30).astype(np.float32)
    imputer = MaskedAutoencoderImputer(**T).fit(X)
    filled = imputer.transform(with_holes(X).astype(np.float32))
    assert np.isfinite(filled).all()
    assert np.isfinite(imputer.scaler_.scale).all()


def test_scores_of_huge_values_are_finite(table):
    X = table * 1e20
    scores = MaskedAutoencoder(**T).fit(X).score_samples(X)
    assert np.isfinite(scores).all() and (scores <= 0).all()


def test_values_too_large_to_scale_are_refused(table):
    with pytest.raises(ValueError, match="too large to scale"):
        MaskedAutoencoder(**T).fit(table * 1e300)


def test_inputs_far_outside_the_training_range_are_refused(table):
    mae = MaskedAutoencoder(**T).fit(table)
    with pytest.raises(ValueError, match="exceed float32's range"):
        mae.transform(table * 1e300)


# ------------------------------------------------------- 3. nothing to score
def test_rows_with_nothing_observed_score_nan_and_are_left_out(table):
    mae = MaskedAutoencoder(**T).fit(table)
    X = table.copy()
    X[0] = np.nan
    scores = mae.score_samples(X)
    assert np.isnan(scores[0]) and np.isfinite(scores[1:]).all()
    assert mae.score(X) == pytest.approx(np.mean(scores[1:]))
    with pytest.raises(ValueError, match="no sample of X has entries to score"):
        mae.score(np.full_like(table, np.nan))


# ------------------------------------------------------- 4. batch_size=1
def test_batch_size_one_is_refused_with_a_clear_message(table, capsys, tmp_path):
    with pytest.raises(ValueError, match="batch_size"):
        MaskedAutoencoder(**T, batch_size=1).fit(table)
    np.save(tmp_path / "t.npy", table)
    code = main(["fit", str(tmp_path / "t.npy"), "--out", str(tmp_path / "m"),
                 "--set", "batch_size=1"])
    err = capsys.readouterr().err
    assert code == 2 and "batch_size" in err and "Traceback" not in err
    assert MaskedAutoencoder(**T, batch_size=2).fit(table[:3]).loss_curve_


# ------------------------------------------------------- 5. divergence
def test_divergence_raises_naming_the_learning_rate(table, capsys, tmp_path):
    mae = MaskedAutoencoder(**{**T, "max_epochs": 5}, lr=1e12)
    with pytest.raises(FloatingPointError, match=r"diverged.*lr was 1e\+12"):
        mae.fit(table * 1e3)
    with pytest.raises(NotFittedError):
        mae.transform(table)
    np.save(tmp_path / "t.npy", table * 1e3)
    code = main(["fit", str(tmp_path / "t.npy"), "--out", str(tmp_path / "m"),
                 "--set", "lr=1e12", "--set", "max_epochs=5"])
    assert code == 2 and "diverged" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_non_finite_network_output_never_leaves_silently(table):
    mae = MaskedAutoencoder(**T).fit(table)
    for parameter in mae.net_.module_.parameters():
        parameter.data.fill_(float("nan"))
    for method in (mae.transform, mae.inpaint):
        with pytest.raises(FloatingPointError, match="non-finite"):
            method(with_holes(table))


# ------------------------------------------------------- 6, 7. Ctrl-C and failed fits
class SendCtrlC(Callback):
    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 2:
            os.kill(os.getpid(), signal.SIGINT)


class Fail(Callback):
    def on_epoch_end(self, net, **kwargs):
        raise RuntimeError("callback failed")


def test_ctrl_c_propagates_and_leaves_an_unfitted_estimator_unfitted(table):
    mae = MaskedAutoencoder(**{**T, "max_epochs": 5}, callbacks=[SendCtrlC()])
    with pytest.raises(KeyboardInterrupt):
        mae.fit(table)
    with pytest.raises(NotFittedError):
        check_is_fitted(mae)
    assert not [k for k in vars(mae) if k.endswith("_")]


def test_a_failed_refit_keeps_the_previous_model(table):
    mae = MaskedAutoencoder(**T).fit(table)
    before = {k: v for k, v in vars(mae).items() if k.endswith("_")}
    Z = mae.transform(table)
    mae.set_params(callbacks=[Fail()], max_epochs=3)
    with pytest.raises(RuntimeError, match="callback failed"):
        mae.fit(table[:, :4] * 2)
    assert {k: v for k, v in vars(mae).items() if k.endswith("_")} == before
    np.testing.assert_array_equal(mae.transform(table), Z)
    mae.set_params(callbacks=[SendCtrlC()], max_epochs=4)
    with pytest.raises(KeyboardInterrupt):
        mae.fit(table * 3)
    np.testing.assert_array_equal(mae.transform(table), Z)


def test_a_failed_imputer_fit_leaves_no_half_state(table):
    imputer = MaskedAutoencoderImputer(**T, add_indicator=True, callbacks=[Fail()])
    with pytest.raises(RuntimeError):
        imputer.fit(with_holes(table))
    with pytest.raises(NotFittedError):
        imputer.transform(with_holes(table))


def test_early_stopping_is_a_normal_complete_fit(table):
    stop = EarlyStopping(monitor="train_loss", patience=1, threshold=10.0)
    mae = MaskedAutoencoder(**{**T, "max_epochs": 50}, callbacks=[stop]).fit(table)
    assert 1 < len(mae.loss_curve_) < 50
    check_is_fitted(mae)


def test_cli_exits_130_without_saving_on_ctrl_c(table, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(MaskedAutoencoderNet, "on_epoch_end",
                        lambda self, net, **kw: os.kill(os.getpid(), signal.SIGINT))
    np.save(tmp_path / "t.npy", table)
    code = main(["fit", str(tmp_path / "t.npy"), "--out", str(tmp_path / "m"),
                 "--set", "max_epochs=20"])
    assert code == 130 and "interrupted" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


# ------------------------------------------------------- 8. clear errors
def test_an_image_model_names_its_sample_shape():
    X = load_digits().data[:20].reshape(-1, 8, 8)
    mae = MaskedAutoencoder(**T).fit(X)
    with pytest.raises(ValueError,
                       match=r"fitted on samples of shape \(8, 8\).*reshape\(-1, 8, 8\)"):
        mae.transform(X.reshape(20, 64))


def test_sparse_input_with_a_placeholder(table):
    import scipy.sparse as sp

    X = table.copy()
    X[X < -1] = -1
    with pytest.warns(UserWarning, match="sparse"):
        filled = MaskedAutoencoderImputer(missing_values=-1, **T).fit_transform(sp.csr_matrix(X))
    assert not (filled == -1).any()
    np.testing.assert_array_equal(filled[X != -1], X[X != -1])


def test_non_numeric_columns_are_named(table):
    frame = pd.DataFrame(table, columns=list("abcde"))
    frame["colour"] = ["red", "blue"] * 10
    with pytest.raises(TypeError, match="column 'colour'.*OneHotEncoder"):
        MaskedAutoencoder(**T).fit(frame)
    frame["colour"] = pd.Categorical(frame["colour"])
    with pytest.raises(TypeError, match="column 'colour'"):
        MaskedAutoencoderImputer(**T).fit(frame)


def test_pandas_output_of_images_explains_itself():
    X = with_holes(load_digits().data[:20].reshape(-1, 8, 8))
    imputer = MaskedAutoencoderImputer(**T).set_output(transform="pandas")
    with pytest.raises(ValueError, match=r"needs 2-D output.*image_shape=\(8, 8\)"):
        imputer.fit_transform(X)
    flat = imputer.set_params(image_shape=(8, 8)).fit_transform(X.reshape(20, 64))
    assert isinstance(flat, pd.DataFrame) and flat.shape == (20, 64)


@pytest.mark.parametrize("image_shape", [("a", "b"), (8.7, 8), (8, 8.0), (True, 8), (0, 8)])
def test_image_shape_must_hold_positive_whole_numbers(image_shape):
    with pytest.raises(ValueError, match="positive whole numbers"):
        MaskedAutoencoder(**T, image_shape=image_shape).fit(np.ones((4, 64)))


def test_callbacks_must_be_skorch_callbacks(table):
    with pytest.raises(TypeError, match="skorch callbacks"):
        MaskedAutoencoder(**T, callbacks=[object()]).fit(table)
