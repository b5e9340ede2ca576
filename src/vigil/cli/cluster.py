"""`vigil cluster status`: the nodes of the Ray cluster, and which cameras run where.

Reads the cluster (``runtime.ray.address``) and the placements the running ``vigil serve`` keeps in the
database (``camera_placements``), so it works from any machine that reaches both, while the service runs.
With the local runtime it shows this machine's worker processes.
"""

from __future__ import annotations

from collections import Counter

import typer
from rich.console import Console
from rich.table import Table

from vigil.app import open_store
from vigil.cli.common import ConfigOption, cli_errors, load_cli_config
from vigil.runtime.ray_supervisor import connect
from vigil.services.cameras import CameraService
from vigil.services.placements import PlacementStore

cluster_app = typer.Typer(help="The cluster runtime: nodes, camera actors, cameras.", no_args_is_help=True)
console = Console(soft_wrap=True, highlight=False)


class _NoRunner:
    def run(self, spec: object) -> None:
        raise AssertionError("vigil cluster status does not run cameras")

    def remove(self, camera_id: int) -> None:
        raise AssertionError("vigil cluster status does not run cameras")


@cluster_app.command("status")
def status(config: ConfigOption = None) -> None:
    """Nodes (alive, CPUs, address, cameras), then each camera's node and worker."""
    with cli_errors():
        cfg = load_cli_config(config, None)
        nodes: list[dict[str, object]] = []
        if cfg.runtime.type == "ray":
            ray = connect(cfg.runtime.ray)
            nodes = list(ray.nodes())
        store = open_store(cfg)
        placements = PlacementStore(store.db).all()
        names = CameraService(store.db, _NoRunner()).names()
    per_node = Counter(p.node_id for p in placements.values())
    console.print(f"runtime: {cfg.runtime.type}" + (f" at {cfg.runtime.ray.address}" if nodes else ""))
    if nodes:
        table = Table("node", "address", "alive", "CPUs", "cameras")
        for n in nodes:
            node_id = str(n["NodeID"])
            resources = n.get("Resources")
            cpus = resources.get("CPU", 0) if isinstance(resources, dict) else 0
            table.add_row(
                node_id[:12], str(n.get("NodeManagerAddress", "")), "yes" if n.get("Alive") else "DEAD",
                f"{cpus:g}", str(per_node.get(node_id, 0)),
            )  # fmt: skip
        console.print(table)
    cams = Table("camera", "node", "address", "worker")
    for cid, p in sorted(placements.items()):
        cams.add_row(names.get(cid, str(cid)), p.node_id[:12], p.node_address, p.actor)
    console.print(cams if placements else "no camera is placed (is vigil serve running?)")
