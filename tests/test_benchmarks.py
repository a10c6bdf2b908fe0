"""The benchmark scripts run end to end in their --quick mode and write their tables."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
@pytest.mark.parametrize("script, table", [
    ("quality.py", "quality-quick"),
    ("speed.py", "speed-quick"),
    ("inpainting.py", "inpainting-quick"),
    ("other_tables.py", "other-tables-quick"),
    ("vit.py", "vit-quick"),
    ("imputer_variants.py", "imputer-variants-quick"),
])
def test_benchmark_quick_mode(script, table, mnist_dir, tmp_path):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", "--threads", "1",
         "--mnist-dir", str(mnist_dir), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = (tmp_path / f"{table}.md").read_text()
    assert text.count("|") > 20
    payload = json.loads((tmp_path / f"{table}.json").read_text())
    assert payload["machine"]["torch_threads"] == 1


@pytest.mark.slow
def test_denoising_benchmark_quick_mode(tmp_path):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "denoising.py"), "--quick", "--threads", "1",
         "--parts", "digits", "photos", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    digits = (tmp_path / "denoising-digits-quick.md").read_text()
    assert "3x3 median filter" in digits and "noise='salt_pepper'" in digits
    fills = json.loads((tmp_path / "denoising-digits-quick.json").read_text())["fill"]
    assert [row["system"] for row in fills][-1] == (
        "MaskedAutoencoderImputer(), trained with 30% missing")
    assert all(0 < row["mse"] < 1 for row in fills)
    photos = json.loads((tmp_path / "denoising-photos-quick.json").read_text())["photos"]
    assert {row["system"] for row in photos} >= {"KNNImputer(5)", "MaskedAutoencoder().inpaint"}


def test_neighbour_mean_and_noise_helpers():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from denoising import add_noise, neighbour_mean
    finally:
        sys.path.remove(str(BENCHMARKS))
    import numpy as np

    X = np.full((2, 3, 6, 6), 0.25)
    X[1, :, :, 3:] = 0.75
    hidden = np.zeros(X.shape, dtype=bool)
    hidden[:, :, 2, 2] = True
    hidden[0, :, :, :] |= np.pad(np.ones((5, 5), bool), ((0, 1), (0, 1)))  # no 3x3 neighbour
    filled = neighbour_mean(X, hidden)
    np.testing.assert_allclose(filled[0], 0.25)  # widened until a neighbour is visible
    np.testing.assert_allclose(filled[1, :, 2, 2], (5 * 0.25 + 3 * 0.75) / 8)
    assert np.array_equal(filled[~hidden], X[~hidden])
    noisy = add_noise(np.full((100, 1, 8, 8), 0.5, np.float32), "salt_pepper", 0.2)
    assert noisy.dtype == np.float32 and abs((noisy != 0.5).mean() - 0.2) < 0.02
    gauss = add_noise(np.full((100, 64), 0.5), "gaussian", 0.2)
    assert 0 <= gauss.min() and gauss.max() <= 1 and 0.15 < gauss.std() < 0.21


@pytest.mark.slow
def test_imputer_step_floor_quick_mode(tmp_path):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "imputer_variants.py"), "--floor", "--quick",
         "--threads", "1", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    timings = json.loads((tmp_path / "imputer-step-floor-quick.json").read_text())["ms"]
    assert {"step: module", "step: bare MLP"} <= set(timings)
    assert all(value > 0 for value in timings.values())
