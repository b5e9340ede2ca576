"""Stage 5: aligned chips and vectors from real faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import read_bgr
from vigil.app import Engine
from vigil.embed.dlib_resnet import DlibResNetEmbedder, model_id_for
from vigil.errors import BadInput
from vigil.models import dlib_model_paths
from vigil.types import FloatArray


def _vector(engine: Engine, path: Path) -> FloatArray:
    vector: FloatArray = engine.stills.encode_single(read_bgr(path), str(path)).embeddings.vectors[0]
    return vector


def test_vectors_are_unit_length_and_stamped(engine: Engine, refs: Path) -> None:
    faces = engine.stills.encode(read_bgr(refs / "ageitgey_two_people.jpg"))
    assert faces.embeddings.vectors.shape == (2, 128)
    np.testing.assert_allclose(np.linalg.norm(faces.embeddings.vectors, axis=1), 1.0, atol=1e-5)
    assert faces.embeddings.model_id == "dlib-resnet-v1+flip"


def test_same_person_is_closer_than_different_people(engine: Engine, refs: Path) -> None:
    obama = _vector(engine, refs / "ageitgey_obama.jpg")
    obama2 = _vector(engine, refs / "ageitgey_obama2.jpg")
    others = [_vector(engine, refs / f) for f in ("ageitgey_biden.jpg", "ageitgey_lin-manuel-miranda.png")]
    same = float(obama @ obama2)
    assert same > engine.config.match.threshold
    for other in others:
        assert float(obama @ other) < engine.config.match.threshold < same


def test_flip_averaging_makes_the_vector_mirror_invariant(engine: Engine, lfw_images: Path) -> None:
    image = read_bgr(lfw_images / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")
    box = engine.detector.detect(image).xyxy[:1]
    chip = engine.aligner.chips(image, box)[0]
    both = engine.embedder.embed([chip, np.ascontiguousarray(chip[:, ::-1])]).vectors
    np.testing.assert_allclose(both[0], both[1], atol=1e-5)


def test_without_flip_the_model_id_says_so(engine: Engine, lfw_images: Path) -> None:
    plain = DlibResNetEmbedder(dlib_model_paths().resnet, flip=False)
    assert plain.model_id == model_id_for(False) == "dlib-resnet-v1"
    image = read_bgr(lfw_images / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")
    chip = engine.aligner.chips(image, engine.detector.detect(image).xyxy[:1])
    assert chip[0].shape == (150, 150, 3)
    v_plain = plain.embed(chip).vectors[0]
    v_flip = engine.embedder.embed(chip).vectors[0]
    assert 0.95 < float(v_plain @ v_flip) < 1.0


def test_empty_batch_gives_empty_vectors(engine: Engine) -> None:
    assert engine.embedder.embed([]).vectors.shape == (0, 128)


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
