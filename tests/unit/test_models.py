"""Model files: search order, hash checks, downloads from a real loopback HTTP server, and the CLI."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import platformdirs
import pytest
from typer.testing import CliRunner

from vigil import models
from vigil.cli import app
from vigil.errors import ModelError
from vigil.model_catalogue import FACEPLUGIN_FR
from vigil.models import (
    MAX_SIZE_FACTOR,
    YUNET,
    DlibModels,
    dlib_model_paths,
    fetch_model,
    file_sha256,
    find_model,
    model_search_path,
    user_model_dir,
)

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass(frozen=True)
class Server:
    """A loopback HTTP server serving the routes of ``_routes``."""

    base: str
    release: threading.Event

    def url(self, route: str) -> str:
        return f"{self.base}{route}"


@pytest.fixture(autouse=True)
def user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Fresh per-process model state, no ``$VIGIL_MODEL_DIR``, and a user cache inside tmp_path."""
    monkeypatch.setattr(models, "_STATE", models._ProcessState())
    monkeypatch.delenv(models.MODEL_DIR_ENV, raising=False)
    root = tmp_path / "user-cache"
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda appname: str(root / appname))
    return root / "vigil" / "models"


@pytest.fixture(scope="module")
def yunet_bytes(model_dir: Path) -> bytes:
    return (model_dir / YUNET.filename).read_bytes()


def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, length: int | None = None) -> None:
    h.send_response(status)
    h.send_header("Content-Type", "application/octet-stream")
    h.send_header("Content-Length", str(len(body) if length is None else length))
    h.end_headers()
    h.wfile.write(body)


def _routes(real: bytes, release: threading.Event) -> dict[str, Handler]:
    tampered = bytearray(real)
    tampered[len(tampered) // 2] ^= 0xFF
    too_big = YUNET.size_bytes * MAX_SIZE_FACTOR + 1

    def endless(h: BaseHTTPRequestHandler) -> None:
        # No Content-Length: the body ends when the connection closes, so only the byte count can stop it.
        h.send_response(200)
        h.end_headers()
        chunk = b"\0" * 65536
        for _ in range(too_big // len(chunk) + 2):
            h.wfile.write(chunk)

    def stall(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(real)))
        h.end_headers()
        h.wfile.write(real[:1000])
        h.wfile.flush()
        release.wait(10)

    def redirect(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", "/yunet.onnx")
        h.send_header("Content-Length", "0")
        h.end_headers()

    return {
        "/yunet.onnx": lambda h: _send(h, 200, real),
        "/tampered.onnx": lambda h: _send(h, 200, bytes(tampered)),
        "/truncated.onnx": lambda h: _send(h, 200, real[:-10]),
        "/announced-huge.onnx": lambda h: _send(h, 200, b"", length=too_big),
        "/endless.onnx": endless,
        "/stall.onnx": stall,
        "/redirect.onnx": redirect,
    }


@pytest.fixture(scope="module")
def server(yunet_bytes: bytes) -> Iterator[Server]:
    release = threading.Event()
    routes = _routes(yunet_bytes, release)

    class _Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path)
            try:
                if route is None:
                    _send(self, 404, b"not found")
                else:
                    route(self)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up on purpose (size cap, time-out)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(base=f"http://127.0.0.1:{httpd.server_address[1]}", release=release)
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def refused_url() -> str:
    """A loopback URL on a port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/yunet.onnx"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _put(folder: Path, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / YUNET.filename
    path.write_bytes(data)
    return path


# --- search path and lookup -------------------------------------------------------------------------


def test_search_order_is_configured_then_env_then_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, user_cache: Path
) -> None:
    configured, env = tmp_path / "configured", tmp_path / "env"
    assert model_search_path(None) == [user_cache]
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(env))  # read at call time, not import time
    assert model_search_path(configured) == [configured, env, user_cache]
    assert model_search_path(env) == [env, user_cache], "repeats are left out"


def test_find_prefers_configured_then_env_then_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, yunet_bytes: bytes, user_cache: Path
) -> None:
    configured, env = tmp_path / "configured", tmp_path / "env"
    for folder in (configured, env, user_cache):
        _put(folder, yunet_bytes)
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(env))

    assert find_model(YUNET, configured) == configured / YUNET.filename
    (configured / YUNET.filename).unlink()
    assert find_model(YUNET, configured) == env / YUNET.filename
    (env / YUNET.filename).unlink()
    assert find_model(YUNET, configured) == user_cache / YUNET.filename
    (user_cache / YUNET.filename).unlink()
    assert find_model(YUNET, configured) is None


def test_wrong_hash_is_logged_and_skipped(
    tmp_path: Path, yunet_bytes: bytes, user_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = _put(tmp_path / "configured", yunet_bytes[:-1] + b"x")
    good = _put(user_cache, yunet_bytes)
    with caplog.at_level(logging.WARNING, logger="vigil.models"):
        assert find_model(YUNET, bad.parent) == good
    text = caplog.text
    assert str(bad) in text
    assert YUNET.sha256 in text
    assert _sha256(bad) in text


def test_not_found_is_warned_once_per_model(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    other = models.ModelSpec("Other", "other.onnx", "0" * 64, "http://127.0.0.1/other.onnx", 1, "MIT")
    with caplog.at_level(logging.WARNING, logger="vigil.models"):
        for _ in range(3):
            assert find_model(YUNET, tmp_path) is None
            assert find_model(other, tmp_path) is None
    missing = [r.getMessage() for r in caplog.records if "not found" in r.getMessage()]
    assert len(missing) == 2
    assert YUNET.filename in missing[0]
    assert "vigil models fetch" in missing[0]
    assert "other.onnx" in missing[1]


def test_shared_model_dir_holds_valid_yunet(model_dir: Path) -> None:
    assert find_model(YUNET, model_dir) == model_dir / YUNET.filename


def test_hash_cache_follows_mtime_and_size(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"a" * 3_000_000)  # more than one chunk
    first = file_sha256(path)
    assert first == _sha256(path)
    assert len(models._STATE.hashes) == 1
    assert file_sha256(path) == first
    assert len(models._STATE.hashes) == 1, "second lookup is served from the cache"
    path.write_bytes(b"b" * 3_000_001)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert file_sha256(path) == _sha256(path) != first


def test_user_model_dir_is_read_at_call_time(user_cache: Path) -> None:
    assert user_model_dir() == user_cache
    assert model_search_path(None) == [user_cache]


# --- download ---------------------------------------------------------------------------------------


@pytest.mark.network
def test_fetch_downloads_and_verifies(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "dest" / "nested"
    seen: list[tuple[int, int | None]] = []
    path = fetch_model(
        YUNET, dest, url=server.url("/yunet.onnx"), progress=lambda n, t: seen.append((n, t)), timeout_s=5
    )
    assert path == dest / YUNET.filename
    assert _sha256(path) == YUNET.sha256
    assert sorted(p.name for p in dest.iterdir()) == [YUNET.filename]
    assert seen[-1] == (YUNET.size_bytes, YUNET.size_bytes)
    assert find_model(YUNET, dest) == path


@pytest.mark.network
def test_fetch_follows_redirects(server: Server, tmp_path: Path) -> None:
    path = fetch_model(YUNET, tmp_path, url=server.url("/redirect.onnx"), timeout_s=5)
    assert _sha256(path) == YUNET.sha256


@pytest.mark.network
@pytest.mark.parametrize(
    ("route", "reason"),
    [
        ("/tampered.onnx", "sha256 mismatch"),
        ("/truncated.onnx", "sha256 mismatch"),
        ("/missing.onnx", "HTTP 404"),
        ("/announced-huge.onnx", "refusing"),
        ("/endless.onnx", "aborted past"),
        ("/stall.onnx", "timed out"),
    ],
)
def test_fetch_failure_raises_and_leaves_nothing(
    server: Server, tmp_path: Path, route: str, reason: str
) -> None:
    with pytest.raises(ModelError, match=reason):
        fetch_model(YUNET, tmp_path, url=server.url(route), timeout_s=0.5)
    assert list(tmp_path.iterdir()) == [], "no file and no temp file is left behind"


@pytest.mark.network
def test_fetch_tampered_names_both_hashes(server: Server, tmp_path: Path, yunet_bytes: bytes) -> None:
    with pytest.raises(ModelError) as info:
        fetch_model(YUNET, tmp_path, url=server.url("/tampered.onnx"), timeout_s=5)
    assert YUNET.sha256 in str(info.value)
    tampered = bytearray(yunet_bytes)
    tampered[len(tampered) // 2] ^= 0xFF
    assert hashlib.sha256(tampered).hexdigest() in str(info.value)


def test_fetch_refused_connection(refused_url: str, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="download failed"):
        fetch_model(YUNET, tmp_path, url=refused_url, timeout_s=5)
    assert list(tmp_path.iterdir()) == []


def test_fetch_skips_download_when_valid_file_present(
    refused_url: str, tmp_path: Path, yunet_bytes: bytes
) -> None:
    present = _put(tmp_path, yunet_bytes)
    assert fetch_model(YUNET, tmp_path, url=refused_url, timeout_s=5) == present


@pytest.mark.network
def test_fetch_replaces_wrong_file(server: Server, tmp_path: Path, yunet_bytes: bytes) -> None:
    _put(tmp_path, b"not a model")
    path = fetch_model(YUNET, tmp_path, url=server.url("/yunet.onnx"), timeout_s=5)
    assert _sha256(path) == YUNET.sha256
    assert [p.name for p in tmp_path.iterdir()] == [YUNET.filename]


# --- dlib models ------------------------------------------------------------------------------------


def test_dlib_model_paths_point_at_package_files() -> None:
    paths = dlib_model_paths()
    assert isinstance(paths, DlibModels)
    assert paths.shape_predictor_5.is_file()
    assert paths.resnet.is_file()
    assert paths.resnet.parent.parent.name == "face_recognition_models"


def test_dlib_model_paths_without_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match="pip install face_recognition_models"):
        dlib_model_paths()


# --- CLI --------------------------------------------------------------------------------------------

_WIDE = {"COLUMNS": "1000"}  # no folding of long paths (a CI checkout sits deeper than ours)


def test_cli_ls_found(model_dir: Path) -> None:
    candidates = {"VIGIL_MODEL_DIR": str(model_dir / "candidates")}  # the embedders' files
    result = CliRunner().invoke(app, ["models", "ls", "--model-dir", str(model_dir)], env=_WIDE | candidates)
    assert result.exit_code == 0, result.output
    assert "verified" in result.output
    assert str(model_dir) in result.output
    assert "face_recognition_models" in result.output
    assert "missing" not in result.output


def test_cli_ls_reads_model_dir_from_config(model_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "vigil.yaml"
    config.write_text(f"model_dir: {model_dir}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["models", "ls", "--config", str(config)], env=_WIDE)
    assert result.exit_code == 0, result.output
    assert "verified" in result.output


def test_cli_ls_missing(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["models", "ls", "--model-dir", str(tmp_path)], env=_WIDE)
    assert result.exit_code == 0, result.output
    assert "missing" in result.output
    assert "vigil models fetch" in result.output


@pytest.mark.network
def test_cli_fetch(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "models"
    result = CliRunner().invoke(
        app, ["models", "fetch", "--url", server.url("/yunet.onnx"), "--dir", str(dest)], env=_WIDE
    )
    assert result.exit_code == 0, result.output
    assert _sha256(dest / YUNET.filename) == YUNET.sha256
    assert "verified" in result.output


@pytest.mark.network
def test_cli_fetch_failure_exits_1(server: Server, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["models", "fetch", "--url", server.url("/tampered.onnx"), "--dir", str(tmp_path)], env=_WIDE
    )
    assert result.exit_code == 1
    assert "sha256 mismatch" in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_fetch_defaults_to_user_cache(
    refused_url: str, yunet_bytes: bytes, user_cache: Path, tmp_path: Path
) -> None:
    _put(user_cache, yunet_bytes)  # already there: no download needed
    result = CliRunner().invoke(app, ["models", "fetch", "--url", refused_url], env=_WIDE)
    assert result.exit_code == 0, result.output
    assert str(user_cache) in result.output


def test_cli_install_copies_only_verified_files_into_the_cache(model_dir: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    (tampered / "faceplugin_fr_feature.onnx").write_bytes(b"not the model")
    dest = tmp_path / "cache"
    args = ["models", "install", str(tampered), str(model_dir), str(model_dir / "candidates"), "--dir"]
    args.append(str(dest))
    result = CliRunner().invoke(app, args, env=_WIDE)
    assert result.exit_code == 0, result.output
    installed = sorted(p.name for p in dest.iterdir())
    assert installed == [
        "face_detection_yunet_2023mar.onnx",
        "faceplugin_fr_feature.onnx",
        "mobilefacenet_sirius.onnx",
    ], "no partial or temporary file is left"
    assert FACEPLUGIN_FR.file is not None
    assert file_sha256(dest / "faceplugin_fr_feature.onnx") == FACEPLUGIN_FR.file.sha256
    again = CliRunner().invoke(app, ["models", "install", str(tampered), "--dir", str(dest)], env=_WIDE)
    assert again.exit_code == 0 and "sha256 verified" in again.output, "what is already there stays"
    nothing = CliRunner().invoke(app, ["models", "install", str(tampered), "--dir", str(tmp_path / "x")])
    assert nothing.exit_code == 1 and "no verified faceplugin_fr_feature.onnx" in nothing.output
