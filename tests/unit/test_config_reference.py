"""The configuration: environment overrides, the generated reference kept in sync, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli import app
from vigil.config import load_config
from vigil.config.reference import reference
from vigil.errors import ConfigError

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_reference_in_docs_is_the_generated_one() -> None:
    """docs/configuration.md is regenerated with `vigil config reference -o docs/configuration.md`."""
    assert DOC.read_text(encoding="utf-8") == reference()


def test_every_setting_is_documented() -> None:
    rows = [line for line in reference().splitlines() if line.startswith("| `")]
    assert len(rows) > 80
    undocumented = [row.split("|")[1].strip() for row in rows if not row.rstrip("| ").split("|")[-1].strip()]
    assert undocumented == []


@pytest.mark.parametrize(
    ("environ", "check"),
    [
        ({"VIGIL__SERVER__PORT": "9000"}, lambda c: c.server.port == 9000),
        ({"VIGIL__LIVE__WORKERS": "1", "VIGIL__LIVE__MAX_FPS": "5.5"}, lambda c: c.live.max_fps == 5.5),
        (
            {"VIGIL__ALERTS__MQTT__HOST": "broker"},
            lambda c: c.alerts.mqtt is not None and c.alerts.mqtt.port == 1883,
        ),
        ({"VIGIL__EMBED__FLIP": "false"}, lambda c: c.embed.flip is False),
        ({"OTHER": "x", "VIGIL_DATABASE_URL": "sqlite://"}, lambda c: c.server.port == 8470),
    ],
)
def test_environment_overrides(environ: dict[str, str], check: object) -> None:
    assert callable(check) and check(load_config(None, environ))


def test_environment_overrides_win_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text("server: {port: 8000, host: 0.0.0.0}\n", encoding="utf-8")
    cfg = load_config(path, {"VIGIL__SERVER__PORT": "9001"})
    assert (cfg.server.host, cfg.server.port) == ("0.0.0.0", 9001)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"VIGIL__SERVER__PROT": "1"}, "server.prot: Extra inputs are not permitted"),
        ({"VIGIL__SERVER__PORT": "eighty"}, "server.port"),
        ({"VIGIL__LIVE__WORKERS": "0"}, "live.workers"),
        ({"VIGIL__SERVER____PORT": "1"}, "empty key"),
        ({"VIGIL__SERVER": "x", "VIGIL__SERVER__PORT": "1"}, "both as a value and a section"),
    ],
)
def test_bad_environment_overrides_are_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config(None, environ)


def test_config_show_masks_secrets_and_credentials(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(
        "cameras:\n  - {name: door, url: 'rtsp://admin:pw123@10.0.0.1/s'}\n"
        "alerts:\n  webhooks:\n    - {name: soc, url: 'https://h.example/x?token=t0k3n',"
        " secret: 'sixteen-chars-secret'}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app,
        ["config", "show", "-c", str(path)],
        env={"VIGIL__ALERTS__MQTT__HOST": "b", "VIGIL__ALERTS__MQTT__PASSWORD": "hunter2"},
    )
    assert result.exit_code == 0, result.output
    for secret in ("pw123", "t0k3n", "sixteen-chars-secret", "hunter2"):
        assert secret not in result.output
    assert "10.0.0.1" in result.output and "host: b" in result.output
