"""Variants of MaskedAutoencoderImputer's tabular defaults on the 18 cells of inpainting.py.

    python benchmarks/imputer_variants.py defaults steps=75 steps=75,lr=0.02 init=identity
    python benchmarks/imputer_variants.py --floor
    python benchmarks/imputer_variants.py --quick

A variant is ``defaults`` or comma-separated changes to the mlp's "auto" settings
(``sklearn_mae._architectures.IMPUTER_ARCHITECTURES["mlp"]``): ``steps`` (optimiser steps),
``lr``, ``batch`` (batch size), ``width``, ``latent`` and ``init=identity`` (the encoder's
and decoder's linear paths start as the identity on the Gaussian's fill and the MLPs' last
layers at zero, so a fit starts from the Gaussian's conditional mean). Every variant fills
the same 18 cells as ``inpainting.py`` (wine, breast cancer, diabetes; MCAR, MAR, MNAR; 20%
and 50%; ``missing_mask`` seed 0) with ``random_state=0``. Reported per cell: RMSE over the
best of KNNImputer, IterativeImputer and the MissForest-style imputer, and fit+transform
seconds over IterativeImputer's, every system timed in this process, one after another.
``--stored-baselines`` takes the best baseline's RMSE from ``results/inpainting.json``
instead of refitting the slow MissForest-style imputer (IterativeImputer is still timed).

``--floor`` times the pieces instead: a plain loop (no skorch) of training steps on wine of
the defaults' module, of the same without the Gaussian and of a two-layer MLP of the same
sizes with nothing else (one fused input layer, ReLU, no LayerNorm), the least a step of
this size costs in eager PyTorch on this CPU; and the Gaussian's conditional mean for 25
steps' rows of wine and breast cancer, solved a step at a time or all at once.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.preprocessing import StandardScaler
from sklearn_mae import MaskedAutoencoderImputer
from sklearn_mae._architectures import IMPUTER_ARCHITECTURES
from sklearn_mae._modules import MLPAutoencoder
from torch import nn

from common import (
    RESULTS,
    add_common_args,
    markdown_table,
    mean_row,
    print_row,
    write_results,
)
from inpainting import (
    FOREST,
    TABLES,
    add_table_args,
    set_up_tables,
    table_settings,
    tabular_systems,
    timed_fill,
    warm_up,
)

FIELDS = {"steps": ("auto_steps", int), "lr": ("lr", float), "batch": ("batch_size", int),
          "latent": ("latent_dim", int)}


class IdentityStart(MLPAutoencoder):
    """The mlp whose output starts as the Gaussian's conditional mean (``init=identity``)."""

    def __init__(self, sample_shape, latent_dim, width, gaussian=True):
        super().__init__(sample_shape, latent_dim, width, gaussian)
        d = self.decoder.linear.out_features
        with torch.no_grad():
            for part in (self.encoder, self.decoder):
                part.linear.weight.zero_()
                part.linear.bias.zero_()
                part.mlp[-1].weight.zero_()
                part.mlp[-1].bias.zero_()
            self.encoder.linear.weight[:d, :d] = torch.eye(d)  # z[:d] = the filled row
            self.decoder.linear.weight[:, :d] = torch.eye(d)


def parse_variant(text: str) -> tuple[dict, dict]:
    """``(architecture fields, estimator params)`` of a variant's text."""
    if text == "defaults":
        return {}, {}
    fields, params = {}, {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        if key in FIELDS:
            name, kind = FIELDS[key]
            fields[name] = kind(value)
        elif key == "width":
            params["width"] = int(value)
        elif key == "init" and value == "identity":
            fields["module"] = IdentityStart
        else:
            raise SystemExit(f"unknown variant setting {item!r} in {text!r}")
    return fields, params


def variant_rows(args) -> list[dict]:
    systems = tabular_systems(args)
    baselines = {name: systems[name] for name in ("KNNImputer(5)", "IterativeImputer", FOREST)
                 if name in systems}
    stored = {}
    if args.stored_baselines:
        baselines = {"IterativeImputer": systems["IterativeImputer"]}
        stored = {row["dataset"]: row["best baseline"]
                  for row in json.loads((RESULTS / "inpainting.json").read_text())["tabular"]}
    variants = {}
    for text in args.variants:
        fields, params = parse_variant(text)
        if args.quick:
            fields.setdefault("auto_steps", 10)
        architecture = replace(IMPUTER_ARCHITECTURES["mlp"], **fields)
        variants[text] = (lambda a=architecture, p=params:
                          MaskedAutoencoderImputer(architecture=a, random_state=0, **p))
    warm_up([*baselines.values(), *variants.values()])
    settings = table_settings(TABLES[:1], ("mcar",)) if args.quick else table_settings()
    rows = []
    for name, X, hidden in settings:
        row = {"dataset": name}
        rmse = {key: timed_fill(make, X, hidden) for key, make in baselines.items()}
        row["best baseline"] = stored.get(name) or min(r for r, _ in rmse.values())
        iterative_s = rmse["IterativeImputer"][1]
        row["IterativeImputer s"] = iterative_s
        for text, make in variants.items():
            value, seconds = timed_fill(make, X, hidden)
            row[text] = value / row["best baseline"]
            row[text + " time"] = seconds / iterative_s
        rows.append(row)
        print_row(row)
    summary = mean_row(rows)
    summary.update({f"{text} wins": sum(r[text] <= 1 for r in rows) for text in variants})
    summary.update({f"{text} over 3x": sum(r[text + " time"] > 3 for r in rows)
                    for text in variants})
    rows.append(summary)
    return rows


def step_floor(steps: int = 100, warmup: int = 20, rounds: int = 5) -> dict:
    """Milliseconds, medians of ``rounds`` taking turns: a training step in a plain loop on
    wine (no skorch) of the defaults' module, of the module without its Gaussian and of a
    bare two-layer MLP of the same sizes; and the Gaussian's conditional mean for 25 steps'
    rows of wine and of breast cancer, solved a step at a time or all at once."""
    spec = IMPUTER_ARCHITECTURES["mlp"]
    hidden, latent = 8 * 16, spec.latent_dim

    def scaled(loader):
        return torch.tensor(StandardScaler().fit_transform(loader().data), dtype=torch.float32)

    def module(X, gaussian=True):
        m = MLPAutoencoder(tuple(X.shape[1:]), latent, 16, gaussian=gaussian)
        m.prepare(X)
        return m

    X = scaled(load_wine)
    n, d = X.shape

    class BareMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.encode_in = nn.Linear(2 * d, hidden + latent)  # hidden and linear path
            self.encode_out = nn.Linear(hidden, latent)
            self.decode_in = nn.Linear(latent, hidden + d)
            self.decode_out = nn.Linear(hidden, d)

        def training_loss(self, x, visible, scored):
            a, z = self.encode_in(torch.cat([x * visible, visible.float()], 1)).split(
                [hidden, latent], 1)
            a, out = self.decode_in(z + self.encode_out(torch.relu(a))).split([hidden, d], 1)
            error = (out + self.decode_out(torch.relu(a)) - x) ** 2 * scored
            return error.sum() / scored.sum(), z

    def loop(model):
        optimizer = torch.optim.AdamW(model.parameters(), lr=spec.lr, fused=True)
        generator = torch.Generator().manual_seed(0)
        for i in range(warmup + steps):
            if i == warmup:
                start = time.perf_counter()
            visible = torch.rand(n, d, generator=generator) > spec.mask_ratio
            optimizer.zero_grad(set_to_none=True)
            model.training_loss(X, visible, ~visible)[0].backward()
            optimizer.step()
        return (time.perf_counter() - start) / steps * 1e3

    def conditional(m, table, batches, batch_size):
        rows = table[torch.randint(0, len(table), (25 * batch_size,),
                                   generator=torch.Generator().manual_seed(0))]
        visible = torch.rand(rows.shape, generator=torch.Generator().manual_seed(1)) > 0.2
        start = time.perf_counter()
        for chunk, seen in zip(rows.chunk(batches), visible.chunk(batches), strict=True):
            m._filled(chunk, seen)
        return (time.perf_counter() - start) / 25 * 1e3

    timings = {"step: module": lambda: loop(module(X)),
               "step: module, no Gaussian": lambda: loop(module(X, gaussian=False)),
               "step: bare MLP": lambda: loop(BareMLP())}
    for loader in (load_wine, load_breast_cancer):
        table = scaled(loader)
        m, size = module(table), min(len(table), spec.batch_size)
        name = loader.__name__[5:]
        conditional(m, table, 25, size)  # first calls
        timings[f"conditional mean, {name}: a solve a step"] = (
            lambda m=m, t=table, s=size: conditional(m, t, 25, s))
        timings[f"conditional mean, {name}: one solve for 25 steps"] = (
            lambda m=m, t=table, s=size: conditional(m, t, 1, s))
    measured = {key: [] for key in timings}
    for _ in range(rounds):
        for key, run in timings.items():
            measured[key].append(run())
    return {key: float(np.median(values)) for key, values in measured.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    add_table_args(parser)
    parser.add_argument("variants", nargs="*", default=["defaults"],
                        help="'defaults' or changes such as steps=75,lr=0.02 (see above)")
    parser.add_argument("--stored-baselines", action="store_true",
                        help="best baseline RMSE from results/inpainting.json")
    parser.add_argument("--floor", action="store_true",
                        help="time the training step and the conditional mean instead")
    args = parser.parse_args(argv)
    if args.quick:
        args.no_forest = True
    set_up_tables(args)
    if args.floor:
        floor = step_floor(steps=10, rounds=1) if args.quick else step_floor()
        text = (f"### The imputer's training step, in pieces\n\n"
                f"`python benchmarks/imputer_variants.py --floor --threads {args.threads}`; "
                "milliseconds, medians of 5 rounds taking turns\n\n"
                + markdown_table([{"what": k, "ms": v} for k, v in floor.items()],
                                 [("what", "what", "s"), ("ms", "ms", ".2f")]))
        print("\n" + text)
        write_results(args.out, "imputer-step-floor" + ("-quick" if args.quick else ""),
                      text, {"ms": floor})
        return
    rows = variant_rows(args)
    columns = [("dataset", "data, mechanism, missing", "s"),
               ("best baseline", "best baseline RMSE", ".3f"),
               ("IterativeImputer s", "IterativeImputer s", ".2f")]
    for text in args.variants:
        columns += [(text, f"{text}: RMSE / best", ".3f"),
                    (text + " time", f"{text}: s / Iterative", ".1f")]
    command = "python benchmarks/imputer_variants.py " + " ".join(
        [*args.variants, f"--threads {args.threads}"]
        + (["--stored-baselines"] if args.stored_baselines else []))
    summary = rows[-1]
    text = (f"### Imputer variants on the tables of inpainting.py\n\n`{command}`\n\n"
            + "\n".join(f"- {v}: mean RMSE / best {summary[v]:.4f}, "
                        f"{summary[v + ' wins']} of {len(rows) - 1} cells at or below the "
                        f"best baseline, {summary[v + ' over 3x']} over 3x IterativeImputer's "
                        "time" for v in args.variants)
            + "\n\n" + markdown_table(rows, columns))
    print("\n" + text)
    write_results(args.out, "imputer-variants" + ("-quick" if args.quick else ""), text,
                  {"variants": rows})


if __name__ == "__main__":
    main()
