"""Open-set identification on LFW: one photo per person in Vigil's gallery, searched with unseen photos.

Protocol (``vigil bench identify``):

- Images: LFW, ``<images>/<Name>/<Name>_NNNN.jpg`` (13,233 photos of 5,749 people, 1,680 of whom have
  two photos or more). Every face is found, aligned and embedded as ``vigil eval lfw`` does it
  (:func:`vigil.evaluate.embed_images.embed_central_face`: the detected face nearest the centre, or a
  fixed central box when no face is detected; such fallback boxes are counted).
- Gallery: photo 1 of each person with two photos or more, one sample per person, loaded into Vigil's
  own :class:`~vigil.match.gallery.Gallery` (FAISS exact inner product) on one list that never expires.
- Mated probes: photo 2 of each of those people. Non-mated probes: the one photo of each person with
  exactly one photo; nobody in the gallery.
- Each probe is searched for its two nearest people (``Gallery.search(vectors, 2, at)``), then judged:

  - rank-1 identification rate: mated probes whose nearest person is the right one, whatever the score;
  - at a threshold: a mated probe is a true positive (TPIR) when the right person is nearest *and* scores
    at least the threshold; FNIR = 1 - TPIR (a mated probe accepted as someone else also counts here,
    and is reported apart); a non-mated probe is a false positive (FPIR) when its nearest person scores
    at least the threshold;
  - with Vigil's decision rule: the same, with the acceptance taken from :func:`vigil.match.decide.decide`
    on the top-2 list (threshold *and* ``min_margin`` over the runner-up).

These are the NIST FRVT / ISO/IEC 19795-1 open-set measures at rank 1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from vigil.app import threshold_policy
from vigil.config import VigilConfig
from vigil.errors import BadInput
from vigil.evaluate.embed_images import ImageVector, VectorCache, embed_images
from vigil.evaluate.lfw import lfw_people
from vigil.match.decide import decide
from vigil.match.gallery import Gallery, ListMembership
from vigil.types import BoolArray, FloatArray, IdentityScore, IntArray

LIST_ID = 1
#: Steps of the FPIR/FNIR trade-off's thresholds (its range follows the scores: embedders differ).
THRESHOLD_STEP = 0.0025
#: FPIR targets at which the threshold needed and the FNIR paid for it are reported.
FPIR_TARGETS = (0.01, 0.001)
MARGINS = (0.0, 0.02, 0.05, 0.1)
"""Margins over the runner-up tried at each FPIR target (:func:`margin_sweep`)."""


@dataclass(frozen=True, slots=True)
class IdentifySplit:
    """Which photo plays which part; gallery person ``i`` is ``gallery[i]``, and ``mated[i]`` is them too."""

    gallery: tuple[str, ...]
    mated: tuple[str, ...]
    non_mated: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.gallery) != len(self.mated):
            raise ValueError(f"{len(self.gallery)} gallery photos but {len(self.mated)} mated probes")

    @property
    def paths(self) -> list[str]:
        """Every photo the protocol uses, each once."""
        return [*self.gallery, *self.mated, *self.non_mated]


def make_split(photos: Mapping[str, Sequence[str]]) -> IdentifySplit:
    """Split people's photos (relative paths, any order) by the protocol: see the module docstring.

    >>> make_split({"A": ["A/A_0002.jpg", "A/A_0001.jpg"], "B": ["B/B_0001.jpg"]})
    IdentifySplit(gallery=('A/A_0001.jpg',), mated=('A/A_0002.jpg',), non_mated=('B/B_0001.jpg',))
    """
    gallery: list[str] = []
    mated: list[str] = []
    non_mated: list[str] = []
    for name in sorted(photos):
        own = sorted(photos[name])
        if len(own) >= 2:
            gallery.append(own[0])
            mated.append(own[1])
        else:
            non_mated.extend(own)
    return IdentifySplit(tuple(gallery), tuple(mated), tuple(non_mated))


def lfw_split(images: Path) -> IdentifySplit:
    """The protocol's split of an LFW ``images`` folder.

    Raises:
        BadInput: the folder is missing or holds no ``<Name>/<photo>`` files.
    """
    return make_split(lfw_people(images))


@dataclass(frozen=True, slots=True)
class Ranked:
    """The two nearest gallery people of each probe, and who the probe really is.

    Attributes:
        truth: ``(N,)`` the probe's person id in the gallery, -1 for a non-mated probe.
        person: ``(N, 2)`` the nearest and the runner-up person ids, -1 where the gallery had none.
        score: ``(N, 2)`` their cosine similarities, -inf where there was none.
    """

    truth: IntArray
    person: IntArray
    score: FloatArray

    def __post_init__(self) -> None:
        n = len(self.truth)
        if self.truth.shape != (n,) or self.person.shape != (n, 2) or self.score.shape != (n, 2):
            raise ValueError(
                f"shapes truth {self.truth.shape}, person {self.person.shape}, score {self.score.shape}; "
                "expected (N,), (N, 2), (N, 2)"
            )

    def __len__(self) -> int:
        return len(self.truth)

    @property
    def mated(self) -> BoolArray:
        mask: BoolArray = self.truth >= 0
        return mask

    @property
    def rank1_hit(self) -> BoolArray:
        """Mated probes whose nearest person is the right one."""
        hit: BoolArray = self.mated & (self.person[:, 0] == self.truth)
        return hit


def build_gallery(vectors: FloatArray, model_id: str) -> Gallery:
    """One sample per person: row ``i`` is sample ``i`` of person ``i``, on list 1 with no expiry."""
    gallery = Gallery(model_id, int(vectors.shape[1]))
    ids = np.arange(len(vectors), dtype=np.int64)
    gallery.add_samples(ids, ids, vectors, model_id)
    for person in ids.tolist():
        gallery.set_lists(person, [ListMembership(LIST_ID, None)])
    return gallery


def search_top2(gallery: Gallery, probes: FloatArray, truth: IntArray) -> Ranked:
    """Search every probe in ``gallery`` as Vigil does, keeping the best two people of each."""
    person = np.full((len(probes), 2), -1, np.int64)
    score = np.full((len(probes), 2), -np.inf, np.float32)
    for i, row in enumerate(gallery.search(probes, 2, datetime.now(UTC))):
        for j, cand in enumerate(row[:2]):
            person[i, j] = cand.person_id
            score[i, j] = cand.score
    return Ranked(truth.astype(np.int64), person, score)


def accepted(ranked: Ranked, threshold: float, min_margin: float | None = None) -> BoolArray:
    """Which probes the gallery names someone for (always their nearest person).

    With ``min_margin`` None: the nearest person scores at least ``threshold``. Otherwise Vigil's rule,
    :func:`vigil.match.decide.decide` on the top-2 list.
    """
    if min_margin is None:
        return ranked.score[:, 0] >= threshold
    out = np.zeros(len(ranked), bool)
    for i, (people, scores) in enumerate(zip(ranked.person.tolist(), ranked.score.tolist(), strict=True)):
        top = [IdentityScore(str(p), s) for p, s in zip(people, scores, strict=True) if p >= 0]
        out[i] = decide(top, threshold, min_margin, 1).identity is not None
    return out


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """Counts and rates at one threshold; ``min_margin`` None means "nearest score ≥ threshold" alone."""

    threshold: float
    min_margin: float | None
    mated: int
    non_mated: int
    rank1: int
    true_positive: int
    wrong_person: int
    false_positive: int

    @property
    def rank1_rate(self) -> float:
        return self.rank1 / self.mated if self.mated else float("nan")

    @property
    def tpir(self) -> float:
        return self.true_positive / self.mated if self.mated else float("nan")

    @property
    def fnir(self) -> float:
        return 1.0 - self.tpir

    @property
    def fpir(self) -> float:
        return self.false_positive / self.non_mated if self.non_mated else float("nan")

    def as_json(self) -> dict[str, object]:
        return {
            "threshold": round(self.threshold, 6),
            "min_margin": self.min_margin,
            "mated": self.mated,
            "non_mated": self.non_mated,
            "rank1": self.rank1,
            "true_positive": self.true_positive,
            "mated_accepted_as_wrong_person": self.wrong_person,
            "false_positive": self.false_positive,
            "rank1_rate": self.rank1_rate,
            "tpir": self.tpir,
            "fnir": self.fnir,
            "fpir": self.fpir,
        }


def operating_point(ranked: Ranked, threshold: float, min_margin: float | None = None) -> OperatingPoint:
    """Rank-1 rate, TPIR/FNIR and FPIR at ``threshold`` (see :func:`accepted` for the rule)."""
    yes = accepted(ranked, threshold, min_margin)
    mated = ranked.mated
    hit = ranked.rank1_hit
    return OperatingPoint(
        threshold=float(threshold),
        min_margin=min_margin,
        mated=int(mated.sum()),
        non_mated=int((~mated).sum()),
        rank1=int(hit.sum()),
        true_positive=int((yes & hit).sum()),
        wrong_person=int((yes & mated & ~hit).sum()),
        false_positive=int((yes & ~mated).sum()),
    )


def threshold_for_fpir(ranked: Ranked, target: float) -> float:
    """The lowest threshold at which at most ``target`` of the non-mated probes are accepted."""
    best = np.sort(ranked.score[~ranked.mated, 0])[::-1]
    allowed = int(np.floor(target * len(best) + 1e-9))
    if allowed >= len(best):
        return float("-inf")
    return float(np.nextafter(best[allowed], np.float32(np.inf)))


def margin_sweep(ranked: Ranked) -> tuple[tuple[float, float, OperatingPoint], ...]:
    """For each FPIR target and margin of :data:`MARGINS`: (target, margin, the operating point at the
    lowest threshold that keeps FPIR within the target under that margin). Whether a margin earns its
    place is then read at a fixed false-alert rate: the margin to derive is the one with the lowest FNIR.
    """
    top, lead = ranked.score[:, 0], ranked.score[:, 0] - ranked.score[:, 1]
    strangers = int((~ranked.mated).sum())
    out: list[tuple[float, float, OperatingPoint]] = []
    for target in FPIR_TARGETS:
        for margin in MARGINS:
            passing = np.sort(top[~ranked.mated & (lead >= margin)])[::-1]
            allowed = int(np.floor(target * strangers + 1e-9))
            threshold = (
                float(np.nextafter(passing[allowed], np.float32(np.inf))) if allowed < len(passing) else -1.0
            )
            out.append((target, margin, operating_point(ranked, threshold, margin)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Tradeoff:
    """FPIR and FNIR over a range of thresholds (nearest score ≥ threshold)."""

    threshold: FloatArray
    fpir: FloatArray
    fnir: FloatArray


def tradeoff_thresholds(ranked: Ranked) -> FloatArray:
    """Thresholds from where 98% of non-mated probes are accepted to where 2% of mated ones are, in
    steps of :data:`THRESHOLD_STEP` on a 0.01 grid."""
    top = ranked.score[:, 0]
    finite = np.isfinite(top)
    lo = float(np.quantile(top[finite & ~ranked.mated], 0.02)) if (finite & ~ranked.mated).any() else 0.0
    hi = float(np.quantile(top[finite & ranked.mated], 0.98)) if (finite & ranked.mated).any() else 1.0
    lo, hi = np.floor(min(lo, hi) * 100) / 100, np.ceil(max(lo, hi) * 100) / 100
    out: FloatArray = np.round(np.arange(lo, hi + 1e-9, THRESHOLD_STEP), 4).astype(np.float32)
    return out


def tradeoff(ranked: Ranked, thresholds: FloatArray | None = None) -> Tradeoff:
    """FPIR and FNIR at each of ``thresholds`` [:func:`tradeoff_thresholds`] (nearest score ≥ threshold,
    no margin)."""
    thresholds = tradeoff_thresholds(ranked) if thresholds is None else thresholds
    points = [operating_point(ranked, float(t)) for t in thresholds]
    return Tradeoff(
        thresholds.astype(np.float32),
        np.array([p.fpir for p in points], np.float32),
        np.array([p.fnir for p in points], np.float32),
    )


@dataclass(frozen=True, slots=True)
class Fallbacks:
    """How many photos of each part had no detected face (the central fallback box was embedded)."""

    gallery: int
    mated: int
    non_mated: int

    @property
    def total(self) -> int:
        return self.gallery + self.mated + self.non_mated


@dataclass(frozen=True, slots=True)
class IdentifyResult:
    """Everything ``vigil bench identify`` reports, apart from where and how it ran."""

    model_id: str
    gallery_size: int
    fallbacks: Fallbacks
    at_threshold: OperatingPoint
    decided: OperatingPoint
    at_fpir: tuple[OperatingPoint, ...]
    curve: Tradeoff
    margins: tuple[tuple[float, float, OperatingPoint], ...] = ()

    def best_margin(self, target: float) -> float:
        """The margin with the lowest FNIR at ``target`` (the smallest on a tie): the one to derive."""
        rows = [(p.fnir, m) for t, m, p in self.margins if t == target]
        return min(rows)[1] if rows else 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "model_id": self.model_id,
            "gallery_size": self.gallery_size,
            "fallback_boxes": {
                "gallery": self.fallbacks.gallery,
                "mated": self.fallbacks.mated,
                "non_mated": self.fallbacks.non_mated,
            },
            "at_threshold": self.at_threshold.as_json(),
            "vigil_decision": self.decided.as_json(),
            "at_fpir": [
                {"target_fpir": t, **p.as_json()} for t, p in zip(FPIR_TARGETS, self.at_fpir, strict=True)
            ],
            "margins": [{"target_fpir": t, "margin": m, **p.as_json()} for t, m, p in self.margins],
            "tradeoff": {
                "threshold": self.curve.threshold.tolist(),
                "fpir": self.curve.fpir.tolist(),
                "fnir": self.curve.fnir.tolist(),
            },
        }


def evaluate(
    split: IdentifySplit,
    vectors: Mapping[str, ImageVector],
    model_id: str,
    threshold: float,
    min_margin: float,
) -> IdentifyResult:
    """Enrol the gallery, search every probe, and measure; ``vectors`` holds every path of ``split``."""

    if not split.gallery:
        raise BadInput("identification split", "nobody with two photos or more: the gallery is empty")
    dim = len(vectors[split.gallery[0]].vector)

    def stack(paths: Sequence[str]) -> FloatArray:
        rows = [vectors[p].vector for p in paths]
        return np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)

    def fallbacks(paths: Sequence[str]) -> int:
        return sum(not vectors[p].found for p in paths)

    gallery = build_gallery(stack(split.gallery), model_id)
    probes = np.concatenate([stack(split.mated), stack(split.non_mated)]).astype(np.float32)
    truth = np.concatenate(
        [np.arange(len(split.mated), dtype=np.int64), np.full(len(split.non_mated), -1, np.int64)]
    )
    ranked = search_top2(gallery, probes, truth)
    return IdentifyResult(
        model_id=model_id,
        gallery_size=len(gallery.people),
        fallbacks=Fallbacks(fallbacks(split.gallery), fallbacks(split.mated), fallbacks(split.non_mated)),
        at_threshold=operating_point(ranked, threshold),
        decided=operating_point(ranked, threshold, min_margin),
        at_fpir=tuple(operating_point(ranked, threshold_for_fpir(ranked, t)) for t in FPIR_TARGETS),
        curve=tradeoff(ranked),
        margins=margin_sweep(ranked),
    )


def run_identify(
    config: VigilConfig,
    images: Path,
    cache: VectorCache,
    model_id: str,
    *,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> IdentifyResult:
    """Split ``images``, embed every photo the protocol uses (cached), and evaluate at the config's rule:
    the threshold a list of the gallery's size gets (calibrated at ``match.fpir``, unless fixed).

    Raises:
        BadInput: ``images`` holds no photos, or a photo could not be read.
    """
    split = lfw_split(images)
    vectors = embed_images(config, images, split.paths, cache, workers=workers, progress=progress)
    threshold = threshold_policy(config).rule(len(split.gallery)).threshold
    return evaluate(split, vectors, model_id, threshold, config.match.min_margin)
