"""Still images as a source: a folder of photos (a time-lapse, a batch to scan) or one photo.

Images go through :mod:`vigil.ingest.images`, so the same size, format and bomb checks apply as for an
upload. Frames get ``t_ms = index × 1000 / fps``, ``index`` being the file's place in the sorted listing
(a skipped file leaves a gap, as a dropped frame does in a video).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

from vigil.config.schema import IngestConfig
from vigil.errors import BadInput, SourceError
from vigil.ingest.images import IMAGE_SUFFIXES, load_image
from vigil.types import Frame

logger = logging.getLogger(__name__)


class ImageFolderSource:
    """The images of one folder (not its sub-folders), in sorted file-name order.

    A bad image is logged with its file name and reason, counted in ``skipped``, and passed over.

    Attributes:
        source_id: the id stamped on every frame (default: the folder name).
        length: how many image files the folder holds.
        fps: the frame rate given to the images (``t_ms = index × 1000 / fps``).
        skipped: how many of them the last :meth:`frames` pass could not use.
        files: the image files, in the order they are read.
    """

    def __init__(
        self, folder: Path, config: IngestConfig, *, fps: float = 1.0, source_id: str | None = None
    ) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.source_id = source_id or folder.absolute().name
        self.skipped = 0
        self._config = config
        self.fps: float | None = fps
        self.files = _list_images(folder)
        self.length: int | None = len(self.files)
        logger.info("opened %s: %d images in %s", self.source_id, len(self.files), folder)

    def frames(self) -> Iterator[Frame]:
        """Decode the images in order, skipping (and counting) those that cannot be used.

        Yields:
            One :class:`Frame` per good image.
        """
        self.skipped = 0
        fps = self.fps or 1.0
        for index, path in enumerate(self.files):
            try:
                image = load_image(path, self._config)
            except BadInput as exc:
                self.skipped += 1
                logger.warning("%s: skipped %s: %s", self.source_id, path.name, exc.reason)
                continue
            yield Frame(self.source_id, index, round(index * 1000 / fps), image, time.time())
        if self.skipped:
            logger.warning("%s: %d of %d images skipped", self.source_id, self.skipped, len(self.files))

    def close(self) -> None:
        """Nothing to release: each image is opened and closed as it is read."""


class ImageFileSource:
    """One still image as a one-frame source (so a photo given as a source gets the image checks).

    Attributes:
        source_id: the id stamped on the frame (default: the file stem).
        length: always 1.
        fps: None (a still has no frame rate).
    """

    def __init__(self, path: Path, config: IngestConfig, *, source_id: str | None = None) -> None:
        if not path.is_file():
            reason = "is not a regular file" if path.exists() else "file not found"
            raise SourceError(str(path), reason)
        self.source_id = source_id or path.stem
        self.length: int | None = 1
        self.fps: float | None = None
        self._path = path
        self._config = config

    def frames(self) -> Iterator[Frame]:
        """Decode the image.

        Yields:
            One :class:`Frame` with ``index`` 0 and ``t_ms`` 0.

        Raises:
            SourceError: with the reason the image was rejected.
        """
        try:
            image = load_image(self._path, self._config)
        except BadInput as exc:
            raise SourceError(str(self._path), exc.reason) from None
        yield Frame(self.source_id, 0, 0, image, time.time())

    def close(self) -> None:
        """Nothing to release."""


def _list_images(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except FileNotFoundError:
        raise SourceError(str(folder), "folder not found") from None
    except NotADirectoryError:
        raise SourceError(str(folder), "not a folder") from None
    except OSError as exc:
        raise SourceError(str(folder), f"cannot list the folder ({exc.strerror or exc})") from None
    files = [
        p
        for p in entries
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    ]
    if not files:
        kinds = ", ".join(sorted(s.lstrip(".") for s in IMAGE_SUFFIXES))
        raise SourceError(str(folder), f"no images in this folder (looked for {kinds})")
    return files
