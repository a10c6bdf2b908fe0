"""Safe model files: what is saved comes back bit for bit, what cannot be saved or loaded
safely is refused with a clear error, and pickle, joblib and clone work as before."""

import copy
import doctest
import json
import math
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from skorch.callbacks import EarlyStopping

from sklearn_mae import (
    Architecture,
    MaskedAutoencoder,
    MaskedAutoencoderImputer,
    persistence,
)
from sklearn_mae._modules import MLPAutoencoder
from sklearn_mae.persistence import has_safetensors_header, load, save

FAST = dict(latent_dim=4, width=2, max_epochs=1, random_state=0, device="cpu")
FITTED = ("layout_", "architecture_", "training_params_", "image_shape_", "loss_curve_",
          "n_features_in_", "n_samples_seen_", "n_iter_")
SETTINGS = {
    "conv": dict(),
    "mlp": dict(image_shape=None),
    "vit": dict(architecture="vit", module_params={"encoder_depth": 1, "decoder_width": 8},
                image_shape=(8, 8)),
}


@pytest.fixture(scope="module")
def X():
    return load_digits().data[:120] / 16.0


@pytest.fixture(scope="module")
def holes(X):
    X_missing = X.copy()
    X_missing[np.random.default_rng(0).random(X.shape) < 0.2] = np.nan
    X_missing[:, 0] = 0.0  # one feature never missing: the indicator leaves it out
    return X_missing


@pytest.fixture(scope="module", params=sorted(SETTINGS))
def model(request, X):
    return MaskedAutoencoder(**FAST, **SETTINGS[request.param]).fit(X)


@pytest.fixture(scope="module")
def imputer(holes):
    frame = pd.DataFrame(holes, columns=[f"px{i}" for i in range(holes.shape[1])])
    return MaskedAutoencoderImputer(**FAST, add_indicator=True, image_shape=None).fit(frame)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, X):
    """A saved conv model, to be altered by the tests that check what load refuses."""
    path = tmp_path_factory.mktemp("saved") / "model.safetensors"
    save(MaskedAutoencoder(**FAST).fit(X), path)
    return path


def read(path):
    with safe_open(path, framework="pt") as f:
        return json.loads(f.metadata()["sklearn_mae"]), {k: f.get_tensor(k) for k in f.keys()}


def write(path, document, tensors):
    save_file(tensors, path, metadata={"sklearn_mae": json.dumps(document)})


def same_value(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def assert_same_params(a, b):
    params_a, params_b = a.get_params(deep=False), b.get_params(deep=False)
    assert params_a.keys() == params_b.keys()
    for name in params_a:
        assert same_value(params_a[name], params_b[name]), name


def assert_same_fitted_state(original, loaded):
    assert type(loaded) is type(original)
    assert set(vars(loaded)) == set(vars(original))  # a new fitted attribute must be saved too
    for name in FITTED:
        assert getattr(loaded, name) == getattr(original, name), name
    assert set(vars(loaded.scaler_)) == set(vars(original.scaler_))
    for name in ("offset", "scale"):
        expected, found = getattr(original.scaler_, name), getattr(loaded.scaler_, name)
        assert found.dtype == expected.dtype and np.array_equal(found, expected)
    expected_state = original.net_.module_.state_dict()
    found_state = loaded.net_.module_.state_dict()
    assert found_state.keys() == expected_state.keys()
    for name, tensor in expected_state.items():
        assert torch.equal(found_state[name], tensor), name


# ------------------------------------------------------------------ round trips
def test_round_trip_gives_the_same_outputs_bit_for_bit(model, X, tmp_path):
    path = tmp_path / "model.safetensors"
    save(model, path)
    loaded = load(path)
    assert_same_params(model, loaded)
    assert_same_fitted_state(model, loaded)
    assert loaded.net_.device == "cpu"

    Z = model.transform(X)
    hidden = np.random.default_rng(1).random(X.shape) < 0.5
    for method, args in [("transform", (X,)), ("inverse_transform", (Z,)),
                         ("inpaint", (X, hidden)), ("score_samples", (X,))]:
        expected, found = getattr(model, method)(*args), getattr(loaded, method)(*args)
        assert found.dtype == expected.dtype, method
        np.testing.assert_array_equal(found, expected, err_msg=method)


def test_imputer_round_trip_keeps_the_indicator_and_feature_names(imputer, holes, tmp_path):
    frame = pd.DataFrame(holes, columns=imputer.feature_names_in_)
    path = tmp_path / "imputer.safetensors"
    save(imputer, path)
    loaded = load(path)
    assert_same_params(imputer, loaded)
    assert_same_fitted_state(imputer, loaded)
    assert math.isnan(loaded.missing_values) and loaded.add_indicator is True

    assert loaded.indicator_.features_.tolist() == imputer.indicator_.features_.tolist()
    assert 0 not in loaded.indicator_.features_  # the feature that is never missing
    np.testing.assert_array_equal(loaded.indicator_.transform(holes),
                                  imputer.indicator_.transform(holes))
    assert list(loaded.feature_names_in_) == list(imputer.feature_names_in_)
    assert loaded.feature_names_in_.dtype == object
    filled = imputer.transform(frame)
    assert filled.shape[1] > holes.shape[1]  # the indicator's columns are appended
    np.testing.assert_array_equal(loaded.transform(frame), filled)
    np.testing.assert_array_equal(loaded.score_samples(frame), imputer.score_samples(frame))
    np.testing.assert_array_equal(loaded.get_feature_names_out(),
                                  imputer.get_feature_names_out())


def test_imputer_without_indicator_and_with_a_placeholder(holes, tmp_path):
    with_placeholder = np.where(np.isnan(holes), -1.0, holes)
    imputer = MaskedAutoencoderImputer(**FAST, missing_values=-1.0, image_shape=(8, 8))
    imputer.fit(with_placeholder)
    save(imputer, tmp_path / "imputer.safetensors")
    loaded = load(tmp_path / "imputer.safetensors")
    assert loaded.indicator_ is None and loaded.missing_values == -1.0
    assert loaded.architecture_ == "conv"
    np.testing.assert_array_equal(loaded.transform(with_placeholder),
                                  imputer.transform(with_placeholder))


def test_a_loaded_model_saves_to_the_same_bytes(model, imputer, tmp_path):
    for name, estimator in [("model", model), ("imputer", imputer)]:
        first, second = tmp_path / f"{name}1.safetensors", tmp_path / f"{name}2.safetensors"
        save(estimator, first)
        save(load(first), second)
        assert first.read_bytes() == second.read_bytes()


def test_a_saved_file_has_the_usual_permissions(saved, tmp_path):
    (tmp_path / "plain").write_bytes(b"")  # created under the same umask
    assert saved.stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777


def test_file_holds_the_documented_keys(saved):
    document, tensors = read(saved)
    assert document["format"] == "sklearn-mae-model" and document["format_version"] == 1
    assert document["estimator"] == "MaskedAutoencoder"
    assert document["sklearn_mae_version"] == "0.1.0"
    assert document["params"]["latent_dim"] == 4 and document["params"]["callbacks"] is None
    assert set(document["fitted"]) == {"layout", "architecture_", "training_params_",
                                       "image_shape_", "loss_curve_", "n_features_in_",
                                       "n_samples_seen_", "n_iter_"}
    assert document["fitted"]["layout"] == {"input_shape": [64], "sample_shape": [1, 8, 8]}
    assert document["fitted"]["image_shape_"] == [1, 8, 8]
    assert {"scaler.offset", "scaler.scale"} < set(tensors)
    assert all(name.startswith("module.") for name in set(tensors) - {"scaler.offset",
                                                                      "scaler.scale"})
    assert has_safetensors_header(saved)


def test_tuples_dicts_and_non_finite_numbers_come_back_as_they_were(X, tmp_path):
    mae = MaskedAutoencoder(**FAST, **SETTINGS["vit"]).fit(X)
    mae = copy.copy(mae)
    mae.loss_curve_ = [1.5, float("nan"), float("inf")]  # as after training diverged
    save(mae, tmp_path / "m.safetensors")
    document, _ = read(tmp_path / "m.safetensors")
    assert document["params"]["image_shape"] == {"tuple": [8, 8]}
    assert document["params"]["module_params"] == {"dict": {"encoder_depth": 1,
                                                            "decoder_width": 8}}
    assert document["fitted"]["loss_curve_"] == [1.5, {"float": "nan"}, {"float": "inf"}]
    loaded = load(tmp_path / "m.safetensors")
    assert type(loaded.image_shape) is tuple and loaded.image_shape == (8, 8)
    assert loaded.module_params == {"encoder_depth": 1, "decoder_width": 8}
    assert loaded.loss_curve_[0] == 1.5 and math.isnan(loaded.loss_curve_[1])
    assert loaded.loss_curve_[2] == float("inf")


def test_load_puts_the_network_on_the_requested_device(saved):
    loaded = load(saved, device="auto")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(loaded.net_.module_.parameters()).device.type == expected
    assert loaded.device == "cpu"  # the parameter is kept as saved
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            load(saved, device="cuda")


def test_the_documented_examples_run():
    results = doctest.testmod(persistence, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert results.attempted >= 10 and results.failed == 0


# ------------------------------------------------------------------ pickle and clone
def test_pickle_joblib_and_clone_work_as_before(imputer, holes, tmp_path):
    X = pd.DataFrame(holes, columns=imputer.feature_names_in_)
    for estimator in (imputer, load_saved(imputer, tmp_path)):
        expected = estimator.transform(X)
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(estimator)).transform(X),
                                      expected)
        joblib.dump(estimator, tmp_path / "m.joblib")
        np.testing.assert_array_equal(joblib.load(tmp_path / "m.joblib").transform(X), expected)
        unfitted = clone(estimator)
        assert_same_params(unfitted, estimator)
        assert not hasattr(unfitted, "net_")


def load_saved(estimator, folder):
    save(estimator, folder / "copy.safetensors")
    return load(folder / "copy.safetensors")


# ------------------------------------------------------------------ what save refuses
@pytest.mark.parametrize(
    "params, fragments",
    [
        (dict(callbacks=[EarlyStopping(monitor="train_loss")]), ["callbacks=", "code"]),
        (dict(architecture=MLPAutoencoder), ["MLPAutoencoder", "module class", "'vit'"]),
        (dict(architecture=Architecture(MLPAutoencoder, mask_ratio=0.2)),
         ["Architecture", "module class"]),
        (dict(random_state=np.random.RandomState(0)), ["random_state=RandomState"]),
        (dict(module_params={"activation": torch.nn.ReLU}), ["module_params['activation']"]),
    ],
)
def test_save_refuses_parameters_that_are_code_or_objects(params, fragments, X, tmp_path):
    mae = copy.copy(MaskedAutoencoder(**FAST).fit(X[:40])).set_params(**params)
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"previous")
    with pytest.raises(ValueError, match="pickle or joblib") as error:
        save(mae, path)
    for fragment in fragments:
        assert fragment in str(error.value)
    assert path.read_bytes() == b"previous"  # left as it was
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temporary file


class OwnAutoencoder(MaskedAutoencoder):
    pass


@pytest.mark.parametrize("estimator", [OwnAutoencoder(**FAST), PCA(n_components=2)])
def test_save_refuses_other_classes(estimator, X, tmp_path):
    estimator.fit(X[:40])
    with pytest.raises(ValueError, match="writes a MaskedAutoencoder or Masked"):
        save(estimator, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


def test_save_refuses_an_unfitted_estimator(tmp_path):
    with pytest.raises(NotFittedError):
        save(MaskedAutoencoder(), tmp_path / "m.safetensors")


# ------------------------------------------------------------------ what load refuses
def drop(mapping, key):
    del mapping[key]


def first_weight(tensors):
    return next(name for name in tensors if name.endswith(".weight"))


@pytest.mark.parametrize(
    "alter, fragments",
    [
        (lambda d, t: d.update(format="pickle"), ["format 'pickle'", "sklearn-mae-model"]),
        (lambda d, t: d.update(format_version=2), ["format version 2", "reads version 1"]),
        (lambda d, t: d.update(estimator=["a", "list"]), ["class ['a', 'list']"]),
        (lambda d, t: d.update(estimator="EvilEstimator"),
         ["class 'EvilEstimator'", "MaskedAutoencoder and MaskedAutoencoderImputer"]),
        (lambda d, t: drop(d, "fitted"), ["no 'fitted' object"]),
        (lambda d, t: drop(d["fitted"], "loss_curve_"), ["lack loss_curve_"]),
        (lambda d, t: d["params"].update(colour="red"), ["unknown: ['colour']"]),
        (lambda d, t: drop(d["params"], "latent_dim"), ["missing: ['latent_dim']"]),
        (lambda d, t: d["params"].update(mask_ratio=1.5), ["mask_ratio", "1.5"]),
        (lambda d, t: d["params"].update(module_params={"a": 1}),
         ["params.module_params", "does not write"]),
        (lambda d, t: d["params"].update(latent_dim=5), ["module.", "shape", "expects"]),
        (lambda d, t: d["fitted"].update(architecture_="vit"),
         ["architecture_ is 'vit'", "'conv'"]),
        (lambda d, t: d["fitted"].update(image_shape_=None), ["image_shape_ is None"]),
        (lambda d, t: d["fitted"].update(image_shape_=8), ["image_shape_ is 8"]),
        (lambda d, t: d["fitted"].update(n_features_in_=63), ["n_features_in_ is 63"]),
        (lambda d, t: d["fitted"]["layout"].update(sample_shape=[0, 8, 8]),
         ["layout.sample_shape"]),
        (lambda d, t: d["fitted"].update(feature_names_in_=["a"]), ["feature_names_in_"]),
        (lambda d, t: d["fitted"].update(loss_curve_="low"), ["loss_curve_ is 'low'"]),
        (lambda d, t: d["fitted"].update(training_params_={}), ["training_params_ lacks"]),
        (lambda d, t: d["fitted"]["training_params_"].update(batch_size=0),
         ["cannot be built", "division by zero"]),
        (lambda d, t: drop(t, first_weight(t)), ["missing: ['module.", "weight']"]),
        (lambda d, t: t.update({"module.extra": torch.zeros(1)}), ["unexpected", "extra"]),
        (lambda d, t: t.update(evil=torch.zeros(1)), ["unexpected: ['evil']"]),
        (lambda d, t: t.update({first_weight(t): t[first_weight(t)].double()}),
         ["torch.float64", "expects torch.float32"]),
        (lambda d, t: t.update({"scaler.offset": torch.zeros(3)}), ["scaler.offset", "(3,)"]),
        (lambda d, t: drop(t, "scaler.scale"), ["no scaler.scale tensor"]),
    ],
)
def test_load_refuses_a_file_that_does_not_fit_together(alter, fragments, saved, tmp_path):
    document, tensors = read(saved)
    alter(document, tensors)
    path = tmp_path / "altered.safetensors"
    write(path, document, tensors)
    with pytest.raises(ValueError, match="cannot load a model from") as error:
        load(path)
    message = str(error.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_load_refuses_an_imputer_file_without_its_indicator(imputer, tmp_path):
    save(imputer, tmp_path / "imputer.safetensors")
    document, tensors = read(tmp_path / "imputer.safetensors")
    document["fitted"]["indicator_"]["features_"] = [999]
    write(tmp_path / "bad.safetensors", document, tensors)
    with pytest.raises(ValueError, match=r"indicator_ has features_ \[999\]"):
        load(tmp_path / "bad.safetensors")
    del document["fitted"]["indicator_"]
    write(tmp_path / "bad.safetensors", document, tensors)
    with pytest.raises(ValueError, match="lack indicator_"):
        load(tmp_path / "bad.safetensors")


def test_load_refuses_foreign_and_damaged_files(saved, tmp_path):
    _, tensors = read(saved)
    cases = {
        "no-metadata.safetensors": ("no 'sklearn_mae' entry", lambda p: save_file(tensors, p)),
        "bad-json.safetensors": ("not valid JSON", lambda p: save_file(
            tensors, p, metadata={"sklearn_mae": "{not json"})),
        "truncated.safetensors": ("damaged or truncated",
                                  lambda p: p.write_bytes(saved.read_bytes()[:-100])),
        "model.joblib": ("not a safetensors file", lambda p: joblib.dump({"a": 1}, p)),
        "empty": ("not a safetensors file", lambda p: p.write_bytes(b"")),
    }
    for name, (fragment, make) in cases.items():
        make(tmp_path / name)
        with pytest.raises(ValueError, match=fragment) as error:
            load(tmp_path / name)
        assert str(tmp_path / name) in str(error.value)
    with pytest.raises(ValueError, match="no such file"):
        load(tmp_path / "nowhere.safetensors")


class Marker:
    """Unpickling this creates a file: a stand-in for a pickle that runs code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def test_load_never_unpickles(tmp_path):
    marker, crafted = tmp_path / "marker", tmp_path / "crafted.safetensors"
    joblib.dump(Marker(marker), crafted)
    with pytest.raises(ValueError, match="unpickling can run any code"):
        load(crafted)
    assert not marker.exists()
    joblib.load(crafted).close()  # the file does run code when unpickled
    assert marker.exists()


@pytest.mark.parametrize("depth", [600, 100_000])
def test_load_refuses_metadata_nested_too_deeply(depth, saved, tmp_path):
    document, tensors = read(saved)
    text = json.dumps(document).replace('"module_params": null', '"module_params": '
                                        + "[" * depth + "]" * depth)
    save_file(tensors, tmp_path / "deep.safetensors", metadata={"sklearn_mae": text})
    # refused either way: by the depth guard, or (when the stack allows the parse) as a
    # module_params that is not a dict
    with pytest.raises(ValueError, match="nested too deeply|not valid JSON|module_params"):
        load(tmp_path / "deep.safetensors")
