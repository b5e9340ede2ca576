"""`vigil evidence export|verify|public-key`: signed evidence archives of alerts and events."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console

from vigil.app import build_engine, build_evidence, open_store
from vigil.cli.common import (
    ActorOption,
    ConfigOption,
    ModelDirOption,
    ReasonOption,
    actor_of,
    cli_errors,
    load_cli_config,
)
from vigil.errors import BadInput
from vigil.services.evidence import ExportItem, ExportRequest, ItemKind, Requester
from vigil.services.evidence_archive import (
    fingerprint,
    load_or_create_signing_key,
    public_pem,
    verify_archive,
)
from vigil.services.evidence_video import Recording
from vigil.services.footage import filmed_at
from vigil.services.visibility import Scope
from vigil.store.paths import data_dir

evidence_app = typer.Typer(help="Signed evidence archives: export alerts and events, verify an archive.")
console = Console(highlight=False)
err = Console(stderr=True, soft_wrap=True)


@evidence_app.command("export")
def export(
    reason: ReasonOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="The archive to write (.zip).")],
    alert: Annotated[list[int] | None, typer.Option("--alert", help="An alert id (repeatable).")] = None,
    event: Annotated[list[int] | None, typer.Option("--event", help="An event id (repeatable).")] = None,
    video: Annotated[
        Path | None,
        typer.Option(
            help="A copy of the recorded footage: the segment around each sighting, other faces blurred."
        ),
    ] = None,
    video_start: Annotated[
        datetime | None,
        typer.Option(help="When the video's first frame was filmed (ISO, with zone) [its creation time]."),
    ] = None,
    pad: Annotated[float, typer.Option(help="Seconds of video before and after each track.")] = 2.0,
    actor: ActorOption = None,
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Export alerts and events as one signed archive (audited, with the reason)."""
    with cli_errors():
        cfg = load_cli_config(config, model_dir)
        if out.suffix.lower() != ".zip":
            raise BadInput(out, "the archive must end in .zip")
        recording = None
        if video is not None:
            if not video.is_file():
                raise BadInput(video, "no such file")
            if video_start is not None and video_start.utcoffset() is None:
                raise BadInput("--video-start", f"{video_start.isoformat()} has no time zone")
            recording = Recording(video, video_start or filmed_at(video))
        store = open_store(cfg)
        desk = build_evidence(cfg, store, lambda: build_engine(cfg))
        items = [ExportItem(ItemKind.ALERT, i) for i in alert or []]
        items += [ExportItem(ItemKind.EVENT, i) for i in event or []]
        request = ExportRequest(tuple(items), reason, recording, pad)
        result = desk.export(Requester(actor_of(actor), Scope.EVERYTHING), request)
        _write(out, result.archive)
    console.print(
        f"wrote {out} ({len(result.archive):,} bytes): {len(items)} item(s), manifest sha256 "
        f"{result.manifest_sha256}, audit row #{result.audit_id}"
    )


def _write(out: Path, data: bytes) -> None:
    """Write ``data`` to ``out`` whole or not at all (a temporary file renamed into place)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".tmp-", suffix=".zip")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@evidence_app.command("verify")
def verify(
    archive: Annotated[Path, typer.Argument(help="An evidence archive (.zip).", show_default=False)],
    key: Annotated[
        Path | None, typer.Option(help="The site's public key (PEM) to check the signature against.")
    ] = None,
) -> None:
    """Check an archive's signature and every file's sha256 and size; exit 1 when anything is off."""
    with cli_errors():
        trusted = None
        if key is not None:
            loaded = serialization.load_pem_public_key(key.read_bytes())
            if not isinstance(loaded, Ed25519PublicKey):
                raise BadInput(key, "is not an Ed25519 public key")
            trusted = loaded
        result = verify_archive(archive, trusted)
    if not result.ok:
        for problem in result.problems:
            err.print(f"[red]FAILED[/] {problem}")
        raise typer.Exit(1)
    export = (result.manifest or {}).get("export", {})
    console.print(
        f"OK: {archive}: signature and {result.files} file(s) verified; signed by {result.fingerprint}"
        + (
            ""
            if key
            else " (the key the archive carries: compare with the site's `vigil evidence public-key`)"
        )
    )
    console.print(
        f"exported {export.get('created_at')} by {export.get('created_by')}, reason: {export.get('reason')}"
    )


@evidence_app.command("public-key")
def public_key(config: ConfigOption = None) -> None:
    """Print this site's evidence-signing public key (PEM) and its fingerprint (made at first use)."""
    with cli_errors():
        cfg = load_cli_config(config, None)
        signing = load_or_create_signing_key(data_dir(cfg.store) / "evidence.key")
    console.print(public_pem(signing.public_key()).decode("ascii"), end="")
    err.print(fingerprint(signing.public_key()))
