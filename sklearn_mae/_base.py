"""The interface every architecture implements, and the one masked loss.

A module is built from ``(sample_shape, latent_dim, width, **module_params)`` and knows
shapes only (optimiser and masking settings belong to the estimator's architecture
registry). It implements

- ``encode(x, visible) -> z``: latent vectors from inputs where only the entries with
  ``visible`` true are seen (the others are zeroed, and the mask itself is an extra
  input so a hidden entry is never confused with a zero);
- ``decode(z) -> x_hat``: reconstructions shaped like ``x``;
- ``forward(x, visible) = decode(encode(x, visible))``;
- ``training_loss(x, visible, scored, mask=None, clean=None[, views=1]) -> (loss, z)``: the
  objective of one training batch; by default the mean squared error of ``forward`` on
  the ``scored`` entries. ``clean``, when given, is the target: ``x`` is then a corrupted
  copy (a denoising autoencoder). Override it for another objective (the vit predicts
  normalised patches, the conv model adds a detail head). ``z`` is what the two-view
  loss compares: the latent, or a projection of it (the conv model's).
  ``mask``, a :class:`FixedMask` or None, says when every sample hides the same number of
  grid patches and nothing else is missing, so a module can size its work without
  reading counts back from the device. A module whose ``training_loss`` takes ``views``
  is told when the batch holds that many views of the same samples, stacked (the
  two-view loss): it may then reconstruct the first view only (the conv model does);
- ``prepare(x)``: called once before training with a random sample of the scaled
  training data (NaN where missing), for statistics the module keeps (the mlp's
  Gaussian); by default nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class FixedMask:
    """Every sample of the batch hides exactly ``n_hidden`` of its ``patch_size`` patches
    (on the grid from the top-left corner), and no entry is missing."""

    patch_size: int
    n_hidden: int


def masked_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the entries where ``weight`` is true (or by its weights)."""
    weight = weight.expand_as(pred).to(pred.dtype)
    return ((pred - target) ** 2 * weight).sum() / weight.sum().clamp_min(1.0)


class MaskedMSELoss(nn.Module):
    """:func:`masked_mse` as a criterion, for skorch's ``get_loss``."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor):
        return masked_mse(pred, target, weight)


def masked_input(x: torch.Tensor, visible: torch.Tensor, dim: int) -> torch.Tensor:
    """Hidden entries zeroed, with the visibility mask appended along ``dim``."""
    visible = visible.expand_as(x).to(x.dtype)
    return torch.cat([x * visible, visible], dim=dim)


class MaskedAutoencoderModule(nn.Module):
    """Base class of every architecture: stores the sizes, implements ``forward`` and
    the default ``training_loss`` from ``encode`` and ``decode``, and a ``prepare`` that
    does nothing (override it to learn statistics of the data before training).

    Parameters
    ----------
    sample_shape : tuple of int
        ``(C, H, W)`` for images, ``(n_features,)`` for tabular rows.
    latent_dim : int
        Size of ``z``, the output of ``encode``.
    width : int
        The architecture's base width (channels or hidden units).
    """

    def __init__(self, sample_shape: tuple[int, ...], latent_dim: int, width: int):
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        self.latent_dim = latent_dim
        self.width = width

    def encode(self, x: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """Latent vectors ``(n, latent_dim)`` of ``x``, seeing only the ``visible`` entries."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstructions shaped ``(n, *sample_shape)`` from latent vectors ``z``."""
        raise NotImplementedError

    def prepare(self, x: torch.Tensor) -> None:
        """Learn what the module needs from the data before training (nothing, here).

        Called once before the first step of a fit with up to a few thousand of the scaled
        training samples, drawn at random, NaN where missing (the mlp fits its Gaussian).
        """

    def forward(self, x: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """``decode(encode(x, visible))``: the reconstruction of every entry."""
        return self.decode(self.encode(x, visible))

    def training_loss(self, x: torch.Tensor, visible: torch.Tensor, scored: torch.Tensor,
                      mask: FixedMask | None = None, clean: torch.Tensor | None = None):
        """``(loss, z)`` of one batch: ``x`` has no NaN, ``visible`` marks what the encoder
        sees and ``scored`` the entries the loss is taken on, against ``clean`` when given
        (else ``x``); ``mask`` is a hint (see the module docstring)."""
        z = self.encode(x, visible)
        return masked_mse(self.decode(z), x if clean is None else clean, scored), z
