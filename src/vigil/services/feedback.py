""" "Not this person": negatives from rejected alerts, listed and withdrawn, each change audited.

Rejecting an alert as a wrong person keeps its track's template as a negative of that person (see
:mod:`vigil.match.feedback` for how it acts on later faces). Negatives are kept under the retention of the
list the alert was on, and go with the person or the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.errors import BadInput, NotFound
from vigil.store import audit
from vigil.store.db import Database, as_utc
from vigil.store.tables import Event, EventTemplate, NegativeTemplate, Watchlist
from vigil.types import FloatArray


@dataclass(frozen=True, slots=True)
class NegativeInfo:
    id: int
    person_id: int
    event_id: int | None
    watchlist: str | None
    model_id: str
    reason: str
    created_by: str
    created_at: datetime


def add_negative(session: Session, actor: str, event: Event, reason: str, now: datetime) -> int | None:
    """Keep a rejected alert's track template as a negative of its person (in the caller's transaction),
    under its own model and every model it was re-embedded with. None when the event kept no template
    (its face was not written to disk)."""
    if event.person_id is None or event.embedding is None:
        return None
    templates = [(event.model_id, event.embedding)]
    templates += [
        (model, raw)
        for model, raw in session.execute(
            select(EventTemplate.model_id, EventTemplate.embedding).where(EventTemplate.event_id == event.id)
        )
    ]
    person, wl = event.person_id, event.watchlist_id
    rows = [
        NegativeTemplate(person_id=person, watchlist_id=wl, event_id=event.id, model_id=model, embedding=raw,
                         reason=reason, created_by=actor, created_at=now)
        for model, raw in templates
    ]  # fmt: skip
    session.add_all(rows)
    session.flush()
    audit.append(
        session, actor, "person.negative.add", f"person:{event.person_id}", reason=reason or "wrong person",
        details={"negative": rows[0].id, "alert": event.id, "model_id": event.model_id,
                 "also": {r.model_id: r.id for r in rows[1:]}},
    )  # fmt: skip
    return rows[0].id


def negatives_of(session: Session, person_id: int, model_id: str) -> tuple[list[int], FloatArray]:
    """A person's negatives of ``model_id``: their ids and vectors (rows)."""
    rows = session.execute(
        select(NegativeTemplate.id, NegativeTemplate.embedding).where(
            NegativeTemplate.person_id == person_id, NegativeTemplate.model_id == model_id
        )
    ).all()
    if not rows:
        return [], np.zeros((0, 0), np.float32)
    return [int(i) for i, _ in rows], np.stack([np.frombuffer(e, "<f4") for _, e in rows]).astype(np.float32)


class FeedbackService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def of_person(self, person_id: int) -> list[NegativeInfo]:
        with self._db.read() as s:
            rows = s.execute(
                select(NegativeTemplate, Watchlist.name)
                .outerjoin(Watchlist, Watchlist.id == NegativeTemplate.watchlist_id)
                .where(NegativeTemplate.person_id == person_id)
                .order_by(NegativeTemplate.id)
            ).all()
            return [
                NegativeInfo(n.id, n.person_id, n.event_id, wl, n.model_id, n.reason, n.created_by,
                             as_utc(n.created_at))
                for n, wl in rows
            ]  # fmt: skip

    def withdraw(self, actor: str, negative_id: int, reason: str) -> None:
        """Delete a negative (the rejection was itself a mistake); audited."""
        if not reason.strip():
            raise BadInput("reason", "withdrawing a negative needs a reason")
        with self._db.write() as s:
            row = s.get(NegativeTemplate, negative_id)
            if row is None:
                raise NotFound(f"no negative {negative_id}")
            # The same rejection under the other models its track was embedded with.
            siblings: Sequence[NegativeTemplate] = ()
            if row.event_id is not None:
                siblings = s.scalars(
                    select(NegativeTemplate).where(
                        NegativeTemplate.event_id == row.event_id,
                        NegativeTemplate.person_id == row.person_id,
                        NegativeTemplate.id != row.id,
                    )
                ).all()  # fmt: skip
            for r in (row, *siblings):
                s.delete(r)
            audit.append(
                s, actor, "person.negative.remove", f"person:{row.person_id}", reason=reason,
                details={"negative": negative_id, "alert": row.event_id, "also": [r.id for r in siblings]},
            )  # fmt: skip
