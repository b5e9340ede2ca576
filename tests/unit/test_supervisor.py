"""The camera supervisor's restarts: a worker that cannot start is tried less and less often."""

from __future__ import annotations

import sys
import time
from multiprocessing.queues import Queue

from vigil.config import VigilConfig
from vigil.runtime.messages import Control, Report
from vigil.runtime.supervisor import RESTART_BACKOFF_S, CameraSupervisor, restart_delay


def broken_worker(worker_id: int, config: VigilConfig, control: Queue[Control], out: Queue[Report]) -> None:
    """A worker that dies before it is ready, as one whose models cannot load does."""
    sys.exit(3)


def test_the_delay_grows_with_failures_to_start_and_is_capped() -> None:
    assert restart_delay(0) == 0.0, "a worker that ran and died comes back at once"
    delays = [restart_delay(n) for n in range(1, 12)]
    assert delays == sorted(delays) and delays[0] == 0.5 and delays[-1] == RESTART_BACKOFF_S[-1] == 30.0


def test_a_worker_that_cannot_start_is_restarted_with_backoff_not_every_half_second() -> None:
    supervisor = CameraSupervisor(VigilConfig(), 1, broken_worker)
    supervisor.start()
    try:
        time.sleep(4.6)  # restarts due at ~0.5, ~1.5 and ~3.5 s: three, where a fixed 0.5 s gave nine
        restarts = supervisor.restarts
    finally:
        supervisor.stop()
    assert 2 <= restarts <= 4, restarts
