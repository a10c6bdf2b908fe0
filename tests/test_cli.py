import gzip
import subprocess
import sys

import joblib
import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from sklearn.datasets import load_digits

from sklearn_mae import MaskedAutoencoder
from sklearn_mae.cli import main
from sklearn_mae.datasets import load_array
from sklearn_mae.persistence import has_safetensors_header, load, save

TINY = ["--set", "max_epochs=1", "--set", "latent_dim=8", "--set", "width=4"]


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture(scope="module")
def digits():
    return load_digits().data[:200] / 16.0


@pytest.fixture(scope="module")
def files(tmp_path_factory, digits):
    """A data file and a model fitted on it through the command line."""
    folder = tmp_path_factory.mktemp("cli")
    data, model = folder / "digits.npy", folder / "sub" / "model.safetensors"
    np.save(data, digits)
    assert main(["fit", str(data), "--out", str(model), *TINY, "--set", "random_state=0",
                 "--set", "image_shape=(8, 8)", "--set", "device=cpu"]) == 0
    return data, model


def assert_one_line_error(capsys, code: int, *fragments: str) -> str:
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("sklearn-mae: error: ")
    assert "Traceback" not in captured.err + captured.out
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


# ------------------------------------------------------------------ sub-commands
def test_fit_saves_a_model_with_the_given_parameters(files):
    _, model = files
    assert has_safetensors_header(model)
    estimator = load(model)
    assert isinstance(estimator, MaskedAutoencoder)
    assert estimator.image_shape_ == (1, 8, 8)
    assert (estimator.max_epochs, estimator.latent_dim, estimator.device) == (1, 8, "cpu")
    assert estimator.verbose == 0  # not a terminal, no --verbose


def test_fit_is_quiet_unless_verbose(tmp_path, digits, capsys):
    data = tmp_path / "d.npy"
    np.save(data, digits[:50])
    assert main(["fit", str(data), "--out", str(tmp_path / "m"), *TINY]) == 0
    assert capsys.readouterr().out == ""
    assert main(["fit", str(data), "--out", str(tmp_path / "m"), *TINY, "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "train_loss" in out and "saved to" in out
    assert load(tmp_path / "m").verbose == 1


def test_transform_writes_the_features(files, tmp_path, digits):
    data, model = files
    out = tmp_path / "features.npy"
    assert main(["transform", str(model), str(data), "--out", str(out)]) == 0
    features = np.load(out)
    assert features.shape == (len(digits), 8)
    np.testing.assert_array_equal(features, load(model).transform(digits))


def test_inpaint_fills_only_the_holes(files, tmp_path, digits):
    _, model = files
    X = digits[:10].copy()
    X[::2, 10:30] = np.nan
    data, out, png = tmp_path / "holes.npy", tmp_path / "filled.dat", tmp_path / "f" / "in.png"
    np.save(data, X)
    assert main(["inpaint", str(model), str(data), "--out", str(out), "--png", str(png)]) == 0
    filled = np.load(out)  # written to the exact name given, even without .npy
    assert filled.shape == X.shape and not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[~np.isnan(X)], X[~np.isnan(X)])
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_inpaint_without_holes_says_so(files, tmp_path, capsys):
    data, model = files
    assert main(["inpaint", str(model), str(data), "--out", str(tmp_path / "f.npy")]) == 0
    assert "no missing values" in capsys.readouterr().err
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy"), np.load(data))


def test_demo_prints_the_table_and_writes_figures(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), *TINY]) == 0
    out = capsys.readouterr().out
    for row in ("linear-probe accuracy", "KMeans NMI", "inpainting MSE", "fit seconds"):
        assert f"| {row}" in out
    assert "1347 train / 450 test" in out
    assert "train_loss" not in out  # no progress when stdout is not a terminal
    for name in ("reconstructions.png", "denoising.png", "loss_curve.png"):
        assert (tmp_path / "demo" / name).read_bytes()[:4] == b"\x89PNG"


def test_demo_reads_mnist_idx_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2500, 8, 8))
    labels = np.arange(2500) % 10
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    args = ["demo", "--mnist-dir", str(tmp_path), "--out", str(tmp_path / "demo"), *TINY]
    assert main(args) == 0
    assert "MNIST, 500 train / 2000 test" in capsys.readouterr().out


def test_module_runs_the_command():
    result = subprocess.run([sys.executable, "-m", "sklearn_mae", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert "usage: sklearn-mae" in result.stdout
    for command in ("demo", "fit", "transform", "inpaint"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["demo", "fit", "transform", "inpaint"])
def test_every_command_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert f"usage: sklearn-mae {command}" in capsys.readouterr().out


# ------------------------------------------------------------------ data files
def test_load_array_reads_every_format(tmp_path):
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.savez(tmp_path / "a.npz", first=X, second=2 * X)
    assert np.array_equal(load_array(tmp_path / "a.npz"), X)
    assert np.array_equal(load_array(tmp_path / "a.npz", key="second"), 2 * X)

    (tmp_path / "h.csv").write_text("a,b,c\n0,1,2\n3,,5\n\n6,7,8\n")
    np.testing.assert_array_equal(load_array(tmp_path / "h.csv"),
                                  [[0, 1, 2], [3, np.nan, 5], [6, 7, 8]])
    (tmp_path / "n.csv").write_text("0.5,1e-3\n-2, 4\n")
    np.testing.assert_array_equal(load_array(tmp_path / "n.csv"), [[0.5, 1e-3], [-2, 4]])

    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    (tmp_path / "imgs-idx3-ubyte").write_bytes(idx_bytes(images))
    (tmp_path / "imgs.gz").write_bytes(gzip.compress(idx_bytes(images)))
    for name in ("imgs-idx3-ubyte", "imgs.gz"):
        loaded = load_array(tmp_path / name)
        assert loaded.dtype == np.float32 and loaded.shape == (2, 3, 4)
        np.testing.assert_allclose(loaded, images / 255.0)


def test_fit_reads_csv_with_header(tmp_path, digits):
    header = ",".join(f"pixel{i}" for i in range(64))
    np.savetxt(tmp_path / "d.csv", digits[:40], delimiter=",", header=header, comments="")
    assert main(["fit", str(tmp_path / "d.csv"), "--out", str(tmp_path / "m"), *TINY]) == 0
    assert load(tmp_path / "m").image_shape_ == (1, 8, 8)


# ------------------------------------------------------------------ errors
@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    (folder / "notes.txt").write_text("hello")
    (folder / "words.csv").write_text("1,2\n3,four\n")
    (folder / "ragged.csv").write_text("1,2\n3\n")
    np.save(folder / "narrow.npy", np.zeros((5, 10)))
    np.savez(folder / "a.npz", x=np.zeros((5, 64)))
    joblib.dump({"not": "a model"}, folder / "dict.joblib")
    save_file({"x": torch.zeros(2)}, folder / "foreign.safetensors")  # not a model
    mae = MaskedAutoencoder(max_epochs=1, latent_dim=2, width=2, device="cpu")
    save(mae.fit(load_digits().data[:20]), folder / "whole.safetensors")
    whole = (folder / "whole.safetensors").read_bytes()
    (folder / "truncated.safetensors").write_bytes(whole[:-50])
    return folder


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["fit", "{bad}/missing.npy", "--out", "{tmp}/m"], ["not found", "missing.npy"]),
        (["fit", "{bad}/notes.txt", "--out", "{tmp}/m"], ["cannot read", "notes.txt"]),
        (["fit", "{bad}/words.csv", "--out", "{tmp}/m"], ["line 2", "'four' is not a number"]),
        (["fit", "{bad}/ragged.csv", "--out", "{tmp}/m"], ["line 2", "first row has 2"]),
        (["fit", "{bad}/a.npz", "--key", "y", "--out", "{tmp}/m"], ["no array 'y'", "x"]),
        (["fit", "{bad}/words.csv", "--key", "y", "--out", "{tmp}/m"], [".npz"]),
        (["fit", "{data}", "--out", "{tmp}/m", "--set", "colour=red"],
         ["unknown parameter 'colour'", "mask_ratio"]),
        (["fit", "{data}", "--out", "{tmp}/m", "--set", "mask_ratio=1.5"],
         ["mask_ratio", "1.5"]),
        (["fit", "{data}", "--out", "{tmp}/m", "--set", "image_shape=(7,7)"],
         ["image_shape=(7, 7) does not match"]),
        (["fit", "{data}", "--out", "{tmp}/m", "--set", "max_epochs"], ["KEY=VALUE"]),
        (["fit", "{data}"], ["required: --out"]),
        (["transform", "{model}", "{bad}/narrow.npy", "--out", "{tmp}/f.npy"], ["64"]),
        (["transform", "{bad}/none.joblib", "{data}", "--out", "{tmp}/f.npy"],
         ["model file not found"]),
        (["transform", "{data}", "{data}", "--out", "{tmp}/f.npy"],
         ["cannot read model", "not a safetensors model file", "--allow-pickle"]),
        (["transform", "{data}", "{data}", "--out", "{tmp}/f.npy", "--allow-pickle"],
         ["cannot read model"]),
        (["transform", "{bad}/dict.joblib", "{data}", "--out", "{tmp}/f.npy"],
         ["dict.joblib", "unpickling can run any code", "--allow-pickle"]),
        (["transform", "{bad}/dict.joblib", "{data}", "--out", "{tmp}/f.npy", "--allow-pickle"],
         ["holds a dict"]),
        (["inpaint", "{bad}/dict.joblib", "{data}", "--out", "{tmp}/f.npy"], ["--allow-pickle"]),
        (["inpaint", "{bad}/truncated.safetensors", "{data}", "--out", "{tmp}/f.npy"],
         ["cannot load a model from", "damaged or truncated"]),
        (["inpaint", "{bad}/foreign.safetensors", "{data}", "--out", "{tmp}/f.npy"],
         ["no 'sklearn_mae' entry"]),
        (["inpaint", "{model}", "{bad}/missing.csv", "--out", "{tmp}/f.npy"], ["not found"]),
        (["demo", "--mnist-dir", "{bad}/nowhere"], ["not found"]),
        (["frobnicate"], ["invalid choice"]),
        ([], ["required: COMMAND"]),
    ],
)
def test_errors_are_one_clear_line(args, fragments, files, bad_files, tmp_path, capsys):
    data, model = files
    paths = dict(bad=bad_files, tmp=tmp_path, data=data, model=model)
    code = main([arg.format(**paths) for arg in args])
    assert_one_line_error(capsys, code, *fragments)


def test_inpaint_png_needs_an_image_model(tmp_path, capsys):
    data = tmp_path / "rows.npy"
    np.save(data, np.random.default_rng(0).standard_normal((30, 5)))
    assert main(["fit", str(data), "--out", str(tmp_path / "m"), *TINY]) == 0
    code = main(["inpaint", str(tmp_path / "m"), str(data), "--out", str(tmp_path / "f.npy"),
                 "--png", str(tmp_path / "f.png")])
    assert_one_line_error(capsys, code, "--png needs a model fitted on images")
    assert not (tmp_path / "f.npy").exists()


def test_transform_refuses_a_saved_imputer_and_names_the_fix(tmp_path, digits, capsys):
    from sklearn_mae import MaskedAutoencoderImputer

    data = tmp_path / "holes.npy"
    holes = digits[:40].copy()
    holes[:, :5] = np.nan
    np.save(data, holes)
    imputer = MaskedAutoencoderImputer(max_epochs=1, latent_dim=4, width=2).fit(holes)
    save(imputer, tmp_path / "imputer.safetensors")
    joblib.dump(imputer, tmp_path / "imputer.joblib")
    for model, flags in [("imputer.safetensors", []), ("imputer.joblib", ["--allow-pickle"])]:
        model = tmp_path / model
        code = main(["transform", str(model), str(data), "--out", str(tmp_path / "z.npy"),
                     *flags])
        assert_one_line_error(capsys, code, "MaskedAutoencoderImputer", "sklearn-mae inpaint")
        assert not (tmp_path / "z.npy").exists()
        assert main(["inpaint", str(model), str(data), "--out", str(tmp_path / "f.npy"),
                     *flags]) == 0
        assert not np.isnan(np.load(tmp_path / "f.npy")).any()


# ------------------------------------------------------------------ model files
class Marker:
    """Unpickling this creates a file: a stand-in for a pickle that runs code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


@pytest.mark.parametrize("command", ["transform", "inpaint"])
def test_a_pickle_is_not_unpickled_without_allow_pickle(command, files, tmp_path, capsys):
    data, _ = files
    marker, crafted = tmp_path / "marker", tmp_path / "model.joblib"
    joblib.dump(Marker(marker), crafted)
    code = main([command, str(crafted), str(data), "--out", str(tmp_path / "out.npy")])
    line = assert_one_line_error(capsys, code, str(crafted), "--allow-pickle")
    assert "can run any code" in line and "trust" in line
    assert not marker.exists() and not (tmp_path / "out.npy").exists()

    # with the flag the file is unpickled, so it runs, and is then refused as no model
    code = main([command, str(crafted), str(data), "--out", str(tmp_path / "out.npy"),
                 "--allow-pickle"])
    assert_one_line_error(capsys, code, "holds a TextIOWrapper")
    assert marker.exists()


def test_a_pickled_model_loads_with_allow_pickle(files, tmp_path, digits):
    data, model = files
    pickled = tmp_path / "model.joblib"
    joblib.dump(load(model), pickled)
    out = tmp_path / "features.npy"
    assert main(["transform", str(pickled), str(data), "--out", str(out), "--allow-pickle"]) == 0
    np.testing.assert_array_equal(np.load(out), load(model).transform(digits))


def test_fit_transform_and_inpaint_round_trip_through_the_safe_file(tmp_path, digits):
    data, model = tmp_path / "digits.npy", tmp_path / "model.safetensors"
    np.save(data, digits[:60])
    assert main(["fit", str(data), "--out", str(model), *TINY, "--set", "random_state=1",
                 "--set", "image_shape=(8, 8)", "--set", "device=cpu"]) == 0
    assert has_safetensors_header(model)
    # the same fit in memory gives the same outputs as the commands reading the file
    fitted = MaskedAutoencoder(max_epochs=1, latent_dim=8, width=4, random_state=1,
                               image_shape=(8, 8), device="cpu", verbose=0).fit(digits[:60])
    holes = digits[:60].copy()
    holes[:, 20:40] = np.nan
    np.save(tmp_path / "holes.npy", holes)
    assert main(["transform", str(model), str(data), "--out", str(tmp_path / "z.npy")]) == 0
    assert main(["inpaint", str(model), str(tmp_path / "holes.npy"),
                 "--out", str(tmp_path / "f.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "z.npy"), fitted.transform(digits[:60]))
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy"), fitted.inpaint(holes))


def test_help_describes_the_safe_format_and_the_flag(capsys):
    assert main(["fit", "--help"]) == 0
    assert "model.safetensors" in capsys.readouterr().out
    for command in ("transform", "inpaint"):
        assert main([command, "--help"]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "--allow-pickle" in out and "runs no code" in out
