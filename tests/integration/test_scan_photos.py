"""`vigil scan` on still photos with the real engine: every face of each photo, named or unknown.

Ground truth: ``ageitgey_two_people.jpg`` shows Barack Obama (left) and Joe Biden (right); the watchlist
holds them from other photos (``ageitgey_obama.jpg``, ``ageitgey_biden.jpg``). Alex Lacamoire
(``ageitgey_alex-lacamoire.png``) is not on it: a stranger. ``ageitgey_obama2.jpg`` is Obama alone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import cv2
import pytest
from typer.testing import CliRunner, Result

from tests.helpers import read_bgr
from vigil.cli import app

VIDEO_KEYS = {"source", "identity", "candidate", "score", "margin", "runner_up", "threshold", "shots"}


@pytest.fixture(scope="module")
def watchlist(refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wl")
    for name, photo in (("Barack Obama", "ageitgey_obama.jpg"), ("Joe Biden", "ageitgey_biden.jpg")):
        (root / name).mkdir()
        shutil.copy(refs / photo, root / name)
    return root


def _scan(inputs: list[Path], watchlist: Path, model_dir: Path, tmp_path: Path) -> tuple[Result, list[Any]]:
    out = tmp_path / "faces.jsonl"
    args = ["scan", *map(str, inputs), "--watchlist", str(watchlist), "--out", str(out)]
    result = CliRunner().invoke(
        app, [*args, "--crops", str(tmp_path / "crops"), "--model-dir", str(model_dir)]
    )
    lines = out.read_text().splitlines() if out.exists() else []
    return result, [json.loads(line) for line in lines]


def test_every_face_of_each_photo_is_named_or_unknown(
    refs: Path, watchlist: Path, model_dir: Path, tmp_path: Path
) -> None:
    tiny = tmp_path / "tiny.png"  # the two people at 15 %: faces of about 25 px, too small to judge
    image = read_bgr(refs / "ageitgey_two_people.jpg")
    cv2.imwrite(str(tiny), cv2.resize(image, None, fx=0.15, fy=0.15, interpolation=cv2.INTER_AREA))
    two, alex = refs / "ageitgey_two_people.jpg", refs / "ageitgey_alex-lacamoire.png"
    result, records = _scan([two, alex, tiny], watchlist, model_dir, tmp_path)
    assert result.exit_code == 0, result.output

    pair = sorted((r for r in records if r["source"] == str(two)), key=lambda r: r["xyxy"][0])
    assert [r["identity"] for r in pair] == ["Barack Obama", "Joe Biden"], "left to right"
    assert [r["runner_up"] for r in pair] == ["Joe Biden", "Barack Obama"]
    assert [r["face"] for r in sorted(pair, key=lambda r: r["face"])] == [0, 1]
    for r in pair:
        assert set(r) >= VIDEO_KEYS, "the keys of a video track's record where they apply"
        assert r["judged"] and r["problems"] == [] and r["shots"] == 1
        assert r["candidate"] == r["identity"] and r["score"] >= r["threshold"] and r["margin"] > 0.3

    [stranger] = [r for r in records if r["source"] == str(alex)]
    assert stranger["identity"] is None and stranger["judged"], "a stranger is unknown"
    assert (
        stranger["candidate"] in {"Barack Obama", "Joe Biden"} and stranger["score"] < stranger["threshold"]
    )

    small = [r for r in records if r["source"] == str(tiny)]
    assert small, "the detector still finds the small faces"
    for r in small:
        assert r["identity"] is None and not r["judged"] and any("px" in p for p in r["problems"]), r

    table = result.stdout
    assert f"{two}: 2 faces" in table and f"{alex}: 1 face" in table
    x0, y0, x1, y1 = pair[0]["xyxy"]
    obama_row = next(line for line in table.splitlines() if f"{x0:.0f},{y0:.0f}-{x1:.0f},{y1:.0f}" in line)
    assert "Barack Obama" in obama_row and f"{pair[0]['score']:.3f}" in obama_row
    assert "not judged: face is" in table


def test_a_folder_handles_each_file_and_names_the_bad_ones(
    refs: Path, watchlist: Path, model_dir: Path, tmp_path: Path, test_data: Path
) -> None:
    folder = tmp_path / "case"
    folder.mkdir()
    shutil.copy(refs / "ageitgey_obama2.jpg", folder / "obama_no_suffix")  # a photo known by its content
    shutil.copy(test_data / "video" / "intel" / "asl_gestures" / "again.mkv", folder / "clip.mkv")
    (folder / "notes.jpg").write_text("not a photo, despite its name\n" * 10)
    (folder / "cut.jpg").write_bytes((refs / "ageitgey_obama.jpg").read_bytes()[:5_000])
    result, records = _scan([folder], watchlist, model_dir, tmp_path)

    assert result.exit_code == 1, "a photo failed"
    assert f"{folder / 'notes.jpg'}: not an image (it looks like text)" in result.stderr
    assert f"{folder / 'cut.jpg'}: corrupt JPEG image" in result.stderr
    assert "2 of 4 inputs failed" in result.stderr
    [obama] = [r for r in records if r["source"].endswith("obama_no_suffix")]
    assert obama["identity"] == "Barack Obama"
    assert any(r["source"] == "clip" and "track" in r for r in records), "the video is scanned as a video"
    assert "clip.mkv" not in result.stderr, "the video is no error"
