"""Shared fixtures: where the real test data and models are. Tests skip with a reason when absent."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import jpeg_with_size, write_png_bomb
from tests.pg import NOT_FOUND, ThrowawayPostgres, find_postgres_bin, unavailable
from tests.services import MOSQUITTO, MOSQUITTO_MISSING, WEBHOOK_SECRET, FlakyReceiver, Mosquitto
from tests.services import unavailable as services_unavailable
from tests.store_kit import open_db
from vigil.app import Engine, build_engine
from vigil.config import VigilConfig
from vigil.errors import ModelError
from vigil.store.db import Database

REPO = Path(__file__).resolve().parent.parent
LFW_PERSON = "George_W_Bush"


def _data_dir() -> Path:
    return Path(os.environ.get("VIGIL_TEST_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def test_data() -> Path:
    """The shared data folder (LFW, clips, refs); see ../shared/data/README.md."""
    path = _data_dir()
    if not (path / "video").is_dir():
        pytest.skip(f"test data not found at {path}: set VIGIL_TEST_DATA to the shared data folder")
    return path


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The folder holding the YuNet model file."""
    first = os.environ.get("VIGIL_MODEL_DIR", "").split(os.pathsep)[0]
    path = Path(first or _data_dir() / "models").resolve()
    if not (path / "face_detection_yunet_2023mar.onnx").is_file():
        pytest.skip(f"YuNet model not found in {path}: set VIGIL_MODEL_DIR")
    return path


@pytest.fixture(scope="session")
def hamilton_clip(test_data: Path) -> Path:
    return test_data / "video" / "ageitgey_short_hamilton_clip.mp4"


@pytest.fixture(scope="session")
def refs(test_data: Path) -> Path:
    return test_data / "refs"


@pytest.fixture(scope="session")
def lfw_images(test_data: Path) -> Path:
    path = test_data / "lfw" / "images"
    if not path.is_dir():
        pytest.skip(f"LFW images not found at {path}")
    return path


@pytest.fixture(scope="session")
def engine(model_dir: Path) -> Engine:
    """The default engine (YuNet, the default ONNX embedder), built once per test session."""
    try:
        return build_engine(VigilConfig(model_dir=model_dir))
    except ModelError as exc:
        pytest.skip(f"the default embedder's model file is missing: {exc}")


@pytest.fixture(scope="session")
def lfw_photos(test_data: Path) -> list[Path]:
    """Six real 250 × 250 LFW photos of one person."""
    return [test_data / "lfw" / "images" / LFW_PERSON / f"{LFW_PERSON}_{i:04d}.jpg" for i in range(1, 7)]


@pytest.fixture(scope="session")
def make_png_bomb() -> Callable[[Path, int, int], None]:
    """The PNG bomb writer, for tests that need other sizes."""
    return write_png_bomb


@pytest.fixture(scope="session")
def png_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small PNG file declaring (and genuinely holding) 20,000 × 20,000 pixels."""
    path = tmp_path_factory.mktemp("bombs") / "bomb.png"
    write_png_bomb(path, 20_000, 20_000)
    return path


@pytest.fixture(scope="session")
def jpeg_bomb(lfw_photos: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real LFW JPEG whose header claims 20,000 × 20,000 pixels."""
    path = tmp_path_factory.mktemp("bombs") / "bomb.jpg"
    path.write_bytes(jpeg_with_size(lfw_photos[0].read_bytes(), 20_000, 20_000))
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres]:
    """A throwaway PostgreSQL cluster on a free 127.0.0.1 port for the session, deleted after.

    Skips when the server binaries are absent, unless VIGIL_REQUIRE_POSTGRES=1 (CI): then it fails.
    """
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        unavailable(NOT_FOUND)
    with ThrowawayPostgres.start(bin_dir) as server:
        yield server


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.network),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL for SQLAlchemy; each test using it runs on SQLite and PostgreSQL.

    SQLite: a file in the test's tmp_path. PostgreSQL: a new database in the session cluster
    (``postgres``), dropped after the test.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vigil.db'}"
        return
    server: ThrowawayPostgres = request.getfixturevalue("postgres")
    name = f"t_{uuid.uuid4().hex}"
    yield server.new_database(name)
    server.drop_database(name)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated, empty store on ``db_url`` (both engines), disposed of after the test."""
    database = open_db(db_url)
    yield database
    database.dispose()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A Mosquitto broker on a free 127.0.0.1 port for one test (anonymous, nothing persisted).

    Skips when /usr/sbin/mosquitto is absent, unless VIGIL_REQUIRE_SERVICES=1 (CI): then it fails.
    """
    if not MOSQUITTO.is_file():
        services_unavailable(MOSQUITTO_MISSING)
    with Mosquitto(tmp_path / "mosquitto") as broker:
        yield broker


@pytest.fixture
def flaky_receiver() -> Iterator[FlakyReceiver]:
    """A webhook receiver on 127.0.0.1 checking signatures (WEBHOOK_SECRET), failing every 2nd request."""
    with FlakyReceiver(WEBHOOK_SECRET, fail_ratio=0.5) as receiver:
        yield receiver


# A real RTSP server (GStreamer, loopback) serving the Hamilton clip; see tests/rtsp.py.
from tests.rtsp import gstreamer_rtsp, rtsp_server  # noqa: E402, F401
