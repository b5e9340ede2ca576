"""An HTTP MJPEG camera (multipart/x-mixed-replace, as many IP cameras serve it), read by the live reader
from a real HTTP server on loopback streaming the Hamilton clip's frames as JPEGs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import cv2
import pytest

from tests.services import wait_until
from vigil.config import IngestConfig, LiveConfig
from vigil.ingest.live import LiveReader
from vigil.ingest.status import CameraState

pytestmark = pytest.mark.network
FPS = 15.0


@pytest.fixture
def mjpeg_url(hamilton_clip: Path) -> Iterator[str]:
    jpegs: list[bytes] = []
    with av.open(str(hamilton_clip)) as clip:
        for frame in clip.decode(video=0):
            jpegs.append(cv2.imencode(".jpg", frame.to_ndarray(format="bgr24"))[1].tobytes())
            if len(jpegs) == 60:
                break

    class Camera(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            try:
                for i in range(10_000):
                    jpeg = jpegs[i % len(jpegs)]
                    head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                    self.wfile.write(head + jpeg + b"\r\n")
                    time.sleep(1 / FPS)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Camera)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/video.mjpg"
    server.shutdown()
    server.server_close()


def test_an_http_mjpeg_camera_streams_frames(mjpeg_url: str) -> None:
    reader = LiveReader("ipcam", mjpeg_url, IngestConfig(), LiveConfig(), max_fps=30)
    reader.start()
    try:
        wait_until(lambda: reader.status().frames_in >= 30, 15, "frames from the MJPEG camera")
        status = reader.status()
        assert status.state is CameraState.STREAMING and (status.width, status.height) == (640, 360)
        frame = reader.get(timeout=2)
        assert frame is not None and frame.image.shape == (360, 640, 3)
    finally:
        reader.stop()
