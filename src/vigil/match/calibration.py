"""Thresholds from a false-alert rate: what score a list of N people needs so that at most a given share
of unknown faces (FPIR, per track) is named as one of them.

A stranger is named when their nearest listed person scores at least the threshold, so the score that
matters is a stranger's *best* score over the list, and it grows with the list: at 1,680 people a score
that is one-in-a-thousand for one pair is reached by most strangers. A calibration measures it.

How a calibration is made (:func:`calibrate`): the people of a set of photos (LFW by default) are split
at random into a gallery (one photo each, as watchlists are enrolled) and strangers (every photo of the
others, nobody in the gallery). For each list size N of :data:`SIZES`, ``repeats`` random lists of N
gallery people are drawn and every stranger's best score over each list kept; the threshold for an FPIR
``f`` is the lowest score that at most ``f`` of those best scores reach. Lists longer than the gallery
are extrapolated as independent blocks of the largest measured size G: FPIR(N) = 1 - (1 - FPIR(G))^(N/G),
and said so. An FPIR smaller than one stranger in the pooled draws cannot be measured: the threshold is
then the highest best score seen, flagged as beyond the calibration's resolution.

A calibration belongs to one model id (the embedder and its mirror averaging): scores of different
models are not comparable. Vigil ships one per catalogued embedder, made from LFW with
``vigil calibrate build`` (the command is in each file); a site can make its own from its cameras.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from vigil.errors import BadInput
from vigil.types import FloatArray

SIZES: tuple[int, ...] = (1, 3, 10, 30, 100, 300, 1000, 2000)
"""List sizes measured directly (larger lists are extrapolated from the largest one)."""

EXCEEDANCE: tuple[float, ...] = tuple(float(f"{x:.3g}") for x in np.logspace(-5, -0.5, 28))
"""The FPIRs each size's threshold is stored at (1e-5 to ~0.32, log-spaced); others are interpolated."""

FORMAT = 1


@dataclass(frozen=True, slots=True)
class CalibratedThreshold:
    """The threshold a list of ``size`` people needs for ``fpir``, and how sure the calibration is."""

    threshold: float
    size: int
    fpir: float
    extrapolated: bool  # the list is longer than any measured one
    resolved: bool  # False: the FPIR is below what the calibration can see (threshold is a lower bound)


@dataclass(frozen=True)
class Calibration:
    """Thresholds by list size and FPIR for one model, and where they were measured.

    ``thresholds[i][j]`` is the threshold of a list of ``sizes[i]`` people at FPIR ``fpirs[j]``;
    ``resolution[i]`` is the smallest FPIR measurable at that size (one stranger in the pooled draws):
    below it the stored threshold is the highest stranger score seen, a lower bound.
    """

    model_id: str
    source: str
    command: str
    strangers: int
    gallery: int
    repeats: int
    sizes: tuple[int, ...]
    fpirs: tuple[float, ...]
    thresholds: tuple[tuple[float, ...], ...]
    resolution: tuple[float, ...]

    def __post_init__(self) -> None:
        if (
            len(self.thresholds) != len(self.sizes)
            or len(self.resolution) != len(self.sizes)
            or any(len(r) != len(self.fpirs) for r in self.thresholds)
        ):
            raise ValueError(f"a {len(self.sizes)}×{len(self.fpirs)} table was expected")

    def threshold(self, size: int, fpir: float) -> CalibratedThreshold:
        """The threshold for a list of ``size`` people (at least 1) to name at most ``fpir`` strangers."""
        if not 0.0 < fpir < 1.0:
            raise BadInput("fpir", f"{fpir} is not a rate between 0 and 1 (e.g. 0.001: 1 in 1,000 tracks)")
        size = max(1, int(size))
        largest = self.sizes[-1]
        extrapolated = size > largest
        if extrapolated:  # independent blocks of the largest measured list
            fpir_at, at = 1.0 - (1.0 - fpir) ** (largest / size), largest
        else:
            fpir_at, at = fpir, size
        value, resolved = self._lookup(at, fpir_at)
        return CalibratedThreshold(round(value, 4), size, fpir, extrapolated, resolved)

    def _lookup(self, size: int, fpir: float) -> tuple[float, bool]:
        if len(self.sizes) == 1:
            return self._at_fpir(0, fpir)
        sizes = np.log(np.asarray(self.sizes, np.float64))
        i = int(np.clip(np.searchsorted(sizes, math.log(size), side="right") - 1, 0, len(sizes) - 2))
        w = float(np.clip((math.log(size) - sizes[i]) / (sizes[i + 1] - sizes[i]), 0.0, 1.0))
        lo, lo_ok = self._at_fpir(i, fpir)
        hi, hi_ok = self._at_fpir(i + 1, fpir)
        return (1 - w) * lo + w * hi, lo_ok and hi_ok

    def _at_fpir(self, i: int, fpir: float) -> tuple[float, bool]:
        """Size ``i``'s threshold at ``fpir``, log-linear between the stored FPIRs."""
        values = np.asarray(self.thresholds[i], np.float64)
        logs = np.log(np.asarray(self.fpirs, np.float64))
        return float(np.interp(math.log(fpir), logs, values)), fpir >= self.resolution[i]

    # --- files -------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model_id": self.model_id,
            "source": self.source,
            "command": self.command,
            "strangers": self.strangers,
            "gallery": self.gallery,
            "repeats": self.repeats,
            "sizes": list(self.sizes),
            "fpirs": list(self.fpirs),
            "thresholds": [list(r) for r in self.thresholds],
            "resolution": list(self.resolution),
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> Calibration:
        try:
            if data["format"] != FORMAT:
                raise BadInput(where, f"calibration format {data['format']}, this Vigil reads {FORMAT}")
            return cls(
                model_id=str(data["model_id"]),
                source=str(data["source"]),
                command=str(data["command"]),
                strangers=int(data["strangers"]),
                gallery=int(data["gallery"]),
                repeats=int(data["repeats"]),
                sizes=tuple(int(s) for s in data["sizes"]),
                fpirs=tuple(float(f) for f in data["fpirs"]),
                thresholds=tuple(tuple(float(t) for t in row) for row in data["thresholds"]),
                resolution=tuple(float(r) for r in data["resolution"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(where, f"not a Vigil calibration file ({exc})") from exc

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        tmp.replace(path)


def load_calibration(path: Path) -> Calibration:
    """A calibration file written by ``vigil calibrate build``."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise BadInput(path, "calibration file not found") from exc
    except (OSError, ValueError) as exc:
        raise BadInput(path, f"not a readable JSON calibration ({exc})") from exc
    return Calibration.from_json(data, str(path))


def shipped_calibration(model_id: str) -> Calibration | None:
    """The calibration Vigil ships for ``model_id`` (made from LFW), or None if it ships none."""
    name = f"{model_id}.json"
    files = resources.files("vigil.match") / "calibrations"
    entry = files / name
    if not entry.is_file():
        return None
    return Calibration.from_json(json.loads(entry.read_text()), f"vigil/match/calibrations/{name}")


def shipped_path(model_id: str) -> Path:
    """Where ``vigil calibrate build --ship`` writes the calibration of ``model_id`` in a source checkout."""
    return Path(__file__).with_name("calibrations") / f"{model_id}.json"


def calibrate(
    gallery: FloatArray,
    strangers: FloatArray,
    *,
    model_id: str,
    source: str,
    command: str,
    repeats: int = 20,
    seed: int = 0,
    sizes: Sequence[int] = SIZES,
    progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Measure thresholds by list size and FPIR (see the module doc).

    Args:
        gallery: ``(G, d)`` one unit vector per enrolled person.
        strangers: ``(S, d)`` unit vectors of people who are none of them.
    """
    if len(gallery) < 2 or len(strangers) < 10:
        raise BadInput("calibration set", f"{len(gallery)} gallery people and {len(strangers)} strangers")
    sizes = (*(s for s in sizes if s < len(gallery)), len(gallery))  # the whole gallery last
    scores = (strangers.astype(np.float32) @ gallery.astype(np.float32).T).astype(np.float32)  # (S, G)
    rng = np.random.default_rng(seed)
    rows: list[tuple[float, ...]] = []
    resolution: list[float] = []
    for n, size in enumerate(sizes):
        draws = 1 if size == len(gallery) else repeats
        best = np.concatenate(
            [scores[:, rng.choice(len(gallery), size, replace=False)].max(axis=1) for _ in range(draws)]
        )
        rows.append(_quantiles(best))
        resolution.append(1.0 / len(best))
        if progress is not None:
            progress(n + 1, len(sizes))
    return Calibration(
        model_id=model_id,
        source=source,
        command=command,
        strangers=len(strangers),
        gallery=len(gallery),
        repeats=repeats,
        sizes=sizes,
        fpirs=EXCEEDANCE,
        thresholds=tuple(rows),
        resolution=tuple(resolution),
    )


def _quantiles(best: FloatArray) -> tuple[float, ...]:
    """For each FPIR of :data:`EXCEEDANCE`, the lowest score at most that share of ``best`` reaches
    (below one stranger: just above the highest score seen)."""
    ranked = np.sort(best)[::-1]
    out: list[float] = []
    for f in EXCEEDANCE:
        allowed = min(math.floor(f * len(ranked) + 1e-9), len(ranked) - 1)
        out.append(round(float(ranked[allowed]) + 1e-5, 5))
    return tuple(out)
