import sys

import matplotlib
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError

from sklearn_mae import MaskedAutoencoder
from sklearn_mae.plotting import (
    HIDDEN_COLOUR,
    plot_inpainting,
    plot_loss_curve,
    plot_reconstructions,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TINY = dict(latent_dim=4, width=4, max_epochs=2, batch_size=64, random_state=0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits():
    return load_digits().data[:120] / 16.0


@pytest.fixture(scope="module")
def gray_model(digits):
    return MaskedAutoencoder(**TINY).fit(digits)


@pytest.fixture(scope="module")
def rgb_data():
    rng = np.random.default_rng(0)
    # smooth colour gradients, so the three channels differ
    ramp = np.linspace(0, 1, 8)
    base = np.stack([ramp[None, :] * np.ones((8, 1)), ramp[:, None] * np.ones((1, 8)),
                     np.full((8, 8), 0.5)])
    return (base[None] + 0.1 * rng.standard_normal((64, 3, 8, 8))).astype(np.float32)


@pytest.fixture(scope="module")
def rgb_model(rgb_data):
    return MaskedAutoencoder(**TINY).fit(rgb_data)


def canvas(fig) -> np.ndarray:
    """The rendered figure as an (H, W, 4) array, after checking it is a sensible size."""
    fig.canvas.draw()
    width, height = fig.canvas.get_width_height()
    assert 200 <= width <= 3000 and 50 <= height <= 2000
    return np.asarray(fig.canvas.buffer_rgba())


def shown(fig, row: int, col: int, n: int) -> np.ndarray:
    return np.asarray(fig.axes[row * n + col].get_images()[0].get_array())


def is_hidden_colour(image: np.ndarray) -> np.ndarray:
    return np.all(image == np.asarray(HIDDEN_COLOUR), axis=-1)


def test_reconstructions_grayscale_rows(gray_model, digits):
    fig = plot_reconstructions(gray_model, digits, n=5)
    assert canvas(fig).std() > 0
    assert len(fig.axes) == 3 * 5
    assert [ax.get_ylabel() for ax in fig.axes[::5]] == [
        "original", "masked input", "reconstruction"
    ]
    original, masked, recon = (shown(fig, row, 0, 5) for row in range(3))
    assert original.shape == (8, 8, 3)
    hidden = is_hidden_colour(masked)
    assert 0.2 < hidden.mean() < 0.8  # default: half the pixels hidden
    assert not is_hidden_colour(original).any() and not is_hidden_colour(recon).any()
    # visible pixels are returned unchanged by inpainting
    np.testing.assert_allclose(recon[~hidden], original[~hidden])
    np.testing.assert_allclose(masked[~hidden], original[~hidden])


def test_reconstructions_default_mask_is_reproducible(gray_model, digits):
    first = shown(plot_reconstructions(gray_model, digits, n=2), 1, 1, 2)
    again = shown(plot_reconstructions(gray_model, digits, n=2), 1, 1, 2)
    other = shown(plot_reconstructions(gray_model, digits, n=2, random_state=1), 1, 1, 2)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_reconstructions_with_explicit_mask(gray_model, digits):
    mask = np.zeros(digits.shape, dtype=bool)
    fig = plot_reconstructions(gray_model, digits, n=3, mask=mask)
    assert not is_hidden_colour(shown(fig, 1, 0, 3)).any()
    np.testing.assert_allclose(shown(fig, 2, 0, 3), shown(fig, 0, 0, 3))
    with pytest.raises(ValueError, match="mask must be boolean"):
        plot_reconstructions(gray_model, digits, n=3, mask=mask[:, :10])


def test_reconstructions_rgb(rgb_model, rgb_data):
    fig = plot_reconstructions(rgb_model, rgb_data, n=4)
    assert canvas(fig).std() > 0
    original = shown(fig, 0, 0, 4)
    assert original.shape == (8, 8, 3)
    assert original.min() >= 0 and original.max() <= 1
    assert np.ptp(original, axis=-1).max() > 0.1  # really in colour, not gray
    masked = shown(fig, 1, 0, 4)
    assert 0.2 < is_hidden_colour(masked).mean() < 0.8


def test_reconstructions_non_square(digits):
    model = MaskedAutoencoder(image_shape=(4, 16), **TINY).fit(digits)
    fig = plot_reconstructions(model, digits, n=4)
    assert canvas(fig).std() > 0
    assert shown(fig, 0, 0, 4).shape == (4, 16, 3)
    width, height = fig.get_size_inches()
    assert width > height


def test_tabular_estimator_is_refused():
    X = np.random.default_rng(0).standard_normal((40, 5))
    model = MaskedAutoencoder(image_shape=None, **TINY).fit(X)
    with pytest.raises(ValueError, match="fitted on images"):
        plot_reconstructions(model, X)
    with pytest.raises(ValueError, match="fitted on images"):
        plot_inpainting(model, X)


def test_unfitted_estimator_is_refused(digits):
    with pytest.raises(NotFittedError):
        plot_reconstructions(MaskedAutoencoder(), digits)
    with pytest.raises(NotFittedError):
        plot_loss_curve(MaskedAutoencoder())


def test_inpainting_shows_samples_with_holes_first(gray_model, digits):
    X = digits[:6].copy()
    X[4, :20] = np.nan
    fig = plot_inpainting(gray_model, X, n=2)
    assert canvas(fig).std() > 0
    assert [ax.get_ylabel() for ax in fig.axes[::2]] == ["input", "filled"]
    holes = is_hidden_colour(shown(fig, 0, 0, 2))
    assert holes.sum() == 20
    assert not is_hidden_colour(shown(fig, 0, 1, 2)).any()
    assert not is_hidden_colour(shown(fig, 1, 0, 2)).any()


def test_loss_curve(gray_model):
    fig = plot_loss_curve(gray_model)
    assert canvas(fig).std() > 0
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    x, y = ax.lines[0].get_data()
    np.testing.assert_array_equal(x, [1, 2])
    np.testing.assert_allclose(y, gray_model.loss_curve_)


def test_missing_matplotlib_names_the_extra(gray_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"sklearn-mae\[plot\]"):
        plot_loss_curve(gray_model)
