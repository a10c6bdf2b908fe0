"""Masked autoencoders as scikit-learn transformers, trained through skorch."""

from ._imputer import MaskedAutoencoderImputer
from ._masked_autoencoder import MaskedAutoencoder

__all__ = ["MaskedAutoencoder", "MaskedAutoencoderImputer"]
__version__ = "0.1.0"
