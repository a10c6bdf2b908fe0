"""MaskedAutoencoder: latent features of a masked autoencoder, as a scikit-learn transformer."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import gen_batches
from sklearn.utils.validation import check_array, check_is_fitted

from ._estimator import _BaseMaskedAutoencoder, check_finite_output
from ._inputs import output_dtype, validate_input
from ._training import inference


class MaskedAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _BaseMaskedAutoencoder):
    """Masked autoencoder as a scikit-learn transformer.

    ``fit`` trains an autoencoder to reconstruct randomly hidden parts of each
    sample from the visible rest (He et al., 2021), drawing a fresh mask for every
    mini-batch. ``transform`` returns the latent vectors, ``inverse_transform``
    decodes them and ``score`` measures how well hidden entries are predicted.
    Images use a convolutional network, tabular rows a multi-layer perceptron.
    Missing values (NaN) are hidden from the encoder and never enter the loss.

    Parameters
    ----------
    latent_dim : int or "auto", default="auto"
        Size of the latent vector returned by ``transform``. ``"auto"``: 512 for the
        conv model, whose latent is a sparse non-negative code (about a third of it
        non-zero), 128 for the mlp and ``"vit"``.
    width : int, default=16
        Base number of channels (conv) or an eighth of the hidden units (mlp).
    mask_ratio : float in [0, 1) or "auto", default="auto"
        Fraction of each sample hidden during training. ``0`` trains a plain
        autoencoder. ``"auto"``: 0.5 for the conv model, 0.2 for the mlp (tabular
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
        The mlp adds the visible entries' error at half weight to ``"masked"``.
    consistency : float or "auto", default="auto"
        Weight of a VICReg loss that asks two views of each image (different masks,
        shifts, rotations and zooms, see ``max_shift``) to share one latent vector. It
        makes the conv model's features cluster far better, at some cost in
        reconstruction; ``0``
        trains on reconstruction alone (one view, half the compute per epoch).
        Tabular rows and images too small to shift always train on one view.
        ``"auto"``: 0.04 for the conv and mlp models, 0 for ``"vit"`` (on MNIST-10k
        the transformer's features collapsed under it).
    max_shift : float in [0, 0.5), default=0.075
        Largest random translation of an image view when ``consistency > 0``, as a
        fraction of the shorter image side, rounded down to whole pixels (2 pixels
        for 28x28 images, none for 8x8 ones: such small images train on one view).
    max_rotation : float in [0, 180], default=25.0
        Largest random rotation of an image view, in degrees, when two views are used.
    max_zoom : float in [0, 1), default=0.15
        Largest random zoom of an image view (a factor within ``1 +- max_zoom``) when
        two views are used. Views are then resampled bilinearly; with both at 0 they are
        only shifted, by whole pixels. Trained with the default noise, rotated and zoomed
        views clustered better on MNIST-10k (KMeans NMI 0.74 against 0.68 for shifts
        alone); without noise, shifts alone did (0.787 against 0.75). 25 degrees and 15%
        rather than 15 and 10% raised NMI on each of five seeds (mean 0.888 against
        0.876, probe 0.9854 against 0.9864), see ``benchmarks/results/defaults.md``.
    noise : {"auto", "gaussian", "salt_pepper", "mixed"}, callable or None, \
default="auto"
        Corruption of what the encoder sees in training, beyond masking; the loss
        compares with the clean sample (a denoising autoencoder), so ``denoise``
        removes such noise and the features of noisy samples stay useful.
        ``"gaussian"`` adds noise of standard deviation up to ``noise_level`` (in
        units of the image range, or of each column's standard deviation);
        ``"salt_pepper"`` sets up to a ``noise_level`` share of the pixels to the
        darkest or brightest value (images only); ``"mixed"`` gives each image one of
        the two; a callable ``noise(x, generator) -> x`` corrupts the scaled batch
        tensor itself; ``None`` trains on masking alone. ``"auto"``: ``"mixed"`` for
        images (conv and vit), None for tabular rows.
    noise_level : float, default=0.2
        Largest noise level; each training sample draws its own uniformly between 0
        and this, so clean and mildly noisy inputs are covered too. ``0`` turns the
        named kinds off.
    architecture : {"auto", "conv", "mlp", "vit"}, module class or Architecture, \
default="auto"
        ``"auto"`` uses ``"conv"`` for images and ``"mlp"`` for tabular data.
        ``"vit"`` is the vision transformer of He et al. (encoder on the visible
        patches only, light decoder); its sizes are set through ``module_params``.
        Your own architecture: a subclass of :class:`MaskedAutoencoderModule`
        (``encode``, ``decode``, optionally ``training_loss``), or an
        :class:`Architecture` that also sets what the ``"auto"`` settings become.
    module_params : dict or None, default=None
        Extra keyword arguments for the architecture's module (e.g. depths of a
        transformer), checked against the module's signature before it is built.
    image_shape : "auto", None, (H, W) or (C, H, W), default="auto"
        Shape of one image. ``"auto"`` reads 3-D/4-D input as images and treats 2-D
        input with a perfect-square number of features (at least 64) as square
        one-channel images; ``None`` forces tabular rows.
    max_epochs : int or "auto", default="auto"
        Epochs of training. ``"auto"``: at least 20 passes, and about 500 optimiser
        steps on small data sets (at most 500 epochs). The mlp aims at 150 steps, and
        its epochs are at least 25 steps, drawn from several passes over a small table.
    batch_size : int or "auto", default="auto"
        Mini-batch size for training. ``"auto"``: 128 for the conv model, 256 for the
        mlp, 64 for ``"vit"``. On a GPU, larger batches train faster at some cost in
        quality (see the user guide's GPU page).
    lr : float or "auto", default="auto"
        Peak learning rate of AdamW (linear warm-up, then cosine decay). ``"auto"``:
        3e-3 for the conv model, 1e-2 for the mlp, 1e-3 for ``"vit"``.
    weight_decay : float, default=0.05
        AdamW weight decay.
    device : str, default="auto"
        Torch device; ``"auto"`` picks CUDA when available, else the CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and masks. With an int, two fits on
        the CPU with the same number of torch threads give identical results (float32
        sums are ordered differently with another thread count).
    verbose : int, default=0
        ``1`` or more shows a progress bar and the loss of every epoch.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (e.g. ``EarlyStopping(monitor="train_loss")``).
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Precision of training. ``"auto"``: bf16 autocast on CUDA (losses and the VICReg
        term stay in float32), float32 on the CPU (bf16 is far slower on CPUs without
        bf16 instructions). Inference always runs in float32.
    compile : bool, default=False
        Compile the training step (the module's ``training_loss`` and the VICReg term)
        with ``torch.compile``: faster steps on a GPU after a compile of tens of
        seconds, which short fits do not earn back.

    Attributes
    ----------
    net_ : MaskedAutoencoderNet
        The fitted skorch net; ``net_.module_`` is the torch module and
        ``net_.history`` the training history.
    loss_curve_ : list of float
        Training loss of every epoch.
    architecture_ : str
        The architecture used (``"conv"``, ``"mlp"``, ``"vit"``, or the name of your
        module class).
    training_params_ : dict
        Every training setting as used, with ``"auto"`` resolved: ``mask_ratio``,
        ``mask_type``, ``patch_size``, ``lr``, ``batch_size``, ``max_epochs``,
        ``consistency``, ``max_shift`` (in pixels), ``max_rotation``, ``max_zoom``,
        ``noise``, ``noise_level``, ``device``, ``precision`` and
        ``lr_schedule`` (``"warmup-cosine"`` for ``fit``, ``"warmup-constant"`` for
        ``partial_fit``).
    n_samples_seen_ : int
        Samples trained on: ``len(X)`` after ``fit``, summed over ``partial_fit`` calls.
    n_iter_ : int
        Passes over the data: epochs run by ``fit``, or ``partial_fit`` calls.
    image_shape_ : tuple of int or None
        ``(C, H, W)`` of the images, or None for tabular data.
    n_features_in_ : int
        Number of features seen during fit (``X.shape[1]``).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.decomposition.PCA : Linear latent features with ``inverse_transform``.
    sklearn.neural_network.BernoulliRBM : Another stochastic neural feature learner.
    MaskedAutoencoderImputer : The same model filling missing values.

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

    @inference
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
        Z = np.empty((len(X), self._n_features_out), dtype=output_dtype(X))
        for start, stop, x, observed in self._batches(X):
            Z[start:stop] = module.encode(x, observed).cpu().numpy()
            check_finite_output(Z[start:stop], "transform")
        return Z

    @inference
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
        for batch in gen_batches(len(Z), self._inference_rows()):
            z = torch.as_tensor(Z[batch], dtype=torch.float32, device=self.net_.device)
            parts.append(self.scaler_.to_numpy(module.decode(z), Z.dtype))
        X_original = np.concatenate(parts)
        check_finite_output(X_original, "inverse_transform")
        return X_original

    @property
    def _n_features_out(self) -> int:
        return self.net_.module_.latent_dim

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
