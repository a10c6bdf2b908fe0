"""MaskedAutoencoder: the scikit-learn face of a masked autoencoder trained by skorch."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted
from skorch.callbacks import ProgressBar

from ._inputs import Layout, Scaler, resolve_layout, validate_input
from ._masking import complementary_masks, patch_grid
from ._modules import ARCHITECTURES
from ._net import MaskedAutoencoderNet, WarmupCosineLR

INFERENCE_BATCH = 1024


def resolve_device(device: str) -> str:
    """``"auto"`` -> CUDA when available, else CPU; other values are checked."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device; use 'auto', 'cpu' or "
                         "'cuda'.") from exc
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available here; "
                         "use device='auto' or 'cpu'.")
    return str(parsed)


class MaskedAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Masked autoencoder as a scikit-learn transformer.

    ``fit`` trains an autoencoder to reconstruct randomly hidden parts of each
    sample from the visible rest (He et al., 2021), drawing a fresh mask for every
    mini-batch. ``transform`` returns the latent vectors, ``inverse_transform``
    decodes them and ``score`` measures how well hidden entries are predicted.
    Images use a convolutional network, tabular rows a multi-layer perceptron.
    Missing values (NaN) are hidden from the encoder and never enter the loss.

    Parameters
    ----------
    latent_dim : int, default=128
        Size of the latent vector returned by ``transform``.
    width : int, default=16
        Base number of channels (conv) or a sixteenth of the hidden units (mlp).
    mask_ratio : float in [0, 1) or "auto", default="auto"
        Fraction of each sample hidden during training. ``0`` trains a plain
        autoencoder. ``"auto"``: 0.5 for the conv model, 0.3 for the mlp (tabular
        rows of a few dozen features keep too little at 0.5), 0.75 for ``"vit"``.
    mask_type : {"pixel", "patch", "auto"}, default="auto"
        Hide single pixels (entries) or square ``patch_size`` patches. Tabular
        data is always masked per entry. ``"auto"``: pixels for the conv and mlp
        models, patches for ``"vit"`` (its encoder then sees the visible patches only).
    patch_size : int, default=4
        Side of the square patches when ``mask_type="patch"``, and of the tokens of
        ``"vit"``; must tile the image.
    loss_on : {"masked", "all"}, default="masked"
        Reconstruction loss on the hidden entries only (as in He et al.) or on all.
    consistency : float or "auto", default="auto"
        Weight of a VICReg loss that asks two views of each image (different masks
        and shifts, see ``max_shift``) to share one latent vector. It makes the conv
        model's features cluster far better, at some cost in reconstruction; ``0``
        trains on reconstruction alone (one view, half the compute per epoch).
        Tabular rows and images too small to shift always train on one view.
        ``"auto"``: 0.04 for the conv and mlp models, 0 for ``"vit"`` (on MNIST-10k
        the transformer's features collapsed under it).
    max_shift : float in [0, 0.5), default=0.075
        Largest random translation of an image view when ``consistency > 0``, as a
        fraction of the shorter image side, rounded down to whole pixels (2 pixels
        for 28x28 images, none for 8x8 ones).
    architecture : {"auto", "conv", "mlp", "vit"}, default="auto"
        ``"auto"`` uses ``"conv"`` for images and ``"mlp"`` for tabular data.
        ``"vit"`` is the vision transformer of He et al. (encoder on the visible
        patches only, light decoder); its sizes are set through ``module_params``.
    module_params : dict or None, default=None
        Extra keyword arguments for the architecture's module (e.g. depths of a
        transformer); validated by the module itself.
    image_shape : "auto", None, (H, W) or (C, H, W), default="auto"
        Shape of one image. ``"auto"`` reads 3-D/4-D input as images and treats 2-D
        input with a perfect-square number of features (at least 64) as square
        one-channel images; ``None`` forces tabular rows.
    max_epochs : int or "auto", default="auto"
        Passes over the training data. ``"auto"``: at least 20, and enough for about
        500 optimiser steps on small data sets (at most 500 passes).
    batch_size : int or "auto", default="auto"
        Mini-batch size for training. ``"auto"``: 128 for the conv and mlp models, 64
        for ``"vit"``.
    lr : float or "auto", default="auto"
        Peak learning rate of AdamW (linear warm-up, then cosine decay). ``"auto"``:
        3e-3 for the conv and mlp models, 1e-3 for ``"vit"``.
    weight_decay : float, default=0.05
        AdamW weight decay.
    device : str, default="auto"
        Torch device; ``"auto"`` picks CUDA when available, else the CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and masks. With an int, two fits on
        the CPU give identical results.
    verbose : int, default=0
        ``1`` or more shows a progress bar and the loss of every epoch.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (e.g. ``EarlyStopping(monitor="train_loss")``).

    Attributes
    ----------
    net_ : MaskedAutoencoderNet
        The fitted skorch net; ``net_.module_`` is the torch module and
        ``net_.history`` the training history.
    loss_curve_ : list of float
        Training loss of every epoch.
    architecture_ : str
        The architecture used (``"conv"``, ``"mlp"`` or ``"vit"``).
    training_params_ : dict
        The ``mask_ratio``, ``mask_type``, ``lr``, ``batch_size`` and ``consistency``
        used, with ``"auto"`` resolved for the architecture.
    image_shape_ : tuple of int or None
        ``(C, H, W)`` of the images, or None for tabular data.
    n_features_in_ : int
        Number of features seen during fit (``X.shape[1]``).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.decomposition.PCA : Linear latent features with ``inverse_transform``.
    sklearn.neural_network.BernoulliRBM : Another stochastic neural feature learner.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_mae import MaskedAutoencoder
    >>> X = load_digits().data
    >>> mae = MaskedAutoencoder(latent_dim=16, max_epochs=2, random_state=0).fit(X)
    >>> mae.transform(X).shape
    (1797, 16)
    >>> mae.inverse_transform(mae.transform(X[:2])).shape
    (2, 64)
    """

    _parameter_constraints: dict = {
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "width": [Interval(Integral, 1, None, closed="left")],
        "mask_ratio": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "mask_type": [StrOptions({"pixel", "patch", "auto"})],
        "patch_size": [Interval(Integral, 1, None, closed="left")],
        "loss_on": [StrOptions({"masked", "all"})],
        "consistency": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "max_shift": [Interval(Real, 0, 0.5, closed="left")],
        "architecture": [StrOptions(set(ARCHITECTURES) | {"auto"})],
        "module_params": [dict, None],
        "image_shape": [StrOptions({"auto"}), tuple, list, None],
        "max_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
    }

    def __init__(
        self,
        *,
        latent_dim: int = 128,
        width: int = 16,
        mask_ratio: float | str = "auto",
        mask_type: str = "auto",
        patch_size: int = 4,
        loss_on: str = "masked",
        consistency: float | str = "auto",
        max_shift: float = 0.075,
        architecture: str = "auto",
        module_params: dict | None = None,
        image_shape="auto",
        max_epochs: int | str = "auto",
        batch_size: int | str = "auto",
        lr: float | str = "auto",
        weight_decay: float = 0.05,
        device: str = "auto",
        random_state=None,
        verbose: int = 0,
        callbacks: list | None = None,
    ):
        self.latent_dim = latent_dim
        self.width = width
        self.mask_ratio = mask_ratio
        self.mask_type = mask_type
        self.patch_size = patch_size
        self.loss_on = loss_on
        self.consistency = consistency
        self.max_shift = max_shift
        self.architecture = architecture
        self.module_params = module_params
        self.image_shape = image_shape
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the masked autoencoder on X (labels are ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or \
(n_samples, C, H, W)
            Training data; NaN marks missing entries.
        y : None
            Ignored.

        Returns
        -------
        self : MaskedAutoencoder
        """
        X = validate_input(self, X, reset=True)
        layout = resolve_layout(X.shape[1:], self.image_shape)
        architecture = self._resolve_architecture(layout)
        training = self._training_params(architecture)
        if layout.is_image and training["mask_type"] == "patch":
            patch_grid(layout.sample_shape[1:], self.patch_size)
        samples = layout.to_samples(X)
        self.scaler_ = Scaler(samples, layout.is_image)
        data = self.scaler_.to_tensor(samples)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

        self.layout_ = layout
        self.architecture_ = architecture
        self.training_params_ = training
        self.image_shape_ = layout.sample_shape if layout.is_image else None
        self.net_ = self._build_net(layout, architecture, training, len(data), seed)
        self.net_.fit(data, None)
        self.loss_curve_ = list(self.net_.history[:, "train_loss"])
        return self

    def _resolve_architecture(self, layout: Layout) -> str:
        if self.architecture == "auto":
            return "conv" if layout.is_image else "mlp"
        if self.architecture == "conv" and not layout.is_image:
            raise ValueError(
                "architecture='conv' needs images, but X was read as tabular rows of "
                f"{layout.n_features} features. Pass image_shape=(H, W) or (C, H, W), "
                "or use architecture='mlp'."
            )
        return self.architecture

    def _training_params(self, architecture: str) -> dict:
        """Masking, step size, batch size and consistency weight used for training:
        ``"auto"`` values take the architecture's ``training_defaults``."""
        defaults = ARCHITECTURES[architecture].training_defaults
        params = {"mask_ratio": self.mask_ratio, "mask_type": self.mask_type, "lr": self.lr,
                  "batch_size": self.batch_size, "consistency": self.consistency}
        return {k: defaults[k] if v == "auto" else v for k, v in params.items()}

    def _build_net(self, layout, architecture: str, training: dict, n_samples: int, seed: int):
        module_params = dict(self.module_params or {})
        if ARCHITECTURES[architecture].uses_patch_size:
            module_params.setdefault("patch_size", self.patch_size)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            try:
                module = ARCHITECTURES[architecture](
                    layout.sample_shape,
                    latent_dim=self.latent_dim,
                    width=self.width,
                    **module_params,
                )
            except TypeError as exc:
                raise ValueError(
                    f"module_params={self.module_params!r} are not accepted by the "
                    f"{architecture!r} architecture ({exc}). Check the parameter names."
                ) from exc
        batches = math.ceil(n_samples / training["batch_size"])
        epochs = self.max_epochs
        if epochs == "auto":
            epochs = min(500, max(20, math.ceil(500 / batches)))
        steps = epochs * batches
        shift = int(self.max_shift * min(layout.sample_shape[1:])) if layout.is_image else 0
        callbacks = [("lr_schedule", WarmupCosineLR(total_steps=steps))]
        if self.verbose:
            callbacks.append(("progress", ProgressBar()))
        callbacks.extend(self.callbacks or [])
        return MaskedAutoencoderNet(
            module,
            optimizer=torch.optim.AdamW,
            optimizer__weight_decay=self.weight_decay,
            lr=training["lr"],
            max_epochs=epochs,
            batch_size=training["batch_size"],
            train_split=None,
            callbacks=callbacks,
            device=resolve_device(self.device),
            verbose=self.verbose,
            mask_ratio=training["mask_ratio"],
            mask_type=training["mask_type"],
            patch_size=self.patch_size,
            loss_on=self.loss_on,
            consistency=training["consistency"],
            max_shift=shift,
            seed=seed,
        )

    # ------------------------------------------------------------ inference
    def _batches(self, X: np.ndarray):
        """Yield scaled ``(x, observed)`` tensors on the net's device, in order."""
        samples = self.layout_.to_samples(X)
        device = self.net_.device
        for start in range(0, len(samples), INFERENCE_BATCH):
            x = self.scaler_.to_tensor(samples[start : start + INFERENCE_BATCH]).to(device)
            observed = ~torch.isnan(x)
            yield torch.nan_to_num(x), observed

    @torch.inference_mode()
    def transform(self, X):
        """Latent features of X: the encoder sees every observed entry (no masking).

        Parameters
        ----------
        X : array-like of the same sample shape as in ``fit``
            NaN entries are treated as hidden.

        Returns
        -------
        Z : ndarray of shape (n_samples, latent_dim)
        """
        check_is_fitted(self)
        X = validate_input(self, X, reset=False)
        module = self.net_.module_.eval()
        parts = [module.encode(x, observed).cpu().numpy() for x, observed in self._batches(X)]
        return np.concatenate(parts).astype(X.dtype, copy=False)

    @torch.inference_mode()
    def inverse_transform(self, X):
        """Decode latent vectors back to data in input units, flattened.

        Parameters
        ----------
        X : array-like of shape (n_samples, latent_dim)

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        Z = check_array(X, dtype=[np.float32, np.float64])
        if Z.shape[1] != self._n_features_out:
            raise ValueError(
                f"inverse_transform expects latent vectors of {self._n_features_out} values "
                f"(the output of transform); got {Z.shape[1]}."
            )
        module = self.net_.module_.eval()
        parts = []
        for start in range(0, len(Z), INFERENCE_BATCH):
            z = torch.as_tensor(Z[start : start + INFERENCE_BATCH], dtype=torch.float32)
            parts.append(self.scaler_.to_numpy(module.decode(z.to(self.net_.device)), Z.dtype))
        return np.concatenate(parts)

    @torch.inference_mode()
    def score_samples(self, X):
        """Minus the mean squared error of each sample's hidden entries, in input units.

        Every sample is scored under the same fixed protocol, independent of the
        estimator's masking parameters and seed: two complementary halves of the
        entries (a fixed random 50% pixel mask and its complement) are hidden in
        turn and predicted from the other half. Missing entries are never scored.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Higher is better; usable as a (negated) anomaly score.
        """
        check_is_fitted(self)
        X = validate_input(self, X, reset=False)
        module = self.net_.module_.eval()
        masks = complementary_masks(self.layout_.sample_shape).to(self.net_.device)
        scale = torch.as_tensor(self.scaler_.scale, device=self.net_.device)
        scores = []
        for x, observed in self._batches(X):
            sq_error = torch.zeros(len(x), device=x.device)
            count = torch.zeros(len(x), device=x.device)
            for hidden in masks:
                recon = module(x, observed & ~hidden)
                scored = (observed & hidden).flatten(1)
                err = (((recon - x) * scale) ** 2).flatten(1)
                sq_error += (err * scored).sum(1)
                count += scored.sum(1)
            scores.append((-sq_error / count.clamp_min(1)).cpu().numpy())
        return np.concatenate(scores).astype(X.dtype, copy=False)

    def score(self, X, y=None):
        """Minus the mean squared error on hidden entries (see ``score_samples``).

        Higher is better, so ``GridSearchCV`` can compare ``mask_ratio`` values directly.
        """
        return float(np.mean(self.score_samples(X)))

    @torch.inference_mode()
    def inpaint(self, X, mask=None):
        """Fill hidden or missing entries of X with the model's reconstruction.

        Parameters
        ----------
        X : array-like of the same sample shape as in ``fit``
            NaN entries are always filled.
        mask : array-like of bool, same shape as X, default=None
            ``True`` marks entries to fill (treated as unseen by the encoder).

        Returns
        -------
        X_filled : ndarray, same shape as X
            Entries not marked are returned unchanged, bit for bit.
        """
        check_is_fitted(self)
        X = validate_input(self, X, reset=False)
        missing = np.isnan(X)
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != X.shape:
                raise ValueError(
                    f"mask must have the same shape as X, {X.shape}; got {mask.shape}."
                )
            if mask.dtype != bool:
                raise TypeError(f"mask must be boolean (True = fill); got dtype {mask.dtype}.")
            missing = missing | mask
        filled = X.copy()
        filled[missing] = np.nan
        recon = self._reconstruct(filled)
        filled[missing] = recon.reshape(X.shape)[missing]
        return filled

    def _reconstruct(self, X: np.ndarray) -> np.ndarray:
        """Reconstruction of X (NaN = unseen) in input units, flattened."""
        module = self.net_.module_.eval()
        parts = [
            self.scaler_.to_numpy(module(x, observed), X.dtype) for x, observed in self._batches(X)
        ]
        return np.concatenate(parts)

    @property
    def _n_features_out(self) -> int:
        return self.net_.module_.latent_dim

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.three_d_array = True
        tags.input_tags.sparse = True  # densified with a warning
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
