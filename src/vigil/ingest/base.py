"""The one interface every source kind offers to the pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from vigil.types import Frame


@runtime_checkable
class Source(Protocol):
    """Where frames come from: a video file, a stream, a webcam, a folder of images.

    Attributes:
        source_id: the id stamped on every frame (a camera name, a file stem, a redacted URL).
        length: the frame count if known in advance (for progress bars), else None.
        fps: the nominal frame rate if known (to write an annotated copy), else None.
    """

    source_id: str
    length: int | None
    fps: float | None

    def frames(self) -> Iterator[Frame]:
        """Decode the frames in order.

        Raises:
            SourceError: naming the source, when it cannot be opened or breaks part-way.
        """
        ...

    def close(self) -> None:
        """Release the file, connection or device."""
        ...
