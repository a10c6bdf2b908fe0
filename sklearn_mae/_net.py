"""The skorch side: a ``NeuralNet`` that owns the masked reconstruction loss.

Behaviour is changed through skorch's hooks only: ``get_iterator`` (fast tensor
batches, shuffled by the net's own generator) and ``train_step_single`` (draw a
fresh mask for every batch, optionally corrupt what stays visible, and take the
module's ``training_loss`` against the clean batch; optionally two randomly moved,
differently masked views of each image under a VICReg loss on their latents).
``get_loss`` is the masked MSE of a prediction, for skorch's API.
"""

from __future__ import annotations

import inspect
import math

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import get_len, unpack_data

from ._base import FixedMask, MaskedMSELoss
from ._corruption import corrupt
from ._invariance import random_affine, random_shift, vicreg_loss
from ._masking import n_hidden, random_mask


class Batches:
    """The training (shuffled) or inference (in order) batches of a ``ScaledRows``.

    Batches are ``(x, None)`` so skorch's batch bookkeeping works unchanged. A
    training batch of one sample is dropped, as BatchNorm needs two. ``steps`` training
    batches at least make an epoch: one pass, or where a pass has fewer, as many passes
    as it takes, each shuffled anew, cut at ``min_steps``.
    """

    def __init__(self, data, batch_size: int, generator: torch.Generator | None, device,
                 min_steps: int = 1):
        self.data = data
        self.batch_size = batch_size
        self.generator = generator
        self.device = torch.device(device)
        one_pass = math.ceil(len(data) / batch_size)
        self.steps = min_steps if generator is not None and min_steps > one_pass else None

    def __len__(self) -> int:
        return self.steps or math.ceil(len(self.data) / self.batch_size)

    def __iter__(self):
        if self.steps is None:
            yield from self._one_pass()
            return
        count = 0
        while count < self.steps:
            for batch in self._one_pass():
                yield batch
                count += 1
                if count == self.steps:
                    return

    def _one_pass(self):
        batches = self.data.batches(self.batch_size, self.generator)
        for x in prefetched(batches, self.device):
            if self.generator is None or len(x) > 1 or len(self.data) == 1:
                yield x, None


def prefetched(batches, device: torch.device):
    """Batches on ``device``. On CUDA, host batches are pinned and the copy of each is
    started before the previous batch is handed on, so copies overlap the steps."""
    if device.type != "cuda":
        yield from (x.to(device) for x in batches)
        return
    pending = None
    for x in batches:
        # A batch already on a CUDA card (data kept on the GPU) goes as it is: comparing
        # devices would tell ``cuda`` from ``cuda:0`` and try to pin a GPU tensor.
        if x.device.type == "cpu":
            x = x.pin_memory().to(device, non_blocking=True)
        elif x.device != device:
            x = x.to(device, non_blocking=True)
        if pending is not None:
            yield pending
        pending = x
    if pending is not None:
        yield pending


def available_device(device: str) -> str:
    """``device`` if this machine has it; another CUDA card (``cuda:1`` on a one-GPU
    machine loads on ``cuda:0``), or the CPU without CUDA (skorch then warns)."""
    parsed = torch.device(device)
    if parsed.type != "cuda" or not torch.cuda.is_available():
        return device
    if parsed.index is not None and parsed.index >= torch.cuda.device_count():
        return "cuda:0"
    return device


def warmup_constant(step: int, warmup_steps: int) -> float:
    """Learning-rate factor at ``step``: linear warm-up over ``warmup_steps``, then 1."""
    return min(1.0, (step + 1) / warmup_steps)


def warmup_cosine(step: int, total_steps: int, warmup: float = 0.1) -> float:
    """Learning-rate factor at ``step``: linear warm-up over the first ``warmup`` share
    of ``total_steps``, then cosine decay to zero (for ``torch``'s ``LambdaLR``)."""
    warmup_steps = max(1, round(warmup * total_steps))
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def visible_weighted(hidden: torch.Tensor, visible: torch.Tensor, weight: float) -> torch.Tensor:
    """Loss weights under which the masked MSE is ``(mse(hidden) + weight * mse(visible))
    / (1 + weight)``: each group's mean, whatever its size (no host sync for the counts)."""
    hidden, visible = hidden.float(), visible.float()
    return (hidden / hidden.sum().clamp_min(1.0)
            + weight * visible / visible.sum().clamp_min(1.0))


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
        visible_weight: float = 0.0,
        epoch_steps: int = 1,
        max_shift: int,  # pixels
        seed: int,
        max_rotation: float = 0.0,  # degrees
        max_zoom: float = 0.0,
        noise=None,
        noise_level: float = 0.0,
        precision: str = "float32",
        compile_step: bool = False,
        complete_data: bool = False,
        criterion=MaskedMSELoss,
        **kwargs,
    ):
        super().__init__(module, criterion, *args, **kwargs)
        self.precision = precision
        self.compile_step = compile_step
        self.complete_data = complete_data  # X is known to hold no missing entry
        self.mask_ratio = mask_ratio
        self.mask_type = mask_type
        self.patch_size = patch_size
        self.loss_on = loss_on
        self.visible_weight = visible_weight
        self.epoch_steps = epoch_steps  # fewest training batches an epoch
        self.consistency = consistency
        self.max_shift = max_shift
        self.max_rotation = max_rotation
        self.max_zoom = max_zoom
        self.noise = noise
        self.noise_level = noise_level
        self.seed = seed

    def initialize(self):
        super().initialize()
        # skorch pickles the attributes with these prefixes through an unpickler that maps
        # tensors to the loading machine's device. Two more hold the training device's
        # tensors: ``module``, the module instance the net was given (the same object as
        # ``module_``), and the callbacks, whose LR scheduler holds the optimizer. With
        # them, a model fitted on CUDA unpickles on a CPU-only machine, and the scheduler
        # keeps driving the net's own optimizer rather than a copy of it.
        missing = [name for name in ("module", "callbacks")
                   if name not in self.cuda_dependent_attributes_]
        self.cuda_dependent_attributes_ = [*self.cuda_dependent_attributes_, *missing]
        # on the training device: masks, shifts and shuffling need no host work or copies
        self.generator_ = torch.Generator(device=self.device).manual_seed(self.seed)
        parameters = inspect.signature(self.module_.training_loss).parameters
        self.module_takes_mask_ = "mask" in parameters
        self.module_takes_views_ = "views" in parameters
        if self.noise is not None and "clean" not in parameters:
            raise ValueError(
                f"noise={self.noise!r} needs a module whose training_loss takes the clean "
                f"target (a `clean` argument); {type(self.module_).__name__}.training_loss "
                "does not. Add it, or set noise=None."
            )
        self._objective_fn = torch.compile(self.objective) if self.compile_step else None
        return self

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_objective_fn", None)  # a compiled function does not pickle; rebuilt
        if "generator_" in state:  # its state, to be restored on whatever device loads it
            generator = state.pop("generator_")
            state["generator_state_"] = (str(generator.device), generator.get_state())
        return state

    def __setstate__(self, state):
        state["device"] = available_device(state.get("device", "cpu"))
        saved = state.pop("generator_state_", None)
        super().__setstate__(state)
        if saved is not None:
            device, generator_state = saved
            self.generator_ = torch.Generator(device=self.device)
            if torch.device(device).type == torch.device(self.device).type:
                self.generator_.set_state(generator_state)
            else:  # CUDA and CPU generators have different states: reseed
                self.generator_.manual_seed(self.seed)
        self._objective_fn = (torch.compile(self.objective)
                              if getattr(self, "compile_step", False) else None)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch loop, except that batch losses stay on the device until the
        epoch ends: one host sync an epoch instead of one a step (``.item()``), and the
        same values in ``history``."""
        if iterator is None:
            return
        # one preallocated buffer, not a tensor kept per step: small objects kept alive
        # among the steps' large allocations fragmented the heap (+70 MB over 391 steps)
        losses = torch.empty(len(iterator), device=self.device)
        count = 0
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            losses[count] = step["loss"].detach()
            count += 1
            self.history.record_batch(prefix + "_batch_size", get_len(batch[0]))
            self.notify("on_batch_end", batch=batch, training=training, **step)
        batches = self.history[-1]["batches"][len(self.history[-1]["batches"]) - count:]
        for record, value in zip(batches, losses[:count].tolist(), strict=True):
            record[prefix + "_loss"] = value
        self.history.record(prefix + "_batch_count", count)

    def get_iterator(self, dataset, training=False):
        generator = self.generator_ if training else None
        return Batches(dataset, self.batch_size, generator, self.device,
                       getattr(self, "epoch_steps", 1))

    def draw_mask(self, x: torch.Tensor) -> torch.Tensor:
        """A fresh training mask for the batch ``x`` (``True`` = hidden)."""
        return random_mask(
            len(x),
            tuple(x.shape[1:]),
            ratio=self.mask_ratio,
            mask_type=self.mask_type,
            patch_size=self.patch_size,
            generator=self.generator_,
        )

    def two_views(self) -> bool:
        """Whether training pairs two views of each sample under the VICReg loss.

        The second view is a moved one: where no shift is possible (tables, small
        images) mask-only views were measured to hurt the features, so one view is used.
        """
        return self.consistency > 0 and self.max_shift > 0

    def move(self, x: torch.Tensor) -> torch.Tensor:
        """One view of the images ``x``: shifted by whole pixels (exact, no resampling), or
        also rotated and zoomed (resampled bilinearly) when those are asked for."""
        if self.max_rotation == 0 and self.max_zoom == 0:
            return random_shift(x, self.max_shift, self.generator_)
        return random_affine(x, self.max_shift, self.max_rotation, self.max_zoom,
                             self.generator_, complete=self.complete_data)

    def _set_training(self, training=True):
        """skorch's mode switch, made only where a module's mode differs. skorch calls it
        before every step, and ``Module.train`` sets the flag on every submodule through
        ``Module.__setattr__``: about 0.4 ms a step here, a few percent of a GPU step's
        host time, spent setting flags that are already set."""
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and any(
                    m.training != training for m in module.modules()):
                module.train(training)

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        x, _ = unpack_data(batch)
        x = x.to(self.device, non_blocking=True)
        two_views = self.two_views()
        if two_views:
            x = torch.cat([self.move(x) for _ in range(2)])
        observed = ~torch.isnan(x)
        hidden = self.draw_mask(x)
        visible = observed & ~hidden
        target = torch.nan_to_num(x)
        scored = observed & hidden if self.loss_on == "masked" and self.mask_ratio > 0 else observed
        if scored is not observed and getattr(self, "visible_weight", 0.0) > 0:
            scored = visible_weighted(scored, visible, self.visible_weight)
        objective = self._objective_fn or self.objective
        loss = objective(target, visible, scored, self.fixed_mask(len(x)), two_views)
        loss.backward()
        return {"loss": loss, "y_pred": None}

    def objective(self, target, visible, scored, mask: FixedMask | None, two_views: bool):
        """The loss of one batch (compiled when ``compile_step``): the module's
        ``training_loss`` (of a corrupted copy of ``target`` when ``noise`` is set) under
        bf16 autocast when ``precision="bfloat16"``, plus the VICReg term, both taken in
        float32."""
        device_type = torch.device(self.device).type
        kwargs = {} if mask is None else {"mask": mask}  # a module of one's own may not
        if two_views and getattr(self, "module_takes_views_", False):  # take the hints
            kwargs["views"] = 2
        inputs = target
        if self.noise is not None:
            inputs = corrupt(target, self.noise, self.noise_level, self.generator_,
                             is_image=len(self.module_.sample_shape) == 3)
            kwargs["clean"] = target
        with torch.autocast(device_type, dtype=torch.bfloat16,
                            enabled=self.precision == "bfloat16"):
            loss, z = self.module_.training_loss(inputs, visible, scored, **kwargs)
        loss = loss.float()
        if two_views:
            loss = loss + self.consistency * vicreg_loss(*z.float().chunk(2))
        return loss

    def fixed_mask(self, n_samples: int) -> FixedMask | None:
        """The hint of ``training_loss`` when every image hides the same number of
        patches and nothing is missing; None otherwise."""
        shape = self.module_.sample_shape
        if (self.mask_type != "patch" or not self.complete_data or self.mask_ratio <= 0
                or not self.module_takes_mask_ or len(shape) != 3):
            return None
        n_patches = (shape[1] // self.patch_size) * (shape[2] // self.patch_size)
        return FixedMask(self.patch_size, n_hidden(n_patches, self.mask_ratio))

    def get_loss(self, y_pred, y_true, X=None, training=False):
        target, scored = y_true
        return self.criterion_(y_pred, target, scored)
