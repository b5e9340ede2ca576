"""A real RTSP server on loopback, for tests and ``vigil bench live``: video files served as live cameras.

The server is GStreamer's (gst-rtsp-server), run by :mod:`vigil.evaluate.gst_rtsp_main` under the system
Python, which has the GStreamer bindings that Vigil's virtual environment lacks. Files must be H.264
MP4s (:func:`vigil.evaluate.clips.prepare_clip` makes them); they are served without re-encoding, at
real-time rate, every client from the first frame.

Example:
    >>> with RtspServer({"door": Path("clips/door.mp4")}, loop=True) as server:  # doctest: +SKIP
    ...     url = server.url("door")  # rtsp://127.0.0.1:PORT/door
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from vigil.errors import SourceError

log = logging.getLogger(__name__)

SYSTEM_PYTHON = Path("/usr/bin/python3")
SCRIPT = Path(__file__).with_name("gst_rtsp_main.py")
DEBIAN_PACKAGES = (
    "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good "
    "gstreamer1.0-plugins-bad gstreamer1.0-libav"
)
MISSING_EXIT = 3  # gst_rtsp_main.MISSING_EXIT (that module is not importable here: no gi)
_NAME = "RTSP test server"
_STDERR_TAIL = 2000


def check_gstreamer(python: Path = SYSTEM_PYTHON, timeout_s: float = 30.0) -> None:
    """Check that ``python`` can run the server (GStreamer, its RTSP server and the plug-ins it uses).

    Raises:
        SourceError: naming the Debian packages to install, when it cannot.
    """
    try:
        done = subprocess.run(
            [str(python), "-I", str(SCRIPT), "--check"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except FileNotFoundError:
        raise SourceError(_NAME, _missing(f"{python} not found", python)) from None
    except subprocess.TimeoutExpired:
        raise SourceError(
            _NAME, f"{python} {SCRIPT.name} --check did not answer in {timeout_s:.0f} s"
        ) from None
    if done.returncode == MISSING_EXIT:
        raise SourceError(_NAME, _missing(_missing_reason(done.stderr), python))
    if done.returncode != 0:
        raise SourceError(_NAME, f"the GStreamer check failed: {_last_line(done.stderr)}")


class RtspServer:
    """Serves H.264 MP4 files at ``rtsp://127.0.0.1:<port>/<name>`` from a subprocess.

    Args:
        mounts: mount name -> file; the file is served at ``/name``.
        port: the TCP port; None picks a free one at the first :meth:`start` and keeps it afterwards, so
            :meth:`restart` (or :meth:`stop` then :meth:`start`) serves at the same URLs.
        loop: start a file again at its end (the stream never ends) instead of ending the stream.
        python: the interpreter with GStreamer's bindings.
        ready_timeout_s: how long :meth:`start` waits for the server to listen.

    Attributes:
        port: the port served on (None before the first start when none was given).
    """

    def __init__(
        self,
        mounts: Mapping[str, Path],
        port: int | None = None,
        loop: bool = False,
        *,
        python: Path = SYSTEM_PYTHON,
        ready_timeout_s: float = 30.0,
    ) -> None:
        if not mounts:
            raise ValueError("RtspServer needs at least one mount")
        for name in mounts:
            if not name or "/" in name or "=" in name:
                raise ValueError(f"bad mount name {name!r} (no '/' or '=')")
        self._mounts = {name: Path(path) for name, path in mounts.items()}
        self.port = port
        self._loop = loop
        self._python = python
        self._ready_timeout_s = ready_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def url(self, name: str) -> str:
        """``rtsp://127.0.0.1:<port>/<name>``.

        Raises:
            KeyError: for a name that is not mounted.
            RuntimeError: before the first start when no port was given.
        """
        if name not in self._mounts:
            raise KeyError(f"no mount named {name!r} (mounts: {', '.join(self._mounts)})")
        if self.port is None:
            raise RuntimeError("the server has no port yet: start it first")
        return f"rtsp://127.0.0.1:{self.port}/{name}"

    def start(self) -> Self:
        """Launch the server and wait until it listens.

        Raises:
            SourceError: when a file is missing, GStreamer is not installed (naming the Debian packages),
                or the server fails or does not listen within ``ready_timeout_s`` (with its stderr).
        """
        if self.running:
            return self
        for name, path in self._mounts.items():
            if not path.is_file():
                raise SourceError(_NAME, f"mount {name!r}: file not found: {path}")
        args = [str(self._python), "-I", str(SCRIPT), "--port", str(self.port or 0)]
        for name, path in self._mounts.items():
            args += ["--mount", f"{name}={path.absolute()}"]
        if self._loop:
            args.append("--loop")
        # a file, not a pipe: nobody has to drain it; closed by stop()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=_clean_env()
            )
        except FileNotFoundError:
            self._close_files()
            raise SourceError(_NAME, _missing(f"{self._python} not found", self._python)) from None
        try:
            self.port = self._wait_ready()
        except BaseException:
            self.stop()
            raise
        log.info("%s listening on 127.0.0.1:%d (pid %d)", _NAME, self.port, self._proc.pid)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout_s``); clients see their stream end."""
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    log.warning("%s (pid %d) ignored SIGTERM: killing it", _NAME, proc.pid)
                    proc.kill()
                    proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()
            self._proc = None
        self._close_files()

    def restart(self) -> Self:
        """Stop, then start again on the same port."""
        self.stop()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _wait_ready(self) -> int:
        proc = self._proc
        if proc is None or proc.stdout is None:
            raise RuntimeError("the server process is not running")
        deadline = time.monotonic() + self._ready_timeout_s
        line = b""
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SourceError(
                        _NAME, f"not listening after {self._ready_timeout_s:.0f} s: {self._stderr_tail()}"
                    )
                if not selector.select(remaining):
                    continue
                chunk = os.read(proc.stdout.fileno(), 1)
                if not chunk:  # exited before READY
                    break
                line += chunk
        words = line.decode(errors="replace").split()
        if len(words) == 2 and words[0] == "READY" and words[1].isdigit():
            return int(words[1])
        code = proc.wait()
        if code == MISSING_EXIT:
            raise SourceError(_NAME, _missing(_missing_reason(self._stderr_tail()), self._python))
        raise SourceError(_NAME, f"exited with status {code} before listening: {self._stderr_tail()}")

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        return text[-_STDERR_TAIL:] or "(no output)"

    def _close_files(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


def _clean_env() -> dict[str, str]:
    """This environment minus what would make the system Python load the virtual environment's modules."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _missing(detail: str, python: Path) -> str:
    return (
        f"GStreamer's RTSP server is not usable from {python} ({detail}); "
        f"on Debian/Ubuntu: apt-get install {DEBIAN_PACKAGES}"
    )


def _missing_reason(stderr: str) -> str:
    """The reason on the script's ``MISSING: ...`` line (the whole output if there is none)."""
    for line in stderr.splitlines():
        if line.startswith("MISSING: "):
            return line.removeprefix("MISSING: ").strip()
    return stderr.strip() or "(no output)"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"
