"""Embedding many still images for evaluation: the LFW face of each, in worker processes, cached."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

from vigil.app import Engine, build_engine
from vigil.config import VigilConfig
from vigil.embed import default_threads
from vigil.errors import BadInput
from vigil.evaluate.lfw import central_face, fallback_box
from vigil.ingest.images import load_image
from vigil.types import FloatArray

log = logging.getLogger(__name__)

_engine: Engine | None = None


@dataclass(frozen=True, slots=True)
class ImageVector:
    """The vector of the central face of one image; ``found`` is False when the fallback box was used."""

    rel_path: str
    vector: FloatArray
    found: bool


def _init_worker(config: VigilConfig, threads: int) -> None:
    global _engine  # noqa: PLW0603 - one engine per worker process, built once by the pool initializer
    logging.basicConfig(level=logging.WARNING)
    _engine = build_engine(config, threads)


def embed_central_face(engine: Engine, root: Path, rel_path: str) -> ImageVector:
    """Detect faces, keep the central one (or the fallback box), align and embed it."""
    image = load_image(root / rel_path, engine.config.ingest)
    size_wh = (int(image.shape[1]), int(image.shape[0]))
    dets = engine.detector.detect(image)
    i = central_face(dets, size_wh)
    if i is not None:
        vectors = engine.stills.embed_boxes(image, dets.xyxy[i : i + 1], dets.landmarks[i : i + 1]).vectors
    else:
        vectors = engine.stills.embed_boxes(image, fallback_box(size_wh)).vectors
    if len(vectors) == 0:
        raise BadInput(root / rel_path, "face could not be aligned")
    return ImageVector(rel_path, vectors[0], i is not None)


def _work(args: tuple[Path, str]) -> ImageVector:
    if _engine is None:
        raise RuntimeError("worker engine not initialised")
    return embed_central_face(_engine, *args)


def cache_key(config: VigilConfig, model_id: str) -> str:
    """A key that changes whenever anything that shapes the vectors changes."""
    embed = config.embed.model_dump_json(exclude={"threads"})
    text = f"{model_id}|{config.detector.model_dump_json()}|{embed}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def lfw_cache_path(config: VigilConfig, model_id: str) -> Path:
    """The vector cache ``vigil eval lfw`` uses too, so that each LFW photo is embedded once."""
    return Path(platformdirs.user_cache_dir("vigil")) / "eval" / f"lfw-{cache_key(config, model_id)}.npz"


class VectorCache:
    """An .npz of path → (vector, found) so that a re-run only embeds what is new."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.items: dict[str, ImageVector] = {}
        if path is not None and path.is_file():
            with np.load(path, allow_pickle=False) as data:
                for rel, vec, found in zip(data["paths"], data["vectors"], data["found"], strict=True):
                    self.items[str(rel)] = ImageVector(str(rel), vec.astype(np.float32), bool(found))

    def save(self) -> None:
        if self.path is None or not self.items:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        vals = list(self.items.values())
        np.savez(
            tmp,
            paths=np.array([v.rel_path for v in vals]),
            vectors=np.stack([v.vector for v in vals]),
            found=np.array([v.found for v in vals]),
        )
        tmp.replace(self.path)


def embed_images(
    config: VigilConfig,
    root: Path,
    rel_paths: Sequence[str],
    cache: VectorCache,
    *,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, ImageVector]:
    """Vectors for every image (from the cache where present); worker processes do the rest."""
    todo = [p for p in dict.fromkeys(rel_paths) if p not in cache.items]
    done = len(rel_paths) - len(todo)
    total = len(set(rel_paths))
    if progress is not None:
        progress(total - len(todo), total)
    for i, item in enumerate(_run(config, root, todo, workers)):
        cache.items[item.rel_path] = item
        if progress is not None:
            progress(total - len(todo) + i + 1, total)
        if (i + 1) % 500 == 0:
            cache.save()
    cache.save()
    log.debug("embedded %d images, %d from cache", len(todo), done)
    return {p: cache.items[p] for p in rel_paths}


def _run(config: VigilConfig, root: Path, todo: list[str], workers: int) -> Iterator[ImageVector]:
    if not todo:
        return
    if workers <= 1:
        _init_worker(config, default_threads(1))
        yield from (_work((root, p)) for p in todo)
        return
    init = (config, default_threads(workers))
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=init) as pool:
        yield from pool.map(_work, [(root, p) for p in todo], chunksize=8)
