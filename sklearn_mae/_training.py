"""How a fit runs: devices, epochs, callbacks, and the guarantees around the training loop.

A fit either completes or changes nothing (``keep_state_on_failure``); a user's Ctrl-C
propagates while a callback's request to stop ends a normal fit (``user_interrupts``);
CUDA's speed flags are set for the fit only (``fast_cuda_kernels``) and inference runs
in exact float32 (``inference``); ``train`` runs the net over the data, kept on the
device when it fits there.
"""

from __future__ import annotations

import functools
import math
import signal
import threading
from contextlib import contextmanager
from functools import partial

import torch
from skorch.callbacks import Callback

from ._base import MaskedAutoencoderModule
from ._inputs import Scaler
from ._net import MaskedAutoencoderNet, warmup_constant
from ._sources import ArraySource, DeviceRows, ScaledRows, fits_on_device, sample_rows

AUTO_EPOCHS_MAX = 500  # epochs at most
PARTIAL_WARMUP = 100  # optimiser steps of linear warm-up in partial_fit
PREPARE_ROWS = 4096  # samples a module's ``prepare`` sees


def resolve_device(device: str) -> str:
    """``"auto"`` -> CUDA when available, else CPU; other values are checked."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device; use 'auto', 'cpu' or "
                         "'cuda'.") from exc
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available here; "
                         "use device='auto' or 'cpu'.")
    return str(parsed)


@contextmanager
def keep_state_on_failure(estimator):
    """Leave ``estimator`` as it was (unfitted, or the previous model) if the block raises,
    Ctrl-C included: a fit either completes or changes nothing."""
    fitted = {k: v for k, v in vars(estimator).items() if k.endswith("_")}
    try:
        yield
    except BaseException:
        for key in [k for k in vars(estimator) if k.endswith("_")]:
            delattr(estimator, key)
        vars(estimator).update(fitted)
        raise


@contextmanager
def _cuda_backend_flags(device, **values):
    """Set ``torch.backends`` flags while the block runs, on CUDA only; the global flags
    are restored afterwards, so nothing else in the process is affected."""
    if torch.device(device).type != "cuda":
        yield
        return
    flags = {"benchmark": (torch.backends.cudnn, "benchmark"),
             "cudnn_tf32": (torch.backends.cudnn, "allow_tf32"),
             "matmul_tf32": (torch.backends.cuda.matmul, "allow_tf32")}
    saved = {key: getattr(*flags[key]) for key in values}
    try:
        for key, value in values.items():
            setattr(*flags[key], value)
        yield
    finally:
        for key, value in saved.items():
            setattr(*flags[key], value)


def fast_cuda_kernels(device):
    """cuDNN autotuning and TF32 convolutions and matrix products while training on CUDA."""
    return _cuda_backend_flags(device, benchmark=True, cudnn_tf32=True, matmul_tf32=True)


def exact_float32(device):
    """Full float32 convolutions and matrix products on CUDA while the block runs.

    PyTorch lets cuDNN convolutions use TF32 by default (about three significant digits),
    which put features computed on a GPU up to 5e-3 away from the CPU's on 3x64x64
    images; inference is cheap next to training, so it runs in full float32 and a model
    gives the same features on either device.
    """
    return _cuda_backend_flags(device, cudnn_tf32=False, matmul_tf32=False)


def inference(method):
    """Run an estimator's method under ``torch.inference_mode`` with exact float32
    kernels on its net's device (``exact_float32``)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        net = getattr(self, "net_", None)
        with torch.inference_mode(), exact_float32(net.device if net is not None else "cpu"):
            return method(self, *args, **kwargs)

    return wrapper


@contextmanager
def user_interrupts():
    """Yield a list that records a Ctrl-C (SIGINT) while the block runs.

    skorch ends training quietly on any ``KeyboardInterrupt``, and its ``EarlyStopping``
    raises one to stop; watching the signal itself tells a user's Ctrl-C, which must
    propagate, from a callback's request to stop, which ends a normal fit.
    """
    seen: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield seen  # signals only reach the main thread
        return
    previous = signal.getsignal(signal.SIGINT)

    def record(signum, frame):
        if previous is signal.SIG_IGN:
            return
        seen.append(True)
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, record)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, previous)


def steps_per_epoch(n_batches: int, epoch_steps: int = 1) -> int:
    """Optimiser steps in an epoch: one pass of ``n_batches``, or ``epoch_steps`` if more
    (batches then come from as many shuffled passes as it takes)."""
    return max(n_batches, epoch_steps)


def auto_epochs(n_batches: int, epoch_steps: int, target_steps: int, min_passes: int) -> int:
    """Epochs for about ``target_steps`` optimiser steps and at least ``min_passes`` passes
    over the data, at most 500 epochs."""
    steps = max(target_steps, min_passes * n_batches)
    return min(AUTO_EPOCHS_MAX, math.ceil(steps / steps_per_epoch(n_batches, epoch_steps)))


def check_callbacks(callbacks: list) -> list:
    """skorch callbacks, or ``(name, callback)`` pairs; anything else is refused here."""
    for entry in callbacks:
        callback = entry[1] if isinstance(entry, tuple) and len(entry) == 2 else entry
        if not isinstance(callback, Callback):
            raise TypeError(
                f"callbacks must hold skorch callbacks (instances of skorch.callbacks.Callback, "
                f"e.g. EarlyStopping(monitor='train_loss')) or (name, callback) pairs; got "
                f"{entry!r}."
            )
    return callbacks


def prepare_module(module, source: ArraySource, scaler: Scaler, seed: int) -> None:
    """``module.prepare`` with up to ``PREPARE_ROWS`` scaled samples drawn at random; no
    read at all for a module that does not override it."""
    if type(module).prepare is MaskedAutoencoderModule.prepare:
        return
    module.prepare(scaler.to_tensor(sample_rows(source, PREPARE_ROWS, seed)))


def train(net: MaskedAutoencoderNet, source: ArraySource, scaler: Scaler,
          epochs: int | None = None) -> None:
    """``net.fit`` (a fresh fit) or ``epochs`` more passes over ``source``. On CUDA the
    scaled data moves to the device when it fits there. A Ctrl-C propagates (see
    ``user_interrupts``)."""
    data = ScaledRows(source, scaler)
    if fits_on_device(4 * len(source) * source.layout.n_features, net.device):
        data = DeviceRows(data, net.device)
    with user_interrupts() as interrupted, fast_cuda_kernels(net.device):
        if epochs is None:
            net.fit(data, None)
        else:
            schedule = dict(net.callbacks_)["lr_schedule"]
            steps_done = sum(len(epoch["batches"]) for epoch in net.history)
            # continue the schedule where it stands; after fit, at the constant lr
            schedule.lr_lambda = partial(warmup_constant, warmup_steps=PARTIAL_WARMUP)
            schedule.last_epoch = steps_done - 1
            net.partial_fit(data, None, epochs=epochs)
    if interrupted:
        raise KeyboardInterrupt
