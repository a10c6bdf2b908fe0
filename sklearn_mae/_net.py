"""The skorch side: a ``NeuralNet`` that owns the masked reconstruction loss.

Behaviour is changed through skorch's hooks only: ``get_iterator`` (fast tensor
batches, shuffled by the net's own generator) and ``train_step_single`` (draw a
fresh mask for every batch and take the module's ``training_loss``; optionally two
shifted, differently masked views of each sample under a VICReg loss on their
latents). ``get_loss`` is the masked MSE of a prediction, for skorch's API.
"""

from __future__ import annotations

import math

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import unpack_data

from ._base import MaskedMSELoss
from ._invariance import random_shift, vicreg_loss
from ._masking import random_mask


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


def warmup_cosine(step: int, total_steps: int, warmup: float = 0.1) -> float:
    """Learning-rate factor at ``step``: linear warm-up over the first ``warmup`` share
    of ``total_steps``, then cosine decay to zero (for ``torch``'s ``LambdaLR``)."""
    warmup_steps = max(1, round(warmup * total_steps))
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class FiniteLoss(Callback):
    """Stop with an error as soon as an epoch's mean training loss is not finite.

    Checked once per epoch from the loss skorch has already recorded, so it adds no
    work to the training step.
    """

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1].get("train_loss", float("nan"))
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"training diverged: the mean loss of epoch {len(net.history)} is {loss}. "
                f"Lower the learning rate (lr was {net.lr:g}; lr='auto' picks a tested one) "
                "or look for extreme values in X."
            )


class MaskedAutoencoderNet(NeuralNet):
    """``NeuralNet`` whose training step hides a fresh random mask in every batch.

    Missing entries (NaN) are never shown to the module and never enter the loss.
    """

    def __init__(
        self,
        module,
        *args,
        mask_ratio: float,
        mask_type: str,
        patch_size: int,
        loss_on: str,
        consistency: float,
        max_shift: int,  # pixels
        seed: int,
        criterion=MaskedMSELoss,
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
        loss, z = self.module_.training_loss(target, visible, scored)
        if two_views:
            loss = loss + self.consistency * vicreg_loss(*z.chunk(2))
        loss.backward()
        return {"loss": loss, "y_pred": None}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        target, scored = y_true
        return self.criterion_(y_pred, target, scored)
