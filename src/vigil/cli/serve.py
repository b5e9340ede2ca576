"""`vigil serve`: the live service and its HTTP API (OpenAPI at /docs)."""

from __future__ import annotations

import errno
import socket
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from vigil.app import build_server
from vigil.cli.common import ConfigOption, ModelDirOption, load_cli_config
from vigil.errors import ConfigError, VigilError


def serve(
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on [server.host].")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on [server.port].")] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, max=64, help="Camera worker processes [live.workers].")
    ] = None,
) -> None:
    """Run cameras, identify watchlisted people live, raise alerts (WebSocket, webhooks, MQTT), serve the API.

    The first start creates the administrator and prints its password and an API token, once.
    """
    server: dict[str, object] = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    live: dict[str, object] = {"workers": workers} if workers is not None else {}
    cfg = load_cli_config(config, model_dir, {"server": server, "live": live})
    out = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    try:
        # The address first: a taken port is said at once, before workers, MQTT or a first administrator.
        sock = bind(cfg.server.host, cfg.server.port)
        built = build_server(cfg)
    except VigilError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    if built.bootstrap is not None:
        b = built.bootstrap
        out.print(
            "[bold]First start: an administrator was created. This is shown once; keep it safe.[/]\n"
            f"  user:      {b.username}\n  password:  {b.password}\n  API token: {b.token}",
            highlight=False,
        )
    try:
        built.live.start()
    except VigilError as exc:  # e.g. a camera in the config file with a bad URL
        built.live.stop()
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    built.jobs.start()  # footage uploaded earlier (or interrupted by the last stop) resumes
    built.clusters.start(lambda: built.live.leading)  # unknown tracks clustered by the leader
    try:
        uvicorn.Server(
            uvicorn.Config(
                built.app, host=cfg.server.host, port=cfg.server.port, log_level="info", access_log=False
            )
        ).run(sockets=[sock])
    finally:
        built.jobs.stop()
        built.clusters.stop()
        built.live.stop()
        sock.close()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``.

    Raises:
        ConfigError: the address is taken or cannot be used, naming it and what to change.
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise ConfigError(f"server.host {host!r}: not an address to listen on ({exc})") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        why = "in use (another vigil serve?)" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise ConfigError(
            f"cannot listen on {host}:{port}: {why}; choose another with --port or server.port"
        ) from exc
    sock.set_inheritable(False)
    return sock
