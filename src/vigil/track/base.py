"""The tracker interface: identity over time inside one camera."""

from __future__ import annotations

from typing import Protocol

from vigil.types import FaceDetections, TrackStep


class Tracker(Protocol):
    """Links each frame's faces to tracks that persist while a face stays in view.

    A tracker knows nothing about people: a track id only says "the same face as before in this camera".
    """

    def update(self, t_ms: int, detections: FaceDetections | None) -> TrackStep:
        """Advance to media time ``t_ms``.

        Args:
            t_ms: the frame's media time in ms; expected not to decrease.
            detections: this frame's faces, empty if detection ran and found none, or None if detection
                did not run on this frame (the tracker then only predicts).

        Returns:
            The live tracks on this frame and the tracks that started or ended on it.
        """
        ...

    def finish(self) -> tuple[int, ...]:
        """End of stream: end every live track and return their ids."""
        ...
