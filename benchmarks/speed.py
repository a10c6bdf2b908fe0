"""Speed of the defaults, all in one run on MNIST-10k's training images.

    python benchmarks/speed.py --mnist-dir ../shared/data/mnist10k     # full run
    python benchmarks/speed.py --quick                                 # smoke test

1. overhead of the estimator (validation, skorch, callbacks) against a plain PyTorch
   loop training the same module on the same masks and batches;
2. training throughput of the defaults against the original article's architecture
   (same data, epochs and batch size);
3. transform throughput;
4. how fit time grows with n_samples (exponent) and transform memory on 100k images;
5. achieved FLOP/s while training against the machine's measured fp32 matmul peak.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from sklearn_mae import MaskedAutoencoder
from sklearn_mae._corruption import corrupt
from sklearn_mae._invariance import random_affine, vicreg_loss
from sklearn_mae._masking import random_mask
from sklearn_mae._net import warmup_cosine
from torch.utils.flop_counter import FlopCounterMode

from article import ArticleAutoencoder
from common import PeakRSS, add_common_args, load, markdown_table, write_results


def plain_loop(module, data, *, epochs, batch_size, lr, weight_decay, est):
    """The estimator's training step written as a bare PyTorch loop, for comparison: the
    same work per step (two moved views, the mask, the training noise, the module's own
    ``training_loss`` with its detail head and projection, the VICReg term, a fused AdamW
    update), drawn from a generator seeded alike."""
    net = est.net_
    generator = torch.Generator().manual_seed(net.seed)
    optimizer = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay,
                                  fused=True)
    total_steps = epochs * math.ceil(len(data) / batch_size)
    two_views = net.two_views()
    module.train()
    step = 0
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=generator)
        for i in range(0, len(data), batch_size):
            x = data[order[i : i + batch_size]]
            if two_views:
                x = torch.cat([random_affine(x, net.max_shift, net.max_rotation, net.max_zoom,
                                             generator, complete=True) for _ in range(2)])
            hidden = random_mask(len(x), tuple(x.shape[1:]), ratio=net.mask_ratio,
                                 mask_type=net.mask_type, patch_size=net.patch_size,
                                 generator=generator)
            inputs = x if net.noise is None else corrupt(x, net.noise, net.noise_level,
                                                         generator, is_image=True)
            for group in optimizer.param_groups:
                group["lr"] = lr * warmup_cosine(step, total_steps)
            optimizer.zero_grad()
            loss, z = module.training_loss(inputs, ~hidden, hidden,
                                           clean=None if net.noise is None else x,
                                           views=2 if two_views else 1)
            if two_views:
                loss = loss + net.consistency * vicreg_loss(*z.chunk(2))
            loss.backward()
            optimizer.step()
            step += 1
    return time.perf_counter() - start


def article_loop(data, *, epochs, batch_size):
    torch.manual_seed(0)
    module = ArticleAutoencoder(data.shape[-1])
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    masked = data * (torch.rand(data.shape) > 0.5)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(data))
        for i in range(0, len(data), batch_size):
            idx = order[i : i + batch_size]
            loss = torch.nn.functional.mse_loss(module(masked[idx]), data[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return time.perf_counter() - start


def matmul_peak_gflops(n: int = 1024, repeat: int = 20) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def train_step_flops(net, x) -> int:
    """FLOPs of one training step (forward and backward) of the fitted net on batch ``x``."""
    with FlopCounterMode(display=False) as counter:
        net.train_step_single((x, None))
    net.module_.zero_grad()
    return counter.get_total_flops()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    X_train, X_test, *_ = load("mnist", args.mnist_dir, args.quick)
    epochs = 1 if args.quick else 3
    rows = []

    # 1. estimator vs plain loop, same module, masks and batches; best of `repeats`
    repeats = 1 if args.quick else 5
    est_times, loop_times = [], []
    for _ in range(repeats):
        est = MaskedAutoencoder(random_state=0, max_epochs=epochs)
        start = time.perf_counter()
        est.fit(X_train)
        est_times.append(time.perf_counter() - start)
        data = est.scaler_.to_tensor(est.layout_.to_samples(X_train))
        # the very module the estimator starts from: same class, same seeded initial weights
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(est.net_.seed)
            module = type(est.net_.module_)(est.layout_.sample_shape, est.net_.module_.latent_dim,
                                             est.width)
        loop_times.append(plain_loop(module, data, epochs=epochs, batch_size=est.net_.batch_size,
                                     lr=est.net_.lr, weight_decay=est.weight_decay, est=est))
    # run-to-run noise on a shared 2-core machine exceeds the overhead: compare each fit
    # with the loop run right after it, and report the median of those ratios
    overhead = float(np.median(np.array(est_times) / np.array(loop_times)))
    n_seen = epochs * len(X_train)
    rows.append({"measure": "estimator fit / plain PyTorch loop (same module, masks, batches)",
                 "value": f"{overhead:.3f}x",
                 "detail": "median of paired runs; " + ", ".join(
                     f"{e:.2f}/{lo:.2f} s" for e, lo in zip(est_times, loop_times, strict=True))
                 + f"; {epochs} epochs x {len(X_train)} images"})

    # 2. defaults vs the article's architecture, same data, epochs, batch size
    article_s = article_loop(data, epochs=epochs, batch_size=est.net_.batch_size)
    ours = n_seen / min(est_times)
    theirs = n_seen / article_s
    rows.append({"measure": "training img/s: defaults vs article's architecture",
                 "value": f"{ours / theirs:.2f}x",
                 "detail": f"{ours:,.0f} vs {theirs:,.0f} img/s (batch {est.net_.batch_size})"})

    # 3. transform throughput
    est.transform(X_test[:256])
    best = min(_timed(est.transform, X_test) for _ in range(3))
    rows.append({"measure": "transform img/s", "value": f"{len(X_test) / best:,.0f}",
                 "detail": f"{len(X_test)} test images, best of 3"})

    # 4. growth with n_samples
    sizes = [250, 500, 1000] if args.quick else [1000, 2000, 4000, 8000]
    fit_times = []
    for n in sizes:
        start = time.perf_counter()
        MaskedAutoencoder(random_state=0, max_epochs=epochs).fit(X_train[:n])
        fit_times.append(time.perf_counter() - start)
    exponent = np.polyfit(np.log(sizes), np.log(fit_times), 1)[0]
    rows.append({"measure": "fit time ~ n_samples^k", "value": f"k = {exponent:.2f}",
                 "detail": ", ".join(f"{n}: {t:.1f} s"
                                     for n, t in zip(sizes, fit_times, strict=True))})
    n_big = 10_000 if args.quick else 100_000
    X_big = np.random.default_rng(0).random((n_big, 784), dtype=np.float32)
    with PeakRSS() as mem:
        Z = est.transform(X_big)
    rows.append({"measure": f"transform memory, {n_big:,} images 28x28 float32",
                 "value": f"+{mem.growth_mb:,.0f} MB",
                 "detail": f"input {X_big.nbytes / 2**20:,.0f} MB (already resident), output "
                           f"{Z.nbytes / 2**20:,.1f} MB; peak RSS {mem.peak_mb:,.0f} MB"})

    # 5. achieved FLOP/s vs matmul peak
    batch = est.net_.batch_size
    flops_per_image = train_step_flops(est.net_, data[:batch]) / batch
    achieved = flops_per_image * ours / 1e9
    peak = matmul_peak_gflops()
    rows.append({"measure": "training GFLOP/s vs fp32 matmul peak",
                 "value": f"{achieved:.1f} / {peak:.0f} ({achieved / peak:.0%})",
                 "detail": f"{flops_per_image / 1e6:.1f} MFLOP per image per step"})

    text = ("### Speed (MNIST-10k, " + ("quick" if args.quick else f"{torch.get_num_threads()} "
            "threads") + ")\n\n" + markdown_table(
        rows, [("measure", "measure", "s"), ("value", "value", "s"), ("detail", "detail", "s")]))
    print("\n" + text)
    write_results(args.out, "speed-quick" if args.quick else "speed", text,
                  {"rows": rows, "overhead": overhead, "exponent": exponent,
                   "train_img_s": ours, "article_img_s": theirs})


def _timed(fn, *a) -> float:
    start = time.perf_counter()
    fn(*a)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
