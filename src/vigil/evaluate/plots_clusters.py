"""The plot of `vigil bench clusters`: pairwise precision and recall against the threshold, per method."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from vigil.evaluate.bench_clusters import METHOD_LABEL, ClusterRun, Method


def plot_bench_clusters(runs: list[ClusterRun], out: Path, title: str) -> None:
    """Precision (solid) and recall (dashed) against the threshold, one colour per method."""
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    methods: list[Method] = [m for m in METHOD_LABEL if any(r.method == m for r in runs)]
    for colour, method in enumerate(methods):
        mine = sorted((r for r in runs if r.method == method), key=lambda r: r.threshold)
        xs = [r.threshold for r in mine]
        label = METHOD_LABEL[method]
        ax.plot(xs, [r.precision for r in mine], "o-", color=f"C{colour}", label=f"{label}: precision")
        ax.plot(xs, [r.recall for r in mine], "s--", color=f"C{colour}", label=f"{label}: recall")
    ax.set_xlabel("threshold (cosine similarity)")
    ax.set_ylabel("pairwise precision / recall")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
