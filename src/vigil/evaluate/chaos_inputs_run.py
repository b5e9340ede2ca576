"""Drive the malformed inputs of :mod:`vigil.evaluate.chaos_inputs` through the real API, in process.

The server is built by the composition root (:func:`vigil.app.build_server`) over a throw-away data dir;
images go to enrolment (``POST /people``) and search by photo (``POST /search``), videos and a few images
to footage upload (``POST /footage``), whose accepted jobs are then run and must end (done, or failed with
an error saying why) within a bound. Each answer is judged:

- a **crash**: a 5xx, an exception escaping the app, or a job left queued/running or failed without reason;
- a **hang**: no answer (or no job end) within the time-out;
- **unclear**: a 4xx without an ``error`` sentence, or a 2xx for content that is certainly not usable.

Peak memory (RSS) is sampled in a thread for the whole run.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from fastapi.testclient import TestClient
from httpx import Response

from vigil.app import build_server
from vigil.config import StoreConfig, VigilConfig
from vigil.evaluate.chaos_inputs import ChaosInput, Target, all_kinds, generate, load_originals

ROUTES_IMAGE = ("enrol", "search")
ROUTE_FOOTAGE = "footage"
JOB_ENDED = frozenset({"done", "failed", "cancelled"})
REASON = "chaos inputs bench"
WATCHLIST = "chaos"
EXAMPLES_KEPT = 20


@dataclass(frozen=True, slots=True)
class KindTally:
    """What one route answered to one kind of input."""

    route: str
    kind: str
    count: int
    statuses: dict[str, int]  # "201", "422", "job failed"... -> how many
    crashes: int
    hangs: int
    unclear: int
    max_s: float


@dataclass(frozen=True, slots=True)
class InputsResult:
    """The whole run: per route and kind, the totals, peak memory and the first problems seen."""

    count: int
    seed: int
    seconds: float
    rss_start_mb: float
    rss_peak_mb: float
    tallies: tuple[KindTally, ...]
    problems: tuple[str, ...]  # the first few crashes, hangs and unclear answers, described
    kinds_missing: tuple[str, ...]  # kinds the run did not exercise (a count too small)

    @property
    def crashes(self) -> int:
        return sum(t.crashes for t in self.tallies)

    @property
    def hangs(self) -> int:
        return sum(t.hangs for t in self.tallies)

    @property
    def unclear(self) -> int:
        return sum(t.unclear for t in self.tallies)

    @property
    def ok(self) -> bool:
        return self.crashes == 0 and self.hangs == 0 and self.unclear == 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request's verdict."""

    status: str
    crash: bool = False
    hang: bool = False
    unclear: bool = False
    note: str = ""


@dataclass
class _Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    crashes: int = 0
    hangs: int = 0
    unclear: int = 0
    max_s: float = 0.0


class RssSampler:
    """The process's resident memory, sampled every ``every_s`` in a daemon thread; ``peak`` in bytes."""

    def __init__(self, every_s: float = 0.05) -> None:
        self._process = psutil.Process()
        self._every_s = every_s
        self._stop = threading.Event()
        self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self._every_s):
            self.peak = max(self.peak, self._process.memory_info().rss)


class Timed:
    """Runs calls on one worker thread with a time-out; a call that hangs is abandoned with its thread
    (a new one takes over), so one hang cannot stall the rest of the run."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="chaos-request")

    def call(self, fn: Callable[[], Any], timeout_s: float) -> Future[Any]:
        future = self._pool.submit(fn)
        try:
            future.result(timeout_s)
        except FutureTimeout:
            self._pool.shutdown(wait=False)
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="chaos-request")
        except Exception:
            pass
        return future

    def close(self) -> None:
        self._pool.shutdown(wait=False)


class Harness:
    """The server under test and the requests sent to it."""

    def __init__(self, data: Path, request_timeout_s: float, job_timeout_s: float) -> None:
        config = VigilConfig(store=StoreConfig(data_dir=data))
        self.server = build_server(config, workers=1)
        if self.server.bootstrap is None:  # a fresh data dir always bootstraps
            raise RuntimeError("no first administrator was created")
        self.client = TestClient(self.server.app, raise_server_exceptions=True)
        self.headers = {"Authorization": f"Bearer {self.server.bootstrap.token}"}
        self.timed = Timed()
        self.request_timeout_s = request_timeout_s
        self.job_timeout_s = job_timeout_s
        made = self.client.post(
            "/watchlists", json={"name": WATCHLIST, "reason": REASON}, headers=self.headers
        )
        made.raise_for_status()

    def close(self) -> None:
        self.timed.close()
        self.client.close()
        self.server.live.stop()
        self.server.app.state.vigil.db.dispose()

    def send(self, route: str, case: ChaosInput, index: int) -> Outcome:
        """One upload of ``case`` to ``route``, judged; a footage job accepted is run to its end."""
        post = {"enrol": self._enrol, "search": self._search, ROUTE_FOOTAGE: self._footage}[route]
        future = self.timed.call(lambda: post(case, index), self.request_timeout_s)
        if not future.done():
            return Outcome("timeout", hang=True, note=f"no answer in {self.request_timeout_s:.0f} s")
        exc = future.exception()
        if exc is not None:
            return Outcome("exception", crash=True, note=f"{type(exc).__name__}: {exc}")
        response: Response = future.result()
        outcome = judge(response, case)
        if route == ROUTE_FOOTAGE and response.status_code == 202:
            return self._follow_job(int(response.json()["id"]))
        return outcome

    def _enrol(self, case: ChaosInput, index: int) -> Response:
        form = {"watchlist": WATCHLIST, "name": f"case {index}", "reason": REASON}
        r: Response = self.client.post(
            "/people", data=form, files={"photos": _file(case)}, headers=self.headers
        )
        return r

    def _search(self, case: ChaosInput, _index: int) -> Response:
        r: Response = self.client.post(
            "/search", data={"reason": REASON}, files={"photo": _file(case)}, headers=self.headers
        )
        return r

    def _footage(self, case: ChaosInput, _index: int) -> Response:
        form = {"camera": "chaos footage", "reason": REASON}
        r: Response = self.client.post(
            "/footage", data=form, files={"video": _file(case)}, headers=self.headers
        )
        return r

    def _follow_job(self, job_id: int) -> Outcome:
        """Run the queued job (as ``vigil serve``'s runner would), bounded; it must end, with a reason
        when it failed."""
        ran = self.timed.call(self.server.jobs.run_next, self.job_timeout_s)
        if not ran.done():
            self.client.post(
                f"/footage/jobs/{job_id}/cancel", params={"reason": REASON}, headers=self.headers
            )
            return Outcome(
                "job stuck", hang=True, note=f"job {job_id} still running after {self.job_timeout_s:.0f} s"
            )
        if (exc := ran.exception()) is not None:
            return Outcome("job runner died", crash=True, note=f"job {job_id}: {type(exc).__name__}: {exc}")
        job = self.client.get(f"/footage/jobs/{job_id}", headers=self.headers).json()
        status = str(job["status"])
        if status not in JOB_ENDED:
            return Outcome(f"job {status}", crash=True, note=f"job {job_id} left {status}")
        if status == "failed" and not str(job["error"]).strip():
            return Outcome("job failed", unclear=True, note=f"job {job_id} failed without a reason")
        return Outcome(f"job {status}")


def _file(case: ChaosInput) -> tuple[str, bytes, str]:
    return (case.filename, case.data, "application/octet-stream")


def judge(response: Response, case: ChaosInput) -> Outcome:
    """A 5xx is a crash; a 4xx must carry an ``error`` sentence; a 2xx only for content that may be usable."""
    code = response.status_code
    status = str(code)
    if code >= 500:
        return Outcome(status, crash=True, note=f"{case.kind}: {code} {response.text[:200]}")
    if 400 <= code < 500:
        try:
            message = response.json().get("error", "")
        except ValueError:
            message = ""
        if not isinstance(message, str) or len(message.strip()) < 8:
            return Outcome(
                status, unclear=True, note=f"{case.kind}: {code} without a reason: {response.text[:200]}"
            )
        return Outcome(status)
    if not case.may_succeed:
        return Outcome(status, unclear=True, note=f"{case.kind}: {code} accepted an unusable file")
    return Outcome(status)


def _routes(case: ChaosInput, index: int) -> str:
    if case.target is Target.VIDEO:
        return ROUTE_FOOTAGE
    return ROUTES_IMAGE[index % 2]


def run_inputs(
    data_dir: Path,
    count: int,
    seed: int,
    *,
    progress: Callable[[int, int], None] = lambda _d, _t: None,
    request_timeout_s: float = 60.0,
    job_timeout_s: float = 120.0,
) -> InputsResult:
    """Send ``count`` generated cases (see :func:`vigil.evaluate.chaos_inputs.generate`) through the API.

    Args:
        data_dir: the shared test data (photos and clips the cases are made from).
        count: how many uploads.
        seed: seeds the generator (the same seed replays the same bytes).
        progress: called with (done, count) after each upload.
        request_timeout_s: an upload without an answer this long is a hang.
        job_timeout_s: a footage job not ended this long after it started is a hang.
    """
    originals = load_originals(data_dir)
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    problems: list[str] = []
    seen: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="vigil-chaos-inputs-") as tmp:
        harness = Harness(Path(tmp) / "data", request_timeout_s, job_timeout_s)
        try:
            rss_start = psutil.Process().memory_info().rss
            started = time.monotonic()
            with RssSampler() as rss:
                for index, case in enumerate(generate(originals, count, seed)):
                    route = _routes(case, index)
                    t0 = time.monotonic()
                    outcome = harness.send(route, case, index)
                    _record(tallies[(route, case.kind)], outcome, time.monotonic() - t0)
                    seen.add(case.kind)
                    if (outcome.crash or outcome.hang or outcome.unclear) and len(problems) < EXAMPLES_KEPT:
                        problems.append(f"#{index} {route} {case.kind}: {outcome.status} {outcome.note}")
                    progress(index + 1, count)
            seconds = time.monotonic() - started
        finally:
            harness.close()
    return InputsResult(
        count=count, seed=seed, seconds=round(seconds, 1), rss_start_mb=round(rss_start / 1e6, 1),
        rss_peak_mb=round(rss.peak / 1e6, 1), tallies=_freeze(tallies), problems=tuple(problems),
        kinds_missing=tuple(sorted(all_kinds() - seen)),
    )  # fmt: skip


def _record(tally: _Tally, outcome: Outcome, seconds: float) -> None:
    tally.statuses[outcome.status] += 1
    tally.crashes += int(outcome.crash)
    tally.hangs += int(outcome.hang)
    tally.unclear += int(outcome.unclear)
    tally.max_s = max(tally.max_s, seconds)


def _freeze(tallies: dict[tuple[str, str], _Tally]) -> tuple[KindTally, ...]:
    return tuple(
        KindTally(
            route=route,
            kind=kind,
            count=sum(t.statuses.values()),
            statuses=dict(sorted(t.statuses.items())),
            crashes=t.crashes,
            hangs=t.hangs,
            unclear=t.unclear,
            max_s=round(t.max_s, 3),
        )
        for (route, kind), t in sorted(tallies.items())
    )
