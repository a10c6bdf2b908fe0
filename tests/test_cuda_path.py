"""The CUDA path, kept honest on a machine without a GPU: no host syncs in a training
step, a cap on its operator count, and the CUDA wiring with CUDA patched in."""

import io
import pickle
from collections import Counter

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch.utils._python_dispatch import TorchDispatchMode

from sklearn_mae import MaskedAutoencoder, _net, _sources, _training
from sklearn_mae._inputs import resolve_layout

SYNCS = {"_local_scalar_dense", "is_nonzero", "item", "nonzero", "masked_select",
         "unique", "_unique2", "equal", "_linalg_check_errors"}


class OpRecorder(TorchDispatchMode):
    """Counts the aten operators run; a host sync on CUDA shows up as one of ``SYNCS``."""

    def __init__(self):
        super().__init__()
        self.ops = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def images(n=64, side=16):
    X = load_digits().data[:n].reshape(-1, 8, 8) / 16
    return np.kron(X, np.ones((side // 8, side // 8)))  # 16x16: shifts, two views


def steady_step(mae, X):
    """One training step of a fitted model, as the epoch loop runs it."""
    net = mae.net_
    batch = next(iter(net.get_iterator(_sources.ScaledRows(
        _sources.ArraySource(X, mae.layout_), mae.scaler_), training=True)))
    recorder = OpRecorder()
    with recorder:
        net.train_step_single(batch)
    return recorder.ops


@pytest.mark.parametrize("params, cap", [
    # conv, two views: 526 measured (moved views, noise, detail head, the sparse code and
    # its projection)
    (dict(), 600),
    (dict(architecture="vit", module_params={"encoder_depth": 1}), 500),  # aligned patches
])
def test_a_training_step_never_waits_for_the_device(params, cap):
    X = images()
    mae = MaskedAutoencoder(max_epochs=1, batch_size=32, random_state=0, **params).fit(X)
    assert mae.net_.complete_data
    ops = steady_step(mae, X)
    assert not SYNCS & set(ops), {op: ops[op] for op in SYNCS & set(ops)}
    assert sum(ops.values()) <= cap, sum(ops.values())  # a guard on kernel launches


def test_a_table_step_with_its_gaussian_never_waits_for_the_device():
    X = load_digits().data[:64, :30] / 16  # 30 columns: a table, with the mlp's Gaussian
    mae = MaskedAutoencoder(max_epochs=1, batch_size=32, random_state=0).fit(X)
    assert mae.net_.module_.gaussian
    ops = steady_step(mae, X)
    assert "cholesky_solve" in ops  # the batched conditional mean ran
    assert not SYNCS & set(ops), {op: ops[op] for op in SYNCS & set(ops)}


def test_a_step_switches_only_the_modules_in_the_wrong_mode(monkeypatch):
    X = images()
    mae = MaskedAutoencoder(max_epochs=1, batch_size=32, random_state=0).fit(X)
    net = mae.net_
    calls = []
    real = torch.nn.Module.train
    monkeypatch.setattr(torch.nn.Module, "train",
                        lambda self, mode=True: calls.append(mode) or real(self, mode))
    net.module_.eval()
    net._set_training(True)
    assert all(m.training for m in net.module_.modules())
    calls.clear()
    net._set_training(True)  # already training: nothing to set
    assert calls == []
    next(net.module_.children()).eval()  # one submodule out of step is set again
    net._set_training(True)
    assert all(m.training for m in net.module_.modules())


def test_data_with_holes_reads_the_vit_token_counts():
    X = images()
    X[0, :4, :4] = np.nan
    mae = MaskedAutoencoder(architecture="vit", max_epochs=1, batch_size=32, random_state=0,
                            module_params={"encoder_depth": 1}).fit(X)
    assert not mae.net_.complete_data and mae.net_.fixed_mask(32) is None


@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (8 * 2**30, 16 * 2**30))


def test_cuda_wiring(fake_cuda):
    X = images()
    mae = MaskedAutoencoder(random_state=0)
    layout = resolve_layout(X.shape[1:], "auto")
    architecture = mae._resolve_architecture(layout)
    training = mae._resolve_training(architecture, layout, len(X))
    assert (training["device"], training["precision"]) == ("cuda", "bfloat16")
    assert training["batch_size"] == 128  # the CPU's: larger ones cost quality
    net = mae._build_net(architecture, layout, training, len(X), seed=0)
    assert net.optimizer__fused is True and net.precision == "bfloat16"
    assert MaskedAutoencoder(precision="float32")._resolve_training(
        architecture, layout, len(X))["precision"] == "float32"
    assert _sources.fits_on_device(1 * 2**30, "cuda") and not _sources.fits_on_device(
        3 * 2**30, "cuda")
    assert not _sources.fits_on_device(10, "cpu")
    assert _net.available_device("cuda:1") == "cuda:0"
    assert _net.available_device("cuda:0") == "cuda:0"


def test_cuda_flags_are_set_only_inside_training():
    before = (torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32)
    with _training.fast_cuda_kernels("cuda"):
        assert torch.backends.cudnn.benchmark and torch.backends.cuda.matmul.allow_tf32
    assert (torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32) == before
    with _training.fast_cuda_kernels("cpu"):
        assert (torch.backends.cudnn.benchmark,
                torch.backends.cuda.matmul.allow_tf32) == before


def test_inference_runs_in_exact_float32_on_the_nets_device(monkeypatch):
    # cuDNN's default TF32 convolutions put GPU features 5e-3 from the CPU's
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    with _training.exact_float32("cuda"):
        assert not (torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32)
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before
    X = images()
    mae = MaskedAutoencoder(max_epochs=1, batch_size=32, random_state=0).fit(X)
    devices = []
    real = _training.exact_float32

    def recording(device):
        devices.append(device)
        assert torch.is_inference_mode_enabled()
        return real(device)

    monkeypatch.setattr(_training, "exact_float32", recording)
    for method in (mae.transform, mae.denoise, mae.score_samples):
        method(X[:4])
    mae.inverse_transform(mae.transform(X[:4]))
    assert devices == [mae.net_.device] * 5


def test_the_generator_state_survives_pickling():
    X = images()
    mae = MaskedAutoencoder(max_epochs=1, batch_size=32, random_state=0).fit(X)
    copy = pickle.loads(pickle.dumps(mae))
    assert torch.equal(copy.net_.generator_.get_state(), mae.net_.generator_.get_state())
    mae.partial_fit(X)
    copy.partial_fit(X)
    np.testing.assert_array_equal(copy.transform(X), mae.transform(X))


def test_a_pickle_maps_every_tensor_through_the_device_aware_unpickler():
    # a model fitted on CUDA must unpickle on a CPU-only machine: every tensor outside
    # skorch's device-mapped attributes would be restored on its saving device and fail
    # there (the LR scheduler's optimizer did)
    X = images()
    mae = MaskedAutoencoder(max_epochs=1, batch_size=32, random_state=0).fit(X)
    state = mae.net_.__getstate__()
    state.pop("__cuda_dependent_attributes__")
    found = []

    class Finder(pickle.Pickler):
        def reducer_override(self, obj):
            if isinstance(obj, torch.Tensor):
                found.append(obj.device.type)
            return NotImplemented

    Finder(io.BytesIO()).dump(state)
    assert found == ["cpu"]  # the generator's state, a CPU byte tensor on every device
    copy = pickle.loads(pickle.dumps(mae))
    schedulers = [cb.lr_scheduler_ for _, cb in copy.net_.callbacks_
                  if getattr(cb, "lr_scheduler_", None) is not None]
    assert schedulers and all(s.optimizer is copy.net_.optimizer_ for s in schedulers)


class _GpuBatch:
    """Stands for a batch already on ``cuda:0``; pinning it is the error CUDA gives."""
    device = torch.device("cuda", 0)

    def pin_memory(self):
        raise RuntimeError("cannot pin 'torch.cuda.FloatTensor'")

    def to(self, device, non_blocking=False):
        return self


def test_batches_already_on_the_gpu_are_neither_pinned_nor_copied():
    # data kept on the GPU yields batches on cuda:0 while the net's device reads "cuda"
    batches = [_GpuBatch(), _GpuBatch()]
    assert list(_net.prefetched(iter(batches), torch.device("cuda"))) == batches


def test_bf16_precision_trains_with_float32_losses():
    X = images(32)
    mae = MaskedAutoencoder(max_epochs=1, batch_size=16, random_state=0, precision="bfloat16",
                            latent_dim=8, width=4).fit(X)
    assert mae.training_params_["precision"] == "bfloat16"
    assert np.isfinite(mae.loss_curve_).all()
    assert mae.transform(X).dtype == np.float64


@pytest.mark.slow
def test_compiled_training_step_matches_eager():
    X = images(32, side=8)
    params = dict(max_epochs=2, batch_size=16, random_state=0, latent_dim=4, width=2)
    eager = MaskedAutoencoder(**params).fit(X)
    compiled = MaskedAutoencoder(**params, compile=True).fit(X)
    np.testing.assert_allclose(compiled.loss_curve_, eager.loss_curve_, rtol=1e-3)
    restored = pickle.loads(pickle.dumps(compiled))  # the compiled step is rebuilt
    np.testing.assert_allclose(restored.transform(X), compiled.transform(X), rtol=1e-6)
