"""Where each running camera runs (``camera_placements``): written by the runtime of the ``vigil serve``
that runs the cameras, read by every API process (``GET /cameras``) and by the next start, which puts
cameras back on the nodes they ran on."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select

from vigil.runtime.book import Placement
from vigil.store.db import Database
from vigil.store.tables import CameraPlacement


class PlacementStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def all(self) -> dict[int, Placement]:
        with self._db.read() as s:
            rows = s.scalars(select(CameraPlacement)).all()
            return {r.camera_id: Placement(r.node_id, r.node_address, r.actor) for r in rows}

    def record(self, camera_id: int, placement: Placement | None) -> None:
        with self._db.write() as s:
            row = s.get(CameraPlacement, camera_id)
            if placement is None:
                if row is not None:
                    s.delete(row)
                return
            if row is None:
                row = CameraPlacement(camera_id=camera_id)
                s.add(row)
            row.node_id, row.node_address, row.actor = (
                placement.node_id, placement.node_address, placement.actor,
            )  # fmt: skip
            row.placed_at = datetime.now(UTC)

    def clear(self) -> None:
        """Forget every placement (at start: the previous run's are read first, to place cameras back)."""
        with self._db.write() as s:
            s.execute(delete(CameraPlacement))
