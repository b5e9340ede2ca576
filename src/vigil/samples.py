"""The sample data Vigil's quickstart, tests and benchmarks use: where it is and how it is laid out."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from vigil.errors import BadInput

DATA_ENV = "VIGIL_TEST_DATA"

SAMPLE_CLIP = "video/ageitgey_short_hamilton_clip.mp4"
"""Lin-Manuel Miranda on stage at the White House (2009), then Barack Obama in the audience."""

SAMPLE_WATCHLIST: tuple[tuple[str, str], ...] = (
    ("Lin-Manuel Miranda", "ageitgey_lin-manuel-miranda.png"),
    ("Barack Obama", "ageitgey_obama.jpg"),
    ("Barack Obama", "ageitgey_obama2.jpg"),
    ("Joe Biden", "ageitgey_biden.jpg"),
    ("Alex Lacamoire", "ageitgey_alex-lacamoire.png"),
)
"""The sample watchlist: (identity, photo in ``<data>/refs``)."""


def data_dir() -> Path:
    """The sample data folder: ``$VIGIL_TEST_DATA``, else ``../shared/data`` from the working directory."""
    return Path(os.environ.get(DATA_ENV, "../shared/data"))


def sample_watchlist(refs: Path, dest: Path) -> Path:
    """Lay out :data:`SAMPLE_WATCHLIST` as a watchlist folder (``dest/<identity>/<photo>``).

    Raises:
        BadInput: a reference photo is missing.
    """
    for identity, name in SAMPLE_WATCHLIST:
        photo = refs / name
        if not photo.is_file():
            raise BadInput(photo, f"sample watchlist photo not found (set {DATA_ENV})")
        person = dest / identity
        person.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(photo, person / name)
    return dest
