"""The plot of `vigil bench embed`: embedding time per face, embedder by embedder."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from vigil.evaluate.bench_embed import EmbedBenchResult


def plot_bench_embed(result: EmbedBenchResult, out: Path) -> None:
    """Grouped bars of the median ms/face per embedder, one bar per batch size and thread count.

    Log scale (the embedders differ a hundredfold); a whisker runs up to the 90th percentile and each bar
    is labelled with its median.
    """
    s = result.settings
    combos = [(batch, threads) for threads in s.threads for batch in s.batch_sizes]
    names = [v.variant.model_id for v in result.variants]
    x = np.arange(len(names))
    width = 0.8 / len(combos)
    fig, ax = plt.subplots(figsize=(max(6.5, 1.9 * len(names) + 2), 4.8), dpi=120)
    for k, (batch, threads) in enumerate(combos):
        timings = [v.at(batch, threads) for v in result.variants]
        median = np.array([t.median_ms if t is not None else np.nan for t in timings])
        p90 = np.array([t.p90_ms if t is not None else np.nan for t in timings])
        pos = x - 0.4 + width * (k + 0.5)
        ax.bar(
            pos,
            median,
            width * 0.92,
            yerr=np.vstack([np.zeros_like(median), np.maximum(p90 - median, 0)]),
            capsize=2,
            color=f"C{s.batch_sizes.index(batch)}",
            alpha=1.0 if s.threads.index(threads) == 0 else 0.55,
            hatch=None if s.threads.index(threads) == 0 else "//",
            label=f"batch {batch}, {threads} thread{'s' if threads > 1 else ''}",
        )
        for p, m, top in zip(pos, median, np.fmax(median, p90), strict=True):
            if np.isfinite(m):
                ax.annotate(
                    f"{m:.3g}", (p, top), textcoords="offset points", xytext=(0, 2), ha="center", fontsize=6.5
                )
    ax.set_yscale("log")
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel("ms per face (median; whisker: p90)")
    ax.set_title(
        f"vigil bench embed: {s.faces} LFW faces ({result.detector} boxes), embedding only\n"
        f"{result.machine.cpu}, {result.machine.cores} cores",
        fontsize=9,
    )
    ax.legend(fontsize=7.5, frameon=False, loc="upper left")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
