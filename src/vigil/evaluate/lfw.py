"""LFW View 2: the official 10 folds of pairs.txt, faces found and embedded by Vigil's own stages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vigil.errors import BadInput
from vigil.evaluate.protocol import FoldResult, Roc, kfold_accuracy, roc
from vigil.match.folder import list_photos
from vigil.types import BoolArray, FaceDetections, FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class Pair:
    fold: int
    a: str
    b: str
    same: bool


def image_path(name: str, number: int) -> str:
    """Relative path of an LFW image, e.g. ``Aaron_Eckhart/Aaron_Eckhart_0001.jpg``."""
    return f"{name}/{name}_{number:04d}.jpg"


def lfw_people(images: Path) -> dict[str, list[str]]:
    """Every person's photos in an LFW ``images`` folder, as paths relative to it (``Name/Name_0001.jpg``).

    Raises:
        BadInput: the folder is missing or holds no ``<Name>/<photo>`` files.
    """
    if not images.is_dir():
        raise BadInput(images, "LFW images folder not found (expected <Name>/<Name>_NNNN.jpg inside)")
    found, _stray = list_photos(images)
    if not found:
        raise BadInput(images, "no photos in <name>/<photo> folders")
    photos: dict[str, list[str]] = {}
    for name, path in found:
        photos.setdefault(name, []).append(f"{name}/{path.name}")
    return photos


def read_pairs(path: Path) -> list[Pair]:
    """Parse the official ``pairs.txt``: a "folds n" header, then per fold n matched and n mismatched."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except OSError as exc:
        raise BadInput(path, f"cannot read LFW pairs file ({exc.strerror})") from exc
    try:
        n_folds, n = (int(x) for x in lines[0].split())
    except ValueError as exc:
        raise BadInput(path, "first line must be '<folds> <pairs per class>'") from exc
    rows = [ln.split() for ln in lines[1:] if ln.strip()]
    if len(rows) != n_folds * 2 * n:
        raise BadInput(path, f"expected {n_folds * 2 * n} pairs, found {len(rows)}")
    pairs: list[Pair] = []
    for i, row in enumerate(rows):
        fold = i // (2 * n)
        if len(row) == 3:
            pairs.append(Pair(fold, image_path(row[0], int(row[1])), image_path(row[0], int(row[2])), True))
        elif len(row) == 4:
            pairs.append(Pair(fold, image_path(row[0], int(row[1])), image_path(row[2], int(row[3])), False))
        else:
            raise BadInput(path, f"line {i + 2}: expected 3 or 4 fields, found {len(row)}")
    return pairs


def central_face(dets: FaceDetections, size_wh: tuple[int, int]) -> int | None:
    """Index of the face LFW is about: the one whose centre is nearest the image centre."""
    if len(dets) == 0:
        return None
    centre = np.array(size_wh, np.float32) / 2
    centres = (dets.xyxy[:, :2] + dets.xyxy[:, 2:]) / 2
    return int(np.argmin(np.linalg.norm(centres - centre, axis=1)))


def fallback_box(size_wh: tuple[int, int]) -> FloatArray:
    """Where the face is in a deep-funneled LFW image when no detector finds it: the middle third-ish."""
    w, h = size_wh
    return np.array([[w * 0.3, h * 0.28, w * 0.7, h * 0.74]], np.float32)


@dataclass(frozen=True, slots=True)
class LfwResult:
    folds: list[FoldResult]
    roc: Roc
    n_pairs: int
    no_face: list[str]
    scores: FloatArray
    same: BoolArray

    @property
    def mean(self) -> float:
        return float(np.mean([f.accuracy for f in self.folds]))

    @property
    def std(self) -> float:
        return float(np.std([f.accuracy for f in self.folds]))

    @property
    def threshold(self) -> float:
        """The accuracy-optimal threshold, averaged over the folds."""
        return float(np.mean([f.threshold for f in self.folds]))


def score_pairs(pairs: list[Pair], vectors: dict[str, FloatArray], no_face: list[str]) -> LfwResult:
    """Cosine similarity per pair, then the 10-fold protocol and the pooled ROC."""
    scores = np.array([float(vectors[p.a] @ vectors[p.b]) for p in pairs], np.float32)
    same = np.array([p.same for p in pairs], bool)
    fold: IntArray = np.array([p.fold for p in pairs], np.int64)
    return LfwResult(kfold_accuracy(scores, same, fold), roc(scores, same), len(pairs), no_face, scores, same)
