"""Calibrating thresholds on LFW: a random half of its people as the gallery, the other half as strangers
(or, for a site calibration, a site's unknown tracks: :func:`lfw_gallery`).

Each gallery person is enrolled from their first photo (as a watchlist is); every photo of the other
people is a stranger probe. Faces are found, aligned and embedded as ``vigil eval lfw`` does it (the
detected face nearest the centre). See :mod:`vigil.match.calibration` for what is measured.

LFW files a few people under two names, and a few photos under a wrong name. A "stranger" who is in
fact a gallery person would count as a false alert that is a true one and inflate the thresholds of
large lists, so the two names of one person are one person here (:data:`LFW_ALIASES`), and photos
filed under a wrong name are left out (:data:`LFW_MISFILED`). Each was found by looking at the
highest stranger scores of the first calibration and checked by eye (and, for the misfiled photos,
by their pixels: the same picture). Twins and look-alikes stay: they are what a watchlist meets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vigil.config import VigilConfig
from vigil.evaluate.embed_images import VectorCache, embed_images
from vigil.evaluate.lfw import lfw_people
from vigil.match.calibration import Calibration, calibrate
from vigil.types import FloatArray

LFW_ALIASES: dict[str, str] = {
    "Choi_Sung-hong": "Sung_Hong_Choi",
    "Chyung_Dai-chul": "Dai_Chul_Chyung",
    "Felipe_De_Borbon": "Prince_Felipe",
    "Hassan_Wirajuda": "Hasan_Wirayuda",
    "Bill_Pryor": "William_Pryor_Jr",
    "Mireya_Moscoso": "Mireya_Elisa_Moscoso_Rodriguez",
    "Noer_Moeis": "Noer_Muis",
    "Glenn_Rivers": "Doc_Rivers",
    "John_Gruden": "Jon_Gruden",
    "Virgina_Ruano_Pascal": "Ruano_Pascual",
    "Odai_Hussein": "Uday_Hussein",
}
"""LFW folders that hold the same person under another spelling of the name: folder → the other."""

LFW_MISFILED: frozenset[str] = frozenset(
    {
        "Raul_Ibanez/Raul_Ibanez_0001.jpg",  # the picture of Carlos_Beltran_0001
        "Bart_Hendricks/Bart_Hendricks_0001.jpg",  # of Ricky_Ray_0001
        "Gabrielle_Rose/Gabrielle_Rose_0001.jpg",  # of Martha_Bowen_0002
        "Andrew_Caldecott/Andrew_Caldecott_0001.jpg",  # of Andrew_Gilligan_0001
    }
)
"""LFW photos that are another person's photo filed again under a different name."""


@dataclass(frozen=True, slots=True)
class CalibrationSplit:
    gallery: tuple[str, ...]  # one photo per gallery person
    strangers: tuple[str, ...]  # every photo of everybody else


def split_people(photos: dict[str, list[str]], seed: int) -> CalibrationSplit:
    """Half the people (at random, fixed by ``seed``) to the gallery with their first photo, the rest as
    strangers with all of theirs.

    >>> split_people({"A": ["A/1.jpg"], "B": ["B/1.jpg", "B/2.jpg"]}, 0).strangers in (("A/1.jpg",),
    ...     ("B/1.jpg", "B/2.jpg"))
    True
    """
    names = sorted(photos)
    order = np.random.default_rng(seed).permutation(len(names))
    half = len(names) // 2
    gallery = tuple(sorted(photos[names[i]])[0] for i in sorted(order[:half].tolist()))
    strangers = tuple(p for i in sorted(order[half:].tolist()) for p in sorted(photos[names[i]]))
    return CalibrationSplit(gallery, strangers)


def lfw_photos(images: Path) -> dict[str, list[str]]:
    """LFW's people and photos with each person's two names merged and the misfiled photos left out."""
    photos: dict[str, list[str]] = {}
    for name, paths in lfw_people(images).items():
        kept = [rel for rel in paths if rel not in LFW_MISFILED]
        if kept:
            photos.setdefault(LFW_ALIASES.get(name, name), []).extend(kept)
    return photos


def calibrate_lfw(
    config: VigilConfig,
    images: Path,
    cache: VectorCache,
    model_id: str,
    *,
    command: str,
    workers: int,
    seed: int = 0,
    repeats: int = 20,
    progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Embed LFW (cached) and calibrate ``model_id`` on it."""
    split = split_people(lfw_photos(images), seed)
    vectors = embed_images(
        config, images, [*split.gallery, *split.strangers], cache, workers=workers, progress=progress
    )

    def stack(paths: tuple[str, ...]) -> FloatArray:
        return np.stack([vectors[p].vector for p in paths]).astype(np.float32)

    return calibrate(
        stack(split.gallery),
        stack(split.strangers),
        model_id=model_id,
        source=f"LFW, people split at random (seed {seed}): {len(split.gallery):,} enrolled from one photo, "
        f"{len(split.strangers):,} photos of the other people as strangers",
        command=command,
        repeats=repeats,
        seed=seed,
    )


def lfw_gallery(
    config: VigilConfig,
    images: Path,
    cache: VectorCache,
    *,
    workers: int,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[FloatArray, str]:
    """The gallery half of the usual split (one photo per person, embedded, cached) and its description.

    Against a site's strangers (:mod:`vigil.services.site_calibration`) they are the listed people: LFW's
    press photos are not at the site, and are photos as watchlists are enrolled from.
    """
    split = split_people(lfw_photos(images), seed)
    vectors = embed_images(config, images, split.gallery, cache, workers=workers, progress=progress)
    gallery = np.stack([vectors[p].vector for p in split.gallery]).astype(np.float32)
    return gallery, f"{len(gallery):,} LFW people (split seed {seed}) enrolled from one photo"
