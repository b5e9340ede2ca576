"""The plot of `vigil bench live --runtime ray`: capacity and CPU per frame against the node count."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

from vigil.evaluate.bench_live_ray import RayBenchResult, Runtime


def plot_bench_live_ray(result: RayBenchResult, out: Path) -> None:
    """Left: the largest passing N per node count, local and Ray side by side. Right: CPU ms per processed
    frame at the N compared, with Ray's overhead there and per camera (fixed costs set apart) written over
    its bar; a dashed line marks the node count
    past which the 1-CPU nodes share the machine's cores."""
    nodes = [c.nodes for c in result.comparisons]
    x = np.arange(len(nodes))
    fig, (cap_ax, cpu_ax) = plt.subplots(1, 2, figsize=(11, 4.3), dpi=120)
    width = 0.38
    runtimes: tuple[Runtime, ...] = ("local", "ray")
    for i, runtime in enumerate(runtimes):
        pos = x - width / 2 + i * width
        searches = [c.local if runtime == "local" else c.ray for c in result.comparisons]
        caps = [s.capacity for s in searches]
        cpu = np.array([c.cpu_ms(runtime) or np.nan for c in result.comparisons])
        label = "local runtime (N worker processes)" if runtime == "local" else "Ray runtime (1-CPU nodes)"
        cap_ax.bar(pos, caps, width * 0.92, color=f"C{i}", label=label)
        cpu_ax.bar(pos, cpu, width * 0.92, color=f"C{i}", label=label)
        for p, v, search in zip(pos, caps, searches, strict=True):
            cap_ax.annotate(
                search.capacity_text, (p, v),
                textcoords="offset points", xytext=(0, 2), ha="center", fontsize=8,
            )  # fmt: skip
    for xi, c in zip(x, result.comparisons, strict=True):
        ray_ms = c.cpu_ms("ray")
        if c.overhead is not None and ray_ms is not None:
            per_camera = c.per_camera_overhead
            verdict = c.overhead if per_camera is None else per_camera
            colour = "C2" if verdict <= result.max_overhead else "C3"
            text = f"{c.overhead:+.0%} at N = {c.compared_at}"
            if per_camera is not None:
                text += f"\n{per_camera:+.0%} per camera"
            cpu_ax.annotate(
                text, (xi + width / 2, ray_ms),
                textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8, color=colour,
            )  # fmt: skip
    over = [i for i, n in enumerate(nodes) if n > result.machine.cores]
    for ax in (cap_ax, cpu_ax):
        if over:
            ax.axvline(over[0] - 0.5, ls="--", color="grey", lw=1)
        ax.set_xticks(
            x, [f"{n} node{'s' if n > 1 else ''}\n/ {n} worker{'s' if n > 1 else ''}" for n in nodes]
        )
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=7.5, frameon=False, loc="upper left")
    most = max([1] + [max(c.local.capacity, c.ray.capacity) for c in result.comparisons])
    cap_ax.set_ylim(0, most * 1.3)
    cap_ax.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    cap_ax.set_ylabel(f"largest passing N (each camera ≥ {result.settings.min_fps:g} frames/s)")
    cap_ax.set_title("capacity", fontsize=9)
    cpu_ax.set_ylabel("CPU ms / processed frame (service, workers, Ray)")
    cpu_ax.set_title(f"CPU per frame; Ray's overhead (≤ {result.max_overhead:.0%} wanted)", fontsize=9)
    top = max((c.cpu_ms(r) or 0.0 for c in result.comparisons for r in runtimes), default=1.0)
    cpu_ax.set_ylim(0, top * 1.35)
    fig.suptitle(
        f"vigil bench live --runtime ray: {result.label}, {result.machine.cpu}, {result.machine.cores} cores"
        + (" (right of the dashed line: more 1-CPU nodes than cores)" if over else ""),
        fontsize=9,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
