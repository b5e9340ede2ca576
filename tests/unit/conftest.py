"""Fixtures of the unit tests: hostile or derived media from the real test data (bombs, re-muxed clips),
and the API over a real database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from fastapi.testclient import TestClient

from tests.api_kit import Api, make_state
from tests.auth_kit import Clock, open_db
from vigil.api.app import create_app
from vigil.services.users import UserService


@pytest.fixture(scope="session")
def faststart_clip(hamilton_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Hamilton clip re-muxed with its index first (so a truncated copy still opens)."""
    path = tmp_path_factory.mktemp("clips") / "hamilton_faststart.mp4"
    with (
        av.open(hamilton_clip) as src,
        av.open(path, "w", options={"movflags": "faststart"}) as dst,
    ):
        in_stream = src.streams.video[0]
        out_stream = dst.add_stream_from_template(in_stream)
        for packet in src.demux(in_stream):
            if packet.dts is None:  # the flush packet
                continue
            packet.stream = out_stream
            dst.mux(packet)
    return path


@pytest.fixture(scope="session")
def mjpeg_avi(hamilton_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MJPEG .avi of the first 10 frames of the Hamilton clip at 10 fps."""
    path = tmp_path_factory.mktemp("clips") / "hamilton10.avi"
    with av.open(hamilton_clip) as src, av.open(path, "w") as dst:
        stream = dst.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuvj420p"
        for i, frame in enumerate(src.decode(video=0)):
            if i == 10:
                break
            rgb = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            for packet in stream.encode(rgb):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return path


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    """The API app over a fresh database (SQLite and PostgreSQL) with its first administrator."""
    db = open_db(db_url)
    clock = Clock()
    users = UserService(db, session_hours=1, clock=clock)
    first = users.bootstrap_admin()
    assert first is not None
    app = create_app(make_state(db, users))
    with TestClient(app) as client:
        yield Api(app, client, users, db, clock, first)
    db.dispose()
