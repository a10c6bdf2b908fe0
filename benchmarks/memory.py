"""Memory of fit, transform and inpaint as the data grows, and the cost of streaming.

    python benchmarks/memory.py --mnist-dir ../shared/data/mnist10k          # ~8 min
    python benchmarks/memory.py --baseline-src /path/to/older/checkout       # + throughput
    python benchmarks/memory.py --quick                                      # smoke test

Every measurement runs in a fresh process, which first fits a tiny model (so the
libraries' own first-use memory is paid) and then records its peak resident memory
(RSS, sampled every 5 ms) above that baseline while the measured call runs:

1. one epoch of ``fit`` (defaults, ``max_epochs=1``) on uint8 ``np.memmap`` files of
   28x28 images with 2,000, 50,000 and 400,000 images: the peak growth should not grow
   with the number of images;
2. ``fit`` on a uint8 array in memory (60,000 images): growth against the input's size;
3. ``transform`` and ``inpaint`` (half the pixels hidden) on 200,000 float32 rows:
   growth against the output's size;
4. with ``--baseline-src``: training images/s on in-memory data, this checkout against
   another one (e.g. the commit before streaming), in alternating runs of the same fit.

Images are MNIST-10k's training images repeated (random pixels without ``--mnist-dir``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from common import add_common_args, load, markdown_table, write_results

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
import numpy as np
import torch
sys.path.insert(0, {bench!r})
from common import PeakRSS
from sklearn_mae import MaskedAutoencoder

torch.set_num_threads({threads})
spec = json.loads({spec!r})
warm = np.random.default_rng(0).integers(0, 255, (256, 784)).astype(np.uint8)
MaskedAutoencoder(max_epochs=1, random_state=0).fit(warm).transform(warm)
if spec["kind"] == "memmap":
    X = np.memmap(spec["path"], dtype=np.uint8, mode="r", shape=tuple(spec["shape"]))
else:
    X = np.load(spec["path"], mmap_mode=None)
model = MaskedAutoencoder(max_epochs=spec.get("epochs", 1), random_state=0)
if spec["call"] != "fit":
    model.fit(X[:2000])
mask = np.random.default_rng(1).random(X.shape) < 0.5 if spec["call"] == "inpaint" else None
with PeakRSS() as rss:
    start = time.perf_counter()
    if spec["call"] == "fit":
        out = model.fit(X)
    elif spec["call"] == "transform":
        out = model.transform(X)
    else:
        out = model.inpaint(X, mask=mask)
    seconds = time.perf_counter() - start
output_mb = out.nbytes / 2**20 if isinstance(out, np.ndarray) else 0.0
print(json.dumps({{"growth_mb": rss.growth_mb, "seconds": seconds, "output_mb": output_mb,
                  "input_mb": X.nbytes / 2**20}}))
"""


def run_child(spec: dict, src: Path, threads: int) -> dict:
    code = CHILD.format(bench=str(ROOT / "benchmarks"), threads=threads, spec=json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(src)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def images(n: int, source: np.ndarray) -> np.ndarray:
    """``n`` uint8 images of 784 pixels, repeating ``source``."""
    reps = -(-n // len(source))
    return np.tile(source, (reps, 1))[:n]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    parser.add_argument("--baseline-src", type=Path,
                        help="another checkout of the package, for the throughput pair")
    args = parser.parse_args(argv)
    quick = args.quick
    try:
        X_train = load("mnist", args.mnist_dir, quick)[0]
        source = np.round(X_train * 255).astype(np.uint8)
    except FileNotFoundError:
        source = np.random.default_rng(0).integers(0, 256, (8000, 784)).astype(np.uint8)
    sizes = [500, 2000, 8000] if quick else [2000, 50_000, 400_000]
    rows, payload = [], {"memmap_fit": [], "other": []}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for n in sizes:  # 1: one epoch on memmaps
            path = folder / f"images{n}.u8"
            images(n, source).tofile(path)
            spec = {"kind": "memmap", "path": str(path), "shape": [n, 784], "call": "fit"}
            result = run_child(spec, ROOT, args.threads)
            payload["memmap_fit"].append({"n": n, **result})
            rows.append({"measure": f"fit, 1 epoch, uint8 memmap of {n:,} images",
                         "input": result["input_mb"], "growth": result["growth_mb"],
                         "seconds": result["seconds"]})
            print(rows[-1], flush=True)
            path.unlink()
        n_memory = 6000 if quick else 60_000  # 2: in-memory uint8
        np.save(folder / "u8.npy", images(n_memory, source))
        result = run_child({"kind": "array", "path": str(folder / "u8.npy"), "call": "fit"},
                           ROOT, args.threads)
        rows.append({"measure": f"fit, 1 epoch, uint8 array of {n_memory:,} images",
                     "input": result["input_mb"], "growth": result["growth_mb"],
                     "bar": 0.5 * result["input_mb"] + 200, "seconds": result["seconds"]})
        payload["other"].append(rows[-1])
        print(rows[-1], flush=True)
        n_rows = 20_000 if quick else 200_000  # 3: outputs
        np.save(folder / "f32.npy", images(n_rows, source).astype(np.float32) / 255)
        for call in ("transform", "inpaint"):
            result = run_child({"kind": "array", "path": str(folder / "f32.npy"), "call": call},
                               ROOT, args.threads)
            rows.append({"measure": f"{call} of {n_rows:,} float32 rows", "input":
                         result["input_mb"], "output": result["output_mb"],
                         "growth": result["growth_mb"], "bar": result["output_mb"] + 100,
                         "seconds": result["seconds"]})
            payload["other"].append(rows[-1])
            print(rows[-1], flush=True)
        throughput = []
        if args.baseline_src:  # 4: alternate this checkout and the baseline
            spec = {"kind": "array", "path": str(folder / "u8.npy"), "call": "fit",
                    "epochs": 1}
            for _ in range(3):
                for name, src in (("this", ROOT), ("baseline", args.baseline_src)):
                    seconds = run_child(spec, src, args.threads)["seconds"]
                    throughput.append({"src": name, "img_per_s": n_memory / seconds})
                    print(throughput[-1], flush=True)
            payload["throughput"] = throughput

    growths = [r["growth_mb"] for r in payload["memmap_fit"]]
    lines = [markdown_table(rows, [("measure", "measure", "s"), ("input", "input MB", ",.0f"),
                                   ("output", "output MB", ",.0f"),
                                   ("growth", "peak RSS growth MB", ",.0f"),
                                   ("bar", "bar MB", ",.0f"), ("seconds", "seconds", ".1f")]),
             f"\nmemmap fits: peak growths differ by {max(growths) - min(growths):.0f} MB "
             f"across {sizes[0]:,} to {sizes[-1]:,} images (bar: < 64 MB)."]
    if throughput:
        median = {name: float(np.median([t["img_per_s"] for t in throughput if t["src"] == name]))
                  for name in ("this", "baseline")}
        payload["throughput_ratio"] = median["this"] / median["baseline"]
        lines.append(f"training img/s on a uint8 array in memory, median of 3 alternating fits: "
                     f"{median['this']:,.0f} (this) vs {median['baseline']:,.0f} (baseline): "
                     f"{payload['throughput_ratio']:.3f}x (bar: >= 0.95x)")
    command = "python benchmarks/memory.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = f"Command: `{command}`\n\n" + "\n".join(lines)
    print("\n" + text)
    write_results(args.out, "memory-quick" if quick else "memory", text, payload)


if __name__ == "__main__":
    main()
