"""`vigil search PHOTO --reason ...`: where was this person seen, and is this person on a list? Audited."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from vigil.app import build_engine, ivf_settings, open_store
from vigil.cli.common import (
    ActorOption,
    ConfigOption,
    ModelDirOption,
    ReasonOption,
    actor_of,
    cli_errors,
    load_cli_config,
)
from vigil.errors import BadInput, NotFound
from vigil.search.archive import Archive
from vigil.search.service import ChooseFace, SearchFilter, SearchRequest, SearchResult
from vigil.services.enrol import Photo
from vigil.services.gallery import load_gallery
from vigil.store.db import Database
from vigil.store.tables import Camera, Watchlist

console = Console(highlight=False)
err = Console(stderr=True, soft_wrap=True)


def _ids(
    db: Database, table: type[Camera] | type[Watchlist], names: list[str] | None
) -> frozenset[int] | None:
    if not names:
        return None
    with db.read() as s:
        found = dict(s.execute(select(table.name, table.id).where(table.name.in_(names))).all())
    missing = sorted(set(names) - set(found))
    if missing:
        raise NotFound(f"no {table.__tablename__[:-1]} named {', '.join(map(repr, missing))}")
    return frozenset(found.values())


def search(
    photo: Annotated[Path, typer.Argument(help="A photo of the person to look for.", show_default=False)],
    reason: ReasonOption,
    face: Annotated[
        int | None, typer.Option(help="Which face, when the photo shows several (0: largest).")
    ] = None,
    since: Annotated[datetime | None, typer.Option(help="Sightings from (ISO date-time with zone).")] = None,
    until: Annotated[
        datetime | None, typer.Option(help="Sightings before (ISO date-time with zone).")
    ] = None,
    camera: Annotated[list[str] | None, typer.Option(help="Only this camera (repeatable).")] = None,
    watchlist: Annotated[
        list[str] | None, typer.Option("--list", help="Only this list (repeatable).")
    ] = None,
    min_score: Annotated[float | None, typer.Option(help="Lowest score shown [search.min_score].")] = None,
    k: Annotated[int, typer.Option("-k", help="Candidates of each kind.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    actor: ActorOption = None,
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Search the watchlists and the archive of past sightings by photo (the search is audited)."""
    with cli_errors():
        cfg = load_cli_config(config, model_dir)
        store = open_store(cfg)
        if not photo.is_file():
            raise BadInput(str(photo), "no such file")
        engine = build_engine(cfg)
        gallery = load_gallery(store.db, engine.model_id, engine.dim)
        archive = Archive.load(store.db, engine.model_id, engine.dim, ivf_settings(cfg.search))
        finder = store.photo_search(lambda: engine.stills, lambda: gallery, lambda: archive)
        f = SearchFilter(
            since, until, _ids(store.db, Camera, camera), _ids(store.db, Watchlist, watchlist), min_score, k
        )
        request = SearchRequest(Photo(photo.name, photo.read_bytes()), reason, face, f)
        try:
            result = finder.search(actor_of(actor), request)
        except ChooseFace as exc:
            for b in exc.faces:
                err.print(f"  face {b.index}: box {b.xyxy}, detector score {b.score}")
            raise
    if as_json:
        console.print_json(json.dumps(_as_dict(result), default=str))
    else:
        _print(result)


def _as_dict(r: SearchResult) -> dict[str, object]:
    return {
        "audit_id": r.audit_id, "probe_sha256": r.probe_sha256, "face": r.face, "faces": len(r.faces),
        "lists": [{"person_id": h.person_id, "name": h.name, "score": h.score, "lists": h.lists}
                  for h in r.list_hits],
        "archive": [{"event_id": h.event_id, "score": h.score, "camera": h.camera,
                     "start_at": h.start_at.isoformat(), "end_at": h.end_at.isoformat(), "person": h.person,
                     "watchlist": h.watchlist} for h in r.archive_hits],
    }  # fmt: skip


def _print(r: SearchResult) -> None:
    console.print(
        f"face {r.face + 1} of {len(r.faces)} · scores ≥ {r.min_score:.2f} · audited as #{r.audit_id}"
    )
    people = Table(title="On watchlists", title_justify="left")
    for column in ("score", "person", "id", "lists"):
        people.add_column(column)
    for h in r.list_hits:
        people.add_row(f"{h.score:.3f}", h.name, str(h.person_id), ", ".join(h.lists))
    console.print(people if r.list_hits else "On watchlists: nobody above the minimum score")
    seen = Table(title="Seen in the archive", title_justify="left")
    for column in ("score", "when", "camera", "event", "identified as"):
        seen.add_column(column)
    for a in r.archive_hits:
        who = f"{a.person} ({a.watchlist})" if a.person else ""
        seen.add_row(f"{a.score:.3f}", f"{a.start_at:%Y-%m-%d %H:%M:%S}", a.camera, str(a.event_id), who)
    console.print(seen if r.archive_hits else "Seen in the archive: no sighting above the minimum score")
    for model, n in sorted(r.other_models.items()):
        console.print(f"not searched: {n:,} archived tracks recorded with another embedder ({model})")
