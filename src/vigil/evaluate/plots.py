"""Plots people would rather see than read: ROC curves, latency distributions, speed comparisons,
capacity against camera count."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

from vigil.evaluate.bench_live_results import LiveBenchResult
from vigil.evaluate.bench_pipeline import BenchResult
from vigil.evaluate.bench_search import TARGET_P99_MS as SEARCH_P99_MS
from vigil.evaluate.bench_search import TARGET_RECALL, SizeResult
from vigil.evaluate.bench_store import TARGET_P99_MS, TARGET_STARTUP_S, StoreBenchResult
from vigil.evaluate.bench_watchlist import ModelResult
from vigil.evaluate.identify import IdentifyResult
from vigil.evaluate.machine import Machine
from vigil.evaluate.protocol import Roc
from vigil.match.calibration import Calibration


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


def plot_bench_store(result: StoreBenchResult, out: Path) -> None:
    """Start-up time per database, and p50/p99 1:N latency per database and FAISS thread count.

    Each panel has its target as a dotted line; the latency bars are labelled with their p99.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5), dpi=120, width_ratios=(2, 3))
    engines = [r.engine for r in result.scale]
    x = np.arange(len(engines))
    runs = max(len(r.startups) for r in result.scale)
    width = 0.8 / max(1, runs)
    for i in range(runs):
        seconds = [r.startups[i].total_s if i < len(r.startups) else 0.0 for r in result.scale]
        loading = [r.startups[i].load_gallery_s if i < len(r.startups) else 0.0 for r in result.scale]
        pos = x - 0.4 + width * (i + 0.5)
        left.bar(pos, seconds, width * 0.9, color="C0", hatch=None if i == 0 else "//",
                 label="start-up (fresh process → gallery ready)" if i == 0 else None)  # fmt: skip
        left.bar(pos, loading, width * 0.9, color="C1", hatch=None if i == 0 else "//",
                 label="of which load_gallery" if i == 0 else None)  # fmt: skip
        for p, s in zip(pos, seconds, strict=True):
            left.annotate(
                f"{s:.1f} s", (p, s), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8
            )
    left.axhline(TARGET_STARTUP_S, ls=":", color="C3", label=f"target < {TARGET_STARTUP_S:g} s")
    left.set_xticks(x, engines)
    left.set_ylabel("seconds")
    left.set_title(f"start-up with {result.scale[0].faces:,} faces (each run)", fontsize=9)
    left.legend(fontsize=7.5, frameon=False, loc="upper left")
    left.set_ylim(0, max(TARGET_STARTUP_S, *(r.startup_s for r in result.scale)) * 1.25)
    left.grid(True, axis="y", alpha=0.3)

    labels = [
        f"{r.engine}\n{q.threads} thr. ({'Vigil' if q is r.shipped else 'FAISS default'})"
        for r in result.scale
        for q in r.latency
    ]
    p50 = [q.p50 for r in result.scale for q in r.latency]
    p99 = [q.p99 for r in result.scale for q in r.latency]
    xl = np.arange(len(labels))
    right.bar(xl - 0.2, p50, 0.38, label="p50", color="C0")
    right.bar(xl + 0.2, p99, 0.38, label="p99", color="C2")
    for i, v in enumerate(p99):
        right.annotate(
            f"{v:.1f}", (i + 0.2, v), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8
        )
    right.axhline(TARGET_P99_MS, ls=":", color="C3", label=f"target p99 < {TARGET_P99_MS:g} ms")
    right.set_xticks(xl, labels, fontsize=8)
    right.set_ylabel("ms per query (one probe, k=5)")
    right.set_title("1:N identification, exact search (FAISS flat)", fontsize=9)
    right.set_ylim(0, max(TARGET_P99_MS, *p99, 1.0) * 1.25)
    right.legend(fontsize=7.5, frameon=False, loc="upper left")
    right.grid(True, axis="y", alpha=0.3)
    fig.suptitle(f"vigil bench store ({result.machine.cpu}, {result.machine.cores} cores)", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def plot_bench_live(result: LiveBenchResult, out: Path) -> None:
    """Against N, per resolution: the slowest camera's processed frames/s, p99 alert latency, and CPU.

    Filled markers passed, hollow ones failed; dotted lines are the targets.
    """
    s = result.settings
    fig, (fps_ax, lat_ax, cpu_ax) = plt.subplots(1, 3, figsize=(13, 4.3), dpi=120)
    for i, r in enumerate(result.resolutions):
        colour = f"C{i}"
        points = r.by_cameras()
        n = [p.cameras for p in points]
        label = f"{r.label} (largest passing N = {r.capacity}" + (
            f", target {r.target})" if r.target else ")"
        )
        fps_ax.plot(n, [p.min_fps for p in points], "-", color=colour, label=label)
        lat_ax.plot(n, [p.latency(99) or float("nan") for p in points], "-", color=colour)
        cpu_ax.plot(n, [p.usage.tree_cpu_pct for p in points], "o-", color=colour, label=f"{r.label}: Vigil")
        machine = [p.usage.system_cpu_pct for p in points]
        cpu_ax.plot(n, machine, ":", color=colour, label=f"{r.label}: whole machine (everyone)")
        cpu_ax.plot(
            n,
            [p.usage.rtsp_cpu_pct for p in points],
            "s--",
            color=colour,
            label=f"{r.label}: RTSP server",
            markersize=4,
        )
        for p in points:
            face = colour if p.passed else "white"
            fps_ax.plot([p.cameras], [p.min_fps], "o", color=colour, markerfacecolor=face)
            if p.latency(99) is not None:
                lat_ax.plot([p.cameras], [p.latency(99)], "o", color=colour, markerfacecolor=face)
        if r.target is not None:
            for ax in (fps_ax, lat_ax):
                ax.axvline(r.target, ls=":", color=colour, lw=1)
    fps_ax.axhline(s.min_fps, ls=":", color="C3", label=f"≥ {s.min_fps:g} frames/s needed")
    fps_ax.set_ylabel("slowest camera, processed frames/s")
    fps_ax.set_ylim(0, s.max_fps * 1.15)
    lat_ax.axhline(s.max_p99_s, ls=":", color="C3", label=f"≤ {s.max_p99_s:g} s needed")
    lat_ax.set_ylabel("alert latency p99, s (frame → WebSocket)")
    lat_ax.set_ylim(
        0,
        max([s.max_p99_s * 1.5] + [p.latency(99) or 0.0 for r in result.resolutions for p in r.points]) * 1.1,
    )
    cpu_ax.set_ylabel(f"CPU, % of the machine ({result.machine.cores} cores)")
    cpu_ax.set_ylim(0, 105)
    for ax, title in ((fps_ax, "processing rate"), (lat_ax, "alert latency"), (cpu_ax, "CPU in the window")):
        ax.set_xlabel("cameras (N)")
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.set_title(title, fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle(
        f"vigil bench live: RTSP cameras at real-time rate ({result.machine.cpu}, "
        f"{result.machine.cores} cores; dotted verticals: targets; hollow markers: failed)",
        fontsize=9,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def plot_bench_search(results: list[SizeResult], default_nprobe: int, out: Path) -> None:
    """p99 query time against recall@1 for each archive size: IVF over its nprobe sweep, and exact search."""
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for r, colour in zip(results, colours, strict=False):
        ivf = [x for x in r.runs if x.kind == "ivf"]
        ax.plot([x.recall_at_1 for x in ivf], [x.p99_ms for x in ivf], "o-", color=colour,
                label=f"IVF, {r.faces:,} faces")  # fmt: skip
        for x in ivf:
            weight = "bold" if x.nprobe == default_nprobe else "normal"
            ax.annotate(f"{x.nprobe}", (x.recall_at_1, x.p99_ms), textcoords="offset points", xytext=(4, 4),
                        fontsize=7, color=colour, fontweight=weight)  # fmt: skip
        for x in (x for x in r.runs if x.kind == "exact"):
            ax.plot([x.recall_at_1], [x.p99_ms], "s", color=colour, markerfacecolor="none", markersize=9,
                    label=f"exact, {r.faces:,} faces")  # fmt: skip
    ax.axhline(SEARCH_P99_MS, color="grey", linestyle="--", linewidth=0.8)
    ax.axvline(TARGET_RECALL, color="grey", linestyle="--", linewidth=0.8)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _p: f"{v:g}"))
    ax.set_xlabel("recall@1 against exact search (numbers: nprobe)")
    ax.set_ylabel("p99 query time, ms (one query, one thread)")
    ax.set_title(
        "Archive index: p99 query time against recall@1\n"
        "(target at 10^6 faces: p99 ≤ 10 ms at recall ≥ 0.99)",
        fontsize=10,
    )
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=130)
    plt.close(fig)


def plot_identify(result: IdentifyResult, out: Path, machine: Machine) -> None:
    """FPIR and FNIR against the threshold, and FNIR against FPIR, with the configured threshold marked."""
    curve, point = result.curve, result.at_threshold
    floor = 0.5 / max(point.non_mated, 1)  # an FPIR of 0 drawn at half a probe, on the log axis
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=120)
    left.plot(curve.threshold, np.maximum(curve.fpir, floor), "-", color="C3", label="FPIR (non-mated)")
    left.plot(curve.threshold, np.maximum(curve.fnir, floor), "-", color="C0", label="FNIR (mated)")
    left.axvline(point.threshold, ls=":", color="0.4")
    left.plot([point.threshold] * 2, [max(point.fpir, floor), max(point.fnir, floor)], "o", color="0.3")
    left.annotate(
        f"threshold {point.threshold:.2f}:\nFPIR {point.fpir:.2%}\nFNIR {point.fnir:.2%}",
        (point.threshold, max(point.fnir, floor)),
        textcoords="offset points",
        xytext=(-8, -40),
        ha="right",
        fontsize=8,
    )
    left.set_yscale("log")
    left.set_xlabel("threshold (cosine similarity)")
    left.set_ylabel("rate (log scale)")
    left.set_title("error rates against the threshold", fontsize=9)
    left.legend(fontsize=8, frameon=False)
    left.grid(True, which="both", alpha=0.3)

    right.plot(np.maximum(curve.fpir, floor), curve.fnir, "-", color="C2")
    span = float(curve.threshold.max() - curve.threshold.min()) if len(curve.threshold) else 0.0
    every = 10 if span <= 0.2 else 50  # label every 0.01 or 0.05, in thousandths
    for t, x, y in zip(curve.threshold.tolist(), curve.fpir.tolist(), curve.fnir.tolist(), strict=True):
        if x < 0.95 and round(t * 1000) % every == 0:  # where the points stand apart
            right.annotate(
                f"{t:.2f}", (max(x, floor), y), textcoords="offset points", xytext=(4, 2), fontsize=7
            )
    right.plot(
        [max(point.fpir, floor)], [point.fnir], "o", color="C3", label=f"threshold {point.threshold:.2f}"
    )
    right.set_xscale("log")
    right.set_xlabel("FPIR: non-mated probes that get a name (log scale)")
    right.set_ylabel("FNIR: mated probes not named correctly")
    right.set_title("FNIR against FPIR (labels: thresholds)", fontsize=9)
    right.legend(fontsize=8, frameon=False)
    right.grid(True, which="both", alpha=0.3)
    fig.suptitle(
        f"vigil bench identify: LFW, gallery of {result.gallery_size:,} people (one photo each), "
        f"{point.mated:,} mated and {point.non_mated:,} non-mated probes ({result.model_id}; {machine.cpu})",
        fontsize=9,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def plot_calibration(cal: Calibration, out: Path, fpirs: tuple[float, ...]) -> None:
    """The threshold a list needs against its size, one line per FPIR (extrapolated part dashed)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=120)
    sizes = np.unique(np.logspace(0, 5, 60).astype(int))
    for i, f in enumerate(fpirs):
        points = [cal.threshold(int(n), f) for n in sizes]
        t = np.array([p.threshold for p in points])
        measured = np.array([not p.extrapolated for p in points])
        ax.plot(sizes[measured], t[measured], "-", color=f"C{i}", label=f"FPIR {f:g}")
        ax.plot(sizes[~measured], t[~measured], "--", color=f"C{i}")
        unresolved = np.array([not p.resolved for p in points])
        if unresolved.any():
            ax.plot(sizes[unresolved], t[unresolved], ".", color=f"C{i}", ms=3)
    ax.axvline(cal.sizes[-1], ls=":", color="0.5")
    ax.annotate(
        f"measured up to {cal.sizes[-1]:,} people;\ndashed: extrapolated; dots: below resolution",
        (cal.sizes[-1], ax.get_ylim()[0]), textcoords="offset points", xytext=(4, 6), fontsize=7,
    )  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("people on the list (log scale)")
    ax.set_ylabel("threshold (cosine similarity)")
    ax.set_title(f"Calibrated thresholds, {cal.model_id}\n{cal.source}", fontsize=8)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def plot_bench_watchlist(results: list[ModelResult], out: Path, machine: Machine) -> None:
    """False alerts per 1,000 tracks and true tracks named against the number of distractors: at the
    calibrated thresholds (solid) and at each embedder's fixed 1:1 threshold (dashed)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=120)
    for i, r in enumerate(results):
        for sizes, style, label in (
            (r.sizes, "o-", "calibrated"),
            (r.baseline, "s--", "fixed 1:1 threshold"),
        ):
            if not sizes:
                continue
            n = [s.distractors for s in sizes]
            name = f"{r.model_id}, {label}"
            left.plot(n, [s.false_alerts_per_1000 for s in sizes], style, color=f"C{i}", label=name, ms=4)
            right.plot(n, [s.true_named for s in sizes], style, color=f"C{i}", label=name, ms=4)
    left.set_xlabel("LFW distractors on the watchlist")
    left.set_ylabel("false alerts per 1,000 tracks")
    left.set_title("strangers named", fontsize=9)
    right.set_xlabel("LFW distractors on the watchlist")
    right.set_ylabel("tracks named as a listed person who is there")
    right.set_title("true tracks named", fontsize=9)
    for ax in (left, right):
        ax.set_xscale("symlog", linthresh=100)
        ax.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=6, frameon=False)
    fig.suptitle(f"vigil bench watchlist: per track ({machine.cpu})", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
