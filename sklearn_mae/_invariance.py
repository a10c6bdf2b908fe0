"""Two-view invariance: cheap augmentations and the VICReg loss on latent vectors.

Masked reconstruction alone learns features that a linear probe separates well but
that KMeans does not cluster well. Asking two differently masked and slightly moved
(shifted by whole pixels, or also rotated and zoomed) views of an image to share one
latent vector, with
VICReg's variance and covariance terms against collapse (Bardes et al., 2022), makes
the features invariant to those nuisances.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image ``(n, C, H, W)`` by up to ``max_shift`` pixels, zero-padded."""
    if max_shift == 0 or x.dim() != 4:
        return x
    n, _, height, width = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    offsets = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator,
                            device=generator.device).to(x.device)
    rows = (offsets[0, :, None] + torch.arange(height, device=x.device)).view(n, 1, height, 1)
    cols = (offsets[1, :, None] + torch.arange(width, device=x.device)).view(n, 1, 1, width)
    rows = rows.expand(n, x.shape[1], height, padded.shape[3])
    cols = cols.expand(n, x.shape[1], height, width)
    return torch.gather(torch.gather(padded, 2, rows), 3, cols)


def random_affine(x: torch.Tensor, max_shift: int, max_rotation: float, max_zoom: float,
                  generator: torch.Generator, complete: bool = False) -> torch.Tensor:
    """Move each image ``(n, C, H, W)`` by a random affine map, bilinearly resampled.

    A shift of up to ``max_shift`` pixels on each axis, a rotation of up to
    ``max_rotation`` degrees and a zoom by a factor within ``1 +- max_zoom``, drawn
    per image on the generator's device. What comes in from outside the image is
    zero (the background of min-max scaled images). A missing entry (NaN) makes the
    entries it is resampled into missing, so no value is invented from a gap;
    ``complete=True`` says there is none and skips that work.
    """
    n, _, height, width = x.shape
    draws = torch.rand(4, n, generator=generator, device=generator.device).to(x.device)
    draws = 2 * draws - 1  # uniform in [-1, 1]
    angle = draws[0] * math.radians(max_rotation)
    scale = 1 / (1 + draws[1] * max_zoom)  # the grid maps output to input coordinates
    shift = torch.stack([draws[2] * 2 * max_shift / width, draws[3] * 2 * max_shift / height])
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack([torch.stack([cos, -sin, shift[0]], 1),
                         torch.stack([sin, cos, shift[1]], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    if complete:
        return F.grid_sample(x, grid, align_corners=False)
    moved = F.grid_sample(torch.nan_to_num(x), grid, align_corners=False)
    touched = F.grid_sample(torch.isnan(x).to(x.dtype), grid, align_corners=False) > 0
    return moved.masked_fill(touched, math.nan)


def vicreg_loss(z1: torch.Tensor, z2: torch.Tensor, invariance: float = 25.0,
                variance: float = 25.0, covariance: float = 1.0) -> torch.Tensor:
    """VICReg: pull the two views together, keep every dimension's spread, decorrelate."""

    def spread_and_correlation(z):
        z = z - z.mean(0)
        spread = F.relu(1 - torch.sqrt(z.var(0) + 1e-4)).mean()
        cov = (z.T @ z) / max(1, len(z) - 1)
        off_diagonal = cov - torch.diag(torch.diag(cov))
        return spread, off_diagonal.pow(2).sum() / z.shape[1]

    spread1, corr1 = spread_and_correlation(z1)
    spread2, corr2 = spread_and_correlation(z2)
    return (invariance * F.mse_loss(z1, z2) + variance * (spread1 + spread2) / 2
            + covariance * (corr1 + corr2) / 2)
