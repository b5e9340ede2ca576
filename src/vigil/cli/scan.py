"""`vigil scan`: identify watchlisted people in video files and streams, one line per track; in photos,
one row per face (:mod:`vigil.cli.scan_photos`)."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, TextIO

import cv2
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from vigil.annotate import FrameBoxes, write_annotated
from vigil.app import Engine, build_engine, build_footage, open_store
from vigil.cli.common import ConfigOption, ModelDirOption, enrol_watchlist, load_cli_config
from vigil.cli.scan_photos import expand, is_photo, print_photo, scan_photo
from vigil.config import MatchConfig, VigilConfig
from vigil.errors import BadInput, SourceError, VigilError
from vigil.ingest import open_source
from vigil.match.watchlist import Watchlist
from vigil.samples import DATA_ENV, SAMPLE_CLIP, data_dir, sample_watchlist
from vigil.services.footage import FootageImport, filmed_at
from vigil.types import Decision, EventKind, FaceEvent

log = logging.getLogger(__name__)
console = Console(stderr=True, soft_wrap=True)
out_console = Console(highlight=False, soft_wrap=True)


@dataclass(frozen=True, slots=True)
class TrackLine:
    """What `vigil scan` reports for one track."""

    source: str
    track_id: int
    start_ms: int
    end_ms: int
    decision: Decision | None
    crop: Path | None

    def as_json(self) -> dict[str, object]:
        d = self.decision
        return {
            "source": self.source,
            "track": self.track_id,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "identity": d.identity if d else None,
            "candidate": d.candidate if d else None,
            "score": round(d.score, 4) if d else None,
            "margin": round(d.margin, 4) if d else None,
            "runner_up": d.runner_up if d else None,
            "threshold": d.threshold if d else None,
            "shots": d.n_shots if d else 0,
            "crop": str(self.crop) if self.crop else None,
        }

    def as_text(self) -> str:
        d = self.decision
        who = d.label if d else "unknown (no usable shot)"
        score = f"score {d.score:.3f} margin {d.margin:.3f}" if d else "score -     margin -"
        span = f"{_clock(self.start_ms)}-{_clock(self.end_ms)}"
        return f"{self.source}  #{self.track_id:<3d} {span}  {who:<24s} {score}  {self.crop or '-'}"


def _clock(ms: int) -> str:
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    return f"{m:02d}:{s:02d}.{ms:03d}"


def _save_crop(event: FaceEvent, crops: Path) -> Path | None:
    if event.best_shot is None:
        return None
    crops.mkdir(parents=True, exist_ok=True)
    path = crops / f"{event.source_id}_t{event.track_id:04d}_{event.best_shot.t_ms:07d}ms.jpg"
    if not cv2.imwrite(str(path), event.best_shot.face_crop()):
        log.warning("could not write crop %s", path)
        return None
    return path


def _scan_one(
    engine: Engine,
    watchlist: Watchlist,
    match: MatchConfig,
    spec: str,
    crops: Path,
    jsonl: TextIO | None,
    annotate: Path | None,
) -> list[TrackLine]:
    source = open_source(spec, engine.config.ingest)
    pipeline = engine.pipeline(source.source_id, watchlist, match)
    lines: list[TrackLine] = []
    boxes: list[FrameBoxes] = []

    def report(events: list[FaceEvent]) -> None:
        for ev in events:
            if ev.kind is EventKind.END:
                line = TrackLine(
                    ev.source_id, ev.track_id, ev.start_ms, ev.end_ms, ev.decision, _save_crop(ev, crops)
                )
                lines.append(line)
                out_console.print(line.as_text(), markup=False)
                if jsonl is not None:
                    jsonl.write(json.dumps(line.as_json()) + "\n")
                    jsonl.flush()

    try:
        with Progress(
            TextColumn(f"[bold]{source.source_id}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("scan", total=source.length)
            for frame in source.frames():
                result = pipeline.process(frame)
                if annotate is not None and len(result.step.faces):
                    boxes.append(FrameBoxes(frame.index, result.step.faces))
                report(result.events)
                bar.advance(task)
    finally:
        report(pipeline.finish())
        source.close()
    if annotate is not None:
        _annotate(engine, spec, boxes, lines, annotate)
    return lines


def _annotate(engine: Engine, spec: str, boxes: list[FrameBoxes], lines: list[TrackLine], out: Path) -> None:
    decisions = {line.track_id: line.decision for line in lines}
    source = open_source(spec, engine.config.ingest)
    try:
        fps = source.fps or 25.0
        n = write_annotated(source.frames(), boxes, decisions, out, fps)
    finally:
        source.close()
    console.print(f"annotated video: {out} ({n} frames)")


def run_scan(
    cfg: VigilConfig, videos: list[str], watchlist: Path, out: Path | None, annotate: Path | None, crops: Path
) -> None:
    """Enrol the watchlist, scan every input (a folder: each file in it; photos face by face), report; exits
    1 if nothing could be processed or a photo failed, 2 if no run was possible."""
    if annotate is not None and len(videos) > 1:
        raise typer.BadParameter("--annotate takes one input video", param_hint="--annotate")
    try:
        engine = build_engine(cfg)
        wl, match = enrol_watchlist(engine, watchlist, console)
    except VigilError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    processed = photos_failed = 0
    inputs = expand(videos)
    jsonl = out.open("w", encoding="utf-8") if out is not None else None
    try:
        for spec in inputs:
            photo = is_photo(Path(spec))
            try:
                if photo:
                    _scan_photo(engine, wl, match, Path(spec), jsonl)
                else:
                    _scan_one(engine, wl, match, spec, crops, jsonl, annotate)
                processed += 1
            except (SourceError, BadInput) as exc:
                photos_failed += photo
                console.print(f"[red]error:[/] {exc}")
    finally:
        if jsonl is not None:
            jsonl.close()
    if processed == 0:
        console.print("[red]nothing could be processed[/]")
        raise typer.Exit(1)
    if processed < len(inputs):
        console.print(f"[yellow]{len(inputs) - processed} of {len(inputs)} inputs failed; see above[/]")
    if photos_failed:
        raise typer.Exit(1)


def _scan_photo(
    engine: Engine, watchlist: Watchlist, match: MatchConfig, path: Path, jsonl: TextIO | None
) -> None:
    lines = scan_photo(engine, watchlist, match, path)
    print_photo(out_console, path, lines)
    if jsonl is not None:
        jsonl.writelines(json.dumps(line.as_json()) + "\n" for line in lines)
        jsonl.flush()


def _store_one(footage: FootageImport, path: Path, camera: str, began: datetime, cfg: VigilConfig) -> str:
    source = open_source(path, cfg.ingest, camera)
    columns = (TextColumn(f"[bold]{path.name}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("store", total=source.length)
            report = footage.run(source, camera, began, lambda n, _t: bar.update(task, completed=n))
    finally:
        source.close()
    return (
        f"{path.name} → camera {report.camera!r} from {report.start.isoformat()}: {report.frames} frames, "
        f"{report.tracks} tracks, {report.identified} identified, {report.alerts} alerts"
    )


def run_store_scan(cfg: VigilConfig, videos: list[str], camera: str, start: datetime | None) -> None:
    """Footage into the archive as events of the virtual camera ``camera``, matched against the store."""
    if start is not None and len(videos) > 1:
        raise typer.BadParameter("--start takes one video (each file has its own time)", param_hint="--start")
    try:
        engine = build_engine(cfg)
        footage = build_footage(cfg, open_store(cfg), engine)
    except VigilError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    processed = 0
    for spec in videos:
        path = Path(spec)
        try:
            if not path.is_file():
                raise BadInput(spec, "--store takes video files (recorded footage), not streams or folders")
            out_console.print(_store_one(footage, path, camera, start or filmed_at(path), cfg), markup=False)
            processed += 1
        except (SourceError, BadInput) as exc:
            console.print(f"[red]error:[/] {exc}")
    if processed == 0:
        console.print("[red]nothing could be processed[/]")
        raise typer.Exit(1)


def scan(
    videos: Annotated[
        list[str], typer.Argument(help="Video files, photos, folders of them, or stream URLs.")
    ],
    watchlist: Annotated[
        Path | None, typer.Option("--watchlist", "-w", help="Folder of <name>/<photo> files.")
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Record the footage in the archive as events of this virtual camera, matched against the "
            "store's watchlists (alerts go out through a running `vigil serve`).",
        ),
    ] = None,
    start: Annotated[
        datetime | None,
        typer.Option(
            help="With --store: when the video began (ISO, with zone) [its creation time, else mtime]."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write one JSON line per track (photo: per face) here.")
    ] = None,
    annotate: Annotated[
        Path | None, typer.Option("--annotate", help="Write the video with boxes and names (.mp4).")
    ] = None,
    crops: Annotated[Path, typer.Option("--crops", help="Folder for best-shot crops.")] = Path("vigil-crops"),
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="Override the match threshold (cosine similarity).")
    ] = None,
    detect_every: Annotated[
        int | None, typer.Option("--detect-every", min=1, max=60, help="Run detection on every Nth frame.")
    ] = None,
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Find and identify watchlisted people in videos: one line per track (who, when, how sure), and in
    photos: a table of every face; or, with
    --store, record them in the archive (searchable, alerting) as a virtual camera."""
    if (watchlist is None) == (store is None):
        raise typer.BadParameter("give --watchlist (a folder) or --store (a camera name), one of them")
    overrides: dict[str, dict[str, object]] = {}
    if threshold is not None:
        overrides["match"] = {"threshold": threshold, "fpir": None}  # a fixed threshold, not calibrated
    if detect_every is not None:
        overrides["pipeline"] = {"detect_every": detect_every}
    cfg = load_cli_config(config, model_dir, overrides)
    if store is not None:
        run_store_scan(cfg, videos, store, start)
    elif watchlist is not None:
        run_scan(cfg, videos, watchlist, out, annotate, crops)


def demo(
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where results are written.")] = Path(
        "vigil-out"
    ),
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Scan the sample clip for the sample watchlist ($VIGIL_TEST_DATA): Vigil's main job, on defaults."""
    data = data_dir()
    clip = data / SAMPLE_CLIP
    if not clip.is_file():
        console.print(
            f"[red]error:[/] sample clip not found at {clip}: set {DATA_ENV} to the sample data folder"
        )
        raise typer.Exit(2)
    cfg = load_cli_config(config, model_dir)
    wl_dir = out_dir / "watchlist"
    shutil.rmtree(wl_dir, ignore_errors=True)
    try:
        sample_watchlist(data / "refs", wl_dir)
    except BadInput as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    run_scan(cfg, [str(clip)], wl_dir, out_dir / "events.jsonl", out_dir / "annotated.mp4", out_dir / "crops")
    console.print(f"results: {out_dir}/events.jsonl, {out_dir}/crops/, {out_dir}/annotated.mp4")
