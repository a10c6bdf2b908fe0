"""Masked autoencoders as scikit-learn transformers, trained through skorch."""

from ._architectures import Architecture
from ._base import MaskedAutoencoderModule
from ._imputer import MaskedAutoencoderImputer
from ._masked_autoencoder import MaskedAutoencoder

__all__ = ["Architecture", "MaskedAutoencoder", "MaskedAutoencoderImputer",
           "MaskedAutoencoderModule"]
__version__ = "0.1.0"
