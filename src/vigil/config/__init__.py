"""Configuration models and loading."""

from vigil.config.load import load_config
from vigil.config.schema import (
    BestShotConfig,
    DetectorConfig,
    EmbedConfig,
    HogConfig,
    IngestConfig,
    MatchConfig,
    PipelineConfig,
    TrackerConfig,
    VigilConfig,
    YuNetConfig,
)

__all__ = [
    "BestShotConfig",
    "DetectorConfig",
    "EmbedConfig",
    "HogConfig",
    "IngestConfig",
    "MatchConfig",
    "PipelineConfig",
    "TrackerConfig",
    "VigilConfig",
    "YuNetConfig",
    "load_config",
]
