"""Reading a configuration file: YAML, loaded safely, validated strictly."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from vigil.config.schema import VigilConfig
from vigil.errors import ConfigError


def load_config(path: Path | None) -> VigilConfig:
    """Load a YAML config file, or the embedded defaults when ``path`` is None.

    Raises:
        ConfigError: the file is unreadable, not YAML, or has unknown keys or out-of-bounds values.
    """
    if path is None:
        return VigilConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings")
    try:
        return VigilConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{path}: {problems}") from exc
