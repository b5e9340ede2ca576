"""The `vigil` command line: one sub-command per job, all built on the composition root."""

from __future__ import annotations

import logging

import typer

from vigil.cli.bench import bench_app
from vigil.cli.calibrate import calibrate_app
from vigil.cli.cameras import cameras_app
from vigil.cli.cluster import cluster_app
from vigil.cli.config import config_app
from vigil.cli.eval import eval_app
from vigil.cli.evidence import evidence_app
from vigil.cli.models import app as models_app
from vigil.cli.report import report
from vigil.cli.scan import demo, scan
from vigil.cli.search import search
from vigil.cli.serve import serve
from vigil.cli.store import db_app, enroll, lists_app, people_app, purge
from vigil.cli.users import users_app

app = typer.Typer(
    name="vigil",
    help="Vigil: find, track and identify watchlisted people in video, accountably.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug details.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def main() -> None:
    app()


app.command("scan")(scan)
app.command("demo")(demo)
app.command("serve")(serve)
app.add_typer(eval_app, name="eval")
app.add_typer(bench_app, name="bench")
app.add_typer(calibrate_app, name="calibrate")
app.add_typer(models_app, name="models")
app.command("enroll")(enroll)
app.command("search")(search)
app.command("purge")(purge)
app.command("report")(report)
app.add_typer(lists_app, name="lists")
app.add_typer(people_app, name="people")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(config_app, name="config")
app.add_typer(cluster_app, name="cluster")
app.add_typer(evidence_app, name="evidence")
app.add_typer(cameras_app, name="cameras")
