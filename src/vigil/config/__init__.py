"""Configuration models and loading."""

from vigil.config.load import load_config
from vigil.config.schema import (
    BestShotConfig,
    DetectorConfig,
    EmbedConfig,
    EnrolConfig,
    HogConfig,
    IngestConfig,
    MatchConfig,
    PipelineConfig,
    StoreConfig,
    TrackerConfig,
    VigilConfig,
    YuNetConfig,
)

__all__ = [
    "BestShotConfig",
    "DetectorConfig",
    "EmbedConfig",
    "EnrolConfig",
    "HogConfig",
    "IngestConfig",
    "MatchConfig",
    "PipelineConfig",
    "StoreConfig",
    "TrackerConfig",
    "VigilConfig",
    "YuNetConfig",
    "load_config",
]
