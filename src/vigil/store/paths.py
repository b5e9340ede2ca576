"""Where the store lives: the data dir, the database URL."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from vigil.config import StoreConfig

DATABASE_URL_ENV = "VIGIL_DATABASE_URL"


def data_dir(config: StoreConfig) -> Path:
    """The configured data dir, else the user data dir (``~/.local/share/vigil`` on Linux)."""
    return config.data_dir if config.data_dir is not None else Path(platformdirs.user_data_dir("vigil"))


def database_url(config: StoreConfig) -> str:
    """``$VIGIL_DATABASE_URL``, else the configured URL, else SQLite in the data dir."""
    env = os.environ.get(DATABASE_URL_ENV)
    if env:
        return env
    if config.url:
        return config.url
    return f"sqlite:///{data_dir(config) / 'vigil.db'}"
