"""The plot of ``vigil bench vector-engines``: p99 query time against recall@1, per engine and size."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import ticker

from vigil.evaluate.bench_vector_engines import EngineSize

_STYLE = {  # (engine, index) -> marker, line
    ("faiss", "exact"): ("s", ""),
    ("faiss", "ivf"): ("D", ""),
    ("pgvector", "ivfflat"): ("o", "-"),
    ("pgvector", "hnsw"): ("^", "--"),
}
_LABEL = {"exact": "FAISS exact", "ivf": "FAISS IVF (Vigil default)", "ivfflat": "pgvector IVFFlat",
          "hnsw": "pgvector HNSW"}  # fmt: skip


def plot_vector_engines(results: list[EngineSize], out: Path) -> None:
    """One colour per size, one marker per engine and index; numbers: probes / ef_search / nprobe."""
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for r, colour in zip(results, colours, strict=False):
        for (engine, index), (marker, line) in _STYLE.items():
            runs = [x for x in r.runs if x.engine == engine and x.index == index]
            if not runs:
                continue
            ax.plot([x.recall_at_1 for x in runs], [x.p99_ms for x in runs], marker + line, color=colour,
                    markerfacecolor="none" if engine == "faiss" else colour, markersize=7,
                    label=f"{_LABEL[index]}, {r.faces:,}")  # fmt: skip
            for x in runs:
                if x.knob is not None and engine == "pgvector":
                    ax.annotate(str(x.knob), (x.recall_at_1, x.p99_ms), textcoords="offset points",
                                xytext=(4, 4), fontsize=7, color=colour)  # fmt: skip
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _p: f"{v:g}"))
    ax.set_xlabel("recall@1 against exact search (numbers: ivfflat.probes, hnsw.ef_search)")
    ax.set_ylabel("p99 query time, ms (top-10, one query at a time)")
    dim = results[0].dim if results else 0
    ax.set_title(f"pgvector against Vigil's FAISS archive index ({dim}-d faces)", fontsize=10)
    ax.legend(fontsize=6.5, loc="upper left", ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=130)
    plt.close(fig)
