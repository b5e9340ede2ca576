"""`vigil config`: check a configuration, show what is in effect, print the reference."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from vigil.cli.common import ConfigOption, load_cli_config
from vigil.config.reference import reference
from vigil.ingest.urls import redact_url

config_app = typer.Typer(help="Check and explain the configuration.", no_args_is_help=True)
console = Console(soft_wrap=True, highlight=False)

SECRET_KEYS = {"secret", "password"}


def _masked(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, key) for v in value]
    if key in SECRET_KEYS and value:
        return "***"
    if key in ("url", "public_url") and isinstance(value, str):
        return redact_url(value)
    return value


@config_app.command("show")
def config_show(config: ConfigOption = None) -> None:
    """Validate the config file and VIGIL__ environment variables; print the settings in effect (secrets
    masked). Exit code 2 names what is wrong."""
    cfg = load_cli_config(config, None)
    data = _masked(cfg.model_dump(mode="json"))
    console.print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())


@config_app.command("reference")
def config_reference(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file [stdout].")] = None,
) -> None:
    """Every setting with its type, default, bounds and meaning, as Markdown (docs/configuration.md)."""
    text = reference()
    if out is None:
        console.print(text, markup=False, end="")
    else:
        out.write_text(text, encoding="utf-8")
