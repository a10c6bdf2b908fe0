"""Figures for a fitted MaskedAutoencoder: reconstructions, inpainting, denoising and the
loss curve.

matplotlib is an optional dependency (``pip install "sklearn-mae[plot]"``); it is
imported only when a function here is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: RGB colour of entries the model did not see (hidden by a mask, or missing).
HIDDEN_COLOUR = (1.0, 0.0, 0.0)
#: Inches for the longer side of one image in a grid.
CELL_INCHES = 1.0


def plot_reconstructions(estimator, X, n: int = 8, mask=None, random_state=0) -> Figure:
    """Show images, the same images with entries hidden, and the model's inpainting.

    Rows: the original, the masked input (hidden entries in red) and the
    reconstruction (visible entries kept, hidden ones filled by
    ``estimator.inpaint``). Values are shown on the range of the shown originals.

    Parameters
    ----------
    estimator : MaskedAutoencoder
        Fitted on images (``image_shape_`` is not None).
    X : array-like of the same sample shape as in ``fit``
        The first ``n`` samples are shown.
    n : int, default=8
        Number of samples (columns).
    mask : array-like of bool, same shape as X, default=None
        ``True`` marks entries to hide. By default 50% of the pixels are hidden at
        random (all channels of a pixel together).
    random_state : int, RandomState instance or None, default=0
        Seeds the default mask.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    _pyplot()
    sample_shape = _image_shape(estimator, "plot_reconstructions")
    X = _first_samples(X, n)
    if mask is None:
        mask = _random_pixel_mask(len(X), sample_shape, random_state).reshape(X.shape)
    else:
        mask = np.asarray(mask)[: len(X)]
        if mask.shape != X.shape or mask.dtype != bool:
            raise ValueError(
                f"mask must be boolean and shaped like the shown samples, {X.shape}; "
                f"got {mask.dtype} of shape {mask.shape}."
            )
    masked = np.where(mask, np.nan, X)
    rows = {
        "original": X,
        "masked input": masked,
        "reconstruction": estimator.inpaint(X, mask=mask),
    }
    return _image_grid(estimator, rows, value_range=_finite_range(X))


def plot_inpainting(estimator, X, n: int = 8) -> Figure:
    """Show samples with missing values (NaN, in red) above the model's filled versions.

    Samples that have missing values are shown first.

    Parameters
    ----------
    estimator : MaskedAutoencoder
        Fitted on images (``image_shape_`` is not None).
    X : array-like of the same sample shape as in ``fit``
        NaN marks the entries to fill.
    n : int, default=8
        Number of samples (columns).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    _pyplot()
    _image_shape(estimator, "plot_inpainting")
    X = np.asarray(X, dtype=np.float64)
    has_holes = np.isnan(X.reshape(len(X), -1)).any(axis=1)
    X = _first_samples(X[np.argsort(~has_holes, kind="stable")], n)
    rows = {"input": X, "filled": estimator.inpaint(X)}
    return _image_grid(estimator, rows, value_range=_finite_range(X))


def plot_denoising(estimator, X_noisy, X_clean=None, n: int = 8) -> Figure:
    """Show noisy images above the model's ``denoise`` output (and the clean originals).

    Parameters
    ----------
    estimator : MaskedAutoencoder or MaskedAutoencoderImputer
        Fitted on images (``image_shape_`` is not None).
    X_noisy : array-like of the same sample shape as in ``fit``
        The noisy images; the first ``n`` are shown.
    X_clean : array-like shaped like X_noisy, default=None
        The clean images, shown as a third row when given.
    n : int, default=8
        Number of samples (columns).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    _pyplot()
    _image_shape(estimator, "plot_denoising")
    X_noisy = _first_samples(X_noisy, n)
    rows = {"noisy": X_noisy, "denoised": estimator.denoise(X_noisy)}
    if X_clean is not None:
        X_clean = _first_samples(X_clean, n)
        if X_clean.shape != X_noisy.shape:
            raise ValueError(f"X_clean must be shaped like X_noisy, {X_noisy.shape}; got "
                             f"{X_clean.shape}.")
        rows["clean"] = X_clean
    value_range = _finite_range(X_noisy if X_clean is None else X_clean)
    return _image_grid(estimator, rows, value_range=value_range)


def plot_loss_curve(estimator) -> Figure:
    """Training loss of every epoch (``loss_curve_``), on a log scale.

    Parameters
    ----------
    estimator : MaskedAutoencoder
        A fitted estimator.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    check_is_fitted(estimator, "loss_curve_")
    loss = np.asarray(estimator.loss_curve_, dtype=float)
    fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
    ax.plot(np.arange(1, len(loss) + 1), loss, marker="o" if len(loss) <= 30 else None)
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title(f"{type(estimator).__name__} training loss")
    ax.grid(True, which="both", alpha=0.3)
    return fig


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "sklearn_mae.plotting needs matplotlib; install it with "
            "pip install 'sklearn-mae[plot]'."
        ) from exc
    return plt


def _image_shape(estimator, caller: str) -> tuple[int, int, int]:
    check_is_fitted(estimator)
    if estimator.image_shape_ is None:
        raise ValueError(
            f"{caller} needs an estimator fitted on images, but this one was fitted on "
            "tabular rows (image_shape_ is None). Fit with image_shape=(H, W) or "
            "(C, H, W) to treat the features as images."
        )
    return estimator.image_shape_


def _first_samples(X, n: int) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if n < 1 or X.ndim < 2 or len(X) == 0:
        raise ValueError(
            f"need n >= 1 and at least one sample in X; got n={n}, X of shape {X.shape}."
        )
    return X[:n]


def _random_pixel_mask(n: int, sample_shape, random_state) -> np.ndarray:
    """Hide each pixel with probability 0.5, all its channels together."""
    channels, height, width = sample_shape
    rng = check_random_state(random_state)
    hidden = rng.random_sample((n, 1, height, width)) < 0.5
    return np.broadcast_to(hidden, (n, channels, height, width))


def _finite_range(X: np.ndarray) -> tuple[float, float]:
    finite = X[np.isfinite(X)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    return low, high if high > low else low + 1.0


def _to_rgb(samples: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """``(n, C, H, W)`` in data units -> ``(n, H, W, 3)`` in [0, 1]; NaN pixels coloured.

    One channel is shown in gray, three as RGB; other channel counts as their mean.
    """
    low, high = value_range
    unit = np.clip((samples - low) / (high - low), 0.0, 1.0)
    missing = np.isnan(unit).any(axis=1)
    if unit.shape[1] != 3:
        unit = np.repeat(unit.mean(axis=1, keepdims=True), 3, axis=1)
    rgb = np.nan_to_num(np.moveaxis(unit, 1, -1))
    rgb[missing] = HIDDEN_COLOUR
    return rgb


def _image_grid(estimator, rows: dict[str, np.ndarray], value_range):
    """One labelled row of images per entry of ``rows``, one column per sample."""
    plt = _pyplot()
    channels, height, width = estimator.image_shape_
    n = len(next(iter(rows.values())))
    cell_w = CELL_INCHES * width / max(height, width)
    cell_h = CELL_INCHES * height / max(height, width)
    fig, axes = plt.subplots(
        len(rows),
        n,
        figsize=(1.3 + n * cell_w, 0.2 + len(rows) * (cell_h + 0.1)),
        squeeze=False,
        layout="constrained",
    )
    for ax_row, (label, X) in zip(axes, rows.items(), strict=True):
        images = _to_rgb(estimator.layout_.to_samples(X), value_range)
        for ax, image in zip(ax_row, images, strict=True):
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        ax_row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    return fig
