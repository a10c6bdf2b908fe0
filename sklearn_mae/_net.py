"""The skorch side: a ``NeuralNet`` that owns the masked reconstruction loss.

Behaviour is changed through skorch's hooks only: ``get_iterator`` (fast tensor
batches, shuffled by the net's own generator), ``train_step_single`` (draw a
fresh mask for every batch, reconstruct, masked loss; optionally two shifted,
differently masked views of each sample under a VICReg loss on their latents)
and ``get_loss``.
"""

from __future__ import annotations

import math

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import unpack_data
from torch import nn

from ._invariance import random_shift, vicreg_loss
from ._masking import random_mask


class MaskedMSELoss(nn.Module):
    """Mean squared error over the entries where ``weight`` is true."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor):
        weight = weight.expand_as(pred).to(pred.dtype)
        return ((pred - target) ** 2 * weight).sum() / weight.sum().clamp_min(1.0)


class TensorBatches:
    """Mini-batches sliced from one tensor; cheaper than a DataLoader over single rows.

    Batches are ``(x, None)`` so skorch's batch bookkeeping works unchanged. A
    trailing batch of one sample is dropped when training, as BatchNorm needs two.
    """

    def __init__(self, data: torch.Tensor, batch_size: int, generator: torch.Generator | None):
        self.data = data
        self.batch_size = batch_size
        self.generator = generator

    def __len__(self) -> int:
        return math.ceil(len(self.data) / self.batch_size)

    def __iter__(self):
        n = len(self.data)
        order = None if self.generator is None else torch.randperm(n, generator=self.generator)
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            if order is None:
                yield self.data[start:stop], None
            elif stop - start > 1 or n == 1:
                yield self.data[order[start:stop]], None


class WarmupCosineLR(Callback):
    """Linear warm-up over the first ``warmup`` fraction of steps, then cosine decay."""

    def __init__(self, total_steps: int, warmup: float = 0.1):
        self.total_steps = total_steps
        self.warmup = warmup

    def initialize(self):
        self.step_ = 0
        return self

    def factor(self, step: int) -> float:
        warmup_steps = max(1, round(self.warmup * self.total_steps))
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, self.total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training:
            return
        lr = net.lr * self.factor(self.step_)
        for group in net.optimizer_.param_groups:
            group["lr"] = lr
        self.step_ += 1


class MaskedAutoencoderNet(NeuralNet):
    """``NeuralNet`` whose training step hides a fresh random mask in every batch.

    Missing entries (NaN) are never shown to the module and never enter the loss.
    """

    def __init__(
        self,
        module,
        *args,
        criterion=MaskedMSELoss,
        mask_ratio: float = 0.5,
        mask_type: str = "pixel",
        patch_size: int = 4,
        loss_on: str = "masked",
        consistency: float = 0.0,
        max_shift: int = 0,  # pixels
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(module, criterion, *args, **kwargs)
        self.mask_ratio = mask_ratio
        self.mask_type = mask_type
        self.patch_size = patch_size
        self.loss_on = loss_on
        self.consistency = consistency
        self.max_shift = max_shift
        self.seed = seed

    def initialize(self):
        super().initialize()
        self.generator_ = torch.Generator().manual_seed(self.seed)
        return self

    def get_iterator(self, dataset, training=False):
        generator = self.generator_ if training else None
        return TensorBatches(dataset.X, self.batch_size, generator)

    def draw_mask(self, x: torch.Tensor) -> torch.Tensor:
        """A fresh training mask for the batch ``x`` (``True`` = hidden)."""
        hidden = random_mask(
            len(x),
            tuple(x.shape[1:]),
            ratio=self.mask_ratio,
            mask_type=self.mask_type,
            patch_size=self.patch_size,
            generator=self.generator_,
        )
        return hidden.to(x.device, non_blocking=True)

    def two_views(self) -> bool:
        """Whether training pairs two views of each sample under the VICReg loss.

        The second view is a shifted one: where no shift is possible (tables, small
        images) mask-only views were measured to hurt the features, so one view is used.
        """
        return self.consistency > 0 and self.max_shift > 0

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        x, _ = unpack_data(batch)
        x = x.to(self.device, non_blocking=True)
        two_views = self.two_views()
        if two_views:
            x = torch.cat([random_shift(x, self.max_shift, self.generator_) for _ in range(2)])
        observed = ~torch.isnan(x)
        hidden = self.draw_mask(x)
        visible = observed & ~hidden
        target = torch.nan_to_num(x)
        scored = observed & hidden if self.loss_on == "masked" and self.mask_ratio > 0 else observed
        if hasattr(self.module_, "training_loss"):
            # the module's own objective, e.g. a loss on normalised targets, not its outputs
            loss, z = self.module_.training_loss(target, visible, scored)
            y_pred = None
        else:
            z = self.module_.encode(target, visible)
            y_pred = self.module_.decode(z)
            loss = self.get_loss(y_pred, (target, scored), X=x, training=True)
        if two_views:
            loss = loss + self.consistency * vicreg_loss(*z.chunk(2))
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        target, scored = y_true
        return self.criterion_(y_pred, target, scored)
