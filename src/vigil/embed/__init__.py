"""Stage 5: aligned chips → L2-normalised vectors stamped with the model id.

Embedders are chosen by ``embed.type`` and registered explicitly in :data:`EMBEDDERS`; each one comes
with the aligner that cuts the chips it was trained on (:class:`~vigil.embed.base.FaceModel`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from vigil.config import DlibEmbedConfig, EmbedConfig, OnnxEmbedConfig
from vigil.embed.base import Aligner, Embedder, FaceModel
from vigil.embed.dlib_align import BOX_SHAPES, DlibAligner, Landmarker
from vigil.embed.dlib_resnet import DlibResNetEmbedder
from vigil.embed.fusion import FusedEmbedder
from vigil.embed.onnx import OnnxEmbedder
from vigil.embed.template_align import TemplateAligner
from vigil.errors import ModelError
from vigil.model_catalogue import (
    ARCFACE_112,
    DLIB5_IN_ARCFACE_112,
    DLIB_RESNET,
    ONNX_EMBEDDERS,
    EmbedderSpec,
    model_id,
)
from vigil.models import dlib_model_paths, find_model, model_search_path


def _dlib_aligner(detector: str) -> DlibAligner:
    return DlibAligner(Landmarker(dlib_model_paths().shape_predictor_5), BOX_SHAPES[detector])


def _dlib(config: EmbedConfig, model_dir: Path | None, detector: str, threads: int) -> FaceModel:
    if not isinstance(config, DlibEmbedConfig):
        raise TypeError(config)
    embedder = DlibResNetEmbedder(dlib_model_paths().resnet, flip=config.flip)
    return FaceModel(DLIB_RESNET, _dlib_aligner(detector), embedder)


def _onnx_network(spec: EmbedderSpec, model_dir: Path | None, flip: bool, threads: int) -> OnnxEmbedder:
    """One ONNX network of the catalogue, its file found and checked (sha256, input and output shape)."""
    if spec.file is None:
        raise ModelError(f"{spec.name}: the catalogue names no model file")
    path = find_model(spec.file, model_dir)
    if path is None:
        searched = ", ".join(str(p) for p in model_search_path(model_dir))
        raise ModelError(
            f"embedder {spec.name}: no {spec.file.filename} with sha256 {spec.file.sha256} in {searched}; "
            f"it comes from {spec.source}: put it in one of those folders (`vigil models install DIR` "
            "copies verified files into the user cache), or choose `embed: {type: dlib}`"
        )
    return OnnxEmbedder(spec, path, flip=flip, threads=threads)


def _onnx(config: EmbedConfig, model_dir: Path | None, detector: str, threads: int) -> FaceModel:
    if not isinstance(config, OnnxEmbedConfig):
        raise TypeError(config)
    spec = ONNX_EMBEDDERS[config.model]
    threads = config.threads or threads
    embedder: Embedder
    if spec.parts:
        for part in spec.parts:
            if (part.alignment, part.input_size) != (spec.alignment, spec.input_size):
                raise ModelError(f"{spec.name}: part {part.name} takes another chip than the fusion cuts")
        networks = [_onnx_network(part, model_dir, config.flip, threads) for part in spec.parts]
        embedder = FusedEmbedder(model_id(spec, config.flip), networks)
    else:
        embedder = _onnx_network(spec, model_dir, config.flip, threads)
    aligner = TemplateAligner(ARCFACE_112, spec.input_size, _dlib_aligner(detector), DLIB5_IN_ARCFACE_112)
    return FaceModel(spec, aligner, embedder)


EMBEDDERS: dict[str, Callable[[EmbedConfig, Path | None, str, int], FaceModel]] = {
    "onnx": _onnx,
    "dlib": _dlib,
}


def build_face_model(config: EmbedConfig, model_dir: Path | None, detector: str, threads: int) -> FaceModel:
    """The embedder named by ``config.type`` with its aligner (for boxes drawn by ``detector``), running
    inference on ``threads`` threads unless the config says otherwise.

    Raises:
        ModelError: the model file is missing, fails its sha256, or does not match its spec.
    """
    return EMBEDDERS[config.type](config, model_dir, detector, threads)


def default_threads(workers: int | None) -> int:
    """Inference threads for one process when ``workers`` processes share the cores."""
    cores = os.cpu_count() or 1
    return max(1, cores // (workers or cores))


__all__ = ["EMBEDDERS", "Aligner", "Embedder", "FaceModel", "build_face_model", "default_threads"]
