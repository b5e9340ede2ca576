"""`vigil scan` with bad input: each problem named with its file and reason, the rest still processed.

Exit codes: 0 when at least one input was processed, 1 when none could be, 2 when the run cannot
start (no usable watchlist photo, a wrong configuration).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner, Result

from vigil.cli import app
from vigil.samples import sample_watchlist


@pytest.fixture(scope="module")
def short_clip(test_data: Path) -> Path:
    """A real 2.6 s webcam clip: quick to scan."""
    return test_data / "video" / "intel" / "asl_gestures" / "again.mkv"


def _scan(args: list[str], model_dir: Path, tmp_path: Path) -> Result:
    return CliRunner().invoke(
        app, ["scan", *args, "--crops", str(tmp_path / "crops"), "--model-dir", str(model_dir)]
    )


@pytest.fixture(scope="module")
def small_watchlist(refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wl")
    (root / "Barack Obama").mkdir()
    shutil.copy(refs / "ageitgey_obama.jpg", root / "Barack Obama")
    return root


def test_missing_and_corrupt_videos_are_named_and_the_rest_is_scanned(
    short_clip: Path, small_watchlist: Path, model_dir: Path, tmp_path: Path, hamilton_clip: Path
) -> None:
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(hamilton_clip.read_bytes()[:20_000])
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    missing = tmp_path / "missing.mkv"
    out = tmp_path / "events.jsonl"
    result = _scan(
        [str(missing), str(corrupt), str(short_clip), str(text), "--watchlist", str(small_watchlist),
         "--out", str(out)],
        model_dir, tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "missing.mkv: file not found" in result.stderr
    assert "corrupt.mp4" in result.stderr
    assert "notes.mp4: not a video" in result.stderr
    assert "3 of 4 inputs failed" in result.stderr
    tracks = [json.loads(line) for line in out.read_text().splitlines()]
    assert tracks and {t["source"] for t in tracks} == {"again"}
    assert all(t["identity"] is None for t in tracks)  # the signer is not on the list


def test_nothing_processed_exits_non_zero(small_watchlist: Path, model_dir: Path, tmp_path: Path) -> None:
    result = _scan([str(tmp_path / "nope.mp4"), "--watchlist", str(small_watchlist)], model_dir, tmp_path)
    assert result.exit_code == 1
    assert "nope.mp4: file not found" in result.stderr
    assert "nothing could be processed" in result.stderr


def test_bad_watchlist_photos_are_named_and_skipped(
    refs: Path, short_clip: Path, model_dir: Path, tmp_path: Path, png_bomb: Path, jpeg_bomb: Path
) -> None:
    root = sample_watchlist(refs, tmp_path / "wl")
    bad = root / "Bad Photos"
    bad.mkdir()
    shutil.copy(refs / "ageitgey_two_people.jpg", bad / "two.jpg")
    shutil.copy(png_bomb, bad / "bomb.png")
    shutil.copy(jpeg_bomb, bad / "huge.jpg")
    (bad / "text.jpg").write_text("hello")
    (bad / "truncated.png").write_bytes((refs / "ageitgey_lin-manuel-miranda.png").read_bytes()[:3000])
    cv2.imwrite(str(bad / "blank.png"), np.full((200, 200, 3), 90, np.uint8))
    result = _scan([str(short_clip), "--watchlist", str(root)], model_dir, tmp_path)
    assert result.exit_code == 0, result.output
    err = " ".join(result.stderr.split())  # rich may wrap long lines
    assert "two.jpg: 2 faces found" in err
    assert "bomb.png: image is 20000×20000 = 400 MP, above the limit" in err
    assert "huge.jpg: image is 20000×20000 = 400 MP, above the limit" in err
    assert "text.jpg: not an image" in err
    assert "truncated.png" in err
    assert "blank.png: no face found" in err
    assert "watchlist: 4 people from 5 photos" in err


def test_watchlist_without_a_usable_photo_stops_the_run(
    short_clip: Path, model_dir: Path, tmp_path: Path, refs: Path
) -> None:
    root = tmp_path / "wl"
    (root / "Pair").mkdir(parents=True)
    shutil.copy(refs / "ageitgey_two_people.jpg", root / "Pair")
    result = _scan([str(short_clip), "--watchlist", str(root)], model_dir, tmp_path)
    assert result.exit_code == 2
    assert "no usable photo in the watchlist" in " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("yaml_text", "reason"),
    [
        ("detector:\n  type: yunet\n  scor_threshold: 0.5\n", "detector.yunet.scor_threshold: Extra inputs"),
        ("match:\n  threshold: 7\n", "match.threshold: Input should be less than or equal to 1"),
        ("detector: [unclosed\n", "not valid YAML"),
        ("!!python/object/apply:os.system ['echo pwned']\n", "not valid YAML"),
    ],
)
def test_wrong_config_is_refused_with_the_key_named(
    yaml_text: str, reason: str, short_clip: Path, small_watchlist: Path, model_dir: Path, tmp_path: Path
) -> None:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(yaml_text)
    result = _scan(
        [str(short_clip), "--watchlist", str(small_watchlist), "--config", str(cfg)], model_dir, tmp_path
    )
    assert result.exit_code == 2
    assert reason in " ".join(result.stderr.split())
