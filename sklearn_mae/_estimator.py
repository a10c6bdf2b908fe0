"""The estimators' shared base: parameters, fit, the skorch net, scoring, inpainting, tags.

Data flows one way: ``validate_input`` (checks; arrays are left as they are, other
array-likes become float arrays) -> ``resolve_layout`` (tabular rows or ``(C, H, W)``
images) -> ``_resolve_training`` (every ``"auto"`` setting, in this one place) -> an
``ArraySource`` reading X a chunk or a batch at a time -> ``Scaler`` -> the skorch net ->
back through the scaler to input units, written into one preallocated output.
``MaskedAutoencoder`` adds the latent ``transform`` and ``inverse_transform``;
``MaskedAutoencoderImputer`` adds filling and the indicator.
"""

from __future__ import annotations

import copy
import math
from functools import partial
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import LRScheduler, ProgressBar
from torch.optim.lr_scheduler import LambdaLR

from ._architectures import ARCHITECTURES, Architecture, get_architecture
from ._corruption import NOISES
from ._inputs import (
    Layout,
    Scaler,
    check_sample_shape,
    output_dtype,
    resolve_layout,
    validate_input,
)
from ._masking import complementary_masks, patch_grid
from ._net import FiniteLoss, MaskedAutoencoderNet, warmup_constant, warmup_cosine
from ._sources import ArraySource, scaling_statistics
from ._training import (
    PARTIAL_WARMUP,
    auto_epochs,
    check_callbacks,
    inference,
    keep_state_on_failure,
    prepare_module,
    resolve_device,
    steps_per_epoch,
    train,
)

# float32 input per inference chunk: the network's activations are some hundred times
# larger (about 100 MB for 28x28 images at the default width), whatever the data's size
INFERENCE_BYTES = 2**20


def check_finite_output(values: np.ndarray, method: str) -> None:
    """A NaN or inf from the network never leaves the estimator silently."""
    if not np.isfinite(values).all():
        raise FloatingPointError(
            f"{method} produced non-finite values: the network's output overflowed or the "
            "model holds non-finite weights. Check that X is in the units of the training "
            "data, or refit with a lower lr."
        )


class _BaseMaskedAutoencoder(BaseEstimator):
    """Fit, scoring and inpainting shared by the estimators; not for direct use.

    The parameters are documented on :class:`MaskedAutoencoder`.
    """

    # what each architecture's "auto" settings resolve to for this estimator
    _architectures: dict[str, Architecture] = ARCHITECTURES

    _parameter_constraints: dict = {
        "latent_dim": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "width": [Interval(Integral, 1, None, closed="left")],
        "mask_ratio": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "mask_type": [StrOptions({"pixel", "patch", "auto"})],
        "patch_size": [Interval(Integral, 1, None, closed="left")],
        "loss_on": [StrOptions({"masked", "all"})],
        "consistency": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "max_shift": [Interval(Real, 0, 0.5, closed="left")],
        "max_rotation": [Interval(Real, 0, 180, closed="both")],
        "max_zoom": [Interval(Real, 0, 1, closed="left")],
        "noise": [StrOptions({"auto", *NOISES}), callable, None],
        "noise_level": [Interval(Real, 0, None, closed="left")],
        "architecture": [StrOptions(set(ARCHITECTURES) | {"auto"}), type, Architecture],
        "module_params": [dict, None],
        "image_shape": [StrOptions({"auto"}), tuple, list, None],
        "max_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        # BatchNorm needs two samples: a batch of one is dropped in training
        "batch_size": [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"})],
        "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
        "precision": [StrOptions({"auto", "float32", "bfloat16"})],
        "compile": ["boolean"],
    }

    def __init__(
        self,
        *,
        latent_dim: int | str = "auto",
        width: int = 16,
        mask_ratio: float | str = "auto",
        mask_type: str = "auto",
        patch_size: int = 4,
        loss_on: str = "masked",
        consistency: float | str = "auto",
        max_shift: float = 0.075,
        max_rotation: float = 25.0,
        max_zoom: float = 0.15,
        noise="auto",
        noise_level: float = 0.2,
        architecture="auto",
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
        precision: str = "auto",
        compile: bool = False,
    ):
        self.latent_dim = latent_dim
        self.width = width
        self.mask_ratio = mask_ratio
        self.mask_type = mask_type
        self.patch_size = patch_size
        self.loss_on = loss_on
        self.consistency = consistency
        self.max_shift = max_shift
        self.max_rotation = max_rotation
        self.max_zoom = max_zoom
        self.noise = noise
        self.noise_level = noise_level
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
        self.precision = precision
        self.compile = compile

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
        self : object
            The fitted estimator.
        """
        with keep_state_on_failure(self):
            self._fit(validate_input(self, X, reset=True))
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One pass over X, continuing the training of the previous calls.

        The first call (on an unfitted estimator) fixes the layout and the input
        scaling from its X; later calls need samples of the same shape. The
        learning rate warms up linearly over the first 100 optimiser steps and then
        stays at ``lr`` (there is no end to decay towards); ``fit`` starts afresh.
        Used by ``dask_ml.wrappers.Incremental`` to train block by block.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or \
(n_samples, C, H, W)
            A block of training data; NaN marks missing entries.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The estimator, trained one more pass.
        """
        first = not hasattr(self, "net_")
        with keep_state_on_failure(self):
            X = validate_input(self, X, reset=first)
            if first:
                source = self._start_partial_fit(X)
            else:
                self._check_partial_fit_matches(X)
                source = self._source(X, self.layout_)
                self.net_ = copy.deepcopy(self.net_)  # a failed pass leaves the last model
                # no statistics pass over this block: only integers are known complete
                self.net_.complete_data = source.missing_value is None and not source.is_float
            train(self.net_, source, self.scaler_, epochs=1)
            self.loss_curve_ = list(self.net_.history[:, "train_loss"])
            self.n_samples_seen_ = getattr(self, "n_samples_seen_", 0) + len(source)
            self.n_iter_ = getattr(self, "n_iter_", 0) + 1
            self._after_pass(source, first)
        return self

    def _source(self, X, layout: Layout) -> ArraySource:
        """How X is read; the imputer reads its placeholder as NaN."""
        return ArraySource(X, layout)

    def _after_pass(self, source: ArraySource, first: bool) -> None:
        """Hook for what a subclass learns from a pass over the data (the imputer's indicator)."""

    def _fit(self, X) -> None:
        layout = resolve_layout(X.shape[1:], self.image_shape)
        architecture = self._resolve_architecture(layout)
        training = self._resolve_training(architecture, layout, len(X))
        source = self._source(X, layout)
        scaler = Scaler(*scaling_statistics(source), layout.is_image)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        net = self._build_net(architecture, layout, training, len(X), seed)
        net.complete_data = not source.seen_missing.any()
        prepare_module(net.module, source, scaler, seed)
        train(net, source, scaler)

        self.layout_ = layout
        self.scaler_ = scaler
        self.architecture_ = architecture.name
        self.training_params_ = training
        self.image_shape_ = layout.sample_shape if layout.is_image else None
        self.net_ = net
        self.loss_curve_ = list(net.history[:, "train_loss"])
        self.n_samples_seen_ = len(X)
        self.n_iter_ = len(net.history)
        self._after_pass(source, first=True)

    def _start_partial_fit(self, X) -> ArraySource:
        """Layout, scaler and a fresh net for the first ``partial_fit`` call."""
        layout = resolve_layout(X.shape[1:], self.image_shape)
        architecture = self._resolve_architecture(layout)
        # one pass per call, however small the block
        training = {**self._resolve_training(architecture, layout, len(X)), "max_epochs": 1,
                    "epoch_steps": 1, "lr_schedule": "warmup-constant"}
        source = self._source(X, layout)
        self.scaler_ = Scaler(*scaling_statistics(source), layout.is_image)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self.net_ = self._build_net(architecture, layout, training, len(X), seed).initialize()
        self.net_.complete_data = not source.seen_missing.any()
        prepare_module(self.net_.module_, source, self.scaler_, seed)
        self.layout_ = layout
        self.architecture_ = architecture.name
        self.training_params_ = training
        self.image_shape_ = layout.sample_shape if layout.is_image else None
        return source

    def _check_partial_fit_matches(self, X) -> None:
        check_sample_shape(X, self.layout_)
        architecture = self._resolve_architecture(self.layout_).name
        if architecture != self.architecture_:
            raise ValueError(
                f"partial_fit continues the {self.architecture_!r} model trained so far, but "
                f"architecture now gives {architecture!r}. Set it back, or call fit to start "
                "afresh."
            )

    def _resolve_architecture(self, layout: Layout) -> Architecture:
        if isinstance(self.architecture, str) and self.architecture == "auto":
            return self._architectures["conv" if layout.is_image else "mlp"]
        architecture = get_architecture(self.architecture, self._architectures)
        if architecture.images_only and not layout.is_image:
            raise ValueError(
                f"architecture={architecture.name!r} needs images, but X was read as tabular "
                f"rows of {layout.n_features} features. Pass image_shape=(H, W) or "
                "(C, H, W), or use architecture='mlp'."
            )
        return architecture

    def _resolve_training(self, architecture: Architecture, layout: Layout,
                          n_samples: int) -> dict:
        """Every training setting as used: each ``"auto"`` resolved, here and nowhere else."""
        chosen = {"latent_dim": self.latent_dim, "mask_ratio": self.mask_ratio,
                  "mask_type": self.mask_type, "lr": self.lr, "batch_size": self.batch_size,
                  "consistency": self.consistency, "noise": self.noise}
        training = {key: getattr(architecture, key)
                    if isinstance(value, str) and value == "auto" else value
                    for key, value in chosen.items()}
        if self.noise == "auto" and not layout.is_image:  # an architecture's noise is for
            training["noise"] = None                        # images (the vit reads rows too)
        if not layout.is_image and training["noise"] in ("salt_pepper", "mixed"):
            raise ValueError(
                f"noise={training['noise']!r} is for images, but X was read as tabular rows. "
                "Use noise='gaussian' (in units of each column's standard deviation), a "
                "callable, or None."
            )
        if layout.is_image and training["mask_type"] == "patch":
            patch_grid(layout.sample_shape[1:], self.patch_size)
        n_batches = math.ceil(n_samples / training["batch_size"])
        device = resolve_device(self.device)
        shift = int(self.max_shift * min(layout.sample_shape[1:])) if layout.is_image else 0
        epoch_steps = architecture.epoch_steps
        return {
            **training,
            "patch_size": self.patch_size,
            "max_epochs": (auto_epochs(n_batches, epoch_steps, architecture.auto_steps,
                                       architecture.auto_passes)
                           if self.max_epochs == "auto" else self.max_epochs),
            "epoch_steps": epoch_steps,
            "visible_weight": architecture.visible_weight,
            "max_shift": shift,  # in pixels
            "max_rotation": self.max_rotation,
            "max_zoom": self.max_zoom,
            "noise_level": self.noise_level,
            "device": device,
            "precision": ("bfloat16" if device.startswith("cuda") else "float32")
            if self.precision == "auto" else self.precision,
            "lr_schedule": "warmup-cosine",
        }

    def _build_net(self, architecture: Architecture, layout: Layout, training: dict,
                   n_samples: int, seed: int) -> MaskedAutoencoderNet:
        module_params = dict(self.module_params or {})
        # an explicit size is built as given (so a saved file whose weights do not fit its
        # params is refused); "auto" as resolved for this fit, or by the architecture for
        # settings saved before the latent size was recorded
        latent_dim = self.latent_dim if self.latent_dim != "auto" else \
            training.get("latent_dim", ARCHITECTURES.get(architecture.name,
                                                         architecture).latent_dim)
        if architecture.uses_patch_size:
            module_params.setdefault("patch_size", training["patch_size"])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = architecture.build(layout.sample_shape, latent_dim, self.width,
                                        module_params)
        # settings saved before they existed read as their old behaviour
        epoch_steps = steps_per_epoch(math.ceil(n_samples / training["batch_size"]),
                                      training.get("epoch_steps", 1))
        if training["lr_schedule"] == "warmup-cosine":
            steps = training["max_epochs"] * epoch_steps
            factor = partial(warmup_cosine, total_steps=steps)
        else:
            factor = partial(warmup_constant, warmup_steps=PARTIAL_WARMUP)
        schedule = LRScheduler(LambdaLR, lr_lambda=factor, step_every="batch", last_epoch=-1)
        callbacks = [("lr_schedule", schedule), ("finite_loss", FiniteLoss())]
        if self.verbose:
            callbacks.append(("progress", ProgressBar()))
        callbacks.extend(check_callbacks(self.callbacks or []))
        return MaskedAutoencoderNet(
            module,
            optimizer=torch.optim.AdamW,
            optimizer__weight_decay=self.weight_decay,
            # one kernel for the whole update instead of several per parameter: on the CPU
            # too (torch >= 2.4), where it was 3.5x faster than foreach for both the mlp
            # and the conv model (0.13 against 0.44 ms, 1.4 against 4.9 ms a step)
            optimizer__fused=True,
            lr=training["lr"],
            max_epochs=training["max_epochs"],
            batch_size=training["batch_size"],
            train_split=None,
            callbacks=callbacks,
            device=training["device"],
            verbose=self.verbose,
            mask_ratio=training["mask_ratio"],
            mask_type=training["mask_type"],
            patch_size=training["patch_size"],
            loss_on=self.loss_on,
            visible_weight=training.get("visible_weight", 0.0),
            epoch_steps=training.get("epoch_steps", 1),
            consistency=training["consistency"],
            max_shift=training["max_shift"],
            max_rotation=training["max_rotation"],
            max_zoom=training["max_zoom"],
            noise=training["noise"] if callable(training["noise"]) or training["noise_level"]
            else None,
            noise_level=training["noise_level"],
            seed=seed,
            precision=training["precision"],
            compile_step=self.compile,
        )

    # ------------------------------------------------------------ inference
    def _inference_rows(self) -> int:
        """Samples per inference chunk: ``INFERENCE_BYTES`` of float32 input."""
        return max(1, INFERENCE_BYTES // (4 * self.layout_.n_features))

    def _batches(self, X):
        """``(start, stop, x, observed)`` for X in order: scaled tensors on the net's device,
        a chunk of ``_inference_rows()`` samples at a time, NaN replaced by zeros."""
        device = self.net_.device
        for start, stop, samples in self._source(X, self.layout_).chunks(self._inference_rows()):
            x = self.scaler_.to_tensor(samples, device)
            observed = ~torch.isnan(x)
            yield start, stop, torch.nan_to_num(x), observed

    @inference
    def score_samples(self, X):
        """Minus the mean squared error of each sample's hidden entries, in input units.

        Every sample is scored under the same fixed protocol, independent of the
        estimator's masking parameters and seed: two complementary halves of the
        entries (a fixed random 50% pixel mask and its complement) are hidden in
        turn and predicted from the other half. Missing entries are never scored.

        Parameters
        ----------
        X : array-like of the same sample shape as in ``fit``
            NaN marks missing entries.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Higher is better; usable as a (negated) anomaly score. NaN for a sample
            with nothing to score: fewer than two observed entries, or all of them in
            one half of the protocol's mask.
        """
        check_is_fitted(self)
        X = validate_input(self, X, reset=False)
        module = self.net_.module_.eval()
        device = self.net_.device
        masks = complementary_masks(self.layout_.sample_shape).to(device)
        # errors are squared in network units (float32, near 1) and brought to input
        # units in float64, where large inputs cannot overflow
        unit = torch.as_tensor(self.scaler_.scale, device=device, dtype=torch.float64) ** 2
        scores = np.empty(len(X), dtype=output_dtype(X))
        for start, stop, x, observed in self._batches(X):
            sq_error = torch.zeros(len(x), device=x.device, dtype=torch.float64)
            count = torch.zeros(len(x), device=x.device, dtype=torch.float64)
            for hidden in masks:
                scored = observed & hidden
                err = (module(x, observed & ~hidden) - x) ** 2
                sq_error += (torch.where(scored, err, 0) * unit).flatten(1).sum(1)
                count += scored.expand_as(err).flatten(1).sum(1)
            scores[start:stop] = (-sq_error / count).cpu().numpy()  # 0 / 0: nothing scored
        return scores

    def score(self, X, y=None) -> float:
        """Minus the mean squared error on hidden entries (see ``score_samples``).

        Higher is better, so ``GridSearchCV`` can compare ``mask_ratio`` values directly.
        Samples with nothing to score (NaN in ``score_samples``) are left out.

        Parameters
        ----------
        X : array-like of the same sample shape as in ``fit``
            NaN marks missing entries.
        y : None
            Ignored.

        Returns
        -------
        score : float
            The mean of ``score_samples(X)`` over the samples that could be scored.
        """
        scores = self.score_samples(X)
        if np.isnan(scores).all():
            raise ValueError(
                "no sample of X has entries to score: each needs observed (not NaN) entries "
                "in both halves of the scoring mask. Pass samples with fewer missing values."
            )
        return float(np.nanmean(scores))

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
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != X.shape:
                raise ValueError(
                    f"mask must have the same shape as X, {X.shape}; got {mask.shape}."
                )
            if mask.dtype != bool:
                raise TypeError(f"mask must be boolean (True = fill); got dtype {mask.dtype}.")
        return self._fill(X, mask)

    @inference
    def denoise(self, X):
        """The model's reconstruction of every entry of X, in input units.

        The encoder sees every observed entry; the output replaces each of them by what
        the model predicts there, and fills the missing ones (NaN). A model trained with
        ``noise`` (the default trains with mild noise of both kinds on images) removes
        noise of that kind up to ``noise_level``; train with ``noise`` and
        ``noise_level`` set to the noise of your data for the best restoration.

        Parameters
        ----------
        X : array-like of the same sample shape as in ``fit``
            Noisy samples; NaN marks missing entries.

        Returns
        -------
        X_denoised : ndarray, same shape as X
            float32 for float32 input, float64 otherwise.
        """
        check_is_fitted(self)
        X = validate_input(self, X, reset=False)
        out = np.empty((len(X), self.layout_.n_features), output_dtype(X))
        module = self.net_.module_.eval()
        for start, stop, x, observed in self._batches(X):
            out[start:stop] = self.scaler_.to_numpy(module(x, observed), out.dtype)
            check_finite_output(out[start:stop], "denoise")
        return out.reshape(X.shape)

    @inference
    def _fill(self, X, mask: np.ndarray | None = None, out: np.ndarray | None = None):
        """X (float32 stays float32, anything else float64) with its missing and ``mask``-ed
        entries replaced by the reconstruction, written a chunk at a time into ``out``
        (a new ``(n, n_features)`` array by default), and shaped like X."""
        n_features = self.layout_.n_features
        filled = np.empty((len(X), n_features), output_dtype(X)) if out is None else out
        masks = None if mask is None else mask.reshape(len(X), n_features)
        module = self.net_.module_.eval()
        device = self.net_.device
        for start, stop, samples in self._source(X, self.layout_).chunks(self._inference_rows()):
            values = samples.reshape(stop - start, n_features).astype(filled.dtype)
            missing = np.isnan(values)
            if masks is not None:
                missing |= masks[start:stop]
            if missing.any():
                hidden = np.where(missing, np.nan, values).reshape(samples.shape)
                x = self.scaler_.to_tensor(hidden, device)
                recon = module(torch.nan_to_num(x), ~torch.isnan(x))
                recon = self.scaler_.to_numpy(recon, filled.dtype)
                check_finite_output(recon[missing], "inpaint")
                values[missing] = recon[missing]
            filled[start:stop] = values
        return filled if out is not None else filled.reshape(X.shape)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.three_d_array = True
        tags.input_tags.sparse = True  # densified with a warning
        return tags
