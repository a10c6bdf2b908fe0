"""MaskedAutoencoderImputer: fill missing entries by treating them as masked ones."""

from __future__ import annotations

import numpy as np
from sklearn.impute import MissingIndicator
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import MissingValues
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from ._masked_autoencoder import MaskedAutoencoder


def _never(_):
    return False


class MaskedAutoencoderImputer(MaskedAutoencoder):
    """Impute missing values with a masked autoencoder (as in ReMasker, ICLR 2024).

    Missing entries are hidden from the encoder and never enter the loss; during
    training a random share of the *observed* entries is hidden as well, so the
    network learns to predict entries it cannot see. ``transform`` returns X with
    the missing entries filled and every observed entry unchanged, bit for bit.

    Takes every parameter of :class:`MaskedAutoencoder` (same shape rules: images use
    the conv model, tabular rows the MLP) with the same defaults except
    ``consistency=0``: the two-view feature objective helps clustering, not filling
    in, so the imputer trains on reconstruction alone. Plus:

    Parameters
    ----------
    missing_values : float, int or None, default=np.nan
        The placeholder for missing entries; NaN is always treated as missing too.
    add_indicator : bool, default=False
        Append a :class:`~sklearn.impute.MissingIndicator` of the features that
        had missing values during fit.

    Attributes
    ----------
    indicator_ : MissingIndicator or None
        The fitted indicator when ``add_indicator=True``.

    See Also
    --------
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

    _parameter_constraints: dict = {
        **MaskedAutoencoder._parameter_constraints,
        "missing_values": [MissingValues(numeric_only=True)],
        "add_indicator": ["boolean"],
    }

    def __init__(
        self,
        *,
        missing_values=np.nan,
        add_indicator: bool = False,
        latent_dim: int = 128,
        width: int = 16,
        mask_ratio: float | str = "auto",
        mask_type: str = "auto",
        patch_size: int = 4,
        loss_on: str = "masked",
        consistency: float = 0.0,
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
        super().__init__(
            latent_dim=latent_dim,
            width=width,
            mask_ratio=mask_ratio,
            mask_type=mask_type,
            patch_size=patch_size,
            loss_on=loss_on,
            consistency=consistency,
            max_shift=max_shift,
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
        )
        self.missing_values = missing_values
        self.add_indicator = add_indicator

    def _as_nan(self, X):
        """X with the placeholder replaced by NaN, in a new array (X is never changed)."""
        if self.missing_values is np.nan or self.missing_values != self.missing_values:
            return X
        if hasattr(X, "mask"):  # pandas keeps its column names
            return X.astype(np.float64).mask(X == self.missing_values)
        X = np.asarray(X, dtype=np.float64)
        return np.where(X == self.missing_values, np.nan, X)

    def fit(self, X, y=None):
        """Fit the masked autoencoder on X, whose missing entries are never seen.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or image-shaped
        y : None
            Ignored.

        Returns
        -------
        self : MaskedAutoencoderImputer
        """
        X = self._as_nan(X)
        super().fit(X)
        self.indicator_ = None
        if self.add_indicator:
            flat = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
            self.indicator_ = MissingIndicator(error_on_new=False).fit(flat)
        return self

    def transform(self, X):
        """Fill the missing entries of X; observed entries are returned unchanged.

        Returns
        -------
        X_filled : ndarray, same shape as X (with indicator columns appended, 2-D,
            when ``add_indicator=True``)
        """
        check_is_fitted(self)
        X = self._as_nan(X)
        filled = self.inpaint(X)
        if self.indicator_ is None:
            return filled
        flat = np.asarray(X, dtype=np.float64).reshape(len(filled), -1)
        indicator = self.indicator_.transform(flat).astype(filled.dtype)
        return np.hstack([filled.reshape(len(filled), -1), indicator])

    @available_if(_never)
    def inverse_transform(self, X):  # pragma: no cover - an imputer has no latent space
        raise AttributeError("MaskedAutoencoderImputer has no inverse_transform.")

    def get_feature_names_out(self, input_features=None):
        """The input feature names, then the indicator's names when ``add_indicator``."""
        check_is_fitted(self)
        names = _check_feature_names_in(self, input_features)
        if self.indicator_ is None:
            return names
        return np.concatenate([names, self.indicator_.get_feature_names_out(names)])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
