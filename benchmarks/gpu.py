"""GPU benchmark: correctness checks and training speed of the estimator on CUDA.

    PYTHONPATH=. python benchmarks/gpu.py --mnist-dir ../shared/data/mnist10k --out DIR
    PYTHONPATH=. python benchmarks/gpu.py --device cpu --quick --out /tmp/gpuq  # rehearsal
    OUT=DIR bash benchmarks/run_gpu.sh     # on the GPU machine: wheels, then this script

Takes at most about five minutes (``--budget-s``, default 300: a section that would not
fit in what is left is recorded as "skipped: time budget"); the quick CPU rehearsal takes
about three minutes on two cores. Writes ``gpu.md`` and ``gpu.json`` (``gpu-quick.*``
with ``--quick``) to ``--out`` after every section, so a run cut short still leaves its
results.

Checks (each a row: passed, failed or skipped, with the detail; a failure never stops
the script):

1. fits on 28x28 and 3x64x64 images leave every parameter on the device, finite loss;
2. transforms of the same model on the GPU and on the CPU agree within 2e-3;
3. a model pickled on the GPU, and one saved with ``sklearn_mae.persistence.save``, load
   in a subprocess with ``CUDA_VISIBLE_DEVICES=""`` and transform the same;
4. ``torch.cuda.set_sync_debug_mode("error")`` over 50 steady-state training steps
   raises nothing (what raised, and where, otherwise).

Measures: training img/s (input images per second; the 28x28 and 64x64 defaults train
two views of each image) for eager fp32, eager bf16 and compiled bf16, on MNIST-10k
tiled to 60k images and on 50k synthetic 3x64x64 uint8 images; the GPU busy share of
steady-state steps from ``torch.profiler``; transform img/s; the MNIST-10k default fit
(``MaskedAutoencoder(random_state=0)``) time and linear-probe accuracy.

Targets on an H200-class GPU: eager >= 50k img/s and compiled >= 200k img/s at 28x28;
the MNIST-10k default fit in <= 10 s with the probe accuracy of the CPU (within 0.005
of the recorded CPU run in ``benchmarks/results/quality.json``, or of a CPU fit made
here with ``--cpu-probe fit``).

The ``precision`` and ``compile`` estimator parameters are passed only where the
installed package has them; the JSON records every setting that could not be applied.
Exit status: 0 when every check that ran passed, 1 when one failed, 2 when the device
asked for is not available.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import copy  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

try:
    from sklearn_mae import MaskedAutoencoder
    from sklearn_mae._sources import ArraySource, ScaledRows
    from sklearn_mae.datasets import load_mnist
    from sklearn_mae.persistence import load as load_model
    from sklearn_mae.persistence import save as save_model
    from skorch.callbacks import Callback
except ImportError as exc:  # skorch or safetensors missing, or scikit-learn too old
    import sklearn

    sys.exit(f"gpu.py: cannot import the package ({type(exc).__name__}: {exc}). It needs "
             f"skorch, safetensors and scikit-learn >= 1.6 (found scikit-learn "
             f"{sklearn.__version__}, torch {torch.__version__}); run it from the repository "
             "root with PYTHONPATH=.")

from common import (  # noqa: E402
    RESULTS,
    add_common_args,
    linear_probe,
    markdown_table,
    mnist_split,
    write_results,
)

REPO = Path(__file__).resolve().parents[1]
TOLERANCE = 2e-3  # transforms: np.allclose(a, b, rtol=TOLERANCE, atol=TOLERANCE)
TARGETS = {"eager_img_s": 50_000, "compiled_img_s": 200_000, "mnist_fit_s": 10.0}
CONFIGS = [  # (name, requested estimator settings)
    ("eager fp32", {"precision": "float32", "compile": False}),
    ("eager bf16", {"precision": "bfloat16", "compile": False}),
    ("compiled bf16", {"precision": "bfloat16", "compile": True}),
]
WITHOUT_PARAMETER = {"precision": "float32", "compile": False}  # what runs without them
SIZES = {
    False: dict(check_28=4096, check_28_epochs=2, check_64=2048, agree=1000, sync_batch=None,
                sync_warm=4096, train_28=60_000, train_64=50_000, transform_28=20_000,
                transform_64=5_000, train_batch=None),
    True: dict(check_28=512, check_28_epochs=1, check_64=128, agree=200, sync_batch=8, sync_warm=64,
               train_28=384, train_64=192, transform_28=500, transform_64=100,
               train_batch=32),  # quick: small batches, so the profiler gets a window
}
EPOCHS = 3  # throughput fits: the first is a warm-up, the others are timed
SYNC_STEPS = 50  # steady-state steps under set_sync_debug_mode("error")
PROFILE_STEPS = 20  # steps in the profiler's window
RATE_GUESS = {"cuda": {28: 20_000, 64: 4_000}, "cpu": {28: 1_500, 64: 150}}  # img/s
COMPILE_GUESS_S = {"cuda": 60, "cpu": 120}
CPU_REFERENCE = RESULTS / "quality.json"
CPU_REFERENCE_SYSTEM = "MaskedAutoencoder() defaults"

CHILD = r"""
import json, pickle, sys, warnings
import numpy as np, torch
kind, model, data, out = sys.argv[1:5]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    if kind == "pickle":
        with open(model, "rb") as f:
            est = pickle.load(f)
    else:
        from sklearn_mae.persistence import load
        est = load(model)
    np.save(out, est.transform(np.load(data)))
module = est.net_.module_
print(json.dumps({
    "cuda_available": torch.cuda.is_available(),
    "net_device": str(est.net_.device),
    "devices": sorted({t.device.type for t in [*module.parameters(), *module.buffers()]}),
    "warnings": sorted({f"{w.category.__name__}: {str(w.message)[:160]}" for w in caught}),
}))
"""


# ------------------------------------------------------------------ small helpers
def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def describe(exc: BaseException, frames: int = 3) -> str:
    """Type, message and the last frames of the traceback, on one line."""
    message = " ".join(str(exc).split())
    if len(message) > 400:
        message = message[:400] + "..."
    where = traceback.extract_tb(exc.__traceback__)[-frames:] if frames else []
    at = "; ".join(f"{shorten(f.filename)}:{f.lineno} in {f.name}" for f in where)
    return f"{type(exc).__name__}: {message}" + (f" [at {at}]" if at else "")


def shorten(filename: str) -> str:
    parts = Path(filename).parts
    for anchor in ("sklearn_mae", "skorch", "torch", "benchmarks"):
        if anchor in parts:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(anchor):])
    return Path(filename).name


def jsonable(value):
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def max_diff(a: np.ndarray, b: np.ndarray) -> str:
    return (f"max |diff| {float(np.max(np.abs(a - b))):.2e}, max |z| "
            f"{float(np.max(np.abs(a))):.3g}, n={len(a)}")


def module_devices(est) -> set[str]:
    module = est.net_.module_
    return {t.device.type for t in [*module.parameters(), *module.buffers()]}


def free_memory(device: str) -> None:
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


# ------------------------------------------------------------------ the training probe
class ProbeState:
    """What the ``Probe`` callback does and records during one fit (module-level, as the
    estimator deep-copies its net, callbacks included, in ``partial_fit``)."""

    def reset(self, device: str, *, deadline=None, profile=None, sync_window=None):
        self.device = device
        self.deadline = deadline  # perf_counter() time: stop after an epoch past it
        self.profile = profile  # {"epoch", "start", "steps", "activities"}
        self.sync_window = sync_window  # {"first", "last", "set_mode", "mode"}
        self.epoch = -1
        self.batch = -1
        self.epoch_s: list[float] = []
        self.stopped_early = False
        self.profiler = None
        self.profiled = None  # (profiler, wall seconds, steps)
        self.sync_opened = self.sync_closed = None  # (epoch, batch)

    def close(self) -> None:
        """Stop a profiler a failed fit left running."""
        if getattr(self, "profiler", None) is not None:
            with contextlib.suppress(Exception):
                self.profiler.stop()
            self.profiler = None


PROBE = ProbeState()


class Probe(Callback):
    """Epoch clock (synchronised), profiler window, sync-debug window and time budget."""

    def on_epoch_begin(self, net, **kwargs):
        PROBE.epoch += 1
        PROBE.batch = -1
        sync(PROBE.device)
        PROBE.epoch_start = time.perf_counter()

    def on_batch_begin(self, net, training=None, **kwargs):
        PROBE.batch += 1
        window = PROBE.profile
        if window and PROBE.epoch == window["epoch"]:
            if PROBE.batch == window["start"]:
                sync(PROBE.device)
                PROBE.profiler = torch.profiler.profile(activities=window["activities"])
                PROBE.profiler.start()
                PROBE.profile_start = time.perf_counter()
            elif PROBE.batch == window["start"] + window["steps"] and PROBE.profiler:
                sync(PROBE.device)
                wall = time.perf_counter() - PROBE.profile_start
                PROBE.profiler.stop()
                PROBE.profiled = (PROBE.profiler, wall, window["steps"])
                PROBE.profiler = None
        window = PROBE.sync_window
        if window and PROBE.batch == window["first"] and PROBE.sync_opened is None:
            PROBE.sync_opened = (PROBE.epoch, PROBE.batch)
            window["set_mode"](window["mode"])

    def on_batch_end(self, net, training=None, **kwargs):
        window = PROBE.sync_window
        if window and PROBE.batch == window["last"] and PROBE.sync_opened:
            window["set_mode"]("default")
            PROBE.sync_closed = (PROBE.epoch, PROBE.batch)

    def on_epoch_end(self, net, **kwargs):
        sync(PROBE.device)
        PROBE.epoch_s.append(time.perf_counter() - PROBE.epoch_start)
        if PROBE.profiler is not None:  # the window did not complete in this epoch
            PROBE.profiler.stop()
            PROBE.profiler = None
        timed = PROBE.epoch_s[1:]
        if PROBE.deadline and timed and time.perf_counter() + np.median(timed) > PROBE.deadline:
            PROBE.stopped_early = True
            raise KeyboardInterrupt  # skorch ends training quietly, as for EarlyStopping


def profile_window(n_batches: int, activities) -> dict | None:
    """``PROFILE_STEPS`` steps late in the warm-up epoch, ending before its last (partial)
    batch; None when the epoch is too short."""
    steps = min(PROFILE_STEPS, n_batches - 3)
    if steps < 1:
        return None
    return {"epoch": 0, "start": n_batches - 2 - steps, "steps": steps,
            "activities": activities}


def busy_share(profiler, wall_s: float) -> dict:
    """GPU busy share of the profiled window: the union of the time intervals of every
    CUDA-side event (kernels, memcpy, memset) over the window's wall time."""
    from torch.autograd import DeviceType

    # user annotations (``Optimizer.step#AdamW.step``, ``ProfilerStep#n``) are CUDA-side
    # ranges too, but they span host time: skorch's optimizer step wraps the whole
    # forward and backward pass in its closure, so counting them read ~95% busy
    events = [e for e in profiler.events() if e.device_type == DeviceType.CUDA
              and not getattr(e, "is_user_annotation", False) and "#" not in e.name]
    intervals = sorted((e.time_range.start, e.time_range.end) for e in events)
    busy_us, end = 0.0, -math.inf
    for lo, hi in intervals:
        if hi > end:
            busy_us += hi - max(lo, end)
            end = hi
    kernels = [e for e in events if not e.name.lower().startswith(("memcpy", "memset"))]
    kernel_us = sum(e.time_range.end - e.time_range.start for e in kernels)
    return {"busy_share": busy_us / 1e6 / wall_s, "kernel_share": kernel_us / 1e6 / wall_s,
            "cuda_events": len(events), "kernels": len(kernels), "window_s": wall_s}


def profile_table(profiler) -> str:
    """The top operations by device time, then by host (CPU) time."""
    tables = []
    for keys in (("self_device_time_total", "self_cuda_time_total"),
                 ("self_cpu_time_total",)):
        for key in keys:
            try:
                tables.append(f"sorted by {key}:\n"
                              + profiler.key_averages().table(sort_by=key, row_limit=20))
                break
            except (AttributeError, KeyError, ValueError):
                continue
    return "\n\n".join(tables)


# ------------------------------------------------------------------ the run
class Benchmark:
    def __init__(self, args):
        self.args = args
        self.device = args.device
        self.quick = args.quick
        self.sizes = SIZES[args.quick]
        self.name = "gpu-quick" if args.quick else "gpu"
        self.deadline = START + args.budget_s
        self.params = set(MaskedAutoencoder().get_params())
        self.checks: list[dict] = []
        self.throughput: list[dict] = []
        self.mnist: dict = {}
        self.diagnostics: dict = {}
        self.sections: list[dict] = []
        self.models: dict = {}
        self.data: dict = {}
        self.rate: dict = {}  # measured eager img/s by image side, for the budget's estimates
        self.seen: dict = {}  # effective settings measured so far, by image side
        self.interrupted = None
        self.current = None  # the section running now

    # ---------------------------------------------------------- bookkeeping
    def remaining(self) -> float:
        return self.deadline - time.perf_counter()

    def check(self, name: str, status: str, detail: str, **extra) -> None:
        result = status if status in ("passed", "failed") else f"skipped: {status}"
        self.checks.append({"check": name, "result": result,
                            "status": "skipped" if result.startswith("skipped") else status,
                            "detail": detail, **extra})
        print(f"  [{result}] {name}: {detail}", flush=True)

    def section(self, name: str, estimate_s: float, fn, *, on_skip=None, on_fail=None) -> None:
        """Run ``fn`` if the budget allows; record how it went; write partial results.
        ``on_skip(reason)`` and ``on_fail(exception)`` record the outcome in the tables."""
        left = self.remaining()
        record = {"section": name, "estimate_s": round(estimate_s, 1),
                  "left_s": round(left, 1)}
        if left < estimate_s:
            record["status"] = "skipped: time budget"
            print(f"\n== {name}: skipped (needs ~{estimate_s:.0f} s, {left:.0f} s left)",
                  flush=True)
            if on_skip:
                on_skip("time budget")
        else:
            print(f"\n== {name} (~{estimate_s:.0f} s, {left:.0f} s left)", flush=True)
            self.current = name
            start = time.perf_counter()
            try:
                fn()
                record["status"] = "done"
            except Exception as exc:  # a section's failure is a result, never the end
                record["status"] = "failed: " + describe(exc)
                print(f"  section failed: {describe(exc, frames=6)}", flush=True)
                if on_fail:
                    on_fail(exc)
            finally:
                PROBE.close()
                free_memory(self.device)
            record["seconds"] = round(time.perf_counter() - start, 2)
            self.current = None
        self.sections.append(record)
        self.save()

    def estimator(self, **params):
        """``MaskedAutoencoder`` on the device, seeded; ``precision``/``compile`` only if
        the installed package has them. Returns ``(estimator, applied, not_applied)``."""
        params = {"random_state": 0, "device": self.device, **params}
        applied, not_applied = {}, {}
        for key in ("precision", "compile"):
            if key in params and key not in self.params:
                not_applied[key] = params.pop(key)
            elif key in params:
                applied[key] = params[key]
        return MaskedAutoencoder(**params), applied, not_applied

    # ---------------------------------------------------------- data
    def mnist_images(self) -> np.ndarray:
        """MNIST-10k (all 10,000 images) tiled to 60k (quick: the first images)."""
        if "mnist" not in self.data:
            X, _ = load_mnist(self.args.mnist_dir)
            n = self.sizes["train_28"]
            self.data["mnist"] = np.tile(X, (math.ceil(n / len(X)), 1))[:n]
        return self.data["mnist"]

    def split(self):
        if "split" not in self.data:
            self.data["split"] = mnist_split(self.args.mnist_dir)
        return self.data["split"]

    def synthetic(self) -> np.ndarray:
        """Blocky random uint8 images, (n, 3, 64, 64): 8x8 colour blocks."""
        if "synthetic" not in self.data:
            rng = np.random.default_rng(0)
            low = rng.integers(0, 256, size=(self.sizes["train_64"], 3, 8, 8), dtype=np.uint8)
            self.data["synthetic"] = low.repeat(8, axis=2).repeat(8, axis=3)
        return self.data["synthetic"]

    # ---------------------------------------------------------- checks
    def fixed(self, key: str) -> np.ndarray:
        """The images the transforms are compared on: MNIST test images, synthetic ones."""
        n = self.sizes["agree"]
        return self.split()[1][:n] if key == "28" else self.synthetic()[-n:]

    def run_checks(self) -> None:
        on = self.device

        def fit_check(key: str, label: str, X, epochs: int):
            est, _, _ = self.estimator(max_epochs=epochs)
            start = time.perf_counter()
            est.fit(X)
            sync(on)
            seconds = time.perf_counter() - start
            devices = module_devices(est)
            finite = bool(np.isfinite(est.loss_curve_).all())
            passed = devices == {on} and finite
            self.check(f"fit {label} on {on}: parameters on {on}, finite loss",
                       "passed" if passed else "failed",
                       f"parameter/buffer devices {sorted(devices)}; loss "
                       f"{est.loss_curve_[-1]:.4g} after {len(est.loss_curve_)} epoch(s) of "
                       f"{len(X)} images ({seconds:.1f} s); training_params_ device "
                       f"{est.training_params_.get('device')}, precision "
                       f"{getattr(est, 'precision', 'n/a (no parameter)')}")
            if finite:
                self.models[key] = est

        def check_section(section: str, name: str, estimate: float, fn):
            self.section(section, estimate, fn,
                         on_skip=lambda why: self.check(name, why, ""),
                         on_fail=lambda exc: self.check(name, "failed", describe(exc)))

        fits = {"28": ("28x28", lambda: self.split()[0][: self.sizes["check_28"]],
                       self.sizes["check_28_epochs"]),
                "64": ("3x64x64", lambda: self.synthetic()[: self.sizes["check_64"]], 1)}
        for key, (label, data, epochs) in fits.items():
            check_section(f"check: fit {label}",
                          f"fit {label} on {on}: parameters on {on}, finite loss",
                          20 if on == "cuda" else 10,
                          lambda key=key, label=label, data=data, epochs=epochs:
                          fit_check(key, label, data(), epochs))
        for key, (label, _, _) in fits.items():
            name = f"transform on {on} vs on cpu, {label} (within {TOLERANCE:g})"
            check_section(f"check: transform {label} {on} vs cpu", name, 10,
                          lambda key=key, name=name: self.agreement(key, name,
                                                                    self.fixed(key)))
        for kind, label in (("pickle", "pickle"), ("safe", "sklearn_mae.persistence.save")):
            name = f"{label} on {on} -> load and transform with CUDA_VISIBLE_DEVICES=''"
            check_section(f"check: {kind} -> CPU subprocess", name, 40,
                          lambda kind=kind, name=name: self.subprocess_check(
                              kind, name, self.fixed("28")))
        name = f"set_sync_debug_mode('error') over {SYNC_STEPS} steady-state steps"
        check_section("check: sync debug mode", name, 20 if on == "cuda" else 15,
                      lambda: self.sync_check(name, self.split()[0]))

    def agreement(self, key: str, name: str, X) -> None:
        est = self.models.get(key)
        if est is None:
            return self.check(name, "no fitted model (its fit check failed)", "")
        Z = est.transform(X)
        how = "persistence.save, then load(device='cpu')"
        with tempfile.TemporaryDirectory() as tmp:
            try:
                save_model(est, Path(tmp) / "model.safetensors")
                cpu = load_model(Path(tmp) / "model.safetensors", device="cpu")
            except Exception as exc:  # fall back to moving a copy of the module by hand
                how = f"copy moved by hand (save/load failed: {describe(exc, 1)})"
                cpu = copy.deepcopy(est)
                cpu.net_.module_.to("cpu")
                cpu.net_.device = "cpu"
        Z_cpu = cpu.transform(X)
        passed = np.allclose(Z, Z_cpu, rtol=TOLERANCE, atol=TOLERANCE)
        note = "" if self.device == "cuda" else " (rehearsal: both sides on the CPU)"
        self.check(name, "passed" if passed else "failed",
                   f"{max_diff(Z, Z_cpu)}; CPU copy by {how}{note}")

    def subprocess_check(self, kind: str, name: str, X) -> None:
        est = self.models.get("28")
        if est is None:
            return self.check(name, "no fitted model (its fit check failed)", "")
        Z = est.transform(X)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            model, data, out = tmp / "model", tmp / "X.npy", tmp / "Z.npy"
            if kind == "pickle":
                model.write_bytes(pickle.dumps(est))
            else:
                save_model(est, model)
            np.save(data, X)
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": "",
                   "PYTHONPATH": os.pathsep.join(
                       p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
            done = subprocess.run([sys.executable, "-c", CHILD, kind, str(model), str(data),
                                   str(out)], env=env, capture_output=True, text=True,
                                  timeout=max(30, min(180, self.remaining())))
            if done.returncode != 0:
                tail = " | ".join(done.stderr.strip().splitlines()[-4:])
                return self.check(name, "failed", f"subprocess exit {done.returncode}: {tail}")
            report = json.loads(done.stdout.strip().splitlines()[-1])
            Z_child = np.load(out)
            size = model.stat().st_size
        close = Z_child.shape == Z.shape and np.allclose(Z, Z_child, rtol=TOLERANCE,
                                                         atol=TOLERANCE)
        on_cpu = not report["cuda_available"] and report["devices"] == ["cpu"]
        self.check(name, "passed" if close and on_cpu else "failed",
                   f"{max_diff(Z, Z_child) if Z_child.shape == Z.shape else Z_child.shape}; "
                   f"child: CUDA available {report['cuda_available']}, net device "
                   f"{report['net_device']}, tensors on {report['devices']}; file "
                   f"{size:,} bytes"
                   + (f"; warnings: {'; '.join(report['warnings'])}" if report["warnings"]
                      else ""),
                   child=report)

    def sync_check(self, name: str, X_train) -> None:
        """Warm up with a fit, then one partial_fit pass of SYNC_STEPS + 1 batches with the
        sync debug mode at "error" from its second step to its last."""
        batch = self.sizes["sync_batch"]
        est, _, _ = self.estimator(max_epochs=1, callbacks=[Probe()],
                                   **({"batch_size": batch} if batch else {}))
        warm = X_train[: self.sizes["sync_warm"]]
        PROBE.reset(self.device)
        est.fit(warm)
        batch = est.training_params_["batch_size"]
        steps = X_train[: (SYNC_STEPS + 1) * batch]
        if len(steps) < (SYNC_STEPS + 1) * batch:
            steps = np.tile(steps, (math.ceil((SYNC_STEPS + 1) * batch / len(steps)), 1))
            steps = steps[: (SYNC_STEPS + 1) * batch]
        window = {"first": 1, "last": SYNC_STEPS, "mode": "error"}
        if self.device == "cuda":
            window["set_mode"] = torch.cuda.set_sync_debug_mode
        else:
            switches = []
            window["set_mode"] = switches.append  # rehearsal: no CUDA to watch
        PROBE.reset(self.device, sync_window=window)
        error = None
        try:
            est.partial_fit(steps)
        except Exception as exc:
            error = exc
        finally:
            if self.device == "cuda":
                torch.cuda.set_sync_debug_mode("default")
        where = (f"window opened at epoch/batch {PROBE.sync_opened}, closed at "
                 f"{PROBE.sync_closed}; {len(steps)} images in batches of {batch}")
        if self.device != "cuda":
            return self.check(name, "needs CUDA",
                              f"rehearsed on the CPU: {where}; mode switches {switches}")
        if error is None and PROBE.sync_closed is not None:
            return self.check(name, "passed", f"nothing synchronised; {where}")
        if error is None:
            return self.check(name, "failed", f"the window never closed; {where}")
        sites = self.sync_sites(est, steps, batch)
        self.check(name, "failed", f"{describe(error, frames=5)}; {where}; {sites}")

    def sync_sites(self, est, steps, batch) -> str:
        """Every synchronising call of the same pass, from the "warn" mode's warnings."""
        window = {"first": 1, "last": SYNC_STEPS, "mode": "warn",
                  "set_mode": torch.cuda.set_sync_debug_mode}
        PROBE.reset(self.device, sync_window=window)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                est.partial_fit(steps)
        except Exception as exc:
            return f"warn-mode rerun failed: {describe(exc, 1)}"
        finally:
            torch.cuda.set_sync_debug_mode("default")
        counts: dict[str, int] = {}
        for w in caught:
            if "synchroniz" in str(w.message):
                site = f"{shorten(w.filename)}:{w.lineno}"
                counts[site] = counts.get(site, 0) + 1
        listed = ", ".join(f"{site} x{n}" for site, n in
                           sorted(counts.items(), key=lambda kv: -kv[1])[:6])
        return (f"warn-mode rerun: {sum(counts.values())} synchronising calls in "
                f"{SYNC_STEPS} steps" + (f" at {listed}" if listed else ""))

    # ---------------------------------------------------------- throughput
    def run_throughput(self, side: int, configs) -> None:
        label = "28x28 (MNIST-10k tiled)" if side == 28 else "3x64x64 synthetic uint8"
        n = self.sizes[f"train_{side}"]
        seen = self.seen.setdefault(side, [])
        for config, requested in configs:
            effective = {k: (v if k in self.params else WITHOUT_PARAMETER[k])
                         for k, v in requested.items()}
            row = {"data": label, "side": side, "config": config, "images": n,
                   "requested": requested, "effective": effective,
                   "not_applied": {k: v for k, v in requested.items() if k not in self.params}}
            self.throughput.append(row)
            same = next((name for name, eff in seen if eff == effective), None)
            seen.append((config, effective))
            if same is not None:
                row["status"] = (f"skipped: same as {same} here (estimator lacks "
                                 f"{', '.join(row['not_applied'])})")
                print(f"\n== {config} {side}: {row['status']}", flush=True)
                continue
            rate = self.rate.get(side, RATE_GUESS[self.device][side])
            estimate = 10 + 2 * n / rate + (COMPILE_GUESS_S[self.device]
                                            if effective["compile"] else 0)

            def skip(why, row=row):
                row["status"] = f"skipped: {why}"

            def fail(exc, row=row):
                row["status"] = f"failed: {describe(exc)}"

            self.section(f"train img/s {side}x{side} {config}", estimate,
                         lambda row=row: self.measure(row, side), on_skip=skip, on_fail=fail)

    def measure(self, row: dict, side: int) -> None:
        X = self.mnist_images() if side == 28 else self.synthetic()
        row["status"] = "running"
        batch = self.sizes["train_batch"]
        est, applied, not_applied = self.estimator(
            max_epochs=EPOCHS, callbacks=[Probe()], **row["requested"],
            **({"batch_size": batch} if batch else {}))
        row["applied"] = applied
        activities = [torch.profiler.ProfilerActivity.CPU]
        if self.device == "cuda":
            activities.append(torch.profiler.ProfilerActivity.CUDA)
            torch.cuda.reset_peak_memory_stats()
        if row["effective"]["compile"]:
            with contextlib.suppress(Exception):  # only a cache reset
                torch._dynamo.reset()  # compile afresh: the compile time lands in epoch 1
        n_batches = math.ceil(len(X) / (batch or 128))  # 128: the conv default
        PROBE.reset(self.device, deadline=self.deadline - 5,
                    profile=profile_window(n_batches, activities))
        start = time.perf_counter()
        est.fit(X)
        sync(self.device)
        row["fit_s"] = time.perf_counter() - start
        epochs = list(PROBE.epoch_s)
        timed = epochs[1:] or epochs
        row.update({
            "epoch_s": epochs, "timed_epochs": len(epochs[1:]),
            "skorch_dur": [float(d) for d in est.net_.history[:, "dur"]],
            "stopped_early": PROBE.stopped_early,
            "views": (2 if est.net_.two_views() else 1) if hasattr(est.net_, "two_views")
            else None,
            "batch_size": est.training_params_["batch_size"],
            "median_epoch_s": float(np.median(timed)),
            "train_img_s": len(X) / float(np.median(timed)),
            "final_loss": float(est.loss_curve_[-1]),
        })
        notes = []
        if not epochs[1:]:
            notes.append("only the warm-up epoch ran: its time includes start-up")
        if PROBE.stopped_early:
            notes.append(f"stopped after {len(epochs)} epochs by the time budget")
        missed = {k: v for k, v in not_applied.items() if v != WITHOUT_PARAMETER[k]}
        if missed:
            notes.append("not applied (no parameter): " + ", ".join(
                f"{k}={v!r}" for k, v in missed.items()))
        if row["effective"]["compile"] and epochs:
            notes.append(f"first epoch {epochs[0]:.1f} s incl. compiling")
        if self.device == "cuda":
            row["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
        if row["config"] == "eager fp32":
            self.rate[side] = row["train_img_s"]
        print(f"  {row['train_img_s']:,.0f} img/s (median of {len(timed)} epoch(s): "
              f"{row['median_epoch_s']:.2f} s for {len(X)} images; epochs "
              + ", ".join(f"{s:.2f}" for s in epochs) + " s)", flush=True)

        # GPU busy share of the steps in the profiler's window (epoch 1, not timed)
        if PROBE.profiled is None:
            row["busy"] = "no complete profiler window (epoch too short)"
        else:
            profiler, wall, steps = PROBE.profiled
            if self.device == "cuda":
                share = busy_share(profiler, wall)
                row.update(share)
                row["busy"] = (f"{share['busy_share']:.0%}" if share["cuda_events"] else
                               "no CUDA events recorded (profiler without CUPTI?)")
                row["step_ms"] = wall / steps * 1e3
                row["kernel_ms_per_step"] = share["kernel_share"] * wall / steps * 1e3
                row["kernels_per_step"] = share["kernels"] / steps
                print(f"  GPU busy {share['busy_share']:.1%} of {wall * 1e3:.0f} ms over "
                      f"{steps} steps ({share['kernels']} kernels; a step {row['step_ms']:.1f}"
                      f" ms, its kernels {row['kernel_ms_per_step']:.2f} ms)", flush=True)
            else:
                row["busy"] = "skipped: needs CUDA"
                notes.append(f"profiler (CPU activity only) ran over {steps} steps, "
                             f"{len(profiler.events())} events")
            table = profile_table(profiler)
            if table:
                out = Path(self.args.out)
                out.mkdir(parents=True, exist_ok=True)
                path = out / f"{self.name}-profile-{side}-{row['config'].replace(' ', '-')}.txt"
                path.write_text(f"{row['config']}, {side}x{side}: {steps} steps, "
                                f"{wall * 1e3:.1f} ms wall\n\n{table}\n")
            PROBE.profiled = None

        # transform throughput of the same model
        Xt = X[: self.sizes[f"transform_{side}"]]
        est.transform(Xt[:256])
        best = math.inf
        for _ in range(2):
            sync(self.device)
            t = time.perf_counter()
            est.transform(Xt)
            sync(self.device)
            best = min(best, time.perf_counter() - t)
        row["transform_img_s"] = len(Xt) / best
        row["note"] = "; ".join(notes)
        row["status"] = "done"
        del est
        free_memory(self.device)

    # ---------------------------------------------------------- where the time goes
    def run_diagnostics(self) -> None:
        """What bounds a training step: the host's cost of one kernel launch, a bare
        ``train_step`` loop on one batch (no data loading, no callbacks), and larger
        batches, which spread the host's per-step cost over more images."""
        self.section("diagnostics: launch cost and bare steps", 15, self.bare_steps,
                     on_fail=lambda exc: self.diagnostics.update(
                         bare=f"failed: {describe(exc)}"))
        for batch in (512, 2048):
            self.section(f"diagnostics: train img/s 28x28 eager bf16, batch {batch}",
                         10 + 2 * self.sizes["train_28"] / self.rate.get(
                             28, RATE_GUESS[self.device][28]),
                         lambda batch=batch: self.batch_rate(batch),
                         on_fail=lambda exc, batch=batch: self.diagnostics.setdefault(
                             "batches", {}).update({batch: f"failed: {describe(exc)}"}))
        self.section("diagnostics: MNIST-10k fit at batch 512", 25,
                     lambda: self.mnist_fit(self.diagnostics.setdefault("mnist_512", {}),
                                            batch_size=512),
                     on_fail=lambda exc: self.diagnostics.update(
                         mnist_512=f"failed: {describe(exc)}"))

    def seconds_per_call(self, fn, calls: int, warmup: int) -> float:
        """Mean seconds of ``fn()`` over ``calls`` calls after ``warmup`` ones, the device
        synchronised before and after."""
        for _ in range(warmup):
            fn()
        sync(self.device)
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        sync(self.device)
        return (time.perf_counter() - start) / calls

    def bare_steps(self) -> None:
        d = self.diagnostics
        x = torch.zeros(1, device=self.device)
        d["launch_us"] = self.seconds_per_call(lambda: x.add_(1), 2000, warmup=100) * 1e6
        print(f"  one tiny kernel (add_) costs the host {d['launch_us']:.1f} us", flush=True)
        X = self.split()[0][: 1024 if self.quick else 8192]
        est, _, _ = self.estimator(max_epochs=1, precision="bfloat16")
        est.fit(X)
        rows = ScaledRows(ArraySource(X, est.layout_), est.scaler_)
        batch = next(iter(est.net_.get_iterator(rows, training=True)))
        d["bare_step_ms"] = self.seconds_per_call(lambda: est.net_.train_step(batch),
                                                  10 if self.quick else 100, warmup=5) * 1e3
        d["bare_batch"] = len(batch[0])
        d["bare_img_s"] = d["bare_batch"] / d["bare_step_ms"] * 1e3
        print(f"  net.train_step on one batch of {d['bare_batch']}: {d['bare_step_ms']:.2f} "
              f"ms a step ({d['bare_img_s']:,.0f} img/s; bf16)", flush=True)
        # the model goes with this frame; section() then frees the device's cache

    def batch_rate(self, batch: int) -> None:
        X = self.mnist_images()
        est, _, _ = self.estimator(max_epochs=2, batch_size=batch, precision="bfloat16",
                                   callbacks=[Probe()])
        PROBE.reset(self.device, deadline=self.deadline - 5)
        est.fit(X)
        epochs = list(PROBE.epoch_s)
        rate = len(X) / epochs[-1]
        self.diagnostics.setdefault("batches", {})[batch] = {
            "train_img_s": rate, "epoch_s": epochs, "final_loss": float(est.loss_curve_[-1])}
        print(f"  batch {batch}: {rate:,.0f} img/s (epochs "
              + ", ".join(f"{e:.2f}" for e in epochs) + " s)", flush=True)
        del est
        free_memory(self.device)

    # ---------------------------------------------------------- MNIST-10k defaults
    def run_mnist(self) -> None:
        rate = self.rate.get(28, RATE_GUESS[self.device][28])
        n_train = 1000 if self.quick else 8000
        epochs = 2 if self.quick else 20  # the default is max(20, ...) here
        estimate = 15 + epochs * n_train / rate
        self.section("MNIST-10k default fit and probe", estimate, self.mnist_fit,
                     on_skip=lambda why: self.mnist.update(status=f"skipped: {why}"),
                     on_fail=lambda exc: self.mnist.update(status=f"failed: {describe(exc)}"))
        if self.args.cpu_probe == "fit" and "probe" in self.mnist:
            cpu_estimate = 15 + epochs * n_train / RATE_GUESS["cpu"][28]
            self.section("MNIST-10k default fit on the CPU (reference)", cpu_estimate,
                         self.cpu_reference_fit,
                         on_skip=lambda why: self.mnist.update(cpu_status=f"skipped: {why}"),
                         on_fail=lambda exc: self.mnist.update(
                             cpu_status=f"failed: {describe(exc)}"))
        elif "probe" in self.mnist:
            self.recorded_reference()

    def mnist_data(self):
        X_train, X_test, y_train, y_test = self.split()
        if self.quick:  # as common.load does
            return X_train[:1000], X_test[:400], y_train[:1000], y_test[:400]
        return X_train, X_test, y_train, y_test

    def mnist_fit(self, record: dict | None = None, **params) -> None:
        """Fit and probe on MNIST-10k, the defaults unless ``params`` say otherwise; the
        results go to ``record`` (default: the MNIST-10k defaults' table)."""
        record = self.mnist if record is None else record
        X_train, X_test, y_train, y_test = self.mnist_data()
        params = {**({"max_epochs": 2} if self.quick else {}), **params}
        est = MaskedAutoencoder(random_state=0, device=self.device, **params)
        record.update(status="running", params=jsonable(est.get_params()))
        sync(self.device)
        start = time.perf_counter()
        est.fit(X_train)
        sync(self.device)
        fit_s = time.perf_counter() - start
        dur = [float(d) for d in est.net_.history[:, "dur"]]
        record.update(fit_s=fit_s, epochs=len(dur), epoch_dur=dur,
                      training_params=jsonable(est.training_params_),
                      train_images=len(X_train), final_loss=float(est.loss_curve_[-1]))
        print(f"  fit {fit_s:.1f} s, {len(dur)} epochs (first {dur[0]:.2f} s, median "
              f"{np.median(dur):.2f} s)", flush=True)
        start = time.perf_counter()
        record["probe"] = linear_probe(est.transform(X_train), est.transform(X_test),
                                       y_train, y_test)
        record["probe_s"] = time.perf_counter() - start
        record["status"] = "done"
        print(f"  probe accuracy {record['probe']:.4f}", flush=True)

    def recorded_reference(self) -> None:
        if self.quick:
            self.mnist["cpu_status"] = "skipped: quick sizes are not the recorded protocol run"
            return
        try:
            recorded = json.loads(CPU_REFERENCE.read_text())
            row = next(r for r in recorded["mnist"] if r["system"] == CPU_REFERENCE_SYSTEM)
        except (OSError, ValueError, KeyError, StopIteration) as exc:
            self.mnist["cpu_status"] = f"skipped: no recorded CPU run ({describe(exc, 0)})"
            return
        machine = recorded.get("machine", {})
        self.mnist.update(cpu_probe=row["probe"], cpu_fit_s=row.get("fit_s"),
                          cpu_status=f"recorded in benchmarks/results/quality.json "
                          f"({machine.get('date', '?')}, {recorded.get('threads', '?')} "
                          "threads)")

    def cpu_reference_fit(self) -> None:
        X_train, X_test, y_train, y_test = self.mnist_data()
        params = {"max_epochs": 2} if self.quick else {}
        est = MaskedAutoencoder(random_state=0, device="cpu", **params)
        start = time.perf_counter()
        est.fit(X_train)
        self.mnist["cpu_fit_s"] = time.perf_counter() - start
        self.mnist["cpu_probe"] = linear_probe(est.transform(X_train), est.transform(X_test),
                                               y_train, y_test)
        self.mnist["cpu_status"] = f"fitted here on the CPU ({torch.get_num_threads()} threads)"
        print(f"  CPU: fit {self.mnist['cpu_fit_s']:.1f} s, probe "
              f"{self.mnist['cpu_probe']:.4f}", flush=True)

    # ---------------------------------------------------------- results
    def targets(self) -> list[dict]:
        def rate(config):
            row = next((r for r in self.throughput if r["side"] == 28
                        and r["config"] == config and "train_img_s" in r), None)
            return None if row is None else row["train_img_s"]

        rows = []
        for config in ("eager fp32", "eager bf16"):
            rows.append(("eager " + config.split()[1] + " train img/s at 28x28",
                         f">= {TARGETS['eager_img_s']:,}", rate(config),
                         lambda v: v >= TARGETS["eager_img_s"], ",.0f"))
        rows.append(("compiled bf16 train img/s at 28x28", f">= {TARGETS['compiled_img_s']:,}",
                     rate("compiled bf16"), lambda v: v >= TARGETS["compiled_img_s"], ",.0f"))
        rows.append(("MNIST-10k default fit s", f"<= {TARGETS['mnist_fit_s']:g}",
                     self.mnist.get("fit_s"), lambda v: v <= TARGETS["mnist_fit_s"], ".1f"))
        cpu = self.mnist.get("cpu_probe")
        tol = self.args.probe_tolerance
        rows.append(("MNIST-10k probe accuracy",
                     "CPU's " + (f"{cpu:.4f}" if cpu is not None else "(none)") + f" - {tol:g}",
                     self.mnist.get("probe") if cpu is not None else None,
                     lambda v: v >= cpu - tol, ".4f"))
        comparable = self.device == "cuda" and not self.quick
        table = []
        for name, goal, value, met, spec in rows:
            table.append({"target": name, "goal": goal, "measured": value,
                          "shown": "—" if value is None else format(value, spec),
                          "met": None if value is None or not comparable
                          else bool(met(value))})
        return table

    def markdown(self) -> str:
        gpu = torch.cuda.get_device_name(0) if self.device == "cuda" else "CPU"
        head = (f"### GPU benchmark: {gpu} ({self.device}), torch {torch.__version__}"
                + (", quick sizes (rehearsal)" if self.quick else ""))
        checks = markdown_table(self.checks, [("check", "check", "s"), ("result", "result", "s"),
                                              ("detail", "detail", "s")])
        rows = []
        for r in self.throughput:
            done = "train_img_s" in r
            rows.append({
                "data": r["data"], "config": r["config"],
                "img_s": f"{r['train_img_s']:,.0f}" if done else r.get("status", "—"),
                "epoch": (f"{r['median_epoch_s']:.2f} ({r['timed_epochs']})" if done else "—"),
                "transform": (f"{r['transform_img_s']:,.0f}" if "transform_img_s" in r
                              else "—"),
                "busy": r.get("busy", "—"),
                "mem": f"{r['peak_gpu_mb']:,.0f}" if "peak_gpu_mb" in r else "—",
                "note": r.get("note", ""),
            })
        throughput = markdown_table(rows, [
            ("data", "data", "s"), ("config", "setting", "s"), ("img_s", "train img/s", "s"),
            ("epoch", "epoch s (timed)", "s"), ("transform", "transform img/s", "s"),
            ("busy", "GPU busy", "s"), ("mem", "peak GPU MB", "s"), ("note", "note", "s")])
        m = self.mnist
        mnist_rows = [
            {"measure": "fit s", "value": f"{m['fit_s']:.1f}" if "fit_s" in m
             else m.get("status", "not run"),
             "detail": (f"{m.get('epochs')} epochs of {m.get('train_images')} images, first "
                        f"{m['epoch_dur'][0]:.2f} s, median {np.median(m['epoch_dur']):.2f} s"
                        if "epoch_dur" in m else "")},
            {"measure": "probe accuracy", "value": f"{m['probe']:.4f}" if "probe" in m else "—",
             "detail": "evaluation.linear_probe on transform features"},
            {"measure": "CPU probe accuracy",
             "value": f"{m['cpu_probe']:.4f}" if "cpu_probe" in m else "—",
             "detail": m.get("cpu_status", "")
             + (f"; CPU fit {m['cpu_fit_s']:.1f} s" if m.get("cpu_fit_s") else "")},
        ]
        mnist = markdown_table(mnist_rows, [("measure", "measure", "s"), ("value", "value", "s"),
                                            ("detail", "detail", "s")])
        targets = markdown_table(
            [{**t, "met": {True: "yes", False: "no", None: "—"}[t["met"]]
              if self.device == "cuda" and not self.quick else "n/a (rehearsal)"}
             for t in self.targets()],
            [("target", "target", "s"), ("goal", "goal", "s"), ("shown", "measured", "s"),
             ("met", "met", "s")])
        d = self.diagnostics
        diag = []
        if "launch_us" in d:
            diag.append(f"- host cost of one tiny kernel launch (`add_`): {d['launch_us']:.1f} us")
        if "bare_step_ms" in d:
            diag.append(f"- `net.train_step` looped on one batch of {d['bare_batch']} (no "
                        f"loading, no callbacks), bf16: {d['bare_step_ms']:.2f} ms a step, "
                        f"{d['bare_img_s']:,.0f} img/s")
        for batch, r in d.get("batches", {}).items():
            diag.append(f"- eager bf16 at batch {batch}: " + (
                f"{r['train_img_s']:,.0f} img/s (final loss {r['final_loss']:.4f})"
                if isinstance(r, dict) else r))
        if "mnist_512" in d:
            r = d["mnist_512"]  # a record, or the failure's text
            if isinstance(r, dict):
                r = (f"fit {r['fit_s']:.1f} s ({r['epochs']} epochs), probe {r['probe']:.4f}"
                     if "probe" in r else r.get("status", "not done"))
            diag.append(f"- MNIST-10k defaults with `batch_size=512`: {r}")
        skipped = [s for s in self.sections if s["status"] != "done"]
        sections = "\n".join(f"- {s['section']}: {s['status']}" for s in skipped)
        elapsed = time.perf_counter() - START
        parts = [
            head, "", f"{elapsed:.0f} s of a {self.args.budget_s:.0f} s budget"
            + (f"; interrupted: {self.interrupted}" if self.interrupted else ""), "",
            "#### Checks", "", checks, "",
            "#### Training throughput", "", throughput, "",
            "#### MNIST-10k defaults (`MaskedAutoencoder(random_state=0)`)", "", mnist, "",
            "#### Targets (H200-class GPU, full sizes)", "", targets, "",
        ]
        if diag:
            parts += ["#### Where the time goes (diagnostics)", "", "\n".join(diag), ""]
        if skipped:
            parts += ["#### Sections not done", "", sections, ""]
        parts += ["#### How it is measured", "", HOW]
        return "\n".join(parts)

    def save(self) -> None:
        payload = {
            "args": jsonable(vars(self.args)), "complete": False,
            "elapsed_s": time.perf_counter() - START, "interrupted": self.interrupted,
            "estimator_parameters": {k: k in self.params for k in ("precision", "compile")},
            "checks": self.checks, "throughput": self.throughput, "mnist": self.mnist,
            "diagnostics": self.diagnostics,
            "targets": self.targets(), "sections": self.sections,
        }
        if self.sections and self.sections[-1]["section"] == "end":
            payload["complete"] = True
        write_results(self.args.out, self.name, self.markdown(), jsonable(payload))


HOW = """\
- train img/s: input images per epoch over the median of the timed epochs of a fit with
  `max_epochs=3`; the first epoch (start-up, cuDNN tuning, compiling) is a warm-up and not
  timed. Epochs are timed by a callback that calls `torch.cuda.synchronize()` before reading
  the clock (skorch's own `dur` is kept in the JSON). The 28x28 and 64x64 defaults train two
  shifted views of every image (the consistency loss): the network sees twice the images.
- GPU busy: `torch.profiler` (CPU and CUDA activity) over 20 steps late in the warm-up epoch;
  the union of the intervals of all CUDA-side kernels, memcpy and memset (not the user
  annotations, whose ranges span host time) divided by the wall time of those steps between
  two `torch.cuda.synchronize()` calls. The profiler's own overhead lengthens the wall time,
  so this is a lower bound; the top operations by device and by host time are in
  `gpu-profile-*.txt`.
- Diagnostics: the host's cost of a tiny kernel (2,000 `add_` on a one-element tensor, then a
  synchronize); `net.train_step` looped 100 times on one batch of a model fitted for one epoch
  on 8,192 MNIST images (no data loading, no callbacks); train img/s of the second of two
  epochs at batch 512 and 2048 (eager bf16); the MNIST-10k defaults at `batch_size=512`.
- transform img/s: best of two `transform` calls after a warm-up call.
- transforms agree: `np.allclose(gpu, cpu, rtol=2e-3, atol=2e-3)` on features of the same
  model, the CPU copy made by `persistence.save` and `load(device="cpu")`; the subprocess
  checks run a fresh Python with `CUDA_VISIBLE_DEVICES=""`.
- sync debug: after a warm-up fit, one `partial_fit` pass of 51 batches with
  `torch.cuda.set_sync_debug_mode("error")` from the start of its second step to the end of
  its last (data loading between steps included, skorch's per-epoch bookkeeping not); on a
  failure the same pass is rerun in "warn" mode to list every synchronising call.
- Precision and compile settings are passed only where the estimator has those parameters;
  a setting that could not be applied is noted, and a setting that would repeat one already
  measured is skipped."""


# ------------------------------------------------------------------ main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    parser.set_defaults(threads=None)  # torch's own default here: the host feeds a GPU
    parser._option_string_actions["--threads"].help = "torch threads (default: torch's own)"
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                        help="where to train (default cuda; cpu rehearses with --quick)")
    parser.add_argument("--budget-s", type=float, default=300.0,
                        help="skip what would end after this many seconds (default 300)")
    parser.add_argument("--cpu-probe", choices=["recorded", "fit"], default="recorded",
                        help="CPU probe accuracy to compare with: the recorded quality.json "
                             "run, or a CPU fit made here (default recorded)")
    parser.add_argument("--probe-tolerance", type=float, default=0.005,
                        help="accuracy below the CPU's still counted the same (default 0.005)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        why = ("this torch is built without CUDA" if torch.version.cuda is None else
               f"no CUDA device is visible (CUDA_VISIBLE_DEVICES="
               f"{os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')!r})")
        message = (f"--device cuda was asked, but torch.cuda.is_available() is False: {why} "
                   f"(torch {torch.__version__}). Run on a GPU machine, or rehearse with "
                   "--device cpu --quick.")
        print(f"gpu.py: {message}", file=sys.stderr)
        payload = {"args": jsonable(vars(args)), "complete": False, "error": message}
        write_results(args.out, "gpu-quick" if args.quick else "gpu",
                      f"### GPU benchmark\n\nNot run: {message}", payload)
        return 2

    bench = Benchmark(args)

    def on_term(signum, frame):
        raise SystemExit(f"signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, on_term)
    print(f"device {args.device}"
          + (f" ({torch.cuda.get_device_name(0)})" if args.device == "cuda" else "")
          + f", torch {torch.__version__}, budget {args.budget_s:.0f} s; estimator parameters "
          f"precision: {'precision' in bench.params}, compile: {'compile' in bench.params}",
          flush=True)
    try:
        bench.run_checks()
        bench.run_throughput(28, CONFIGS[:1])  # eager fp32 first: it sizes the estimates
        bench.run_mnist()
        bench.run_diagnostics()
        bench.run_throughput(28, CONFIGS[1:])
        bench.run_throughput(64, CONFIGS)
        bench.sections.append({"section": "end", "status": "done"})
    except BaseException as exc:
        bench.interrupted = (f"in section {bench.current!r}: " if bench.current else "") \
            + describe(exc, frames=2)
        raise
    finally:
        bench.save()
        print("\n" + bench.markdown().split("#### How")[0], flush=True)
    failed = [c for c in bench.checks if c["status"] == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
