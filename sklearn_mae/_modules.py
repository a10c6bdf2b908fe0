"""The convolutional and fully connected architectures (the interface is in ``_base``)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ._base import FixedMask, MaskedAutoencoderModule, masked_input, masked_mse
from ._gaussian import MAX_FEATURES, conditional_mean, fit_gaussian

DETAIL_GAIN = 4.0  # output scale of the detail head


def on_sphere(v: torch.Tensor) -> torch.Tensor:
    """Rows of ``v`` L2-normalised and scaled by the square root of their length, so that
    an entry is about 1 in size whatever the width."""
    return nn.functional.normalize(v, dim=1) * math.sqrt(v.shape[1])


def leading(mask: torch.Tensor, n: int) -> torch.Tensor:
    """The first ``n`` samples' rows of a per-sample ``mask`` (or weights); a mask
    broadcast over the batch (one row) as it is."""
    return mask[:n] if len(mask) > 1 else mask


def conv_block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.GELU(),
    )


def upsample_block(c_in: int, c_out: int) -> nn.Sequential:
    """x2 upsampling by sub-pixel convolution: cheaper on CPU than ConvTranspose."""
    return nn.Sequential(
        nn.Conv2d(c_in, 4 * c_out, 3, padding=1, bias=False),
        nn.PixelShuffle(2),
        nn.BatchNorm2d(c_out),
        nn.GELU(),
    )


class ConvAutoencoder(MaskedAutoencoderModule):
    """Strided convs to a sparse non-negative code; a sub-pixel conv decoder; a
    full-resolution detail head.

    Strided convs reduce the image to a ``H/4 x W/4`` grid (``H/2 x W/2`` for images
    under 16 pixels), and a linear layer to ``8 * width`` values, L2-normalised and scaled
    by their square root. The latent is a code of that: a linear map to ``latent_dim``
    values, batch-normalised and rectified (``ReLU(BN(W z))``), so it is non-negative and
    sparse (about a third of it is non-zero), then L2-normalised in the same way. The
    decoder reads the code, and the two-view loss compares linear projections of it
    (:meth:`training_loss`). This is the first layer of a VICReg projector (Bardes et al.,
    2022) moved into the model: read there, the features of a linear bottleneck cluster far
    better with KMeans than the bottleneck itself (NMI 0.89 against 0.75 on MNIST-10k), and
    decoding from it keeps that while ``inverse_transform`` stays the decoder of what
    ``transform`` gives. Without the last normalisation, one fit in four made KMeans put
    the codes of small length into a cluster of their own (NMI 0.78).
    ``sparse_code=False`` (through the estimator's ``module_params``) makes the latent the
    normalised linear bottleneck itself, of ``latent_dim`` values, compared directly.
    Images are min-max scaled to [0, 1] by the estimator, so the decoder ends in a
    sigmoid. Works for any ``(C, H, W)``: odd sides are rounded up by the strided convs
    and the output is cropped back to ``H x W``.

    Everything the decoder predicts passes through the bottleneck, which keeps an
    image's shape and loses its local detail. ``forward`` (used to inpaint, denoise and
    score) therefore adds a small detail head at full resolution: from the visible
    input, the decoder's output and the mean of the visible 3x3 neighbours, a linear 3x3
    conv plus a small two-layer one correct the visible value where an entry is seen, and
    where it is hidden blend the decoder's value with the local mean and correct that.
    ``encode`` and ``decode`` (the latent features and ``inverse_transform``) do not
    use it, and it trains on the decoder's output without changing it (the gradient
    stops there), so the features learn as they would without it. Its loss is taken on
    the hidden and the visible entries, so on corrupted
    inputs it learns to denoise and on clean ones to keep what it sees. It trains on the
    first half of each batch only (one of the two views when two are trained): at full
    resolution it cost a third of a step, and the half kept its inpainting error.
    ``detail=False`` (through the estimator's ``module_params``) leaves it out.
    """

    def __init__(self, sample_shape: tuple[int, int, int], latent_dim: int, width: int,
                 detail: bool = True, sparse_code: bool = True):
        super().__init__(sample_shape, latent_dim, width)
        channels, height, width_px = sample_shape
        # images of 16 pixels or more are halved by the first conv already (cheap on the
        # CPU at no measured cost in quality); smaller ones keep their resolution
        stem = 2 if min(height, width_px) >= 16 else 1
        self.grid = (math.ceil(height / stem / 2), math.ceil(width_px / stem / 2))
        n_grid = 2 * width * self.grid[0] * self.grid[1]
        self.encoder = nn.Sequential(
            conv_block(2 * channels, width, stride=stem),
            conv_block(width, width),
            conv_block(width, 2 * width, stride=2),
            nn.Flatten(),
            nn.Linear(n_grid, 8 * width if sparse_code else latent_dim),
        )
        # the code and the two-view loss's projection of it (None: the bottleneck is the
        # latent, compared as it is)
        self.code = nn.Sequential(nn.Linear(8 * width, latent_dim), nn.BatchNorm1d(latent_dim),
                                  nn.ReLU()) if sparse_code else None
        self.projector = nn.Linear(latent_dim, latent_dim) if sparse_code else None
        self.expand = nn.Sequential(nn.Linear(latent_dim, n_grid), nn.GELU())
        # the last x2 is a sub-pixel conv straight to the logits (Shi et al., 2016): no
        # hidden layer at full resolution, where the activations cost most of the step
        self.decoder = nn.Sequential(
            upsample_block(2 * width, width),
            nn.Conv2d(width, 4 * channels, 3, padding=1), nn.PixelShuffle(2),  # logits
        ) if stem == 2 else nn.Sequential(
            upsample_block(2 * width, width),
            conv_block(width, width),
            nn.Conv2d(width, channels, 3, padding=1),  # logits
        )
        # per channel: a correction of the visible value, a gate between the decoder's
        # value and the local mean, and a correction of that blend (used where hidden);
        # a linear 3x3 path beside a small non-linear one
        self.detail = nn.Sequential(
            nn.Conv2d(4 * channels, width, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(width, 3 * channels, 3, padding=1),
        ) if detail else None
        self.detail_linear = nn.Conv2d(4 * channels, 3 * channels, 3, padding=1) \
            if detail else None
        if detail:  # starts as the visible input where seen, else the decoder's and the
            for layer in (self.detail[-1], self.detail_linear):  # local mean's average
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        self.to(memory_format=torch.channels_last)

    def encode(self, x: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        inputs = masked_input(x, visible, dim=1)
        z = self.encoder(inputs.contiguous(memory_format=torch.channels_last))
        z = on_sphere(z)
        if self.code is None:
            return z
        # on the sphere too: a code's length varied with the stroke, and KMeans made a cluster
        # of the short ones
        return on_sphere(self.code(z))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        grid = self.expand(z).view(-1, 2 * self.width, *self.grid)
        out = self.decoder(grid.contiguous(memory_format=torch.channels_last))
        _, height, width_px = self.sample_shape
        return out[:, :, :height, :width_px]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z)).contiguous()

    def refine(self, x: torch.Tensor, visible: torch.Tensor, logits: torch.Tensor):
        """The detail head's output from the decoder's ``logits`` and the visible input."""
        coarse = torch.sigmoid(logits)
        if self.detail is None:
            return coarse.contiguous()
        seen = masked_input(x, visible, dim=1)
        channels = x.shape[1]
        # the mean of the visible 3x3 neighbours (a normalised convolution, Knutsson and
        # Westin 1993): local interpolation as an input, for the head to blend
        sums = nn.functional.avg_pool2d(seen, 3, stride=1, padding=1)
        local = sums[:, :channels] / sums[:, channels:].clamp_min(1e-3)
        inputs = torch.cat([seen, coarse, local], dim=1).contiguous(
            memory_format=torch.channels_last)
        # scaled so that the few hundred steps of a fit move it far enough (AdamW's
        # steps are about lr in size whatever the gradient)
        seen_fix, gate, hidden_fix = (DETAIL_GAIN * (self.detail(inputs)
                                                     + self.detail_linear(inputs))).chunk(3, 1)
        gate = torch.sigmoid(gate)
        shown = seen[:, channels:]
        out = (shown * (seen[:, :channels] + seen_fix)
               + (1 - shown) * (gate * local + (1 - gate) * coarse + hidden_fix))
        return out.clamp(0, 1).contiguous()

    def forward(self, x: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        return self.refine(x, visible, self.decode_logits(self.encode(x, visible)))

    def training_loss(self, x: torch.Tensor, visible: torch.Tensor, scored: torch.Tensor,
                      mask: FixedMask | None = None, clean: torch.Tensor | None = None,
                      views: int = 1):
        """The decoder's masked MSE on ``scored``, plus the detail head's on ``scored``
        and, separately weighted, on the visible entries; and what the two-view loss
        compares (the code's projection, or the bottleneck).

        With ``views`` stacked views of the samples, only the first is decoded: the
        others are encoded for the two-view loss alone. Decoding both made a fit about
        13% slower and changed no measured figure (``benchmarks/results/defaults.md``).
        """
        target = x if clean is None else clean
        z = self.encode(x, visible)
        # the first view (the whole batch with one); batches are shuffled, so the first
        # half of it, which the detail head trains on, is a random one
        decoded, half = len(x) // views, max(1, len(x) // 2)
        logits = self.decode_logits(z[:decoded])
        loss = masked_mse(torch.sigmoid(logits), target[:decoded], leading(scored, decoded))
        if self.detail is not None:  # trained on its own: the features learn as without it
            visible, scored = leading(visible, half), leading(scored, half)
            refined = self.refine(x[:half], visible, logits[:half].detach())
            loss = (loss + masked_mse(refined, target[:half], scored)
                    + masked_mse(refined, target[:half], visible))
        return loss, z if self.projector is None else self.projector(z)


class LinearPlusMLP(nn.Module):
    """``W x + mlp(x)``: a linear map with a one-hidden-layer, layer-normalised correction.

    Tables are often close to linear in one another (breast cancer's radius, perimeter
    and area); the linear path gets those relations directly, the MLP the rest.
    """

    def __init__(self, n_in: int, hidden: int, n_out: int):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.mlp = nn.Sequential(
            nn.Linear(n_in, hidden),
            nn.LayerNorm(hidden),
            nn.GELU(),
            nn.Linear(hidden, n_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + self.mlp(x)


class MLPAutoencoder(MaskedAutoencoderModule):
    """Fully connected autoencoder for tabular rows (or flattened images), on top of a
    Gaussian of the table.

    Encoder and decoder are each a linear map plus a one-hidden-layer MLP of ``8 * width``
    units with LayerNorm (:class:`LinearPlusMLP`).

    For tables of up to 64 columns the module also holds a multivariate Gaussian of the
    scaled rows, fitted with their missing entries by EM before training (:meth:`prepare`,
    ``sklearn_mae._gaussian``). The encoder reads each row with its hidden entries filled by
    their conditional mean given the visible ones (not zeros), beside the visibility mask;
    ``forward`` (used to impute, inpaint and score) predicts a hidden entry as a learnt
    per-feature blend of the decoder's value and that conditional mean. The loss is the
    decoder's error plus the blend's, so ``decode`` stays a reconstruction of its own for
    ``inverse_transform``. Over 18 settings of three tables and three missingness
    mechanisms this took the imputer from 7 to 18 wins over the best of KNNImputer,
    IterativeImputer and a MissForest-style imputer (``benchmarks/results/defaults.md``).
    ``gaussian=False`` (through the estimator's ``module_params``) leaves it out, as do
    wider inputs (the conditional costs ``O(d^3)`` a row).
    """

    def __init__(self, sample_shape: tuple[int, ...], latent_dim: int, width: int,
                 gaussian: bool = True):
        super().__init__(sample_shape, latent_dim, width)
        n_features = math.prod(sample_shape)
        hidden = 8 * width
        self.encoder = LinearPlusMLP(2 * n_features, hidden, latent_dim)
        self.decoder = LinearPlusMLP(latent_dim, hidden, n_features)
        self.gaussian = gaussian and n_features <= MAX_FEATURES
        if self.gaussian:  # N(0, I) until prepared: the conditional mean is then 0, as
            self.register_buffer("gaussian_mean", torch.zeros(n_features))  # zero-filling
            self.register_buffer("gaussian_cov", torch.eye(n_features))
            self.gate = nn.Parameter(torch.zeros(n_features))  # sigmoid: the decoder's share

    def prepare(self, x: torch.Tensor) -> None:
        """Fit the Gaussian (by EM, NaN as missing) to the scaled samples ``x``."""
        if self.gaussian:
            mean, cov = fit_gaussian(x.flatten(1))
            self.gaussian_mean.copy_(mean)
            self.gaussian_cov.copy_(cov)

    def _filled(self, flat: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """Rows with hidden entries set to their conditional mean (zero without the
        Gaussian); no gradient flows to the Gaussian, fitted once."""
        if not self.gaussian:
            return flat * visible.to(flat.dtype)
        with torch.no_grad(), torch.autocast(flat.device.type, enabled=False):
            return conditional_mean(flat.float(), visible, self.gaussian_mean,
                                    self.gaussian_cov).to(flat.dtype)

    def _encode(self, x: torch.Tensor, visible: torch.Tensor):
        """``(z, guess)``: the latent, and the rows as the encoder read them."""
        flat, seen = x.flatten(1), visible.expand_as(x).flatten(1)
        guess = self._filled(flat, seen)
        return self.encoder(torch.cat([guess, seen.to(flat.dtype)], dim=1)), guess

    def encode(self, x: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        return self._encode(x, visible)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, *self.sample_shape)

    def _blend(self, visible: torch.Tensor, guess: torch.Tensor, decoded: torch.Tensor):
        """The decoder's value where visible; where hidden, its blend with the conditional
        mean in ``guess``."""
        if not self.gaussian:
            return decoded
        own = decoded.flatten(1)
        blended = guess + torch.sigmoid(self.gate) * (own - guess)
        return torch.where(visible.expand_as(decoded).flatten(1), own,
                           blended).view_as(decoded)

    def forward(self, x: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        z, guess = self._encode(x, visible)
        return self._blend(visible, guess, self.decode(z))

    def training_loss(self, x: torch.Tensor, visible: torch.Tensor, scored: torch.Tensor,
                      mask: FixedMask | None = None, clean: torch.Tensor | None = None):
        """The decoder's masked MSE on ``scored``, plus the blend's (with the Gaussian)."""
        target = x if clean is None else clean
        z, guess = self._encode(x, visible)
        decoded = self.decode(z)
        loss = masked_mse(decoded, target, scored)
        if self.gaussian:
            loss = loss + masked_mse(self._blend(visible, guess, decoded), target, scored)
        return loss, z
