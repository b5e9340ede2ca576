"""The plot of `vigil bench embed-pool`: faces/s with an embedder in every actor against a shared pool."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from vigil.evaluate.bench_embed_pool import EmbedPoolResult


def plot_bench_embed_pool(result: EmbedPoolResult, out: Path) -> None:
    """One bar of faces/s (all clients together) per mode, labelled with it, the p50 / p99 latency and the
    actors' CPU ms per face."""
    s = result.settings
    labels = [m.mode.label for m in result.modes]
    rates = np.array([m.faces_per_s for m in result.modes])
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(labels) + 2), 4.4), dpi=120)
    ax.bar(x, rates, 0.6, color=["C0" if m.mode.kind == "in-actor" else "C1" for m in result.modes])
    for pos, m in zip(x, result.modes, strict=True):
        text = (
            f"{m.faces_per_s:.1f}/s\np50 {m.latency(50):.0f} ms, p99 {m.latency(99):.0f} ms\n"
            f"CPU {m.cpu_ms_per_face:.1f} ms/face"
        )
        ax.annotate(
            text, (pos, m.faces_per_s), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=7
        )
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("faces embedded per second (all clients)")
    ax.set_ylim(0, max(float(rates.max(initial=0.0)), 1.0) * 1.35)
    load = result.load_before
    ax.set_title(
        f"vigil bench embed-pool: {result.model_id}, {s.clients} client actors, {s.faces_per_request} "
        f"face(s) per request, {s.seconds:g} s each\n{result.machine.cpu}, {result.machine.cores} cores, "
        f"load average {load[0]:.2f} before, {result.load_after[0]:.2f} after",
        fontsize=8.5,
    )
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
