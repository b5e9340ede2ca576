"""Impossible travel and the camera advisor on a real `vigil serve`: the Hamilton clip plays on two
cameras placed 340 km apart (London and Paris), so Lin-Manuel Miranda is seen on both within seconds. The
later of his two first alerts is flagged impossible travel, naming the other sighting, on the WebSocket and
in the REST answer; the earlier is not. The advisor then judges both cameras from the faces they
delivered, through the API and through `vigil cameras advise --url`.

Ground truth (tests/integration/test_scan.py): Miranda is on stage from the first frame."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.integration.test_serve import MIRANDA, _enrol_miranda, _settings
from tests.serve_kit import VigilServer
from tests.services import wait_until
from vigil.app import Engine
from vigil.cli import app
from vigil.store.tables import Review

pytestmark = [pytest.mark.network, pytest.mark.slow]

PLACES = {"london": (51.5074, -0.1278), "paris": (48.8566, 2.3522)}  # 344 km apart


def _alerts_until_both_cameras(ws: Any, timeout_s: float) -> list[dict[str, Any]]:
    """Miranda's alerts in the order they arrive, until each camera raised one."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while {a["camera"] for a in got} != set(PLACES) and (left := deadline - time.monotonic()) > 0:
        message = json.loads(ws.recv(timeout=left))
        if message.get("type") == "alert" and message.get("person") == MIRANDA:
            got.append(message)
    assert {a["camera"] for a in got} == set(PLACES), f"alerts from both cameras: {got}"
    return got


def test_two_cameras_far_apart_flag_the_second_sighting_and_the_advisor_judges_both(
    tmp_path: Path, engine: Engine, model_dir: Path, refs: Path, hamilton_clip: Path
) -> None:
    settings = _settings(tmp_path, model_dir, travel={"speed_kmh": 100.0})
    settings["live"] |= {"workers": 2, "file_roots": [str(hamilton_clip.parent)]}
    _enrol_miranda(settings, engine, refs, Review.ACKNOWLEDGE)
    with VigilServer(tmp_path / "serve", settings) as vigil, vigil.alerts_socket() as ws:
        api = vigil.client()
        ids = {}
        for name, (lat, lon) in PLACES.items():
            body = {"name": name, "url": str(hamilton_clip), "loop": True, "latitude": lat, "longitude": lon}
            r = api.post("/cameras", json=body)
            assert r.status_code == 201, r.text
            ids[name] = r.json()["id"]
        alerts = _alerts_until_both_cameras(ws, timeout_s=120)

        first = alerts[0]
        later = next(a for a in alerts if a["camera"] != first["camera"])
        assert first["impossible_travel"] is None, "nothing to compare the first sighting with"
        flag = later["impossible_travel"]
        assert flag is not None, later
        assert flag["other_camera"] == first["camera"] and flag["other_event_id"] == first["event_id"]
        assert 330_000 < flag["distance_m"] < 360_000
        assert flag["needed_s"] == pytest.approx(flag["distance_m"] / (100 / 3.6), rel=0.01)
        assert flag["elapsed_s"] < flag["needed_s"]
        rest = api.get(f"/alerts/{later['alert_id']}").json()
        assert rest["impossible_travel"]["other_event_id"] == first["event_id"], "REST says it too"

        # The advisor, from the faces each camera delivered: the clip is the same on both.
        def advised() -> list[dict[str, Any]]:
            return [api.get(f"/cameras/{i}/advice").json() for i in ids.values()]

        wait_until(
            lambda: all((a["stats"] or {}).get("faces", 0) >= 20 for a in advised()),
            30,
            "faces on both cameras",
        )
        verdicts = {a["verdict"] for a in advised()}
        assert verdicts == {"marginal"}, advised()  # ~37 px between the eyes: below 60, above 30

        result = CliRunner().invoke(
            app, ["cameras", "advise", "--url", vigil.url, "--token", str(vigil.token), "--json", "london"]
        )
        assert result.exit_code == 0, result.output
        (line,) = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
        assert line["verdict"] == "marginal" and line["camera"] == "london"
