"""Input handling shared by every estimator: validation, image layout and scaling.

Data flows one way through this module: ``validate_input`` (numeric arrays, memmaps
and h5py-like datasets are checked and left as they are; other array-likes become a
float array) -> ``resolve_layout`` (how a sample is shaped) -> ``_sources`` reads X a
chunk or batch at a time, shaped ``(k, *sample_shape)`` -> ``Scaler.to_tensor`` (scaled
float32 tensor for the network) and back with ``Scaler.to_numpy`` (network units to
input units, flattened).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import validate_data

MIN_AUTO_IMAGE_FEATURES = 64


@dataclass(frozen=True)
class Layout:
    """How one sample is shaped: as passed by the user and as seen by the network.

    ``sample_shape`` is ``(C, H, W)`` for images and ``(n_features,)`` for tabular data.
    """

    input_shape: tuple[int, ...]
    sample_shape: tuple[int, ...]

    @property
    def is_image(self) -> bool:
        return len(self.sample_shape) == 3

    @property
    def n_features(self) -> int:
        return math.prod(self.sample_shape)

    def to_samples(self, X: np.ndarray) -> np.ndarray:
        """View ``X`` as ``(n, *sample_shape)``, checking it matches the fitted layout."""
        if tuple(X.shape[1:]) != self.input_shape:
            raise ValueError(
                f"X has samples of shape {tuple(X.shape[1:])}, but this estimator was "
                f"fitted on samples of shape {self.input_shape}. Pass data shaped like "
                "the training data."
            )
        return X.reshape(X.shape[0], *self.sample_shape)


def resolve_layout(input_shape: tuple[int, ...], image_shape) -> Layout:
    """Decide whether samples are images, and their ``(C, H, W)``, from the data and params."""
    input_shape = tuple(int(s) for s in input_shape)
    n_features = math.prod(input_shape)
    if isinstance(image_shape, str):  # "auto"
        if len(input_shape) == 3:
            return Layout(input_shape, input_shape)
        if len(input_shape) == 2:
            return Layout(input_shape, (1, *input_shape))
        side = math.isqrt(n_features)
        if n_features >= MIN_AUTO_IMAGE_FEATURES and side * side == n_features:
            return Layout(input_shape, (1, side, side))
        return Layout(input_shape, (n_features,))
    if image_shape is None:
        if len(input_shape) != 1:
            raise ValueError(
                f"image_shape=None treats samples as tabular rows, but X has samples of "
                f"shape {input_shape}. Pass 2-D data or set image_shape='auto'."
            )
        return Layout(input_shape, input_shape)
    if len(image_shape) not in (2, 3) or not all(
        isinstance(side, Integral) and not isinstance(side, bool) and side >= 1
        for side in image_shape
    ):
        raise ValueError(
            f"image_shape must be 'auto', None, (H, W) or (C, H, W) with positive whole "
            f"numbers; got {image_shape!r}."
        )
    shape = tuple(int(side) for side in image_shape)
    sample_shape = shape if len(shape) == 3 else (1, *shape)
    if math.prod(sample_shape) != n_features or (
        len(input_shape) > 1 and input_shape[-2:] != sample_shape[-2:]
    ):
        raise ValueError(
            f"image_shape={image_shape!r} does not match X: its samples have shape "
            f"{input_shape} ({n_features} values) but image_shape holds "
            f"{math.prod(sample_shape)}. Pass the shape of one image, e.g. (28, 28) for "
            "784 features, or leave image_shape='auto'."
        )
    return Layout(input_shape, sample_shape)


def validate_input(estimator, X, *, reset: bool, allow_nan: bool = True) -> np.ndarray:
    """Check X (any array-like, 2-D to 4-D) and return it as a float array.

    float32 input stays float32; anything else becomes float64, so every value of
    an integer, big-endian, nullable or mixed input comes back exactly. Never modifies
    X: a copy is made whenever a conversion is needed, and later stages only read
    from the returned array.
    """
    if is_readable_array(X):
        return validate_array(estimator, X, reset=reset)
    if sp.issparse(X):
        warnings.warn(
            "MaskedAutoencoder needs dense data; sparse X is converted with .toarray(), "
            "which may use a lot of memory.",
            UserWarning,
            stacklevel=3,
        )
        X = X.toarray()
    check_columns_are_numeric(X)
    if not reset and hasattr(estimator, "layout_"):
        check_sample_shape(X, estimator.layout_)
    X = validate_data(
        estimator,
        X,
        reset=reset,
        allow_nd=True,
        dtype=[np.float64, np.float32],  # the first is what other dtypes become
        ensure_all_finite="allow-nan" if allow_nan else True,
        ensure_min_samples=2 if reset else 1,
    )
    if X.ndim > 4:
        raise ValueError(
            f"X has {X.ndim} dimensions; expected 2-D (n_samples, n_features), "
            "3-D (n_samples, H, W) or 4-D (n_samples, C, H, W)."
        )
    return X


def is_readable_array(X) -> bool:
    """A numpy array (memmaps included) or an array-like with ``shape``, ``dtype`` and
    slicing (an h5py dataset) of numbers: read a chunk at a time, never converted whole."""
    if hasattr(X, "columns") or sp.issparse(X) or isinstance(X, (list, tuple)):
        return False
    if not all(hasattr(X, name) for name in ("shape", "dtype", "__getitem__", "__len__")):
        return False
    try:
        return np.dtype(X.dtype).kind in "biuf"
    except TypeError:  # e.g. a torch dtype: converted by scikit-learn instead
        return False


def validate_array(estimator, X, *, reset: bool):
    """scikit-learn's checks of dimensions and sizes without reading X (chunks are checked
    for infinity as they are read); sets ``n_features_in_``."""
    shape = tuple(int(side) for side in X.shape)
    if len(shape) < 2:
        raise ValueError(
            f"Expected 2D array, got {len(shape)}D array instead: shape={shape}. Reshape your "
            "data with X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a "
            "single sample."
        )
    if len(shape) > 4:
        raise ValueError(
            f"X has {len(shape)} dimensions; expected 2-D (n_samples, n_features), "
            "3-D (n_samples, H, W) or 4-D (n_samples, C, H, W)."
        )
    minimum = 2 if reset else 1
    if shape[0] < minimum:
        raise ValueError(f"Found array with {shape[0]} sample(s) (shape={shape}) while a "
                         f"minimum of {minimum} is required.")
    if math.prod(shape[1:]) < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={shape}) while a minimum of "
                         "1 is required.")
    if not reset and hasattr(estimator, "layout_"):
        check_sample_shape(X, estimator.layout_)
    validate_data(estimator, X, reset=reset, skip_check_array=True)
    return X


def output_dtype(X) -> np.dtype:
    """float32 input gives float32 output; every other input float64 (exact for integers)."""
    return np.dtype(np.float32 if np.dtype(X.dtype) == np.float32 else np.float64)


def check_columns_are_numeric(X) -> None:
    """Name the first column of a data frame that cannot be read as numbers."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "columns"):
        return
    for column, dtype in zip(X.columns, dtypes, strict=True):
        if getattr(dtype, "kind", "O") in "biuf":
            continue
        try:
            np.asarray(X[column], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"column {column!r} of X has dtype {dtype} and cannot be read as numbers "
                f"({exc}). Encode it first, e.g. with sklearn.preprocessing.OneHotEncoder or "
                "OrdinalEncoder in a ColumnTransformer, or drop it."
            ) from None


def check_sample_shape(X, layout: Layout) -> None:
    """For image models, before scikit-learn's feature-count check (which speaks of
    features only): name the sample shape the model was fitted on."""
    shape = getattr(X, "shape", None)
    if (not layout.is_image or shape is None or len(shape) < 2
            or tuple(shape[1:]) == layout.input_shape):
        return
    raise ValueError(
        f"X has samples of shape {tuple(shape[1:])}, but this estimator was fitted on "
        f"samples of shape {layout.input_shape} (images of (C, H, W) = {layout.sample_shape})."
        f" Pass data shaped like the training data, e.g. "
        f"X.reshape(-1, {', '.join(map(str, layout.input_shape))})."
    )


class Scaler:
    """Affine input scaling learnt in ``fit``: ``(x - offset) / scale`` into the network and
    back. ``offset`` and ``scale`` are float64, shaped ``(C, 1, 1)`` for images (per-channel
    minimum and range) and ``(n_features,)`` for tables (per-feature mean and standard
    deviation); see ``_sources.scaling_statistics``. The network sees float32, so scaled
    values beyond float32's range are refused rather than turned into inf.
    """

    def __init__(self, offset: np.ndarray, span: np.ndarray, is_image: bool):
        kind = "channel" if is_image else "feature"
        offset = np.asarray(offset, dtype=np.float64)
        span = np.asarray(span, dtype=np.float64)
        if np.isnan(offset).any():
            where = np.flatnonzero(np.isnan(offset.ravel())).tolist()
            raise ValueError(
                f"{kind.capitalize()}(s) {where} are missing (NaN) in every training sample; "
                f"nothing can be learnt about them. Drop those {kind}s or fill them first."
            )
        if not (np.isfinite(offset).all() and np.isfinite(span).all()):
            where = np.flatnonzero(~np.isfinite(span.ravel() + offset.ravel())).tolist()
            raise ValueError(
                f"the values of {kind}(s) {where} are too large to scale in float64 (offset "
                f"{np.max(np.abs(offset)):.3g}, spread {np.max(span):.3g}). Divide X by a "
                "constant first."
            )
        self.offset = offset
        self.scale = np.where(span > 1e-12 * np.maximum(1.0, np.abs(offset)), span, 1.0)

    def to_tensor(self, samples: np.ndarray, device="cpu") -> torch.Tensor:
        """Scale a batch of samples (NaN kept) into a new float32 tensor on ``device``.

        On CUDA the raw samples (uint8 stays uint8) are copied from pinned memory and
        scaled there, in float64 like on the host.
        """
        if torch.device(device).type == "cpu":
            with np.errstate(over="ignore"):
                scaled = torch.from_numpy(
                    ((samples - self.offset) / self.scale).astype(np.float32))
        else:
            raw = torch.from_numpy(np.ascontiguousarray(samples)).pin_memory()
            raw = raw.to(device, non_blocking=True).double()
            offset = torch.as_tensor(self.offset, device=device)
            scaled = ((raw - offset) / torch.as_tensor(self.scale, device=device)).float()
        if torch.isinf(scaled).any():
            raise ValueError(
                "X holds values that, scaled as the training data were, exceed float32's "
                f"range (|x| up to {np.nanmax(np.abs(samples)):.3g}; training offset "
                f"{np.min(self.offset):.3g}, scale {np.max(self.scale):.3g}). Check that X is in "
                "the units of the training data."
            )
        return scaled.contiguous()

    def to_numpy(self, tensor: torch.Tensor, dtype=np.float64) -> np.ndarray:
        """Undo the scaling of network outputs and flatten them to ``(n, n_features)``."""
        values = tensor.detach().to("cpu", torch.float32).numpy() * self.scale + self.offset
        return values.reshape(values.shape[0], -1).astype(dtype, copy=False)
