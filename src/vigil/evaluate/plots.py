"""Plots people would rather see than read: ROC curves, latency distributions, speed comparisons."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

from vigil.evaluate.bench_pipeline import BenchResult
from vigil.evaluate.protocol import Roc


def plot_roc(curve: Roc, out: Path, title: str) -> None:
    """TAR against FAR on a log axis, with the 1% and 0.1% operating points marked."""
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    far = curve.far.clip(min=1e-4)
    ax.plot(far, curve.tar, lw=1.8)
    for target in (0.01, 0.001):
        tar, t = curve.tar_at_far(target)
        ax.plot([target], [tar], "o")
        ax.annotate(
            f"FAR {target:.1%}: TAR {tar:.2%}\n(threshold {t:.3f})",
            (target, tar),
            textcoords="offset points",
            xytext=(8, -28),
            fontsize=8,
        )
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1)
    ax.set_ylim(0.8, 1.0)
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def plot_bench_pipeline(result: BenchResult, out: Path) -> None:
    """Frames/s (decoding included) of the face_recognition loop and of Vigil per clip and in total.

    Log scale; each Vigil bar is labelled with its speed-up over the loop, and a dotted line across it
    marks the target (the loop's frames/s times the target speed-up).
    """
    names = [c.clip for c in result.clips] + ["all clips"]
    loop = [c.loop.timing.end_to_end_fps for c in result.clips] + [result.loop_total.end_to_end_fps]
    vigil = [c.vigil.timing.end_to_end_fps for c in result.clips] + [result.vigil_total.end_to_end_fps]
    ratios = [c.speedup for c in result.clips] + [result.speedup]
    x = np.arange(len(names))
    width = 0.38
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(names) + 2), 4.8), dpi=120)
    ax.bar(x - width / 2, loop, width, label="face_recognition loop (HOG + encoding per face)", color="0.6")
    ax.bar(x + width / 2, vigil, width, label=f"Vigil (detect every {result.detect_every})", color="C0")
    for i, (base, fast, ratio) in enumerate(zip(loop, vigil, ratios, strict=True)):
        ax.plot([i, i + width], [base * result.target] * 2, ":", color="C3", lw=1.5)
        ax.annotate(
            f"{ratio:.1f}×",
            (i + width / 2, max(fast, base * result.target)),
            textcoords="offset points",
            xytext=(0, 3),
            ha="center",
            fontsize=8,
        )
    ax.plot([], [], ":", color="C3", label=f"target: {result.target:g}× the loop")
    positive = [v for v in loop + vigil if v > 0]
    if positive:
        ax.set_ylim(min(positive) / 2, max(*positive, max(loop) * result.target) * 3)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xticks(x, names, rotation=15, ha="right", fontsize=8)
    ax.set_ylabel("frames/s, decoding included (log scale)")
    ax.set_title(f"Vigil vs the face_recognition per-frame loop ({result.machine.cpu})", fontsize=9)
    ax.legend(fontsize=7.5, loc="upper left", ncol=3, frameon=False)
    ax.grid(True, axis="y", which="major", alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
