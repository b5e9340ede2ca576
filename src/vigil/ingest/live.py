"""A live camera: one source read by background threads, surviving failures, never blocking on its consumer.

:class:`LiveReader` wraps :func:`~vigil.ingest.factory.open_source` for one camera and keeps it alive:

* **Bounded queue, drop oldest.** Decoded frames go into a queue of ``live.queue_frames``; when it is
  full the oldest frame is dropped and counted, so decoding never waits on a slow consumer and the
  consumer always gets recent frames.
* **Rate limit before the queue.** Frames beyond ``max_fps`` are skipped (counted apart from drops).
* **Files behave like cameras.** A file is paced at its real-time rate and, with ``loop``, starts again
  at its end with continuous timestamps; without ``loop`` the reader ends (state ``ended``).
* **Reconnects with backoff.** When a stream fails or ends, the reader waits ``reconnect_initial_s``,
  doubling up to ``reconnect_max_s``, each wait jittered to 50-100 % (cameras of a site that went down
  together do not reconnect in lockstep); the backoff resets once a frame arrives again.
* **Watchdog.** Each opening of the source (an *attempt*) is read by its own thread, watched by the
  reader's supervisor thread. FFmpeg's own time-outs (``ingest.open_timeout_s``, ``read_timeout_s``:
  socket time-outs plus PyAV's interrupt callback) bound every blocking open or read. The watchdog
  covers what they cannot see: a source that keeps the connection busy yet yields no frame for
  ``live.watchdog_s``. It does not close the container under the reading thread (FFmpeg contexts are not
  thread-safe: that would be a use-after-free); it *abandons* the attempt and starts a fresh one. The
  abandoned thread delivers nothing more: when its blocked call returns (at the latest when FFmpeg's
  time-out fires) it closes its container itself and exits.
* **Timestamps.** ``Frame.t_ms`` and ``Frame.index`` increase across reconnects and loops: a new
  attempt continues from the last ``t_ms`` plus the time that passed (one frame interval for a loop),
  so a tracker sees an outage as a gap. ``captured_at`` is the wall clock at decode (for a paced file,
  when the frame is released).

Camera URLs reach FFmpeg only through PyAV (no shell), and only :func:`~vigil.ingest.urls.redact_url`-ed
text reaches logs and :class:`~vigil.ingest.status.CameraStatus`.

Example:
    >>> wake = threading.Event()
    >>> readers = [LiveReader(c.name, c.url, cfg.ingest, cfg.live, notify=wake) for c in cfg.cameras]
    >>> for r in readers:
    ...     r.start()
    >>> while running:
    ...     wake.wait(0.5)
    ...     wake.clear()  # clear, then drain every reader: no frame is missed
    ...     for r in readers:
    ...         while (frame := r.get()) is not None:
    ...             process(frame)
"""

from __future__ import annotations

import logging
import random
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass
from typing import Literal

from vigil.config.schema import IngestConfig, LiveConfig
from vigil.errors import BadInput, SourceError
from vigil.ingest.factory import open_source
from vigil.ingest.netpolicy import OPEN, NetPolicy
from vigil.ingest.status import CameraState, CameraStatus
from vigil.ingest.urls import STREAM_SCHEMES, redact_url, url_scheme
from vigil.ingest.webcam import is_webcam_spec
from vigil.types import Frame

logger = logging.getLogger(__name__)

_FPS_WINDOW_S = 5.0
_MAX_LAG_S = 1.0  # a paced file this far behind its schedule starts a new schedule (no catch-up burst)
_THROTTLE_SLACK_MS = 1.5  # t_ms are whole ms: do not skip a frame for a rounding error
_WAIT_HISTORY = 32
_WORKER_GRACE_S = 0.5  # stop() waits this long for the reading thread to close its container
_JITTER = (0.5, 1.0)

Outcome = Literal["end", "error", "watchdog", "interrupted"]


@dataclass(eq=False)
class _Attempt:
    """One opening of the source, read by its own thread. Guarded by the reader's lock."""

    number: int
    started: float  # clock()
    after_loop: bool  # follows the end of a looping file: continue its timeline by one frame
    abandoned: bool = False
    done: bool = False
    outcome: Outcome = "error"
    error: str | None = None
    frames: int = 0
    last_frame: float | None = None  # clock()
    interval_ms: float | None = None  # from the source's nominal fps
    offset_ms: int | None = None  # output t_ms = source t_ms + offset_ms
    thread: threading.Thread | None = None


class LiveReader:
    """Reads one camera in background threads into a small drop-oldest queue; see the module docs.

    Args:
        camera_id: the camera's name, stamped on its frames as ``source_id``.
        spec: what :func:`~vigil.ingest.factory.open_source` takes: an rtsp/http(s) URL, a video file,
            ``webcam:N``, an image folder. May hold credentials: never logged.
        config: open/read time-outs and image limits.
        live: queue size, default max fps, watchdog and reconnect timings.
        loop: for a file, start again at its end (ignored for streams and webcams).
        max_fps: overrides ``live.max_fps``.
        clock: monotonic seconds, for pacing, rates, the watchdog and backoff bookkeeping.
        notify: an event set whenever a frame is queued or the reader ends, so one consumer can wait on
            many readers (clear it, then drain them all).
        rng: the jitter's random source (seed it for reproducible waits).
        network: the addresses a stream may reach, checked at every opening (its host name may resolve
            elsewhere than when the camera was added); a refused address is reported as the error.

    Raises:
        SourceError: at once for a spec no attempt could ever open (an unsupported URL scheme).
    """

    def __init__(
        self,
        camera_id: str,
        spec: str,
        config: IngestConfig,
        live: LiveConfig,
        *,
        loop: bool = False,
        max_fps: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        notify: threading.Event | None = None,
        rng: random.Random | None = None,
        network: NetPolicy = OPEN,
    ) -> None:
        scheme = url_scheme(spec)
        if scheme is not None and scheme not in STREAM_SCHEMES:
            allowed = ", ".join(sorted(STREAM_SCHEMES))
            raise SourceError(redact_url(spec), f"unsupported URL scheme {scheme!r} (use {allowed})")
        self.camera_id = camera_id
        self._spec = spec
        self._config = config
        self._live = live
        self._is_file = scheme is None and not is_webcam_spec(spec)
        self._network = network if scheme is not None else OPEN
        self._loop = loop and self._is_file
        self._max_fps = max_fps if max_fps is not None else live.max_fps
        if not self._max_fps > 0:
            raise ValueError(f"max_fps must be positive, got {self._max_fps}")
        self._period_ms = 1000.0 / self._max_fps
        self._clock = clock
        self._notify = notify
        self._rng = rng or random.Random()  # jitter, not cryptography
        self._where = redact_url(spec)

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # attempts ending, stop / pause / resume
        self._arrived = threading.Condition(self._lock)  # a frame queued, or the reader finished
        self._queue: deque[Frame] = deque()
        self._thread: threading.Thread | None = None
        self._attempt: _Attempt | None = None
        self._stopping = False
        self._paused = False
        self._finished = False  # ended or stopped: get() stops waiting

        self._state = CameraState.STOPPED
        self._since = time.time()
        self._frames_in = 0
        self._frames_skipped = 0
        self._frames_dropped = 0
        self._reconnects = 0
        self._last_error: str | None = None
        self._last_frame_at: float | None = None
        self._size: tuple[int, int] | None = None
        self._retry_in: float | None = None
        self._waits: deque[float] = deque(maxlen=_WAIT_HISTORY)
        self._arrivals: deque[float] = deque()  # clock() of recent decoded frames, for fps_in

        self._last_t_ms: int | None = None
        self._last_clock: float | None = None  # clock() of the last decoded frame
        self._last_interval_ms: float | None = None
        self._next_t_ms: float | None = None  # rate limit: the earliest t_ms admitted next
        self._anchor: tuple[float, int] | None = None  # pacing: (clock(), t_ms) of a scheduled frame

    # --- control -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start reading in the background (returns at once).

        Raises:
            RuntimeError: when the reader was started before (make a new one to read again).
        """
        with self._lock:
            if self._thread is not None:
                raise RuntimeError(f"camera {self.camera_id}: the reader was already started")
            self._thread = threading.Thread(
                target=self._run, name=f"vigil-live-{self.camera_id}", daemon=True
            )
        logger.info("camera %s: reading %s", self.camera_id, self._where)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop reading and wait up to ``timeout`` s for the threads; the state becomes ``stopped``.

        Returns promptly whatever the reader is doing (connecting, backing off, paused): waits are
        interrupted, and a thread blocked inside FFmpeg is left to exit by itself when its time-out fires
        (it closes its own container and delivers nothing more).
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            self._stopping = True
            attempt = self._attempt
            if attempt is not None:
                attempt.abandoned = True
            self._changed.notify_all()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(max(0.0, deadline - time.monotonic()))
        worker = attempt.thread if attempt is not None else None
        if worker is not None and worker.is_alive():  # between frames it ends at once; in FFmpeg, later
            worker.join(min(_WORKER_GRACE_S, max(0.0, deadline - time.monotonic())))
            if worker.is_alive():
                logger.info("camera %s: a read is blocked in FFmpeg; it ends at its time-out", self.camera_id)
        with self._lock:
            self._set_state(CameraState.STOPPED)
            self._finish()

    def pause(self) -> None:
        """Close the source and keep it closed until :meth:`resume` (state ``paused``)."""
        with self._lock:
            self._paused = True
            if self._attempt is not None:
                self._attempt.abandoned = True
            self._changed.notify_all()

    def resume(self) -> None:
        """Open the source again after :meth:`pause` (a file starts from its beginning)."""
        with self._lock:
            self._paused = False
            self._changed.notify_all()

    # --- consumer ----------------------------------------------------------------------------------

    def get(self, timeout: float = 0.0) -> Frame | None:
        """The oldest queued frame, waiting up to ``timeout`` s for one; None if none came (or it ended)."""
        with self._lock:
            if not self._queue and timeout > 0:
                self._arrived.wait_for(lambda: self._queue or self._finished, timeout)
            return self._queue.popleft() if self._queue else None

    def ready(self) -> bool:
        """True when a frame is waiting."""
        with self._lock:
            return bool(self._queue)

    @property
    def waits(self) -> tuple[float, ...]:
        """The last backoff waits chosen, in seconds, oldest first (for tests and diagnostics)."""
        with self._lock:
            return tuple(self._waits)

    def status(self) -> CameraStatus:
        """A snapshot of the reader's state and counters."""
        with self._lock:
            now = self._clock()
            while self._arrivals and self._arrivals[0] < now - _FPS_WINDOW_S:
                self._arrivals.popleft()
            fps = 0.0
            if len(self._arrivals) >= 2 and now > self._arrivals[0]:
                fps = (len(self._arrivals) - 1) / (now - self._arrivals[0])
            width, height = self._size if self._size else (None, None)
            return CameraStatus(
                camera_id=self.camera_id,
                state=self._state,
                frames_in=self._frames_in,
                frames_skipped=self._frames_skipped,
                frames_dropped=self._frames_dropped,
                fps_in=fps,
                reconnects=self._reconnects,
                queued=len(self._queue),
                last_error=self._last_error,
                last_frame_at=self._last_frame_at,
                since=self._since,
                width=width,
                height=height,
                retry_in_s=self._retry_in if self._state is CameraState.BACKOFF else None,
            )

    # --- supervisor thread -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._supervise()
        except Exception as exc:  # a bug: say so in the status instead of dying silently
            trace = redact_url("".join(traceback.format_exception(exc)))
            logger.error("camera %s: reader crashed\n%s", self.camera_id, trace)
            with self._lock:
                self._last_error = redact_url(f"reader crashed: {type(exc).__name__}: {exc}")
                self._set_state(CameraState.STOPPED)
                self._finish()

    def _supervise(self) -> None:
        backoff = self._live.reconnect_initial_s
        failed = False  # the last attempt failed: the next one is a reconnect
        after_loop = False
        number = 0
        while True:
            with self._lock:
                if not self._wait_unpaused():
                    return
                if failed:
                    self._reconnects += 1
                number += 1
                attempt = _Attempt(number, self._clock(), after_loop)
                self._attempt = attempt
                self._set_state(CameraState.CONNECTING)
            attempt.thread = threading.Thread(
                target=self._read, args=(attempt,), name=f"vigil-read-{self.camera_id}-{number}", daemon=True
            )
            attempt.thread.start()
            outcome = self._watch(attempt)
            with self._lock:
                attempt.abandoned = True  # whatever happened, this attempt delivers nothing more
                self._changed.notify_all()
                if attempt.frames or outcome == "interrupted":
                    backoff = self._live.reconnect_initial_s
                failed = after_loop = False
                if outcome == "interrupted":  # stop or pause
                    continue
                if self._is_file and not self._loop and (outcome == "end" or attempt.frames):
                    # the end, or broken part-way: replaying it would repeat frames already delivered
                    self._end(None if outcome == "end" else self._failure(attempt, outcome))
                    return
                if self._is_file and outcome == "end":
                    after_loop = True
                    continue
                failed = True
                wait = self._backoff(self._failure(attempt, outcome), backoff)
            self._sleep(wait)
            backoff = min(backoff * 2, self._live.reconnect_max_s)

    def _wait_unpaused(self) -> bool:
        """Under the lock: wait while paused; False when stopping."""
        while self._paused and not self._stopping:
            self._set_state(CameraState.PAUSED)
            self._changed.wait()
        return not self._stopping

    def _watch(self, attempt: _Attempt) -> Outcome:
        """Wait until the attempt ends, the reader is stopped or paused, or no frame came for watchdog_s."""
        with self._lock:
            while True:
                if self._stopping or self._paused:
                    return "interrupted"
                if attempt.done:
                    return attempt.outcome
                last = attempt.last_frame if attempt.last_frame is not None else attempt.started
                remaining = last + self._live.watchdog_s - self._clock()
                if remaining <= 0:
                    return "watchdog"
                self._changed.wait(remaining)

    def _failure(self, attempt: _Attempt, outcome: Outcome) -> str:
        if outcome == "watchdog":
            what = "frame" if attempt.frames == 0 else "new frame"
            return f"no {what} for {self._live.watchdog_s:g} s (watchdog)"
        if outcome == "end":
            return "the stream ended"
        return attempt.error or "failed"

    def _backoff(self, reason: str, backoff: float) -> float:
        """Under the lock: record the failure, enter backoff; the wait chosen."""
        wait = backoff * self._rng.uniform(*_JITTER)
        self._last_error = reason
        self._waits.append(wait)
        self._retry_in = wait
        self._set_state(CameraState.BACKOFF)
        logger.warning("camera %s: %s; retrying in %.1f s", self.camera_id, reason, wait)
        return wait

    def _sleep(self, wait: float) -> None:
        deadline = self._clock() + wait
        with self._lock:
            while not (self._stopping or self._paused):
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return
                self._changed.wait(remaining)

    def _end(self, error: str | None) -> None:
        """Under the lock: a file without loop is over."""
        if error is not None:
            self._last_error = error
        self._set_state(CameraState.ENDED)
        logger.info("camera %s: end of the file after %d frames", self.camera_id, self._frames_in)
        self._finish()

    def _finish(self) -> None:
        """Under the lock: wake consumers waiting in get() and on the shared event."""
        self._finished = True
        self._arrived.notify_all()
        if self._notify is not None:
            self._notify.set()

    def _set_state(self, state: CameraState) -> None:
        if state is not self._state:
            self._state = state
            self._since = time.time()

    # --- attempt threads ---------------------------------------------------------------------------

    def _read(self, attempt: _Attempt) -> None:
        """Open the source and decode it into the queue until it ends, fails or is abandoned."""
        outcome: Outcome = "error"
        error: str | None = None
        try:
            self._network.check(self._spec, "camera")
            source = open_source(self._spec, self._config, self.camera_id)
            with closing(source):
                attempt.interval_ms = 1000.0 / source.fps if source.fps else None
                frames = source.frames()
                try:
                    for frame in frames:
                        if not self._deliver(attempt, frame):
                            break
                    else:
                        outcome = "end"
                finally:
                    if isinstance(frames, Generator):
                        frames.close()  # now, in this thread: it closes the container
        except SourceError as exc:
            error = redact_url(exc.reason)
        except BadInput as exc:  # the network policy refused the address the stream resolves to now
            error = exc.reason
        except Exception as exc:  # a bug or an unexpected library error: report it, the supervisor retries
            error = redact_url(f"unexpected {type(exc).__name__}: {exc}")
            trace = redact_url("".join(traceback.format_exception(exc)))
            logger.error("camera %s: reader failed\n%s", self.camera_id, trace)
        with self._lock:
            attempt.done = True
            attempt.outcome = outcome
            attempt.error = error
            self._changed.notify_all()

    def _deliver(self, attempt: _Attempt, frame: Frame) -> bool:
        """Stamp, pace, rate-limit and queue one decoded frame; False when the attempt was abandoned."""
        with self._lock:
            if attempt.abandoned:
                return False
            t_ms = self._timeline(attempt, frame.t_ms)
            captured_at = frame.captured_at
            if self._is_file:
                if not self._pace(attempt, t_ms):
                    return False
                captured_at = time.time()
            self._count_in(attempt, frame, t_ms, captured_at)
            if not self._admit(t_ms):
                self._frames_skipped += 1
                return True
            if len(self._queue) >= self._live.queue_frames:
                self._queue.popleft()
                self._frames_dropped += 1
            self._queue.append(Frame(self.camera_id, self._frames_in - 1, t_ms, frame.image, captured_at))
            self._arrived.notify()
        if self._notify is not None:
            self._notify.set()
        return True

    def _count_in(self, attempt: _Attempt, frame: Frame, t_ms: int, captured_at: float) -> None:
        now = self._clock()
        if self._last_t_ms is not None and t_ms > self._last_t_ms and attempt.frames:
            self._last_interval_ms = float(t_ms - self._last_t_ms)
        self._frames_in += 1
        self._last_t_ms, self._last_clock, self._last_frame_at = t_ms, now, captured_at
        self._arrivals.append(now)
        self._size = frame.size_wh
        attempt.frames += 1
        attempt.last_frame = now
        if attempt.frames == 1:
            self._set_state(CameraState.STREAMING)
            if attempt.after_loop:
                logger.debug("camera %s: looping", self.camera_id)
            else:
                width, height = self._size
                again = f" again after {self._reconnects} reconnects" if self._reconnects else ""
                logger.info("camera %s: streaming %dx%d%s", self.camera_id, width, height, again)

    def _timeline(self, attempt: _Attempt, source_t_ms: int) -> int:
        """The frame's t_ms on the reader's timeline, which only goes forward."""
        if attempt.offset_ms is None:
            start = 0
            if self._last_t_ms is not None:
                interval = attempt.interval_ms or self._last_interval_ms or self._period_ms
                gap = interval if attempt.after_loop else max(interval, self._elapsed_ms())
                start = self._last_t_ms + max(1, round(gap))
            attempt.offset_ms = start - source_t_ms
        t_ms = source_t_ms + attempt.offset_ms
        if self._last_t_ms is not None and t_ms <= self._last_t_ms:  # the source's clock went back
            resumed = self._last_t_ms + max(1, round(self._elapsed_ms()))
            attempt.offset_ms += resumed - t_ms
            t_ms = resumed
        return t_ms

    def _elapsed_ms(self) -> float:
        return 0.0 if self._last_clock is None else (self._clock() - self._last_clock) * 1000.0

    def _pace(self, attempt: _Attempt, t_ms: int) -> bool:
        """Under the lock: hold a file's frame until its real-time moment; False if abandoned meanwhile."""
        now = self._clock()
        if self._anchor is not None:
            due = self._anchor[0] + (t_ms - self._anchor[1]) / 1000.0
            if now - due <= _MAX_LAG_S:
                while (remaining := due - self._clock()) > 0 and not attempt.abandoned:
                    self._changed.wait(remaining)
                return not attempt.abandoned
        self._anchor = (now, t_ms)  # first frame, or too far behind: a new schedule from here
        return True

    def _admit(self, t_ms: int) -> bool:
        """Under the lock: whether the frame fits within max_fps (by media time, so it is exact for files)."""
        if self._next_t_ms is not None and t_ms < self._next_t_ms - _THROTTLE_SLACK_MS:
            return False
        nxt = self._next_t_ms + self._period_ms if self._next_t_ms is not None else t_ms + self._period_ms
        self._next_t_ms = max(nxt, t_ms + self._period_ms / 2)
        return True
