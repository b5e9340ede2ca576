"""Stage 5: aligned chips and vectors from real faces, for every embedder in the catalogue."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import read_bgr
from vigil.app import Engine, build_engine
from vigil.config import DlibEmbedConfig, OnnxEmbedConfig, VigilConfig
from vigil.embed import build_face_model
from vigil.embed.dlib_resnet import DlibResNetEmbedder, model_id_for
from vigil.embed.onnx import OnnxEmbedder
from vigil.embed.template_align import similarity
from vigil.errors import BadInput, ModelError
from vigil.model_catalogue import FACEPLUGIN_FR, FUSED_FR512_MFN192, MOBILEFACENET_SIRIUS
from vigil.models import dlib_model_paths, find_model
from vigil.types import FloatArray

EMBEDDERS = {
    "fused": OnnxEmbedConfig(),
    "faceplugin": OnnxEmbedConfig(model="faceplugin-fr512"),
    "mobilefacenet": OnnxEmbedConfig(model="mobilefacenet-sirius"),
    "dlib": DlibEmbedConfig(),
}


@pytest.fixture(scope="module", params=list(EMBEDDERS))
def any_engine(request: pytest.FixtureRequest, model_dir: Path) -> Engine:
    """An engine per catalogue embedder (YuNet detector)."""
    try:
        return build_engine(VigilConfig(model_dir=model_dir, embed=EMBEDDERS[request.param]))
    except ModelError as exc:
        pytest.skip(f"embedder {request.param} unavailable: {exc}")


@pytest.fixture(scope="module")
def dlib_engine(model_dir: Path) -> Engine:
    return build_engine(VigilConfig(model_dir=model_dir, embed=DlibEmbedConfig()))


def _vector(engine: Engine, path: Path) -> FloatArray:
    vector: FloatArray = engine.stills.encode_single(read_bgr(path), str(path)).embeddings.vectors[0]
    return vector


def _onnx_file(name: str, model_dir: Path) -> Path:
    spec = {"faceplugin": FACEPLUGIN_FR, "mobilefacenet": MOBILEFACENET_SIRIUS}[name]
    assert spec.file is not None
    path = find_model(spec.file, model_dir)
    if path is None:
        pytest.skip(f"{spec.file.filename} not found")
    return path


def only_in(folder: Path, monkeypatch: pytest.MonkeyPatch, source: Path, name: str) -> None:
    """Models are looked for only in ``folder`` (and an empty cache), which holds ``source`` as ``name``."""
    monkeypatch.setenv("VIGIL_MODEL_DIR", str(folder))
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder / "cache"))
    shutil.copy(source, folder / name)


def test_the_default_is_the_fused_onnx_embedder_with_its_own_threshold(engine: Engine, refs: Path) -> None:
    faces = engine.stills.encode(read_bgr(refs / "ageitgey_two_people.jpg"))
    assert faces.embeddings.vectors.shape == (2, 512 + 192)
    np.testing.assert_allclose(np.linalg.norm(faces.embeddings.vectors, axis=1), 1.0, atol=1e-5)
    assert faces.embeddings.model_id == "fused-fr512-mfn192"
    assert engine.config.match.threshold == FUSED_FR512_MFN192.threshold == engine.config.search.min_score


def test_the_fused_vector_is_its_parts_joined_and_its_cosine_their_mean(model_dir: Path, refs: Path) -> None:
    """The fusion runs each part on the very chip the part alone would get: its vector is the parts'
    vectors over sqrt(2), so the cosine of two photos is the mean of the parts' cosines."""
    engines = {
        name: build_engine(VigilConfig(model_dir=model_dir, embed=EMBEDDERS[name]))
        for name in ("fused", "faceplugin", "mobilefacenet")
    }
    photos = [refs / "ageitgey_obama.jpg", refs / "ageitgey_obama2.jpg", refs / "ageitgey_biden.jpg"]
    vectors = {name: np.stack([_vector(e, p) for p in photos]) for name, e in engines.items()}
    joined = np.concatenate([vectors["faceplugin"], vectors["mobilefacenet"]], axis=1) / np.sqrt(2)
    np.testing.assert_allclose(vectors["fused"], joined, atol=1e-5)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        parts = [float(vectors[n][i] @ vectors[n][j]) for n in ("faceplugin", "mobilefacenet")]
        assert float(vectors["fused"][i] @ vectors["fused"][j]) == pytest.approx(np.mean(parts), abs=1e-5)


def test_a_fusion_without_one_of_its_files_names_that_file(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_in(tmp_path, monkeypatch, _onnx_file("faceplugin", model_dir), "faceplugin_fr_feature.onnx")
    assert MOBILEFACENET_SIRIUS.file is not None
    with pytest.raises(
        ModelError, match=rf"mobilefacenet_sirius\.onnx with sha256 {MOBILEFACENET_SIRIUS.file.sha256}"
    ):
        build_face_model(OnnxEmbedConfig(), tmp_path, "yunet", 1)


def test_a_threshold_given_is_kept_and_dlib_brings_its_own() -> None:
    assert VigilConfig(match={"threshold": 0.5}).match.threshold == 0.5
    dlib = VigilConfig(embed={"type": "dlib"})
    assert (dlib.match.threshold, dlib.search.min_score) == (0.92, 0.92)


def test_same_person_is_closer_than_different_people(any_engine: Engine, refs: Path) -> None:
    engine = any_engine
    obama = _vector(engine, refs / "ageitgey_obama.jpg")
    obama2 = _vector(engine, refs / "ageitgey_obama2.jpg")
    others = [_vector(engine, refs / f) for f in ("ageitgey_biden.jpg", "ageitgey_lin-manuel-miranda.png")]
    same = float(obama @ obama2)
    assert same > engine.config.match.threshold
    for other in others:
        assert float(obama @ other) < engine.config.match.threshold < same


def test_a_face_without_landmarks_is_aligned_from_dlibs_points(engine: Engine, lfw_images: Path) -> None:
    """HOG boxes carry no landmarks: the template aligner falls back on dlib's five points, mapped onto
    the same chip, and the vector stays that of the same face."""
    image = read_bgr(lfw_images / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")
    dets = engine.detector.detect(image)
    with_landmarks = engine.stills.embed_boxes(image, dets.xyxy[:1], dets.landmarks[:1]).vectors[0]
    without = engine.stills.embed_boxes(image, dets.xyxy[:1]).vectors[0]
    assert float(with_landmarks @ without) > 0.8
    chip = engine.aligner.chips(image, dets.xyxy[:1], dets.landmarks[:1])[0]
    assert chip.shape == (112, 112, 3)


def test_similarity_recovers_a_known_transform() -> None:
    rng = np.random.default_rng(3)
    src = rng.uniform(0, 100, (5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -4.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rot.T + shift
    m = similarity(src, dst)
    np.testing.assert_allclose(m[:, :2], scale * rot, atol=1e-4)
    np.testing.assert_allclose(m[:, 2], shift, atol=1e-3)


def test_dlib_flip_averaging_makes_the_vector_mirror_invariant(dlib_engine: Engine, lfw_images: Path) -> None:
    engine = dlib_engine
    image = read_bgr(lfw_images / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")
    dets = engine.detector.detect(image)
    chip = engine.aligner.chips(image, dets.xyxy[:1], dets.landmarks[:1])[0]
    both = engine.embedder.embed([chip, np.ascontiguousarray(chip[:, ::-1])]).vectors
    np.testing.assert_allclose(both[0], both[1], atol=1e-5)


def test_without_flip_the_model_id_says_so(dlib_engine: Engine, lfw_images: Path) -> None:
    engine = dlib_engine
    plain = DlibResNetEmbedder(dlib_model_paths().resnet, flip=False)
    assert plain.model_id == model_id_for(False) == "dlib-resnet-v1"
    image = read_bgr(lfw_images / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")
    dets = engine.detector.detect(image)
    chip = engine.aligner.chips(image, dets.xyxy[:1], dets.landmarks[:1])
    assert chip[0].shape == (150, 150, 3)
    v_plain = plain.embed(chip).vectors[0]
    v_flip = engine.embedder.embed(chip).vectors[0]
    assert 0.95 < float(v_plain @ v_flip) < 1.0


def test_onnx_flip_is_stamped_and_mirror_invariant(model_dir: Path, engine: Engine, lfw_images: Path) -> None:
    flipped = OnnxEmbedder(FACEPLUGIN_FR, _onnx_file("faceplugin", model_dir), flip=True)
    assert flipped.model_id == "faceplugin-fr512+flip"
    image = read_bgr(lfw_images / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")
    dets = engine.detector.detect(image)
    chip = engine.aligner.chips(image, dets.xyxy[:1], dets.landmarks[:1])[0]
    both = flipped.embed([chip, np.ascontiguousarray(chip[:, ::-1])]).vectors
    np.testing.assert_allclose(both[0], both[1], atol=1e-5)


def test_empty_batch_gives_empty_vectors(any_engine: Engine) -> None:
    assert any_engine.embedder.embed([]).vectors.shape == (0, any_engine.embedder.dim)


def test_a_model_file_of_another_network_is_refused_by_its_shape(model_dir: Path) -> None:
    with pytest.raises(ModelError, match=r"mobilefacenet_sirius\.onnx: input shape .* expected \[N, 3, 112"):
        OnnxEmbedder(FACEPLUGIN_FR, _onnx_file("mobilefacenet", model_dir), flip=False)


def test_a_corrupt_model_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "faceplugin_fr_feature.onnx"
    bad.write_bytes(b"\x08\x07not a protobuf" * 100)
    with pytest.raises(ModelError, match=r"faceplugin_fr_feature\.onnx: not a loadable ONNX model"):
        OnnxEmbedder(FACEPLUGIN_FR, bad, flip=False)


def test_a_model_file_with_the_wrong_hash_is_not_used(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file of the right name but other content is skipped; with no valid copy the embedder cannot be
    built, and the error names the file, the hash expected and where it comes from."""
    only_in(tmp_path, monkeypatch, _onnx_file("mobilefacenet", model_dir), "faceplugin_fr_feature.onnx")
    assert FACEPLUGIN_FR.file is not None
    with pytest.raises(
        ModelError, match=rf"faceplugin_fr_feature\.onnx with sha256 {FACEPLUGIN_FR.file.sha256}"
    ):
        build_face_model(OnnxEmbedConfig(model="faceplugin-fr512"), tmp_path, "yunet", 1)


@pytest.mark.parametrize(
    ("photo", "reason"),
    [("ageitgey_two_people.jpg", "2 faces found"), (None, "no face found")],
)
def test_enrolment_photo_needs_exactly_one_face(
    engine: Engine, refs: Path, photo: str | None, reason: str
) -> None:
    image = read_bgr(refs / photo) if photo else np.full((300, 300, 3), 200, np.uint8)
    with pytest.raises(BadInput, match=reason):
        engine.stills.encode_single(image, photo or "blank.png")
