"""Stage 1, ingest: open a source (file, stream, webcam, image folder) and decode it into frames."""

from vigil.ingest.base import Source
from vigil.ingest.factory import open_source
from vigil.ingest.images import IMAGE_SUFFIXES, decode_image, load_image
from vigil.ingest.live import LiveReader
from vigil.ingest.status import CameraState, CameraStatus
from vigil.ingest.stills import ImageFileSource, ImageFolderSource
from vigil.ingest.urls import redact_url
from vigil.ingest.video import VideoSource

__all__ = [
    "IMAGE_SUFFIXES",
    "CameraState",
    "CameraStatus",
    "ImageFileSource",
    "ImageFolderSource",
    "LiveReader",
    "Source",
    "VideoSource",
    "decode_image",
    "load_image",
    "open_source",
    "redact_url",
]
