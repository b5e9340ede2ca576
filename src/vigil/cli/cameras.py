"""`vigil cameras advise`: is a camera fit for identification? From a running `vigil serve` (its cameras'
live face statistics) or, before installing one, from a video file or stream analysed here for a while."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from vigil.app import build_engine
from vigil.bestshot.advice import Advice
from vigil.cli.common import ConfigOption, ModelDirOption, cli_errors, load_cli_config
from vigil.services.camera_advice import advise_source

cameras_app = typer.Typer(help="Cameras: how fit each one is for identification.", no_args_is_help=True)
console = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True)

_STYLE = {"good": "green", "marginal": "yellow", "unsuitable": "red", "unknown": "dim"}


def _print(
    title: str, verdict: str, summary: str, reasons: list[dict[str, Any]], stats: dict[str, Any] | None
) -> None:
    console.print(f"[bold]{title}[/]: [{_STYLE.get(verdict, 'white')}]{verdict}[/] - {summary}")
    for r in reasons[1:] if reasons and reasons[0]["message"] == summary else reasons:
        console.print(f"  - {r['level']}: {r['message']}")
    if stats:
        eyes = (
            "n/a"
            if stats["eye_px"] is None
            else f"{stats['eye_px']:.0f} px (nearest {stats['eye_px_p90']:.0f})"
        )
        yaw = "n/a" if stats["yaw_deg"] is None else f"{stats['yaw_deg']:.0f} deg"
        console.print(
            f"  faces {stats['faces']} · between the eyes {eyes} · box {stats['size_px']:.0f} px · sharpness "
            f"{stats['sharpness']:.2f} · yaw {yaw} · frontal {stats['frontal_share']:.0%} · embeddable "
            f"{stats['usable_share']:.0%}",
            style="dim",
        )


def advice_json(advice: Advice) -> dict[str, Any]:
    """The advice as the API gives it (GET /cameras/{id}/advice)."""
    st = advice.stats
    stats = None if st is None else {
        "faces": st.faces, "faces_total": st.faces_total, "eye_px": st.eye_px, "eye_px_p90": st.eye_px_p90,
        "size_px": st.size_px, "sharpness": st.sharpness, "yaw_deg": st.yaw_deg,
        "frontal_share": st.frontal_share, "usable_share": st.usable_share,
    }  # fmt: skip
    return {
        "verdict": advice.verdict.value,
        "summary": advice.summary,
        "reasons": [{"code": r.code, "level": r.level.value, "message": r.message} for r in advice.reasons],
        "stats": stats,
    }


def _from_server(url: str, token: str, cameras: list[str]) -> list[tuple[str, dict[str, Any]]]:
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=30.0) as api:
            listed = api.get("/cameras")
            if listed.status_code != 200:
                raise typer.BadParameter(
                    f"{url} answered {listed.status_code}: {listed.text[:200]}", param_hint="--url"
                )
            known = listed.json()
            wanted = [c for c in known if not cameras or c["name"] in cameras or str(c["id"]) in cameras]
            missing = set(cameras) - {c["name"] for c in wanted} - {str(c["id"]) for c in wanted}
            if missing:
                raise typer.BadParameter(
                    f"no camera {', '.join(sorted(missing))} on {url}", param_hint="CAMERA"
                )
            out = []
            for cam in wanted:
                got = api.get(f"/cameras/{cam['id']}/advice")
                got.raise_for_status()
                out.append((cam["name"], got.json()))
            return out
    except httpx.HTTPError as exc:
        raise typer.BadParameter(f"cannot ask {url}: {exc}", param_hint="--url") from exc


@cameras_app.command("advise")
def advise(
    cameras: Annotated[
        list[str] | None, typer.Argument(help="Camera names or ids on the server [all of them].")
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="A running vigil serve, e.g. http://127.0.0.1:8470.")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="An API token for --url [the VIGIL_TOKEN variable].")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Analyse this video file, rtsp:// or http(s):// stream or webcam:N."),
    ] = None,
    seconds: Annotated[
        float, typer.Option("--seconds", min=0.1, max=3600, help="How much of --source to analyse.")
    ] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per camera on stdout.")] = False,
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Whether each camera's faces are fit for identification (distance between the eyes, sharpness,
    pose, share good enough to embed), with what to change: from a server's cameras (--url) or from a
    source analysed here for --seconds (--source)."""
    if (url is None) == (source is None):
        raise typer.BadParameter("give either --url (a running server) or --source (a video or stream)")
    results: list[tuple[str, dict[str, Any]]] = []
    if source is not None:
        if cameras:
            raise typer.BadParameter("camera names go with --url, not --source", param_hint="CAMERA")
        cfg = load_cli_config(config, model_dir)
        with cli_errors():
            found = advise_source(build_engine(cfg), source, seconds)
        results = [
            (
                found.source,
                advice_json(found.advice)
                | {
                    "seconds": found.seconds,
                    "frames": found.frames,
                    "width": found.width,
                    "height": found.height,
                },
            )
        ]
    elif url is not None:
        token = token or os.environ.get("VIGIL_TOKEN")
        if not token:
            raise typer.BadParameter("--url needs --token or the VIGIL_TOKEN variable", param_hint="--token")
        results = _from_server(url, token, cameras or [])
    for name, advice in results:
        if as_json:
            typer.echo(json.dumps({"camera": name, **advice}))
        else:
            _print(name, advice["verdict"], advice["summary"], advice["reasons"], advice["stats"])
