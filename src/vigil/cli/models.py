"""`vigil models ls | install | fetch`: see where the model files are, install or download them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from vigil.config import load_config
from vigil.errors import ConfigError, ModelError
from vigil.model_catalogue import DEFAULT_ONNX_MODEL, EMBEDDERS
from vigil.models import (
    YUNET,
    dlib_model_paths,
    fetch_model,
    file_sha256,
    find_model,
    install_model,
    model_search_path,
    user_model_dir,
)

_DLIB_LICENSE = "public domain"

app = typer.Typer(
    name="models",
    help="List and download the model files Vigil needs.",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file whose model_dir is searched first.", dir_okay=False),
]
ModelDirOption = Annotated[
    Path | None,
    typer.Option(
        "--model-dir", help="Model folder searched first (overrides the config's model_dir).", file_okay=False
    ),
]


@app.command("ls")
def list_models(config: ConfigOption = None, model_dir: ModelDirOption = None) -> None:
    """Show each model, where it was found (or "missing"), and whether its hash was verified."""
    out = Console()
    err = Console(stderr=True, soft_wrap=True)
    configured = model_dir
    if configured is None and config is not None:
        try:
            configured = load_config(config).model_dir
        except ConfigError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(1) from exc

    table = Table(title="Vigil models")
    table.add_column("model")
    table.add_column("file", overflow="fold")
    table.add_column("found in", overflow="fold")
    table.add_column("sha256")
    table.add_column("license")

    found = find_model(YUNET, configured)
    table.add_row(
        YUNET.name,
        YUNET.filename,
        escape(str(found.parent)) if found else "[red]missing[/red]",
        "[green]verified[/green]" if found else "-",
        YUNET.license,
    )
    names = ("dlib 5-point landmarks", "dlib ResNet embedder")
    try:
        dlib = dlib_model_paths()
    except ModelError as exc:
        for name in names:
            table.add_row(name, "-", "[red]missing[/red]", "-", _DLIB_LICENSE)
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
    else:
        for name, path in zip(names, (dlib.shape_predictor_5, dlib.resnet), strict=True):
            table.add_row(
                name, path.name, f"{escape(str(path.parent))} (package)", "not checked", _DLIB_LICENSE
            )
    for spec in EMBEDDERS.values():
        if spec.parts:
            ready = all(p.file is not None and find_model(p.file, configured) for p in spec.parts)
            table.add_row(
                f"{spec.name} embedder ({spec.dim}-d, LFW {spec.lfw})",
                " + ".join(p.name for p in spec.parts),
                "the parts' files" if ready else "[red]missing a part[/red]",
                "[green]verified[/green]" if ready else "-",
                escape(spec.licence),
            )
        if spec.file is None:
            continue
        where = find_model(spec.file, configured)
        table.add_row(
            f"{spec.name} embedder ({spec.dim}-d, LFW {spec.lfw})",
            spec.file.filename,
            escape(str(where.parent)) if where else "[red]missing[/red]",
            "[green]verified[/green]" if where else "-",
            escape(spec.licence),
        )
    out.print(table)
    out.print(
        "The default embedder is "
        f"{DEFAULT_ONNX_MODEL}; `embed: {{type: dlib}}` selects dlib's. Each embedder file comes from "
        "the registry package its catalogue entry names; `vigil models install DIR` copies verified "
        "files from DIR into the user cache.",
        highlight=False,
    )

    out.print(f"{YUNET.name} search path, first valid file wins:", highlight=False)
    for i, folder in enumerate(model_search_path(configured), start=1):
        out.print(f"  {i}. {escape(str(folder))}  {_folder_state(folder)}", highlight=False)
    if found is None:
        out.print(
            f"Run `vigil models fetch` to download {YUNET.filename}; until then Vigil detects with HOG."
        )


def _folder_state(folder: Path) -> str:
    """One word on what ``folder`` holds for YuNet: valid, wrong hash, unreadable or absent."""
    path = folder / YUNET.filename
    if not path.is_file():
        return "(absent)"
    try:
        return "(valid)" if file_sha256(path) == YUNET.sha256 else "(wrong sha256, ignored)"
    except OSError:
        return "(unreadable)"


@app.command("install")
def install(
    sources: Annotated[list[Path], typer.Argument(help="Folders holding model files.", file_okay=False)],
    dest: Annotated[
        Path | None,
        typer.Option("--dir", help="Folder to install into (default: the user cache).", file_okay=False),
    ] = None,
) -> None:
    """Copy every model file Vigil knows (YuNet and the embedders) from SOURCES into the user cache,
    each checked against its sha256; files with another hash are ignored."""
    out = Console()
    err = Console(stderr=True, soft_wrap=True)
    folder = dest if dest is not None else user_model_dir()
    specs = [YUNET, *(s.file for s in EMBEDDERS.values() if s.file is not None)]
    installed = 0
    for spec in specs:
        try:
            path = install_model(spec, sources, folder)
        except ModelError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(1) from exc
        if path is None:
            out.print(f"{spec.name}: no verified {spec.filename} in the folders given", highlight=False)
        else:
            installed += 1
            out.print(f"{spec.name}: {path} (sha256 verified)", highlight=False)
    if installed == 0:
        raise typer.Exit(1)


@app.command("fetch")
def fetch(
    dest: Annotated[
        Path | None,
        typer.Option("--dir", help="Folder to download into (default: the user cache).", file_okay=False),
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Download from here instead of OpenCV Zoo.")
    ] = None,
    timeout_s: Annotated[
        float, typer.Option("--timeout", min=0.1, max=600.0, help="Connect/read time-out, seconds.")
    ] = 60.0,
) -> None:
    """Download the YuNet face detector, check its sha256, and put it in place."""
    out = Console()
    err = Console(stderr=True, soft_wrap=True)
    folder = dest if dest is not None else user_model_dir()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task: TaskID = bar.add_task(f"{YUNET.filename}", total=YUNET.size_bytes)

        def on_progress(received: int, total: int | None) -> None:
            bar.update(task, completed=received, total=total)

        try:
            path = fetch_model(YUNET, folder, url=url, progress=on_progress, timeout_s=timeout_s)
        except ModelError as exc:
            bar.stop()
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(1) from exc
    out.print(f"{YUNET.name}: {path} (sha256 {YUNET.sha256} verified)", highlight=False)
