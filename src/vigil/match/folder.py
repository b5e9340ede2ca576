"""Building a watchlist from a folder tree: ``<name>/*.jpg|png``, one or more photos per person."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vigil.config import IngestConfig
from vigil.embed.stills import StillEncoder
from vigil.errors import BadInput
from vigil.ingest.images import IMAGE_SUFFIXES, load_image
from vigil.match.watchlist import Watchlist

log = logging.getLogger(__name__)


@dataclass
class FolderEnrolment:
    """The watchlist built from a folder and what could not be used, with reasons."""

    watchlist: Watchlist
    problems: list[BadInput] = field(default_factory=list)
    photos_used: int = 0


def list_photos(root: Path) -> tuple[list[tuple[str, Path]], list[BadInput]]:
    """(identity, photo) pairs under ``root/<identity>/``, sorted; stray files are reported."""
    if not root.is_dir():
        raise BadInput(root, "watchlist folder not found (expected <name>/<photo> inside)")
    photos: list[tuple[str, Path]] = []
    problems: list[BadInput] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            problems.append(BadInput(entry, "not in a person folder (expected <name>/<photo>); ignored"))
            continue
        files = sorted(p for p in entry.iterdir() if p.is_file() and not p.name.startswith("."))
        usable = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        problems.extend(BadInput(p, "not an image file name; ignored") for p in files if p not in usable)
        if not usable:
            problems.append(BadInput(entry, "person folder has no photos"))
        photos.extend((entry.name, p) for p in usable)
    return photos, problems


def enrol_folder(
    root: Path,
    watchlist: Watchlist,
    stills: StillEncoder,
    ingest: IngestConfig,
    progress: Callable[[int, int], None] | None = None,
) -> FolderEnrolment:
    """Embed every photo under ``root`` into ``watchlist``; bad photos are reported and skipped."""
    photos, problems = list_photos(root)
    result = FolderEnrolment(watchlist, problems)
    for i, (identity, path) in enumerate(photos):
        try:
            faces = stills.encode_single(load_image(path, ingest), str(path))
            watchlist.add(identity, faces.embeddings.vectors[0], str(path), faces.embeddings.model_id)
            result.photos_used += 1
        except BadInput as exc:
            log.warning("%s", exc)
            result.problems.append(exc)
        if progress is not None:
            progress(i + 1, len(photos))
    return result
