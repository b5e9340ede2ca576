"""Best shot: quality measures on real LFW faces and head-pose clips, selection policy per track."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from vigil.bestshot import BestShotSelector, cut_shot, face_quality, head_pose, is_better
from vigil.bestshot import quality as q
from vigil.bestshot import selector as selector_module
from vigil.config import BestShotConfig
from vigil.types import FaceDetections, FloatArray, Frame, Image, QualityScores, TrackStep

Face = tuple[FloatArray, float, FloatArray]
"""One detected face: box (4,), score, landmarks (5, 2)."""
Detect = Callable[[Image], Face]


@pytest.fixture(scope="module")
def detect(model_dir: Path) -> Detect:
    """YuNet on a whole image, returning its most confident face."""
    net = cv2.FaceDetectorYN.create(
        str(model_dir / "face_detection_yunet_2023mar.onnx"), "", (320, 320), 0.6, 0.3
    )

    def best_face(image: Image) -> Face:
        net.setInputSize((image.shape[1], image.shape[0]))
        _, rows = net.detect(image)
        assert rows is not None, "no face found"
        r = rows[int(np.argmax(rows[:, 14]))].astype(np.float32)
        xyxy = np.array([r[0], r[1], r[0] + r[2], r[1] + r[3]], np.float32)
        return xyxy, float(r[14]), r[4:14].reshape(5, 2).copy()

    return best_face


def lfw(test_data: Path, name: str) -> Image:
    """An LFW image by file stem, e.g. ``Tony_Blair_0003``."""
    person = name.rsplit("_", 1)[0]
    image = cv2.imread(str(test_data / "lfw" / "images" / person / f"{name}.jpg"))
    assert image is not None
    return as_image(image)


def as_image(pixels: object) -> Image:
    """OpenCV's untyped result as the 8-bit BGR image type of the pipeline."""
    return np.asarray(pixels, dtype=np.uint8)


def blur(image: Image, sigma: float) -> Image:
    """A Gaussian-blurred copy (sigma in pixels); 0 gives the image itself."""
    return as_image(cv2.GaussianBlur(image, (0, 0), sigma)) if sigma else image


def gif_frame(test_data: Path, name: str, index: int) -> Image:
    with av.open(str(test_data / "video" / "intel" / "preview_gif" / name)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k == index:
                return as_image(frame.to_ndarray(format="bgr24"))
    raise AssertionError(f"{name} has no frame {index}")


def quality_of(image: Image, detect: Detect) -> QualityScores:
    xyxy, score, landmarks = detect(image)
    return face_quality(image, xyxy, score, landmarks)


# --- pure measures --------------------------------------------------------------------------------


@pytest.mark.parametrize(("size_px", "expected"), [(0, 0.0), (32, 0.32), (50, 0.5), (100, 1.0), (400, 1.0)])
def test_size_score_saturates_at_100_px(size_px: float, expected: float) -> None:
    assert q.size_score(size_px) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("xyxy", "expected"),
    [
        ((0, 100, 60, 160), 0.0),  # touching the left border
        ((-20, 100, 40, 160), 0.0),  # crossing it
        ((15, 100, 75, 160), 0.5),  # 15 px in, a quarter of its 60 px side
        ((300, 300, 360, 360), 1.0),  # well inside
        ((300, 420, 360, 480), 0.0),  # touching the bottom (frame 640 x 480)
        ((300, 400, 360, 460), 20 / 30),  # 20 px above the bottom
    ],
)
def test_edge_score(xyxy: tuple[float, ...], expected: float) -> None:
    assert q.edge_score(np.array(xyxy, np.float32), (640, 480)) == pytest.approx(expected)


def test_geometric_mean_lets_one_failure_sink_the_total() -> None:
    """A profile (frontal 0) but otherwise perfect shot: the arithmetic mean would say 0.7, usable."""
    assert q.combine(1.0, 1.0, 1.0, 1.0, 1.0) == pytest.approx(1.0)
    assert q.combine(1.0, 1.0, 0.0, 1.0, 1.0) < BestShotConfig().min_quality
    assert q.combine(0.5, 0.5, 0.5, 0.5, 0.5) == pytest.approx(0.5)
    assert q.combine(0.6, 0.8, 0.9, 0.9, 1.0) > q.combine(0.6, 0.8, 0.7, 0.9, 1.0)
    assert sum(q.WEIGHTS.values()) == pytest.approx(1.0)


def _scores(total: float, size_px: float = 60.0) -> QualityScores:
    return QualityScores(size_px, size_px / 100, 0.8, 0.9, 0.9, 1.0, total)


@pytest.mark.parametrize(
    ("a", "b", "a_better"),
    [
        (_scores(0.8), _scores(0.7), True),
        (_scores(0.7), _scores(0.8), False),
        (_scores(0.7, size_px=80), _scores(0.7, size_px=60), True),
        (_scores(0.7), _scores(0.7), False),
    ],
)
def test_is_better(a: QualityScores, b: QualityScores, a_better: bool) -> None:
    assert is_better(a, b) is a_better


def _rotate(points: FloatArray, degrees: float) -> FloatArray:
    """Rotate points on screen (y down) clockwise by ``degrees`` about their mean."""
    t = math.radians(degrees)
    m = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]], np.float32)
    c = points.mean(axis=0)
    rotated: FloatArray = ((points - c) @ m.T + c).astype(np.float32)
    return rotated


FRONTAL_LANDMARKS = np.array([[40, 50], [80, 50], [60, 72], [45, 90], [75, 90]], np.float32)


@pytest.mark.parametrize("degrees", [-30.0, -10.0, 10.0, 25.0])
def test_head_pose_follows_exact_landmark_transforms(degrees: float) -> None:
    turned = FRONTAL_LANDMARKS.copy()
    turned[2, 0] += 10  # nose a quarter of the eye distance toward the left eye: yaw atan(0.5) = 26.6
    yaw, roll = head_pose(turned)
    assert (yaw, roll) == pytest.approx((26.57, 0.0), abs=0.01)
    yaw_r, roll_r = head_pose(_rotate(turned, degrees))
    assert (yaw_r, roll_r) == pytest.approx((yaw, degrees), abs=0.01)
    mirrored = turned.copy()
    mirrored[:, 0] = 200 - mirrored[:, 0]
    mirrored = mirrored[[1, 0, 2, 4, 3]]  # a detector labels the eye on the image's left "right eye"
    assert head_pose(mirrored) == pytest.approx((-yaw, -roll), abs=0.01)


def test_missing_landmarks_give_the_neutral_frontal_score() -> None:
    nan = np.full((5, 2), np.nan, np.float32)
    assert all(math.isnan(v) for v in head_pose(nan))
    assert q.frontal_score(nan) == q.NEUTRAL_FRONTAL
    assert q.frontal_score(FRONTAL_LANDMARKS) == pytest.approx(1.0)


# --- measures on real faces -----------------------------------------------------------------------

HEAD_POSE_GIF = "head-pose-face-detection-female.gif"
SHARP_FACES = ["Tony_Blair_0003", "Serena_Williams_0001", "Colin_Powell_0002"]


@pytest.mark.parametrize("name", SHARP_FACES)
def test_blur_lowers_sharpness(test_data: Path, detect: Detect, name: str) -> None:
    image = lfw(test_data, name)
    xyxy, _, _ = detect(image)
    scores = [q.sharpness_score(blur(image, s), xyxy) for s in (0, 1, 2, 4)]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 0.75
    assert scores[2] < 0.5 * scores[0]


@pytest.mark.parametrize("name", SHARP_FACES)
def test_sharpness_does_not_depend_on_resolution(test_data: Path, detect: Detect, name: str) -> None:
    """The same face at twice the resolution: 0.85 vs 0.89 measured; the raw Laplacian falls 10x."""
    image = lfw(test_data, name)
    xyxy, _, _ = detect(image)
    big = as_image(cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC))
    assert q.sharpness_score(big, xyxy * 2) == pytest.approx(q.sharpness_score(image, xyxy), abs=0.06)


@pytest.mark.parametrize(
    ("frontal", "profile"),
    [
        (("lfw", "Tony_Blair_0003", 0), ("lfw", "Tony_Blair_0001", 0)),  # same man, yaw -37
        (("lfw", "Tony_Blair_0003", 0), ("lfw", "George_W_Bush_0004", 0)),  # yaw -40
        (("gif", HEAD_POSE_GIF, 9), ("gif", HEAD_POSE_GIF, 3)),  # yaw 1 vs -54
    ],
    ids=["blair", "bush", "gif-female"],
)
def test_frontal_face_beats_a_turned_one(
    test_data: Path, detect: Detect, frontal: tuple[str, str, int], profile: tuple[str, str, int]
) -> None:
    def load(kind: str, name: str, index: int) -> Image:
        return lfw(test_data, name) if kind == "lfw" else gif_frame(test_data, name, index)

    a, b = quality_of(load(*frontal), detect), quality_of(load(*profile), detect)
    assert a.frontal > 0.9
    assert b.frontal < 0.45
    assert is_better(a, b)


@pytest.mark.parametrize(
    ("source", "yaw_sign"),
    [(("lfw", "Colin_Powell_0001"), 1), (("gif", HEAD_POSE_GIF), -1)],
    ids=["powell", "gif-female"],
)
def test_mirroring_flips_yaw(test_data: Path, detect: Detect, source: tuple[str, str], yaw_sign: int) -> None:
    """Measured: Powell +25 -> -24 degrees; the head-pose clip's frame 3 about -54 -> +54."""
    kind, name = source
    image = lfw(test_data, name) if kind == "lfw" else gif_frame(test_data, name, 3)
    yaw, roll = head_pose(detect(image)[2])
    yaw_m, roll_m = head_pose(detect(as_image(cv2.flip(image, 1)))[2])
    assert np.sign(yaw) == yaw_sign
    assert abs(yaw) > 20
    assert yaw_m == pytest.approx(-yaw, abs=6)
    assert roll_m == pytest.approx(-roll, abs=3)


def test_rotating_the_image_turns_the_roll_its_way(test_data: Path, detect: Detect) -> None:
    """Rolls follow the rotation's direction, though YuNet's landmarks pull toward upright.

    Measured on Tony_Blair_0003: 5.1, -1.3, -5.2, -13.2 degrees for rotations of -15, 0, 15 and 30
    degrees counter-clockwise, so roughly 40% of the true roll; yaw stays within 10 degrees.
    """
    image = lfw(test_data, "Tony_Blair_0003")
    poses = []
    for degrees in (-15, 0, 15, 30):
        rotation = cv2.getRotationMatrix2D((125.0, 125.0), degrees, 1.0)
        poses.append(head_pose(detect(as_image(cv2.warpAffine(image, rotation, (250, 250))))[2]))
    rolls = [roll for _, roll in poses]
    assert rolls == sorted(rolls, reverse=True)
    assert rolls[0] - rolls[-1] > 12
    assert all(abs(yaw) < 12 for yaw, _ in poses)


def test_a_face_cut_by_the_border_scores_lower_edge(test_data: Path, detect: Detect) -> None:
    image = lfw(test_data, "Serena_Williams_0001")
    whole = quality_of(image, detect)
    xyxy, _, _ = detect(image)
    cut = np.ascontiguousarray(image[:, int(xyxy[0]) + 15 :])  # the frame now starts inside the face
    cut_quality = quality_of(cut, detect)
    assert whole.edge > 0.5
    assert cut_quality.edge < 0.1
    assert cut_quality.total < whole.total


def test_real_face_quality_is_high_and_in_range(test_data: Path, detect: Detect) -> None:
    scores = quality_of(lfw(test_data, "Tony_Blair_0003"), detect)
    fields = [scores.size, scores.sharpness, scores.frontal, scores.det_score, scores.edge, scores.total]
    assert all(0.0 <= v <= 1.0 for v in fields)
    assert scores.total > 0.85
    assert scores.size_px == pytest.approx(92.6, abs=3)


# --- selection policy -----------------------------------------------------------------------------

BLANK = np.full((480, 640, 3), 128, np.uint8)


def make_frame(index: int, image: Image = BLANK) -> Frame:
    return Frame("cam", index, index * 100, image, captured_at=0.0)


def make_step(rows: list[tuple[int, tuple[float, float, float, float], float, bool]]) -> TrackStep:
    """Rows of (track id, box, detector score, observed)."""
    xyxy = np.array([r[1] for r in rows], np.float32).reshape(-1, 4)
    wh = xyxy[:, None, 2:4] - xyxy[:, None, 0:2]
    unit = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]], np.float32)
    faces = FaceDetections(
        xyxy=xyxy,
        score=np.array([r[2] for r in rows], np.float32),
        landmarks=(xyxy[:, None, 0:2] + unit[None] * wh).astype(np.float32),
        track_id=np.array([r[0] for r in rows], np.int64),
    )
    return TrackStep(faces, np.array([r[3] for r in rows], bool))


@pytest.fixture
def scripted_quality(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a shot's total quality equal its detector score, to script the policy precisely."""

    def fake(image: Image, xyxy: FloatArray, det_score: float, landmarks: FloatArray) -> QualityScores:
        side = float(min(xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]))
        return QualityScores(side, q.size_score(side), 1.0, 1.0, det_score, 1.0, det_score)

    monkeypatch.setattr(selector_module, "face_quality", fake)


FACE = (200.0, 150.0, 280.0, 250.0)


@pytest.mark.usefixtures("scripted_quality")
@pytest.mark.parametrize(
    ("totals", "embedded"),
    [
        ([0.5, 0.55, 0.6, 0.9], [True, False, True, True]),  # at once; +0.05 too little, +0.1 enough
        ([0.3, 0.34, 0.4, 0.45, 0.5], [False, False, True, False, True]),  # below min_quality 0.35 never
        ([0.5, 0.6, 0.7, 0.8, 0.95], [True, True, True, False, False]),  # K = 3
        ([0.9, 0.5, 0.95, 0.2], [True, False, False, False]),  # improvements are over the best embedded
    ],
)
def test_embedding_policy(totals: list[float], embedded: list[bool]) -> None:
    selector = BestShotSelector(BestShotConfig(max_shots=3, min_quality=0.35, improve_by=0.08))
    got = [
        len(selector.update(make_frame(k), make_step([(1, FACE, t, True)]))) == 1
        for k, t in enumerate(totals)
    ]
    assert got == embedded


@pytest.mark.usefixtures("scripted_quality")
def test_small_faces_are_never_embedded_but_can_be_shown() -> None:
    selector = BestShotSelector(BestShotConfig(min_face_px=32))
    tiny = (100.0, 100.0, 130.0, 140.0)  # 30 px wide
    assert selector.update(make_frame(0), make_step([(4, tiny, 0.99, True)])) == []
    best = selector.best(4)
    assert best is not None
    assert best.quality.total == pytest.approx(0.99)
    assert len(selector.update(make_frame(1), make_step([(4, FACE, 0.6, True)]))) == 1


@pytest.mark.usefixtures("scripted_quality")
def test_only_observed_rows_count() -> None:
    selector = BestShotSelector(BestShotConfig())
    step = make_step([(1, FACE, 0.9, False), (2, (400.0, 150.0, 480.0, 250.0), 0.9, True)])
    shots = selector.update(make_frame(0), step)
    assert [s.track_id for s in shots] == [2]
    assert selector.best(1) is None


@pytest.mark.usefixtures("scripted_quality")
def test_end_returns_the_best_shot_seen_and_forgets_the_track() -> None:
    selector = BestShotSelector(BestShotConfig(max_shots=1))
    for k, total in enumerate([0.5, 0.9, 0.7]):
        selector.update(make_frame(k), make_step([(3, FACE, total, True), (5, FACE, 0.4, True)]))
    best = selector.end(3)
    assert best is not None
    assert best.frame_index == 1  # seen, never embedded (K = 1)
    assert best.quality.total == pytest.approx(0.9)
    assert selector.end(3) is None
    assert selector.best(5) is not None
    assert selector.end(99) is None
    # A new track with a recycled id would start afresh: its first shot is embedded at once.
    assert len(selector.update(make_frame(9), make_step([(3, FACE, 0.5, True)]))) == 1


def test_selector_on_real_frames_embeds_first_then_clear_gains(test_data: Path, detect: Detect) -> None:
    """One LFW face seen through decreasing blur: totals 0.59, 0.64, 0.89, 0.94 measured."""
    image = lfw(test_data, "Tony_Blair_0003")
    xyxy, score, landmarks = detect(image)
    faces = FaceDetections(xyxy[None], np.array([score], np.float32), landmarks[None], np.array([7]))
    step = TrackStep(faces, np.array([True]))
    selector = BestShotSelector(BestShotConfig(max_shots=3, improve_by=0.08, min_sharpness=0.0))
    embedded = []
    for k, sigma in enumerate([4.0, 3.0, 0.8, 0.0]):
        frame = make_frame(k, blur(image, sigma).copy())
        embedded.append([s.frame_index for s in selector.update(frame, step)])
    assert embedded == [[0], [], [2], []]
    best = selector.end(7)
    assert best is not None
    assert best.frame_index == 3


def test_shot_patch_has_a_margin_clipped_to_the_frame(test_data: Path) -> None:
    image = lfw(test_data, "Tony_Blair_0003")
    frame = make_frame(0, image.copy())
    xyxy = np.array([20.5, 100.0, 100.5, 200.0], np.float32)  # margin 40 px: clipped on the left
    landmarks = np.array([[40, 130], [80, 130], [60, 150], [45, 175], [75, 175]], np.float32)
    shot = cut_shot(frame, 1, xyxy, landmarks, _scores(0.8))
    offset = np.array([0, 50], np.float32)
    assert shot.patch.shape == (250 - 50, 141, 3)  # x 0..141 (100.5 + 40 rounded up), y 50..250
    np.testing.assert_array_equal(shot.patch, image[50:250, 0:141])
    np.testing.assert_allclose(shot.xyxy_in_patch, xyxy - np.tile(offset, 2))
    np.testing.assert_allclose(shot.landmarks_in_patch + offset, landmarks)
    assert shot.face_crop().shape[:2] == (100, 80)
    frame.image[:] = 0  # the patch is a copy: the frame's buffer may be reused
    assert shot.patch.any()


@pytest.mark.usefixtures("scripted_quality")
@pytest.mark.parametrize(
    ("times_ms", "totals", "embedded"),
    [
        ([0, 400, 1100, 2200, 3300], [0.8, 0.8, 0.8, 0.75, 0.8], [True, False, True, True, False]),  # K = 3
        ([0, 1500], [0.8, 0.71], [True, False]),  # a refresh must be nearly as good as the best (0.08)
        ([0, 1500, 1600], [0.8, 0.73, 0.95], [True, True, True]),  # a clear gain needs no wait
    ],
)
def test_long_tracks_get_views_spread_over_time(
    times_ms: list[int], totals: list[float], embedded: list[bool]
) -> None:
    selector = BestShotSelector(BestShotConfig(max_shots=3, improve_by=0.08, refresh_ms=1000))
    got = []
    for k, (t, total) in enumerate(zip(times_ms, totals, strict=True)):
        frame = Frame("cam", k, t, BLANK, captured_at=0.0)
        got.append(len(selector.update(frame, make_step([(1, FACE, total, True)]))) == 1)
    assert got == embedded


def test_blurred_or_dark_faces_are_never_embedded(test_data: Path, detect: Detect) -> None:
    """Regression: dark, motion-blurred audience faces (sharpness ≤ 0.1) matched watchlist people."""
    image = lfw(test_data, "Tony_Blair_0003")
    xyxy, score, landmarks = detect(image)
    faces = FaceDetections(xyxy[None], np.array([score], np.float32), landmarks[None], np.array([7]))
    step = TrackStep(faces, np.array([True]))
    selector = BestShotSelector(BestShotConfig(min_sharpness=0.2, min_quality=0.0))
    dark_blurred = (blur(image, 4.0) // 4).astype(np.uint8)
    assert selector.update(make_frame(0, dark_blurred), step) == []
    assert len(selector.update(make_frame(1, image.copy()), step)) == 1
