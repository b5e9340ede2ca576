"""Options and helpers shared by the sub-commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from vigil.config import VigilConfig, load_config
from vigil.errors import ConfigError

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="YAML configuration file.")]
ModelDirOption = Annotated[
    Path | None, typer.Option("--model-dir", help="Folder searched first for model files.")
]


def load_cli_config(
    path: Path | None, model_dir: Path | None, overrides: dict[str, dict[str, object]] | None = None
) -> VigilConfig:
    """The config file (or defaults) with command-line overrides applied and validated."""
    try:
        cfg = load_config(path)
        data = cfg.model_dump()
        for section, values in (overrides or {}).items():
            data[section] = {**data[section], **values}
        if model_dir is not None:
            data["model_dir"] = model_dir
        return VigilConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {problems}")
        raise typer.Exit(2) from exc
    except ConfigError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
