"""`vigil bench chaos ...`: the service under abuse (killed processes, fuzzed API, malformed media, a full
disk): nothing lost, nothing half-written, no server error. Each part is its own command."""

from __future__ import annotations

import typer

from vigil.cli.bench_chaos_disk import disk
from vigil.cli.bench_chaos_fuzz import fuzz
from vigil.cli.bench_chaos_inputs import inputs
from vigil.cli.bench_chaos_kills import kills
from vigil.cli.bench_chaos_nodes import node_kills

chaos_app = typer.Typer(
    help="Abuse the service and count what was lost: kills (of the service, of Ray nodes), API fuzzing, "
    "malformed media, a full disk.",
    no_args_is_help=True,
)
chaos_app.command("kills")(kills)
chaos_app.command("node-kills")(node_kills)
chaos_app.command("fuzz")(fuzz)
chaos_app.command("inputs")(inputs)
chaos_app.command("disk")(disk)
