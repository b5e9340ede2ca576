"""Reading a configuration file: YAML, loaded safely, validated strictly."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from vigil.config.schema import VigilConfig
from vigil.errors import ConfigError

ENV_PREFIX = "VIGIL__"


def load_config(path: Path | None, environ: Mapping[str, str] | None = None) -> VigilConfig:
    """Load a YAML config file (or the embedded defaults when ``path`` is None), then the environment.

    An environment variable ``VIGIL__SECTION__KEY=value`` sets ``section.key``, over the file; the value
    is read as a YAML scalar (``8080``, ``true``, ``[a, b]``). Unknown keys are errors there too.

    >>> load_config(None, {"VIGIL__SERVER__PORT": "8080"}).server.port
    8080

    Raises:
        ConfigError: the file is unreadable, not YAML, or has unknown keys or out-of-bounds values.
    """
    data = _read_file(path) if path is not None else {}
    origin = str(path) if path is not None else "the embedded defaults"
    overrides = _from_environment(os.environ if environ is None else environ)
    if overrides:
        data = _merge(data, overrides)
        origin += " with VIGIL__ environment variables"
    try:
        return VigilConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{origin}: {problems}") from exc


def _read_file(path: Path) -> dict[str, Any]:
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
    return data


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__")]
        if not all(keys):
            raise ConfigError(f"environment variable {name}: empty key between '__'")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"environment variable {name}: not a YAML value ({exc})") from exc
        node = out
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment variable {name}: {key} is set both as a value and a section")
            node = child
        node[keys[-1]] = value
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
