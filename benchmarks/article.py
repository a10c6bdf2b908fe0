"""A faithful PyTorch port of the original article's Keras model, as a baseline.

Conv(32, relu) -> MaxPool -> Conv(64, relu) -> MaxPool -> Dense(128, relu) encoder;
Dense(7*7*64, relu) -> ConvT(64) -> UpSample -> ConvT(32) -> UpSample -> ConvT(1, sigmoid)
decoder; ONE random 50% pixel mask drawn for the whole training set, MSE on all
pixels, Adam (Keras defaults: lr 1e-3), batch 256. Keras' "same" max-pooling rounds
odd sizes up, so 8x8 digits work as well as 28x28 MNIST.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn


class ArticleAutoencoder(nn.Module):
    def __init__(self, side: int):
        super().__init__()
        self.grid = math.ceil(math.ceil(side / 2) / 2)
        self.side = side
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Flatten(), nn.Linear(64 * self.grid**2, 128), nn.ReLU(),
        )
        self.decoder_dense = nn.Sequential(nn.Linear(128, 64 * self.grid**2), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(64, 64, 3, padding=1), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.ConvTranspose2d(64, 32, 3, padding=1), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.ConvTranspose2d(32, 1, 3, padding=1), nn.Sigmoid(),
        )

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        out = self.decoder(self.decoder_dense(z).view(-1, 64, self.grid, self.grid))
        return out[:, :, : self.side, : self.side]

    def forward(self, x):
        return self.decode(self.encode(x))


class ArticleModel:
    """Train/encode/inpaint wrapper with the article's training procedure."""

    def __init__(self, epochs: int = 10, batch_size: int = 256, seed: int = 0):
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed

    def fit(self, X: np.ndarray):
        torch.manual_seed(self.seed)
        side = int(math.isqrt(X.shape[1]))
        images = torch.as_tensor(X, dtype=torch.float32).view(-1, 1, side, side)
        rng = np.random.default_rng(self.seed)
        mask = torch.as_tensor(rng.random(images.shape) > 0.5, dtype=torch.float32)
        masked = images * mask  # drawn once for the whole training set, as in the article
        self.module_ = ArticleAutoencoder(side)
        optimizer = torch.optim.Adam(self.module_.parameters(), lr=1e-3)
        start = time.perf_counter()
        self.module_.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(images))
            for i in range(0, len(images), self.batch_size):
                idx = order[i : i + self.batch_size]
                loss = nn.functional.mse_loss(self.module_(masked[idx]), images[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        self.fit_seconds_ = time.perf_counter() - start
        self.side_ = side
        return self

    def _images(self, X):
        return torch.as_tensor(X, dtype=torch.float32).view(-1, 1, self.side_, self.side_)

    @torch.inference_mode()
    def transform(self, X: np.ndarray) -> np.ndarray:
        self.module_.eval()
        return np.concatenate([self.module_.encode(self._images(X[i : i + 1024])).numpy()
                               for i in range(0, len(X), 1024)])

    @torch.inference_mode()
    def inpaint(self, X: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The article's inpainting: feed the image with hidden pixels zeroed."""
        self.module_.eval()
        visible = np.where(mask, 0.0, X).astype(np.float32)
        recon = self.module_(self._images(visible)).numpy().reshape(X.shape)
        return np.where(mask, recon, X)
