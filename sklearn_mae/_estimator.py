"""The estimators' shared base: parameters, fit, the skorch net, scoring, inpainting, tags.

Data flows one way: ``_validate`` (array-likes to a float array, NaN = missing) ->
``resolve_layout`` (tabular rows or ``(C, H, W)`` images) -> ``_resolve_training`` (every
``"auto"`` setting, in this one place) -> ``Scaler`` -> the skorch net -> back through
the scaler to input units. ``MaskedAutoencoder`` adds the latent ``transform`` and
``inverse_transform``; ``MaskedAutoencoderImputer`` adds filling and the indicator.
"""

from __future__ import annotations

import math
import signal
import threading
from contextlib import contextmanager
from functools import partial
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback, LRScheduler, ProgressBar
from torch.optim.lr_scheduler import LambdaLR

from ._architectures import ARCHITECTURES, Architecture, get_architecture
from ._inputs import Layout, Scaler, resolve_layout, validate_input
from ._masking import complementary_masks, patch_grid
from ._net import FiniteLoss, MaskedAutoencoderNet, warmup_cosine

INFERENCE_BATCH = 1024
AUTO_EPOCHS_MIN, AUTO_EPOCHS_MAX, AUTO_STEPS = 20, 500, 500


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


@contextmanager
def keep_state_on_failure(estimator):
    """Leave ``estimator`` as it was (unfitted, or the previous model) if the block raises,
    Ctrl-C included: a fit either completes or changes nothing."""
    fitted = {k: v for k, v in vars(estimator).items() if k.endswith("_")}
    try:
        yield
    except BaseException:
        for key in [k for k in vars(estimator) if k.endswith("_")]:
            delattr(estimator, key)
        vars(estimator).update(fitted)
        raise


@contextmanager
def user_interrupts():
    """Yield a list that records a Ctrl-C (SIGINT) while the block runs.

    skorch ends training quietly on any ``KeyboardInterrupt``, and its ``EarlyStopping``
    raises one to stop; watching the signal itself tells a user's Ctrl-C, which must
    propagate, from a callback's request to stop, which ends a normal fit.
    """
    seen: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield seen  # signals only reach the main thread
        return
    previous = signal.getsignal(signal.SIGINT)

    def record(signum, frame):
        if previous is signal.SIG_IGN:
            return
        seen.append(True)
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, record)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, previous)


def auto_epochs(n_batches: int) -> int:
    """At least 20 passes, and enough for about 500 optimiser steps (at most 500 passes)."""
    return min(AUTO_EPOCHS_MAX, max(AUTO_EPOCHS_MIN, math.ceil(AUTO_STEPS / n_batches)))


def check_callbacks(callbacks: list) -> list:
    """skorch callbacks, or ``(name, callback)`` pairs; anything else is refused here."""
    for entry in callbacks:
        callback = entry[1] if isinstance(entry, tuple) and len(entry) == 2 else entry
        if not isinstance(callback, Callback):
            raise TypeError(
                f"callbacks must hold skorch callbacks (instances of skorch.callbacks.Callback, "
                f"e.g. EarlyStopping(monitor='train_loss')) or (name, callback) pairs; got "
                f"{entry!r}."
            )
    return callbacks


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

    _parameter_constraints: dict = {
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "width": [Interval(Integral, 1, None, closed="left")],
        "mask_ratio": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "mask_type": [StrOptions({"pixel", "patch", "auto"})],
        "patch_size": [Interval(Integral, 1, None, closed="left")],
        "loss_on": [StrOptions({"masked", "all"})],
        "consistency": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "max_shift": [Interval(Real, 0, 0.5, closed="left")],
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
        self : object
            The fitted estimator.
        """
        with keep_state_on_failure(self):
            return self._fit(self._validate(X, reset=True))

    def _validate(self, X, reset: bool) -> np.ndarray:
        """X as a float array in which NaN marks every missing entry."""
        return validate_input(self, X, reset=reset)

    def _fit(self, X: np.ndarray):
        layout = resolve_layout(X.shape[1:], self.image_shape)
        architecture = self._resolve_architecture(layout)
        training = self._resolve_training(architecture, layout, len(X))
        samples = layout.to_samples(X)
        scaler = Scaler(samples, layout.is_image)
        data = scaler.to_tensor(samples)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        net = self._build_net(architecture, layout, training, len(data), seed)
        with user_interrupts() as interrupted:
            net.fit(data, None)
        if interrupted:
            raise KeyboardInterrupt

        self.layout_ = layout
        self.scaler_ = scaler
        self.architecture_ = architecture.name
        self.training_params_ = training
        self.image_shape_ = layout.sample_shape if layout.is_image else None
        self.net_ = net
        self.loss_curve_ = list(net.history[:, "train_loss"])
        return self

    def _resolve_architecture(self, layout: Layout) -> Architecture:
        if isinstance(self.architecture, str) and self.architecture == "auto":
            return ARCHITECTURES["conv" if layout.is_image else "mlp"]
        architecture = get_architecture(self.architecture)
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
        chosen = {"mask_ratio": self.mask_ratio, "mask_type": self.mask_type, "lr": self.lr,
                  "batch_size": self.batch_size, "consistency": self.consistency}
        training = {key: getattr(architecture, key) if value == "auto" else value
                    for key, value in chosen.items()}
        if layout.is_image and training["mask_type"] == "patch":
            patch_grid(layout.sample_shape[1:], self.patch_size)
        n_batches = math.ceil(n_samples / training["batch_size"])
        shift = int(self.max_shift * min(layout.sample_shape[1:])) if layout.is_image else 0
        return {
            **training,
            "patch_size": self.patch_size,
            "max_epochs": auto_epochs(n_batches) if self.max_epochs == "auto" else self.max_epochs,
            "max_shift": shift,  # in pixels
            "device": resolve_device(self.device),
        }

    def _build_net(self, architecture: Architecture, layout: Layout, training: dict,
                   n_samples: int, seed: int) -> MaskedAutoencoderNet:
        module_params = dict(self.module_params or {})
        if architecture.uses_patch_size:
            module_params.setdefault("patch_size", training["patch_size"])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = architecture.build(layout.sample_shape, self.latent_dim, self.width,
                                        module_params)
        steps = training["max_epochs"] * math.ceil(n_samples / training["batch_size"])
        schedule = LRScheduler(LambdaLR, lr_lambda=partial(warmup_cosine, total_steps=steps),
                               step_every="batch")
        callbacks = [("lr_schedule", schedule), ("finite_loss", FiniteLoss())]
        if self.verbose:
            callbacks.append(("progress", ProgressBar()))
        callbacks.extend(check_callbacks(self.callbacks or []))
        return MaskedAutoencoderNet(
            module,
            optimizer=torch.optim.AdamW,
            optimizer__weight_decay=self.weight_decay,
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
            consistency=training["consistency"],
            max_shift=training["max_shift"],
            seed=seed,
        )

    # ------------------------------------------------------------ inference
    def _batches(self, X: np.ndarray):
        """Yield scaled ``(x, observed)`` tensors on the net's device, in order."""
        samples = self.layout_.to_samples(X)
        device = self.net_.device
        for batch in gen_batches(len(samples), INFERENCE_BATCH):
            x = self.scaler_.to_tensor(samples[batch]).to(device)
            observed = ~torch.isnan(x)
            yield torch.nan_to_num(x), observed

    @torch.inference_mode()
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
        X = self._validate(X, reset=False)
        module = self.net_.module_.eval()
        device = self.net_.device
        masks = complementary_masks(self.layout_.sample_shape).to(device)
        # errors are squared in network units (float32, near 1) and brought to input
        # units in float64, where large inputs cannot overflow
        unit = torch.as_tensor(self.scaler_.scale, device=device, dtype=torch.float64) ** 2
        scores = []
        for x, observed in self._batches(X):
            sq_error = torch.zeros(len(x), device=x.device, dtype=torch.float64)
            count = torch.zeros(len(x), device=x.device, dtype=torch.float64)
            for hidden in masks:
                scored = observed & hidden
                err = (module(x, observed & ~hidden) - x) ** 2
                sq_error += (torch.where(scored, err, 0) * unit).flatten(1).sum(1)
                count += scored.expand_as(err).flatten(1).sum(1)
            scores.append((-sq_error / count).cpu().numpy())  # 0 / 0 -> NaN: nothing scored
        return np.concatenate(scores).astype(X.dtype, copy=False)

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
        X = self._validate(X, reset=False)
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
        return self._fill(X, missing)

    @torch.inference_mode()
    def _fill(self, X: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """A copy of X with the ``missing`` entries replaced by the reconstruction."""
        filled = X.copy()
        filled[missing] = np.nan
        module = self.net_.module_.eval()
        recon = np.concatenate([self.scaler_.to_numpy(module(x, observed), X.dtype)
                                for x, observed in self._batches(filled)])
        filled[missing] = recon.reshape(X.shape)[missing]
        check_finite_output(filled, "inpaint")
        return filled

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.three_d_array = True
        tags.input_tags.sparse = True  # densified with a warning
        return tags
