"""Vision-transformer masked autoencoder (He et al., 2021), sized for small images on a CPU.

The model follows facebookresearch/mae ``models_mae.py``:

- images are cut into ``patch_size`` x ``patch_size`` patches, each embedded linearly and
  given a fixed 2-D sine-cosine position embedding;
- the encoder (a class token and pre-norm transformer blocks) runs on the visible patches
  only, so it costs a quarter of the full sequence at 75% masking;
- a narrower, shallower decoder gets the encoded visible patches, a shared learnable mask
  token in place of every hidden patch, its own position embeddings and the latent vector
  mapped to one input per patch, and predicts the pixels of every patch.

Choices this interface asks for (``visible`` is per pixel, ``z`` must decode alone):

- **Which patches reach the encoder.** A patch is kept when any of its pixels is visible,
  and its embedding sees the pixel values *and* their visibility (hidden pixels zeroed,
  mask appended), so a partly seen patch is neither dropped nor mistaken for dark pixels.
  With patch masks aligned to the tokens (``mask_type="patch"`` and the same
  ``patch_size``) this is exactly MAE. When samples of a batch keep different numbers of
  patches (NaN, pixel masks), each keeps its own, padded to the largest count; padding is
  masked out of attention and pooling, so a sample's result never depends on its batch.
- **The latent.** ``transform`` shows every patch. By default (``pool="flatten"``) each
  patch's output is reduced to a few values, laid out by position and mapped linearly to
  ``z``; hidden patches give zeros and the sum is rescaled by the share seen, like inverted
  dropout. A pooled vector (mean of the patches, or a class token) loses where the strokes
  lie and probed far worse (``benchmarks/results/defaults.md``).
- **Decoding from z alone.** ``decode(z)`` runs the decoder with every patch a mask token.
  Training decodes a fixed share of each batch that way (``latent_share``), so
  ``inverse_transform`` is trained for what it does and ``z`` has to carry the image.
- **norm_pix_loss.** The decoder predicts each patch normalised by its own mean and
  standard deviation (the loss of He et al.) and also those two statistics, trained in
  pixel units; outputs are always pixels: normalised prediction x std + mean.
- **Tabular rows** ``(n_features,)`` are one row of one-pixel patches: a token per feature.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._base import FixedMask, MaskedAutoencoderModule, masked_mse
from ._modules import on_sphere

POOLS = ("flatten", "mean", "cls")


def sincos_embedding_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """``(len(positions), dim)`` sines and cosines of geometrically spaced frequencies."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    angles = positions.to(torch.float64)[:, None] * omega[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def sincos_embedding_2d(dim: int, grid: tuple[int, int]) -> torch.Tensor:
    """Fixed 2-D position embeddings ``(grid_h * grid_w, dim)``: half rows, half columns."""
    padded = 4 * math.ceil(dim / 4)
    rows, cols = torch.meshgrid(torch.arange(grid[0]), torch.arange(grid[1]), indexing="ij")
    embedding = torch.cat(
        [sincos_embedding_1d(padded // 2, rows.flatten()),
         sincos_embedding_1d(padded // 2, cols.flatten())],
        dim=1,
    )
    return embedding[:, :dim].to(torch.float32)


def visible_token_index(keep: torch.Tensor, k: int | None = None):
    """Indices of the kept tokens of each row, in order, padded to the largest count.

    Returns ``(index, valid)``: ``index`` has shape ``(n, k)``; ``valid`` marks the real
    (not padding) entries, or is None when every row keeps exactly ``k`` tokens. Pass
    ``k`` when every row is known to keep exactly ``k``: the counts are then never read
    back from the device.
    """
    index = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices
    if k is not None:
        return index[:, :k], None
    counts = keep.sum(dim=1)
    k = int(counts.max()) if len(keep) else 0
    index = index[:, :k]
    if bool((counts == k).all()):
        return index, None
    return index, torch.arange(k, device=keep.device) < counts[:, None]


def gather_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return tokens.gather(1, index[..., None].expand(-1, -1, tokens.shape[-1]))


class Block(nn.Module):
    """Pre-norm transformer block; ``attn_mask`` (n, 1, 1, length) marks keys to attend to."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = max(1, round(mlp_ratio * dim))
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        n, length, dim = x.shape
        qkv = self.qkv(self.norm1(x)).view(n, length, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        x = x + self.proj(attended.transpose(1, 2).reshape(n, length, dim))
        return x + self.mlp(self.norm2(x))


class VisionTransformerAutoencoder(MaskedAutoencoderModule):
    """MAE with a visible-only ViT encoder and a light decoder; see the module docstring.

    Parameters
    ----------
    sample_shape : (C, H, W) or (n_features,)
        Both image sides must be multiples of ``patch_size``.
    latent_dim : int
        Size of ``z``, the output of ``encode``.
    width : int
        Sets the default widths: encoder ``6 * width``, decoder ``4 * width``.
    patch_size : int, default=4
        Side of the square patches that become tokens (ignored for tabular rows).
    encoder_width, encoder_depth, encoder_heads : int, default=6*width, 4, 4
    decoder_width, decoder_depth, decoder_heads : int, default=4*width, 1, 4
        One decoder block, as in He et al.'s lightest decoder: the decoder sees every
        patch, so its depth sets most of the cost at high mask ratios.
    mlp_ratio : float, default=2.0
        Hidden units of each block's MLP per unit of width (4 in He et al.).
    pool : {"flatten", "mean", "cls"}, default="flatten"
        How ``z`` is read from the encoder's outputs. ``"flatten"``: each patch's output
        is reduced to ``flatten_dim`` values, laid out by position and mapped linearly to
        ``z`` (hidden patches give zeros, and the sum is rescaled by the share seen).
        ``"mean"``: the mean over the visible patches; ``"cls"``: the class token.
    flatten_dim : int, default=16
        Values per patch kept by ``pool="flatten"``.
    latent_share : float in [0, 1], default=0.25
        Share of each training batch decoded from ``z`` alone. ``1`` makes ``z`` the only
        way to the decoder (also in ``forward``); ``0`` leaves ``decode`` untrained.
    norm_pix_loss : bool, default=False
        Train on per-patch normalised pixels (He et al.); outputs stay in pixels.
    sparse_code : bool, default=False
        Make ``z`` a sparse non-negative code, as the conv model's: the linear read-out,
        L2-normalised, goes through ``Linear``, ``BatchNorm1d`` and ``ReLU`` and is
        L2-normalised again (see :class:`~sklearn_mae._modules.ConvAutoencoder`). On
        MNIST-10k it raised KMeans NMI by 0.05-0.07 (0.571 to 0.620-0.642), but inpainted
        worse and, at 512 values, cost the visible-only encoder its 2x speed-up, so it is
        off by default (``benchmarks/results/defaults.md``).

    Notes
    -----
    The estimator trains it, by default, on 75% patch masks aligned with the tokens (so
    the encoder sees a quarter of the sequence), batch 64 and lr 1e-3, without the conv
    model's two-view loss; see ``_architectures.py``. What was measured to choose these
    sizes and settings is in ``benchmarks/results/defaults.md``.
    """

    def __init__(
        self,
        sample_shape: tuple[int, ...],
        latent_dim: int,
        width: int,
        *,
        patch_size: int = 4,
        encoder_width: int | None = None,
        encoder_depth: int = 4,
        encoder_heads: int = 4,
        decoder_width: int | None = None,
        decoder_depth: int = 1,
        decoder_heads: int = 4,
        mlp_ratio: float = 2.0,
        pool: str = "flatten",
        flatten_dim: int = 16,
        latent_share: float = 0.25,
        norm_pix_loss: bool = False,
        sparse_code: bool = False,
    ):
        super().__init__(sample_shape, latent_dim, width)
        encoder_width = encoder_width or 6 * width
        decoder_width = decoder_width or 4 * width
        self.image_shape, self.patch_size = self._token_layout(sample_shape, patch_size)
        check_options(encoder_width, encoder_heads, decoder_width, decoder_heads, pool,
                      latent_share)
        channels, height, width_px = self.image_shape
        self.grid = (height // self.patch_size, width_px // self.patch_size)
        self.n_tokens = self.grid[0] * self.grid[1]
        self.patch_dim = channels * self.patch_size**2
        self.pool = pool
        self.latent_share = float(latent_share)
        self.norm_pix_loss = bool(norm_pix_loss)

        self.patch_embed = nn.Linear(2 * self.patch_dim, encoder_width)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, encoder_width))
        self.register_buffer("pos_embed", sincos_embedding_2d(encoder_width, self.grid))
        self.encoder = nn.ModuleList(
            Block(encoder_width, encoder_heads, mlp_ratio) for _ in range(encoder_depth)
        )
        self.encoder_norm = nn.LayerNorm(encoder_width, eps=1e-6)
        if pool == "flatten":
            self.token_reduce = nn.Linear(encoder_width, flatten_dim)
            self.to_latent = nn.Linear(self.n_tokens * flatten_dim, latent_dim)
        else:
            self.to_latent = nn.Linear(encoder_width, latent_dim)

        self.code = nn.Sequential(nn.Linear(latent_dim, latent_dim), nn.BatchNorm1d(latent_dim),
                                  nn.ReLU()) if sparse_code else None

        self.decoder_embed = nn.Linear(encoder_width, decoder_width)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_width))
        self.register_buffer("decoder_pos_embed", sincos_embedding_2d(decoder_width, self.grid))
        self.latent_to_tokens = nn.Linear(latent_dim, self.n_tokens * decoder_width)
        self.decoder = nn.ModuleList(
            Block(decoder_width, decoder_heads, mlp_ratio) for _ in range(decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(decoder_width, eps=1e-6)
        self.head = nn.Linear(decoder_width, self.patch_dim + 2 * self.norm_pix_loss)
        self.reset_parameters()

    @staticmethod
    def _token_layout(sample_shape, patch_size: int) -> tuple[tuple[int, int, int], int]:
        """``(C, H, W)`` the tokens are cut from, and the patch side actually used."""
        if len(sample_shape) == 1:
            return (1, 1, int(sample_shape[0])), 1
        channels, height, width = (int(s) for s in sample_shape)
        if patch_size < 1 or height % patch_size or width % patch_size:
            raise ValueError(
                f"module_params patch_size={patch_size} does not tile images of "
                f"{height}x{width} pixels: both sides must be multiples of patch_size "
                f"(divisors of {math.gcd(height, width)})."
            )
        return (channels, height, width), patch_size

    def reset_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        # start from a zero prediction, not noise: leaves the mean-image plateau sooner
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.latent_to_tokens.weight)

    # ------------------------------------------------------------ patches
    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, *sample_shape)`` -> ``(n, n_tokens, C * p * p)``."""
        channels, p, (grid_h, grid_w) = self.image_shape[0], self.patch_size, self.grid
        x = x.reshape(len(x), channels, grid_h, p, grid_w, p)
        return x.permute(0, 2, 4, 1, 3, 5).reshape(len(x), self.n_tokens, self.patch_dim)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """``(n, n_tokens, C * p * p)`` -> ``(n, *sample_shape)``."""
        channels, p, (grid_h, grid_w) = self.image_shape[0], self.patch_size, self.grid
        x = patches.reshape(len(patches), grid_h, grid_w, channels, p, p)
        return x.permute(0, 3, 1, 4, 2, 5).reshape(len(patches), *self.sample_shape)

    # ------------------------------------------------------------ encoder
    def encode_tokens(self, x: torch.Tensor, visible: torch.Tensor, mask: FixedMask | None = None):
        """Encoder outputs ``(n, 1 + k, D)`` (class token first) for the kept patches.

        Also returns the patches' ``index`` and ``valid`` (see ``visible_token_index``).
        """
        patches = self.patchify(x)
        seen = self.patchify(visible.expand_as(x)).to(x.dtype)
        aligned = mask is not None and mask.patch_size == self.patch_size
        k = self.n_tokens - mask.n_hidden if aligned else None
        index, valid = visible_token_index(seen.amax(dim=2) > 0, k)
        kept = gather_tokens(torch.cat([patches * seen, seen], dim=2), index)
        tokens = self.patch_embed(kept) + self.pos_embed[index]
        sequence = torch.cat([self.cls_token.expand(len(x), -1, -1), tokens], dim=1)
        attn_mask = None
        if valid is not None:
            with_cls = torch.cat([valid.new_ones(len(x), 1), valid], dim=1)
            attn_mask = with_cls[:, None, None, :]
        for block in self.encoder:
            sequence = block(sequence, attn_mask)
        return self.encoder_norm(sequence), index, valid

    def latent(self, sequence, index, valid) -> torch.Tensor:
        """``z`` from encoder outputs (see ``pool`` and ``sparse_code``)."""
        z = self._read_out(sequence, index, valid)
        return z if self.code is None else on_sphere(self.code(on_sphere(z)))

    def _read_out(self, sequence, index, valid) -> torch.Tensor:
        cls, tokens = sequence[:, 0], sequence[:, 1:]
        weight = tokens.new_ones(tokens.shape[:2]) if valid is None else valid.to(tokens.dtype)
        count = weight.sum(dim=1, keepdim=True)
        if self.pool == "flatten":
            # hidden patches give zeros; rescaled by the share seen, like inverted dropout
            reduced = self.token_reduce(sequence)[:, 1:] * weight[..., None]
            grid = reduced.new_zeros(len(tokens), self.n_tokens, reduced.shape[-1])
            grid = grid.scatter(1, index[..., None].expand_as(reduced), reduced)
            return self.to_latent(grid.flatten(1) * (self.n_tokens / count.clamp_min(1.0)))
        if self.pool == "cls":
            return self.to_latent(cls)
        mean = (tokens * weight[..., None]).sum(dim=1) / count.clamp_min(1.0)
        return self.to_latent(torch.where(count > 0, mean, cls))  # nothing seen: class token

    def encode(self, x: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        sequence, index, valid = self.encode_tokens(x, visible)
        return self.latent(sequence, index, valid)

    # ------------------------------------------------------------ decoder
    def decode_patches(self, z, sequence=None, index=None, use_token=None) -> torch.Tensor:
        """Decoder outputs per patch ``(n, n_tokens, out)`` from ``z`` and, optionally,
        the encoded visible patches (``use_token`` marks which of them to pass on)."""
        n, width = len(z), self.mask_token.shape[-1]
        tokens = self.mask_token.expand(n, self.n_tokens, width)
        if sequence is not None and sequence.shape[1] > 1:
            encoded = self.decoder_embed(sequence[:, 1:])
            if use_token is not None:
                encoded = torch.where(use_token[..., None], encoded, self.mask_token)
            tokens = tokens.scatter(1, index[..., None].expand(-1, -1, width), encoded)
        tokens = tokens + self.decoder_pos_embed + self.latent_to_tokens(z).view(n, -1, width)
        for block in self.decoder:
            tokens = block(tokens)
        return self.head(self.decoder_norm(tokens))

    def to_pixels(self, out: torch.Tensor) -> torch.Tensor:
        if self.norm_pix_loss:
            normalised, mean, std = out[..., :-2], out[..., -2:-1], out[..., -1:]
            out = normalised * std.clamp_min(0.0) + mean
        return self.unpatchify(out)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.to_pixels(self.decode_patches(z))

    def forward(self, x: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        sequence, index, valid = self.encode_tokens(x, visible)
        z = self.latent(sequence, index, valid)
        if self.latent_share >= 1:
            return self.decode(z)
        return self.to_pixels(self.decode_patches(z, sequence, index, valid))

    # ------------------------------------------------------------ training
    def training_loss(self, x: torch.Tensor, visible: torch.Tensor, scored: torch.Tensor,
                      mask: FixedMask | None = None, clean: torch.Tensor | None = None):
        """``(loss, z)`` of one training batch; ``x`` has no NaN, ``scored`` marks the
        entries to predict (from ``clean``, when given, rather than ``x``). The first
        ``latent_share`` of the (shuffled) batch is decoded from ``z`` alone, the rest also
        from the encoded visible patches."""
        sequence, index, valid = self.encode_tokens(x, visible, mask)
        z = self.latent(sequence, index, valid)
        n_latent_only = round(self.latent_share * len(x))
        use_token = (torch.arange(len(x), device=x.device) >= n_latent_only)[:, None]
        use_token = use_token.expand(index.shape) if valid is None else use_token & valid
        out = self.decode_patches(z, sequence, index, use_token)

        target = self.patchify(x if clean is None else clean)
        weight = self.patchify(scored.expand_as(x)).to(x.dtype)
        if not self.norm_pix_loss:
            return masked_mse(out, target, weight), z
        observed = self.patchify((visible | scored).expand_as(x)).to(x.dtype)
        mean, std = patch_statistics(target, observed)
        pixel_loss = masked_mse(out[..., :-2], (target - mean) / std, weight)
        stats = torch.cat([mean, std], dim=2)
        stats_loss = masked_mse(out[..., -2:], stats, weight.amax(2, True))
        return pixel_loss + stats_loss, z


def patch_statistics(patches: torch.Tensor, observed: torch.Tensor, eps: float = 1e-6):
    """Mean and standard deviation of each patch over its observed entries (keepdim)."""
    count = observed.sum(dim=2, keepdim=True).clamp_min(1.0)
    mean = (patches * observed).sum(dim=2, keepdim=True) / count
    var = (((patches - mean) * observed) ** 2).sum(dim=2, keepdim=True) / count
    return mean, (var + eps).sqrt()


def check_options(encoder_width, encoder_heads, decoder_width, decoder_heads, pool, share):
    for name, dim, heads in (("encoder", encoder_width, encoder_heads),
                             ("decoder", decoder_width, decoder_heads)):
        if heads < 1 or dim % heads:
            raise ValueError(
                f"{name}_heads={heads} must divide {name}_width={dim}: each head "
                "takes an equal share of the width."
            )
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}; got {pool!r}.")
    if not 0 <= share <= 1:
        raise ValueError(f"latent_share must be in [0, 1]; got {share!r}.")
