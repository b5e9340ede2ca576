"""Stage 3, tracking: identity over time inside one camera (track ids, nothing about people)."""

from vigil.track.base import Tracker
from vigil.track.iou import IouTracker

__all__ = ["IouTracker", "Tracker"]
