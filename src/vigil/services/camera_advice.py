"""Judging a camera before it is installed: run a video file or stream through the engine for a while and
ask the suitability advisor (:mod:`vigil.bestshot.advice`) about the faces it found."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.app import Engine
from vigil.bestshot.advice import Advice, advise
from vigil.errors import BadInput
from vigil.ingest.factory import open_source
from vigil.match.gallery import Gallery, GalleryIdentities


@dataclass(frozen=True, slots=True)
class SourceAdvice:
    """The advice on a source, and how much of it was looked at."""

    source: str  # its id (a URL with credentials masked)
    seconds: float  # media time analysed
    frames: int
    width: int | None
    height: int | None
    advice: Advice


def advise_source(engine: Engine, spec: str, seconds: float) -> SourceAdvice:
    """Run ``spec`` (a video file, ``rtsp://``/``http(s)://`` stream or ``webcam:N``) through detection,
    tracking and best-shot scoring for ``seconds`` of its media time (or to its end), and judge its faces.

    Nothing is matched or stored: the watchlist is empty.

    Raises:
        SourceError: the source cannot be opened.
        BadInput: ``seconds`` is not positive.
    """
    if not seconds > 0:
        raise BadInput("seconds", f"{seconds} is not a positive number of seconds")
    source = open_source(spec, engine.config.ingest)
    pipeline = engine.pipeline(source.source_id, GalleryIdentities(Gallery(engine.model_id, engine.dim)))
    frames, first_ms, last_ms = 0, 0, 0
    size: tuple[int | None, int | None] = (None, None)
    try:
        for frame in source.frames():
            first_ms = frame.t_ms if frames == 0 else first_ms
            if frame.t_ms - first_ms > seconds * 1000:
                break
            pipeline.process(frame)
            frames, last_ms, size = frames + 1, frame.t_ms, frame.size_wh
    finally:
        source.close()
    pipeline.finish()
    analysed = (last_ms - first_ms) / 1000
    advice = advise(pipeline.faces.summary(), engine.config.bestshot)
    return SourceAdvice(source.source_id, min(analysed, seconds), frames, size[0], size[1], advice)
