"""MaskedAutoencoderImputer: fill missing entries by treating them as masked ones."""

from __future__ import annotations

import numpy as np
from sklearn.base import OneToOneFeatureMixin, TransformerMixin
from sklearn.impute import MissingIndicator
from sklearn.utils._param_validation import MissingValues
from sklearn.utils.validation import check_is_fitted

from ._architectures import IMPUTER_ARCHITECTURES
from ._estimator import _BaseMaskedAutoencoder
from ._inputs import output_dtype, validate_input
from ._sources import ArraySource


def fitted_indicator(seen_missing: np.ndarray) -> MissingIndicator:
    """A ``MissingIndicator`` of the features in ``seen_missing``, fitted without a second
    pass over the data: on one row missing exactly there."""
    row = np.where(seen_missing, np.nan, 0.0)[None]
    return MissingIndicator(error_on_new=False).fit(row)


class MaskedAutoencoderImputer(OneToOneFeatureMixin, TransformerMixin, _BaseMaskedAutoencoder):
    """Impute missing values with a masked autoencoder (as in ReMasker, ICLR 2024).

    Missing entries are hidden from the encoder and never enter the loss; during
    training a random share of the *observed* entries is hidden as well, so the
    network learns to predict entries it cannot see. ``transform`` returns X with
    the missing entries filled and every observed entry unchanged, bit for bit.
    Images use the conv model, tabular rows the MLP, as in :class:`MaskedAutoencoder`.

    Parameters
    ----------
    missing_values : float, int or None, default=np.nan
        The placeholder for missing entries; NaN is always treated as missing too.
    add_indicator : bool, default=False
        Append a :class:`~sklearn.impute.MissingIndicator` of the features that
        had missing values during fit.
    latent_dim : int or "auto", default="auto"
        Size of the network's latent vector; ``"auto"``: 128 (the imputer gives no
        features, so the conv model's code is a quarter of :class:`MaskedAutoencoder`'s).
    width : int, default=16
        Base number of channels (conv) or an eighth of the hidden units (mlp).
    mask_ratio : float in [0, 1) or "auto", default="auto"
        Share of the observed entries hidden in training; ``"auto"``: 0.5 (conv),
        0.2 (mlp), 0.75 (vit).
    mask_type : {"pixel", "patch", "auto"}, default="auto"
        Hide single entries or square ``patch_size`` patches; ``"auto"``: pixels
        (conv, mlp), patches (vit).
    patch_size : int, default=4
        Side of the hidden patches and of the vit's tokens; must tile the image.
    loss_on : {"masked", "all"}, default="masked"
        Loss on the hidden entries only, or on every observed entry. The mlp adds
        the visible entries' error at half weight to ``"masked"`` (as ReMasker does).
    consistency : float or "auto", default=0.0
        Weight of the two-view VICReg loss of :class:`MaskedAutoencoder`; off by
        default here, as it helps clustering, not filling in.
    max_shift : float in [0, 0.5), default=0.075
        Largest shift of an image view when ``consistency > 0``, as a share of the side.
    max_rotation : float in [0, 180], default=25.0
        Largest rotation (degrees) of an image view when ``consistency > 0``.
    max_zoom : float in [0, 1), default=0.15
        Largest zoom (relative) of an image view when ``consistency > 0``.
    noise : {"auto", "gaussian", "salt_pepper", "mixed"}, callable or None, default=None
        Corruption of the visible entries in training; see :class:`MaskedAutoencoder`.
        Off by default here: noise in training makes fills smoother.
    noise_level : float, default=0.2
        Largest noise level drawn per sample; see :class:`MaskedAutoencoder`.
    architecture : {"auto", "conv", "mlp", "vit"}, module class or Architecture, \
default="auto"
        The network; see :class:`MaskedAutoencoder`.
    module_params : dict or None, default=None
        Extra keyword arguments for the architecture's module.
    image_shape : "auto", None, (H, W) or (C, H, W), default="auto"
        Shape of one image; ``None`` forces tabular rows.
    max_epochs : int or "auto", default="auto"
        Epochs; ``"auto"``: about 750 optimiser steps and at least one pass (conv);
        otherwise at least 20 passes and about 500 steps (vit) or 150 (mlp, whose
        epochs are at least 25 steps, from several passes if the table is small).
    batch_size : int or "auto", default="auto"
        ``"auto"``: 32 (conv: on the CPU a short fit gains more from more steps than
        from larger ones), 256 (mlp), 64 (vit).
    lr : float or "auto", default="auto"
        Peak AdamW learning rate; ``"auto"``: 3e-3 (conv), 1e-2 (mlp), 1e-3 (vit).
    weight_decay : float, default=0.05
        AdamW weight decay.
    device : str, default="auto"
        Torch device; ``"auto"`` picks CUDA when available.
    random_state : int, RandomState instance or None, default=None
        Seeds weights, shuffling and masks.
    verbose : int, default=0
        ``1`` or more shows a progress bar and the loss of every epoch.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Training precision; ``"auto"``: bf16 autocast on CUDA, float32 on the CPU.
    compile : bool, default=False
        Compile the training step with ``torch.compile``.

    Attributes
    ----------
    indicator_ : MissingIndicator or None
        The fitted indicator when ``add_indicator=True``.
    net_, loss_curve_, architecture_, training_params_, image_shape_
        As for :class:`MaskedAutoencoder`.
    n_samples_seen_, n_iter_ : int
        Samples trained on and passes over the data, as for :class:`MaskedAutoencoder`.
    n_features_in_ : int
        Number of features seen during fit (``X.shape[1]``).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    MaskedAutoencoder : The same model as a feature extractor.
    sklearn.impute.KNNImputer : Nearest-neighbour imputation.
    sklearn.impute.IterativeImputer : Round-robin regression imputation.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_wine
    >>> from sklearn_mae import MaskedAutoencoderImputer
    >>> X = load_wine().data
    >>> X_missing = X.copy()
    >>> X_missing[np.random.default_rng(0).random(X.shape) < 0.2] = np.nan
    >>> imputer = MaskedAutoencoderImputer(max_epochs=2, random_state=0)
    >>> filled = imputer.fit_transform(X_missing)
    >>> bool(np.isnan(filled).any())
    False
    """

    _architectures = IMPUTER_ARCHITECTURES

    _parameter_constraints: dict = {
        **_BaseMaskedAutoencoder._parameter_constraints,
        "missing_values": [MissingValues(numeric_only=True)],
        "add_indicator": ["boolean"],
    }

    def __init__(
        self,
        *,
        missing_values=np.nan,
        add_indicator: bool = False,
        latent_dim: int | str = "auto",
        width: int = 16,
        mask_ratio: float | str = "auto",
        mask_type: str = "auto",
        patch_size: int = 4,
        loss_on: str = "masked",
        consistency: float | str = 0.0,
        max_shift: float = 0.075,
        max_rotation: float = 25.0,
        max_zoom: float = 0.15,
        noise=None,
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
        super().__init__(
            latent_dim=latent_dim,
            width=width,
            mask_ratio=mask_ratio,
            mask_type=mask_type,
            patch_size=patch_size,
            loss_on=loss_on,
            consistency=consistency,
            max_shift=max_shift,
            max_rotation=max_rotation,
            max_zoom=max_zoom,
            noise=noise,
            noise_level=noise_level,
            architecture=architecture,
            module_params=module_params,
            image_shape=image_shape,
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            device=device,
            random_state=random_state,
            verbose=verbose,
            callbacks=callbacks,
            precision=precision,
            compile=compile,
        )
        self.missing_values = missing_values
        self.add_indicator = add_indicator

    def _source(self, X, layout) -> ArraySource:
        """X read with the placeholder as NaN (X itself is never changed)."""
        placeholder = self.missing_values
        if placeholder is None or np.isnan(placeholder):
            placeholder = None
        return ArraySource(X, layout, missing_value=placeholder)

    def _after_pass(self, source: ArraySource, first: bool) -> None:
        """The indicator marks the features seen missing in any pass so far."""
        if not self.add_indicator:
            self.indicator_ = None
            return
        seen = source.seen_missing
        if not first and self.indicator_ is not None:
            seen = seen.copy()
            seen[self.indicator_.features_] = True
        self.indicator_ = fitted_indicator(seen)

    def transform(self, X):
        """Fill the missing entries of X; observed entries are returned unchanged.

        Parameters
        ----------
        X : array-like of the same sample shape as in ``fit``
            Data with missing entries (NaN or ``missing_values``).

        Returns
        -------
        X_filled : ndarray, same shape as X
            With the indicator's columns appended (2-D) when ``add_indicator=True``.
        """
        check_is_fitted(self)
        X = validate_input(self, X, reset=False)
        # set_output's wrapper would fail inside pandas on images; say why, and what to do
        output = getattr(self, "_sklearn_output_config", {}).get("transform", "default")
        if X.ndim > 2 and output != "default":
            raise ValueError(
                f"set_output(transform={output!r}) needs 2-D output, but X holds images of "
                f"shape {X.shape[1:]}. Pass them flattened, X.reshape(len(X), -1), with "
                f"image_shape={X.shape[1:]}, or use set_output(transform='default')."
            )
        if self.indicator_ is None:
            return self._fill(X)
        n_features = self.layout_.n_features
        n_columns = n_features + len(self.indicator_.features_)
        filled = np.empty((len(X), n_columns), dtype=output_dtype(X))
        self._fill(X, out=filled[:, :n_features])
        for start, stop, samples in self._source(X, self.layout_).chunks(self._inference_rows()):
            flat = samples.reshape(stop - start, -1)
            filled[start:stop, n_features:] = self.indicator_.transform(flat)
        return filled

    def get_feature_names_out(self, input_features=None):
        """The input feature names, then the indicator's names when ``add_indicator``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; by default ``feature_names_in_`` or ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        names = super().get_feature_names_out(input_features)
        if self.indicator_ is None:
            return names
        return np.concatenate([names, self.indicator_.get_feature_names_out(names)])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
