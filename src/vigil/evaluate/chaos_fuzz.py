"""Property-based fuzzing of the whole HTTP API (``vigil bench chaos fuzz``).

The real app is built in-process over a fresh SQLite store (an unstarted live service, so no camera worker
runs), the first administrator's token is used for every request, and a little real data is seeded (a
watchlist and a person enrolled from a real photo) so that id-bearing routes sometimes hit existing rows.
Schemathesis then generates requests for every operation of the app's own OpenAPI document, valid ones
and invalid ones, with a fixed seed and a bound per operation, and checks each answer: no server error
(5xx), a documented status code, a documented content type, documented headers and a body that matches
the documented schema. Every failure is a bug in the API or in its documentation.

The fuzzer may revoke the administrator's token or disable them (``DELETE /auth/tokens/{id}``,
``PATCH /users/admin``, ``POST /auth/logout``); when that happens the credentials are restored before the
next request (counted in ``FuzzResult.reseeds``) instead of letting the rest of the run answer 401.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.failures import Failure, FailureGroup, ServerError
from schemathesis.core.result import Err, Ok
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from vigil.app import build_server
from vigil.config import StoreConfig, VigilConfig
from vigil.services.users import FIRST_ADMIN, UserService
from vigil.store.tables import Role

log = logging.getLogger(__name__)

Operation = APIOperation[Any, Any, Any, Any]
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
SEED_LIST = "fuzz-seed"
SEED_REASON = "fuzz run seed"
_BODY_CHARS = 200


@dataclass(frozen=True)
class FuzzFailure:
    """One failed check: which operation, the status answered, what was wrong and a short body."""

    operation: str
    status: int
    check: str
    message: str
    body: str


@dataclass(frozen=True)
class OperationStats:
    """Requests sent to one operation and how many of them failed a check."""

    operation: str
    requests: int
    server_errors: int
    schema_violations: int


@dataclass(frozen=True)
class FuzzResult:
    """The outcome of a fuzz run (``ok`` when nothing failed)."""

    operations: tuple[OperationStats, ...]
    requests: int
    server_errors: tuple[FuzzFailure, ...]
    schema_violations: tuple[FuzzFailure, ...]
    skipped: tuple[tuple[str, str], ...]  # (operation, why)
    seeded: tuple[str, ...]  # what the store held before the run
    reseeds: int  # times the administrator's credentials were restored
    seconds: float

    @property
    def operations_tested(self) -> int:
        return sum(1 for op in self.operations if op.requests > 0)

    @property
    def ok(self) -> bool:
        return not self.server_errors and not self.schema_violations


@dataclass(frozen=True)
class FuzzSettings:
    """The bound of a run: generated examples per operation and generation mode, and the seed."""

    examples: int = 20
    seed: int = 7


@dataclass
class _Tally:
    """Counters of one operation while it is fuzzed."""

    requests: int = 0
    server_errors: list[FuzzFailure] = field(default_factory=list)
    schema_violations: list[FuzzFailure] = field(default_factory=list)

    def stats(self, operation: str) -> OperationStats:
        return OperationStats(operation, self.requests, len(self.server_errors), len(self.schema_violations))


class _Admin:
    """The administrator's bearer token, restored when a fuzzed request revoked or demoted it."""

    def __init__(self, users: UserService, token: str) -> None:
        self._users = users
        self.token = token
        self.reseeds = 0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def ensure(self) -> None:
        """Re-enable the administrator and issue a new token if the current one no longer works."""
        principal = self._users.resolve(self.token)
        if principal is not None and principal.allows(Role.ADMIN):
            return
        info = self._users.get(FIRST_ADMIN)
        if info.disabled:
            self._users.set_disabled(FIRST_ADMIN, False, "fuzz", reason="restored after a fuzzed request")
        if info.role != Role.ADMIN:
            self._users.set_role(FIRST_ADMIN, Role.ADMIN, "fuzz", reason="restored after a fuzzed request")
        self.token = self._users.issue_token(FIRST_ADMIN, "fuzz", "fuzz")[1]
        self.reseeds += 1


@contextmanager
def fuzz_app(workdir: Path) -> Iterator[tuple[FastAPI, _Admin]]:
    """The real API over a SQLite store in ``workdir``, with the first administrator's credentials."""
    config = VigilConfig().model_copy(update={"store": StoreConfig(data_dir=workdir)})
    server = build_server(config, workers=1)
    if server.bootstrap is None:
        raise RuntimeError(f"{workdir} already holds users: fuzzing needs a fresh store")
    try:
        yield server.app, _Admin(server.app.state.vigil.users, server.bootstrap.token)
    finally:
        server.jobs.stop()
        server.live.stop()


def seed_store(app: FastAPI, admin: _Admin, photo: Path | None) -> tuple[str, ...]:
    """A watchlist and, from ``photo`` (a real face), a person on it; returns what was created."""
    created: list[str] = []
    with TestClient(app) as client:
        answer = client.post(
            "/watchlists", json={"name": SEED_LIST, "reason": SEED_REASON}, headers=admin.headers
        )
        if answer.status_code == 201:
            created.append(f"watchlist {SEED_LIST}")
        else:
            log.warning("seed watchlist answered %s: %s", answer.status_code, answer.text[:200])
        if photo is not None and photo.is_file():
            form = {"watchlist": SEED_LIST, "name": "Seed Person", "reason": SEED_REASON}
            files = {"photos": (photo.name, photo.read_bytes(), "image/jpeg")}
            answer = client.post("/people", data=form, files=files, headers=admin.headers)
            if answer.status_code == 201:
                created.append(f"person {answer.json()['person_id']} from {photo.name}")
            else:
                log.warning("seed enrolment answered %s: %s", answer.status_code, answer.text[:200])
    return tuple(created)


def _failure(case: schemathesis.Case[Any], status: int, body: str, failure: Failure) -> FuzzFailure:
    check = "not_a_server_error" if isinstance(failure, ServerError) else type(failure).__name__
    message = f"{case.method} {case.formatted_path}: {failure.title}. {failure.message}".strip()
    return FuzzFailure(case.operation.label, status, check, message[:600], body[:_BODY_CHARS])


def _send(case: schemathesis.Case[Any], admin: _Admin, tally: _Tally) -> None:
    """Send one generated request as the administrator and record the checks that failed."""
    admin.ensure()
    headers = admin.headers
    response = case.call(headers=headers)
    tally.requests += 1
    try:
        case.validate_response(response, checks=list(CHECKS), headers=headers)
    except FailureGroup as group:
        for failure in group.exceptions:
            found = _failure(case, response.status_code, response.text, failure)
            target = tally.server_errors if isinstance(failure, ServerError) else tally.schema_violations
            target.append(found)


def _fuzz_operation(operation: Operation, admin: _Admin, bound: FuzzSettings) -> _Tally:
    """Every generation mode of ``operation``, ``bound.examples`` requests each, seeded."""
    tally = _Tally()
    for mode in MODES:
        strategy = operation.as_strategy(generation_mode=mode)

        @seed(bound.seed)
        @settings(
            max_examples=bound.examples, database=None, deadline=None, phases=[Phase.generate],
            suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, derandomize=False,
        )  # fmt: skip
        @given(case=strategy)
        def run(case: schemathesis.Case[Any]) -> None:
            _send(case, admin, tally)

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid (no parameters, no body): positive cases only
            continue
    return tally


def _ok(
    result: Ok[APIOperation[Any, Any, Any, Any]] | Err[InvalidSchema],
) -> APIOperation[Any, Any, Any, Any]:
    """The operation, or the schema error that Vigil's own OpenAPI document must not have."""
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


def run_fuzz(
    bound: FuzzSettings,
    *,
    photo: Path | None = None,
    skip: dict[str, str] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> FuzzResult:
    """Fuzz every operation of the API's OpenAPI document; see the module docstring.

    Args:
        bound: examples per operation and mode, and the seed.
        photo: a real face photo to seed an enrolled person with (none: only a watchlist is seeded).
        skip: operations (``"GET /path"``) left out, with the reason; reported in the result.
        progress: called with (operations done, total, current operation).
    """
    skip = skip or {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vigil-fuzz-") as tmp, fuzz_app(Path(tmp)) as (app, admin):
        seeded = seed_store(app, admin, photo)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [_ok(result) for result in schema.get_all_operations()]
        stats: list[OperationStats] = []
        errors: list[FuzzFailure] = []
        violations: list[FuzzFailure] = []
        for done, operation in enumerate(operations):
            if progress is not None:
                progress(done, len(operations), operation.label)
            if operation.label in skip:
                continue
            tally = _fuzz_operation(operation, admin, bound)
            stats.append(tally.stats(operation.label))
            errors += tally.server_errors
            violations += tally.schema_violations
        if progress is not None:
            progress(len(operations), len(operations), "done")
    return FuzzResult(
        operations=tuple(stats), requests=sum(s.requests for s in stats), server_errors=tuple(errors),
        schema_violations=tuple(violations), skipped=tuple(sorted(skip.items())), seeded=seeded,
        reseeds=admin.reseeds, seconds=round(time.perf_counter() - started, 1),
    )  # fmt: skip
