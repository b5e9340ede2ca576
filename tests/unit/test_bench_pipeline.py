"""`vigil bench pipeline`: the face_recognition loop, both runners, the result types and the command.

Real data: the Hamilton clip (Lin-Manuel Miranda on stage) and an asl_gestures webcam clip whose signer
is on no watchlist. Speed is not asserted here (that is the benchmark's job, not a timed test's).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import dlib
import pytest
from typer.testing import CliRunner

from vigil.app import Engine
from vigil.cli import app
from vigil.config import IngestConfig
from vigil.evaluate.bench_pipeline import (
    BenchResult,
    ClipResult,
    LoopResult,
    Timing,
    VigilResult,
    bench_clip,
    run_loop,
)
from vigil.evaluate.facerec_loop import FaceRecognitionLoop, trim_box
from vigil.evaluate.machine import load_average, machine_info
from vigil.match.folder import enrol_folder, list_photos
from vigil.match.watchlist import Watchlist
from vigil.models import dlib_model_paths
from vigil.runtime.pipeline import StageTimes
from vigil.samples import SAMPLE_WATCHLIST, sample_watchlist

HAMILTON_FRAMES = 40
ASL_FRAMES = 30
LMM = "Lin-Manuel Miranda"


@pytest.fixture(scope="module")
def watchlist_dir(refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_watchlist(refs, tmp_path_factory.mktemp("watchlist"))


@pytest.fixture(scope="module")
def loop(watchlist_dir: Path) -> FaceRecognitionLoop:
    loop = FaceRecognitionLoop(dlib_model_paths())
    problems = loop.enrol_folder(watchlist_dir, IngestConfig())
    assert problems == []
    return loop


@pytest.fixture(scope="module")
def watchlist(engine: Engine, watchlist_dir: Path) -> Watchlist:
    return enrol_folder(watchlist_dir, engine.new_watchlist(), engine.stills, engine.config.ingest).watchlist


@pytest.fixture(scope="module")
def hamilton_result(
    engine: Engine, watchlist: Watchlist, loop: FaceRecognitionLoop, hamilton_clip: Path
) -> ClipResult:
    return bench_clip(engine, watchlist, loop, hamilton_clip, max_frames=HAMILTON_FRAMES)


def test_sample_watchlist_lays_out_one_folder_per_person(watchlist_dir: Path) -> None:
    photos, problems = list_photos(watchlist_dir)
    assert problems == []
    assert sorted((who, p.name) for who, p in photos) == sorted(SAMPLE_WATCHLIST)


def test_loop_knows_one_encoding_per_photo(loop: FaceRecognitionLoop) -> None:
    assert sorted(loop.names) == sorted(who for who, _ in SAMPLE_WATCHLIST)


def test_loop_finds_faces_but_identifies_nobody_on_a_stranger(
    loop: FaceRecognitionLoop, test_data: Path
) -> None:
    """The asl_gestures signer is on no watchlist: every face is embedded and stays unknown."""
    clip = test_data / "video" / "intel" / "asl_gestures" / "again.mkv"
    result = run_loop(loop, clip, IngestConfig(), max_frames=ASL_FRAMES)
    assert result.timing.frames == ASL_FRAMES
    assert result.faces >= ASL_FRAMES - 3  # one frontal face per frame; measured: 30 of 30
    assert result.identities == frozenset()
    assert result.unknown_faces == result.faces


def test_loop_identifies_lin_manuel_miranda_in_hamilton(hamilton_result: ClipResult) -> None:
    """Measured: in the first 40 frames the loop names him in 14 frames and finds 5 unknown faces."""
    loop = hamilton_result.loop
    assert loop.identities == {LMM}
    assert loop.identity_frames[LMM] >= 10
    assert loop.faces >= loop.identity_frames[LMM] + loop.unknown_faces


def test_vigil_finds_every_identity_the_loop_finds_in_hamilton(hamilton_result: ClipResult) -> None:
    assert LMM in hamilton_result.vigil.identities
    assert hamilton_result.missed == frozenset()


def test_both_sides_count_the_same_frames_and_their_parts_add_up(hamilton_result: ClipResult) -> None:
    loop, vigil = hamilton_result.loop, hamilton_result.vigil
    assert loop.timing.frames == vigil.timing.frames == vigil.stages.frames == HAMILTON_FRAMES
    for timing in (loop.timing, vigil.timing):
        assert timing.decode_s > 0
        assert timing.process_s > 0
        assert 0 < timing.end_to_end_fps < timing.processing_fps
    assert sum(vigil.identity_tracks.values()) + vigil.unknown_tracks == vigil.tracks
    assert all(n <= HAMILTON_FRAMES for n in loop.identity_frames.values())
    stride = 3  # the default detect_every
    assert vigil.stages.detections_run == math.ceil(HAMILTON_FRAMES / stride)
    assert 0 < vigil.stages.faces_embedded < loop.faces
    assert set(vigil.stages.seconds) >= {"detect", "track", "embed"}


def _timing(frames: int, decode_s: float, process_s: float) -> Timing:
    return Timing(frames, decode_s, process_s)


def _clip(
    name: str, loop_s: float, vigil_s: float, loop_ids: dict[str, int], vigil_ids: dict[str, int]
) -> ClipResult:
    frames = 100
    loop = LoopResult(
        _timing(frames, 1.0, loop_s), faces=sum(loop_ids.values()), identity_frames=loop_ids, unknown_faces=0
    )
    vigil = VigilResult(
        _timing(frames, 1.0, vigil_s),
        sum(vigil_ids.values()),
        vigil_ids,
        unknown_tracks=0,
        stages=StageTimes(),
    )
    return ClipResult(name, loop, vigil)


def _bench(*clips: ClipResult) -> BenchResult:
    return BenchResult(clips, 3, "vigil bench pipeline", machine_info(), load_average(), load_average())


@pytest.mark.parametrize(
    ("clips", "passed", "verdict_has"),
    [
        ([_clip("a", 119.0, 10.0, {LMM: 5}, {LMM: 1})], True, "PASS"),  # 120 s vs 11 s end to end: 10.9×
        ([_clip("a", 99.0, 10.0, {LMM: 5}, {LMM: 1})], False, "speed"),  # 100 s vs 11 s: 9.1×
        ([_clip("a", 200.0, 10.0, {LMM: 5}, {})], False, "missed Lin-Manuel Miranda in a"),
        ([_clip("a", 200.0, 10.0, {}, {LMM: 1})], True, "PASS"),  # only Vigil found someone: not a failure
        (
            [
                _clip("a", 200.0, 10.0, {LMM: 5}, {LMM: 1}),
                _clip("b", 200.0, 10.0, {"Joe Biden": 1}, {LMM: 1}),
            ],
            False,
            "missed Joe Biden in b",
        ),
    ],
)
def test_verdict_needs_the_speed_up_and_every_identity_per_clip(
    clips: list[ClipResult], passed: bool, verdict_has: str
) -> None:
    result = _bench(*clips)
    assert result.passed is passed
    assert verdict_has in result.verdict
    assert result.verdict.startswith("PASS" if passed else "FAIL")


def test_totals_add_the_clips_and_json_round_trips() -> None:
    result = _bench(_clip("a", 100.0, 5.0, {LMM: 5}, {LMM: 1}), _clip("b", 50.0, 5.0, {}, {}))
    assert result.loop_total == Timing(200, 2.0, 150.0)
    assert result.vigil_total == Timing(200, 2.0, 10.0)
    assert result.speedup == pytest.approx((200 / 12) / (200 / 152))
    data = json.loads(json.dumps(result.as_json()))
    assert data["total"]["loop"]["frames"] == data["total"]["vigil"]["frames"] == 200
    assert [c["clip"] for c in data["clips"]] == ["a", "b"]


def test_a_clip_without_frames_gives_no_ratio_in_json() -> None:
    empty = _timing(0, 0.0, 0.0)
    clip = ClipResult("empty", LoopResult(empty, 0, {}, 0), VigilResult(empty, 0, {}, 0, StageTimes()))
    assert empty.processing_fps == empty.end_to_end_fps == 0.0
    assert math.isnan(clip.speedup)
    assert clip.as_json()["speedup"] is None


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ((-5, -3, 50, 60), (0, 0, 50, 60)),
        ((600, 300, 700, 400), (600, 300, 640, 360)),
        ((10, 20, 30, 40), (10, 20, 30, 40)),
    ],
)
def test_boxes_are_clipped_to_the_image_as_face_locations_does(
    box: tuple[int, int, int, int], expected: tuple[int, int, int, int]
) -> None:
    r = trim_box(dlib.rectangle(*box), 640, 360)
    assert (r.left(), r.top(), r.right(), r.bottom()) == expected


def test_cli_writes_json_with_both_frame_rates(
    test_data: Path, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_TEST_DATA", str(test_data))  # the default (sample) watchlist comes from here
    out, png = tmp_path / "bench.json", tmp_path / "bench.png"
    clip = test_data / "video" / "intel" / "asl_gestures" / "again.mkv"
    args = ["bench", "pipeline", str(clip), "--max-frames", "6", "--detect-every", "2"]
    args += ["--json", str(out), "--plot", str(png), "--model-dir", str(model_dir)]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["detect_every"] == 2
    assert [c["clip"] for c in data["clips"]] == ["again.mkv"]
    total = data["total"]
    assert total["loop"]["frames"] == total["vigil"]["frames"] == 6
    assert total["loop"]["end_to_end_fps"] > 0
    assert total["vigil"]["end_to_end_fps"] > 0
    assert data["verdict"].startswith(("PASS", "FAIL"))
    assert data["machine"]["cores"] >= 1
    assert png.stat().st_size > 0
    assert "Identities found" in run.output
