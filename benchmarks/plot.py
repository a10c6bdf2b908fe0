"""Probe accuracy against fit seconds for every system, from benchmarks/results/*.json.

    python benchmarks/plot.py        # writes docs/probe_vs_fit_time.png
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    quality = json.loads((ROOT / "benchmarks" / "results" / "quality.json").read_text())
    rows = quality["mnist"]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for row in rows:
        fit_s = row.get("fit_s") or 0.5  # raw pixels: nothing to fit
        ax.scatter(fit_s, row["probe"], s=40)
        ax.annotate(row["system"], (fit_s, row["probe"]), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    ax.axhline(0.980, color="grey", lw=0.8, ls="--")
    ax.text(0.55, 0.9805, "target 0.980", fontsize=7, color="grey")
    ax.set_xscale("log")
    threads = quality.get("threads", 2)
    ax.set_xlabel(f"fit seconds (log; {threads} torch thread{'s' if threads > 1 else ''})")
    ax.set_ylabel("linear-probe accuracy (MNIST-10k test)")
    ax.set_title("Feature quality against training time, one benchmark run")
    fig.tight_layout()
    out = ROOT / "docs" / "probe_vs_fit_time.png"
    out.parent.mkdir(exist_ok=True)
    fig.savefig(out)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
