"""Corruption of training inputs beyond masking, for denoising masked autoencoders.

The encoder sees a corrupted copy of each sample while the loss compares the
reconstruction with the clean one (Vincent et al., 2008). Levels are drawn per sample,
uniformly up to the given level, so a model trained for a level also meets every milder
one (and clean inputs). Everything happens in the network's units: images min-max
scaled to [0, 1] (results are clipped back into that range), tables standardised.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

NOISES = ("gaussian", "salt_pepper", "mixed")


def per_sample_level(x: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """A level for each sample, uniform in ``[0, level]``, broadcastable to ``x``."""
    shape = (len(x),) + (1,) * (x.dim() - 1)
    return level * torch.rand(shape, generator=generator, device=generator.device).to(x.device)


def gaussian_noise(x, level: float, generator, clip: bool) -> torch.Tensor:
    """Add zero-mean Gaussian noise of standard deviation up to ``level``."""
    noise = torch.randn(x.shape, generator=generator, device=generator.device).to(x.device)
    noisy = x + noise * per_sample_level(x, level, generator)
    return noisy.clamp(0, 1) if clip else noisy


def salt_and_pepper(x, level: float, generator) -> torch.Tensor:
    """Set up to a ``level`` share of the pixels of each image ``(n, C, H, W)`` to the
    darkest (0) or brightest (1) value, every channel of a pixel alike."""
    n, _, height, width = x.shape
    draws = torch.rand(2, n, 1, height, width, generator=generator,
                       device=generator.device).to(x.device)
    hit = draws[0] < per_sample_level(draws[0], level, generator)
    return torch.where(hit, (draws[1] < 0.5).to(x.dtype), x)


def corrupt(x: torch.Tensor, noise: str | Callable, level: float, generator: torch.Generator,
            is_image: bool) -> torch.Tensor:
    """A corrupted copy of the batch ``x`` (NaN, where missing, stays NaN).

    ``noise`` is ``"gaussian"``, ``"salt_pepper"`` (images), ``"mixed"`` (each image
    gets one of the two at random) or a callable ``noise(x, generator) -> x``.
    """
    if callable(noise):
        return noise(x, generator)
    if noise == "gaussian":
        return gaussian_noise(x, level, generator, clip=is_image)
    if noise == "salt_pepper":
        return salt_and_pepper(x, level, generator)
    # "mixed": half of the images (at random) get each kind. Both are drawn for every
    # image and one kept: selecting subsets would need their sizes on the host (a sync
    # per step on CUDA), for about 3% of a CPU step
    pick = per_sample_level(x, 1.0, generator) < 0.5
    return torch.where(pick, gaussian_noise(x, level, generator, clip=True),
                       salt_and_pepper(x, level, generator))
