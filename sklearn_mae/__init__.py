"""Masked autoencoders as scikit-learn transformers, trained through skorch."""

from ._masked_autoencoder import MaskedAutoencoder

__all__ = ["MaskedAutoencoder"]
__version__ = "0.1.0"
